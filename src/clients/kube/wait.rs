//! Waiting on real state with watches (never by polling): a Deployment to be available, pods to
//! be ready and to stay so, failing early — with the reason — when a pod will not come up.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use super::pods::{PodView, Stuck, not_ready_pods, previous_logs, registry_of};
use super::watch::wait_for;

/// A Deployment is available when its Available condition is True and at least one replica is.
pub fn deployment_available(d: Option<&Deployment>) -> bool {
    let Some(status) = d.and_then(|d| d.status.as_ref()) else {
        return false;
    };
    let condition = status
        .conditions
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Available"))
        .is_some_and(|c| c.status == "True");
    condition && status.available_replicas.unwrap_or(0) >= 1
}

/// Waits until the Deployment is available; on timeout the error names every pod in the
/// namespace that is not ready, and why.
pub async fn wait_deployment_available(
    client: &Client,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let waited = tokio::time::timeout(timeout, wait_for(api, name, deployment_available)).await;
    match waited {
        Ok(result) => {
            result.with_context(|| format!("watching Deployment {ns}/{name}"))?;
            Ok(())
        }
        Err(_) => {
            let pods = not_ready_pods(client, ns).await.unwrap_or_default();
            let detail = if pods.is_empty() {
                "no pods are reported in the namespace".to_string()
            } else {
                format!("pods not ready: {}", pods.join("; "))
            };
            bail!(
                "Deployment {ns}/{name} was not available after {}; {detail}",
                humantime::format_duration(timeout)
            )
        }
    }
}

/// Waits for several Deployments at once.
pub async fn wait_deployments_available(
    client: &Client,
    ns: &str,
    names: &[&str],
    timeout: Duration,
) -> Result<()> {
    let waits = names
        .iter()
        .map(|n| wait_deployment_available(client, ns, n, timeout));
    futures::future::try_join_all(waits).await.map(|_| ())
}

/// A wait that ended because a pod will not come up by itself.
#[derive(Debug, thiserror::Error)]
#[error("{}", words(.namespace, .stuck))]
pub struct StuckPod {
    pub namespace: String,
    pub stuck: Stuck,
}

fn words(ns: &str, s: &Stuck) -> String {
    match s {
        Stuck::ImagePull {
            pod,
            container,
            image,
            message,
        } => format!(
            "pod {ns}/{pod} cannot pull image {image} (container {container}) from {}: {message}",
            registry_of(image)
        ),
        Stuck::Crashing {
            pod,
            container,
            detail,
            logs,
        } => {
            let tail = match logs.as_deref().map(str::trim) {
                Some("") => "(no output)".to_string(),
                Some(t) => t.to_string(),
                None => "(its logs could not be read)".to_string(),
            };
            format!(
                "pod {ns}/{pod} keeps crashing (container {container}: {detail}). The last log lines of its previous run:\n{}",
                tail.lines()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
        Stuck::Unschedulable { pod, message } => format!(
            "pod {ns}/{pod} cannot be scheduled: {message}. The node lacks what the pod requests; free CPU or memory, or use a bigger host"
        ),
    }
}

/// How long to wait for pods, and how long they must then stay ready.
#[derive(Debug, Clone, Copy)]
pub struct PodWait {
    pub timeout: Duration,
    /// After all are ready, a container that restarts within this window fails the wait.
    pub settle: Duration,
}

/// (pod, container) → restarts so far.
type Restarts = BTreeMap<(String, String), i32>;

fn restart_counts(pods: &BTreeMap<String, PodView>) -> Restarts {
    pods.values()
        .flat_map(|p| {
            p.containers
                .iter()
                .map(move |c| ((p.name.clone(), c.name.clone()), c.restarts))
        })
        .collect()
}

/// Waits with a watch until `ready` says the pods matching `selector` in `ns` are, then watches
/// them for `wait.settle` more: a restart in that window fails the wait at once, as does a pod
/// stuck on a pull, a crash loop or scheduling (a [`StuckPod`] error). Every change is reported
/// through `progress`.
pub async fn wait_ready(
    client: &Client,
    ns: &str,
    selector: &str,
    wait: PodWait,
    ready: impl Fn(&[PodView]) -> bool,
    mut progress: impl FnMut(&[PodView]),
) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut pods: BTreeMap<String, PodView> = BTreeMap::new();
    let mut init_buffer: BTreeMap<String, PodView> = BTreeMap::new();
    let config = watcher::Config::default().labels(selector);
    let stream = watcher(api, config).default_backoff();
    let watch = async {
        futures::pin_mut!(stream);
        // Once all are ready: when the window ends, and each container's restarts at its start.
        let mut settling: Option<(tokio::time::Instant, Restarts)> = None;
        loop {
            let event = match &settling {
                Some((until, _)) => tokio::select! {
                    e = stream.next() => e,
                    () = tokio::time::sleep_until(*until) => return Ok(None),
                },
                None => stream.next().await,
            };
            let event = match event {
                Some(Ok(event)) => event,
                // The watcher sets itself up again (relisting after a 410) when polled next.
                Some(Err(e)) => {
                    tracing::info!(
                        "the watch on pods {selector} in {ns} broke ({e}); watching again"
                    );
                    continue;
                }
                None => bail!("the watch on pods {selector} in {ns} ended"),
            };
            let name = |p: &Pod| p.metadata.name.clone().unwrap_or_default();
            match event {
                watcher::Event::Init => init_buffer.clear(),
                watcher::Event::InitApply(p) => {
                    init_buffer.insert(name(&p), PodView::of(&p));
                }
                watcher::Event::InitDone => pods = std::mem::take(&mut init_buffer),
                watcher::Event::Apply(p) => {
                    pods.insert(name(&p), PodView::of(&p));
                }
                watcher::Event::Delete(p) => {
                    pods.remove(&name(&p));
                }
            }
            let views: Vec<PodView> = pods.values().cloned().collect();
            progress(&views);
            if let Some(s) = views.iter().find_map(PodView::stuck) {
                return Ok::<Option<Stuck>, anyhow::Error>(Some(s));
            }
            if let Some((_, before)) = &settling {
                for ((pod, container), n) in restart_counts(&pods) {
                    if before
                        .get(&(pod.clone(), container.clone()))
                        .is_some_and(|b| n > *b)
                    {
                        let last_exit = pods[&pod]
                            .containers
                            .iter()
                            .find(|c| c.name == container)
                            .map(|c| c.last_exit_words())
                            .unwrap_or_default();
                        let detail = format!(
                            "restarted {n} times, again while watched to settle (within {}){last_exit}",
                            humantime::format_duration(wait.settle)
                        );
                        return Ok(Some(Stuck::Crashing {
                            pod,
                            container,
                            detail,
                            logs: None,
                        }));
                    }
                }
            }
            let all_ready = !views.is_empty() && ready(&views);
            match (all_ready, settling.is_some()) {
                (true, false) => {
                    settling = Some((
                        tokio::time::Instant::now() + wait.settle,
                        restart_counts(&pods),
                    ))
                }
                // A pod went away or stopped being ready without a restart: wait for all again.
                (false, true) => settling = None,
                _ => {}
            }
        }
    };
    match tokio::time::timeout(wait.timeout, watch).await {
        Ok(Ok(None)) => Ok(()),
        Ok(Ok(Some(mut stuck))) => {
            if let Stuck::Crashing {
                pod,
                container,
                logs,
                ..
            } = &mut stuck
            {
                *logs = previous_logs(client, ns, pod, container, 20).await.ok();
            }
            Err(StuckPod {
                namespace: ns.to_string(),
                stuck,
            }
            .into())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => {
            let waiting: Vec<String> = not_ready_pods(client, ns).await.unwrap_or_default();
            bail!(
                "pods {selector} in {ns} were not all ready after {}{}",
                humantime::format_duration(wait.timeout),
                if waiting.is_empty() {
                    " (no pod matched)".to_string()
                } else {
                    format!("; not ready: {}", waiting.join("; "))
                }
            )
        }
    }
}
