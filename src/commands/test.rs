//! `fatelab test`: a federated job (the toy job, or training) on the lab on record.

use anyhow::Result;
use serde_json::json;

use super::{ctx_from_record, print_stdout, run_options, spec_from_record, state_dir};
use crate::cli::{Cli, Output, TestArgs, VersionArgs};
use crate::exit::usage;
use crate::state::{LabRecord, StateLock};
use crate::steps::smoke;

pub async fn run(cli: &Cli, args: &TestArgs) -> Result<i32> {
    let Some(record) = LabRecord::load(&state_dir(cli))? else {
        return Err(usage(format!(
            "there is no lab on record in {}; create one with `fatelab up`",
            state_dir(cli).display()
        )));
    };
    let spec = spec_from_record(&record, &state_dir(cli))?;
    let _lock = StateLock::acquire(&state_dir(cli), "test")?;
    let mut opts = run_options(
        cli,
        &VersionArgs {
            minikube_version: None,
            kubernetes_version: None,
        },
    );
    opts.wait_timeout = args.timeout;
    opts.min_auc = args.min_auc;
    let ctx = ctx_from_record(cli, &spec, record, opts);
    let pairs = smoke::pairs(&spec.parties, args.guest, args.host, true)?;
    let title = match args.job {
        smoke::JobKind::Toy => "Run FATE's toy federated job",
        smoke::JobKind::Lr => "Train a hetero logistic regression on the breast tables",
        smoke::JobKind::Sbt => "Train a hetero SecureBoost on the breast tables",
    };
    let line = ctx.ui.step(1, 1, title);
    // The same meaning of healthy as `up` and `status`: a job on a broken party proves nothing.
    let mut sick = Vec::new();
    for id in pairs
        .iter()
        .flat_map(|(g, h)| [*g, *h])
        .filter(|id| spec.party(*id).is_some_and(|p| p.is_ours()))
        .collect::<std::collections::BTreeSet<_>>()
    {
        let party = spec
            .parties
            .iter()
            .find(|p| p.id == id)
            .expect("pairs are parties");
        let health = crate::steps::party_health(&ctx, party).await?;
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
    let results = smoke::run_jobs(&ctx, args.job, &pairs).await?;
    let ok = results.iter().all(|r| r.success());
    if ok {
        line.done()
    } else {
        line.failed()
    }
    let out = match cli.output {
        Output::Json => serde_json::to_string_pretty(&json!({"ok": ok, "jobs": results}))? + "\n",
        Output::Text => results
            .iter()
            .map(|r| smoke::describe(&ctx, r) + "\n")
            .collect(),
    };
    print_stdout(&out)?;
    Ok(if ok { 0 } else { 1 })
}
