//! Publishing a trained model to FATE-Serving through FATE Flow 1.x: what a job's model is
//! called, deploying a DSL v2 job's model (a new model version), loading it into every party's
//! serving-server and binding it to a service id; and a page of a component's output data (the
//! offline scores, the guest's rows). Facts: shared/reference/serving.md §2.3, FATE@v1.6.0
//! `python/fate_flow/apps/model_app.py` and `apps/tracking_app.py`.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use http::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::FateFlow;

/// A training job's model, as FATE Flow names it on the guest.
#[derive(Debug, Clone, PartialEq)]
pub struct JobModel {
    pub status: String,
    pub model_id: String,
    pub model_version: String,
    /// DSL v2 jobs' models must be deployed before they can be loaded.
    pub dsl_version: u32,
    /// Role → party IDs.
    pub roles: BTreeMap<String, Vec<u32>>,
}

/// What load and bind name: who asks, which parties, which model.
#[derive(Debug, Clone, Serialize)]
pub struct Publish {
    pub initiator: Initiator,
    pub role: BTreeMap<String, Vec<u32>>,
    pub job_parameters: PublishParameters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Initiator {
    pub party_id: u32,
    pub role: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishParameters {
    pub model_id: String,
    pub model_version: String,
    /// 1: a cluster (KubeFATE's), so FATE Flow fans the load out to the other parties.
    pub work_mode: u32,
}

impl Publish {
    pub fn new(
        guest: u32,
        roles: &BTreeMap<String, Vec<u32>>,
        model_id: &str,
        version: &str,
    ) -> Self {
        Publish {
            initiator: Initiator {
                party_id: guest,
                role: "guest".into(),
            },
            role: roles.clone(),
            job_parameters: PublishParameters {
                model_id: model_id.into(),
                model_version: version.into(),
                work_mode: 1,
            },
            service_id: None,
        }
    }
}

/// One party's answer to a load.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyAnswer {
    pub role: String,
    pub party: u32,
    pub retcode: i64,
    pub retmsg: String,
}

/// FATE Flow's answer: its code and words.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub retcode: i64,
    pub retmsg: String,
}

/// One page of a component's output: column names and rows (the first cell is the row's id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputPage {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl OutputPage {
    /// A cell of a row by column name.
    pub fn cell<'a>(&self, row: &'a [Value], column: &str) -> Option<&'a Value> {
        let i = self.header.iter().position(|h| h == column)?;
        row.get(i)
    }

    /// A row's id, as text.
    pub fn id(row: &[Value]) -> Option<String> {
        match row.first()? {
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

fn parties(v: &Value) -> BTreeMap<String, Vec<u32>> {
    v.as_object()
        .into_iter()
        .flatten()
        .map(|(role, ps)| {
            let ids = ps
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_u64().or_else(|| p.as_str()?.parse().ok()))
                .map(|p| p as u32)
                .collect();
            (role.clone(), ids)
        })
        .collect()
}

impl FateFlow {
    /// The model a job trained, as the guest's FATE Flow holds it (`None`: no such job).
    pub async fn job_model(&self, job_id: &str, guest: u32) -> Result<Option<JobModel>> {
        let body = json!({"job_id": job_id, "role": "guest", "party_id": guest});
        let v = self
            .call(Method::POST, "/v1/job/query", Some(&body))
            .await?;
        let v = self.accepted(v, &format!("a query of job {job_id}"))?;
        let Some(row) = v.pointer("/data/0") else {
            return Ok(None);
        };
        let conf = &row["f_runtime_conf_on_party"];
        let text = |p: &str| conf.pointer(p).and_then(Value::as_str).map(String::from);
        Ok(Some(JobModel {
            status: row["f_status"].as_str().unwrap_or_default().to_string(),
            model_id: text("/job_parameters/model_id").with_context(|| {
                format!("FATE Flow {} names no model for job {job_id}", self.named)
            })?,
            model_version: text("/job_parameters/model_version")
                .unwrap_or_else(|| job_id.to_string()),
            dsl_version: conf["dsl_version"].as_u64().unwrap_or(1) as u32,
            roles: parties(if row["f_roles"].is_object() {
                &row["f_roles"]
            } else {
                &conf["role"]
            }),
        }))
    }

    /// `/v1/model/deploy`: a DSL v2 job's model made ready to serve; returns the new version.
    pub async fn deploy_model(&self, model_id: &str, version: &str) -> Result<String> {
        let body = json!({"model_id": model_id, "model_version": version});
        let v = self
            .call(Method::POST, "/v1/model/deploy", Some(&body))
            .await?;
        let v = self.accepted(v, &format!("deploying model {model_id} {version}"))?;
        v.pointer("/data/model_version")
            .and_then(Value::as_str)
            .map(String::from)
            .context("FATE Flow deployed the model but named no new model version")
    }

    /// `/v1/model/load`: every party's answer (arbiters are not asked).
    pub async fn load_model(&self, publish: &Publish) -> Result<(Answer, Vec<PartyAnswer>)> {
        let v = self
            .call(
                Method::POST,
                "/v1/model/load",
                Some(&serde_json::to_value(publish)?),
            )
            .await?;
        let (retcode, retmsg) = self.envelope(&v);
        let mut answers = Vec::new();
        for (role, ps) in v
            .pointer("/data/detail")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for (party, a) in ps.as_object().into_iter().flatten() {
                answers.push(PartyAnswer {
                    role: role.clone(),
                    party: party.parse().unwrap_or_default(),
                    retcode: a["retcode"].as_i64().unwrap_or(-1),
                    retmsg: a["retmsg"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
        Ok((Answer { retcode, retmsg }, answers))
    }

    /// `/v1/model/bind`: the model bound to `publish.service_id` at the initiator's serving.
    pub async fn bind_model(&self, publish: &Publish) -> Result<Answer> {
        if publish.service_id.is_none() {
            bail!("a bind needs a service id");
        }
        let v = self
            .call(
                Method::POST,
                "/v1/model/bind",
                Some(&serde_json::to_value(publish)?),
            )
            .await?;
        let (retcode, retmsg) = self.envelope(&v);
        Ok(Answer { retcode, retmsg })
    }

    /// The first page of a component's output data on a party (FATE Flow returns at most 100
    /// rows); empty when it has none.
    pub async fn output_page(
        &self,
        job_id: &str,
        role: &str,
        party: u32,
        component: &str,
    ) -> Result<OutputPage> {
        let body =
            json!({"job_id": job_id, "role": role, "party_id": party, "component_name": component});
        let v = self
            .call(
                Method::POST,
                "/v1/tracking/component/output/data",
                Some(&body),
            )
            .await?;
        let v = self.accepted(v, &format!("the output of {component} in job {job_id}"))?;
        let rows: Vec<Vec<Value>> = v
            .pointer("/data/0")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_array().cloned())
            .collect();
        let header = v
            .pointer("/meta/header/0")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str().map(String::from))
            .collect();
        Ok(OutputPage { header, rows })
    }
}
