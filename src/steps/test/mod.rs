//! Step 9: prove the lab works with a federated job (what `fatelab test` runs): FATE's toy job
//! (secure add: the parties can talk) or a training job (`lr`, `sbt`: the lab can learn).

mod toy;
mod training;

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::{Ctx, Diff, Step, StepPlan, advice};
use crate::clients::fateflow::Api;
use crate::model::jobs::{JobKind, JobResult, TestRecord};
use crate::model::report::Report;
use crate::model::spec::Party;
use crate::model::step::StepName;
use crate::ui::StepLine;

pub struct TestJob;

/// Guest and host pairs: the chosen pair, or the first of this lab's own parties as guest with
/// each other in turn (another organisation's parties only when `with_peers`, or named). The
/// guest is always one of ours: the job goes through its FATE Flow.
pub fn pairs(
    parties: &[Party],
    guest: Option<u32>,
    host: Option<u32>,
    with_peers: bool,
) -> Result<Vec<(u32, u32)>> {
    let ids: Vec<u32> = parties.iter().map(|p| p.id).collect();
    for id in [guest, host].into_iter().flatten() {
        if !ids.contains(&id) {
            bail!(crate::exit::UsageError(format!(
                "party {id} is not in this lab (its parties are {ids:?})"
            )));
        }
    }
    let ours: Vec<u32> = parties
        .iter()
        .filter(|p| p.is_ours())
        .map(|p| p.id)
        .collect();
    if let Some(g) = guest.filter(|g| !ours.contains(g)) {
        bail!(crate::exit::UsageError(format!(
            "party {g} is another organisation's: the job is submitted through the guest's FATE Flow, \
             so the guest must be one of this lab's parties ({ours:?})"
        )));
    }
    let g = guest.unwrap_or(ours[0]);
    Ok(match host {
        Some(h) => vec![(g, h)],
        None => parties
            .iter()
            .filter(|p| p.id != g && (with_peers || p.is_ours()))
            .map(|p| (g, p.id))
            .collect(),
    })
}

/// What a test ran: each job's result, and for training jobs the report (its data, and where
/// its HTML copy in the state dir is).
pub struct Ran {
    pub results: Vec<JobResult>,
    pub report: Option<(Report, PathBuf)>,
}

/// Runs `kind` for each pair through the guest's FATE Flow and records the results. Toy jobs of
/// several pairs run at once, each on its own line; training jobs one pair after another (they
/// share the guest's table and its CPUs), and their report is written to the state dir.
pub async fn run_jobs(ctx: &Ctx, kind: JobKind, pairs: &[(u32, u32)]) -> Result<Ran> {
    let label = |g: u32, h: u32| format!("{} job guest {g} / host {h}", kind.name());
    let mut report = None;
    let results = match kind {
        JobKind::Toy => {
            let mut flows = Vec::new();
            for &(guest, _) in pairs {
                flows.push(ctx.fate_flow(guest).await?);
            }
            let jobs = pairs.iter().zip(flows).map(|(&(guest, host), flow)| {
                let sub = ctx.ui.sub_line(&label(guest, host));
                async move {
                    let result =
                        toy::run(&flow, guest, &[host], ctx.wait_timeout(), |p| sub.set(p)).await;
                    let r = with_hint(result.unwrap_or_else(|e| {
                        JobResult::not_submitted(JobKind::Toy, guest, host, format!("{e:#}"))
                    }));
                    sub.clear();
                    ctx.ui.println(format!("    {}", describe(ctx, &r)));
                    r
                }
            });
            futures::future::join_all(jobs).await
        }
        JobKind::Lr | JobKind::Sbt => {
            if let Some((_, h)) = pairs
                .iter()
                .find(|(_, h)| ctx.spec.party(*h).is_some_and(|p| !p.is_ours()))
            {
                bail!(crate::exit::UsageError(format!(
                    "party {h} is another organisation's: a training job needs its table uploaded to its own FATE Flow, \
                     which fatelab cannot reach from here; run the toy job with it (`fatelab test --host {h}`), or train \
                     between this lab's own parties"
                )));
            }
            let data = match &ctx.opts.data {
                Some(d) => d.clone(),
                None => std::sync::Arc::new(crate::model::training::breast()?),
            };
            let mut all = Vec::new();
            let mut jobs = Vec::new();
            for &(guest, host) in pairs {
                let sub = ctx.ui.sub_line(&label(guest, host));
                let mut t = training::run(ctx, kind, guest, host, &data, &sub).await;
                t.result = with_hint(t.result);
                t.report.result = t.result.clone();
                sub.clear();
                ctx.ui.println(format!("    {}", describe(ctx, &t.result)));
                all.push(t.result);
                jobs.push(t.report);
            }
            let r = Report {
                at: k8s_openapi::jiff::Timestamp::now().as_second(),
                release: release_words(ctx),
                parties: ctx
                    .spec
                    .parties
                    .iter()
                    .filter(|p| pairs.iter().any(|(g, h)| *g == p.id || *h == p.id))
                    .map(|p| (p.id, flow_address(ctx, p)))
                    .collect(),
                jobs,
            };
            let path = save_report(ctx, kind, &r)?;
            report = Some((r, path));
            all
        }
    };
    let entry = TestRecord {
        at: k8s_openapi::jiff::Timestamp::now().as_second(),
        ok: results.iter().all(JobResult::success),
        kind: Some(kind),
        jobs: results.clone(),
        report: report.as_ref().map(|(_, p)| p.display().to_string()),
    };
    ctx.update_record(|r| {
        r.tests.insert(kind, entry.clone());
        r.last_test = Some(entry);
    })?;
    Ok(Ran { results, report })
}

/// Where the report is kept: one file per test, the newest 10 kept.
fn save_report(ctx: &Ctx, kind: JobKind, report: &Report) -> Result<PathBuf> {
    let dir = ctx.state_dir.join("reports");
    std::fs::create_dir_all(&dir)?;
    let stamp = k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%S")
        .to_string();
    let path = dir.join(format!("{stamp}-{}.html", kind.name()));
    std::fs::write(&path, crate::render::report::html(report)?)?;
    let mut old: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    old.sort();
    for p in old.iter().rev().skip(10) {
        let _ = std::fs::remove_file(p);
    }
    Ok(path)
}

fn release_words(ctx: &Ctx) -> String {
    let r = ctx.spec.release;
    match ctx.spec.local() {
        Some(_) => format!("a local lab, FATE {}", r.chart.version),
        None => format!("KubeFATE {} (FATE {})", r.release, r.chart.version),
    }
}

/// Where a party's FATE Flow answers, as the user would reach it.
fn flow_address(ctx: &Ctx, p: &Party) -> String {
    match ctx.spec.local() {
        Some(_) => format!("http://127.0.0.1:{}", p.ports.http),
        None => format!(
            "service fateflow-client in {} (NodePort {} on {})",
            p.namespace(),
            p.ports.http,
            ctx.spec.ip
        ),
    }
}

/// FATE's words, with fatelab's reading of them where it knows the cause.
fn with_hint(mut r: JobResult) -> JobResult {
    if let Some(e) = r.error.as_mut()
        && let Some(hint) = advice::fate_error(e)
    {
        e.push_str(&format!("\nLikely cause: {hint}"));
    }
    r
}

/// One line per job: its ID, status, duration, and where to look at it.
pub fn describe(ctx: &Ctx, r: &JobResult) -> String {
    let party = ctx.spec.parties.iter().find(|p| p.id == r.guest);
    let board = party
        .map(|p| {
            let (_, fateboard) = ctx.spec.hostnames(p);
            format!(
                "http://{fateboard}/#/dashboard?job_id={}&role=guest&party_id={}",
                r.job_id.as_deref().unwrap_or(""),
                r.guest
            )
        })
        .unwrap_or_default();
    let head = format!(
        "{} job guest {} / host {}: {} {} in {:.1}s",
        r.kind,
        r.guest,
        r.hosts
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        r.job_id.as_deref().unwrap_or("(not submitted)"),
        r.status,
        r.duration_s
    );
    let timings = r
        .timings
        .map(|t| {
            format!(
                " (upload {:.1}s, training {:.1}s, metrics {:.1}s)",
                t.upload_s, t.train_s, t.metrics_s
            )
        })
        .unwrap_or_default();
    let metrics = r
        .metrics
        .map(|m| {
            format!(
                "; AUC {:.4}{}",
                m.auc,
                m.ks.map(|k| format!(", KS {k:.4}")).unwrap_or_default()
            )
        })
        .unwrap_or_default();
    // The yardstick: the same model trained in one place.
    let metrics = match &r.baseline {
        Some(b) if r.status == "success" => {
            format!(
                "{metrics}\n      {}",
                b.line(r.kind, r.metrics.map(|m| m.auc))
            )
        }
        _ => metrics,
    };
    match &r.error {
        // A local lab has no FATE Board: its jobs are in each party's FATE Flow.
        None if ctx.spec.local().is_some() => format!("{head}{timings}{metrics}"),
        None => format!(
            "{head}{timings}{metrics}; FATE Board: {board} (`fatelab open board {}` opens it)",
            r.guest
        ),
        // Below the baseline's own line, the error reads as its verdict rather than its tail.
        Some(e) if metrics.contains('\n') => format!("{head}{timings}{metrics}\n      {e}"),
        Some(e) => format!("{head}{timings}{metrics}: {e}"),
    }
}

/// "proven at <time>, job <id>" when the record's last test of this kind passed for exactly
/// these pairs. (The one thing a step takes from the record rather than the world: a job run
/// again on an unchanged lab proves nothing new.)
fn proven(ctx: &Ctx, kind: JobKind, pairs: &[(u32, u32)]) -> Option<String> {
    let record = ctx.record();
    let last = match record.tests.get(&kind) {
        Some(t) => t.clone(),
        // Records from before there were kinds knew only the toy job.
        None => record
            .last_test
            .filter(|t| t.kind.is_none() && kind == JobKind::Toy)?,
    };
    if !last.ok || last.pairs() != pairs {
        return None;
    }
    let at = k8s_openapi::jiff::Timestamp::from_second(last.at)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "?".into());
    let ids: Vec<&str> = last
        .jobs
        .iter()
        .filter_map(|j| j.job_id.as_deref())
        .collect();
    Some(format!(
        "proven at {at}, {} job {}; `fatelab test --job {}` runs it again",
        kind.name(),
        ids.join(", "),
        kind.name()
    ))
}

/// The job `up` runs and the pairs it runs it for.
pub struct Observed {
    job: Option<(JobKind, Vec<(u32, u32)>)>,
}

impl Step for TestJob {
    type Observed = Observed;

    fn name(&self) -> StepName {
        StepName::Test
    }

    fn title(&self) -> &'static str {
        "Run a federated job between the parties (--test)"
    }

    /// A lab this run did not change and whose last test passed is proven already.
    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Observed>> {
        let none = |why: String| Ok(Diff::new(vec![], why, Observed { job: None }));
        let Some(kind) = ctx.opts.test else {
            return none("--test none".into());
        };
        let pairs = pairs(&ctx.spec.parties, None, None, false)?;
        if pairs.is_empty() {
            return none(
                "no pair of this lab's own parties to test; once the peers are up, `fatelab test --host ID` runs the job with one"
                    .into(),
            );
        }
        if !ctx.changed()
            && let Some(why) = proven(ctx, kind, &pairs)
        {
            return none(why);
        }
        let changes = pairs
            .iter()
            .map(|(g, h)| format!("run the {} job with guest {g} and host {h}", kind.name()))
            .collect();
        Ok(Diff::new(
            changes,
            "",
            Observed {
                job: Some((kind, pairs)),
            },
        ))
    }

    async fn converge(&self, ctx: &Ctx, _line: &StepLine, diff: Diff<Observed>) -> Result<()> {
        let Some((kind, pairs)) = diff.observed.job else {
            return Ok(());
        };
        let results = run_jobs(ctx, kind, &pairs).await?.results;
        if let Some(bad) = results.iter().find(|r| !r.success()) {
            bail!("the {} job failed: {}", kind.name(), describe(ctx, bad));
        }
        Ok(())
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = &ctx.spec;
        let Some(guest) = spec.ours().next() else {
            return Ok(StepPlan::default());
        };
        let v1 = spec.release.fate_flow_api == Api::V1;
        let Some(kind) = ctx.opts.test else {
            return Ok(StepPlan {
                actions: vec!["no job (--test none); run one later with `fatelab test`".into()],
                files: vec![],
            });
        };
        let (submit, query) = match (kind, v1) {
            (JobKind::Toy, true) => (
                "POST /v1/job/submit (toy_example, work_mode 1)".to_string(),
                "POST /v1/job/query until f_status is success (the pairs at once)".to_string(),
            ),
            (JobKind::Toy, false) => (
                "POST /v2/job/submit (toy_example dag)".to_string(),
                "GET /v2/job/query until status is success (the pairs at once)".to_string(),
            ),
            (k, true) => (
                format!(
                    "upload breast_hetero_guest / _host to the guest's / host's FATE Flow (POST /v1/data/upload) unless \
                     /v1/table/table_info finds them, then POST /v1/job/submit ({} DSL)",
                    k.name()
                ),
                "POST /v1/job/query until success, then /v1/tracking/component/metric/all for AUC and KS".to_string(),
            ),
            (k, false) => (
                format!(
                    "upload breast_hetero_guest / _host to the guest's / host's FATE Flow (POST /v2/data/component/upload/file) \
                     unless /v2/table/query finds them, then POST /v2/job/submit (reader → psi → {} → evaluation)",
                    k.name()
                ),
                "GET /v2/job/query until success, then /v2/output/metric/query for AUC and KS".to_string(),
            ),
        };
        let mut actions: Vec<String> = spec
            .ours()
            .filter(|p| p.id != guest.id)
            .map(|host| {
                format!(
                    "{} job, guest {} with host {}: {submit} to party {}'s FATE Flow ({}), then {query}",
                    kind.name(), guest.id, host.id, guest.id,
                    if spec.local().is_some() {
                        format!("at 127.0.0.1:{}", guest.ports.http)
                    } else {
                        format!("through the API server; NodePort {}", guest.ports.http)
                    }
                )
            })
            .collect();
        if kind != JobKind::Toy {
            actions.push(format!(
                "fail if the AUC is below --min-auc {}",
                ctx.opts.min_auc
            ));
        }
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}
