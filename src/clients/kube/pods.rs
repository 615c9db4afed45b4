//! A pod as the waits, the progress lines and health read it: one view ([`PodView`]) taken from
//! the API object, and two ways of putting it into words — a progress line (`a Running
//! [controller: ready]`) and why it is not ready (`slow (Pending; controller: ContainerCreating)`).

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, LogParams, Preconditions};
use kube::runtime::wait::conditions;
use kube::{Api, Client};

use super::watch::wait_for;

/// Container waiting reasons that will not fix themselves while anyone waits.
const PULL_FAILURES: [&str; 3] = ["ImagePullBackOff", "ErrImagePull", "InvalidImageName"];

#[derive(Debug, Clone, PartialEq)]
pub struct PodView {
    pub name: String,
    /// Tells a pod from its replacement of the same name.
    pub uid: String,
    /// The pod's phase; `Pending` when the server has not said.
    pub phase: String,
    pub init_containers: Vec<ContainerView>,
    pub containers: Vec<ContainerView>,
    /// The scheduler's message when it has not placed the pod (PodScheduled False).
    pub unschedulable: Option<Unschedulable>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Unschedulable {
    /// The condition's reason was `Unschedulable` (not merely "not yet").
    pub by_scheduler: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub ready: bool,
    pub restarts: i32,
    pub state: ContainerState,
    /// How its previous run ended, when the kubelet kept it.
    pub last_exit: Option<Exit>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ContainerState {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        since: Option<Timestamp>,
    },
    Terminated(Exit),
    /// The kubelet has reported no state yet.
    Starting,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exit {
    pub reason: String,
    pub code: i32,
}

/// Why a pod will not come up on its own, if that is already clear.
#[derive(Debug, Clone, PartialEq)]
pub enum Stuck {
    ImagePull {
        pod: String,
        container: String,
        image: String,
        message: String,
    },
    /// In a crash loop, or restarted while a wait watched it settle; with the last lines of the
    /// container's previous run when they could be read.
    Crashing {
        pod: String,
        container: String,
        detail: String,
        logs: Option<String>,
    },
    Unschedulable {
        pod: String,
        message: String,
    },
}

impl ContainerView {
    fn of(c: &ContainerStatus) -> ContainerView {
        let state = c.state.as_ref();
        let state = if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            ContainerState::Waiting {
                reason: w.reason.clone().unwrap_or_else(|| "Waiting".into()),
                message: w.message.clone().filter(|m| !m.is_empty()),
            }
        } else if let Some(r) = state.and_then(|s| s.running.as_ref()) {
            ContainerState::Running {
                since: r.started_at.as_ref().map(|t| t.0),
            }
        } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            ContainerState::Terminated(Exit {
                reason: t.reason.clone().unwrap_or_else(|| "Terminated".into()),
                code: t.exit_code,
            })
        } else {
            ContainerState::Starting
        };
        ContainerView {
            name: c.name.clone(),
            image: c.image.clone(),
            ready: c.ready,
            restarts: c.restart_count,
            state,
            last_exit: c
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .map(|t| Exit {
                    reason: t.reason.clone().unwrap_or_else(|| "?".into()),
                    code: t.exit_code,
                }),
        }
    }

    /// ` (last exit: Error, code 1)` when the previous run's end is known.
    pub fn last_exit_words(&self) -> String {
        self.last_exit
            .as_ref()
            .map(|e| format!(" (last exit: {}, code {})", e.reason, e.code))
            .unwrap_or_default()
    }

    /// What keeps it from being ready now, in words (`None`: it is ready and running):
    /// `CrashLoopBackOff (back-off 40s), restarted 3 times (last exit: Error, code 1)`.
    pub fn trouble(&self) -> Option<String> {
        match &self.state {
            ContainerState::Waiting { reason, message } => {
                let message = message
                    .as_ref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default();
                let restarts = if self.restarts > 0 {
                    format!(
                        ", restarted {} times{}",
                        self.restarts,
                        self.last_exit_words()
                    )
                } else {
                    String::new()
                };
                Some(format!("{reason}{message}{restarts}"))
            }
            ContainerState::Terminated(e) => {
                Some(format!("terminated ({}, exit code {})", e.reason, e.code))
            }
            _ if !self.ready => Some("running, not ready".into()),
            _ => None,
        }
    }

    /// The progress word: its waiting reason, `ready`, `running`, its end, or `starting`.
    fn word(&self) -> String {
        match &self.state {
            ContainerState::Waiting { reason, .. } => reason.clone(),
            ContainerState::Running { .. } if self.ready => "ready".into(),
            ContainerState::Running { .. } => "running".into(),
            ContainerState::Terminated(e) => e.reason.clone(),
            ContainerState::Starting => "starting".into(),
        }
    }
}

impl PodView {
    pub fn of(pod: &Pod) -> PodView {
        let status = pod.status.as_ref();
        let views = |list: Option<&Vec<ContainerStatus>>| {
            list.into_iter()
                .flatten()
                .map(ContainerView::of)
                .collect::<Vec<_>>()
        };
        let unschedulable = status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
            .map(|c| Unschedulable {
                by_scheduler: c.reason.as_deref() == Some("Unschedulable"),
                message: c.message.clone().unwrap_or_default(),
            });
        PodView {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            phase: status
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Pending".into()),
            init_containers: views(status.and_then(|s| s.init_container_statuses.as_ref())),
            containers: views(status.and_then(|s| s.container_statuses.as_ref())),
            unschedulable,
        }
    }

    /// Running with every container ready (what Kubernetes calls a ready pod).
    pub fn is_ready(&self) -> bool {
        self.phase == "Running"
            && !self.containers.is_empty()
            && self.containers.iter().all(|c| c.ready)
    }

    /// The progress line: `name phase [container: state, ...]`.
    pub fn line(&self) -> String {
        if self.containers.is_empty() {
            return format!("{} {}", self.name, self.phase);
        }
        let states: Vec<String> = self
            .containers
            .iter()
            .map(|c| format!("{}: {}", c.name, c.word()))
            .collect();
        format!("{} {} [{}]", self.name, self.phase, states.join(", "))
    }

    /// Why it is not ready, `name (phase; container: why, ...)`; `None` when it is ready or done.
    pub fn not_ready(&self) -> Option<String> {
        if self.phase == "Succeeded" || self.is_ready() {
            return None;
        }
        let mut why: Vec<String> = self
            .containers
            .iter()
            .filter(|c| !c.ready)
            .map(|c| match &c.state {
                ContainerState::Waiting { reason, message } => format!(
                    "{}: {reason}{}",
                    c.name,
                    message
                        .as_ref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                ),
                _ => format!("{}: not ready", c.name),
            })
            .collect();
        if let Some(u) = &self.unschedulable {
            why.push(format!("unschedulable: {}", u.message));
        }
        Some(if why.is_empty() {
            format!("{} ({})", self.name, self.phase)
        } else {
            format!("{} ({}; {})", self.name, self.phase, why.join(", "))
        })
    }

    /// Whether the pod will not come up by itself: a pull that fails, a crash loop, or no room.
    pub fn stuck(&self) -> Option<Stuck> {
        for c in self.init_containers.iter().chain(&self.containers) {
            let ContainerState::Waiting { reason, message } = &c.state else {
                continue;
            };
            if PULL_FAILURES.contains(&reason.as_str()) {
                return Some(Stuck::ImagePull {
                    pod: self.name.clone(),
                    container: c.name.clone(),
                    image: c.image.clone(),
                    message: message.clone().unwrap_or_else(|| reason.clone()),
                });
            }
            if reason == "CrashLoopBackOff" {
                return Some(Stuck::Crashing {
                    pod: self.name.clone(),
                    container: c.name.clone(),
                    detail: format!(
                        "CrashLoopBackOff, restarted {} times{}",
                        c.restarts,
                        c.last_exit_words()
                    ),
                    logs: None,
                });
            }
        }
        self.unschedulable
            .as_ref()
            .filter(|u| u.by_scheduler)
            .map(|u| Stuck::Unschedulable {
                pod: self.name.clone(),
                message: u.message.clone(),
            })
    }
}

/// The registry an image reference is pulled from, as a person would name it (the runtime's
/// rule: a first path part with a dot, a port or `localhost` is a registry; else Docker Hub).
pub fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "Docker Hub".to_string(),
    }
}

/// The pods matching `selector` in `ns`, as listed now.
pub async fn list_pods(client: &Client, ns: &str, selector: &str) -> Result<Vec<PodView>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods = api
        .list(&ListParams::default().labels(selector))
        .await
        .with_context(|| format!("listing pods {selector} in {ns}"))?;
    Ok(pods.items.iter().map(PodView::of).collect())
}

/// Why each pod of `ns` whose containers are not all ready is not ready.
pub async fn not_ready_pods(client: &Client, ns: &str) -> Result<Vec<String>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods = api.list(&ListParams::default()).await?;
    Ok(pods
        .items
        .iter()
        .filter_map(|p| PodView::of(p).not_ready())
        .collect())
}

/// Deletes pod `name` if it is still the one with `uid` (its controller makes a new one) and
/// waits, watching, until that pod is gone — as [`super::delete_namespace`] does; a pod already
/// gone or replaced is fine.
pub async fn delete_pod(
    client: &Client,
    ns: &str,
    name: &str,
    uid: &str,
    timeout: std::time::Duration,
) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("deleting pod {ns}/{name}")),
    }
    // Until it is gone, its still-ready containers would pass for its replacement's.
    tokio::time::timeout(timeout, wait_for(api, name, conditions::is_deleted(uid)))
        .await
        .with_context(|| {
            format!(
                "pod {ns}/{name} was deleted but still there after {}",
                humantime::format_duration(timeout)
            )
        })?
        .with_context(|| format!("watching pod {ns}/{name}"))?;
    Ok(())
}

/// The last `lines` lines of a container's previous run.
pub async fn previous_logs(
    client: &Client,
    ns: &str,
    pod: &str,
    container: &str,
    lines: i64,
) -> Result<String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = LogParams {
        container: Some(container.into()),
        previous: true,
        tail_lines: Some(lines),
        ..LogParams::default()
    };
    Ok(api.logs(pod, &params).await?)
}
