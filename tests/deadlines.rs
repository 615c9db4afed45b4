//! Every wait on a KubeFATE job ends at the command's `--timeout`: a delete job that stays
//! Running does not hold `down` for ever, nor an install job `up`. Either ends with exit 1,
//! naming the job, its cluster, its last state and what to do.

mod support;

use std::time::{Duration, Instant};

use predicates::prelude::*;
use predicates::str::contains;
use support::host::run;
use support::lab::Lab;

/// The IDs of the fake's jobs of one kind.
fn jobs_of(lab: &Lab, method: &str) -> Vec<String> {
    lab.kubefate
        .jobs()
        .iter()
        .filter(|j| j["method"] == method)
        .filter_map(|j| j["uuid"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_ends_at_its_timeout_naming_a_delete_job_that_never_ends() {
    let lab = Lab::start("deljob").await;
    run(lab.up(&["--no-test"])).await.success();
    lab.kubefate.jobs_never_end();
    let mut down = lab.host.fatelab(None);
    down.args(["down", "--yes", "--timeout", "30s"]);
    let started = Instant::now();
    let out = run(down).await.code(1).get_output().clone();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(took < Duration::from_secs(40), "took {took:?}: {stderr}");
    let named = jobs_of(&lab, "ClusterDelete")
        .iter()
        .any(|j| stderr.contains(&format!("ClusterDelete job {j} for cluster fate-")));
    assert!(named, "a delete job and its cluster are named: {stderr}");
    for said in [
        "still Running".to_string(),
        "its last state: helm uninstall".to_string(),
        "run `fatelab down` again".to_string(),
    ] {
        assert!(stderr.contains(&said), "{said:?} not in: {stderr}");
    }
    // What could not be removed stays on record for the next `down`.
    let record = lab.host.record();
    assert!(
        record["clusters"]
            .as_object()
            .is_some_and(|c| !c.is_empty()),
        "{record}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_ends_at_its_timeout_naming_an_install_job_that_never_ends() {
    let lab = Lab::start("installjob").await;
    lab.kubefate.jobs_never_end();
    let started = Instant::now();
    let out = run(lab.up(&["--no-test", "--timeout", "20s"]))
        .await
        .code(1)
        .stderr(
            contains("ClusterInstall job")
                .and(contains("still Running"))
                .and(contains("checkout Cluster status"))
                .and(contains("run `fatelab up` again")),
        )
        .get_output()
        .clone();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "took {took:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let named = jobs_of(&lab, "ClusterInstall")
        .iter()
        .any(|j| stderr.contains(j.as_str()));
    assert!(named, "the job is named: {stderr}");
}
