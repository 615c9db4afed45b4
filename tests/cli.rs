//! The command line as a user meets it: help, bad input, scenario files, output formats.

mod support;

use predicates::prelude::*;
use predicates::str::contains;
use support::{fatelab, scenario};

/// Each bad input exits 2, names the problem, and writes nothing.
#[test]
fn bad_inputs_exit_2_and_write_nothing() {
    let cases: &[(&[&str], &str)] = &[
        (&["--parties", "9999,9999"], "9999 is listed twice"),
        (&["--parties", "abc"], "'abc' is not a positive integer"),
        (&["--parties", "9999"], "at least two parties"),
        (&["--parties", "0,1"], "party ID 0 is not allowed"),
        (
            &["--ip", "300.1.1.1"],
            "'300.1.1.1' is not a valid IPv4 address",
        ),
        (&["--ip", "127.0.0.1"], "loopback"),
        (&["--ip", "0.0.0.0"], "unspecified"),
        (&["--release", "v0.0.1"], "known releases: v1.6.0, v2.0.0"),
        (&["--registry", "https://hub.c.163.com"], "URL scheme"),
        (&["--domain", "no_dots"], "not a DNS domain"),
        (&["--github-mirror", "ftp://x"], "http:// or https://"),
    ];
    for (args, needle) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let plan = tmp.path().join("plan");
        let state = tmp.path().join("state");
        let mut cmd = fatelab(&state);
        cmd.args(["up", "--dry-run", "--plan-dir"]).arg(&plan);
        if !args.contains(&"--ip") {
            cmd.args(["--ip", "192.168.100.123"]);
        }
        cmd.args(*args).assert().code(2).stderr(contains(*needle));
        assert!(!plan.exists(), "{args:?} wrote {}", plan.display());
        assert!(!state.exists(), "{args:?} created {}", state.display());
    }
}

#[test]
fn bad_scenario_values_are_usage_errors_too() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("parties: [1, 1]\nip: 10.0.0.1\n", "1 is listed twice"),
        ("parties: [1, 2]\nip: 127.0.0.1\n", "loopback"),
        (
            "parties: [1, 2]\nip: 10.0.0.1\nrelease: v9\n",
            "known releases",
        ),
        (
            "parties: [1, 2]\nip: 10.0.0.1\ncolour: red\n",
            "allowed keys",
        ),
        (
            "ip: 10.0.0.1\nparties:\n  - {id: 1, ports: {http: 80}}\n  - 2\n",
            "party 1 http port 80 is outside the Kubernetes NodePort range 30000-32767",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let file = tmp.path().join(format!("s{i}.yaml"));
        std::fs::write(&file, text).unwrap();
        let plan = tmp.path().join(format!("plan{i}"));
        fatelab(&tmp.path().join("state"))
            .args(["up", "--dry-run", "-f"])
            .arg(&file)
            .arg("--plan-dir")
            .arg(&plan)
            .assert()
            .code(2)
            .stderr(contains(*needle));
        assert!(!plan.exists());
    }
    fatelab(&tmp.path().join("state"))
        .args(["up", "--dry-run", "-f", "/nonexistent/lab.yaml"])
        .assert()
        .code(2)
        .stderr(contains("cannot read scenario file /nonexistent/lab.yaml"));
}

#[test]
fn every_help_describes_every_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let top = fatelab(tmp.path()).arg("--help").assert().success();
    let out = String::from_utf8(top.get_output().stdout.clone()).unwrap();
    for word in [
        "up",
        "status",
        "down",
        "doctor",
        "test",
        "images",
        "--output",
        "--yes",
        "--state-dir",
        "--verbose",
    ] {
        assert!(out.contains(word), "top-level help lacks {word}:\n{out}");
    }
    for sub in ["up", "status", "down", "doctor", "test", "images", "hosts"] {
        fatelab(tmp.path()).args([sub, "--help"]).assert().success();
    }
    let up = fatelab(tmp.path())
        .args(["up", "--help"])
        .assert()
        .success();
    let out = String::from_utf8(up.get_output().stdout.clone()).unwrap();
    for flag in [
        "--file",
        "--parties",
        "--ip",
        "--release",
        "--registry",
        "--domain",
        "--dry-run",
        "--plan-dir",
        "--github-mirror",
        "--chart-repo",
        "--chart ",
        "--resources",
        "--hosts-file",
    ] {
        assert!(out.contains(flag), "up --help lacks {flag}:\n{out}");
    }
}

#[test]
fn up_validates_before_anything_else() {
    let tmp = tempfile::tempdir().unwrap();
    fatelab(&tmp.path().join("state"))
        .args(["up", "--ip", "127.0.0.1"])
        .assert()
        .code(2)
        .stderr(contains("loopback"));
    assert!(!tmp.path().join("state").exists());
}

#[test]
fn scenario_file_with_flag_overrides() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan");
    fatelab(&tmp.path().join("state"))
        .args(["up", "--dry-run", "--ip", "10.1.2.3", "-f"])
        .arg(scenario("three-parties.yaml"))
        .args(["--release", "v2.0.0", "--plan-dir"])
        .arg(&plan)
        .assert()
        .success()
        .stdout(
            contains("KubeFATE v2.0.0").and(contains("3 parties (9999, 10000, 10001) on 10.1.2.3")),
        );
    let doc = support::read_yaml(&plan.join("fate-10001.yaml"));
    assert_eq!(doc["osx"]["nodePort"], 30111);
    assert_eq!(doc["osx"]["partyList"][0]["partyIp"], "10.1.2.3");
}

#[test]
fn json_plan_lists_steps_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan");
    let out = fatelab(&tmp.path().join("state"))
        .args([
            "up",
            "--dry-run",
            "--output",
            "json",
            "--ip",
            "192.168.100.123",
            "--plan-dir",
        ])
        .arg(&plan)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "preflight",
            "minikube",
            "ingress",
            "hosts",
            "artifacts",
            "images",
            "kubefate",
            "parties",
            "test"
        ]
    );
    assert_eq!(v["lab"]["release"], "v1.6.0");
    assert_eq!(v["lab"]["parties"][1]["ports"]["http"], 30107);
    for f in v["files"].as_array().unwrap() {
        assert!(
            plan.join(f.as_str().unwrap()).is_file(),
            "{f} listed but not written"
        );
    }
}

/// The dry run needs no Docker, minikube or network: nothing on PATH, no Docker socket.
#[test]
fn dry_run_works_with_nothing_installed() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan");
    let empty = tmp.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    fatelab(&tmp.path().join("state"))
        .env("PATH", &empty)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args(["up", "--dry-run", "--ip", "192.168.100.123", "--plan-dir"])
        .arg(&plan)
        .assert()
        .success()
        .stdout(contains("nothing on this host was changed"));
    for f in [
        "fate-9999.yaml",
        "fate-10000.yaml",
        "hosts.txt",
        "rbac-config.yaml",
        "kubefate.yaml",
        "plan.txt",
    ] {
        assert!(plan.join(f).is_file(), "{f} missing");
    }
    assert!(
        !tmp.path().join("state").exists(),
        "a dry run must not create the state dir"
    );
}

#[test]
fn mirrors_and_hosts_file_show_in_the_plan() {
    let tmp = tempfile::tempdir().unwrap();
    fatelab(&tmp.path().join("state"))
        .env("FATELAB_GITHUB_MIRROR", "http://127.0.0.1:9/gh")
        .args(["up", "--dry-run", "--ip", "192.168.100.123", "--hosts-file", "/tmp/test-hosts"])
        .args(["--chart-repo", "http://127.0.0.1:9/charts", "--plan-dir"])
        .arg(tmp.path().join("plan"))
        .assert()
        .success()
        .stdout(
            contains("http://127.0.0.1:9/gh/FederatedAI/KubeFATE/releases/download/v1.6.0/kubefate-v1.4.1.docker")
                .and(contains("http://127.0.0.1:9/gh/kubernetes/minikube/releases/download/v1.22.0/"))
                .and(contains("http://127.0.0.1:9/charts/package/fate-v1.6.0.tgz"))
                .and(contains("into /tmp/test-hosts")),
        );
}

#[test]
fn rerun_with_fewer_parties_drops_stale_party_files() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan");
    let run = |parties: &str| {
        fatelab(&tmp.path().join("state"))
            .args([
                "up",
                "--dry-run",
                "--ip",
                "192.168.100.123",
                "--parties",
                parties,
                "--plan-dir",
            ])
            .arg(&plan)
            .assert()
            .success();
    };
    run("1,2,3");
    assert!(plan.join("fate-3.yaml").exists());
    std::fs::write(plan.join("notes.txt"), "mine").unwrap();
    run("1,2");
    assert!(!plan.join("fate-3.yaml").exists());
    assert!(
        plan.join("notes.txt").exists(),
        "files fatelab did not write are kept"
    );
}

#[test]
fn a_v2_plan_shows_what_each_party_asks_for_against_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = tmp.path().join("plan");
    fatelab(&tmp.path().join("state"))
        .env("FATELAB_HOST_SIZE", "4,8Gi")
        .args(["up", "--dry-run", "--ip", "10.1.2.3", "--release", "v2.0.0", "--plan-dir"])
        .arg(&plan)
        .assert()
        .success()
        .stdout(
            contains("each party asks for 1 nodemanager × 1 CPU / 2 GiB")
                .and(contains("osx 0.1 CPU / 1.5 GiB (a 1 GiB heap) = 1.1 CPU / 3.5 GiB"))
                .and(contains(
                    "2 parties × 1.1 CPU / 3.5 GiB + Kubernetes and KubeFATE 1.35 CPU / 0.75 GiB = 3.55 CPU / 7.75 GiB, on a host of 4 CPU / 8 GiB (fits)",
                ))
                .and(contains("the chart as uploaded differs from the release's in templates/core/osx/deployment.yaml")),
        );
    // The rendered requests are the ones the arithmetic added up.
    let doc = support::read_yaml(&plan.join("fate-9999.yaml"));
    assert_eq!(
        doc["nodemanager"]["resources"]["requests"]["memory"],
        "2048Mi"
    );
    assert_eq!(doc["osx"]["resources"]["requests"]["memory"], "1536Mi");
}

#[test]
fn a_lab_too_big_for_the_host_is_refused_with_the_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    fatelab(&state)
        .env("FATELAB_HOST_SIZE", "4,8Gi")
        .args(["up", "--ip", "10.1.2.3", "--release", "v2.0.0"])
        .args(["--parties", "9999,10000,10001,10002", "--hosts-file"])
        .arg(tmp.path().join("hosts"))
        .assert()
        .code(1)
        .stderr(
            contains("preflight: the lab does not fit this host; nothing was changed")
                .and(contains("4 parties × "))
                .and(contains("on a host of 4 CPU / 8 GiB (does NOT fit)"))
                .and(contains("at most 2 parties fit this host")),
        );
    assert!(!state.exists(), "nothing was written");
    // The chart's own defaults do not fit the tutorial's host either; small does.
    fatelab(&state)
        .args([
            "up",
            "--dry-run",
            "--ip",
            "10.1.2.3",
            "--release",
            "v2.0.0",
            "--resources",
            "chart",
        ])
        .arg("--plan-dir")
        .arg(tmp.path().join("plan"))
        .assert()
        .code(1)
        .stderr(
            contains("2 nodemanager × 4 CPU / 4 GiB")
                .and(contains("`--resources small` fits this lab to the host")),
        );
}

/// `fatelab completions SHELL` prints a script the shell itself completes fatelab's commands and
/// flags with: bash and fish are asked to complete a partial line; zsh's script is checked by
/// zsh's parser (its completion system needs a live terminal).
#[test]
fn completions_complete_commands_and_flags_in_bash_zsh_and_fish() {
    let tmp = tempfile::tempdir().unwrap();
    let script = |shell: &str| {
        let out = fatelab(&tmp.path().join("state"))
            .args(["completions", shell])
            .assert()
            .success();
        let path = tmp.path().join(format!("fatelab.{shell}"));
        std::fs::write(&path, &out.get_output().stdout).unwrap();
        path
    };
    let shell = |program: &str, args: &[&str]| {
        let out = std::process::Command::new(support::services::program(program))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };

    let bash = script("bash");
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
             _fatelab fatelab {} {}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            bash.display(),
            line,
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        shell("bash", &["-c", &program])
    };
    let after_up = complete("fatelab up --kube");
    assert!(after_up.lines().any(|l| l == "--kubeconfig"), "{after_up}");
    let commands = complete("fatelab st");
    assert!(commands.lines().any(|l| l == "status"), "{commands}");
    let watch = complete("fatelab status --wa");
    assert!(watch.lines().any(|l| l == "--watch"), "{watch}");

    let fish = script("fish");
    let said = shell(
        "fish",
        &[
            "-c",
            &format!("source {}; complete -C 'fatelab up --kube'", fish.display()),
        ],
    );
    assert!(
        said.lines().any(|l| l.starts_with("--kubeconfig\t")),
        "{said}"
    );

    let zsh = script("zsh");
    assert!(
        std::fs::read_to_string(&zsh)
            .unwrap()
            .starts_with("#compdef fatelab")
    );
    shell("zsh", &["-n", zsh.to_str().unwrap()]);
}
