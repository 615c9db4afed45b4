//! One round of parallel questions about the lab on record, each bounded, into a
//! [`StatusReport`]: minikube (or each existing cluster), ingress, the KubeFATE services, each
//! party's health, what `up` would change, the last tests. Asking changes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;

use crate::checks::Status;
use crate::checks::cluster::{self, facts};
use crate::clients::kube::deployment_available;
use crate::clients::kubefate;
use crate::clients::minikube::{ClusterState, Minikube};
use crate::clients::serving;
use crate::host::credentials;
use crate::model::compat;
use crate::model::health::Health;
use crate::model::record::{LabRecord, Served};
use crate::model::spec::{Party, ServingWish};
use crate::model::status::{
    KubefateStatus, LabStatus, MinikubeState, MinikubeStatus, Part, PartyStatus, ServedStatus,
    ServingStatus, ShownCredentials, StatusReport, Urls,
};
use crate::model::target::Cluster;
use crate::steps::{Ctx, for_target, party_health, probe, serving_health};

/// No single question may hold `status` up for longer than this.
const EACH: Duration = Duration::from_secs(10);

async fn bounded<T>(f: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(EACH, f)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {}s", EACH.as_secs()))?
}

async fn minikube(record: &LabRecord) -> MinikubeStatus {
    let Some(m) = &record.minikube else {
        return MinikubeStatus {
            healthy: false,
            state: MinikubeState::Unknown,
            version: None,
            detail: "no minikube on record".into(),
        };
    };
    let client = Minikube::new(m.path.clone(), &(&m.homes).into());
    let (healthy, state, detail) = match bounded(client.status()).await {
        Ok(ClusterState::Running(_)) => (
            true,
            MinikubeState::Running,
            format!("Kubernetes {}", m.kubernetes),
        ),
        Ok(ClusterState::NotRunning(s)) => (
            false,
            MinikubeState::NotRunning,
            format!(
                "host {}, kubelet {}, apiserver {}; start it again with `fatelab up`",
                s.host, s.kubelet, s.apiserver
            ),
        ),
        Ok(ClusterState::Missing) => (
            false,
            MinikubeState::Missing,
            "the minikube cluster does not exist; `fatelab up` creates it".into(),
        ),
        Err(e) => (false, MinikubeState::Unknown, format!("{e:#}")),
    };
    MinikubeStatus {
        healthy,
        state,
        version: Some(m.version.to_string()),
        detail,
    }
}

/// One bounded question to each of the lab's clusters, all at once.
async fn each_cluster<'a, T, F, Fut>(ctx: &'a Ctx, ask: F) -> Vec<(Cluster, Result<T>)>
where
    F: Fn(&'a Cluster) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let clusters = ctx.clusters();
    let answers = futures::future::join_all(clusters.iter().map(|c| bounded(ask(c)))).await;
    clusters.iter().cloned().zip(answers).collect()
}

/// On existing clusters "minikube" says whether each context answers, and with which version.
async fn existing_clusters(ctx: &Ctx) -> MinikubeStatus {
    let answers = each_cluster(ctx, |c| async move {
        facts::server_version(ctx.kube_in(c).await?, c).await
    })
    .await;
    let detail: Vec<String> = answers
        .iter()
        .map(|(c, v)| match v {
            Ok(v) => format!("{} answers, Kubernetes v{v}", c.describe()),
            Err(e) => format!("{}: {e:#}", c.describe()),
        })
        .collect();
    MinikubeStatus {
        healthy: answers.iter().all(|(_, v)| v.is_ok()),
        state: MinikubeState::Existing,
        version: answers
            .iter()
            .find_map(|(_, v)| v.as_ref().ok().map(|v| format!("v{v}"))),
        detail: format!("no minikube: {}", detail.join("; ")),
    }
}

async fn existing_ingress(ctx: &Ctx) -> Part {
    let classes = each_cluster(ctx, |c| async move {
        facts::ingress_classes(ctx.kube_in(c).await?, c).await
    })
    .await;
    let detail: Vec<String> = classes
        .iter()
        .map(|(c, v)| match v {
            Ok(list) => cluster::ingress_note(&ctx.spec, c, list),
            Err(e) => format!("{}: {e:#}", c.describe()),
        })
        .collect();
    // No class is a way to run a lab, not a fault: the lab is reached through the API server.
    Part {
        healthy: classes.iter().all(|(_, v)| v.is_ok()),
        detail: detail.join("; "),
    }
}

/// The ingress controller's Deployment of the lab's minikube (it moved twice in minikube's
/// history); a record without a minikube is read as the tutorial's v1.22.
pub fn ingress_controller(record: &LabRecord) -> (&'static str, &'static str) {
    let version = record
        .minikube
        .as_ref()
        .map(|m| m.version.0.clone())
        .unwrap_or_else(|| semver::Version::new(1, 22, 0));
    compat::ingress_controller(&version)
}

async fn ingress(ctx: &Ctx, record: &LabRecord) -> Part {
    if !ctx.spec.on_minikube() {
        return existing_ingress(ctx).await;
    }
    let (ns, name) = ingress_controller(record);
    let result = bounded(async {
        let api: Api<Deployment> = Api::namespaced(ctx.kube().await?.clone(), ns);
        Ok(api.get_opt(name).await?)
    })
    .await;
    let (healthy, detail) = match result {
        Ok(d) if deployment_available(d.as_ref()) => (true, format!("{ns}/{name} available")),
        Ok(Some(_)) => (false, format!("{ns}/{name} is not available")),
        Ok(None) => (
            false,
            format!("{ns}/{name} does not exist; `fatelab up` enables the addon"),
        ),
        Err(e) => (false, format!("{e:#}")),
    };
    Part { healthy, detail }
}

/// Each cluster's KubeFATE service, and what it lists.
type Listed = BTreeMap<Cluster, Vec<kubefate::Cluster>>;

async fn kubefate(ctx: &Ctx, show_credentials: bool) -> (KubefateStatus, Listed) {
    let results = each_cluster(ctx, |c| async move {
        let kf = ctx.kubefate_in(c).await?;
        let version = kf.version().await?;
        let listed = kf.clusters(false).await?;
        Ok((version, listed))
    })
    .await;
    let several = ctx.clusters().iter().any(|c| *c != Cluster::Minikube);
    let mut details = Vec::new();
    let mut listed = Listed::new();
    let mut version = None;
    let mut healthy = true;
    for (c, r) in results {
        let place = if several {
            format!("{}: ", c.describe())
        } else {
            String::new()
        };
        match r {
            Ok((v, l)) => {
                details.push(format!("{place}answers through the API server"));
                version.get_or_insert(v);
                listed.insert(c, l);
            }
            Err(e) => {
                healthy = false;
                details.push(format!("{place}{e:#}"));
            }
        }
    }
    let credentials = show_credentials
        .then(|| credentials::load(&ctx.state_dir).ok())
        .flatten()
        .map(|c| ShownCredentials {
            username: c.kubefate_username,
            password: c.kubefate_password.expose().to_string(),
        });
    (
        KubefateStatus {
            healthy,
            version,
            detail: details.join("; "),
            credentials,
        },
        listed,
    )
}

/// A party's FATE-Serving cluster now: its pods by the parties' definition of healthy.
async fn serving_status(ctx: &Ctx, p: &Party) -> ServingStatus {
    let ports = p.ports.serving();
    let health = bounded(serving_health(ctx, p)).await;
    let (ready, total) = health.as_ref().map(Health::counts).unwrap_or((0, 0));
    let problems: Vec<String> = match &health {
        Ok(Health::Unhealthy { problems, .. }) => problems.iter().map(|p| p.to_string()).collect(),
        Ok(Health::NoPods) => vec![format!(
            "no pods: `fatelab up` installs {} again",
            p.serving_name()
        )],
        Ok(Health::Healthy { .. }) => vec![],
        Err(e) => vec![format!("{e:#}")],
    };
    ServingStatus {
        cluster: p.serving_name(),
        healthy: health.as_ref().is_ok_and(Health::is_healthy),
        pods_ready: ready,
        pods_total: total,
        proxy_node_port: ports.proxy,
        server_node_port: ports.server,
        problems,
    }
}

/// The published model now: the recorded row asked again at the guest's serving-proxy.
async fn served_status(ctx: &Ctx, s: &Served) -> ServedStatus {
    let asked = async {
        let party = ctx
            .spec
            .party(s.guest)
            .ok_or_else(|| anyhow::anyhow!("party {} is no longer in the lab", s.guest))?;
        let kube = ctx.kube_for(party).await?;
        serving::infer(
            kube,
            &party.serving_name(),
            &s.service_id,
            &s.features,
            &s.row_id,
        )
        .await
    };
    let (bound, detail) = match bounded(asked).await {
        Ok(a) if a.retcode == 0 => (
            true,
            format!("answers: score {:.6}", a.score.unwrap_or(f64::NAN)),
        ),
        Ok(a) if a.retcode == serving::MODEL_NULL => (
            false,
            format!(
                "no longer bound ({}): a serving pod restart forgets bindings (KubeFATE#704); \
                 `fatelab serve` binds it again",
                a.retmsg
            ),
        ),
        Ok(a) => (
            false,
            format!("serving-proxy answered code {}: {}", a.retcode, a.retmsg),
        ),
        Err(e) => (false, format!("{e:#}")),
    };
    ServedStatus {
        service_id: s.service_id.clone(),
        job_id: s.job_id.clone(),
        model_version: s.model_version.clone(),
        guest: s.guest,
        bound,
        detail,
    }
}

/// What `up` would change: the steps whose world is the lab itself, observed as `up` does.
async fn drift(ctx: &Ctx) -> Vec<String> {
    let steps: Vec<_> = for_target(&ctx.spec)
        .into_iter()
        .filter(|s| s.watched())
        .collect();
    let observed = futures::future::join_all(steps.iter().map(|s| bounded(s.observe(ctx)))).await;
    steps
        .iter()
        .zip(observed)
        .flat_map(|(step, diff)| {
            let name = step.name();
            match diff {
                Ok(d) => d
                    .changes()
                    .iter()
                    .chain(d.blockers())
                    .map(|c| format!("{name}: {c}"))
                    .collect(),
                Err(e) => vec![format!("{name}: cannot tell now ({e:#})")],
            }
        })
        .collect()
}

/// One round of questions about the lab on record.
pub async fn report(ctx: &Ctx, record: &LabRecord, show_credentials: bool) -> StatusReport {
    let spec = &ctx.spec;
    if spec.local().is_some() {
        return super::local::report(ctx, record, drift(ctx).await).await;
    }
    let (mk, ing, (kf, listed)) = tokio::join!(
        async {
            if spec.on_minikube() {
                minikube(record).await
            } else {
                existing_clusters(ctx).await
            }
        },
        ingress(ctx, record),
        kubefate(ctx, show_credentials)
    );
    let healths = futures::future::join_all(spec.ours().map(|p| async move {
        let health = bounded(party_health(ctx, p)).await;
        // The cheap part of the probe, where a pod can be looked into at all. A table that
        // cannot be read (no `pods/exec` permission, say) is said, not held against the party.
        let (stale, unread) = match &health {
            Ok(h) if h.is_healthy() => match bounded(probe::stale_routes(ctx, p)).await {
                Ok(stale) => (stale, None),
                Err(e) => (
                    Vec::new(),
                    Some(format!("its loaded route table could not be read: {e:#}")),
                ),
            },
            _ => (Vec::new(), None),
        };
        let serving = match spec.serving {
            ServingWish::Off => None,
            _ => Some(serving_status(ctx, p).await),
        };
        (health, stale, unread, serving)
    }))
    .await;
    let none = Vec::new();
    let mut parties: Vec<PartyStatus> = spec
        .ours()
        .zip(healths)
        .map(|(p, (health, stale_routes, unread, serving))| {
            let clusters = listed.get(&p.cluster).unwrap_or(&none);
            let cluster = clusters.iter().find(|c| c.name == p.name());
            let status = match cluster {
                Some(c) => c.status.clone(),
                None if kf.healthy => "Missing".into(),
                None => "Unknown".into(),
            };
            let (ready, total) = health.as_ref().map(Health::counts).unwrap_or((0, 0));
            let mut problems: Vec<String> = match &health {
                Ok(Health::Unhealthy { problems, .. }) => {
                    problems.iter().map(|p| p.to_string()).collect()
                }
                Ok(Health::NoPods) => vec!["no pods".into()],
                Ok(Health::Healthy { .. }) => vec![],
                Err(e) => vec![format!("{e:#}")],
            };
            problems.extend(stale_routes.iter().map(|r| {
                format!("stale route: {r} (`fatelab up` writes the routes again; `fatelab probe` checks every hop)")
            }));
            let (notebook, fateboard) = spec.hostnames(p);
            let serving_ok = serving.as_ref().is_none_or(|s| s.healthy);
            PartyStatus {
                id: p.id,
                healthy: status == "Running"
                    && health.as_ref().is_ok_and(Health::is_healthy)
                    && stale_routes.is_empty()
                    && serving_ok,
                peer: false,
                context: p.cluster.context().map(String::from),
                address: spec.address(p).to_string(),
                detail: unread,
                problems,
                stale_routes,
                cluster: Some(p.name()),
                cluster_id: cluster.map(|c| c.uuid.clone()),
                cluster_status: status,
                pods_ready: ready,
                pods_total: total,
                urls: Urls {
                    notebook: format!("http://{notebook}"),
                    fateboard: format!("http://{fateboard}"),
                },
                node_ports: p.ports,
                serving,
            }
        })
        .collect();
    let peers = cluster::peer_checks(spec).await;
    for (p, check) in spec.parties.iter().filter(|p| !p.is_ours()).zip(peers) {
        let answers = check.status == Status::Pass;
        parties.push(PartyStatus {
            id: p.id,
            healthy: answers,
            peer: true,
            context: None,
            address: spec.address(p).to_string(),
            detail: Some(check.detail.clone()),
            problems: if answers { vec![] } else { vec![check.detail] },
            stale_routes: vec![],
            cluster: None,
            cluster_id: None,
            cluster_status: "Elsewhere".into(),
            pods_ready: 0,
            pods_total: 0,
            urls: Urls {
                notebook: String::new(),
                fateboard: String::new(),
            },
            node_ports: p.ports,
            serving: None,
        });
    }
    let changes = drift(ctx).await;
    let mut tests = record.tests.clone();
    // A record from before kinds holds only a toy test.
    if tests.is_empty()
        && let Some(t) = &record.last_test
    {
        tests.insert(t.kind(), t.clone());
    }
    let served = match &record.served {
        Some(s) => Some(served_status(ctx, s).await),
        None => None,
    };
    StatusReport::of(LabStatus {
        release: spec.release.release.clone(),
        served,
        as_declared: changes.is_empty(),
        changes,
        minikube: mk,
        ingress: ing,
        kubefate: kf,
        parties,
        last_test: record.last_test.clone(),
        tests,
        local: None,
    })
}
