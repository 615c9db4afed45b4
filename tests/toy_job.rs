//! `fatelab test` and the last step of `up`: FATE's toy job through the guest's FATE Flow,
//! against fake FATE Flow servers (v1 and v2 API) behind the fake API server's service proxy.

mod support;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;
use support::fake_fateflow::{Behaviour, FakeFateFlow};
use support::fake_kube::FakeKube;
use support::host::{Host, run};
use support::lab::Lab;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_ends_with_a_successful_toy_job() {
    let lab = Lab::start("toy").await;
    let flow = FakeFateFlow::start(Behaviour::Succeed).await;
    lab.kube
        .route_service("fate-9999", "fateflow-client", 9380, &flow.url);
    run(lab.up(&[])).await.success().stderr(
        contains("toy job guest 9999 / host 10000: 2026")
            .and(contains("success in"))
            .and(contains("The lab is up.")),
    );
    let submitted = flow.submitted();
    assert_eq!(submitted.len(), 1);
    assert_eq!(
        submitted[0].pointer("/job_runtime_conf/job_parameters/work_mode"),
        Some(&Value::from(1))
    );
    let record: Value =
        serde_json::from_slice(&std::fs::read(lab.state().join("lab.json")).unwrap()).unwrap();
    assert_eq!(record.pointer("/last_test/ok"), Some(&Value::Bool(true)));
}

async fn recorded(release: &str, behaviour: Behaviour) -> (Host, FakeKube, FakeFateFlow) {
    let host = Host::new(Some("v1.22.0"));
    let kube = FakeKube::start().await;
    let flow = FakeFateFlow::start(behaviour).await;
    kube.route_service("fate-9999", "fateflow-client", 9380, &flow.url);
    host.record_lab(&kube, release, &[9999, 10000]);
    (host, kube, flow)
}

fn test_cmd(host: &Host, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = host.fatelab(None);
    cmd.arg("test").args(extra);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollsite_failure_is_explained() {
    let (host, _kube, _flow) = recorded("v1.6.0", Behaviour::RollsiteUnreachable).await;
    run(test_cmd(&host, &[])).await.code(1).stdout(
        contains("Roll Site Error").and(contains("check that --ip is this host's address")),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_never_finishes_times_out() {
    let (host, _kube, _flow) = recorded("v1.6.0", Behaviour::NeverFinish).await;
    run(test_cmd(&host, &["--timeout", "2s", "--output", "json"]))
        .await
        .code(1)
        .stdout(contains("\"status\": \"timeout\"").and(contains("still running after 2s")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_v2_api_reports_the_task_error() {
    let (host, _kube, flow) =
        recorded("v2.0.0", Behaviour::Fail("No module named 'fate'".into())).await;
    run(test_cmd(&host, &[]))
        .await
        .code(1)
        .stdout(contains("failed").and(contains("toy_example_0: No module named 'fate'")));
    assert!(flow.submitted()[0].get("dag_schema").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_fate_flow_database_is_asked_again() {
    let (host, _kube, flow) = recorded("v2.0.0", Behaviour::Succeed).await;
    flow.busy_queries(2);
    run(test_cmd(&host, &["--output", "json"]))
        .await
        .success()
        .stdout(contains("\"ok\": true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_and_host_can_be_chosen_and_are_checked() {
    let (host, _kube, flow) = recorded("v2.0.0", Behaviour::Succeed).await;
    run(test_cmd(
        &host,
        &["--guest", "9999", "--host", "10000", "--output", "json"],
    ))
    .await
    .success()
    .stdout(contains("\"ok\": true"));
    assert_eq!(flow.submitted().len(), 1);
    run(test_cmd(&host, &["--host", "4242"]))
        .await
        .code(2)
        .stderr(contains("party 4242 is not in this lab"));
}

#[test]
fn test_without_a_lab_says_so() {
    let host = Host::new(None);
    let mut cmd = host.fatelab(None);
    cmd.arg("test")
        .assert()
        .code(2)
        .stderr(contains("there is no lab on record"));
}
