//! An in-process fake Kubernetes API server on 127.0.0.1, written from the API conventions:
//! `/version`, discovery (`/api`, `/apis`, group versions) that serves only what the chosen
//! Kubernetes version serves, get/list with label and field selectors, create (409 when it
//! exists), server-side apply (`PATCH` with `application/apply-patch+yaml`, `fieldManager`,
//! `force`; an apply that changes nothing keeps the resourceVersion), delete (namespaces
//! terminate until the test finishes them), `resourceVersion`, watch streams (`?watch=true`,
//! ADDED/MODIFIED/DELETED as newline-delimited JSON), pod logs, 404/409 Status objects, and the
//! service proxy (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/...`, forwarded to a URL the
//! test registers, with the Authorization header removed as the real API server does).
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
use serde_json::{Value, json};

use super::faults::Fault;
use tokio::sync::{broadcast, mpsc};

/// (group/version path, namespace or "", plural, name)
type Key = (String, String, String, String);

#[derive(Clone)]
pub struct Event {
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
    /// Content types of PATCH requests, in order.
    patch_types: Vec<String>,
    /// (namespace, service, port) → upstream base URL for the service proxy.
    services: BTreeMap<(String, String, u16), String>,
    /// (namespace, pod, container) → log text.
    /// (namespace, pod, container, previous run) → log text, as the kubelet keeps it.
    logs: BTreeMap<(String, String, String, bool), String>,
    /// When true, deleted namespaces stay Terminating until `finish_deletions`.
    slow_namespace_deletion: bool,
    /// Headers the service proxy received, per forwarded request.
    proxied_headers: Vec<Vec<String>>,
    /// When true, Deployments report available as soon as they are created (controller + kubelet).
    deployments_become_available: bool,
    /// (verb, resource[/subresource]) the caller may not do; SelfSubjectAccessReview says so.
    denied: Vec<(String, String)>,
    /// Objects a client's request created (a create, or an apply that created), as long as
    /// they exist: what fatelab made, as opposed to the test's controllers and kubelet.
    made_by_requests: std::collections::BTreeSet<Key>,
    /// (address, port) a pod may dial → the loopback port that answers for it.
    dials: BTreeMap<(String, u16), u16>,
    /// (namespace, pod, port) → the loopback port that answers for it in port forwards.
    forwards: BTreeMap<(String, String, u16), u16>,
    /// (namespace, pod) → the ConfigMaps its volumes mount, as the kubelet last synced them
    /// (at the pod's start, and at each `sync_mounts`).
    mounted: BTreeMap<(String, String), BTreeMap<String, Value>>,
}

#[derive(Clone)]
pub struct FakeKube {
    /// Faults the next requests show (see [`super::faults`]).
    pub faults: super::faults::Faults,
    store: Arc<Mutex<Store>>,
    tx: broadcast::Sender<Event>,
    pub addr: SocketAddr,
    pub version: (String, String),
    watch_started: Arc<tokio::sync::Notify>,
}

pub type Body = BoxBody<Bytes, Infallible>;

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
/// (group/version, namespace, plural, name, subresource path)
type ParsedPath = (String, String, String, Option<String>, Vec<String>);

fn parse_path(path: &str) -> Option<ParsedPath> {
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
            tail.iter().skip(1).map(|s| s.to_string()).collect(),
        )),
        [plural, tail @ ..] if !plural.is_empty() => Some((
            gv,
            String::new(),
            plural.to_string(),
            tail.first().map(|s| s.to_string()),
            tail.iter().skip(1).map(|s| s.to_string()).collect(),
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

pub fn percent_decode(s: &str) -> String {
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
    /// A fake of Kubernetes v1.21 (the newest that serves Ingress v1beta1).
    pub async fn start() -> FakeKube {
        Self::start_version("1", "21").await
    }

    pub async fn start_version(major: &str, minor: &str) -> FakeKube {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let (tx, _) = broadcast::channel(1024);
        let fake = FakeKube {
            faults: Default::default(),
            store: Arc::new(Mutex::new(Store::default())),
            tx,
            addr,
            version: (major.into(), minor.into()),
            watch_started: Arc::new(tokio::sync::Notify::new()),
        };
        super::serve(listener, fake.clone(), |f: FakeKube, req| {
            Box::pin(async move { f.handle(req).await })
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
            if kind == "ADDED" && key.2 == "pods" {
                let mounts = Self::config_maps_of(&s.objects, &obj);
                s.mounted.insert((key.1.clone(), key.3.clone()), mounts);
            }
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
            s.made_by_requests.remove(&key);
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

    fn stored(&self, key: &Key) -> Value {
        self.store
            .lock()
            .unwrap()
            .objects
            .get(key)
            .cloned()
            .expect("the object was just stored")
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

    /// The ConfigMaps a pod's volumes name, as they are now.
    fn config_maps_of(objects: &BTreeMap<Key, Value>, pod: &Value) -> BTreeMap<String, Value> {
        let ns = pod
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        pod.pointer("/spec/volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.pointer("/configMap/name").and_then(Value::as_str))
            .filter_map(|name| {
                let key = (
                    "v1".into(),
                    ns.to_string(),
                    "configmaps".into(),
                    name.to_string(),
                );
                objects.get(&key).map(|cm| (name.to_string(), cm.clone()))
            })
            .collect()
    }

    /// A chart module's pod that a client deleted comes back, as its Deployment's ReplicaSet
    /// makes it again: a new uid, the ConfigMaps mounted afresh, every container started anew
    /// and ready (the fake keeps the name so the fake KubeFATE's pod list stays true).
    fn replace_pod(&self, old: &Value) {
        if old.pointer("/metadata/labels/fateMoudle").is_none() {
            return;
        }
        let mut pod = old.clone();
        let meta = pod["metadata"].as_object_mut().unwrap();
        for k in ["uid", "resourceVersion", "deletionTimestamp"] {
            meta.remove(k);
        }
        for c in pod
            .pointer_mut("/status/containerStatuses")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            c["ready"] = json!(true);
            c["restartCount"] = json!(0);
            c["state"] = json!({"running": {"startedAt": "2026-12-03T00:00:00Z"}});
            c.as_object_mut().unwrap().remove("lastState");
        }
        pod["status"]["phase"] = json!("Running");
        self.put(pod);
    }

    /// The kubelet's periodic sync: every pod's ConfigMap volumes show the ConfigMaps as they
    /// are now (until then a pod sees them as they were when it started).
    pub fn sync_mounts(&self) {
        let mut s = self.store.lock().unwrap();
        let pods: Vec<(Key, Value)> = s
            .objects
            .iter()
            .filter(|(k, _)| k.2 == "pods")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, pod) in pods {
            let mounts = Self::config_maps_of(&s.objects, &pod);
            s.mounted.insert((k.1, k.3), mounts);
        }
    }

    /// Port forwards to `pod:port` in `ns` reach 127.0.0.1:`local` (a test's server).
    pub fn forward_to(&self, ns: &str, pod: &str, port: u16, local: u16) {
        self.store
            .lock()
            .unwrap()
            .forwards
            .insert((ns.to_string(), pod.to_string(), port), local);
    }

    /// The name of the pod of chart module `module` (its `fateMoudle` label) in `ns`.
    pub fn module_pod(&self, ns: &str, module: &str) -> String {
        self.objects()
            .into_iter()
            .find(|o| {
                o.pointer("/metadata/namespace") == Some(&json!(ns))
                    && o.pointer("/metadata/labels/fateMoudle") == Some(&json!(module))
            })
            .and_then(|o| o.pointer("/metadata/name")?.as_str().map(String::from))
            .unwrap_or_else(|| panic!("no {module} pod in {ns}"))
    }

    /// From inside any pod, `ip:port` reaches whatever listens on 127.0.0.1:`local` (a test's
    /// listener, or a closed port that refuses).
    pub fn dial_to(&self, ip: &str, port: u16, local: u16) {
        self.store
            .lock()
            .unwrap()
            .dials
            .insert((ip.to_string(), port), local);
    }

    /// Every change from now on, as the real service's informers would see it.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    pub fn requests(&self) -> Vec<String> {
        self.store.lock().unwrap().requests.clone()
    }

    fn served(&self) -> Vec<Resource> {
        let minor: u32 = self.version.1.trim_end_matches('+').parse().unwrap_or(99);
        RESOURCES
            .iter()
            .filter(|r| !(r.group == "networking.k8s.io" && r.version == "v1beta1" && minor >= 22))
            .filter(|r| !(r.group == "networking.k8s.io" && r.version == "v1" && minor < 19))
            .cloned()
            .collect()
    }

    fn resource(&self, gv: &str, plural: &str) -> Option<Resource> {
        self.served()
            .into_iter()
            .find(|r| r.group_version() == gv && r.plural == plural)
    }

    fn discovery(&self, path: &str) -> Option<Value> {
        let served = self.served();
        let resources = |gv: &str| -> Value {
            let list: Vec<Value> = served
                .iter()
                .filter(|r| r.group_version() == gv)
                .map(|r| json!({"name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
                                "kind": r.kind, "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}))
                .collect();
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list})
        };
        match path.trim_end_matches('/') {
            "/api" => Some(json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.addr.to_string()}]})),
            "/apis" => {
                let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for r in served.iter().filter(|r| !r.group.is_empty()) {
                    let versions = groups.entry(r.group).or_default();
                    if !versions.contains(&r.version) {
                        versions.push(r.version);
                    }
                }
                let list: Vec<Value> = groups
                    .iter()
                    .map(|(g, vs)| {
                        let versions: Vec<Value> =
                            vs.iter().map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v})).collect();
                        json!({"name": g, "versions": versions.clone(), "preferredVersion": versions[0]})
                    })
                    .collect();
                Some(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list}))
            }
            "/api/v1" => Some(resources("v1")),
            p => {
                let parts: Vec<&str> = p.trim_start_matches('/').split('/').collect();
                match parts.as_slice() {
                    ["apis", g, v] => {
                        let gv = format!("{g}/{v}");
                        served
                            .iter()
                            .any(|r| r.group_version() == gv)
                            .then(|| resources(&gv))
                    }
                    _ => None,
                }
            }
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let uri = req.uri().clone();
        let method = req.method().clone();
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        self.store
            .lock()
            .unwrap()
            .requests
            .push(format!("{method} {uri}"));
        match self.faults.take(method.as_str(), uri.path()) {
            Some(Fault::Status(code)) => {
                let status = StatusCode::from_u16(code).unwrap();
                return full(
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": "Internal error occurred: the fake was told to fail", "reason": "InternalError",
                           "code": code}),
                    status,
                );
            }
            Some(Fault::Reset) => return super::faults::reset(),
            Some(Fault::Stall | Fault::AnswerLost) => return super::faults::stall().await,
            None => {}
        }
        if uri.path() == "/version" {
            let (major, minor) = &self.version;
            return full(
                json!({"major": major, "minor": minor, "gitVersion": format!("v{major}.{minor}.0"), "platform": "linux/amd64"}),
                StatusCode::OK,
            );
        }
        if method == Method::GET
            && let Some(d) = self.discovery(uri.path())
        {
            return full(d, StatusCode::OK);
        }
        let Some((gv, ns, plural, name, sub)) = parse_path(uri.path()) else {
            return not_found("path", uri.path());
        };
        if gv == "v1" && plural == "services" && sub.first().map(String::as_str) == Some("proxy") {
            // The rest of the path as sent, trailing slash included (KubeFATE's routes depend on it).
            let rest = uri
                .path()
                .split_once("/proxy/")
                .map_or("", |(_, r)| r)
                .to_string();
            return self
                .proxy(req, &ns, name.as_deref().unwrap_or(""), &rest)
                .await;
        }
        if gv == "v1" && plural == "pods" && sub.first().map(String::as_str) == Some("portforward")
        {
            let name = name.unwrap_or_default();
            let Some(pod) = self.get("v1", "Pod", &ns, &name) else {
                return not_found("pods", &name);
            };
            let forwards = self.store.lock().unwrap().forwards.clone();
            return super::pod_exec::serve_portforward(req, &pod, move |port| {
                forwards.get(&(ns.clone(), name.clone(), port)).copied()
            });
        }
        if gv == "v1" && plural == "pods" && sub.first().map(String::as_str) == Some("exec") {
            let name = name.unwrap_or_default();
            let Some(pod) = self.get("v1", "Pod", &ns, &name) else {
                return not_found("pods", &name);
            };
            let (config_maps, dials) = {
                let s = self.store.lock().unwrap();
                let cms: BTreeMap<String, Value> = s
                    .objects
                    .iter()
                    .filter(|((gv, n, plural, _), _)| {
                        gv == "v1" && *n == ns && plural == "configmaps"
                    })
                    .map(|((_, _, _, name), o)| (name.clone(), o.clone()))
                    .collect();
                (cms, s.dials.clone())
            };
            let minor = self.version.1.trim_end_matches('+').parse().unwrap_or(99);
            let inside = pod.clone();
            return super::pod_exec::serve(req, &pod, minor, move |container, argv| {
                super::pod_exec::run(&inside, container, argv, &config_maps, &dials)
            });
        }
        let Some(resource) = self.resource(&gv, &plural) else {
            return not_found(
                &plural,
                &format!("the server could not find the requested resource ({gv} {plural})"),
            );
        };
        let q = query(&uri);
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if resource.kind == "SelfSubjectAccessReview" {
            return match method {
                Method::POST => self.access_review(&body),
                m => full(
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": format!("{m} is not supported on selfsubjectaccessreviews"), "reason": "MethodNotAllowed", "code": 405}),
                    StatusCode::METHOD_NOT_ALLOWED,
                ),
            };
        }
        match (method, name) {
            (Method::GET, Some(name)) if sub.first().map(String::as_str) == Some("log") => {
                let container = q.get("container").cloned().unwrap_or_default();
                let previous = q.get("previous").is_some_and(|v| v == "true");
                let text = self
                    .store
                    .lock()
                    .unwrap()
                    .logs
                    .get(&(ns, name.clone(), container.clone(), previous))
                    .cloned();
                let Some(text) = text.or_else(|| (!previous).then(String::new)) else {
                    // The kubelet keeps one earlier run; a container that never restarted has none.
                    return full(
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400, "reason": "BadRequest",
                               "message": format!("previous terminated container \"{container}\" in pod \"{name}\" not found")}),
                        StatusCode::BAD_REQUEST,
                    );
                };
                Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "text/plain")
                    .body(Full::new(Bytes::from(text)).boxed())
                    .unwrap()
            }
            (Method::GET, Some(name)) => {
                let key = (gv, ns, plural.clone(), name.clone());
                match self.store.lock().unwrap().objects.get(&key) {
                    Some(obj) => full(obj.clone(), StatusCode::OK),
                    None => not_found(&plural, &name),
                }
            }
            (Method::GET, None) if q.get("watch").is_some_and(|w| w == "true" || w == "1") => {
                self.watch_started.notify_waiters();
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
                    json!({"apiVersion": gv, "kind": format!("{}List", resource.kind), "metadata": {"resourceVersion": s.rv.to_string()}, "items": items}),
                    StatusCode::OK,
                )
            }
            (Method::POST, None) => {
                let Ok(mut obj) = serde_json::from_slice::<Value>(&body) else {
                    return bad_request("the body is not JSON");
                };
                if resource.namespaced && obj.pointer("/metadata/namespace").is_none() {
                    obj["metadata"]["namespace"] = json!(ns);
                }
                let key = Self::key_of(&obj);
                if self.store.lock().unwrap().objects.contains_key(&key) {
                    return full(
                        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": format!("{plural} \"{}\" already exists", key.3), "reason": "AlreadyExists",
                               "details": {"name": key.3, "kind": plural}, "code": 409}),
                        StatusCode::CONFLICT,
                    );
                }
                if resource.kind == "Namespace" {
                    obj["status"] = json!({"phase": "Active"});
                }
                self.put(obj);
                self.store
                    .lock()
                    .unwrap()
                    .made_by_requests
                    .insert(key.clone());
                full(self.stored(&key), StatusCode::CREATED)
            }
            (Method::PATCH, Some(name)) => {
                self.store
                    .lock()
                    .unwrap()
                    .patch_types
                    .push(content_type.clone());
                if content_type != "application/apply-patch+yaml" {
                    return full(
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": format!("the fake only takes server-side apply, not {content_type}"), "reason": "UnsupportedMediaType", "code": 415}),
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    );
                }
                let Some(manager) = q.get("fieldManager").cloned() else {
                    return bad_request(
                        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                    );
                };
                let Ok(mut patch) = serde_json::from_slice::<Value>(&body) else {
                    return bad_request("the apply body is not JSON (or YAML the fake can read)");
                };
                if resource.namespaced && patch.pointer("/metadata/namespace").is_none() {
                    patch["metadata"]["namespace"] = json!(ns);
                }
                let (obj, code) = self.apply(&resource, &name, patch, &manager);
                full(obj, code)
            }
            (Method::DELETE, Some(name)) => {
                let key = (gv.clone(), ns.clone(), plural.clone(), name.clone());
                let existing = self.store.lock().unwrap().objects.get(&key).cloned();
                let Some(mut obj) = existing else {
                    return not_found(&plural, &name);
                };
                if resource.kind == "Namespace"
                    && self.store.lock().unwrap().slow_namespace_deletion
                {
                    obj["metadata"]["deletionTimestamp"] = json!("2026-11-28T00:00:00Z");
                    obj["status"] = json!({"phase": "Terminating"});
                    self.put(obj.clone());
                    return full(
                        self.get(&gv, resource.kind, &ns, &name).unwrap(),
                        StatusCode::OK,
                    );
                }
                let wanted_uid = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|b| b.pointer("/preconditions/uid").cloned());
                if let Some(uid) = wanted_uid
                    && obj.pointer("/metadata/uid") != Some(&uid)
                {
                    return full(
                        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", obj["metadata"]["uid"]),
                               "reason": "Conflict", "details": {"name": name, "kind": plural}, "code": 409}),
                        StatusCode::CONFLICT,
                    );
                }
                self.delete(&gv, resource.kind, &ns, &name);
                if resource.kind == "Namespace" {
                    self.delete_contents(&name);
                }
                if resource.kind == "Pod" {
                    self.replace_pod(&obj);
                }
                full(obj, StatusCode::OK)
            }
            (m, _) => full(
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": format!("{m} is not supported by the fake"), "reason": "MethodNotAllowed", "code": 405}),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
        }
    }

    /// Server-side apply: create, or merge the applied fields over the live object. An apply that
    /// changes nothing returns the object untouched (same resourceVersion, no watch event).
    fn apply(
        &self,
        resource: &Resource,
        name: &str,
        mut patch: Value,
        manager: &str,
    ) -> (Value, StatusCode) {
        if patch.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
            return (
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "the name in the body does not match the URL", "reason": "BadRequest", "code": 400}),
                StatusCode::BAD_REQUEST,
            );
        }
        if resource.kind == "Secret" {
            string_data_to_data(&mut patch);
        }
        canonical_quantities(&mut patch);
        // The API server ignores a namespace given for a cluster-scoped object.
        if !resource.namespaced
            && let Some(m) = patch.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.remove("namespace");
        }
        let key = Self::key_of(&patch);
        let existing = self.store.lock().unwrap().objects.get(&key).cloned();
        match existing {
            None => {
                patch["metadata"]["managedFields"] =
                    json!([{"manager": manager, "operation": "Apply"}]);
                if resource.kind == "Namespace" {
                    patch["status"] = json!({"phase": "Active"});
                }
                if resource.kind == "Deployment"
                    && self.store.lock().unwrap().deployments_become_available
                {
                    patch["status"] = json!({"replicas": 1, "availableReplicas": 1, "readyReplicas": 1,
                        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]});
                }
                self.put(patch);
                self.store
                    .lock()
                    .unwrap()
                    .made_by_requests
                    .insert(key.clone());
                (self.stored(&key), StatusCode::CREATED)
            }
            Some(live) => {
                let mut merged = live.clone();
                merge(&mut merged, &patch);
                merged["metadata"]["managedFields"] =
                    json!([{"manager": manager, "operation": "Apply"}]);
                let strip = |v: &Value| {
                    let mut v = v.clone();
                    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove("resourceVersion");
                        m.remove("managedFields");
                    }
                    v
                };
                if strip(&merged) == strip(&live) {
                    return (live, StatusCode::OK);
                }
                self.put(merged);
                (self.stored(&key), StatusCode::OK)
            }
        }
    }

    fn delete_contents(&self, ns: &str) {
        let keys: Vec<Key> = self
            .store
            .lock()
            .unwrap()
            .objects
            .keys()
            .filter(|k| k.1 == ns)
            .cloned()
            .collect();
        for k in keys {
            let kind = self
                .store
                .lock()
                .unwrap()
                .objects
                .get(&k)
                .and_then(|o| o["kind"].as_str().map(String::from));
            if let Some(kind) = kind {
                self.delete(&k.0, &kind, &k.1, &k.3);
            }
        }
    }

    /// `kubectl delete namespace NS` with the namespace controller done: NS and all in it are gone.
    pub fn remove_namespace(&self, ns: &str) {
        self.delete_contents(ns);
        self.delete("v1", "Namespace", "", ns);
    }

    /// Lets every Terminating namespace go, as the namespace controller would.
    pub fn finish_deletions(&self) {
        let terminating: Vec<String> = self
            .store
            .lock()
            .unwrap()
            .objects
            .iter()
            .filter(|(k, v)| {
                k.2 == "namespaces" && v.pointer("/metadata/deletionTimestamp").is_some()
            })
            .map(|(k, _)| k.3.clone())
            .collect();
        for ns in terminating {
            self.delete_contents(&ns);
            self.delete("v1", "Namespace", "", &ns);
        }
    }

    /// The caller may not `verb` the `resource` (`pods`, `services/proxy`, ...): the authorizer's
    /// answer to a SelfSubjectAccessReview (the calls themselves are not refused by the fake).
    pub fn deny(&self, verb: &str, resource: &str) {
        self.store
            .lock()
            .unwrap()
            .denied
            .push((verb.into(), resource.into()));
    }

    /// `POST …/selfsubjectaccessreviews`: the review back with the authorizer's verdict, as the
    /// API server answers (201, nothing stored).
    fn access_review(&self, body: &[u8]) -> Response<Body> {
        let Ok(mut review) = serde_json::from_slice::<Value>(body) else {
            return bad_request("the body is not JSON");
        };
        let Some(attrs) = review.pointer("/spec/resourceAttributes").cloned() else {
            return bad_request("spec.resourceAttributes: Required value");
        };
        let field = |k: &str| attrs[k].as_str().unwrap_or_default().to_string();
        let resource = match field("subresource").as_str() {
            "" => field("resource"),
            sub => format!("{}/{sub}", field("resource")),
        };
        let verb = field("verb");
        let denied = self
            .store
            .lock()
            .unwrap()
            .denied
            .iter()
            .any(|(v, r)| *v == verb && *r == resource);
        review["status"] = if denied {
            json!({"allowed": false, "reason": ""})
        } else {
            json!({"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"fake-admin\""})
        };
        full(review, StatusCode::CREATED)
    }

    /// Acts as the deployment controller and kubelet: new Deployments report available at once.
    pub fn run_deployments(&self, on: bool) {
        self.store.lock().unwrap().deployments_become_available = on;
    }

    pub fn slow_namespace_deletion(&self, on: bool) {
        self.store.lock().unwrap().slow_namespace_deletion = on;
    }

    /// Resolves once a watch request arrives (a client is now listening for changes).
    pub fn watch_started(&self) -> tokio::sync::futures::Notified<'_> {
        self.watch_started.notified()
    }

    pub fn set_logs(&self, ns: &str, pod: &str, container: &str, text: &str) {
        self.store.lock().unwrap().logs.insert(
            (ns.into(), pod.into(), container.into(), false),
            text.into(),
        );
    }

    /// The log of the container's previous run (what `--previous` reads after a restart).
    pub fn set_previous_logs(&self, ns: &str, pod: &str, container: &str, text: &str) {
        self.store
            .lock()
            .unwrap()
            .logs
            .insert((ns.into(), pod.into(), container.into(), true), text.into());
    }

    /// Routes `services/NAME:PORT/proxy/...` in `ns` to `upstream` (an http:// base URL).
    pub fn route_service(&self, ns: &str, name: &str, port: u16, upstream: &str) {
        self.store.lock().unwrap().services.insert(
            (ns.into(), name.into(), port),
            upstream.trim_end_matches('/').into(),
        );
    }

    pub fn patch_content_types(&self) -> Vec<String> {
        self.store.lock().unwrap().patch_types.clone()
    }

    pub fn proxied_headers(&self) -> Vec<Vec<String>> {
        self.store.lock().unwrap().proxied_headers.clone()
    }

    pub fn objects(&self) -> Vec<Value> {
        self.store
            .lock()
            .unwrap()
            .objects
            .values()
            .cloned()
            .collect()
    }

    /// Every object that a client's request created and that still exists, as `Kind ns/name`.
    pub fn made_by_requests(&self) -> Vec<String> {
        let s = self.store.lock().unwrap();
        s.made_by_requests
            .iter()
            .filter_map(|k| s.objects.get(k))
            .map(|o| {
                let ns = o.pointer("/metadata/namespace").and_then(Value::as_str);
                let name = o
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                match ns {
                    Some(ns) => format!("{} {ns}/{name}", o["kind"].as_str().unwrap_or("?")),
                    None => format!("{} {name}", o["kind"].as_str().unwrap_or("?")),
                }
            })
            .collect()
    }

    /// The requests that could change something (not a GET, a watch, an access review, or a
    /// login through the service proxy), as "METHOD path".
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| {
                !r.starts_with("GET ")
                    && !r.contains("selfsubjectaccessreviews")
                    && !r.ends_with("/proxy/v1/user/login")
            })
            .collect()
    }

    pub fn resource_version(&self) -> u64 {
        self.store.lock().unwrap().rv
    }

    async fn proxy(
        &self,
        req: Request<Incoming>,
        ns: &str,
        name_port: &str,
        rest: &str,
    ) -> Response<Body> {
        let (name, port) = match name_port.rsplit_once(':') {
            Some((n, p)) => (n.to_string(), p.parse::<u16>().unwrap_or(0)),
            None => (name_port.to_string(), 80),
        };
        let upstream = self
            .store
            .lock()
            .unwrap()
            .services
            .get(&(ns.to_string(), name.clone(), port))
            .cloned();
        let Some(upstream) = upstream else {
            return full(
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "message": format!("no endpoints available for service \"{name}:{port}\""), "reason": "ServiceUnavailable", "code": 503}),
                StatusCode::SERVICE_UNAVAILABLE,
            );
        };
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let url = format!("{upstream}/{rest}{query}");
        let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        let mut seen = Vec::new();
        for (k, v) in req.headers() {
            // The API server authenticates the caller and drops its Authorization header.
            if k == hyper::header::AUTHORIZATION
                || k == hyper::header::HOST
                || k == hyper::header::CONTENT_LENGTH
            {
                continue;
            }
            seen.push(format!("{k}: {}", v.to_str().unwrap_or("")));
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()),
                reqwest::header::HeaderValue::from_bytes(v.as_bytes()),
            ) {
                headers.insert(name, value);
            }
        }
        self.store.lock().unwrap().proxied_headers.push(seen);
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        fatelab::clients::transport::ensure_crypto_provider();
        // The API server's proxy does not follow redirects: it passes them back with their
        // Location rewritten to go through the proxy again (apimachinery util/proxy
        // transport.go, rewriteURL: a same-host absolute path gets the proxy's path in front;
        // the incoming request's URL has no scheme or host, so none is added).
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = client
            .request(method, &url)
            .headers(headers)
            .body(body.to_vec())
            .send()
            .await;
        match resp {
            Ok(r) => {
                let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
                let mut answer = Response::builder().status(status);
                for (k, v) in r.headers() {
                    if k == reqwest::header::TRANSFER_ENCODING
                        || k == reqwest::header::CONNECTION
                        || k == reqwest::header::CONTENT_LENGTH
                    {
                        continue;
                    }
                    let value = v.to_str().unwrap_or_default();
                    if k == reqwest::header::LOCATION && value.starts_with('/') {
                        let through =
                            format!("/api/v1/namespaces/{ns}/services/{name_port}/proxy{value}");
                        answer = answer.header(k.as_str(), through);
                    } else {
                        answer = answer.header(k.as_str(), v.as_bytes());
                    }
                }
                let bytes = r.bytes().await.unwrap_or_default();
                answer.body(Full::new(bytes).boxed()).unwrap()
            }
            Err(e) => full(
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": format!("error trying to reach service: {e}"), "reason": "ServiceUnavailable", "code": 503}),
                StatusCode::SERVICE_UNAVAILABLE,
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

#[derive(Clone, Debug)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

impl Resource {
    fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const fn res(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> Resource {
    Resource {
        group,
        version,
        kind,
        plural,
        namespaced,
    }
}

/// What the fake serves (Ingress v1beta1 only up to 1.21, Ingress v1 from 1.19, as Kubernetes did).
const RESOURCES: &[Resource] = &[
    res("", "v1", "Namespace", "namespaces", false),
    res("", "v1", "Node", "nodes", false),
    res(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        false,
    ),
    res("", "v1", "Pod", "pods", true),
    res("", "v1", "Service", "services", true),
    res("", "v1", "ServiceAccount", "serviceaccounts", true),
    res("", "v1", "Secret", "secrets", true),
    res("", "v1", "ConfigMap", "configmaps", true),
    res("", "v1", "Event", "events", true),
    res(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    ),
    res("apps", "v1", "Deployment", "deployments", true),
    res("apps", "v1", "StatefulSet", "statefulsets", true),
    res(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    res(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    res("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    res(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    res("networking.k8s.io", "v1", "Ingress", "ingresses", true),
    res(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        false,
    ),
    res("networking.k8s.io", "v1beta1", "Ingress", "ingresses", true),
];

fn bad_request(message: &str) -> Response<Body> {
    full(
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": "BadRequest", "code": 400}),
        StatusCode::BAD_REQUEST,
    )
}

/// Maps merge key by key; anything else (lists, scalars) is replaced, as for fields one manager owns.
fn merge(live: &mut Value, applied: &Value) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                merge(l.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (l, a) => *l = a.clone(),
    }
}

/// The API server stores resource quantities in canonical form: a fractional CPU as millicores.
fn canonical_quantities(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if (k == "requests" || k == "limits")
                    && let Some(r) = child.as_object_mut()
                {
                    for q in r.values_mut() {
                        if let Some(f) = q.as_str().and_then(|s| s.parse::<f64>().ok())
                            && f.fract() != 0.0
                        {
                            *q = json!(format!("{}m", (f * 1000.0).round() as i64));
                        }
                    }
                } else {
                    canonical_quantities(child);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(canonical_quantities),
        _ => {}
    }
}

/// The API server stores a Secret's `stringData` base64-encoded under `data`.
fn string_data_to_data(secret: &mut Value) {
    use base64::Engine;
    let Some(Value::Object(sd)) = secret.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    let data = secret["data"].as_object().cloned().unwrap_or_default();
    let mut data = data;
    for (k, v) in sd {
        let text = v.as_str().unwrap_or_default();
        data.insert(
            k,
            json!(base64::engine::general_purpose::STANDARD.encode(text)),
        );
    }
    secret["data"] = Value::Object(data);
}

/// Resource names of the kinds fatelab touches (the API's lowercase plural).
pub fn plural_of(kind: &str) -> String {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind)
        .map(|r| r.plural.to_string())
        .unwrap_or_else(|| format!("{}s", kind.to_lowercase()))
}

/// A Deployment as its controller reports it: available or not.
/// A node as the kubelet reports it: its InternalIP, Ready or not.
pub fn node(name: &str, internal_ip: &str, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": format!("uid-{name}")},
           "status": {"addresses": [{"type": "InternalIP", "address": internal_ip}, {"type": "Hostname", "address": name}],
                      "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "reason": "KubeletReady"}]}})
}

/// An IngressClass, the cluster's default one when `default`.
pub fn ingress_class(name: &str, default: bool) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
           "metadata": {"name": name, "annotations": {"ingressclass.kubernetes.io/is-default-class": default.to_string()}},
           "spec": {"controller": "k8s.io/ingress-nginx"}})
}

/// One kubeconfig whose contexts are the given servers (`(context, server)`), the first current.
pub fn write_kubeconfig_contexts(path: &Path, servers: &[(&str, &FakeKube)]) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut clusters = String::new();
    let mut contexts = String::new();
    let mut users = String::new();
    for (name, kube) in servers {
        clusters.push_str(&format!(
            "- cluster:\n    server: {}\n  name: {name}\n",
            kube.url()
        ));
        contexts.push_str(&format!(
            "- context:\n    cluster: {name}\n    user: {name}-admin\n  name: {name}\n"
        ));
        users.push_str(&format!(
            "- name: {name}-admin\n  user:\n    token: fake-{name}\n"
        ));
    }
    std::fs::write(
        path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n{clusters}contexts:\n{contexts}current-context: {}\nusers:\n{users}",
            servers[0].0
        ),
    )
    .unwrap();
}

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
