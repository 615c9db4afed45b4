//! `up --serving` against the fakes: FATE-Serving beside each party through KubeFATE (chart
//! fate-serving as KubeFATE v1.6.0's helm-charts/FATE-Serving renders it), FATE Flow told its
//! serving address, a re-run that changes nothing, `--no-serving` and `down` leaving no serving
//! object; release v2.0.0 refused before anything is asked.

mod support;

use predicates::str::contains;
use serde_json::Value;
use support::host::run;
use support::lab::Lab;

/// Every object in a serving namespace of the fake API server.
fn serving_objects(lab: &Lab) -> Vec<String> {
    lab.kube
        .objects()
        .iter()
        .filter(|o| {
            let in_ns = o
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .is_some_and(|ns| ns.starts_with("fate-serving-"));
            let is_ns = o
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with("fate-serving-"));
            in_ns || is_ns
        })
        .map(|o| format!("{} {}", o["kind"], o.pointer("/metadata/name").unwrap()))
        .collect()
}

fn record(lab: &Lab) -> Value {
    serde_json::from_slice(&std::fs::read(lab.state().join("lab.json")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_v2_refuses_serving_and_a_plan_asks_nothing() {
    let lab = Lab::start("serving-v2").await;
    run(lab.up(&["--serving", "--release", "v2.0.0", "--no-test"]))
        .await
        .code(2)
        .stderr(contains("FATE 2.x has no online serving"))
        .stderr(contains("offline prediction"));
    assert!(
        lab.kubefate.requests().is_empty(),
        "{:?}",
        lab.kubefate.requests()
    );
    assert!(!lab.state().join("lab.json").exists());

    // The plan of a v1.6.0 serving lab: each party's cluster-serving file, the serving images
    // pulled with the parties', FATE Flow's serving address.
    let plan = lab.state().join("plan");
    let out = run(lab.up(&[
        "--serving",
        "--dry-run",
        "--plan-dir",
        plan.to_str().unwrap(),
    ]))
    .await
    .success()
    .get_output()
    .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    for said in [
        "serving-proxy:2.0.0-release if missing",
        "serving-server:2.0.0-release if missing",
        "redis:5 if missing",
        ":30105 (servingIp/servingPort in fate-10000.yaml)",
    ] {
        assert!(text.contains(said), "{said:?} not in {text}");
    }
    let file = std::fs::read_to_string(plan.join("fate-serving-10000.yaml")).unwrap();
    assert!(file.contains("chartName: fate-serving"), "{file}");
    assert!(
        std::fs::read_to_string(plan.join("fate-10000.yaml"))
            .unwrap()
            .contains("servingPort: 30105")
    );
    assert!(lab.kubefate.requests().is_empty());

    let mut local = lab.host.fatelab(None);
    local.args(["up", "--local", "--serving"]);
    run(local)
        .await
        .code(2)
        .stderr(contains("a local lab runs FATE 2.2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_beside_each_party_converges_and_goes() {
    let lab = Lab::start_serving("serving").await;
    run(lab.up(&["--serving", "--no-test"]))
        .await
        .success()
        .stderr(contains("Converge FATE-Serving beside every party"));

    for (id, other, peer_port, own_server) in
        [(9999, 10000, 30106, 30095), (10000, 9999, 30096, 30105)]
    {
        let ns = format!("fate-serving-{id}");
        for module in ["serving-proxy", "serving-server", "serving-redis"] {
            assert!(
                lab.kube.objects().iter().any(|o| o["kind"] == "Pod"
                    && o.pointer("/metadata/namespace") == Some(&Value::from(ns.clone()))
                    && o.pointer("/metadata/labels/fateMoudle") == Some(&Value::from(module))
                    && o.pointer("/status/phase") == Some(&Value::from("Running"))),
                "{module} runs in {ns}"
            );
        }
        // The proxy routes to the other party's serving-proxy NodePort.
        let cm = lab
            .kube
            .get("v1", "ConfigMap", &ns, "serving-proxy-config")
            .expect("serving-proxy-config");
        let table: Value =
            serde_json::from_str(cm["data"]["route_table.json"].as_str().unwrap()).unwrap();
        assert_eq!(
            table["route_table"][other.to_string()]["default"][0]["port"],
            peer_port.to_string(),
            "{table:#}"
        );
        // The party's FATE Flow knows its serving-server (KubeFATE holds the updated spec).
        let party = lab
            .kubefate
            .live_clusters()
            .into_iter()
            .find(|c| c["name"] == format!("fate-{id}"))
            .unwrap();
        assert_eq!(party["Spec"]["servingPort"], own_server, "{party:#}");
    }
    assert_eq!(record(&lab)["serving"], true);
    let mut status = lab.host.fatelab(None);
    status.args(["status", "--output", "json"]);
    let out = run(status).await.success().get_output().clone();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["parties"][0]["serving"]["cluster"],
        "fate-serving-9999"
    );
    assert_eq!(
        report["parties"][1]["serving"]["healthy"], true,
        "{report:#}"
    );
    assert_eq!(report["parties"][1]["serving"]["pods_total"], 3);

    // The bug-report bundle holds the serving pods' logs too.
    let bundle = lab.state().join("bundle.tar.gz");
    let mut logs = lab.host.fatelab(None);
    logs.arg("logs").arg("-o").arg(&bundle);
    run(logs).await.success();
    let names: Vec<String> = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&bundle).unwrap(),
    ))
    .entries()
    .unwrap()
    .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
    .collect();
    for ns in ["fate-serving-9999", "fate-serving-10000"] {
        assert!(
            names
                .iter()
                .any(|n| n.contains(&format!("/{ns}/logs/serving-proxy"))),
            "{ns}'s serving-proxy log is not in {names:?}"
        );
    }
    assert_eq!(
        record(&lab)["serving_clusters"].as_object().unwrap().len(),
        2
    );

    // Kept without the flag, and nothing changes.
    let before = lab.kubefate.writes().len();
    let out = run(lab.up(&["--no-test"]))
        .await
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Converge FATE-Serving beside every party")
            && err.contains("FATE-Serving runs healthy beside all 2 parties"),
        "{err}"
    );
    assert_eq!(lab.kubefate.writes().len(), before, "{err}");

    // A third party gets its serving too; dropped from the lab, its serving goes with it.
    run(lab.up(&["--parties", "9999,10000,10001", "--no-test"]))
        .await
        .success();
    let third_proxy = |lab: &Lab| {
        lab.kube
            .get(
                "v1",
                "ConfigMap",
                "fate-serving-10001",
                "serving-proxy-config",
            )
            .is_some()
    };
    assert!(third_proxy(&lab));
    run(lab.up(&["--parties", "9999,10000", "--no-test"]))
        .await
        .success();
    assert!(
        !third_proxy(&lab)
            && lab
                .kube
                .get("v1", "Namespace", "", "fate-serving-10001")
                .is_none(),
        "{:?}",
        serving_objects(&lab)
    );
    assert!(
        lab.kubefate
            .live_clusters()
            .iter()
            .all(|c| c["name"] != "fate-serving-10001")
    );
    assert!(record(&lab)["serving_clusters"].get("10001").is_none());

    // `--no-serving`: the serving clusters go through KubeFATE, their namespaces with them,
    // and the parties no longer name a serving address.
    run(lab.up(&["--no-serving", "--no-test"])).await.success();
    assert!(
        serving_objects(&lab).is_empty(),
        "{:?}",
        serving_objects(&lab)
    );
    assert!(
        lab.kubefate.live_clusters().iter().all(|c| !c["name"]
            .as_str()
            .unwrap()
            .starts_with("fate-serving-")
            && c["Spec"].get("servingIp").is_none()),
        "{:?}",
        lab.kubefate.live_clusters()
    );
    assert!(record(&lab).get("serving").is_none());

    // Back again, then `down` leaves no serving object and no KubeFATE record.
    run(lab.up(&["--serving", "--no-test"])).await.success();
    assert!(!serving_objects(&lab).is_empty());
    let mut down = lab.host.fatelab(None);
    down.args(["down", "--yes"]);
    run(down).await.success();
    assert!(
        serving_objects(&lab).is_empty(),
        "{:?}",
        serving_objects(&lab)
    );
    assert!(lab.kubefate.live_clusters().is_empty());
}
