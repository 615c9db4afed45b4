//! A fake FATE-Serving beside each party, written from shared/reference/serving.md §2.3-2.6 and
//! FATE-Serving v2.0.x (`ModelManager`: load, bind, "serviceId is not bind model"; the proxy's
//! `/federation/v1/inference` and its "can not find router info"; `MockAdapter`'s constant host
//! features). FATE Flow reaches a party's serving-server at its servings address only when that
//! address is the serving-server Service's NodePort and the pod runs (else gRPC's UNAVAILABLE);
//! the guest's serving-proxy is reached through the fake API server's service proxy, routes to a
//! host only when its route table (ConfigMap `serving-proxy-config`) names it, and asks the host
//! for its features with the adaptor its ConfigMap `serving-server-config` names. Models and
//! bindings live in the pod: [`FakeServing::restart`] forgets them (KubeFATE#704).
//!
//! The model: a trained job's logistic regression, its weights a function of the job ID (so a
//! wrong model scores differently) and of each feature's name (so a wrong row does too).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use serde_json::{Value, json};

use super::fake_fateflow::{FakeFateFlow, reply};
use super::fake_kube::FakeKube;
use super::fake_kubefate::FakeKubeFate;

/// What FATE-Serving's MockAdapter answers for any id (FATE-Serving@v2.1.7 MockAdapter.java).
pub const MOCK_FEATURES: [(&str, f64); 11] = [
    ("x0", 1.0),
    ("x1", 5.0),
    ("x2", 13.0),
    ("x3", 58.0),
    ("x4", 95.0),
    ("x5", 352.0),
    ("x6", 418.0),
    ("x7", 833.0),
    ("x8", 888.0),
    ("x9", 937.0),
    ("x10", 32776.0),
];

fn unit(seed: &str) -> f64 {
    // FNV-1a: a fixed spread of weights in [-0.5, 0.5), the same in every run.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    (h % 10_000) as f64 / 10_000.0 - 0.5
}

/// The score the model trained by `job` gives a row: the guest's features and the host's.
pub fn lr_score(job: &str, guest: &BTreeMap<String, f64>, host: &BTreeMap<String, f64>) -> f64 {
    let side = |who: &str, xs: &BTreeMap<String, f64>| -> f64 {
        xs.iter()
            .map(|(k, v)| unit(&format!("{job}/{who}/{k}")) * v)
            .sum()
    };
    let z = unit(&format!("{job}/intercept")) + side("guest", guest) + side("host", host);
    1.0 / (1.0 + (-z).exp())
}

/// One party's serving-server: what it loaded (model version → the training job whose weights
/// it holds) and bound (service id → model version).
#[derive(Default, Clone)]
struct Server {
    loaded: BTreeMap<String, String>,
    bound: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    servers: BTreeMap<u32, Server>,
    flows: BTreeMap<u32, FakeFateFlow>,
    inferences: Vec<Value>,
}

#[derive(Clone)]
pub struct FakeServing {
    state: Arc<Mutex<State>>,
    kube: FakeKube,
}

impl FakeServing {
    /// FATE-Serving for each party of `flows` (party → its FATE Flow): each FATE Flow reads its
    /// servings address from its cluster's spec in `kubefate` (servingIp:servingPort, as
    /// KubeFATE renders it into FATE Flow's service_conf.yaml), and each serving-proxy answers
    /// behind the API server's service proxy at `fate-serving-<party>/serving-proxy:8059`.
    pub async fn start(
        kube: &FakeKube,
        kubefate: &FakeKubeFate,
        flows: &[(u32, &FakeFateFlow)],
    ) -> FakeServing {
        let serving = FakeServing {
            state: Arc::new(Mutex::new(State::default())),
            kube: kube.clone(),
        };
        for &(party, flow) in flows {
            serving
                .state
                .lock()
                .unwrap()
                .flows
                .insert(party, flow.clone());
            let kubefate = kubefate.clone();
            flow.attach_serving(
                party,
                serving.clone(),
                Arc::new(move || servings_of(&kubefate, party)),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            super::serve(listener, (serving.clone(), party), |(s, p), req| {
                Box::pin(async move { s.proxy(p, req).await })
            });
            kube.route_service(
                &format!("fate-serving-{party}"),
                "serving-proxy",
                8059,
                &url,
            );
        }
        serving
    }

    /// The party's serving-server pod restarted: its models and bindings are gone.
    pub fn restart(&self, party: u32) {
        self.state.lock().unwrap().servers.remove(&party);
    }

    /// The service ids bound at the party's serving-server, each with its model version.
    pub fn bound(&self, party: u32) -> BTreeMap<String, String> {
        self.state
            .lock()
            .unwrap()
            .servers
            .get(&party)
            .map(|s| s.bound.clone())
            .unwrap_or_default()
    }

    /// Every inference request the serving-proxies received.
    pub fn inferences(&self) -> Vec<Value> {
        self.state.lock().unwrap().inferences.clone()
    }

    /// Whether FATE Flow reaches the party's serving-server at `address` (gRPC): the address's
    /// port is the serving-server Service's NodePort and its pod runs. Else the error the Python
    /// gRPC client raises, as FATE Flow's error handler words it.
    pub fn reach(&self, party: u32, address: &str) -> Result<(), String> {
        let ns = format!("fate-serving-{party}");
        let port = address
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u64>().ok());
        let node_port = self
            .kube
            .get("v1", "Service", &ns, "serving-server")
            .and_then(|s| s.pointer("/spec/ports/0/nodePort").and_then(Value::as_u64));
        let running = self.kube.objects().iter().any(|o| {
            o["kind"] == "Pod"
                && o.pointer("/metadata/namespace") == Some(&Value::from(ns.clone()))
                && o.pointer("/metadata/labels/fateMoudle") == Some(&Value::from("serving-server"))
                && o.pointer("/status/phase") == Some(&Value::from("Running"))
        });
        if port.is_some() && port == node_port && running {
            return Ok(());
        }
        Err(format!(
            "<_InactiveRpcError of RPC that terminated with:\n\tstatus = StatusCode.UNAVAILABLE\n\t\
             details = \"failed to connect to all addresses\"\n\tdebug_error_string = \
             \"{{\"description\":\"Failed to pick subchannel\",\"target\":\"{address}\"}}\"\n>"
        ))
    }

    /// publishLoad: serving-server pulls the model from FATE Flow and keeps it.
    pub fn load(&self, party: u32, model_version: &str, trained_by: &str) {
        self.state
            .lock()
            .unwrap()
            .servers
            .entry(party)
            .or_default()
            .loaded
            .insert(model_version.into(), trained_by.into());
    }

    /// publishBind: (0, "") or FATE-Serving's status code and message.
    pub fn bind(&self, party: u32, service_id: &str, model_version: &str) -> (i64, String) {
        let mut s = self.state.lock().unwrap();
        let server = s.servers.entry(party).or_default();
        if !server.loaded.contains_key(model_version) {
            return (104, format!("model {model_version} is not exist "));
        }
        server.bound.insert(service_id.into(), model_version.into());
        (0, String::new())
    }

    fn route_table(&self, party: u32) -> Value {
        self.kube
            .get(
                "v1",
                "ConfigMap",
                &format!("fate-serving-{party}"),
                "serving-proxy-config",
            )
            .and_then(|cm| cm["data"]["route_table.json"].as_str().map(String::from))
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    fn adaptor(&self, party: u32) -> String {
        self.kube
            .get(
                "v1",
                "ConfigMap",
                &format!("fate-serving-{party}"),
                "serving-server-config",
            )
            .and_then(|cm| {
                cm["data"]["serving-server.properties"]
                    .as_str()
                    .map(String::from)
            })
            .and_then(|p| {
                p.lines()
                    .find_map(|l| l.strip_prefix("feature.single.adaptor=").map(String::from))
            })
            .unwrap_or_default()
    }

    /// The guest's serving-proxy: `/federation/v1/inference` through its serving-server, which
    /// asks each host (through the proxies' route tables) for its part of the score.
    async fn proxy(
        &self,
        party: u32,
        req: Request<hyper::body::Incoming>,
    ) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let raw = req.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        if path != "/federation/v1/inference" {
            return reply(json!({"retcode": 122, "retmsg": "SERVICE_NOT_FOUND"}));
        }
        self.state.lock().unwrap().inferences.push(body.clone());
        reply(self.infer(party, &body))
    }

    fn infer(&self, guest: u32, body: &Value) -> Value {
        let service_id = body.pointer("/head/serviceId").and_then(Value::as_str);
        let (version, job, flow) = {
            let s = self.state.lock().unwrap();
            let version = service_id.and_then(|id| {
                s.servers
                    .get(&guest)
                    .and_then(|srv| srv.bound.get(id).cloned())
            });
            let Some(version) = version else {
                return json!({"retcode": 104, "retmsg": "serviceId is not bind model", "flag": 0});
            };
            let job = s.servers[&guest].loaded[&version].clone();
            (version, job, s.flows.get(&guest).cloned())
        };
        let Some(flow) = flow else {
            return json!({"retcode": 104, "retmsg": "serviceId is not bind model", "flag": 0});
        };
        let features = |v: Option<&Value>| -> BTreeMap<String, f64> {
            v.and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| {
                            let x = v.as_f64().or_else(|| v.as_str()?.parse().ok())?;
                            Some((k.clone(), x))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let guest_features = features(body.pointer("/body/featureData"));
        let id = body
            .pointer("/body/sendToRemoteFeatureData/id")
            .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
            .unwrap_or_default();
        let mut host_features = BTreeMap::new();
        for host in flow.job_hosts(&job) {
            if self.route_table(guest)["route_table"][host.to_string()].is_null() {
                return json!({"retcode": 128, "retmsg": "serving-proxy can not find router info ", "flag": 0});
            }
            let host_has_model = self
                .state
                .lock()
                .unwrap()
                .servers
                .get(&host)
                .is_some_and(|s| s.loaded.contains_key(&version));
            if !host_has_model {
                return json!({"retcode": 104, "retmsg": "host model is null", "flag": 0});
            }
            if self.adaptor(host).ends_with(".MockAdapter") {
                host_features.extend(MOCK_FEATURES.iter().map(|(k, v)| (k.to_string(), *v)));
            } else {
                match flow.host_row(&job, &id) {
                    Some(row) => host_features.extend(row),
                    None => {
                        return json!({"retcode": 113, "retmsg": format!("host feature of id {id} does not exist"), "flag": 0});
                    }
                }
            }
        }
        let score = lr_score(&job, &guest_features, &host_features);
        json!({"retcode": 0, "retmsg": "", "flag": 0, "data": {
            "score": score, "modelId": flow.job_model_id(&job), "modelVersion": version,
            "timestamp": 1796306787000u64}})
    }
}

/// A party's FATE Flow servings: its FATE cluster's servingIp:servingPort in KubeFATE.
fn servings_of(kubefate: &FakeKubeFate, party: u32) -> Vec<String> {
    let name = format!("fate-{party}");
    kubefate
        .clusters()
        .iter()
        .find(|c| c["name"] == name.as_str() && c["chart_name"] != "fate-serving")
        .and_then(|c| {
            let spec = &c["Spec"];
            let ip = spec["servingIp"].as_str()?;
            let port = spec["servingPort"].as_u64()?;
            Some(vec![format!("{ip}:{port}")])
        })
        .unwrap_or_default()
}
