//! Step 7: host names for the browser, in one block of the hosts file that fatelab owns.

use anyhow::Result;

use super::{Ctx, Step, StepInfo, StepPlan};
use crate::render::{RenderedFile, hosts};

pub struct Hosts;

impl Step for Hosts {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "hosts",
            title: "Add the lab's host names to the hosts file",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let entries = hosts::entries(ctx.spec);
        let names: Vec<_> = entries.iter().map(|(_, h)| h.as_str()).collect();
        Ok(StepPlan {
            actions: vec![
                format!(
                    "write one marked block into {} (atomic, locked, everything outside the block kept): {} → {}",
                    ctx.hosts_file.display(),
                    names.join(", "),
                    ctx.spec.ip
                ),
                "fatelab's own calls go through the API server, so they never depend on these names".into(),
            ],
            files: vec![RenderedFile {
                name: "hosts.txt".into(),
                contents: hosts::block(ctx.spec),
            }],
        })
    }
}
