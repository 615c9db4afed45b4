//! Step 3 on minikube: the ingress addon, which serves the KubeFATE, notebook and FATE Board host
//! names.

use anyhow::{Result, anyhow};
use k8s_openapi::api::apps::v1::Deployment;

use super::{Ctx, Diff, Outcome, Step, StepPlan};
use crate::clients::{kube, minikube};
use crate::model::compat::ingress_controller;
use crate::model::step::StepName;
use crate::ui::StepLine;

pub struct IngressAddon;

/// The addon as minikube reports it, and its controller as the cluster reports it.
pub struct Observed {
    enabled: bool,
    available: bool,
}

impl Step for IngressAddon {
    type Observed = Observed;

    fn name(&self) -> StepName {
        StepName::Ingress
    }

    fn title(&self) -> &'static str {
        "Enable the ingress addon and wait for its controller"
    }

    fn watched(&self) -> bool {
        true
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Observed>> {
        let mk = ctx.minikube().await?;
        let enabled = mk.client.addon_enabled("ingress").await?;
        let (ns, name) = ingress_controller(&mk.version);
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

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Observed>) -> Result<()> {
        let Observed { enabled, available } = diff.observed;
        let mk = ctx.minikube().await?;
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
                let advice = super::advice::minikube(&out, &mk.version);
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
            let (ns, name) = ingress_controller(&mk.version);
            line.note(format!(
                "waiting for Deployment {ns}/{name} to be available"
            ));
            kube::wait_deployment_available(ctx.kube().await?, ns, name, ctx.wait_timeout())
                .await
                .map_err(|e| e.context("the ingress controller did not become available"))?;
        }
        Ok(())
    }

    async fn undo(&self, ctx: &Ctx, _line: &StepLine) -> Result<Outcome> {
        if !ctx.record().ingress_enabled_by_fatelab {
            return Ok(Outcome::AlreadyDone(
                "the ingress addon was on before fatelab (left on)".into(),
            ));
        }
        let mk = ctx.minikube().await?;
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

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let minikube = &ctx.spec.release.recommended.minikube;
        let (ns, name) = ingress_controller(minikube);
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
}
