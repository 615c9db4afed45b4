//! What a training job is made of, as [`super::v1`] and [`super::v2`] build it: its tables (one
//! per party, with an id column and, for the guest, a label) and each algorithm's component
//! and parameters. The values are the caller's.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct Jobs {
    pub data: Data,
    pub v2: V2Jobs,
    pub v1: V1Jobs,
}

#[derive(Debug, Deserialize)]
pub struct Data {
    pub namespace: String,
    pub partitions: u32,
    pub rows: u64,
    pub guest: TableSpec,
    pub host: TableSpec,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TableSpec {
    pub name: String,
    pub file: String,
    #[serde(default)]
    pub label: Option<String>,
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct V2Jobs {
    pub schema_version: String,
    pub jobs: BTreeMap<String, Job>,
}

#[derive(Debug, Deserialize)]
pub struct V1Jobs {
    pub jobs: BTreeMap<String, Job>,
}

/// One algorithm: its task name, component (v2 `component_ref`, v1 module), whether it needs an
/// arbiter, the output the evaluation reads (v2), and its parameters as FATE takes them.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub task: String,
    pub component: String,
    pub arbiter: bool,
    #[serde(default)]
    pub output: Option<String>,
    pub parameters: Value,
}
