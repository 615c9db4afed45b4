//! The Kubernetes layer (apply, waits, namespaces, service proxy) driven against the fake API
//! server: the real client code, with the test acting as kubelet and controllers.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine;
use fatelab::clients::kube::{self, Applied};
use fatelab::clients::transport::{Call, Repeat, Service, proxy};
use fatelab::model::credentials::Credentials;
use fatelab::model::spec::SpecInput;
use fatelab::render::manifests;
use serde_json::{Value, json};
use support::fake_kube::{FakeKube, deployment, pod};
use support::static_server::StaticServer;

async fn client_for(fake: &FakeKube) -> (tempfile::TempDir, ::kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    fake.write_kubeconfig(&path);
    let client = kube::connect(&path, Duration::from_secs(10)).await.unwrap();
    (dir, client)
}

fn creds() -> Credentials {
    Credentials {
        kubefate_username: "admin".into(),
        kubefate_password: fatelab::secret::Secret::new("k-secret-1"),
        mariadb_username: "kubefate".into(),
        mariadb_password: fatelab::secret::Secret::new("m-secret-2"),
    }
}

fn tutorial_manifests(registry: Option<&str>) -> Vec<Value> {
    let spec = SpecInput {
        ip: Some("192.168.100.123".into()),
        registry: registry.map(String::from),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let (rbac, kubefate) = manifests::documents(&spec, &creds()).unwrap();
    rbac.into_iter().chain(kubefate).collect()
}

/// Waits for the pods the fake's `pod()` helper makes (label component=controller) in `ns`.
async fn wait_controllers(
    client: &::kube::Client,
    ns: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    kube::wait_ready(
        client,
        ns,
        "app.kubernetes.io/component=controller",
        kube::PodWait {
            timeout,
            settle: Duration::ZERO,
        },
        |pods| pods.iter().all(kube::PodView::is_ready),
        |_| {},
    )
    .await
}

const NEEDS: &str = "KubeFATE v1.6.0 needs Kubernetes 1.14 to 1.21";

fn identity(o: &Value) -> String {
    format!(
        "{} {} {}/{}",
        o["apiVersion"].as_str().unwrap(),
        o["kind"].as_str().unwrap(),
        o.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("-"),
        o.pointer("/metadata/name").and_then(Value::as_str).unwrap()
    )
}

#[tokio::test]
async fn the_tutorial_manifests_create_exactly_the_release_objects_and_reapply_is_a_no_op() {
    let fake = FakeKube::start().await;
    let (_dir, client) = client_for(&fake).await;
    let docs = tutorial_manifests(Some("hub.c.163.com/federatedai"));
    let first = kube::apply_all(&client, &docs, NEEDS).await.unwrap();
    assert!(first.iter().all(|a| a.changed));
    assert_eq!(first[0].kind, "Namespace", "namespaces are applied first");

    let created: BTreeSet<String> = fake.objects().iter().map(identity).collect();
    let expected: BTreeSet<String> = [
        "v1 Namespace -/kube-fate",
        "v1 ServiceAccount kube-fate/kubefate-admin",
        "rbac.authorization.k8s.io/v1 ClusterRoleBinding -/kubefate",
        "v1 Secret kube-fate/kubefate-secret",
        "apps/v1 Deployment kube-fate/kubefate",
        "apps/v1 Deployment kube-fate/mariadb",
        "v1 Service kube-fate/mariadb",
        "v1 Service kube-fate/kubefate",
        "networking.k8s.io/v1beta1 Ingress kube-fate/kubefate",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(created, expected);

    // fatelab's edits, as the API server stores them.
    let secret = fake
        .get("v1", "Secret", "kube-fate", "kubefate-secret")
        .unwrap();
    let decode = |k: &str| {
        let b = base64::engine::general_purpose::STANDARD
            .decode(secret["data"][k].as_str().unwrap())
            .unwrap();
        String::from_utf8(b).unwrap()
    };
    assert_eq!(decode("kubefatePassword"), "k-secret-1");
    assert_eq!(decode("mariadbPassword"), "m-secret-2");
    let mariadb = fake
        .get("apps/v1", "Deployment", "kube-fate", "mariadb")
        .unwrap();
    assert_eq!(
        mariadb.pointer("/spec/template/spec/containers/0/image"),
        Some(&json!("hub.c.163.com/federatedai/mariadb:10"))
    );
    let kubefate = fake
        .get("apps/v1", "Deployment", "kube-fate", "kubefate")
        .unwrap();
    assert_eq!(
        kubefate.pointer("/spec/template/spec/containers/0/image"),
        Some(&json!("federatedai/kubefate:v1.4.1")),
        "the service image is loaded locally, never renamed"
    );
    let ingress = fake
        .get(
            "networking.k8s.io/v1beta1",
            "Ingress",
            "kube-fate",
            "kubefate",
        )
        .unwrap();
    assert_eq!(
        ingress.pointer("/spec/rules/0/host"),
        Some(&json!("kubefate.net"))
    );
    assert_eq!(
        secret.pointer("/metadata/managedFields/0/manager"),
        Some(&json!("fatelab"))
    );
    assert!(
        fake.patch_content_types()
            .iter()
            .all(|t| t == "application/apply-patch+yaml")
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.contains("fieldManager=fatelab") && r.contains("force=true"))
    );

    // The second apply changes nothing: same objects, same resourceVersion.
    let rv = fake.resource_version();
    let second: Vec<Applied> = kube::apply_all(&client, &docs, NEEDS).await.unwrap();
    assert!(second.iter().all(|a| !a.changed), "{second:?}");
    assert_eq!(fake.resource_version(), rv);
    assert_eq!(fake.objects().len(), 9);
}

#[tokio::test]
async fn a_v1beta1_ingress_on_kubernetes_1_22_names_the_release_range() {
    let fake = FakeKube::start_version("1", "22").await;
    let (_dir, client) = client_for(&fake).await;
    let err = kube::apply_all(&client, &tutorial_manifests(None), NEEDS)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("does not serve networking.k8s.io/v1beta1 Ingress"),
        "{msg}"
    );
    assert!(
        msg.contains("Kubernetes v1.22") && msg.contains(NEEDS),
        "{msg}"
    );
}

/// The wait follows the pods through a watch: once it has started, the change that makes the
/// pod ready ends it with no further listing (a poller would list again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_turning_running_is_noticed_through_the_watch() {
    let fake = FakeKube::start().await;
    let (_dir, client) = client_for(&fake).await;
    fake.put(pod(
        "fate-9999",
        "python-0",
        Some(("ContainerCreating", "")),
    ));
    let started = fake.watch_started();
    let mut waiter = tokio::spawn(async move {
        wait_controllers(&client, "fate-9999", Duration::from_secs(30)).await
    });
    watching(started, &mut waiter).await;
    let listed_before = pod_lists(&fake);
    fake.put(pod("fate-9999", "python-0", None));
    waiter.await.unwrap().unwrap();
    assert_eq!(
        pod_lists(&fake),
        listed_before,
        "the change came through the watch: {:#?}",
        fake.requests()
    );
}

/// Returns once the fake has seen a watch start; a wait that ends before it watches fails the
/// test (instead of leaving it waiting for a watch that never comes).
async fn watching<T: std::fmt::Debug>(
    started: tokio::sync::futures::Notified<'_>,
    waiter: &mut tokio::task::JoinHandle<T>,
) {
    tokio::select! {
        () = started => {}
        done = waiter => panic!("the wait ended before it watched: {done:?}"),
    }
}

/// Listings (not watches) of pods in fate-9999.
fn pod_lists(fake: &FakeKube) -> usize {
    fake.requests()
        .iter()
        .filter(|r| {
            r.starts_with("GET /api/v1/namespaces/fate-9999/pods") && !r.contains("watch=true")
        })
        .count()
}

#[tokio::test]
async fn progress_is_reported_per_pod() {
    let fake = FakeKube::start().await;
    let (_dir, client) = client_for(&fake).await;
    fake.put(pod("ns1", "a", None));
    let mut seen = Vec::new();
    kube::wait_ready(
        &client,
        "ns1",
        "app.kubernetes.io/component=controller",
        kube::PodWait {
            timeout: Duration::from_secs(5),
            settle: Duration::ZERO,
        },
        |pods| pods.iter().all(kube::PodView::is_ready),
        |pods| seen.push(pods.iter().map(kube::PodView::line).collect::<Vec<_>>()),
    )
    .await
    .unwrap();
    assert_eq!(
        seen.last().unwrap(),
        &vec!["a Running [controller: ready]".to_string()]
    );
}

#[tokio::test]
async fn a_wait_that_times_out_says_which_pods_are_not_ready() {
    let fake = FakeKube::start().await;
    let (_dir, client) = client_for(&fake).await;
    fake.put(pod("ns1", "slow", Some(("ContainerCreating", ""))));
    let err = wait_controllers(&client, "ns1", Duration::from_millis(300))
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("not all ready after 300ms")
            && msg.contains("slow (Pending; controller: ContainerCreating)"),
        "{msg}"
    );
}

#[tokio::test]
async fn an_image_pull_failure_fails_early_naming_image_and_registry() {
    let fake = FakeKube::start().await;
    let (_dir, client) = client_for(&fake).await;
    let mut p = pod(
        "fate-9999",
        "rollsite-7d",
        Some((
            "ImagePullBackOff",
            "Back-off pulling image \"hub.c.163.com/federatedai/eggroll:1.6.0-release\"",
        )),
    );
    p["status"]["containerStatuses"][0]["image"] =
        json!("hub.c.163.com/federatedai/eggroll:1.6.0-release");
    fake.put(p);
    let begun = Instant::now();
    let err = wait_controllers(&client, "fate-9999", Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(
        begun.elapsed() < Duration::from_secs(10),
        "must not wait for the timeout"
    );
    let msg = format!("{err:#}");
    assert!(
        msg.contains("cannot pull image hub.c.163.com/federatedai/eggroll:1.6.0-release"),
        "{msg}"
    );
    assert!(
        msg.contains("from hub.c.163.com") && !msg.contains("--registry"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_crash_loop_fails_early_with_the_last_log_lines() {
    let fake = FakeKube::start().await;
    let (_dir, client) = client_for(&fake).await;
    fake.put(pod(
        "fate-9999",
        "python-5f",
        Some((
            "CrashLoopBackOff",
            "back-off 5m0s restarting failed container",
        )),
    ));
    fake.set_previous_logs(
        "fate-9999",
        "python-5f",
        "controller",
        "starting fate_flow\nERROR: cannot connect to mysql:3306\n",
    );
    let err = wait_controllers(&client, "fate-9999", Duration::from_secs(60))
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("python-5f keeps crashing")
            && msg.contains("ERROR: cannot connect to mysql:3306"),
        "{msg}"
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.contains("/pods/python-5f/log") && r.contains("previous=true"))
    );
}

#[tokio::test]
async fn an_unschedulable_pod_fails_early_with_the_scheduler_reason() {
    let fake = FakeKube::start().await;
    let (_dir, client) = client_for(&fake).await;
    let mut p = pod("fate-9999", "nodemanager-0", None);
    p["status"] = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 Insufficient memory."}]});
    fake.put(p);
    let err = wait_controllers(&client, "fate-9999", Duration::from_secs(60))
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("cannot be scheduled: 0/1 nodes are available: 1 Insufficient memory."),
        "{msg}"
    );
}

/// Both Deployments are awaited: while one is still unavailable, a change to the other (which a
/// waiter returning on any event, or on the first one available, would act on) does not end
/// the wait; it ends at its own timeout, naming the one it waited for. Once both are
/// available, it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_are_awaited_together() {
    let fake = FakeKube::start().await;
    let (_dir, client) = client_for(&fake).await;
    fake.put(deployment("kube-fate", "kubefate", false));
    fake.put(deployment("kube-fate", "mariadb", true));
    let both = |timeout| {
        let client = client.clone();
        tokio::spawn(async move {
            kube::wait_deployments_available(
                &client,
                "kube-fate",
                &["kubefate", "mariadb"],
                timeout,
            )
            .await
        })
    };
    let started = fake.watch_started();
    let mut waiter = both(Duration::from_secs(2));
    watching(started, &mut waiter).await;
    fake.put(deployment("kube-fate", "mariadb", true));
    let err = waiter.await.unwrap().unwrap_err();
    assert!(format!("{err:#}").contains("kubefate"), "{err:#}");

    let started = fake.watch_started();
    let mut waiter = both(Duration::from_secs(30));
    watching(started, &mut waiter).await;
    fake.put(deployment("kube-fate", "kubefate", true));
    waiter.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_created_once_and_deleted_until_gone() {
    let fake = FakeKube::start().await;
    let (_dir, client) = client_for(&fake).await;
    assert!(
        kube::ensure_namespace(&client, "fate-9999", None)
            .await
            .unwrap()
    );
    assert!(
        !kube::ensure_namespace(&client, "fate-9999", None)
            .await
            .unwrap()
    );
    fake.put(pod("fate-9999", "leftover", None));

    fake.slow_namespace_deletion(true);
    // While the namespace terminates (which a waiter content with an accepted delete, or with
    // any event, would take for done), the wait goes on until its own timeout.
    let err = kube::delete_namespace(&client, "fate-9999", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("namespace fate-9999 was still terminating after 1s"),
        "{err:#}"
    );
    assert_eq!(
        fake.get("v1", "Namespace", "", "fate-9999").unwrap()["status"]["phase"],
        "Terminating"
    );
    let started = fake.watch_started();
    let c = client.clone();
    let mut deleting = tokio::spawn(async move {
        kube::delete_namespace(&c, "fate-9999", Duration::from_secs(30)).await
    });
    watching(started, &mut deleting).await;
    fake.finish_deletions();
    assert!(deleting.await.unwrap().unwrap());
    assert!(fake.get("v1", "Pod", "fate-9999", "leftover").is_none());
    assert!(
        !kube::delete_namespace(&client, "fate-9999", Duration::from_secs(5))
            .await
            .unwrap(),
        "already gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_reached_through_the_api_server_proxy() {
    let upstream = StaticServer::start(
        [(
            "/v1/version/".to_string(),
            br#"{"msg":"getVersion Success","version":"v1.4.1"}"#.to_vec(),
        )]
        .into(),
    )
    .await;
    let fake = FakeKube::start().await;
    fake.route_service("kube-fate", "kubefate", 8080, &upstream.url);
    let (_dir, client) = client_for(&fake).await;
    let resp = proxy(
        &client,
        &Service::new("kube-fate", "kubefate", 8080),
        Call::get("/v1/version/?token=abc").repeat(Repeat::Safe),
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json().unwrap()["version"], "v1.4.1");
    assert!(fake.requests().iter().any(|r| r
        == "GET /api/v1/namespaces/kube-fate/services/kubefate:8080/proxy/v1/version/?token=abc"));
    assert_eq!(upstream.requests(), ["GET /v1/version/"]);

    let missing = proxy(
        &client,
        &Service::new("kube-fate", "nothing", 80),
        Call::get("/").repeat(Repeat::Safe),
    )
    .await
    .unwrap();
    assert_eq!(missing.status, 503);
    let tries = fake
        .requests()
        .iter()
        .filter(|r| r.contains("services/nothing:80/proxy"))
        .count();
    assert_eq!(
        tries, 5,
        "a 503 on a read is tried again, four times at most"
    );
}

#[tokio::test]
async fn every_release_manifest_reads_back_as_declared() {
    for (release, k8s_minor) in [("v1.6.0", "21"), ("v2.0.0", "28")] {
        let fake = FakeKube::start_version("1", k8s_minor).await;
        let (_dir, client) = client_for(&fake).await;
        let spec = SpecInput {
            ip: Some("192.168.100.123".into()),
            release: Some(release.into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let (rbac, kubefate) = manifests::documents(&spec, &creds()).unwrap();
        let docs: Vec<Value> = rbac.into_iter().chain(kubefate).collect();
        kube::apply_all(&client, &docs, NEEDS).await.unwrap();
        // What `up` compares on a re-run: nothing may look different from what was applied, or
        // a lab would never be "as declared" (a cluster-scoped object with a namespace in its file).
        let live = kube::get_objects(&client, &docs).await.unwrap();
        for (doc, live) in docs.iter().zip(live) {
            let live = live
                .live
                .unwrap_or_else(|| panic!("{release}: {} not found", doc["kind"]));
            let off = fatelab::model::compare::object_differences(doc, &live);
            assert!(
                off.is_empty(),
                "{release} {}: {off:?}",
                doc["metadata"]["name"]
            );
        }
        let again = kube::apply_all(&client, &docs, NEEDS).await.unwrap();
        assert!(
            again.iter().all(|a| !a.changed),
            "{release}: a re-apply changed something"
        );
        let role = again.iter().find(|a| a.kind == "ClusterRole");
        assert!(
            role.is_none_or(|r| r.namespace.is_none()),
            "{release}: a ClusterRole lives in no namespace"
        );
    }
}
