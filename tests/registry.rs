//! Pulls from a real registry (the distribution registry `scripts/test` starts on a free port):
//! `images pull` and `up`'s pre-pull fetch what a release needs, each image once and several at
//! once; an image the registry lacks fails with the registry's own answer.

mod support;

use predicates::prelude::*;
use predicates::str::contains;
use support::host::run;
use support::images as img;
use support::lab::{Lab, V1_PULLED, V2_PULLED};
use support::registry::{self, CountingProxy};

fn pull(state: &std::path::Path, prefix: &str) -> assert_cmd::Command {
    let mut cmd = support::fatelab(state);
    cmd.args([
        "images",
        "pull",
        "--release",
        "v1.6.0",
        "--registry",
        prefix,
    ]);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_pull_fetches_each_image_once_and_several_at_once() {
    let upstream = registry::require().await;
    let work = tempfile::tempdir().unwrap();
    let space = format!("fatelab-pull-{}", std::process::id());
    for name in V1_PULLED {
        registry::push(work.path(), &format!("{upstream}/{space}/{name}"));
    }
    // Pulled through the proxy, which holds manifest requests until four have come.
    let proxy = CountingProxy::start(&upstream, 4).await;
    let prefix = format!("{}/{space}", proxy.address);
    let refs: Vec<String> = V1_PULLED.iter().map(|n| format!("{prefix}/{n}")).collect();

    run(pull(&work.path().join("state"), &prefix))
        .await
        .success()
        .stderr(contains(": pulled ").and(contains("images: pulled 7/7")));
    for r in &refs {
        assert!(img::exists(r), "{r} was pulled");
    }
    for name in V1_PULLED {
        let repository = name.split(':').next().unwrap();
        assert_eq!(
            proxy.manifest_gets(&format!("{space}/{repository}")),
            1,
            "{name} fetched once"
        );
    }
    assert!(
        proxy.most_at_once() >= 4,
        "pulls ran together: at most {} at once",
        proxy.most_at_once()
    );

    // Everything present: a second pull fetches nothing.
    run(pull(&work.path().join("state"), &prefix))
        .await
        .success()
        .stderr(contains("already present"));
    assert_eq!(proxy.manifest_gets(&format!("{space}/eggroll")), 1);
    let all: Vec<&str> = refs.iter().map(String::as_str).collect();
    img::remove(&all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_the_registry_lacks_fails_with_the_registrys_answer() {
    let upstream = registry::require().await;
    let work = tempfile::tempdir().unwrap();
    let space = format!("fatelab-missing-{}", std::process::id());
    for name in V1_PULLED.iter().filter(|n| !n.starts_with("fluentd")) {
        registry::push(work.path(), &format!("{upstream}/{space}/{name}"));
    }
    let prefix = format!("{upstream}/{space}");
    run(pull(&work.path().join("state"), &prefix))
        .await
        .code(1)
        .stderr(
            contains(format!("{prefix}/fluentd:v1.12 from {upstream}"))
                .and(contains("manifest unknown"))
                .and(contains("could not pull 1 image")),
        );
    let pulled: Vec<String> = V1_PULLED
        .iter()
        .filter(|n| !n.starts_with("fluentd"))
        .map(|n| format!("{prefix}/{n}"))
        .collect();
    for r in &pulled {
        assert!(img::exists(r), "the others were pulled: {r}");
    }
    let all: Vec<&str> = pulled.iter().map(String::as_str).collect();
    img::remove(&all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_pre_pulls_the_v2_fluent_bit_sidecar_from_the_registry() {
    let upstream = registry::require().await;
    let lab = Lab::start_release("prepull", "v2.0.0").await;
    let work = tempfile::tempdir().unwrap();
    // The lab's images are in Docker under the lab's registry name; the sidecar only in the
    // real registry, where the chart will look for it: {registry}/fluent-bit:2.1.4.
    let space = format!("fatelab-prepull-{}", std::process::id());
    let prefix = format!("{upstream}/{space}");
    let present: Vec<String> = V2_PULLED
        .iter()
        .filter(|n| !n.starts_with("fluent-bit"))
        .map(|n| format!("{prefix}/{n}"))
        .collect();
    for r in &present {
        img::make_image(work.path(), r);
    }
    registry::push(work.path(), &format!("{prefix}/fluent-bit:2.1.4"));
    run(lab.up_pulling(&prefix, &["--until", "images"]))
        .await
        .success()
        .stderr(
            contains(format!("{prefix}/fluent-bit:2.1.4: pulled"))
                .and(contains("images: pulled 1/1")),
        );
    assert!(img::exists(&format!("{prefix}/fluent-bit:2.1.4")));
    // Now every image is there: nothing is pulled again.
    run(lab.up_pulling(&prefix, &["--until", "images"]))
        .await
        .success()
        .stderr(contains("every image is already in Docker"));
    let mut all: Vec<&str> = present.iter().map(String::as_str).collect();
    let sidecar = format!("{prefix}/fluent-bit:2.1.4");
    all.push(&sidecar);
    img::remove(&all);
}
