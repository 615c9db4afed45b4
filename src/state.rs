//! Where fatelab keeps what outlives one run — the record of what it created (for `status`,
//! `down` and re-runs), downloads, generated credentials — and that record itself.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::clients::minikube::Homes;
use crate::invoker::Invoker;

const RECORD_FILE: &str = "lab.json";

/// `$XDG_STATE_HOME/fatelab`, else `~/.local/state/fatelab` (the XDG default), else `./.fatelab`.
/// Under sudo it is the invoking user's `~/.local/state/fatelab` (root's environment, and so its
/// XDG_STATE_HOME, says nothing about that user's).
pub fn default_dir() -> PathBuf {
    let who = Invoker::current();
    let xdg = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    if let Some(xdg) = xdg.filter(|_| !who.under_sudo()) {
        return xdg.join("fatelab");
    }
    match who.home {
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
    pub ports: std::collections::BTreeMap<u32, crate::spec::PartyPorts>,
    /// What each party was sized to ask for (v2 charts), so every command renders the same spec.
    #[serde(default)]
    pub sizing: Option<crate::sizing::PartySize>,
    /// Where the parties run when not on minikube: the kubeconfig given and each context's server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetRecord>,
    /// Each party's place when it is not simply on minikube at the lab's `ip`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub placement: std::collections::BTreeMap<u32, Placement>,
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
    pub clusters: std::collections::BTreeMap<u32, String>,
    /// The last `fatelab test` result, for `status` and for `up` to skip a proven lab.
    #[serde(default)]
    pub last_test: Option<serde_json::Value>,
    /// The last test of each kind (`toy`, `lr`, `sbt`): `{at, ok, kind, jobs}`.
    #[serde(default)]
    pub tests: std::collections::BTreeMap<String, serde_json::Value>,
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
    pub servers: std::collections::BTreeMap<String, String>,
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
    pub version: String,
    pub kubernetes: String,
    pub homes: Homes,
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

    pub fn load(state_dir: &Path) -> Result<Option<LabRecord>> {
        let path = state_dir.join(RECORD_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let raw: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is damaged; remove it to start over", path.display()))?;
        let format = raw
            .get("format")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1);
        if format > u64::from(RECORD_FORMAT) {
            anyhow::bail!(
                "{} was written by a newer fatelab (record format {format}; this one reads up to {RECORD_FORMAT}); \
                 use that fatelab for this lab",
                path.display()
            );
        }
        let mut record: LabRecord = serde_json::from_value(raw)
            .with_context(|| format!("{} is damaged; remove it to start over", path.display()))?;
        record.format = RECORD_FORMAT;
        Ok(Some(record))
    }

    pub fn save(&self, state_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating the state dir {}", state_dir.display()))?;
        let path = state_dir.join(RECORD_FILE);
        let tmp = state_dir.join(format!("{RECORD_FILE}.tmp"));
        let mut out = self.clone();
        out.format = RECORD_FORMAT;
        std::fs::write(&tmp, serde_json::to_vec_pretty(&out)?)?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        let who = Invoker::current();
        who.hand_over(state_dir);
        who.hand_over(&path);
        Ok(())
    }

    pub fn remove(state_dir: &Path) -> Result<()> {
        match std::fs::remove_file(state_dir.join(RECORD_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// One fatelab command at a time per lab: an exclusive `flock` on a file in the state dir,
/// released when the process ends however it ends. The file names the holder for the next one.
pub struct StateLock {
    _file: std::fs::File,
}

impl StateLock {
    pub fn acquire(state_dir: &Path, command: &str) -> Result<StateLock> {
        use std::io::{Read, Seek, Write};
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating the state dir {}", state_dir.display()))?;
        let path = state_dir.join("lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: flock on a file descriptor this function owns; no memory is shared.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            anyhow::bail!(
                "another fatelab is working on this lab ({}); wait for it to finish, or stop it, then run this again",
                if holder.is_empty() {
                    "holder unknown".to_string()
                } else {
                    holder.to_string()
                }
            );
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "`fatelab {command}`, pid {}", std::process::id())?;
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_one_record_is_read_and_a_newer_one_refused() {
        let dir = tempfile_dir();
        let old = r#"{"release": "v1.6.0", "parties": [9999, 10000], "ip": "192.168.100.123",
            "hosts_file": null, "minikube": null, "kubefate_applied": true, "namespaces": ["fate-9999"], "clusters": {}}"#;
        std::fs::write(dir.join(RECORD_FILE), old).unwrap();
        let r = LabRecord::load(&dir).unwrap().unwrap();
        assert_eq!(r.format, RECORD_FORMAT);
        assert!(r.legacy_kubefate_applied());
        r.save(&dir).unwrap();
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(RECORD_FILE)).unwrap()).unwrap();
        assert_eq!(saved["format"], RECORD_FORMAT);
        assert!(saved.get("kubefate_applied").is_none());

        std::fs::write(dir.join(RECORD_FILE), r#"{"format": 99, "release": "v9"}"#).unwrap();
        let err = format!("{:#}", LabRecord::load(&dir).unwrap_err());
        assert!(
            err.contains("written by a newer fatelab (record format 99"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_command_on_the_same_lab_is_refused_naming_the_first() {
        let dir = tempfile_dir();
        let held = StateLock::acquire(&dir, "up").unwrap();
        let err = format!("{:#}", StateLock::acquire(&dir, "down").err().unwrap());
        assert!(
            err.contains("another fatelab is working on this lab (`fatelab up`, pid"),
            "{err}"
        );
        drop(held);
        assert!(StateLock::acquire(&dir, "down").is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fatelab-state-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
