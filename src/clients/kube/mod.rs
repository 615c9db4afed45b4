//! Kubernetes through kube-rs: connect (a kubeconfig file, or a context of the usual one), apply
//! manifests server-side, wait on real state with watches, describe pods, make and remove
//! namespaces. Every call goes through [`super::transport`]'s deadlines and retries.

mod apply;
mod exec;
mod forward;
mod inspect;
mod namespace;
mod pods;
mod wait;
mod watch;

pub use apply::{Applied, FIELD_MANAGER, Held, apply_all, delete_object, get_objects, namespaced};
pub use exec::{Ran, exec};
pub use forward::{forward, service_backend};
pub use inspect::{config_map_value, container_log, events_in, pods_in};
pub use namespace::{delete_namespace, ensure_namespace};
pub use pods::{
    ContainerState, ContainerView, Exit, PodView, Stuck, Unschedulable, delete_pod, list_pods,
    not_ready_pods, registry_of,
};
pub use wait::{
    PodWait, StuckPod, deployment_available, wait_deployment_available, wait_deployments_available,
    wait_ready,
};

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// A client for the cluster in `kubeconfig`, each attempt of each call bounded by
/// `call_timeout` (until the answer's headers) and retried as [`super::transport`] says.
pub async fn connect(kubeconfig: &Path, call_timeout: Duration) -> Result<Client> {
    super::transport::ensure_crypto_provider();
    let raw = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading the kubeconfig {}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(raw, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("using the kubeconfig {}", kubeconfig.display()))?;
    client_for(config, call_timeout)
}

/// A client for `context` of a kubeconfig (`kubeconfig` already read), bounded as [`connect`]'s.
pub async fn connect_context(
    kubeconfig: Kubeconfig,
    context: &str,
    call_timeout: Duration,
) -> Result<Client> {
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("using context {context}"))?;
    client_for(config, call_timeout)
}

/// A client for `config` with bounded attempts and retries of what is safe to repeat.
pub fn client_for(mut config: Config, call_timeout: Duration) -> Result<Client> {
    super::transport::ensure_crypto_provider();
    config.connect_timeout = Some(call_timeout);
    // kube's own retry repeats 503s up to 15 times with a backoff growing to minutes, and any
    // method; this one is bounded and repeats only what is safe to repeat.
    config.default_retry = false;
    let stack = tower::ServiceBuilder::new()
        .layer(tower::retry::RetryLayer::new(
            super::transport::RetryPolicy::new(),
        ))
        .layer(tower::timeout::TimeoutLayer::new(call_timeout))
        .layer(super::transport::TrackLayer)
        .layer(tower::buffer::BufferLayer::new(1024));
    Ok(kube::client::ClientBuilder::try_from(config)
        .context("creating the Kubernetes client")?
        .with_layer(&stack)
        .build())
}
