//! `fatelab open board|notebook PARTY`: the ingress URL on minikube with the hosts entries
//! written; with `--forward`, a local port forwarded through the fake API server's
//! `pods/portforward` websocket to the pod behind the Service, where the fake FATE Board answers.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use predicates::prelude::*;
use predicates::str::contains;
use support::host::run;
use support::lab::Lab;
use support::static_server::StaticServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_is_one_command_away() {
    let lab = Lab::start("open").await;
    run(lab.up(&["--no-test"])).await.success();

    // minikube, ingress and the hosts entries: the URL.
    let mut cmd = lab.host.fatelab(None);
    cmd.args(["open", "board", "9999", "--no-browser"]);
    run(cmd)
        .await
        .success()
        .stdout(contains("http://9999.fateboard.kubefate.net/").and(contains("ingress")));

    // Forwarded: the fake FATE Board listens where the python pod's port 8080 is.
    let board = StaticServer::start(BTreeMap::from([(
        "/".to_string(),
        b"<html><title>FATE Board</title></html>".to_vec(),
    )]))
    .await;
    let board_port: u16 = board.url.rsplit(':').next().unwrap().parse().unwrap();
    let python = lab.kube.module_pod("fate-9999", "python");
    lab.kube.forward_to("fate-9999", &python, 8080, board_port);
    let mut child = lab
        .host
        .fatelab_process()
        .args(["open", "board", "9999", "--forward", "--no-browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let first = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let url = first.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");
    for _ in 0..2 {
        // Each connection is its own forward.
        let page = tokio::task::spawn_blocking({
            let url = url.clone();
            move || {
                let out = std::process::Command::new("curl")
                    .args(["-sS", "--max-time", "10", &url])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr)
            }
        })
        .await
        .unwrap();
        assert!(page.contains("<title>FATE Board</title>"), "{page}");
    }
    assert!(
        lab.kube
            .requests()
            .iter()
            .any(|r| r.contains(&format!("/namespaces/fate-9999/pods/{python}/portforward"))),
        "through the API server's portforward"
    );
    // Ctrl-C ends it.
    interrupt(child.id());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");

    let mut cmd = lab.host.fatelab(None);
    cmd.args(["open", "board", "4242"]);
    run(cmd)
        .await
        .code(2)
        .stderr(contains("party 4242 is not one of this lab's own parties"));
}

fn interrupt(pid: u32) {
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
}
