//! Removing parties fatelab installed: through the KubeFATE that made them (each delete job
//! followed to its end, within the run's deadline), then the namespaces fatelab made. One
//! cluster's failure does not keep the others' parties.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow, bail};

use super::delete;
use crate::clients::kube;
use crate::clients::kubefate::Cluster as KubefateCluster;
use crate::model::spec::Party;
use crate::model::target::Cluster;
use crate::steps::{Ctx, Outcome};
use crate::ui::StepLine;

/// A party the lab no longer has: its cluster deleted through KubeFATE, and the namespace
/// fatelab made for it (asked first, before any party's work starts).
pub async fn remove_party(ctx: &Ctx, id: u32, cluster: &KubefateCluster) -> Result<()> {
    let line = ctx.ui.sub_line(&format!("party {id}"));
    let place = ctx.cluster_of_party(id);
    let result = async {
        delete(ctx, ctx.kubefate_in(&place).await?, cluster, &line, "up").await?;
        let ns = cluster.namespace.clone();
        if ctx.record().namespaces.contains(&ns) {
            kube::delete_namespace(ctx.kube_in(&place).await?, &ns, ctx.wait_timeout()).await?;
        }
        ctx.update_record(|r| {
            r.clusters.remove(&id);
            r.namespaces.retain(|n| n != &ns);
            r.placement.remove(&id);
        })
    }
    .await;
    line.finish(if result.is_ok() { "removed" } else { "failed" });
    result
}

/// Asks before removing a party the lab no longer has.
pub fn confirm_removal(ctx: &Ctx, id: u32, cluster: &KubefateCluster) -> Result<()> {
    if !ctx.ui.confirm(&format!(
        "Party {id} is no longer in the lab. Delete its cluster {} (and the namespace fatelab made for it)?",
        cluster.name
    ))? {
        bail!(
            "party {id} is no longer in the lab, and its cluster {} was left",
            cluster.name
        );
    }
    Ok(())
}

pub async fn undo(ctx: &Ctx, line: &StepLine) -> Result<Outcome> {
    let recorded = ctx.record();
    if recorded.clusters.is_empty() && recorded.namespaces.is_empty() {
        return Ok(Outcome::AlreadyDone("fatelab installed no party".into()));
    }
    let mut by_cluster: BTreeMap<Cluster, BTreeMap<u32, String>> = BTreeMap::new();
    for (id, uuid) in &recorded.clusters {
        by_cluster
            .entry(ctx.cluster_of_party(*id))
            .or_default()
            .insert(*id, uuid.clone());
    }
    let mut failures = Vec::new();
    // Parties whose delete job KubeFATE had not finished: their namespaces stay, for a later
    // `down` to finish once the job has.
    let mut pending: Vec<u32> = Vec::new();
    for (cluster, parties) in &by_cluster {
        match delete_recorded_clusters(ctx, cluster, parties).await {
            Ok(()) => {
                ctx.update_record(|r| r.clusters.retain(|id, _| !parties.contains_key(id)))?
            }
            Err(e) if e.is::<crate::clients::kubefate::JobDeadline>() => {
                failures.push(format!("{}: {e:#}", cluster.describe()));
                pending.extend(parties.keys());
            }
            // Deleting the namespaces below removes the parties' pods all the same; KubeFATE's
            // records of them stay, and the next `up` clears them as stale.
            Err(e) => line.say(format!(
                "could not delete the clusters through KubeFATE in {} ({e:#}); removing their namespaces",
                cluster.describe()
            )),
        }
    }
    for ns in &recorded.namespaces {
        let id = ns.strip_prefix("fate-").and_then(|id| id.parse().ok());
        if id.is_some_and(|id| pending.contains(&id)) {
            continue;
        }
        let cluster = id.map_or_else(|| ctx.primary(), |id| ctx.cluster_of_party(id));
        line.note(format!("deleting namespace {ns}"));
        kube::delete_namespace(ctx.kube_in(&cluster).await?, ns, ctx.wait_timeout()).await?;
        ctx.update_record(|r| r.namespaces.retain(|n| n != ns))?;
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(Outcome::Done)
}

/// `DELETE /v1/cluster/:id` for each cluster fatelab installed (found by its ID, or by its name
/// when the record has none), each job followed to its end; afterwards KubeFATE lists none. A
/// party whose delete fails does not keep the others from going.
async fn delete_recorded_clusters(
    ctx: &Ctx,
    place: &Cluster,
    clusters: &BTreeMap<u32, String>,
) -> Result<()> {
    let kf = ctx.kubefate_in(place).await?;
    let live = kf.clusters(false).await?;
    let mut failed: Option<anyhow::Error> = None;
    for (party, id) in clusters {
        let name = Party::name_of(*party);
        let Some(c) = live
            .iter()
            .find(|c| (!id.is_empty() && &c.uuid == id) || c.name == name)
        else {
            continue;
        };
        let sub = ctx.ui.sub_line(&format!("party {party}"));
        match delete(ctx, kf, c, &sub, "down").await {
            Ok(()) => sub.finish("cluster deleted through KubeFATE"),
            Err(e) => {
                sub.finish("failed");
                failed.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let left: Vec<String> = kf
        .clusters(false)
        .await?
        .into_iter()
        .filter(|c| {
            clusters
                .iter()
                .any(|(p, id)| &c.uuid == id || c.name == Party::name_of(*p))
        })
        .map(|c| c.name)
        .collect();
    if !left.is_empty() {
        return Err(anyhow!("KubeFATE still lists {}", left.join(", ")));
    }
    Ok(())
}
