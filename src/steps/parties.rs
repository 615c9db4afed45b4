//! Step 8: one FATE cluster per party, converged through the KubeFATE REST API: a missing
//! party is installed, one whose spec differs from what KubeFATE holds is updated in place
//! (`PUT /v1/cluster`), one no longer in the lab is removed, a stale record is cleared; all at
//! once, each followed (its job, then its pods) until the party is healthy (see [`crate::health`]).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::future::try_join_all;
use k8s_openapi::api::core::v1::Namespace;
use serde_json::Value;

use super::{Ctx, Diff, Outcome, Step, StepFuture, StepInfo, StepPlan};
use crate::clients::kube;
use crate::clients::kubefate::{self, Cluster, Job, KubeFate};
use crate::compare;
use crate::health::{self, Health};
use crate::render::cluster_yaml;
use crate::spec::Party;
use crate::target::Cluster as Place;
use crate::ui::{StepLine, SubLine};

pub struct Parties;

/// KubeFATE has no watch API: its jobs are polled at this pace.
const JOB_POLL: Duration = Duration::from_millis(500);
/// What the service's states say when its pod cannot reach the chart repository, or when the
/// repository has no such chart: either way, uploading the chart mends it.
const CHART_MISSING: [&str; 2] = [
    "is not a valid chart repository or cannot be reached",
    "not found in kubefate index",
];
/// helm's words when a delete finds no release: the cluster is gone already (KubeFATE removes its
/// record all the same, reference §7.4).
const RELEASE_GONE: &str = "not found";

/// A job's states with each run of "checkout Cluster status [N]" shortened to its last entry.
fn condense(states: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in states {
        let polling = s.starts_with("checkout Cluster status");
        if polling
            && out
                .last()
                .is_some_and(|l| l.starts_with("checkout Cluster status"))
        {
            *out.last_mut().expect("checked") = s.clone();
        } else {
            out.push(s.clone());
        }
    }
    out
}

fn selector(name: &str) -> String {
    format!("name={name}")
}

/// What one party needs, from what KubeFATE and the cluster hold for it.
#[derive(Debug)]
enum Action {
    /// As declared and healthy: the cluster's ID, for the record.
    Nothing(String),
    Install,
    /// KubeFATE still lists the cluster, but its namespace (and so its release) is gone.
    ReplaceStale(Cluster),
    /// Listed, but broken in a way only a new install mends; asked before.
    Reinstall {
        cluster: Cluster,
        why: String,
    },
    Update {
        cluster: Cluster,
        changes: Vec<String>,
        upgrade: Option<(String, String)>,
    },
    /// As declared, but not healthy yet: wait for it to settle (or fail naming why).
    Settle(String),
}

struct PartyPlan {
    party: Party,
    namespace_exists: bool,
    action: Action,
}

struct Observed {
    parties: Vec<PartyPlan>,
    /// Parties fatelab installed that the lab no longer has.
    removals: Vec<(u32, Cluster)>,
}

fn words(party: &Party, plan: &PartyPlan, chart: &str) -> Option<String> {
    let id = party.id;
    let name = party.name();
    Some(match &plan.action {
        Action::Nothing(_) => return None,
        Action::Install if plan.namespace_exists => {
            format!("party {id}: install cluster {name} ({chart})")
        }
        Action::Install => format!(
            "party {id}: create namespace {}; install cluster {name} ({chart})",
            party.namespace()
        ),
        Action::ReplaceStale(_) => format!(
            "party {id}: KubeFATE still lists cluster {name} but namespace {} is gone: delete that stale record, then install",
            party.namespace()
        ),
        Action::Reinstall { why, .. } => {
            format!("party {id}: cluster {name} {why}: delete and install it again (after a yes)")
        }
        Action::Update {
            changes, upgrade, ..
        } => match upgrade {
            Some((from, to)) => format!(
                "party {id}: upgrade cluster {name} from chart {from} to {to}; {}",
                changes.join("; ")
            ),
            None => format!("party {id}: update cluster {name}: {}", changes.join("; ")),
        },
        Action::Settle(why) => format!("party {id}: wait until it is healthy ({why})"),
    })
}

async fn namespace_exists(ctx: &Ctx<'_>, party: &Party) -> Result<bool> {
    let ns = &party.namespace();
    let api: ::kube::Api<Namespace> = ::kube::Api::all(ctx.kube_for(party).await?.clone());
    Ok(api
        .get_opt(ns)
        .await
        .with_context(|| format!("reading namespace {ns}"))?
        .is_some())
}

/// The party's health now, by the one definition `status` and `test` use too.
pub async fn party_health(ctx: &Ctx<'_>, party: &Party) -> Result<Health> {
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

async fn observe_party(ctx: &Ctx<'_>, party: &Party, known: &[Cluster]) -> Result<PartyPlan> {
    let kf = ctx.kubefate_for(party).await?;
    let ns = party.namespace();
    let namespace_exists = namespace_exists(ctx, party).await?;
    let existing = known
        .iter()
        .find(|c| c.name == party.name() && c.namespace == ns)
        .cloned();
    let action = match existing {
        None => Action::Install,
        Some(c) if !namespace_exists => Action::ReplaceStale(c),
        Some(c) if c.status != "Running" => Action::Reinstall {
            why: format!("is {}", c.status),
            cluster: c,
        },
        Some(c) => {
            let want = cluster_yaml::value(ctx.spec, party)?;
            // The list carries each spec; an older service that leaves it out is asked per cluster.
            let held = match &c.spec {
                Some(spec) => spec.clone(),
                None => kf.cluster(&c.uuid).await?.spec.unwrap_or(Value::Null),
            };
            let chart = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
            let (want_chart, want_version) =
                (chart(&want, "chartName"), chart(&want, "chartVersion"));
            let upgrade = (c.chart_version != want_version || c.chart_name != want_chart)
                .then(|| (c.chart_version.clone(), want_version.clone()));
            let module = &ctx.spec.release.federation_module;
            let changes: Vec<String> = compare::spec_changes(&held, &want, module)
                .into_iter()
                .filter(|ch| !ch.starts_with("chartVersion:") && !ch.starts_with("chartName:"))
                .collect();
            if !changes.is_empty() || upgrade.is_some() {
                Action::Update {
                    cluster: c,
                    changes,
                    upgrade,
                }
            } else {
                match party_health(ctx, party).await? {
                    Health::Healthy { .. } => Action::Nothing(c.uuid.clone()),
                    Health::NoPods => Action::Reinstall {
                        why: "is listed as Running by KubeFATE, but has no pods".into(),
                        cluster: c,
                    },
                    h => Action::Settle(h.describe()),
                }
            }
        }
    };
    Ok(PartyPlan {
        party: party.clone(),
        namespace_exists,
        action,
    })
}

/// The cluster a party fatelab installed is in: the lab's word for a party it has, the
/// record's for one it no longer has.
fn cluster_of_party(ctx: &Ctx, id: u32) -> Place {
    if let Some(p) = ctx.spec.party(id).filter(|p| p.is_ours()) {
        return p.cluster.clone();
    }
    match ctx
        .record()
        .placement
        .get(&id)
        .and_then(|p| p.context.clone())
    {
        Some(c) => Place::Context(c),
        None => ctx.primary(),
    }
}

/// What each cluster's KubeFATE lists, asked once per cluster.
async fn known_clusters(ctx: &Ctx<'_>) -> Result<BTreeMap<Place, Vec<Cluster>>> {
    let clusters = ctx.clusters();
    let lists = try_join_all(
        clusters
            .iter()
            .map(|c| async move { ctx.kubefate_in(c).await?.clusters(false).await }),
    )
    .await?;
    Ok(clusters.into_iter().zip(lists).collect())
}

async fn observe(ctx: &Ctx<'_>) -> Result<Diff> {
    let known = known_clusters(ctx).await?;
    let none = Vec::new();
    let plans = try_join_all(
        ctx.spec
            .ours()
            .map(|p| observe_party(ctx, p, known.get(&p.cluster).unwrap_or(&none))),
    )
    .await?;
    let record = ctx.record();
    let mut removals = Vec::new();
    for (id, uuid) in &record.clusters {
        if ctx.spec.ours().any(|p| p.id == *id) {
            continue;
        }
        let name = format!("fate-{id}");
        let cluster = cluster_of_party(ctx, *id);
        if let Some(c) = known
            .get(&cluster)
            .unwrap_or(&none)
            .iter()
            .find(|c| (!uuid.is_empty() && &c.uuid == uuid) || c.name == name)
        {
            removals.push((*id, c.clone()));
        }
    }
    let r = ctx.spec.release;
    let chart = format!("chart {} {}", r.chart.name, r.chart.version);
    let mut changes: Vec<String> = removals
        .iter()
        .map(|(id, c)| {
            format!(
                "party {id}: no longer in the lab: delete cluster {} through KubeFATE (after a yes)",
                c.name
            )
        })
        .collect();
    changes.extend(plans.iter().filter_map(|p| words(&p.party, p, &chart)));
    let n = plans.len();
    Ok(Diff::new(
        changes,
        format!("all {n} parties run as declared and are healthy"),
        Observed {
            parties: plans,
            removals,
        },
    ))
}

/// Polls a job until it is final, showing its status, latest state and (when given) the pods;
/// `on_cluster` hears the cluster ID as soon as the job names it.
async fn follow_job(
    kf: &KubeFate,
    id: &str,
    line: &SubLine,
    what: &str,
    pods: Option<&Mutex<String>>,
    mut on_cluster: impl FnMut(&str) -> Result<()>,
) -> Result<Job> {
    let mut named = String::new();
    loop {
        let job = kf.job(id).await?;
        if !job.cluster_id.is_empty() && job.cluster_id != named {
            named = job.cluster_id.clone();
            on_cluster(&named)?;
        }
        let last = job.states().last().cloned().unwrap_or_default();
        let pods = pods
            .map(|p| p.lock().expect("pods lock").clone())
            .unwrap_or_default();
        let pods = if pods.is_empty() {
            String::new()
        } else {
            format!(" | {pods}")
        };
        line.set(format!("{what} job {}: {last}{pods}", job.status));
        if job.finished() {
            return Ok(job);
        }
        tokio::time::sleep(JOB_POLL).await;
    }
}

/// Sends a request that starts a KubeFATE job, once. When it gets no answer (a timeout, a lost
/// connection), it may still have reached the service: the job list says whether a `method`
/// job for `target` (a cluster's name, or its ID for a delete) is there; only if none is, the
/// request is sent again.
async fn send_once<F, Fut>(
    kf: &KubeFate,
    line: &SubLine,
    method: &str,
    target: &str,
    send: F,
) -> Result<Job>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Job>>,
{
    let since = kf.jobs().await?.len();
    match send().await {
        Ok(job) => Ok(job),
        Err(e) if crate::clients::transport::is_transient(&e) => {
            line.set(format!(
                "no answer to the request ({e:#}); looking whether it reached KubeFATE"
            ));
            let jobs = kf.jobs().await?;
            let made = jobs.into_iter().skip(since).find(|j| {
                j.method == method
                    && (j.cluster_id == target
                        || j.meta_data.as_ref().and_then(|m| m["name"].as_str()) == Some(target))
            });
            match made {
                Some(job) => Ok(job),
                None => send().await,
            }
        }
        Err(e) => Err(e),
    }
}

/// Deletes a cluster through KubeFATE and follows the job. A release helm no longer finds counts
/// as gone: the service removes the record anyway. Fails only when the record stays.
async fn delete_cluster(kf: &KubeFate, cluster: &Cluster, line: &SubLine) -> Result<()> {
    let job = send_once(kf, line, "ClusterDelete", &cluster.uuid, || {
        kf.delete_cluster(&cluster.uuid)
    })
    .await
    .with_context(|| format!("deleting cluster {} through KubeFATE", cluster.name))?;
    let done = follow_job(kf, &job.uuid, line, "delete", None, |_| Ok(())).await?;
    if done.status == "Success" {
        return Ok(());
    }
    let states = done.states().join("; ");
    let still_listed = kf
        .clusters(false)
        .await?
        .iter()
        .any(|c| c.uuid == cluster.uuid);
    if !still_listed && states.contains(RELEASE_GONE) {
        line.set(format!(
            "cluster {}'s release was already gone; KubeFATE removed its record",
            cluster.name
        ));
        return Ok(());
    }
    if still_listed {
        bail!(
            "deleting cluster {} failed (job {}): {states}",
            cluster.name,
            done.status
        );
    }
    line.set(format!(
        "KubeFATE removed cluster {}'s record; its delete job said: {states}",
        cluster.name
    ));
    Ok(())
}

/// What to do about a pod that cannot pull its image (the wait says which image and registry),
/// or that the scheduler has no room for (with what the lab asks for and what the host has).
fn with_advice(ctx: &Ctx, e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<kube::StuckPod>() {
        Some(s) if matches!(s.stuck, kube::Stuck::ImagePull { .. }) => anyhow!(
            "{}. Pre-pull it (`fatelab images pull`), use a mirror with --registry, or load an offline bundle with --images",
            s.message
        ),
        Some(s) if matches!(&s.stuck, kube::Stuck::Unschedulable { message, .. } if message.contains("Insufficient")) =>
        {
            let lines = ctx
                .spec
                .sizing
                .as_ref()
                .and_then(|size| crate::sizing::explain(size, ctx.spec.parties.len()).ok());
            let numbers = match lines {
                Some(lines) => format!(
                    "\nWhat this lab asks for:\n  {}\nAnything else running on the node takes from the same room; \
                     `--resources small` fits the lab to the host, or use fewer parties",
                    lines.join("\n  ")
                ),
                None => String::new(),
            };
            anyhow!("{}{numbers}", s.message)
        }
        _ => e,
    }
}

/// Follows an install or update job and the party's pods together (a stuck pod fails at once),
/// then watches the pods settle. Returns the cluster ID.
async fn follow_to_healthy(
    ctx: &Ctx<'_>,
    party: &Party,
    job: &Job,
    line: &SubLine,
    what: &str,
) -> Result<Job> {
    let kf = ctx.kubefate_for(party).await?;
    let client = ctx.kube_for(party).await?;
    let ns = party.namespace();
    let sel = selector(&party.name());
    let pod_view = Mutex::new(String::new());
    // Every pod's latest line, kept after the pod is gone.
    let last_pods: Mutex<BTreeMap<String, String>> = Mutex::default();
    let show = |lines: &[String]| {
        *pod_view.lock().expect("pods lock") = pods_running(lines);
        let mut seen = last_pods.lock().expect("pods lock");
        for l in lines {
            seen.insert(
                l.split(' ').next().unwrap_or_default().to_string(),
                l.clone(),
            );
        }
    };
    let pods = async {
        kube::wait_healthy(client, &ns, &sel, ctx.wait_timeout(), Duration::ZERO, show)
            .await
            .map_err(|e| with_advice(ctx, e))
    };
    let record_id = |id: &str| {
        ctx.update_record(|r| {
            r.clusters.insert(party.id, id.to_string());
        })
    };
    let finished = follow_job(kf, &job.uuid, line, what, Some(&pod_view), record_id);
    tokio::pin!(pods, finished);
    let mut pods_done = false;
    let done = loop {
        tokio::select! {
            p = &mut pods, if !pods_done => {
                p.with_context(|| format!("party {}'s pods", party.id))?;
                pods_done = true;
            }
            j = &mut finished => break j?,
        }
    };
    if done.status != "Success" {
        let states = condense(done.states()).join("; ");
        let now = kube::not_ready_pods(client, &ns).await.unwrap_or_default();
        let pods = if now.is_empty() {
            // KubeFATE removes a cluster whose install timed out: show the pods as last seen.
            let seen: Vec<String> = last_pods
                .lock()
                .expect("pods lock")
                .values()
                .cloned()
                .collect();
            if seen.is_empty() {
                String::new()
            } else {
                format!("\npods not ready when last seen: {}", seen.join("; "))
            }
        } else {
            format!("\npods not ready: {}", now.join("; "))
        };
        bail!(
            "{what} of {} failed (job {}): {states}{pods}",
            party.name(),
            done.status
        );
    }
    settled(ctx, party, line, &format!("{what} job Success"))
        .await
        .with_context(|| format!("party {}'s pods after the {what}", party.id))?;
    Ok(done)
}

/// `4/6 pods Running`, from the pods' lines.
fn pods_running(lines: &[String]) -> String {
    let running = lines.iter().filter(|l| l.contains(" Running")).count();
    format!("{running}/{} pods Running", lines.len())
}

/// Watches the party's pods until they are healthy and have stayed so for the settle window,
/// its line saying what came before (`doing`) and how many pods run.
async fn settled(ctx: &Ctx<'_>, party: &Party, line: &SubLine, doing: &str) -> Result<()> {
    let settle = kube::human(ctx.opts.settle);
    line.set(format!("{doing}; watching the pods settle for {settle}"));
    kube::wait_healthy(
        ctx.kube_for(party).await?,
        &party.namespace(),
        &selector(&party.name()),
        ctx.wait_timeout(),
        ctx.opts.settle,
        |lines| {
            line.set(format!(
                "{doing}; {}, watching them settle for {settle}",
                pods_running(lines)
            ))
        },
    )
    .await
    .map_err(|e| with_advice(ctx, e))
}

/// Installs one party's cluster and follows it until the party is healthy.
async fn install(
    ctx: &Ctx<'_>,
    party: &Party,
    line: &SubLine,
    allow_chart_upload: bool,
) -> Result<()> {
    let kf = ctx.kubefate_for(party).await?;
    let spec = cluster_yaml::value(ctx.spec, party)?;
    let args = kubefate::cluster_args(&spec, false)?;
    line.set("submitting the install");
    let job = send_once(kf, line, "ClusterInstall", &party.name(), || {
        kf.install(&args)
    })
    .await
    .with_context(|| format!("installing {}", party.name()))?;
    match follow_to_healthy(ctx, party, &job, line, "install").await {
        Ok(done) => {
            if done.cluster_id.is_empty()
                && let Some(c) = kf
                    .clusters(false)
                    .await?
                    .into_iter()
                    .find(|c| c.name == party.name())
            {
                ctx.update_record(|r| {
                    r.clusters.insert(party.id, c.uuid.clone());
                })?;
            }
            Ok(())
        }
        Err(e)
            if allow_chart_upload && CHART_MISSING.iter().any(|m| format!("{e:#}").contains(m)) =>
        {
            line.set("the service cannot get the chart from its repository: uploading it");
            upload_chart(ctx, &party.cluster).await?;
            if let Some(failed) = kf
                .clusters(false)
                .await?
                .into_iter()
                .find(|c| c.name == party.name())
            {
                delete_cluster(kf, &failed, line).await?;
            }
            Box::pin(install(ctx, party, line, false)).await
        }
        Err(e) => Err(e),
    }
}

async fn update(ctx: &Ctx<'_>, party: &Party, line: &SubLine, upgrade: bool) -> Result<()> {
    let kf = ctx.kubefate_for(party).await?;
    let spec = cluster_yaml::value(ctx.spec, party)?;
    let args = kubefate::cluster_args(&spec, false)?;
    let what = if upgrade { "upgrade" } else { "update" };
    line.set(format!("submitting the {what}"));
    let job = send_once(kf, line, "ClusterUpdate", &party.name(), || {
        kf.update(&args)
    })
    .await
    .with_context(|| format!("updating {}", party.name()))?;
    follow_to_healthy(ctx, party, &job, line, what).await?;
    Ok(())
}

async fn upload_chart(ctx: &Ctx<'_>, cluster: &Place) -> Result<()> {
    ctx.chart_uploaded_once(cluster, || upload_chart_now(ctx, cluster))
        .await
}

async fn upload_chart_now(ctx: &Ctx<'_>, cluster: &Place) -> Result<()> {
    let r = ctx.spec.release;
    let artifact = r
        .artifact("chart")
        .context("the catalog names no chart file")?;
    let path = super::artifacts::local_path(ctx, artifact);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "the KubeFATE service cannot get chart {} {} and {} is not here to upload \
             (download {} into --artifacts-dir, or give the chart with --chart DIR|TGZ)",
            r.chart.name,
            r.chart.version,
            path.display(),
            artifact.url(&ctx.urls)
        )
    })?;
    let bytes = crate::chart::apply_edits(&bytes, &r.chart.edits)
        .with_context(|| format!("editing {}", path.display()))?;
    ctx.kubefate_in(cluster)
        .await?
        .upload_chart(&artifact.file, bytes)
        .await?;
    Ok(())
}

async fn ensure_namespace(ctx: &Ctx<'_>, party: &Party) -> Result<()> {
    let ns = &party.namespace();
    if kube::ensure_namespace(ctx.kube_for(party).await?, ns).await? {
        ctx.update_record(|r| {
            if !r.namespaces.iter().any(|n| n == ns) {
                r.namespaces.push(ns.to_string());
            }
        })?;
    }
    Ok(())
}

/// One party, converged as its plan says.
async fn converge_party(ctx: &Ctx<'_>, plan: PartyPlan) -> Result<()> {
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
                ensure_namespace(ctx, party).await?;
                install(ctx, party, &line, true).await?;
                Ok("installed, healthy")
            }
            Action::ReplaceStale(c) => {
                line.set("deleting KubeFATE's stale record");
                delete_cluster(kf, &c, &line).await?;
                ensure_namespace(ctx, party).await?;
                install(ctx, party, &line, true).await?;
                Ok("installed, healthy")
            }
            Action::Reinstall { cluster, why } => {
                if !ctx.ui.confirm(&format!(
                    "Party {}'s cluster {} {why}. Delete it and install it again?",
                    party.id, cluster.name
                ))? {
                    bail!(
                        "party {}'s cluster {} {why}, and was left as it is",
                        party.id,
                        cluster.name
                    );
                }
                delete_cluster(kf, &cluster, &line).await?;
                ensure_namespace(ctx, party).await?;
                install(ctx, party, &line, true).await?;
                Ok("installed again, healthy")
            }
            Action::Update {
                cluster,
                changes,
                upgrade,
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
                update(ctx, party, &line, upgrade.is_some()).await?;
                Ok(if upgrade.is_some() {
                    "upgraded, healthy"
                } else {
                    "updated, healthy"
                })
            }
            Action::Settle(why) => {
                settled(ctx, party, &line, &format!("not healthy yet ({why})"))
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

async fn remove_party(ctx: &Ctx<'_>, id: u32, cluster: &Cluster) -> Result<()> {
    if !ctx.ui.confirm(&format!(
        "Party {id} is no longer in the lab. Delete its cluster {} (and the namespace fatelab made for it)?",
        cluster.name
    ))? {
        bail!("party {id} is no longer in the lab, and its cluster {} was left", cluster.name);
    }
    let line = ctx.ui.sub_line(&format!("party {id}"));
    let place = cluster_of_party(ctx, id);
    delete_cluster(ctx.kubefate_in(&place).await?, cluster, &line).await?;
    let ns = cluster.namespace.clone();
    if ctx.record().namespaces.contains(&ns) {
        kube::delete_namespace(ctx.kube_in(&place).await?, &ns, ctx.wait_timeout()).await?;
    }
    ctx.update_record(|r| {
        r.clusters.remove(&id);
        r.namespaces.retain(|n| n != &ns);
        r.placement.remove(&id);
    })?;
    line.finish("removed");
    Ok(())
}

/// A chart KubeFATE's repository lacks goes to the service before any install needs it.
async fn ensure_chart(ctx: &Ctx<'_>, line: &StepLine, cluster: &Place) -> Result<()> {
    let chart = &ctx.spec.release.chart;
    let held = ctx.kubefate_in(cluster).await?.charts().await?;
    if held
        .iter()
        .any(|(n, v)| n == &chart.name && v == &chart.version)
    {
        return Ok(());
    }
    line.note(format!(
        "uploading chart {} {} (KubeFATE's chart repository has no such chart)",
        chart.name, chart.version
    ));
    upload_chart(ctx, cluster).await
}

async fn converge(ctx: &Ctx<'_>, line: &StepLine, diff: Diff) -> Result<()> {
    let Observed { parties, removals } = *diff.observation::<Observed>();
    for (id, cluster) in &removals {
        remove_party(ctx, *id, cluster).await?;
    }
    let installs = |cluster: &Place| {
        parties.iter().any(|p| {
            p.party.cluster == *cluster
                && matches!(
                    p.action,
                    Action::Install
                        | Action::ReplaceStale(_)
                        | Action::Reinstall { .. }
                        | Action::Update { .. }
                )
        })
    };
    if !ctx.spec.release.chart.in_kubefate_index {
        for cluster in ctx.clusters().iter().filter(|c| installs(c)) {
            ensure_chart(ctx, line, cluster).await?;
        }
    }
    try_join_all(parties.into_iter().map(|p| converge_party(ctx, p))).await?;
    Ok(())
}

async fn undo(ctx: &Ctx<'_>, line: &StepLine) -> Result<Outcome> {
    let recorded = ctx.record();
    if recorded.clusters.is_empty() && recorded.namespaces.is_empty() {
        return Ok(Outcome::AlreadyDone("fatelab installed no party".into()));
    }
    let mut by_cluster: BTreeMap<Place, BTreeMap<u32, String>> = BTreeMap::new();
    for (id, uuid) in &recorded.clusters {
        by_cluster
            .entry(cluster_of_party(ctx, *id))
            .or_default()
            .insert(*id, uuid.clone());
    }
    for (cluster, parties) in &by_cluster {
        match delete_recorded_clusters(ctx, cluster, parties).await {
            Ok(()) => ctx.update_record(|r| r.clusters.retain(|id, _| !parties.contains_key(id)))?,
            // Deleting the namespaces below removes the parties' pods all the same; KubeFATE's
            // records of them stay, and the next `up` clears them as stale.
            Err(e) => line.say(format!(
                "could not delete the clusters through KubeFATE in {} ({e:#}); removing their namespaces",
                cluster.describe()
            )),
        }
    }
    for ns in &recorded.namespaces {
        let cluster = ns
            .strip_prefix("fate-")
            .and_then(|id| id.parse().ok())
            .map_or_else(|| ctx.primary(), |id| cluster_of_party(ctx, id));
        line.note(format!("deleting namespace {ns}"));
        kube::delete_namespace(ctx.kube_in(&cluster).await?, ns, ctx.wait_timeout()).await?;
        ctx.update_record(|r| r.namespaces.retain(|n| n != ns))?;
    }
    Ok(Outcome::Done)
}

/// `DELETE /v1/cluster/:id` for each cluster fatelab installed (found by its ID, or by its name
/// when the record has none), each job followed to its end; afterwards KubeFATE lists none.
async fn delete_recorded_clusters(
    ctx: &Ctx<'_>,
    place: &Place,
    clusters: &BTreeMap<u32, String>,
) -> Result<()> {
    let kf = ctx.kubefate_in(place).await?;
    let live = kf.clusters(false).await?;
    for (party, id) in clusters {
        let name = format!("fate-{party}");
        let Some(c) = live
            .iter()
            .find(|c| (!id.is_empty() && &c.uuid == id) || c.name == name)
        else {
            continue;
        };
        let sub = ctx.ui.sub_line(&format!("party {party}"));
        delete_cluster(kf, c, &sub).await?;
        sub.finish("cluster deleted through KubeFATE");
    }
    let left: Vec<String> = kf
        .clusters(false)
        .await?
        .into_iter()
        .filter(|c| {
            clusters
                .iter()
                .any(|(p, id)| &c.uuid == id || c.name == format!("fate-{p}"))
        })
        .map(|c| c.name)
        .collect();
    if !left.is_empty() {
        return Err(anyhow!("KubeFATE still lists {}", left.join(", ")));
    }
    Ok(())
}

/// What `kubefate cluster describe` would tell, for every party: printed at the end of `up`.
pub async fn summary(ctx: &Ctx<'_>) -> Result<Vec<String>> {
    let known = known_clusters(ctx).await?;
    let mut out = Vec::new();
    for party in ctx.spec.ours() {
        let kf = ctx.kubefate_for(party).await?;
        let (notebook, fateboard) = ctx.spec.hostnames(party);
        let Some(c) = known
            .get(&party.cluster)
            .into_iter()
            .flatten()
            .find(|c| c.name == party.name())
        else {
            out.push(format!("party {}: no cluster", party.id));
            continue;
        };
        let detail = kf.cluster(&c.uuid).await.ok();
        let pods = detail
            .as_ref()
            .and_then(|d| d.info.as_ref())
            .and_then(|i| i.pointer("/status/modules"))
            .and_then(|m| m.as_object())
            .map(|m| {
                let running = m.values().filter(|v| *v == "Running").count();
                format!("{running}/{} pods Running", m.len())
            })
            .unwrap_or_else(|| "pods unknown".into());
        out.push(format!(
            "party {}: cluster {} ({}) {}, {pods}; notebook http://{notebook}, FATE Board http://{fateboard}; \
             NodePorts rollsite {}, FATE Flow HTTP {} / gRPC {}",
            party.id, c.name, c.uuid, c.status, party.ports.rollsite, party.ports.http, party.ports.grpc
        ));
    }
    Ok(out)
}

impl Step for Parties {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "parties",
            title: "Converge every party's FATE cluster and wait until all are healthy",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = ctx.spec;
        let r = spec.release;
        let mut actions = Vec::new();
        let mut files = Vec::new();
        for party in spec.ours() {
            let peers: Vec<_> = spec
                .parties
                .iter()
                .filter(|p| p.id != party.id)
                .map(|p| format!("{}@{}:{}", p.id, spec.address(p), p.ports.rollsite))
                .collect();
            let (notebook, fateboard) = spec.hostnames(party);
            let file = cluster_yaml::render(spec, party)?;
            let place = if spec.on_minikube() {
                String::new()
            } else {
                format!(" in {}", party.cluster.describe())
            };
            actions.push(format!(
                "party {id}{place}: create namespace {ns}; install cluster {name} (chart {chart} {version}) from {file}; \
                 NodePorts {module} {rp}, FATE Flow gRPC {gp}, HTTP {hp}; partyList {peers}; \
                 notebook http://{notebook}, FATE Board http://{fateboard}",
                id = party.id,
                ns = party.namespace(),
                name = party.name(),
                chart = r.chart.name,
                version = r.chart.version,
                file = file.name,
                module = r.federation_module,
                rp = party.ports.rollsite,
                gp = party.ports.grpc,
                hp = party.ports.http,
                peers = peers.join(", "),
            ));
            files.push(file);
        }
        match spec.sizing.as_ref().map(|size| crate::sizing::explain(size, spec.parties.len())) {
            Some(Ok(lines)) => actions.extend(lines),
            Some(Err(e)) => actions.push(format!("resources: {e:#}")),
            None if !spec.on_minikube() && r.cluster_schema == crate::catalog::ClusterSchema::V2 => {
                actions.push(format!(
                    "resources: chart {} {}'s own requests, on an existing cluster whose scheduler places the pods \
                     (--resources fits a lab to this host, on minikube)",
                    r.chart.name, r.chart.version
                ))
            }
            None => actions.push(format!(
                "resources: chart {} {} requests no CPU or memory; nothing to size (--resources sizes v2 charts)",
                r.chart.name, r.chart.version
            )),
        }
        for edit in &r.chart.edits {
            actions.push(format!(
                "the chart as uploaded differs from the release's in {}: {}",
                edit.file, edit.why
            ));
        }
        actions.push(format!(
            "all {} installs at once; follow each job and the party's pods until every cluster is Running \
             (KubeFATE {} fails an install job after 1 hour, so images are pulled before this step); \
             a stuck pod (image pull, crash loop, unschedulable) stops the wait at once",
            spec.parties.len(),
            r.kubefate_service
        ));
        actions.push(if r.chart.in_kubefate_index {
            format!(
                "if the service cannot get the chart from its repository, upload the chart {} {} and retry",
                r.chart.name, r.chart.version
            )
        } else {
            format!(
                "KubeFATE's chart repository has no {} {}: upload it (POST /v1/chart) before the installs, unless GET /v1/chart/ lists it",
                r.chart.name, r.chart.version
            )
        });
        actions.push(format!(
            "on a host with a lab: a cluster whose spec differs from the one KubeFATE holds is updated in place \
             (PUT /v1/cluster; a chart change is an upgrade); a party no longer listed is removed after a yes; \
             a healthy party as declared is left alone. Healthy = every pod Running, every container ready, \
             and no restart for {} after that",
            kube::human(ctx.opts.settle)
        ));
        Ok(StepPlan { actions, files })
    }

    super::step_fns!(undo);
}
