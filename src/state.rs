//! Where fatelab keeps what outlives one run — the record of what it created (for `status`,
//! `down` and re-runs), downloads, generated credentials — and that record itself.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::clients::minikube::Homes;

const RECORD_FILE: &str = "lab.json";

/// `$XDG_STATE_HOME/fatelab`, else `~/.local/state/fatelab` (the XDG default), else `./.fatelab`.
pub fn default_dir() -> PathBuf {
    let from_env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(xdg) = from_env("XDG_STATE_HOME").filter(|p| p.is_absolute()) {
        return xdg.join("fatelab");
    }
    match from_env("HOME") {
        Some(home) => home.join(".local/state/fatelab"),
        None => PathBuf::from(".fatelab"),
    }
}

/// Downloads of one release live apart from another's, so switching releases never mixes files.
pub fn cache_dir(state_dir: &Path, release: &str) -> PathBuf {
    state_dir.join("cache").join(release)
}

pub fn bin_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("bin")
}

/// What fatelab made on this host; `down` undoes exactly this and nothing else.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabRecord {
    pub release: String,
    pub parties: Vec<u32>,
    pub ip: String,
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub registry: Option<String>,
    /// Each party's NodePorts, as the lab was made.
    #[serde(default)]
    pub ports: std::collections::BTreeMap<u32, crate::spec::PartyPorts>,
    /// The hosts file that holds fatelab's block, once written.
    pub hosts_file: Option<PathBuf>,
    pub minikube: Option<MinikubeRecord>,
    /// True once fatelab applied the KubeFATE service manifests.
    #[serde(default)]
    pub kubefate_applied: bool,
    /// Namespaces fatelab created (and so may delete).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Party ID → KubeFATE cluster ID, for clusters fatelab installed.
    #[serde(default)]
    pub clusters: std::collections::BTreeMap<u32, String>,
    /// The last `fatelab test` result, for `status`.
    #[serde(default)]
    pub last_test: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MinikubeRecord {
    pub path: PathBuf,
    pub version: String,
    pub kubernetes: String,
    pub homes: Homes,
    /// True when fatelab ran `minikube start` (not when it found the cluster running).
    pub started_by_fatelab: bool,
    /// SHA-256 of a minikube binary fatelab downloaded.
    pub downloaded_sha256: Option<String>,
}

impl LabRecord {
    pub fn load(state_dir: &Path) -> Result<Option<LabRecord>> {
        let path = state_dir.join(RECORD_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("{} is damaged; remove it to start over", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, state_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating the state dir {}", state_dir.display()))?;
        let path = state_dir.join(RECORD_FILE);
        let tmp = state_dir.join(format!("{RECORD_FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
    }

    pub fn remove(state_dir: &Path) -> Result<()> {
        match std::fs::remove_file(state_dir.join(RECORD_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}
