//! What stands in for the host half when the lab runs on clusters the user already has: each
//! cluster's version, ingress class, free NodePorts, the caller's permissions, the address peers
//! use, and whether v1.6.0's hostPath database suits it; and, for every lab, whether the
//! parties other organisations run answer from here. Reads only.

use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::IngressClass;
use semver::Version;
use serde_json::Value;

use super::Ctx;
use crate::clients::kubefate::NAMESPACE;
use crate::doctor::Check;
use crate::render::manifests::{self, Credentials};
use crate::target::Cluster;

/// How long a peer's rollsite/osx gets to accept a TCP connection from this host.
pub const PEER_DIAL: Duration = Duration::from_secs(3);

/// The server's Kubernetes version (`/version`'s gitVersion, vendor suffixes dropped).
pub async fn server_version(ctx: &Ctx<'_>, cluster: &Cluster) -> Result<Version> {
    let info = ctx
        .kube_in(cluster)
        .await?
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
pub async fn ingress_classes(ctx: &Ctx<'_>, cluster: &Cluster) -> Result<Vec<(String, bool)>> {
    let api: kube::Api<IngressClass> = kube::Api::all(ctx.kube_in(cluster).await?.clone());
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

/// What a cluster's IngressClasses mean for the lab's host names, in words: the class that serves
/// them (the default one first), or, with none, where the FATE Boards and notebooks are instead.
pub fn ingress_note(ctx: &Ctx, cluster: &Cluster, classes: &[(String, bool)]) -> String {
    match classes.iter().find(|(_, d)| *d).or(classes.first()) {
        Some((name, default)) => format!(
            "{} serves ingresses with class {name}{}",
            cluster.describe(),
            if *default { " (its default)" } else { "" }
        ),
        None => format!(
            "{} has no IngressClass, so the notebooks and FATE Boards are not served by host name; \
             reach them through the API server: {}",
            cluster.describe(),
            proxy_urls(ctx, cluster).join(" ")
        ),
    }
}

/// Where a browser reaches a party's FATE Board and notebook without an ingress: the API
/// server's service proxy, behind `kubectl proxy`.
pub fn proxy_urls(ctx: &Ctx, cluster: &Cluster) -> Vec<String> {
    let context = cluster.context().unwrap_or("minikube");
    let mut urls = vec![format!("`kubectl --context {context} proxy`, then")];
    for p in ctx.spec.ours().filter(|p| p.cluster == *cluster) {
        let ns = p.namespace();
        urls.push(format!(
            "party {}: FATE Board http://127.0.0.1:8001/api/v1/namespaces/{ns}/services/fateboard:8080/proxy/, \
             notebook http://127.0.0.1:8001/api/v1/namespaces/{ns}/services/notebook:20000/proxy/",
            p.id
        ));
    }
    urls
}

/// NodePorts the lab's parties in `cluster` need that a Service other than the party's own holds.
async fn taken_node_ports(ctx: &Ctx<'_>, cluster: &Cluster) -> Result<Vec<String>> {
    let api: kube::Api<Service> = kube::Api::all(ctx.kube_in(cluster).await?.clone());
    let services = api
        .list(&Default::default())
        .await
        .with_context(|| format!("listing the Services of {}", cluster.describe()))?;
    let mut taken = Vec::new();
    for party in ctx.spec.ours().filter(|p| p.cluster == *cluster) {
        let wanted = [
            ("rollsite/osx", party.ports.rollsite),
            ("FATE Flow gRPC", party.ports.grpc),
            ("FATE Flow HTTP", party.ports.http),
        ];
        for svc in &services.items {
            let ns = svc.metadata.namespace.clone().unwrap_or_default();
            if ns == party.namespace() {
                continue;
            }
            let held = svc
                .spec
                .as_ref()
                .and_then(|s| s.ports.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|p| p.node_port);
            for port in held {
                if let Some((role, _)) = wanted.iter().find(|(_, w)| i32::from(*w) == port) {
                    taken.push(format!(
                        "{port} (party {} {role}) is held by Service {ns}/{}",
                        party.id,
                        svc.metadata.name.as_deref().unwrap_or("?")
                    ));
                }
            }
        }
    }
    Ok(taken)
}

/// One thing fatelab asks the API server to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Permission {
    pub verb: &'static str,
    pub group: String,
    pub resource: String,
    pub subresource: Option<&'static str>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

impl Permission {
    fn new(verb: &'static str, group: &str, resource: &str, namespace: Option<&str>) -> Self {
        Permission {
            verb,
            group: group.to_string(),
            resource: resource.to_string(),
            subresource: None,
            namespace: namespace.map(String::from),
            name: None,
        }
    }

    pub fn describe(&self) -> String {
        let what = match (&self.group, self.subresource) {
            (g, Some(sub)) if g.is_empty() => format!("{}/{sub}", self.resource),
            (g, Some(sub)) => format!("{}.{g}/{sub}", self.resource),
            (g, None) if g.is_empty() => self.resource.clone(),
            (g, None) => format!("{}.{g}", self.resource),
        };
        let named = self
            .name
            .as_ref()
            .map(|n| format!(" {n}"))
            .unwrap_or_default();
        match &self.namespace {
            Some(ns) => format!("{} {what}{named} in {ns}", self.verb),
            None => format!("{} {what}{named} (cluster-wide)", self.verb),
        }
    }
}

/// The API's plural of a kind (the kinds of the KubeFATE manifests).
fn plural(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if k.ends_with('s') {
        format!("{k}es")
    } else if let Some(stem) = k.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{k}s")
    }
}

/// Every verb on every resource fatelab uses in a cluster that holds `parties`: the KubeFATE
/// manifests' objects (server-side apply, delete), the parties' namespaces, the pods and
/// deployments it watches, the service proxy it talks to KubeFATE and FATE Flow through, and
/// what the preflight itself reads.
pub fn needed_permissions(ctx: &Ctx, cluster: &Cluster) -> Result<Vec<Permission>> {
    let (rbac, service) = manifests::documents(ctx.spec, &Credentials::placeholder())?;
    let mut out: Vec<Permission> = Vec::new();
    let mut add = |p: Permission| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for doc in rbac.iter().chain(service.iter()) {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let kind = doc["kind"].as_str().unwrap_or_default();
        let cluster_scoped = matches!(kind, "Namespace" | "ClusterRole" | "ClusterRoleBinding");
        let ns = (!cluster_scoped)
            .then(|| doc.pointer("/metadata/namespace").and_then(Value::as_str))
            .flatten();
        for verb in ["get", "patch", "delete"] {
            add(Permission::new(verb, group, &plural(kind), ns));
        }
        // A binding can only hand out a role its maker may bind (RBAC escalation prevention).
        if kind == "ClusterRoleBinding"
            && let Some(role) = doc.pointer("/roleRef/name").and_then(Value::as_str)
        {
            let mut bind =
                Permission::new("bind", "rbac.authorization.k8s.io", "clusterroles", None);
            bind.name = Some(role.to_string());
            add(bind);
        }
    }
    for verb in ["get", "create", "delete"] {
        add(Permission::new(verb, "", "namespaces", None));
    }
    add(Permission::new("list", "", "nodes", None));
    add(Permission::new("list", "", "services", None));
    add(Permission::new(
        "list",
        "networking.k8s.io",
        "ingressclasses",
        None,
    ));
    for verb in ["get", "list", "watch"] {
        add(Permission::new(
            verb,
            "apps",
            "deployments",
            Some(NAMESPACE),
        ));
    }
    let mut namespaces = vec![NAMESPACE.to_string()];
    namespaces.extend(
        ctx.spec
            .ours()
            .filter(|p| p.cluster == *cluster)
            .map(|p| p.namespace()),
    );
    for ns in &namespaces {
        for verb in ["get", "create"] {
            let mut proxy = Permission::new(verb, "", "services", Some(ns));
            proxy.subresource = Some("proxy");
            add(proxy);
        }
        for verb in ["list", "watch"] {
            add(Permission::new(verb, "", "pods", Some(ns)));
        }
        let mut log = Permission::new("get", "", "pods", Some(ns));
        log.subresource = Some("log");
        add(log);
    }
    Ok(out)
}

/// The permissions of [`needed_permissions`] the API server says this user lacks.
async fn missing_permissions(ctx: &Ctx<'_>, cluster: &Cluster) -> Result<Vec<String>> {
    let api: kube::Api<SelfSubjectAccessReview> =
        kube::Api::all(ctx.kube_in(cluster).await?.clone());
    let asks = needed_permissions(ctx, cluster)?;
    let answers: Vec<Result<(Permission, bool)>> = futures::stream::iter(asks)
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
                let allowed = answer.status.is_some_and(|s| s.allowed);
                Ok((p, allowed))
            }
        })
        .buffered(8)
        .collect()
        .await;
    let mut missing = Vec::new();
    for a in answers {
        let (p, allowed) = a?;
        if !allowed {
            missing.push(p.describe());
        }
    }
    Ok(missing)
}

/// The checks of one existing cluster, before anything in it changes.
pub async fn cluster_checks(ctx: &Ctx<'_>, cluster: &Cluster) -> Vec<Check> {
    let name = cluster.describe();
    let mut checks = Vec::new();
    match missing_permissions(ctx, cluster).await {
        Ok(missing) if missing.is_empty() => checks.push(Check::pass(
            "rbac",
            format!("{name}: this user may do everything fatelab does there"),
        )),
        Ok(missing) => checks.push(Check::fail(
            "rbac",
            format!(
                "{name}: this user may not {} ({} of fatelab's calls)",
                missing.join("; "),
                missing.len()
            ),
            "ask the cluster's administrator for these permissions (fatelab installs cluster-wide \
             RBAC for KubeFATE, so it needs about what cluster-admin has), or use a context that has them",
        )),
        Err(e) => checks.push(Check::fail(
            "rbac",
            format!("{name}: {e:#}"),
            "check that the context's cluster answers (`kubectl --context NAME get --raw /version`)",
        )),
    }
    match taken_node_ports(ctx, cluster).await {
        Ok(taken) if taken.is_empty() => checks.push(Check::pass(
            "node-ports",
            format!("{name}: no other Service holds the lab's NodePorts"),
        )),
        Ok(taken) => checks.push(Check::fail(
            "node-ports",
            format!("{name}: {}", taken.join("; ")),
            "set other ports for the party in a scenario file (parties: [{id, ports: {rollsite, grpc, http}}])",
        )),
        Err(e) => checks.push(Check::fail("node-ports", format!("{name}: {e:#}"), "-")),
    }
    match ctx.kube_in(cluster).await {
        Ok(client) => match crate::target::nodes(client).await {
            Ok(nodes) => checks.extend(node_checks(ctx, cluster, &nodes)),
            Err(e) => checks.push(Check::fail("address", format!("{name}: {e:#}"), "-")),
        },
        Err(e) => checks.push(Check::fail("address", format!("{name}: {e:#}"), "-")),
    }
    checks
}

/// The address peers use for each party of the cluster, and v1.6.0's hostPath database.
fn node_checks(ctx: &Ctx, cluster: &Cluster, nodes: &[crate::target::NodeInfo]) -> Vec<Check> {
    let name = cluster.describe();
    let mut checks = Vec::new();
    for party in ctx.spec.ours().filter(|p| p.cluster == *cluster) {
        let ip = ctx.spec.address(party);
        let on_node = nodes.iter().find(|n| n.internal_ip == Some(ip));
        checks.push(match on_node {
            Some(n) => Check::pass(
                "address",
                format!(
                    "party {}: peers reach it at {ip}:{}, node {}'s InternalIP",
                    party.id, party.ports.rollsite, n.name
                ),
            ),
            None => Check::warn(
                "address",
                format!(
                    "party {}: peers reach it at {ip}:{}, which is no node's InternalIP in {name}",
                    party.id, party.ports.rollsite
                ),
                "fine for a load balancer or NAT in front of the nodes; otherwise give a node's address with --ip",
            ),
        });
    }
    let (_, service) = match manifests::documents(ctx.spec, &Credentials::placeholder()) {
        Ok(docs) => docs,
        Err(_) => return checks,
    };
    let host_path = service.iter().any(|d| {
        d.pointer("/spec/template/spec/volumes")
            .and_then(Value::as_array)
            .is_some_and(|vs| vs.iter().any(|v| v.get("hostPath").is_some()))
    });
    if host_path && nodes.len() > 1 {
        checks.push(Check::warn(
            "kubefate-db",
            format!(
                "{name} has {} nodes, and KubeFATE {}'s database (mariadb) keeps its files in a hostPath on \
                 whichever node it runs: rescheduled to another node, it starts empty and KubeFATE forgets the \
                 parties (they keep running; fatelab then sees them as stale)",
                nodes.len(),
                ctx.spec.release.release
            ),
            "fatelab installs the release's manifests as they are; pin kube-fate/mariadb to one node \
             (a nodeSelector) if the lab must outlive node drains, or use --release v2.0.0",
        ));
    }
    checks
}

/// Whether each party another organisation runs accepts a TCP connection at its address, from
/// this host. A refusal is a warning: the route may still work from inside the cluster.
pub async fn peer_checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let peers: Vec<_> = ctx.spec.parties.iter().filter(|p| !p.is_ours()).collect();
    let dials = peers.iter().map(|p| {
        let addr = std::net::SocketAddr::from((ctx.spec.address(p), p.ports.rollsite));
        async move { (p, addr, crate::clients::tcp::answers(addr, PEER_DIAL).await) }
    });
    futures::future::join_all(dials)
        .await
        .into_iter()
        .map(|(p, addr, answer)| match answer {
            Ok(()) => Check::pass(
                "peer",
                format!("party {} answers at {addr} (TCP, from this host)", p.id),
            ),
            Err(why) => Check::warn(
                "peer",
                format!("party {} does not answer at {addr} from this host ({why})", p.id),
                format!(
                    "check that {addr} is party {}'s rollsite/osx NodePort and that no firewall is in the way; \
                     the route may still work from inside the cluster",
                    p.id
                ),
            ),
        })
        .collect()
}

/// The line the organisation of a peer runs so that its party reaches this lab's parties.
pub fn other_side(ctx: &Ctx, peer: &crate::spec::Party) -> String {
    let ours: Vec<String> = ctx
        .spec
        .parties
        .iter()
        .filter(|p| p.id != peer.id)
        .map(|p| {
            format!(
                "--peer {}={}:{}",
                p.id,
                ctx.spec.address(p),
                p.ports.rollsite
            )
        })
        .collect();
    format!(
        "fatelab up --party {} {}{}",
        peer.id,
        ours.join(" "),
        if ctx.spec.release.release == crate::catalog::DEFAULT_RELEASE {
            String::new()
        } else {
            format!(" --release {}", ctx.spec.release.release)
        }
    )
}
