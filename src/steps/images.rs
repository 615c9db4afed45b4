//! Step 6 on minikube: images into the host's Docker before any pod asks for them. With the none
//! driver and the docker runtime, kubelet uses this Docker, so a pre-pulled image is one no pod
//! waits for (and KubeFATE's one-hour install limit is never spent on pulls).

use anyhow::{Context, Result};

use super::{Ctx, Diff, Step, StepPlan};
use crate::clients::docker;
use crate::host::images::{self, LoadOutcome};
use crate::model::catalog::ImageSource;
use crate::model::spec::ServingWish;
use crate::model::step::StepName;
use crate::ui::StepLine;

pub struct PrePull;

/// Archives whose images Docker lacks, and registry images it lacks.
pub struct Observed {
    archives: Vec<std::path::PathBuf>,
    pulls: Vec<String>,
}

impl Step for PrePull {
    type Observed = Observed;

    fn name(&self) -> StepName {
        StepName::Images
    }

    fn title(&self) -> &'static str {
        "Load the KubeFATE image and pre-pull every party image once"
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Observed>> {
        let spec = &ctx.spec;
        let docker = docker::connect()?;
        let artifact = spec
            .release
            .artifact("service-image")
            .context("the catalog names no service image file")?;
        let service = ctx.artifact_path(artifact);
        let mut archives = Vec::new();
        for file in std::iter::once(service).chain(ctx.opts.images_bundle.clone()) {
            if !images::archive_loaded(&docker, &file).await? {
                archives.push(file);
            }
        }
        // A bundle can hold images the registry would otherwise give: it is loaded before pulling.
        let needed = images::needed(
            spec.release,
            spec.registry.as_deref(),
            spec.serving == ServingWish::On,
        );
        let pulls = if archives.is_empty() {
            images::missing(&docker, &needed).await?
        } else {
            Vec::new()
        };
        let mut changes: Vec<String> = archives
            .iter()
            .map(|f| format!("load {}", f.display()))
            .collect();
        changes.extend(pulls.iter().map(|r| format!("pull {r}")));
        if !archives.is_empty() {
            changes.push("pull the images still missing after loading".into());
        }
        Ok(Diff::new(
            changes,
            "every image is already in Docker",
            Observed { archives, pulls },
        ))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Observed>) -> Result<()> {
        if diff.is_empty() {
            return Ok(());
        }
        let Observed { archives, pulls } = diff.observed;
        let docker = docker::connect()?;
        for file in &archives {
            line.note(format!("loading {}", file.display()));
            if let LoadOutcome::Loaded(refs) = images::load_file(&docker, &ctx.ui, file).await? {
                line.say(format!(
                    "loaded {} from {}",
                    refs.join(", "),
                    file.display()
                ));
            }
        }
        let pulls = if archives.is_empty() {
            pulls
        } else {
            let needed = images::needed(
                ctx.spec.release,
                ctx.spec.registry.as_deref(),
                ctx.spec.serving == ServingWish::On,
            );
            images::missing(&docker, &needed).await?
        };
        if !pulls.is_empty() {
            line.note("pulling what is missing");
            let pulled = images::pull(&docker, &ctx.ui, pulls).await?;
            line.say(format!("pulled {}", pulled.join(", ")));
        }
        Ok(())
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = &ctx.spec;
        let r = spec.release;
        let mut actions = Vec::new();
        if let Some(a) = r.artifact("service-image") {
            let file = ctx.artifact_path(a);
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
        for image in images::needed(r, spec.registry.as_deref(), spec.serving == ServingWish::On) {
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
}
