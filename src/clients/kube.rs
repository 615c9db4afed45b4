//! Kubernetes through kube-rs: connect with minikube's kubeconfig, wait on real state with
//! watches, and explain what is not ready.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::await_condition;
use kube::{Api, Client, Config};

pub async fn connect(kubeconfig: &Path) -> Result<Client> {
    super::ensure_crypto_provider();
    let raw = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading the kubeconfig {}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(raw, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("using the kubeconfig {}", kubeconfig.display()))?;
    Client::try_from(config).context("creating the Kubernetes client")
}

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

/// Waits (with a watch, not polling) until the Deployment is available; on timeout the error
/// names every pod in the namespace that is not ready, and why.
pub async fn wait_deployment_available(
    client: &Client,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let waited =
        tokio::time::timeout(timeout, await_condition(api, name, deployment_available)).await;
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
                "Deployment {ns}/{name} was not available after {}s; {detail}",
                timeout.as_secs()
            )
        }
    }
}

/// `name (phase; container: reason message)` for every pod whose containers are not all ready.
pub async fn not_ready_pods(client: &Client, ns: &str) -> Result<Vec<String>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods = api.list(&ListParams::default()).await?;
    Ok(pods
        .items
        .iter()
        .filter_map(describe_if_not_ready)
        .collect())
}

pub fn describe_if_not_ready(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into());
    if phase == "Succeeded" {
        return None;
    }
    let containers = status
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    if phase == "Running" && !containers.is_empty() && containers.iter().all(|c| c.ready) {
        return None;
    }
    let mut why: Vec<String> = containers
        .iter()
        .filter(|c| !c.ready)
        .map(|c| {
            let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
            match waiting {
                Some(w) => format!(
                    "{}: {}{}",
                    c.name,
                    w.reason.clone().unwrap_or_else(|| "Waiting".into()),
                    w.message
                        .as_ref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                ),
                None => format!("{}: not ready", c.name),
            }
        })
        .collect();
    if let Some(cond) = status.and_then(|s| s.conditions.as_ref()).and_then(|cs| {
        cs.iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    }) {
        why.push(format!(
            "unschedulable: {}",
            cond.message.clone().unwrap_or_default()
        ));
    }
    Some(if why.is_empty() {
        format!("{name} ({phase})")
    } else {
        format!("{name} ({phase}; {})", why.join(", "))
    })
}
