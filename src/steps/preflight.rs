//! Step 1: check the host before anything changes (the same checks as `fatelab doctor`).

use anyhow::Result;

use super::{Ctx, Step, StepInfo, StepPlan, minor_of};

pub struct Preflight;

/// The tutorial's demo machine; below this fatelab warns.
const RECOMMENDED_CPUS: u32 = 8;
const RECOMMENDED_MEMORY_GIB: u32 = 16;
/// minikube's own hard minimums; below these fatelab refuses.
const MIN_CPUS: u32 = 2;
const MIN_MEMORY_MIB: u32 = 1800;

impl Step for Preflight {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "preflight",
            title: "Check the host (what `fatelab doctor` checks); stop before any change if one fails",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let r = ctx.spec.release;
        let k8s = &r.recommended.kubernetes;
        let k8s_minor = minor_of(k8s).unwrap_or((1, 0)).1;
        let mut actions = vec![
            "OS is Linux".to_string(),
            format!(
                "CPUs: fail below {MIN_CPUS} (minikube's minimum), warn below {RECOMMENDED_CPUS} (the tutorial's machine)"
            ),
            format!(
                "memory: fail below {MIN_MEMORY_MIB} MiB (minikube's minimum), warn below {RECOMMENDED_MEMORY_GIB} GiB"
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
        for p in &ctx.spec.parties {
            ports.extend([p.ports.rollsite, p.ports.grpc, p.ports.http].map(|n| n.to_string()));
        }
        actions.push(format!("ports free on the host: {}", ports.join(", ")));
        actions.push(format!(
            "Kubernetes {k8s} allowed by KubeFATE {} ({}) and by the minikube version",
            r.release,
            r.kubernetes.describe()
        ));
        actions.push(format!("{} is assigned to a local interface", ctx.spec.ip));
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}
