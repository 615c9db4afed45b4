//! The training report in a real browser: Debian's Chromium, headless, in a network namespace of
//! its own (only a loopback that is down: the report must need no network, and the browser
//! sends nothing anywhere). The page loads without a script error, its DOM has both ROC curves
//! as SVG polylines, and a screenshot is taken (`FATELAB_REPORT_PNG=path` keeps it: that is how
//! docs/report.png is made).

mod support;

use std::path::Path;
use std::process::Command;

use support::fake_fateflow::FakeFateFlow;
use support::fake_kube::FakeKube;
use support::host::{Host, run};

/// Chromium on `page`: its DOM after load, and what it logged.
fn chromium(page: &Path, extra: &[String]) -> (String, String) {
    let out = Command::new("unshare")
        .args([
            "--net",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args([
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("running chromium (Debian's `chromium`; scripts/test installs it) under unshare");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_opens_in_a_browser_with_both_curves_and_no_error() {
    let host = Host::new(Some("v1.22.0"));
    let kube = FakeKube::start().await;
    let _parties = FakeFateFlow::two_parties(&kube).await;
    host.record_lab(&kube, "v2.0.0", &[9999, 10000]);
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let mut cmd = host.fatelab(None);
    cmd.args(["test", "--job", "lr", "--report"]).arg(&page);
    run(cmd).await.success();

    let (dom, log) = chromium(&page, &["--dump-dom".into()]);
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(errors.is_empty(), "the page logged: {errors:#?}");
    let roc = &dom[dom.find("id=\"roc\"").expect("a ROC figure")..];
    let roc = &roc[..roc.find("</figure>").unwrap()];
    let curves: Vec<&str> = roc
        .split("<polyline")
        .skip(1)
        .filter(|p| {
            let p = p.to_uppercase();
            p.contains("#1F77B4") || p.contains("#FF7F0E")
        })
        .collect();
    // Each model's curve and its legend mark: at least one long line of each colour.
    for colour in ["#1F77B4", "#FF7F0E"] {
        let longest = curves
            .iter()
            .filter(|p| p.to_uppercase().contains(colour))
            .map(|p| {
                p.split("points=\"")
                    .nth(1)
                    .map_or(0, |s| s.split(' ').count())
            })
            .max()
            .unwrap_or(0);
        assert!(longest >= 5, "the {colour} ROC curve has {longest} points");
    }
    for figure in [
        "id=\"ks\"",
        "id=\"loss\"",
        "id=\"timeline\"",
        "id=\"data\"",
        "id=\"lab\"",
    ] {
        assert!(dom.contains(figure), "the page lacks {figure}");
    }

    let png = std::env::var("FATELAB_REPORT_PNG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("report.png"));
    chromium(
        &page,
        &[
            "--window-size=1000,1700".into(),
            format!("--screenshot={}", png.display()),
        ],
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{} bytes",
        bytes.len()
    );
}
