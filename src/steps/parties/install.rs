//! Installing and updating a party's cluster through KubeFATE (each request sent once), its
//! namespace made first, and the chart uploaded when the service cannot get it itself.

use anyhow::{Context, Result};

use super::{follow, lost};
use crate::clients::kube;
use crate::clients::kubefate::{self, JobMethod};
use crate::model::spec::Party;
use crate::model::target::Cluster;
use crate::render::cluster_yaml;
use crate::steps::Ctx;
use crate::ui::{StepLine, SubLine};

/// What the service's job says when its pod cannot reach the chart repository, or when the
/// repository has no such chart: either way, uploading the chart mends it.
const CHART_MISSING: [&str; 2] = [
    "is not a valid chart repository or cannot be reached",
    "not found in kubefate index",
];

/// Makes the party's namespace unless it is there, recording it when fatelab made it.
pub async fn ensure_namespace(ctx: &Ctx, party: &Party) -> Result<()> {
    let ns = &party.namespace();
    if kube::ensure_namespace(ctx.kube_for(party).await?, ns, Some(crate::steps::MADE_BY)).await? {
        ctx.update_record(|r| {
            if !r.namespaces.iter().any(|n| n == ns) {
                r.namespaces.push(ns.to_string());
            }
        })?;
    }
    Ok(())
}

/// Installs one party's cluster and follows it until the party is healthy.
pub async fn install(
    ctx: &Ctx,
    party: &Party,
    line: &SubLine,
    allow_chart_upload: bool,
) -> Result<()> {
    let kf = ctx.kubefate_for(party).await?;
    let spec = cluster_yaml::value(&ctx.spec, party)?;
    let args = kubefate::cluster_args(&spec, false)?;
    line.set("submitting the install");
    let job = kf
        .send_once(
            JobMethod::ClusterInstall,
            &party.name(),
            || kf.install(&args),
            lost(line),
        )
        .await
        .with_context(|| format!("installing {}", party.name()))?;
    match follow::to_healthy(ctx, party, &job, line, "install").await {
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
        Err(e) if allow_chart_upload && chart_missing(&e) => {
            line.set("the service cannot get the chart from its repository: uploading it");
            upload_chart(ctx, &party.cluster).await?;
            if let Some(failed) = kf
                .clusters(false)
                .await?
                .into_iter()
                .find(|c| c.name == party.name())
            {
                super::delete(ctx, kf, &failed, line, "up").await?;
            }
            Box::pin(install(ctx, party, line, false)).await
        }
        Err(e) => Err(e),
    }
}

/// The install job failed because the service could not get the chart.
fn chart_missing(e: &anyhow::Error) -> bool {
    e.downcast_ref::<follow::JobFailed>().is_some_and(|f| {
        f.job
            .states()
            .iter()
            .any(|s| CHART_MISSING.iter().any(|m| s.contains(m)))
    })
}

pub async fn update(ctx: &Ctx, party: &Party, line: &SubLine, upgrade: bool) -> Result<()> {
    let kf = ctx.kubefate_for(party).await?;
    let spec = cluster_yaml::value(&ctx.spec, party)?;
    let args = kubefate::cluster_args(&spec, false)?;
    let what = if upgrade { "upgrade" } else { "update" };
    line.set(format!("submitting the {what}"));
    let job = kf
        .send_once(
            JobMethod::ClusterUpdate,
            &party.name(),
            || kf.update(&args),
            lost(line),
        )
        .await
        .with_context(|| format!("updating {}", party.name()))?;
    follow::to_healthy(ctx, party, &job, line, what).await?;
    Ok(())
}

async fn upload_chart(ctx: &Ctx, cluster: &Cluster) -> Result<()> {
    ctx.chart_uploaded_once(cluster, || upload_chart_now(ctx, cluster))
        .await
}

async fn upload_chart_now(ctx: &Ctx, cluster: &Cluster) -> Result<()> {
    let r = ctx.spec.release;
    let artifact = r
        .artifact("chart")
        .context("the catalog names no chart file")?;
    let path = ctx.artifact_path(artifact);
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
    let bytes = crate::host::chart::apply_edits(&bytes, &r.chart.edits)
        .with_context(|| format!("editing {}", path.display()))?;
    ctx.kubefate_in(cluster)
        .await?
        .upload_chart(&artifact.file, bytes)
        .await?;
    Ok(())
}

/// A chart KubeFATE's repository lacks goes to the service before any install needs it.
pub async fn ensure_chart(ctx: &Ctx, line: &StepLine, cluster: &Cluster) -> Result<()> {
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
