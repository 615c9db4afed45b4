//! A local port forwarded to a pod's port through the API server (`pods/portforward`, one
//! websocket per connection), as `kubectl port-forward` does.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::{Api, Client};
use tokio::net::TcpListener;

/// The pod and port a Service's `port` reaches now: the first ready pod its selector picks,
/// and the target port (a named one looked up in that pod's containers).
pub async fn service_backend(
    client: &Client,
    ns: &str,
    service: &str,
    port: u16,
) -> Result<(String, u16)> {
    let svc = Api::<Service>::namespaced(client.clone(), ns)
        .get(service)
        .await
        .with_context(|| format!("reading Service {ns}/{service}"))?;
    let spec = svc.spec.unwrap_or_default();
    let sp = spec
        .ports
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.port == i32::from(port))
        .with_context(|| format!("Service {ns}/{service} has no port {port}"))?;
    let selector = spec
        .selector
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let pods = super::list_pods(client, ns, &selector).await?;
    let pod = pods
        .iter()
        .find(|p| p.is_ready())
        .with_context(|| format!("no ready pod behind Service {ns}/{service} ({selector})"))?;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let target = match sp.target_port {
        None => port,
        Some(IntOrString::Int(n)) => u16::try_from(n).context("a target port out of range")?,
        Some(IntOrString::String(name)) => {
            let live = Api::<Pod>::namespaced(client.clone(), ns)
                .get(&pod.name)
                .await?;
            live.spec
                .into_iter()
                .flat_map(|s| s.containers)
                .flat_map(|c| c.ports.unwrap_or_default())
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .with_context(|| format!("no container of {} names port {name}", pod.name))?
        }
    };
    Ok((pod.name.clone(), target))
}

/// Serves every connection `listener` accepts by a new forward to `pod:port`, until the
/// returned future is dropped. `on_error` hears of a connection that could not be forwarded.
pub async fn forward(
    client: &Client,
    ns: &str,
    pod: &str,
    port: u16,
    listener: TcpListener,
    on_error: impl Fn(String) + Send + Sync + 'static,
) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let on_error = std::sync::Arc::new(on_error);
    loop {
        let (mut conn, _) = listener.accept().await.context("accepting a connection")?;
        let (api, pod, on_error) = (api.clone(), pod.to_string(), on_error.clone());
        tokio::spawn(async move {
            let result = async {
                let mut pf = api.portforward(&pod, &[port]).await?;
                let mut upstream = pf.take_stream(port).context("no stream for the port")?;
                // A browser that drops a connection midway is no error of the forward's.
                let _ = tokio::io::copy_bidirectional(&mut conn, &mut upstream).await;
                drop(upstream);
                let _ = pf.join().await;
                anyhow::Ok(())
            }
            .await;
            if let Err(e) = result {
                on_error(format!("{e:#}"));
            }
        });
    }
}
