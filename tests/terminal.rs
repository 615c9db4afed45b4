//! The terminal as a person sees it: `fatelab up` and `fatelab status --watch` inside a real
//! pseudo-terminal, against the fakes and the real Docker Engine, their output read into a
//! terminal emulator row by row; the same `up` with `NO_COLOR=1`, and with stderr not a terminal.

mod support;

use support::fake_fateflow::{Behaviour, FakeFateFlow};
use support::fake_kubefate::{Kubelet, PodState, party_pod};
use support::host::run;
use support::lab::Lab;
use support::pty::{LONG, drive};

/// `up`'s steps, by their titles' first words, in order.
const STEPS: [&str; 9] = [
    "[1/9] Check the host",
    "[2/9] Start Kubernetes",
    "[3/9] Enable the ingress addon",
    "[4/9] Add the lab's host names",
    "[5/9] Download the KubeFATE release files",
    "[6/9] Load the KubeFATE image",
    "[7/9] Deploy the KubeFATE service",
    "[8/9] Converge every party's FATE cluster",
    "[9/9] Run a federated job",
];

/// A step's line while it runs: one of indicatif's default spinner frames, then its title.
fn spinning(row: &str, step: &str) -> bool {
    let mut chars = row.chars();
    chars.next().is_some_and(|c| "⠁⠂⠄⡀⢀⠠⠐⠈".contains(c))
        && chars
            .as_str()
            .strip_prefix(' ')
            .is_some_and(|r| r.starts_with(step))
}

/// `✓ [n/9] title (1.2s)` or `• [n/9] title (0.0s) — nothing to do: …`.
fn ended(row: &str, step: &str) -> bool {
    let Some(rest) = row
        .strip_prefix("✓ ")
        .or_else(|| row.strip_prefix("• "))
        .and_then(|r| r.strip_prefix(step))
    else {
        return false;
    };
    rest.match_indices(" (").any(|(at, _)| {
        let time = &rest[at + 2..];
        time.find("s)")
            .is_some_and(|end| time[..end].parse::<f64>().is_ok())
    })
}

/// A download or load bar at its end: `label [====…] 100% N KiB/N KiB …`.
fn full_bar(row: &str, label: &str) -> bool {
    let full = format!("{label} [{}] 100% ", "=".repeat(30));
    row.trim_start().starts_with(&full)
}

fn pods(row: &str, party: u32, running: u32) -> bool {
    row.contains(&format!("party {party}: ")) && row.contains(&format!("{running}/6 pods Running"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_in_a_terminal_shows_each_step_its_bars_the_pods_and_the_summary() {
    let lab = Lab::start("pty").await;
    let flow = FakeFateFlow::start(Behaviour::Succeed).await;
    lab.kube
        .route_service("fate-9999", "fateflow-client", 9380, &flow.url);
    // The pods wait for the test, so the screen can be read while they are not Running yet.
    lab.kubefate.set_kubelet(Kubelet::LeavePending);
    let kubefate = lab.kubefate.clone();
    let cmd = lab.up(&[]);
    let (pty, code) = drive(cmd, move |pty| {
        for party in [9999, 10000] {
            pty.wait_for(
                &format!("party {party} with 0/6 pods Running"),
                |r| pods(r, party, 0),
                LONG,
            );
        }
        kubefate.run_pending_pods();
    })
    .await;
    let screen = pty.screen();
    eprintln!("The final screen of `fatelab up` in a terminal:\n{screen}");
    assert_eq!(code, 0, "{screen}");

    for step in STEPS {
        let running = pty.first(|r| spinning(r, step));
        let end = pty.first(|r| ended(r, step));
        assert!(
            running.is_some(),
            "{step} was never seen running: {:#?}",
            pty.seen()
        );
        assert!(
            end.is_some(),
            "{step} has no ✓/• line with its time: {:#?}",
            pty.seen()
        );
        assert!(running < end, "{step} ended before it was seen running");
    }
    for label in ["kubefate-k8s-v1.6.0.tar.gz", "kubefate-v1.4.1.docker"] {
        assert!(
            pty.ever(|r| full_bar(r, label)),
            "no bar of {label} reached 100 %: {:#?}",
            pty.seen()
        );
    }
    for party in [9999, 10000] {
        let pending = pty.first(|r| pods(r, party, 0)).unwrap();
        let running = pty.first(|r| pods(r, party, 6));
        assert!(
            running.is_some_and(|r| r > pending),
            "party {party}'s pods were not seen turning Running: {:#?}",
            pty.seen()
        );
    }
    // The summary is what stays on screen at the end.
    for line in [
        "party 9999: cluster fate-9999",
        "party 10000: cluster fate-10000",
        "Step times: preflight",
        "toy job guest 9999 / host 10000: ",
        "The lab is up.",
    ] {
        assert!(
            screen.contains(line),
            "the final screen lacks {line:?}:\n{screen}"
        );
    }
    assert!(
        pty.raw.windows(5).any(|w| w == b"\x1b[32m"),
        "a live terminal gets its marks in colour"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_gets_plain_lines_on_a_terminal_and_so_does_a_pipe() {
    let lab = Lab::start("pty-plain").await;
    let mut cmd = lab.up(&["--until", "parties"]);
    cmd.env("NO_COLOR", "1");
    let (pty, code) = drive(cmd, |_| {}).await;
    let text = String::from_utf8_lossy(&pty.raw).into_owned();
    assert_eq!(code, 0, "{text}");
    assert!(
        !pty.raw.contains(&0x1b),
        "NO_COLOR output holds escape sequences: {text:?}"
    );
    plain_lines(&text, 8);

    // With stderr not a terminal (the other tests' mode): the same plain lines, no escapes.
    let out = run(lab.up(&["--until", "parties"])).await.success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    assert!(
        stderr.contains("nothing to do: all 2 parties run as declared"),
        "{stderr}"
    );
    plain_lines(&stderr, 8);

    // A question under NO_COLOR is one line of text, answered by a typed line.
    let pty = answer_the_reinstall_question(&lab, true).await;
    let text = String::from_utf8_lossy(&pty.raw).into_owned();
    assert!(!pty.raw.contains(&0x1b), "{text:?}");
    assert!(
        text.lines()
            .any(|l| l.ends_with("Delete it and install it again? [y/N] y")),
        "{text}"
    );
    assert!(
        text.contains("party 10000: installed again, healthy"),
        "{text}"
    );
}

/// A cluster KubeFATE lists as Failed (an interrupted job can leave one): `up` without `--yes`
/// asks before deleting it, and the answer is typed at the terminal — one key on a live
/// terminal, a line under `NO_COLOR`.
async fn answer_the_reinstall_question(lab: &Lab, no_color: bool) -> support::pty::Pty {
    lab.kubefate.set_cluster_status("fate-10000", "Failed");
    let mut ask = lab.up_asking(&["--until", "parties"]);
    if no_color {
        ask.env("NO_COLOR", "1");
    }
    let (pty, code) = drive(ask, move |pty| {
        pty.wait_for(
            "the question",
            |r| r.contains("is Failed. Delete it and install it again?"),
            LONG,
        );
        pty.send(if no_color { b"y\r" } else { b"y" });
    })
    .await;
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&pty.raw));
    assert!(
        lab.kubefate
            .requests()
            .iter()
            .any(|r| r.starts_with("DELETE /v1/cluster/")),
        "the yes typed at the terminal deleted the Failed cluster"
    );
    pty
}

/// Each step's title once when it starts and once with its mark and time; no carriage returns
/// (nothing is redrawn).
fn plain_lines(text: &str, steps: usize) {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    for step in &STEPS[..steps] {
        let started: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with(step) && l.ends_with(" ..."))
            .collect();
        assert_eq!(started.len(), 1, "{step} started: {started:?}\n{text}");
        assert!(
            lines.iter().any(|l| ended(l, step)),
            "{step} has no ✓/• line with its time:\n{text}"
        );
    }
    assert!(
        !text.replace("\r\n", "\n").contains('\r'),
        "a line was drawn over: {text:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_answered_at_the_terminal_and_status_watch_redraws_on_a_change() {
    let lab = Lab::start("pty-ask").await;
    run(lab.up(&["--until", "parties"])).await.success();
    let pty = answer_the_reinstall_question(&lab, false).await;
    assert!(
        pty.screen()
            .contains("party 10000: installed again, healthy"),
        "{}",
        pty.screen()
    );

    // `status --watch`: the report, drawn again when a pod changes (the refresh is an hour
    // away, so only a watch can bring the change), until Ctrl-C.
    let mut watch = lab.host.fatelab(None);
    watch.args(["status", "--watch", "--refresh", "1h"]);
    let cluster = lab
        .kubefate
        .clusters()
        .into_iter()
        .find(|c| c["name"] == "fate-10000" && c["status"] == "Running")
        .unwrap();
    let pod = format!("python-{}", &cluster["uuid"].as_str().unwrap()[..6]);
    let kube = lab.kube.clone();
    let (pty, code) = drive(watch, move |pty| {
        pty.wait_for("a healthy lab", |r| r.contains("lab: healthy"), LONG);
        pty.wait_for(
            "party 10000 ready",
            |r| r.starts_with("ok   party 10000") && r.contains("6/6 pods ready"),
            LONG,
        );
        pty.wait_for("the watch's footer", |r| r.contains("Ctrl-C to stop"), LONG);
        kube.put(party_pod(
            "fate-10000",
            &pod,
            "fate-10000",
            "python",
            &["python", "client", "fateboard"],
            PodState::Creating,
        ));
        pty.wait_for(
            "party 10000 not ready",
            |r| r.starts_with("FAIL party 10000") && r.contains("5/6 pods ready"),
            LONG,
        );
        pty.wait_for(
            "the lab not healthy",
            |r| r.contains("lab: NOT healthy"),
            LONG,
        );
        pty.send(b"\x03");
    })
    .await;
    eprintln!(
        "The last screen of `fatelab status --watch`:\n{}",
        pty.screen()
    );
    assert_eq!(
        code, 1,
        "Ctrl-C ends the watch with the last report's status"
    );
    let screen = pty.screen();
    assert!(screen.contains("FAIL party 10000"), "{screen}");
    assert!(
        !screen.contains("ok   party 10000"),
        "the screen was drawn again, not written below: {screen}"
    );
}
