//! What a step that checks does with its report (host checks on minikube, cluster checks on
//! existing clusters): failures that stop `up` are the diff's blockers, so `--dry-run` says what
//! will fail; converging says the warnings and stops on a failure.

use anyhow::{Result, bail};

use super::{Ctx, Diff};
use crate::checks::{Check, Report, Status};
use crate::ui::StepLine;

/// What `up` says of a check that does not stop it, if anything.
fn note(ctx: &Ctx, c: &Check) -> Option<String> {
    let ignored = ctx.opts.ignore_checks.iter().any(|n| n == c.name);
    match c.status {
        Status::Pass => None,
        Status::Fail if !(c.fixed_by_up || ignored) => None,
        _ if c.fixed_by_up => Some(format!(
            "{}: {} (a later step of up takes care of it)",
            c.name, c.detail
        )),
        _ => Some(format!(
            "{}{}: {}{}",
            if ignored && c.status == Status::Fail {
                "ignored failure "
            } else {
                "warning "
            },
            c.name,
            c.detail,
            c.fix
                .as_ref()
                .map(|f| format!(" (fix: {f})"))
                .unwrap_or_default()
        )),
    }
}

/// The checks that stop `up`, each with its fix, in words.
pub fn blockers(ctx: &Ctx, report: &Report) -> Vec<String> {
    report
        .blocking(&ctx.opts.ignore_checks)
        .iter()
        .map(|c| {
            format!(
                "{}: {}\n    fix: {}",
                c.name,
                c.detail,
                c.fix.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

/// Whether the checks let `up` go on, and what it says when they do not.
pub fn verdict(ctx: &Ctx, report: Report, what: &str) -> Diff<Report> {
    let blockers = blockers(ctx, &report);
    let mut diff = Diff::new(Vec::new(), format!("{what} pass the checks"), report);
    diff.blockers = blockers;
    diff
}

/// Says the warnings, then stops `up` on a failure (a missing root with the command under sudo).
pub fn converge_checks(ctx: &Ctx, line: &StepLine, diff: Diff<Report>, what: &str) -> Result<()> {
    for said in diff.observed.checks.iter().filter_map(|c| note(ctx, c)) {
        line.say(said);
    }
    let blocking = diff.observed.blocking(&ctx.opts.ignore_checks);
    if let Some(p) = blocking.iter().find(|c| c.name == "privileges") {
        return Err(crate::exit::usage(format!(
            "minikube's none driver needs root here ({}); nothing was changed.\nRun: sudo {}",
            p.detail,
            crate::host::invoker::with_sudo()
        )));
    }
    if !diff.blockers.is_empty() {
        let doctor = if ctx.spec.local().is_some() {
            "fatelab doctor --local"
        } else {
            "fatelab doctor"
        };
        bail!(
            "{what} not ready; nothing was changed:\n  {}\n(run `{doctor}` for the full report; \
             --ignore-check NAME turns a failure into a warning)",
            diff.blockers.join("\n  ")
        );
    }
    Ok(())
}

/// The plan's words for the peers' check, on either target.
pub fn peer_plan(ctx: &Ctx) -> Vec<String> {
    ctx.spec
        .parties
        .iter()
        .filter(|p| !p.is_ours())
        .map(|p| {
            format!(
                "party {} (another organisation's) answers on TCP at {}:{} from this host (a warning if not: the route may still work from inside the cluster); its side runs `{}`",
                p.id,
                ctx.spec.address(p),
                p.ports.rollsite,
                ctx.spec.other_side(p)
            )
        })
        .collect()
}
