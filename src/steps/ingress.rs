//! Step 3: the ingress addon, which serves the KubeFATE, notebook and FATE Board host names.

use anyhow::Result;

use super::{Ctx, Step, StepInfo, StepPlan, minor_of};

pub struct Ingress;

/// Namespace and name of the addon's controller Deployment, which moved twice in minikube's history.
pub fn controller_deployment(minikube_version: &str) -> (&'static str, &'static str) {
    match minor_of(minikube_version) {
        Some(v) if v < (1, 10) => ("kube-system", "nginx-ingress-controller"),
        Some(v) if v < (1, 19) => ("kube-system", "ingress-nginx-controller"),
        _ => ("ingress-nginx", "ingress-nginx-controller"),
    }
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
