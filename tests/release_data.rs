//! The release data fatelab embeds, checked against facts read from the upstream charts and
//! release files (shared/reference/kubefate.md §1, §3, §7), pinned here: a wrong edit of
//! `assets/` fails this test.

use fatelab::model::catalog;
use fatelab::render::parse_yaml_documents;
use serde_json::Value;

fn images(list: &[catalog::Image]) -> Vec<String> {
    let mut v: Vec<String> = list
        .iter()
        .map(|i| format!("{}:{}", i.repository, i.tag))
        .collect();
    v.sort();
    v
}

fn docs(text: &str) -> Vec<Value> {
    parse_yaml_documents(text, "an embedded manifest").unwrap()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn every_image_a_party_and_the_service_run_is_in_the_catalog() {
    let v1 = catalog::find("v1.6.0").unwrap();
    assert_eq!(
        images(&v1.party_images),
        [
            "federatedai/client:1.6.0-release",
            "federatedai/eggroll:1.6.0-release",
            "federatedai/fateboard:1.6.0-release",
            "federatedai/python:1.6.0-release",
            "fluent/fluentd:v1.12",
            "mysql:8",
        ]
    );
    assert_eq!(
        images(&v1.service_images),
        ["federatedai/kubefate:v1.4.1", "mariadb:10"]
    );
    let v2 = catalog::find("v2.0.0").unwrap();
    assert_eq!(
        images(&v2.party_images),
        [
            "federatedai/client:2.0.0-release",
            "federatedai/eggroll:2.0.0-release",
            "federatedai/fateboard:2.0.0-release",
            "federatedai/fateflow:2.0.0-release",
            "federatedai/osx:2.0.0-release",
            "fluent/fluent-bit:2.1.4",
            "mysql:8.0.28",
        ]
    );
    assert_eq!(
        images(&v2.service_images),
        ["federatedai/kubefate:v1.4.5", "mariadb:10"]
    );
}

#[test]
fn the_services_fatelab_reaches_are_where_the_manifests_put_them() {
    for release in ["v1.6.0", "v2.0.0"] {
        let files = catalog::find(release).unwrap().files().unwrap();
        let service = docs(files.kubefate);
        let kubefate = find(&service, "Service", fatelab::clients::kubefate::SERVICE);
        assert_eq!(
            kubefate["metadata"]["namespace"],
            fatelab::clients::kubefate::NAMESPACE
        );
        assert_eq!(
            kubefate["spec"]["ports"][0]["port"],
            fatelab::clients::kubefate::PORT,
            "{release}"
        );
    }
    // Chart fate v1.6.0 and v2.0.0 both serve FATE Flow's HTTP API as fateflow-client:9380.
    assert_eq!(fatelab::clients::fateflow::SERVICE, "fateflow-client");
    assert_eq!(fatelab::clients::fateflow::PORT, 9380);
}

#[test]
fn the_tutorial_release_files_are_the_release_files() {
    let files = catalog::find("v1.6.0").unwrap().files().unwrap();
    let rbac = docs(files.rbac_config);
    assert_eq!(rbac.len(), 4);
    let binding = find(&rbac, "ClusterRoleBinding", "kubefate");
    assert_eq!(binding["roleRef"]["name"], "cluster-admin");
    let secret = find(&rbac, "Secret", "kubefate-secret");
    assert_eq!(secret["stringData"]["kubefatePassword"], "admin");
    let service = docs(files.kubefate);
    assert_eq!(service.len(), 5);
    let mariadb = find(&service, "Deployment", "mariadb");
    assert_eq!(
        mariadb.pointer("/spec/template/spec/volumes/0/hostPath/path"),
        Some(&Value::from("/data/kubefate/mysql/db"))
    );
    let ingress = find(&service, "Ingress", "kubefate");
    assert_eq!(ingress["apiVersion"], "networking.k8s.io/v1beta1");
    assert_eq!(ingress["spec"]["rules"][0]["host"], "kubefate.net");
    let kubefate = find(&service, "Deployment", "kubefate");
    assert_eq!(
        kubefate["spec"]["template"]["spec"]["containers"][0]["image"],
        "federatedai/kubefate:v1.4.1"
    );
}

#[test]
fn the_newest_release_files_are_the_release_files() {
    let files = catalog::find("v2.0.0").unwrap().files().unwrap();
    let rbac = docs(files.rbac_config);
    let role = find(&rbac, "ClusterRole", "kubefate-role");
    let rules = role["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 7);
    for rule in rules {
        let verbs: Vec<&str> = rule["verbs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            !verbs.contains(&"watch"),
            "upstream grants no watch: {rule}"
        );
        let group = rule["apiGroups"][0].as_str().unwrap();
        if group == "networking.istio.io" || group == "rbac.authorization.k8s.io" {
            assert!(
                !verbs.contains(&"list"),
                "upstream grants no list here: {rule}"
            );
        }
    }
    let binding = find(&rbac, "ClusterRoleBinding", "kubefate");
    assert_eq!(binding["roleRef"]["name"], "kubefate-role");

    let service = docs(files.kubefate);
    let mariadb = find(&service, "Deployment", "mariadb");
    let probe = &mariadb["spec"]["template"]["spec"]["containers"][0]["livenessProbe"];
    assert_eq!(probe["initialDelaySeconds"], 30);
    assert_eq!(probe["periodSeconds"], 30);
    assert_eq!(probe["timeoutSeconds"], 5);
    assert!(
        mariadb["spec"]["template"]["spec"]["volumes"][0]
            .get("emptyDir")
            .is_some(),
        "v2.0.0 keeps mariadb's data in an emptyDir"
    );
    let kubefate = find(&service, "Deployment", "kubefate");
    let c = &kubefate["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "federatedai/kubefate:v1.4.5");
    assert_eq!(c["livenessProbe"]["tcpSocket"]["port"], 8080);
    let ingress = find(&service, "Ingress", "kubefate");
    assert_eq!(ingress["apiVersion"], "networking.k8s.io/v1");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(ingress["spec"]["rules"][0]["host"], "example.com");
}

#[test]
fn the_charts_and_artifacts_are_where_the_releases_publish_them() {
    let bases = catalog::UrlBases {
        github: "https://github.com".into(),
        chart_repo: "https://federatedai.github.io/KubeFATE".into(),
    };
    let places = |release: &str, name: &str| -> Vec<String> {
        catalog::find(release)
            .unwrap()
            .artifact(name)
            .unwrap()
            .candidates(&bases)
            .into_iter()
            .map(|c| format!("{} {}", c.flag, c.url))
            .collect()
    };
    let v1 = catalog::find("v1.6.0").unwrap();
    assert!(v1.chart.in_kubefate_index);
    assert!(
        v1.chart.edits.is_empty(),
        "v1.6.0's chart is used as published"
    );
    assert_eq!(
        v1.artifact("chart").unwrap().sha256.as_deref(),
        Some("c6af17d0cb858771c0ca8e9dbd8ed357ef666fa6d365258cfef372ab94c34024"),
        "gh-pages index.yaml's digest of fate-v1.6.0.tgz (reference 7.1)"
    );
    assert_eq!(
        places("v1.6.0", "chart"),
        ["--chart-repo https://federatedai.github.io/KubeFATE/package/fate-v1.6.0.tgz"]
    );
    let v2 = catalog::find("v2.0.0").unwrap();
    assert!(
        !v2.chart.in_kubefate_index,
        "gh-pages has no fate 2.x chart"
    );
    assert_eq!(
        places("v2.0.0", "chart"),
        [
            "--github-mirror https://github.com/FederatedAI/KubeFATE/releases/download/v2.0.0/fate-v2.0.0.tgz",
            "--chart-repo https://federatedai.github.io/KubeFATE/package/fate-v2.0.0.tgz",
        ]
    );
    // The tutorial's name first, then KF@v2.0.0 k8s-deploy/Makefile's arch-suffixed one.
    assert_eq!(
        places("v2.0.0", "package"),
        [
            "--github-mirror https://github.com/FederatedAI/KubeFATE/releases/download/v2.0.0/kubefate-k8s-v2.0.0.tar.gz",
            "--github-mirror https://github.com/FederatedAI/KubeFATE/releases/download/v2.0.0/kubefate-k8s-v2.0.0-amd64.tar.gz",
        ]
    );
    assert_eq!(
        places("v2.0.0", "service-image")[1],
        "--github-mirror https://github.com/FederatedAI/KubeFATE/releases/download/v2.0.0/kubefate-v1.4.5-amd64.docker"
    );
}

#[test]
fn under_a_registry_each_v2_image_is_where_the_chart_renders_it() {
    let v2 = catalog::find("v2.0.0").unwrap();
    let mut refs: Vec<String> = v2
        .party_images
        .iter()
        .map(|i| i.reference(Some("r.example:5000"), v2.registry_style))
        .collect();
    refs.sort();
    // {{registry}}{{image}} for the modules; `{{registry}}/fluent-bit:2.1.4` for the sidecar
    // (chart backends/eggroll/nodemanager/statefulSet.yaml).
    assert_eq!(
        refs,
        [
            "r.example:5000/federatedai/client:2.0.0-release",
            "r.example:5000/federatedai/eggroll:2.0.0-release",
            "r.example:5000/federatedai/fateboard:2.0.0-release",
            "r.example:5000/federatedai/fateflow:2.0.0-release",
            "r.example:5000/federatedai/osx:2.0.0-release",
            "r.example:5000/fluent-bit:2.1.4",
            "r.example:5000/mysql:8.0.28",
        ]
    );
}

#[test]
fn fatelabs_chart_edits_are_the_named_ones_and_the_sizing_matches_the_manifests() {
    let v2 = catalog::find("v2.0.0").unwrap();
    let edited: Vec<&str> = v2.chart.edits.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(
        edited,
        ["templates/core/osx/deployment.yaml", "values-template.yaml"]
    );
    for e in &v2.chart.edits {
        assert!(!e.why.is_empty() && e.find != e.replace);
    }
    // What sizing reserves for the KubeFATE service is what its manifest requests.
    let files = v2.files().unwrap();
    let service = docs(files.kubefate);
    let kubefate = find(&service, "Deployment", "kubefate");
    let requests = &kubefate["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"];
    assert_eq!(requests["cpu"], "0.5", "{requests}");
    assert_eq!(requests["memory"], "512Mi", "{requests}");
}
