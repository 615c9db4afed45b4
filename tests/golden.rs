//! Rendered party configs against the tutorial's files and the v2.0.0 expectations.

mod support;

use serde_json::{Value, json};
use support::{fatelab, golden, read_yaml};

fn dry_run(extra: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan");
    fatelab(&tmp.path().join("state"))
        .args(["up", "--dry-run", "--ip", "192.168.100.123", "--plan-dir"])
        .arg(&plan)
        .args(extra)
        .assert()
        .success();
    (tmp, plan)
}

#[test]
fn tutorial_inputs_with_its_mirror_give_the_tutorial_files() {
    let (_tmp, plan) = dry_run(&[
        "--parties",
        "9999,10000",
        "--registry",
        "hub.c.163.com/federatedai",
    ]);
    for party in ["9999", "10000"] {
        let name = format!("fate-{party}.yaml");
        assert_eq!(
            read_yaml(&plan.join(&name)),
            golden(&format!("tutorial/{name}")),
            "{name}"
        );
    }
}

#[test]
fn tutorial_inputs_without_a_mirror_differ_only_in_the_registry() {
    let (_tmp, plan) = dry_run(&["--parties", "9999,10000"]);
    for party in ["9999", "10000"] {
        let name = format!("fate-{party}.yaml");
        let mut expected = golden(&format!("tutorial/{name}"));
        expected["registry"] = json!("");
        assert_eq!(read_yaml(&plan.join(&name)), expected, "{name}");
    }
}

#[test]
fn v2_release_matches_its_golden_files() {
    let (_tmp, plan) = dry_run(&["--release", "v2.0.0"]);
    for party in ["9999", "10000"] {
        let name = format!("fate-{party}.yaml");
        assert_eq!(
            read_yaml(&plan.join(&name)),
            golden(&format!("v2.0.0/{name}")),
            "{name}"
        );
    }
}

#[test]
fn three_parties_form_a_full_mesh_with_distinct_ports() {
    let (_tmp, plan) = dry_run(&["--parties", "9999,10000,10001"]);
    let ids = [9999u64, 10000, 10001];
    let docs: Vec<Value> = ids
        .iter()
        .map(|id| read_yaml(&plan.join(format!("fate-{id}.yaml"))))
        .collect();
    let mut ports = Vec::new();
    for (doc, id) in docs.iter().zip(ids) {
        ports.push(doc["rollsite"]["nodePort"].as_u64().unwrap());
        ports.push(doc["python"]["grpcNodePort"].as_u64().unwrap());
        ports.push(doc["python"]["httpNodePort"].as_u64().unwrap());
        let peers: Vec<u64> = doc["rollsite"]["partyList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["partyId"].as_u64().unwrap())
            .collect();
        let others: Vec<u64> = ids.iter().copied().filter(|&o| o != id).collect();
        assert_eq!(peers, others, "party {id} must list every other party");
    }
    // Each partyList entry points at the other party's own rollsite NodePort.
    for doc in &docs {
        for peer in doc["rollsite"]["partyList"].as_array().unwrap() {
            let pid = peer["partyId"].as_u64().unwrap();
            let target = &docs[ids.iter().position(|&i| i == pid).unwrap()];
            assert_eq!(peer["partyPort"], target["rollsite"]["nodePort"]);
            assert_eq!(peer["partyIp"], json!("192.168.100.123"));
        }
    }
    let mut unique = ports.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 9, "ports not distinct: {ports:?}");
    assert_eq!(&ports[6..], &[30111, 30112, 30117]);
}

#[test]
fn a_custom_domain_reaches_every_host_name() {
    let (_tmp, plan) = dry_run(&["--domain", "lab.example.org"]);
    let doc = read_yaml(&plan.join("fate-9999.yaml"));
    assert_eq!(
        doc["host"],
        json!({"fateboard": "9999.fateboard.lab.example.org", "client": "9999.notebook.lab.example.org"})
    );
    let hosts = std::fs::read_to_string(plan.join("hosts.txt")).unwrap();
    assert!(
        hosts.contains("192.168.100.123 lab.example.org\n"),
        "{hosts}"
    );
    let kubefate = std::fs::read_to_string(plan.join("kubefate.yaml")).unwrap();
    assert!(kubefate.contains("host: lab.example.org"), "{kubefate}");
}
