//! What fatelab sends to FATE Flow 2.x (the v2 API), as typed shapes: the toy job's DAG, a
//! table upload, the training DAG (reader → psi → model → evaluation) and the queries.
//! Facts: shared/reference/fateflow-real.md, fateflow-v2-lr-submit.json (what fate-client 2.2.0
//! sent), FATE@v2.0.0 examples/pipeline.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::jobs::{Data, FateVersion, TableSpec, V2Jobs};

#[derive(Debug, Serialize)]
pub struct Submit {
    pub dag_schema: DagSchema,
}

#[derive(Debug, Serialize)]
pub struct DagSchema {
    pub dag: Dag,
    pub schema_version: String,
}

#[derive(Debug, Serialize)]
pub struct Dag {
    pub parties: Vec<Parties>,
    pub stage: String,
    pub tasks: BTreeMap<String, Task>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub party_tasks: BTreeMap<String, PartyTask>,
}

/// One role and its parties (FATE writes party IDs as strings).
#[derive(Debug, Clone, Serialize)]
pub struct Parties {
    pub role: String,
    pub party_id: Vec<String>,
}

impl Parties {
    pub fn of(role: &str, id: u32) -> Parties {
        Parties {
            role: role.into(),
            party_id: vec![id.to_string()],
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Task {
    pub component_ref: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependent_tasks: Vec<String>,
    pub parameters: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Inputs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parties: Option<Vec<Parties>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Inputs {
    pub data: BTreeMap<String, DataInput>,
    /// A model input (none here: training starts from scratch), written out as fate-client does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<BTreeMap<String, Value>>,
}

#[derive(Debug, Serialize)]
pub struct DataInput {
    pub task_output_artifact: Artifacts,
}

/// One producer, or a list of them (evaluation takes a list).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Artifacts {
    One(Artifact),
    Many(Vec<Artifact>),
}

#[derive(Debug, Serialize)]
pub struct Artifact {
    pub producer_task: String,
    pub output_artifact_key: String,
    pub parties: Vec<Parties>,
}

#[derive(Debug, Serialize)]
pub struct PartyTask {
    pub parties: Vec<Parties>,
    pub tasks: BTreeMap<String, PartyParameters>,
}

#[derive(Debug, Serialize)]
pub struct PartyParameters {
    pub parameters: TableRef,
}

#[derive(Debug, Serialize)]
pub struct TableRef {
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
struct ToyParameters {
    data_num: u32,
    partition: u32,
}

/// The toy job's DAG, as `flow test toy` sends it.
pub fn toy(guest: u32, host: u32) -> Submit {
    let parameters = serde_json::to_value(ToyParameters {
        data_num: 1024,
        partition: 4,
    })
    .expect("plain numbers serialise");
    Submit {
        dag_schema: DagSchema {
            dag: Dag {
                parties: vec![Parties::of("guest", guest), Parties::of("host", host)],
                stage: "default".into(),
                tasks: BTreeMap::from([(
                    "toy_example_0".to_string(),
                    Task {
                        component_ref: "toy_example".into(),
                        dependent_tasks: vec![],
                        parameters,
                        inputs: None,
                        parties: None,
                        stage: None,
                    },
                )]),
                party_tasks: BTreeMap::new(),
            },
            schema_version: "2.0.0.alpha".into(),
        },
    }
}

fn from(task: &str, key: &str, parties: Vec<Parties>) -> Artifact {
    Artifact {
        producer_task: task.into(),
        output_artifact_key: key.into(),
        parties,
    }
}

fn input(name: &str, artifacts: Artifacts) -> Option<Inputs> {
    Some(Inputs {
        data: BTreeMap::from([(
            name.to_string(),
            DataInput {
                task_output_artifact: artifacts,
            },
        )]),
        model: None,
    })
}

/// The task the evaluation is named by, so its metrics can be asked for.
pub const EVALUATION: &str = "evaluation_0";

/// The training DAG of `kind`: guest and host read `data`'s tables, PSI intersects them, the
/// model trains, the guest evaluates it; with the names of `fate`'s components.
pub fn training(
    jobs: &V2Jobs,
    kind: &str,
    data: &Data,
    fate: FateVersion,
    guest: u32,
    host: u32,
) -> Submit {
    let job = &jobs.jobs[kind];
    let both = || vec![Parties::of("guest", guest), Parties::of("host", host)];
    let only_guest = || vec![Parties::of("guest", guest)];
    let mut parties = both();
    if job.arbiter {
        parties.push(Parties::of("arbiter", host));
    }
    let empty = || Value::Object(Default::default());
    let tasks = BTreeMap::from([
        (
            "reader_0".to_string(),
            Task {
                component_ref: "reader".into(),
                dependent_tasks: vec![],
                parameters: empty(),
                inputs: None,
                parties: Some(both()),
                stage: Some("default".into()),
            },
        ),
        (
            "psi_0".to_string(),
            Task {
                component_ref: "psi".into(),
                dependent_tasks: vec!["reader_0".into()],
                parameters: empty(),
                inputs: input(
                    "input_data",
                    Artifacts::One(from("reader_0", "output_data", both())),
                ),
                parties: Some(both()),
                stage: Some("default".into()),
            },
        ),
        (
            job.task.clone(),
            Task {
                component_ref: job.component.clone(),
                dependent_tasks: vec!["psi_0".into()],
                parameters: job.parameters.clone(),
                inputs: input(
                    "train_data",
                    Artifacts::One(from("psi_0", "output_data", both())),
                )
                .map(|i| Inputs {
                    model: Some(BTreeMap::new()),
                    ..i
                }),
                parties: None,
                stage: None,
            },
        ),
        (
            EVALUATION.to_string(),
            Task {
                component_ref: "evaluation".into(),
                dependent_tasks: vec![job.task.clone()],
                parameters: serde_json::to_value(EvaluationParameters {
                    default_eval_setting: "binary".into(),
                })
                .expect("a string serialises"),
                inputs: input(
                    jobs.evaluation_input.at(fate),
                    Artifacts::Many(vec![from(
                        &job.task,
                        job.output
                            .as_ref()
                            .map_or("train_output_data", |o| o.at(fate)),
                        only_guest(),
                    )]),
                ),
                parties: Some(only_guest()),
                stage: Some("default".into()),
            },
        ),
    ]);
    let reader = |role: &str, id: u32, table: &TableSpec, namespace: &str| {
        (
            format!("{role}_{id}"),
            PartyTask {
                parties: vec![Parties::of(role, id)],
                tasks: BTreeMap::from([(
                    "reader_0".to_string(),
                    PartyParameters {
                        parameters: TableRef {
                            namespace: namespace.into(),
                            name: table.name.clone(),
                        },
                    },
                )]),
            },
        )
    };
    Submit {
        dag_schema: DagSchema {
            dag: Dag {
                parties,
                stage: "train".into(),
                tasks,
                party_tasks: BTreeMap::from([
                    reader("guest", guest, &data.guest, &data.namespace),
                    reader("host", host, &data.host, &data.namespace),
                ]),
            },
            schema_version: jobs.schema_version.clone(),
        },
    }
}

#[derive(Debug, Serialize)]
struct EvaluationParameters {
    default_eval_setting: String,
}

/// The text fields of `POST /v2/data/component/upload/file` (the file goes beside them).
#[derive(Debug, Serialize)]
pub struct UploadMeta {
    pub delimiter: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_name: Option<String>,
    pub match_id_name: String,
}

pub fn upload_fields(
    table: &TableSpec,
    namespace: &str,
    partitions: u32,
) -> Vec<(&'static str, String)> {
    let meta = UploadMeta {
        delimiter: ",".into(),
        label_name: table.label.clone(),
        match_id_name: table.id.clone(),
    };
    vec![
        ("head", "True".into()),
        ("partitions", partitions.to_string()),
        ("namespace", namespace.into()),
        ("name", table.name.clone()),
        ("extend_sid", "True".into()),
        (
            "meta",
            serde_json::to_string(&meta).expect("strings serialise"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toy_dag() {
        let v = serde_json::to_value(toy(9999, 10000)).unwrap();
        assert_eq!(v["dag_schema"]["schema_version"], "2.0.0.alpha");
        assert_eq!(
            v["dag_schema"]["dag"]["parties"][1]["party_id"],
            serde_json::json!(["10000"])
        );
        assert_eq!(
            v["dag_schema"]["dag"]["tasks"]["toy_example_0"]["parameters"],
            serde_json::json!({"data_num": 1024, "partition": 4})
        );
    }
}
