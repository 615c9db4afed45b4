//! Where a local lab lives in the state dir, its broker password, and how each of its programs
//! is found and started: epmd, one RabbitMQ node per party, nginx, one FATE Flow per party.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::credentials::{kept_secret, write_new_private};
use super::process::{self, Started, spawn};
use crate::model::local::{LocalPorts, Role};
use crate::secret::Secret;

/// The lab's directories: `<state dir>/local/…`, one per process.
#[derive(Debug, Clone)]
pub struct LabDirs {
    pub root: PathBuf,
}

impl LabDirs {
    pub fn new(state_dir: &Path) -> LabDirs {
        LabDirs {
            root: state_dir.join("local"),
        }
    }

    pub fn of(&self, role: Role) -> PathBuf {
        self.root.join(role.key())
    }

    /// A party's own Python environment and FATE Flow home.
    pub fn party_env(&self, id: u32) -> PathBuf {
        self.of(Role::FateFlow(id)).join("env")
    }

    pub fn party_home(&self, id: u32) -> PathBuf {
        self.of(Role::FateFlow(id)).join("home")
    }

    pub fn log(&self, role: Role) -> PathBuf {
        self.of(role).join("out.log")
    }

    /// Where the process of `role` writes its pid as it starts (see [`process::spawn`]).
    pub fn pidfile(&self, role: Role) -> PathBuf {
        self.of(role).join("fatelab.pid")
    }

    /// Where the process of `role` runs.
    pub fn cwd(&self, role: Role) -> PathBuf {
        match role {
            Role::FateFlow(id) => self.party_home(id),
            _ => self.of(role),
        }
    }

    /// The process of `role` its pidfile names, while it is the one started there (an
    /// interrupted run may have started it and not recorded it).
    pub fn started(&self, role: Role) -> Option<Started> {
        process::from_pidfile(&self.pidfile(role), &self.cwd(role))
    }

    /// The roles that have a directory in the lab.
    pub fn roles(&self) -> Vec<Role> {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| Role::from_key(e.file_name().to_str()?))
            .collect()
    }

    fn password_file(&self) -> PathBuf {
        self.root.join("broker-password")
    }

    /// The brokers' password when the lab has one (reading never makes it).
    pub fn existing_password(&self) -> Result<Secret> {
        let path = self.password_file();
        std::fs::read_to_string(&path)
            .map(|s| Secret::new(s.trim()))
            .with_context(|| {
                format!(
                    "the lab's broker password ({}) is not there",
                    path.display()
                )
            })
    }

    /// The password of the brokers' FATE user: generated once per lab, kept 0600, never shown.
    pub fn broker_password(&self) -> Result<Secret> {
        kept_secret(&self.password_file())
    }
}

/// Writes a file only its owner may read (it holds the broker password), in place of any.
pub fn write_private(path: &Path, contents: &str) -> Result<()> {
    let _ = std::fs::remove_file(path);
    write_new_private(path, contents.as_bytes())
}

/// The programs a local lab runs, where this host has them.
#[derive(Debug, Clone, Default)]
pub struct Programs {
    pub rabbitmq_server: Option<PathBuf>,
    pub epmd: Option<PathBuf>,
    pub nginx: Option<PathBuf>,
}

/// Where Debian's rabbitmq-server keeps the script that runs a node as the calling user (the
/// one in /usr/sbin switches to the rabbitmq user); `FATELAB_RABBITMQ_DIR` names another place.
fn rabbitmq_dir() -> PathBuf {
    std::env::var_os("FATELAB_RABBITMQ_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/rabbitmq/bin"))
}

pub fn programs() -> Programs {
    let dirs = super::facts::tool_dirs();
    let server = rabbitmq_dir().join("rabbitmq-server");
    let rabbitmq_server = server.is_file().then_some(server);
    // epmd comes with Erlang, which rabbitmq-server depends on: look beside it first.
    let epmd = rabbitmq_server
        .as_ref()
        .and_then(|_| super::facts::find_tool(&dirs, "epmd"));
    Programs {
        rabbitmq_server,
        epmd,
        nginx: super::facts::find_tool(&dirs, "nginx"),
    }
}

/// The lab's own Erlang port mapper on `port` (the brokers are told not to start the system's).
pub fn start_epmd(epmd: &Path, dirs: &LabDirs, port: u16) -> Result<Started> {
    let dir = dirs.of(Role::Epmd);
    std::fs::create_dir_all(&dir)?;
    let port = port.to_string();
    spawn(
        epmd,
        &[
            OsStr::new("-address"),
            OsStr::new("127.0.0.1"),
            OsStr::new("-port"),
            OsStr::new(&port),
        ],
        &[],
        &dir,
        &dirs.log(Role::Epmd),
        &dirs.pidfile(Role::Epmd),
    )
}

/// One party's RabbitMQ node, its base, logs, database and Erlang cookie in its own directory
/// (its `rabbitmq.conf` and plugins written there first), every listener on 127.0.0.1.
pub fn start_broker(
    server: &Path,
    dirs: &LabDirs,
    id: u32,
    ports: &LocalPorts,
    epmd_port: u16,
) -> Result<Started> {
    let role = Role::Broker(id);
    let dir = dirs.of(role);
    let at = |p: &str| dir.join(p).into_os_string();
    let node = OsString::from(format!("rabbit{id}@localhost"));
    let amqp = OsString::from(ports.amqp.to_string());
    let dist = OsString::from(ports.dist.to_string());
    let epmd = OsString::from(epmd_port.to_string());
    let erl_args = OsString::from("-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false");
    let env: Vec<(&str, OsString)> = vec![
        // The cookie goes to $HOME: the node's own directory, not the user's home.
        ("HOME", dir.clone().into_os_string()),
        ("RABBITMQ_NODENAME", node),
        ("RABBITMQ_BASE", dir.clone().into_os_string()),
        ("RABBITMQ_MNESIA_BASE", at("mnesia")),
        ("RABBITMQ_LOG_BASE", at("log")),
        ("RABBITMQ_CONFIG_FILE", at("rabbitmq.conf")),
        ("RABBITMQ_ENABLED_PLUGINS_FILE", at("enabled_plugins")),
        ("RABBITMQ_NODE_IP_ADDRESS", OsString::from("127.0.0.1")),
        ("RABBITMQ_NODE_PORT", amqp),
        ("RABBITMQ_DIST_PORT", dist),
        ("ERL_EPMD_PORT", epmd),
        ("ERL_EPMD_ADDRESS", OsString::from("127.0.0.1")),
        ("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", erl_args.clone()),
        // The script then execs the Erlang VM instead of waiting on it as a child: the pid
        // fatelab records is the node itself, and SIGTERM stops it cleanly.
        ("RUNNING_UNDER_SYSTEMD", OsString::from("true")),
        ("RABBITMQ_CTL_ERL_ARGS", erl_args),
    ];
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    spawn(
        server,
        &[],
        &env,
        &dir,
        &dirs.log(role),
        &dirs.pidfile(role),
    )
}

/// The lab's nginx, in the foreground of its own session (`daemon off` in its conf).
pub fn start_nginx(nginx: &Path, dirs: &LabDirs) -> Result<Started> {
    let dir = dirs.of(Role::Proxy);
    for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(dir.join("tmp").join(t))?;
    }
    let conf = dir.join("nginx.conf");
    let error = dir.join("error.log");
    let prefix = format!("{}/", dir.display());
    spawn(
        nginx,
        &[
            OsStr::new("-c"),
            conf.as_os_str(),
            OsStr::new("-p"),
            OsStr::new(&prefix),
            OsStr::new("-e"),
            error.as_os_str(),
        ],
        &[],
        &dir,
        &dirs.log(Role::Proxy),
        &dirs.pidfile(Role::Proxy),
    )
}

/// One party's FATE Flow server, run by its own environment's Python from its home.
pub fn start_fate_flow(python: &Path, site: &Path, dirs: &LabDirs, id: u32) -> Result<Started> {
    let role = Role::FateFlow(id);
    let home = dirs.cwd(role);
    let server = site.join("fate_flow/fate_flow_server.py");
    // Its tasks' libraries (torch among them) keep their caches under $HOME: the party's own.
    let party_dir = dirs.of(Role::FateFlow(id));
    spawn(
        python,
        &[server.as_os_str()],
        &[("HOME", party_dir.as_os_str())],
        &home,
        &dirs.log(role),
        &dirs.pidfile(role),
    )
}
