//! The host half of `up` (doctor, minikube, ingress, hosts) and `down`, run as the real binary
//! against a fake `minikube` on PATH, a fake Kubernetes API server, and the real Docker Engine.

mod support;

use std::collections::BTreeMap;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;
use support::fake_kube::{FakeKube, deployment, pod};
use support::host::{HOSTS_BEFORE, Host, kube_with_ingress, run};
use support::static_server::StaticServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_minikube_gets_vm_driver_and_the_tutorial_kubernetes() {
    let host = Host::new(Some("v1.7.3"));
    let kube = kube_with_ingress("kube-system", "nginx-ingress-controller").await;
    run(host.up(&kube, &[]))
        .await
        .success()
        .stderr(contains("Stopped after step hosts as asked"));
    let log = host.argv_log();
    assert!(
        log.contains(
            "argv: start --vm-driver=none --container-runtime=docker --kubernetes-version=v1.17.3\n"
        ),
        "{log}"
    );
    assert!(log.contains("argv: addons enable ingress"), "{log}");
    let home = host.path("home");
    assert!(
        log.contains(&format!(
            "env: MINIKUBE_HOME={} KUBECONFIG={}",
            home.join(".minikube").display(),
            home.join(".kube/config").display()
        )),
        "every call uses the same MINIKUBE_HOME and KUBECONFIG: {log}"
    );
    let hosts = std::fs::read_to_string(host.hosts()).unwrap();
    assert!(hosts.contains(" 9999.notebook.kubefate.net\n"), "{hosts}");
    assert_eq!(host.record()["minikube"]["started_by_fatelab"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modern_minikube_gets_driver_and_container_runtime() {
    let host = Host::new(Some("v1.22.0"));
    host.tool("conntrack");
    let kube = kube_with_ingress("ingress-nginx", "ingress-nginx-controller").await;
    run(host.up(&kube, &[])).await.success();
    let log = host.argv_log();
    assert!(
        log.contains(
            "argv: start --driver=none --container-runtime=docker --kubernetes-version=v1.21.2\n"
        ),
        "{log}"
    );
    assert!(!log.contains("--vm-driver"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_cluster_is_not_started_again() {
    let host = Host::new(Some("v1.22.0"));
    host.tool("conntrack");
    host.mark_cluster_running();
    let kube = kube_with_ingress("ingress-nginx", "ingress-nginx-controller").await;
    // A running cluster has the kubeconfig its start wrote.
    kube.write_kubeconfig(&host.path("home/.kube/config"));
    run(host.up(&kube, &[]))
        .await
        .success()
        .stderr(contains("already runs a cluster"));
    let log = host.argv_log();
    assert!(log.contains("argv: status -o json"), "{log}");
    assert!(!log.contains("argv: start"), "{log}");
    assert_eq!(host.record()["minikube"]["started_by_fatelab"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_restarting_start_needs_a_yes() {
    let host = Host::new(Some("v1.38.1"));
    for t in ["conntrack", "crictl", "cri-dockerd"] {
        host.tool(t);
    }
    let kube = kube_with_ingress("ingress-nginx", "ingress-nginx-controller").await;
    let ignore = ["--release", "v2.0.0", "--ignore-check", "cni-plugins"];
    run(host.up(&kube, &ignore))
        .await
        .code(2)
        .stderr(contains("daemon.json").and(contains("re-run with --yes")));
    assert!(
        !host.argv_log().contains("argv: start"),
        "no start without a yes"
    );
    run(host.up(&kube, &[&ignore[..], &["--yes"]].concat()))
        .await
        .success();
    assert!(host.argv_log().contains(
        "argv: start --driver=none --container-runtime=docker --kubernetes-version=v1.35.1\n"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_check_stops_up_before_any_change() {
    let host = Host::new(Some("v1.22.0")); // Kubernetes v1.21.2 needs conntrack; none here
    let kube = kube_with_ingress("ingress-nginx", "ingress-nginx-controller").await;
    run(host.up(&kube, &["--yes"])).await.code(1).stderr(
        contains("conntrack")
            .and(contains("nothing was changed"))
            .and(contains("apt-get install conntrack")),
    );
    assert!(!host.argv_log().contains("argv: start"));
    assert_eq!(std::fs::read(host.hosts()).unwrap(), HOSTS_BEFORE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minikube_failure_is_explained() {
    // A v1.38 minikube cannot run the Kubernetes v1.21 that KubeFATE v1.6.0 needs.
    let host = Host::new(Some("v1.38.1"));
    host.tool("conntrack");
    let kube = kube_with_ingress("ingress-nginx", "ingress-nginx-controller").await;
    run(host.up(&kube, &["--yes", "--ignore-check", "kubernetes-version"]))
        .await
        .code(1)
        .stderr(contains("K8S_OLD_UNSUPPORTED").and(contains("--minikube-version v1.22.0")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_timeout_names_the_pods_that_are_not_ready() {
    let host = Host::new(Some("v1.22.0"));
    host.tool("conntrack");
    let kube = FakeKube::start().await;
    kube.put(deployment(
        "ingress-nginx",
        "ingress-nginx-controller",
        false,
    ));
    kube.put(pod(
        "ingress-nginx",
        "ingress-nginx-controller-5b7c-x2k",
        Some((
            "ImagePullBackOff",
            "Back-off pulling image \"registry.k8s.io/ingress-nginx/controller:v0.48.1\"",
        )),
    ));
    run(host.up(&kube, &["--timeout", "1s"]))
        .await
        .code(1)
        .stderr(
            contains("ingress-nginx/ingress-nginx-controller was not available after 1s")
                .and(contains("ingress-nginx-controller-5b7c-x2k"))
                .and(contains("ImagePullBackOff")),
        );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_restores_the_hosts_file_byte_for_byte() {
    let host = Host::new(Some("v1.7.3"));
    let kube = kube_with_ingress("kube-system", "nginx-ingress-controller").await;
    run(host.up(&kube, &[])).await.success();
    assert_ne!(std::fs::read(host.hosts()).unwrap(), HOSTS_BEFORE);
    // Re-running replaces the block rather than adding a second one.
    run(host.up(&kube, &[])).await.success();
    let hosts = std::fs::read_to_string(host.hosts()).unwrap();
    assert_eq!(hosts.matches("# BEGIN fatelab").count(), 1, "{hosts}");

    let mut down = host.fatelab(None);
    down.args(["down", "--yes"]);
    run(down)
        .await
        .success()
        .stderr(contains("The lab is removed"));
    assert_eq!(std::fs::read(host.hosts()).unwrap(), HOSTS_BEFORE);
    assert!(
        host.argv_log().matches("argv: delete").count() == 0,
        "plain down keeps minikube"
    );

    let mut again = host.fatelab(None);
    again.args(["down", "--yes"]);
    run(again)
        .await
        .success()
        .stderr(contains("There is no lab to remove"));
    assert_eq!(std::fs::read(host.hosts()).unwrap(), HOSTS_BEFORE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_purge_deletes_the_cluster_fatelab_started() {
    let host = Host::new(Some("v1.7.3"));
    let kube = kube_with_ingress("kube-system", "nginx-ingress-controller").await;
    run(host.up(&kube, &[])).await.success();
    let mut down = host.fatelab(None);
    down.args(["down", "--purge"]);
    run(down).await.code(2).stderr(contains("--yes"));
    assert_ne!(
        std::fs::read(host.hosts()).unwrap(),
        HOSTS_BEFORE,
        "a refused down changes nothing"
    );
    let mut down = host.fatelab(None);
    down.args(["down", "--purge", "--yes"]);
    run(down).await.success();
    assert!(host.argv_log().contains("argv: delete"));
    assert_eq!(std::fs::read(host.hosts()).unwrap(), HOSTS_BEFORE);
}

/// The fake minikube as a release binary of v1.22.0, and its SHA-256.
fn served_minikube() -> (Vec<u8>, String) {
    let script = std::fs::read_to_string(support::fake_minikube_script()).unwrap();
    // The downloaded binary is the fake, pinned to the version it claims to be.
    let served = script
        .replacen(
            "version=\"${FAKE_MINIKUBE_VERSION:-v1.38.1}\"",
            "version=\"v1.22.0\"",
            1,
        )
        .into_bytes();
    let sum = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&served));
    (served, sum)
}

const MINIKUBE_PATH: &str = "/kubernetes/minikube/releases/download/v1.22.0/minikube-linux-amd64";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_minikube_is_downloaded_through_the_mirror() {
    let host = Host::new(None);
    host.tool("conntrack");
    let (served, sum) = served_minikube();
    let mirror = StaticServer::start(BTreeMap::from([
        (MINIKUBE_PATH.to_string(), served),
        (
            format!("{MINIKUBE_PATH}.sha256"),
            format!("{sum}  minikube-linux-amd64\n").into_bytes(),
        ),
    ]))
    .await;
    let kube = kube_with_ingress("ingress-nginx", "ingress-nginx-controller").await;
    let mut cmd = host.up(&kube, &["--yes"]);
    cmd.env("FATELAB_GITHUB_MIRROR", &mirror.url);
    run(cmd)
        .await
        .success()
        .stderr(contains("downloaded minikube v1.22.0").and(contains("as published")));
    let binary = host.state().join("bin/minikube-v1.22.0");
    assert!(binary.is_file());
    assert!(
        host.argv_log().contains("argv: start --driver=none"),
        "{}",
        host.argv_log()
    );
    assert_eq!(
        mirror.requests(),
        [
            format!("GET {MINIKUBE_PATH}.sha256"),
            format!("GET {MINIKUBE_PATH}")
        ]
    );
    assert_eq!(host.record()["minikube"]["downloaded_sha256"], sum.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minikube_that_does_not_match_its_published_sha256_is_not_installed() {
    let host = Host::new(None);
    host.tool("conntrack");
    let (served, _) = served_minikube();
    let wrong = "0".repeat(64);
    let mirror = StaticServer::start(BTreeMap::from([
        (MINIKUBE_PATH.to_string(), served),
        (
            format!("{MINIKUBE_PATH}.sha256"),
            wrong.clone().into_bytes(),
        ),
    ]))
    .await;
    let kube = kube_with_ingress("ingress-nginx", "ingress-nginx-controller").await;
    let mut cmd = host.up(&kube, &["--yes"]);
    cmd.env("FATELAB_GITHUB_MIRROR", &mirror.url);
    run(cmd).await.code(1).stderr(
        contains("does not match its checksum")
            .and(contains(&wrong))
            .and(contains("nothing was installed")),
    );
    let bin = host.state().join("bin");
    assert!(!bin.join("minikube-v1.22.0").exists());
    assert!(!bin.join("minikube-v1.22.0.part").exists());
    assert!(!host.argv_log().contains("argv: start"), "nothing ran");
}

fn doctor_json(host: &Host, extra: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let mut cmd = host.fatelab(None);
    cmd.args(["doctor", "--output", "json"]).args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap(), v)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

#[test]
fn doctor_without_minikube_fails_and_names_every_check_with_a_fix() {
    let host = Host::new(None);
    let (code, report) = doctor_json(&host, &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(report["ok"], false);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for expected in [
        "os",
        "cpus",
        "memory",
        "disk",
        "docker",
        "cgroups",
        "privileges",
        "conntrack",
        "crictl",
        "cri-dockerd",
        "iptables",
        "cni-plugins",
        "socat",
        "minikube",
        "kubectl",
        "ports",
        "kubernetes-version",
        "host-ip",
    ] {
        assert!(
            names.contains(&expected),
            "missing check {expected}: {names:?}"
        );
    }
    for c in report["checks"].as_array().unwrap() {
        assert!(c["detail"].as_str().is_some_and(|d| !d.is_empty()), "{c}");
        if c["status"] != "pass" {
            assert!(
                c["fix"].as_str().is_some_and(|f| !f.is_empty()),
                "no fix for {c}"
            );
        }
    }
    assert_eq!(check(&report, "minikube")["status"], "fail");
    assert_eq!(
        check(&report, "conntrack")["status"],
        "fail",
        "Kubernetes v1.21 needs conntrack"
    );
    assert_eq!(check(&report, "kubectl")["status"], "warn");
}

#[test]
fn doctor_sees_a_dead_docker() {
    let host = Host::new(Some("v1.22.0"));
    let (code, report) = doctor_json(
        &host,
        &[],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(code, 1);
    let docker = check(&report, "docker");
    assert_eq!(docker["status"], "fail");
    assert!(
        docker["fix"]
            .as_str()
            .unwrap()
            .contains("systemctl start docker")
    );
}

#[test]
fn doctor_with_a_live_docker_passes_that_check() {
    let host = Host::new(Some("v1.22.0"));
    let (_, report) = doctor_json(
        &host,
        &[],
        &[("DOCKER_HOST", support::services::docker_host())],
    );
    let docker = check(&report, "docker");
    assert_eq!(
        docker["status"], "pass",
        "the tests' private Docker Engine answers: {docker}"
    );
    assert!(docker["detail"].as_str().unwrap().contains("API"));
}

#[test]
fn doctor_judges_each_minikube_version() {
    let old = Host::new(Some("v1.7.3"));
    let (_, report) = doctor_json(&old, &[], &[]);
    assert!(
        check(&report, "minikube")["detail"]
            .as_str()
            .unwrap()
            .starts_with("v1.7.3")
    );
    assert_eq!(
        check(&report, "conntrack")["status"],
        "pass",
        "Kubernetes v1.17 does not need conntrack"
    );
    assert!(
        check(&report, "kubernetes-version")["detail"]
            .as_str()
            .unwrap()
            .starts_with("v1.17.3")
    );

    let new = Host::new(Some("v1.38.1"));
    let (code, report) = doctor_json(&new, &[], &[]);
    assert_eq!(code, 1);
    let k = check(&report, "kubernetes-version");
    assert_eq!(k["status"], "fail");
    assert!(
        k["detail"]
            .as_str()
            .unwrap()
            .contains("K8S_OLD_UNSUPPORTED"),
        "{k}"
    );

    let (_, report) = doctor_json(&new, &["--release", "v2.0.0"], &[]);
    assert_eq!(check(&report, "kubernetes-version")["status"], "pass");
    assert_eq!(
        check(&report, "crictl")["status"],
        "fail",
        "Kubernetes v1.35 needs crictl"
    );
}

#[test]
fn doctor_flags_an_ip_the_host_does_not_have() {
    let host = Host::new(Some("v1.22.0"));
    // 198.51.100.77 is in TEST-NET-2, reserved for documentation: no real interface has it.
    let (_, report) = doctor_json(&host, &["--ip", "198.51.100.77"], &[]);
    let ip = check(&report, "host-ip");
    assert_eq!(ip["status"], "fail");
    assert!(ip["fix"].as_str().unwrap().contains("--ip"));
    let (_, report) = doctor_json(&host, &[], &[]);
    assert_eq!(
        check(&report, "host-ip")["status"],
        "pass",
        "the detected address is local"
    );
}

#[test]
fn hosts_command_prints_lines_for_the_browser_machine() {
    let host = Host::new(None);
    let mut cmd = host.fatelab(None);
    cmd.args([
        "hosts",
        "--ip",
        "192.168.100.123",
        "--parties",
        "9999,10000",
    ]);
    cmd.assert().success().stdout(
        contains("192.168.100.123 kubefate.net\n")
            .and(contains("192.168.100.123 10000.fateboard.kubefate.net"))
            .and(contains("C:\\Windows\\System32\\drivers\\etc\\hosts"))
            .and(contains("sudo sh -c 'cat >> /etc/hosts'")),
    );
}
