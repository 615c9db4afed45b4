//! `fatelab test`: a federated job (the toy job, or training) on the lab on record.

use std::collections::BTreeSet;

use anyhow::Result;
use serde_json::json;

use super::open::{lab_on_record, run_options, state_dir};
use super::print_stdout;
use crate::cli::{Cli, Output, TestArgs};
use crate::exit::usage;
use crate::host::lock::StateLock;
use crate::model::jobs::JobKind;
use crate::model::probe::ProbeReport;
use crate::steps::{advice, local_party_problems, party_health, probe, test};

pub async fn run(cli: &Cli, args: &TestArgs) -> Result<i32> {
    let mut opts = run_options(cli);
    opts.wait_timeout = args.timeout;
    opts.min_auc = args.min_auc;
    let Some(ctx) = lab_on_record(cli, opts)? else {
        return Err(usage(format!(
            "there is no lab on record in {}; create one with `fatelab up`",
            state_dir(cli).display()
        )));
    };
    let _lock = StateLock::acquire(&ctx.state_dir, "test")?;
    let spec = &ctx.spec;
    let pairs = test::pairs(&spec.parties, args.guest, args.host, true)?;
    let title = match args.job {
        JobKind::Toy => "Run FATE's toy federated job",
        JobKind::Lr => "Train a hetero logistic regression on the breast tables",
        JobKind::Sbt => "Train a hetero SecureBoost on the breast tables",
    };
    let line = ctx.ui.step(1, 1, title);
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
    let results = test::run_jobs(&ctx, args.job, &pairs).await?;
    let ok = results.iter().all(|r| r.success());
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
            serde_json::to_string_pretty(&json!({"ok": ok, "jobs": results, "probe": probed}))?
                + "\n"
        }
        Output::Text => {
            let mut text: String = results
                .iter()
                .map(|r| test::describe(&ctx, r) + "\n")
                .collect();
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
