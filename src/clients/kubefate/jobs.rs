//! KubeFATE's jobs (shared/reference/kubefate.md §2): an install, update or delete of a cluster
//! is a job the service runs on its own. Following one polls it (the service has no watch) until
//! it is final or a deadline passes; a request that starts one is sent once, and when its answer
//! is lost the job list says whether it arrived; a delete counts as done once the record is gone.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

use super::{Cluster, KubeFate};

/// KubeFATE has no watch API: its jobs are polled at this pace.
const POLL: Duration = Duration::from_millis(500);

/// helm's words when a delete finds no release: the cluster is gone already (the service
/// removes its record all the same).
const RELEASE_GONE: &str = "not found";

/// A job's status, as `JobStatus.String` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum JobStatus {
    #[default]
    Pending,
    Running,
    Stopping,
    Success,
    Failed,
    Rollback,
    Timeout,
    Canceled,
    /// A status this client does not know: taken as final.
    #[serde(other)]
    Other,
}

impl JobStatus {
    /// Pending, Running and Stopping jobs are still going; every other status is final.
    pub fn finished(self) -> bool {
        !matches!(
            self,
            JobStatus::Pending | JobStatus::Running | JobStatus::Stopping
        )
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// What a job does to a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum JobMethod {
    ClusterInstall,
    ClusterUpdate,
    ClusterDelete,
    #[default]
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Job {
    pub uuid: String,
    #[serde(default)]
    pub method: JobMethod,
    #[serde(default)]
    pub cluster_id: String,
    #[serde(default)]
    pub status: JobStatus,
    #[serde(default)]
    pub states: Option<Vec<String>>,
    #[serde(default)]
    pub start_time: String,
    #[serde(default)]
    pub end_time: String,
    #[serde(default)]
    pub sub_jobs: Option<BTreeMap<String, Value>>,
    /// The ClusterArgs the job was made from (none for a delete).
    #[serde(default)]
    pub meta_data: Option<Value>,
}

impl Job {
    pub fn states(&self) -> &[String] {
        self.states.as_deref().unwrap_or_default()
    }

    pub fn finished(&self) -> bool {
        self.status.finished()
    }

    /// The states with each run of "checkout Cluster status [N]" shortened to its last entry.
    pub fn condensed_states(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.states() {
            let polling = s.starts_with("checkout Cluster status");
            match out.last_mut() {
                Some(last) if polling && last.starts_with("checkout Cluster status") => {
                    *last = s.clone()
                }
                _ => out.push(s.clone()),
            }
        }
        out
    }

    /// The cluster the job is about: the name it was made for, else its cluster ID.
    fn cluster_name(&self) -> String {
        self.meta_data
            .as_ref()
            .and_then(|m| m["name"].as_str())
            .map(String::from)
            .unwrap_or_else(|| self.cluster_id.clone())
    }
}

/// A job that was still going when its deadline came; `advice` is the caller's, said after.
#[derive(Debug, thiserror::Error)]
#[error(
    "KubeFATE's {method:?} job {job} for cluster {cluster} was still {status} after {}; its last state: {last_state}{}",
    humantime::format_duration(Duration::from_secs(.waited.as_secs())),
    if .advice.is_empty() { String::new() } else { format!(". {}", .advice) }
)]
pub struct JobDeadline {
    pub job: String,
    pub method: JobMethod,
    pub cluster: String,
    pub status: JobStatus,
    pub last_state: String,
    pub waited: Duration,
    pub advice: String,
}

/// How a delete ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Deleted {
    /// The job succeeded.
    Cleanly,
    /// helm found no release; the service removed its record anyway.
    ReleaseWasGone,
    /// The job did not succeed, but the record is gone: what the job said.
    RecordRemoved(String),
}

impl KubeFate {
    /// Polls job `id` until it is final, handing each answer to `seen`; a job still going at
    /// `deadline` is a [`JobDeadline`] error naming it, its cluster and its last state.
    pub async fn follow(
        &self,
        id: &str,
        deadline: tokio::time::Instant,
        mut seen: impl FnMut(&Job) -> Result<()>,
    ) -> Result<Job> {
        let started = tokio::time::Instant::now();
        loop {
            let job = self.job(id).await?;
            seen(&job)?;
            if job.finished() {
                return Ok(job);
            }
            if tokio::time::Instant::now() + POLL > deadline {
                return Err(JobDeadline {
                    job: job.uuid.clone(),
                    method: job.method,
                    cluster: job.cluster_name(),
                    status: job.status,
                    last_state: job
                        .states()
                        .last()
                        .cloned()
                        .unwrap_or_else(|| "none yet".into()),
                    waited: started.elapsed(),
                    advice: String::new(),
                }
                .into());
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sends a request that starts a job, once. When it gets no answer (a timeout, a lost
    /// connection) it may still have reached the service: the job list says whether a `method`
    /// job for `target` (a cluster's name, or its ID for a delete) is there; only if none is,
    /// the request is sent again. `lost` hears why the list was asked.
    pub async fn send_once<F, Fut>(
        &self,
        method: JobMethod,
        target: &str,
        send: F,
        lost: impl FnOnce(&anyhow::Error),
    ) -> Result<Job>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Job>>,
    {
        let since = self.jobs().await?.len();
        match send().await {
            Ok(job) => Ok(job),
            Err(e) if crate::clients::transport::is_transient(&e) => {
                lost(&e);
                let jobs = self.jobs().await?;
                let made = jobs.into_iter().skip(since).find(|j| {
                    j.method == method
                        && (j.cluster_id == target
                            || j.meta_data.as_ref().and_then(|m| m["name"].as_str())
                                == Some(target))
                });
                match made {
                    Some(job) => Ok(job),
                    None => send().await,
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes a cluster and follows the job until `deadline`. A release helm no longer finds
    /// counts as gone: the service removes the record anyway. Fails only when the record stays.
    pub async fn delete_and_follow(
        &self,
        cluster: &Cluster,
        deadline: tokio::time::Instant,
        lost: impl FnOnce(&anyhow::Error),
        seen: impl FnMut(&Job) -> Result<()>,
    ) -> Result<Deleted> {
        let job = self
            .send_once(
                JobMethod::ClusterDelete,
                &cluster.uuid,
                || self.delete_cluster(&cluster.uuid),
                lost,
            )
            .await
            .with_context(|| format!("deleting cluster {} through KubeFATE", cluster.name))?;
        let done = match self.follow(&job.uuid, deadline, seen).await {
            Ok(done) => done,
            Err(mut e) => {
                // A delete's job names the cluster by ID only.
                if let Some(d) = e.downcast_mut::<JobDeadline>() {
                    d.cluster = format!("{} ({})", cluster.name, cluster.uuid);
                }
                return Err(e);
            }
        };
        if done.status == JobStatus::Success {
            return Ok(Deleted::Cleanly);
        }
        let states = done.states().join("; ");
        let still_listed = self
            .clusters(false)
            .await?
            .iter()
            .any(|c| c.uuid == cluster.uuid);
        if still_listed {
            bail!(
                "deleting cluster {} failed (job {}): {states}",
                cluster.name,
                done.status
            );
        }
        Ok(if states.contains(RELEASE_GONE) {
            Deleted::ReleaseWasGone
        } else {
            Deleted::RecordRemoved(states)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_and_methods_read_as_the_service_spells_them() {
        let j: Job = serde_json::from_value(
            json!({"uuid": "j", "status": "Running", "method": "ClusterDelete", "states": null}),
        )
        .unwrap();
        assert!(!j.finished());
        assert_eq!(j.method, JobMethod::ClusterDelete);
        assert!(j.states().is_empty());
        let odd: Job = serde_json::from_value(json!({"uuid": "j", "status": "Exploded"})).unwrap();
        assert_eq!(odd.status, JobStatus::Other);
        assert!(odd.finished(), "an unknown status ends the wait");
    }

    #[test]
    fn polling_states_are_condensed() {
        let j: Job = serde_json::from_value(json!({"uuid": "j", "states": [
            "update job status to Running", "checkout Cluster status [1]",
            "checkout Cluster status [2]", "job run Failed"]}))
        .unwrap();
        assert_eq!(
            j.condensed_states(),
            [
                "update job status to Running",
                "checkout Cluster status [2]",
                "job run Failed"
            ]
        );
    }
}
