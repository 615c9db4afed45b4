//! What a failure means and what to do about it, in fatelab's words: a minikube failure (from
//! its reason ID or, before v1.10, its exit code), a pod that will not come up, a KubeFATE job
//! that outlasts the run, and FATE's own errors.

use semver::Version;

use crate::clients::kube::{Stuck, StuckPod};
use crate::clients::kubefate::JobDeadline;
use crate::clients::minikube::{Output, reason_id};
use crate::steps::Ctx;

#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    pub reason: String,
    pub what: String,
    pub fix: String,
}

pub fn minikube(output: &Output, version: &Version) -> Advice {
    let text = output.combined();
    let code = output.code.unwrap_or(-1);
    let reason = reason_id(&text);
    let (what, fix): (&str, &str) = match reason.as_deref() {
        Some("GUEST_MISSING_CONNTRACK") if text.contains("crictl") => (
            "Kubernetes 1.24 and newer need crictl in root's PATH",
            "install crictl (e.g. from the cri-tools release) into /usr/bin or /usr/local/bin; `fatelab doctor` checks it",
        ),
        Some("GUEST_MISSING_CONNTRACK") => (
            "Kubernetes 1.18 and newer need conntrack in root's PATH",
            "install it: `sudo apt-get install conntrack` (Debian/Ubuntu) or `sudo yum install conntrack-tools`",
        ),
        Some("NOT_FOUND_CRI_DOCKERD") | Some("RT_DOCKER_MISSING_CRI_DOCKER_NONE") => (
            "Kubernetes 1.24 and newer with the docker runtime need cri-dockerd and its systemd units",
            "install cri-dockerd (https://github.com/Mirantis/cri-dockerd) and `sudo systemctl enable --now cri-docker.socket`",
        ),
        Some("NOT_FOUND_CNI_PLUGINS") => (
            "the CNI plugins are missing from /opt/cni/bin",
            "unpack cni-plugins-linux-amd64-<version>.tgz from containernetworking/plugins into /opt/cni/bin",
        ),
        Some("NOT_FOUND_DOCKERD") => ("dockerd is not installed", "install Docker Engine"),
        Some("PROVIDER_NONE_NOT_FOUND") => (
            "the none driver cannot run here: iptables is missing, or sudo needs a password",
            "install iptables, and run fatelab as root or with passwordless sudo",
        ),
        Some("DRV_NEEDS_ROOT") => (
            "sudo asked for a password and minikube was told not to prompt",
            "run fatelab as root (`sudo fatelab up ...`) or configure passwordless sudo",
        ),
        Some("HOST_JUJU_LOCK_PERMISSION") => (
            "a lock file in /tmp belongs to another user (minikube was run with and without sudo)",
            "run `sudo sysctl fs.protected_regular=0`, or remove /tmp/juju-* as root",
        ),
        Some("GUEST_PORT_IN_USE") => (
            "a port Kubernetes needs is in use",
            "stop what listens on 8443/10250/10257/10259 (see `sudo ss -ltnp`)",
        ),
        Some("K8S_OLD_UNSUPPORTED") => (
            "this minikube is too new for the Kubernetes version the release needs",
            "let fatelab use a matching minikube: `fatelab up --minikube-version v1.22.0` (for KubeFATE v1.6.0)",
        ),
        Some("K8S_NEW_UNSUPPORTED") => (
            "this minikube is too old for the requested Kubernetes version",
            "use a newer minikube with --minikube-version, or a lower --kubernetes-version",
        ),
        Some("K8S_DOWNGRADE_UNSUPPORTED") => (
            "an existing cluster runs a newer Kubernetes than requested",
            "delete it first (`minikube delete`), or use its Kubernetes version",
        ),
        Some("RSRC_INSUFFICIENT_CORES") => (
            "fewer than 2 CPUs are available",
            "use a machine with at least 2 CPUs",
        ),
        Some("RSRC_INSUFFICIENT_SYS_MEMORY") => (
            "less than 1800 MiB of memory",
            "use a machine with more memory (the tutorial's has 16 GB)",
        ),
        Some("MK_USAGE") if text.contains("ingress addon is not supported") => (
            "minikube v1.13 to v1.17 refuse the ingress addon with the none driver",
            "use another minikube: `fatelab up --minikube-version v1.22.0`",
        ),
        Some("MK_ADDON_ENABLE") => (
            "the ingress addon's pods did not start",
            "look at `kubectl -n ingress-nginx get pods`; an image pull problem is the usual cause",
        ),
        _ if version.major == 1 && version.minor < 10 => match code {
            77 => (
                "minikube's none driver must run as root",
                "run fatelab with sudo (`sudo fatelab up ...`)",
            ),
            64 => (
                "minikube rejected its arguments",
                "this is a fatelab bug for this minikube version; please report it with the output above",
            ),
            78 => (
                "minikube's configuration is invalid",
                "check ~/.minikube/config/config.json",
            ),
            _ => (
                "minikube failed",
                "read minikube's output above; `minikube logs` has more",
            ),
        },
        _ => (
            "minikube failed",
            "read minikube's output above; `minikube logs` has more",
        ),
    };
    Advice {
        reason: reason.unwrap_or_else(|| format!("exit code {code}")),
        what: what.to_string(),
        fix: fix.to_string(),
    }
}

/// What to do about a pod that cannot pull its image (and from where it was asked for), or that
/// the scheduler has no room for (with what the lab asks for and what the host has).
pub fn pods(ctx: &Ctx, e: anyhow::Error) -> anyhow::Error {
    let Some(s) = e.downcast_ref::<StuckPod>() else {
        return e;
    };
    match &s.stuck {
        Stuck::ImagePull { .. } => {
            let said = format!(
                "{s}. Pre-pull it (`fatelab images pull`), use a mirror with --registry, or load an offline bundle with --images"
            );
            e.context(said)
        }
        Stuck::Unschedulable { message, .. } if message.contains("Insufficient") => {
            let lines = match (ctx.spec.sizing.as_ref(), crate::host::facts::host_size()) {
                (Some(size), Ok(host)) => Some(crate::model::sizing::explain(
                    size,
                    ctx.spec.parties.len(),
                    host,
                )),
                _ => None,
            };
            let numbers = match lines {
                Some(lines) => format!(
                    "\nWhat this lab asks for:\n  {}\nAnything else running on the node takes from the same room; \
                     `--resources small` fits the lab to the host, or use fewer parties",
                    lines.join("\n  ")
                ),
                None => String::new(),
            };
            let said = format!("{s}{numbers}");
            e.context(said)
        }
        _ => e,
    }
}

/// A KubeFATE job that did not finish within the run's time: what to do, for `command`.
pub fn job_deadline(mut e: anyhow::Error, command: &str) -> anyhow::Error {
    if let Some(d) = e.downcast_mut::<JobDeadline>() {
        d.advice = format!(
            "KubeFATE goes on with the job on its own: run `fatelab {command}` again once it has ended \
             (`kubefate job describe {}` from the state dir's kubefate CLI shows it), or with a larger --timeout",
            d.job
        );
    }
    e
}

/// Known causes for a FATE failure message, in fatelab's words (reference §6.9).
pub fn fate_error(message: &str) -> Option<&'static str> {
    let m = message.to_lowercase();
    (m.contains("roll site") || m.contains("rollsite") || m.contains("unavailable") || m.contains("federated schedule error"))
        .then_some(
            "the parties cannot reach each other's rollsite: check that --ip is this host's address as pods see it, \
             that each partyList entry points at the other party's rollsite NodePort, and that no firewall blocks \
             the NodePorts (test one party alone first: guest and host the same party)",
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_become_advice() {
        let out = Output {
            code: Some(86),
            stdout: String::new(),
            stderr: "X Exiting due to GUEST_MISSING_CONNTRACK: Sorry, Kubernetes v1.21.2 requires conntrack to be installed in root's path\n".into(),
        };
        let a = minikube(&out, &Version::new(1, 22, 0));
        assert_eq!(a.reason, "GUEST_MISSING_CONNTRACK");
        assert!(a.fix.contains("apt-get install conntrack"));
        let old = Output {
            code: Some(77),
            stdout: String::new(),
            stderr: "not root".into(),
        };
        assert!(minikube(&old, &Version::new(1, 7, 3)).fix.contains("sudo"));
    }

    #[test]
    fn a_rollsite_failure_has_a_likely_cause() {
        assert!(fate_error("create job failed: [Roll Site Error TransInfo] UNAVAILABLE").is_some());
        assert!(fate_error("No module named 'fate'").is_none());
    }
}
