//! Step 5: images into the host's Docker before any pod asks for them. With the none driver and
//! the docker runtime, kubelet uses this Docker, so a pre-pulled image is one no pod waits for.

use anyhow::Result;

use super::{Ctx, Step, StepInfo, StepPlan};
use crate::catalog::ImageSource;
use crate::state;

pub struct Images;

impl Step for Images {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "images",
            title: "Load the KubeFATE service image and pre-pull every party image once",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = ctx.spec;
        let r = spec.release;
        let cache = state::cache_dir(&ctx.state_dir, &r.release);
        let mut actions = Vec::new();
        for (image, reference) in r.service_images.iter().zip(spec.service_image_refs()) {
            match image.source {
                ImageSource::Artifact => {
                    let file = r
                        .artifact("service-image")
                        .map(|a| cache.join(&a.file).display().to_string())
                        .unwrap_or_default();
                    actions.push(format!(
                        "load {file} through the Docker API (streamed) and check that {reference} exists; skipped when already present"
                    ));
                }
                ImageSource::Registry => {
                    actions.push(format!("pull {reference} (KubeFATE's database)"))
                }
            }
        }
        let parties = spec.parties.len();
        for (image, reference) in r.party_images.iter().zip(spec.party_image_refs()) {
            actions.push(format!(
                "pull {reference} once for all {parties} parties (used by {})",
                image.used_by.join(", ")
            ));
        }
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}
