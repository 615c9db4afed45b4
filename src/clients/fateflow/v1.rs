//! What fatelab sends to FATE Flow 1.x (the v1 API), as typed shapes: the toy job, a table
//! upload, the training DSL and runtime conf (Reader → DataIO → Intersection → model →
//! Evaluation) and the queries. Facts: shared/reference/kubefate.md §5.1, fateflow-real.md "FATE
//! 1.6 equivalents", FATE@v1.6.0 examples/dsl/v2 and python/fate_flow/apps.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::jobs::{Data, Job, TableSpec};

/// `work_mode` 1: a cluster (KubeFATE's), not standalone; `backend` 0: eggroll.
const WORK_MODE: u32 = 1;
const BACKEND: u32 = 0;

#[derive(Debug, Serialize)]
pub struct Submit<C: Serialize> {
    pub job_dsl: Dsl,
    pub job_runtime_conf: C,
}

#[derive(Debug, Serialize)]
pub struct Dsl {
    pub components: BTreeMap<String, Component>,
}

#[derive(Debug, Serialize)]
pub struct Component {
    pub module: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<ComponentInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<ComponentOutput>,
}

#[derive(Debug, Serialize)]
pub struct ComponentInput {
    pub data: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct ComponentOutput {
    pub data: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Initiator {
    pub role: String,
    pub party_id: u32,
}

/// The toy job's runtime conf (FATE@v1.6.0 examples/toy_example, DSL v1 keys).
#[derive(Debug, Serialize)]
pub struct ToyConf {
    pub initiator: Initiator,
    pub job_parameters: ToyJobParameters,
    pub role: BTreeMap<String, Vec<u32>>,
    pub role_parameters: BTreeMap<String, BTreeMap<String, ToySeed>>,
    pub algorithm_parameters: BTreeMap<String, ToyAlgorithm>,
}

#[derive(Debug, Serialize)]
pub struct ToyJobParameters {
    pub work_mode: u32,
    pub backend: u32,
    pub task_cores: u32,
}

#[derive(Debug, Serialize)]
pub struct ToySeed {
    pub seed: Vec<u32>,
}

#[derive(Debug, Serialize)]
pub struct ToyAlgorithm {
    pub partition: u32,
    pub data_num: u32,
}

const TOY: &str = "secure_add_example_0";

pub fn toy(guest: u32, hosts: &[u32]) -> Submit<ToyConf> {
    Submit {
        job_dsl: Dsl {
            components: BTreeMap::from([(
                TOY.to_string(),
                Component {
                    module: "SecureAddExample".into(),
                    input: None,
                    output: None,
                },
            )]),
        },
        job_runtime_conf: ToyConf {
            initiator: Initiator {
                role: "guest".into(),
                party_id: guest,
            },
            job_parameters: ToyJobParameters {
                work_mode: WORK_MODE,
                backend: BACKEND,
                task_cores: 2,
            },
            role: BTreeMap::from([
                ("guest".into(), vec![guest]),
                ("host".into(), hosts.to_vec()),
            ]),
            role_parameters: BTreeMap::from([
                (
                    "guest".into(),
                    BTreeMap::from([(TOY.to_string(), ToySeed { seed: vec![123] })]),
                ),
                (
                    "host".into(),
                    BTreeMap::from([(
                        TOY.to_string(),
                        ToySeed {
                            seed: hosts.iter().map(|_| 321).collect(),
                        },
                    )]),
                ),
            ]),
            algorithm_parameters: BTreeMap::from([(
                TOY.to_string(),
                ToyAlgorithm {
                    partition: 48,
                    data_num: 1000,
                },
            )]),
        },
    }
}

/// The training job's runtime conf (DSL v2).
#[derive(Debug, Serialize)]
pub struct TrainConf {
    pub dsl_version: u32,
    pub initiator: Initiator,
    pub role: BTreeMap<String, Vec<u32>>,
    pub job_parameters: JobParameters,
    pub component_parameters: ComponentParameters,
}

#[derive(Debug, Serialize)]
pub struct JobParameters {
    pub common: CommonJobParameters,
}

#[derive(Debug, Serialize)]
pub struct CommonJobParameters {
    pub job_type: String,
    pub backend: u32,
    pub work_mode: u32,
}

#[derive(Debug, Serialize)]
pub struct ComponentParameters {
    pub common: BTreeMap<String, Value>,
    /// role → party index ("0") → component → parameters.
    pub role: BTreeMap<String, BTreeMap<String, BTreeMap<String, RoleParameters>>>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum RoleParameters {
    Reader {
        table: Table,
    },
    DataIo {
        with_label: bool,
        /// The label's column (FATE 1.6 DataIOParam, `y` unless told).
        #[serde(skip_serializing_if = "Option::is_none")]
        label_name: Option<String>,
        output_format: String,
    },
}

#[derive(Debug, Serialize)]
pub struct Table {
    pub name: String,
    pub namespace: String,
}

/// The component whose metrics hold AUC and KS.
pub const EVALUATION: &str = "evaluation_0";

fn component(module: &str, inputs: &[(&str, &str)], model: bool) -> Component {
    Component {
        module: module.into(),
        input: (!inputs.is_empty()).then(|| ComponentInput {
            data: inputs
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
                .collect(),
        }),
        output: Some(ComponentOutput {
            data: vec!["data".into()],
            model: if model { vec!["model".into()] } else { vec![] },
        }),
    }
}

/// The training job's DSL and runtime conf: both parties read `data`'s tables, Intersection
/// joins them, the model trains, the guest evaluates it.
pub fn training(job: &Job, data: &Data, guest: u32, host: u32) -> Submit<TrainConf> {
    let trained = format!("{}.data", job.task);
    let components = BTreeMap::from([
        ("reader_0".to_string(), component("Reader", &[], false)),
        (
            "dataio_0".to_string(),
            component("DataIO", &[("data", "reader_0.data")], true),
        ),
        (
            "intersection_0".to_string(),
            component("Intersection", &[("data", "dataio_0.data")], false),
        ),
        (
            job.task.clone(),
            component(
                &job.component,
                &[("train_data", "intersection_0.data")],
                true,
            ),
        ),
        (
            EVALUATION.to_string(),
            component("Evaluation", &[("data", trained.as_str())], false),
        ),
    ]);
    let mut role = BTreeMap::from([
        ("guest".to_string(), vec![guest]),
        ("host".into(), vec![host]),
    ]);
    if job.arbiter {
        role.insert("arbiter".into(), vec![host]);
    }
    let party = |table: &TableSpec| {
        BTreeMap::from([(
            "0".to_string(),
            BTreeMap::from([
                (
                    "reader_0".to_string(),
                    RoleParameters::Reader {
                        table: Table {
                            name: table.name.clone(),
                            namespace: data.namespace.clone(),
                        },
                    },
                ),
                (
                    "dataio_0".to_string(),
                    RoleParameters::DataIo {
                        with_label: table.label.is_some(),
                        label_name: table.label.clone(),
                        output_format: "dense".into(),
                    },
                ),
            ]),
        )])
    };
    Submit {
        job_dsl: Dsl { components },
        job_runtime_conf: TrainConf {
            dsl_version: 2,
            initiator: Initiator {
                role: "guest".into(),
                party_id: guest,
            },
            role,
            job_parameters: JobParameters {
                common: CommonJobParameters {
                    job_type: "train".into(),
                    backend: BACKEND,
                    work_mode: WORK_MODE,
                },
            },
            component_parameters: ComponentParameters {
                common: BTreeMap::from([
                    (job.task.clone(), job.parameters.clone()),
                    (
                        EVALUATION.to_string(),
                        serde_json::to_value(EvaluationParameters {
                            eval_type: "binary".into(),
                        })
                        .expect("a string serialises"),
                    ),
                ]),
                role: BTreeMap::from([
                    ("guest".to_string(), party(&data.guest)),
                    ("host".to_string(), party(&data.host)),
                ]),
            },
        },
    }
}

#[derive(Debug, Serialize)]
struct EvaluationParameters {
    eval_type: String,
}

/// `POST /v1/data/upload`'s conf, sent as query parameters beside the file.
#[derive(Debug, Serialize)]
pub struct UploadConf {
    pub table_name: String,
    pub namespace: String,
    pub head: u32,
    pub partition: u32,
    pub work_mode: u32,
    pub backend: u32,
    pub drop: u32,
}

impl UploadConf {
    pub fn of(table: &TableSpec, namespace: &str, partitions: u32) -> UploadConf {
        UploadConf {
            table_name: table.name.clone(),
            namespace: namespace.into(),
            head: 1,
            partition: partitions,
            work_mode: WORK_MODE,
            backend: BACKEND,
            // A table fatelab uploads again had a different row count: replace it.
            drop: 1,
        }
    }

    /// The query string (every value is a plain identifier or number).
    pub fn query(&self) -> String {
        let v = serde_json::to_value(self).expect("plain fields serialise");
        v.as_object()
            .expect("a struct is an object")
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// `POST /v1/table/table_info` and `/v1/tracking/component/metric/all` bodies.
#[derive(Debug, Serialize)]
pub struct TableQuery {
    pub name: String,
    pub namespace: String,
}

#[derive(Debug, Serialize)]
pub struct ComponentQuery {
    pub job_id: String,
    pub role: String,
    pub party_id: u32,
    pub component_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toy_job_follows_the_reference() {
        let v = serde_json::to_value(toy(9999, &[10000])).unwrap();
        assert_eq!(
            v.pointer("/job_runtime_conf/job_parameters/work_mode"),
            Some(&1.into())
        );
        assert_eq!(
            v.pointer("/job_runtime_conf/role/host"),
            Some(&serde_json::json!([10000]))
        );
        assert_eq!(
            v.pointer("/job_dsl/components/secure_add_example_0/module"),
            Some(&"SecureAddExample".into())
        );
    }
}
