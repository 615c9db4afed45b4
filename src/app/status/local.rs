//! `status` of a lab of local processes: each process (still fatelab's, running, answering),
//! each party (its FATE Flow and broker), what `up` would change, the last tests.

use crate::model::local::FATE_VERSION;
use crate::model::record::LabRecord;
use crate::model::status::{
    KubefateStatus, LabStatus, LocalStatus, MinikubeState, MinikubeStatus, Part, PartyStatus,
    StatusReport, Urls,
};
use crate::steps::{Ctx, local_processes, probe};

pub async fn report(ctx: &Ctx, record: &LabRecord, changes: Vec<String>) -> StatusReport {
    let processes = local_processes(ctx).await;
    let parties = ctx
        .spec
        .parties
        .iter()
        .map(|p| {
            let own: Vec<_> = processes.iter().filter(|s| s.party == Some(p.id)).collect();
            let mut problems: Vec<String> = own
                .iter()
                .filter(|s| !s.healthy)
                .map(|s| s.detail.clone())
                .collect();
            // A party whose FATE Flow has no home yet has no table to judge.
            let stale_routes = if problems.is_empty() {
                probe::local_stale_routes(ctx, p.id)
            } else {
                Vec::new()
            };
            problems.extend(stale_routes.iter().map(|r| format!("stale route: {r}")));
            let running = own.iter().filter(|s| s.running).count();
            PartyStatus {
                id: p.id,
                healthy: problems.is_empty(),
                peer: false,
                context: None,
                address: "127.0.0.1".into(),
                detail: None,
                problems,
                stale_routes,
                cluster: None,
                cluster_id: None,
                cluster_status: if running == own.len() {
                    "Running"
                } else {
                    "Stopped"
                }
                .into(),
                pods_ready: own.iter().filter(|s| s.healthy).count(),
                pods_total: own.len(),
                urls: Urls {
                    notebook: String::new(),
                    fateboard: String::new(),
                },
                node_ports: p.ports,
                serving: None,
            }
        })
        .collect();
    let not_used = |what: &str| Part {
        healthy: true,
        detail: format!("{what}: not used by a lab of local processes"),
    };
    let mut tests = record.tests.clone();
    if tests.is_empty()
        && let Some(t) = &record.last_test
    {
        tests.insert(t.kind(), t.clone());
    }
    StatusReport::of(LabStatus {
        release: format!("local FATE {FATE_VERSION}"),
        served: None,
        as_declared: changes.is_empty(),
        changes,
        minikube: MinikubeStatus {
            healthy: true,
            state: MinikubeState::Local,
            version: None,
            detail: "no Kubernetes: the parties are processes on this host".into(),
        },
        ingress: not_used("ingress"),
        kubefate: KubefateStatus {
            healthy: true,
            version: None,
            detail: "KubeFATE: not used by a lab of local processes".into(),
            credentials: None,
        },
        parties,
        last_test: record.last_test.clone(),
        tests,
        local: Some(LocalStatus {
            healthy: processes.iter().all(|p| p.healthy),
            fate: FATE_VERSION.into(),
            processes,
        }),
    })
}
