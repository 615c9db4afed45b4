//! Step 8: one FATE cluster per party, converged through the KubeFATE REST API: a missing party
//! is installed, one whose spec differs from what KubeFATE holds is updated in place
//! (`PUT /v1/cluster`), one no longer in the lab is removed, a stale record is cleared; all at
//! once, each followed (its job, then its pods) until the party is healthy (see
//! [`crate::model::health`]). One party's failure does not stop the others: each is reported.

mod follow;
mod install;
mod observe;
mod plan;
mod routes;
mod summary;
mod undo;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use futures::future::try_join_all;

use super::{Ctx, Diff, Outcome, Step, StepPlan, advice};
use crate::clients::kube;
use crate::clients::kubefate::{self, Deleted, KubeFate};
use crate::model::health::{self, Health};
use crate::model::spec::Party;
use crate::model::step::StepName;
use crate::model::target::Cluster;
use crate::ui::{StepLine, SubLine};
use observe::{Action, Observed, PartyPlan};

pub struct Parties;

fn selector(name: &str) -> String {
    format!("name={name}")
}

/// The party's health now, by the one definition `status` and `test` use too.
pub async fn party_health(ctx: &Ctx, party: &Party) -> Result<Health> {
    let pods = kube::list_pods(
        ctx.kube_for(party).await?,
        &party.namespace(),
        &selector(&party.name()),
    )
    .await?;
    Ok(health::assess(
        &pods,
        k8s_openapi::jiff::Timestamp::now(),
        ctx.opts.settle,
    ))
}

/// What each cluster's KubeFATE lists, asked once per cluster.
async fn known_clusters(ctx: &Ctx) -> Result<BTreeMap<Cluster, Vec<kubefate::Cluster>>> {
    let clusters = ctx.clusters();
    let lists = try_join_all(
        clusters
            .iter()
            .map(|c| async move { ctx.kubefate_in(c).await?.clusters(false).await }),
    )
    .await?;
    Ok(clusters.iter().cloned().zip(lists).collect())
}

/// Says on the party's line that a request's answer was lost and the job list is asked.
fn lost(line: &SubLine) -> impl FnOnce(&anyhow::Error) + '_ {
    move |e| {
        line.set(format!(
            "no answer to the request ({e:#}); looking whether it reached KubeFATE"
        ))
    }
}

/// Deletes a cluster through KubeFATE within the run's deadline, saying on `line` how it went;
/// `command` is what to run again when the job outlasts it.
async fn delete(
    ctx: &Ctx,
    kf: &KubeFate,
    cluster: &kubefate::Cluster,
    line: &SubLine,
    command: &str,
) -> Result<()> {
    let seen = |job: &kubefate::Job| {
        let last = job.states().last().cloned().unwrap_or_default();
        line.set(format!("delete job {}: {last}", job.status));
        Ok(())
    };
    let deleted = kf
        .delete_and_follow(cluster, ctx.deadline(), lost(line), seen)
        .await
        .map_err(|e| advice::job_deadline(e, command))?;
    match deleted {
        Deleted::Cleanly => {}
        Deleted::ReleaseWasGone => line.set(format!(
            "cluster {}'s release was already gone; KubeFATE removed its record",
            cluster.name
        )),
        Deleted::RecordRemoved(said) => line.set(format!(
            "KubeFATE removed cluster {}'s record; its delete job said: {said}",
            cluster.name
        )),
    }
    Ok(())
}

/// One party, converged as its plan says (any question was asked before).
async fn converge_party(ctx: &Ctx, plan: PartyPlan) -> Result<()> {
    let party = &plan.party;
    let line = ctx.ui.sub_line(&format!("party {}", party.id));
    let result = async {
        let kf = ctx.kubefate_for(party).await?;
        match plan.action {
            Action::Nothing(uuid) => {
                ctx.update_record(|r| {
                    r.clusters.insert(party.id, uuid);
                })?;
                Ok("healthy, as declared")
            }
            Action::Install => {
                install::ensure_namespace(ctx, party).await?;
                install::install(ctx, party, &line, true).await?;
                Ok("installed, healthy")
            }
            Action::ReplaceStale(c) => {
                line.set("deleting KubeFATE's stale record");
                delete(ctx, kf, &c, &line, "up").await?;
                install::ensure_namespace(ctx, party).await?;
                install::install(ctx, party, &line, true).await?;
                Ok("installed, healthy")
            }
            Action::Reinstall { cluster, .. } => {
                delete(ctx, kf, &cluster, &line, "up").await?;
                install::ensure_namespace(ctx, party).await?;
                install::install(ctx, party, &line, true).await?;
                Ok("installed again, healthy")
            }
            Action::Update {
                cluster,
                changes,
                upgrade,
                routes_change,
            } => {
                ctx.ui.println(format!(
                    "    party {}: {} {}: {}",
                    party.id,
                    if upgrade.is_some() {
                        "upgrading"
                    } else {
                        "updating"
                    },
                    cluster.name,
                    changes.join("; ")
                ));
                install::update(ctx, party, &line, upgrade.is_some()).await?;
                if routes_change {
                    let how = routes::take_effect(ctx, party, &line).await?;
                    line.set(how);
                }
                Ok(if upgrade.is_some() {
                    "upgraded, healthy"
                } else {
                    "updated, healthy"
                })
            }
            Action::Reload { uuid, .. } => {
                ctx.update_record(|r| {
                    r.clusters.insert(party.id, uuid);
                })?;
                routes::take_effect(ctx, party, &line).await?;
                Ok("its federation pod restarted, routing as declared")
            }
            Action::Settle(why) => {
                follow::settled(ctx, party, &line, &format!("not healthy yet ({why})"))
                    .await
                    .with_context(|| format!("party {} is not healthy", party.id))?;
                Ok("healthy")
            }
        }
    }
    .await;
    match &result {
        Ok(what) => line.finish(what),
        Err(_) => line.finish("failed"),
    }
    result.map(|_| ())
}

/// Every question of this run, before any party's work starts (no prompt amid concurrent
/// installs): a party to delete and install again, a party the lab no longer has.
fn ask(ctx: &Ctx, observed: &Observed) -> Result<()> {
    for (id, cluster) in &observed.removals {
        undo::confirm_removal(ctx, *id, cluster)?;
    }
    for p in &observed.parties {
        if let Action::Reinstall { cluster, why } = &p.action
            && !ctx.ui.confirm(&format!(
                "Party {}'s cluster {} {why}. Delete it and install it again?",
                p.party.id, cluster.name
            ))?
        {
            bail!(
                "party {}'s cluster {} {why}, and was left as it is",
                p.party.id,
                cluster.name
            );
        }
    }
    Ok(())
}

async fn converge(ctx: &Ctx, line: &StepLine, diff: Diff<Observed>) -> Result<()> {
    let observed = diff.observed;
    ask(ctx, &observed)?;
    let Observed { parties, removals } = observed;
    for (id, cluster) in &removals {
        undo::remove_party(ctx, *id, cluster).await?;
    }
    if !ctx.spec.release.chart.in_kubefate_index {
        for cluster in ctx.clusters() {
            let installs = parties
                .iter()
                .any(|p| p.party.cluster == *cluster && p.action.installs());
            if installs {
                install::ensure_chart(ctx, line, cluster).await?;
            }
        }
    }
    let ids: Vec<u32> = parties.iter().map(|p| p.party.id).collect();
    let results =
        futures::future::join_all(parties.into_iter().map(|p| converge_party(ctx, p))).await;
    let mut failed: Vec<(u32, anyhow::Error)> = ids
        .into_iter()
        .zip(results)
        .filter_map(|(id, r)| r.err().map(|e| (id, e)))
        .collect();
    match failed.len() {
        0 => Ok(()),
        1 => Err(failed.remove(0).1),
        n => bail!(
            "{n} parties failed:\n{}",
            failed
                .iter()
                .map(|(id, e)| format!("  party {id}: {e:#}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

impl Step for Parties {
    type Observed = Observed;

    fn name(&self) -> StepName {
        StepName::Parties
    }

    fn title(&self) -> &'static str {
        "Converge every party's FATE cluster and wait until all are healthy"
    }

    fn watched(&self) -> bool {
        true
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Observed>> {
        let (changes, observed) = observe::observe(ctx).await?;
        let n = observed.parties.len();
        Ok(Diff::new(
            changes,
            format!("all {n} parties run as declared and are healthy"),
            observed,
        ))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Observed>) -> Result<()> {
        converge(ctx, line, diff).await
    }

    async fn undo(&self, ctx: &Ctx, line: &StepLine) -> Result<Outcome> {
        undo::undo(ctx, line).await
    }

    async fn epilogue(&self, ctx: &Ctx) -> Vec<String> {
        match summary::summary(ctx).await {
            Ok(lines) => lines,
            Err(e) => vec![format!("(no party summary: {e:#})")],
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        plan::plan(ctx)
    }
}
