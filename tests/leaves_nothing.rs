//! `down` removes every object fatelab's requests made, whatever its kind: the fake API server
//! keeps account of who created each object (a request, or the test's controllers and kubelet),
//! and after `down` of a v2.0.0 lab — whose RBAC has a cluster-scoped ClusterRole its file puts
//! in a namespace — none of fatelab's is left, on minikube or on an existing cluster.

mod support;

use support::fake_kube::write_kubeconfig_contexts;
use support::host::run;
use support::lab::Lab;

fn assert_gone(lab: &Lab, made: &[String]) {
    assert!(
        made.iter().any(|o| o == "ClusterRole kubefate-role"),
        "up made the ClusterRole: {made:?}"
    );
    assert_eq!(
        lab.kube.made_by_requests(),
        Vec::<String>::new(),
        "objects fatelab made are left after down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_of_a_v2_lab_on_minikube_leaves_no_object_fatelab_made() {
    let lab = Lab::start_release("nothingleft", "v2.0.0").await;
    run(lab.up(&["--no-test"])).await.success();
    let made = lab.kube.made_by_requests();
    let mut down = lab.host.fatelab(None);
    down.args(["down", "--yes"]);
    run(down).await.success();
    assert_gone(&lab, &made);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_of_a_v2_lab_on_an_existing_cluster_leaves_no_object_fatelab_made() {
    let lab = Lab::start_release("nothingleftctx", "v2.0.0").await;
    lab.kube
        .put(support::fake_kube::node("a-node-1", "10.0.0.5", true));
    lab.kube
        .put(support::fake_kube::ingress_class("nginx", true));
    let kubeconfig = lab.host.path("team.kubeconfig");
    write_kubeconfig_contexts(&kubeconfig, &[("org-a", &lab.kube)]);
    let state = lab.state();
    run(lab.up_existing(
        &state,
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--context",
            "org-a",
            "--release",
            "v2.0.0",
            "--no-test",
        ],
    ))
    .await
    .success();
    let made = lab.kube.made_by_requests();
    let mut down = lab.host.fatelab(None);
    down.env("FATELAB_STATE_DIR", &state)
        .args(["down", "--yes"]);
    run(down).await.success();
    assert_gone(&lab, &made);
}
