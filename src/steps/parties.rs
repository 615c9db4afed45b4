//! Step 8: one FATE cluster per party, installed through the KubeFATE REST API, all at once,
//! each followed (its job's status and states, its pods live) until every cluster runs.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::future::try_join_all;

use super::{Ctx, Outcome, Step, StepFuture, StepInfo, StepPlan};
use crate::clients::kube;
use crate::clients::kubefate::{self, Cluster, Job, KubeFate};
use crate::render::cluster_yaml;
use crate::spec::Party;
use crate::ui::{StepLine, SubLine};

pub struct Parties;

/// KubeFATE has no watch API: its jobs are polled at this pace.
const JOB_POLL: Duration = Duration::from_millis(500);
/// What the service's states say when its pod cannot reach the chart repository.
const CHART_REPO_UNREACHABLE: &str = "is not a valid chart repository or cannot be reached";

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

fn selector(party: &Party) -> String {
    format!("name={}", party.name())
}

/// Polls a job until it is final, showing its status, latest state and (when given) the pods.
async fn follow_job(
    kf: &KubeFate,
    id: &str,
    line: &SubLine,
    what: &str,
    pods: Option<&Mutex<String>>,
) -> Result<Job> {
    loop {
        let job = kf.job(id).await?;
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

async fn delete_cluster(kf: &KubeFate, cluster: &Cluster, line: &SubLine) -> Result<()> {
    let job = kf.delete_cluster(&cluster.uuid).await?;
    let done = follow_job(kf, &job.uuid, line, "delete", None).await?;
    if done.status != "Success" {
        bail!(
            "deleting cluster {} failed (job {}): {}",
            cluster.name,
            done.status,
            done.states().join("; ")
        );
    }
    Ok(())
}

/// Installs one party's cluster and follows it to Running, failing early when a pod is stuck.
async fn install(
    ctx: &Ctx<'_>,
    party: &Party,
    line: &SubLine,
    allow_chart_upload: bool,
) -> Result<String> {
    let kf = ctx.kubefate().await?;
    let client = ctx.kube().await?;
    let spec = cluster_yaml::value(ctx.spec, party)?;
    let args = kubefate::cluster_args(&spec, false)?;
    line.set("submitting the install");
    let job = kf
        .install(&args)
        .await
        .with_context(|| format!("installing {}", party.name()))?;
    ctx.update_record(|r| {
        r.clusters.insert(party.id, job.cluster_id.clone());
    })?;

    let pod_view = Mutex::new(String::new());
    // Every pod's latest line, kept after the pod is gone.
    let last_pods: Mutex<std::collections::BTreeMap<String, String>> = Mutex::default();
    let pods = async {
        let sel = selector(party);
        kube::wait_pods_running(
            client,
            &party.namespace(),
            &sel,
            ctx.opts.wait_timeout,
            |lines| {
                let running = lines.iter().filter(|l| l.contains(" Running")).count();
                *pod_view.lock().expect("pods lock") =
                    format!("{running}/{} pods Running", lines.len());
                let mut seen = last_pods.lock().expect("pods lock");
                for l in lines {
                    seen.insert(
                        l.split(' ').next().unwrap_or_default().to_string(),
                        l.clone(),
                    );
                }
            },
        )
        .await
    };
    let finished = async { follow_job(kf, &job.uuid, line, "install", Some(&pod_view)).await };
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
    if done.status == "Success" {
        return Ok(done.cluster_id);
    }
    let states = condense(done.states()).join("; ");
    if allow_chart_upload && states.contains(CHART_REPO_UNREACHABLE) {
        line.set("the service cannot reach its chart repository: uploading the chart");
        upload_chart(ctx).await?;
        if let Some(failed) = kf
            .clusters(false)
            .await?
            .into_iter()
            .find(|c| c.name == party.name())
        {
            delete_cluster(kf, &failed, line).await?;
        }
        return Box::pin(install(ctx, party, line, false)).await;
    }
    let now = kube::not_ready_pods(client, &party.namespace())
        .await
        .unwrap_or_default();
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
    Err(anyhow!(
        "installing {} failed (job {}): {states}{pods}",
        party.name(),
        done.status
    ))
}

async fn upload_chart(ctx: &Ctx<'_>) -> Result<()> {
    let r = ctx.spec.release;
    let artifact = r
        .artifact("chart")
        .context("the catalog names no chart file")?;
    let path = super::artifacts::local_path(ctx, artifact);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "the KubeFATE service cannot reach its chart repository and {} is not here to upload \
             (download {} into --artifacts-dir)",
            path.display(),
            artifact.url(&ctx.urls)
        )
    })?;
    ctx.kubefate()
        .await?
        .upload_chart(&artifact.file, bytes)
        .await?;
    Ok(())
}

/// KubeFATE's database can outlive the pods (its mariadb keeps data on the host): a cluster it
/// calls Running counts only when its pods really run.
async fn pods_all_running(ctx: &Ctx<'_>, party: &Party) -> bool {
    let Ok(client) = ctx.kube().await else {
        return false;
    };
    let api: ::kube::Api<k8s_openapi::api::core::v1::Pod> =
        ::kube::Api::namespaced(client.clone(), &party.namespace());
    let params = ::kube::api::ListParams::default().labels(&selector(party));
    match api.list(&params).await {
        Ok(pods) => {
            !pods.items.is_empty()
                && pods
                    .items
                    .iter()
                    .all(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        }
        Err(_) => false,
    }
}

/// One party: already running (nothing to do), half there (cleaned after a yes), or new.
async fn ensure_party(ctx: &Ctx<'_>, party: &Party, existing: Option<Cluster>) -> Result<bool> {
    let line = ctx.ui.sub_line(&format!("party {}", party.id));
    let result = async {
        if let Some(c) = &existing {
            if c.status == "Running" && pods_all_running(ctx, party).await {
                ctx.update_record(|r| {
                    r.clusters.entry(party.id).or_insert_with(|| c.uuid.clone());
                })?;
                return Ok(false);
            }
            let state = if c.status == "Running" {
                "listed as Running by KubeFATE, but its pods do not run".to_string()
            } else {
                c.status.clone()
            };
            if !ctx.ui.confirm(&format!(
                "Party {}'s cluster {} is {state}. Delete it and install it again?",
                party.id, c.name
            ))? {
                bail!(
                    "party {}'s cluster is {} and was left as it is",
                    party.id,
                    c.status
                );
            }
            delete_cluster(ctx.kubefate().await?, c, &line).await?;
        }
        install(ctx, party, &line, true).await?;
        Ok(true)
    }
    .await;
    match &result {
        Ok(true) => line.finish("Running"),
        Ok(false) => line.finish("already Running"),
        Err(_) => line.finish("failed"),
    }
    result
}

async fn run(ctx: &Ctx<'_>, line: &StepLine) -> Result<Outcome> {
    let client = ctx.kube().await?;
    for party in &ctx.spec.parties {
        let ns = party.namespace();
        if kube::ensure_namespace(client, &ns).await? {
            ctx.update_record(|r| {
                if !r.namespaces.contains(&ns) {
                    r.namespaces.push(ns.clone());
                }
            })?;
        }
    }
    line.note("asking KubeFATE which clusters exist");
    let known = ctx.kubefate().await?.clusters(false).await?;
    let installs = ctx.spec.parties.iter().map(|party| {
        let existing = known
            .iter()
            .find(|c| c.name == party.name() && c.namespace == party.namespace())
            .cloned();
        ensure_party(ctx, party, existing)
    });
    let changed = try_join_all(installs).await?;
    Ok(if changed.iter().any(|c| *c) {
        Outcome::Done
    } else {
        Outcome::AlreadyDone("every party's cluster already runs".into())
    })
}

async fn undo(ctx: &Ctx<'_>, line: &StepLine) -> Result<Outcome> {
    let recorded = ctx.record.lock().expect("record lock").clone();
    if recorded.clusters.is_empty() && recorded.namespaces.is_empty() {
        return Ok(Outcome::AlreadyDone("fatelab installed no party".into()));
    }
    if !recorded.clusters.is_empty() {
        if let Err(e) = delete_recorded_clusters(ctx, &recorded.clusters).await {
            // Deleting the namespaces below removes the parties' pods all the same.
            line.say(format!(
                "could not delete the clusters through KubeFATE ({e:#}); removing their namespaces"
            ));
        }
        ctx.update_record(|r| r.clusters.clear())?;
    }
    let client = ctx.kube().await?;
    for ns in &recorded.namespaces {
        line.note(format!("deleting namespace {ns}"));
        kube::delete_namespace(client, ns, ctx.opts.wait_timeout).await?;
        ctx.update_record(|r| r.namespaces.retain(|n| n != ns))?;
    }
    Ok(Outcome::Done)
}

async fn delete_recorded_clusters(
    ctx: &Ctx<'_>,
    clusters: &std::collections::BTreeMap<u32, String>,
) -> Result<()> {
    let kf = ctx.kubefate().await?;
    let live = kf.clusters(false).await?;
    for (party, id) in clusters {
        if let Some(c) = live.iter().find(|c| &c.uuid == id) {
            let sub = ctx.ui.sub_line(&format!("party {party}"));
            delete_cluster(kf, c, &sub).await?;
            sub.finish("cluster deleted");
        }
    }
    Ok(())
}

/// What `kubefate cluster describe` would tell, for every party: printed at the end of `up`.
pub async fn summary(ctx: &Ctx<'_>) -> Result<Vec<String>> {
    let kf = ctx.kubefate().await?;
    let clusters = kf.clusters(false).await?;
    let mut out = Vec::new();
    for party in &ctx.spec.parties {
        let (notebook, fateboard) = ctx.spec.hostnames(party);
        let Some(c) = clusters.iter().find(|c| c.name == party.name()) else {
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
            title: "Install every party's FATE cluster and wait until all run",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = ctx.spec;
        let r = spec.release;
        let mut actions = Vec::new();
        let mut files = Vec::new();
        for party in &spec.parties {
            let peers: Vec<_> = spec
                .parties
                .iter()
                .filter(|p| p.id != party.id)
                .map(|p| format!("{}@{}:{}", p.id, spec.ip, p.ports.rollsite))
                .collect();
            let (notebook, fateboard) = spec.hostnames(party);
            let file = cluster_yaml::render(spec, party)?;
            actions.push(format!(
                "party {id}: create namespace {ns}; install cluster {name} (chart {chart} {version}) from {file}; \
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
        actions.push(format!(
            "all {} installs at once; follow each job and the party's pods until every cluster is Running \
             (KubeFATE {} fails an install job after 1 hour, so images are pulled before this step); \
             a stuck pod (image pull, crash loop, unschedulable) stops the wait at once",
            spec.parties.len(),
            r.kubefate_service
        ));
        actions.push(format!(
            "if the service cannot reach its chart repository, upload the chart {} {} and retry",
            r.chart.name, r.chart.version
        ));
        actions.push("clusters already Running are left alone; a Failed one is deleted and installed again after a yes".into());
        Ok(StepPlan { actions, files })
    }

    fn run<'a>(&'a self, ctx: &'a Ctx, line: &'a StepLine) -> Option<StepFuture<'a>> {
        Some(Box::pin(run(ctx, line)))
    }

    fn undo<'a>(&'a self, ctx: &'a Ctx, line: &'a StepLine) -> Option<StepFuture<'a>> {
        Some(Box::pin(undo(ctx, line)))
    }
}
