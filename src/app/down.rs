//! `fatelab down`: undo what `up` recorded, step by step in reverse, and nothing else; every wait
//! within `--timeout`. A part that cannot be undone now (the API server is gone, a delete job
//! outlasts the budget) stays on record, so a later `down` tries it again; the rest still goes.

use anyhow::{Result, bail};

use super::open::{open_record, run_options, state_dir};
use crate::cli::{Cli, DownArgs};
use crate::host::invoker::{may_write, with_sudo};
use crate::host::lock::StateLock;
use crate::host::{hosts_file, state};
use crate::model::record::LabRecord;
use crate::steps::{Outcome, for_target};
use crate::ui::Ui;

/// What the record says fatelab made, in words for the confirmation.
fn inventory(record: &LabRecord, purge: bool) -> Vec<String> {
    let mut what = Vec::new();
    if let Some(local) = &record.local {
        if !local.processes.is_empty() {
            let mut names: Vec<String> = local.processes.keys().cloned().collect();
            names.sort();
            what.push(format!(
                "the local lab's processes ({}), each stopped only if it is still the one fatelab started",
                names.join(", ")
            ));
        }
        what.push("the local lab's homes, broker data and logs".into());
        if purge && let Some(env) = &local.env {
            what.push(format!("FATE's packages in {}", env.display()));
        }
        return what;
    }
    if !record.clusters.is_empty() {
        what.push(format!(
            "{} FATE cluster(s) (through KubeFATE)",
            record.clusters.len()
        ));
    }
    if !record.namespaces.is_empty() {
        what.push(format!("namespaces {}", record.namespaces.join(", ")));
    }
    let made: Vec<String> = record
        .objects
        .iter()
        .filter(|o| o.created)
        .map(|o| o.describe())
        .collect();
    if !made.is_empty() {
        what.push(format!("the KubeFATE service ({})", made.join(", ")));
    } else if record.legacy_kubefate_applied() {
        what.push("the KubeFATE service (namespace kube-fate and its cluster-wide RBAC)".into());
    }
    if record.ingress_enabled_by_fatelab {
        what.push("the ingress addon fatelab enabled".into());
    }
    if let Some(h) = &record.hosts_file {
        what.push(format!("fatelab's block in {}", h.display()));
    }
    if purge {
        if record
            .minikube
            .as_ref()
            .is_some_and(|m| m.started_by_fatelab)
        {
            what.push("the minikube cluster fatelab started".into());
        }
        what.push("fatelab's download cache".into());
    }
    what
}

pub async fn run(cli: &Cli, args: &DownArgs) -> Result<()> {
    let dir = state_dir(cli);
    let ui = Ui::new(cli.yes, cli.verbose);
    let Some(record) = state::load(&dir)? else {
        ui.println(format!(
            "There is no lab to remove (no record in {}).",
            dir.display()
        ));
        return Ok(());
    };
    if let Some(h) = record.hosts_file.as_ref().filter(|h| h.exists())
        && !may_write(h)
        && std::fs::read(h).is_ok_and(|c| hosts_file::without_block(&c).is_ok_and(|b| b.is_some()))
    {
        return Err(crate::exit::usage(format!(
            "`down` removes fatelab's block from {} and that needs root; nothing was removed.\nRun: sudo {}",
            h.display(),
            with_sudo()
        )));
    }
    let _lock = StateLock::acquire(&dir, "down")?;
    let what = inventory(&record, args.purge);
    if !what.is_empty() && !ui.confirm(&format!("Remove {}?", what.join("; ")))? {
        bail!("nothing was removed");
    }

    let mut opts = run_options(cli);
    opts.purge = args.purge;
    opts.wait_timeout = args.timeout;
    opts.budget_ends = Some(tokio::time::Instant::now() + args.timeout);
    let ctx = open_record(cli, record, opts)?;
    let steps = for_target(&ctx.spec);
    let total = steps.len();
    let mut failures = Vec::new();
    for (i, step) in steps.iter().enumerate().rev() {
        let line = ui.step(total - i, total, &format!("Undo: {}", step.title()));
        match step.undo(&ctx, &line).await {
            Ok(Outcome::Done) => line.done(),
            Ok(Outcome::AlreadyDone(why)) => line.skipped(&why),
            Err(e) => {
                line.failed();
                failures.push(format!("{}: {e:#}", step.name()));
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "some of the lab could not be removed (it stays on record; run `fatelab down` again):\n  {}",
            failures.join("\n  ")
        );
    }
    state::remove(&dir)?;
    ui.println("The lab is removed.");
    Ok(())
}
