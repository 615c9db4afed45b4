//! What the parties step would do on a bare host, for `up --dry-run`: each party's install with
//! its rendered cluster.yaml, the sizing, the chart, and how re-runs converge.

use anyhow::Result;

use crate::model::catalog::ClusterSchema;
use crate::model::sizing;
use crate::render::cluster_yaml;
use crate::steps::{Ctx, StepPlan};

pub fn plan(ctx: &Ctx) -> Result<StepPlan> {
    let spec = &ctx.spec;
    let r = spec.release;
    let mut actions = Vec::new();
    let mut files = Vec::new();
    for party in spec.ours() {
        let peers: Vec<_> = spec
            .parties
            .iter()
            .filter(|p| p.id != party.id)
            .map(|p| format!("{}@{}:{}", p.id, spec.address(p), p.ports.rollsite))
            .collect();
        let (notebook, fateboard) = spec.hostnames(party);
        let file = cluster_yaml::render(spec, party)?;
        let place = party.cluster.place();
        actions.push(format!(
            "party {id}{place}: create namespace {ns}; install cluster {name} (chart {chart} {version}) from {file}; \
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
    let host = crate::host::facts::host_size();
    match (spec.sizing.as_ref(), host) {
        (Some(size), Ok(host)) => actions.extend(sizing::explain(size, spec.parties.len(), host)),
        (Some(_), Err(e)) => actions.push(format!("resources: {e:#}")),
        (None, _) if r.cluster_schema == ClusterSchema::V2 => {
            actions.push(format!(
                "resources: chart {} {}'s own requests, on an existing cluster whose scheduler places the pods \
                 (--resources fits a lab to this host, on minikube)",
                r.chart.name, r.chart.version
            ))
        }
        (None, _) => actions.push(format!(
            "resources: chart {} {} requests no CPU or memory; nothing to size (--resources sizes v2 charts)",
            r.chart.name, r.chart.version
        )),
    }
    for edit in &r.chart.edits {
        actions.push(format!(
            "the chart as uploaded differs from the release's in {}: {}",
            edit.file, edit.why
        ));
    }
    actions.push(format!(
        "all {} installs at once; follow each job and the party's pods until every cluster is Running \
         (KubeFATE {} fails an install job after 1 hour, so images are pulled before this step); \
         a stuck pod (image pull, crash loop, unschedulable) stops the wait at once",
        spec.parties.len(),
        r.kubefate_service
    ));
    actions.push(if r.chart.in_kubefate_index {
        format!(
            "if the service cannot get the chart from its repository, upload the chart {} {} and retry",
            r.chart.name, r.chart.version
        )
    } else {
        format!(
            "KubeFATE's chart repository has no {} {}: upload it (POST /v1/chart) before the installs, unless GET /v1/chart/ lists it",
            r.chart.name, r.chart.version
        )
    });
    actions.push(format!(
        "on a host with a lab: a cluster whose spec differs from the one KubeFATE holds is updated in place \
         (PUT /v1/cluster; a chart change is an upgrade); a party no longer listed is removed after a yes; \
         a healthy party as declared is left alone. Healthy = every pod Running, every container ready, \
         and no restart for {} after that",
        humantime::format_duration(ctx.opts.settle)
    ));
    Ok(StepPlan { actions, files })
}
