//! `fatelab status`: one round of parallel questions about the lab on record (`--watch`: the
//! report kept on screen). JSON output follows docs/status.schema.json, generated from
//! [`StatusReport`].

mod local;
mod report;
mod text;
mod watch;

use anyhow::Result;

use super::open::{lab_on_record, run_options, state_dir};
use super::print_stdout;
use crate::cli::{Cli, Output, StatusArgs};
use crate::exit;
use crate::model::status::StatusReport;

pub async fn run(cli: &Cli, args: &StatusArgs) -> Result<i32> {
    let Some(ctx) = lab_on_record(cli, run_options(cli))? else {
        let out = match cli.output {
            Output::Json => render(&StatusReport::no_lab(), cli.output)?,
            Output::Text => format!(
                "There is no lab (no record in {}). Create one with `fatelab up`.\n",
                state_dir(cli).display()
            ),
        };
        print_stdout(&out)?;
        return Ok(exit::NO_LAB);
    };
    let record = ctx.record();
    if args.watch {
        return watch::run(cli.output, args, &ctx, &record).await;
    }
    let report = report::report(&ctx, &record, args.show_credentials).await;
    print_stdout(&render(&report, cli.output)?)?;
    Ok(code(&report))
}

/// The `status --output json` document of the lab on record (for `fatelab logs`).
pub async fn document(
    ctx: &crate::steps::Ctx,
    record: &crate::model::record::LabRecord,
) -> StatusReport {
    report::report(ctx, record, false).await
}

/// 0 when the lab is healthy, 1 when not.
fn code(report: &StatusReport) -> i32 {
    if report.healthy { 0 } else { 1 }
}

/// The report as `status` prints it: JSON for scripts, text for people.
fn render(report: &StatusReport, output: Output) -> Result<String> {
    Ok(match output {
        Output::Json => serde_json::to_string_pretty(report)? + "\n",
        Output::Text => text::text(report),
    })
}
