//! Step 8: one FATE cluster per party, installed through the KubeFATE REST API, concurrently.

use anyhow::Result;

use super::{Ctx, Step, StepInfo, StepPlan};
use crate::render::cluster_yaml;

pub struct Parties;

impl Step for Parties {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "parties",
            title: "Install every party's FATE cluster and wait until all run",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = ctx.spec;
        let r = spec.release;
        let mut actions = Vec::new();
        let mut files = Vec::new();
        for party in &spec.parties {
            let peers: Vec<_> = spec
                .parties
                .iter()
                .filter(|p| p.id != party.id)
                .map(|p| format!("{}@{}:{}", p.id, spec.ip, p.ports.rollsite))
                .collect();
            let (notebook, fateboard) = spec.hostnames(party);
            let file = cluster_yaml::render(spec, party)?;
            actions.push(format!(
                "party {id}: create namespace {ns}; install cluster {name} (chart {chart} {version}) from {file}; \
                 NodePorts {module} {rp}, FATE Flow gRPC {gp}, HTTP {hp}; partyList {peers}; \
                 notebook http://{notebook}, FATE Board http://{fateboard}",
                id = party.id,
                ns = party.namespace(),
                name = party.name(),
                chart = r.chart.name,
                version = r.chart.version,
                file = file.name,
                module = r.federation_module,
                rp = party.ports.rollsite,
                gp = party.ports.grpc,
                hp = party.ports.http,
                peers = peers.join(", "),
            ));
            files.push(file);
        }
        actions.push(format!(
            "all {} installs at once; follow each job and the party's pods until every cluster is Running \
             (KubeFATE {} fails an install job after 1 hour, so images are pulled before this step)",
            spec.parties.len(),
            r.kubefate_service
        ));
        actions.push(format!(
            "if the service cannot reach its chart repository, upload the chart {} {} and retry",
            r.chart.name, r.chart.version
        ));
        Ok(StepPlan { actions, files })
    }
}
