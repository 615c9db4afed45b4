//! The lab spec: parties, host IP, release, registry, domain and ports, validated once.
//!
//! Every input, from flags or from a scenario file, goes through [`SpecInput::validate`] before
//! any step runs, so a bad value stops fatelab with exit status 2 and the host untouched.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use anyhow::Result;
use serde::Serialize;

use crate::exit::usage;
use crate::model::catalog::{self, Release};
pub use crate::model::target::Cluster;

/// Kubernetes' default NodePort range; every port a party exposes must fall inside it.
pub const NODE_PORT_MIN: u32 = 30000;
pub const NODE_PORT_MAX: u32 = 32767;

/// The tutorial's port scheme: party i gets 30091+10i (rollsite), 30092+10i (FATE Flow gRPC)
/// and 30097+10i (FATE Flow HTTP), so 9999 → 30091/30092/30097 and 10000 → 30101/30102/30107.
const ROLLSITE_BASE: u32 = 30091;
const GRPC_BASE: u32 = 30092;
const HTTP_BASE: u32 = 30097;
const PORT_STRIDE: u32 = 10;

pub const DEFAULT_PARTIES: [u32; 2] = [9999, 10000];

/// Raw, unvalidated inputs: a scenario file's values overlaid by the command-line flags.
#[derive(Debug, Default, Clone)]
pub struct SpecInput {
    pub parties: Option<Vec<PartyInput>>,
    pub ip: Option<String>,
    pub release: Option<String>,
    pub registry: Option<String>,
    pub domain: Option<String>,
    /// `--kubeconfig`: the file naming existing clusters (else the usual kubeconfig).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// `--context`: the existing cluster for parties that name none (else the current context).
    pub context: Option<String>,
    /// `--local`: the parties are processes on this host, their ports from this base.
    pub local: Option<u16>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct PartyInput {
    pub id: u64,
    pub ports: PortOverrides,
    /// The kubeconfig context of the cluster this party is installed in (scenario files).
    pub context: Option<String>,
    /// The address the other parties reach this party's rollsite/osx NodePort at.
    pub ip: Option<String>,
    /// Run by another organisation (`--peer`): only its address and `ports.rollsite` are known.
    pub peer: bool,
}

/// Explicit ports for one party (scenario files only); unset ones follow the tutorial's scheme.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct PortOverrides {
    pub rollsite: Option<u32>,
    pub grpc: Option<u32>,
    pub http: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LabSpec {
    #[serde(serialize_with = "serialize_release")]
    pub release: &'static Release,
    pub target: Target,
    pub ip: Ipv4Addr,
    pub ip_source: IpSource,
    pub registry: Option<String>,
    pub domain: String,
    pub parties: Vec<Party>,
    /// What each party asks the scheduler for (v2 charts; `up --resources`); `None` renders no
    /// resources, leaving the chart's defaults.
    pub sizing: Option<crate::model::sizing::PartySize>,
    /// FATE-Serving beside each of the lab's own parties (`up --serving`).
    pub serving: ServingWish,
}

/// Whether the lab has FATE-Serving beside its parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServingWish {
    #[default]
    Off,
    On,
    /// It has it, and `up --no-serving` removes it.
    Remove,
}

fn serialize_release<S: serde::Serializer>(r: &&'static Release, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&r.release)
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase", tag = "from", content = "interface")]
pub enum IpSource {
    Given,
    Detected(String),
    /// A node's InternalIP, read from the cluster ("node-1 in context org-a").
    Node(String),
    /// To be read from the cluster before anything uses it ([`crate::model::target::resolve_addresses`]).
    Pending,
}

/// Where the lab's own parties run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Target {
    Minikube,
    /// Clusters the user has, by kubeconfig context; `servers` holds each used context's API
    /// server URL as the kubeconfig says.
    Existing {
        kubeconfig: crate::model::target::KubeconfigSource,
        servers: BTreeMap<String, String>,
    },
    /// Processes on this host (`--local`): FATE 2.2 from PyPI, a broker per party, one proxy.
    Local {
        ports: crate::model::local::PortScheme,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Party {
    pub id: u32,
    pub ports: PartyPorts,
    pub cluster: Cluster,
    /// The address peers reach this party at, when it is not the lab's `ip`.
    pub address: Option<Ipv4Addr>,
}

#[derive(
    Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq, schemars::JsonSchema,
)]
pub struct PartyPorts {
    pub rollsite: u16,
    pub grpc: u16,
    pub http: u16,
}

/// A party's FATE-Serving NodePorts (`up --serving`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServingPorts {
    /// serving-server's gRPC (8000), which FATE Flow loads and binds models through.
    pub server: u16,
    /// serving-proxy's inter-party gRPC (8869), which the other parties' proxies dial.
    pub proxy: u16,
}

impl PartyPorts {
    /// In the tutorial's scheme, beside the party's own: KubeFATE's example parties serve on
    /// 30095/30096 (9999) and 30105/30106 (10000), rollsite + 4 and + 5 (shared/reference/serving.md 2.1).
    pub fn serving(&self) -> ServingPorts {
        ServingPorts {
            server: self.rollsite + 4,
            proxy: self.rollsite + 5,
        }
    }
}

impl Party {
    /// The KubeFATE cluster name of the party's FATE-Serving, also its namespace.
    pub fn serving_name(&self) -> String {
        Party::serving_name_of(self.id)
    }

    /// The same for party `id`, also of a party the lab no longer has.
    pub fn serving_name_of(id: u32) -> String {
        format!("fate-serving-{id}")
    }

    /// True for the parties this lab installs (not another organisation's).
    pub fn is_ours(&self) -> bool {
        self.cluster != Cluster::Elsewhere
    }

    /// The KubeFATE cluster name, which is also its namespace (the tutorial's `fate-9999`).
    pub fn name(&self) -> String {
        Party::name_of(self.id)
    }

    /// The cluster name of party `id`, also of a party the lab no longer has.
    pub fn name_of(id: u32) -> String {
        format!("fate-{id}")
    }

    pub fn namespace(&self) -> String {
        self.name()
    }
}

impl LabSpec {
    /// The parties this lab installs, in order.
    pub fn ours(&self) -> impl Iterator<Item = &Party> {
        self.parties.iter().filter(|p| p.is_ours())
    }

    /// Every cluster that holds a party of this lab, each once, in the parties' order.
    pub fn clusters(&self) -> Vec<Cluster> {
        let mut out: Vec<Cluster> = Vec::new();
        for p in self.ours() {
            if !out.contains(&p.cluster) {
                out.push(p.cluster.clone());
            }
        }
        out
    }

    pub fn on_minikube(&self) -> bool {
        matches!(self.target, Target::Minikube)
    }

    /// The port scheme of a lab of local processes; `None` on Kubernetes.
    pub fn local(&self) -> Option<crate::model::local::PortScheme> {
        match self.target {
            Target::Local { ports } => Some(ports),
            _ => None,
        }
    }

    /// Party `id`'s ports as a local process, by its place in the lab.
    pub fn local_ports(&self, id: u32) -> Option<crate::model::local::LocalPorts> {
        let scheme = self.local()?;
        let index = self.parties.iter().position(|p| p.id == id)?;
        Some(scheme.party(index))
    }

    /// Where the other parties reach `party`'s rollsite/osx NodePort.
    pub fn address(&self, party: &Party) -> Ipv4Addr {
        party.address.unwrap_or(self.ip)
    }

    pub fn party(&self, id: u32) -> Option<&Party> {
        self.parties.iter().find(|p| p.id == id)
    }

    pub fn hostnames(&self, party: &Party) -> (String, String) {
        let p = &self.release.hosts;
        (
            catalog::HostPatterns::expand(&p.notebook, party.id, &self.domain),
            catalog::HostPatterns::expand(&p.fateboard, party.id, &self.domain),
        )
    }

    pub fn service_host(&self) -> String {
        catalog::HostPatterns::expand(&self.release.hosts.service, 0, &self.domain)
    }

    /// The command another organisation runs for its party `peer` to reach this lab's parties.
    pub fn other_side(&self, peer: &Party) -> String {
        let ours: Vec<String> = self
            .parties
            .iter()
            .filter(|p| p.id != peer.id)
            .map(|p| format!("--peer {}={}:{}", p.id, self.address(p), p.ports.rollsite))
            .collect();
        format!(
            "fatelab up --party {} {}{}",
            peer.id,
            ours.join(" "),
            if self.release.release == catalog::DEFAULT_RELEASE {
                String::new()
            } else {
                format!(" --release {}", self.release.release)
            }
        )
    }

    /// True when the user chose a domain other than the one the release's charts default to.
    pub fn custom_domain(&self) -> bool {
        self.domain != self.release.domain
    }

    pub fn party_image_refs(&self) -> Vec<String> {
        let r = self.release;
        let serving: &[crate::model::catalog::Image] = match &r.serving {
            crate::model::catalog::Serving::Chart { images, .. }
                if self.serving == ServingWish::On =>
            {
                images
            }
            _ => &[],
        };
        r.party_images
            .iter()
            .chain(serving)
            .map(|i| i.reference(self.registry.as_deref(), r.registry_style))
            .collect()
    }
}

/// Parses one party ID as typed on the command line.
pub fn parse_party_id(s: &str) -> Result<u64, String> {
    let t = s.trim();
    match t.parse::<u64>() {
        Ok(0) => Err("party ID 0 is not allowed: party IDs are positive integers like 9999".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "party ID '{t}' is not a positive integer: party IDs are numbers like 9999 or 10000"
        )),
    }
}

/// Parses and checks the address the parties use to reach each other's rollsite.
pub fn parse_host_ip(s: &str) -> Result<Ipv4Addr, String> {
    let t = s.trim();
    let ip: IpAddr = t.parse().map_err(|_| {
        format!(
            "'{t}' is not a valid IPv4 address: expected four numbers 0-255 like 192.168.100.123"
        )
    })?;
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(_) => {
            return Err(format!(
                "'{t}' is an IPv6 address: the FATE charts need the host's IPv4 address (see `ip -4 addr`)"
            ));
        }
    };
    let why = if v4.is_loopback() {
        Some("a loopback address")
    } else if v4.is_unspecified() {
        Some("the unspecified address")
    } else if v4.is_broadcast() {
        Some("the broadcast address")
    } else if v4.is_multicast() {
        Some("a multicast address")
    } else {
        None
    };
    match why {
        Some(why) => Err(format!(
            "--ip {t} is {why}: each party's pods reach the other parties' rollsite through this \
             address, so it must be the host's own network address as seen from inside a pod \
             (find it with `ip -4 addr`, or leave --ip out to detect it)"
        )),
        None => Ok(v4),
    }
}

/// Registry prefixes look like `hub.c.163.com/federatedai` or `registry.local:5000`.
pub fn parse_registry(s: &str) -> Result<Option<String>, String> {
    let t = s.trim().trim_end_matches('/');
    if t.is_empty() {
        return Ok(None);
    }
    if t.contains("://") {
        return Err(format!(
            "--registry '{s}' has a URL scheme: give the registry prefix only, like hub.c.163.com/federatedai"
        ));
    }
    let ok = t.chars().all(|c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_' | ':' | '/')
    });
    if !ok || t.starts_with(['/', '.', '-', ':']) || t.contains("//") {
        return Err(format!(
            "--registry '{s}' is not a registry prefix: use lowercase letters, digits and . - _ : /, \
             like hub.c.163.com/federatedai or registry.local:5000/federatedai"
        ));
    }
    Ok(Some(t.to_string()))
}

/// Domains become ingress host names (`9999.notebook.<domain>`), so they must be DNS names.
pub fn parse_domain(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if t.len() > 200 || !t.contains('.') || !t.split('.').all(label_ok) {
        return Err(format!(
            "--domain '{s}' is not a DNS domain: use dot-separated labels of letters, digits and '-', \
             like kubefate.net or lab.example.com"
        ));
    }
    Ok(t)
}

impl SpecInput {
    /// Turns raw inputs into a [`LabSpec`], or a usage error naming the bad value and what is
    /// allowed. A lab on minikube without an `ip` needs [`SpecInput::validate_with`].
    pub fn validate(self) -> Result<LabSpec> {
        self.validate_with(|| Err(anyhow::anyhow!("no address was given")))
    }

    /// The same, asking `detect_ip` for this host's address (and its interface) when a lab on
    /// minikube was given none.
    pub fn validate_with(
        self,
        detect_ip: impl FnOnce() -> Result<(Ipv4Addr, String)>,
    ) -> Result<LabSpec> {
        if let Some(base) = self.local {
            return self.validate_local(base);
        }
        let release_name = self.release.as_deref().unwrap_or(catalog::DEFAULT_RELEASE);
        let release = catalog::find(release_name).ok_or_else(|| {
            usage(format!(
                "--release {release_name} is not a release fatelab knows; known releases: {}",
                catalog::names().join(", ")
            ))
        })?;

        let parties_in = self.parties.unwrap_or_else(default_parties);
        let (target, default_context) = validate_target(
            self.kubeconfig.as_ref(),
            self.context.as_deref(),
            &parties_in,
        )?;
        let parties = validate_parties(&parties_in, &target, default_context.as_deref())?;

        let registry = match self.registry {
            Some(r) => parse_registry(&r).map_err(usage)?,
            None => None,
        };
        let domain = match self.domain {
            Some(d) => parse_domain(&d).map_err(usage)?,
            None => release.domain.clone(),
        };

        let (ip, ip_source) = match self.ip {
            Some(s) => (parse_host_ip(&s).map_err(usage)?, IpSource::Given),
            // An existing cluster's parties are reached at a node's address, not this host's.
            None if !matches!(target, Target::Minikube) => {
                match parties
                    .iter()
                    .filter(|p| p.is_ours())
                    .find_map(|p| p.address)
                {
                    Some(ip) => (ip, IpSource::Given),
                    None => (Ipv4Addr::UNSPECIFIED, IpSource::Pending),
                }
            }
            None => {
                let (ip, iface) = detect_ip().map_err(|e| {
                    usage(format!(
                        "could not detect this host's IPv4 address ({e}); pass it with --ip, e.g. --ip 192.168.100.123"
                    ))
                })?;
                (ip, IpSource::Detected(iface))
            }
        };

        Ok(LabSpec {
            release,
            target,
            ip,
            ip_source,
            registry,
            domain,
            parties,
            sizing: None,
            serving: ServingWish::Off,
        })
    }
}

impl SpecInput {
    /// A lab of local processes: its parties and their ports from `base`; nothing of Kubernetes
    /// (an address, a cluster, a registry, a domain) applies.
    fn validate_local(self, base: u16) -> Result<LabSpec> {
        let given = [
            ("--ip", self.ip.is_some()),
            ("--release", self.release.is_some()),
            ("--registry", self.registry.is_some()),
            ("--domain", self.domain.is_some()),
            ("--kubeconfig", self.kubeconfig.is_some()),
            ("--context", self.context.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
            return Err(usage(format!(
                "{flag} does not apply to a lab of local processes (--local): its parties run FATE {} \
                 on this host, reached at 127.0.0.1",
                crate::model::local::FATE_VERSION
            )));
        }
        let input = self.parties.unwrap_or_else(default_parties);
        if let Some(p) = input.iter().find(|p| p.peer || p.context.is_some()) {
            return Err(usage(format!(
                "party {} is placed elsewhere, and a lab of local processes (--local) runs every party on this host",
                p.id
            )));
        }
        // The same rules for IDs as any lab: at least two, distinct, in range. (The ports are
        // the local scheme's, whatever a record or a scenario says.)
        let ids: Vec<PartyInput> = input
            .iter()
            .map(|p| PartyInput {
                id: p.id,
                ..PartyInput::default()
            })
            .collect();
        validate_parties(&ids, &Target::Minikube, None)?;
        let scheme = crate::model::local::PortScheme { base };
        if base < 1024 || scheme.last(input.len()).is_none() {
            return Err(usage(format!(
                "--port-base {base}: a local lab of {} parties takes {} ports from its base, which must be \
                 at least 1024 and leave them all below 65536",
                input.len(),
                10 * (input.len() + 1)
            )));
        }
        let parties = input
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let ports = scheme.party(i);
                Party {
                    id: p.id as u32,
                    ports: PartyPorts {
                        rollsite: ports.amqp,
                        grpc: ports.grpc,
                        http: ports.http,
                    },
                    cluster: Cluster::Local,
                    address: None,
                }
            })
            .collect();
        let release = catalog::find(LOCAL_API_RELEASE).expect("the catalog has v2.0.0");
        Ok(LabSpec {
            release,
            target: Target::Local { ports: scheme },
            ip: Ipv4Addr::LOCALHOST,
            ip_source: IpSource::Given,
            registry: None,
            domain: release.domain.clone(),
            parties,
            sizing: None,
            serving: ServingWish::Off,
        })
    }
}

/// The tutorial's two parties, 9999 and 10000.
fn default_parties() -> Vec<PartyInput> {
    DEFAULT_PARTIES
        .iter()
        .map(|&id| PartyInput {
            id: id.into(),
            ..PartyInput::default()
        })
        .collect()
}

/// The catalog release whose FATE Flow API (v2) and jobs a local lab's FATE 2.2 speaks.
pub const LOCAL_API_RELEASE: &str = "v2.0.0";

/// Minikube, unless a kubeconfig, a context or a party's context is given; then every context
/// named must be in the kubeconfig.
fn validate_target(
    kubeconfig: Option<&std::path::PathBuf>,
    context: Option<&str>,
    parties: &[PartyInput],
) -> Result<(Target, Option<String>)> {
    let named: Vec<&str> = parties
        .iter()
        .filter_map(|p| p.context.as_deref())
        .collect();
    if kubeconfig.is_none() && context.is_none() && named.is_empty() {
        return Ok((Target::Minikube, None));
    }
    // Absolute, so `status` and `down` from another directory read the same file.
    let source = crate::model::target::KubeconfigSource {
        path: kubeconfig.map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())),
    };
    let kc = source
        .load()
        .map_err(|e| usage(format!("{e:#}; give the file with --kubeconfig PATH")))?;
    let known = crate::model::target::contexts(&kc);
    let default = context.map(str::to_string).or(known.current.clone());
    let mut servers = BTreeMap::new();
    for p in parties.iter().filter(|p| !p.peer) {
        let Some(c) = p.context.clone().or_else(|| default.clone()) else {
            return Err(usage(format!(
                "the kubeconfig ({}) has no current context: name the cluster with --context NAME",
                source.describe()
            )));
        };
        let Some(server) = known.servers.get(&c) else {
            let list: Vec<&str> = known.servers.keys().map(String::as_str).collect();
            return Err(usage(format!(
                "context {c} (party {}) is not in the kubeconfig ({}); its contexts: {}",
                p.id,
                source.describe(),
                if list.is_empty() {
                    "none".to_string()
                } else {
                    list.join(", ")
                }
            )));
        };
        servers.insert(c, server.clone());
    }
    Ok((
        Target::Existing {
            kubeconfig: source,
            servers,
        },
        default,
    ))
}

fn validate_parties(
    input: &[PartyInput],
    target: &Target,
    context: Option<&str>,
) -> Result<Vec<Party>> {
    let listed = || {
        input
            .iter()
            .map(|p| p.id.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if !input.is_empty() && input.iter().all(|p| p.peer) {
        return Err(usage(format!(
            "every party of this lab ({}) is a --peer: name the party that runs here with --party ID",
            listed()
        )));
    }
    if input.len() < 2 {
        return Err(usage(format!(
            "a federated lab needs at least two parties, got {} ({}); list them like --parties 9999,10000",
            input.len(),
            listed()
        )));
    }
    let mut seen = HashSet::new();
    for p in input {
        if p.id == 0 || p.id > u64::from(u32::MAX) {
            return Err(usage(format!(
                "party ID {} is out of range: party IDs are positive integers from 1 to {}",
                p.id,
                u32::MAX
            )));
        }
        if !seen.insert(p.id) {
            return Err(usage(format!(
                "party ID {} is listed twice ({}): every party needs its own ID",
                p.id,
                listed()
            )));
        }
    }

    // Which (party, role) first claimed each port of each cluster, to name both sides of a clash.
    let mut owners: BTreeMap<(Cluster, u32), String> = BTreeMap::new();
    let mut parties = Vec::with_capacity(input.len());
    for (i, p) in input.iter().enumerate() {
        let cluster = if p.peer {
            Cluster::Elsewhere
        } else {
            match target {
                Target::Minikube => Cluster::Minikube,
                // validate_target made sure every party has a context that exists.
                Target::Existing { .. } => Cluster::Context(
                    p.context
                        .clone()
                        .or_else(|| context.map(str::to_string))
                        .unwrap_or_default(),
                ),
                Target::Local { .. } => Cluster::Local,
            }
        };
        let address = match &p.ip {
            Some(ip) => Some(parse_host_ip(ip).map_err(|e| {
                usage(format!("party {}: {}", p.id, e.replacen("--ip ", "ip ", 1)))
            })?),
            None if p.peer => {
                return Err(usage(format!(
                    "--peer {} has no address: give it as --peer {}=HOST:PORT",
                    p.id, p.id
                )));
            }
            None => None,
        };
        if p.peer {
            let port = p.ports.rollsite.unwrap_or(0);
            if !(NODE_PORT_MIN..=NODE_PORT_MAX).contains(&port) {
                return Err(usage(format!(
                    "--peer {}: port {port} is outside the Kubernetes NodePort range {NODE_PORT_MIN}-{NODE_PORT_MAX}: \
                     give the peer's rollsite/osx NodePort",
                    p.id
                )));
            }
            parties.push(Party {
                id: p.id as u32,
                ports: PartyPorts {
                    rollsite: port as u16,
                    grpc: 0,
                    http: 0,
                },
                cluster,
                address,
            });
            continue;
        }
        let offset = PORT_STRIDE * i as u32;
        let wanted = [
            (
                "rollsite",
                p.ports.rollsite.unwrap_or(ROLLSITE_BASE + offset),
            ),
            ("grpc", p.ports.grpc.unwrap_or(GRPC_BASE + offset)),
            ("http", p.ports.http.unwrap_or(HTTP_BASE + offset)),
        ];
        for (role, port) in wanted {
            let who = format!("party {} {role} port", p.id);
            if !(NODE_PORT_MIN..=NODE_PORT_MAX).contains(&port) {
                let hint = if input.len() > 200 {
                    " (too many parties for the automatic port scheme; set ports in a scenario file)"
                } else {
                    ""
                };
                return Err(usage(format!(
                    "{who} {port} is outside the Kubernetes NodePort range {NODE_PORT_MIN}-{NODE_PORT_MAX}{hint}"
                )));
            }
            if let Some(first) = owners.insert((cluster.clone(), port), who.clone()) {
                let place = match &cluster {
                    Cluster::Context(c) => format!(" in context {c}"),
                    _ => String::new(),
                };
                return Err(usage(format!(
                    "port {port} is used twice{place}: {first} and {who}; every NodePort of a cluster must be distinct"
                )));
            }
        }
        let [(_, rollsite), (_, grpc), (_, http)] = wanted;
        parties.push(Party {
            id: p.id as u32,
            ports: PartyPorts {
                rollsite: rollsite as u16,
                grpc: grpc as u16,
                http: http as u16,
            },
            cluster,
            address,
        });
    }
    Ok(parties)
}

/// The input of a lab of `ids` at the tutorial's IP, for tests.
#[cfg(test)]
pub fn example_input(ids: &[u64]) -> SpecInput {
    SpecInput {
        parties: Some(
            ids.iter()
                .map(|&id| PartyInput {
                    id,
                    ..PartyInput::default()
                })
                .collect(),
        ),
        ip: Some("192.168.100.123".into()),
        ..SpecInput::default()
    }
}

/// A lab of `ids` at the tutorial's IP, for the tests of what is rendered from one.
#[cfg(test)]
pub fn example(ids: &[u64], release: &str, registry: Option<&str>) -> LabSpec {
    SpecInput {
        release: Some(release.into()),
        registry: registry.map(str::to_string),
        ..example_input(ids)
    }
    .validate()
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(ids: &[u64]) -> SpecInput {
        example_input(ids)
    }

    fn err(i: SpecInput) -> String {
        let e = i.validate().unwrap_err();
        assert_eq!(crate::exit::code_for(&e), crate::exit::USAGE, "{e}");
        e.to_string()
    }

    #[test]
    fn tutorial_ports() {
        let spec = input(&[9999, 10000]).validate().unwrap();
        let p: Vec<_> = spec.parties.iter().map(|p| p.ports).collect();
        assert_eq!(
            p,
            [
                PartyPorts {
                    rollsite: 30091,
                    grpc: 30092,
                    http: 30097
                },
                PartyPorts {
                    rollsite: 30101,
                    grpc: 30102,
                    http: 30107
                },
            ]
        );
        assert_eq!(spec.release.release, "v1.6.0");
        assert_eq!(spec.domain, "kubefate.net");
    }

    #[test]
    fn party_errors_name_the_problem() {
        assert!(err(input(&[9999, 9999])).contains("9999 is listed twice"));
        assert!(err(input(&[9999])).contains("at least two parties"));
        assert!(err(input(&[0, 1])).contains("out of range"));
        assert!(err(input(&[1, 1 << 33])).contains("out of range"));
        assert!(
            parse_party_id("abc")
                .unwrap_err()
                .contains("'abc' is not a positive integer")
        );
        assert!(parse_party_id("0").is_err());
        assert_eq!(parse_party_id(" 42 "), Ok(42));
    }

    #[test]
    fn ip_errors_name_the_problem() {
        assert!(
            parse_host_ip("300.1.1.1")
                .unwrap_err()
                .contains("'300.1.1.1' is not a valid IPv4")
        );
        assert!(parse_host_ip("127.0.0.1").unwrap_err().contains("loopback"));
        assert!(
            parse_host_ip("0.0.0.0")
                .unwrap_err()
                .contains("unspecified")
        );
        assert!(parse_host_ip("::1").unwrap_err().contains("IPv6"));
        assert!(
            parse_host_ip("224.0.0.1")
                .unwrap_err()
                .contains("multicast")
        );
        assert_eq!(parse_host_ip("10.1.2.3"), Ok(Ipv4Addr::new(10, 1, 2, 3)));
    }

    #[test]
    fn unknown_release_lists_known_ones() {
        let mut i = input(&[1, 2]);
        i.release = Some("v0.0.1".into());
        let msg = err(i);
        assert!(
            msg.contains("v0.0.1") && msg.contains("v1.6.0") && msg.contains("v2.0.0"),
            "{msg}"
        );
    }

    #[test]
    fn ports_overflowing_the_node_port_range_are_rejected() {
        let ids: Vec<u64> = (1..=300).collect();
        assert!(err(input(&ids)).contains("outside the Kubernetes NodePort range"));
        let ids: Vec<u64> = (1..=268).collect();
        let spec = input(&ids).validate().unwrap();
        assert_eq!(spec.parties.last().unwrap().ports.http, 32767);
    }

    #[test]
    fn overrides_are_checked_for_clashes_and_range() {
        let mut i = input(&[9999, 10000]);
        i.parties.as_mut().unwrap()[1].ports.rollsite = Some(30097);
        let msg = err(i);
        assert!(msg.contains("port 30097 is used twice"), "{msg}");
        assert!(
            msg.contains("party 9999 http") && msg.contains("party 10000 rollsite"),
            "{msg}"
        );

        let mut i = input(&[9999, 10000]);
        i.parties.as_mut().unwrap()[0].ports.http = Some(8080);
        assert!(err(i).contains("party 9999 http port 8080 is outside"));
    }

    #[test]
    fn registry_and_domain() {
        assert_eq!(
            parse_registry("hub.c.163.com/federatedai/"),
            Ok(Some("hub.c.163.com/federatedai".into()))
        );
        assert_eq!(parse_registry(""), Ok(None));
        assert!(parse_registry("https://hub.c.163.com").is_err());
        assert!(parse_registry("Hub Space").is_err());
        assert_eq!(
            parse_domain("Lab.Example.com."),
            Ok("lab.example.com".into())
        );
        assert!(parse_domain("localhost").is_err());
        assert!(parse_domain("bad_domain.com").is_err());
    }

    #[test]
    fn hostnames_follow_the_release() {
        let spec = input(&[9999, 10000]).validate().unwrap();
        assert_eq!(spec.service_host(), "kubefate.net");
        assert_eq!(
            spec.hostnames(&spec.parties[0]),
            (
                "9999.notebook.kubefate.net".into(),
                "9999.fateboard.kubefate.net".into()
            )
        );
        let mut i = input(&[9999, 10000]);
        i.release = Some("v2.0.0".into());
        let spec = i.validate().unwrap();
        assert_eq!(
            spec.hostnames(&spec.parties[1]).0,
            "party10000.notebook.example.com"
        );
    }
}
