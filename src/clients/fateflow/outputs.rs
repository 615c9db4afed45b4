//! What a finished job left behind, as the report needs it: the evaluation (AUC, KS, and the ROC
//! and KS curves it drew), the loss per iteration, and each task's start and end. FATE 2.x keeps
//! metrics as records `{name, type, groups, step_axis, data}` (FATE-Flow@v2.2.0
//! manager/outputs/metric.py), the evaluation's under `data.<model>.train_set` with `ks_table`
//! `{tpr, fpr, threshold, cuts}` (FATE@v2.2.0 ml/evaluation/classification.py `KS`) and a loss
//! as `{metric, step, timestamp}` points; FATE 1.x as `<namespace>.<name>.data` pairs, the
//! evaluation's curves under `<model>_roc` `[fpr, tpr]` and `<model>_ks_fpr`/`_ks_tpr`
//! `[cut, rate]` (FATE@v1.6.0 federatedml/evaluation/evaluation.py).

use anyhow::{Context, Result};
use http::Method;
use serde_json::{Value, json};

use super::{Api, FateFlow, v1};

/// Points of a curve, in the order FATE gave them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curve {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

/// What the evaluation of a binary model says, with the curves where FATE recorded them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    pub auc: f64,
    pub ks: Option<f64>,
    /// False positive rate → true positive rate.
    pub roc: Option<Curve>,
    /// Cut (a quantile of the scores) → true and false positive rate.
    pub ks_tpr: Option<Curve>,
    pub ks_fpr: Option<Curve>,
}

/// When a task ran (epoch milliseconds), as the guest's FATE Flow recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTime {
    pub name: String,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

impl FateFlow {
    /// A task's metric records for one party, as FATE Flow answers them.
    async fn task_metrics(
        &self,
        job_id: &str,
        role: &str,
        party: u32,
        task: &str,
    ) -> Result<Value> {
        let v = match self.api {
            Api::V1 => {
                let body = serde_json::to_value(v1::ComponentQuery {
                    job_id: job_id.into(),
                    role: role.into(),
                    party_id: party,
                    component_name: task.into(),
                })?;
                self.call(Method::POST, "/v1/tracking/component/metric/all", Some(&body))
                    .await?
            }
            Api::V2 => {
                self.call(
                    Method::GET,
                    &format!("/v2/output/metric/query?job_id={job_id}&role={role}&party_id={party}&task_name={task}"),
                    None,
                )
                .await?
            }
        };
        self.accepted(v, &format!("the metrics of {task}"))
    }

    /// AUC and KS of the evaluation `task`, as the guest recorded them, and its curves.
    pub async fn metrics(&self, job_id: &str, guest: u32, task: &str) -> Result<Evaluation> {
        let v = self.task_metrics(job_id, "guest", guest, task).await?;
        let data = &v["data"];
        let auc = find_metric(data, "auc")
            .with_context(|| format!("job {job_id}'s {task} recorded no AUC"))?;
        let mut e = Evaluation {
            auc,
            ks: find_metric(data, "ks"),
            ..Evaluation::default()
        };
        match self.api {
            Api::V2 => {
                if let Some(table) = find_named(data, "ks_table") {
                    let col = |k: &str| numbers(&table[k]);
                    let (tpr, fpr, cuts) = (col("tpr"), col("fpr"), col("cuts"));
                    e.roc = curve(fpr.clone(), tpr.clone());
                    e.ks_tpr = curve(cuts.clone(), tpr);
                    e.ks_fpr = curve(cuts, fpr);
                }
            }
            Api::V1 => {
                let pairs = |suffix: &str| {
                    find_suffixed(data, suffix).and_then(|points| {
                        let (x, y) = points
                            .as_array()?
                            .iter()
                            .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
                            .unzip();
                        curve(x, y)
                    })
                };
                e.roc = pairs("_roc");
                e.ks_tpr = pairs("_ks_tpr");
                e.ks_fpr = pairs("_ks_fpr");
            }
        }
        Ok(e)
    }

    /// The loss per iteration that `role` (party `party`) logged for the model `task`; empty
    /// when it logged none.
    pub async fn loss(&self, job_id: &str, role: &str, party: u32, task: &str) -> Result<Curve> {
        let v = self.task_metrics(job_id, role, party, task).await?;
        let mut points: Vec<(f64, f64)> = match self.api {
            Api::V2 => v["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["type"] == "loss")
                .flat_map(|r| r["data"].as_array().cloned().unwrap_or_default())
                .filter_map(|p| Some((p["step"].as_f64()?, p["metric"].as_f64()?)))
                .collect(),
            Api::V1 => v
                .pointer("/data/train/loss/data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_f64()?)))
                .collect(),
        };
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (x, y) = points.into_iter().unzip();
        Ok(Curve { x, y })
    }

    /// Each task of the job with its start and end, as the guest's FATE Flow recorded them.
    pub async fn task_times(&self, job_id: &str, guest: u32) -> Result<Vec<TaskTime>> {
        let v = match self.api {
            Api::V1 => {
                let body = json!({"job_id": job_id, "role": "guest", "party_id": guest});
                self.call(Method::POST, "/v1/job/task/query", Some(&body))
                    .await?
            }
            Api::V2 => {
                self.call(
                    Method::GET,
                    &format!("/v2/job/task/query?job_id={job_id}&role=guest&party_id={guest}"),
                    None,
                )
                .await?
            }
        };
        let v = self.accepted(v, &format!("a query of job {job_id}'s tasks"))?;
        let field = |t: &Value, v2: &str, v1: &str| t.get(v2).or_else(|| t.get(v1)).cloned();
        let mut tasks: Vec<TaskTime> = v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some(TaskTime {
                    name: field(t, "task_name", "f_component_name")?
                        .as_str()?
                        .to_string(),
                    start_ms: field(t, "start_time", "f_start_time").and_then(|v| v.as_i64()),
                    end_ms: field(t, "end_time", "f_end_time").and_then(|v| v.as_i64()),
                })
            })
            .collect();
        tasks.sort_by_key(|t| t.start_ms.unwrap_or(i64::MAX));
        Ok(tasks)
    }
}

fn curve(x: Vec<f64>, y: Vec<f64>) -> Option<Curve> {
    (!x.is_empty() && x.len() == y.len()).then_some(Curve { x, y })
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect()
}

/// The `val` of the v2 metric object named `name`, wherever it is nested.
fn find_named<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    match v {
        Value::Object(o) => {
            if o.get("metric").and_then(Value::as_str) == Some(name) {
                return o.get("val");
            }
            o.values().find_map(|x| find_named(x, name))
        }
        Value::Array(a) => a.iter().find_map(|x| find_named(x, name)),
        _ => None,
    }
}

/// The `data` of the v1 metric whose name ends with `suffix` (`hetero_lr_0_roc`).
fn find_suffixed<'a>(v: &'a Value, suffix: &str) -> Option<&'a Value> {
    let o = v.as_object()?;
    o.iter()
        .find(|(k, x)| k.ends_with(suffix) && x.get("data").is_some())
        .map(|(_, x)| &x["data"])
        .or_else(|| o.values().find_map(|x| find_suffixed(x, suffix)))
}

/// A metric by name, wherever FATE put it: v2 writes `{"metric": "auc", "val": 0.99}` objects
/// (nested in lists per data set), v1 `["auc", 0.99]` pairs under `<namespace>.<name>.data`.
pub fn find_metric(v: &Value, name: &str) -> Option<f64> {
    match v {
        Value::Object(o) => {
            if o.get("metric").and_then(Value::as_str) == Some(name)
                && let Some(x) = o.get("val").and_then(Value::as_f64)
            {
                return Some(x);
            }
            o.values().find_map(|x| find_metric(x, name))
        }
        Value::Array(a) => {
            if let [Value::String(k), x] = a.as_slice()
                && k == name
                && let Some(x) = x.as_f64()
            {
                return Some(x);
            }
            a.iter().find_map(|x| find_metric(x, name))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_found_in_either_apis_shape() {
        let v2 = json!([{"data": {"lr_0": {"train_set": [
            {"metric": "auc", "val": 0.99236},
            [{"metric": "ks", "val": 0.92762},
             {"metric": "ks_table", "val": {"tpr": [0.0, 0.9, 1.0], "fpr": [0.0, 0.1, 1.0], "threshold": [1.0, 0.5, 0.0], "cuts": [0.0, 0.5, 1.0]}}]
        ]}}}]);
        assert_eq!(find_metric(&v2, "auc"), Some(0.99236));
        assert_eq!(find_metric(&v2, "ks"), Some(0.92762));
        assert_eq!(
            numbers(&find_named(&v2, "ks_table").unwrap()["tpr"]),
            [0.0, 0.9, 1.0]
        );
        let v1 = json!({"train": {
            "hetero_lr_0": {"data": [["auc", 0.98], ["ks", 0.9]], "meta": {}},
            "hetero_lr_0_roc": {"data": [[0.0, 0.0], [0.1, 0.8], [1.0, 1.0]], "meta": {}}}});
        assert_eq!(find_metric(&v1, "auc"), Some(0.98));
        assert_eq!(find_metric(&v1, "ks"), Some(0.9));
        assert_eq!(find_metric(&v1, "precision"), None);
        assert_eq!(
            find_suffixed(&v1, "_roc")
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert!(find_suffixed(&v1, "_ks_tpr").is_none());
    }
}
