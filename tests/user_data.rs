//! `fatelab test --job lr|sbt --guest-data G --host-data H`: the user's own vertically split
//! tables, checked before anything is sent, uploaded under names from their content, trained on
//! by fake FATE Flows (both APIs); the centralized baseline beside the federated AUC, judged by
//! `--max-gap`; the report, in the state dir and where `--report` says.

mod support;

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;
use support::fake_fateflow::{FakeFateFlow, LOSS};
use support::fake_kube::FakeKube;
use support::host::{Host, run};
use support::schema;
use support::tables::split;

struct Parties {
    host: Host,
    _kube: FakeKube,
    guest: FakeFateFlow,
    other: FakeFateFlow,
    dir: tempfile::TempDir,
}

impl Parties {
    async fn start(release: &str) -> Parties {
        let host = Host::new(Some("v1.22.0"));
        let kube = FakeKube::start().await;
        let (guest, other) = FakeFateFlow::two_parties(&kube).await;
        host.record_lab(&kube, release, &[9999, 10000]);
        Parties {
            host,
            _kube: kube,
            guest,
            other,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The generated pair, written as guest.csv and host.csv.
    fn tables(&self, seed: u64) -> (PathBuf, PathBuf) {
        let (g, h) = split(200, seed);
        (self.file("guest.csv", &g), self.file("host.csv", &h))
    }

    fn test(&self, job: &str, guest: &Path, host: &Path, extra: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.host.fatelab(None);
        cmd.args(["test", "--job", job, "--id", "uid", "--label", "label"])
            .arg("--guest-data")
            .arg(guest)
            .arg("--host-data")
            .arg(host)
            .args(extra);
        cmd
    }

    fn nothing_sent(&self) -> bool {
        [&self.guest, &self.other]
            .iter()
            .all(|f| f.uploads().is_empty() && f.submitted().is_empty())
    }
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_tables_train_beside_a_centralized_baseline_and_leave_a_report() {
    let p = Parties::start("v2.0.0").await;
    let (g, h) = p.tables(1);
    let report = p.dir.path().join("out/report.html");
    std::fs::create_dir_all(report.parent().unwrap()).unwrap();
    let out = run(p.test("lr", &g, &h, &["--report", report.to_str().unwrap()]))
        .await
        .success()
        .stdout(
            contains("lr job guest 9999 / host 10000: 2026")
                .and(contains("federated AUC 0.9924 · centralized 0."))
                .and(contains("--max-gap allows)"))
                .and(contains(format!("Report: {}", report.display())))
                // Not a terminal: the figures in one line, not the text plot.
                .and(contains("190 shared ids, 2+3 features"))
                .and(contains(format!("final loss {:.4}", LOSS[4]))),
        )
        .stderr(contains(
            "Train a hetero logistic regression on your tables",
        ))
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let kept = stdout
        .lines()
        .find_map(|l| l.split("(kept too as ").nth(1))
        .map(|s| PathBuf::from(s.trim_end_matches(')')))
        .expect("the state dir's copy is named");
    assert!(kept.starts_with(p.host.state()), "{}", kept.display());

    // Each table went to its party, named from the file and its content; the DAG reads them.
    let (gu, hu) = (p.guest.uploads(), p.other.uploads());
    assert_eq!((gu.len(), hu.len()), (1, 1));
    assert!(
        gu[0].1.starts_with("guest_") && hu[0].1.starts_with("host_"),
        "{gu:?} {hu:?}"
    );
    let dag = serde_json::to_string(&p.guest.submitted()[0]).unwrap();
    assert!(dag.contains(&gu[0].1) && dag.contains(&hu[0].1), "{dag}");

    // The report: both ROC curves on one chart, the KS curve and loss FATE Flow gave, the
    // timeline of uploads and tasks, the data.
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(html, std::fs::read_to_string(&kept).unwrap());
    let roc =
        &html[html.find("<figure id=\"roc\"").unwrap()..html.find("<figure id=\"ks\"").unwrap()];
    for colour in ["#1F77B4", "#FF7F0E"] {
        assert!(
            roc.to_uppercase().contains(&format!("STROKE=\"{colour}\"")),
            "the ROC chart lacks the {colour} curve"
        );
    }
    assert!(
        roc.contains("federated (AUC 0.9924)"),
        "the legend names FATE's AUC"
    );
    assert!(!html.contains("FATE Flow recorded no KS curve"));
    assert!(!html.contains("FATE Flow reported no loss"));
    for task in ["reader_0", "psi_0", "lr_0", "evaluation_0", "upload guest_"] {
        assert!(html.contains(task), "the timeline lacks {task}");
    }
    assert!(html.contains(">190 (the rows PSI finds"), "shared ids");
    // Self-contained: no script, nothing fetched (the only URL is SVG's namespace name).
    for fetch in ["<script", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(fetch), "the report has {fetch}");
    }

    // The same files again: found, not uploaded; JSON and status carry the baseline.
    let out = run(p.test("lr", &g, &h, &["--output", "json"]))
        .await
        .success()
        .stderr(contains("holds experiment.guest_"))
        .get_output()
        .clone();
    assert_eq!((p.guest.uploads().len(), p.other.uploads().len()), (1, 1));
    let v = json(&out);
    let job = &v["jobs"][0];
    let b = &job["baseline"];
    assert_eq!(b["model"], "lr");
    assert_eq!(
        (b["rows"].as_u64(), b["features"].as_u64()),
        (Some(190), Some(5))
    );
    let (central, gap) = (b["auc"].as_f64().unwrap(), b["gap"].as_f64().unwrap());
    assert!(central > 0.8 && central <= 1.0, "{b}");
    assert!((gap - (central - 0.99236)).abs() < 1e-9, "{b}");
    assert_eq!(job["data"]["shared_ids"], 190);
    assert_eq!(job["data"]["guest"]["features"], 2);
    assert!(v["report"].as_str().unwrap().ends_with("-lr.html"), "{v}");
    let mut status = p.host.fatelab(None);
    status.args(["status", "--output", "json"]);
    let s = json(run(status).await.get_output());
    assert_eq!(
        s.pointer("/tests/lr/jobs/0/baseline/auc"),
        Some(&Value::from(central))
    );
    let problems = schema::violations(&schema::status_schema(), &s, "$");
    assert!(problems.is_empty(), "{problems:#?}");
    let mut status = p.host.fatelab(None);
    status.arg("status");
    run(status)
        .await
        .stdout(contains(format!("centralized {central:.4}")).and(contains("; report ")));

    // A changed file is a new table.
    let (g2, _) = p.tables(2);
    run(p.test("lr", &g2, &h, &[])).await.success();
    assert_eq!(p.guest.uploads().len(), 2);
    assert_ne!(p.guest.uploads()[1].1, gu[0].1);
}

/// The gap is the test: a federated model further below the centralized one than --max-gap
/// allows fails it, and a wider --max-gap lets it pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_model_far_below_the_baseline_fails_the_test() {
    let p = Parties::start("v1.6.0").await;
    let (g, h) = p.tables(3);
    p.guest.set_auc(0.81);
    run(p.test("lr", &g, &h, &["--min-auc", "0.5"]))
        .await
        .code(1)
        .stdout(
            contains("below the same model trained in one place")
                .and(contains("more than --max-gap 0.01 allows")),
        );
    run(p.test("lr", &g, &h, &["--min-auc", "0.5", "--max-gap", "0.3"]))
        .await
        .success();
    // FATE 1.x: the label's column is named to DataIO; the ROC and KS come as v1 curves.
    let conf = serde_json::to_string(&p.guest.submitted()[0]).unwrap();
    assert!(conf.contains("\"label_name\":\"label\""), "{conf}");
    let reports = std::fs::read_dir(p.host.state().join("reports")).unwrap();
    let newest = reports
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .max()
        .unwrap();
    let html = std::fs::read_to_string(newest).unwrap();
    assert!(!html.contains("FATE Flow recorded no KS curve"));
    assert!(!html.contains("FATE Flow reported no loss"));

    // SecureBoost is shown beside LR, and not judged by the gap (there is no tree baseline).
    run(p.test("sbt", &g, &h, &["--min-auc", "0.5"]))
        .await
        .success()
        .stdout(contains("centralized lr 0.").and(contains("not judged: different models")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tables_are_refused_before_anything_is_sent() {
    let p = Parties::start("v2.0.0").await;
    let good_g = p.file("g.csv", "uid,label,a\nu1,0,0.1\nu2,1,0.9\n");
    let good_h = p.file("h.csv", "uid,b\nu1,3\nu2,4\n");
    let cases: Vec<(&str, PathBuf, PathBuf, &str)> = vec![
        (
            "missing file",
            p.dir.path().join("nope.csv"),
            good_h.clone(),
            "cannot read",
        ),
        (
            "no header",
            p.file("nohead.csv", "1,0,0.1\n2,1,0.9\n"),
            good_h.clone(),
            "has no header",
        ),
        (
            "id absent in one table",
            good_g.clone(),
            p.file("noid.csv", "key,b\nu1,3\n"),
            "has no id column 'uid'",
        ),
        (
            "label in both",
            good_g.clone(),
            p.file("label.csv", "uid,label,b\nu1,0,3\n"),
            "has the label column 'label' too",
        ),
        (
            "non-binary label",
            p.file("three.csv", "uid,label,a\nu1,0,0.1\nu2,2,0.9\n"),
            good_h.clone(),
            "must be 0 or 1",
        ),
        (
            "empty intersection",
            good_g.clone(),
            p.file("apart.csv", "uid,b\nv1,3\nv2,4\n"),
            "share no id",
        ),
        (
            "a feature in both",
            good_g.clone(),
            p.file("both.csv", "uid,a\nu1,3\n"),
            "both have the feature a",
        ),
    ];
    for (what, g, h, says) in cases {
        run(p.test("lr", &g, &h, &[]))
            .await
            .code(2)
            .stderr(contains(says))
            .stdout(predicates::str::is_empty());
        assert!(p.nothing_sent(), "{what}: something was sent");
    }
    // Tables are for training; the toy job takes none.
    run(p.test("toy", &good_g, &good_h, &[]))
        .await
        .code(2)
        .stderr(contains("add --job lr or --job sbt"));
    // A report is a training job's, and goes where a directory is.
    let page = p.dir.path().join("page.html");
    run(p.test(
        "toy",
        &good_g,
        &good_h,
        &["--report", page.to_str().unwrap()],
    ))
    .await
    .code(2)
    .stderr(contains("--report is the report of a training job"));
    let nowhere = p.dir.path().join("no/such/dir/page.html");
    run(p.test(
        "lr",
        &good_g,
        &good_h,
        &["--report", nowhere.to_str().unwrap()],
    ))
    .await
    .code(2)
    .stderr(contains("there is no directory"));
    let mut half = p.host.fatelab(None);
    half.args(["test", "--job", "lr", "--guest-data"])
        .arg(&good_g);
    run(half).await.code(2).stderr(contains("--host-data"));
    assert!(p.nothing_sent());
}
