//! What stands in for the host half when the lab runs on clusters the user already has: each
//! cluster's permissions, free NodePorts, the address peers use, and whether v1.6.0's hostPath
//! database suits it; for every lab, whether the parties other organisations run answer from
//! here; and the words for an existing cluster's ingress. The facts are gathered in [`facts`];
//! everything else here is judgement over them.

pub mod facts;

use anyhow::Result;
use serde_json::Value;

use super::Check;
use crate::clients::kubefate::NAMESPACE;
use crate::model::credentials::Credentials;
use crate::model::spec::LabSpec;
use crate::model::target::Cluster;
use crate::render::manifests;
use facts::{HeldPorts, NodeInfo};

/// What a cluster's IngressClasses mean for the lab's host names, in words: the class that serves
/// them (the default one first), or, with none, where the FATE Boards and notebooks are instead.
pub fn ingress_note(spec: &LabSpec, cluster: &Cluster, classes: &[(String, bool)]) -> String {
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
            proxy_urls(spec, cluster).join(" ")
        ),
    }
}

/// Where a browser reaches a party's FATE Board and notebook without an ingress: the API
/// server's service proxy, behind `kubectl proxy`.
pub fn proxy_urls(spec: &LabSpec, cluster: &Cluster) -> Vec<String> {
    let context = cluster.context().unwrap_or("minikube");
    let mut urls = vec![format!("`kubectl --context {context} proxy`, then")];
    for p in spec.ours().filter(|p| p.cluster == *cluster) {
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
pub fn taken_node_ports(spec: &LabSpec, cluster: &Cluster, held: &[HeldPorts]) -> Vec<String> {
    let mut taken = Vec::new();
    for party in spec.ours().filter(|p| p.cluster == *cluster) {
        let wanted = [
            ("rollsite/osx", party.ports.rollsite),
            ("FATE Flow gRPC", party.ports.grpc),
            ("FATE Flow HTTP", party.ports.http),
        ];
        for svc in held.iter().filter(|s| s.namespace != party.namespace()) {
            for port in &svc.node_ports {
                if let Some((role, _)) = wanted.iter().find(|(_, w)| w == port) {
                    taken.push(format!(
                        "{port} (party {} {role}) is held by Service {}/{}",
                        party.id, svc.namespace, svc.name
                    ));
                }
            }
        }
    }
    taken
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

/// The API's plural of a kind, as kube-rs derives it (the kinds of the KubeFATE manifests are
/// all regular).
fn plural(api_version: &str, kind: &str) -> String {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
    kube::core::ApiResource::from_gvk(&gvk).plural
}

/// Every verb on every resource fatelab uses in a cluster that holds parties: the KubeFATE
/// manifests' objects (server-side apply, delete), the parties' namespaces, the pods and
/// deployments it watches, the service proxy it talks to KubeFATE and FATE Flow through, the
/// federation pods it looks into and restarts, and what the preflight itself reads. (`open`'s
/// `pods/portforward` is not asked: `up` does not need it.)
pub fn needed_permissions(spec: &LabSpec, cluster: &Cluster) -> Result<Vec<Permission>> {
    let (rbac, service) = manifests::documents(spec, &Credentials::placeholder())?;
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
            add(Permission::new(verb, group, &plural(api_version, kind), ns));
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
        spec.ours()
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
    // In each party's namespace `up` reads the route table inside the federation pod and
    // restarts a pod that keeps an old one.
    for ns in &namespaces[1..] {
        let mut exec = Permission::new("create", "", "pods", Some(ns));
        exec.subresource = Some("exec");
        add(exec);
        add(Permission::new("delete", "", "pods", Some(ns)));
    }
    Ok(out)
}

/// The checks of one existing cluster, before anything in it changes.
pub async fn cluster_checks(
    client: &kube::Client,
    spec: &LabSpec,
    cluster: &Cluster,
) -> Vec<Check> {
    let name = cluster.describe();
    let mut checks = Vec::new();
    let answers = match needed_permissions(spec, cluster) {
        Ok(asks) => facts::access(client, asks).await,
        Err(e) => Err(e),
    };
    checks.push(match answers {
        Ok(answers) => {
            let missing: Vec<String> = answers
                .iter()
                .filter(|(_, allowed)| !allowed)
                .map(|(p, _)| p.describe())
                .collect();
            rbac_check(&name, &missing)
        }
        Err(e) => Check::fail(
            "rbac",
            format!("{name}: {e:#}"),
            "check that the context's cluster answers (`kubectl --context NAME get --raw /version`)",
        ),
    });
    checks.push(match facts::node_ports(client, cluster).await {
        Ok(held) => node_ports_check(&name, &taken_node_ports(spec, cluster, &held)),
        Err(e) => Check::fail("node-ports", format!("{name}: {e:#}"), "-"),
    });
    match facts::nodes(client).await {
        Ok(nodes) => checks.extend(node_checks(spec, cluster, &nodes)),
        Err(e) => checks.push(Check::fail("address", format!("{name}: {e:#}"), "-")),
    }
    checks
}

fn rbac_check(name: &str, missing: &[String]) -> Check {
    if missing.is_empty() {
        return Check::pass(
            "rbac",
            format!("{name}: this user may do everything fatelab does there"),
        );
    }
    Check::fail(
        "rbac",
        format!(
            "{name}: this user may not {} ({} of fatelab's calls)",
            missing.join("; "),
            missing.len()
        ),
        "ask the cluster's administrator for these permissions (fatelab installs cluster-wide \
         RBAC for KubeFATE, so it needs about what cluster-admin has), or use a context that has them",
    )
}

fn node_ports_check(name: &str, taken: &[String]) -> Check {
    if taken.is_empty() {
        return Check::pass(
            "node-ports",
            format!("{name}: no other Service holds the lab's NodePorts"),
        );
    }
    Check::fail(
        "node-ports",
        format!("{name}: {}", taken.join("; ")),
        "set other ports for the party in a scenario file (parties: [{id, ports: {rollsite, grpc, http}}])",
    )
}

/// The address peers use for each party of the cluster, and v1.6.0's hostPath database.
pub fn node_checks(spec: &LabSpec, cluster: &Cluster, nodes: &[NodeInfo]) -> Vec<Check> {
    let name = cluster.describe();
    let mut checks = Vec::new();
    for party in spec.ours().filter(|p| p.cluster == *cluster) {
        let ip = spec.address(party);
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
    let (_, service) = match manifests::documents(spec, &Credentials::placeholder()) {
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
                spec.release.release
            ),
            "fatelab installs the release's manifests as they are; pin kube-fate/mariadb to one node \
             (a nodeSelector) if the lab must outlive node drains, or use --release v2.0.0",
        ));
    }
    checks
}

/// Whether each party another organisation runs accepts a TCP connection at its address, from
/// this host. A refusal is a warning: the route may still work from inside the cluster.
pub async fn peer_checks(spec: &LabSpec) -> Vec<Check> {
    facts::dial_peers(spec)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_are_kube_rs_plurals() {
        assert_eq!(plural("v1", "ServiceAccount"), "serviceaccounts");
        assert_eq!(plural("networking.k8s.io/v1", "Ingress"), "ingresses");
        assert_eq!(
            plural("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
            "clusterrolebindings"
        );
        assert_eq!(plural("apps/v1", "Deployment"), "deployments");
    }
}
