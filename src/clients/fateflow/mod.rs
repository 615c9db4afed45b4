//! FATE Flow's HTTP API, reached through the API server's service proxy: submitting jobs (the toy
//! job, a training job), following them, uploading tables and reading metrics. FATE 1.x speaks
//! the v1 API (`retcode`/`retmsg`, `f_status`, an explicit `work_mode: 1`); FATE 2.x the v2 API
//! (`code`/`message`, `status`, a DAG schema). What is sent is in `v1` and `v2`, one module per
//! API version; the training jobs' data in `jobs`. Facts: shared/reference/kubefate.md §5,
//! fateflow-real.md.

pub mod jobs;
mod outputs;
pub use outputs::{Curve, Evaluation, TaskTime, find_metric};
pub mod publish;
mod records;
pub mod v1;
pub mod v2;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use http::Method;
use serde::Serialize;
use serde_json::{Value, json};

use jobs::TableSpec;

use super::transport::{Call, Direct, Repeat, Service, direct, proxy};

/// Which FATE Flow API a party's server speaks: FATE 1.x's or FATE 2.x's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    V1,
    V2,
}

/// Where a party's FATE Flow HTTP API listens inside its namespace.
pub const SERVICE: &str = "fateflow-client";
pub const PORT: u16 = 9380;
/// FATE Flow jobs are polled at this pace (its CLI polls every second too).
pub const POLL: Duration = Duration::from_secs(1);
/// A standalone FATE Flow keeps its records in SQLite: a query that meets a writer is refused
/// with `BusyError('database is locked')` (code 6000, seen on the real FATE Flow 2.2 under load)
/// and answers when asked again a moment later.
const DATABASE_BUSY: &str = "database is locked";
const BUSY_RETRIES: u32 = 10;

pub struct FateFlow {
    way: Way,
    /// How messages name this server: "in fate-9999", "of party 9999".
    named: String,
    api: Api,
}

/// How calls reach the server.
enum Way {
    /// Through the API server's service proxy, to the party's Service in its namespace.
    Proxy {
        kube: ::kube::Client,
        namespace: String,
    },
    /// At its own address (a local lab's server).
    Direct(Direct),
}

/// A job's row as its party sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub status: String,
    /// Percent done, where FATE reports it.
    pub progress: Option<u64>,
}

impl JobRow {
    pub fn terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            "success" | "failed" | "canceled" | "timeout"
        )
    }
}

impl FateFlow {
    pub fn new(kube: ::kube::Client, namespace: &str, api: Api) -> Self {
        FateFlow {
            way: Way::Proxy {
                kube,
                namespace: namespace.into(),
            },
            named: format!("in {namespace}"),
            api,
        }
    }

    /// A server reached at its own address; `named` is how messages name it ("of party 9999").
    pub fn at(to: Direct, named: &str, api: Api) -> Self {
        FateFlow {
            way: Way::Direct(to),
            named: named.into(),
            api,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let payload = match body {
            Some(b) => Some(("application/json".to_string(), serde_json::to_vec(b)?)),
            None => None,
        };
        self.call_raw(method, path, payload).await
    }

    async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(String, Vec<u8>)>,
    ) -> Result<Value> {
        self.send(method, path, body).await?.json()
    }

    /// Sends one call; any 2xx answer is returned as it came, anything else is an error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(String, Vec<u8>)>,
    ) -> Result<super::transport::ProxyResponse> {
        // A submit or an upload starts a job, a deploy makes a new model version: sent once.
        // Everything else is a query or may be repeated (a load, a bind), even when FATE Flow
        // 1.x wants it as POST.
        let once =
            path.ends_with("/submit") || path.contains("/upload") || path.ends_with("/deploy");
        let mut call =
            Call::new(method.clone(), path).repeat(if once { Repeat::Once } else { Repeat::Safe });
        if let Some((content_type, bytes)) = body {
            call = call.body(&content_type, bytes);
        }
        let resp = match &self.way {
            Way::Proxy { kube, namespace } => {
                proxy(kube, &Service::new(namespace, SERVICE, PORT), call).await
            }
            Way::Direct(to) => direct(to, call).await,
        }
        .with_context(|| format!("FATE Flow {}", self.named))?;
        let shown = path.split('?').next().unwrap_or(path);
        if !(200..300).contains(&resp.status) {
            bail!(
                "FATE Flow {} answered {method} {shown} with HTTP {}: {}",
                self.named,
                resp.status,
                String::from_utf8_lossy(&resp.body[..resp.body.len().min(300)])
            );
        }
        Ok(resp)
    }

    /// Code and message of an answer, in either API's envelope.
    fn envelope(&self, v: &Value) -> (i64, String) {
        let (code, msg) = match self.api {
            Api::V1 => ("retcode", "retmsg"),
            Api::V2 => ("code", "message"),
        };
        (
            v.get(code).and_then(Value::as_i64).unwrap_or(-1),
            v.get(msg)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        )
    }

    /// The answer when its envelope says success; else an error with FATE's code and words.
    fn accepted(&self, v: Value, what: &str) -> Result<Value> {
        let (code, msg) = self.envelope(&v);
        if code != 0 {
            bail!(
                "FATE Flow {} refused {what} (code {code}): {msg}",
                self.named
            );
        }
        Ok(v)
    }

    fn job_id_of(v: &Value) -> Result<String> {
        v.get("jobId")
            .or_else(|| v.get("job_id"))
            .or_else(|| v.pointer("/data/job_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .context("FATE Flow accepted the job but named no job id")
    }

    /// Submits a job (a `v1::Submit` or `v2::Submit`); returns its ID.
    pub async fn submit(&self, body: &impl Serialize, what: &str) -> Result<String> {
        let path = match self.api {
            Api::V1 => "/v1/job/submit",
            Api::V2 => "/v2/job/submit",
        };
        let v = self
            .call(Method::POST, path, Some(&serde_json::to_value(body)?))
            .await?;
        Self::job_id_of(&self.accepted(v, what)?)
    }

    pub async fn submit_toy(&self, guest: u32, hosts: &[u32]) -> Result<String> {
        match self.api {
            Api::V1 => self.submit(&v1::toy(guest, hosts), "the toy job").await,
            Api::V2 => self.submit(&v2::toy(guest, hosts[0]), "the toy job").await,
        }
    }

    /// The job's row for one party (`None`: the first row, e.g. an upload's `local` one).
    pub async fn job(&self, job_id: &str, party: Option<(&str, u32)>) -> Result<JobRow> {
        let mut busy = 0;
        let v = loop {
            let v = match self.api {
                Api::V1 => {
                    let mut body = json!({ "job_id": job_id });
                    if let Some((role, id)) = party {
                        body["role"] = json!(role);
                        body["party_id"] = json!(id);
                    }
                    self.call(Method::POST, "/v1/job/query", Some(&body))
                        .await?
                }
                Api::V2 => {
                    let mut path = format!("/v2/job/query?job_id={job_id}");
                    if let Some((role, id)) = party {
                        path.push_str(&format!("&role={role}&party_id={id}"));
                    }
                    self.call(Method::GET, &path, None).await?
                }
            };
            let (code, msg) = self.envelope(&v);
            if code != 0 && msg.contains(DATABASE_BUSY) && busy < BUSY_RETRIES {
                busy += 1;
                tracing::info!("FATE Flow {}: {msg}; asking again", self.named);
                tokio::time::sleep(POLL).await;
                continue;
            }
            break self.accepted(v, &format!("a query of job {job_id}"))?;
        };
        let row = v
            .pointer("/data/0")
            .context("FATE Flow reported no row for the job")?;
        let status = row
            .get("f_status")
            .or_else(|| row.get("status"))
            .and_then(Value::as_str)
            .context("FATE Flow's job row has no status")?;
        let progress = row
            .get("f_progress")
            .or_else(|| row.get("progress"))
            .and_then(Value::as_u64);
        Ok(JobRow {
            status: status.to_string(),
            progress,
        })
    }

    /// The guest's view of the job's status (lowercase, e.g. `running`, `success`).
    pub async fn status(&self, job_id: &str, guest: u32) -> Result<String> {
        Ok(self.job(job_id, Some(("guest", guest))).await?.status)
    }

    /// The tasks running now (their names), as the guest sees them.
    pub async fn running_tasks(&self, job_id: &str, guest: u32) -> Result<Vec<String>> {
        let v = match self.api {
            Api::V1 => {
                let body = json!({"job_id": job_id, "role": "guest", "party_id": guest, "status": "running"});
                self.call(Method::POST, "/v1/job/task/query", Some(&body)).await?
            }
            Api::V2 => {
                self.call(
                    Method::GET,
                    &format!("/v2/job/task/query?job_id={job_id}&role=guest&party_id={guest}&status=running"),
                    None,
                )
                .await?
            }
        };
        // No task running (between two) is an empty answer, or a "no found task" code.
        Ok(v["data"]
            .as_array()
            .map(|tasks| {
                tasks
                    .iter()
                    .filter_map(|t| {
                        t.get("f_component_name")
                            .or_else(|| t.get("task_name"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Why a job failed, from its tasks (v2 `error_report`; v1 keeps it in logs only).
    pub async fn failure_detail(&self, job_id: &str) -> Option<String> {
        if self.api != Api::V2 {
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
        let mut reports: Vec<String> = Vec::new();
        // One row per role and party: the same report once.
        for t in v["data"].as_array()? {
            let Some(report) = t
                .get("error_report")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            else {
                continue;
            };
            let name = t.get("task_name").and_then(Value::as_str).unwrap_or("task");
            let line = format!("{name}: {report}");
            if !reports.contains(&line) {
                reports.push(line);
            }
        }
        (!reports.is_empty()).then(|| reports.join("; "))
    }

    /// Polls the job (as `party` sees it) until it is final or `timeout` passes; `progress`
    /// hears every row, with the tasks running then when `tasks` asks for them (as the party
    /// sees them). A job still going at the end comes back with status `timeout`.
    pub async fn follow(
        &self,
        job_id: &str,
        party: Option<(&str, u32)>,
        timeout: Duration,
        tasks: bool,
        mut progress: impl FnMut(&JobRow, &[String]),
    ) -> Result<JobRow> {
        let started = Instant::now();
        loop {
            let row = self.job(job_id, party).await?;
            let running = match party {
                Some((_, id)) if tasks && !row.terminal() => {
                    self.running_tasks(job_id, id).await.unwrap_or_default()
                }
                _ => Vec::new(),
            };
            progress(&row, &running);
            if row.terminal() {
                return Ok(row);
            }
            if started.elapsed() >= timeout {
                return Ok(JobRow {
                    status: "timeout".into(),
                    progress: row.progress,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Why a job that ended `status` did not succeed, in FATE's words where it has them.
    pub async fn why(&self, job_id: &str, status: &str, timeout: Duration) -> String {
        if status == "timeout" {
            return format!(
                "still running after {}",
                humantime::format_duration(timeout)
            );
        }
        match self.failure_detail(job_id).await {
            Some(d) => d,
            None => format!(
                "the job ended {status}; FATE Board and the fate_flow logs have the details"
            ),
        }
    }

    /// The FATE release this FATE Flow runs jobs with (FATE 2.x: the version of its `fate`
    /// provider, the newest when several are registered); `None` when it does not say.
    /// FATE Flow 2.x answers its own server query with code 0: it is up and its database works.
    pub async fn server_answers(&self) -> Result<()> {
        let v = self.call(Method::GET, "/v2/server/fateflow", None).await?;
        self.accepted(v, "a query of its server").map(|_| ())
    }

    /// The party a FATE Flow 2.x serves, as it says (`/v2/site/info/query`); a standalone
    /// server (one that plays every party) refuses with code 3000.
    pub async fn site_party(&self) -> Result<String> {
        let v = self.call(Method::GET, "/v2/site/info/query", None).await?;
        let v = self.accepted(v, "a query of its site")?;
        match v.pointer("/data/party_id") {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => bail!("FATE Flow {} named no party in its site info", self.named),
        }
    }

    pub async fn fate_version(&self) -> Result<Option<jobs::FateVersion>> {
        if self.api == Api::V1 {
            return Ok(None);
        }
        let v = self
            .call(Method::GET, "/v2/provider/query?name=fate", None)
            .await?;
        let v = self.accepted(v, "a query of its providers")?;
        Ok(v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == "fate")
            .filter_map(|p| jobs::FateVersion::parse(p["version"].as_str()?))
            .max())
    }

    /// How many rows the table holds here; `None` when it does not exist.
    pub async fn table_rows(&self, namespace: &str, name: &str) -> Result<Option<u64>> {
        let v = match self.api {
            Api::V1 => {
                let body = serde_json::to_value(v1::TableQuery {
                    name: name.into(),
                    namespace: namespace.into(),
                })?;
                let v = self
                    .call(Method::POST, "/v1/table/table_info", Some(&body))
                    .await?;
                let v = self.accepted(v, "a table query")?;
                if v.pointer("/data/exist").and_then(Value::as_i64) != Some(1) {
                    return Ok(None);
                }
                v
            }
            Api::V2 => {
                let v = self
                    .call(
                        Method::GET,
                        &format!("/v2/table/query?namespace={namespace}&name={name}"),
                        None,
                    )
                    .await?;
                // "No found table" is an answer, not a failure.
                if self.envelope(&v).0 != 0 {
                    return Ok(None);
                }
                v
            }
        };
        Ok(v.pointer("/data/count").and_then(Value::as_u64))
    }

    /// Uploads a table (its CSV, `bytes`) and follows the upload job to its end.
    pub async fn upload(
        &self,
        table: &TableSpec,
        bytes: &[u8],
        namespace: &str,
        partitions: u32,
        timeout: Duration,
    ) -> Result<String> {
        let (path, form) = match self.api {
            Api::V1 => (
                format!(
                    "/v1/data/upload?{}",
                    v1::UploadConf::of(table, namespace, partitions).query()
                ),
                super::transport::multipart::Form::new(),
            ),
            Api::V2 => {
                let mut form = super::transport::multipart::Form::new();
                for (k, v) in v2::upload_fields(table, namespace, partitions) {
                    form = form.text(k, v);
                }
                ("/v2/data/component/upload/file".to_string(), form)
            }
        };
        let form = form.file("file", &table.file, "text/csv", bytes);
        let v = self
            .call_raw(Method::POST, &path, Some(form.encode()))
            .await?;
        let what = format!("the upload of {namespace}.{}", table.name);
        let job_id = Self::job_id_of(&self.accepted(v, &what)?)?;
        let row = self
            .follow(&job_id, None, timeout, false, |_, _| {})
            .await?;
        if row.status != "success" {
            bail!(
                "{what} (job {job_id}) ended {}: {}",
                row.status,
                self.why(&job_id, &row.status, timeout).await
            );
        }
        Ok(job_id)
    }
}
