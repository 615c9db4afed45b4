//! `fatelab doctor`: every host check, each with what was found and how to fix it.

use anyhow::Result;

use super::{lab_spec, print_stdout, run_options, state_dir};
use crate::catalog::UrlBases;
use crate::cli::{Cli, DEFAULT_CHART_REPO, DEFAULT_GITHUB, DoctorArgs, Output};
use crate::state::LabRecord;
use crate::steps::Ctx;
use crate::ui::Ui;

/// Exit 0 when no check fails, 1 otherwise.
pub async fn run(cli: &Cli, args: &DoctorArgs) -> Result<i32> {
    let mut spec = lab_spec(&args.lab)?;
    crate::target::resolve_addresses(&mut spec, cli.call_timeout).await?;
    let ctx = Ctx::new(
        &spec,
        UrlBases {
            github: DEFAULT_GITHUB.into(),
            chart_repo: DEFAULT_CHART_REPO.into(),
        },
        state_dir(cli),
        super::hosts_file(None, &spec),
        run_options(cli, &args.versions),
        Ui::new(cli.yes, cli.verbose),
        LabRecord::default(),
    );
    // The checks `up` makes first: the host's, or each existing cluster's; the peers' for both.
    let report = crate::steps::preflight_report(&ctx).await;
    let out = match cli.output {
        Output::Text => report.to_text(),
        Output::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    print_stdout(&out)?;
    Ok(if report.ok { 0 } else { 1 })
}
