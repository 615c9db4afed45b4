//! Shared helpers for the integration tests: run the real binary, read YAML as plain values.

#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// The fatelab binary with an environment that cannot leak the developer's settings into a test.
pub fn fatelab(state: &Path) -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("fatelab");
    for var in [
        "FATELAB_YES",
        "FATELAB_GITHUB_MIRROR",
        "FATELAB_CHART_REPO",
        "XDG_STATE_HOME",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("FATELAB_STATE_DIR", state);
    cmd
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

/// The fake `minikube` script that mimics v1.7.3 and modern releases.
pub fn fake_minikube_script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/minikube")
}
pub mod fake_fateflow;
pub mod fake_kubefate;
pub mod host;
pub mod images;
pub mod lab;
pub mod schema;
