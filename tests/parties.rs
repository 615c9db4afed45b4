//! `up` from nothing to every party healthy, against the fake minikube, the fake API server, the
//! fake KubeFATE service and the real Docker Engine; then a re-run that changes nothing.

mod support;

use predicates::prelude::*;
use predicates::str::contains;
use support::fake_fateflow::{Behaviour, FakeFateFlow};
use support::fake_kubefate::Kubelet;
use support::host::run;
use support::lab::Lab;

fn count(requests: &[String], what: &str) -> usize {
    requests.iter().filter(|r| r.as_str() == what).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_parties_from_nothing_to_running_then_no_change() {
    let lab = Lab::start("two").await;
    let up = run(lab.up(&["--until", "parties"])).await;
    // Every call used the path KubeFATE registers: gin redirected none of them.
    assert_eq!(
        lab.kubefate.redirected(),
        Vec::<String>::new(),
        "exact registered paths only"
    );
    up.success().stderr(
        contains("KubeFATE service v1.4.1 answers")
            .and(contains("party 9999: installed, healthy"))
            .and(contains("party 10000: installed, healthy"))
            .and(contains("party 9999: cluster fate-9999"))
            .and(contains("6/6 pods Running"))
            .and(contains("notebook http://9999.notebook.kubefate.net"))
            .and(contains("Step times: preflight")),
    );
    let deployment = lab
        .kube
        .get("apps/v1", "Deployment", "kube-fate", "kubefate")
        .unwrap();
    assert_eq!(
        deployment.pointer("/metadata/labels/shipped-in"),
        Some(&serde_json::json!("package")),
        "the manifests come from the downloaded release package"
    );
    let clusters = lab.kubefate.clusters();
    assert_eq!(clusters.len(), 2);
    assert!(
        clusters.iter().all(|c| c["status"] == "Running"),
        "{clusters:?}"
    );
    let first = lab.kubefate.requests();
    assert_eq!(count(&first, "POST /v1/cluster"), 2);
    assert!(lab.kube.get("v1", "Namespace", "", "fate-9999").is_some());
    // The user's kubefate CLI, configured for this lab.
    let cli = lab.state().join("kubefate");
    assert!(cli.join("kubefate").is_file());
    let config = std::fs::read_to_string(cli.join("config.yaml")).unwrap();
    assert!(
        config.contains("serviceurl: kubefate.net") && !config.contains("password: admin\n"),
        "{config}"
    );

    // Second run: no install, no change to any Kubernetes object.
    let rv = lab.kube.resource_version();
    run(lab.up(&["--until", "parties"]))
        .await
        .success()
        .stderr(contains(
            "nothing to do: all 2 parties run as declared and are healthy",
        ));
    let second = lab.kubefate.requests()[first.len()..].to_vec();
    assert_eq!(count(&second, "POST /v1/cluster"), 0, "{second:?}");
    assert_eq!(
        lab.kube.resource_version(),
        rv,
        "a re-run changed Kubernetes objects"
    );
}

/// gin redirects a route called in the slash form it does not register; the API server's proxy
/// passes the redirect back (through itself) instead of following it, and fatelab says what
/// happened rather than reading gin's HTML page as an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_through_the_api_servers_proxy_is_reported_not_followed() {
    let lab = Lab::start("moved").await;
    lab.kubefate.move_route("/v1/version/");
    run(lab.up(&["--until", "kubefate"]))
        .await
        .code(1)
        .stderr(contains(
            "KubeFATE redirected GET /v1/version/ to \
         /api/v1/namespaces/kube-fate/services/kubefate:8080/proxy/v1/version (HTTP 301)",
        ));
    assert_eq!(lab.kubefate.redirected().len(), 1, "not asked again");
    assert_eq!(
        count(&lab.kubefate.requests(), "GET /v1/version"),
        0,
        "not followed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_parties_install_together() {
    let lab = Lab::start("three").await;
    run(lab.up(&["--until", "parties", "--parties", "9999,10000,10001"]))
        .await
        .success();
    let clusters = lab.kubefate.clusters();
    let names: Vec<&str> = clusters
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for c in &clusters {
        let peers = c
            .pointer("/Spec/rollsite/partyList")
            .unwrap()
            .as_array()
            .unwrap();
        assert_eq!(peers.len(), 2, "full mesh: {c}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_invalidated_mid_run_is_renewed() {
    let lab = Lab::start("token").await;
    // The service pod restarts after the third authenticated call: the token fatelab holds dies.
    lab.kubefate.restart_after(3);
    run(lab.up(&["--until", "parties"])).await.success();
    assert_eq!(
        lab.kubefate.logins(),
        2,
        "one login, then one re-login after the 401"
    );
    assert!(
        lab.kubefate
            .clusters()
            .iter()
            .all(|c| c["status"] == "Running")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_failure_is_reported_and_the_next_up_installs_again() {
    let lab = Lab::start("helmfail").await;
    lab.kubefate
        .helm_fails_once("rendered manifests contain a resource that already exists");
    run(lab.up(&["--until", "parties"]))
        .await
        .code(1)
        .stderr(contains(
            "helm install error, rendered manifests contain a resource that already exists",
        ));
    // As upstream's `clean`: the failed install leaves no record behind (the other party's may
    // or may not have started before fatelab stopped).
    let live = lab.kubefate.live_clusters();
    assert!(live.len() < 2, "{live:?}");
    assert!(live.iter().all(|c| c["status"] != "Failed"), "{live:?}");
    run(lab.up(&["--until", "parties"])).await.success();
    let live = lab.kubefate.live_clusters();
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|c| c["status"] == "Running"), "{live:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_cluster_is_reinstalled_after_a_yes() {
    let lab = Lab::start("reinstall").await;
    run(lab.up(&["--until", "parties"])).await.success();
    // An interrupted job can leave a record Failed in KubeFATE's database.
    lab.kubefate.set_cluster_status("fate-10000", "Failed");

    // Without a terminal and without --yes, fatelab will not delete it.
    run(lab.up_asking(&["--until", "parties"]))
        .await
        .code(2)
        .stderr(contains("is Failed. Delete it and install it again?"));

    run(lab.up(&["--until", "parties"])).await.success();
    let live = lab.kubefate.live_clusters();
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|c| c["status"] == "Running"), "{live:?}");
    assert!(
        lab.kubefate
            .requests()
            .iter()
            .any(|r| r.starts_with("DELETE /v1/cluster/"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_pod_fails_the_install_early_with_its_reason() {
    let lab = Lab::start("stuck").await;
    lab.kubefate
        .set_kubelet(Kubelet::ImagePullFails("rollsite".into()));
    run(lab.up(&["--until", "parties"])).await.code(1).stderr(
        contains("cannot pull image federatedai/rollsite:1.6.0-release")
            .and(contains("rollsite-"))
            .and(contains("Pre-pull it (`fatelab images pull`)")),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_shows_its_states() {
    let lab = Lab::start("timeout").await;
    lab.kubefate.set_kubelet(Kubelet::LeavePending);
    lab.kubefate
        .set_time_limit(std::time::Duration::from_millis(300));
    run(lab.up(&["--until", "parties"])).await.code(1).stderr(
        contains("install of fate-")
            .and(contains("Cluster install timeout"))
            .and(contains("pods not ready when last seen: clustermanager-"))
            .and(contains("ContainerCreating")),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_chart_repository_falls_back_to_uploading_the_chart() {
    let lab = Lab::start("chart").await;
    lab.kubefate.set_chart_repo_reachable(false);
    // The fake chart is not the published one (its digest is in the catalog): the user's own
    // chart directory stands in, packaged by fatelab.
    let chart = lab.chart_dir("v1.6.0");
    run(lab.up(&["--until", "parties", "--chart", chart.to_str().unwrap()]))
        .await
        .success()
        .stderr(contains("uploading it"));
    let reqs = lab.kubefate.requests();
    assert!(count(&reqs, "POST /v1/chart") >= 1, "{reqs:?}");
    assert_eq!(
        lab.kubefate.uploaded_charts(),
        [("fate".to_string(), "v1.6.0".to_string())]
    );
    assert!(
        lab.kubefate
            .clusters()
            .iter()
            .filter(|c| c["DeletedAt"].is_null())
            .all(|c| c["status"] == "Running")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_lab_uploads_its_chart_once_before_the_installs() {
    let lab = Lab::start_release("v2", "v2.0.0").await;
    let flow = FakeFateFlow::start(Behaviour::Succeed).await;
    lab.kube
        .route_service("fate-9999", "fateflow-client", 9380, &flow.url);
    // The whole of `up`, the toy job included.
    run(lab.up(&[])).await.success().stderr(
        contains("party 9999: installed, healthy")
            .and(contains("party 10000: installed, healthy"))
            .and(contains("The lab is up.")),
    );
    assert_eq!(flow.submitted().len(), 1, "the toy job ran");
    let reqs = lab.kubefate.requests();
    let upload = reqs
        .iter()
        .position(|r| r == "POST /v1/chart")
        .expect("the chart is uploaded");
    let first_install = reqs.iter().position(|r| r == "POST /v1/cluster").unwrap();
    assert!(
        upload < first_install,
        "uploaded before the installs: {reqs:#?}"
    );
    assert_eq!(lab.kubefate.uploads(), 1);
    // The chart went up with fatelab's edits (the catalog's list), and the parties sized for the
    // host with them: osx's heap, the nodemanager's requests.
    let osx = lab
        .kubefate
        .uploaded_file("fate/templates/core/osx/deployment.yaml")
        .unwrap();
    assert!(
        osx.contains("-Xmx{{ .Values.modules.osx.heap | default \"4g\" }}"),
        "{osx}"
    );
    assert!(
        lab.kubefate
            .uploaded_file("fate/values-template.yaml")
            .unwrap()
            .contains("heap: {{ .heap | default \"4g\" }}")
    );
    let spec = &lab.kubefate.live_clusters()[0]["Spec"];
    assert_eq!(spec["osx"]["heap"], "1024m", "{spec}");
    assert_eq!(spec["nodemanager"]["replicas"], 1, "{spec}");
    assert_eq!(
        spec["nodemanager"]["resources"]["requests"],
        serde_json::json!({"cpu": "1", "memory": "2048Mi"})
    );
    assert!(
        lab.kubefate
            .live_clusters()
            .iter()
            .all(|c| c["status"] == "Running" && c["chart_version"] == "v2.0.0")
    );
    // The v2 chart's route table is osx's.
    let c = &lab.kubefate.live_clusters()[0];
    assert!(c.pointer("/Spec/osx/partyList").is_some(), "{c}");

    run(lab.up(&["--until", "parties"])).await.success();
    assert_eq!(lab.kubefate.uploads(), 1, "a second up uploads nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_lab_without_its_chart_anywhere_stops_before_any_install() {
    let lab = Lab::start_release("v2nochart", "v2.0.0").await;
    lab.mirror
        .remove("/FederatedAI/KubeFATE/releases/download/v2.0.0/fate-v2.0.0.tgz");
    run(lab.up(&["--until", "parties"])).await.code(1).stderr(
        contains("step artifacts failed")
            .and(contains("fate-v2.0.0.tgz"))
            .and(contains("HTTP 404"))
            .and(contains("--github-mirror"))
            .and(contains("/charts/package/fate-v2.0.0.tgz"))
            .and(contains("--chart-repo"))
            .and(contains("--chart DIR|TGZ")),
    );
    assert_eq!(
        lab.kubefate
            .requests()
            .iter()
            .filter(|r| r.as_str() == "POST /v1/cluster")
            .count(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_file_published_under_its_arch_name_is_found() {
    let lab = Lab::start_release("v2amd64", "v2.0.0").await;
    let dir = "/FederatedAI/KubeFATE/releases/download/v2.0.0";
    lab.mirror.rename(
        &format!("{dir}/kubefate-k8s-v2.0.0.tar.gz"),
        &format!("{dir}/kubefate-k8s-v2.0.0-amd64.tar.gz"),
    );
    run(lab.up(&["--until", "kubefate"]))
        .await
        .success()
        .stderr(
            contains("kubefate-k8s-v2.0.0.tar.gz is published as kubefate-k8s-v2.0.0-amd64.tar.gz")
                .and(contains("KubeFATE service v1.4.5 answers")),
        );
    let sources = std::fs::read_to_string(lab.state().join("cache/v2.0.0/SOURCES")).unwrap();
    assert!(
        sources.contains("kubefate-k8s-v2.0.0.tar.gz  ")
            && sources.contains("/kubefate-k8s-v2.0.0-amd64.tar.gz"),
        "{sources}"
    );
    let requests = lab.mirror.requests();
    assert!(
        requests.contains(&format!("GET {dir}/kubefate-k8s-v2.0.0.tar.gz")),
        "the tutorial's name is tried first: {requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_the_scheduler_has_no_room_for_is_reported_with_the_labs_numbers() {
    let lab = Lab::start_release("unsched", "v2.0.0").await;
    lab.kubefate.set_kubelet(Kubelet::Unschedulable(
        "nodemanager-0".into(),
        "0/1 nodes are available: 1 Insufficient cpu.".into(),
    ));
    run(lab.up(&["--until", "parties"])).await.code(1).stderr(
        contains("cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu.")
            .and(contains("What this lab asks for:"))
            .and(contains(
                "each party asks for 1 nodemanager × 1 CPU / 2 GiB",
            ))
            .and(contains("on a host of 8 CPU / 16 GiB (fits)")),
    );
}
