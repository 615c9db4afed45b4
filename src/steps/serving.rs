//! Step 9 with `up --serving` (release v1.6.0): a FATE-Serving cluster beside each of the lab's
//! own parties, `fate-serving-<id>` in its own namespace, installed, updated and removed through
//! the party's KubeFATE like the party itself, and healthy by the same definition. The FATE side
//! (`servingIp`/`servingPort` in the party's cluster.yaml) was converged by the parties step.
//! With `up --no-serving` (after a yes) it removes them; without either flag a lab keeps what
//! it has.

use anyhow::{Context, Result, bail};

use super::{Ctx, Diff, Outcome, Step, StepPlan};
use crate::clients::kube::{self, PodWait};
use crate::clients::kubefate::{self, Cluster as KubefateCluster, JobMethod, JobStatus};
use crate::model::compare;
use crate::model::health::{self, Health};
use crate::model::spec::{Party, ServingWish};
use crate::model::step::StepName;
use crate::model::target::Cluster;
use crate::render::cluster_serving;
use crate::secret::Secret;
use crate::ui::StepLine;

pub struct ServingClusters;

/// What one party's serving cluster needs.
#[derive(Debug)]
pub enum Act {
    Nothing(String),
    Install,
    Update,
    /// As declared, not healthy yet.
    Settle,
    Remove(Box<KubefateCluster>),
    /// Recorded, but KubeFATE lists no such cluster: only the record and namespace go.
    Forget,
}

pub struct Observed {
    acts: Vec<(Party, Act)>,
    /// Parties the lab no longer has whose serving cluster fatelab installed: (id, what
    /// KubeFATE lists for it). Their own cluster went after a yes in the parties step.
    dropped: Vec<(u32, Option<KubefateCluster>)>,
}

/// The serving clusters' redis password: generated once per lab, kept 0600, never shown.
fn redis_password(ctx: &Ctx) -> Result<Secret> {
    crate::host::credentials::kept_secret(&redis_password_file(ctx))
}

fn redis_password_file(ctx: &Ctx) -> std::path::PathBuf {
    ctx.state_dir.join("serving-redis-password")
}

/// The lab has no serving any more: nor its password, nor a published model.
fn forget_serving(ctx: &Ctx) -> Result<()> {
    ctx.update_record(|r| {
        r.serving = false;
        r.served = None;
    })?;
    let _ = std::fs::remove_file(redis_password_file(ctx));
    Ok(())
}

fn want(ctx: &Ctx, party: &Party) -> Result<serde_json::Value> {
    cluster_serving::value(&ctx.spec, party, redis_password(ctx)?.expose())
}

fn selector(party: &Party) -> String {
    format!("name={}", party.serving_name())
}

/// The serving cluster's health, by the one definition the parties use.
pub async fn serving_health(ctx: &Ctx, party: &Party) -> Result<Health> {
    let pods = kube::list_pods(
        ctx.kube_for(party).await?,
        &party.serving_name(),
        &selector(party),
    )
    .await?;
    Ok(health::assess(
        &pods,
        k8s_openapi::jiff::Timestamp::now(),
        ctx.opts.settle,
    ))
}

async fn listed(ctx: &Ctx, party: &Party) -> Result<Option<KubefateCluster>> {
    listed_at(ctx, party.id, &party.cluster).await
}

async fn listed_at(ctx: &Ctx, id: u32, place: &Cluster) -> Result<Option<KubefateCluster>> {
    let name = Party::serving_name_of(id);
    Ok(ctx
        .kubefate_in(place)
        .await?
        .clusters(false)
        .await?
        .into_iter()
        .find(|c| c.name == name && c.namespace == name))
}

async fn observe_party(ctx: &Ctx, party: &Party) -> Result<(Act, Option<String>)> {
    let id = party.id;
    let name = party.serving_name();
    let existing = listed(ctx, party).await?;
    if ctx.spec.serving == ServingWish::Remove {
        return Ok(match existing {
            Some(c) => (
                Act::Remove(Box::new(c)),
                Some(format!(
                    "party {id}: delete FATE-Serving cluster {name} through KubeFATE (after a yes)"
                )),
            ),
            None if ctx.record().serving_clusters.contains_key(&id) => (
                Act::Forget,
                Some(format!(
                    "party {id}: forget FATE-Serving cluster {name}, which KubeFATE no longer lists"
                )),
            ),
            None => (Act::Forget, None),
        });
    }
    let Some(c) = existing else {
        let ports = party.ports.serving();
        return Ok((
            Act::Install,
            Some(format!(
                "party {id}: install FATE-Serving cluster {name} in namespace {name}: serving-proxy NodePort {}, \
                 serving-server NodePort {}",
                ports.proxy, ports.server
            )),
        ));
    };
    let held = match &c.spec {
        Some(spec) => spec.clone(),
        None => ctx
            .kubefate_for(party)
            .await?
            .cluster(&c.uuid)
            .await?
            .spec
            .unwrap_or_default(),
    };
    let changes = compare::spec_changes(&held, &want(ctx, party)?, "servingProxy");
    if !changes.is_empty() {
        return Ok((
            Act::Update,
            Some(format!(
                "party {id}: update FATE-Serving cluster {name}: {}",
                changes.join("; ")
            )),
        ));
    }
    Ok(match serving_health(ctx, party).await? {
        Health::Healthy { .. } => (Act::Nothing(c.uuid), None),
        h => {
            let why = h.describe();
            (
                Act::Settle,
                Some(format!(
                    "party {id}: wait until FATE-Serving cluster {name} is healthy ({why})"
                )),
            )
        }
    })
}

/// Installs or updates one serving cluster and follows it to healthy.
async fn apply(ctx: &Ctx, party: &Party, update: bool) -> Result<()> {
    let name = party.serving_name();
    let line = ctx.ui.sub_line(&format!("serving {}", party.id));
    let result = async {
        let kf = ctx.kubefate_for(party).await?;
        if !update
            && kube::ensure_namespace(ctx.kube_for(party).await?, &name, Some(super::MADE_BY))
                .await?
        {
            ctx.update_record(|r| {
                if !r.namespaces.contains(&name) {
                    r.namespaces.push(name.clone());
                }
            })?;
        }
        let args = kubefate::cluster_args(&want(ctx, party)?, false)?;
        let (method, what) = if update {
            (JobMethod::ClusterUpdate, "update")
        } else {
            (JobMethod::ClusterInstall, "install")
        };
        line.set(format!("submitting the {what}"));
        let job = kf
            .send_once(
                method,
                &name,
                || async {
                    if update {
                        kf.update(&args).await
                    } else {
                        kf.install(&args).await
                    }
                },
                |e| {
                    line.set(format!(
                        "no answer ({e:#}); looking whether it reached KubeFATE"
                    ))
                },
            )
            .await
            .with_context(|| format!("{what} of {name}"))?;
        let done = kf
            .follow(&job.uuid, ctx.deadline(), |j| {
                line.set(format!(
                    "{what} job {}: {}",
                    j.status,
                    j.states().last().cloned().unwrap_or_default()
                ));
                Ok(())
            })
            .await?;
        if done.status != JobStatus::Success {
            bail!(
                "KubeFATE's {what} job for {name} ended {}: {}",
                done.status,
                done.states().join("; ")
            );
        }
        settle(ctx, party, &line).await?;
        if let Some(c) = listed(ctx, party).await? {
            ctx.update_record(|r| {
                r.serving_clusters.insert(party.id, c.uuid);
            })?;
        }
        Ok(())
    }
    .await;
    line.finish(if result.is_ok() { "healthy" } else { "failed" });
    result.with_context(|| format!("party {}'s FATE-Serving", party.id))
}

async fn settle(ctx: &Ctx, party: &Party, line: &crate::ui::SubLine) -> Result<()> {
    let wait = PodWait {
        timeout: ctx.wait_timeout(),
        settle: ctx.opts.settle,
    };
    kube::wait_ready(
        ctx.kube_for(party).await?,
        &party.serving_name(),
        &selector(party),
        wait,
        health::all_ready,
        |pods| line.set(health::pods_running(pods)),
    )
    .await
}

/// Deletes a party's serving cluster through KubeFATE, then the namespace fatelab made for it.
async fn remove(ctx: &Ctx, party: &Party, cluster: Option<&KubefateCluster>) -> Result<()> {
    remove_at(ctx, party.id, &party.cluster, cluster).await
}

async fn remove_at(
    ctx: &Ctx,
    id: u32,
    place: &Cluster,
    cluster: Option<&KubefateCluster>,
) -> Result<()> {
    let name = Party::serving_name_of(id);
    if let Some(c) = cluster {
        let kf = ctx.kubefate_in(place).await?;
        kf.delete_and_follow(c, ctx.deadline(), |_| {}, |_| Ok(()))
            .await
            .with_context(|| format!("deleting {name} through KubeFATE"))?;
    }
    if ctx.record().namespaces.contains(&name) {
        kube::delete_namespace(ctx.kube_in(place).await?, &name, ctx.wait_timeout()).await?;
    }
    ctx.update_record(|r| {
        r.serving_clusters.remove(&id);
        r.namespaces.retain(|n| n != &name);
    })
}

/// The parties whose serving clusters `down` removes: every one on record, and any of the lab's
/// whose serving namespace fatelab made (an install whose answer was lost).
fn recorded_parties(ctx: &Ctx) -> Vec<u32> {
    let record = ctx.record();
    let mut ids: Vec<u32> = record.serving_clusters.keys().copied().collect();
    ids.extend(
        ctx.spec
            .ours()
            .filter(|p| record.namespaces.contains(&p.serving_name()))
            .map(|p| p.id),
    );
    ids.sort();
    ids.dedup();
    ids
}

impl Step for ServingClusters {
    type Observed = Observed;

    fn name(&self) -> StepName {
        StepName::Serving
    }

    fn title(&self) -> &'static str {
        "Converge FATE-Serving beside every party"
    }

    fn watched(&self) -> bool {
        true
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Observed>> {
        let parties: Vec<Party> = ctx.spec.ours().cloned().collect();
        let observed =
            futures::future::try_join_all(parties.iter().map(|p| observe_party(ctx, p))).await?;
        let mut changes = Vec::new();
        let mut acts = Vec::new();
        for (party, (act, words)) in parties.into_iter().zip(observed) {
            changes.extend(words);
            acts.push((party, act));
        }
        let mut dropped = Vec::new();
        for id in ctx.record().serving_clusters.keys() {
            if ctx.spec.ours().any(|p| p.id == *id) {
                continue;
            }
            let listed = listed_at(ctx, *id, &ctx.cluster_of_party(*id)).await?;
            changes.push(format!(
                "party {id}: no longer in the lab: delete FATE-Serving cluster {} through KubeFATE",
                Party::serving_name_of(*id)
            ));
            dropped.push((*id, listed));
        }
        let summary = match ctx.spec.serving {
            ServingWish::Remove => "no FATE-Serving cluster is left".to_string(),
            _ => format!(
                "FATE-Serving runs healthy beside all {} parties",
                acts.len()
            ),
        };
        Ok(Diff::new(changes, summary, Observed { acts, dropped }))
    }

    async fn converge(&self, ctx: &Ctx, _line: &StepLine, diff: Diff<Observed>) -> Result<()> {
        let removes = diff
            .observed
            .acts
            .iter()
            .filter(|(_, a)| matches!(a, Act::Remove(_)))
            .count();
        if removes > 0
            && !ctx.ui.confirm(&format!(
                "Delete the lab's FATE-Serving ({removes} clusters, and the models bound in them)?"
            ))?
        {
            bail!("the lab's FATE-Serving was left as it is");
        }
        let work = diff.observed.acts.iter().map(|(party, act)| async move {
            match act {
                Act::Nothing(uuid) => ctx.update_record(|r| {
                    r.serving_clusters.insert(party.id, uuid.clone());
                }),
                Act::Install => apply(ctx, party, false).await,
                Act::Update => apply(ctx, party, true).await,
                Act::Settle => {
                    let line = ctx.ui.sub_line(&format!("serving {}", party.id));
                    let r = settle(ctx, party, &line).await;
                    line.finish(if r.is_ok() { "healthy" } else { "failed" });
                    r
                }
                Act::Remove(c) => remove(ctx, party, Some(c)).await,
                Act::Forget => remove(ctx, party, None).await,
            }
        });
        for r in futures::future::join_all(work).await {
            r?;
        }
        for (id, listed) in &diff.observed.dropped {
            remove_at(ctx, *id, &ctx.cluster_of_party(*id), listed.as_ref()).await?;
        }
        if ctx.spec.serving == ServingWish::Remove {
            forget_serving(ctx)?;
        }
        Ok(())
    }

    async fn undo(&self, ctx: &Ctx, _line: &StepLine) -> Result<Outcome> {
        let parties = recorded_parties(ctx);
        if parties.is_empty() {
            return Ok(Outcome::AlreadyDone(
                "fatelab installed no FATE-Serving".into(),
            ));
        }
        for &id in &parties {
            let place = ctx.cluster_of_party(id);
            let listed = listed_at(ctx, id, &place).await?;
            remove_at(ctx, id, &place, listed.as_ref()).await?;
        }
        forget_serving(ctx)?;
        Ok(Outcome::Done)
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let mut actions = Vec::new();
        let mut files = Vec::new();
        if ctx.spec.serving != ServingWish::On {
            return Ok(StepPlan { actions, files });
        }
        for party in ctx.spec.ours() {
            let name = party.serving_name();
            let ports = party.ports.serving();
            let (ip, port) = cluster_serving::fate_side(&ctx.spec, party);
            let file = cluster_serving::file(&ctx.spec, party, "<generated by fatelab up>")?;
            actions.push(format!(
                "party {id}: create namespace {name}; install FATE-Serving cluster {name} from {file}: \
                 serving-proxy NodePort {proxy} (routes to the other parties' serving-proxies), serving-server \
                 NodePort {server} (pulls models from FATE Flow at {ip}:{http}); FATE Flow's servings address \
                 {ip}:{port} (servingIp/servingPort in fate-{id}.yaml)",
                id = party.id,
                file = file.name,
                proxy = ports.proxy,
                server = ports.server,
                http = party.ports.http,
            ));
            files.push(file);
        }
        actions.push(
            "follow each install job, then the serving pods until healthy (the parties' definition); \
             a re-run with the same lab changes nothing; `up --no-serving` removes them after a yes"
                .into(),
        );
        Ok(StepPlan { actions, files })
    }
}
