//! A fake KubeFATE service (v1.4.1 behaviour), written from shared/reference/kubefate.md §2:
//! gin's routes with its trailing-slash redirects (301 for GET, 307 otherwise), gin-jwt login
//! with expiry and with every token invalidated by a restart, the JSON shapes and status strings
//! of clusters and jobs, the "Cluster already existed" rule (even with `cover`), chart
//! resolution through an (optionally unreachable) chart repository or `POST /v1/chart`, and
//! install jobs that go Pending → Running → Success once every pod labelled `name=<cluster>` in
//! the fake API server is Running — or Failed, with the cluster removed, when the time limit
//! (one hour in the real service, short here) runs out first.
//!
//! The fake reaches "Kubernetes" as the real service does through client-go: it creates the
//! party's pods in the [`FakeKube`] store and watches them there. Its credentials are read from
//! the `kube-fate/kubefate-secret` Secret, as the real pod gets them through its environment.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::fake_kube::FakeKube;
use super::faults::Fault;

/// What the fake "kubelet" does with the pods an install creates.
#[derive(Clone, Debug, PartialEq)]
pub enum Kubelet {
    /// Pods start Pending and turn Running right after.
    RunEverything,
    /// Pods stay Pending (ContainerCreating) until the test moves them.
    LeavePending,
    /// This pod cannot pull its image; the others run.
    ImagePullFails(String),
    /// This module's first container turns ready, then crashes right after the job succeeds
    /// and stays in CrashLoopBackOff (as a chart without probes lets it).
    CrashAfterReady(String),
    /// This module's pod is never scheduled: the scheduler's condition carries the message
    /// (e.g. `0/1 nodes are available: 1 Insufficient cpu.`); the others run.
    Unschedulable(String, String),
}

struct State {
    /// Signing key generation: a restart makes every older token invalid.
    key_generation: u64,
    tokens: BTreeMap<String, u64>,
    clusters: Vec<Value>,
    jobs: Vec<Value>,
    /// (chart name, version) uploaded or fetched.
    charts: Vec<(String, String)>,
    /// Each uploaded chart: (name, version) and its files' text by path.
    uploaded: Vec<((String, String), BTreeMap<String, String>)>,
    chart_repo_reachable: bool,
    time_limit: Duration,
    kubelet: Kubelet,
    next_id: u64,
    requests: Vec<String>,
    /// Requests answered with gin's trailing-slash redirect, "METHOD path".
    redirected: Vec<String>,
    /// GET routes registered here in the other slash form than the reference's (a build whose
    /// routes differ), so that calls in the reference's form are redirected.
    moved: Vec<String>,
    logins: u32,
    /// Restart (void every token) once, after this many authenticated requests.
    restart_after: Option<u32>,
    authenticated: u32,
    /// The next `helm install` fails with this error (the record is cleaned, as upstream does).
    helm_fails_once: Option<String>,
    /// Clusters whose helm release was installed (it lives in the cluster's namespace).
    releases: std::collections::BTreeSet<String>,
    /// The service version `GET /v1/version/` reports (the image's `ServiceVersion`).
    version: String,
    /// Jobs stay Running (see [`FakeKubeFate::jobs_never_end`]).
    jobs_hang: bool,
}

#[derive(Clone)]
pub struct FakeKubeFate {
    /// Faults the next requests show (see [`super::faults`]).
    pub faults: super::faults::Faults,
    state: Arc<Mutex<State>>,
    kube: FakeKube,
    pub url: String,
}

fn reply(status: StatusCode, v: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(Full::new(Bytes::from(v.to_string())))
        .unwrap()
}

/// The path with its trailing slash taken off, or one put on: the form gin redirects to.
fn other_slash_form(path: &str) -> String {
    if path.ends_with('/') {
        path.trim_end_matches('/').to_string()
    } else {
        format!("{path}/")
    }
}

fn redirect(status: StatusCode, to: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("location", to)
        .header("content-type", "text/html; charset=utf-8")
        .body(Full::new(Bytes::from(format!(
            "<a href=\"{to}\">Moved Permanently</a>.\n\n"
        ))))
        .unwrap()
}

const UNSET_TIME: &str = "0001-01-01T00:00:00Z";

fn now() -> String {
    "2026-11-28T12:00:00Z".to_string()
}

/// The wall-clock time, for the kubelet's container timestamps (fatelab reads their age).
fn k8s_now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// The pods chart fate v1.6.0 runs for one eggroll party (reference §3.2), by module; a v2
/// chart's party runs osx in rollsite's place.
const PARTY_PODS: [(&str, &[&str]); 6] = [
    ("clustermanager", &["clustermanager"]),
    ("mysql", &["mysql"]),
    ("nodemanager-0", &["fluentd", "nodemanager"]),
    ("nodemanager-1", &["fluentd", "nodemanager"]),
    ("python", &["python", "client", "fateboard"]),
    ("rollsite", &["rollsite"]),
];

/// Chart fate-serving v2.0.0's Deployments (KF@v1.6.0 helm-charts/FATE-Serving/templates/
/// serving-{proxy,server,redis}-module.yaml), one container each, labelled `name=<cluster>`.
const SERVING_PODS: [(&str, &[&str]); 3] = [
    ("serving-proxy", &["serving-proxy"]),
    ("serving-redis", &["serving-redis"]),
    ("serving-server", &["serving-server"]),
];

impl FakeKubeFate {
    /// Starts the service and routes `kube-fate/kubefate:8080` of the fake API server to it.
    pub async fn start(kube: &FakeKube) -> FakeKubeFate {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeKubeFate {
            faults: Default::default(),
            state: Arc::new(Mutex::new(State {
                key_generation: 1,
                tokens: BTreeMap::new(),
                clusters: Vec::new(),
                jobs: Vec::new(),
                charts: Vec::new(),
                uploaded: Vec::new(),
                chart_repo_reachable: true,
                time_limit: Duration::from_secs(3600),
                kubelet: Kubelet::RunEverything,
                next_id: 1,
                requests: Vec::new(),
                redirected: Vec::new(),
                moved: Vec::new(),
                logins: 0,
                restart_after: None,
                authenticated: 0,
                helm_fails_once: None,
                releases: Default::default(),
                version: "v1.4.1".into(),
                jobs_hang: false,
            })),
            kube: kube.clone(),
            url: url.clone(),
        };
        kube.route_service("kube-fate", "kubefate", 8080, &url);
        super::serve(listener, fake.clone(), |f: FakeKubeFate, req| {
            Box::pin(async move { f.handle(req).await })
        });
        fake
    }

    /// A pod restart: a new signing key, so every token handed out so far is refused.
    pub fn restart(&self) {
        let mut s = self.state.lock().unwrap();
        s.key_generation += 1;
    }

    /// The next install's `helm install` fails (the job ends Failed, the record is removed).
    pub fn helm_fails_once(&self, error: &str) {
        self.state.lock().unwrap().helm_fails_once = Some(error.into());
    }

    /// The pod restarts in the middle of a run, after `n` authenticated requests.
    pub fn restart_after(&self, n: u32) {
        self.state.lock().unwrap().restart_after = Some(n);
    }

    /// From now on helm does not come back (KubeFATE #882: a job stays Running at "checkout
    /// Cluster status" for good): an install's job never gets past its pod check, a delete's
    /// never past its helm uninstall; either stays Running, as the real service leaves it
    /// until its time limit (an hour) or for ever.
    pub fn jobs_never_end(&self) {
        self.state.lock().unwrap().jobs_hang = true;
    }

    /// The service version this fake is (v1.4.1 for KubeFATE v1.6.0, v1.4.5 for v2.0.0).
    pub fn set_version(&self, version: &str) {
        self.state.lock().unwrap().version = version.into();
    }

    /// Sets a cluster's status in the database, as an interrupted job can leave it.
    pub fn set_cluster_status(&self, name: &str, status: &str) {
        let mut s = self.state.lock().unwrap();
        for c in s
            .clusters
            .iter_mut()
            .filter(|c| c["name"] == name && c["DeletedAt"].is_null())
        {
            c["status"] = json!(status);
        }
    }

    /// Clusters not deleted (what `GET /v1/cluster/` lists).
    pub fn live_clusters(&self) -> Vec<Value> {
        self.clusters()
            .into_iter()
            .filter(|c| c["DeletedAt"].is_null())
            .collect()
    }

    pub fn set_chart_repo_reachable(&self, reachable: bool) {
        self.state.lock().unwrap().chart_repo_reachable = reachable;
    }

    pub fn set_time_limit(&self, limit: Duration) {
        self.state.lock().unwrap().time_limit = limit;
    }

    pub fn set_kubelet(&self, k: Kubelet) {
        self.state.lock().unwrap().kubelet = k;
    }

    /// Requests answered with a redirect, "METHOD path".
    pub fn redirected(&self) -> Vec<String> {
        self.state.lock().unwrap().redirected.clone()
    }

    /// Registers the GET route `path` (e.g. `/v1/version/`) in its other slash form only, as a
    /// KubeFATE build whose routes differ from the reference's would.
    pub fn move_route(&self, path: &str) {
        self.state.lock().unwrap().moved.push(path.to_string());
    }

    /// Requests as "METHOD path" with the token removed from the query.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests that could change something (not a read, not a login).
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| !r.starts_with("GET ") && r != "POST /v1/user/login")
            .collect()
    }

    /// Charts uploaded with `POST /v1/chart` (name, version), in order.
    pub fn uploads(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.as_str() == "POST /v1/chart")
            .count()
    }

    /// The charts uploaded, (name, version), in order.
    pub fn uploaded_charts(&self) -> Vec<(String, String)> {
        let s = self.state.lock().unwrap();
        s.uploaded.iter().map(|(id, _)| id.clone()).collect()
    }

    /// The text of one file of the last chart uploaded (path inside the archive).
    pub fn uploaded_file(&self, path: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.uploaded.last().and_then(|(_, f)| f.get(path).cloned())
    }

    pub fn logins(&self) -> u32 {
        self.state.lock().unwrap().logins
    }

    pub fn clusters(&self) -> Vec<Value> {
        self.state.lock().unwrap().clusters.clone()
    }

    pub fn jobs(&self) -> Vec<Value> {
        self.state.lock().unwrap().jobs.clone()
    }

    /// Credentials as the service's pod sees them: from the Secret fatelab applied.
    fn credentials(&self) -> (String, String) {
        let secret = self
            .kube
            .get("v1", "Secret", "kube-fate", "kubefate-secret");
        let field = |k: &str, default: &str| {
            secret
                .as_ref()
                .and_then(|s| {
                    s.pointer(&format!("/data/{k}"))
                        .and_then(Value::as_str)
                        .map(String::from)
                })
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_else(|| default.to_string())
        };
        (
            field("kubefateUsername", "admin"),
            field("kubefatePassword", "admin"),
        )
    }

    fn token_of(req: &Request<Incoming>) -> Option<String> {
        if let Some(h) = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        {
            return h.strip_prefix("Bearer ").map(String::from);
        }
        if let Some(q) = req.uri().query() {
            for kv in q.split('&') {
                if let Some(t) = kv.strip_prefix("token=") {
                    return Some(t.to_string());
                }
            }
        }
        req.headers()
            .get("cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| {
                c.split(';')
                    .find_map(|p| p.trim().strip_prefix("jwt=").map(String::from))
            })
    }

    /// Logs the request, then shows the fault it is told to, or answers.
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let shown_query: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("token="))
            .collect();
        self.state
            .lock()
            .unwrap()
            .requests
            .push(if shown_query.is_empty() {
                format!("{method} {path}")
            } else {
                format!("{method} {path}?{}", shown_query.join("&"))
            });
        match self.faults.take(method.as_str(), &path) {
            Some(Fault::Status(code)) => reply(
                StatusCode::from_u16(code).unwrap(),
                json!({"error": "the fake was told to fail"}),
            ),
            Some(Fault::Reset) => super::faults::reset(),
            Some(Fault::Stall) => super::faults::stall().await,
            Some(Fault::AnswerLost) => {
                let _ = self.answer(req).await;
                super::faults::stall().await
            }
            None => self.answer(req).await,
        }
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_string();

        // gin's RedirectTrailingSlash: a path registered only in the other form is redirected.
        let registered_with_slash = [
            "/v1/",
            "/v1/user/",
            "/v1/cluster/",
            "/v1/job/",
            "/v1/chart/",
            "/v1/version/",
            "/v1/namespace/",
        ];
        let registered_without = [
            "/v1/user/login",
            "/v1/user/logout",
            "/v1/user",
            "/v1/cluster",
            "/v1/chart",
        ];
        let moved = self.state.lock().unwrap().moved.clone();
        let other_form = other_slash_form(&path);
        let known = |p: &str, m: &Method| -> bool {
            if *m == Method::GET && moved.iter().any(|from| from == p) {
                return false;
            }
            if *m == Method::GET && moved.iter().any(|from| other_slash_form(from) == p) {
                return true;
            }
            match (m, p) {
                (&Method::GET, p) if registered_with_slash.contains(&p) || p == "/" => true,
                (
                    &Method::POST,
                    "/v1/user/login" | "/v1/user/logout" | "/v1/user" | "/v1/cluster" | "/v1/chart",
                ) => true,
                (&Method::PUT, "/v1/cluster") => true,
                (_, p) => {
                    let parts: Vec<&str> = p.trim_start_matches('/').split('/').collect();
                    matches!(parts.as_slice(), ["v1", "cluster" | "job" | "chart" | "user" | "log", id] if !id.is_empty())
                }
            }
        };
        if !known(&path, &method)
            && known(&other_form, &method)
            && (registered_with_slash.contains(&other_form.as_str())
                || registered_without.contains(&other_form.as_str())
                || moved.contains(&path))
        {
            self.state
                .lock()
                .unwrap()
                .redirected
                .push(format!("{method} {path}"));
            let status = if method == Method::GET {
                StatusCode::MOVED_PERMANENTLY
            } else {
                StatusCode::TEMPORARY_REDIRECT
            };
            return redirect(status, &other_form);
        }

        match (method.clone(), path.as_str()) {
            (Method::GET, "/") => {
                return reply(StatusCode::OK, json!({"msg": "kubefate run Success"}));
            }
            (Method::GET, "/v1/") => {
                return reply(StatusCode::BAD_REQUEST, json!({"error": "error path"}));
            }
            (Method::POST, "/v1/user/login") => {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let creds: Option<Value> = serde_json::from_slice(&body).ok();
                let (user, pass) = self.credentials();
                let given = creds.as_ref().and_then(|c| {
                    Some((
                        c.get("username")?.as_str()?.to_string(),
                        c.get("password")?.as_str()?.to_string(),
                    ))
                });
                return match given {
                    None => reply(
                        StatusCode::UNAUTHORIZED,
                        json!({"code": 401, "message": "missing Username or Password"}),
                    ),
                    Some((u, p)) if u == user && p == pass => {
                        let mut s = self.state.lock().unwrap();
                        s.logins += 1;
                        let token = format!(
                            "eyJhbGciOiJIUzI1NiJ9.fake-{}-{}",
                            s.key_generation, s.next_id
                        );
                        s.next_id += 1;
                        let generation = s.key_generation;
                        s.tokens.insert(token.clone(), generation);
                        reply(
                            StatusCode::OK,
                            json!({"code": 200, "expire": "2026-11-28T12:30:00Z", "token": token}),
                        )
                    }
                    Some(_) => reply(
                        StatusCode::UNAUTHORIZED,
                        json!({"code": 401, "message": "incorrect Username or Password"}),
                    ),
                };
            }
            _ => {}
        }

        // Everything else needs a valid JWT.
        let token = Self::token_of(&req);
        let valid = {
            let s = self.state.lock().unwrap();
            match &token {
                None => Err("auth header is empty"),
                Some(t) => match s.tokens.get(t) {
                    Some(g) if *g == s.key_generation => Ok(()),
                    _ => Err("signature is invalid"),
                },
            }
        };
        if let Err(message) = valid {
            return reply(
                StatusCode::UNAUTHORIZED,
                json!({"code": 401, "message": message}),
            );
        }
        {
            let mut s = self.state.lock().unwrap();
            s.authenticated += 1;
            if s.restart_after.is_some_and(|n| s.authenticated >= n) {
                s.restart_after = None;
                s.key_generation += 1;
            }
        }

        let parts: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(String::from)
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        match (method, parts.as_slice()) {
            (Method::GET, ["v1", "version", ""]) => reply(
                StatusCode::OK,
                json!({"msg": "getVersion Success", "version": self.state.lock().unwrap().version}),
            ),
            (Method::GET, ["v1", "cluster", ""]) => {
                let all = query.split('&').any(|kv| kv == "all=true");
                let s = self.state.lock().unwrap();
                let list: Vec<Value> = s
                    .clusters
                    .iter()
                    .filter(|c| all || c["DeletedAt"].is_null())
                    .cloned()
                    .collect();
                reply(
                    StatusCode::OK,
                    json!({"msg": "getClusterList Success", "data": list}),
                )
            }
            (Method::POST, ["v1", "cluster"]) => {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                self.install(&body)
            }
            (Method::PUT, ["v1", "cluster"]) => {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                self.update(&body)
            }
            (Method::GET, ["v1", "cluster", id]) => self.describe(id),
            (Method::DELETE, ["v1", "cluster", id]) => self.delete(id),
            (Method::GET, ["v1", "job", ""]) => {
                let s = self.state.lock().unwrap();
                reply(
                    StatusCode::OK,
                    json!({"msg": "getJobList Success", "data": s.jobs}),
                )
            }
            (Method::GET, ["v1", "job", id]) => {
                let s = self.state.lock().unwrap();
                match s.jobs.iter().find(|j| j["uuid"] == *id) {
                    Some(j) => reply(StatusCode::OK, json!({"msg": "getJob Success", "data": j})),
                    None => reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        json!({"error": "record not found"}),
                    ),
                }
            }
            (Method::GET, ["v1", "chart", ""]) => {
                let s = self.state.lock().unwrap();
                let list: Vec<Value> = s
                    .charts
                    .iter()
                    .enumerate()
                    .map(|(i, (name, version))| json!({"uuid": format!("chart-{}", i + 1), "name": name, "chart": name, "version": version, "app_version": version}))
                    .collect();
                reply(
                    StatusCode::OK,
                    json!({"msg": "getChartList Success", "data": list}),
                )
            }
            (Method::POST, ["v1", "chart"]) => {
                let ct = req
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let body = req.into_body().collect().await.unwrap().to_bytes();
                self.upload_chart(&ct, &body)
            }
            _ => reply(
                StatusCode::NOT_FOUND,
                json!({"error": "404 page not found"}),
            ),
        }
    }

    fn upload_chart(&self, content_type: &str, body: &[u8]) -> Response<Full<Bytes>> {
        if !content_type.starts_with("multipart/form-data") {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "request Content-Type isn't multipart/form-data"}),
            );
        }
        let text = String::from_utf8_lossy(body);
        if !text.contains("name=\"file\"") {
            return reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "http: no such file"}),
            );
        }
        // The archive's Chart.yaml says which chart it is.
        let start = body
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
            .unwrap_or(0);
        let end = body
            .windows(4)
            .rposition(|w| w == b"\r\n--")
            .unwrap_or(body.len());
        let archive = &body[start..end];
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
        let mut chart = None;
        let mut has_template = false;
        let mut files = BTreeMap::new();
        if let Ok(entries) = tar.entries() {
            for e in entries.flatten() {
                let mut e = e;
                let name = e
                    .path()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut e, &mut s);
                files.insert(name.clone(), s.clone());
                if name.ends_with("values-template.yaml") {
                    has_template = true;
                }
                if name.ends_with("Chart.yaml") {
                    let field = |k: &str| {
                        s.lines().find_map(|l| {
                            l.strip_prefix(k)
                                .map(|v| v.trim().trim_matches('"').to_string())
                        })
                    };
                    chart = field("name:").zip(field("version:"));
                }
            }
        }
        match (chart, has_template) {
            (Some((name, version)), true) => {
                let mut s = self.state.lock().unwrap();
                s.uploaded.push(((name.clone(), version.clone()), files));
                s.charts.push((name, version));
                reply(
                    StatusCode::OK,
                    json!({"msg": "CreateChart Success", "data": {"helmUUID": format!("chart-{}", s.charts.len())}}),
                )
            }
            _ => reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "values-template.yaml not found in the chart"}),
            ),
        }
    }

    /// A new job row (Pending, or Running for a delete), stored; returns its ID and its JSON.
    fn new_job(
        s: &mut State,
        method: &str,
        cluster: &str,
        status: &str,
        meta: Value,
    ) -> (String, Value) {
        let job_id = Self::new_id(s, "j");
        let job = json!({
            "uuid": job_id, "start_time": now(), "end_time": UNSET_TIME, "method": method,
            "cluster_id": cluster, "creator": "admin", "sub_jobs": {}, "status": status,
            "time_limit": 3_600_000_000_000u64, "meta_data": meta, "states": null,
            "ID": s.jobs.len() + 1, "CreatedAt": now(), "UpdatedAt": now(), "DeletedAt": null
        });
        s.jobs.push(job.clone());
        (job_id, job)
    }

    fn new_id(s: &mut State, prefix: &str) -> String {
        s.next_id += 1;
        format!("{prefix}-{:08}-0000-4000-8000-{:012}", s.next_id, s.next_id)
    }

    /// The ClusterArgs of a POST/PUT: name, namespace, chart, and the decoded spec.
    #[allow(clippy::type_complexity, clippy::result_large_err)]
    fn cluster_args(
        body: &[u8],
    ) -> Result<(String, String, String, String, Value, Value), Response<Full<Bytes>>> {
        let Ok(args) = serde_json::from_slice::<Value>(body) else {
            return Err(reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid JSON"}),
            ));
        };
        let field = |k: &str| args[k].as_str().unwrap_or_default().to_string();
        let (name, namespace) = (field("name"), field("namespace"));
        let (chart_name, chart_version) = (field("chart_name"), field("chart_version"));
        if chart_version.is_empty() || chart_name.is_empty() {
            return Err(reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "chartVersion cannot be empty"}),
            ));
        }
        let spec: Option<Value> = args["data"]
            .as_str()
            .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            .and_then(|b| serde_json::from_slice(&b).ok());
        let Some(spec) = spec else {
            return Err(reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "data is not base64 of a cluster spec"}),
            ));
        };
        Ok((name, namespace, chart_name, chart_version, spec, args))
    }

    fn install(&self, body: &[u8]) -> Response<Full<Bytes>> {
        let (name, namespace, chart_name, chart_version, spec, args) =
            match Self::cluster_args(body) {
                Ok(a) => a,
                Err(r) => return r,
            };
        let mut s = self.state.lock().unwrap();
        if s.clusters
            .iter()
            .any(|c| c["name"] == name && c["namespaces"] == namespace && c["DeletedAt"].is_null())
        {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": format!("name={name} & namespace={namespace} Cluster already existed")}),
            );
        }
        // The job names its cluster only once the job has created the record.
        let (job_id, job) = Self::new_job(&mut s, "ClusterInstall", "", "Pending", args);
        drop(s);
        let me = self.clone();
        let job_for_task = job_id.clone();
        tokio::spawn(async move {
            me.run_install(
                job_for_task,
                name,
                namespace,
                chart_name,
                chart_version,
                spec,
            )
            .await
        });
        reply(
            StatusCode::OK,
            json!({"msg": "createCluster Success", "data": job}),
        )
    }

    fn update(&self, body: &[u8]) -> Response<Full<Bytes>> {
        let (name, namespace, chart_name, chart_version, spec, args) =
            match Self::cluster_args(body) {
                Ok(a) => a,
                Err(r) => return r,
            };
        let mut s = self.state.lock().unwrap();
        let Some(c) = s
            .clusters
            .iter()
            .find(|c| c["name"] == name && c["namespaces"] == namespace && c["DeletedAt"].is_null())
            .cloned()
        else {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": format!("name={name} Cluster is not existed")}),
            );
        };
        if c["Spec"] == spec && c["chart_name"] == chart_name && c["chart_version"] == chart_version
        {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "the configuration file did not change"}),
            );
        }
        let uuid = c["uuid"].as_str().unwrap().to_string();
        let (job_id, job) = Self::new_job(&mut s, "ClusterUpdate", &uuid, "Pending", args);
        drop(s);
        let me = self.clone();
        let job_for_task = job_id.clone();
        tokio::spawn(async move {
            me.run_update(job_for_task, uuid, c, chart_version, spec)
                .await
        });
        reply(
            StatusCode::OK,
            json!({"msg": "setCluster Success", "data": job}),
        )
    }

    fn update_job(&self, id: &str, f: impl FnOnce(&mut Value)) {
        let mut s = self.state.lock().unwrap();
        if let Some(j) = s.jobs.iter_mut().find(|j| j["uuid"] == id) {
            f(j);
        }
    }

    fn push_state(&self, id: &str, text: &str) {
        self.update_job(id, |j| {
            if j["states"].is_null() {
                j["states"] = json!([]);
            }
            j["states"].as_array_mut().unwrap().push(json!(text));
        });
    }

    fn set_cluster(&self, id: &str, f: impl FnOnce(&mut Value)) {
        let mut s = self.state.lock().unwrap();
        if let Some(c) = s.clusters.iter_mut().find(|c| c["uuid"] == id) {
            f(c);
        }
    }

    fn end_job(&self, job: &str, status: &str) {
        self.update_job(job, |j| {
            j["status"] = json!(status);
            j["end_time"] = json!(now());
        });
    }

    /// A failed install: the job ends Failed and `clean` removes the record (and any release).
    fn fail_install(&self, job: &str, cluster: &str, ns: &str, why: &str) {
        self.push_state(job, why);
        self.end_job(job, "Failed");
        self.set_cluster(cluster, |c| {
            c["status"] = json!("Failed");
            c["DeletedAt"] = json!(now());
        });
        self.state.lock().unwrap().releases.remove(cluster);
        for p in self.pod_names(cluster) {
            self.kube.delete("v1", "Pod", ns, &p);
        }
    }

    fn release_exists(&self, cluster: &Value) -> bool {
        let ns = cluster["namespaces"].as_str().unwrap_or_default();
        let uuid = cluster["uuid"].as_str().unwrap_or_default();
        self.state.lock().unwrap().releases.contains(uuid)
            && self.kube.get("v1", "Namespace", "", ns).is_some()
    }

    /// The rollsite route table the chart renders from the cluster's spec (reference §3.2:
    /// ConfigMap `rollsite-config`, `route_table.json`: each partyList entry → `{ip, port}`, the own
    /// party → fateflow:9360 and rollsite:9370). The v2 chart's osx is given the same shape here
    /// (under `osx-config`), as the fake renders v1.6.0's pods for both.
    fn render_route_table(&self, cluster: &str, ns: &str) {
        let spec = self.spec_of(cluster);
        let (module, list) = match spec.pointer("/osx/partyList") {
            Some(l) => ("osx", l.clone()),
            None => (
                "rollsite",
                spec.pointer("/rollsite/partyList")
                    .cloned()
                    .unwrap_or(json!([])),
            ),
        };
        let mut table = serde_json::Map::new();
        for peer in list.as_array().into_iter().flatten() {
            table.insert(
                peer["partyId"].to_string(),
                json!({"default": [{"ip": peer["partyIp"], "port": peer["partyPort"]}]}),
            );
        }
        table.insert(
            spec["partyId"].to_string(),
            json!({"fateflow": [{"ip": "fateflow", "port": 9360}], "default": [{"ip": module, "port": 9370}]}),
        );
        let doc = json!({"route_table": table, "permission": {"default_allow": true}});
        self.kube
            .put(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{module}-config"), "namespace": ns},
            "data": {"route_table.json": serde_json::to_string_pretty(&doc).unwrap()}}));
    }

    fn spec_of(&self, cluster: &str) -> Value {
        let s = self.state.lock().unwrap();
        s.clusters
            .iter()
            .find(|c| c["uuid"] == cluster)
            .map(|c| c["Spec"].clone())
            .unwrap_or(Value::Null)
    }

    fn is_serving(&self, cluster: &str) -> bool {
        let s = self.state.lock().unwrap();
        s.clusters
            .iter()
            .any(|c| c["uuid"] == cluster && c["chart_name"] == "fate-serving")
    }

    /// Chart fate-serving's objects besides its pods: ConfigMap `serving-proxy-config` with the
    /// proxy's `route_table.json` (each partyList entry → `{ip, port}`; the own party → the proxy's
    /// 8059 and `serving` → serving-server:8000), `serving-server-config` with the model transfer
    /// URL from `servingServer.fateflow`, and the Services serving-proxy (8059, 8869 as the
    /// NodePort, 8879), serving-server (8000 as the NodePort) and serving-redis (6379).
    fn render_serving(&self, cluster: &str, name: &str, ns: &str) {
        let spec = self.spec_of(cluster);
        let mut table = serde_json::Map::new();
        table.insert(
            "default".into(),
            json!({"default": [{"ip": "default-serving-proxy", "port": 8869}]}),
        );
        for peer in spec
            .pointer("/servingProxy/partyList")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            table.insert(
                peer["partyId"].to_string(),
                json!({"default": [{"ip": peer["partyIp"], "port": peer["partyPort"].to_string()}]}),
            );
        }
        table.insert(
            spec["partyId"].to_string(),
            json!({"default": [{"ip": "serving-proxy", "port": 8059}], "serving": [{"ip": "serving-server", "port": 8000}]}),
        );
        let doc = json!({"route_table": table, "permission": {"default_allow": true}});
        self.kube.put(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "serving-proxy-config", "namespace": ns, "labels": {"name": name, "fateMoudle": "serving-proxy"}},
            "data": {"route_table.json": serde_json::to_string_pretty(&doc).unwrap(),
                     "application.properties": format!("coordinator={}\nserver.port=8059\nuseRegister=false\nuseZkRouter=false\n", spec["partyId"])}}));
        let fateflow = &spec["servingServer"]["fateflow"];
        self.kube.put(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "serving-server-config", "namespace": ns, "labels": {"name": name, "fateMoudle": "serving-server"}},
            "data": {"serving-server.properties": format!(
                "port=8000\nfeature.single.adaptor=com.webank.ai.fate.serving.adaptor.dataaccess.MockAdapter\n\
                 feature.batch.adaptor=com.webank.ai.fate.serving.adaptor.dataaccess.MockBatchAdapter\n\
                 model.transfer.url=http://{}:{}/v1/model/transfer\n",
                fateflow["ip"].as_str().unwrap_or_default(), fateflow["port"])}}));
        let node_port = |path: &str| spec.pointer(path).cloned().unwrap_or(Value::Null);
        for (service, module, ports) in [
            (
                "serving-proxy",
                "serving-proxy",
                json!([
                {"name": "8059", "port": 8059, "targetPort": 8059, "protocol": "TCP"},
                {"name": "8869", "port": 8869, "targetPort": 8869, "nodePort": node_port("/servingProxy/nodePort"), "protocol": "TCP"},
                {"name": "8879", "port": 8879, "targetPort": 8879, "protocol": "TCP"}]),
            ),
            (
                "serving-server",
                "serving-server",
                json!([
                {"name": "8000", "port": 8000, "targetPort": 8000, "nodePort": node_port("/servingServer/nodePort"), "protocol": "TCP"}]),
            ),
            (
                "serving-redis",
                "serving-redis",
                json!([
                {"name": "6379", "port": 6379, "targetPort": 6379, "protocol": "TCP"}]),
            ),
        ] {
            self.kube.put(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": service, "namespace": ns, "labels": {"name": name, "fateMoudle": module}},
                "spec": {"type": if service == "serving-redis" { "ClusterIP" } else { "NodePort" },
                         "selector": {"name": name, "fateMoudle": module}, "ports": ports}}));
        }
    }

    /// helm install / upgrade: the chart's pods, created, then moved by the fake kubelet.
    fn helm_render(&self, cluster: &str, name: &str, ns: &str, kubelet: &Kubelet) {
        if self.is_serving(cluster) {
            self.render_serving(cluster, name, ns);
        } else {
            self.render_route_table(cluster, ns);
        }
        // The python pod's dashboards (reference §3.2: Services fateboard 8080, notebook 20000).
        let dashboards: &[(&str, u16)] = if self.is_serving(cluster) {
            &[]
        } else {
            &[("fateboard", 8080), ("notebook", 20000)]
        };
        for &(service, port) in dashboards {
            self.kube.put(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": service, "namespace": ns},
                "spec": {"selector": {"name": name, "fateMoudle": "python"},
                         "ports": [{"name": format!("tcp-{service}"), "port": port, "targetPort": port, "protocol": "TCP"}]}}));
        }
        for ((module, containers), pod_name) in self
            .modules(cluster)
            .into_iter()
            .zip(self.pod_names(cluster))
        {
            self.kube.put(party_pod(
                ns,
                &pod_name,
                name,
                module,
                containers,
                PodState::Creating,
            ));
        }
        if *kubelet == Kubelet::LeavePending {
            return;
        }
        self.run_pods(cluster, name, ns, kubelet);
    }

    /// The pods a `LeavePending` kubelet left: every cluster's pods turn Running now.
    pub fn run_pending_pods(&self) {
        let clusters: Vec<(String, String, String)> = {
            let s = self.state.lock().unwrap();
            s.clusters
                .iter()
                .map(|c| {
                    let field = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                    (field("uuid"), field("name"), field("namespaces"))
                })
                .collect()
        };
        for (uuid, name, ns) in clusters {
            self.run_pods(&uuid, &name, &ns, &Kubelet::RunEverything);
        }
    }

    fn run_pods(&self, cluster: &str, name: &str, ns: &str, kubelet: &Kubelet) {
        for ((module, containers), pod_name) in self
            .modules(cluster)
            .into_iter()
            .zip(self.pod_names(cluster))
        {
            let state = match kubelet {
                Kubelet::ImagePullFails(m) if m == module => PodState::ImagePullBackOff,
                Kubelet::Unschedulable(m, _) if m == module => PodState::Creating,
                _ => PodState::Running,
            };
            let mut pod = party_pod(ns, &pod_name, name, module, containers, state);
            if let Kubelet::Unschedulable(m, message) = kubelet
                && m == module
            {
                // An unscheduled pod has no container statuses yet, only the scheduler's word.
                pod["status"] = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled",
                    "status": "False", "reason": "Unschedulable", "message": message}]});
            }
            self.kube.put(pod);
        }
    }

    /// Waits (on the fake API server's events) until every pod of the cluster is Running.
    async fn checkout_status(&self, job: &str, cluster: &str, ns: &str, limit: Duration) -> bool {
        let mut events = self.kube.subscribe();
        let all_running = || {
            self.pod_names(cluster).iter().all(|p| {
                self.kube
                    .get("v1", "Pod", ns, p)
                    .is_some_and(|o| o.pointer("/status/phase") == Some(&json!("Running")))
            })
        };
        let wait = async {
            let mut n = 0;
            loop {
                n += 1;
                if all_running() {
                    return;
                }
                self.push_state(job, &format!("checkout Cluster status [{n}]"));
                if events.recv().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    /// After a successful job: the module that crashes does so now, and keeps crashing.
    fn crash_if_asked(&self, cluster: &str, name: &str, ns: &str, kubelet: &Kubelet) {
        let Kubelet::CrashAfterReady(module) = kubelet else {
            return;
        };
        let Some(((module, containers), pod_name)) = self
            .modules(cluster)
            .into_iter()
            .zip(self.pod_names(cluster))
            .find(|((m, _), _)| m == module)
        else {
            return;
        };
        let mut pod = party_pod(ns, &pod_name, name, module, containers, PodState::Running);
        let crashed = &mut pod["status"]["containerStatuses"][0];
        crashed["ready"] = json!(false);
        crashed["restartCount"] = json!(2);
        crashed["state"] = json!({"waiting": {"reason": "CrashLoopBackOff",
            "message": format!("back-off 20s restarting failed container={} pod={pod_name}", containers[0])}});
        crashed["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error",
            "finishedAt": k8s_now(), "startedAt": k8s_now()}});
        self.kube.put(pod);
        self.kube.set_previous_logs(
            ns,
            &pod_name,
            containers[0],
            "[ERROR] InnoDB: No data dictionary version number found\n[ERROR] Aborting\n",
        );
    }

    fn pod_names(&self, cluster: &str) -> Vec<String> {
        self.modules(cluster)
            .iter()
            .map(|(m, _)| format!("{m}-{}", &cluster[..6]))
            .collect()
    }

    /// The modules a cluster's chart runs: osx for rollsite when its spec has an osx section.
    fn modules(&self, cluster: &str) -> Vec<(&'static str, &'static [&'static str])> {
        if self.is_serving(cluster) {
            return SERVING_PODS.to_vec();
        }
        let osx = {
            let s = self.state.lock().unwrap();
            s.clusters
                .iter()
                .find(|c| c["uuid"] == cluster)
                .is_some_and(|c| c.pointer("/Spec/osx").is_some())
        };
        PARTY_PODS
            .iter()
            .map(|&(m, c)| match (m, osx) {
                ("rollsite", true) => ("osx", &["osx"][..]),
                _ => (m, c),
            })
            .collect()
    }

    async fn run_install(
        &self,
        job: String,
        name: String,
        ns: String,
        chart: String,
        version: String,
        spec: Value,
    ) {
        self.update_job(&job, |j| j["status"] = json!("Running"));
        self.push_state(&job, "update job status to Running");
        // createCluster: the record, then the job learns its cluster ID.
        let cluster = {
            let mut s = self.state.lock().unwrap();
            let id = Self::new_id(&mut s, "c");
            let row_id = s.clusters.len() + 1;
            s.clusters.push(json!({
                "uuid": id, "name": name, "namespaces": ns, "chart_name": chart,
                "chart_version": version, "values": serde_json::to_string(&spec).unwrap(), "Spec": spec,
                "revision": 0, "helm_revision": 0, "chart_values": {}, "status": "Creating", "Info": null,
                "ID": row_id, "CreatedAt": now(), "UpdatedAt": now(), "DeletedAt": null
            }));
            id
        };
        self.update_job(&job, |j| j["cluster_id"] = json!(cluster));
        self.push_state(&job, "create Cluster in DB Success");
        let (known, reachable, kubelet, limit) = {
            let s = self.state.lock().unwrap();
            (
                s.charts.contains(&(chart.clone(), version.clone())),
                s.chart_repo_reachable,
                s.kubelet.clone(),
                s.time_limit,
            )
        };
        if !known && !reachable {
            self.fail_install(&job, &cluster, &ns, "helm install error, Looks like \"https://federatedai.github.io/KubeFATE\" is not a valid chart repository or cannot be reached");
            return;
        }
        // KubeFATE's chart repository (gh-pages index.yaml) ends at fate v1.11.2: no 2.x chart
        // of fate (fate-serving's v2.x charts are there: its versions run on their own).
        if !known && chart == "fate" && version.starts_with("v2") {
            self.fail_install(
                &job,
                &cluster,
                &ns,
                &format!("helm install error, chart \"{chart}\" matching {version} not found in kubefate index"),
            );
            return;
        }
        if !known {
            self.state
                .lock()
                .unwrap()
                .charts
                .push((chart.clone(), version.clone()));
        }
        if self.kube.get("v1", "Namespace", "", &ns).is_none() {
            self.fail_install(
                &job,
                &cluster,
                &ns,
                &format!(
                    "helm install error, create: failed to create: namespaces \"{ns}\" not found"
                ),
            );
            return;
        }
        let helm_error = self.state.lock().unwrap().helm_fails_once.take();
        if let Some(e) = helm_error {
            self.fail_install(&job, &cluster, &ns, &format!("helm install error, {e}"));
            return;
        }
        self.state.lock().unwrap().releases.insert(cluster.clone());
        self.helm_render(&cluster, &name, &ns, &kubelet);
        self.push_state(&job, "helm install Success");
        if self.state.lock().unwrap().jobs_hang {
            self.push_state(&job, "checkout Cluster status [1]");
            return;
        }
        if !self.checkout_status(&job, &cluster, &ns, limit).await {
            // The real service gives up after the job's time limit and removes the cluster.
            self.push_state(&job, "checkout Cluster status timeOut!");
            self.fail_install(
                &job,
                &cluster,
                &ns,
                "Cluster install timeout; helm uninstall and delete the Cluster in DB",
            );
            return;
        }
        self.set_cluster(&cluster, |c| {
            c["status"] = json!("Running");
            c["revision"] = json!(1);
            c["helm_revision"] = json!(1);
        });
        let subs: BTreeMap<String, Value> = self
            .modules(&cluster)
            .into_iter()
            .zip(self.pod_names(&cluster))
            .map(|((m, _), p)| (p, json!({"ModuleName": m, "Status": "Success", "ModulesPodStatus": "Running", "StartTime": now(), "EndTime": now()})))
            .collect();
        self.update_job(&job, |j| j["sub_jobs"] = json!(subs));
        self.push_state(&job, "job run Success");
        self.end_job(&job, "Success");
        self.crash_if_asked(&cluster, &name, &ns, &kubelet);
    }

    /// ClusterUpdate: new values and spec, helm upgrade, then the same pod check as an install;
    /// a failed upgrade rolls the record back (job and cluster `Rollback`).
    async fn run_update(
        &self,
        job: String,
        cluster: String,
        old: Value,
        version: String,
        spec: Value,
    ) {
        let name = old["name"].as_str().unwrap_or_default().to_string();
        let ns = old["namespaces"].as_str().unwrap_or_default().to_string();
        self.update_job(&job, |j| j["status"] = json!("Running"));
        self.set_cluster(&cluster, |c| {
            c["status"] = json!("Updating");
            c["values"] = json!(serde_json::to_string(&spec).unwrap());
            c["Spec"] = spec.clone();
            c["chart_version"] = json!(version);
        });
        let (kubelet, limit) = {
            let s = self.state.lock().unwrap();
            (s.kubelet.clone(), s.time_limit)
        };
        if !self.release_exists(&old) {
            self.push_state(
                &job,
                &format!("UPGRADE FAILED: \"{name}\" has no deployed releases"),
            );
            self.set_cluster(&cluster, |c| {
                c["values"] = old["values"].clone();
                c["Spec"] = old["Spec"].clone();
                c["chart_version"] = old["chart_version"].clone();
                c["status"] = json!("Rollback");
            });
            self.push_state(&job, "Cluster run rollback Success");
            self.end_job(&job, "Rollback");
            return;
        }
        self.helm_render(&cluster, &name, &ns, &kubelet);
        self.push_state(&job, "Cluster update Success");
        if !self.checkout_status(&job, &cluster, &ns, limit).await {
            self.push_state(&job, "Checkout Cluster status timeOut!");
            self.end_job(&job, "Failed");
            return;
        }
        self.set_cluster(&cluster, |c| {
            c["status"] = json!("Running");
            c["revision"] = json!(c["revision"].as_i64().unwrap_or(0) + 1);
        });
        self.end_job(&job, "Success");
        self.crash_if_asked(&cluster, &name, &ns, &kubelet);
    }

    fn describe(&self, id: &str) -> Response<Full<Bytes>> {
        let cluster = {
            let s = self.state.lock().unwrap();
            s.clusters
                .iter()
                .find(|c| c["uuid"] == id && c["DeletedAt"].is_null())
                .cloned()
        };
        let Some(mut c) = cluster else {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "record not found"}),
            );
        };
        let ns = c["namespaces"].as_str().unwrap_or_default().to_string();
        let mut modules = serde_json::Map::new();
        let mut pods = Vec::new();
        for p in self.pod_names(id) {
            if let Some(pod) = self.kube.get("v1", "Pod", &ns, &p) {
                modules.insert(
                    p.clone(),
                    pod.pointer("/status/phase")
                        .cloned()
                        .unwrap_or(json!("Unknown")),
                );
                pods.push(json!(p));
            }
        }
        let party = c.pointer("/Spec/partyId").cloned().unwrap_or(json!(0));
        c["Info"] = json!({
            "ip": "192.168.100.123",
            "port": c.pointer("/Spec/rollsite/nodePort").cloned().unwrap_or(Value::Null),
            "pod": pods,
            "dashboard": [format!("{party}.notebook.kubefate.net"), format!("{party}.fateboard.kubefate.net")],
            "status": {"modules": modules}
        });
        if modules.values().any(|v| v == "Pending") {
            c["status"] = json!("Pending");
        }
        reply(
            StatusCode::OK,
            json!({"msg": "getCluster Success", "data": c}),
        )
    }

    fn delete(&self, id: &str) -> Response<Full<Bytes>> {
        let mut s = self.state.lock().unwrap();
        let Some(c) = s
            .clusters
            .iter()
            .find(|c| c["uuid"] == id && c["DeletedAt"].is_null())
            .cloned()
        else {
            return reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "record not found"}),
            );
        };
        let (job_id, job) = Self::new_job(&mut s, "ClusterDelete", id, "Running", Value::Null);
        let hang = s.jobs_hang;
        drop(s);
        self.set_cluster(id, |c| c["status"] = json!("Deleting"));
        if hang {
            self.push_state(&job_id, "helm uninstall");
            return reply(
                StatusCode::OK,
                json!({"msg": "deleteCluster Success", "data": job}),
            );
        }
        let ns = c["namespaces"].as_str().unwrap_or_default().to_string();
        let name = c["name"].as_str().unwrap_or_default().to_string();
        // helm uninstall; the record goes whether or not it worked (the success guard is
        // commented out upstream).
        let status = if self.release_exists(&c) {
            self.state.lock().unwrap().releases.remove(id);
            for p in self.pod_names(id) {
                self.kube.delete("v1", "Pod", &ns, &p);
            }
            if self.is_serving(id) {
                for (kind, object) in [
                    ("ConfigMap", "serving-proxy-config"),
                    ("ConfigMap", "serving-server-config"),
                    ("Service", "serving-proxy"),
                    ("Service", "serving-server"),
                    ("Service", "serving-redis"),
                ] {
                    self.kube.delete("v1", kind, &ns, object);
                }
            }
            self.push_state(&job_id, "uninstall Success");
            "Success"
        } else {
            self.push_state(
                &job_id,
                &format!("uninstall: Release not loaded: {name}: release: not found"),
            );
            "Failed"
        };
        self.set_cluster(id, |c| {
            c["status"] = json!("Deleted");
            c["DeletedAt"] = json!(now());
        });
        self.end_job(&job_id, status);
        reply(
            StatusCode::OK,
            json!({"msg": "deleteCluster Success", "data": job}),
        )
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum PodState {
    Creating,
    Running,
    ImagePullBackOff,
}

/// A party pod as the chart's Deployment would run it, labelled `name=<cluster>`.
pub fn party_pod(
    ns: &str,
    pod: &str,
    cluster: &str,
    module: &str,
    containers: &[&str],
    state: PodState,
) -> Value {
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let (ready, st) = match state {
                PodState::Running => (true, json!({"running": {"startedAt": now()}})),
                PodState::Creating => (false, json!({"waiting": {"reason": "ContainerCreating"}})),
                PodState::ImagePullBackOff => (
                    false,
                    json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"federatedai/{module}:1.6.0-release\"")}}),
                ),
            };
            json!({"name": c, "ready": ready, "restartCount": 0, "image": format!("federatedai/{module}:1.6.0-release"), "imageID": "", "state": st})
        })
        .collect();
    // The federation module mounts its route table ConfigMap as a directory (KF@v1.6.0
    // rollsite-module.yaml, KF@v2.0.0 core/osx/deployment.yaml).
    let mount = match module {
        "rollsite" => Some("/data/projects/fate/eggroll/conf/route_table/"),
        "osx" => Some("/data/projects/fate/osx/conf/broker/"),
        _ => None,
    };
    let spec_containers: Vec<Value> = containers
        .iter()
        .map(|c| match mount {
            Some(path) if *c == module => json!({"name": c, "image": "i",
                "volumeMounts": [{"name": format!("{module}-confs"), "mountPath": path}]}),
            _ => json!({"name": c, "image": "i"}),
        })
        .collect();
    let volumes: Vec<Value> = mount
        .map(|_| json!({"name": format!("{module}-confs"), "configMap": {"name": format!("{module}-config")}}))
        .into_iter()
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod, "namespace": ns, "labels": {"name": cluster, "fateMoudle": module}},
        "spec": {"containers": spec_containers, "volumes": volumes},
        "status": {"phase": if state == PodState::Running { "Running" } else { "Pending" }, "containerStatuses": statuses}
    })
}
