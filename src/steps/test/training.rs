//! A federated training job between two parties (`test --job lr|sbt`): each party's table
//! uploaded to its own FATE Flow (unless it is there already), the job submitted to the guest's,
//! followed task by task, its evaluation read back, and the same model trained in one place on
//! the joined table beside it. What the report draws is gathered on the way.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::clients::fateflow::jobs::{Data, FateVersion};
use crate::clients::fateflow::{Api, Curve, FateFlow, v1, v2};
use crate::model::baseline::{LrParams, centralized_lr};
use crate::model::dataset::{Dataset, PartyTable};
use crate::model::jobs::{
    Baseline, DataSummary, JobKind, JobResult, Metrics, TableSummary, Timings, seconds,
};
use crate::model::report::{JobReport, Span};
use crate::model::training;
use crate::steps::Ctx;
use crate::ui::SubLine;

/// A training job's result, and what its report shows.
pub struct Trained {
    pub result: JobResult,
    pub report: JobReport,
}

/// Uploads a party's table unless it holds it with the right row count; says which.
async fn ensure_table(
    ctx: &Ctx,
    flow: &FateFlow,
    party: u32,
    table: &PartyTable,
    line: &SubLine,
) -> Result<bool> {
    let data = &training::jobs().data;
    let name = &table.spec.name;
    let rows = flow.table_rows(&data.namespace, name).await?;
    if rows == Some(table.rows()) {
        line.set(format!(
            "party {party} holds {}.{name} ({} rows) already",
            data.namespace,
            table.rows()
        ));
        return Ok(false);
    }
    line.set(format!(
        "uploading {} to party {party} as {}.{name}",
        table.source, data.namespace
    ));
    flow.upload(
        &table.spec,
        &table.upload,
        &data.namespace,
        data.partitions,
        ctx.wait_timeout(),
    )
    .await?;
    Ok(true)
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

fn summary(data: &Dataset) -> DataSummary {
    let table = |t: &PartyTable| TableSummary {
        source: t.source.clone(),
        table: t.spec.name.clone(),
        rows: t.rows(),
        features: t.features.len() as u64,
    };
    DataSummary {
        own: data.own,
        guest: table(&data.guest),
        host: table(&data.host),
        shared_ids: data.shared as u64,
    }
}

/// The job's model trained in one place: LR with the job's parameters (for `sbt` too: there
/// is no tree baseline), on the shared rows, judged on them.
fn baseline(ctx: &Ctx, data: &Dataset, report: &mut JobReport) -> Baseline {
    let t = Instant::now();
    let jobs = training::jobs();
    let params = match ctx.spec.release.fate_flow_api {
        Api::V1 => &jobs.v1.jobs["lr"].parameters,
        Api::V2 => &jobs.v2.jobs["lr"].parameters,
    };
    let joined = data.joined();
    let c = centralized_lr(&joined.x, &joined.y, &LrParams::of_job(params));
    let b = Baseline {
        model: JobKind::Lr,
        auc: c.roc.auc(),
        ks: c.roc.ks(),
        rows: joined.x.len() as u64,
        features: joined.x.first().map_or(0, Vec::len) as u64,
        train_s: t.elapsed().as_secs_f64(),
        gap: None,
        max_gap: ctx.opts.max_gap,
    };
    report.centralized = Some(c.roc);
    report.centralized_loss = c.loss;
    b
}

/// The whole job for one guest–host pair; a failure is a result (with FATE's words), not an error.
pub async fn run(
    ctx: &Ctx,
    kind: JobKind,
    guest: u32,
    host: u32,
    data: &Dataset,
    line: &SubLine,
) -> Trained {
    let started = Instant::now();
    let mut result = JobResult::failed(kind, guest, host);
    result.data = Some(summary(data));
    let mut report = JobReport {
        result: result.clone(),
        federated: None,
        centralized: None,
        loss: None,
        centralized_loss: Vec::new(),
        timeline: Vec::new(),
    };
    result.baseline = Some(baseline(ctx, data, &mut report));
    if let Err(e) = train(
        ctx,
        kind,
        (guest, host),
        data,
        line,
        &mut result,
        &mut report,
    )
    .await
    {
        result.error = Some(format!("{e:#}"));
    }
    judge(&mut result, ctx.opts.min_auc);
    result.duration_s = seconds(started.elapsed());
    report.result = result.clone();
    Trained { result, report }
}

/// A job that ran is failed when its AUC is below `min_auc`, or further below the centralized
/// model's than the gap allows.
fn judge(result: &mut JobResult, min_auc: f64) {
    let Some(m) = result.metrics else { return };
    if let Some(b) = result.baseline.as_mut() {
        b.gap = Some(b.auc - m.auc);
    }
    if result.error.is_some() {
        return;
    }
    if m.auc < min_auc {
        result.error = Some(format!(
            "AUC {:.4} is below --min-auc {min_auc}: the lab trains, but not well enough to trust",
            m.auc
        ));
    } else if let Some(b) = &result.baseline
        && b.judges(result.kind)
        && b.auc - m.auc > b.max_gap
    {
        result.error = Some(format!(
            "the federated model scores AUC {:.4}, {:.4} below the same model trained in one place ({:.4}): \
             more than --max-gap {} allows",
            m.auc,
            b.auc - m.auc,
            b.auc,
            b.max_gap
        ));
    }
}

async fn train(
    ctx: &Ctx,
    kind: JobKind,
    (guest, host): (u32, u32),
    data: &Dataset,
    line: &SubLine,
    result: &mut JobResult,
    report: &mut JobReport,
) -> Result<()> {
    let api = ctx.spec.release.fate_flow_api;
    let catalog = training::jobs();
    let name = kind.name();
    let (g, h) = (ctx.fate_flow(guest).await?, ctx.fate_flow(host).await?);
    let mut timings = Timings::default();
    let zero = Instant::now();
    let since = |t: Instant| t.duration_since(zero).as_secs_f64();

    for (flow, party, table) in [(&g, guest, &data.guest), (&h, host, &data.host)] {
        let t = Instant::now();
        let sent = ensure_table(ctx, flow, party, table, line).await?;
        report.timeline.push(Span {
            label: format!(
                "{} {} (party {party})",
                if sent { "upload" } else { "found" },
                table.spec.name
            ),
            start_s: since(t),
            end_s: since(Instant::now()),
        });
    }
    timings.upload_s = seconds(zero.elapsed());

    let tables = Data {
        namespace: catalog.data.namespace.clone(),
        partitions: catalog.data.partitions,
        rows: data.guest.rows(),
        guest: data.guest.spec.clone(),
        host: data.host.spec.clone(),
    };
    let t = Instant::now();
    let submitted_s = since(t);
    let (job_id, evaluation) = match api {
        Api::V1 => {
            let job = &catalog.v1.jobs[name];
            let body = v1::training(job, &tables, guest, host);
            (
                g.submit(&body, &format!("the {name} job")).await?,
                v1::EVALUATION,
            )
        }
        Api::V2 => {
            let fate = fate_version(ctx, &g).await;
            let body = v2::training(&catalog.v2, name, &tables, fate, guest, host);
            (
                g.submit(&body, &format!("the {name} job")).await?,
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
    result.metrics = Some(Metrics {
        auc: evaluation.auc,
        ks: evaluation.ks,
    });
    report.federated = Some(evaluation);
    timings.metrics_s = seconds(t.elapsed());
    result.timings = Some(timings);

    // For the report only: what FATE Flow does not have is left out of it, not an error.
    let task = match api {
        Api::V1 => &catalog.v1.jobs[name].task,
        Api::V2 => &catalog.v2.jobs[name].task,
    };
    report.loss = loss(api, kind, &job_id, task, (&g, guest), (&h, host)).await;
    // The tasks' times are the server's clock: placed from the submission on, whatever the
    // skew between the two machines.
    match g.task_times(&job_id, guest).await {
        Ok(tasks) => {
            let first = tasks.iter().filter_map(|t| t.start_ms).min().unwrap_or(0);
            let at = |ms: i64| submitted_s + (ms - first) as f64 / 1000.0;
            report.timeline.extend(tasks.into_iter().filter_map(|t| {
                Some(Span {
                    label: t.name,
                    start_s: at(t.start_ms?),
                    end_s: at(t.end_ms?),
                })
            }))
        }
        Err(e) => tracing::info!("job {job_id}'s task records: {e:#}"),
    }
    Ok(())
}

/// The model's loss per iteration from whichever role logs it: FATE 2.x's LR loss is the
/// arbiter's (the host party here), SecureBoost's the guest's; FATE 1.x logs it at the guest.
async fn loss(
    api: Api,
    kind: JobKind,
    job_id: &str,
    task: &str,
    guest: (&FateFlow, u32),
    host: (&FateFlow, u32),
) -> Option<Curve> {
    let ask: Vec<(&str, (&FateFlow, u32))> = match (api, kind) {
        (Api::V2, JobKind::Lr) => vec![("arbiter", host)],
        (Api::V1, JobKind::Lr) => vec![("guest", guest), ("arbiter", host)],
        _ => vec![("guest", guest)],
    };
    for (role, (flow, party)) in ask {
        match flow.loss(job_id, role, party, task).await {
            Ok(c) if !c.x.is_empty() => return Some(c),
            Ok(_) => {}
            Err(e) => tracing::info!("the {role}'s loss of job {job_id}: {e:#}"),
        }
    }
    None
}
