//! What `kubefate cluster describe` would tell, for every party: printed at the end of an `up`
//! that changed the parties.

use anyhow::Result;

use super::known_clusters;
use crate::steps::Ctx;

pub async fn summary(ctx: &Ctx) -> Result<Vec<String>> {
    let known = known_clusters(ctx).await?;
    let mut out = Vec::new();
    for party in ctx.spec.ours() {
        let kf = ctx.kubefate_for(party).await?;
        let (notebook, fateboard) = ctx.spec.hostnames(party);
        let Some(c) = known
            .get(&party.cluster)
            .into_iter()
            .flatten()
            .find(|c| c.name == party.name())
        else {
            out.push(format!("party {}: no cluster", party.id));
            continue;
        };
        let detail = kf.cluster(&c.uuid).await.ok();
        let pods = detail
            .as_ref()
            .and_then(|d| d.info.as_ref())
            .and_then(|i| i.pointer("/status/modules"))
            .and_then(|m| m.as_object())
            .map(|m| {
                let running = m.values().filter(|v| *v == "Running").count();
                format!("{running}/{} pods Running", m.len())
            })
            .unwrap_or_else(|| "pods unknown".into());
        out.push(format!(
            "party {}: cluster {} ({}) {}, {pods}; notebook http://{notebook}, FATE Board http://{fateboard}; \
             NodePorts rollsite {}, FATE Flow HTTP {} / gRPC {}",
            party.id, c.name, c.uuid, c.status, party.ports.rollsite, party.ports.http, party.ports.grpc
        ));
    }
    Ok(out)
}
