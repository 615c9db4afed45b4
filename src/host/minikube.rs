//! The minikube of this host: where its profile and kubeconfig live (the invoking user's home,
//! also under sudo), and which binary to use — on PATH, or one fatelab downloaded before.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use semver::Version;

use crate::clients::minikube::{Homes, Minikube};
use crate::host::invoker::Invoker;
use crate::host::state;

/// The invoking user's homes: under `sudo`, SUDO_USER's (so their own kubectl works after),
/// otherwise $HOME's.
pub fn homes() -> Result<Homes> {
    let who = Invoker::current();
    let home = who.home.clone().context("HOME is not set")?;
    Ok(Homes {
        minikube_home: home.join(".minikube"),
        kubeconfig: home.join(".kube").join("config"),
        owner: who.sudo_user.clone(),
    })
}

/// Where fatelab keeps the minikube it downloads.
pub fn downloaded(state_dir: &Path, version: &Version) -> PathBuf {
    state::bin_dir(state_dir).join(format!("minikube-v{version}"))
}

/// A usable minikube, found without downloading: on PATH, or the one fatelab downloaded for
/// `fallback`. With `wanted`, only a binary of that version counts. Else why none does.
pub async fn locate(
    state_dir: &Path,
    homes: &Homes,
    wanted: Option<&Version>,
    fallback: &Version,
) -> std::result::Result<(PathBuf, Version), String> {
    let mut candidates = Vec::new();
    if let Ok(p) = which::which("minikube") {
        candidates.push(p);
    }
    candidates.push(downloaded(state_dir, fallback));
    let mut seen = Vec::new();
    for path in candidates.into_iter().filter(|p| p.is_file()) {
        match Minikube::new(path.clone(), homes).version().await {
            Ok(v) if wanted.is_none_or(|w| *w == v) => return Ok((path, v)),
            Ok(v) => seen.push(format!("{} is v{v}", path.display())),
            Err(e) => seen.push(format!("{}: {e:#}", path.display())),
        }
    }
    Err(match (seen.is_empty(), wanted) {
        (true, _) => "minikube is not on PATH and fatelab has not downloaded it".to_string(),
        (false, Some(w)) => format!("no minikube v{w} found ({})", seen.join("; ")),
        (false, None) => format!("no working minikube found ({})", seen.join("; ")),
    })
}
