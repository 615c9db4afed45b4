//! `fatelab test`: a federated job (the toy job, or training) on the lab on record.

use std::collections::BTreeSet;

use std::io::IsTerminal;

use anyhow::{Context, Result};
use serde_json::json;

use super::open::{lab_on_record, run_options, state_dir};
use super::print_stdout;
use crate::cli::{Cli, Output, TestArgs};
use crate::clients::fateflow::Curve;
use crate::exit::usage;
use crate::host::lock::StateLock;
use crate::model::dataset::{Dataset, parse};
use crate::model::jobs::JobKind;
use crate::model::probe::ProbeReport;
use crate::model::report::Report;
use crate::render::report::text_roc;
use crate::steps::{advice, local_party_problems, party_health, probe, test};

/// The user's tables (and where the report goes), read and checked before anything else
/// happens: a bad one is a usage error (exit 2) and nothing is sent.
fn own_data(args: &TestArgs) -> Result<Option<Dataset>> {
    if let Some(to) = &args.report {
        if args.job == JobKind::Toy {
            return Err(usage(
                "--report is the report of a training job: add --job lr or --job sbt",
            ));
        }
        let dir = to.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir.filter(|d| !d.is_dir()) {
            return Err(usage(format!(
                "--report {}: there is no directory {}",
                to.display(),
                dir.display()
            )));
        }
    }
    let (Some(g), Some(h)) = (&args.guest_data, &args.host_data) else {
        return Ok(None);
    };
    if args.job == JobKind::Toy {
        return Err(usage(
            "--guest-data and --host-data are tables to train on: add --job lr or --job sbt",
        ));
    }
    let read = |path: &std::path::Path, label: Option<&str>, forbidden: Option<&str>| {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| usage(format!("cannot read {shown}: {e}")))?;
        parse(&shown, &bytes, &args.id, label, forbidden).map_err(|e| usage(format!("{e:#}")))
    };
    let guest = read(g, Some(&args.label), None)?;
    let host = read(h, None, Some(&args.label))?;
    Dataset::pair(guest, host, true)
        .map(Some)
        .map_err(|e| usage(format!("{e:#}")))
}

pub async fn run(cli: &Cli, args: &TestArgs) -> Result<i32> {
    let data = own_data(args)?;
    let mut opts = run_options(cli);
    opts.wait_timeout = args.timeout;
    opts.min_auc = args.min_auc;
    opts.max_gap = args.max_gap;
    opts.data = data.map(std::sync::Arc::new);
    let Some(ctx) = lab_on_record(cli, opts)? else {
        return Err(usage(format!(
            "there is no lab on record in {}; create one with `fatelab up`",
            state_dir(cli).display()
        )));
    };
    let _lock = StateLock::acquire(&ctx.state_dir, "test")?;
    let spec = &ctx.spec;
    let pairs = test::pairs(&spec.parties, args.guest, args.host, true)?;
    let tables = if ctx.opts.data.is_some() {
        "your tables"
    } else {
        "the breast tables"
    };
    let title = match args.job {
        JobKind::Toy => "Run FATE's toy federated job".to_string(),
        JobKind::Lr => format!("Train a hetero logistic regression on {tables}"),
        JobKind::Sbt => format!("Train a hetero SecureBoost on {tables}"),
    };
    let line = ctx.ui.step(1, 1, &title);
    // The same meaning of healthy as `up` and `status`: a job on a broken party proves nothing.
    let ours: BTreeSet<u32> = pairs
        .iter()
        .flat_map(|(g, h)| [*g, *h])
        .filter(|id| spec.party(*id).is_some_and(|p| p.is_ours()))
        .collect();
    let mut sick = Vec::new();
    for id in ours {
        let party = spec.party(id).expect("pairs are parties");
        if spec.local().is_some() {
            let problems = local_party_problems(&ctx, party).await;
            if !problems.is_empty() {
                sick.push(format!("party {id}: {}", problems.join("; ")));
            }
            continue;
        }
        let health = party_health(&ctx, party).await?;
        if !health.is_healthy() {
            sick.push(format!("party {id}: {}", health.describe()));
        }
    }
    if !sick.is_empty() {
        line.failed();
        anyhow::bail!(
            "the lab is not healthy, so no job was submitted:\n  {}\n(`fatelab status` shows the lab; `fatelab up` mends what it can)",
            sick.join("\n  ")
        );
    }
    let ran = test::run_jobs(&ctx, args.job, &pairs).await?;
    let results = ran.results;
    let ok = results.iter().all(|r| r.success());
    let report = match &ran.report {
        Some((r, kept)) => {
            if let Some(to) = &args.report {
                std::fs::copy(kept, to)
                    .with_context(|| format!("writing the report to {}", to.display()))?;
            }
            Some((r, args.report.clone().unwrap_or_else(|| kept.clone()), kept))
        }
        None => None,
    };
    // A job that could not cross between parties: find the hop before the user has to.
    let crossing_failed = results.iter().any(|r| {
        r.error
            .as_deref()
            .is_some_and(|e| advice::fate_error(e).is_some())
    });
    let probed = if crossing_failed {
        Some(probe::probe(&ctx).await)
    } else {
        None
    };
    if ok {
        line.done()
    } else {
        line.failed()
    }
    let out = match cli.output {
        Output::Json => {
            serde_json::to_string_pretty(&json!({"ok": ok, "jobs": results, "probe": probed,
                "report": report.as_ref().map(|(_, path, _)| path.display().to_string())}))?
                + "\n"
        }
        Output::Text => {
            let mut text: String = results
                .iter()
                .map(|r| test::describe(&ctx, r) + "\n")
                .collect();
            if let Some((r, path, kept)) = &report {
                text += &glance(r);
                text += &format!("Report: {}", path.display());
                if path != *kept {
                    text += &format!(" (kept too as {})", kept.display());
                }
                text += "\n";
            }
            if let Some(p) = &probed {
                text += &format!(
                    "\nThe job did not cross between parties; {}",
                    probe_words(p)
                );
            }
            text
        }
    };
    print_stdout(&out)?;
    Ok(if ok { 0 } else { 1 })
}

/// The ROC curves as a small text plot on a wide terminal; one line of figures otherwise.
fn glance(r: &Report) -> String {
    let width = std::io::stdout()
        .is_terminal()
        .then(|| {
            console::Term::stdout()
                .size_checked()
                .map(|(_, w)| usize::from(w))
        })
        .flatten();
    let mut out = String::new();
    for j in &r.jobs {
        let fed = j.federated.as_ref();
        let central = j.centralized.as_ref().map(|c| Curve {
            x: c.fpr.clone(),
            y: c.tpr.clone(),
        });
        match width {
            Some(w) if w >= 72 && (fed.is_some_and(|f| f.roc.is_some()) || central.is_some()) => {
                out += &text_roc(fed.and_then(|f| f.roc.as_ref()), central.as_ref(), 48, 12);
            }
            _ => {
                let mut figures = Vec::new();
                if let Some(f) = fed {
                    figures.push(format!("federated AUC {:.4}", f.auc));
                    if let Some(ks) = f.ks {
                        figures.push(format!("KS {ks:.4}"));
                    }
                }
                if let Some(c) = &j.centralized {
                    figures.push(format!("centralized AUC {:.4}, KS {:.4}", c.auc(), c.ks()));
                }
                if let Some(d) = &j.result.data {
                    figures.push(format!(
                        "{} shared ids, {}+{} features",
                        d.shared_ids, d.guest.features, d.host.features
                    ));
                }
                if let Some(l) = j.loss.as_ref().and_then(|l| l.y.last()) {
                    figures.push(format!("final loss {l:.4}"));
                }
                out += &format!("{}\n", figures.join(" · "));
            }
        }
    }
    out
}

/// What the probe found, for a failed job: the failing hops, or that it found none.
fn probe_words(p: &ProbeReport) -> String {
    if p.ok {
        return "`fatelab probe` finds every hop working now (routes as declared, pods ready, \
                addresses accepting): the failure is past the federation's front door, in FATE's own logs \
                (`fatelab logs` collects them)\n"
            .into();
    }
    let mut out = "`fatelab probe` finds where:\n".to_string();
    for c in p.crossings.iter().filter(|c| !c.ok) {
        out += &format!("  {}", super::probe::broken(c, "    "));
    }
    out
}
