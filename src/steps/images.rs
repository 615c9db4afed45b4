//! Step 6: images into the host's Docker before any pod asks for them. With the none driver and
//! the docker runtime, kubelet uses this Docker, so a pre-pulled image is one no pod waits for
//! (and KubeFATE's one-hour install limit is never spent on pulls).

use anyhow::{Context, Result};

use super::{Ctx, Outcome, Step, StepFuture, StepInfo, StepPlan};
use crate::catalog::ImageSource;
use crate::clients::docker;
use crate::images::{self, LoadOutcome};
use crate::ui::StepLine;

pub struct Images;

async fn run(ctx: &Ctx<'_>, line: &StepLine) -> Result<Outcome> {
    let spec = ctx.spec;
    let docker = docker::connect()?;
    let mut changed = false;
    let artifact = spec
        .release
        .artifact("service-image")
        .context("the catalog names no service image file")?;
    let file = super::artifacts::local_path(ctx, artifact);
    line.note(format!("loading {}", file.display()));
    match images::load_file(&docker, &ctx.ui, &file).await? {
        LoadOutcome::AlreadyPresent(_) => {}
        LoadOutcome::Loaded(refs) => {
            changed = true;
            line.say(format!("loaded {}", refs.join(", ")));
        }
    }
    if let Some(bundle) = &ctx.opts.images_bundle {
        line.note(format!("loading {}", bundle.display()));
        if let LoadOutcome::Loaded(refs) = images::load_file(&docker, &ctx.ui, bundle).await? {
            changed = true;
            line.say(format!(
                "loaded {} image(s) from {}",
                refs.len(),
                bundle.display()
            ));
        }
    }
    let needed = images::needed(spec.release, spec.registry.as_deref());
    line.note("pulling what is missing");
    let pulled = images::pull_missing(&docker, &ctx.ui, &needed).await?;
    if !pulled.is_empty() {
        changed = true;
        line.say(format!("pulled {}", pulled.join(", ")));
    }
    Ok(if changed {
        Outcome::Done
    } else {
        Outcome::AlreadyDone("every image is already in Docker".into())
    })
}

impl Step for Images {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "images",
            title: "Load the KubeFATE image and pre-pull every party image once",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = ctx.spec;
        let r = spec.release;
        let mut actions = Vec::new();
        if let Some(a) = r.artifact("service-image") {
            let file = super::artifacts::local_path(ctx, a);
            actions.push(format!(
                "load {} through the Docker API (streamed); skipped when Docker has its images with the same IDs",
                file.display()
            ));
        }
        if let Some(bundle) = &ctx.opts.images_bundle {
            actions.push(format!(
                "load the image bundle {} (streamed)",
                bundle.display()
            ));
        }
        let parties = spec.parties.len();
        for image in images::needed(r, spec.registry.as_deref()) {
            match (image.source, image.role) {
                (ImageSource::Artifact, _) => {}
                (_, "service") => actions.push(format!(
                    "pull {} if missing (KubeFATE's database)",
                    image.reference
                )),
                _ => actions.push(format!(
                    "pull {} if missing, once for all {parties} parties (used by {})",
                    image.reference,
                    image.used_by.join(", ")
                )),
            }
        }
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }

    fn run<'a>(&'a self, ctx: &'a Ctx, line: &'a StepLine) -> Option<StepFuture<'a>> {
        Some(Box::pin(run(ctx, line)))
    }
}
