//! The TCP check of a peer (`--peer ID=HOST:PORT`), for real: fatelab runs in one network
//! namespace, a listener in another, joined by a veth pair whose addresses exist only inside the
//! two namespaces. Skipped, saying so, only where the test cannot make namespaces (not root).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Two namespaces joined by a veth pair, removed (with the pair) when dropped.
struct Pair {
    ours: String,
    theirs: String,
}

impl Pair {
    const OUR_IP: &str = "10.231.7.1";
    const THEIR_IP: &str = "10.231.7.2";

    fn make() -> Result<Pair, String> {
        let id = std::process::id();
        let pair = Pair {
            ours: format!("fl-ours-{id}"),
            theirs: format!("fl-peer-{id}"),
        };
        ip(&["netns", "add", &pair.ours])?;
        ip(&["netns", "add", &pair.theirs])?;
        // Interface names are at most 15 characters.
        let (a, b) = (format!("flo{id}"), format!("flp{id}"));
        ip(&[
            "link",
            "add",
            &a,
            "netns",
            &pair.ours,
            "type",
            "veth",
            "peer",
            "name",
            &b,
            "netns",
            &pair.theirs,
        ])?;
        for (ns, dev, addr) in [
            (&pair.ours, &a, Self::OUR_IP),
            (&pair.theirs, &b, Self::THEIR_IP),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/30"), "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(pair)
    }

    /// A TCP listener on the peer's side; returns once it listens (it says so on stdout).
    fn listen(&self, port: u16) -> Child {
        let script = format!(
            "import socket\ns = socket.socket()\ns.bind(('{}', {port}))\ns.listen(8)\nprint('listening', flush=True)\n\
             while True:\n    c, _ = s.accept()\n    c.close()\n",
            Self::THEIR_IP
        );
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.theirs, "python3", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the listener");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "listening");
        child
    }

    /// `fatelab doctor` on our side with a peer at `port`: its `peer` check.
    fn peer_check(&self, port: u16) -> Value {
        let state = tempfile::tempdir().unwrap();
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ours, env!("CARGO_BIN_EXE_fatelab")])
            .args([
                "doctor",
                "--output",
                "json",
                "--ip",
                Self::OUR_IP,
                "--party",
                "9999",
            ])
            .arg("--peer")
            .arg(format!("10000={}:{port}", Self::THEIR_IP))
            .env("FATELAB_STATE_DIR", state.path())
            .env_remove("KUBECONFIG")
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "doctor printed no report ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "peer")
            .cloned()
            .expect("doctor reports the peer")
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // Deleting a namespace takes its end of the veth pair, and so the pair, along.
        let _ = ip(&["netns", "del", &self.ours]);
        let _ = ip(&["netns", "del", &self.theirs]);
    }
}

#[test]
fn a_peer_that_listens_is_reachable_and_a_closed_port_is_not() {
    // SAFETY: geteuid only reads the process's credentials.
    if !fatelab::host::facts::is_root() {
        eprintln!("skipped: making network namespaces needs root, and this test runs as a user");
        return;
    }
    let pair = match Pair::make() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: this test cannot make network namespaces here ({e})");
            return;
        }
    };
    let mut listener = pair.listen(30101);

    let open = pair.peer_check(30101);
    assert_eq!(open["status"], "pass", "{open}");
    assert!(
        open["detail"]
            .as_str()
            .unwrap()
            .contains("party 10000 answers at 10.231.7.2:30101"),
        "{open}"
    );

    let closed = pair.peer_check(30102);
    assert_eq!(closed["status"], "warn", "{closed}");
    let detail = closed["detail"].as_str().unwrap();
    assert!(
        detail.contains("does not answer at 10.231.7.2:30102") && detail.contains("refused"),
        "{closed}"
    );
    assert!(
        closed["fix"]
            .as_str()
            .unwrap()
            .contains("may still work from inside the cluster")
    );
    let _ = listener.kill();
    let _ = listener.wait();
}
