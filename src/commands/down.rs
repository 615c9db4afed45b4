//! `fatelab down`: undo what `up` recorded, in reverse order, and nothing else.

use anyhow::{Result, bail};

use super::{run_options, spec_from_record, state_dir};
use crate::catalog::UrlBases;
use crate::cli::{Cli, DEFAULT_CHART_REPO, DEFAULT_GITHUB, DownArgs, VersionArgs};
use crate::clients::minikube::{self, Minikube};
use crate::state::LabRecord;
use crate::steps::{Ctx, Outcome, up_steps};
use crate::ui::Ui;

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
    let purge_minikube = args.purge
        && record
            .minikube
            .as_ref()
            .is_some_and(|m| m.started_by_fatelab);
    let mut what = Vec::new();
    if let Some(h) = &record.hosts_file {
        what.push(format!("fatelab's block in {}", h.display()));
    }
    if purge_minikube {
        what.push("the minikube cluster fatelab started".to_string());
    }
    if !what.is_empty() && !ui.confirm(&format!("Remove {}?", what.join(" and ")))? {
        bail!("nothing was removed");
    }

    let spec = spec_from_record(&record)?;
    let ctx = Ctx::new(
        &spec,
        UrlBases {
            github: DEFAULT_GITHUB.into(),
            chart_repo: DEFAULT_CHART_REPO.into(),
        },
        state_dir.clone(),
        record
            .hosts_file
            .clone()
            .unwrap_or_else(|| "/etc/hosts".into()),
        run_options(&VersionArgs {
            minikube_version: None,
            kubernetes_version: None,
        }),
        ui.clone(),
        record.clone(),
    );
    let steps = up_steps();
    let total = steps.len();
    for (i, step) in steps.iter().enumerate().rev() {
        let line_title = format!("Undo: {}", step.info().title);
        let line = ui.step(total - i, total, &line_title);
        let result = match step.undo(&ctx, &line) {
            None => None,
            Some(fut) => Some(fut.await),
        };
        match result {
            None => line.skipped("nothing to remove"),
            Some(Ok(Outcome::Done)) => line.done(),
            Some(Ok(Outcome::AlreadyDone(why))) => line.skipped(&why),
            Some(Err(e)) => {
                line.failed();
                return Err(e);
            }
        }
    }
    if purge_minikube && let Some(m) = &record.minikube {
        let line = ui.step(total, total, "Delete the minikube cluster");
        let out = Minikube::new(m.path.clone(), &m.homes).delete().await?;
        if !out.success() {
            line.failed();
            let advice = minikube::advise(&out, &minikube::parse_semver(&m.version)?);
            bail!(
                "`minikube delete` failed ({}): {}",
                advice.reason,
                out.combined().trim()
            );
        }
        line.done();
    }
    LabRecord::remove(&state_dir)?;
    ui.println("The lab is removed.");
    Ok(())
}
