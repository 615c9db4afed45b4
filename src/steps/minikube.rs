//! Step 2: a single-node Kubernetes with minikube's none driver (kubelet uses the host's Docker).

use anyhow::Result;

use super::{Ctx, Step, StepInfo, StepPlan, minor_of};

pub struct Minikube;

/// The minikube release that renamed `--vm-driver` to `--driver`.
const DRIVER_FLAG_SINCE: (u32, u32) = (1, 8);

/// The start command for a given minikube version: flag names changed in v1.8.
pub fn start_args(minikube_version: &str, kubernetes_version: &str) -> Vec<String> {
    let new_flags = minor_of(minikube_version).is_none_or(|v| v >= DRIVER_FLAG_SINCE);
    let driver = if new_flags {
        "--driver=none"
    } else {
        "--vm-driver=none"
    };
    let mut args = vec!["start".to_string(), driver.to_string()];
    if new_flags {
        args.push("--container-runtime=docker".into());
    }
    args.push(format!("--kubernetes-version={kubernetes_version}"));
    args
}

impl Step for Minikube {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "minikube",
            title: "Start Kubernetes with minikube's none driver",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let pins = &ctx.spec.release.recommended;
        let url = format!(
            "{}/kubernetes/minikube/releases/download/{}/minikube-linux-amd64",
            ctx.urls.github.trim_end_matches('/'),
            pins.minikube
        );
        let mut actions = vec![
            format!(
                "use minikube from PATH; if it is missing, download minikube {} from {url} into {} (after a confirmation)",
                pins.minikube,
                ctx.state_dir.join("bin").display()
            ),
            "ask `minikube status -o json` first: a cluster that already runs is not started again".into(),
            format!(
                "run `minikube {}` (flags chosen by the minikube version; v1.7.x takes --vm-driver=none)",
                start_args(&pins.minikube, &pins.kubernetes).join(" ")
            ),
            "one MINIKUBE_HOME and KUBECONFIG for every later call, so status and delete see the same cluster".into(),
            "note: a modern `minikube start` rewrites /etc/docker/daemon.json and restarts Docker; fatelab asks before the first start".into(),
        ];
        if let Some(t) = &ctx.spec.release.tutorial {
            actions.push(format!(
                "the tutorial pinned minikube {} with Kubernetes {}; fatelab recommends {} with {}",
                t.minikube, t.kubernetes, pins.minikube, pins.kubernetes
            ));
        }
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_the_minikube_version() {
        assert_eq!(
            start_args("v1.7.3", "v1.17.3"),
            ["start", "--vm-driver=none", "--kubernetes-version=v1.17.3"]
        );
        assert_eq!(
            start_args("v1.22.0", "v1.21.2"),
            [
                "start",
                "--driver=none",
                "--container-runtime=docker",
                "--kubernetes-version=v1.21.2"
            ]
        );
    }
}
