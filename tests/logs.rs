//! `fatelab logs` against the fakes: one .tar.gz with an index of everything in it, the pods,
//! their logs (a crash-looped container's previous run included), events, KubeFATE's clusters
//! and jobs, FATE Flow's records and logs of the last test job, minikube's logs, fatelab's own
//! run logs — and no secret; with KubeFATE unreachable it is still written and says why.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};
use support::fake_fateflow::{Behaviour, FakeFateFlow};
use support::fake_kubefate::{PodState, party_pod};
use support::host::run;
use support::lab::Lab;

/// The archive's files by path (below its top directory).
fn unpack(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let mut archive = tar::Archive::new(gz);
    let mut out = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut e = entry.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let (_, rest) = p.split_once('/').expect("one top directory");
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.insert(rest.to_string(), bytes);
    }
    out
}

fn logs(lab: &Lab, to: &Path) -> assert_cmd::Command {
    let mut cmd = lab.host.fatelab(None);
    cmd.arg("logs").arg("-o").arg(to);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_holds_what_a_bug_report_needs_and_no_secret() {
    let lab = Lab::start("logs").await;
    run(lab.up(&["--no-test"])).await.success();
    let flow = FakeFateFlow::start(Behaviour::Succeed).await;
    for ns in ["fate-9999", "fate-10000"] {
        lab.kube
            .route_service(ns, "fateflow-client", 9380, &flow.url);
    }
    let mut test = lab.host.fatelab(None);
    test.arg("test");
    run(test).await.success();
    let job = flow.submitted().len();
    assert_eq!(job, 1);

    // 10000's mysql crashed once: its previous run's log belongs in the report.
    let name = lab.kube.module_pod("fate-10000", "mysql");
    let mut crashed = party_pod(
        "fate-10000",
        &name,
        "fate-10000",
        "mysql",
        &["mysql"],
        PodState::Running,
    );
    crashed["status"]["containerStatuses"][0]["restartCount"] = json!(1);
    lab.kube.put(crashed);
    lab.kube.set_previous_logs(
        "fate-10000",
        &name,
        "mysql",
        "[ERROR] InnoDB: No data dictionary version number found\n",
    );
    lab.kube.set_logs(
        "fate-9999",
        &lab.kube.module_pod("fate-9999", "rollsite"),
        "rollsite",
        "[INFO] rollsite started\n",
    );
    lab.kube.put(json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "mysql.1", "namespace": "fate-10000"},
        "involvedObject": {"kind": "Pod", "name": name},
        "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container",
        "lastTimestamp": "2026-12-03T10:00:02Z", "count": 3}));
    lab.kube.put(json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "mysql.0", "namespace": "fate-10000"},
        "involvedObject": {"kind": "Pod", "name": name},
        "type": "Normal", "reason": "Pulled", "message": "Container image already present",
        "lastTimestamp": "2026-12-03T10:00:01Z"}));

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("report.tar.gz");
    run(logs(&lab, &bundle)).await.success();
    let files = unpack(&bundle);
    let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let listed: Vec<&str> = index["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let job_id = flow.submitted_ids()[0].clone();
    for expected in [
        "status.json".to_string(),
        "doctor.json".into(),
        format!("kubernetes/fate-10000/pods/{name}.json"),
        format!("kubernetes/fate-10000/logs/{name}/mysql.log"),
        format!("kubernetes/fate-10000/logs/{name}/mysql.previous.log"),
        "kubernetes/fate-10000/events.txt".into(),
        "kubernetes/kube-fate/events.txt".into(),
        "kubefate/clusters.json".into(),
        "kubefate/jobs.json".into(),
        format!("fate-flow/9999/{job_id}/job.json"),
        format!("fate-flow/9999/{job_id}/tasks.json"),
        format!("fate-flow/9999/{job_id}/logs.tar.gz"),
        "minikube/logs.txt".into(),
        "minikube/status.txt".into(),
    ] {
        assert!(
            listed.contains(&expected.as_str()),
            "{expected} not listed in {listed:?}"
        );
        assert!(
            files.contains_key(&expected),
            "{expected} not in the archive"
        );
    }
    assert!(
        listed
            .iter()
            .any(|p| p.starts_with("fatelab-runs/") && p.contains("-up-"))
    );
    assert!(files.contains_key("INDEX.md"));
    let text = |p: &str| String::from_utf8_lossy(&files[p]).into_owned();
    assert!(
        text(&format!(
            "kubernetes/fate-10000/logs/{name}/mysql.previous.log"
        ))
        .contains("No data dictionary version number found")
    );
    let events = text("kubernetes/fate-10000/events.txt");
    let pulled = events.find("Pulled").unwrap();
    let backoff = events.find("BackOff").unwrap();
    assert!(pulled < backoff, "events in time order:\n{events}");
    assert!(events.contains("(×3)"));
    assert_eq!(index["not_collected"], json!([]), "{}", text("INDEX.md"));

    // No secret: the generated passwords, and no token KubeFATE issued (all start alike).
    let creds: Value =
        serde_json::from_slice(&std::fs::read(lab.state().join("credentials.json")).unwrap())
            .unwrap();
    for (path, bytes) in &files {
        let t = String::from_utf8_lossy(bytes);
        for key in ["kubefate_password", "mariadb_password"] {
            assert!(
                !t.contains(creds[key].as_str().unwrap()),
                "{path} holds {key}"
            );
        }
        assert!(!t.contains("eyJhbGciOiJIUzI1NiJ9"), "{path} holds a token");
    }

    // KubeFATE unreachable: the bundle is still written, and says why its part is missing.
    lab.kube
        .route_service("kube-fate", "kubefate", 8080, "http://127.0.0.1:9");
    let second = dir.path().join("second.tar.gz");
    run(logs(&lab, &second)).await.success();
    let files = unpack(&second);
    let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let missing = index["not_collected"].to_string();
    assert!(missing.contains("KubeFATE"), "{missing}");
    assert!(!files.contains_key("kubefate/clusters.json"));
    assert!(files.contains_key("kubernetes/fate-10000/events.txt"));
    assert!(String::from_utf8_lossy(&files["INDEX.md"]).contains("## Not collected"));
}
