//! The images a release needs, and getting them into the host's Docker: loading archives
//! (skipped when already there), pulling what is missing (each image once, concurrently),
//! and explaining pull failures.

use std::path::Path;

use anyhow::{Context, Result, bail};
use bollard::Docker;
use futures::StreamExt;
use serde::Serialize;

use crate::clients::docker::{self, PullProgress};
use crate::clients::kube::registry_of;
use crate::model::catalog::{ImageSource, Release, Serving};
use crate::ui::Ui;

/// Pulls at once; the daemon already parallelises layers within one pull.
const PULL_CONCURRENCY: usize = 4;

#[derive(Debug, Clone, Serialize)]
pub struct NeededImage {
    pub reference: String,
    pub source: ImageSource,
    /// `service` (KubeFATE itself), `party` (every FATE party) or `serving` (FATE-Serving).
    pub role: &'static str,
    pub used_by: Vec<String>,
}

/// Every image the release needs under the given registry prefix, each once; with `serving`,
/// FATE-Serving's too (`up --serving`).
pub fn needed(release: &Release, registry: Option<&str>, serving: bool) -> Vec<NeededImage> {
    let mut out: Vec<NeededImage> = Vec::new();
    let none = Vec::new();
    let serving_images = match &release.serving {
        Serving::Chart { images, .. } if serving => images,
        _ => &none,
    };
    let groups = [
        ("service", &release.service_images),
        ("party", &release.party_images),
        ("serving", serving_images),
    ];
    for (role, images) in groups {
        for i in images {
            let reference = i.reference(registry, release.registry_style);
            if out.iter().any(|n| n.reference == reference) {
                continue;
            }
            out.push(NeededImage {
                reference,
                source: i.source,
                role,
                used_by: i.used_by.clone(),
            });
        }
    }
    out
}

/// What to tell the user when pulls fail: each image with its registry and the daemon's words,
/// then one piece of advice (Docker Hub's rate limit gets its own).
pub fn pull_failure(failures: &[(String, String)]) -> String {
    let mut s = format!("could not pull {} image(s):\n", failures.len());
    for (reference, daemon_says) in failures {
        s.push_str(&format!(
            "  {reference} from {}: {daemon_says}\n",
            registry_of(reference)
        ));
    }
    let rate_limited = failures.iter().any(|(_, m)| {
        let m = m.to_lowercase();
        m.contains("toomanyrequests") || m.contains("rate limit")
    });
    s.push_str(if rate_limited {
        "The registry refused with its pull rate limit: log in with `docker login` to raise the limit, \
         wait and retry, use a mirror with --registry, or bring the images on disk \
         (`fatelab images save -o bundle.tar` on a connected host, then `fatelab up --images bundle.tar` here)."
    } else {
        "Check this host's access to the registry, use a mirror with --registry (e.g. \
         hub.c.163.com/federatedai for v1.6.0), or bring the images on disk (`fatelab images save -o \
         bundle.tar` on a connected host, then `fatelab up --images bundle.tar` here)."
    });
    s
}

/// The registry images Docker does not have yet (artifact images are left to `load`).
pub async fn missing(docker: &Docker, images: &[NeededImage]) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    for i in images.iter().filter(|i| i.source == ImageSource::Registry) {
        if docker::image_id(docker, &i.reference).await?.is_none() {
            missing.push(i.reference.clone());
        }
    }
    Ok(missing)
}

/// Pulls every registry image that Docker does not have yet. Returns the references pulled.
pub async fn pull_missing(docker: &Docker, ui: &Ui, images: &[NeededImage]) -> Result<Vec<String>> {
    let missing = missing(docker, images).await?;
    pull(docker, ui, missing).await
}

/// Pulls these references at once (a few at a time), with a bar each and one for the total.
pub async fn pull(docker: &Docker, ui: &Ui, missing: Vec<String>) -> Result<Vec<String>> {
    if missing.is_empty() {
        return Ok(missing);
    }
    let count = missing.len();
    let total = ui.count_bar(count as u64, "images");
    let results: Vec<Result<String, (String, String)>> =
        futures::stream::iter(missing.iter().cloned())
            .map(|reference| {
                let bar = ui.bytes_bar(None, &reference);
                let total = &total;
                async move {
                    let shown = bar.progress();
                    let outcome = docker::pull(docker, &reference, move |p: PullProgress| {
                        if p.total > 0 {
                            shown.set_length(p.total);
                            shown.set_position(p.current);
                        }
                    })
                    .await;
                    total.inc(1);
                    if outcome.is_ok() {
                        bar.done("pulled");
                    } else {
                        ui.plain(format!(
                            "    could not pull {reference} ({}/{count})",
                            total.position()
                        ));
                    }
                    outcome
                        .map(|()| reference.clone())
                        .map_err(|e| (reference, format!("{e:#}")))
                }
            })
            .buffer_unordered(PULL_CONCURRENCY)
            .collect()
            .await;
    let failures: Vec<(String, String)> = results.into_iter().filter_map(Result::err).collect();
    if !failures.is_empty() {
        bail!(pull_failure(&failures));
    }
    total.done("pulled");
    Ok(missing)
}

fn archive_tags(path: &Path) -> Result<Vec<String>> {
    let manifest = docker::archive_manifest(path)?;
    Ok(manifest.iter().flat_map(|m| m.repo_tags.clone()).collect())
}

/// True when Docker has every tag of a `docker save` archive with the archive's image ID.
pub async fn archive_loaded(docker: &Docker, path: &Path) -> Result<bool> {
    let manifest = docker::archive_manifest(path)?;
    let mut all_present = manifest.iter().any(|m| !m.repo_tags.is_empty());
    for image in &manifest {
        for tag in &image.repo_tags {
            if docker::image_id(docker, tag).await?.as_deref() != Some(image.id.as_str()) {
                all_present = false;
            }
        }
    }
    Ok(all_present)
}

#[derive(Debug, PartialEq)]
pub enum LoadOutcome {
    /// Every image in the archive is already in Docker with the same ID.
    AlreadyPresent(Vec<String>),
    Loaded(Vec<String>),
}

/// Loads a `docker save` archive unless Docker already has each of its tags with the same ID,
/// then checks that every tag the archive names exists.
pub async fn load_file(docker: &Docker, ui: &Ui, path: &Path) -> Result<LoadOutcome> {
    let tags = archive_tags(path)?;
    if archive_loaded(docker, path).await? {
        return Ok(LoadOutcome::AlreadyPresent(tags));
    }
    let size = std::fs::metadata(path).map(|m| m.len()).ok();
    let label = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let bar = ui.bytes_bar(size, &label);
    let shown = bar.progress();
    let loaded = docker::load_archive(docker, path, move |n| shown.inc(n)).await?;
    bar.done("loaded");
    for tag in &tags {
        docker::image_id(docker, tag).await?.with_context(|| {
            format!(
                "Docker loaded {} but has no image {tag} afterwards",
                path.display()
            )
        })?;
    }
    Ok(LoadOutcome::Loaded(if loaded.is_empty() {
        tags
    } else {
        loaded
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog;

    #[test]
    fn each_image_is_needed_once() {
        let r = catalog::find("v1.6.0").unwrap();
        let list = needed(r, None, false);
        let refs: Vec<&str> = list.iter().map(|i| i.reference.as_str()).collect();
        assert_eq!(refs.len(), 8, "{refs:?}");
        assert!(refs.contains(&"federatedai/kubefate:v1.4.1"));
        assert!(refs.contains(&"mariadb:10"));
        let mirrored = needed(r, Some("hub.c.163.com/federatedai"), false);
        assert!(
            mirrored
                .iter()
                .any(|i| i.reference == "hub.c.163.com/federatedai/mariadb:10")
        );
    }

    #[test]
    fn registries_are_named_and_rate_limits_explained() {
        assert_eq!(registry_of("mysql:8"), "Docker Hub");
        assert_eq!(
            registry_of("federatedai/python:1.6.0-release"),
            "Docker Hub"
        );
        assert_eq!(
            registry_of("hub.c.163.com/federatedai/mysql:8"),
            "hub.c.163.com"
        );
        assert_eq!(registry_of("127.0.0.1:5000/x:1"), "127.0.0.1:5000");
        let one = |r: &str, m: &str| pull_failure(&[(r.to_string(), m.to_string())]);
        let m = one(
            "mysql:8",
            "toomanyrequests: You have reached your pull rate limit.",
        );
        assert!(
            m.contains("pull rate limit") && m.contains("docker login"),
            "{m}"
        );
        let m = one("127.0.0.1:9/mysql:8", "connection refused");
        assert!(
            m.contains("127.0.0.1:9/mysql:8 from 127.0.0.1:9: connection refused")
                && m.contains("--registry"),
            "{m}"
        );
        assert!(!m.contains("docker login"), "{m}");
    }
}
