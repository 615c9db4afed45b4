//! Host checks: what `fatelab doctor` reports and what `up` verifies before it changes anything.
//! Each check has a name, a status, what was found, and how to fix it.

use std::ffi::OsString;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};

use semver::Version;
use serde::Serialize;

use crate::clients::docker;
use crate::clients::minikube::ClusterState;
use crate::compat;
use crate::hostip;
use crate::spec::LabSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
    /// A failure a later step of `up` repairs by itself (a missing minikube is downloaded).
    #[serde(skip)]
    pub fixed_by_up: bool,
}

impl Check {
    fn new(
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        fix: Option<String>,
    ) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
            fix,
            fixed_by_up: false,
        }
    }
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Pass, detail, None)
    }
    pub fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(name, Status::Warn, detail, Some(fix.into()))
    }
    pub fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(name, Status::Fail, detail, Some(fix.into()))
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(checks: Vec<Check>) -> Report {
        Report {
            ok: checks.iter().all(|c| c.status != Status::Fail),
            checks,
        }
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for c in &self.checks {
            let mark = match c.status {
                Status::Pass => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            s.push_str(&format!("{mark}  {:<18} {}\n", c.name, c.detail));
            if let (Some(fix), true) = (&c.fix, c.status != Status::Pass) {
                s.push_str(&format!("      {:<18} fix: {fix}\n", ""));
            }
        }
        let fails = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        let warns = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .count();
        s.push_str(&if fails == 0 {
            format!("\nThis host can run the lab ({warns} warning(s)).\n")
        } else {
            format!("\n{fails} check(s) failed, {warns} warning(s): fix the failures above, then run again.\n")
        });
        s
    }
}

/// What the checks look at, gathered before they run.
pub struct Facts<'a> {
    pub spec: &'a LabSpec,
    /// minikube's path and version, or why it was not found.
    pub minikube: Result<(PathBuf, Version), String>,
    pub minikube_wanted: Option<Version>,
    pub kubernetes: Version,
    pub cluster: Option<ClusterState>,
    pub tool_dirs: Vec<PathBuf>,
}

/// The tutorial's demo machine; below this fatelab warns.
pub const RECOMMENDED_CPUS: usize = 8;
pub const RECOMMENDED_MEMORY_MIB: u64 = 16 * 1024;
/// minikube's own hard minimums; below these fatelab fails.
pub const MIN_CPUS: usize = 2;
pub const MIN_MEMORY_MIB: u64 = 1800;
/// First minikube whose none driver runs as a regular user (calling sudo itself).
const NONE_AS_USER_SINCE: Version = Version::new(1, 16, 0);

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

pub async fn run(f: &Facts<'_>) -> Report {
    let k8s = &f.kubernetes;
    let mut checks = vec![os(), cpus(), memory()];
    let engine = match docker::connect() {
        Ok(d) => docker::facts(&d).await,
        Err(e) => Err(e),
    };
    checks.push(disk(
        f,
        engine.as_ref().ok().and_then(|e| e.root_dir.clone()),
    ));
    checks.push(match &engine {
        Ok(e) => Check::pass(
            "docker",
            format!(
                "Docker Engine {} (API {}), cgroup driver {}",
                e.version,
                e.api_version,
                e.cgroup_driver.as_deref().unwrap_or("unknown")
            ),
        ),
        Err(e) => Check::fail(
            "docker",
            format!("the Docker Engine does not answer: {e:#}"),
            "start Docker (`sudo systemctl start docker`), or point DOCKER_HOST at it; install it from https://docs.docker.com/engine/install/",
        ),
    });
    checks.push(cgroups(
        k8s,
        engine.as_ref().ok().and_then(|e| e.cgroup_version.clone()),
        f,
    ));
    checks.push(privileges(f).await);
    checks.extend(host_tools(f));
    checks.push(minikube(f));
    checks.push(kubectl(f).await);
    checks.push(ports(f));
    checks.push(kubernetes_version(f));
    checks.push(host_ip(f.spec.ip));
    Report::new(checks)
}

fn os() -> Check {
    if std::env::consts::OS == "linux" {
        Check::pass("os", "Linux")
    } else {
        Check::fail(
            "os",
            format!(
                "{} (minikube's none driver runs only on Linux)",
                std::env::consts::OS
            ),
            "run fatelab on a Linux host or VM",
        )
    }
}

fn cpus() -> Check {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    if n < MIN_CPUS {
        Check::fail(
            "cpus",
            format!("{n} CPU"),
            "Kubernetes needs at least 2 CPUs: use a bigger machine",
        )
    } else if n < RECOMMENDED_CPUS {
        Check::warn(
            "cpus",
            format!("{n} CPUs; the tutorial's machine has {RECOMMENDED_CPUS}"),
            "expect slow pod start-ups; 8 CPUs are recommended for two parties",
        )
    } else {
        Check::pass("cpus", format!("{n} CPUs"))
    }
}

fn memory() -> Check {
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    let Some(kib) = total_kib else {
        return Check::warn(
            "memory",
            "could not read /proc/meminfo",
            "make sure the host has 16 GB of memory",
        );
    };
    let mib = kib / 1024;
    if mib < MIN_MEMORY_MIB {
        Check::fail(
            "memory",
            format!("{mib} MiB"),
            "Kubernetes needs at least 1800 MiB: use a bigger machine",
        )
    } else if mib < RECOMMENDED_MEMORY_MIB {
        Check::warn(
            "memory",
            format!(
                "{:.1} GiB; the tutorial recommends 16 GB",
                mib as f64 / 1024.0
            ),
            "two FATE parties may not fit: add memory, or expect evicted pods",
        )
    } else {
        Check::pass("memory", format!("{:.1} GiB", mib as f64 / 1024.0))
    }
}

fn free_bytes(path: &Path) -> Option<u64> {
    let mut p = path.to_path_buf();
    while !p.exists() {
        p = p.parent()?.to_path_buf();
    }
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and st a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

fn disk(f: &Facts, root_dir: Option<String>) -> Check {
    let dir = PathBuf::from(root_dir.unwrap_or_else(|| "/var/lib/docker".into()));
    let need = f.spec.release.disk_gb;
    let Some(free) = free_bytes(&dir) else {
        return Check::warn(
            "disk",
            format!("could not measure free space at {}", dir.display()),
            format!("make sure {need} GB are free for the images"),
        );
    };
    let gb = free as f64 / 1e9;
    let detail = format!(
        "{gb:.1} GB free at {} (images need about {need} GB)",
        dir.display()
    );
    if gb < need as f64 {
        Check::fail(
            "disk",
            detail,
            format!(
                "free at least {need} GB in Docker's data-root (`docker system prune` removes unused images)"
            ),
        )
    } else if gb < (need * 3) as f64 {
        Check::warn(
            "disk",
            detail,
            "leave room for logs and job data: 30 GB or more is comfortable",
        )
    } else {
        Check::pass("disk", detail)
    }
}

fn cgroup_version_from_fs() -> Option<String> {
    let c = std::ffi::CString::new("/sys/fs/cgroup").ok()?;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and writable statfs.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    (rc == 0).then(|| {
        if st.f_type as i64 == CGROUP2_SUPER_MAGIC {
            "2".into()
        } else {
            "1".into()
        }
    })
}

fn cgroups(k8s: &Version, from_docker: Option<String>, f: &Facts) -> Check {
    let version = from_docker
        .filter(|v| !v.is_empty())
        .or_else(cgroup_version_from_fs);
    let Some(v) = version else {
        return Check::warn(
            "cgroups",
            "could not tell the cgroup version",
            "check `stat -fc %T /sys/fs/cgroup`",
        );
    };
    let minor = (k8s.major, k8s.minor);
    let mk = f.minikube.as_ref().ok().map(|(_, v)| v.clone());
    match v.as_str() {
        "2" if minor < (1, 19) => Check::fail(
            "cgroups",
            format!("cgroup v2; Kubernetes v{k8s} needs cgroup v1"),
            "use a host with cgroup v1 (e.g. Ubuntu 20.04, or boot with systemd.unified_cgroup_hierarchy=0), or a newer Kubernetes with --kubernetes-version",
        ),
        "2" if minor < (1, 25) => Check::warn(
            "cgroups",
            format!("cgroup v2; Kubernetes v{k8s} supports it only as beta (GA in 1.25)"),
            "if kubelet fails to start, use a cgroup v1 host",
        ),
        "1" if minor >= (1, 35) && mk.as_ref().is_some_and(|m| *m < Version::new(1, 38, 0)) => {
            Check::fail(
                "cgroups",
                format!(
                    "cgroup v1; Kubernetes v{k8s} refuses it unless minikube v1.38+ configures it"
                ),
                "use minikube v1.38.0 or newer (--minikube-version v1.38.1), or a cgroup v2 host",
            )
        }
        other => Check::pass("cgroups", format!("cgroup v{other}")),
    }
}

async fn privileges(f: &Facts<'_>) -> Check {
    let root = unsafe { libc::geteuid() } == 0;
    let mk = f.minikube.as_ref().ok().map(|(_, v)| v.clone());
    if root {
        return Check::pass("privileges", "running as root");
    }
    if let Some(v) = mk.filter(|v| *v < NONE_AS_USER_SINCE) {
        return Check::fail(
            "privileges",
            format!("not root, and minikube v{v}'s none driver must run as root"),
            "run fatelab with sudo (`sudo fatelab up ...`); fatelab keeps the kubeconfig usable for your user",
        );
    }
    let sudo = tokio::process::Command::new("sudo")
        .args(["-n", "true"])
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match sudo {
        Ok(o) if o.status.success() => Check::pass("privileges", "passwordless sudo"),
        _ => Check::fail(
            "privileges",
            "not root and sudo needs a password; minikube's none driver runs host commands through sudo",
            "run fatelab as root, or allow passwordless sudo for your user",
        ),
    }
}

fn host_tools(f: &Facts) -> Vec<Check> {
    let k8s = &f.kubernetes;
    let minor = (k8s.major, k8s.minor);
    let tool = |name: &'static str, needed_from: Option<(u64, u64)>, fix: &str| -> Check {
        let needed = needed_from.is_none_or(|m| minor >= m);
        match find_tool(&f.tool_dirs, name) {
            Some(p) => Check::pass(name, format!("{}", p.display())),
            None if !needed => Check::pass(name, format!("not needed for Kubernetes v{k8s}")),
            None => Check::fail(
                name,
                format!("not found in root's PATH; Kubernetes v{k8s} needs it"),
                fix,
            ),
        }
    };
    let mut out = vec![
        tool(
            "conntrack",
            Some((1, 18)),
            "`sudo apt-get install conntrack` (Debian/Ubuntu) or `sudo yum install conntrack-tools`",
        ),
        tool(
            "crictl",
            Some((1, 24)),
            "install crictl from the kubernetes-sigs/cri-tools release into /usr/local/bin",
        ),
        tool(
            "cri-dockerd",
            Some((1, 24)),
            "install cri-dockerd (https://github.com/Mirantis/cri-dockerd) and `sudo systemctl enable --now cri-docker.socket`",
        ),
        tool("iptables", None, "`sudo apt-get install iptables`"),
    ];
    let cni = Path::new("/opt/cni/bin");
    out.push(if minor < (1, 24) {
        Check::pass("cni-plugins", format!("not needed for Kubernetes v{k8s}"))
    } else if cni.join("bridge").exists() && cni.join("portmap").exists() {
        Check::pass("cni-plugins", "/opt/cni/bin has bridge and portmap")
    } else {
        Check::fail(
            "cni-plugins",
            format!("/opt/cni/bin lacks bridge/portmap; Kubernetes v{k8s} needs them"),
            "unpack cni-plugins-linux-amd64-<version>.tgz from containernetworking/plugins into /opt/cni/bin",
        )
    });
    out.push(match find_tool(&f.tool_dirs, "socat") {
        Some(p) => Check::pass("socat", format!("{}", p.display())),
        None => Check::warn(
            "socat",
            "not found; kubelet uses it for port-forwarding",
            "`sudo apt-get install socat`",
        ),
    });
    out
}

fn minikube(f: &Facts) -> Check {
    let wanted = f.minikube_wanted.as_ref();
    match &f.minikube {
        Ok((path, v)) => match wanted {
            Some(w) if w != v => {
                let mut c = Check::warn(
                    "minikube",
                    format!("v{v} at {}, but v{w} was asked for", path.display()),
                    format!("`fatelab up` downloads minikube v{w} into its state dir after asking"),
                );
                c.fixed_by_up = true;
                c
            }
            _ => Check::pass("minikube", format!("v{v} at {}", path.display())),
        },
        Err(why) => {
            let v = wanted
                .map(|w| format!("v{w}"))
                .unwrap_or_else(|| f.spec.release.recommended.minikube.to_string());
            let mut c = Check::fail(
                "minikube",
                why.clone(),
                format!(
                    "`fatelab up` downloads minikube {v} after asking (or install it yourself and put it on PATH)"
                ),
            );
            c.fixed_by_up = true;
            c
        }
    }
}

async fn kubectl(f: &Facts<'_>) -> Check {
    let fix = "fatelab does not need kubectl; for one matching the cluster use `minikube kubectl -- get pods -A`";
    let Some(path) = find_tool(&f.tool_dirs, "kubectl") else {
        return Check::warn("kubectl", "not found (optional)", fix);
    };
    let out = tokio::process::Command::new(&path)
        .args(["version", "--client", "-o", "json"])
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    let version = out
        .ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|v| {
            v.pointer("/clientVersion/gitVersion")
                .and_then(|g| g.as_str())
                .map(String::from)
        });
    Check::pass(
        "kubectl",
        format!(
            "{} at {}",
            version.as_deref().unwrap_or("unknown version"),
            path.display()
        ),
    )
}

fn ports(f: &Facts) -> Check {
    if matches!(f.cluster, Some(ClusterState::Running(_))) {
        return Check::pass(
            "ports",
            "the cluster already runs, so its ports are expected to be in use",
        );
    }
    let mut wanted: Vec<u16> = vec![80, 443, 8443, 10250];
    for p in f.spec.ours() {
        wanted.extend([p.ports.rollsite, p.ports.grpc, p.ports.http]);
    }
    let busy: Vec<String> = wanted
        .iter()
        .filter(|&&port| {
            matches!(TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse)
        })
        .map(u16::to_string)
        .collect();
    if busy.is_empty() {
        Check::pass(
            "ports",
            format!(
                "free: {}",
                wanted
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else {
        Check::fail(
            "ports",
            format!("in use: {}", busy.join(", ")),
            "stop what listens there (`sudo ss -ltnp`); ports 80/443 are the ingress controller's, the others the parties' NodePorts (choose others in a scenario file)",
        )
    }
}

fn kubernetes_version(f: &Facts) -> Check {
    let mk = f.minikube.as_ref().ok().map(|(_, v)| v);
    let mk = f.minikube_wanted.as_ref().or(mk);
    let problems = compat::problems(f.spec.release, mk, &f.kubernetes);
    if problems.is_empty() {
        Check::pass(
            "kubernetes-version",
            format!(
                "v{} (KubeFATE {} allows {})",
                f.kubernetes,
                f.spec.release.release,
                f.spec.release.kubernetes.describe()
            ),
        )
    } else {
        Check::fail(
            "kubernetes-version",
            problems.join("; "),
            format!(
                "for KubeFATE {} use minikube {} with Kubernetes {} (--minikube-version / --kubernetes-version)",
                f.spec.release.release,
                f.spec.release.recommended.minikube,
                f.spec.release.recommended.kubernetes
            ),
        )
    }
}

fn host_ip(ip: Ipv4Addr) -> Check {
    let local = hostip::local_ipv4s().unwrap_or_default();
    if local.iter().any(|(_, a)| *a == ip) {
        let iface = local
            .iter()
            .find(|(_, a)| *a == ip)
            .map(|(n, _)| n.as_str())
            .unwrap_or("");
        Check::pass("host-ip", format!("{ip} is on {iface}"))
    } else {
        let list: Vec<String> = local
            .iter()
            .filter(|(_, a)| !a.is_loopback())
            .map(|(n, a)| format!("{a} ({n})"))
            .collect();
        Check::fail(
            "host-ip",
            format!("{ip} is not assigned to any interface of this host"),
            format!(
                "pass one of this host's addresses with --ip: {}",
                list.join(", ")
            ),
        )
    }
}
