//! The training jobs' data (`assets/jobs.yaml`) and the tables they train on (`assets/data/`),
//! embedded at build time.

use std::collections::BTreeMap;
use std::sync::OnceLock;

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

impl TableSpec {
    /// The table's CSV, as shipped with fatelab.
    pub fn bytes(&self) -> &'static [u8] {
        match self.file.as_str() {
            "breast_hetero_guest.csv" => {
                include_bytes!("../../../assets/data/breast_hetero_guest.csv")
            }
            "breast_hetero_host.csv" => {
                include_bytes!("../../../assets/data/breast_hetero_host.csv")
            }
            other => panic!("assets/jobs.yaml names {other}, which is not embedded"),
        }
    }
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

pub fn all() -> &'static Jobs {
    static JOBS: OnceLock<Jobs> = OnceLock::new();
    JOBS.get_or_init(|| {
        serde_saphyr::from_str(include_str!("../../../assets/jobs.yaml"))
            .unwrap_or_else(|e| panic!("assets/jobs.yaml does not parse: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_is_there_for_both_apis_and_the_tables_have_their_rows() {
        let j = all();
        for kind in ["lr", "sbt"] {
            assert!(
                j.v1.jobs.contains_key(kind) && j.v2.jobs.contains_key(kind),
                "{kind}"
            );
        }
        for t in [&j.data.guest, &j.data.host] {
            let text = std::str::from_utf8(t.bytes()).unwrap();
            assert_eq!(text.lines().count() as u64, j.data.rows + 1, "{}", t.file);
            let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
            assert_eq!(header[0], t.id);
            assert_eq!(t.label.as_deref().is_some(), header.contains(&"y"));
        }
    }
}
