//! Following a party to healthy: its KubeFATE job and its pods together (a stuck pod fails at
//! once), both bounded by the run's deadline, then the pods through the settle window.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};

use super::selector;
use crate::clients::kube::{self, PodView, PodWait};
use crate::clients::kubefate::{Job, JobStatus};
use crate::model::health;
use crate::model::spec::Party;
use crate::steps::{Ctx, advice};
use crate::ui::SubLine;

/// An install or update job that ended other than Success, with what it and the pods said.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct JobFailed {
    pub job: Job,
    message: String,
}

const DEADLINE_GRACE: Duration = Duration::from_secs(2);

/// Follows an install or update job and the party's pods together until the job is final, then
/// watches the pods settle. Returns the finished job.
pub async fn to_healthy(
    ctx: &Ctx,
    party: &Party,
    job: &Job,
    line: &SubLine,
    what: &str,
) -> Result<Job> {
    let kf = ctx.kubefate_for(party).await?;
    let client = ctx.kube_for(party).await?;
    let ns = party.namespace();
    let sel = selector(&party.name());
    let pod_view = Mutex::new(String::new());
    // Every pod's latest line, kept after the pod is gone.
    let last_pods: Mutex<BTreeMap<String, String>> = Mutex::default();
    let show = |pods: &[PodView]| {
        *pod_view.lock().expect("pods lock") = health::pods_running(pods);
        let mut seen = last_pods.lock().expect("pods lock");
        for p in pods {
            seen.insert(p.name.clone(), p.line());
        }
    };
    // The job's deadline ends this follow; the pods' wait lasts a moment longer, so a job that
    // never ends is named as such rather than as pods that were not ready.
    let deadline = ctx.deadline();
    let wait = PodWait {
        timeout: ctx.wait_timeout() + DEADLINE_GRACE,
        settle: Duration::ZERO,
    };
    let pods = async {
        kube::wait_ready(client, &ns, &sel, wait, health::all_ready, show)
            .await
            .map_err(|e| advice::pods(ctx, e))
    };
    let mut named = String::new();
    let seen = |job: &Job| -> Result<()> {
        if !job.cluster_id.is_empty() && job.cluster_id != named {
            named = job.cluster_id.clone();
            ctx.update_record(|r| {
                r.clusters.insert(party.id, named.clone());
            })?;
        }
        let last = job.states().last().cloned().unwrap_or_default();
        let pods = pod_view.lock().expect("pods lock").clone();
        let pods = if pods.is_empty() {
            String::new()
        } else {
            format!(" | {pods}")
        };
        line.set(format!("{what} job {}: {last}{pods}", job.status));
        Ok(())
    };
    let finished = async {
        kf.follow(&job.uuid, deadline, seen)
            .await
            .map_err(|e| advice::job_deadline(e, "up"))
    };
    tokio::pin!(pods, finished);
    let mut pods_done = false;
    let done = loop {
        tokio::select! {
            p = &mut pods, if !pods_done => {
                p.with_context(|| format!("party {}'s pods", party.id))?;
                pods_done = true;
            }
            j = &mut finished => break j?,
        }
    };
    if done.status != JobStatus::Success {
        let states = done.condensed_states().join("; ");
        let now = kube::not_ready_pods(client, &ns).await.unwrap_or_default();
        let pods = if now.is_empty() {
            // KubeFATE removes a cluster whose install timed out: show the pods as last seen.
            let seen: Vec<String> = last_pods
                .lock()
                .expect("pods lock")
                .values()
                .cloned()
                .collect();
            if seen.is_empty() {
                String::new()
            } else {
                format!("\npods not ready when last seen: {}", seen.join("; "))
            }
        } else {
            format!("\npods not ready: {}", now.join("; "))
        };
        return Err(JobFailed {
            message: format!(
                "{what} of {} failed (job {}): {states}{pods}",
                party.name(),
                done.status
            ),
            job: done,
        }
        .into());
    }
    settled(ctx, party, line, &format!("{what} job Success"))
        .await
        .with_context(|| format!("party {}'s pods after the {what}", party.id))?;
    Ok(done)
}

/// Watches the party's pods until they are healthy and have stayed so for the settle window,
/// its line saying what came before (`doing`) and how many pods run.
pub async fn settled(ctx: &Ctx, party: &Party, line: &SubLine, doing: &str) -> Result<()> {
    let settle = humantime::format_duration(ctx.opts.settle);
    line.set(format!("{doing}; watching the pods settle for {settle}"));
    let wait = PodWait {
        timeout: ctx.wait_timeout(),
        settle: ctx.opts.settle,
    };
    kube::wait_ready(
        ctx.kube_for(party).await?,
        &party.namespace(),
        &selector(&party.name()),
        wait,
        health::all_ready,
        |pods| {
            line.set(format!(
                "{doing}; {}, watching them settle for {settle}",
                health::pods_running(pods)
            ))
        },
    )
    .await
    .map_err(|e| advice::pods(ctx, e))
}
