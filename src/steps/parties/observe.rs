//! What each party needs, from what KubeFATE and the cluster hold for it: nothing, an install,
//! an update, a wait, or a new install after a yes; and which parties fatelab installed that
//! the lab no longer has.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use futures::future::try_join_all;
use k8s_openapi::api::core::v1::Namespace;
use serde_json::Value;

use super::{known_clusters, party_health};
use crate::clients::kubefate::Cluster as KubefateCluster;
use crate::model::compare;
use crate::model::health::Health;
use crate::model::spec::Party;
use crate::model::target::Cluster;
use crate::render::cluster_yaml;
use crate::steps::{Ctx, probe};

#[derive(Debug)]
pub enum Action {
    /// As declared and healthy: the cluster's ID, for the record.
    Nothing(String),
    Install,
    /// KubeFATE still lists the cluster, but its namespace (and so its release) is gone.
    ReplaceStale(KubefateCluster),
    /// Listed, but broken in a way only a new install mends; asked before.
    Reinstall {
        cluster: KubefateCluster,
        why: String,
    },
    Update {
        cluster: KubefateCluster,
        changes: Vec<String>,
        upgrade: Option<(String, String)>,
        /// Its partyList changes: the pod must then route with the new table.
        routes_change: bool,
    },
    /// As declared and healthy, but its federation pod routes with an old table.
    Reload {
        uuid: String,
        stale: Vec<String>,
    },
    /// As declared, but not healthy yet: wait for it to settle (or fail naming why).
    Settle(String),
}

impl Action {
    /// Whether it installs or updates through KubeFATE (and so needs the chart).
    pub fn installs(&self) -> bool {
        matches!(
            self,
            Action::Install
                | Action::ReplaceStale(_)
                | Action::Reinstall { .. }
                | Action::Update { .. }
        )
    }
}

pub struct PartyPlan {
    pub party: Party,
    pub namespace_exists: bool,
    pub action: Action,
}

impl PartyPlan {
    /// The change in words, for `--dry-run` and `status`; `None` when there is none.
    pub fn words(&self, chart: &str) -> Option<String> {
        let party = &self.party;
        let id = party.id;
        let name = party.name();
        Some(match &self.action {
            Action::Nothing(_) => return None,
            Action::Install if self.namespace_exists => {
                format!("party {id}: install cluster {name} ({chart})")
            }
            Action::Install => format!(
                "party {id}: create namespace {}; install cluster {name} ({chart})",
                party.namespace()
            ),
            Action::ReplaceStale(_) => format!(
                "party {id}: KubeFATE still lists cluster {name} but namespace {} is gone: delete that stale record, then install",
                party.namespace()
            ),
            Action::Reinstall { why, .. } => {
                format!(
                    "party {id}: cluster {name} {why}: delete and install it again (after a yes)"
                )
            }
            Action::Update {
                changes, upgrade, ..
            } => match upgrade {
                Some((from, to)) => format!(
                    "party {id}: upgrade cluster {name} from chart {from} to {to}; {}",
                    changes.join("; ")
                ),
                None => format!("party {id}: update cluster {name}: {}", changes.join("; ")),
            },
            Action::Settle(why) => format!("party {id}: wait until it is healthy ({why})"),
            Action::Reload { stale, .. } => format!(
                "party {id}: restart its federation pod, which routes with an old table ({})",
                stale.join("; ")
            ),
        })
    }
}

pub struct Observed {
    pub parties: Vec<PartyPlan>,
    /// Parties fatelab installed that the lab no longer has.
    pub removals: Vec<(u32, KubefateCluster)>,
}

async fn namespace_exists(ctx: &Ctx, party: &Party) -> Result<bool> {
    let ns = &party.namespace();
    let api: ::kube::Api<Namespace> = ::kube::Api::all(ctx.kube_for(party).await?.clone());
    Ok(api
        .get_opt(ns)
        .await
        .with_context(|| format!("reading namespace {ns}"))?
        .is_some())
}

async fn observe_party(ctx: &Ctx, party: &Party, known: &[KubefateCluster]) -> Result<PartyPlan> {
    let kf = ctx.kubefate_for(party).await?;
    let ns = party.namespace();
    let namespace_exists = namespace_exists(ctx, party).await?;
    let existing = known
        .iter()
        .find(|c| c.name == party.name() && c.namespace == ns)
        .cloned();
    let action = match existing {
        None => Action::Install,
        Some(c) if !namespace_exists => Action::ReplaceStale(c),
        Some(c) if c.status != "Running" => Action::Reinstall {
            why: format!("is {}", c.status),
            cluster: c,
        },
        Some(c) => {
            let want = cluster_yaml::value(&ctx.spec, party)?;
            // The list carries each spec; an older service that leaves it out is asked per cluster.
            let held = match &c.spec {
                Some(spec) => spec.clone(),
                None => kf.cluster(&c.uuid).await?.spec.unwrap_or(Value::Null),
            };
            let chart = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
            let (want_chart, want_version) =
                (chart(&want, "chartName"), chart(&want, "chartVersion"));
            let upgrade = (c.chart_version != want_version || c.chart_name != want_chart)
                .then(|| (c.chart_version.clone(), want_version.clone()));
            let module = &ctx.spec.release.federation_module;
            let changes: Vec<String> = compare::spec_changes(&held, &want, module)
                .into_iter()
                .filter(|ch| !ch.starts_with("chartVersion:") && !ch.starts_with("chartName:"))
                .collect();
            if !changes.is_empty() || upgrade.is_some() {
                Action::Update {
                    routes_change: compare::routes_change(&held, &want, module),
                    cluster: c,
                    changes,
                    upgrade,
                }
            } else {
                match party_health(ctx, party).await? {
                    Health::Healthy { .. } => match probe::stale_routes(ctx, party).await {
                        Ok(stale) if !stale.is_empty() => Action::Reload {
                            uuid: c.uuid.clone(),
                            stale,
                        },
                        // A table that cannot be read is `status`'s and `probe`'s to report.
                        _ => Action::Nothing(c.uuid.clone()),
                    },
                    Health::NoPods => Action::Reinstall {
                        why: "is listed as Running by KubeFATE, but has no pods".into(),
                        cluster: c,
                    },
                    h => Action::Settle(h.describe()),
                }
            }
        }
    };
    Ok(PartyPlan {
        party: party.clone(),
        namespace_exists,
        action,
    })
}

pub async fn observe(ctx: &Ctx) -> Result<(Vec<String>, Observed)> {
    let known: BTreeMap<Cluster, Vec<KubefateCluster>> = known_clusters(ctx).await?;
    let none = Vec::new();
    let plans = try_join_all(
        ctx.spec
            .ours()
            .map(|p| observe_party(ctx, p, known.get(&p.cluster).unwrap_or(&none))),
    )
    .await?;
    let record = ctx.record();
    let mut removals = Vec::new();
    for (id, uuid) in &record.clusters {
        if ctx.spec.ours().any(|p| p.id == *id) {
            continue;
        }
        let name = Party::name_of(*id);
        let cluster = ctx.cluster_of_party(*id);
        if let Some(c) = known
            .get(&cluster)
            .unwrap_or(&none)
            .iter()
            .find(|c| (!uuid.is_empty() && &c.uuid == uuid) || c.name == name)
        {
            removals.push((*id, c.clone()));
        }
    }
    let r = ctx.spec.release;
    let chart = format!("chart {} {}", r.chart.name, r.chart.version);
    let mut changes: Vec<String> = removals
        .iter()
        .map(|(id, c)| {
            format!(
                "party {id}: no longer in the lab: delete cluster {} through KubeFATE (after a yes)",
                c.name
            )
        })
        .collect();
    changes.extend(plans.iter().filter_map(|p| p.words(&chart)));
    Ok((
        changes,
        Observed {
            parties: plans,
            removals,
        },
    ))
}
