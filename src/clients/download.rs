//! Downloads with a progress bar, resume, and SHA-256: into `<dest>.part`, renamed when complete.
//! A connection that fails or stalls (no byte for [`READ_STALL`]; the clock restarts with every
//! byte, so a slow but moving download is never cut) is tried again with backoff, resuming the
//! part already there; the whole file is hashed at the end, resumed or not.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use std::time::Duration;

use tower::retry::backoff::{Backoff, ExponentialBackoffMaker, MakeBackoff};
use tower::util::rng::HasherRng;

use super::transport::HttpError;
use crate::secret::redact_url;

/// Whoever shows a transfer: told its size when the answer starts (with the bytes a resume
/// already has), then every chunk, then that it checked out. Each attempt starts afresh.
pub trait Progress: Send + Sync {
    fn start(&self, total: Option<u64>, already: u64);
    fn advance(&self, bytes: u64);
    fn done(&self);
}

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

const CONNECT_WITHIN: Duration = Duration::from_secs(20);
/// The longest silence while reading an answer.
pub const READ_STALL: Duration = Duration::from_secs(60);
/// Attempts after the first, with waits from 500 ms doubling to at most 10 s (jittered).
const RETRIES: u32 = 4;

fn client() -> Result<reqwest::Client> {
    super::transport::ensure_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(CONNECT_WITHIN)
        .read_timeout(READ_STALL)
        .build()
        .context("building the HTTP client")
}

/// An answer other than success: the caller says what to do about it.
fn refused(url: &str, status: u16) -> anyhow::Error {
    HttpError {
        call: format!("downloading {} failed", redact_url(url)),
        status,
        message: String::new(),
        transient: super::transport::transient_status(status),
    }
    .into()
}

/// Runs `attempt` until it succeeds, fails for good, or the retries are spent.
async fn with_retries<T, F, Fut>(url: &str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut backoff = ExponentialBackoffMaker::new(
        Duration::from_millis(500),
        Duration::from_secs(10),
        2.0,
        HasherRng::new(),
    )
    .expect("valid backoff bounds")
    .make_backoff();
    let mut left = RETRIES;
    loop {
        match attempt().await {
            Err(e) if left > 0 && super::transport::is_transient(&e) => {
                left -= 1;
                tracing::info!("{} ({e:#}); trying again", redact_url(url));
                backoff.next_backoff().await;
            }
            other => return other,
        }
    }
}

/// A small text (a `.sha256` file), tried again like a download.
pub async fn fetch_text(url: &str) -> Result<String> {
    with_retries(url, || async {
        let resp = client()?
            .get(url)
            .send()
            .await
            .with_context(|| format!("downloading {}", redact_url(url)))?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return Err(refused(url, status));
        }
        Ok(resp.text().await?)
    })
    .await
}

/// Fetches `url` to `dest`. An existing `dest` is kept when it matches `sha256` (or when no sum is
/// known); a partial `.part` file is resumed with a Range request. A mismatch deletes the file.
pub async fn fetch(
    progress: Option<&dyn Progress>,
    url: &str,
    dest: &Path,
    sha256: Option<&str>,
) -> Result<Downloaded> {
    with_retries(url, || fetch_once(progress, url, dest, sha256)).await
}

async fn fetch_once(
    progress: Option<&dyn Progress>,
    url: &str,
    dest: &Path,
    sha256: Option<&str>,
) -> Result<Downloaded> {
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
        .with_context(|| format!("downloading {}", redact_url(url)))?;
    let status = resp.status();
    let resuming = have > 0 && status == reqwest::StatusCode::PARTIAL_CONTENT;
    if !status.is_success() {
        return Err(refused(url, status.as_u16()));
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
    if let Some(p) = progress {
        p.start(total, if resuming { have } else { 0 });
    }
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.with_context(|| {
            format!(
                "downloading {} (the partial file is kept for a resume)",
                redact_url(url)
            )
        })?;
        file.write_all(&chunk).await?;
        if let Some(p) = progress {
            p.advance(chunk.len() as u64);
        }
    }
    file.sync_all().await?;
    drop(file);

    // The transfer stays shown at its end while the file is hashed; done only once it checks out.
    let sum = sha256_of(&part).await?;
    if let Some(want) = sha256
        && !want.eq_ignore_ascii_case(&sum)
    {
        tokio::fs::remove_file(&part).await?;
        bail!(
            "{} does not match its checksum: expected sha256 {want}, got {sum}; the file was \
             removed. A mirror may serve a different file, or the download was corrupted: try again",
            redact_url(url)
        );
    }
    if let Some(p) = progress {
        p.done();
    }
    tokio::fs::rename(&part, dest).await?;
    let bytes = tokio::fs::metadata(dest).await?.len();
    Ok(Downloaded {
        path: dest.to_path_buf(),
        sha256: sum,
        bytes,
    })
}
