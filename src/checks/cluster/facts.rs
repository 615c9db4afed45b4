//! What an existing cluster says of itself, asked through its API server (reads only, and
//! SelfSubjectAccessReviews, which change nothing): its version, ingress classes, nodes, the
//! NodePorts its Services hold, what this user may do; and whether other organisations'
//! parties answer from here.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::networking::v1::IngressClass;
use semver::Version;

use super::Permission;
use crate::model::spec::{IpSource, LabSpec, Party, Target};
use crate::model::target::Cluster;

/// How long a peer's rollsite/osx gets to accept a TCP connection from this host.
pub const PEER_DIAL: Duration = Duration::from_secs(3);

/// The server's Kubernetes version (`/version`'s gitVersion, vendor suffixes dropped).
pub async fn server_version(client: &kube::Client, cluster: &Cluster) -> Result<Version> {
    let info = client
        .apiserver_version()
        .await
        .with_context(|| format!("asking {} for its version", cluster.describe()))?;
    let git = info.git_version.trim_start_matches('v');
    let core = git.split(['+', '-']).next().unwrap_or(git);
    Version::parse(core)
        .or_else(|_| {
            let minor: u64 = info.minor.trim_end_matches('+').parse()?;
            let major: u64 = info.major.parse()?;
            Ok::<_, std::num::ParseIntError>(Version::new(major, minor, 0))
        })
        .with_context(|| {
            format!(
                "{} reports version {:?}",
                cluster.describe(),
                info.git_version
            )
        })
}

/// The cluster's IngressClasses: (name, is the default).
pub async fn ingress_classes(
    client: &kube::Client,
    cluster: &Cluster,
) -> Result<Vec<(String, bool)>> {
    let api: kube::Api<IngressClass> = kube::Api::all(client.clone());
    let list = api
        .list(&Default::default())
        .await
        .with_context(|| format!("listing the IngressClasses of {}", cluster.describe()))?;
    Ok(list
        .items
        .into_iter()
        .map(|c| {
            let default = c
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("ingressclass.kubernetes.io/is-default-class"))
                .is_some_and(|v| v == "true");
            (c.metadata.name.unwrap_or_default(), default)
        })
        .collect())
}

/// One Service's NodePorts.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldPorts {
    pub namespace: String,
    pub name: String,
    pub node_ports: Vec<u16>,
}

/// The NodePorts every Service of the cluster holds.
pub async fn node_ports(client: &kube::Client, cluster: &Cluster) -> Result<Vec<HeldPorts>> {
    let api: kube::Api<Service> = kube::Api::all(client.clone());
    let services = api
        .list(&Default::default())
        .await
        .with_context(|| format!("listing the Services of {}", cluster.describe()))?;
    Ok(services
        .items
        .into_iter()
        .map(|svc| HeldPorts {
            namespace: svc.metadata.namespace.unwrap_or_default(),
            name: svc.metadata.name.unwrap_or_else(|| "?".into()),
            node_ports: svc
                .spec
                .and_then(|s| s.ports)
                .into_iter()
                .flatten()
                .filter_map(|p| p.node_port.and_then(|n| u16::try_from(n).ok()))
                .collect(),
        })
        .collect())
}

/// One node as the address and database checks see it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub name: String,
    pub internal_ip: Option<Ipv4Addr>,
    pub ready: bool,
}

pub async fn nodes(client: &kube::Client) -> Result<Vec<NodeInfo>> {
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
pub fn address_node(nodes: &[NodeInfo]) -> Option<(&str, Ipv4Addr)> {
    nodes
        .iter()
        .filter(|n| n.ready)
        .find_map(|n| n.internal_ip.map(|ip| (n.name.as_str(), ip)))
}

/// Which of `asks` the API server says this user may do (SelfSubjectAccessReview, 8 at once).
pub async fn access(
    client: &kube::Client,
    asks: Vec<Permission>,
) -> Result<Vec<(Permission, bool)>> {
    let api: kube::Api<SelfSubjectAccessReview> = kube::Api::all(client.clone());
    futures::stream::iter(asks)
        .map(|p| {
            let api = api.clone();
            async move {
                let review = SelfSubjectAccessReview {
                    spec: SelfSubjectAccessReviewSpec {
                        resource_attributes: Some(ResourceAttributes {
                            verb: Some(p.verb.into()),
                            group: Some(p.group.clone()),
                            resource: Some(p.resource.clone()),
                            subresource: p.subresource.map(String::from),
                            namespace: p.namespace.clone(),
                            name: p.name.clone(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    ..Default::default()
                };
                let answer = api.create(&Default::default(), &review).await.context(
                    "asking the API server what this user may do (SelfSubjectAccessReview)",
                )?;
                Ok((p, answer.status.is_some_and(|s| s.allowed)))
            }
        })
        .buffered(8)
        .collect::<Vec<Result<_>>>()
        .await
        .into_iter()
        .collect()
}

/// Whether each party another organisation runs accepts a TCP connection from this host.
pub async fn dial_peers(spec: &LabSpec) -> Vec<(&Party, SocketAddr, Result<(), String>)> {
    let dials = spec.parties.iter().filter(|p| !p.is_ours()).map(|p| {
        let addr = SocketAddr::from((spec.address(p), p.ports.rollsite));
        async move {
            let answer = crate::clients::tcp::answers(addr, PEER_DIAL).await;
            (p, addr, answer)
        }
    });
    futures::future::join_all(dials).await
}

/// Fills in, from the clusters, the addresses an existing-cluster lab was not given: each party
/// without one is reached at a node of its cluster (the first Ready node with an InternalIP).
/// Reads only; a lab on minikube, or with every address given, asks nothing.
pub async fn resolve_addresses(spec: &mut LabSpec, call_timeout: Duration) -> Result<()> {
    let Target::Existing { kubeconfig, .. } = &spec.target else {
        return Ok(());
    };
    if !matches!(spec.ip_source, IpSource::Pending) {
        return Ok(());
    }
    let mut found: BTreeMap<String, (String, Ipv4Addr)> = BTreeMap::new();
    for context in spec.clusters().iter().filter_map(Cluster::context) {
        let needs = spec
            .ours()
            .any(|p| p.address.is_none() && p.cluster.context() == Some(context));
        if !needs {
            continue;
        }
        let client =
            crate::clients::kube::connect_context(kubeconfig.load()?, context, call_timeout)
                .await?;
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
