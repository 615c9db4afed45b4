//! `fatelab test` against a REAL FATE Flow 2.2 (from PyPI, standalone on 127.0.0.1:9380), started
//! and stopped here with shared/tools/real-fateflow.sh, behind the fake API server's service
//! proxy (both parties' FATE Flow services lead to it). Full mode: FATE's toy job and both
//! training jobs (hetero LR and hetero SecureBoost) really run and must succeed with AUC ≥ 0.95.
//! Light mode (no algorithms): every job fails, and fatelab must report FATE's own error text.
//! The first run installs FATE Flow into a venv under ~/.cache (about 3 minutes); later runs reuse it.
//! Full mode's venv is the local lab's shared environment (`support::fate_flow_venv`).

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use support::fake_kube::FakeKube;
use support::host::{Host, run};

fn script() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/real-fateflow.sh");
    assert!(
        p.is_file(),
        "{} is missing: the real FATE Flow test needs shared/ beside the repository",
        p.display()
    );
    p
}

/// A running FATE Flow, stopped when dropped (also when the test fails).
struct Server {
    mode: &'static str,
    url: String,
}

impl Server {
    fn start(mode: &'static str, home: &std::path::Path) -> Server {
        let mut cmd = Command::new("bash");
        cmd.arg(script()).env("MODE", mode).env("FATE_HOME", home);
        if let Some(venv) = support::fate_flow_venv(mode) {
            cmd.env("FATEFLOW_VENV", venv);
        }
        let out = cmd.output().expect("running real-fateflow.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "real-fateflow.sh ({mode}) failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = stdout
            .lines()
            .find_map(|l| l.strip_prefix("FATEFLOW_URL="))
            .expect("real-fateflow.sh prints FATEFLOW_URL")
            .to_string();
        Server { mode, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let mut cmd = Command::new("bash");
        cmd.arg(script()).arg("stop").env("MODE", self.mode);
        if let Some(venv) = support::fate_flow_venv(self.mode) {
            cmd.env("FATEFLOW_VENV", venv);
        }
        let _ = cmd.output();
    }
}

async fn fatelab_test(host: &Host, extra: &[&str]) -> (i32, Value, String) {
    let mut cmd = host.fatelab(None);
    cmd.args(["test", "--output", "json"]).args(extra);
    let out = run(cmd).await.get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}\n{stderr}",
            String::from_utf8_lossy(&out.stdout),
        )
    });
    eprintln!("{stderr}");
    (out.status.code().unwrap(), v, stderr)
}

/// A training job that must succeed with AUC ≥ 0.95 and report KS; its centralized baseline is
/// recorded beside it, and its report shows the figures the server itself returned.
async fn trains(host: &Host, server: &Server, job: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--job", job, "--timeout", "8m"];
    args.extend_from_slice(extra);
    let (code, v, _) = fatelab_test(host, &args).await;
    let result = &v["jobs"][0];
    assert_eq!(code, 0, "{v}");
    assert_eq!(result["status"], "success", "{v}");
    let auc = result
        .pointer("/metrics/auc")
        .and_then(Value::as_f64)
        .unwrap();
    assert!(auc >= 0.95, "{job} AUC {auc}: {v}");
    assert!(
        result
            .pointer("/metrics/ks")
            .and_then(Value::as_f64)
            .is_some(),
        "{v}"
    );
    let central = result
        .pointer("/baseline/auc")
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no centralized baseline: {v}"));

    // The AUC is the one the server holds for the evaluation task, not a figure of ours.
    let model = if job == "lr" { "lr_0" } else { "sbt_0" };
    let job_id = result["job_id"].as_str().unwrap();
    let served = evaluation_auc(server, job_id, model).await;
    assert_eq!(auc, served, "fatelab's AUC against the server's");

    // The report: the server's AUC in the ROC legend, and the tasks of the job on its timeline.
    let path = v["report"]
        .as_str()
        .unwrap_or_else(|| panic!("no report: {v}"));
    let html = std::fs::read_to_string(path).unwrap();
    assert!(
        html.contains(&format!("federated (AUC {served:.4})")),
        "the report's legend lacks the server's AUC {served}"
    );
    for task in ["psi_0", model, "evaluation_0"] {
        assert!(html.contains(task), "the report's timeline lacks {task}");
    }
    eprintln!(
        "real {job} job: AUC {auc}, centralized {central} ({} s), report {} bytes, {}",
        result.pointer("/baseline/train_s").unwrap_or(&Value::Null),
        html.len(),
        result["timings"]
    );
    v
}

/// The AUC FATE Flow recorded for the evaluation of `model` on the guest's training set.
async fn evaluation_auc(server: &Server, job_id: &str, model: &str) -> f64 {
    fatelab::clients::transport::ensure_crypto_provider();
    let url = format!(
        "{}/v2/output/metric/query?job_id={job_id}&role=guest&party_id=9999&task_name=evaluation_0",
        server.url
    );
    let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    let found = v["data"].as_array().into_iter().flatten().find_map(|m| {
        let set = m.pointer(&format!("/data/{model}/train_set"))?;
        let metrics = match set {
            Value::Array(items) => items.clone(),
            one => vec![one.clone()],
        };
        metrics
            .iter()
            .flat_map(|x| match x {
                Value::Array(items) => items.clone(),
                one => vec![one.clone()],
            })
            .find(|x| x["metric"] == "auc")
            .and_then(|x| x["val"].as_f64())
    });
    found.unwrap_or_else(|| panic!("no AUC for {model} in the server's answer: {body}"))
}

async fn toy_job(host: &Host) -> (i32, Value) {
    let (code, v, _) = fatelab_test(host, &["--timeout", "5m"]).await;
    (code, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_toy_job_runs_on_a_real_fate_flow() {
    let host = Host::new(Some("v1.38.1"));
    let kube = FakeKube::start_version("1", "33").await;
    host.record_lab(&kube, "v2.0.0", &[9999, 10000]);

    let home = tempfile::tempdir().unwrap();
    {
        let server = Server::start("full", home.path());
        for party in ["fate-9999", "fate-10000"] {
            kube.route_service(party, "fateflow-client", 9380, &server.url);
        }
        let (code, v) = toy_job(&host).await;
        let job = &v["jobs"][0];
        assert_eq!(code, 0, "{v}");
        assert_eq!(job["status"], "success", "{v}");
        let id = job["job_id"].as_str().unwrap();
        assert_eq!(
            id.len(),
            21,
            "FATE Flow job ids are YYYYMMDDHHMMSS + 7 digits: {id}"
        );
        assert!(job["duration_s"].as_f64().unwrap() > 1.0, "{v}");

        // The training jobs: both tables uploaded (once), the DAG trained, the evaluation read;
        // SecureBoost with the names of the FATE this server runs (2.2: `train_output_data`).
        for job in ["lr", "sbt"] {
            trains(&host, &server, job, &[]).await;
        }
        // The user's own tables (a small vertically split pair the test makes): each goes to
        // its party, both kinds train on them, each beside its centralized baseline.
        let (guest, hosted) = support::tables::split(200, 7);
        let data = tempfile::tempdir().unwrap();
        let (g, h) = (data.path().join("guest.csv"), data.path().join("host.csv"));
        std::fs::write(&g, guest).unwrap();
        std::fs::write(&h, hosted).unwrap();
        let own = [
            "--guest-data",
            g.to_str().unwrap(),
            "--host-data",
            h.to_str().unwrap(),
            "--id",
            "uid",
            "--label",
            "label",
        ];
        for job in ["lr", "sbt"] {
            let v = trains(&host, &server, job, &own).await;
            assert_eq!(v["jobs"][0]["data"]["shared_ids"], 190, "{v}");
        }
        // Again: the tables are found with their rows and not uploaded. (The job is not waited
        // for a second time: the short timeout ends the run once it is submitted.)
        let (code, v, stderr) = fatelab_test(&host, &["--job", "lr", "--timeout", "3s"]).await;
        assert!(
            stderr.contains("holds experiment.breast_hetero_guest (569 rows) already")
                && stderr.contains("holds experiment.breast_hetero_host (569 rows) already"),
            "{stderr}"
        );
        assert_eq!(
            v["jobs"][0]["timings"]["upload_s"]
                .as_f64()
                .map(|s| s < 3.0),
            Some(true),
            "{v}"
        );
        assert_eq!(code, 1, "{v}");
    }

    let home = tempfile::tempdir().unwrap();
    let server = Server::start("light", home.path());
    for party in ["fate-9999", "fate-10000"] {
        kube.route_service(party, "fateflow-client", 9380, &server.url);
    }
    let (code, v) = toy_job(&host).await;
    let job = &v["jobs"][0];
    assert_eq!(code, 1, "{v}");
    assert_eq!(job["status"], "failed", "{v}");
    let error = job["error"].as_str().unwrap();
    assert!(
        error.contains("toy_example_0: No found task output"),
        "FATE's own words expected: {error}"
    );

    // A training job on a server without algorithms fails, in FATE's words.
    let (code, v, _) = fatelab_test(&host, &["--job", "lr", "--timeout", "2m"]).await;
    assert_eq!(code, 1, "{v}");
    let error = v["jobs"][0]["error"].as_str().unwrap_or_default();
    eprintln!("light lr: {error}");
    assert!(
        error.contains("ended failed")
            || error.contains(": No found task output")
            || error.contains("No module named"),
        "FATE's own words expected: {v}"
    );
}
