//! The host checks of `fatelab doctor` and of `up`'s preflight on minikube: what this machine
//! is ([`HostFacts`], gathered by `host::facts`) judged against what the lab needs ([`Needs`]).
//! Pure: the same facts give the same checks, whatever machine runs them.

use std::net::Ipv4Addr;

use semver::Version;

use super::{Check, Report};
use crate::clients::minikube::ClusterState;
use crate::host::facts::{Cgroup, HostFacts};
use crate::model::catalog::Release;
use crate::model::compat;

/// The tutorial's demo machine; below this fatelab warns.
pub const RECOMMENDED_CPUS: u64 = 8;
pub const RECOMMENDED_MEMORY_MIB: u64 = 16 * 1024;
/// minikube's own hard minimums; below these fatelab fails.
pub const MIN_CPUS: u64 = 2;
pub const MIN_MEMORY_MIB: u64 = 1800;
/// First minikube whose none driver runs as a regular user (calling sudo itself).
const NONE_AS_USER_SINCE: Version = Version::new(1, 16, 0);

/// What the lab asks of the host.
#[derive(Debug, Clone)]
pub struct Needs<'a> {
    pub release: &'a Release,
    /// The Kubernetes `up` would start.
    pub kubernetes: Version,
    /// The minikube version asked for with `--minikube-version`.
    pub minikube_wanted: Option<Version>,
    /// The ports that must be free (ingress, Kubernetes, the parties' NodePorts).
    pub ports: Vec<u16>,
    /// The address the parties reach each other at.
    pub ip: Ipv4Addr,
}

pub fn judge(f: &HostFacts, n: &Needs) -> Report {
    let mut checks = vec![
        os(f),
        cpus(f),
        memory(f),
        disk(f, n),
        docker(f),
        cgroups(f, n),
        privileges(f),
    ];
    checks.extend(host_tools(f, n));
    checks.push(minikube(f, n));
    checks.push(kubectl(f));
    checks.push(ports(f, n));
    checks.push(kubernetes_version(f, n));
    checks.push(host_ip(f, n));
    Report::new(checks)
}

fn os(f: &HostFacts) -> Check {
    if f.os == "linux" {
        Check::pass("os", "Linux")
    } else {
        Check::fail(
            "os",
            format!("{} (minikube's none driver runs only on Linux)", f.os),
            "run fatelab on a Linux host or VM",
        )
    }
}

fn cpus(f: &HostFacts) -> Check {
    let Some(n) = f.size.map(|s| s.cpus) else {
        return Check::warn("cpus", "could not tell", "make sure the host has 8 CPUs");
    };
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

fn memory(f: &HostFacts) -> Check {
    let Some(mib) = f.size.map(|s| s.memory_mib) else {
        return Check::warn(
            "memory",
            "could not read /proc/meminfo",
            "make sure the host has 16 GB of memory",
        );
    };
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

fn disk(f: &HostFacts, n: &Needs) -> Check {
    let (dir, free) = &f.disk;
    let need = n.release.disk_gb;
    let Some(free) = free else {
        return Check::warn(
            "disk",
            format!("could not measure free space at {}", dir.display()),
            format!("make sure {need} GB are free for the images"),
        );
    };
    let gb = *free as f64 / 1e9;
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

fn docker(f: &HostFacts) -> Check {
    match &f.docker {
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
            format!("the Docker Engine does not answer: {e}"),
            "start Docker (`sudo systemctl start docker`), or point DOCKER_HOST at it; install it from https://docs.docker.com/engine/install/",
        ),
    }
}

fn cgroups(f: &HostFacts, n: &Needs) -> Check {
    let k8s = &n.kubernetes;
    let Some(v) = f.cgroup else {
        return Check::warn(
            "cgroups",
            "could not tell the cgroup version",
            "check `stat -fc %T /sys/fs/cgroup`",
        );
    };
    let minor = (k8s.major, k8s.minor);
    let mk = f.minikube.as_ref().ok().map(|(_, v)| v.clone());
    match v {
        Cgroup::V2 if minor < (1, 19) => Check::fail(
            "cgroups",
            format!("cgroup v2; Kubernetes v{k8s} needs cgroup v1"),
            "use a host with cgroup v1 (e.g. Ubuntu 20.04, or boot with systemd.unified_cgroup_hierarchy=0), or a newer Kubernetes with --kubernetes-version",
        ),
        Cgroup::V2 if minor < (1, 25) => Check::warn(
            "cgroups",
            format!("cgroup v2; Kubernetes v{k8s} supports it only as beta (GA in 1.25)"),
            "if kubelet fails to start, use a cgroup v1 host",
        ),
        Cgroup::V1
            if minor >= (1, 35) && mk.as_ref().is_some_and(|m| *m < Version::new(1, 38, 0)) =>
        {
            Check::fail(
                "cgroups",
                format!(
                    "cgroup v1; Kubernetes v{k8s} refuses it unless minikube v1.38+ configures it"
                ),
                "use minikube v1.38.0 or newer (--minikube-version v1.38.1), or a cgroup v2 host",
            )
        }
        Cgroup::V1 => Check::pass("cgroups", "cgroup v1"),
        Cgroup::V2 => Check::pass("cgroups", "cgroup v2"),
    }
}

fn privileges(f: &HostFacts) -> Check {
    if f.root {
        return Check::pass("privileges", "running as root");
    }
    let mk = f.minikube.as_ref().ok().map(|(_, v)| v.clone());
    if let Some(v) = mk.filter(|v| *v < NONE_AS_USER_SINCE) {
        return Check::fail(
            "privileges",
            format!("not root, and minikube v{v}'s none driver must run as root"),
            "run fatelab with sudo (`sudo fatelab up ...`); fatelab keeps the kubeconfig usable for your user",
        );
    }
    if f.passwordless_sudo {
        Check::pass("privileges", "passwordless sudo")
    } else {
        Check::fail(
            "privileges",
            "not root and sudo needs a password; minikube's none driver runs host commands through sudo",
            "run fatelab as root, or allow passwordless sudo for your user",
        )
    }
}

fn host_tools(f: &HostFacts, n: &Needs) -> Vec<Check> {
    let k8s = &n.kubernetes;
    let minor = (k8s.major, k8s.minor);
    let tool = |name: &'static str, needed_from: Option<(u64, u64)>, fix: &str| -> Check {
        let needed = needed_from.is_none_or(|m| minor >= m);
        match f.tools.get(name) {
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
    out.push(if minor < (1, 24) {
        Check::pass("cni-plugins", format!("not needed for Kubernetes v{k8s}"))
    } else if f.cni_plugins {
        Check::pass("cni-plugins", "/opt/cni/bin has bridge and portmap")
    } else {
        Check::fail(
            "cni-plugins",
            format!("/opt/cni/bin lacks bridge/portmap; Kubernetes v{k8s} needs them"),
            "unpack cni-plugins-linux-amd64-<version>.tgz from containernetworking/plugins into /opt/cni/bin",
        )
    });
    out.push(match f.tools.get("socat") {
        Some(p) => Check::pass("socat", format!("{}", p.display())),
        None => Check::warn(
            "socat",
            "not found; kubelet uses it for port-forwarding",
            "`sudo apt-get install socat`",
        ),
    });
    out
}

fn minikube(f: &HostFacts, n: &Needs) -> Check {
    let wanted = n.minikube_wanted.as_ref();
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
                .unwrap_or_else(|| n.release.recommended.minikube.to_string());
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

fn kubectl(f: &HostFacts) -> Check {
    let Some(path) = f.tools.get("kubectl") else {
        return Check::warn(
            "kubectl",
            "not found (optional)",
            "fatelab does not need kubectl; for one matching the cluster use `minikube kubectl -- get pods -A`",
        );
    };
    Check::pass(
        "kubectl",
        format!(
            "{} at {}",
            f.kubectl_version.as_deref().unwrap_or("unknown version"),
            path.display()
        ),
    )
}

fn ports(f: &HostFacts, n: &Needs) -> Check {
    if matches!(f.cluster, Some(ClusterState::Running(_))) {
        return Check::pass(
            "ports",
            "the cluster already runs, so its ports are expected to be in use",
        );
    }
    let list = |ports: &[u16]| {
        ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if f.busy_ports.is_empty() {
        Check::pass("ports", format!("free: {}", list(&n.ports)))
    } else {
        Check::fail(
            "ports",
            format!("in use: {}", list(&f.busy_ports)),
            "stop what listens there (`sudo ss -ltnp`); ports 80/443 are the ingress controller's, the others the parties' NodePorts (choose others in a scenario file)",
        )
    }
}

fn kubernetes_version(f: &HostFacts, n: &Needs) -> Check {
    let found = f.minikube.as_ref().ok().map(|(_, v)| v);
    let mk = n.minikube_wanted.as_ref().or(found);
    let problems = compat::problems(n.release, mk, &n.kubernetes);
    if problems.is_empty() {
        Check::pass(
            "kubernetes-version",
            format!(
                "v{} (KubeFATE {} allows {})",
                n.kubernetes,
                n.release.release,
                n.release.kubernetes.describe()
            ),
        )
    } else {
        Check::fail(
            "kubernetes-version",
            problems.join("; "),
            format!(
                "for KubeFATE {} use minikube {} with Kubernetes {} (--minikube-version / --kubernetes-version)",
                n.release.release, n.release.recommended.minikube, n.release.recommended.kubernetes
            ),
        )
    }
}

fn host_ip(f: &HostFacts, n: &Needs) -> Check {
    let ip = n.ip;
    if let Some((iface, _)) = f.local_ipv4s.iter().find(|(_, a)| *a == ip) {
        return Check::pass("host-ip", format!("{ip} is on {iface}"));
    }
    let list: Vec<String> = f
        .local_ipv4s
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Status;
    use crate::clients::docker::EngineFacts;
    use crate::model::catalog;
    use crate::model::sizing;
    use std::path::PathBuf;

    fn v(s: &str) -> Version {
        catalog::version::parse(s).unwrap()
    }

    /// A well-equipped Linux host running minikube v1.22.0 as root.
    fn host() -> HostFacts {
        HostFacts {
            os: "linux",
            size: Some(sizing::Host {
                cpus: 8,
                memory_mib: 16 * 1024,
            }),
            docker: Ok(EngineFacts {
                version: "28.2.2".into(),
                api_version: "1.50".into(),
                cgroup_driver: Some("systemd".into()),
                cgroup_version: Some("2".into()),
                root_dir: Some("/var/lib/docker".into()),
            }),
            disk: (PathBuf::from("/var/lib/docker"), Some(200_000_000_000)),
            cgroup: Some(Cgroup::V1),
            root: true,
            passwordless_sudo: false,
            tools: ["conntrack", "crictl", "cri-dockerd", "iptables", "socat"]
                .into_iter()
                .map(|t| (t, PathBuf::from(format!("/usr/bin/{t}"))))
                .collect(),
            cni_plugins: true,
            kubectl_version: None,
            busy_ports: vec![],
            local_ipv4s: vec![("eth0".into(), Ipv4Addr::new(192, 168, 100, 123))],
            minikube: Ok((PathBuf::from("/usr/bin/minikube"), v("v1.22.0"))),
            cluster: None,
        }
    }

    fn needs(release: &str, kubernetes: &str) -> Needs<'static> {
        Needs {
            release: catalog::find(release).unwrap(),
            kubernetes: v(kubernetes),
            minikube_wanted: None,
            ports: vec![80, 443],
            ip: Ipv4Addr::new(192, 168, 100, 123),
        }
    }

    fn status(report: &Report, name: &str) -> (Status, String) {
        let c = report
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}"));
        (c.status, c.detail.clone())
    }

    #[test]
    fn a_well_equipped_host_passes() {
        let r = judge(&host(), &needs("v1.6.0", "v1.21.2"));
        let failing: Vec<_> = r
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .collect();
        assert!(r.ok, "{failing:?}");
    }

    #[test]
    fn memory_and_cpus_against_minikubes_minimum_and_the_tutorials_machine() {
        let cases = [
            // (cpus, MiB) → (cpus status, memory status)
            ((1, 1024), (Status::Fail, Status::Fail)),
            ((2, 1800), (Status::Warn, Status::Warn)),
            ((4, 8 * 1024), (Status::Warn, Status::Warn)),
            ((8, 16 * 1024), (Status::Pass, Status::Pass)),
        ];
        for ((cpus, mib), (want_cpus, want_memory)) in cases {
            let mut f = host();
            f.size = Some(sizing::Host {
                cpus,
                memory_mib: mib,
            });
            let r = judge(&f, &needs("v1.6.0", "v1.21.2"));
            assert_eq!(status(&r, "cpus").0, want_cpus, "{cpus} CPUs");
            assert_eq!(status(&r, "memory").0, want_memory, "{mib} MiB");
        }
        let mut f = host();
        f.size = None;
        assert_eq!(
            status(&judge(&f, &needs("v1.6.0", "v1.21.2")), "memory").0,
            Status::Warn
        );
    }

    #[test]
    fn disk_against_the_releases_images() {
        for (free_gb, want) in [(5, Status::Fail), (20, Status::Warn), (100, Status::Pass)] {
            let mut f = host();
            f.disk.1 = Some(free_gb * 1_000_000_000);
            let r = judge(&f, &needs("v1.6.0", "v1.21.2"));
            assert_eq!(status(&r, "disk").0, want, "{free_gb} GB");
        }
    }

    #[test]
    fn cgroup_version_kubernetes_and_minikube() {
        // (cgroup, Kubernetes, minikube) → status
        let cases = [
            (Cgroup::V2, "v1.17.3", "v1.7.3", Status::Fail),
            (Cgroup::V2, "v1.21.2", "v1.22.0", Status::Warn),
            (Cgroup::V2, "v1.35.1", "v1.38.1", Status::Pass),
            (Cgroup::V1, "v1.21.2", "v1.22.0", Status::Pass),
            (Cgroup::V1, "v1.35.1", "v1.37.0", Status::Fail),
            (Cgroup::V1, "v1.35.1", "v1.38.1", Status::Pass),
        ];
        for (cgroup, k8s, mk, want) in cases {
            let mut f = host();
            f.cgroup = Some(cgroup);
            f.minikube = Ok((PathBuf::from("/usr/bin/minikube"), v(mk)));
            let r = judge(&f, &needs("v2.0.0", k8s));
            assert_eq!(status(&r, "cgroups").0, want, "{cgroup:?} × {k8s} × {mk}");
        }
    }

    #[test]
    fn tools_by_kubernetes_version() {
        let mut f = host();
        f.tools.clear();
        f.cni_plugins = false;
        let old = judge(&f, &needs("v1.6.0", "v1.17.3"));
        assert_eq!(
            status(&old, "conntrack").0,
            Status::Pass,
            "not needed before 1.18"
        );
        assert_eq!(status(&old, "crictl").0, Status::Pass);
        assert_eq!(status(&old, "iptables").0, Status::Fail, "always needed");
        let mid = judge(&f, &needs("v1.6.0", "v1.21.2"));
        assert_eq!(status(&mid, "conntrack").0, Status::Fail);
        assert_eq!(status(&mid, "cni-plugins").0, Status::Pass);
        let new = judge(&f, &needs("v2.0.0", "v1.35.1"));
        for tool in ["crictl", "cri-dockerd", "cni-plugins"] {
            assert_eq!(status(&new, tool).0, Status::Fail, "{tool} from 1.24");
        }
        assert_eq!(status(&new, "socat").0, Status::Warn);
    }

    #[test]
    fn privileges_root_sudo_and_old_minikube() {
        let cases = [
            (true, false, "v1.7.3", Status::Pass),
            (false, true, "v1.7.3", Status::Fail),
            (false, true, "v1.22.0", Status::Pass),
            (false, false, "v1.22.0", Status::Fail),
        ];
        for (root, sudo, mk, want) in cases {
            let mut f = host();
            f.root = root;
            f.passwordless_sudo = sudo;
            f.minikube = Ok((PathBuf::from("/usr/bin/minikube"), v(mk)));
            let r = judge(&f, &needs("v1.6.0", "v1.21.2"));
            assert_eq!(
                status(&r, "privileges").0,
                want,
                "root {root}, sudo {sudo}, {mk}"
            );
        }
    }

    #[test]
    fn ports_versions_address_and_minikube() {
        let mut f = host();
        f.busy_ports = vec![443];
        let r = judge(&f, &needs("v1.6.0", "v1.21.2"));
        assert_eq!(status(&r, "ports"), (Status::Fail, "in use: 443".into()));
        f.cluster = Some(ClusterState::Missing);
        assert_eq!(
            status(&judge(&f, &needs("v1.6.0", "v1.21.2")), "ports").0,
            Status::Fail
        );

        let r = judge(&host(), &needs("v1.6.0", "v1.24.0"));
        let (s, detail) = status(&r, "kubernetes-version");
        assert_eq!(s, Status::Fail);
        assert!(detail.contains("v1beta1"), "{detail}");

        let mut n = needs("v1.6.0", "v1.21.2");
        n.ip = Ipv4Addr::new(10, 9, 9, 9);
        let (s, detail) = status(&judge(&host(), &n), "host-ip");
        assert_eq!(s, Status::Fail);
        assert!(detail.contains("10.9.9.9 is not assigned"), "{detail}");

        let mut f = host();
        f.minikube = Err("minikube is not on PATH".into());
        let r = judge(&f, &needs("v1.6.0", "v1.21.2"));
        let c = r.checks.iter().find(|c| c.name == "minikube").unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(c.fixed_by_up, "up downloads it");
        let mut n = needs("v1.6.0", "v1.21.2");
        n.minikube_wanted = Some(v("v1.7.3"));
        assert_eq!(status(&judge(&host(), &n), "minikube").0, Status::Warn);
    }
}
