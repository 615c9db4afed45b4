//! What a namespace shows someone debugging it: its pods as the server holds them, each
//! container's log (and its previous run's), and its events in time order.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{ListParams, LogParams};
use kube::{Api, Client};

/// The most of one container's log kept (its end is what tells).
const LOG_BYTES: i64 = 8 << 20;

/// Every pod of `ns` (matching `selector` when given), as the server holds it.
pub async fn pods_in(client: &Client, ns: &str, selector: Option<&str>) -> Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut params = ListParams::default();
    if let Some(s) = selector {
        params = params.labels(s);
    }
    Ok(api
        .list(&params)
        .await
        .with_context(|| format!("listing the pods of {ns}"))?
        .items)
}

/// A container's log, or its previous run's.
pub async fn container_log(
    client: &Client,
    ns: &str,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = LogParams {
        container: Some(container.into()),
        previous,
        limit_bytes: Some(LOG_BYTES),
        timestamps: true,
        ..LogParams::default()
    };
    api.logs(pod, &params).await.with_context(|| {
        format!(
            "reading the {}log of {ns}/{pod} ({container})",
            if previous { "previous run's " } else { "" }
        )
    })
}

/// The namespace's events, oldest first, one line each: time, type, reason, object, message.
pub async fn events_in(client: &Client, ns: &str) -> Result<Vec<String>> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let mut events = api
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing the events of {ns}"))?
        .items;
    let when = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
            .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
            .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
    };
    events.sort_by_key(when);
    Ok(events
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}/{}: {}{}",
                when(e).map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                e.type_.as_deref().unwrap_or("-"),
                e.reason.as_deref().unwrap_or("-"),
                e.involved_object.kind.as_deref().unwrap_or("-"),
                e.involved_object.name.as_deref().unwrap_or("-"),
                e.message.as_deref().unwrap_or("").trim(),
                match e.count {
                    Some(n) if n > 1 => format!(" (×{n})"),
                    _ => String::new(),
                }
            )
        })
        .collect())
}

/// One key of a ConfigMap's data (`None`: no such ConfigMap or key).
pub async fn config_map_value(
    client: &Client,
    ns: &str,
    name: &str,
    key: &str,
) -> Result<Option<String>> {
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), ns);
    let cm = api
        .get_opt(name)
        .await
        .with_context(|| format!("reading ConfigMap {ns}/{name}"))?;
    Ok(cm.and_then(|c| c.data).and_then(|mut d| d.remove(key)))
}
