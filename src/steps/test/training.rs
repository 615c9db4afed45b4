//! A federated training job between two parties (`test --job lr|sbt`): each party's table
//! uploaded to its own FATE Flow (unless it is there already), the job submitted to the guest's,
//! followed task by task, and its evaluation read back.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::clients::fateflow::jobs::{FateVersion, TableSpec};
use crate::clients::fateflow::{Api, FateFlow, v1, v2};
use crate::model::jobs::{JobKind, JobResult, Metrics, Timings, seconds};
use crate::model::training;
use crate::steps::Ctx;
use crate::ui::SubLine;

/// Uploads a party's table unless it holds it with the right row count; says which.
async fn ensure_table(
    ctx: &Ctx,
    flow: &FateFlow,
    party: u32,
    table: &TableSpec,
    line: &SubLine,
) -> Result<()> {
    let data = &training::jobs().data;
    let rows = flow.table_rows(&data.namespace, &table.name).await?;
    if rows == Some(data.rows) {
        line.set(format!(
            "party {party} holds {}.{} ({} rows) already",
            data.namespace, table.name, data.rows
        ));
        return Ok(());
    }
    line.set(format!(
        "uploading {} to party {party} as {}.{}",
        table.file, data.namespace, table.name
    ));
    flow.upload(
        table,
        training::table_bytes(table),
        &data.namespace,
        data.partitions,
        ctx.wait_timeout(),
    )
    .await?;
    Ok(())
}

/// The FATE the guest's FATE Flow runs, whose components' names the job must use: as its FATE
/// Flow says, else the release's (KubeFATE's FATE chart has FATE's version).
async fn fate_version(ctx: &Ctx, flow: &FateFlow) -> FateVersion {
    let release = FateVersion::parse(&ctx.spec.release.chart.version);
    match flow.fate_version().await {
        Ok(Some(v)) => v,
        _ => release.unwrap_or(FateVersion(2, 0)),
    }
}

/// The whole job for one guest–host pair; a failure is a result (with FATE's words), not an error.
pub async fn run(
    ctx: &Ctx,
    kind: JobKind,
    guest: u32,
    host: u32,
    min_auc: f64,
    line: &SubLine,
) -> JobResult {
    let started = Instant::now();
    let mut result = JobResult::failed(kind, guest, host);
    match train(ctx, kind, guest, host, line, &mut result).await {
        Ok(()) => {}
        Err(e) => result.error = Some(format!("{e:#}")),
    }
    if let Some(m) = result.metrics
        && result.error.is_none()
        && m.auc < min_auc
    {
        result.error = Some(format!(
            "AUC {:.4} is below --min-auc {min_auc}: the lab trains, but not well enough to trust",
            m.auc
        ));
    }
    result.duration_s = seconds(started.elapsed());
    result
}

async fn train(
    ctx: &Ctx,
    kind: JobKind,
    guest: u32,
    host: u32,
    line: &SubLine,
    result: &mut JobResult,
) -> Result<()> {
    let api = ctx.spec.release.fate_flow_api;
    let catalog = training::jobs();
    let kind = kind.name();
    let (g, h) = (ctx.fate_flow(guest).await?, ctx.fate_flow(host).await?);
    let mut timings = Timings::default();

    let t = Instant::now();
    ensure_table(ctx, &g, guest, &catalog.data.guest, line).await?;
    ensure_table(ctx, &h, host, &catalog.data.host, line).await?;
    timings.upload_s = seconds(t.elapsed());

    let t = Instant::now();
    let (job_id, evaluation) = match api {
        Api::V1 => {
            let job = &catalog.v1.jobs[kind];
            let body = v1::training(job, &catalog.data, guest, host);
            (
                g.submit(&body, &format!("the {kind} job")).await?,
                v1::EVALUATION,
            )
        }
        Api::V2 => {
            let fate = fate_version(ctx, &g).await;
            let body = v2::training(&catalog.v2, kind, &catalog.data, fate, guest, host);
            (
                g.submit(&body, &format!("the {kind} job")).await?,
                v2::EVALUATION,
            )
        }
    };
    result.job_id = Some(job_id.clone());
    let timeout = ctx.wait_timeout();
    let row = g
        .follow(
            &job_id,
            Some(("guest", guest)),
            timeout,
            true,
            |row, tasks| {
                line.set(format!(
                    "job {job_id}: {}{}, {}",
                    if tasks.is_empty() {
                        row.status.clone()
                    } else {
                        format!("{} running", tasks.join(", "))
                    },
                    row.progress.map(|p| format!(" {p}%")).unwrap_or_default(),
                    humantime::format_duration(Duration::from_secs(t.elapsed().as_secs()))
                ))
            },
        )
        .await?;
    let status = row.status;
    timings.train_s = seconds(t.elapsed());
    result.status = status.clone();
    result.timings = Some(timings);
    if status != "success" {
        result.error = Some(g.why(&job_id, &status, timeout).await);
        return Ok(());
    }
    let t = Instant::now();
    let evaluation = g.metrics(&job_id, guest, evaluation).await?;
    let metrics = Metrics {
        auc: evaluation.auc,
        ks: evaluation.ks,
    };
    timings.metrics_s = seconds(t.elapsed());
    result.metrics = Some(metrics);
    result.timings = Some(timings);
    Ok(())
}
