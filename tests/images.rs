//! Images through the real Docker Engine: streamed loads that skip what is present, corrupt
//! archives, unreachable registries, and offline bundles.

mod support;

use predicates::prelude::*;
use predicates::str::contains;
use support::images as img;

/// fatelab with the tests' private Docker Engine, which every test here needs.
fn fatelab(state: &std::path::Path) -> assert_cmd::Command {
    support::services::docker_host();
    support::fatelab(state)
}

fn unique(name: &str) -> String {
    format!("fatelab-test/{name}-{}:v1", std::process::id())
}

#[test]
fn load_streams_an_archive_then_skips_it() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = unique("load");
    img::make_image(tmp.path(), &reference);
    let id = img::id_of(&reference);
    let archive = tmp.path().join("one.tar");
    img::save(&[&reference], &archive);
    img::remove(&[&reference]);
    assert!(!img::exists(&reference));

    fatelab(&tmp.path().join("state"))
        .args(["images", "load"])
        .arg(&archive)
        .assert()
        .success()
        .stderr(contains(format!("Loaded {reference}")));
    assert_eq!(img::id_of(&reference), id);

    fatelab(&tmp.path().join("state"))
        .args(["images", "load"])
        .arg(&archive)
        .assert()
        .success()
        .stderr(contains("nothing loaded"));
    img::remove(&[&reference]);
}

#[test]
fn a_corrupt_archive_is_refused_and_tags_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = unique("corrupt");
    img::make_image(tmp.path(), &reference);
    let archive = tmp.path().join("good.tar");
    img::save(&[&reference], &archive);
    img::remove(&[&reference]);

    // A damaged layer: the daemon rejects it, and no tag appears.
    img::corrupt_a_layer(&archive);
    fatelab(&tmp.path().join("state"))
        .args(["images", "load"])
        .arg(&archive)
        .assert()
        .code(1)
        .stderr(contains("Docker could not load"));
    assert!(
        !img::exists(&reference),
        "a failed load must not leave {reference} tagged"
    );

    // A cut-off file: fatelab sees it is no image archive before sending anything.
    let bytes = std::fs::read(&archive).unwrap();
    let cut = tmp.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    fatelab(&tmp.path().join("state"))
        .args(["images", "load"])
        .arg(&cut)
        .assert()
        .code(1)
        .stderr(contains("cut.tar"));
    assert!(!img::exists(&reference));
}

#[test]
fn an_unreachable_registry_fails_fast_naming_image_and_registry() {
    let tmp = tempfile::tempdir().unwrap();
    fatelab(&tmp.path().join("state"))
        .args(["images", "pull", "--registry", "127.0.0.1:9/nowhere"])
        .assert()
        .code(1)
        .stderr(
            contains("127.0.0.1:9/nowhere/eggroll:1.6.0-release from 127.0.0.1:9")
                .and(contains("--registry"))
                .and(contains("fatelab images save")),
        );
}

#[test]
fn a_bundle_round_trips_every_image_of_a_release() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = format!("127.0.0.1:9/fatelab-bundle-{}", std::process::id());
    let list = |extra: &[&str]| -> serde_json::Value {
        let out = fatelab(&tmp.path().join("state"))
            .args([
                "images",
                "list",
                "--output",
                "json",
                "--release",
                "v2.0.0",
                "--registry",
                &registry,
            ])
            .args(extra)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let refs: Vec<String> = list(&[])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reference"].as_str().unwrap().to_string())
        .collect();
    assert!(refs.contains(&"federatedai/kubefate:v1.4.5".to_string()));
    assert!(refs.contains(&format!("{registry}/federatedai/osx:2.0.0-release")));
    // The nodemanager's sidecar, where the chart puts it under a registry (so saved and loaded too).
    assert!(
        refs.contains(&format!("{registry}/fluent-bit:2.1.4")),
        "{refs:?}"
    );
    for r in &refs {
        img::make_image(tmp.path(), r);
    }
    let bundle = tmp.path().join("bundle.tar");
    fatelab(&tmp.path().join("state"))
        .args([
            "images",
            "save",
            "--release",
            "v2.0.0",
            "--registry",
            &registry,
            "-o",
        ])
        .arg(&bundle)
        .assert()
        .success();
    let ids: Vec<String> = refs.iter().map(|r| img::id_of(r)).collect();
    let all: Vec<&str> = refs.iter().map(String::as_str).collect();
    img::remove(&all);
    assert!(
        list(&[])
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["present"] == false)
    );

    fatelab(&tmp.path().join("state"))
        .args(["images", "load"])
        .arg(&bundle)
        .assert()
        .success();
    let after: Vec<String> = refs.iter().map(|r| img::id_of(r)).collect();
    assert_eq!(ids, after);
    assert!(
        list(&[])
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["present"] == true)
    );
    img::remove(&all);
}

#[test]
fn save_refuses_when_an_image_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundle.tar");
    fatelab(&tmp.path().join("state"))
        .args([
            "images",
            "save",
            "--registry",
            "127.0.0.1:9/never-made",
            "-o",
        ])
        .arg(&out)
        .assert()
        .code(1)
        .stderr(
            contains("127.0.0.1:9/never-made/eggroll:1.6.0-release")
                .and(contains("fatelab images pull")),
        );
    assert!(!out.exists());
}
