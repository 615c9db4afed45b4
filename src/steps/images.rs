//! Step 6: images into the host's Docker before any pod asks for them. With the none driver and
//! the docker runtime, kubelet uses this Docker, so a pre-pulled image is one no pod waits for
//! (and KubeFATE's one-hour install limit is never spent on pulls).

use anyhow::{Context, Result};

use super::{Ctx, Diff, Step, StepFuture, StepInfo, StepPlan};
use crate::catalog::ImageSource;
use crate::clients::docker;
use crate::images::{self, LoadOutcome};
use crate::ui::StepLine;

pub struct Images;

/// Archives whose images Docker lacks, and registry images it lacks.
struct Observed {
    archives: Vec<std::path::PathBuf>,
    pulls: Vec<String>,
}

/// Why an existing cluster needs nothing of this host's Docker.
fn elsewhere(ctx: &Ctx) -> String {
    format!(
        "skipped: an existing cluster's nodes pull the images themselves, from {}",
        ctx.spec
            .registry
            .as_deref()
            .unwrap_or("Docker Hub (--registry names a mirror they reach)")
    )
}

async fn observe(ctx: &Ctx<'_>) -> Result<Diff> {
    if !ctx.spec.on_minikube() {
        return Ok(Diff::none(elsewhere(ctx)));
    }
    let spec = ctx.spec;
    let docker = docker::connect()?;
    let artifact = spec
        .release
        .artifact("service-image")
        .context("the catalog names no service image file")?;
    let service = super::artifacts::local_path(ctx, artifact);
    let mut archives = Vec::new();
    for file in std::iter::once(service).chain(ctx.opts.images_bundle.clone()) {
        if !images::archive_loaded(&docker, &file).await? {
            archives.push(file);
        }
    }
    // A bundle can hold images the registry would otherwise give: it is loaded before pulling.
    let needed = images::needed(spec.release, spec.registry.as_deref());
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

async fn converge(ctx: &Ctx<'_>, line: &StepLine, diff: Diff) -> Result<()> {
    if diff.is_empty() || !ctx.spec.on_minikube() {
        return Ok(());
    }
    let Observed { archives, pulls } = *diff.observation::<Observed>();
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
        let needed = images::needed(ctx.spec.release, ctx.spec.registry.as_deref());
        images::missing(&docker, &needed).await?
    };
    if !pulls.is_empty() {
        line.note("pulling what is missing");
        let pulled = images::pull(&docker, &ctx.ui, pulls).await?;
        line.say(format!("pulled {}", pulled.join(", ")));
    }
    Ok(())
}

impl Step for Images {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "images",
            title: "Load the KubeFATE image and pre-pull every party image once",
        }
    }

    fn on_existing(&self) -> Option<&'static str> {
        Some("Pre-pull images (the cluster's nodes pull their own)")
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        if !ctx.spec.on_minikube() {
            return Ok(StepPlan {
                actions: vec![elsewhere(ctx)],
                files: vec![],
            });
        }
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

    super::step_fns!();
}
