//! One meaning of "a healthy party", for `up`, `status` and `test`: every pod of the party's
//! cluster is Running with every container ready, and stable — no container restarted within the
//! settle window.
//!
//! Why a window: chart v1.6.0 has no probes, so a container that crashes looks ready while it
//! runs. The kubelet restarts a crashed container at once the first time and then backs off
//! (10 s, 20 s, 40 s, … up to 5 min), so a container that dies within its first seconds shows
//! a restart well inside [`SETTLE_WINDOW`]; a restart older than the window counts as settled.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::clients::kube::{ContainerState, ContainerView, PodView};

/// 30 s covers the first crash and the first back-off restart (10 s) of a crash loop.
pub const SETTLE_WINDOW: Duration = Duration::from_secs(30);

/// One thing that keeps a party from being healthy, naming the pod and the container.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub pod: String,
    pub container: Option<String>,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.container {
            Some(c) => write!(f, "pod {} container {c}: {}", self.pod, self.what),
            None => write!(f, "pod {}: {}", self.pod, self.what),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    Healthy {
        pods: usize,
    },
    /// No pod carries the cluster's label: nothing runs (the release is gone, or never came up).
    NoPods,
    Unhealthy {
        ready: usize,
        total: usize,
        problems: Vec<Problem>,
    },
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Healthy { .. })
    }

    /// (pods ready and stable, pods).
    pub fn counts(&self) -> (usize, usize) {
        match self {
            Health::Healthy { pods } => (*pods, *pods),
            Health::NoPods => (0, 0),
            Health::Unhealthy { ready, total, .. } => (*ready, *total),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Health::Healthy { pods } => format!("{pods}/{pods} pods ready"),
            Health::NoPods => "no pods".into(),
            Health::Unhealthy {
                ready,
                total,
                problems,
            } => {
                let shown: Vec<String> = problems.iter().map(Problem::to_string).collect();
                format!("{ready}/{total} pods ready; {}", shown.join("; "))
            }
        }
    }
}

fn seconds_since(t: &Timestamp, now: Timestamp) -> i64 {
    now.as_second() - t.as_second()
}

/// Why one container is not healthy at `now`, if it is not: what keeps it from being ready, or
/// a restart within the settle window.
pub fn container_problem(c: &ContainerView, now: Timestamp, window: Duration) -> Option<String> {
    if let Some(trouble) = c.trouble() {
        return Some(trouble);
    }
    if c.restarts > 0 {
        let window = window.as_secs() as i64;
        if let ContainerState::Running { since: Some(t) } = &c.state
            && seconds_since(t, now) < window
        {
            return Some(format!(
                "restarted {} times, the last less than {window}s ago{}",
                c.restarts,
                c.last_exit_words()
            ));
        }
    }
    None
}

/// Everything wrong with one pod at `now` (empty: it is healthy).
pub fn pod_problems(pod: &PodView, now: Timestamp, window: Duration) -> Vec<Problem> {
    let mut problems: Vec<Problem> = pod
        .containers
        .iter()
        .filter_map(|c| {
            container_problem(c, now, window).map(|what| Problem {
                pod: pod.name.clone(),
                container: Some(c.name.clone()),
                what,
            })
        })
        .collect();
    if pod.phase != "Running" && problems.is_empty() {
        let unschedulable = pod
            .unschedulable
            .as_ref()
            .map(|u| format!(", unschedulable: {}", u.message))
            .unwrap_or_default();
        problems.push(Problem {
            pod: pod.name.clone(),
            container: None,
            what: format!("{}{unschedulable}", pod.phase),
        });
    }
    problems
}

/// How far the pods are, as a progress line shows it: "2/3 pods Running".
pub fn pods_running(pods: &[PodView]) -> String {
    let running = pods.iter().filter(|p| p.phase == "Running").count();
    format!("{running}/{} pods Running", pods.len())
}

/// Every pod has every container ready, now (no settle window): what a wait for a party waits on.
pub fn all_ready(pods: &[PodView]) -> bool {
    let now = Timestamp::now();
    pods.iter()
        .all(|p| pod_problems(p, now, Duration::ZERO).is_empty())
}

/// The party's health from its pods (those labelled `name=<cluster>`) as listed at `now`.
pub fn assess(pods: &[PodView], now: Timestamp, window: Duration) -> Health {
    if pods.is_empty() {
        return Health::NoPods;
    }
    let per_pod: Vec<Vec<Problem>> = pods.iter().map(|p| pod_problems(p, now, window)).collect();
    let ready = per_pod.iter().filter(|p| p.is_empty()).count();
    if ready == pods.len() {
        return Health::Healthy { pods: ready };
    }
    Health::Unhealthy {
        ready,
        total: pods.len(),
        problems: per_pod.into_iter().flatten().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: serde_json::Value) -> PodView {
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
            "metadata": {"name": "mysql-abc"},
            "status": {"phase": "Running", "containerStatuses": containers}
        }))
        .unwrap();
        PodView::of(&pod)
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn ready_and_settled_is_healthy() {
        let p = pod(
            json!([{"name": "mysql", "ready": true, "restartCount": 0, "image": "m", "imageID": "",
            "state": {"running": {"startedAt": "2026-12-01T10:00:00Z"}}}]),
        );
        assert_eq!(
            assess(&[p], at("2026-12-01T10:00:05Z"), SETTLE_WINDOW),
            Health::Healthy { pods: 1 }
        );
        assert_eq!(
            assess(&[], at("2026-12-01T10:00:05Z"), SETTLE_WINDOW),
            Health::NoPods
        );
    }

    #[test]
    fn a_recent_restart_or_a_crash_loop_is_named() {
        let restarted = pod(
            json!([{"name": "mysql", "ready": true, "restartCount": 1, "image": "m", "imageID": "",
            "state": {"running": {"startedAt": "2026-12-01T10:00:00Z"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]),
        );
        let h = assess(
            std::slice::from_ref(&restarted),
            at("2026-12-01T10:00:10Z"),
            SETTLE_WINDOW,
        );
        assert!(!h.is_healthy());
        assert!(
            h.describe()
                .contains("pod mysql-abc container mysql: restarted 1 times, the last less than 30s ago (last exit: Error, code 1)"),
            "{}",
            h.describe()
        );
        // Long enough ago: settled.
        assert!(assess(&[restarted], at("2026-12-01T10:05:00Z"), SETTLE_WINDOW).is_healthy());
        let looping = pod(
            json!([{"name": "mysql", "ready": false, "restartCount": 3, "image": "m", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]),
        );
        let h = assess(&[looping], at("2026-12-01T10:00:10Z"), SETTLE_WINDOW);
        assert_eq!(h.counts(), (0, 1));
        assert!(h.describe().contains(
            "container mysql: CrashLoopBackOff (back-off 40s), restarted 3 times (last exit: Error, code 1)"
        ), "{}", h.describe());
    }
}
