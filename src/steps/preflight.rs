//! Step 1 on minikube: check the host before anything changes (the checks of `fatelab doctor`).
//! The judgement is the observation: a host that will fail says so in `--dry-run` too.

use anyhow::Result;

use super::gate::{converge_checks, peer_plan, verdict};
use super::{Ctx, Diff, Step, StepPlan};
use crate::checks::host::{
    self as host_checks, MIN_CPUS, MIN_MEMORY_MIB, Needs, RECOMMENDED_CPUS, RECOMMENDED_MEMORY_MIB,
};
use crate::checks::{Report, cluster};
use crate::host::{facts, minikube};
use crate::model::compat;
use crate::model::step::StepName;
use crate::ui::StepLine;

pub struct HostChecks;

/// The ports the host must have free: the ingress controller's, Kubernetes', the parties'.
fn ports(ctx: &Ctx) -> Vec<u16> {
    let mut ports: Vec<u16> = vec![80, 443, 8443, 10250];
    for p in ctx.spec.ours() {
        ports.extend([p.ports.rollsite, p.ports.grpc, p.ports.http]);
    }
    ports
}

/// The host's checks, as `fatelab doctor` prints them, and whether the peers answer.
pub async fn report(ctx: &Ctx) -> Report {
    let wanted = ctx.opts.minikube_version.clone();
    let fallback = wanted
        .clone()
        .unwrap_or_else(|| ctx.spec.release.recommended.minikube.0.clone());
    let homes = minikube::homes();
    let found = match &homes {
        Ok(h) => minikube::locate(&ctx.state_dir, h, wanted.as_ref(), &fallback).await,
        Err(e) => Err(format!("{e:#}")),
    };
    let version_for_k8s = wanted
        .clone()
        .or_else(|| found.as_ref().ok().map(|(_, v)| v.clone()))
        .unwrap_or(fallback);
    let kubernetes = compat::choose_kubernetes(
        ctx.spec.release,
        &version_for_k8s,
        ctx.opts.kubernetes_version.as_ref(),
    );
    let needs = Needs {
        release: ctx.spec.release,
        kubernetes,
        minikube_wanted: wanted,
        ports: ports(ctx),
        ip: ctx.spec.ip,
    };
    let host = facts::gather(&needs.ports, found, homes.as_ref().ok()).await;
    let mut checks = host_checks::judge(&host, &needs).checks;
    checks.extend(cluster::peer_checks(&ctx.spec).await);
    Report::new(checks)
}

impl Step for HostChecks {
    type Observed = Report;

    fn name(&self) -> StepName {
        StepName::Preflight
    }

    fn title(&self) -> &'static str {
        "Check the host (the checks of `fatelab doctor`)"
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Report>> {
        Ok(verdict(ctx, report(ctx).await, "the host and the peers"))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Report>) -> Result<()> {
        converge_checks(ctx, line, diff, "the host is")
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let r = ctx.spec.release;
        let k8s = &r.recommended.kubernetes;
        let k8s_minor = k8s.minor;
        let mut actions = vec![
            "OS is Linux".to_string(),
            format!(
                "CPUs: fail below {MIN_CPUS} (minikube's minimum), warn below {RECOMMENDED_CPUS} (the tutorial's machine)"
            ),
            format!(
                "memory: fail below {MIN_MEMORY_MIB} MiB (minikube's minimum), warn below {} GiB",
                RECOMMENDED_MEMORY_MIB / 1024
            ),
            "free disk in Docker's data-root for the party images (about 10 GB for FATE 1.6)"
                .to_string(),
            "Docker Engine reachable through its API; report its API version and cgroup driver"
                .to_string(),
            "cgroup version (/sys/fs/cgroup)".to_string(),
            "running as root, or passwordless sudo".to_string(),
        ];
        let mut tools = vec!["socat"];
        if k8s_minor >= 18 {
            tools.push("conntrack");
        }
        if k8s_minor >= 24 {
            tools.extend(["crictl", "cri-dockerd", "CNI plugins in /opt/cni/bin"]);
        }
        actions.push(format!(
            "host tools Kubernetes {k8s} needs with the none driver: {}",
            tools.join(", ")
        ));
        actions.push("minikube and kubectl: present? which versions?".to_string());
        let mut ports: Vec<String> = vec!["80".into(), "443".into()];
        for p in ctx.spec.ours() {
            ports.extend([p.ports.rollsite, p.ports.grpc, p.ports.http].map(|n| n.to_string()));
        }
        actions.push(format!("ports free on the host: {}", ports.join(", ")));
        actions.push(format!(
            "Kubernetes {k8s} allowed by KubeFATE {} ({}) and by the minikube version",
            r.release,
            r.kubernetes.describe()
        ));
        actions.push(format!("{} is assigned to a local interface", ctx.spec.ip));
        actions.extend(peer_plan(ctx));
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}
