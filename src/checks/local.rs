//! Whether this host can run a lab of local processes: Python with venv, RabbitMQ, nginx, free
//! ports, disk for FATE's packages and memory for a training job. Each check with its fix.

use std::path::PathBuf;

use super::Check;
use crate::host::local_lab::Programs;
use crate::host::python::Python;
use crate::model::local::{self, ENV_DISK_GB};

/// The Debian packages a local lab runs on.
pub const DEBIAN_PACKAGES: [&str; 2] = ["rabbitmq-server", "nginx-light"];

/// What the checks read of this host.
#[derive(Debug, Clone)]
pub struct LocalFacts {
    pub python: Result<Python, String>,
    pub programs: Programs,
    /// The lab's ports that something else listens on, each with who (when that can be seen).
    pub busy: Vec<(u16, Vec<String>)>,
    /// The cache dir and its free bytes.
    pub cache: (PathBuf, Option<u64>),
    /// The shared environment is installed already (no disk needed for it).
    pub env_ready: bool,
    pub memory_mib: Option<u64>,
    pub parties: usize,
    pub root: bool,
}

/// The command that installs what is missing, with sudo unless root.
pub fn install_command(packages: &[&str], root: bool) -> String {
    format!(
        "{}apt-get install -y --no-install-recommends {}",
        if root { "" } else { "sudo " },
        packages.join(" ")
    )
}

/// The Debian packages whose programs are missing.
pub fn missing_packages(f: &LocalFacts) -> Vec<&'static str> {
    let mut out = Vec::new();
    if f.programs.rabbitmq_server.is_none() || f.programs.epmd.is_none() {
        out.push(DEBIAN_PACKAGES[0]);
    }
    if f.programs.nginx.is_none() {
        out.push(DEBIAN_PACKAGES[1]);
    }
    out
}

pub fn judge(f: &LocalFacts) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(match &f.python {
        Ok(p) if p.version < (3, 8, 0) => Check::fail(
            "python",
            format!(
                "{} is Python {}.{}; FATE 2.2 needs 3.8 or newer",
                p.path.display(),
                p.version.0,
                p.version.1
            ),
            "install a newer python3 (Debian 11 and later have one)",
        ),
        Ok(p) if !p.venv => Check::fail(
            "python",
            format!(
                "{} (Python {}.{}) has no venv module with pip",
                p.path.display(),
                p.version.0,
                p.version.1
            ),
            install_command(&["python3-venv"], f.root),
        ),
        Ok(p) => Check::pass(
            "python",
            format!(
                "{} is Python {}.{}.{} with venv",
                p.path.display(),
                p.version.0,
                p.version.1,
                p.version.2
            ),
        ),
        Err(e) => Check::fail(
            "python",
            e.clone(),
            install_command(&["python3", "python3-venv"], f.root),
        ),
    });
    checks.push(match (&f.programs.rabbitmq_server, &f.programs.epmd) {
        (Some(s), Some(e)) => Check::pass(
            "rabbitmq",
            format!("{} and {} (one node per party, run as you)", s.display(), e.display()),
        ),
        (None, _) => Check::fail(
            "rabbitmq",
            "RabbitMQ is not installed (no rabbitmq-server in /usr/lib/rabbitmq/bin): each party's broker is a RabbitMQ node",
            install_command(&[DEBIAN_PACKAGES[0]], f.root),
        ),
        (Some(_), None) => Check::fail(
            "rabbitmq",
            "Erlang's epmd is not on PATH, and RabbitMQ's nodes need it",
            install_command(&[DEBIAN_PACKAGES[0]], f.root),
        ),
    });
    checks.push(match &f.programs.nginx {
        Some(n) => Check::pass(
            "nginx",
            format!(
                "{} (routes FATE Flow's commands between the parties)",
                n.display()
            ),
        ),
        None => Check::fail(
            "nginx",
            "nginx is not installed: it routes FATE Flow's commands between the parties",
            install_command(&[DEBIAN_PACKAGES[1]], f.root),
        ),
    });
    checks.push(if f.busy.is_empty() {
        Check::pass("ports", "the lab's ports on 127.0.0.1 are free")
    } else {
        // One entry per program: "29712, 29713 by beam.smp (pid 42)".
        let mut by_holder: Vec<(String, Vec<u16>)> = Vec::new();
        for (port, who) in &f.busy {
            let holder = if who.is_empty() {
                "a program this user cannot see".to_string()
            } else {
                who.join(", ")
            };
            match by_holder.iter_mut().find(|(h, _)| *h == holder) {
                Some((_, ports)) => ports.push(*port),
                None => by_holder.push((holder, vec![*port])),
            }
        }
        let said: Vec<String> = by_holder
            .iter()
            .map(|(holder, ports)| {
                let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
                format!("{} by {holder}", ports.join(", "))
            })
            .collect();
        Check::fail(
            "ports",
            format!("in use by another program: {}", said.join("; ")),
            "stop that program, or give the lab other ports with --port-base PORT",
        )
    });
    let need = (ENV_DISK_GB * 1e9) as u64;
    checks.push(match (f.env_ready, f.cache.1) {
        (true, _) => Check::pass(
            "disk",
            format!("FATE's packages are installed in {}", f.cache.0.display()),
        ),
        (false, Some(free)) if free < need => Check::fail(
            "disk",
            format!(
                "{:.1} GB free in {}; FATE's packages (torch included) take about {ENV_DISK_GB:.0} GB",
                free as f64 / 1e9,
                f.cache.0.display()
            ),
            "free some space there, or put the cache elsewhere with --cache-dir DIR",
        ),
        (false, Some(free)) => Check::pass(
            "disk",
            format!(
                "{:.1} GB free in {} for FATE's packages (about {ENV_DISK_GB:.0} GB)",
                free as f64 / 1e9,
                f.cache.0.display()
            ),
        ),
        (false, None) => Check::warn(
            "disk",
            format!("could not read the free space in {}", f.cache.0.display()),
            format!("make sure about {ENV_DISK_GB:.0} GB are free there"),
        ),
    });
    let need = local::memory_needed_mib(f.parties);
    checks.push(match f.memory_mib {
        Some(m) if m < need => Check::fail(
            "memory",
            format!(
                "{m} MiB; a training job between two of {} parties takes about {need} MiB (guest ≈{} MiB, host and arbiter ≈{} MiB)",
                f.parties,
                local::GUEST_PEAK_MIB,
                local::HOST_ARBITER_PEAK_MIB
            ),
            "use a bigger host, or fewer parties",
        ),
        Some(m) => Check::pass(
            "memory",
            format!("{m} MiB; a training job takes about {need} MiB"),
        ),
        None => Check::warn(
            "memory",
            "could not read the host's memory",
            format!("make sure about {need} MiB are free"),
        ),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Status;

    fn facts() -> LocalFacts {
        LocalFacts {
            python: Ok(Python {
                path: "/usr/bin/python3".into(),
                version: (3, 11, 2),
                venv: true,
            }),
            programs: Programs {
                rabbitmq_server: Some("/usr/lib/rabbitmq/bin/rabbitmq-server".into()),
                epmd: Some("/usr/bin/epmd".into()),
                nginx: Some("/usr/sbin/nginx".into()),
            },
            busy: vec![],
            cache: ("/c".into(), Some(100_000_000_000)),
            env_ready: false,
            memory_mib: Some(24_000),
            parties: 2,
            root: false,
        }
    }

    fn status(f: &LocalFacts, name: &str) -> (Status, String) {
        let c = judge(f).into_iter().find(|c| c.name == name).unwrap();
        (c.status, c.fix.unwrap_or_default())
    }

    #[test]
    fn each_missing_piece_fails_with_its_fix() {
        assert!(judge(&facts()).iter().all(|c| c.status == Status::Pass));
        let mut f = facts();
        f.programs.rabbitmq_server = None;
        f.programs.nginx = None;
        assert_eq!(missing_packages(&f), ["rabbitmq-server", "nginx-light"]);
        assert_eq!(
            status(&f, "rabbitmq"),
            (
                Status::Fail,
                "sudo apt-get install -y --no-install-recommends rabbitmq-server".into()
            )
        );
        f.root = true;
        assert_eq!(
            status(&f, "nginx").1,
            "apt-get install -y --no-install-recommends nginx-light"
        );
        let mut f = facts();
        f.busy = vec![(29310, vec!["python3 (pid 42)".into()])];
        f.python.as_mut().unwrap().venv = false;
        f.memory_mib = Some(2048);
        f.cache.1 = Some(1_000_000_000);
        for name in ["ports", "python", "memory", "disk"] {
            assert_eq!(status(&f, name).0, Status::Fail, "{name}");
        }
        f.env_ready = true;
        assert_eq!(status(&f, "disk").0, Status::Pass);
    }
}
