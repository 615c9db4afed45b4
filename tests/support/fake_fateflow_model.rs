//! The fake FATE Flow's model publishing (FATE@v1.6.0 `python/fate_flow/apps/model_app.py`:
//! deploy, load fanned out to each party's `/model/load/do`, bind; `pipelined_model/
//! publish_model.py`: "Please configure servings address"; a gRPC failure reaches the caller
//! through the 500 handler as retcode 100) and a training job's output data
//! (`apps/tracking_app.py`: one page of at most 100 rows, `meta.header`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::super::fake_serving::{FakeServing, lr_score};
use super::{FakeFateFlow, Servings, State, reply};

type Reply = hyper::Response<http_body_util::Full<bytes::Bytes>>;

/// A table as rows: its header and, per row, its cells.
fn rows(csv: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_string())
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(|c| c.trim().to_string()).collect())
        .collect();
    (header, rows)
}

fn table_of(conf: &Value, role: &str) -> Option<(String, String)> {
    let t = conf.pointer(&format!(
        "/component_parameters/role/{role}/0/reader_0/table"
    ))?;
    Some((t["namespace"].as_str()?.into(), t["name"].as_str()?.into()))
}

/// FATE Flow's model ID for a job's roles: `role-parties` joined by `#`, roles sorted, then
/// `#model` (FATE@v1.6.0 model_utils.gen_model_id).
fn model_id(roles: &Value) -> String {
    let mut keys: Vec<String> = roles
        .as_object()
        .into_iter()
        .flatten()
        .map(|(role, parties)| {
            let mut ps: Vec<String> = parties
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p.to_string())
                .collect();
            ps.sort();
            ps.dedup();
            format!("{role}-{}", ps.join("_"))
        })
        .collect();
    keys.sort();
    keys.push("model".into());
    keys.join("#")
}

impl FakeFateFlow {
    /// FATE-Serving beside this server's `party`, reached at the address `servings` gives.
    pub fn attach_serving(&self, party: u32, serving: FakeServing, servings: Servings) {
        let mut s = self.state.lock().unwrap();
        s.party = party;
        s.serving = Some((serving, servings));
    }

    /// This FATE Flow's service_conf.yaml loses its `servings` (KubeFATE#415).
    pub fn forget_servings(&self) {
        if let Some((_, servings)) = &mut self.state.lock().unwrap().serving {
            *servings = Arc::new(Vec::new);
        }
    }

    /// FATE Flow's database made anew: no deployed version is known, here or at the peers.
    pub fn forget_deployments(&self) {
        let s = self.state.lock().unwrap();
        for peer in &s.peers {
            peer.lock().unwrap().deployed.clear();
        }
        drop(s);
        self.state.lock().unwrap().deployed.clear();
    }

    fn conf(&self, job: &str) -> Value {
        self.state
            .lock()
            .unwrap()
            .jobs
            .get(job)
            .map(|j| j.conf.clone())
            .unwrap_or(Value::Null)
    }

    /// The job's runtime conf on this party with its common job parameters, as the job query's
    /// `f_runtime_conf_on_party` holds it (v1 training jobs).
    pub(super) fn conf_on_party(&self, job: &str) -> Option<Value> {
        let mut conf = self.conf(job);
        if conf.is_null() {
            return None;
        }
        let mut parameters = conf
            .pointer("/job_parameters/common")
            .cloned()
            .unwrap_or(json!({}));
        parameters["model_id"] = model_id(&conf["role"]).into();
        parameters["model_version"] = job.into();
        conf["job_parameters"] = parameters;
        Some(conf)
    }

    pub fn job_hosts(&self, job: &str) -> Vec<u32> {
        self.conf(job)
            .pointer("/role/host")
            .and_then(Value::as_array)
            .map(|hs| {
                hs.iter()
                    .filter_map(|h| h.as_u64())
                    .map(|h| h as u32)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn job_model_id(&self, job: &str) -> String {
        model_id(&self.conf(job)["role"])
    }

    /// The CSV of a table uploaded here or at a federated peer.
    fn csv(&self, key: &(String, String)) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.csv.get(key).cloned().or_else(|| {
            s.peers
                .iter()
                .find_map(|p| p.lock().unwrap().csv.get(key).cloned())
        })
    }

    /// The features of row `id` of a role's table in the job, by column name.
    fn features(&self, job: &str, role: &str, id: &str) -> Option<BTreeMap<String, f64>> {
        let (header, rows) = rows(&self.csv(&table_of(&self.conf(job), role)?)?);
        let row = rows
            .iter()
            .find(|r| r.first().map(String::as_str) == Some(id))?;
        Some(
            header
                .iter()
                .zip(row)
                .filter(|(h, _)| h.starts_with('x'))
                .filter_map(|(h, v)| Some((h.clone(), v.parse().ok()?)))
                .collect(),
        )
    }

    /// The host's real features of row `id` (what a real adaptor would answer).
    pub fn host_row(&self, job: &str, id: &str) -> Option<BTreeMap<String, f64>> {
        self.features(job, "host", id)
    }

    /// The guest's rows that the host has too, with the trained model's score for each.
    fn predictions(&self, job: &str) -> Vec<(String, String, f64)> {
        let conf = self.conf(job);
        let Some(guest) = table_of(&conf, "guest").and_then(|t| self.csv(&t)) else {
            return vec![];
        };
        let (header, rows) = rows(&guest);
        let label = header.iter().position(|h| h == "y");
        rows.iter()
            .filter_map(|r| {
                let id = r.first()?.clone();
                let host = self.host_row(job, &id)?;
                let mine = self.features(job, "guest", &id)?;
                let y = label.and_then(|i| r.get(i).cloned()).unwrap_or_default();
                Some((id, y, lr_score(job, &mine, &host)))
            })
            .collect()
    }

    pub(super) fn output_data(&self, body: &Value) -> Reply {
        let job = body["job_id"].as_str().unwrap_or_default();
        let component = body["component_name"].as_str().unwrap_or_default();
        let guest = body["role"] == "guest";
        let no_data = || reply(json!({"retcode": 0, "retmsg": "no data", "data": []}));
        if !guest || self.conf(job).is_null() {
            return no_data();
        }
        if component == "dataio_0" {
            let Some(csv) = table_of(&self.conf(job), "guest").and_then(|t| self.csv(&t)) else {
                return no_data();
            };
            let (header, rows) = rows(&csv);
            let total = rows.len();
            let page: Vec<Value> = rows
                .into_iter()
                .take(100)
                .map(|r| {
                    let mut line = vec![Value::from(r[0].clone())];
                    line.extend(r[1..].iter().map(|v| {
                        v.parse::<f64>()
                            .map_or_else(|_| Value::from(v.clone()), Value::from)
                    }));
                    Value::Array(line)
                })
                .collect();
            return reply(json!({"retcode": 0, "retmsg": "success", "data": [page],
                "meta": {"header": [header], "total": [total], "names": ["data"]}}));
        }
        if self.job_model(job).as_deref() != Some(component) {
            return no_data();
        }
        let all = self.predictions(job);
        let page: Vec<Value> = all
            .iter()
            .take(100)
            .map(|(id, y, p)| {
                let label: i64 = y.parse().unwrap_or(0);
                json!([id, label, i64::from(*p > 0.5), p, {"0": 1.0 - p, "1": p}, "train"])
            })
            .collect();
        reply(json!({"retcode": 0, "retmsg": "success", "data": [page],
            "meta": {"header": [["id", "label", "predict_result", "predict_score", "predict_detail", "type"]],
                     "total": [all.len()], "names": ["train"]}}))
    }

    /// A job FATE Flow makes and finishes at once (a deploy's child version, a load's job id).
    fn finished_job(&self) -> String {
        self.add_job(super::Job {
            n: 0,
            statuses: vec!["success".into()],
            tasks: vec![None],
            model: None,
            error: None,
            conf: Value::Null,
        })
    }

    fn trained(&self, model_id: &str, version: &str) -> bool {
        let s = self.state.lock().unwrap();
        s.jobs.get(version).is_some_and(|j| {
            j.model.is_some()
                && j.n as usize >= j.statuses.len()
                && j.statuses.last().map(String::as_str) == Some("success")
                && self::model_id(&j.conf["role"]) == model_id
        })
    }

    pub(super) fn deploy(&self, body: &Value) -> Reply {
        let (Some(mid), Some(version)) =
            (body["model_id"].as_str(), body["model_version"].as_str())
        else {
            return reply(
                json!({"retcode": 100, "retmsg": "required parameters are missing: model_id, model_version"}),
            );
        };
        if !self.trained(mid, version) {
            return reply(json!({"retcode": 100,
                "retmsg": format!("Deploy model failed, no model {mid} {version} found.")}));
        }
        let child = self.finished_job();
        let roles = self.conf(version)["role"].clone();
        let mut detail = serde_json::Map::new();
        let mut codes = serde_json::Map::new();
        {
            let s = self.state.lock().unwrap();
            for peer in &s.peers {
                peer.lock()
                    .unwrap()
                    .deployed
                    .insert(child.clone(), version.into());
            }
        }
        self.state
            .lock()
            .unwrap()
            .deployed
            .insert(child.clone(), version.into());
        for (role, parties) in roles.as_object().into_iter().flatten() {
            let mut d = serde_json::Map::new();
            let mut c = serde_json::Map::new();
            for p in parties.as_array().into_iter().flatten() {
                d.insert(p.to_string(), json!({"retcode": 0, "retmsg": format!("deploy model of role {role} {p} success")}));
                c.insert(p.to_string(), 0.into());
            }
            detail.insert(role.clone(), d.into());
            codes.insert(role.clone(), c.into());
        }
        let mut data = Value::Object(codes);
        data["detail"] = detail.into();
        data["model_id"] = mid.into();
        data["model_version"] = child.into();
        reply(json!({"retcode": 0, "retmsg": "success", "data": data}))
    }

    /// The state of the party's FATE Flow: this one or a federated peer.
    fn party_state(&self, party: u32) -> Option<Arc<Mutex<State>>> {
        let s = self.state.lock().unwrap();
        if s.party == party {
            return Some(self.state.clone());
        }
        s.peers
            .iter()
            .find(|p| p.lock().unwrap().party == party)
            .cloned()
    }

    /// `/model/load/do` on a party: (retcode, retmsg).
    fn load_do(&self, party: u32, version: &str) -> (i64, String) {
        let Some(state) = self.party_state(party) else {
            return (100, format!("federated error: party {party} not reachable"));
        };
        let (job, serving) = {
            let s = state.lock().unwrap();
            let job = s.deployed.get(version).cloned();
            (job, s.serving.clone())
        };
        let Some(job) = job else {
            return (
                100,
                "Only deployed models could be used to execute process of loading. \
                Please deploy model before loading."
                    .into(),
            );
        };
        let Some((serving, servings)) = serving else {
            return (100, "Please configure servings address".into());
        };
        let addresses = servings();
        if addresses.is_empty() {
            return (100, "Please configure servings address".into());
        }
        for address in &addresses {
            if let Err(e) = serving.reach(party, address) {
                return (100, e);
            }
            serving.load(party, version, &job);
        }
        (0, "success".into())
    }

    pub(super) fn load(&self, body: &Value) -> Reply {
        let version = body
            .pointer("/job_parameters/model_version")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut ok = true;
        let mut data = serde_json::Map::new();
        let mut detail = serde_json::Map::new();
        for (role, parties) in body["role"].as_object().into_iter().flatten() {
            if role == "arbiter" {
                continue;
            }
            let mut codes = serde_json::Map::new();
            let mut d = serde_json::Map::new();
            for p in parties.as_array().into_iter().flatten() {
                let party = p
                    .as_u64()
                    .or_else(|| p.as_str()?.parse().ok())
                    .unwrap_or_default() as u32;
                let (code, msg) = self.load_do(party, &version);
                ok &= code == 0;
                codes.insert(party.to_string(), code.into());
                d.insert(party.to_string(), json!({"retcode": code, "retmsg": msg}));
            }
            data.insert(role.clone(), codes.into());
            detail.insert(role.clone(), d.into());
        }
        data.insert("detail".into(), detail.into());
        let id = self.finished_job();
        reply(
            json!({"retcode": if ok { 0 } else { 101 }, "retmsg": if ok { "success" } else { "failed" },
            "jobId": id, "data": data}),
        )
    }

    pub(super) fn bind(&self, body: &Value) -> Reply {
        let Some(service_id) = body["service_id"].as_str().filter(|s| !s.is_empty()) else {
            return reply(json!({"retcode": 101, "retmsg": "no service id"}));
        };
        let version = body
            .pointer("/job_parameters/model_version")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (party, serving) = {
            let s = self.state.lock().unwrap();
            (s.party, s.serving.clone())
        };
        let addresses = serving.as_ref().map(|(_, f)| f()).unwrap_or_default();
        let Some((serving, _)) = serving.filter(|_| !addresses.is_empty()) else {
            return reply(json!({"retcode": 100, "retmsg": "Please configure servings address"}));
        };
        for address in &addresses {
            if let Err(e) = serving.reach(party, address) {
                return reply(json!({"retcode": 100, "retmsg": e}));
            }
            let (code, msg) = serving.bind(party, service_id, version);
            if code != 0 {
                return reply(json!({"retcode": code, "retmsg": msg}));
            }
        }
        reply(json!({"retcode": 0, "retmsg": format!("service id is {service_id}")}))
    }
}
