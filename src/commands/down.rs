//! `fatelab down`: undo what `up` recorded, in reverse order, and nothing else.
//! A part that cannot be undone now (say, the API server is gone) stays on record, so a later
//! `down` tries it again; the rest still goes.

use anyhow::{Result, bail};

use super::{ctx_from_record, run_options, spec_from_record, state_dir};
use crate::cli::{Cli, DownArgs, VersionArgs};
use crate::clients::minikube::{self, Minikube};
use crate::state::{self, LabRecord, StateLock};
use crate::steps::{Outcome, up_steps};
use crate::ui::Ui;

/// What the record says fatelab made, in words for the confirmation.
fn inventory(record: &LabRecord, purge: bool) -> Vec<String> {
    let mut what = Vec::new();
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
    let state_dir = state_dir(cli);
    let ui = Ui::new(cli.yes, cli.verbose);
    let Some(record) = LabRecord::load(&state_dir)? else {
        ui.println(format!(
            "There is no lab to remove (no record in {}).",
            state_dir.display()
        ));
        return Ok(());
    };
    if let Some(h) = record.hosts_file.as_ref().filter(|h| h.exists())
        && !super::may_write(h)
        && std::fs::read(h)
            .is_ok_and(|c| crate::hosts_file::without_block(&c).is_ok_and(|b| b.is_some()))
    {
        return Err(crate::exit::usage(format!(
            "`down` removes fatelab's block from {} and that needs root; nothing was removed.\nRun: sudo {}",
            h.display(),
            super::with_sudo()
        )));
    }
    let _lock = StateLock::acquire(&state_dir, "down")?;
    let what = inventory(&record, args.purge);
    if !what.is_empty() && !ui.confirm(&format!("Remove {}?", what.join("; ")))? {
        bail!("nothing was removed");
    }

    let spec = spec_from_record(&record, &state_dir)?;
    let opts = run_options(
        cli,
        &VersionArgs {
            minikube_version: None,
            kubernetes_version: None,
        },
    );
    let ctx = ctx_from_record(cli, &spec, record.clone(), opts);
    let steps = up_steps();
    let total = steps.len();
    let mut failures = Vec::new();
    for (i, step) in steps.iter().enumerate().rev() {
        let info = step.info();
        let line = ui.step(total - i, total, &format!("Undo: {}", step.title(&ctx)));
        match step.undo(&ctx, &line).await {
            Ok(Outcome::Done) => line.done(),
            Ok(Outcome::AlreadyDone(why)) => line.skipped(&why),
            Err(e) => {
                line.failed();
                failures.push(format!("{}: {e:#}", info.name));
            }
        }
    }

    let record = ctx.record.lock().expect("record lock").clone();
    if args.purge {
        if let Some(m) = record.minikube.as_ref().filter(|m| m.started_by_fatelab) {
            let line = ui.step(total, total, "Delete the minikube cluster");
            let out = Minikube::new(m.path.clone(), &m.homes).delete().await?;
            if out.success() {
                line.done();
            } else {
                line.failed();
                let advice = crate::steps::minikube_advice::advise(
                    &out,
                    &minikube::parse_semver(&m.version)?,
                );
                failures.push(format!(
                    "minikube delete ({}): {}",
                    advice.reason,
                    out.combined().trim()
                ));
            }
        }
        let cache = state_dir.join("cache");
        if cache.exists() {
            std::fs::remove_dir_all(&cache)?;
        }
        let _ = std::fs::remove_dir_all(state::bin_dir(&state_dir));
    }
    if !failures.is_empty() {
        bail!(
            "some of the lab could not be removed (it stays on record; run `fatelab down` again):\n  {}",
            failures.join("\n  ")
        );
    }
    LabRecord::remove(&state_dir)?;
    ui.println("The lab is removed.");
    Ok(())
}
