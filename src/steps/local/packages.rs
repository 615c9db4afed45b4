//! Step 2 of a local lab: FATE's Python packages, pinned, in one environment in the cache that
//! every lab reuses (3.2 GB to fetch the first time, torch's CUDA wheels included).

use anyhow::{Context, Result};

use super::super::{Ctx, Diff, Outcome, Step, StepPlan};
use super::{local_record, scheme};
use crate::host::python::{self, SharedEnv};
use crate::model::local::{DOWNLOAD_GB, FATE_VERSION, PACKAGES};
use crate::model::step::StepName;
use crate::ui::StepLine;

pub struct Packages;

fn env(ctx: &Ctx) -> SharedEnv {
    SharedEnv::in_cache(&ctx.opts.cache_dir)
}

fn listed() -> String {
    PACKAGES
        .iter()
        .map(|(n, v)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Step for Packages {
    type Observed = ();

    fn name(&self) -> StepName {
        StepName::Packages
    }

    fn title(&self) -> &'static str {
        "Install FATE's Python packages once, into the cache"
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<()>> {
        let env = env(ctx);
        if env.complete() {
            return Ok(Diff::none(format!(
                "FATE {FATE_VERSION}'s packages are in {}",
                env.dir.display()
            )));
        }
        Ok(Diff::new(
            vec![format!(
                "install {} into {} (about {DOWNLOAD_GB} GB to fetch the first time)",
                listed(),
                env.dir.display()
            )],
            "",
            (),
        ))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<()>) -> Result<()> {
        let env = env(ctx);
        if !diff.is_empty() {
            let py = python::find_python()
                .await
                .map_err(|e| anyhow::anyhow!(e))
                .context("the shared environment needs python3")?;
            line.note(format!(
                "pip installs {} into {}",
                listed(),
                env.dir.display()
            ));
            let sub = ctx.ui.sub_line("pip");
            // A line per file pip starts, and one every few seconds while it works on one.
            let last = std::sync::Mutex::new((String::new(), std::time::Instant::now()));
            let result = env
                .install(&py.path, ctx.opts.pypi_index.as_deref(), |p| {
                    let mut last = last.lock().expect("progress lock");
                    if p.current.is_empty()
                        || last.0 == p.current
                            && last.1.elapsed() < std::time::Duration::from_secs(5)
                    {
                        return;
                    }
                    *last = (p.current.clone(), std::time::Instant::now());
                    let secs = p.since.elapsed().as_secs();
                    sub.set(format!(
                        "{}: {} · {} files ({:.2} GB) so far · {}m{:02}s",
                        p.what,
                        p.current,
                        p.files,
                        p.bytes as f64 / 1e9,
                        secs / 60,
                        secs % 60
                    ))
                })
                .await;
            sub.clear();
            result?;
        }
        let base = scheme(ctx).base;
        let dir = env.dir.clone();
        ctx.update_record(|r| local_record(r, base).env = Some(dir))
    }

    /// The environment stays for the next lab; `down --purge` removes it.
    async fn undo(&self, ctx: &Ctx, _line: &StepLine) -> Result<Outcome> {
        // The environment this lab used, wherever the cache dir is now.
        let env = match ctx.record().local.and_then(|l| l.env) {
            Some(dir) => SharedEnv { dir },
            None => env(ctx),
        };
        if !ctx.opts.purge {
            return Ok(Outcome::AlreadyDone(format!(
                "FATE's packages stay in {} for the next lab (`down --purge` removes them)",
                env.dir.display()
            )));
        }
        match std::fs::remove_dir_all(&env.dir) {
            Ok(()) => Ok(Outcome::Done),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Outcome::AlreadyDone("no packages in the cache".into()))
            }
            Err(e) => Err(e).with_context(|| format!("removing {}", env.dir.display())),
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        Ok(StepPlan {
            actions: vec![format!(
                "unless present: a venv in {} with {} (pip, about {DOWNLOAD_GB} GB the first time; \
                 --pypi-index for a mirror), and FATE Flow's own copy beside it",
                env(ctx).dir.display(),
                listed()
            )],
            files: vec![],
        })
    }
}
