//! The minikube CLI: its version, `status -o json` in old and new shapes, start, addons, delete,
//! and the reason ID of a failure.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use semver::Version;
use serde_json::Value;

mod process;
pub use process::Output;

/// One minikube binary and the environment every call gets, so that `status`, `start` and
/// `delete` all see the same profile (the tutorial's `.kube`/`.minikube` relocation, done once).
#[derive(Debug, Clone)]
pub struct Minikube {
    pub path: PathBuf,
    pub env: Vec<(String, OsString)>,
}

/// Where minikube keeps its profile and writes the kubeconfig.
#[derive(Debug, Clone, PartialEq)]
pub struct Homes {
    pub minikube_home: PathBuf,
    pub kubeconfig: PathBuf,
    /// The user minikube's none driver hands its files to (run under sudo for them).
    pub owner: Option<String>,
}

/// `minikube status -o json`, in the fields every version has.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub host: String,
    pub kubelet: String,
    pub apiserver: String,
    pub kubeconfig: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClusterState {
    /// No cluster (v1.7.3: all Nonexistent, exit 7; modern: profile not found, exit 85).
    Missing,
    Running(Status),
    /// Exists but is not fully up (stopped, paused, kubeconfig misconfigured, ...).
    NotRunning(Status),
}

pub fn parse_version(text: &str) -> Result<Version> {
    let raw = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("minikube version:"))
        .map(str::trim)
        .or_else(|| text.lines().map(str::trim).find(|l| l.starts_with('v')))
        .with_context(|| format!("`minikube version` printed no version: {text:?}"))?;
    let t = raw.trim().trim_start_matches('v');
    Version::parse(t).with_context(|| format!("'{raw}' is not a version like v1.22.0"))
}

/// Reads `status -o json` output of any minikube version, given its exit code.
pub fn parse_status(stdout: &str, code: Option<i32>) -> Result<ClusterState> {
    let mut status = None;
    for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        // Modern minikube: a multi-node cluster prints an array; the first is the control plane.
        let obj = match &v {
            Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        if obj.get("Host").is_some() {
            let field = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            status = Some(Status {
                host: field("Host"),
                kubelet: field("Kubelet"),
                apiserver: field("APIServer"),
                kubeconfig: field("Kubeconfig"),
            });
            break;
        }
        let message = obj
            .pointer("/data/message")
            .and_then(Value::as_str)
            .unwrap_or("");
        if message.contains("not found") {
            return Ok(ClusterState::Missing);
        }
    }
    if code == Some(85) {
        return Ok(ClusterState::Missing);
    }
    let Some(s) = status else {
        bail!("`minikube status -o json` printed no status (exit code {code:?}): {stdout:?}");
    };
    if s.host == "Nonexistent" || s.host.is_empty() {
        return Ok(ClusterState::Missing);
    }
    let up = s.host == "Running" && s.apiserver == "Running" && s.kubelet == "Running";
    Ok(if up {
        ClusterState::Running(s)
    } else {
        ClusterState::NotRunning(s)
    })
}

/// minikube prints `Exiting due to <ID>: <message>` (modern) on failure.
pub fn reason_id(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let rest = &l[l.find("Exiting due to ")? + "Exiting due to ".len()..];
        let id: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        (!id.is_empty()).then_some(id)
    })
}

impl Minikube {
    pub fn new(path: PathBuf, homes: &Homes) -> Self {
        let mut env: Vec<(String, OsString)> = vec![
            ("MINIKUBE_HOME".into(), homes.minikube_home.clone().into()),
            ("KUBECONFIG".into(), homes.kubeconfig.clone().into()),
            // Plain, parseable output and no update nag.
            ("MINIKUBE_IN_STYLE".into(), "false".into()),
            ("MINIKUBE_WANTUPDATENOTIFICATION".into(), "false".into()),
        ];
        if homes.owner.is_some() {
            env.push(("CHANGE_MINIKUBE_NONE_USER".into(), "true".into()));
        }
        Minikube { path, env }
    }

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    pub async fn run(&self, args: &[&str]) -> Result<Output> {
        process::run(&self.path, &Self::args(args), &self.env).await
    }

    pub async fn version(&self) -> Result<Version> {
        let out = self.run(&["version"]).await?;
        if !out.success() {
            bail!(
                "`{} version` failed (exit {:?}): {}",
                self.path.display(),
                out.code,
                out.combined().trim()
            );
        }
        parse_version(&out.stdout)
    }

    pub async fn status(&self) -> Result<ClusterState> {
        let out = self.run(&["status", "-o", "json"]).await?;
        parse_status(&out.stdout, out.code)
    }

    /// Runs `minikube start ARGS`, passing each output line to `on_line`.
    pub async fn start(&self, args: &[String], on_line: impl FnMut(&str)) -> Result<Output> {
        let mut all = vec![OsString::from("start")];
        all.extend(args.iter().map(OsString::from));
        process::run_streaming(&self.path, &all, &self.env, on_line).await
    }

    pub async fn enable_addon(&self, addon: &str, on_line: impl FnMut(&str)) -> Result<Output> {
        let args = Self::args(&["addons", "enable", addon]);
        process::run_streaming(&self.path, &args, &self.env, on_line).await
    }

    /// `addons list -o json`: `{addon: {"Profile": .., "Status": "enabled"|"disabled"}}` (v1.7.3 on).
    pub async fn addon_enabled(&self, addon: &str) -> Result<bool> {
        let out = self.run(&["addons", "list", "-o", "json"]).await?;
        if !out.success() {
            bail!(
                "`{} addons list -o json` failed (exit {:?}): {}",
                self.path.display(),
                out.code,
                out.combined().trim()
            );
        }
        let list: Value = serde_json::from_str(out.stdout.trim()).with_context(|| {
            format!(
                "`minikube addons list -o json` printed no JSON: {}",
                out.stdout.trim()
            )
        })?;
        Ok(list
            .pointer(&format!("/{addon}/Status"))
            .and_then(Value::as_str)
            == Some("enabled"))
    }

    pub async fn disable_addon(&self, addon: &str) -> Result<Output> {
        self.run(&["addons", "disable", addon]).await
    }

    pub async fn delete(&self) -> Result<Output> {
        self.run(&["delete"]).await
    }

    pub fn kubeconfig(&self) -> Option<&Path> {
        self.env
            .iter()
            .find(|(k, _)| k == "KUBECONFIG")
            .map(|(_, v)| Path::new(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_old_and_new() {
        let old = "minikube version: v1.7.3\ncommit: 436667c819c324e35d7e839f8116b968a2d0a3ff\n";
        assert_eq!(parse_version(old).unwrap(), Version::new(1, 7, 3));
        assert_eq!(parse_version("v1.38.1\n").unwrap(), Version::new(1, 38, 1));
        assert!(parse_version("garbage").is_err());
    }

    #[test]
    fn status_shapes() {
        let modern = r#"{"Name":"minikube","Host":"Running","Kubelet":"Running","APIServer":"Running","Kubeconfig":"Configured","Worker":false}"#;
        assert!(matches!(
            parse_status(modern, Some(0)).unwrap(),
            ClusterState::Running(_)
        ));
        let old = r#"{"Host":"Running","Kubelet":"Running","APIServer":"Running","Kubeconfig":"Configured"}"#;
        assert!(matches!(
            parse_status(old, Some(0)).unwrap(),
            ClusterState::Running(_)
        ));
        let old_missing = r#"{"Host":"Nonexistent","Kubelet":"Nonexistent","APIServer":"Nonexistent","Kubeconfig":"Nonexistent"}"#;
        assert_eq!(
            parse_status(old_missing, Some(7)).unwrap(),
            ClusterState::Missing
        );
        let stopped = r#"{"Name":"minikube","Host":"Stopped","Kubelet":"Stopped","APIServer":"Stopped","Kubeconfig":"Stopped","Worker":false}"#;
        assert!(matches!(
            parse_status(stopped, Some(7)).unwrap(),
            ClusterState::NotRunning(_)
        ));
        let array = format!("[{modern}]");
        assert!(matches!(
            parse_status(&array, Some(0)).unwrap(),
            ClusterState::Running(_)
        ));
        let event = r#"{"specversion":"1.0","id":"x","source":"https://minikube.sigs.k8s.io/","type":"io.k8s.sigs.minikube.info","datacontenttype":"application/json","data":{"message":"Profile \"minikube\" not found. Run \"minikube profile list\" to view all profiles."}}"#;
        assert_eq!(
            parse_status(event, Some(85)).unwrap(),
            ClusterState::Missing
        );
        assert!(parse_status("", Some(1)).is_err());
    }
}
