//! FATE Flow's HTTP API, for FATE's toy federated job (secure add), reached through the API
//! server's service proxy. FATE 1.x speaks the v1 API (`retcode`/`retmsg`, `f_status`, an
//! explicit `work_mode: 1`); FATE 2.x the v2 API (`code`/`message`, `status`, a DAG schema).
//! Facts: shared/reference/kubefate.md §5, fateflow-real.md.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use http::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::kube;
use crate::catalog::FateFlowApi;

/// Where a party's FATE Flow HTTP API listens inside its namespace.
pub const SERVICE: &str = "fateflow-client";
pub const PORT: u16 = 9380;
/// FATE Flow jobs are polled at this pace (its CLI polls every second too).
const POLL: Duration = Duration::from_secs(1);

pub struct FateFlow {
    kube: ::kube::Client,
    namespace: String,
    api: FateFlowApi,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct JobResult {
    pub guest: u32,
    pub hosts: Vec<u32>,
    pub job_id: Option<String>,
    pub status: String,
    pub duration_s: f64,
    /// FATE's own words when the job did not succeed.
    pub error: Option<String>,
}

impl JobResult {
    pub fn success(&self) -> bool {
        self.status == "success"
    }
}

/// The toy job's DSL and runtime conf for FATE 1.6 (`examples/toy_example`), `work_mode` 1.
pub fn toy_v1(guest: u32, hosts: &[u32]) -> Value {
    json!({
        "job_dsl": {"components": {"secure_add_example_0": {"module": "SecureAddExample"}}},
        "job_runtime_conf": {
            "initiator": {"role": "guest", "party_id": guest},
            "job_parameters": {"work_mode": 1, "backend": 0, "task_cores": 2},
            "role": {"guest": [guest], "host": hosts},
            "role_parameters": {
                "guest": {"secure_add_example_0": {"seed": [123]}},
                "host": {"secure_add_example_0": {"seed": hosts.iter().map(|_| 321).collect::<Vec<_>>()}}
            },
            "algorithm_parameters": {"secure_add_example_0": {"partition": 48, "data_num": 1000}}
        }
    })
}

/// The toy job's DAG for FATE 2.x, as `flow test toy` sends it.
pub fn toy_v2(guest: u32, host: u32) -> Value {
    json!({"dag_schema": {
        "dag": {
            "parties": [{"party_id": [guest], "role": "guest"}, {"party_id": [host], "role": "host"}],
            "stage": "default",
            "tasks": {"toy_example_0": {"component_ref": "toy_example", "parameters": {"data_num": 1024, "partition": 4}}}
        },
        "schema_version": "2.0.0.alpha"
    }})
}

impl FateFlow {
    pub fn new(kube: ::kube::Client, namespace: &str, api: FateFlowApi) -> Self {
        FateFlow {
            kube,
            namespace: namespace.into(),
            api,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let resp = kube::proxy(
            &self.kube,
            &self.namespace,
            SERVICE,
            PORT,
            method.clone(),
            path,
            body,
            // Everything but a submit is a query, even when FATE Flow 1.x wants it as POST.
            if path.ends_with("/submit") {
                kube::Repeat::Once
            } else {
                kube::Repeat::Safe
            },
        )
        .await
        .with_context(|| format!("FATE Flow in {}", self.namespace))?;
        if !(200..300).contains(&resp.status) {
            bail!(
                "FATE Flow in {} answered {method} {path} with HTTP {}: {}",
                self.namespace,
                resp.status,
                String::from_utf8_lossy(&resp.body[..resp.body.len().min(300)])
            );
        }
        resp.json()
    }

    /// Code and message of an answer, in either API's envelope.
    fn envelope(&self, v: &Value) -> (i64, String) {
        let (code, msg) = match self.api {
            FateFlowApi::V1 => ("retcode", "retmsg"),
            FateFlowApi::V2 => ("code", "message"),
        };
        (
            v.get(code).and_then(Value::as_i64).unwrap_or(-1),
            v.get(msg)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )
    }

    pub async fn submit_toy(&self, guest: u32, hosts: &[u32]) -> Result<String> {
        let (path, body) = match self.api {
            FateFlowApi::V1 => ("/v1/job/submit", toy_v1(guest, hosts)),
            FateFlowApi::V2 => ("/v2/job/submit", toy_v2(guest, hosts[0])),
        };
        let v = self.call(Method::POST, path, Some(&body)).await?;
        let (code, msg) = self.envelope(&v);
        if code != 0 {
            bail!("FATE Flow refused the toy job (code {code}): {msg}");
        }
        let id = v
            .get("jobId")
            .or_else(|| v.get("job_id"))
            .or_else(|| v.pointer("/data/job_id"))
            .and_then(Value::as_str)
            .context("FATE Flow accepted the job but named no job id")?;
        Ok(id.to_string())
    }

    /// The guest's view of the job's status (lowercase, e.g. `running`, `success`).
    pub async fn status(&self, job_id: &str, guest: u32) -> Result<String> {
        let v = match self.api {
            FateFlowApi::V1 => {
                let body = json!({"job_id": job_id, "role": "guest", "party_id": guest});
                self.call(Method::POST, "/v1/job/query", Some(&body))
                    .await?
            }
            FateFlowApi::V2 => {
                self.call(
                    Method::GET,
                    &format!("/v2/job/query?job_id={job_id}&party_id={guest}"),
                    None,
                )
                .await?
            }
        };
        let (code, msg) = self.envelope(&v);
        if code != 0 {
            bail!("FATE Flow could not report job {job_id} (code {code}): {msg}");
        }
        let row = v
            .pointer("/data/0")
            .context("FATE Flow reported no row for the job")?;
        let status = row
            .get("f_status")
            .or_else(|| row.get("status"))
            .and_then(Value::as_str)
            .context("FATE Flow's job row has no status")?;
        Ok(status.to_string())
    }

    /// Why a job failed, from its tasks (v2 `error_report`; v1 keeps it in logs only).
    pub async fn failure_detail(&self, job_id: &str) -> Option<String> {
        if self.api != FateFlowApi::V2 {
            return None;
        }
        let v = self
            .call(
                Method::GET,
                &format!("/v2/job/task/query?job_id={job_id}"),
                None,
            )
            .await
            .ok()?;
        let reports: Vec<String> = v["data"]
            .as_array()?
            .iter()
            .filter_map(|t| {
                let report = t
                    .get("error_report")
                    .and_then(Value::as_str)
                    .filter(|r| !r.is_empty())?;
                let name = t.get("task_name").and_then(Value::as_str).unwrap_or("task");
                Some(format!("{name}: {report}"))
            })
            .collect();
        (!reports.is_empty()).then(|| reports.join("; "))
    }

    /// Submits the toy job and polls until it is final or `timeout` passes.
    pub async fn run_toy(
        &self,
        guest: u32,
        hosts: &[u32],
        timeout: Duration,
        mut progress: impl FnMut(&str),
    ) -> Result<JobResult> {
        let started = Instant::now();
        let job_id = self.submit_toy(guest, hosts).await?;
        progress(&format!("job {job_id} submitted"));
        loop {
            let status = self.status(&job_id, guest).await?;
            progress(&format!("job {job_id}: {status}"));
            let terminal = matches!(
                status.as_str(),
                "success" | "failed" | "canceled" | "timeout"
            );
            if terminal || started.elapsed() >= timeout {
                let error = if status == "success" {
                    None
                } else if !terminal {
                    Some(format!("still {status} after {}", kube::human(timeout)))
                } else {
                    let detail = self.failure_detail(&job_id).await;
                    Some(match detail {
                        Some(d) => d,
                        None => format!(
                            "the job ended {status}; FATE Board and the fate_flow logs have the details"
                        ),
                    })
                };
                return Ok(JobResult {
                    guest,
                    hosts: hosts.to_vec(),
                    job_id: Some(job_id),
                    status: if terminal { status } else { "timeout".into() },
                    duration_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
                    error,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toy_jobs_follow_the_reference() {
        let v1 = toy_v1(9999, &[10000]);
        assert_eq!(
            v1.pointer("/job_runtime_conf/job_parameters/work_mode"),
            Some(&json!(1))
        );
        assert_eq!(
            v1.pointer("/job_runtime_conf/role/host"),
            Some(&json!([10000]))
        );
        assert_eq!(
            v1.pointer("/job_dsl/components/secure_add_example_0/module"),
            Some(&json!("SecureAddExample"))
        );
        let v2 = toy_v2(9999, 10000);
        assert_eq!(
            v2.pointer("/dag_schema/schema_version"),
            Some(&json!("2.0.0.alpha"))
        );
        assert_eq!(
            v2.pointer("/dag_schema/dag/parties/1/party_id"),
            Some(&json!([10000]))
        );
    }
}
