//! Labs on existing clusters: two fake API servers as two contexts of one kubeconfig, each with
//! its own KubeFATE; a scenario with a party in each, and one party per organisation with
//! `--party/--peer`. No minikube is called and no hosts file is written.

mod support;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;
use support::fake_fateflow::{Behaviour, FakeFateFlow};
use support::fake_kube::{FakeKube, write_kubeconfig_contexts};
use support::fake_kubefate::FakeKubeFate;
use support::host::{HOSTS_BEFORE, run};
use support::lab::{Lab, existing_cluster};

/// The peers in a party's route table (`rollsite-config`, as the chart renders it): ID → ip:port.
fn route_table(kube: &FakeKube, party: u32) -> Vec<(String, String)> {
    let cm = kube
        .get(
            "v1",
            "ConfigMap",
            &format!("fate-{party}"),
            "rollsite-config",
        )
        .unwrap_or_else(|| panic!("party {party} has no rollsite-config"));
    let table: Value =
        serde_json::from_str(cm["data"]["route_table.json"].as_str().unwrap()).unwrap();
    table["route_table"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(id, _)| **id != party.to_string())
        .map(|(id, r)| {
            let d = &r["default"][0];
            (
                id.clone(),
                format!("{}:{}", d["ip"].as_str().unwrap(), d["port"]),
            )
        })
        .collect()
}

/// What the server was asked about a party's namespace.
fn mentions(kube: &FakeKube, what: &str) -> bool {
    kube.requests().iter().any(|r| r.contains(what))
}

fn running(kubefate: &FakeKubeFate, name: &str) -> bool {
    kubefate
        .live_clusters()
        .iter()
        .any(|c| c["name"] == name && c["status"] == "Running")
}

/// Two existing clusters as contexts org-a (the lab's fake, with the release mirror) and org-b of
/// one kubeconfig, each with a node, an IngressClass and a KubeFATE; party 9999's FATE Flow in org-a.
struct Federation {
    lab: Lab,
    kube_a: FakeKube,
    kf_a: FakeKubeFate,
    kube_b: FakeKube,
    kf_b: FakeKubeFate,
    flow: FakeFateFlow,
    kubeconfig: std::path::PathBuf,
}

impl Federation {
    async fn start(name: &str) -> Federation {
        let lab = Lab::start(name).await;
        let (kube_a, kf_a) = (lab.kube.clone(), lab.kubefate.clone());
        kube_a.put(support::fake_kube::node("a-node-1", "10.0.0.5", true));
        kube_a.put(support::fake_kube::ingress_class("nginx", true));
        let (kube_b, kf_b) = existing_cluster("b-node-1", "10.0.1.7", "v1.4.1").await;
        let flow = FakeFateFlow::start(Behaviour::Succeed).await;
        kube_a.route_service("fate-9999", "fateflow-client", 9380, &flow.url);
        let kubeconfig = lab.host.path("team.kubeconfig");
        write_kubeconfig_contexts(&kubeconfig, &[("org-a", &kube_a), ("org-b", &kube_b)]);
        Federation {
            lab,
            kube_a,
            kf_a,
            kube_b,
            kf_b,
            flow,
            kubeconfig,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_with_a_party_in_each_of_two_clusters() {
    let Federation {
        lab,
        kube_a,
        kf_a,
        kube_b,
        kf_b,
        flow,
        kubeconfig,
    } = Federation::start("two-clusters").await;
    let scenario = lab.host.path("federation.yaml");
    std::fs::write(
        &scenario,
        format!(
            "kubeconfig: {}\nparties:\n  - {{ id: 9999, context: org-a, ip: 10.0.0.5 }}\n  - {{ id: 10000, context: org-b, ip: 10.0.1.7 }}\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    let state = lab.state();
    let f = scenario.to_str().unwrap();

    run(lab.up_existing(
        &state,
        &[
            "-f",
            f,
            "--dry-run",
            "--plan-dir",
            lab.host.path("plan").to_str().unwrap(),
        ],
    ))
    .await
    .success()
    .stdout(
        contains("party 9999 in context org-a, reached at 10.0.0.5:30091")
            .and(contains(
                "party 10000 in context org-b, reached at 10.0.1.7:30101",
            ))
            .and(contains("no minikube")),
    );

    run(lab.up_existing(&state, &["-f", f]))
        .await
        .success()
        .stderr(
            contains("context org-a")
                .and(contains("context org-b"))
                .and(contains("toy job guest 9999 / host 10000"))
                .and(contains("The lab is up.")),
        );
    assert!(running(&kf_a, "fate-9999") && !running(&kf_a, "fate-10000"));
    assert!(running(&kf_b, "fate-10000") && !running(&kf_b, "fate-9999"));
    // Each server only ever heard of its own party.
    assert!(mentions(&kube_a, "fate-9999") && !mentions(&kube_a, "fate-10000"));
    assert!(mentions(&kube_b, "fate-10000") && !mentions(&kube_b, "fate-9999"));
    // Both got a KubeFATE service of their own.
    for kube in [&kube_a, &kube_b] {
        assert!(
            kube.get("apps/v1", "Deployment", "kube-fate", "kubefate")
                .is_some()
        );
    }
    assert_eq!(
        route_table(&kube_a, 9999),
        [("10000".into(), "10.0.1.7:30101".into())]
    );
    assert_eq!(
        route_table(&kube_b, 10000),
        [("9999".into(), "10.0.0.5:30091".into())]
    );
    assert_eq!(flow.submitted().len(), 1);
    // No minikube call, no hosts file.
    assert_eq!(lab.host.argv_log(), "");
    assert_eq!(std::fs::read(lab.hosts_file()).unwrap(), HOSTS_BEFORE);
    let record = lab.host.record();
    assert_eq!(record["target"]["servers"]["org-b"], kube_b.url());
    assert_eq!(record["placement"]["10000"]["context"], "org-b");

    // Moving a party to another cluster goes through `down`: refused, nothing sent.
    let before = kube_a.requests().len();
    run(lab.up_existing(
        &state,
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--context",
            "org-a",
            "--parties",
            "9999,10000",
            "--ip",
            "10.0.0.5",
        ],
    ))
    .await
    .code(2)
    .stderr(contains(
        "party 10000 of the lab on record runs in context org-b",
    ));
    assert_eq!(kube_a.requests().len(), before);

    let status = |args: &[&str]| {
        let mut cmd = lab.host.fatelab(None);
        cmd.env("FATELAB_STATE_DIR", &state)
            .arg("status")
            .args(args);
        cmd
    };
    let out = run(status(&["--output", "json"])).await.success();
    let report: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(report["minikube"]["state"], "Existing");
    assert_eq!(report["parties"][1]["context"], "org-b");
    let problems = support::schema::violations(&support::schema::status_schema(), &report, "$");
    assert!(problems.is_empty(), "{problems:?}");

    // The same job, guest in one cluster and host in the other, from `fatelab test`.
    let mut test = lab.host.fatelab(None);
    test.env("FATELAB_STATE_DIR", &state).arg("test");
    run(test).await.success();
    assert_eq!(flow.submitted().len(), 2);

    // A kubeconfig that lost org-b: status names the context and touches nothing.
    write_kubeconfig_contexts(&kubeconfig, &[("org-a", &kube_a)]);
    run(status(&[]))
        .await
        .code(1)
        .stderr(contains("context org-b").and(contains("not in the kubeconfig")));
    write_kubeconfig_contexts(&kubeconfig, &[("org-a", &kube_a), ("org-b", &kube_b)]);

    let mut down = lab.host.fatelab(None);
    down.env("FATELAB_STATE_DIR", &state)
        .args(["down", "--yes"]);
    run(down)
        .await
        .success()
        .stderr(contains("The lab is removed."));
    assert!(kf_a.live_clusters().is_empty() && kf_b.live_clusters().is_empty());
    for kube in [&kube_a, &kube_b] {
        assert!(kube.get("v1", "Namespace", "", "kube-fate").is_none());
    }
    assert!(kube_a.get("v1", "Namespace", "", "fate-9999").is_none());
    assert!(kube_b.get("v1", "Namespace", "", "fate-10000").is_none());
    assert_eq!(lab.host.argv_log(), "");
}

/// This machine's own address: a peer "elsewhere" that a TCP dial reaches without a packet
/// leaving the host.
fn own_address() -> String {
    fatelab::host::hostip::detect_primary_ipv4()
        .map(|(ip, _)| ip.to_string())
        .or_else(|_| {
            fatelab::host::hostip::local_ipv4s()
                .unwrap_or_default()
                .into_iter()
                .find(|(_, a)| !a.is_loopback())
                .map(|(_, a)| a.to_string())
                .ok_or(())
        })
        .expect("this machine has an IPv4 address besides loopback")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_party_per_organisation_with_peers() {
    let Federation {
        lab,
        kube_a,
        kf_a,
        kube_b,
        kf_b,
        flow,
        kubeconfig,
    } = Federation::start("peers").await;
    let k = kubeconfig.to_str().unwrap();
    let ip = own_address();
    let (state_a, state_b) = (lab.host.path("org-a-state"), lab.host.path("org-b-state"));

    // Organisation A, for party 9999 only.
    let peer_b = format!("10000={ip}:30101");
    run(lab.up_existing(
        &state_a,
        &[
            "--kubeconfig",
            k,
            "--context",
            "org-a",
            "--party",
            "9999",
            "--peer",
            &peer_b,
            "--ip",
            &ip,
        ],
    ))
    .await
    .success()
    .stderr(
        contains(format!("party 10000 does not answer at {ip}:30101"))
            .and(contains(format!(
                "fatelab up --party 10000 --peer 9999={ip}:30091"
            )))
            .and(contains("The lab is up.")),
    );
    // Organisation B runs what A was told to give it.
    let peer_a = format!("9999={ip}:30091");
    run(lab.up_existing(
        &state_b,
        &[
            "--kubeconfig",
            k,
            "--context",
            "org-b",
            "--party",
            "10000",
            "--peer",
            &peer_a,
            "--ip",
            &ip,
        ],
    ))
    .await
    .success();
    assert!(running(&kf_a, "fate-9999") && kf_a.live_clusters().len() == 1);
    assert!(running(&kf_b, "fate-10000") && kf_b.live_clusters().len() == 1);
    assert_eq!(
        route_table(&kube_a, 9999),
        [("10000".into(), format!("{ip}:30101"))]
    );
    assert_eq!(
        route_table(&kube_b, 10000),
        [("9999".into(), format!("{ip}:30091"))]
    );
    assert!(!mentions(&kube_a, "fate-10000") && !mentions(&kube_b, "fate-9999"));

    // From A's side, a job with B's party as host.
    let mut test = lab.host.fatelab(None);
    test.env("FATELAB_STATE_DIR", &state_a)
        .args(["test", "--host", "10000"]);
    run(test).await.success();
    assert_eq!(flow.submitted().len(), 1);
    let mut train = lab.host.fatelab(None);
    train
        .env("FATELAB_STATE_DIR", &state_a)
        .args(["test", "--job", "lr", "--host", "10000"]);
    run(train)
        .await
        .code(2)
        .stderr(contains("party 10000 is another organisation's"));
    assert_eq!(lab.host.argv_log(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_placements_are_refused_with_nothing_changed() {
    let (kube_a, _kf) = existing_cluster("a-node-1", "10.0.0.5", "v1.4.1").await;
    let host = support::host::Host::new(Some("v1.22.0"));
    let kubeconfig = host.path("team.kubeconfig");
    write_kubeconfig_contexts(&kubeconfig, &[("org-a", &kube_a)]);
    let k = kubeconfig.to_str().unwrap();
    let refused = |args: Vec<String>, says: &'static str| {
        let mut cmd = host.fatelab(None);
        cmd.args(["up", "--dry-run", "--ip", "10.0.0.5"])
            .args(&args);
        async move {
            run(cmd).await.code(2).stderr(contains(says));
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--kubeconfig", k, "--context", "org-z"],
            "context org-z (party 9999) is not in the kubeconfig",
        ),
        (&["--party", "9999"], "--peer"),
        (
            &["--party", "9999", "--peer", "10000=10.0.1.7:8080"],
            "outside the Kubernetes NodePort range",
        ),
        (
            &["--party", "9999", "--peer", "10000=10.0.1:30101"],
            "not a valid IPv4",
        ),
        (
            &["--party", "9999", "--peer", "10000"],
            "is not ID=HOST:PORT",
        ),
        (
            &["--party", "9999", "--peer", "9999=10.0.1.7:30101"],
            "listed twice",
        ),
    ];
    for (args, says) in cases {
        refused(s(args), says).await;
    }
    let scenario = host.path("clash.yaml");
    std::fs::write(
        &scenario,
        format!(
            "kubeconfig: {k}\nparties:\n  - {{ id: 1, context: org-a }}\n  - {{ id: 2, context: org-a, ports: {{ rollsite: 30091 }} }}\n"
        ),
    )
    .unwrap();
    refused(
        s(&["-f", scenario.to_str().unwrap()]),
        "port 30091 is used twice in context org-a",
    )
    .await;
    assert!(kube_a.requests().is_empty(), "{:?}", kube_a.requests());
    assert!(!host.state().join("lab.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_permissions_are_named_before_anything_changes() {
    let lab = Lab::start("rbac").await;
    lab.kube
        .put(support::fake_kube::node("a-node-1", "10.0.0.5", true));
    lab.kube
        .put(support::fake_kube::ingress_class("nginx", true));
    lab.kube.deny("create", "namespaces");
    lab.kube.deny("get", "services/proxy");
    // `up` reads the federation pods' route tables, and restarts one that keeps an old table.
    lab.kube.deny("create", "pods/exec");
    let kubeconfig = lab.host.path("team.kubeconfig");
    write_kubeconfig_contexts(&kubeconfig, &[("org-a", &lab.kube)]);
    run(lab.up_existing(
        &lab.state(),
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--parties",
            "9999,10000",
        ],
    ))
    .await
    .code(1)
    .stderr(
        contains("may not create namespaces (cluster-wide)")
            .and(contains("get services/proxy in kube-fate"))
            .and(contains("create pods/exec in fate-9999"))
            .and(contains("nothing was changed")),
    );
    assert!(
        !lab.kube
            .requests()
            .iter()
            .any(|r| r.starts_with("PATCH") || r.starts_with("POST /api/v1/namespaces")),
        "{:?}",
        lab.kube.requests()
    );
}
