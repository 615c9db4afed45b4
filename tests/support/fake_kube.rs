//! An in-process fake Kubernetes API server on 127.0.0.1, written from the API conventions:
//! `/version`, get/list with label and field selectors, `resourceVersion`, watch streams
//! (`?watch=true`, ADDED/MODIFIED/DELETED as newline-delimited JSON), and 404 Status objects.
//!
//! A test acts as the kubelet and the controllers through [`FakeKube::put`] and
//! [`FakeKube::delete`]: every change is an event that open watches see at once.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

/// (group/version path, namespace or "", plural, name)
type Key = (String, String, String, String);

#[derive(Clone)]
struct Event {
    rv: u64,
    key: Key,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    events: Vec<Event>,
    /// Every request the server saw, as "METHOD path?query".
    requests: Vec<String>,
}

#[derive(Clone)]
pub struct FakeKube {
    store: Arc<Mutex<Store>>,
    tx: broadcast::Sender<Event>,
    pub addr: SocketAddr,
    pub version: (String, String),
}

type Body = BoxBody<Bytes, Infallible>;

fn full(v: Value, status: StatusCode) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed())
        .expect("valid response")
}

fn not_found(plural: &str, name: &str) -> Response<Body> {
    full(
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("{plural} \"{name}\" not found"), "reason": "NotFound",
            "details": {"name": name, "kind": plural}, "code": 404
        }),
        StatusCode::NOT_FOUND,
    )
}

/// Splits `/api/v1/...` or `/apis/G/V/...` into (group/version, namespace, plural, name).
fn parse_path(path: &str) -> Option<(String, String, String, Option<String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (gv, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] => (v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return None,
    };
    match rest {
        ["namespaces", ns, plural, tail @ ..] => Some((
            gv,
            ns.to_string(),
            plural.to_string(),
            tail.first().map(|s| s.to_string()),
        )),
        [plural, tail @ ..] if !plural.is_empty() => Some((
            gv,
            String::new(),
            plural.to_string(),
            tail.first().map(|s| s.to_string()),
        )),
        _ => None,
    }
}

fn query(uri: &hyper::Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn selector_matches(obj: &Value, q: &BTreeMap<String, String>) -> bool {
    let labels = obj
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    let label_ok = q.get("labelSelector").is_none_or(|sel| {
        sel.split(',')
            .filter(|s| !s.is_empty())
            .all(|term| match term.split_once('=') {
                Some((k, v)) => {
                    labels.get(k.trim_end_matches('=')).and_then(Value::as_str)
                        == Some(v.trim_start_matches('='))
                }
                None => labels.get(term).is_some(),
            })
    });
    let field_ok = q.get("fieldSelector").is_none_or(|sel| {
        sel.split(',')
            .filter(|s| !s.is_empty())
            .all(|term| match term.split_once('=') {
                Some(("metadata.name", v)) => {
                    obj.pointer("/metadata/name").and_then(Value::as_str) == Some(v)
                }
                Some(("metadata.namespace", v)) => {
                    obj.pointer("/metadata/namespace").and_then(Value::as_str) == Some(v)
                }
                _ => true,
            })
    });
    label_ok && field_ok
}

impl FakeKube {
    pub async fn start() -> FakeKube {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let (tx, _) = broadcast::channel(1024);
        let fake = FakeKube {
            store: Arc::new(Mutex::new(Store::default())),
            tx,
            addr,
            version: ("1".into(), "21".into()),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let server = server.clone();
                        async move { Ok::<_, Infallible>(server.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig that points at this server (plain HTTP, token auth).
    pub fn write_kubeconfig(&self, path: &Path) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(
            path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {}\n  name: fake\n\
                 contexts:\n- context:\n    cluster: fake\n    user: fake\n  name: fake\n\
                 current-context: fake\nusers:\n- name: fake\n  user:\n    token: fake\n",
                self.url()
            ),
        )
        .unwrap();
    }

    fn key_of(obj: &Value) -> Key {
        let api_version = obj["apiVersion"]
            .as_str()
            .expect("object has apiVersion")
            .to_string();
        let kind = obj["kind"].as_str().expect("object has kind");
        let plural = plural_of(kind);
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .expect("object has a name")
            .to_string();
        (api_version, ns, plural, name)
    }

    /// Creates or replaces an object (as a controller or the kubelet would) and tells the watchers.
    pub fn put(&self, mut obj: Value) {
        let key = Self::key_of(&obj);
        let event = {
            let mut s = self.store.lock().unwrap();
            s.rv += 1;
            let rv = s.rv;
            obj["metadata"]["resourceVersion"] = json!(rv.to_string());
            if obj.pointer("/metadata/uid").is_none() {
                obj["metadata"]["uid"] = json!(format!("uid-{rv}"));
            }
            let kind = if s.objects.contains_key(&key) {
                "MODIFIED"
            } else {
                "ADDED"
            };
            s.objects.insert(key.clone(), obj.clone());
            let e = Event {
                rv,
                key,
                kind,
                object: obj,
            };
            s.events.push(e.clone());
            e
        };
        let _ = self.tx.send(event);
    }

    pub fn delete(&self, api_version: &str, kind: &str, ns: &str, name: &str) {
        let key = (
            api_version.to_string(),
            ns.to_string(),
            plural_of(kind),
            name.to_string(),
        );
        let event = {
            let mut s = self.store.lock().unwrap();
            let Some(mut obj) = s.objects.remove(&key) else {
                return;
            };
            s.rv += 1;
            let rv = s.rv;
            obj["metadata"]["resourceVersion"] = json!(rv.to_string());
            let e = Event {
                rv,
                key,
                kind: "DELETED",
                object: obj,
            };
            s.events.push(e.clone());
            e
        };
        let _ = self.tx.send(event);
    }

    pub fn get(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let key = (
            api_version.to_string(),
            ns.to_string(),
            plural_of(kind),
            name.to_string(),
        );
        self.store.lock().unwrap().objects.get(&key).cloned()
    }

    pub fn requests(&self) -> Vec<String> {
        self.store.lock().unwrap().requests.clone()
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let uri = req.uri().clone();
        let method = req.method().clone();
        self.store
            .lock()
            .unwrap()
            .requests
            .push(format!("{method} {uri}"));
        if uri.path() == "/version" {
            let (major, minor) = &self.version;
            return full(
                json!({"major": major, "minor": minor, "gitVersion": format!("v{major}.{minor}.0"), "platform": "linux/amd64"}),
                StatusCode::OK,
            );
        }
        let Some((gv, ns, plural, name)) = parse_path(uri.path()) else {
            return not_found("path", uri.path());
        };
        let q = query(&uri);
        match (method, name) {
            (Method::GET, Some(name)) => {
                let key = (gv, ns, plural.clone(), name.clone());
                match self.store.lock().unwrap().objects.get(&key) {
                    Some(obj) => full(obj.clone(), StatusCode::OK),
                    None => not_found(&plural, &name),
                }
            }
            (Method::GET, None) if q.get("watch").is_some_and(|w| w == "true" || w == "1") => {
                self.watch(gv, ns, plural, q)
            }
            (Method::GET, None) => {
                let s = self.store.lock().unwrap();
                let items: Vec<Value> = s
                    .objects
                    .iter()
                    .filter(|(k, v)| {
                        k.0 == gv
                            && k.2 == plural
                            && (ns.is_empty() || k.1 == ns)
                            && selector_matches(v, &q)
                    })
                    .map(|(_, v)| v.clone())
                    .collect();
                full(
                    json!({"apiVersion": gv, "kind": "List", "metadata": {"resourceVersion": s.rv.to_string()}, "items": items}),
                    StatusCode::OK,
                )
            }
            (m, _) => full(
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": format!("{m} is not supported by the fake"), "reason": "MethodNotAllowed", "code": 405}),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
        }
    }

    /// Replays events after the requested resourceVersion (or the current state as ADDED when
    /// none is given), then streams new ones as they happen.
    fn watch(
        &self,
        gv: String,
        ns: String,
        plural: String,
        q: BTreeMap<String, String>,
    ) -> Response<Body> {
        let since: Option<u64> = q
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .filter(|&v| v > 0);
        let matches = move |key: &Key, obj: &Value, q: &BTreeMap<String, String>| {
            key.0 == gv
                && key.2 == plural
                && (ns.is_empty() || key.1 == ns)
                && selector_matches(obj, q)
        };
        let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(256);
        let mut live = self.tx.subscribe();
        let (backlog, mut last) = {
            let s = self.store.lock().unwrap();
            let backlog: Vec<Value> = match since {
                Some(rv) => s
                    .events
                    .iter()
                    .filter(|e| e.rv > rv && matches(&e.key, &e.object, &q))
                    .map(|e| json!({"type": e.kind, "object": e.object}))
                    .collect(),
                None => s
                    .objects
                    .iter()
                    .filter(|(k, v)| matches(k, v, &q))
                    .map(|(_, v)| json!({"type": "ADDED", "object": v}))
                    .collect(),
            };
            (backlog, s.rv)
        };
        tokio::spawn(async move {
            for e in backlog {
                if tx
                    .send(Ok(Frame::data(Bytes::from(format!("{e}\n")))))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            loop {
                match live.recv().await {
                    Ok(e) if e.rv > last => {
                        last = e.rv;
                        if matches(&e.key, &e.object, &q) {
                            let line = json!({"type": e.kind, "object": e.object});
                            if tx
                                .send(Ok(Frame::data(Bytes::from(format!("{line}\n")))))
                                .await
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        let body = StreamBody::new(tokio_stream_from(rx));
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(BodyExt::boxed(body))
            .expect("valid response")
    }
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> impl futures::Stream<Item = Result<Frame<Bytes>, Infallible>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Resource names of the kinds fatelab touches (the API's lowercase plural).
pub fn plural_of(kind: &str) -> String {
    match kind {
        "Ingress" => "ingresses".into(),
        "IngressClass" => "ingressclasses".into(),
        k => format!("{}s", k.to_lowercase()),
    }
}

/// A Deployment as its controller reports it: available or not.
pub fn deployment(ns: &str, name: &str, available: bool) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/name": name}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
        "status": if available {
            json!({"replicas": 1, "availableReplicas": 1, "readyReplicas": 1,
                   "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]})
        } else {
            json!({"replicas": 1, "unavailableReplicas": 1,
                   "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}]})
        }
    })
}

/// A pod with one container waiting for `reason` (e.g. ImagePullBackOff), or running and ready.
pub fn pod(ns: &str, name: &str, waiting: Option<(&str, &str)>) -> Value {
    let (phase, status) = match waiting {
        Some((reason, message)) => (
            "Pending",
            json!({"name": "controller", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
            "state": {"waiting": {"reason": reason, "message": message}}}),
        ),
        None => (
            "Running",
            json!({"name": "controller", "ready": true, "restartCount": 0, "image": "i", "imageID": "",
            "state": {"running": {"startedAt": "2026-11-28T00:00:00Z"}}}),
        ),
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/component": "controller"}},
        "spec": {"containers": [{"name": "controller", "image": "i"}]},
        "status": {"phase": phase, "containerStatuses": [status]}
    })
}
