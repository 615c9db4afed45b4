//! What FATE Flow holds about a job, as it gives it: the job's rows, its tasks' rows, and the
//! archive of its logs (FATE Flow 1.6 `GET /v1/job/log` with the job ID in a JSON body, 2.x
//! `POST /v2/job/log/download`; both answer a `.tar.gz`, or a JSON error when the job has no log
//! directory on this party).

use anyhow::{Result, bail};
use http::Method;
use serde_json::{Value, json};

use super::{Api, FateFlow};

impl FateFlow {
    /// The job's rows on this party (one per role it plays), as FATE Flow answers.
    pub async fn job_records(&self, job_id: &str) -> Result<Value> {
        match self.api {
            Api::V1 => {
                self.call(
                    Method::POST,
                    "/v1/job/query",
                    Some(&json!({ "job_id": job_id })),
                )
                .await
            }
            Api::V2 => {
                self.call(Method::GET, &format!("/v2/job/query?job_id={job_id}"), None)
                    .await
            }
        }
    }

    /// The job's tasks on this party, as FATE Flow answers.
    pub async fn task_records(&self, job_id: &str) -> Result<Value> {
        match self.api {
            Api::V1 => {
                self.call(
                    Method::POST,
                    "/v1/job/task/query",
                    Some(&json!({ "job_id": job_id })),
                )
                .await
            }
            Api::V2 => {
                self.call(
                    Method::GET,
                    &format!("/v2/job/task/query?job_id={job_id}"),
                    None,
                )
                .await
            }
        }
    }

    /// The job's log directory on this party, as the `.tar.gz` FATE Flow makes of it.
    pub async fn job_logs(&self, job_id: &str) -> Result<Vec<u8>> {
        let body = Some((
            "application/json".to_string(),
            serde_json::to_vec(&json!({ "job_id": job_id }))?,
        ));
        let resp = match self.api {
            Api::V1 => self.send(Method::GET, "/v1/job/log", body).await?,
            Api::V2 => {
                self.send(Method::POST, "/v2/job/log/download", body)
                    .await?
            }
        };
        // gzip's magic number: anything else is FATE Flow's JSON refusal.
        if resp.body.starts_with(&[0x1f, 0x8b]) {
            return Ok(resp.body);
        }
        let (code, msg) = resp
            .json()
            .map(|v| self.envelope(&v))
            .unwrap_or((-1, String::from_utf8_lossy(&resp.body).into_owned()));
        bail!(
            "FATE Flow {} has no logs of job {job_id} (code {code}): {msg}",
            self.named
        )
    }
}
