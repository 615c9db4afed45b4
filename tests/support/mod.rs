//! Shared helpers for the integration tests: run the real binary, read YAML as plain values.

#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// The developer's settings no test may inherit.
const UNSET: [&str; 6] = [
    "FATELAB_YES",
    "FATELAB_GITHUB_MIRROR",
    "FATELAB_CHART_REPO",
    "FATELAB_CACHE_DIR",
    "XDG_STATE_HOME",
    "KUBECONFIG",
];

/// The fatelab binary with an environment that cannot leak the developer's settings into a test.
pub fn fatelab(state: &Path) -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("fatelab");
    for var in UNSET {
        cmd.env_remove(var);
    }
    cmd.env("FATELAB_STATE_DIR", state);
    // The tests' private Docker Engine, or none: never the system's, whose images may be a lab's.
    cmd.env("DOCKER_HOST", services::docker_host_or_none())
        .env_remove("DOCKER_CONTEXT");
    // Labs are sized to the host; every test plans for the tutorial's machine, whatever runs it.
    cmd.env("FATELAB_HOST_SIZE", TUTORIAL_HOST);
    cmd
}

/// The same, as a plain `std::process::Command` (for a run that is watched while it goes, or
/// killed).
pub fn fatelab_process(state: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fatelab"));
    for var in UNSET.iter().chain(&["DOCKER_CONTEXT"]) {
        cmd.env_remove(var);
    }
    cmd.env("FATELAB_STATE_DIR", state)
        .env("DOCKER_HOST", services::docker_host_or_none())
        .env("FATELAB_HOST_SIZE", TUTORIAL_HOST);
    cmd
}

/// The tutorial's machine: 8 CPUs, 16 GiB (`FATELAB_HOST_SIZE`).
pub const TUTORIAL_HOST: &str = "8,16Gi";

/// fatelab's cache for the tests, kept between runs: FATE's packages for the local lab (about
/// 6 GB), whose venv is also the real FATE Flow test's (`scripts/test` exports it).
pub fn fate_cache() -> std::path::PathBuf {
    match std::env::var_os("FATELAB_TEST_CACHE") {
        Some(dir) => dir.into(),
        None => std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME"))
            .join(".cache/fatelab-test/fatelab"),
    }
}

/// The venv shared/tools/real-fateflow.sh runs FATE Flow from in `mode` (full: the local lab's).
pub fn fate_flow_venv(mode: &str) -> Option<std::path::PathBuf> {
    (mode == "full").then(|| fate_cache().join("fate-2.2.0/env"))
}

pub fn read_yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn golden(rel: &str) -> Value {
    read_yaml(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(rel),
    )
}

pub fn scenario(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

pub mod fake_kube;
pub mod static_server;
pub mod tables;

/// The fake `minikube` script that mimics v1.7.3 and modern releases.
pub fn fake_minikube_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/minikube")
}
pub mod fake_fateflow;
pub mod fake_kubefate;
pub mod fake_serving;
pub mod faults;
pub mod host;
pub mod images;
pub mod lab;
pub mod pod_exec;
pub mod registry;
pub mod schema;
pub mod services;

/// Serves HTTP/1 on `listener`, one task per connection, handing each request to `handle`.
/// Every in-process fake server of the tests runs on this.
pub fn serve<S, F, B>(listener: tokio::net::TcpListener, server: S, handle: F)
where
    S: Clone + Send + Sync + 'static,
    F: Fn(
            S,
            hyper::Request<hyper::body::Incoming>,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = hyper::Response<B>> + Send>>
        + Clone
        + Send
        + Sync
        + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (server, handle) = (server.clone(), handle.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let fut = handle(server.clone(), req);
                    async move {
                        let resp = fut.await;
                        if resp.extensions().get::<faults::ResetConnection>().is_some() {
                            // An error from the service makes hyper drop the connection unanswered.
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::ConnectionReset,
                                "fault: connection reset",
                            ));
                        }
                        Ok(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
}
pub mod pty;
