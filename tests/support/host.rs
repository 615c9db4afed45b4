//! A sandbox host for running the real `fatelab up` against fakes: a PATH holding only the fake
//! tools, a HOME, a state dir and a hosts file of its own.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde_json::Value;

use super::fake_kube::{FakeKube, deployment};

pub const HOSTS_BEFORE: &[u8] =
    b"127.0.0.1\tlocalhost\n# a comment the user wrote\n10.9.8.7 printer.lan";

/// A sandbox host: a PATH holding only the fake tools and the few system programs the fake
/// minikube script uses, a HOME, a state dir and a hosts file of its own.
pub struct Host {
    tmp: tempfile::TempDir,
    bin: PathBuf,
}

impl Host {
    pub fn new(minikube_version: Option<&str>) -> Host {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for tool in [
            "bash", "env", "sort", "id", "mkdir", "dirname", "cat", "rm", "touch", "head",
        ] {
            let real = which::which(tool)
                .unwrap_or_else(|_| panic!("{tool} is needed by the fake minikube"));
            std::os::unix::fs::symlink(real, bin.join(tool)).unwrap();
        }
        let host = Host { tmp, bin };
        if let Some(v) = minikube_version {
            host.install_minikube(v);
        }
        host.tool("iptables");
        host.tool("socat");
        std::fs::write(host.hosts(), HOSTS_BEFORE).unwrap();
        host
    }

    pub fn install_minikube(&self, version: &str) {
        let wrapper = format!(
            "#!{}\nexport FAKE_MINIKUBE_VERSION={version}\nexec {} {} \"$@\"\n",
            self.bin.join("bash").display(),
            self.bin.join("bash").display(),
            super::fake_minikube_script().display()
        );
        let path = self.bin.join("minikube");
        std::fs::write(&path, wrapper).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A host tool that only needs to exist (conntrack, crictl, ...).
    pub fn tool(&self, name: &str) {
        let path = self.bin.join(name);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }
    pub fn hosts(&self) -> PathBuf {
        self.path("etc-hosts")
    }
    pub fn state(&self) -> PathBuf {
        self.path("state")
    }
    pub fn argv_log(&self) -> String {
        std::fs::read_to_string(self.path("minikube.log")).unwrap_or_default()
    }
    pub fn record(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.state().join("lab.json")).unwrap()).unwrap()
    }
    pub fn mark_cluster_running(&self) {
        let dir = self.path("minikube-state");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("running"), "").unwrap();
    }

    pub fn fatelab(&self, kube: Option<&FakeKube>) -> assert_cmd::Command {
        let mut cmd = self.fatelab_process();
        if let Some(k) = kube {
            cmd.env("FAKE_MINIKUBE_APISERVER", k.url());
        }
        assert_cmd::Command::from_std(cmd)
    }

    /// The same as [`Host::fatelab`], as a process to start and stop (a command that runs
    /// until Ctrl-C); no desktop to open a browser on.
    pub fn fatelab_process(&self) -> std::process::Command {
        let mut cmd = super::fatelab_process(&self.state());
        cmd.current_dir(self.tmp.path())
            .env("PATH", &self.bin)
            .env("FATELAB_TOOL_PATH", &self.bin)
            .env("HOME", self.path("home"))
            .env_remove("SUDO_USER")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env("FAKE_MINIKUBE_LOG", self.path("minikube.log"))
            .env("FAKE_MINIKUBE_STATE", self.path("minikube-state"));
        cmd
    }

    pub fn up(&self, kube: &FakeKube, extra: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.fatelab(Some(kube));
        cmd.arg("up")
            .arg("--hosts-file")
            .arg(self.hosts())
            // Host facts this sandbox cannot control. Their thresholds are judged by the table
            // tests of src/checks/host.rs (memory, cpus, disk, cgroups, privileges, ports).
            .args([
                "--ignore-check",
                "cgroups,disk,memory,cpus,privileges,ports",
            ])
            .args(extra);
        if !extra.contains(&"--until") {
            cmd.args(["--until", "hosts"]);
        }
        cmd
    }
}

/// Runs a blocking command while the fake servers keep serving on the runtime's other thread.
pub async fn run(mut cmd: assert_cmd::Command) -> assert_cmd::assert::Assert {
    tokio::task::spawn_blocking(move || cmd.assert())
        .await
        .unwrap()
}

pub async fn kube_with_ingress(ns: &str, name: &str) -> FakeKube {
    let kube = FakeKube::start().await;
    kube.put(deployment(ns, name, true));
    kube
}

impl Host {
    /// Writes the record `up` would leave for a lab on `kube`, without running `up`: for
    /// commands that work on an existing lab (`test`, `status`, `down`).
    pub fn record_lab(&self, kube: &FakeKube, release: &str, parties: &[u32]) {
        let home = self.path("home");
        let kubeconfig = home.join(".kube/config");
        kube.write_kubeconfig(&kubeconfig);
        let ports: serde_json::Map<String, Value> = parties
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let i = i as u16;
                (id.to_string(), serde_json::json!({"rollsite": 30091 + 10 * i, "grpc": 30092 + 10 * i, "http": 30097 + 10 * i}))
            })
            .collect();
        // Each party's pods run, as a healthy lab's would.
        for id in parties {
            kube.put(super::fake_kubefate::party_pod(
                &format!("fate-{id}"),
                &format!("python-{id}"),
                &format!("fate-{id}"),
                "python",
                &["python", "client", "fateboard"],
                super::fake_kubefate::PodState::Running,
            ));
        }
        let record = serde_json::json!({
            "format": 2, "release": release, "parties": parties, "ip": "192.168.100.123", "domain": "", "registry": null,
            "ports": ports, "hosts_file": null,
            "minikube": {"path": self.bin.join("minikube"), "version": "v1.22.0", "kubernetes": "v1.21.2",
                         "homes": {"minikube_home": home.join(".minikube"), "kubeconfig": kubeconfig, "owner": null},
                         "started_by_fatelab": false, "downloaded_sha256": null},
            "objects": [], "namespaces": [], "clusters": {}, "last_test": null
        });
        std::fs::create_dir_all(self.state()).unwrap();
        std::fs::write(
            self.state().join("lab.json"),
            serde_json::to_vec_pretty(&record).unwrap(),
        )
        .unwrap();
    }
}
