//! FATE's toy job (secure add) between a guest and its hosts: submitted to the guest's FATE Flow,
//! followed until it is final or the run's time is spent, and FATE's words kept when it fails.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::clients::fateflow::FateFlow;
use crate::model::jobs::{self, JobKind, JobResult};

pub async fn run(
    flow: &FateFlow,
    guest: u32,
    hosts: &[u32],
    timeout: Duration,
    mut progress: impl FnMut(&str),
) -> Result<JobResult> {
    let started = Instant::now();
    let job_id = flow.submit_toy(guest, hosts).await?;
    progress(&format!("job {job_id} submitted"));
    let row = flow
        .follow(&job_id, Some(("guest", guest)), timeout, false, |r, _| {
            progress(&format!("job {job_id}: {}", r.status))
        })
        .await?;
    let error = match row.status.as_str() {
        "success" => None,
        other => Some(flow.why(&job_id, other, timeout).await),
    };
    Ok(JobResult {
        kind: JobKind::Toy,
        guest,
        hosts: hosts.to_vec(),
        job_id: Some(job_id),
        status: row.status,
        duration_s: jobs::seconds(started.elapsed()),
        error,
        metrics: None,
        timings: None,
        data: None,
        baseline: None,
    })
}
