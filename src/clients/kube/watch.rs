//! The one watch every wait is built on: an object watched until a condition holds.

use anyhow::{Result, bail};
use futures::StreamExt;
use kube::Api;
use kube::runtime::wait::Condition;
use kube::runtime::{WatchStreamExt, watcher};

/// Waits (watching) until `cond` holds for the named object. A watch that breaks — a dropped
/// connection, a 5xx, a 410 Gone — is set up again with backoff (the watcher lists afresh
/// after a 410): a passing error ends no wait; the caller's timeout bounds it.
pub(super) async fn wait_for<K>(
    api: Api<K>,
    name: &str,
    cond: impl Condition<K>,
) -> Result<Option<K>>
where
    K: Clone + std::fmt::Debug + Send + serde::de::DeserializeOwned + kube::Resource + 'static,
{
    let stream = watcher::watch_object(api, name).default_backoff();
    futures::pin_mut!(stream);
    loop {
        match stream.next().await {
            Some(Ok(obj)) if cond.matches_object(obj.as_ref()) => return Ok(obj),
            Some(Ok(_)) => {}
            Some(Err(e)) => tracing::info!("the watch on {name} broke ({e}); watching again"),
            None => bail!("the watch on {name} ended"),
        }
    }
}
