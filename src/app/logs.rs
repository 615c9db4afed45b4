//! `fatelab logs`: one `.tar.gz` to attach to a bug report — an index (what is inside and what
//! could not be had, and why), fatelab's version, the `status` and `doctor` documents, and what
//! [`crate::steps::collect`] gathers — with no secret of the lab's in it.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::open::{lab_on_record, run_options, state_dir};
use super::print_stdout;
use crate::cli::{Cli, LogsArgs, Output};
use crate::exit::usage;
use crate::host::bundle::Bundle;
use crate::host::credentials;
use crate::host::local_lab::LabDirs;
use crate::steps::{collect, preflight_report};

pub async fn run(cli: &Cli, args: &LogsArgs) -> Result<i32> {
    let Some(ctx) = lab_on_record(cli, run_options(cli))? else {
        return Err(usage(format!(
            "there is no lab on record in {}; `fatelab up` makes one",
            state_dir(cli).display()
        )));
    };
    let stamp = k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let name = format!("fatelab-logs-{stamp}");
    let out = args
        .output_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}.tar.gz")));
    // Every secret the lab has, to scrub wherever it turns up.
    let mut secrets = Vec::new();
    if let Ok(c) = credentials::load(&ctx.state_dir) {
        secrets.extend([c.kubefate_password, c.mariadb_password]);
    }
    if let Ok(p) = LabDirs::new(&ctx.state_dir).existing_password() {
        secrets.push(p);
    }
    let mut b = Bundle::new(&name, secrets);
    let line = ctx.ui.step(
        1,
        1,
        "Collect the lab's state, logs and records into one archive",
    );
    let started = std::time::Instant::now();
    line.note("asking the status and doctor questions");
    let record = ctx.record();
    let status = super::status::document(&ctx, &record).await;
    b.json(
        "status.json",
        &serde_json::to_value(&status)?,
        "`fatelab status --output json`",
    );
    let doctor = preflight_report(&ctx).await;
    b.json(
        "doctor.json",
        &serde_json::to_value(&doctor)?,
        "`fatelab doctor --output json` for the lab on record",
    );
    collect::collect(&ctx, &line, &mut b).await;
    let index = json!({
        "fatelab": env!("CARGO_PKG_VERSION"),
        "created": k8s_openapi::jiff::Timestamp::now().to_string(),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "lab": {"release": ctx.spec.release.release.clone(),
                "parties": ctx.spec.parties.iter().map(|p| p.id).collect::<Vec<_>>(),
                "local": ctx.spec.local().is_some()},
        "files": b.files.iter().map(|(p, bytes, what)| json!({"path": p, "bytes": bytes.len(), "what": what})).collect::<Vec<_>>(),
        "not_collected": b.missing.iter().map(|(what, why)| json!({"what": what, "why": why})).collect::<Vec<_>>(),
    });
    let mut md = format!(
        "# fatelab logs\n\nfatelab {} · {} · lab: release {}, parties {}\n\n## Inside\n\n",
        env!("CARGO_PKG_VERSION"),
        index["created"].as_str().unwrap_or_default(),
        ctx.spec.release.release,
        ctx.spec
            .parties
            .iter()
            .map(|p| p.id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (p, bytes, what) in &b.files {
        md += &format!("- `{p}` ({} bytes): {what}\n", bytes.len());
    }
    md += "\n## Not collected\n\n";
    if b.missing.is_empty() {
        md += "Everything was collected.\n";
    }
    for (what, why) in &b.missing {
        md += &format!("- {what}: {why}\n");
    }
    md += "\nPasswords and tokens of the lab are replaced by `***`; Secrets and kubeconfigs are not included.\n";
    b.json("index.json", &index, "this index, for scripts");
    b.text("INDEX.md", &md, "this index");
    let files = b.files.len();
    let size = b.write(&out)?;
    line.done();
    let took = started.elapsed().as_secs_f64();
    let text = match cli.output {
        Output::Json => {
            serde_json::to_string_pretty(&json!({
                "file": out, "bytes": size, "files": files, "seconds": took, "not_collected": index["not_collected"],
            }))? + "\n"
        }
        Output::Text => {
            let mut t = format!(
                "Wrote {} ({files} files, {:.1} KiB, in {took:.1}s): attach it to the issue.\n",
                out.display(),
                size as f64 / 1024.0
            );
            if !b.missing.is_empty() {
                t += &format!("Not collected ({}; the index says why):\n", b.missing.len());
                for (what, why) in &b.missing {
                    t += &format!("  {what}: {}\n", why.lines().next().unwrap_or(""));
                }
            }
            t
        }
    };
    print_stdout(&text)?;
    Ok(0)
}
