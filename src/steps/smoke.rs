//! Step 9: prove the lab works with FATE's two-party toy job (what `fatelab test` runs).

use anyhow::Result;

use super::{Ctx, Step, StepInfo, StepPlan};
use crate::catalog::FateFlowApi;

pub struct Smoke;

impl Step for Smoke {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "test",
            title: "Run FATE's toy federated job between the parties",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = ctx.spec;
        let guest = &spec.parties[0];
        let (submit, query) = match spec.release.fate_flow_api {
            FateFlowApi::V1 => (
                "POST /v1/job/submit (toy_example, work_mode 1)",
                "POST /v1/job/query until f_status is success",
            ),
            FateFlowApi::V2 => (
                "POST /v2/job/submit (toy_example dag)",
                "GET /v2/job/query until status is success",
            ),
        };
        let actions = spec.parties[1..]
            .iter()
            .map(|host| {
                format!(
                    "guest {} with host {}: {submit} to party {}'s FATE Flow (NodePort {}), then {query}",
                    guest.id, host.id, guest.id, guest.ports.http
                )
            })
            .collect();
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}
