//! A lab of local processes (`up --local`): FATE 2.2 without Kubernetes. Each party is its own
//! FATE Flow server with its own RabbitMQ node (FATE's `replication` federation: each party's
//! broker pulls from its peers' through the federation plugin), and one nginx routes FATE Flow's
//! commands between the servers on the `dest-party-id` header. Everything listens on 127.0.0.1.
//! Facts: shared/reference/fate-local-lab.md.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The FATE release a local lab runs: the newest on PyPI, which no KubeFATE release deploys.
pub const FATE_VERSION: &str = "2.2.0";

/// The shared environment's packages, pinned, each with why.
pub const PACKAGES: [(&str, &str); 6] = [
    ("fate-flow", "2.2.0"),
    ("pyfate", "2.2.0"),
    ("fate-client", "2.2.0"),
    // fate-flow pins typing-extensions 4.8.0 and torch >= 2.6 needs a newer one: unpinned, pip
    // backtracks through every torch release.
    ("torch", "2.5.1"),
    ("pandas", "2.2.3"),
    // FATE's rabbitmq federation imports pika; it is only an extra of fate-flow.
    ("pika", "1.2.1"),
];

/// What the first install fetches, torch's CUDA wheels included (measured: 3.2 GB), and what
/// the environment then takes on disk (5.7 GB).
pub const DOWNLOAD_GB: f64 = 3.2;
pub const ENV_DISK_GB: f64 = 6.0;

/// Memory a party's process tree reaches during the LR job (measured, fate-local-lab.md §4): the
/// guest's, and the party that plays host and arbiter at once.
pub const GUEST_PEAK_MIB: u64 = 1_700;
pub const HOST_ARBITER_PEAK_MIB: u64 = 2_400;
/// An idle party: its FATE Flow server and its broker.
pub const IDLE_PARTY_MIB: u64 = 260;

/// Where a local lab's ports start unless `--port-base` says otherwise.
pub const DEFAULT_PORT_BASE: u16 = 29300;
/// Ports per party, and how many the lab itself takes before the first party's.
const STRIDE: u16 = 10;

/// The ports of one local party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalPorts {
    /// FATE Flow's HTTP API (what fatelab and the proxy call).
    pub http: u16,
    pub grpc: u16,
    /// The party's RabbitMQ node: AMQP (the federation's data), its management API (FATE makes
    /// each job's queues through it), and Erlang distribution.
    pub amqp: u16,
    pub management: u16,
    pub dist: u16,
}

/// The ports of a whole local lab, from one base: the lab's own first, then each party's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortScheme {
    pub base: u16,
}

impl PortScheme {
    /// Erlang's port mapper for the lab's brokers (their own, not the system's 4369).
    pub fn epmd(&self) -> u16 {
        self.base
    }

    /// The nginx that routes FATE Flow's commands between the parties.
    pub fn proxy(&self) -> u16 {
        self.base + 1
    }

    /// Party number `index` (0 for the first) of the lab.
    pub fn party(&self, index: usize) -> LocalPorts {
        let first = self.base + STRIDE * (index as u16 + 1);
        LocalPorts {
            http: first,
            grpc: first + 1,
            amqp: first + 2,
            management: first + 3,
            dist: first + 4,
        }
    }

    /// The highest port a lab of `parties` parties takes; `None` when it would pass 65535.
    pub fn last(&self, parties: usize) -> Option<u16> {
        let last = u32::from(self.base) + u32::from(STRIDE) * (parties as u32 + 1) - 1;
        u16::try_from(last).ok()
    }
}

/// One process of the lab, by its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "role", content = "party")]
pub enum Role {
    Epmd,
    Broker(u32),
    Proxy,
    FateFlow(u32),
}

impl Role {
    /// The record's key and the name of the process's directory: `broker-9999`.
    pub fn key(&self) -> String {
        match self {
            Role::Epmd => "epmd".into(),
            Role::Broker(id) => format!("broker-{id}"),
            Role::Proxy => "proxy".into(),
            Role::FateFlow(id) => format!("fateflow-{id}"),
        }
    }

    /// The role whose [`key`](Self::key) this is.
    pub fn from_key(key: &str) -> Option<Role> {
        match key {
            "epmd" => Some(Role::Epmd),
            "proxy" => Some(Role::Proxy),
            _ => {
                let (kind, id) = key.split_once('-')?;
                let id = id.parse().ok()?;
                match kind {
                    "broker" => Some(Role::Broker(id)),
                    "fateflow" => Some(Role::FateFlow(id)),
                    _ => None,
                }
            }
        }
    }

    /// How messages name it: "party 9999's RabbitMQ node".
    pub fn describe(&self) -> String {
        match self {
            Role::Epmd => "the brokers' port mapper (epmd)".into(),
            Role::Broker(id) => format!("party {id}'s RabbitMQ node"),
            Role::Proxy => "the lab's nginx proxy".into(),
            Role::FateFlow(id) => format!("party {id}'s FATE Flow"),
        }
    }
}

/// A process fatelab started: enough to find it again and to know it is still the same one
/// (a pid alone may have been reused by then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub role: Role,
    pub pid: u32,
    /// When it started, in clock ticks after boot (`/proc/PID/stat`, field 22).
    pub started: u64,
    /// The program it runs, as started.
    pub program: PathBuf,
    /// The ports it listens on.
    pub ports: Vec<u16>,
    /// Where its output goes.
    pub log: PathBuf,
}

/// What a local lab is made of on this host, for `status` and `down`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalRecord {
    pub port_base: u16,
    /// The shared environment the parties use (in the cache, kept by `down` unless `--purge`).
    pub env: Option<PathBuf>,
    /// Every process fatelab started and has not stopped, by [`Role::key`].
    #[serde(default)]
    pub processes: BTreeMap<String, ProcessRecord>,
}

impl LocalRecord {
    pub fn process(&self, role: Role) -> Option<&ProcessRecord> {
        self.processes.get(&role.key())
    }
}

/// The memory a lab of `parties` parties needs while one LR job runs between two of them.
pub fn memory_needed_mib(parties: usize) -> u64 {
    GUEST_PEAK_MIB + HOST_ARBITER_PEAK_MIB + IDLE_PARTY_MIB * parties.saturating_sub(2) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_never_overlap_and_end_where_said() {
        let s = PortScheme {
            base: DEFAULT_PORT_BASE,
        };
        let mut all = vec![s.epmd(), s.proxy()];
        for i in 0..3 {
            let p = s.party(i);
            all.extend([p.http, p.grpc, p.amqp, p.management, p.dist]);
        }
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        assert!(*all.last().unwrap() <= s.last(3).unwrap());
        assert_eq!(s.party(0).http, 29310);
        assert_eq!(PortScheme { base: 65530 }.last(2), None);
    }
}
