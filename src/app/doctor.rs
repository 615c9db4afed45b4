//! `fatelab doctor`: every check `up` makes first, each with what was found and how to fix it.

use anyhow::Result;

use super::open::{default_urls, hosts_file, lab_spec, run_options, state_dir};
use super::print_stdout;
use crate::checks::cluster::facts::resolve_addresses;
use crate::cli::{Cli, DoctorArgs, Output};
use crate::model::record::LabRecord;
use crate::steps::{Ctx, preflight_report};
use crate::ui::Ui;

/// Exit 0 when no check fails, 1 otherwise.
pub async fn run(cli: &Cli, args: &DoctorArgs) -> Result<i32> {
    let mut spec = lab_spec(&args.lab)?;
    resolve_addresses(&mut spec, cli.call_timeout).await?;
    let mut opts = run_options(cli);
    opts.minikube_version = args.versions.minikube_version.clone();
    opts.kubernetes_version = args.versions.kubernetes_version.clone();
    let hosts = hosts_file(None, &spec);
    // A local lab's own processes hold its ports: the record says which are fatelab's.
    let record = match spec.local() {
        Some(_) => crate::host::state::load(&state_dir(cli))?
            .filter(|r| r.local.is_some())
            .unwrap_or_default(),
        None => LabRecord::default(),
    };
    let ctx = Ctx::new(
        spec,
        default_urls(),
        state_dir(cli),
        hosts,
        opts,
        Ui::new(cli.yes, cli.verbose),
        record,
    );
    // The checks `up` makes first: the host's, or each existing cluster's; the peers' for both.
    let report = preflight_report(&ctx).await;
    let out = match cli.output {
        Output::Text => report.to_text(),
        Output::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    print_stdout(&out)?;
    Ok(if report.ok { 0 } else { 1 })
}
