//! The outside world fails for a moment: one 500, a reset connection, a call that gets no
//! answer. `up` goes through each (the request logs show the retries), never sends a request
//! that starts a job twice, never takes a failed look as a broken party, and stops when its
//! budget is spent, naming the call it waited for.

mod support;

use std::time::{Duration, Instant};

use predicates::prelude::*;
use predicates::str::contains;
use support::faults::Fault;
use support::host::run;
use support::lab::Lab;

fn count(requests: &[String], starts: &str) -> usize {
    requests.iter().filter(|r| r.starts_with(starts)).count()
}

/// How many times `up` reads party 10000's namespace on a lab that does not fail.
async fn namespace_reads_without_faults() -> usize {
    let lab = Lab::start("calm").await;
    run(lab.up(&["--no-test"])).await.success();
    namespace_reads(&lab.kube.requests())
}

const NAMESPACE: &str = "/api/v1/namespaces/fate-10000";

fn namespace_reads(requests: &[String]) -> usize {
    let read = format!("GET {NAMESPACE}");
    requests.iter().filter(|r| **r == read).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_and_a_reset_from_the_api_server_are_retried() {
    let calm = namespace_reads_without_faults().await;
    let lab = Lab::start("blip").await;
    lab.kube
        .faults
        .add("GET", &format!("{NAMESPACE}$"), 1, Fault::Status(500));
    lab.kube
        .faults
        .add("GET", "/api/v1/namespaces/fate-9999/pods", 1, Fault::Reset);
    let up = run(lab.up(&["--no-test"])).await;
    // The read that got the 500 was sent once more: one read beyond what a calm lab makes.
    let reads = namespace_reads(&lab.kube.requests());
    assert_eq!(
        reads,
        calm + 1,
        "the failed read and its repeat (a calm lab reads it {calm} times): {:#?}",
        lab.kube.requests()
    );
    assert!(lab.kube.faults.all_shown(), "both faults were met");
    up.success()
        .stderr(contains("ERROR").not().and(contains("kube_client").not()));
    assert_eq!(lab.kubefate.live_clusters().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_on_a_namespace_create_is_retried() {
    let lab = Lab::start("nscreate").await;
    lab.kube
        .faults
        .add("POST", "/api/v1/namespaces$", 1, Fault::Status(500));
    run(lab.up(&["--no-test"])).await.success();
    let creates = lab
        .kube
        .requests()
        .iter()
        .filter(|r| r.split('?').next() == Some("POST /api/v1/namespaces"))
        .count();
    // kube-fate is applied, not created; the two parties' namespaces are created, one of them
    // after a 500.
    assert_eq!(creates, 3, "{:#?}", lab.kube.requests());
    assert_eq!(lab.kubefate.live_clusters().len(), 2);
    let record = lab.host.record();
    for ns in ["fate-9999", "fate-10000"] {
        assert!(
            record["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n == ns),
            "{ns} is fatelab's: {record}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubefate_read_without_an_answer_is_tried_again() {
    let lab = Lab::start("stallread").await;
    lab.kubefate
        .faults
        .add("GET", "/v1/cluster/", 1, Fault::Stall);
    run(lab.up(&["--no-test", "--call-timeout", "1s"]))
        .await
        .success();
    assert!(count(&lab.kubefate.requests(), "GET /v1/cluster/") >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_whose_answer_was_lost_is_not_sent_twice() {
    let lab = Lab::start("lostanswer").await;
    lab.kubefate
        .faults
        .add("POST", "/v1/cluster", 1, Fault::AnswerLost);
    run(lab.up(&["--no-test", "--call-timeout", "1s"]))
        .await
        .success()
        .stderr(contains("installed, healthy"));
    let reqs = lab.kubefate.requests();
    assert_eq!(
        reqs.iter()
            .filter(|r| r.as_str() == "POST /v1/cluster")
            .count(),
        2,
        "one install per party: {reqs:#?}"
    );
    assert_eq!(lab.kubefate.live_clusters().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_look_is_no_evidence_that_a_party_is_broken() {
    let lab = Lab::start("nolook").await;
    run(lab.up(&["--no-test"])).await.success();
    // More failures than the retries cover: the look fails, and nothing is deleted.
    lab.kube.faults.add(
        "GET",
        "/api/v1/namespaces/fate-10000/pods",
        20,
        Fault::Status(500),
    );
    run(lab.up(&["--no-test"]))
        .await
        .code(1)
        .stderr(contains("fate-10000").and(contains("Delete it").not()));
    assert_eq!(
        count(&lab.kubefate.requests(), "DELETE /v1/cluster/"),
        0,
        "a transient error never leads to a delete"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_never_answers_ends_up_at_its_budget_naming_the_call() {
    let lab = Lab::start("budget").await;
    lab.kubefate
        .faults
        .add("GET", "/v1/cluster/", 1000, Fault::Stall);
    let started = Instant::now();
    run(lab.up(&["--no-test", "--timeout", "20s"]))
        .await
        .code(1)
        .stderr(
            contains("ran out of time: `up --timeout 20s` was spent, waiting for GET")
                .and(contains("/proxy/v1/cluster/")),
        );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "stopped after {took:?}, not at its budget"
    );
}
