//! Where a lab's parties run: minikube on this host (the tutorial's way), or clusters the user
//! already has, each named by a context of their kubeconfig; and the parties of other
//! organisations, reached only over the network.

use anyhow::{Context, Result};
use kube::config::Kubeconfig;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The cluster one party lives in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "context")]
pub enum Cluster {
    /// The minikube cluster fatelab runs on this host.
    Minikube,
    /// An existing cluster, by its kubeconfig context.
    Context(String),
    /// Another organisation's: fatelab only knows its address (`--peer`).
    Elsewhere,
    /// Processes on this host (`up --local`): no cluster at all.
    Local,
}

impl Cluster {
    pub fn context(&self) -> Option<&str> {
        match self {
            Cluster::Context(c) => Some(c),
            _ => None,
        }
    }

    /// `" in context org-a"`, or nothing for minikube: where a message says something happens,
    /// when the lab may span clusters.
    pub fn place(&self) -> String {
        match self {
            Cluster::Minikube => String::new(),
            other => format!(" in {}", other.describe()),
        }
    }

    /// "context org-a", "minikube": how messages name it.
    pub fn describe(&self) -> String {
        match self {
            Cluster::Minikube => "minikube".into(),
            Cluster::Context(c) => format!("context {c}"),
            Cluster::Elsewhere => "another organisation's cluster".into(),
            Cluster::Local => "processes on this host".into(),
        }
    }
}

/// Which kubeconfig names the existing clusters: a file given with `--kubeconfig`, else the
/// usual one (`KUBECONFIG`, several files merged, else `~/.kube/config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KubeconfigSource {
    pub path: Option<PathBuf>,
}

impl KubeconfigSource {
    pub fn describe(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
                Some(v) => format!("KUBECONFIG={}", v.to_string_lossy()),
                None => "~/.kube/config".into(),
            },
        }
    }

    pub fn load(&self) -> Result<Kubeconfig> {
        let loaded = match &self.path {
            Some(p) => Kubeconfig::read_from(p),
            None => Kubeconfig::read(),
        };
        loaded.with_context(|| format!("reading the kubeconfig ({})", self.describe()))
    }
}

/// What a kubeconfig says of its contexts: each one's API server URL, and the current one.
#[derive(Debug, Clone, Default)]
pub struct Contexts {
    pub servers: BTreeMap<String, String>,
    pub current: Option<String>,
}

pub fn contexts(kc: &Kubeconfig) -> Contexts {
    let servers = kc
        .contexts
        .iter()
        .map(|named| {
            let server = named
                .context
                .as_ref()
                .and_then(|c| kc.clusters.iter().find(|cl| cl.name == c.cluster))
                .and_then(|cl| cl.cluster.as_ref())
                .and_then(|cl| cl.server.clone())
                .unwrap_or_default();
            (named.name.clone(), server)
        })
        .collect();
    Contexts {
        servers,
        current: kc.current_context.clone().filter(|c| !c.is_empty()),
    }
}
