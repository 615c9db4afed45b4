//! Convergence against the fakes: `up` brings the lab to what is declared and a re-run changes
//! nothing; parties follow `--parties` and `--ip` through KubeFATE's cluster update; `down`
//! removes parties through KubeFATE and only what fatelab made; one meaning of "healthy".

mod support;

use std::time::Instant;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{Value, json};
use support::fake_fateflow::{Behaviour, FakeFateFlow};
use support::fake_kubefate::Kubelet;
use support::host::run;
use support::lab::Lab;

/// Requests that change something in the fake API server (the service proxy only forwards).
fn kube_writes(requests: &[String]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| !r.starts_with("GET ") && !r.contains("/proxy/"))
        .cloned()
        .collect()
}

/// KubeFATE requests that change its records (a login changes nothing there).
fn kubefate_writes(requests: &[String]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| !r.starts_with("GET ") && r.as_str() != "POST /v1/user/login")
        .cloned()
        .collect()
}

/// "GET /api/v1/namespaces/x/pods?…" → "GET pods", "GET /v1/cluster/ID" → "GET /v1/cluster/:id":
/// requests by verb and resource, for the closing note.
fn kind_of(request: &str) -> String {
    let (verb, uri) = request.split_once(' ').unwrap_or((request, ""));
    let path = uri.split('?').next().unwrap_or("");
    let watch = if uri.contains("watch=true") {
        " (watch)"
    } else {
        ""
    };
    if let Some((_, rest)) = path.split_once("/proxy") {
        return format!("{verb} proxied {}", kubefate_route(rest));
    }
    if path.starts_with("/v1/") || path == "/" {
        return format!("{verb} {}", kubefate_route(path));
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let rest = match parts.first() {
        Some(&"api") => &parts[parts.len().min(2)..],
        Some(&"apis") => &parts[parts.len().min(3)..],
        _ => &parts[..],
    };
    let resource = match rest {
        [] => "discovery".to_string(),
        ["namespaces", _, r, ..] => r.to_string(),
        [r, ..] => r.to_string(),
    };
    format!("{verb} {resource}{watch}")
}

fn kubefate_route(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "v1", "cluster" | "job", id] if !id.is_empty() => format!("/v1/{}/:id", parts[2]),
        _ => path.to_string(),
    }
}

fn tally(requests: &[String]) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for r in requests {
        *out.entry(kind_of(r)).or_default() += 1;
    }
    out
}

fn status(lab: &Lab) -> assert_cmd::Command {
    let mut cmd = lab.host.fatelab(None);
    cmd.arg("status");
    cmd
}

fn down(lab: &Lab) -> assert_cmd::Command {
    let mut cmd = lab.host.fatelab(None);
    cmd.args(["down", "--yes"]);
    cmd
}

/// A route table: the peers (ID → address:port) in a cluster's spec as KubeFATE holds it.
fn routes(cluster: &Value) -> Vec<(u64, String)> {
    cluster
        .pointer("/Spec/rollsite/partyList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["partyId"].as_u64().unwrap(),
                format!("{}:{}", p["partyIp"].as_str().unwrap(), p["partyPort"]),
            )
        })
        .collect()
}

fn live_names(lab: &Lab) -> Vec<String> {
    let mut names: Vec<String> = lab
        .kubefate
        .live_clusters()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_up_on_an_unchanged_lab_changes_nothing() {
    let lab = Lab::start("noop").await;
    let flow = FakeFateFlow::start(Behaviour::Succeed).await;
    lab.kube
        .route_service("fate-9999", "fateflow-client", 9380, &flow.url);
    run(lab.up(&[])).await.success();
    assert_eq!(flow.submitted().len(), 1);
    let (kube_before, kf_before) = (lab.kube.requests().len(), lab.kubefate.requests().len());

    let started = Instant::now();
    let second = run(lab.up(&[])).await.success();
    let noop_up = started.elapsed();
    second.stderr(
        contains("nothing to do: all 2 parties run as declared and are healthy")
            .and(contains(
                "nothing to do: KubeFATE service v1.4.1 runs as declared",
            ))
            .and(contains("nothing to do: proven at"))
            .and(contains("`fatelab test --job toy` runs it again"))
            .and(contains("The lab is up.")),
    );
    let kube_second = lab.kube.requests()[kube_before..].to_vec();
    let kf_second = lab.kubefate.requests()[kf_before..].to_vec();
    assert_eq!(kube_writes(&kube_second), Vec::<String>::new());
    assert_eq!(kubefate_writes(&kf_second), Vec::<String>::new());
    assert_eq!(flow.submitted().len(), 1, "no second FATE job");
    eprintln!(
        "no-op up, API server requests by kind: {:#?}",
        tally(&kube_second)
    );
    eprintln!(
        "no-op up, KubeFATE requests by kind: {:#?}",
        tally(&kf_second)
    );

    let started = Instant::now();
    run(status(&lab))
        .await
        .success()
        .stdout(contains("as declared: `fatelab up` would change nothing"));
    let status_time = started.elapsed();
    eprintln!(
        "wall time: no-op up {noop_up:?}, status {status_time:?}, ratio {:.2}",
        noop_up.as_secs_f64() / status_time.as_secs_f64()
    );

    let kube_before = lab.kube.requests().len();
    run(lab.up(&["--dry-run"])).await.success().stdout(
        contains("Nothing would change: the lab is as declared.")
            .and(contains("nothing to do: all 2 parties run as declared")),
    );
    assert_eq!(
        kube_writes(&lab.kube.requests()[kube_before..]),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_down_up_in_one_world() {
    let lab = Lab::start("updownup").await;
    run(lab.up(&["--no-test"])).await.success();
    run(down(&lab))
        .await
        .success()
        .stderr(contains("cluster deleted through KubeFATE").and(contains("The lab is removed")));
    assert_eq!(
        live_names(&lab),
        Vec::<String>::new(),
        "down deletes through KubeFATE"
    );
    assert!(
        lab.kubefate
            .requests()
            .iter()
            .filter(|r| r.starts_with("DELETE /v1/cluster/"))
            .count()
            == 2
    );
    // The fake's database outlived namespace kube-fate, as the release's hostPath one does.
    run(lab.up(&["--no-test"])).await.success();
    assert_eq!(live_names(&lab), ["fate-10000", "fate-9999"]);
    assert!(
        lab.kubefate
            .live_clusters()
            .iter()
            .all(|c| c["status"] == "Running")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_record_whose_namespace_is_gone_is_replaced() {
    let lab = Lab::start("stale").await;
    run(lab.up(&["--no-test"])).await.success();
    // Gone by hand (or with an earlier minikube): the namespace and release, not the record.
    lab.kube.remove_namespace("fate-9999");
    run(lab.up(&["--no-test"]))
        .await
        .success()
        .stderr(contains("deleting KubeFATE's stale record"));
    assert_eq!(live_names(&lab), ["fate-10000", "fate-9999"]);
    let jobs = lab.kubefate.jobs();
    let delete = jobs
        .iter()
        .find(|j| j["method"] == "ClusterDelete")
        .unwrap();
    assert_eq!(
        delete["status"], "Failed",
        "helm found no release: {delete}"
    );
    assert!(
        lab.kube.get("v1", "Namespace", "", "fate-9999").is_some(),
        "the namespace is made again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_follow_the_parties_and_ip_flags() {
    let lab = Lab::start("grow").await;
    run(lab.up(&["--no-test", "--parties", "9999,10000"]))
        .await
        .success();
    run(lab.up(&["--no-test", "--parties", "9999,10000,10001"]))
        .await
        .success()
        .stderr(
            contains("updating fate-9999: partyList gains 10001; rollsite NodePort unchanged")
                .and(contains("party 10001: installed, healthy"))
                // The running pods keep the table they started with (the fake kubelet has not
                // synced their mounts): up restarts them, and says so.
                .and(contains(
                    "party 9999: restarting its rollsite pod so it loads the new route table",
                ))
                .and(contains(
                    "party 10000: restarting its rollsite pod so it loads the new route table",
                )),
        );
    // Every party's rollsite now routes to every other, as the probe sees from inside.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for c in lab.kubefate.live_clusters() {
        for (_, to) in routes(&c) {
            let (ip, port) = to.rsplit_once(':').unwrap();
            lab.kube.dial_to(
                ip,
                port.parse().unwrap(),
                listener.local_addr().unwrap().port(),
            );
        }
    }
    let mut probe = lab.host.fatelab(None);
    probe.arg("probe");
    run(probe)
        .await
        .success()
        .stdout(contains("Every crossing works"));
    let clusters = lab.kubefate.live_clusters();
    assert_eq!(clusters.len(), 3);
    for c in &clusters {
        let own = c.pointer("/Spec/partyId").unwrap().as_u64().unwrap();
        let mut peers: Vec<u64> = routes(c).iter().map(|(id, _)| *id).collect();
        peers.sort();
        let mut want: Vec<u64> = [9999, 10000, 10001]
            .into_iter()
            .filter(|p| *p != own)
            .collect();
        want.sort();
        assert_eq!(peers, want, "{c}");
    }
    assert!(
        lab.kubefate
            .requests()
            .iter()
            .any(|r| r == "PUT /v1/cluster"),
        "peers are updated in place"
    );

    let ip = ["--ip", "192.0.2.7", "--ignore-check", "host-ip"];
    run(lab.up(&[&["--no-test", "--parties", "9999,10000,10001"], &ip[..]].concat()))
        .await
        .success()
        .stderr(contains("route to 10000:"));
    for c in lab.kubefate.live_clusters() {
        assert!(
            routes(&c)
                .iter()
                .all(|(_, to)| to.starts_with("192.0.2.7:")),
            "{c}"
        );
    }

    // Taking a party out removes its cluster and updates the others.
    run(lab.up(&[&["--no-test", "--parties", "9999,10000"], &ip[..]].concat()))
        .await
        .success()
        .stderr(contains("party 10001: removed"));
    assert_eq!(live_names(&lab), ["fate-10000", "fate-9999"]);
    for c in lab.kubefate.live_clusters() {
        assert_eq!(routes(&c).len(), 1, "{c}");
    }
    assert!(lab.kube.get("v1", "Namespace", "", "fate-10001").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_crashes_after_turning_ready_fails_up_and_status_names_it() {
    let lab = Lab::start("crash").await;
    lab.kubefate
        .set_kubelet(Kubelet::CrashAfterReady("mysql".into()));
    let out = run(lab.up(&["--no-test"])).await.code(1).stderr(
        contains("keeps crashing (container mysql:")
            .and(contains("No data dictionary version number found"))
            .and(contains("The lab is up.").not()),
    );
    // The failure says where the run's full log is, and the log ends with the run's exit.
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let log = stderr
        .split("(this run's full log: ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no run log named in:\n{stderr}"));
    assert!(log.starts_with(lab.state().join("runs").to_str().unwrap()));
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.starts_with("fatelab ") && text.ends_with("exit code 1\n"),
        "{text}"
    );
    run(status(&lab)).await.code(1).stdout(
        contains("FAIL party")
            .and(contains("container mysql: CrashLoopBackOff"))
            .and(contains("restarted 2 times (last exit: Error, code 1)"))
            .and(contains("not as declared; `fatelab up` would:"))
            .and(contains("parties: party")),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_leaves_an_object_that_existed_before_up() {
    let lab = Lab::start("preexisting").await;
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "kubefate", "labels": {"owner": "the-platform-team"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "kubefate-admin", "namespace": "kube-fate"}]
    });
    lab.kube.put(binding);
    let uid = lab
        .kube
        .get(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "",
            "kubefate",
        )
        .unwrap()["metadata"]["uid"]
        .clone();
    run(lab.up(&["--no-test"])).await.success();
    let record = lab.host.record();
    let entry = record["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "ClusterRoleBinding")
        .unwrap()
        .clone();
    assert_eq!(entry["created"], false, "{entry}");
    assert_eq!(record["format"], 2);
    run(down(&lab)).await.success().stderr(contains(
        "leaving ClusterRoleBinding kubefate (it was there before fatelab applied over it)",
    ));
    let still = lab
        .kube
        .get(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "",
            "kubefate",
        )
        .expect("the binding that existed before up is still there");
    assert_eq!(still["metadata"]["uid"], uid);
    assert!(lab.kube.get("v1", "Namespace", "", "kube-fate").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubefate_object_edited_after_up_is_applied_again() {
    let lab = Lab::start("drift").await;
    run(lab.up(&["--no-test"])).await.success();
    let mut deployment = lab
        .kube
        .get("apps/v1", "Deployment", "kube-fate", "kubefate")
        .unwrap();
    deployment["spec"]["replicas"] = json!(0);
    lab.kube.put(deployment);
    run(lab.up(&["--dry-run"])).await.success().stdout(
        contains("would apply Deployment kube-fate/kubefate again (differs at spec.replicas)")
            .and(contains("`fatelab up` would make the changes above.")),
    );
    run(lab.up(&["--no-test"])).await.success();
    let fixed = lab
        .kube
        .get("apps/v1", "Deployment", "kube-fate", "kubefate")
        .unwrap();
    assert_eq!(fixed["spec"]["replicas"], 1);
}
