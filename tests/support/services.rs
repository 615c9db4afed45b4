//! The services the tests need and do not start themselves: a private Docker Engine and an image
//! registry, which `scripts/test` starts (and `scripts/test start` keeps running for plain
//! `cargo test`). Found through FATELAB_TEST_DOCKER_HOST and FATELAB_TEST_REGISTRY, or the
//! `.test-services/env` file `scripts/test start` writes. The engine must carry the label
//! `fatelab.test=private`: the tests never fall back to the system's engine, whose images may
//! be a real lab's.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// The label scripts/test gives its engine (`dockerd --label`).
const LABEL: &str = "fatelab.test=private";

/// Where fatelab is pointed when there is no private engine: nowhere, so a test that needed one
/// fails instead of reaching the system's.
pub const NO_ENGINE: &str =
    "unix:///nonexistent/no-private-docker-engine-for-the-tests--run-scripts-test.sock";

const HOW: &str = "run the suite with `scripts/test` (it starts what the tests need), or \
    `scripts/test start` once and then `cargo test`";

/// A setting from the environment, else from the file `scripts/test start` left.
fn setting(name: &str) -> Option<String> {
    if let Ok(v) = std::env::var(name)
        && !v.is_empty()
    {
        return Some(v);
    }
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(".test-services/env");
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
        .map(str::to_string)
}

/// The private engine's address once it is seen to answer with its label, or why not.
fn engine() -> &'static Result<String, String> {
    static ENGINE: OnceLock<Result<String, String>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let host = setting("FATELAB_TEST_DOCKER_HOST")
            .ok_or_else(|| "FATELAB_TEST_DOCKER_HOST is not set".to_string())?;
        let out = Command::new("docker")
            .args(["--host", &host, "info", "--format", "{{json .Labels}}"])
            .env_remove("DOCKER_CONTEXT")
            .output()
            .map_err(|e| format!("the docker CLI did not run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "the engine at {host} does not answer: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let labels = String::from_utf8_lossy(&out.stdout);
        if !labels.contains(LABEL) {
            return Err(format!(
                "the engine at {host} is not the tests' private one (no label {LABEL}; its labels: {})",
                labels.trim()
            ));
        }
        Ok(host)
    })
}

/// The private Docker Engine's DOCKER_HOST; a test that needs it fails without it.
pub fn docker_host() -> &'static str {
    match engine() {
        Ok(host) => host,
        Err(why) => panic!("this test needs the tests' private Docker Engine: {why}; {HOW}"),
    }
}

/// DOCKER_HOST for a fatelab run: the private engine, or nowhere.
pub fn docker_host_or_none() -> &'static str {
    engine().as_deref().unwrap_or(NO_ENGINE)
}

/// The registry's address (host:port); a test that needs it fails without it.
pub fn registry() -> String {
    setting("FATELAB_TEST_REGISTRY").unwrap_or_else(|| {
        panic!("this test needs the tests' image registry: FATELAB_TEST_REGISTRY is not set; {HOW}")
    })
}

/// A program from the machine the test needs (zsh, fish, …); fails saying how to get it.
pub fn program(name: &str) -> std::path::PathBuf {
    which::which(name)
        .unwrap_or_else(|_| panic!("this test needs {name}, which is not on PATH; {HOW}"))
}

/// The docker CLI aimed at the private engine.
pub fn docker() -> Command {
    let mut cmd = Command::new("docker");
    cmd.env("DOCKER_HOST", docker_host())
        .env_remove("DOCKER_CONTEXT");
    cmd
}
