//! Downloads with a progress bar, resume, and SHA-256: into `<dest>.part`, renamed when complete.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ui::Ui;

#[derive(Debug, Clone)]
pub struct Downloaded {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

pub async fn sha256_of(path: &Path) -> Result<String> {
    let mut f = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn client() -> Result<reqwest::Client> {
    super::ensure_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(20))
        .build()
        .context("building the HTTP client")
}

/// Fetches `url` to `dest`. An existing `dest` is kept when it matches `sha256` (or when no sum is
/// known); a partial `.part` file is resumed with a Range request. A mismatch deletes the file.
pub async fn fetch(ui: &Ui, url: &str, dest: &Path, sha256: Option<&str>) -> Result<Downloaded> {
    if dest.exists() {
        let sum = sha256_of(dest).await?;
        match sha256 {
            Some(want) if !want.eq_ignore_ascii_case(&sum) => {
                tokio::fs::remove_file(dest).await?;
            }
            _ => {
                let bytes = tokio::fs::metadata(dest).await?.len();
                return Ok(Downloaded {
                    path: dest.to_path_buf(),
                    sha256: sum,
                    bytes,
                });
            }
        }
    }
    if let Some(dir) = dest.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let part = part_path(dest);
    let have = tokio::fs::metadata(&part)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let mut req = client()?.get(url);
    if have > 0 {
        req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("downloading {url}"))?;
    let status = resp.status();
    let resuming = have > 0 && status == reqwest::StatusCode::PARTIAL_CONTENT;
    if !status.is_success() {
        bail!(
            "downloading {url} failed: HTTP {status}; check the URL, or point --github-mirror / \
             FATELAB_GITHUB_MIRROR at a mirror that has it"
        );
    }
    let total = resp
        .content_length()
        .map(|n| if resuming { n + have } else { n });
    let mut file = if resuming {
        tokio::fs::OpenOptions::new()
            .append(true)
            .open(&part)
            .await?
    } else {
        tokio::fs::File::create(&part).await?
    };
    let label = dest
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let bar = ui.bytes_bar(total, &label);
    if resuming {
        bar.set_position(have);
    }
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.with_context(|| {
            format!("downloading {url} (the partial file is kept for a resume)")
        })?;
        file.write_all(&chunk).await?;
        bar.inc(chunk.len() as u64);
    }
    file.sync_all().await?;
    drop(file);
    bar.finish_and_clear();

    let sum = sha256_of(&part).await?;
    if let Some(want) = sha256
        && !want.eq_ignore_ascii_case(&sum)
    {
        tokio::fs::remove_file(&part).await?;
        bail!(
            "{url} does not match its checksum: expected sha256 {want}, got {sum}; the file was \
             removed. A mirror may serve a different file, or the download was corrupted: try again"
        );
    }
    tokio::fs::rename(&part, dest).await?;
    let bytes = tokio::fs::metadata(dest).await?.len();
    Ok(Downloaded {
        path: dest.to_path_buf(),
        sha256: sum,
        bytes,
    })
}
