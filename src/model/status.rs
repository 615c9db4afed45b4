//! What `fatelab status` reports, as one typed value: serialised for `--output json` (its schema,
//! `docs/status.schema.json`, is generated from these types) and put into words for people.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::jobs::{JobKind, TestRecord};
use crate::model::spec::PartyPorts;

/// The lab's health. Exit status: 0 when healthy, 1 when something is not, 3 when there is no
/// lab (then only `lab` and `healthy` are present).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "fatelab status --output json")]
pub struct StatusReport {
    /// false when there is no lab on record
    pub lab: bool,
    pub healthy: bool,
    #[serde(flatten)]
    pub of: Option<LabStatus>,
}

impl StatusReport {
    pub fn no_lab() -> StatusReport {
        StatusReport {
            lab: false,
            healthy: false,
            of: None,
        }
    }

    /// A lab's report; healthy when every part of it is (another organisation's party is
    /// theirs to keep healthy: reported, not judged).
    pub fn of(lab: LabStatus) -> StatusReport {
        let healthy = lab.minikube.healthy
            && lab.ingress.healthy
            && lab.kubefate.healthy
            && lab.local.as_ref().is_none_or(|l| l.healthy)
            && lab.parties.iter().all(|p| p.healthy || p.peer);
        StatusReport {
            lab: true,
            healthy,
            of: Some(lab),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LabStatus {
    /// KubeFATE release, e.g. v1.6.0
    pub release: String,
    /// true when `fatelab up` would change nothing in ingress, hosts, kubefate and parties
    pub as_declared: bool,
    /// what `fatelab up` would change, step by step (the same observation `up` makes)
    pub changes: Vec<String>,
    pub minikube: MinikubeStatus,
    pub ingress: Part,
    pub kubefate: KubefateStatus,
    pub parties: Vec<PartyStatus>,
    /// the last `fatelab test` (or up's test step), of any kind
    pub last_test: Option<TestRecord>,
    /// the last test of each kind
    pub tests: BTreeMap<JobKind, TestRecord>,
    /// the model `fatelab serve` published, asked again now
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<ServedStatus>,
    /// a lab of local processes (`up --local`): each process fatelab started
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalStatus>,
}

/// A lab of local processes: minikube, ingress and KubeFATE are not part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LocalStatus {
    /// every process runs and answers
    pub healthy: bool,
    /// FATE's version, e.g. 2.2.0
    pub fate: String,
    pub processes: Vec<ProcessStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProcessStatus {
    /// epmd, broker, proxy or fateflow
    pub role: String,
    /// the party it serves; none for the lab's own epmd and proxy
    pub party: Option<u32>,
    /// the pid fatelab started (null when none is on record)
    pub pid: Option<u32>,
    pub ports: Vec<u16>,
    /// still the process fatelab started (same pid and start time), and running
    pub running: bool,
    /// it answers: the broker's management API, FATE Flow's server query, a TCP accept
    pub healthy: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MinikubeState {
    Running,
    NotRunning,
    Missing,
    Unknown,
    /// the lab is on existing clusters; the detail says whether each context answers
    Existing,
    /// the lab is processes on this host (`up --local`): no Kubernetes
    Local,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MinikubeStatus {
    pub healthy: bool,
    pub state: MinikubeState,
    pub version: Option<String>,
    pub detail: String,
}

/// A part of the lab that is healthy or not, and what was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Part {
    pub healthy: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KubefateStatus {
    pub healthy: bool,
    pub version: Option<String>,
    pub detail: String,
    /// only with --show-credentials
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<ShownCredentials>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ShownCredentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PartyStatus {
    pub id: u32,
    /// every pod Running, every container ready, no restart within the settle window (30 s);
    /// for a peer: its address answers on TCP from here
    pub healthy: bool,
    /// another organisation's party (--peer): reported, not counted in the lab's health
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub peer: bool,
    /// the kubeconfig context of the existing cluster the party is in; null on minikube
    #[serde(default)]
    pub context: Option<String>,
    /// where the other parties reach its rollsite/osx NodePort
    pub address: String,
    /// for a peer: what the TCP check found; for a party of ours: why its loaded route table
    /// could not be read, when it could not
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// what keeps the party from being healthy, naming pod and container
    pub problems: Vec<String>,
    /// where the route table its rollsite/osx pod has loaded differs from the lab (read inside
    /// the pod, as `fatelab probe` does first); a stale route makes the party unhealthy
    #[serde(default)]
    pub stale_routes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// KubeFATE's status (Running, Failed, ...), or Missing/Unknown, or Elsewhere for a peer
    pub cluster_status: String,
    /// pods with every container ready and settled
    pub pods_ready: usize,
    pub pods_total: usize,
    pub urls: Urls,
    pub node_ports: PartyPorts,
    /// its FATE-Serving cluster, in a lab with serving (`up --serving`)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<ServingStatus>,
}

/// A party's FATE-Serving cluster, healthy by the parties' definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServingStatus {
    /// `fate-serving-<id>`, also its namespace
    pub cluster: String,
    pub healthy: bool,
    pub pods_ready: usize,
    pub pods_total: usize,
    /// serving-proxy's inter-party gRPC NodePort (its route table's port for this party)
    pub proxy_node_port: u16,
    /// serving-server's NodePort: FATE Flow's servings address
    pub server_node_port: u16,
    pub problems: Vec<String>,
}

/// The published model now: the guest's serving-proxy asked with the recorded row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServedStatus {
    pub service_id: String,
    pub job_id: String,
    pub model_version: String,
    pub guest: u32,
    /// the service id still answers with a score (a serving pod restart loses the binding)
    pub bound: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Urls {
    pub notebook: String,
    pub fateboard: String,
}

/// The JSON schema of [`StatusReport`], as `docs/status.schema.json` holds it.
pub fn schema() -> String {
    let schema = schemars::schema_for!(StatusReport);
    serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schema is the one these types give; `FATELAB_WRITE_SCHEMA=1 cargo test
    /// schema_is_committed` writes it anew after a change to them.
    #[test]
    fn schema_is_committed() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status.schema.json");
        let generated = schema();
        if std::env::var_os("FATELAB_WRITE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap();
        assert!(
            committed == generated,
            "docs/status.schema.json is not the schema of model::status::StatusReport; \
             run `FATELAB_WRITE_SCHEMA=1 cargo test schema_is_committed` and commit it"
        );
    }

    #[test]
    fn no_lab_is_two_fields_and_a_peer_does_not_count() {
        assert_eq!(
            serde_json::to_value(StatusReport::no_lab()).unwrap(),
            serde_json::json!({"lab": false, "healthy": false})
        );
    }
}
