//! Step 3: the ingress addon, which serves the KubeFATE, notebook and FATE Board host names.

use anyhow::{Result, anyhow};
use k8s_openapi::api::apps::v1::Deployment;
use semver::Version;

use super::{Ctx, Diff, Outcome, Step, StepFuture, StepInfo, StepPlan};
use crate::clients::{kube, minikube};
use crate::ui::StepLine;

pub struct Ingress;

/// Namespace and name of the addon's controller Deployment, which moved twice in minikube's history.
pub fn controller_deployment(minikube: &Version) -> (&'static str, &'static str) {
    match (minikube.major, minikube.minor) {
        v if v < (1, 10) => ("kube-system", "nginx-ingress-controller"),
        v if v < (1, 19) => ("kube-system", "ingress-nginx-controller"),
        _ => ("ingress-nginx", "ingress-nginx-controller"),
    }
}

/// The addon as minikube reports it, and its controller as the cluster reports it.
struct Observed {
    enabled: bool,
    available: bool,
}

/// On existing clusters this step is a check: an IngressClass serves the host names, or the
/// user is told where the FATE Boards and notebooks are reached instead.
async fn observe_existing(ctx: &Ctx<'_>) -> Result<Diff> {
    let mut said = Vec::new();
    for cluster in ctx.clusters() {
        let classes = super::existing::ingress_classes(ctx, &cluster).await?;
        said.push(super::existing::ingress_note(ctx, &cluster, &classes));
    }
    Ok(Diff::none(said.join("; ")))
}

async fn observe(ctx: &Ctx<'_>) -> Result<Diff> {
    if !ctx.spec.on_minikube() {
        return observe_existing(ctx).await;
    }
    let mk = super::minikube::active(ctx).await?;
    let enabled = mk.client.addon_enabled("ingress").await?;
    let (ns, name) = controller_deployment(&mk.version);
    let api: ::kube::Api<Deployment> = ::kube::Api::namespaced(ctx.kube().await?.clone(), ns);
    let available = kube::deployment_available(api.get_opt(name).await?.as_ref());
    let mut changes = Vec::new();
    if !enabled {
        changes.push("enable minikube's ingress addon".to_string());
    }
    if !available {
        changes.push(format!("wait until Deployment {ns}/{name} is available"));
    }
    Ok(Diff::new(
        changes,
        format!("the ingress addon is enabled and {ns}/{name} is available"),
        Observed { enabled, available },
    ))
}

async fn converge(ctx: &Ctx<'_>, line: &StepLine, diff: Diff) -> Result<()> {
    if !ctx.spec.on_minikube() {
        return Ok(());
    }
    let Observed { enabled, available } = *diff.observation::<Observed>();
    let mk = super::minikube::active(ctx).await?;
    if !enabled {
        ctx.update_record(|r| r.ingress_enabled_by_fatelab = true)?;
        line.note("minikube addons enable ingress");
        let out = mk
            .client
            .enable_addon("ingress", |l| {
                if !l.trim().is_empty() {
                    line.note(l.trim())
                }
            })
            .await?;
        if !out.success() {
            let advice = crate::steps::minikube_advice::advise(&out, &mk.version);
            return Err(anyhow!(
                "`minikube addons enable ingress` failed ({}): {}.\nFix: {}\nminikube said: {}",
                advice.reason,
                advice.what,
                advice.fix,
                out.combined().trim()
            ));
        }
    }
    if !available || !enabled {
        let (ns, name) = controller_deployment(&mk.version);
        line.note(format!(
            "waiting for Deployment {ns}/{name} to be available"
        ));
        kube::wait_deployment_available(ctx.kube().await?, ns, name, ctx.wait_timeout())
            .await
            .map_err(|e| e.context("the ingress controller did not become available"))?;
    }
    Ok(())
}

async fn undo(ctx: &Ctx<'_>, _line: &StepLine) -> Result<Outcome> {
    if !ctx.record().ingress_enabled_by_fatelab {
        return Ok(Outcome::AlreadyDone(
            "the ingress addon was on before fatelab (left on)".into(),
        ));
    }
    let mk = super::minikube::active(ctx).await?;
    if !matches!(
        mk.client.status().await?,
        minikube::ClusterState::Running(_)
    ) {
        return Ok(Outcome::AlreadyDone(
            "minikube does not run; the addon stays as it is".into(),
        ));
    }
    let out = mk.client.disable_addon("ingress").await?;
    if !out.success() {
        return Err(anyhow!(
            "`minikube addons disable ingress` failed: {}",
            out.combined().trim()
        ));
    }
    ctx.update_record(|r| r.ingress_enabled_by_fatelab = false)?;
    Ok(Outcome::Done)
}

impl Step for Ingress {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "ingress",
            title: "Enable the ingress addon and wait for its controller",
        }
    }

    fn on_existing(&self) -> Option<&'static str> {
        Some("Check each cluster's ingress class (no addon to enable)")
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        if !ctx.spec.on_minikube() {
            return Ok(StepPlan {
                actions: vec![
                    "no addon to enable: each cluster must have an IngressClass for the notebook and FATE Board host names; \
                     without one, fatelab says how to reach them through the API server (`kubectl proxy` URLs)"
                        .into(),
                ],
                files: vec![],
            });
        }
        let minikube = &ctx.spec.release.recommended.minikube;
        let (ns, name) = controller_deployment(minikube);
        let r = ctx.spec.release;
        let class = r
            .ingress
            .class
            .as_deref()
            .map(|c| format!(", class {c}"))
            .unwrap_or_default();
        Ok(StepPlan {
            actions: vec![
                "unless `minikube addons list` says it is on: run `minikube addons enable ingress` (minikube v1.13-v1.17 refuse it with the none driver); `down` turns it off again".into(),
                format!(
                    "wait until Deployment {ns}/{name} is available (minikube {minikube}), naming the pods that are not ready on timeout"
                ),
                format!(
                    "KubeFATE {} creates {} Ingresses{class}; the controller binds host ports 80 and 443",
                    r.release, r.ingress.api_version
                ),
            ],
            files: vec![],
        })
    }

    super::step_fns!(undo);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_location_by_version() {
        let v = |s: &str| minikube::parse_semver(s).unwrap();
        assert_eq!(
            controller_deployment(&v("v1.7.3")),
            ("kube-system", "nginx-ingress-controller")
        );
        assert_eq!(
            controller_deployment(&v("v1.12.0")),
            ("kube-system", "ingress-nginx-controller")
        );
        assert_eq!(
            controller_deployment(&v("v1.22.0")),
            ("ingress-nginx", "ingress-nginx-controller")
        );
    }
}
