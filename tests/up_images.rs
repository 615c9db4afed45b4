//! `up` through the artifacts and images steps: release files from a local mirror or an
//! offline directory, the KubeFATE image loaded from its .docker file, party images from a bundle.

mod support;

use std::collections::BTreeMap;

use predicates::prelude::*;
use predicates::str::contains;
use support::host::{Host, kube_with_ingress, run};
use support::images as img;
use support::static_server::StaticServer;

const DOWNLOADS: &str = "/FederatedAI/KubeFATE/releases/download/v1.6.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_loads_the_service_image_and_an_offline_bundle() {
    let host = Host::new(Some("v1.7.3"));
    let work = tempfile::tempdir().unwrap();
    let registry = format!("127.0.0.1:9/fatelab-up-{}", std::process::id());

    // The release's service image file, made the way KubeFATE's Makefile does (`docker save`).
    let service = "federatedai/kubefate:v1.4.1";
    img::make_image(work.path(), service);
    let docker_file = work.path().join("kubefate-v1.4.1.docker");
    img::save(&[service], &docker_file);
    img::remove(&[service]);

    // Every pulled image, under the test's registry prefix, in one bundle.
    let (pulled, bundle) = support::lab::party_bundle(work.path(), &registry);
    let refs: Vec<&str> = pulled.iter().map(String::as_str).collect();
    img::remove(&refs);

    let mirror = StaticServer::start(BTreeMap::from([
        (
            format!("{DOWNLOADS}/kubefate-k8s-v1.6.0.tar.gz"),
            b"not really a package".to_vec(),
        ),
        (
            format!("{DOWNLOADS}/kubefate-v1.4.1.docker"),
            std::fs::read(&docker_file).unwrap(),
        ),
    ]))
    .await;
    let kube = kube_with_ingress("kube-system", "nginx-ingress-controller").await;
    let up = |extra: &[&str]| {
        let mut cmd = host.up(
            &kube,
            &[
                &["--until", "images", "--registry", &registry, "--images"],
                extra,
            ]
            .concat(),
        );
        cmd.arg(&bundle)
            .env("FATELAB_GITHUB_MIRROR", &mirror.url)
            .env("FATELAB_CHART_REPO", &mirror.url);
        cmd
    };
    run(up(&[]))
        .await
        .success()
        .stderr(contains(format!("loaded {service}")).and(contains("Stopped after step images")));
    assert!(img::exists(service));
    for r in &pulled {
        assert!(img::exists(r), "{r} was not loaded from the bundle");
    }
    let cache = host.state().join("cache/v1.6.0");
    assert!(cache.join("kubefate-v1.4.1.docker").is_file());

    // A second run downloads nothing and loads nothing.
    run(up(&[])).await.success().stderr(
        contains("every image is already in Docker")
            .and(contains("every release file is already here")),
    );
    let downloads: Vec<String> = mirror
        .requests()
        .into_iter()
        .filter(|r| r.contains("releases/download"))
        .collect();
    assert_eq!(downloads.len(), 2, "{downloads:?}");

    // Offline: the same files from --artifacts-dir, with no mirror reachable at all.
    img::remove(&[service]);
    let offline = tempfile::tempdir().unwrap();
    std::fs::copy(&docker_file, offline.path().join("kubefate-v1.4.1.docker")).unwrap();
    std::fs::write(offline.path().join("kubefate-k8s-v1.6.0.tar.gz"), b"pkg").unwrap();
    let fresh_state = tempfile::tempdir().unwrap();
    let mut cmd = host.up(
        &kube,
        &[
            "--until",
            "images",
            "--registry",
            &registry,
            "--artifacts-dir",
        ],
    );
    cmd.arg(offline.path())
        .env("FATELAB_STATE_DIR", fresh_state.path())
        .env("FATELAB_GITHUB_MIRROR", "http://127.0.0.1:9")
        .env("FATELAB_CHART_REPO", "http://127.0.0.1:9");
    run(cmd)
        .await
        .success()
        .stderr(contains(format!("loaded {service}")));
    assert!(img::exists(service));

    img::remove(&refs);
    img::remove(&[service]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_file_that_changed_since_its_download_is_reported_not_used() {
    let lab = support::lab::Lab::start("changed").await;
    support::host::run(lab.up(&["--until", "artifacts"]))
        .await
        .success()
        .stderr(predicates::str::contains("recorded in SHA256SUMS"));
    let cache = lab.state().join("cache/v1.6.0");
    let sums = std::fs::read_to_string(cache.join("SHA256SUMS")).unwrap();
    assert!(sums.contains("  kubefate-k8s-v1.6.0.tar.gz"), "{sums}");
    std::fs::write(cache.join("kubefate-k8s-v1.6.0.tar.gz"), b"not the package").unwrap();
    support::host::run(lab.up(&["--until", "artifacts"]))
        .await
        .code(1)
        .stderr(predicates::str::contains(
            "kubefate-k8s-v1.6.0.tar.gz changed since fatelab downloaded it",
        ));
}
