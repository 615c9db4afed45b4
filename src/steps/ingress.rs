//! Step 3: the ingress addon, which serves the KubeFATE, notebook and FATE Board host names.

use anyhow::{Context, Result, anyhow};

use super::{Ctx, Outcome, Step, StepFuture, StepInfo, StepPlan, minor_of};
use crate::clients::{kube, minikube};
use crate::ui::StepLine;

pub struct Ingress;

/// Namespace and name of the addon's controller Deployment, which moved twice in minikube's history.
pub fn controller_deployment(minikube_version: &str) -> (&'static str, &'static str) {
    match minor_of(minikube_version) {
        Some(v) if v < (1, 10) => ("kube-system", "nginx-ingress-controller"),
        Some(v) if v < (1, 19) => ("kube-system", "ingress-nginx-controller"),
        _ => ("ingress-nginx", "ingress-nginx-controller"),
    }
}

async fn run(ctx: &Ctx<'_>, line: &StepLine) -> Result<Outcome> {
    let mk = super::minikube::active(ctx).await?;
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
        let advice = minikube::advise(&out, &mk.version);
        return Err(anyhow!(
            "`minikube addons enable ingress` failed ({}): {}.\nFix: {}\nminikube said: {}",
            advice.reason,
            advice.what,
            advice.fix,
            out.combined().trim()
        ));
    }
    let (ns, name) = controller_deployment(&format!("v{}", mk.version));
    let kubeconfig = mk
        .client
        .kubeconfig()
        .context("minikube has no kubeconfig path")?
        .to_path_buf();
    let client = kube::connect(&kubeconfig).await?;
    line.note(format!(
        "waiting for Deployment {ns}/{name} to be available"
    ));
    kube::wait_deployment_available(&client, ns, name, ctx.opts.wait_timeout)
        .await
        .context("the ingress controller did not become available")?;
    Ok(Outcome::Done)
}

impl Step for Ingress {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "ingress",
            title: "Enable the ingress addon and wait for its controller",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
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
                "run `minikube addons enable ingress` (minikube v1.13-v1.17 refuse it with the none driver)".into(),
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

    fn run<'a>(&'a self, ctx: &'a Ctx, line: &'a StepLine) -> Option<StepFuture<'a>> {
        Some(Box::pin(run(ctx, line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_location_by_version() {
        assert_eq!(
            controller_deployment("v1.7.3"),
            ("kube-system", "nginx-ingress-controller")
        );
        assert_eq!(
            controller_deployment("v1.12.0"),
            ("kube-system", "ingress-nginx-controller")
        );
        assert_eq!(
            controller_deployment("v1.22.0"),
            ("ingress-nginx", "ingress-nginx-controller")
        );
    }
}
