//! `status` on a healthy lab, with a party down, and with no lab; `down` twice, and after a
//! half-failed `up` — against the fakes, with the real Docker Engine for images.

mod support;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;
use support::fake_kubefate::{Kubelet, PodState, party_pod};
use support::host::{HOSTS_BEFORE, Host, run};
use support::lab::Lab;
use support::schema;

async fn status(lab: &Lab, extra: &[&str]) -> (i32, Value) {
    let mut cmd = lab.host.fatelab(None);
    cmd.args(["status", "--output", "json"]).args(extra);
    let out = run(cmd).await.get_output().clone();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

/// Objects fatelab (not the test's controllers) created in the fake API server.
fn fatelab_objects(lab: &Lab) -> Vec<String> {
    lab.kube
        .objects()
        .iter()
        .filter(|o| {
            let ns = o
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            let name = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            ns == "kube-fate"
                || ns.starts_with("fate-")
                || name == "kube-fate"
                || name.starts_with("fate-")
                || name == "kubefate"
        })
        .map(|o| format!("{} {}", o["kind"], o.pointer("/metadata/name").unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_then_down_twice_leaves_nothing_behind() {
    let lab = Lab::start("status").await;
    run(lab.up(&["--no-test"])).await.success();

    let (code, report) = status(&lab, &[]).await;
    assert_eq!(code, 0, "{report:#}");
    let problems = schema::violations(&schema::status_schema(), &report, "$");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(report["parties"][0]["pods_total"], 6);
    assert_eq!(
        report["parties"][1]["urls"]["fateboard"],
        "http://10000.fateboard.kubefate.net"
    );
    assert!(
        report["kubefate"].get("credentials").is_none(),
        "credentials only when asked"
    );
    let (_, with_creds) = status(&lab, &["--show-credentials"]).await;
    assert_eq!(with_creds["kubefate"]["credentials"]["username"], "admin");

    // A party goes down: one pod crashes.
    let ns = "fate-10000";
    let cluster = lab
        .kubefate
        .clusters()
        .into_iter()
        .find(|c| c["name"] == "fate-10000")
        .unwrap();
    let pod = format!("python-{}", &cluster["uuid"].as_str().unwrap()[..6]);
    lab.kube.put(party_pod(
        ns,
        &pod,
        "fate-10000",
        "python",
        &["python", "client", "fateboard"],
        PodState::Creating,
    ));
    let (code, report) = status(&lab, &[]).await;
    assert_eq!(code, 1);
    assert_eq!(report["parties"][1]["healthy"], false);
    assert_eq!(report["parties"][1]["pods_ready"], 5);
    assert_eq!(report["parties"][0]["healthy"], true);
    let mut text = lab.host.fatelab(None);
    text.arg("status");
    run(text)
        .await
        .code(1)
        .stdout(contains("FAIL party 10000").and(contains("5/6 pods ready")));

    // down removes every object fatelab made, the clusters, and the hosts block.
    assert!(!fatelab_objects(&lab).is_empty());
    let mut down = lab.host.fatelab(None);
    down.args(["down", "--yes"]);
    run(down)
        .await
        .success()
        .stderr(contains("The lab is removed"));
    assert_eq!(fatelab_objects(&lab), Vec::<String>::new());
    assert!(
        lab.kube
            .get(
                "rbac.authorization.k8s.io/v1",
                "ClusterRoleBinding",
                "",
                "kubefate"
            )
            .is_none()
    );
    assert!(
        lab.kubefate
            .clusters()
            .iter()
            .all(|c| !c["DeletedAt"].is_null())
    );
    assert_eq!(std::fs::read(lab.hosts_file()).unwrap(), HOSTS_BEFORE);

    let mut again = lab.host.fatelab(None);
    again.args(["down", "--yes"]);
    run(again)
        .await
        .success()
        .stderr(contains("There is no lab to remove"));
    let (code, report) = status(&lab, &[]).await;
    assert_eq!(code, 3);
    assert_eq!(report, serde_json::json!({"lab": false, "healthy": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_after_a_half_failed_up() {
    let lab = Lab::start("half").await;
    lab.kubefate
        .set_kubelet(Kubelet::ImagePullFails("python".into()));
    run(lab.up(&["--no-test"])).await.code(1);
    let mut down = lab.host.fatelab(None);
    down.args(["down", "--yes"]);
    run(down).await.success();
    assert_eq!(fatelab_objects(&lab), Vec::<String>::new());
    assert_eq!(std::fs::read(lab.hosts_file()).unwrap(), HOSTS_BEFORE);
}

#[test]
fn status_without_a_lab_exits_3() {
    let host = Host::new(None);
    let mut cmd = host.fatelab(None);
    cmd.arg("status")
        .assert()
        .code(3)
        .stdout(contains("There is no lab"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_is_an_error_naming_the_file_and_field() {
    let host = Host::new(None);
    let kube = support::fake_kube::FakeKube::start().await;
    host.record_lab(&kube, "v1.6.0", &[9999, 10000]);
    let path = host.state().join("lab.json");
    let mut record: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    record["ip"] = serde_json::json!("0.0.0.0");
    std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    let mut cmd = host.fatelab(None);
    cmd.arg("status");
    run(cmd)
        .await
        .code(1)
        .stderr(contains("lab.json is damaged (field `ip`").and(contains("unspecified address")));

    record["ip"] = serde_json::json!("192.168.100.123");
    record["ports"]["10000"]["http"] = serde_json::json!(0);
    std::fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    let mut cmd = host.fatelab(None);
    cmd.arg("down").arg("--yes");
    run(cmd).await.code(1).stderr(contains(
        "lab.json is damaged (field `parties/ports/registry/domain`",
    ));
}
