//! End to end on a real host: the whole tutorial, for real. Ignored by default: it needs a Linux
//! host with Docker, root (or passwordless sudo), network access to GitHub and Docker Hub (or a
//! mirror via FATELAB_GITHUB_MIRROR / --registry), about 10 GB of disk and an hour.
//!
//!     sudo -E cargo test --release --test e2e -- --ignored --nocapture
//!
//! FATELAB_E2E_ARGS adds flags to `up` (e.g. "--registry hub.c.163.com/federatedai --ip 10.0.0.5").
//! It runs doctor, up, test, status, `up --dry-run` and up again (no change, the test not rerun),
//! down (through KubeFATE), down again, up and down once more (KubeFATE's hostPath database
//! outlives the lab), and checks that the hosts file and the namespaces are as before.
//!
//! Existing-cluster mode: with FATELAB_E2E_CONTEXT=NAME (a context of KUBECONFIG or
//! ~/.kube/config) the second test runs the lab on that cluster instead of minikube:
//!
//!     FATELAB_E2E_CONTEXT=team cargo test --release --test e2e -- --ignored --nocapture existing
//!
//! (no root needed). It runs doctor, up, test, status, up again (no change), down, and checks that
//! the hosts file is untouched and the lab's namespaces are gone from that cluster.

use std::process::Command;

use k8s_openapi::api::core::v1::Namespace;

fn fatelab(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_fatelab"))
        .args(args)
        .output()
        .expect("running fatelab");
    eprintln!(
        "$ fatelab {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// After `down`: none of the lab's namespaces is left in the cluster.
async fn assert_lab_namespaces_gone(client: kube::Client) {
    let api: kube::Api<Namespace> = kube::Api::all(client);
    for ns in ["kube-fate", "fate-9999", "fate-10000"] {
        assert!(
            api.get_opt(ns).await.unwrap().is_none(),
            "namespace {ns} is still there"
        );
    }
}

fn extra() -> Vec<String> {
    std::env::var("FATELAB_E2E_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[tokio::test]
#[ignore = "needs a real Linux host with Docker and network; see the module docs"]
async fn the_tutorial_on_a_real_host() {
    let hosts_before = std::fs::read("/etc/hosts").unwrap();
    let extra = extra();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();

    assert!(
        fatelab(&[&["doctor"], &extra[..]].concat())
            .status
            .success(),
        "doctor found a problem"
    );
    let up = fatelab(&[&["up", "--yes"], &extra[..]].concat());
    assert!(up.status.success(), "up failed");
    assert!(fatelab(&["test"]).status.success(), "the toy job failed");
    let status = fatelab(&["status", "--output", "json"]);
    assert!(status.status.success(), "status is not healthy");
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(report["healthy"], true);

    let plan = fatelab(&[&["up", "--dry-run"], &extra[..]].concat());
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("Nothing would change"),
        "a dry run on the lab found changes"
    );
    let again = fatelab(&[&["up", "--yes"], &extra[..]].concat());
    assert!(again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    for (said, why) in [
        (
            "run as declared and are healthy",
            "a second up changed the parties",
        ),
        ("already runs a cluster", "a second up restarted minikube"),
        (
            "nothing to do: proven at",
            "a second up ran the toy job again",
        ),
    ] {
        assert!(stderr.contains(said), "{why}");
    }

    assert!(fatelab(&["down", "--yes"]).status.success());
    // The service's database keeps its records on the host: a new lab must still come up.
    let up_again = fatelab(&[&["up", "--yes", "--no-test"], &extra[..]].concat());
    assert!(up_again.status.success(), "up after down failed");
    assert!(fatelab(&["down", "--yes"]).status.success());
    let second = fatelab(&["down", "--yes"]);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("There is no lab to remove"));
    assert_eq!(
        std::fs::read("/etc/hosts").unwrap(),
        hosts_before,
        "/etc/hosts is not as before"
    );

    fatelab::clients::transport::ensure_crypto_provider();
    let home = std::env::var("HOME").unwrap();
    let client = fatelab::clients::kube::connect(
        &std::path::Path::new(&home).join(".kube/config"),
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_lab_namespaces_gone(client).await;
}

#[tokio::test]
#[ignore = "needs an existing Kubernetes cluster: FATELAB_E2E_CONTEXT=NAME; see the module docs"]
async fn the_lab_on_an_existing_cluster() {
    let context = std::env::var("FATELAB_E2E_CONTEXT")
        .expect("FATELAB_E2E_CONTEXT names the kubeconfig context of the cluster to use");
    let hosts_before = std::fs::read("/etc/hosts").unwrap();
    let mut extra = vec!["--context".to_string(), context.clone()];
    extra.extend(self::extra());
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();

    assert!(
        fatelab(&[&["doctor"], &extra[..]].concat())
            .status
            .success(),
        "doctor found a problem with the cluster"
    );
    let up = fatelab(&[&["up", "--yes"], &extra[..]].concat());
    assert!(up.status.success(), "up failed");
    assert!(
        String::from_utf8_lossy(&up.stderr).contains("no minikube"),
        "up did not run on the existing cluster"
    );
    assert!(fatelab(&["test"]).status.success(), "the toy job failed");
    let status = fatelab(&["status", "--output", "json"]);
    assert!(status.status.success(), "status is not healthy");
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(report["minikube"]["state"], "Existing");
    let again = fatelab(&[&["up", "--yes"], &extra[..]].concat());
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("run as declared and are healthy"),
        "a second up changed the parties"
    );
    assert!(fatelab(&["down", "--yes"]).status.success());
    assert_eq!(
        std::fs::read("/etc/hosts").unwrap(),
        hosts_before,
        "/etc/hosts changed on an existing-cluster run"
    );

    let client = fatelab::clients::kube::connect_context(
        fatelab::model::target::KubeconfigSource::default()
            .load()
            .unwrap(),
        &context,
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_lab_namespaces_gone(client).await;
}
