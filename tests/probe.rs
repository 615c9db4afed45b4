//! `fatelab probe` against the fakes: the route tables are read inside each party's rollsite pod
//! through the fake API server's `pods/exec` websocket, dials go to loopback listeners the test
//! maps the declared addresses to; `status` shows a stale route; a healthy lab passes.

mod support;

use std::collections::BTreeSet;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{Value, json};
use support::fake_kubefate::{PodState, party_pod};
use support::host::run;
use support::lab::Lab;

/// Every (address, port) a party's route table sends another party's traffic to.
fn declared(lab: &Lab, parties: &[u32]) -> BTreeSet<(String, u16)> {
    declared_by(lab, parties, "rollsite")
}

fn declared_by(lab: &Lab, parties: &[u32], module: &str) -> BTreeSet<(String, u16)> {
    let mut out = BTreeSet::new();
    for id in parties {
        let cm = lab
            .kube
            .get(
                "v1",
                "ConfigMap",
                &format!("fate-{id}"),
                &format!("{module}-config"),
            )
            .expect("the chart's route table");
        let doc: Value =
            serde_json::from_str(cm["data"]["route_table.json"].as_str().unwrap()).unwrap();
        for (party, routes) in doc["route_table"].as_object().unwrap() {
            if *party != id.to_string() {
                let r = &routes["default"][0];
                out.insert((
                    r["ip"].as_str().unwrap().to_string(),
                    r["port"].as_u64().unwrap() as u16,
                ));
            }
        }
    }
    out
}

fn probe(lab: &Lab, json: bool) -> assert_cmd::Command {
    let mut cmd = lab.host.fatelab(None);
    cmd.arg("probe");
    if json {
        cmd.args(["--output", "json"]);
    }
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_passes_a_healthy_lab_and_names_each_broken_hop() {
    let lab = Lab::start("probe").await;
    let parties = [9999, 10000, 10001];
    run(lab.up(&["--parties", "9999,10000,10001", "--no-test"]))
        .await
        .success();
    // Every declared address answers: one listener stands for each party's NodePort.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let addresses = declared(&lab, &parties);
    assert_eq!(addresses.len(), 3, "one NodePort per party: {addresses:?}");
    for (ip, port) in &addresses {
        lab.kube.dial_to(ip, *port, open);
    }
    run(probe(&lab, false)).await.success().stdout(
        contains("Every crossing works").and(contains("9999     ·    ✓    ✓").or(contains("✓"))),
    );
    let before = lab.kube.requests().len();
    let mut status = lab.host.fatelab(None);
    status.arg("status");
    run(status).await.success();
    assert!(
        lab.kube.requests()[before..]
            .iter()
            .any(|r| r.contains("/pods/") && r.contains("/exec?")),
        "status reads the loaded route tables inside the pods"
    );

    // Three faults: 9999's table loses 10001; 10000's address refuses; 10001's rollsite
    // crash-loops.
    let mut cm = lab
        .kube
        .get("v1", "ConfigMap", "fate-9999", "rollsite-config")
        .unwrap();
    let mut doc: Value =
        serde_json::from_str(cm["data"]["route_table.json"].as_str().unwrap()).unwrap();
    doc["route_table"].as_object_mut().unwrap().remove("10001");
    cm["data"]["route_table.json"] = json!(doc.to_string());
    lab.kube.put(cm);
    // The kubelet syncs the mounted file; rollsite re-reads it within a minute.
    lab.kube.sync_mounts();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ten_thousand = lab
        .kube
        .get("v1", "ConfigMap", "fate-9999", "rollsite-config")
        .map(|cm| {
            let doc: Value =
                serde_json::from_str(cm["data"]["route_table.json"].as_str().unwrap()).unwrap();
            let r = doc["route_table"]["10000"]["default"][0].clone();
            (
                r["ip"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap() as u16,
            )
        })
        .unwrap();
    lab.kube.dial_to(&ten_thousand.0, ten_thousand.1, closed);
    let name = lab.kube.module_pod("fate-10001", "rollsite");
    let mut crashed = party_pod(
        "fate-10001",
        &name,
        "fate-10001",
        "rollsite",
        &["rollsite"],
        PodState::Running,
    );
    let c = &mut crashed["status"]["containerStatuses"][0];
    c["ready"] = json!(false);
    c["restartCount"] = json!(4);
    c["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}});
    lab.kube.put(crashed);

    let out = run(probe(&lab, false)).await.code(1).get_output().clone();
    let text = String::from_utf8_lossy(&out.stdout);
    let refused = format!("{}:{} refused from inside", ten_thousand.0, ten_thousand.1);
    for expected in [
        "9999's rollsite has no route to 10001",
        &format!("9999 → 10000: {refused} 9999's rollsite pod"),
        "10000 → 10001: 10001's rollsite not ready: CrashLoopBackOff",
        "10001 → 9999: 10001's rollsite not ready: CrashLoopBackOff",
        "fix: `fatelab up`",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    let out = run(probe(&lab, true)).await.code(1).get_output().clone();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hop = |from: u32, to: u32| {
        report["crossings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["from"] == from && c["to"] == to)
            .map(|c| c["hop"].clone())
            .unwrap()
    };
    assert_eq!(hop(9999, 10001), json!("route"));
    assert_eq!(hop(9999, 10000), json!("connect"));
    assert_eq!(hop(10000, 10001), json!("ready"));
    assert_eq!(hop(10001, 10000), json!("inside"));
    assert_eq!(hop(10000, 9999), Value::Null, "10000 → 9999 still works");
    assert_eq!(report["ok"], json!(false));

    // status shows 9999's stale route (its pod is healthy; 10001's is not, for its own reason).
    let mut cmd = lab.host.fatelab(None);
    cmd.args(["status", "--output", "json"]);
    let out = run(cmd).await.code(1).get_output().clone();
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let party = |id: u32| {
        status["parties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        party(9999)["stale_routes"],
        json!(["9999's rollsite has no route to 10001"])
    );
    assert_eq!(party(9999)["healthy"], json!(false));
    assert_eq!(party(10000)["stale_routes"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_without_a_lab_says_so() {
    let host = support::host::Host::new(None);
    host.fatelab(None)
        .arg("probe")
        .assert()
        .code(2)
        .stderr(contains("there is no lab on record"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_osx_table_is_read_where_the_v2_chart_mounts_it_and_a_configmap_kubefate_left_old_is_named()
 {
    let lab = Lab::start_release("probev2", "v2.0.0").await;
    run(lab.up(&["--no-test"])).await.success();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for (ip, port) in declared_by(&lab, &[9999, 10000], "osx") {
        lab.kube
            .dial_to(&ip, port, listener.local_addr().unwrap().port());
    }
    run(probe(&lab, false))
        .await
        .success()
        .stdout(contains("through osx").and(contains("Every crossing works")));

    // The ConfigMap loses 10000 behind KubeFATE's back, and the kubelet syncs it into the pod.
    let mut cm = lab
        .kube
        .get("v1", "ConfigMap", "fate-9999", "osx-config")
        .unwrap();
    let mut doc: Value =
        serde_json::from_str(cm["data"]["route_table.json"].as_str().unwrap()).unwrap();
    doc["route_table"].as_object_mut().unwrap().remove("10000");
    cm["data"]["route_table.json"] = json!(doc.to_string());
    lab.kube.put(cm);
    lab.kube.sync_mounts();
    run(probe(&lab, false))
        .await
        .code(1)
        .stdout(contains("9999 → 10000: 9999's osx has no route to 10000"));
    // `up` restarts the pod; the new one mounts the same old ConfigMap, and up says whose it is.
    run(lab.up(&["--no-test"])).await.code(1).stderr(
        contains("party 9999: restarting its osx pod so it loads the new route table").and(
            contains("the ConfigMap osx-config in fate-9999 was not updated by KubeFATE"),
        ),
    );
}
