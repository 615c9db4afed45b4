//! Downloads against a local HTTP server: complete, resumed, and rejected on a bad checksum.

mod support;

use std::collections::BTreeMap;

use fatelab::clients::download;
use sha2::{Digest, Sha256};
use support::static_server::StaticServer;

fn payload() -> Vec<u8> {
    (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect()
}

async fn server() -> StaticServer {
    StaticServer::start(BTreeMap::from([("/files/a.bin".to_string(), payload())])).await
}

/// What a download told its progress: its start (size, bytes already there), the bytes after
/// it, whether it ended.
type Told = (Option<(Option<u64>, u64)>, u64, bool);

#[derive(Default)]
struct Seen(std::sync::Mutex<Told>);

impl download::Progress for Seen {
    fn start(&self, total: Option<u64>, already: u64) {
        self.0.lock().unwrap().0 = Some((total, already));
    }
    fn advance(&self, bytes: u64) {
        self.0.lock().unwrap().1 += bytes;
    }
    fn done(&self) {
        self.0.lock().unwrap().2 = true;
    }
}

fn sum(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[tokio::test]
async fn a_download_is_verified_and_then_kept() {
    let srv = server().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("cache/a.bin");
    let url = format!("{}/files/a.bin", srv.url);
    let got = download::fetch(None, &url, &dest, Some(&sum(&payload())))
        .await
        .unwrap();
    assert_eq!(got.sha256, sum(&payload()));
    assert_eq!(std::fs::read(&dest).unwrap(), payload());
    // Present and verified: no second request.
    download::fetch(None, &url, &dest, Some(&sum(&payload())))
        .await
        .unwrap();
    assert_eq!(srv.requests(), ["GET /files/a.bin"]);
}

#[tokio::test]
async fn a_partial_download_is_resumed() {
    let srv = server().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("a.bin");
    std::fs::write(dir.path().join("a.bin.part"), &payload()[..300_000]).unwrap();
    let url = format!("{}/files/a.bin", srv.url);
    let seen = Seen::default();
    download::fetch(Some(&seen), &url, &dest, Some(&sum(&payload())))
        .await
        .unwrap();
    assert_eq!(srv.requests(), ["GET /files/a.bin from 300000"]);
    // Whoever shows it hears the whole size, the part already there, the rest, and the end.
    assert_eq!(
        *seen.0.lock().unwrap(),
        (Some((Some(800_000), 300_000)), 500_000, true)
    );
    assert_eq!(std::fs::read(&dest).unwrap(), payload());
    assert!(!dir.path().join("a.bin.part").exists());
}

#[tokio::test]
async fn a_checksum_mismatch_is_rejected_and_removed() {
    let srv = server().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("a.bin");
    let url = format!("{}/files/a.bin", srv.url);
    let wrong = "0".repeat(64);
    let err = download::fetch(None, &url, &dest, Some(&wrong))
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("does not match its checksum") && msg.contains(&wrong),
        "{msg}"
    );
    assert!(!dest.exists());
    assert!(!dir.path().join("a.bin.part").exists());

    // A file already in place whose sum is wrong is replaced by a fresh download.
    std::fs::write(&dest, b"stale").unwrap();
    download::fetch(None, &url, &dest, Some(&sum(&payload())))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), payload());
}

#[tokio::test]
async fn a_missing_file_names_the_url_and_the_status() {
    let srv = server().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/files/none.bin", srv.url);
    let err = download::fetch(None, &url, &dir.path().join("x"), None)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("HTTP 404") && msg.contains(&url) && !msg.contains("--"),
        "{msg}"
    );
}
