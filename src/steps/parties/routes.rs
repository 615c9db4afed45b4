//! Making a route table change take effect inside the running federation pod.
//!
//! The charts mount the route table ConfigMap as a directory (no subPath), so the kubelet
//! refreshes the file — on its own sync, up to a minute or more after KubeFATE's update job has
//! already succeeded (KubeFATE#850 saw it unchanged). The processes do re-read the file: eggroll
//! 2.2's rollsite once a minute (`EggSiteBootstrap`: `Router.initOrUpdateRouterTable` at a fixed
//! rate of 1 min), FATE 2.0's osx when its modification time changes (a
//! `FileRefreshableDataSource` polling every 3 s). So: an osx whose pod already shows the new table
//! is left alone; otherwise (the pod still shows the old table, or rollsite, whose reload cannot
//! be seen from outside) its pod is deleted — its Deployment makes a new one, which mounts the
//! current ConfigMap and reads it at start — followed to health as after an install, and read
//! again.

use anyhow::{Context, Result, bail};

use super::follow;
use crate::clients::kube;
use crate::model::spec::Party;
use crate::steps::Ctx;
use crate::steps::probe;
use crate::ui::SubLine;

/// After `party`'s routes changed (or were found stale): its federation pod routes as declared.
/// Returns what was done, in words.
pub async fn take_effect(ctx: &Ctx, party: &Party, line: &SubLine) -> Result<String> {
    let via = ctx.spec.release.federation_module.as_str();
    let old = probe::federation_pod(ctx, party).await?;
    let stale = probe::stale_routes_in(ctx, party, &old).await?;
    if stale.is_empty() && via == "osx" {
        return Ok("osx sees the new route table and re-reads it within 3 s".into());
    }
    let why = if stale.is_empty() {
        "rollsite re-reads its route table only once a minute".to_string()
    } else {
        format!(
            "its pod still routes with the old table ({})",
            stale.join("; ")
        )
    };
    ctx.ui.println(format!(
        "    party {}: restarting its {via} pod so it loads the new route table: {why}",
        party.id
    ));
    let ns = party.namespace();
    line.set(format!(
        "deleting {ns}/{} and waiting until it is gone",
        old.name
    ));
    kube::delete_pod(
        ctx.kube_for(party).await?,
        &ns,
        &old.name,
        &old.uid,
        ctx.wait_timeout(),
    )
    .await?;
    follow::settled(ctx, party, line, &format!("restarted its {via} pod"))
        .await
        .with_context(|| format!("party {}'s pods after restarting its {via}", party.id))?;
    let stale = probe::stale_routes(ctx, party).await?;
    if !stale.is_empty() {
        bail!(
            "party {}'s new {via} pod still routes with an old table ({}): the ConfigMap {via}-config \
             in {ns} was not updated by KubeFATE's cluster update (KubeFATE#850); `kubectl -n {ns} get configmap {via}-config -o yaml` shows what it holds",
            party.id,
            stale.join("; ")
        );
    }
    Ok(format!("restarted its {via} pod, which routes as declared"))
}
