//! A fake FATE Flow, written from shared/reference/kubefate.md §5 (FATE 1.6, v1 API) and
//! fateflow-real.md (FATE Flow 2.2, v2 API): submit, query, task query, their envelopes,
//! status strings, and the failure modes fatelab must explain. A job advances one status per
//! query (waiting → running → success), so tests need no clock.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

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

struct State {
    behaviour: Behaviour,
    jobs: BTreeMap<String, (u32, Vec<String>)>,
    submitted: Vec<Value>,
    next: u64,
}

#[derive(Clone)]
pub struct FakeFateFlow {
    state: Arc<Mutex<State>>,
    pub url: String,
}

fn reply(v: Value) -> Response<Full<Bytes>> {
    // FATE Flow answers HTTP 200 with the outcome in the envelope.
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
                submitted: Vec::new(),
                next: 0,
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

    fn sequence(b: &Behaviour) -> Vec<String> {
        let s: &[&str] = match b {
            Behaviour::Succeed => &["waiting", "running", "running", "success"],
            Behaviour::NeverFinish => &["waiting", "running"],
            Behaviour::Fail(_) => &["waiting", "running", "failed"],
            Behaviour::RollsiteUnreachable => &[],
        };
        s.iter().map(|x| x.to_string()).collect()
    }

    /// The job's status on this query: each query moves one step along the sequence.
    fn advance(&self, id: &str) -> Option<String> {
        let mut s = self.state.lock().unwrap();
        let (n, seq) = s.jobs.get_mut(id)?;
        let status = seq[(*n as usize).min(seq.len() - 1)].clone();
        *n += 1;
        Some(status)
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
        let body: Value =
            serde_json::from_slice(&req.into_body().collect().await.unwrap().to_bytes())
                .unwrap_or(Value::Null);
        let behaviour = self.state.lock().unwrap().behaviour.clone();
        match (method, path.as_str()) {
            (Method::POST, "/v1/job/submit") => {
                let work_mode = body
                    .pointer("/job_runtime_conf/job_parameters/work_mode")
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
                let id = self.new_job(&behaviour);
                reply(
                    json!({"retcode": 0, "retmsg": "success", "jobId": id, "data": {"job_id": id, "board_url": "http://fateboard:8080/index.html#/dashboard?job_id=x"}}),
                )
            }
            (Method::POST, "/v1/job/query") => {
                let id = body["job_id"].as_str().unwrap_or_default().to_string();
                match self.advance(&id) {
                    Some(st) => reply(
                        json!({"retcode": 0, "retmsg": "success", "data": [{"f_job_id": id, "f_status": st, "f_role": "guest", "f_party_id": body["party_id"]}]}),
                    ),
                    None => {
                        reply(json!({"retcode": 0, "retmsg": "no job could be found", "data": []}))
                    }
                }
            }
            (Method::POST, "/v2/job/submit") => {
                if body.get("dag_schema").is_none() {
                    return reply(
                        json!({"code": 5001, "data": {"json": {"dag_schema": ["Missing data for required field."]}}, "message": "Invalid request."}),
                    );
                }
                self.state.lock().unwrap().submitted.push(body.clone());
                if behaviour == Behaviour::RollsiteUnreachable {
                    return reply(
                        json!({"code": 103, "message": "create job failed: federation error UNAVAILABLE"}),
                    );
                }
                let id = self.new_job(&behaviour);
                reply(
                    json!({"code": 0, "data": {"model_id": id, "model_version": "0"}, "job_id": id, "message": "success"}),
                )
            }
            (Method::GET, "/v2/job/query") => {
                let id = query.get("job_id").cloned().unwrap_or_default();
                let party = query.get("party_id").cloned().unwrap_or_default();
                match self.advance(&id) {
                    Some(st) => reply(
                        json!({"code": 0, "data": [{"job_id": id, "status": st, "party_id": party, "role": "guest", "progress": 0}], "message": "success"}),
                    ),
                    None => reply(
                        json!({"code": 1001, "message": format!("No found job: job_id[{id}],party_id[{party}]")}),
                    ),
                }
            }
            (Method::GET, "/v2/job/task/query") => {
                let report = match &behaviour {
                    Behaviour::Fail(e) => json!(e),
                    _ => Value::Null,
                };
                reply(
                    json!({"code": 0, "data": [{"task_name": "toy_example_0", "status": "failed", "error_report": report}], "message": "success"}),
                )
            }
            (m, p) => reply(
                json!({"code": 6000, "retcode": 100, "message": format!("<NotFound '404: Not Found'> {m} {p}")}),
            ),
        }
    }

    fn new_job(&self, b: &Behaviour) -> String {
        let mut s = self.state.lock().unwrap();
        s.next += 1;
        let id = format!("2026112812000000000{:02}", s.next);
        s.jobs.insert(id.clone(), (0, Self::sequence(b)));
        id
    }
}
