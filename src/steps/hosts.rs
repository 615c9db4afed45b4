//! Step 4: host names for the browser, in one block of the hosts file that fatelab owns (on an
//! existing cluster, only in a file the user names).

use anyhow::{Context, Result};

use super::{Ctx, Diff, Outcome, Step, StepPlan};
use crate::host::hosts_file;
use crate::model::step::StepName;
use crate::render::{RenderedFile, hosts};
use crate::ui::StepLine;

pub struct HostsFile {
    pub title: &'static str,
}

impl HostsFile {
    pub const ON_MINIKUBE: HostsFile = HostsFile {
        title: "Add the lab's host names to the hosts file",
    };
    pub const ON_EXISTING: HostsFile = HostsFile {
        title: "Add the lab's host names to a hosts file (only with --hosts-file)",
    };
}

/// Why there is no file: an existing cluster's names are the user's DNS to give.
const NO_FILE: &str = "skipped: the lab is on an existing cluster, whose host names are not this host's to set (--hosts-file PATH writes them into a file)";

impl Step for HostsFile {
    type Observed = ();

    fn name(&self) -> StepName {
        StepName::Hosts
    }

    fn title(&self) -> &'static str {
        self.title
    }

    fn watched(&self) -> bool {
        true
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<()>> {
        let Some(path) = &ctx.hosts_file else {
            return Ok(Diff::none(NO_FILE));
        };
        let current = match std::fs::read(path) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let wanted = hosts_file::with_block(&current, &hosts::block(&ctx.spec))?;
        let changes = if wanted == current {
            Vec::new()
        } else {
            vec![format!("write the lab's names into {}", path.display())]
        };
        Ok(Diff::new(
            changes,
            format!("{} already has the lab's names", path.display()),
            (),
        ))
    }

    async fn converge(&self, ctx: &Ctx, _line: &StepLine, diff: Diff<()>) -> Result<()> {
        let Some(path) = &ctx.hosts_file else {
            return Ok(());
        };
        // Record first: if the write is interrupted, `down` still knows where to look.
        ctx.update_record(|r| r.hosts_file = Some(path.clone()))?;
        if diff.is_empty() {
            return Ok(());
        }
        let block = hosts::block(&ctx.spec);
        hosts_file::update(path, |c| hosts_file::with_block(c, &block).map(Some)).with_context(
            || {
                format!(
                    "updating {} (fatelab needs root to write it; or pass --hosts-file)",
                    path.display()
                )
            },
        )?;
        Ok(())
    }

    async fn undo(&self, ctx: &Ctx, _line: &StepLine) -> Result<Outcome> {
        let Some(path) = ctx.record().hosts_file else {
            return Ok(Outcome::AlreadyDone("fatelab wrote no hosts file".into()));
        };
        if !path.exists() {
            return Ok(Outcome::AlreadyDone(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let changed = hosts_file::update(&path, hosts_file::without_block)
            .with_context(|| format!("removing fatelab's block from {}", path.display()))?;
        ctx.update_record(|r| r.hosts_file = None)?;
        Ok(if changed {
            Outcome::Done
        } else {
            Outcome::AlreadyDone(format!("{} has no fatelab block", path.display()))
        })
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let file = RenderedFile {
            name: "hosts.txt".into(),
            contents: hosts::block(&ctx.spec),
        };
        let Some(path) = &ctx.hosts_file else {
            return Ok(StepPlan {
                actions: vec![NO_FILE.into()],
                files: vec![file],
            });
        };
        let entries = hosts::entries(&ctx.spec);
        let names: Vec<_> = entries.iter().map(|(_, h)| h.as_str()).collect();
        Ok(StepPlan {
            actions: vec![
                format!(
                    "write one marked block into {} (atomic, locked, everything outside the block kept): {} → {}",
                    path.display(),
                    names.join(", "),
                    ctx.spec.ip
                ),
                "fatelab's own calls go through the API server, so they never depend on these names".into(),
            ],
            files: vec![file],
        })
    }
}
