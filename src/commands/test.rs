//! `fatelab test`: FATE's toy federated job on the lab on record.

use anyhow::Result;
use serde_json::json;

use super::{ctx_from_record, print_stdout, run_options, spec_from_record, state_dir};
use crate::cli::{Cli, Output, TestArgs, VersionArgs};
use crate::exit::usage;
use crate::state::LabRecord;
use crate::steps::smoke;

pub async fn run(cli: &Cli, args: &TestArgs) -> Result<i32> {
    let Some(record) = LabRecord::load(&state_dir(cli))? else {
        return Err(usage(format!(
            "there is no lab on record in {}; create one with `fatelab up`",
            state_dir(cli).display()
        )));
    };
    let spec = spec_from_record(&record)?;
    let mut opts = run_options(&VersionArgs {
        minikube_version: None,
        kubernetes_version: None,
    });
    opts.wait_timeout = args.timeout;
    let ctx = ctx_from_record(cli, &spec, record, opts);
    let pairs = smoke::pairs(&spec.parties, args.guest, args.host)?;
    let line = ctx.ui.step(1, 1, "Run FATE's toy federated job");
    let results = smoke::run_jobs(&ctx, &pairs, &line).await?;
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
