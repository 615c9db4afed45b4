//! Looking never writes: `status` (text and JSON), `up --dry-run` and `doctor` on a healthy lab
//! leave the state dir byte for byte as it was and send neither fake a request that could change
//! something; without the credentials file, `status` says so and does not make one.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use predicates::str::contains;
use support::host::run;
use support::lab::Lab;

/// Every file under `dir` and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_dry_run_and_doctor_change_nothing() {
    let lab = Lab::start("looking").await;
    run(lab.up(&["--no-test"])).await.success();
    let before = snapshot(&lab.state());
    let (kube_writes, kubefate_writes) = (lab.kube.writes(), lab.kubefate.writes());
    let plan = lab.host.path("plan");
    let looks: Vec<(&str, assert_cmd::Command)> = vec![
        ("status", {
            let mut c = lab.host.fatelab(None);
            c.arg("status");
            c
        }),
        ("status --output json", {
            let mut c = lab.host.fatelab(None);
            c.args(["status", "--output", "json"]);
            c
        }),
        ("up --dry-run", {
            let mut c = lab.up(&["--dry-run", "--plan-dir", plan.to_str().unwrap()]);
            c.env("FATELAB_STATE_DIR", lab.state());
            c
        }),
        ("doctor", {
            let mut c = lab.host.fatelab(None);
            c.args(["doctor", "--ip", "192.168.100.123"]);
            c
        }),
    ];
    for (what, cmd) in looks {
        let out = run(cmd).await.get_output().clone();
        assert!(
            out.status.code() != Some(2),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            snapshot(&lab.state()),
            before,
            "{what} changed the state dir"
        );
        assert_eq!(
            lab.kube.writes(),
            kube_writes,
            "{what} wrote to the API server"
        );
        assert_eq!(
            lab.kubefate.writes(),
            kubefate_writes,
            "{what} wrote to KubeFATE"
        );
    }

    // The credentials are gone: status says what is wrong and what mends it, and makes none.
    let credentials = lab.state().join("credentials.json");
    std::fs::remove_file(&credentials).unwrap();
    let mut status = lab.host.fatelab(None);
    status.arg("status");
    run(status)
        .await
        .code(1)
        .stdout(contains("credentials").and(contains("`fatelab up` makes new ones")));
    let mut json = lab.host.fatelab(None);
    json.args(["status", "--output", "json", "--show-credentials"]);
    run(json).await.code(1);
    assert!(!credentials.exists(), "status made credentials");
    assert_eq!(lab.kube.writes(), kube_writes);
}
