//! Step 1 of a local lab: check the host (python3 with venv, RabbitMQ, nginx, free ports, disk,
//! memory), and offer to install the missing Debian packages.

use anyhow::{Result, bail};

use super::super::gate::{converge_checks, verdict};
use super::super::{Ctx, Diff, Step, StepPlan};
use super::{recorded_all, scheme, strays};
use crate::checks::Report;
use crate::checks::local::{self as local_checks, LocalFacts};
use crate::host::process;
use crate::host::python::SharedEnv;
use crate::host::{facts, local_lab, python};
use crate::model::step::StepName;
use crate::ui::StepLine;

pub struct LocalChecks;

/// Every port the lab takes: its own, then each party's.
fn ports(ctx: &Ctx) -> Vec<u16> {
    let s = scheme(ctx);
    let mut all = vec![s.epmd(), s.proxy()];
    for i in 0..ctx.spec.parties.len() {
        let p = s.party(i);
        all.extend([p.http, p.grpc, p.amqp, p.management, p.dist]);
    }
    all
}

pub async fn gather(ctx: &Ctx) -> LocalFacts {
    // A port a process of the lab's own holds is not in the way: one it started (a recorded
    // process whose group is still there, or one an interrupted run left unrecorded), which
    // `up` stops or keeps.
    let mut known = recorded_all(ctx, |_| true);
    known.extend(strays(ctx));
    let ours = process::left_of_all(&known);
    let busy = facts::busy_ports(&ports(ctx));
    let mut holders = process::listeners(&busy);
    let busy = busy
        .into_iter()
        .filter_map(|port| {
            let pids = holders.remove(&port).unwrap_or_default();
            let held_by_us = !pids.is_empty() && pids.iter().all(|pid| ours.contains(pid));
            (!held_by_us).then(|| (port, pids.into_iter().map(process::describe).collect()))
        })
        .collect();
    let env = SharedEnv::in_cache(&ctx.opts.cache_dir);
    LocalFacts {
        python: python::find_python().await,
        programs: local_lab::programs(),
        busy,
        cache: (
            ctx.opts.cache_dir.clone(),
            facts::free_bytes(&ctx.opts.cache_dir),
        ),
        env_ready: env.complete(),
        memory_mib: facts::host_size().ok().map(|h| h.memory_mib),
        parties: ctx.spec.parties.len(),
        root: facts::is_root(),
    }
}

/// The checks of `fatelab doctor --local`.
pub async fn report(ctx: &Ctx) -> Report {
    Report::new(local_checks::judge(&gather(ctx).await))
}

impl Step for LocalChecks {
    type Observed = Report;

    fn name(&self) -> StepName {
        StepName::Preflight
    }

    fn title(&self) -> &'static str {
        "Check the host: python3 with venv, RabbitMQ, nginx, free ports, disk, memory"
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Report>> {
        Ok(verdict(
            ctx,
            report(ctx).await,
            "python, RabbitMQ, nginx, ports, disk and memory",
        ))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Report>) -> Result<()> {
        let facts = gather(ctx).await;
        let missing = local_checks::missing_packages(&facts);
        if missing.is_empty() || !ctx.ui.can_ask() {
            return converge_checks(ctx, line, diff, "this host is");
        }
        let command = local_checks::install_command(&missing, facts.root);
        if !facts.root && !crate::host::facts::passwordless_sudo().await && !ctx.ui.yes {
            line.say(format!("this needs: {command}"));
        }
        if !ctx.ui.confirm(&format!(
            "The local lab needs the Debian packages {}. Install them now ({command})?",
            missing.join(", ")
        ))? {
            bail!(
                "nothing was changed; install them with `{command}`, then run `fatelab up --local` again"
            );
        }
        line.note(format!("running {command}"));
        let mut words = command.split_whitespace();
        let program = words.next().expect("a command");
        let out = tokio::process::Command::new(program)
            .args(words)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null())
            .output()
            .await?;
        if !out.status.success() {
            bail!(
                "`{command}` failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let again = Report::new(local_checks::judge(&gather(ctx).await));
        converge_checks(ctx, line, verdict(ctx, again, "this host"), "this host is")
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let s = scheme(ctx);
        Ok(StepPlan {
            actions: vec![
                "python3 3.8 or newer, with venv".into(),
                format!(
                    "RabbitMQ ({}) and nginx ({}), Debian's packages: offered to be installed (after a yes) when missing",
                    local_checks::DEBIAN_PACKAGES[0],
                    local_checks::DEBIAN_PACKAGES[1]
                ),
                format!(
                    "ports free on 127.0.0.1: {}-{}",
                    s.base,
                    s.last(ctx.spec.parties.len()).unwrap_or(u16::MAX)
                ),
                format!(
                    "disk: about {:.0} GB in the cache dir for FATE's packages, unless installed",
                    crate::model::local::ENV_DISK_GB
                ),
                format!(
                    "memory: about {} MiB for a training job",
                    crate::model::local::memory_needed_mib(ctx.spec.parties.len())
                ),
            ],
            files: vec![],
        })
    }
}
