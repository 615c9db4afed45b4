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

fn fatelab(lab: &Lab, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = lab.host.fatelab(None);
    cmd.args(args);
    cmd
}

/// A serving object of the fake API server, changed by `f` (an edit by hand, a pod's fate).
fn edit(
    lab: &Lab,
    kind: &str,
    ns: &str,
    pick: impl Fn(&Value) -> bool,
    f: impl FnOnce(&mut Value),
) {
    let mut obj = lab
        .kube
        .objects()
        .into_iter()
        .find(|o| {
            o["kind"] == kind
                && o.pointer("/metadata/namespace") == Some(&Value::from(ns))
                && pick(o)
        })
        .unwrap_or_else(|| panic!("no {kind} in {ns}"));
    f(&mut obj);
    lab.kube.put(obj);
}

fn named(name: &'static str) -> impl Fn(&Value) -> bool {
    move |o| o.pointer("/metadata/name") == Some(&Value::from(name))
}

/// The host's serving-server pod goes to `phase` (FATE Flow reaches it only while Running).
fn host_serving_server(lab: &Lab, phase: &str) {
    let pod = |o: &Value| {
        o.pointer("/metadata/labels/fateMoudle") == Some(&Value::from("serving-server"))
    };
    edit(lab, "Pod", "fate-serving-10000", pod, |p| {
        p["status"]["phase"] = phase.into();
    });
}

fn served(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_publishes_the_trained_model_and_one_prediction_matches_the_job() {
    use support::fake_fateflow::FakeFateFlow;
    use support::fake_serving::{FakeServing, MOCK_FEATURES, lr_score};

    let lab = Lab::start_serving("serve").await;
    run(lab.up(&["--serving", "--no-test"])).await.success();
    let (guest, host) = FakeFateFlow::two_parties(&lab.kube).await;
    let serving =
        FakeServing::start(&lab.kube, &lab.kubefate, &[(9999, &guest), (10000, &host)]).await;

    run(fatelab(&lab, &["serve"]))
        .await
        .code(2)
        .stderr(contains("no successful lr job on record"));
    run(fatelab(&lab, &["serve", "--guest", "12345"]))
        .await
        .code(2)
        .stderr(contains("the lab has no party 12345"));
    run(fatelab(&lab, &["test", "--job", "lr"])).await.success();

    // The chart's host adaptor is MockAdapter: the online score is the model's on the guest's
    // row and MockAdapter's made-up host features, which fatelab says.
    let out = run(fatelab(&lab, &["serve", "--output", "json"]))
        .await
        .success()
        .stderr(contains("deployed as model version"))
        .get_output()
        .clone();
    let first = served(&out);
    let job = first["job_id"].as_str().unwrap().to_string();
    assert_eq!(
        first["model_id"],
        "arbiter-10000#guest-9999#host-10000#model"
    );
    assert_ne!(
        first["model_version"],
        job.as_str(),
        "a DSL v2 job is deployed first"
    );
    assert!(
        first["host_adaptor"]
            .as_str()
            .unwrap()
            .ends_with("MockAdapter")
    );
    let features: std::collections::BTreeMap<String, f64> =
        serde_json::from_value(first["features"].clone()).unwrap();
    assert_eq!(features.len(), 10, "the guest's x0..x9");
    let mock = MOCK_FEATURES
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let online = first["online_score"].as_f64().unwrap();
    assert!((online - lr_score(&job, &features, &mock)).abs() < 1e-12);
    assert!((online - first["offline_score"].as_f64().unwrap()).abs() > 1e-6);
    // Only the id went to the host.
    let asked = serving.inferences();
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0]["body"]["sendToRemoteFeatureData"],
        serde_json::json!({"id": first["row_id"]})
    );
    assert_eq!(
        serving.bound(9999).get("fatelab-lr"),
        first["model_version"].as_str().map(String::from).as_ref()
    );
    let status = || async {
        let out = run(fatelab(&lab, &["status", "--output", "json"]))
            .await
            .get_output()
            .clone();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["served"].clone()
    };
    assert_eq!(status().await["bound"], true);

    // The host gets a real adaptor (its rows, as HttpAdapter would answer them): a change of
    // serving-server.properties needs the pods restarted, and a restart forgets every binding.
    edit(
        &lab,
        "ConfigMap",
        "fate-serving-10000",
        named("serving-server-config"),
        |cm| {
            let props = cm["data"]["serving-server.properties"]
                .as_str()
                .unwrap()
                .replace("dataaccess.MockAdapter", "dataaccess.HttpAdapter");
            cm["data"]["serving-server.properties"] = props.into();
        },
    );
    serving.restart(9999);
    serving.restart(10000);
    let lost = status().await;
    assert_eq!(lost["bound"], false);
    assert!(
        lost["detail"]
            .as_str()
            .unwrap()
            .contains("(KubeFATE#704); `fatelab serve` binds it again"),
        "{lost}"
    );
    let out = run(fatelab(&lab, &["serve"]))
        .await
        .success()
        .stdout(contains("the same prediction (within 1e-6)"))
        .stderr(contains("deployed before as model version"))
        .get_output()
        .clone();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    let again = record(&lab)["served"].clone();
    let gap = again["online_score"].as_f64().unwrap() - again["offline_score"].as_f64().unwrap();
    assert!(gap.abs() <= 1e-6, "{again}");
    assert_eq!(
        again["model_version"], first["model_version"],
        "deployed once"
    );
    assert_eq!(status().await["bound"], true);

    // FATE Flow forgot the deployed version on record: deployed anew, and served.
    guest.forget_deployments();
    run(fatelab(&lab, &["serve"]))
        .await
        .success()
        .stderr(contains("deployed as model version"));
    assert_ne!(
        record(&lab)["served"]["model_version"],
        first["model_version"]
    );

    // Each hop's failure, named with its fix.
    let routes = lab
        .kube
        .get(
            "v1",
            "ConfigMap",
            "fate-serving-9999",
            "serving-proxy-config",
        )
        .unwrap();
    edit(
        &lab,
        "ConfigMap",
        "fate-serving-9999",
        named("serving-proxy-config"),
        |cm| {
            let mut table: Value =
                serde_json::from_str(cm["data"]["route_table.json"].as_str().unwrap()).unwrap();
            table["route_table"]
                .as_object_mut()
                .unwrap()
                .remove("10000");
            cm["data"]["route_table.json"] = table.to_string().into();
        },
    );
    run(fatelab(&lab, &["serve"]))
        .await
        .code(1)
        .stderr(contains(
            "serving-proxy of party 9999 has no route to the host (party 10000)",
        ));
    lab.kube.put(routes);

    host_serving_server(&lab, "Pending");
    run(fatelab(&lab, &["serve"]))
        .await
        .code(1)
        .stderr(contains(
            "FATE Flow of party 10000 cannot reach its serving-server at",
        ))
        .stderr(contains(":30105"))
        .stderr(contains("UNAVAILABLE"));
    host_serving_server(&lab, "Running");

    run(fatelab(&lab, &["serve"])).await.success();

    host.forget_servings();
    run(fatelab(&lab, &["serve"]))
        .await
        .code(1)
        .stderr(contains("FATE Flow of party 10000 has no serving address"))
        .stderr(contains("KubeFATE#415"));

    // Without serving there is nothing to serve, and nothing of it on record.
    run(lab.up(&["--no-serving", "--no-test"])).await.success();
    assert!(record(&lab).get("served").is_none());
    run(fatelab(&lab, &["serve"]))
        .await
        .code(2)
        .stderr(contains("this lab has no FATE-Serving"));
}
