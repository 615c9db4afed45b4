//! Step 1: check the host before anything changes (the same checks as `fatelab doctor`).

use anyhow::{Result, bail};

use super::{Ctx, Diff, Step, StepFuture, StepInfo, StepPlan};
use crate::clients::minikube::{Homes, Minikube};
use crate::compat;
use crate::doctor::{
    self, Facts, MIN_CPUS, MIN_MEMORY_MIB, RECOMMENDED_CPUS, RECOMMENDED_MEMORY_MIB, Status,
};
use crate::ui::StepLine;

pub struct Preflight;

/// Gathers what the checks need, without changing anything (shared with `fatelab doctor`).
pub async fn facts<'a>(ctx: &'a Ctx<'a>) -> Facts<'a> {
    let homes = Homes::detect();
    let minikube = match &homes {
        Ok(h) => super::minikube::locate(ctx, h).await,
        Err(e) => Err(format!("{e:#}")),
    };
    let wanted = super::minikube::wanted_version(ctx);
    let version_for_k8s = wanted
        .clone()
        .or_else(|| minikube.as_ref().ok().map(|(_, v)| v.clone()))
        .unwrap_or_else(|| ctx.spec.release.recommended.minikube.0.clone());
    let kubernetes = compat::choose_kubernetes(
        ctx.spec.release,
        &version_for_k8s,
        ctx.opts.kubernetes_version.as_ref(),
    );
    let cluster = match (&minikube, &homes) {
        (Ok((path, _)), Ok(h)) => Minikube::new(path.clone(), h).status().await.ok(),
        _ => None,
    };
    Facts {
        spec: ctx.spec,
        minikube,
        minikube_wanted: wanted,
        kubernetes,
        cluster,
        tool_dirs: doctor::tool_dirs(),
    }
}

/// The checks `up` makes before it changes anything: the host's (as `fatelab doctor`), or, on
/// existing clusters, each cluster's; and whether the peers answer.
pub async fn report(ctx: &Ctx<'_>) -> doctor::Report {
    let mut checks = if ctx.spec.on_minikube() {
        let facts = facts(ctx).await;
        doctor::run(&facts).await.checks
    } else {
        let per_cluster = futures::future::join_all(
            ctx.clusters()
                .iter()
                .map(|c| super::existing::cluster_checks(ctx, c)),
        )
        .await;
        per_cluster.into_iter().flatten().collect()
    };
    checks.extend(super::existing::peer_checks(ctx).await);
    doctor::Report::new(checks)
}

/// The checks are the observation: nothing on the host changes in this step.
async fn observe(ctx: &Ctx<'_>) -> Result<Diff> {
    let report = report(ctx).await;
    let failing: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail && !c.fixed_by_up)
        .map(|c| c.name)
        .collect();
    let passing = if ctx.spec.on_minikube() {
        "the host passes the checks"
    } else {
        "the clusters pass the checks"
    };
    let summary = if failing.is_empty() {
        passing.to_string()
    } else {
        format!("checks failing: {}", failing.join(", "))
    };
    Ok(Diff::new(Vec::new(), summary, report))
}

async fn converge(ctx: &Ctx<'_>, line: &StepLine, diff: Diff) -> Result<()> {
    let report = diff.observation::<doctor::Report>();
    let mut blocking = Vec::new();
    for c in &report.checks {
        let ignored = ctx.opts.ignore_checks.iter().any(|n| n == c.name);
        match c.status {
            Status::Pass => {}
            Status::Fail if !(c.fixed_by_up || ignored) => blocking.push(c),
            _ if c.fixed_by_up => line.say(format!(
                "{}: {} (a later step of up takes care of it)",
                c.name, c.detail
            )),
            _ => line.say(format!(
                "{}{}: {}{}",
                if ignored && c.status == Status::Fail {
                    "ignored failure "
                } else {
                    "warning "
                },
                c.name,
                c.detail,
                c.fix
                    .as_ref()
                    .map(|f| format!(" (fix: {f})"))
                    .unwrap_or_default()
            )),
        }
    }
    if blocking.iter().any(|c| c.name == "privileges") {
        return Err(crate::exit::usage(format!(
            "minikube's none driver needs root here ({}); nothing was changed.\nRun: sudo {}",
            blocking
                .iter()
                .find(|c| c.name == "privileges")
                .map(|c| c.detail.as_str())
                .unwrap_or_default(),
            crate::commands::with_sudo()
        )));
    }
    if !blocking.is_empty() {
        let lines: Vec<String> = blocking
            .iter()
            .map(|c| {
                format!(
                    "  {}: {}
    fix: {}",
                    c.name,
                    c.detail,
                    c.fix.as_deref().unwrap_or("-")
                )
            })
            .collect();
        bail!(
            "{} not ready; nothing was changed:\n{}\n(run `fatelab doctor` for the full report; \
             --ignore-check NAME turns a failure into a warning)",
            if ctx.spec.on_minikube() {
                "the host is"
            } else {
                "the clusters are"
            },
            lines.join("\n")
        );
    }
    Ok(())
}

impl Step for Preflight {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "preflight",
            title: "Check the host (the checks of `fatelab doctor`)",
        }
    }

    fn on_existing(&self) -> Option<&'static str> {
        Some("Check the clusters: permissions, NodePorts, node addresses; and the peers")
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let r = ctx.spec.release;
        let peers: Vec<String> = ctx
            .spec
            .parties
            .iter()
            .filter(|p| !p.is_ours())
            .map(|p| {
                format!(
                    "party {} (another organisation's) answers on TCP at {}:{} from this host (a warning if not: the route may still work from inside the cluster); its side runs `{}`",
                    p.id,
                    ctx.spec.address(p),
                    p.ports.rollsite,
                    super::existing::other_side(ctx, p)
                )
            })
            .collect();
        if !ctx.spec.on_minikube() {
            let mut actions = Vec::new();
            for cluster in ctx.clusters() {
                let perms = super::existing::needed_permissions(ctx, &cluster)?;
                actions.push(format!(
                    "{}: SelfSubjectAccessReview for each of fatelab's {} calls there ({}, ...); the missing ones are named",
                    cluster.describe(),
                    perms.len(),
                    perms.iter().take(4).map(|p| p.describe()).collect::<Vec<_>>().join(", ")
                ));
                actions.push(format!(
                    "{}: no Service outside the party's own namespace holds its NodePorts",
                    cluster.describe()
                ));
                for p in ctx.spec.ours().filter(|p| p.cluster == cluster) {
                    actions.push(format!(
                        "party {}: peers reach it at {}:{} ({})",
                        p.id,
                        ctx.spec.address(p),
                        p.ports.rollsite,
                        match (&ctx.spec.ip_source, p.address) {
                            (crate::spec::IpSource::Pending, None) =>
                                "the first Ready node's InternalIP, read now".to_string(),
                            (crate::spec::IpSource::Node(n), _) =>
                                format!("the InternalIP of {n}; --ip overrides"),
                            _ => "given".to_string(),
                        }
                    ));
                }
                actions.push(format!(
                    "{}: a multi-node cluster is warned that KubeFATE v1.6.0's database is a hostPath on one node (left as the release ships it)",
                    cluster.describe()
                ));
            }
            actions.extend(peers);
            return Ok(StepPlan {
                actions,
                files: vec![],
            });
        }
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
        actions.extend(peers);
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }

    super::step_fns!();
}
