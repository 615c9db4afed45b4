//! Namespaces: made when missing (and known afterwards as made by whoever marked them), deleted
//! and awaited until gone.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::wait::conditions;
use kube::{Api, Client};

use super::watch::wait_for;

/// Creates a namespace carrying the label `mark`; an existing one is fine. Returns whether this
/// call made it. A create whose first answer was lost is sent again and answered 409: the
/// namespace then counts as made here when it carries `mark`.
pub async fn ensure_namespace(
    client: &Client,
    name: &str,
    mark: Option<(&str, &str)>,
) -> Result<bool> {
    let api: Api<Namespace> = Api::all(client.clone());
    if api.get_opt(name).await?.is_some() {
        return Ok(false);
    }
    let mut ns =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    if let Some((k, v)) = mark {
        ns["metadata"]["labels"] = serde_json::json!({ k: v });
    }
    let ns: Namespace = serde_json::from_value(ns)?;
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let held = api.get_opt(name).await?;
            let marked = |(k, v): (&str, &str)| {
                held.as_ref()
                    .and_then(|n| n.metadata.labels.as_ref())
                    .is_some_and(|l| l.get(k).is_some_and(|x| x == v))
            };
            Ok(mark.is_some_and(marked))
        }
        Err(e) => Err(e).with_context(|| format!("creating namespace {name}")),
    }
}

/// Deletes a namespace and waits (watching) until it is gone. A missing namespace is fine.
pub async fn delete_namespace(client: &Client, name: &str, timeout: Duration) -> Result<bool> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(existing) = api.get_opt(name).await? else {
        return Ok(false);
    };
    let uid = existing.metadata.uid.clone().unwrap_or_default();
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("deleting namespace {name}")),
    }
    tokio::time::timeout(timeout, wait_for(api, name, conditions::is_deleted(&uid)))
        .await
        .with_context(|| {
            format!(
                "namespace {name} was still terminating after {}",
                humantime::format_duration(timeout)
            )
        })?
        .with_context(|| format!("watching namespace {name}"))?;
    Ok(true)
}
