//! `fatelab hosts`: the lab's host names for the browser machine (the tutorial's second machine).

use anyhow::Result;
use serde_json::json;

use super::open::lab_spec;
use super::print_stdout;
use crate::cli::{Cli, HostsArgs, Output};
use crate::render::hosts;

pub fn run(cli: &Cli, args: &HostsArgs) -> Result<()> {
    let spec = lab_spec(&args.lab)?;
    if spec.local().is_some() {
        return Err(crate::exit::usage(
            "a lab of local processes has no host names: each party's FATE Flow is at 127.0.0.1 \
             (`fatelab status` lists the ports)",
        ));
    }
    if matches!(spec.ip_source, crate::model::spec::IpSource::Pending) {
        return Err(crate::exit::usage(
            "on an existing cluster the names resolve to a node's address: give it with --ip",
        ));
    }
    let entries = hosts::entries(&spec);
    let lines: Vec<String> = entries.iter().map(|(ip, h)| format!("{ip} {h}")).collect();
    let out = match cli.output {
        Output::Json => {
            serde_json::to_string_pretty(&json!({
                "lines": lines,
                "entries": entries.iter().map(|(ip, host)| json!({"ip": ip, "host": host})).collect::<Vec<_>>(),
            }))? + "\n"
        }
        Output::Text => {
            let body = lines.join("\n");
            format!(
                "# Add these lines to the hosts file of the machine whose browser opens the notebooks\n\
                 # and FATE Boards (fatelab writes them on the lab host itself).\n\
                 {body}\n\
                 \n\
                 # Linux or macOS:\n\
                 sudo sh -c 'cat >> /etc/hosts' <<'EOF'\n{body}\nEOF\n\
                 \n\
                 # Windows: run Notepad as administrator, open C:\\Windows\\System32\\drivers\\etc\\hosts,\n\
                 # paste the lines above at the end, and save.\n"
            )
        }
    };
    print_stdout(&out)
}
