//! How much CPU and memory each party of a v2 lab asks the scheduler for, chosen so the whole lab
//! fits the host it runs on, with the arithmetic said in words.
//!
//! Facts (KF@v2.0.0 `helm-charts/FATE`, reference §7.2): the chart's nodemanager defaults to 2
//! replicas each requesting 4 CPU / 4 GiB; osx starts a Java heap of 4 GiB (`-Xms4g -Xmx4g
//! -XX:+AlwaysPreTouch`: all of it in use from the start) and requests nothing; the other
//! modules request nothing. KubeFATE's v2.0.0 `kubefate.yaml` requests 0.5 CPU / 512 MiB for the
//! service. The heap is fixed in the chart's command line; fatelab's chart edit (the catalog's
//! `chart.edits`) makes it `osx.heap` in cluster.yaml, 4g unless set.

use serde::{Deserialize, Serialize};

/// `up --resources`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The most each party can have on this host, up to a modest lab's needs, down to a floor.
    Small,
    /// The values of KubeFATE's example cluster.yaml (KF@v2.0.0 k8s-deploy/cluster.yaml).
    Tutorial,
    /// Nothing set: the chart's own defaults.
    Chart,
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Small => "small",
            Profile::Tutorial => "tutorial",
            Profile::Chart => "chart",
        })
    }
}

/// CPU in millicores and memory in MiB, as the scheduler adds them up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub milli_cpu: u64,
    pub mib: u64,
}

impl Amount {
    pub const fn new(milli_cpu: u64, mib: u64) -> Amount {
        Amount { milli_cpu, mib }
    }

    fn times(self, n: u64) -> Amount {
        Amount::new(self.milli_cpu * n, self.mib * n)
    }

    fn plus(self, o: Amount) -> Amount {
        Amount::new(self.milli_cpu + o.milli_cpu, self.mib + o.mib)
    }

    fn fits_in(self, o: Amount) -> bool {
        self.milli_cpu <= o.milli_cpu && self.mib <= o.mib
    }

    /// Kubernetes quantities, as cluster.yaml carries them.
    pub fn quantities(self) -> serde_json::Value {
        serde_json::json!({ "cpu": cpu_quantity(self.milli_cpu), "memory": format!("{}Mi", self.mib) })
    }
}

fn cpu_quantity(milli: u64) -> String {
    if milli.is_multiple_of(1000) {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

fn cpus(milli: u64) -> String {
    let whole = milli as f64 / 1000.0;
    format!("{} CPU", trim(whole))
}

fn gib(mib: u64) -> String {
    format!("{} GiB", trim(mib as f64 / 1024.0))
}

fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", cpus(self.milli_cpu), gib(self.mib))
    }
}

/// What the host offers the scheduler: with minikube's none driver the node is the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    pub cpus: u64,
    pub memory_mib: u64,
}

impl Host {
    /// `8,16Gi`: CPUs, then memory in Gi or Mi (`FATELAB_HOST_SIZE`).
    pub fn parse(s: &str) -> Result<Host, String> {
        let bad =
            || format!("'{s}' is not a host size like 8,16Gi (CPUs, then memory in Gi or Mi)");
        let (c, m) = s.split_once(',').ok_or_else(bad)?;
        let cpus: u64 = c.trim().parse().map_err(|_| bad())?;
        let m = m.trim();
        let memory_mib = if let Some(g) = m.strip_suffix("Gi") {
            g.parse::<u64>().map_err(|_| bad())? * 1024
        } else if let Some(mi) = m.strip_suffix("Mi") {
            mi.parse::<u64>().map_err(|_| bad())?
        } else {
            return Err(bad());
        };
        if cpus == 0 || memory_mib == 0 {
            return Err(bad());
        }
        Ok(Host { cpus, memory_mib })
    }

    fn amount(self) -> Amount {
        Amount::new(self.cpus * 1000, self.memory_mib)
    }
}

/// What one party is rendered with. `None` fields are left to the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartySize {
    pub profile: Profile,
    pub nodemanager_replicas: u64,
    /// Each nodemanager's requests; `None` for the chart's own.
    pub nodemanager_requests: Option<Amount>,
    pub nodemanager_limits: Option<Amount>,
    /// eggroll's `sessionProcessorsPerNode` (the chart's default is 4).
    pub session_processors: u64,
    pub osx_requests: Option<Amount>,
    /// osx's Java heap in MiB (cluster.yaml `osx.heap`); `None` leaves the chart's 4 GiB.
    pub osx_heap_mib: Option<u64>,
}

/// What Kubernetes itself and the KubeFATE service request on a one-node minikube: kubeadm's
/// static pods (apiserver 250m, controller-manager 200m, scheduler 100m, etcd 100m / 100 MiB),
/// CoreDNS (100m / 70 MiB), the ingress-nginx controller (100m / 90 MiB) and KubeFATE's v2.0.0
/// manifest (500m / 512 MiB).
pub const RESERVED: Amount = Amount::new(1350, 772);

/// osx's heap as the chart starts it, and what `small` gives it (a lab's few jobs at a time);
/// the JVM needs some more beside the heap.
const OSX_CHART_HEAP_MIB: u64 = 4096;
const OSX_SMALL_HEAP_MIB: u64 = 1024;
const JVM_BESIDE_HEAP_MIB: u64 = 512;
const OSX_CPU_MILLI: u64 = 100;
/// The smallest nodemanager that still runs the toy and training jobs, and what `small` gives
/// one when there is room.
const NODEMANAGER_FLOOR: Amount = Amount::new(200, 1024);
const NODEMANAGER_TARGET: Amount = Amount::new(1000, 2048);

/// The chart's defaults (values.yaml): 2 nodemanagers of 4 CPU / 4 GiB, sessionProcessorsPerNode 4.
const CHART_NODEMANAGER: Amount = Amount::new(4000, 4096);

/// The sizing of a lab, with the arithmetic behind it.
#[derive(Debug, Clone)]
pub struct Fit {
    pub party: PartySize,
    pub per_party: Amount,
    pub total: Amount,
    pub host: Host,
    pub fits: bool,
}

impl Fit {
    /// Lines for the plan: what each party asks for, the total, and the host.
    pub fn arithmetic(&self, parties: usize) -> Vec<String> {
        let p = &self.party;
        let nm = p.nodemanager_requests.unwrap_or(CHART_NODEMANAGER);
        let heap = gib(p.osx_heap_mib.unwrap_or(OSX_CHART_HEAP_MIB));
        let osx = match p.osx_requests {
            Some(a) => format!("osx {a} (a {heap} heap)"),
            None => format!("osx asks for nothing (but its {heap} heap is in use from the start)"),
        };
        let limits = p
            .nodemanager_limits
            .map(|l| format!(", limited to {l}"))
            .unwrap_or_default();
        vec![
            format!(
                "resources `{}`: each party asks for {} nodemanager × {nm}{limits} + {osx} = {}; \
                 the other pods ask for nothing",
                p.profile, p.nodemanager_replicas, self.per_party
            ),
            format!(
                "the lab: {parties} parties × {} + Kubernetes and KubeFATE {RESERVED} = {}, on a host of {} ({})",
                self.per_party,
                self.total,
                self.host.amount(),
                if self.fits { "fits" } else { "does NOT fit" }
            ),
        ]
    }
}

fn requests(p: &PartySize) -> Amount {
    let nm = p.nodemanager_requests.unwrap_or(CHART_NODEMANAGER);
    nm.times(p.nodemanager_replicas)
        .plus(p.osx_requests.unwrap_or_default())
}

/// The arithmetic of a recorded sizing against a host (as `up` checked it), for the plan and
/// for a pod the scheduler has no room for.
pub fn explain(party: &PartySize, parties: usize, host: Host) -> Vec<String> {
    fit(party.clone(), parties, host).arithmetic(parties)
}

/// What a sizing asks of a host for a lab of `parties`.
pub fn fit(party: PartySize, parties: usize, host: Host) -> Fit {
    let per_party = requests(&party);
    let total = per_party.times(parties as u64).plus(RESERVED);
    Fit {
        fits: total.fits_in(host.amount()),
        party,
        per_party,
        total,
        host,
    }
}

fn round_down(x: u64, step: u64) -> u64 {
    x / step * step
}

/// Sizes each party of a lab of `parties` on `host`. `small` shrinks the nodemanager to what is
/// left per party (never below the floor); the other profiles are fixed values. The result says
/// whether it fits; it is for the caller to refuse a lab that does not.
pub fn size(profile: Profile, parties: usize, host: Host) -> Fit {
    let party = match profile {
        Profile::Chart => PartySize {
            profile,
            nodemanager_replicas: 2,
            nodemanager_requests: None,
            nodemanager_limits: None,
            session_processors: 4,
            osx_requests: None,
            osx_heap_mib: None,
        },
        Profile::Tutorial => PartySize {
            profile,
            nodemanager_replicas: 2,
            nodemanager_requests: Some(Amount::new(2000, 4096)),
            nodemanager_limits: Some(Amount::new(4000, 8192)),
            session_processors: 4,
            // The example's osx limit of 1 GiB is below the 4 GiB heap it starts: only its CPU is
            // kept, and memory asked for the heap.
            osx_requests: Some(Amount::new(1000, OSX_CHART_HEAP_MIB + JVM_BESIDE_HEAP_MIB)),
            osx_heap_mib: None,
        },
        Profile::Small => {
            let n = parties.max(1) as u64;
            let free = host.amount();
            let each = Amount::new(
                free.milli_cpu.saturating_sub(RESERVED.milli_cpu) / n,
                free.mib.saturating_sub(RESERVED.mib) / n,
            );
            let cpu = round_down(each.milli_cpu.saturating_sub(OSX_CPU_MILLI), 50)
                .clamp(NODEMANAGER_FLOOR.milli_cpu, NODEMANAGER_TARGET.milli_cpu);
            let osx = Amount::new(OSX_CPU_MILLI, OSX_SMALL_HEAP_MIB + JVM_BESIDE_HEAP_MIB);
            let mib = round_down(each.mib.saturating_sub(osx.mib), 128)
                .clamp(NODEMANAGER_FLOOR.mib, NODEMANAGER_TARGET.mib);
            let nm = Amount::new(cpu, mib);
            PartySize {
                profile,
                nodemanager_replicas: 1,
                nodemanager_requests: Some(nm),
                // Room to burst on an idle host; memory capped so one runaway job cannot take it all.
                nodemanager_limits: Some(Amount::new(
                    (host.cpus * 1000).max(cpu),
                    (mib * 2).max(NODEMANAGER_TARGET.mib),
                )),
                session_processors: (cpu / 500).clamp(1, 2),
                osx_requests: Some(osx),
                osx_heap_mib: Some(OSX_SMALL_HEAP_MIB),
            }
        }
    };
    fit(party, parties, host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(cpus: u64, gib: u64) -> Host {
        Host {
            cpus,
            memory_mib: gib * 1024,
        }
    }

    #[test]
    fn small_fits_two_parties_on_a_four_cpu_eight_gib_host() {
        let f = size(Profile::Small, 2, host(4, 8));
        // (8192 - 772) / 2 = 3710 MiB each; osx 1536; a 2 GiB nodemanager fits beside it.
        assert!(f.fits, "{:?}", f.arithmetic(2));
        assert_eq!(f.party.nodemanager_requests, Some(Amount::new(1000, 2048)));
        assert_eq!(f.total, Amount::new(3550, 7940));
        let lines = f.arithmetic(2).join("\n");
        assert!(
            lines.contains("2 parties × 1.1 CPU / 3.5 GiB + Kubernetes and KubeFATE 1.35 CPU / 0.75 GiB = 3.55 CPU / 7.75 GiB, on a host of 4 CPU / 8 GiB (fits)"),
            "{lines}"
        );
        // Five do not: even the floor is more than the host.
        let five = size(Profile::Small, 5, host(4, 8));
        assert!(!five.fits);
        assert!(five.arithmetic(5).join("\n").contains("does NOT fit"));
    }

    #[test]
    fn small_on_the_tutorial_host() {
        for parties in [2, 3] {
            let f = size(Profile::Small, parties, host(8, 16));
            assert!(f.fits, "{:?}", f.arithmetic(parties));
            assert_eq!(f.party.nodemanager_requests, Some(Amount::new(1000, 2048)));
            assert_eq!(f.per_party, Amount::new(1100, 3584));
        }
        let f = size(Profile::Small, 6, host(8, 16));
        // (8000 - 1350) / 6 = 1108 → 1000m; (16384 - 772) / 6 = 2602 - 1536 → 1024 MiB.
        assert_eq!(f.party.nodemanager_requests, Some(Amount::new(1000, 1024)));
    }

    #[test]
    fn small_shrinks_the_nodemanager_to_what_is_left_and_every_lab_that_fits_fits() {
        for cpus in 2..=16 {
            for gib in 6..=64 {
                for parties in 2..=6 {
                    let h = host(cpus, gib);
                    let f = size(Profile::Small, parties, h);
                    let nm = f.party.nodemanager_requests.unwrap();
                    assert!(nm.fits_in(NODEMANAGER_TARGET) && NODEMANAGER_FLOOR.fits_in(nm));
                    assert_eq!(f.fits, f.total.fits_in(h.amount()));
                    // Fits unless even the floor does not.
                    let floor = NODEMANAGER_FLOOR
                        .plus(f.party.osx_requests.unwrap())
                        .times(parties as u64)
                        .plus(RESERVED);
                    assert_eq!(
                        f.fits,
                        floor.fits_in(h.amount()),
                        "{cpus} CPU {gib} GiB × {parties}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_chart_and_tutorial_profiles_are_the_upstream_values() {
        let chart = size(Profile::Chart, 2, host(8, 16));
        assert_eq!(chart.per_party, Amount::new(8000, 8192));
        assert!(!chart.fits);
        let t = size(Profile::Tutorial, 2, host(32, 64));
        assert_eq!(t.per_party, Amount::new(5000, 8192 + 4608));
        assert!(t.fits);
    }

    #[test]
    fn host_sizes_parse() {
        assert_eq!(Host::parse("8,16Gi"), Ok(host(8, 16)));
        assert_eq!(
            Host::parse("4, 7800Mi"),
            Ok(Host {
                cpus: 4,
                memory_mib: 7800
            })
        );
        assert!(Host::parse("8").is_err());
        assert!(Host::parse("0,16Gi").is_err());
        assert!(Host::parse("8,16GB").is_err());
    }

    #[test]
    fn quantities() {
        assert_eq!(
            Amount::new(1500, 2048).quantities(),
            serde_json::json!({"cpu": "1500m", "memory": "2048Mi"})
        );
        assert_eq!(Amount::new(2000, 1).quantities()["cpu"], "2");
        assert_eq!(Amount::new(1100, 6656).to_string(), "1.1 CPU / 6.5 GiB");
    }
}
