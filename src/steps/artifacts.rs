//! Step 4: the release package, the KubeFATE service image and the chart, downloaded once.

use anyhow::Result;

use super::{Ctx, Step, StepInfo, StepPlan};
use crate::state;

pub struct Artifacts;

impl Step for Artifacts {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "artifacts",
            title: "Download the KubeFATE release files (skipped when cached and verified)",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let cache = state::cache_dir(&ctx.state_dir, &ctx.spec.release.release);
        let actions = ctx
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
                    "download {} → {}; {check}",
                    a.url(&ctx.urls),
                    cache.join(&a.file).display()
                )
            })
            .collect();
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}
