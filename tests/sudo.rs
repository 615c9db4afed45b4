//! One home for the lab under sudo: `sudo fatelab up` keeps the record in the invoking user's
//! state dir, hands the files to that user, and `fatelab status` run as that user finds the
//! lab. Needs root (to make the user and to be "sudo"); without it the test says so and skips.

mod support;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use support::host::{Host, kube_with_ingress, run};

/// A user made for the test, removed afterwards.
struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

impl TestUser {
    fn create(home: &Path) -> TestUser {
        let name = format!("fl{}", std::process::id());
        let ok = std::process::Command::new("useradd")
            .args(["--no-create-home", "--shell", "/bin/sh", "--home-dir"])
            .arg(home)
            .arg(&name)
            .status()
            .expect("running useradd")
            .success();
        assert!(ok, "useradd {name} failed");
        std::fs::create_dir_all(home).unwrap();
        let id = |flag: &str| -> u32 {
            let out = std::process::Command::new("id")
                .args([flag, &name])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let (uid, gid) = (id("-u"), id("-g"));
        std::os::unix::fs::chown(home, Some(uid), Some(gid)).unwrap();
        TestUser {
            name,
            uid,
            gid,
            home: home.to_path_buf(),
        }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("userdel")
            .arg(&self.name)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sudo_up_then_status_as_the_user_find_the_same_lab() {
    // SAFETY: geteuid only reads the process's credentials.
    if !fatelab::host::facts::is_root() {
        eprintln!("skipped: this test needs root (it makes a user and plays sudo)");
        return;
    }
    let host = Host::new(Some("v1.22.0"));
    host.tool("conntrack");
    let kube = kube_with_ingress("ingress-nginx", "ingress-nginx-controller").await;
    // The sandbox must be reachable for the user, as a real host's /usr/bin is.
    std::fs::set_permissions(
        host.path(""),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let user = TestUser::create(&host.path("userhome"));

    let mut up = host.up(&kube, &["--until", "hosts"]);
    up.env_remove("FATELAB_STATE_DIR")
        .env("HOME", host.path("roothome"))
        .env("SUDO_USER", &user.name)
        .env("SUDO_UID", user.uid.to_string())
        .env("SUDO_GID", user.gid.to_string());
    run(up).await.success();

    let state = user.home.join(".local/state/fatelab");
    for file in [state.clone(), state.join("lab.json"), state.join("lock")] {
        let meta = std::fs::metadata(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(meta.uid(), user.uid, "{} is the user's", file.display());
    }
    assert!(
        !host.path("roothome/.local/state/fatelab").exists(),
        "nothing in root's home"
    );

    // The user, without sudo, sees the same lab.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fatelab"))
        .arg("status")
        .env_clear()
        .env("HOME", &user.home)
        .env("PATH", host.path("bin"))
        .env("FAKE_MINIKUBE_STATE", host.path("minikube-state"))
        .env("FAKE_MINIKUBE_APISERVER", kube.url())
        .uid(user.uid)
        .gid(user.gid)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(3), "status found no lab: {stdout}");
    assert!(stdout.contains("minikube   Running"), "{stdout}");

    // Without sudo, `up` says it needs root for the hosts file before changing anything.
    let hosts = host.path("root-hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let fresh = host.path("userhome/other-state");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fatelab"))
        .args(["up", "--ip", "192.168.100.123", "--hosts-file"])
        .arg(&hosts)
        .env_clear()
        .env("HOME", &user.home)
        .env("PATH", host.path("bin"))
        .env("FATELAB_STATE_DIR", &fresh)
        .uid(user.uid)
        .gid(user.gid)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("needs root; nothing was changed")
            && stderr.contains(&format!(
                "Run: sudo {} up --ip 192.168.100.123 --hosts-file",
                env!("CARGO_BIN_EXE_fatelab")
            )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&hosts).unwrap(),
        "127.0.0.1 localhost\n"
    );
    assert!(!fresh.exists(), "no state was written");
}
