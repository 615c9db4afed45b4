//! The record of a lab (`lab.json` in the state dir): what the lab is, and what fatelab made
//! for it — `down` undoes exactly this and nothing else; `status` and `test` find the lab by it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::clients::minikube::Homes;
use crate::model::catalog::Tag;
use crate::model::jobs::{JobKind, TestRecord};
use crate::model::sizing::PartySize;
use crate::model::spec::PartyPorts;

/// The record format this fatelab writes. Format 1 (no `format` field) is read and upgraded.
pub const RECORD_FORMAT: u32 = 2;

/// What fatelab made on this host; `down` undoes exactly this and nothing else.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabRecord {
    #[serde(default = "format_one")]
    pub format: u32,
    pub release: String,
    pub parties: Vec<u32>,
    pub ip: String,
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub registry: Option<String>,
    /// Each party's NodePorts, as the lab was made.
    #[serde(default)]
    pub ports: BTreeMap<u32, PartyPorts>,
    /// What each party was sized to ask for (v2 charts), so every command renders the same spec.
    #[serde(default)]
    pub sizing: Option<PartySize>,
    /// The lab has FATE-Serving beside each party (`up --serving`): kept until `up --no-serving`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub serving: bool,
    /// Each party's FATE-Serving cluster ID in its KubeFATE.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub serving_clusters: BTreeMap<u32, String>,
    /// The model `fatelab serve` published last; gone with the lab's serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<Served>,
    /// Where the parties run when not on minikube: the kubeconfig given and each context's server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetRecord>,
    /// A lab of local processes (`up --local`): its ports and every process fatelab started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<crate::model::local::LocalRecord>,
    /// Each party's place when it is not simply on minikube at the lab's `ip`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub placement: BTreeMap<u32, Placement>,
    /// The hosts file that holds fatelab's block, once written.
    pub hosts_file: Option<PathBuf>,
    pub minikube: Option<MinikubeRecord>,
    /// True when fatelab enabled minikube's ingress addon (it was not on before).
    #[serde(default)]
    pub ingress_enabled_by_fatelab: bool,
    /// Every object fatelab applied for the KubeFATE service, as the server answered.
    #[serde(default)]
    pub objects: Vec<MadeObject>,
    /// Format 1 only said that the KubeFATE manifests were applied; read, never written.
    #[serde(default, skip_serializing)]
    kubefate_applied: bool,
    /// Namespaces fatelab created (and so may delete).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Party ID → KubeFATE cluster ID, for clusters fatelab installed.
    #[serde(default)]
    pub clusters: BTreeMap<u32, String>,
    /// The last `fatelab test` result, for `status` and for `up` to skip a proven lab.
    #[serde(default)]
    pub last_test: Option<TestRecord>,
    /// The last test of each kind.
    #[serde(default)]
    pub tests: BTreeMap<JobKind, TestRecord>,
}

/// A model published to FATE-Serving, and the row it was asked about (`status` asks again to
/// tell whether it is still bound).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Served {
    /// the service id the guest's serving-server binds the model to
    pub service_id: String,
    /// the training job whose model it is
    pub job_id: String,
    pub model_id: String,
    /// the version loaded and bound (a DSL v2 job's model is deployed as a new version)
    pub model_version: String,
    pub guest: u32,
    pub hosts: Vec<u32>,
    /// the guest's row sent online: its id and features
    pub row_id: String,
    pub features: BTreeMap<String, f64>,
    /// the training job's own score for that row
    pub offline_score: f64,
    pub online_score: f64,
    /// the host's feature adaptor (serving-server.properties `feature.single.adaptor`)
    pub host_adaptor: String,
    /// seconds since the Unix epoch
    pub at: i64,
}

fn format_one() -> u32 {
    1
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetRecord {
    /// `--kubeconfig` as given; `None`: the usual kubeconfig of whoever runs fatelab.
    pub kubeconfig: Option<PathBuf>,
    /// Context → API server URL, as when the lab was made: a context that now points elsewhere
    /// is not this lab's cluster.
    pub servers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct Placement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Another organisation's party: in every partyList, installed by them.
    #[serde(default)]
    pub peer: bool,
}

/// One object in the inventory: enough to find it again, and to know it is still the same one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MadeObject {
    /// The kubeconfig context of the cluster it is in; `None`: minikube's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// The server's uid once applied; `None` while the apply has not answered yet.
    pub uid: Option<String>,
    /// False when the object existed before fatelab applied over it: `down` leaves it.
    pub created: bool,
}

impl MadeObject {
    pub fn describe(&self) -> String {
        let what = match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        };
        match &self.context {
            Some(c) => format!("{what} (context {c})"),
            None => what,
        }
    }

    pub fn same_object(&self, other: &MadeObject) -> bool {
        self.context == other.context
            && self.api_version == other.api_version
            && self.kind == other.kind
            && self.namespace == other.namespace
            && self.name == other.name
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MinikubeRecord {
    pub path: PathBuf,
    pub version: Tag,
    pub kubernetes: Tag,
    pub homes: MinikubeHomes,
    /// True when fatelab ran `minikube start` (not when it found the cluster running).
    pub started_by_fatelab: bool,
    /// SHA-256 of a minikube binary fatelab downloaded.
    pub downloaded_sha256: Option<String>,
}

impl LabRecord {
    pub fn new() -> LabRecord {
        LabRecord {
            format: RECORD_FORMAT,
            ..LabRecord::default()
        }
    }

    /// Format 1 had no inventory of the KubeFATE objects, only a flag: true means the manifests'
    /// objects were applied, which `down` then removes by name (as format 1's fatelab did).
    pub fn legacy_kubefate_applied(&self) -> bool {
        self.kubefate_applied && self.objects.is_empty()
    }

    pub fn clear_legacy(&mut self) {
        self.kubefate_applied = false;
    }

    /// A record as `lab.json` holds it; format 1 is read and upgraded, a newer format refused.
    /// `file` names it in errors.
    pub fn from_json(bytes: &[u8], file: &std::path::Path) -> Result<LabRecord> {
        let raw: serde_json::Value = serde_json::from_slice(bytes)
            .with_context(|| format!("{} is damaged; remove it to start over", file.display()))?;
        let format = raw
            .get("format")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1);
        if format > u64::from(RECORD_FORMAT) {
            anyhow::bail!(
                "{} was written by a newer fatelab (record format {format}; this one reads up to {RECORD_FORMAT}); \
                 use that fatelab for this lab",
                file.display()
            );
        }
        let mut record: LabRecord = serde_json::from_value(raw)
            .with_context(|| format!("{} is damaged; remove it to start over", file.display()))?;
        record.format = RECORD_FORMAT;
        Ok(record)
    }

    /// The record as it is written, in the current format.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        let mut out = self.clone();
        out.format = RECORD_FORMAT;
        Ok(serde_json::to_vec_pretty(&out)?)
    }
}

/// Where minikube keeps its profile and writes the kubeconfig, as the record keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MinikubeHomes {
    pub minikube_home: PathBuf,
    pub kubeconfig: PathBuf,
    /// Set when fatelab runs under sudo: minikube then hands its files to this user.
    pub owner: Option<String>,
}

impl From<&MinikubeHomes> for Homes {
    fn from(h: &MinikubeHomes) -> Homes {
        Homes {
            minikube_home: h.minikube_home.clone(),
            kubeconfig: h.kubeconfig.clone(),
            owner: h.owner.clone(),
        }
    }
}

impl From<&Homes> for MinikubeHomes {
    fn from(h: &Homes) -> MinikubeHomes {
        MinikubeHomes {
            minikube_home: h.minikube_home.clone(),
            kubeconfig: h.kubeconfig.clone(),
            owner: h.owner.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_one_record_is_read_and_a_newer_one_refused() {
        let file = std::path::Path::new("lab.json");
        let old = r#"{"release": "v1.6.0", "parties": [9999, 10000], "ip": "192.168.100.123",
            "hosts_file": null, "minikube": null, "kubefate_applied": true, "namespaces": ["fate-9999"], "clusters": {},
            "last_test": {"at": 1, "ok": true, "jobs": []}}"#;
        let r = LabRecord::from_json(old.as_bytes(), file).unwrap();
        assert_eq!(r.format, RECORD_FORMAT);
        assert!(r.legacy_kubefate_applied());
        assert_eq!(r.last_test.as_ref().unwrap().kind(), JobKind::Toy);
        let saved: serde_json::Value = serde_json::from_slice(&r.to_json().unwrap()).unwrap();
        assert_eq!(saved["format"], RECORD_FORMAT);
        assert!(saved.get("kubefate_applied").is_none());

        let err = format!(
            "{:#}",
            LabRecord::from_json(br#"{"format": 99, "release": "v9"}"#, file).unwrap_err()
        );
        assert!(
            err.contains("written by a newer fatelab (record format 99"),
            "{err}"
        );
    }

    #[test]
    fn minikube_versions_are_kept_typed_and_written_as_before() {
        let json = r#"{"path": "/usr/bin/minikube", "version": "v1.22.0", "kubernetes": "v1.21.2",
            "homes": {"minikube_home": "/root/.minikube", "kubeconfig": "/root/.kube/config", "owner": null},
            "started_by_fatelab": true, "downloaded_sha256": null}"#;
        let m: MinikubeRecord = serde_json::from_str(json).unwrap();
        assert_eq!(m.version.minor, 22);
        let back: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert_eq!(back["kubernetes"], "v1.21.2");
    }
}
