//! The host half on clusters the user already has: no minikube to start, no addon to enable, no
//! images to pre-pull — each of those steps checks the clusters instead, under the same name.

use anyhow::Result;

use super::gate::{converge_checks, peer_plan, verdict};
use super::{Ctx, Diff, Step, StepPlan};
use crate::checks::cluster::{self, facts};
use crate::checks::{Check, Report};
use crate::model::compat;
use crate::model::spec::{IpSource, Target};
use crate::model::step::StepName;
use crate::ui::StepLine;

/// The checks of each cluster (permissions, NodePorts, node addresses) and of the peers.
pub async fn report(ctx: &Ctx) -> Report {
    let per_cluster = futures::future::join_all(ctx.clusters().iter().map(|c| async move {
        match ctx.kube_in(c).await {
            Ok(client) => cluster::cluster_checks(client, &ctx.spec, c).await,
            Err(e) => vec![Check::fail(
                "rbac",
                format!("{}: {e:#}", c.describe()),
                "check the kubeconfig and that the context's cluster answers",
            )],
        }
    }))
    .await;
    let mut checks: Vec<Check> = per_cluster.into_iter().flatten().collect();
    checks.extend(cluster::peer_checks(&ctx.spec).await);
    Report::new(checks)
}

pub struct ClusterChecks;

impl Step for ClusterChecks {
    type Observed = Report;

    fn name(&self) -> StepName {
        StepName::Preflight
    }

    fn title(&self) -> &'static str {
        "Check the clusters: permissions, NodePorts, node addresses; and the peers"
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Report>> {
        Ok(verdict(
            ctx,
            report(ctx).await,
            "the clusters and the peers",
        ))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Report>) -> Result<()> {
        converge_checks(ctx, line, diff, "the clusters are")
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let mut actions = Vec::new();
        for c in ctx.clusters() {
            let perms = cluster::needed_permissions(&ctx.spec, c)?;
            actions.push(format!(
                "{}: SelfSubjectAccessReview for each of fatelab's {} calls there ({}, ...); the missing ones are named",
                c.describe(),
                perms.len(),
                perms.iter().take(4).map(|p| p.describe()).collect::<Vec<_>>().join(", ")
            ));
            actions.push(format!(
                "{}: no Service outside the party's own namespace holds its NodePorts",
                c.describe()
            ));
            for p in ctx.spec.ours().filter(|p| p.cluster == *c) {
                actions.push(format!(
                    "party {}: peers reach it at {}:{} ({})",
                    p.id,
                    ctx.spec.address(p),
                    p.ports.rollsite,
                    match (&ctx.spec.ip_source, p.address) {
                        (IpSource::Pending, None) =>
                            "the first Ready node's InternalIP, read now".to_string(),
                        (IpSource::Node(n), _) => format!("the InternalIP of {n}; --ip overrides"),
                        _ => "given".to_string(),
                    }
                ));
            }
            actions.push(format!(
                "{}: a multi-node cluster is warned that KubeFATE v1.6.0's database is a hostPath on one node (left as the release ships it)",
                c.describe()
            ));
        }
        actions.extend(peer_plan(ctx));
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}

/// Each cluster answers, with a Kubernetes the release allows.
pub struct ClusterVersions;

impl Step for ClusterVersions {
    type Observed = ();

    fn name(&self) -> StepName {
        StepName::Minikube
    }

    fn title(&self) -> &'static str {
        "Check each cluster's Kubernetes version (no minikube)"
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<()>> {
        let r = ctx.spec.release;
        let mut seen = Vec::new();
        for c in ctx.clusters() {
            let version = facts::server_version(ctx.kube_in(c).await?, c).await?;
            if !compat::release_allows(r, &version) {
                anyhow::bail!(
                    "{} runs Kubernetes v{version}, and KubeFATE {} needs {}; nothing was changed (use a cluster in that range, or another --release)",
                    c.describe(),
                    r.release,
                    r.kubernetes.describe()
                );
            }
            let server = match &ctx.spec.target {
                Target::Existing { servers, .. } => c
                    .context()
                    .and_then(|name| servers.get(name))
                    .cloned()
                    .unwrap_or_default(),
                Target::Minikube | Target::Local { .. } => String::new(),
            };
            seen.push(format!(
                "{} ({server}) runs Kubernetes v{version}",
                c.describe()
            ));
        }
        Ok(Diff::none(format!("no minikube: {}", seen.join("; "))))
    }

    async fn converge(&self, _ctx: &Ctx, _line: &StepLine, _diff: Diff<()>) -> Result<()> {
        Ok(())
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let Target::Existing {
            kubeconfig,
            servers,
        } = &ctx.spec.target
        else {
            return Ok(StepPlan::default());
        };
        let clusters: Vec<String> = servers
            .iter()
            .map(|(c, s)| format!("context {c} ({s})"))
            .collect();
        Ok(StepPlan {
            actions: vec![format!(
                "no minikube: the lab runs on {} of {}; each must answer with a Kubernetes KubeFATE {} allows ({})",
                clusters.join(", "),
                kubeconfig.describe(),
                ctx.spec.release.release,
                ctx.spec.release.kubernetes.describe()
            )],
            files: vec![],
        })
    }
}

/// An IngressClass serves the host names, or the user is told where the FATE Boards and
/// notebooks are reached instead.
pub struct IngressClasses;

impl Step for IngressClasses {
    type Observed = ();

    fn name(&self) -> StepName {
        StepName::Ingress
    }

    fn title(&self) -> &'static str {
        "Check each cluster's ingress class (no addon to enable)"
    }

    fn watched(&self) -> bool {
        true
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<()>> {
        let mut said = Vec::new();
        for c in ctx.clusters() {
            let classes = facts::ingress_classes(ctx.kube_in(c).await?, c).await?;
            said.push(cluster::ingress_note(&ctx.spec, c, &classes));
        }
        Ok(Diff::none(said.join("; ")))
    }

    async fn converge(&self, _ctx: &Ctx, _line: &StepLine, _diff: Diff<()>) -> Result<()> {
        Ok(())
    }

    fn plan(&self, _ctx: &Ctx) -> Result<StepPlan> {
        Ok(StepPlan {
            actions: vec![
                "no addon to enable: each cluster must have an IngressClass for the notebook and FATE Board host names; \
                 without one, fatelab says how to reach them through the API server (`kubectl proxy` URLs)"
                    .into(),
            ],
            files: vec![],
        })
    }
}

/// An existing cluster's nodes pull their own images: nothing of this host's Docker is needed.
pub struct NodesPull;

fn nodes_pull(ctx: &Ctx) -> String {
    format!(
        "skipped: an existing cluster's nodes pull the images themselves, from {}",
        ctx.spec
            .registry
            .as_deref()
            .unwrap_or("Docker Hub (--registry names a mirror they reach)")
    )
}

impl Step for NodesPull {
    type Observed = ();

    fn name(&self) -> StepName {
        StepName::Images
    }

    fn title(&self) -> &'static str {
        "Pre-pull images (the cluster's nodes pull their own)"
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<()>> {
        Ok(Diff::none(nodes_pull(ctx)))
    }

    async fn converge(&self, _ctx: &Ctx, _line: &StepLine, _diff: Diff<()>) -> Result<()> {
        Ok(())
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        Ok(StepPlan {
            actions: vec![nodes_pull(ctx)],
            files: vec![],
        })
    }
}
