//! `up --local` for real: FATE Flow 2.2 from PyPI per party, a RabbitMQ node per party (Debian's
//! rabbitmq-server) federating through its plugin, nginx between the servers; the toy job and
//! the hetero LR cross between the parties; status, a no-op second `up`, faults (a broker or a
//! FATE Flow killed, `up` itself killed), a third party, and `down` leaving nothing behind.
//!
//! Needs what `scripts/test` installs (rabbitmq-server, nginx-light, python3 with venv) and FATE's
//! packages in the cache it keeps between runs ($HOME/.cache/fatelab-test/fatelab, about 6 GB;
//! `up` installs them the first time, from PyPI).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The lab's ports: its own two, then ten per party (`model::local::PortScheme`).
const BASE: u16 = 29700;

fn fatelab(state: &Path) -> Command {
    let mut cmd = support::fatelab_process(state);
    cmd.env("FATELAB_CACHE_DIR", support::fate_cache())
        .env_remove("FATELAB_RABBITMQ_DIR")
        .stdin(Stdio::null());
    cmd
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Ran {
    let out = cmd.output().expect("running fatelab");
    let r = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!("{}", r.stderr);
    r
}

fn up(state: &Path, extra: &[&str]) -> Ran {
    let mut cmd = fatelab(state);
    cmd.args(["up", "--local", "--port-base", &BASE.to_string(), "--yes"])
        .args(extra);
    run(cmd)
}

fn status(state: &Path) -> (i32, Value) {
    let mut cmd = fatelab(state);
    cmd.args(["status", "--output", "json"]);
    let r = run(cmd);
    let v = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    (r.code, v)
}

fn record(state: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(state.join("lab.json")).unwrap()).unwrap()
}

fn pid_of(state: &Path, key: &str) -> i32 {
    record(state)["local"]["processes"][key]["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no {key} on record")) as i32
}

fn kill9(pid: i32) {
    assert!(
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// Every port of a lab of `parties` parties from BASE: none accepts a connection.
fn nothing_listens(parties: u16) {
    for port in BASE..BASE + 10 * (parties + 1) {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "something still listens on 127.0.0.1:{port}"
        );
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// A FATE Flow's own answer for one job's rows of one role (GET on its HTTP port).
fn job_rows(port: u16, job: &str, role: &str, party: u32) -> Value {
    let out = Command::new("curl")
        .args([
            "-sf",
            &format!(
                "http://127.0.0.1:{port}/v2/job/query?job_id={job}&role={role}&party_id={party}"
            ),
        ])
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn bad_input_changes_nothing(state: &Path) {
    // A Kubernetes flag with --local: refused by the command line, nothing done.
    let mut cmd = fatelab(state);
    cmd.args(["up", "--local", "--ip", "192.168.1.5"]);
    assert_eq!(run(cmd).code, 2);

    // The plan: every step said, nothing made.
    let plan = tempfile::tempdir().unwrap();
    let mut cmd = fatelab(state);
    cmd.args(["up", "--local", "--dry-run", "--plan-dir"])
        .arg(plan.path().join("plan"));
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for step in [
        "[preflight]",
        "[packages]",
        "[brokers]",
        "[proxy]",
        "[parties]",
        "[test]",
    ] {
        assert!(r.stdout.contains(step), "{step}: {}", r.stdout);
    }
    assert!(plan.path().join("plan/nginx.conf").is_file());
    assert!(!state.join("local").exists() && !state.join("lab.json").exists());

    // RabbitMQ missing: the fix, exit 1, nothing started.
    let mut cmd = fatelab(state);
    cmd.args(["up", "--local", "--port-base", &BASE.to_string()])
        .env("FATELAB_RABBITMQ_DIR", "/nonexistent/rabbitmq");
    let r = run(cmd);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("apt-get install -y --no-install-recommends rabbitmq-server"),
        "{}",
        r.stderr
    );
    assert!(!state.join("local").exists(), "nothing may be made");

    // The package index is the one given: a cache without FATE's packages, an index on a port
    // where nothing listens, and pip's error comes back naming the way out (nothing leaves
    // loopback).
    let cache = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let index = format!("http://{}/simple", closed.local_addr().unwrap());
    drop(closed);
    let mut cmd = fatelab(state);
    cmd.args([
        "up",
        "--local",
        "--port-base",
        &BASE.to_string(),
        "--until",
        "packages",
    ])
    .args(["--pypi-index", &index])
    .env("FATELAB_CACHE_DIR", cache.path())
    .env("PIP_RETRIES", "0")
    .env("PIP_TIMEOUT", "2");
    let r = run(cmd);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("pip could not install") && r.stderr.contains("--pypi-index"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(state.join("local"));
    let _ = std::fs::remove_file(state.join("lab.json"));

    // A port in use by another program: named, nothing started.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", BASE + 10)).unwrap();
    let mut cmd = fatelab(state);
    cmd.args(["up", "--local", "--port-base", &BASE.to_string()]);
    let r = run(cmd);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let me = std::process::id().to_string();
    assert!(
        r.stderr.contains(&format!("{} by ", BASE + 10)) && r.stderr.contains(&me),
        "the port and the program holding it (pid {me}): {}",
        r.stderr
    );
    drop(squatter);
    assert!(!state.join("local").exists(), "nothing may be made");
    nothing_listens(2);
}

/// Takes the lab down when the test ends, also when it fails: no process of it outlives the test.
struct Cleanup<'a>(&'a Path);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if self.0.join("lab.json").exists() {
            let mut cmd = fatelab(self.0);
            cmd.args(["down", "--yes"]);
            let _ = cmd.output();
        }
    }
}

#[test]
fn a_local_lab_federates_for_real_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path();
    let _cleanup = Cleanup(state);
    bad_input_changes_nothing(state);

    // Up, with the toy job between the two.
    let r = up(state, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("toy job guest 9999 / host 10000"),
        "{}",
        r.stderr
    );
    let (code, v) = status(state);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["local"]["healthy"], true, "{v}");
    assert_eq!(v["as_declared"], true, "{v}");

    // The hetero LR: tables to their own parties' servers, gradients across the brokers.
    let mut cmd = fatelab(state);
    cmd.args([
        "test",
        "--job",
        "lr",
        "--output",
        "json",
        "--timeout",
        "15m",
    ]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let auc = v
        .pointer("/jobs/0/metrics/auc")
        .and_then(Value::as_f64)
        .unwrap();
    assert!(auc >= 0.99, "AUC {auc}: {v}");
    let job = v.pointer("/jobs/0/job_id").and_then(Value::as_str).unwrap();
    let (guest_port, host_port) = (BASE + 10, BASE + 20);
    for role in ["host", "arbiter"] {
        assert_eq!(
            job_rows(host_port, job, role, 10000)["code"],
            0,
            "{role} on 10000's server"
        );
        assert_ne!(
            job_rows(guest_port, job, role, 10000)["code"],
            0,
            "the {role} row exists only on 10000's own server"
        );
    }
    assert_eq!(job_rows(guest_port, job, "guest", 9999)["code"], 0);
    assert_ne!(job_rows(host_port, job, "guest", 9999)["code"], 0);

    // The probe from the host: every route as declared, every broker answering and accepting.
    let mut cmd = fatelab(state);
    cmd.arg("probe");
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("Every crossing works"), "{}", r.stdout);

    // The bundle: each process's output and the confs, without the broker password in them.
    let bundle = state.join("report.tar.gz");
    let mut cmd = fatelab(state);
    cmd.args(["logs", "-o"]).arg(&bundle);
    assert_eq!(run(cmd).code, 0);
    let password = std::fs::read_to_string(state.join("local/broker-password")).unwrap();
    let mut names = Vec::new();
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(&bundle).unwrap());
    for entry in tar::Archive::new(gz).entries().unwrap() {
        let mut e = entry.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut e, &mut text);
        assert!(
            !text.contains(password.trim()),
            "{name} holds the broker password"
        );
        names.push(name);
    }
    for part in [
        "/local/broker-10000.log",
        "/local/fateflow-9999.log",
        "/local/conf/broker-9999/rabbitmq.conf",
        "/local/conf/fateflow-10000/service_conf.yaml",
        "/INDEX.md",
    ] {
        assert!(
            names.iter().any(|n| n.ends_with(part)),
            "{part} not in {names:?}"
        );
    }

    // A second `up` changes nothing, the toy job included (proven already).
    let r = up(state, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("nothing to do").count(),
        6,
        "every step unchanged: {}",
        r.stderr
    );

    // A broker and a FATE Flow killed: status names each, `up` starts them again.
    kill9(pid_of(state, "broker-10000"));
    kill9(pid_of(state, "fateflow-9999"));
    let (code, v) = status(state);
    assert_eq!(code, 1, "{v}");
    let text = v.to_string();
    assert!(text.contains("party 10000's RabbitMQ node (pid"), "{v}");
    assert!(text.contains("party 9999's FATE Flow (pid"), "{v}");
    let mut cmd = fatelab(state);
    cmd.arg("probe");
    let r = run(cmd);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("9999 → 10000: party 10000's RabbitMQ node (pid"),
        "{}",
        r.stdout
    );
    let r = up(state, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("✓ [3/6] Start each party's RabbitMQ node")
            && r.stderr.contains("✓ [5/6] Start each party's FATE Flow")
            && r.stderr.contains("• [4/6] Start the nginx"),
        "the broker and the server started again, nginx untouched: {}",
        r.stderr
    );
    assert_eq!(status(state).0, 0);

    // A third party: its broker and server join, nginx and every route table learn it, and
    // every pair's toy job passes.
    let r = up(state, &["--parties", "9999,10000,10001"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("guest 9999 / host 10001"), "{}", r.stderr);
    let mut cmd = fatelab(state);
    cmd.args(["test", "--guest", "10000", "--host", "10001"]);
    assert_eq!(run(cmd).code, 0);

    // `up` killed at its worst moment: nginx started, not recorded (an nginx in front of the
    // real one kills the `up` that starts it, once). The next `up` stops what it left and
    // takes over; nothing outlives `down`.
    down_leaves_nothing(state, 3);
    let tools = tempfile::tempdir().unwrap();
    let mark = tools.path().join("killed");
    let real = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx (scripts/test installs nginx-light)");
    let wrapper = tools.path().join("nginx");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n[ -e {m} ] || {{ : > {m}; kill -9 \"$PPID\"; }}\nexec {real} \"$@\"\n",
            m = mark.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut cmd = fatelab(state);
    cmd.env(
        "FATELAB_TOOL_PATH",
        format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            tools.path().display()
        ),
    );
    cmd.args(["up", "--local", "--port-base", &BASE.to_string(), "--yes"]);
    let r = run(cmd);
    assert_eq!(r.code, -1, "killed by the nginx in front: {}", r.stderr);
    assert!(mark.exists());
    let left = std::fs::read_to_string(state.join("local/proxy/fatelab.pid"))
        .expect("the nginx wrote its pid")
        .trim()
        .parse::<i32>()
        .unwrap();
    assert!(alive(left), "the nginx runs");
    // The killed `up` had recorded it a moment before the kill; take it out of the record: what
    // a kill between the start and the record leaves (that window is too short to hit from
    // outside on purpose).
    let mut rec = record(state);
    assert_eq!(rec["local"]["processes"]["proxy"]["pid"], left);
    rec["local"]["processes"]
        .as_object_mut()
        .unwrap()
        .remove("proxy");
    std::fs::write(state.join("lab.json"), rec.to_string()).unwrap();
    let r = up(state, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("toy job guest 9999 / host 10000"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("which an interrupted fatelab run started and did not record"),
        "{}",
        r.stderr
    );
    assert!(!alive(left), "the nginx the killed run left was stopped");
    assert_ne!(pid_of(state, "proxy"), left);

    down_leaves_nothing(state, 2);
}

/// `down` of a lab of `parties` parties: no process of it left, no port bound, no file.
fn down_leaves_nothing(state: &Path, parties: u16) {
    let pids: Vec<i32> = record(state)["local"]["processes"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p["pid"].as_i64().unwrap() as i32)
        .collect();
    assert_eq!(pids.len(), 2 + 2 * usize::from(parties), "{pids:?}");
    let mut cmd = fatelab(state);
    cmd.args(["down", "--yes"]);
    assert_eq!(run(cmd).code, 0);
    assert!(
        pids.iter().all(|&p| !alive(p)),
        "a process of the lab is left"
    );
    nothing_listens(3);
    assert!(!state.join("local").exists());
    assert!(!state.join("lab.json").exists());
}
