//! A fake FATE Flow, written from shared/reference/kubefate.md §5 (FATE 1.6, v1 API) and
//! fateflow-real.md (FATE Flow 2.2, v2 API; its "Training job" and "FATE 1.6 equivalents"):
//! submit, query, task query, table upload and query, metrics, their envelopes, status strings,
//! and the failure modes fatelab must explain. A job advances one status per query (waiting →
//! running → success; a training job task by task), so tests need no clock. A training job
//! fails, as the real one does, when the guest's table is not there, and (v2) at the first task
//! whose inputs its FATE release's components do not have: a task reading an output its
//! producer does not make, or a component missing a required input (see [`components`]).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::fake_serving::FakeServing;

/// Where a FATE Flow sends model loads and binds: its service_conf.yaml `servings`, read when
/// asked (KubeFATE renders it from the cluster's servingIp/servingPort).
pub type Servings = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The loss per iteration every training job reports.
pub const LOSS: [f64; 5] = [0.6928, 0.4102, 0.2987, 0.2311, 0.1903];

/// The ROC every evaluation reports: false and true positive rates at each cut of the scores.
pub fn curve() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let fpr = vec![0.0, 0.01, 0.03, 0.08, 0.2, 1.0];
    let tpr = vec![0.0, 0.6, 0.85, 0.95, 0.99, 1.0];
    let cuts = vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
    (fpr, tpr, cuts)
}

#[derive(Clone, Debug, PartialEq)]
pub enum Behaviour {
    Succeed,
    /// Submit is refused as when the parties' rollsites cannot reach each other.
    RollsiteUnreachable,
    /// The job is accepted and then runs forever.
    NeverFinish,
    /// The job fails; its task reports this error.
    Fail(String),
}

/// One job: how far it went, its statuses, and (training) the task running at each step.
#[derive(Clone)]
struct Job {
    n: u32,
    statuses: Vec<String>,
    tasks: Vec<Option<String>>,
    /// The model task whose evaluation gives the metrics (training jobs).
    model: Option<String>,
    /// Why it fails, when it does.
    error: Option<(String, String)>,
    /// A v1 training job's runtime conf, as submitted.
    conf: Value,
}

struct State {
    behaviour: Behaviour,
    jobs: BTreeMap<String, Job>,
    /// The next job queries refused as a busy SQLite database refuses them.
    busy_queries: u32,
    submitted: Vec<Value>,
    /// (namespace, name) → rows, for tables uploaded here.
    tables: BTreeMap<(String, String), u64>,
    /// The same tables' CSV text.
    csv: BTreeMap<(String, String), String>,
    /// Which party this server is (set once serving is attached).
    party: u32,
    /// FATE-Serving beside this party, and the servings address this FATE Flow was configured
    /// with (service_conf.yaml `servings`).
    serving: Option<(FakeServing, Servings)>,
    /// Deployed model versions (`/v1/model/deploy`'s child versions) → the trained job.
    deployed: BTreeMap<String, String>,
    uploads: Vec<(String, String)>,
    auc: f64,
    most_at_once: usize,
    next: u64,
    /// The FATE release the server runs (its `fate` provider).
    fate: (u32, u32),
    /// Whether that provider is registered (FATE Flow registers it at start and logs, not
    /// fails, when it cannot).
    fate_registered: bool,
    /// The other parties' servers: a job submitted here is theirs too (FATE Flow schedules it
    /// on every party), so their roles' records can be queried there.
    peers: Vec<Arc<Mutex<State>>>,
}

#[derive(Clone)]
pub struct FakeFateFlow {
    state: Arc<Mutex<State>>,
    pub url: String,
}

pub(super) fn reply(v: Value) -> Response<Full<Bytes>> {
    // FATE Flow (and FATE-Serving's proxy) answers HTTP 200 with the outcome in the envelope.
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())))
        .unwrap()
}

impl FakeFateFlow {
    pub async fn start(behaviour: Behaviour) -> FakeFateFlow {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeFateFlow {
            state: Arc::new(Mutex::new(State {
                behaviour,
                jobs: BTreeMap::new(),
                busy_queries: 0,
                submitted: Vec::new(),
                tables: BTreeMap::new(),
                csv: BTreeMap::new(),
                party: 0,
                serving: None,
                deployed: BTreeMap::new(),
                uploads: Vec::new(),
                // What the real FATE Flow 2.2 measured for the lr job (fateflow-real.md).
                auc: 0.99236,
                most_at_once: 0,
                next: 0,
                // KubeFATE v2.0.0's FATE Flow image runs FATE 2.0.0.
                fate: (2, 0),
                fate_registered: true,
                peers: Vec::new(),
            })),
            url: format!("http://{}", listener.local_addr().unwrap()),
        };
        super::serve(listener, fake.clone(), |f: FakeFateFlow, req| {
            Box::pin(async move { f.handle(req).await })
        });
        fake
    }

    pub fn submitted(&self) -> Vec<Value> {
        self.state.lock().unwrap().submitted.clone()
    }

    /// The next `n` job queries answer as FATE Flow 2.2 does when its SQLite database is
    /// locked by a writer (code 6000, `BusyError('database is locked')`).
    pub fn busy_queries(&self, n: u32) {
        self.state.lock().unwrap().busy_queries = n;
    }

    /// The IDs of the jobs submitted here.
    pub fn submitted_ids(&self) -> Vec<String> {
        self.state.lock().unwrap().jobs.keys().cloned().collect()
    }

    /// Tables uploaded, (namespace, name), in order.
    pub fn uploads(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().uploads.clone()
    }

    /// The most jobs that were under way here at once (submitted, not yet seen to end).
    pub fn most_at_once(&self) -> usize {
        self.state.lock().unwrap().most_at_once
    }

    /// The FATE release this server runs jobs with, as its provider query reports it.
    pub fn set_fate(&self, major: u32, minor: u32) {
        self.state.lock().unwrap().fate = (major, minor);
    }

    /// Whether the `fate` provider is registered, so the provider query names it.
    pub fn register_fate_provider(&self, registered: bool) {
        self.state.lock().unwrap().fate_registered = registered;
    }

    /// The AUC the next training job's evaluation reports.
    pub fn set_auc(&self, auc: f64) {
        self.state.lock().unwrap().auc = auc;
    }

    fn sequence(b: &Behaviour) -> Vec<String> {
        let s: &[&str] = match b {
            Behaviour::Succeed => &["waiting", "running", "running", "success"],
            Behaviour::NeverFinish => &["waiting", "running"],
            Behaviour::Fail(_) => &["waiting", "running", "failed"],
            Behaviour::RollsiteUnreachable => &[],
        };
        s.iter().map(|x| x.to_string()).collect()
    }

    /// The job's status (and progress) on this query: each query moves one step along.
    fn advance(&self, id: &str) -> Option<(String, u32)> {
        let mut s = self.state.lock().unwrap();
        let job = s.jobs.get_mut(id)?;
        let i = (job.n as usize).min(job.statuses.len() - 1);
        job.n += 1;
        let status = job.statuses[i].clone();
        let steps = job.statuses.len();
        let progress = if status == "success" {
            100
        } else {
            (100 * i.saturating_sub(1) / steps.max(2).saturating_sub(1)) as u32
        };
        // Under way: seen by a query, not yet seen at its last status.
        let under_way = s
            .jobs
            .values()
            .filter(|j| j.n > 0 && (j.n as usize) < j.statuses.len())
            .count();
        s.most_at_once = s.most_at_once.max(under_way);
        Some((status, progress))
    }

    /// The task running at the job's current step.
    fn running(&self, id: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        let job = s.jobs.get(id)?;
        let i = (job.n as usize)
            .saturating_sub(1)
            .min(job.tasks.len().saturating_sub(1));
        job.tasks.get(i).cloned().flatten()
    }

    fn upload(&self, namespace: &str, name: &str, csv: &str) -> String {
        let rows = csv
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
            .saturating_sub(1) as u64;
        let mut s = self.state.lock().unwrap();
        s.tables
            .insert((namespace.to_string(), name.to_string()), rows);
        s.csv
            .insert((namespace.to_string(), name.to_string()), csv.to_string());
        s.uploads.push((namespace.to_string(), name.to_string()));
        drop(s);
        self.add_job(Job {
            n: 0,
            statuses: ["waiting", "running", "success"].map(String::from).to_vec(),
            tasks: vec![None, Some("upload_0".into()), None],
            model: None,
            error: None,
            conf: Value::Null,
        })
    }

    /// A training job of `model`, reading `table` for the guest: it runs task by task, or fails
    /// at the reader when the table is not here, at the task `wrong` names (its error), or as
    /// the behaviour says.
    fn train(
        &self,
        model: &str,
        table: (String, String),
        wrong: Option<(String, String)>,
        behaviour: &Behaviour,
        conf: Value,
    ) -> String {
        let present = self.state.lock().unwrap().tables.contains_key(&table);
        let error = match behaviour {
            Behaviour::Fail(e) => Some(("reader_0".to_string(), e.clone())),
            _ if !present => Some((
                "reader_0".to_string(),
                format!("No found table: namespace[{}], name[{}]", table.0, table.1),
            )),
            _ => wrong,
        };
        let order = ["reader_0", "psi_0", model, "evaluation_0"];
        let (statuses, tasks): (Vec<&str>, Vec<Option<&str>>) = if let Some((task, _)) = &error {
            let reached = order.iter().position(|t| t == task).unwrap_or(0) + 1;
            let mut statuses = vec!["waiting"];
            statuses.extend(std::iter::repeat_n("running", reached));
            statuses.push("failed");
            let mut tasks = vec![None];
            tasks.extend(order[..reached].iter().map(|t| Some(*t)));
            tasks.push(None);
            (statuses, tasks)
        } else if *behaviour == Behaviour::NeverFinish {
            (vec!["waiting", "running"], vec![None, Some("reader_0")])
        } else {
            (
                vec![
                    "waiting", "running", "running", "running", "running", "success",
                ],
                vec![
                    None,
                    Some("reader_0"),
                    Some("psi_0"),
                    Some(model),
                    Some("evaluation_0"),
                    None,
                ],
            )
        };
        self.add_job(Job {
            n: 0,
            statuses: statuses.into_iter().map(String::from).collect(),
            tasks: tasks.into_iter().map(|t| t.map(String::from)).collect(),
            model: Some(model.to_string()),
            error,
            conf,
        })
    }

    /// Adds a job under the next ID; `{job_id}` in its error becomes that ID.
    fn add_job(&self, mut job: Job) -> String {
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        // Unique among every fake of the test: federated servers share their jobs.
        let n = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let id = format!("2026112812{:011}", n);
        if let Some((_, e)) = &mut job.error {
            *e = e.replace("{job_id}", &id);
        }
        if job.model.is_some() {
            for peer in &s.peers {
                peer.lock().unwrap().jobs.insert(id.clone(), job.clone());
            }
        }
        s.jobs.insert(id.clone(), job);
        id
    }

    /// Two federated parties, 9999 the guest and 10000 the other, each behind its party's
    /// fateflow-client Service on `kube`.
    pub async fn two_parties(kube: &super::fake_kube::FakeKube) -> (FakeFateFlow, FakeFateFlow) {
        let guest = FakeFateFlow::start(Behaviour::Succeed).await;
        let other = FakeFateFlow::start(Behaviour::Succeed).await;
        guest.federate_with(&other);
        kube.route_service("fate-9999", "fateflow-client", 9380, &guest.url);
        kube.route_service("fate-10000", "fateflow-client", 9380, &other.url);
        (guest, other)
    }

    /// Jobs submitted here are `other`'s too, as a federation's are.
    pub fn federate_with(&self, other: &FakeFateFlow) {
        self.state.lock().unwrap().peers.push(other.state.clone());
    }

    fn job_model(&self, id: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .jobs
            .get(id)
            .and_then(|j| j.model.clone())
    }

    fn job_error(&self, id: &str) -> Option<(String, String)> {
        self.state
            .lock()
            .unwrap()
            .jobs
            .get(id)
            .and_then(|j| j.error.clone())
    }

    fn take_busy(&self) -> bool {
        let mut s = self.state.lock().unwrap();
        let busy = s.busy_queries > 0;
        s.busy_queries = s.busy_queries.saturating_sub(1);
        busy
    }

    /// A submitted job's log directory, packed as FATE Flow packs it.
    fn log_archive(&self, id: &str) -> Option<Vec<u8>> {
        if !self.state.lock().unwrap().jobs.contains_key(id) {
            return None;
        }
        let text = format!("[INFO] job {id} scheduled on this party\n");
        Some(super::lab::tgz(&[(
            "fate_flow_schedule.log",
            text.as_bytes(),
            0o644,
        )]))
    }

    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query: BTreeMap<String, String> = req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let raw = req.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        let behaviour = self.state.lock().unwrap().behaviour.clone();
        let q = |k: &str| query.get(k).cloned().unwrap_or_default();
        match (method, path.as_str()) {
            (Method::POST, "/v1/job/submit") => {
                let work_mode = body
                    .pointer("/job_runtime_conf/job_parameters/work_mode")
                    .or_else(|| body.pointer("/job_runtime_conf/job_parameters/common/work_mode"))
                    .and_then(Value::as_i64);
                if !matches!(work_mode, Some(0 | 1)) {
                    return reply(
                        json!({"retcode": 100, "retmsg": "work_mode must be 0 (standalone) or 1 (cluster)"}),
                    );
                }
                self.state.lock().unwrap().submitted.push(body.clone());
                if behaviour == Behaviour::RollsiteUnreachable {
                    return reply(
                        json!({"retcode": 103, "retmsg": "create job failed: Federated schedule error, Please check rollSite and fateflow network connectivity: [Roll Site Error TransInfo] UNAVAILABLE"}),
                    );
                }
                let components = body
                    .pointer("/job_dsl/components")
                    .and_then(Value::as_object);
                let model = components.and_then(|c| {
                    c.iter()
                        .find(|(_, v)| {
                            matches!(v["module"].as_str(), Some("HeteroLR" | "HeteroSecureBoost"))
                        })
                        .map(|(k, _)| k.clone())
                });
                let id = match model {
                    Some(model) => {
                        let t = body.pointer(
                            "/job_runtime_conf/component_parameters/role/guest/0/reader_0/table",
                        );
                        let table = t.map_or_else(Default::default, |t| {
                            (
                                t["namespace"].as_str().unwrap_or("").to_string(),
                                t["name"].as_str().unwrap_or("").to_string(),
                            )
                        });
                        self.train(
                            &model,
                            table,
                            None,
                            &behaviour,
                            body["job_runtime_conf"].clone(),
                        )
                    }
                    None => self.new_job(&behaviour),
                };
                let model_info = self
                    .conf_on_party(&id)
                    .map(|c| c["job_parameters"].clone())
                    .unwrap_or(Value::Null);
                reply(
                    json!({"retcode": 0, "retmsg": "success", "jobId": id, "data": {"job_id": id,
                        "model_info": {"model_id": model_info["model_id"], "model_version": model_info["model_version"]},
                        "board_url": "http://fateboard:8080/index.html#/dashboard?job_id=x"}}),
                )
            }
            (Method::POST, "/v1/job/query") => {
                let id = body["job_id"].as_str().unwrap_or_default().to_string();
                match self.advance(&id) {
                    Some((st, progress)) => {
                        let mut row = json!({"f_job_id": id, "f_status": st, "f_progress": progress, "f_role": body["role"], "f_party_id": body["party_id"]});
                        if let Some(on_party) = self.conf_on_party(&id) {
                            row["f_roles"] = on_party["role"].clone();
                            row["f_runtime_conf_on_party"] = on_party;
                        }
                        reply(json!({"retcode": 0, "retmsg": "success", "data": [row]}))
                    }
                    None => {
                        reply(json!({"retcode": 0, "retmsg": "no job could be found", "data": []}))
                    }
                }
            }
            (Method::POST, "/v1/job/task/query") if body.get("status").is_none() => {
                let id = body["job_id"].as_str().unwrap_or_default();
                let tasks: Vec<Value> = self
                    .task_times(id)
                    .into_iter()
                    .map(|(name, start, end)| {
                        json!({"f_job_id": id, "f_component_name": name,
                        "f_status": "success", "f_start_time": start, "f_end_time": end})
                    })
                    .collect();
                reply(json!({"retcode": 0, "retmsg": "success", "data": tasks}))
            }
            (Method::POST, "/v1/job/task/query") => {
                let id = body["job_id"].as_str().unwrap_or_default();
                let tasks: Vec<Value> = self
                    .running(id)
                    .map(|t| json!({"f_job_id": id, "f_component_name": t, "f_status": "running"}))
                    .into_iter()
                    .collect();
                reply(json!({"retcode": 0, "retmsg": "success", "data": tasks}))
            }
            // FATE@v1.6.0 job_app.py `job_log`: the job's log directory as a .tar.gz, or 210.
            (Method::GET, "/v1/job/log") => {
                let id = body["job_id"].as_str().unwrap_or_default().to_string();
                match self.log_archive(&id) {
                    Some(bytes) => gzip_reply(bytes),
                    None => reply(json!({"retcode": 210, "retmsg": format!(
                        "Log file path: /data/projects/fate/logs/{id} not found. Please check if the job id is valid.")})),
                }
            }
            (Method::POST, "/v1/data/upload") => {
                if !content_type.starts_with("multipart/form-data") {
                    return reply(
                        json!({"retcode": 100, "retmsg": "400 Bad Request: KeyError: 'file'"}),
                    );
                }
                for k in ["work_mode", "namespace", "table_name", "head", "partition"] {
                    if !query.contains_key(k) {
                        return reply(
                            json!({"retcode": 100, "retmsg": format!("required parameters are missing: {k}")}),
                        );
                    }
                }
                let id = self.upload(
                    &q("namespace"),
                    &q("table_name"),
                    &file_part(&content_type, &raw),
                );
                reply(json!({"retcode": 0, "retmsg": "success", "jobId": id,
                    "data": {"table_name": q("table_name"), "namespace": q("namespace")}}))
            }
            (Method::POST, "/v1/table/table_info") => {
                let key = (
                    body["namespace"].as_str().unwrap_or_default().to_string(),
                    body["name"].as_str().unwrap_or_default().to_string(),
                );
                let rows = self.state.lock().unwrap().tables.get(&key).copied();
                reply(json!({"retcode": 0, "retmsg": "success", "data": {
                    "table_name": key.1, "namespace": key.0, "exist": i32::from(rows.is_some()),
                    "count": rows.unwrap_or(0), "partition": rows.map(|_| 4), "schema": null}}))
            }
            (Method::POST, "/v1/tracking/component/metric/all") => {
                let id = body["job_id"].as_str().unwrap_or_default();
                let auc = self.state.lock().unwrap().auc;
                // FATE@v1.6.0 evaluation.py: the summary under the model's name, the ROC as
                // [fpr, tpr] points under `<model>_roc`, KS as [cut, rate] under `_ks_fpr`/`_ks_tpr`;
                // HeteroLR's loss per iteration under `loss` (its callback's metric).
                let pairs = |xs: &[f64], ys: &[f64]| -> Vec<Value> {
                    xs.iter().zip(ys).map(|(x, y)| json!([x, y])).collect()
                };
                let (fpr, tpr, cuts) = curve();
                match self.job_model(id) {
                    Some(model) if body["component_name"] == "evaluation_0" => reply(json!({
                        "retcode": 0, "retmsg": "success",
                        "data": {"train": {
                            model.clone(): {"data": [["auc", auc], ["ks", 0.92762]], "meta": {"metric_type": "EVALUATION_SUMMARY"}},
                            format!("{model}_roc"): {"data": pairs(&fpr, &tpr), "meta": {"metric_type": "ROC_EVALUATION"}},
                            format!("{model}_ks_fpr"): {"data": pairs(&cuts, &fpr), "meta": {"metric_type": "KS_EVALUATION"}},
                            format!("{model}_ks_tpr"): {"data": pairs(&cuts, &tpr), "meta": {"metric_type": "KS_EVALUATION"}}}}})),
                    Some(model) if body["component_name"] == model && body["role"] == "guest" => {
                        let loss: Vec<Value> = LOSS
                            .iter()
                            .enumerate()
                            .map(|(i, l)| json!([i, l]))
                            .collect();
                        reply(json!({"retcode": 0, "retmsg": "success",
                            "data": {"train": {"loss": {"data": loss, "meta": {"metric_type": "LOSS"}}}}}))
                    }
                    _ => reply(json!({"retcode": 0, "retmsg": "no data", "data": {}})),
                }
            }
            (Method::POST, "/v1/tracking/component/output/data") => self.output_data(&body),
            (Method::POST, "/v1/model/deploy") => self.deploy(&body),
            (Method::POST, "/v1/model/load") => self.load(&body),
            (Method::POST, "/v1/model/bind") => self.bind(&body),
            (Method::POST, "/v2/job/submit") => {
                if body.get("dag_schema").is_none() {
                    return reply(
                        json!({"code": 5001, "data": {"json": {"dag_schema": ["Missing data for required field."]}}, "message": "Invalid request."}),
                    );
                }
                if body.pointer("/dag_schema/schema_version").is_none() {
                    return reply(
                        json!({"code": 6000, "message": "ValidationError(model='DAGSchema', errors=[{'loc': ('schema_version',), 'msg': 'field required', 'type': 'value_error.missing'}])"}),
                    );
                }
                self.state.lock().unwrap().submitted.push(body.clone());
                if behaviour == Behaviour::RollsiteUnreachable {
                    return reply(
                        json!({"code": 103, "message": "create job failed: federation error UNAVAILABLE"}),
                    );
                }
                let tasks = body
                    .pointer("/dag_schema/dag/tasks")
                    .and_then(Value::as_object);
                let model = tasks.and_then(|t| {
                    t.iter()
                        .find(|(_, v)| {
                            matches!(
                                v["component_ref"].as_str(),
                                Some("coordinated_lr" | "hetero_secureboost")
                            )
                        })
                        .map(|(k, _)| k.clone())
                });
                let id = match model {
                    Some(model) => {
                        let guest = body
                            .pointer("/dag_schema/dag/party_tasks")
                            .and_then(Value::as_object)
                            .and_then(|pt| {
                                pt.iter()
                                    .find(|(k, _)| k.starts_with("guest_"))
                                    .map(|(_, v)| v.clone())
                            });
                        let p = guest
                            .as_ref()
                            .and_then(|g| g.pointer("/tasks/reader_0/parameters"));
                        let table = p.map_or_else(Default::default, |p| {
                            (
                                p["namespace"].as_str().unwrap_or("").to_string(),
                                p["name"].as_str().unwrap_or("").to_string(),
                            )
                        });
                        let fate = self.state.lock().unwrap().fate;
                        let wrong = first_wrong_input(fate, &body);
                        self.train(&model, table, wrong, &behaviour, Value::Null)
                    }
                    None => self.new_job(&behaviour),
                };
                reply(
                    json!({"code": 0, "data": {"model_id": id, "model_version": "0"}, "job_id": id, "message": "success"}),
                )
            }
            (Method::GET, "/v2/job/query") if self.take_busy() => {
                reply(json!({"code": 6000, "message": "BusyError('database is locked')"}))
            }
            (Method::GET, "/v2/job/query") => {
                let id = q("job_id");
                let party = q("party_id");
                match self.advance(&id) {
                    Some((st, progress)) => reply(
                        json!({"code": 0, "data": [{"job_id": id, "status": st, "party_id": party, "role": query.get("role").map_or("guest", String::as_str), "progress": progress}], "message": "success"}),
                    ),
                    None => reply(
                        json!({"code": 1001, "message": format!("No found job: job_id[{id}],party_id[{party}]")}),
                    ),
                }
            }
            (Method::GET, "/v2/job/task/query") => {
                let id = q("job_id");
                if query.get("status").map(String::as_str) == Some("running") {
                    let tasks: Vec<Value> = self
                        .running(&id)
                        .map(|t| json!({"task_name": t, "status": "running", "error_report": null}))
                        .into_iter()
                        .collect();
                    return reply(json!({"code": 0, "data": tasks, "message": "success"}));
                }
                if self.job_model(&id).is_some() && self.job_error(&id).is_none() {
                    let tasks: Vec<Value> = self
                        .task_times(&id)
                        .into_iter()
                        .map(|(name, start, end)| json!({"job_id": id, "task_name": name, "role": "guest",
                            "party_id": query.get("party_id"), "status": "success", "error_report": null,
                            "start_time": start, "end_time": end, "elapsed": end - start}))
                        .collect();
                    return reply(json!({"code": 0, "data": tasks, "message": "success"}));
                }
                let (task, report) = match (&behaviour, self.job_error(&id)) {
                    (_, Some((task, e))) => (task, json!(e)),
                    (Behaviour::Fail(e), None) => ("toy_example_0".to_string(), json!(e)),
                    _ => ("toy_example_0".to_string(), Value::Null),
                };
                reply(
                    json!({"code": 0, "data": [{"task_name": task, "status": "failed", "error_report": report}], "message": "success"}),
                )
            }
            // FATE-Flow@v2.2.0 job_app.py `download_job_logs`: a .tar.gz, or FileNoFound (8001).
            (Method::POST, "/v2/job/log/download") => {
                let id = body["job_id"].as_str().unwrap_or_default().to_string();
                match self.log_archive(&id) {
                    Some(bytes) => gzip_reply(bytes),
                    None => reply(json!({"code": 8001, "message": "No found file or dir"})),
                }
            }
            (Method::POST, "/v2/data/component/upload/file") => {
                let fields = form_fields(&content_type, &raw);
                let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
                for k in ["head", "partitions", "namespace", "name", "meta"] {
                    if !fields.contains_key(k) {
                        return reply(
                            json!({"code": 5001, "data": {"form": {k: ["Missing data for required field."]}}, "message": "Invalid request."}),
                        );
                    }
                }
                if serde_json::from_str::<Value>(&field("meta")).is_err() {
                    return reply(json!({"code": 5001, "message": "meta is not JSON"}));
                }
                let id = self.upload(
                    &field("namespace"),
                    &field("name"),
                    &file_part(&content_type, &raw),
                );
                reply(
                    json!({"code": 0, "data": {"name": field("name"), "namespace": field("namespace")}, "job_id": id, "message": "success"}),
                )
            }
            (Method::GET, "/v2/provider/query") => {
                // FATE-Flow@v2.2.0 apps/client/provider_app.py; the answer of a real FATE Flow
                // 2.2.0 (pip): `?name=fate` gives the default provider, `fate:<FATE>@local`;
                // no filter at all gives an empty list.
                let ((major, minor), registered) = {
                    let s = self.state.lock().unwrap();
                    (s.fate, s.fate_registered)
                };
                let version = format!("{major}.{minor}.0");
                let fate = json!({"create_time": 1796306787573u64, "device": "local",
                    "metadata": {"path": "", "venv": "/data/projects/python/venv/bin/python"},
                    "name": "fate", "provider_name": format!("fate:{version}@local"),
                    "update_time": 1796306787573u64, "version": version});
                let data: Vec<Value> = match query.get("name").map(String::as_str) {
                    Some("fate") if registered => vec![fate],
                    _ => vec![],
                };
                reply(json!({"code": 0, "message": "success", "data": data}))
            }
            (Method::GET, "/v2/table/query") => {
                let key = (q("namespace"), q("name"));
                match self.state.lock().unwrap().tables.get(&key) {
                    Some(rows) => reply(json!({"code": 0, "message": "success", "data": {
                        "namespace": key.0, "name": key.1, "count": rows, "engine": "standalone", "data_type": "table"}})),
                    None => reply(json!({"code": 7001, "message": "No found table"})),
                }
            }
            (Method::GET, "/v2/output/metric/query") => {
                let id = q("job_id");
                let auc = self.state.lock().unwrap().auc;
                // FATE@v2.2.0: the evaluation's `ks_table` is a DataFrame `to_dict(orient="list")`
                // (ml/evaluation/classification.py KS); a loss is a step metric, points
                // `{metric, step, timestamp}` (arch/context/_metrics.py), logged by the arbiter
                // for coordinated LR and by the guest for SecureBoost.
                let (fpr, tpr, cuts) = curve();
                let thresholds: Vec<f64> = cuts.iter().map(|c| 1.0 - c).collect();
                let role = q("role");
                match self.job_model(&id) {
                    Some(model) if q("task_name") == "evaluation_0" => reply(json!({
                        "code": 0, "message": "success",
                        "data": [{"data": {model: {"train_set": [
                            {"metric": "auc", "val": auc},
                            [{"metric": "ks", "val": 0.92762}, {"metric": "ks_table", "val":
                                {"tpr": tpr, "fpr": fpr, "threshold": thresholds, "cuts": cuts}}]
                        ]}}, "groups": [], "name": "binary", "step_axis": null, "type": "binary_classification"}]})),
                    Some(model) if q("task_name") == model => {
                        let (name, logger) = if model.starts_with("lr") {
                            ("lr_loss", "arbiter")
                        } else {
                            ("sbt_loss", "guest")
                        };
                        let data: Vec<Value> = if role == logger {
                            let points: Vec<Value> = LOSS.iter().enumerate()
                                .map(|(i, l)| json!({"metric": l, "step": i, "timestamp": 1796306787.5 + i as f64}))
                                .collect();
                            vec![
                                json!({"name": name, "type": "loss", "step_axis": "iterations",
                                "groups": [{"name": "default", "index": null}, {"name": "train", "index": null}],
                                "data": points}),
                            ]
                        } else {
                            vec![]
                        };
                        reply(json!({"code": 0, "message": "success", "data": data}))
                    }
                    _ => reply(json!({"code": 2000, "message": "No found task"})),
                }
            }
            (m, p) => reply(
                json!({"code": 6000, "retcode": 100, "message": format!("<NotFound '404: Not Found'> {m} {p}")}),
            ),
        }
    }

    /// A finished training job's tasks with their times (epoch ms), in order.
    fn task_times(&self, id: &str) -> Vec<(String, i64, i64)> {
        let Some(model) = self.job_model(id) else {
            return vec![];
        };
        let start = 1_796_306_787_000i64;
        ["reader_0", "psi_0", model.as_str(), "evaluation_0"]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let i = i as i64;
                (t.to_string(), start + i * 4_000, start + i * 4_000 + 3_500)
            })
            .collect()
    }

    fn new_job(&self, b: &Behaviour) -> String {
        let statuses = Self::sequence(b);
        let tasks = vec![None; statuses.len()];
        self.add_job(Job {
            n: 0,
            statuses,
            tasks,
            model: None,
            error: None,
            conf: Value::Null,
        })
    }
}

/// What a component reads and writes: its data inputs (each with whether it is required) and
/// its data outputs.
struct Component {
    inputs: Vec<(&'static str, bool)>,
    outputs: Vec<&'static str>,
}

/// A component in a FATE release (FATE@v2.0.0, v2.1.0 and v2.2.0 python/fate/components/
/// components/: FATE 2.1 renamed the evaluation's input and SecureBoost's output).
fn components(fate: (u32, u32), name: &str) -> Option<Component> {
    let since_2_1 = fate >= (2, 1);
    let (inputs, outputs) = match name {
        "reader" => (vec![], vec!["output_data"]),
        "psi" => (vec![("input_data", true)], vec!["output_data"]),
        "coordinated_lr" => (
            vec![("train_data", false), ("validate_data", false)],
            vec!["train_output_data"],
        ),
        "hetero_secureboost" => (
            vec![("train_data", false), ("validate_data", false)],
            vec![if since_2_1 {
                "train_output_data"
            } else {
                "train_data_output"
            }],
        ),
        "evaluation" => (
            vec![(
                if since_2_1 {
                    "input_datas"
                } else {
                    "input_data"
                },
                true,
            )],
            vec![],
        ),
        _ => return None,
    };
    Some(Component { inputs, outputs })
}

/// The first task of a v2 DAG that its FATE release would fail, with FATE's words: an input
/// read from an output its producer does not make (FATE Flow cannot find the artifact, the
/// words of a real FATE Flow 2.2 asked for SecureBoost's `train_data_output`), or a component
/// started without a required input (fate's ComponentExecutionIO._handle_input).
fn first_wrong_input(fate: (u32, u32), body: &Value) -> Option<(String, String)> {
    let tasks = body.pointer("/dag_schema/dag/tasks")?.as_object()?;
    let guest = body
        .pointer("/dag_schema/dag/parties")
        .and_then(Value::as_array)
        .and_then(|p| p.iter().find(|p| p["role"] == "guest"))
        .and_then(|p| p["party_id"][0].as_str())
        .unwrap_or_default()
        .to_string();
    let component = |task: &str| tasks.get(task).and_then(|t| t["component_ref"].as_str());
    // In the order they run: each after what it depends on.
    let mut order: Vec<&String> = Vec::new();
    while order.len() < tasks.len() {
        let before = order.len();
        for (name, t) in tasks {
            let ready = t["dependent_tasks"]
                .as_array()
                .is_none_or(|d| d.iter().all(|d| order.iter().any(|o| d == o.as_str())));
            if ready && !order.contains(&name) {
                order.push(name);
            }
        }
        if order.len() == before {
            break;
        }
    }
    for name in order {
        let task = &tasks[name.as_str()];
        // A component this fake does not know is taken as it comes.
        let Some(inputs) = component(name)
            .and_then(|c| components(fate, c))
            .map(|c| c.inputs)
        else {
            continue;
        };
        let given = task
            .pointer("/inputs/data")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for read in given.values() {
            let read = &read["task_output_artifact"];
            let artifacts: Vec<&Value> = match read.as_array() {
                Some(many) => many.iter().collect(),
                None => vec![read],
            };
            for a in artifacts {
                let producer = a["producer_task"].as_str().unwrap_or_default();
                let key = a["output_artifact_key"].as_str().unwrap_or_default();
                let made = component(producer)
                    .and_then(|c| components(fate, c))
                    .is_some_and(|c| c.outputs.contains(&key));
                if !made {
                    return Some((
                        name.clone(),
                        format!(
                            "Get data artifacts failed: {{'job_id': '{{job_id}}', 'role': 'guest', 'party_id': '{guest}', \
                             'task_name': '{producer}', 'output_key': '{key}'}}, response: {{\"code\":2005,\"message\":\"failed\"}}"
                        ),
                    ));
                }
            }
        }
        if let Some((missing, _)) = inputs
            .iter()
            .find(|(input, required)| *required && !given.contains_key(*input))
        {
            return Some((
                name.clone(),
                format!(
                    "load as input artifact({missing}) error: `{missing}` is not optional but None got"
                ),
            ));
        }
    }
    None
}

/// The parts of a multipart body, split at the boundary its content type names.
fn parts(content_type: &str, raw: &[u8]) -> Vec<String> {
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return Vec::new();
    };
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    String::from_utf8_lossy(raw)
        .split(delimiter.as_str())
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// The text fields of a multipart body, by name.
fn form_fields(content_type: &str, raw: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for part in parts(content_type, raw) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        if head.contains("filename=") {
            continue;
        }
        if let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
        {
            out.insert(name.to_string(), value.trim_end_matches("\r\n").to_string());
        }
    }
    out
}

/// The file part of a multipart body.
fn file_part(content_type: &str, raw: &[u8]) -> String {
    parts(content_type, raw)
        .into_iter()
        .find(|p| p.contains("filename="))
        .and_then(|p| {
            p.split_once("\r\n\r\n")
                .map(|(_, v)| v.trim_end_matches("\r\n").to_string())
        })
        .unwrap_or_default()
}

fn gzip_reply(bytes: Vec<u8>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(200)
        .header("content-type", "application/gzip")
        .body(Full::new(Bytes::from(bytes)))
        .unwrap()
}

#[path = "fake_fateflow_model.rs"]
mod model;
