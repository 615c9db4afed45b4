//! Where a lab's parties run: minikube on this host (the tutorial's way), or clusters the user
//! already has, each named by a context of their kubeconfig; and the parties of other
//! organisations, reached only over the network.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Serialize;

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
}

impl Cluster {
    pub fn context(&self) -> Option<&str> {
        match self {
            Cluster::Context(c) => Some(c),
            _ => None,
        }
    }

    /// "context org-a", "minikube": how messages name it.
    pub fn describe(&self) -> String {
        match self {
            Cluster::Minikube => "minikube".into(),
            Cluster::Context(c) => format!("context {c}"),
            Cluster::Elsewhere => "another organisation's cluster".into(),
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

/// A client for `context` of the kubeconfig, each call bounded as [`crate::clients::kube`] does.
pub async fn connect(
    source: &KubeconfigSource,
    context: &str,
    call_timeout: Duration,
) -> Result<kube::Client> {
    let kc = source.load()?;
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .with_context(|| format!("using context {context} of {}", source.describe()))?;
    crate::clients::kube::client_for(config, call_timeout)
}

/// One node as the address and mariadb checks see it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub name: String,
    pub internal_ip: Option<std::net::Ipv4Addr>,
    pub ready: bool,
}

pub async fn nodes(client: &kube::Client) -> Result<Vec<NodeInfo>> {
    use k8s_openapi::api::core::v1::Node;
    let api: kube::Api<Node> = kube::Api::all(client.clone());
    let list = api
        .list(&kube::api::ListParams::default())
        .await
        .context("listing the cluster's nodes")?;
    let mut out: Vec<NodeInfo> = list
        .items
        .into_iter()
        .map(|n| {
            let status = n.status.unwrap_or_default();
            let internal_ip = status
                .addresses
                .unwrap_or_default()
                .into_iter()
                .filter(|a| a.type_ == "InternalIP")
                .find_map(|a| a.address.parse().ok());
            let ready = status
                .conditions
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            NodeInfo {
                name: n.metadata.name.unwrap_or_default(),
                internal_ip,
                ready,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The node whose InternalIP peers use: the first Ready node with one, by name.
pub fn address_node(nodes: &[NodeInfo]) -> Option<(&str, std::net::Ipv4Addr)> {
    nodes
        .iter()
        .filter(|n| n.ready)
        .find_map(|n| n.internal_ip.map(|ip| (n.name.as_str(), ip)))
}

/// Fills in, from the clusters, the addresses an existing-cluster lab was not given: each party
/// without one is reached at a node of its cluster (the first Ready node with an InternalIP).
/// Reads only; a lab on minikube, or with every address given, asks nothing.
pub async fn resolve_addresses(
    spec: &mut crate::spec::LabSpec,
    call_timeout: Duration,
) -> Result<()> {
    use crate::spec::{IpSource, Target};
    let Target::Existing { kubeconfig, .. } = &spec.target else {
        return Ok(());
    };
    if !matches!(spec.ip_source, IpSource::Pending) {
        return Ok(());
    }
    let mut found: BTreeMap<String, (String, std::net::Ipv4Addr)> = BTreeMap::new();
    for context in spec.clusters().iter().filter_map(Cluster::context) {
        let needs = spec
            .ours()
            .any(|p| p.address.is_none() && p.cluster.context() == Some(context));
        if !needs {
            continue;
        }
        let client = connect(kubeconfig, context, call_timeout).await?;
        let all = nodes(&client).await.with_context(|| {
            format!("finding a node address in context {context} (or give --ip)")
        })?;
        let (name, ip) = address_node(&all).with_context(|| {
            format!(
                "context {context} has no Ready node with an InternalIP for the peers to reach: give the address with --ip"
            )
        })?;
        found.insert(context.to_string(), (name.to_string(), ip));
    }
    let mut first = None;
    for p in spec.parties.iter_mut().filter(|p| p.is_ours()) {
        if p.address.is_none()
            && let Some((name, ip)) = p.cluster.context().and_then(|c| found.get(c))
        {
            p.address = Some(*ip);
            first.get_or_insert((*ip, format!("node {name} in {}", p.cluster.describe())));
        }
    }
    let given = spec.ours().find_map(|p| p.address);
    match (first, given) {
        (Some((ip, from)), _) => {
            spec.ip = ip;
            spec.ip_source = IpSource::Node(from);
        }
        (None, Some(ip)) => {
            spec.ip = ip;
            spec.ip_source = IpSource::Given;
        }
        (None, None) => anyhow::bail!("no address for the lab's parties: give --ip"),
    }
    Ok(())
}
