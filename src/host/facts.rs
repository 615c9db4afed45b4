//! What this machine is, as the host checks and the sizing read it: CPUs and memory (one reader,
//! which `FATELAB_HOST_SIZE` overrides to plan for another host), free disk, the cgroup version,
//! root and sudo, host tools, busy ports, its addresses, Docker, minikube. Gathering only: what
//! it means for a lab is `checks::host`'s to judge.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use semver::Version;

use crate::clients::docker::{self, EngineFacts};
use crate::clients::minikube::{ClusterState, Minikube};
use crate::model::sizing;

/// The tools the checks look for on root's PATH.
pub const TOOLS: [&str; 6] = [
    "conntrack",
    "crictl",
    "cri-dockerd",
    "iptables",
    "socat",
    "kubectl",
];

/// The cgroup hierarchy `/sys/fs/cgroup` is mounted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cgroup {
    V1,
    V2,
}

impl Cgroup {
    /// Docker's way of saying it (`1`, `2`).
    pub fn parse(s: &str) -> Option<Cgroup> {
        match s.trim() {
            "1" => Some(Cgroup::V1),
            "2" => Some(Cgroup::V2),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct HostFacts {
    pub os: &'static str,
    /// CPUs and memory, as the sizing sees them; `None` when memory could not be read.
    pub size: Option<sizing::Host>,
    pub docker: Result<EngineFacts, String>,
    /// Free bytes where Docker keeps its images (its data-root, else /var/lib/docker).
    pub disk: (PathBuf, Option<u64>),
    /// From Docker, else from the filesystem.
    pub cgroup: Option<Cgroup>,
    pub root: bool,
    /// `sudo -n true` succeeded (asked only when not root).
    pub passwordless_sudo: bool,
    /// Each of [`TOOLS`] where root's PATH has it.
    pub tools: BTreeMap<&'static str, PathBuf>,
    /// `/opt/cni/bin` has the bridge and portmap plugins.
    pub cni_plugins: bool,
    /// `kubectl version --client`'s gitVersion, when kubectl is there and says.
    pub kubectl_version: Option<String>,
    /// Which of the ports asked about something already listens on.
    pub busy_ports: Vec<u16>,
    pub local_ipv4s: Vec<(String, Ipv4Addr)>,
    /// The minikube found (path and version), or why none was.
    pub minikube: Result<(PathBuf, Version), String>,
    /// What that minikube says of its cluster.
    pub cluster: Option<ClusterState>,
}

/// This machine's CPUs and memory, or the size given in `FATELAB_HOST_SIZE` (`CPUS,MEMORY`, e.g.
/// `8,16Gi`) to plan a lab for another host.
pub fn host_size() -> anyhow::Result<sizing::Host> {
    if let Ok(given) = std::env::var("FATELAB_HOST_SIZE") {
        return sizing::Host::parse(&given).map_err(|e| anyhow::anyhow!("FATELAB_HOST_SIZE: {e}"));
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kib| kib / 1024)
        .ok_or_else(|| anyhow::anyhow!("could not read MemTotal from /proc/meminfo"))?;
    Ok(sizing::Host { cpus, memory_mib })
}

/// Where host tools are looked up: FATELAB_TOOL_PATH if set, else $PATH plus root's secure_path,
/// since minikube runs them through sudo.
pub fn tool_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = match std::env::var_os("FATELAB_TOOL_PATH") {
        Some(p) => return std::env::split_paths(&p).collect(),
        None => std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default(),
    };
    for d in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        let d = PathBuf::from(d);
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs
}

pub fn find_tool(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    let joined: OsString = std::env::join_paths(dirs).ok()?;
    which::which_in(name, Some(joined), "/").ok()
}

/// Free bytes on the filesystem of `path` (its nearest existing ancestor).
pub fn free_bytes(path: &Path) -> Option<u64> {
    let mut p = path.to_path_buf();
    while !p.exists() {
        p = p.parent()?.to_path_buf();
    }
    let st = nix::sys::statvfs::statvfs(&p).ok()?;
    Some(st.blocks_available() as u64 * st.fragment_size() as u64)
}

fn cgroup_from_fs() -> Option<Cgroup> {
    let st = nix::sys::statfs::statfs("/sys/fs/cgroup").ok()?;
    Some(
        if st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
            Cgroup::V2
        } else {
            Cgroup::V1
        },
    )
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `sudo -n true` succeeds: sudo without a password.
pub async fn passwordless_sudo() -> bool {
    tokio::process::Command::new("sudo")
        .args(["-n", "true"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .is_ok_and(|o| o.status.success())
}

async fn kubectl_version(path: &Path) -> Option<String> {
    let out = tokio::process::Command::new(path)
        .args(["version", "--client", "-o", "json"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.pointer("/clientVersion/gitVersion")?
        .as_str()
        .map(String::from)
}

/// Which of `ports` something already listens on (on any address).
pub fn busy_ports(ports: &[u16]) -> Vec<u16> {
    ports
        .iter()
        .copied()
        .filter(|&port| {
            matches!(TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse)
        })
        .collect()
}

/// Everything the host checks read, asked of this machine now; `ports` are those the lab needs
/// free, `minikube` the one found for it.
pub async fn gather(
    ports: &[u16],
    minikube: Result<(PathBuf, Version), String>,
    homes: Option<&crate::clients::minikube::Homes>,
) -> HostFacts {
    let docker = match docker::connect() {
        Ok(d) => docker::facts(&d).await.map_err(|e| format!("{e:#}")),
        Err(e) => Err(format!("{e:#}")),
    };
    let disk_dir = PathBuf::from(
        docker
            .as_ref()
            .ok()
            .and_then(|e| e.root_dir.clone())
            .unwrap_or_else(|| "/var/lib/docker".into()),
    );
    let cgroup = docker
        .as_ref()
        .ok()
        .and_then(|e| e.cgroup_version.as_deref())
        .and_then(Cgroup::parse)
        .or_else(cgroup_from_fs);
    let root = is_root();
    let dirs = tool_dirs();
    let tools: BTreeMap<&'static str, PathBuf> = TOOLS
        .iter()
        .filter_map(|t| find_tool(&dirs, t).map(|p| (*t, p)))
        .collect();
    let kubectl = match tools.get("kubectl") {
        Some(p) => kubectl_version(p).await,
        None => None,
    };
    let cni = Path::new("/opt/cni/bin");
    let cluster = match (&minikube, homes) {
        (Ok((path, _)), Some(h)) => Minikube::new(path.clone(), h).status().await.ok(),
        _ => None,
    };
    HostFacts {
        os: std::env::consts::OS,
        size: host_size().ok(),
        disk: (disk_dir.clone(), free_bytes(&disk_dir)),
        docker,
        cgroup,
        root,
        passwordless_sudo: !root && passwordless_sudo().await,
        tools,
        cni_plugins: cni.join("bridge").exists() && cni.join("portmap").exists(),
        kubectl_version: kubectl,
        busy_ports: busy_ports(ports),
        local_ipv4s: crate::host::hostip::local_ipv4s().unwrap_or_default(),
        minikube,
        cluster,
    }
}
