//! Step 5: the release package, the KubeFATE service image and the chart, downloaded once.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::{Ctx, Diff, Step, StepFuture, StepInfo, StepPlan};
use crate::catalog::Artifact;
use crate::clients::download;
use crate::state;
use crate::ui::StepLine;

pub struct Artifacts;

/// Where an artifact is (or will be): the user's `--artifacts-dir` copy if present, else the cache.
pub fn local_path(ctx: &Ctx, a: &Artifact) -> PathBuf {
    if let Some(dir) = &ctx.opts.artifacts_dir {
        let p = dir.join(&a.file);
        if p.is_file() {
            return p;
        }
    }
    state::cache_dir(&ctx.state_dir, &ctx.spec.release.release).join(&a.file)
}

/// The chart is only a fallback for a service that cannot reach its chart repository.
fn required(a: &Artifact) -> bool {
    a.name != "chart"
}

/// The artifacts that are missing, or whose cached copy does not match the catalog's digest.
async fn observe(ctx: &Ctx<'_>) -> Result<Diff> {
    let mut missing: Vec<Artifact> = Vec::new();
    for a in &ctx.spec.release.artifacts {
        let path = local_path(ctx, a);
        let user_copy = ctx
            .opts
            .artifacts_dir
            .as_ref()
            .is_some_and(|d| path.starts_with(d));
        let verified = match (&a.sha256, path.is_file()) {
            (_, false) => false,
            (None, true) => true,
            (Some(want), true) => download::sha256_of(&path).await?.eq_ignore_ascii_case(want),
        };
        if user_copy && !verified {
            bail!(
                "{} does not match the catalog's sha256 {}",
                path.display(),
                a.sha256.as_deref().unwrap_or("?")
            );
        }
        if !verified {
            missing.push(a.clone());
        }
    }
    // An optional file that could not be had is tried again, but is no change to the lab.
    let changes = missing
        .iter()
        .filter(|a| required(a))
        .map(|a| format!("download {}", a.file))
        .collect();
    Ok(Diff::new(
        changes,
        "every release file is already here",
        missing,
    ))
}

async fn converge(ctx: &Ctx<'_>, line: &StepLine, diff: Diff) -> Result<()> {
    for a in diff.observation::<Vec<Artifact>>().iter() {
        let path = local_path(ctx, a);
        let url = a.url(&ctx.urls);
        line.note(format!("downloading {}", a.file));
        match download::fetch(&ctx.ui, &url, &path, a.sha256.as_deref()).await {
            Ok(got) => {
                if a.sha256.is_none() {
                    line.say(format!(
                        "{}: sha256 {} (recorded; the catalog has none to compare)",
                        a.file, got.sha256
                    ));
                }
            }
            Err(e) if !required(a) => line.say(format!(
                "could not download {} ({e:#}); it is only needed if the KubeFATE service cannot reach its chart repository",
                a.file
            )),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "fetching {} (offline? put it in a directory and pass --artifacts-dir DIR)",
                        a.file
                    )
                });
            }
        }
    }
    Ok(())
}

impl Step for Artifacts {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "artifacts",
            title: "Download the KubeFATE release files",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let cache = state::cache_dir(&ctx.state_dir, &ctx.spec.release.release);
        let mut actions: Vec<String> = ctx
            .spec
            .release
            .artifacts
            .iter()
            .map(|a| {
                let check = match &a.sha256 {
                    Some(sum) => format!("verify sha256 {sum}"),
                    None => "record its sha256 (the catalog has none yet)".to_string(),
                };
                format!(
                    "download {} → {} (resumed if partial, skipped if present); {check}",
                    a.url(&ctx.urls),
                    cache.join(&a.file).display()
                )
            })
            .collect();
        if let Some(dir) = &ctx.opts.artifacts_dir {
            actions.push(format!(
                "files already in {} are used instead of downloading",
                dir.display()
            ));
        }
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }

    super::step_fns!();
}
