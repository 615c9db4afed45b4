//! `fatelab probe`: every ordered pair of the lab's parties, hop by hop, as a matrix (rows: from,
//! columns: to) with the first failing hop of each broken crossing and its fix.

use anyhow::Result;

use super::open::{lab_on_record, run_options, state_dir};
use super::print_stdout;
use crate::cli::{Cli, Output};
use crate::exit::usage;
use crate::model::probe::{Crossing, ProbeReport};
use crate::steps::probe;

pub async fn run(cli: &Cli) -> Result<i32> {
    let Some(ctx) = lab_on_record(cli, run_options(cli))? else {
        return Err(usage(format!(
            "there is no lab on record in {}; create one with `fatelab up`",
            state_dir(cli).display()
        )));
    };
    let line = ctx
        .ui
        .step(1, 1, "Probe the federation between every pair of parties");
    let report = probe::probe(&ctx).await;
    if report.ok {
        line.done()
    } else {
        line.failed()
    }
    let out = match cli.output {
        Output::Json => serde_json::to_string_pretty(&report)? + "\n",
        Output::Text => matrix(&report),
    };
    print_stdout(&out)?;
    Ok(if report.ok { 0 } else { 1 })
}

/// The matrix, then each broken crossing's problem and fix, numbered as in its cell.
pub fn matrix(r: &ProbeReport) -> String {
    let width = r
        .parties
        .iter()
        .map(|p| p.to_string().len())
        .max()
        .unwrap_or(0)
        .max(5)
        + 2;
    let mut out = format!(
        "Federation through {}, as each party's own {} sees it:\n\n  {:<w$}",
        r.via,
        if r.via == "rabbitmq" {
            "FATE Flow"
        } else {
            r.via.as_str()
        },
        "from\\to",
        w = width + 3
    );
    for to in &r.parties {
        out += &format!("{to:<width$}");
    }
    out = out.trim_end().to_string() + "\n";
    let mut notes = Vec::new();
    for from in &r.parties {
        out += &format!("  {from:<w$}", w = width + 3);
        if !r.probed.contains(from) {
            out += "(another organisation's party: not probed from here)\n";
            continue;
        }
        for to in &r.parties {
            let cell = match r.crossing(*from, *to) {
                None => "·".to_string(),
                Some(c) if c.ok => "✓".to_string(),
                Some(c) => {
                    notes.push(c);
                    format!("✗{}", notes.len())
                }
            };
            out += &format!("{cell:<width$}");
        }
        out = out.trim_end().to_string() + "\n";
    }
    out += "\n";
    if notes.is_empty() {
        out +=
            "Every crossing works: each route as declared, each pod ready, each address accepts.\n";
    }
    for (i, c) in notes.iter().enumerate() {
        out += &format!("✗{} {}", i + 1, broken(c, "   "));
    }
    out
}

/// A broken crossing in words, its fix on the next line after `indent`.
pub(super) fn broken(c: &Crossing, indent: &str) -> String {
    format!(
        "{} → {}: {}\n{indent}fix: {}\n",
        c.from,
        c.to,
        c.problem.as_deref().unwrap_or_default(),
        c.fix.as_deref().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::probe::Hop;

    #[test]
    fn the_matrix_numbers_each_broken_crossing() {
        let r = ProbeReport::new(
            "rollsite",
            vec![9999, 10000, 10001],
            vec![9999, 10000],
            vec![
                Crossing::passed(9999, 10000),
                Crossing::failed(
                    9999,
                    10001,
                    Hop::Route,
                    "9999's rollsite has no route to 10001".into(),
                    "run up".into(),
                ),
                Crossing::passed(10000, 9999),
                Crossing::passed(10000, 10001),
            ],
        );
        let text = matrix(&r);
        assert!(text.contains("  9999      ·      ✓      ✗1\n"), "{text}");
        assert!(text.contains("✗1 9999 → 10001: 9999's rollsite has no route to 10001"));
        assert!(text.contains("  10001     (another organisation's party"));
        assert!(!r.ok);
    }
}
