//! The Docker Engine through its API (bollard): reachability, versions, host facts.

use std::time::Duration;

use anyhow::{Context, Result};
use bollard::Docker;

#[derive(Debug, Clone)]
pub struct EngineFacts {
    pub version: String,
    pub api_version: String,
    pub cgroup_driver: Option<String>,
    pub cgroup_version: Option<String>,
    pub root_dir: Option<String>,
}

/// Connects as the `docker` CLI would: DOCKER_HOST if set (unix:// or tcp://), else the local socket.
pub fn connect() -> Result<Docker> {
    Docker::connect_with_defaults().context("connecting to the Docker Engine")
}

pub async fn facts(docker: &Docker) -> Result<EngineFacts> {
    let quick = Duration::from_secs(10);
    tokio::time::timeout(quick, docker.ping())
        .await
        .context("the Docker Engine did not answer within 10 s")?
        .context("the Docker Engine did not answer")?;
    let version = tokio::time::timeout(quick, docker.version()).await??;
    let info = tokio::time::timeout(quick, docker.info()).await??;
    Ok(EngineFacts {
        version: version.version.unwrap_or_default(),
        api_version: version.api_version.unwrap_or_default(),
        cgroup_driver: info.cgroup_driver.map(|d| d.to_string()),
        cgroup_version: info.cgroup_version.map(|v| v.to_string()),
        root_dir: info.docker_root_dir,
    })
}

/// Pulls and loads of multi-GB images outlast bollard's default 120 s request timeout.
const LONG_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// One image in a `docker save` archive: its ID (from the config digest) and its tags.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedImage {
    pub id: String,
    pub repo_tags: Vec<String>,
}

/// Reads `manifest.json` of a docker-archive tarball without reading the layers (entries are
/// skipped with seeks), so checking a multi-GB file costs almost nothing.
pub fn archive_manifest(path: &std::path::Path) -> Result<Vec<ArchivedImage>> {
    use std::io::Read;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries_with_seek()
        .with_context(|| format!("{} is not a tar archive", path.display()))?;
    for entry in entries {
        let mut entry =
            entry.with_context(|| format!("{} is not a valid image archive", path.display()))?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if name.trim_start_matches("./") != "manifest.json" {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text)?;
        let manifest: Vec<serde_json::Value> = serde_json::from_str(&text)
            .with_context(|| format!("{} has a malformed manifest.json", path.display()))?;
        return Ok(manifest
            .iter()
            .map(|m| {
                let config = m["Config"].as_str().unwrap_or_default();
                let digest = config
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches(".json");
                ArchivedImage {
                    id: format!("sha256:{digest}"),
                    repo_tags: m["RepoTags"]
                        .as_array()
                        .map(|tags| {
                            tags.iter()
                                .filter_map(|t| t.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect());
    }
    anyhow::bail!(
        "{} has no manifest.json: it is not an image archive made by `docker save`",
        path.display()
    )
}

/// The local image ID for a reference, or `None` when Docker does not have it.
pub async fn image_id(docker: &Docker, reference: &str) -> Result<Option<String>> {
    match docker.inspect_image(reference).await {
        Ok(i) => Ok(i.id),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("asking Docker about {reference}")),
    }
}

/// Streams an image archive from disk into Docker (`docker load`), reporting bytes sent.
/// Memory stays flat: the file is read in chunks as the daemon consumes it.
pub async fn load_archive(
    docker: &Docker,
    path: &std::path::Path,
    mut on_bytes: impl FnMut(u64) + Send + 'static,
) -> Result<Vec<String>> {
    use futures::StreamExt;
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let chunks = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).map(move |chunk| {
        if let Ok(c) = &chunk {
            on_bytes(c.len() as u64);
        }
        chunk
    });
    let docker = docker.clone().with_timeout(LONG_TIMEOUT);
    let options = bollard::query_parameters::ImportImageOptionsBuilder::default()
        .quiet(false)
        .build();
    let mut messages = docker.import_image_stream(options, chunks, None);
    let mut loaded = Vec::new();
    while let Some(msg) = messages.next().await {
        let info = msg
            .map_err(|e| anyhow::anyhow!(daemon_message(&e)))
            .with_context(|| format!("Docker could not load {}", path.display()))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            anyhow::bail!("Docker could not load {}: {err}", path.display());
        }
        if let Some(line) = info.stream {
            for l in line.lines() {
                if let Some(r) = l
                    .strip_prefix("Loaded image: ")
                    .or_else(|| l.strip_prefix("Loaded image ID: "))
                {
                    loaded.push(r.trim().to_string());
                }
            }
        }
    }
    Ok(loaded)
}

/// The daemon's own words for an error, without bollard's wrapping.
pub fn daemon_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// `registry/name:tag` → (`registry/name`, `tag`); the tag defaults to `latest`.
pub fn split_reference(reference: &str) -> (&str, &str) {
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (&reference[..slash + i], &reference[slash + i + 1..]),
        None => (reference, "latest"),
    }
}

/// Pull progress: bytes done and total, summed over the layers Docker reported so far.
#[derive(Debug, Default, Clone, Copy)]
pub struct PullProgress {
    pub current: u64,
    pub total: u64,
}

pub async fn pull(
    docker: &Docker,
    reference: &str,
    mut on_progress: impl FnMut(PullProgress),
) -> Result<()> {
    use futures::StreamExt;
    let (name, tag) = split_reference(reference);
    let options = bollard::query_parameters::CreateImageOptionsBuilder::default()
        .from_image(name)
        .tag(tag)
        .build();
    let docker = docker.clone().with_timeout(LONG_TIMEOUT);
    let mut layers: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut stream = docker.create_image(Some(options), None, None);
    while let Some(msg) = stream.next().await {
        let info = msg.map_err(|e| anyhow::anyhow!(daemon_message(&e)))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            anyhow::bail!(err);
        }
        if let (Some(id), Some(p)) = (info.id, info.progress_detail)
            && let (Some(cur), Some(tot)) = (p.current, p.total)
            && info.status.as_deref() == Some("Downloading")
        {
            layers.insert(id, (cur.max(0) as u64, tot.max(0) as u64));
            on_progress(PullProgress {
                current: layers.values().map(|l| l.0).sum(),
                total: layers.values().map(|l| l.1).sum(),
            });
        }
    }
    Ok(())
}

/// Writes every image in `references` into one archive (`docker save`), via a `.part` file.
pub async fn save(
    docker: &Docker,
    references: &[String],
    out: &std::path::Path,
    mut on_bytes: impl FnMut(u64),
) -> Result<()> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let part = out.with_extension("part");
    let mut file = tokio::fs::File::create(&part)
        .await
        .with_context(|| format!("creating {}", part.display()))?;
    let names: Vec<&str> = references.iter().map(String::as_str).collect();
    let docker = docker.clone().with_timeout(LONG_TIMEOUT);
    let mut stream = docker.export_images(&names);
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                drop(file);
                let _ = tokio::fs::remove_file(&part).await;
                anyhow::bail!("Docker could not save the images: {}", daemon_message(&e));
            }
        };
        file.write_all(&chunk).await?;
        on_bytes(chunk.len() as u64);
    }
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&part, out).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tag() {
        assert_eq!(split_reference("mysql:8"), ("mysql", "8"));
        assert_eq!(
            split_reference("hub.c.163.com/federatedai/eggroll:1.6.0-release"),
            ("hub.c.163.com/federatedai/eggroll", "1.6.0-release")
        );
        assert_eq!(
            split_reference("registry.local:5000/osx"),
            ("registry.local:5000/osx", "latest")
        );
    }
}
