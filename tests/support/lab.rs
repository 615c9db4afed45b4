//! A whole fake lab for `up`: a sandbox host with a fake minikube, the fake API server (with
//! controllers that make Deployments available), the fake KubeFATE service behind its service
//! proxy, a mirror serving the release files, and an image bundle for the real Docker Engine.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use super::fake_kube::{FakeKube, deployment};
use super::fake_kubefate::FakeKubeFate;
use super::host::Host;
use super::images as img;
use super::static_server::StaticServer;

pub const DOWNLOADS: &str = "/FederatedAI/KubeFATE/releases/download/v1.6.0";
const SERVICE_IMAGE: &str = "federatedai/kubefate:v1.4.1";

/// A gzip'd tar with the given files, as the release's packages and charts are.
pub fn tgz(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (name, data, mode) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }
    out
}

/// Every image a v1.6.0 party pulls (and mariadb), made locally under `registry` and saved into
/// one bundle. Returns the references and the bundle's path.
pub fn party_bundle(dir: &std::path::Path, registry: &str) -> (Vec<String>, PathBuf) {
    let pulled: Vec<String> = [
        "mariadb:10",
        "eggroll:1.6.0-release",
        "python:1.6.0-release",
        "client:1.6.0-release",
        "fateboard:1.6.0-release",
        "mysql:8",
        "fluentd:v1.12",
    ]
    .iter()
    .map(|n| format!("{registry}/{n}"))
    .collect();
    for r in &pulled {
        img::make_image(dir, r);
    }
    let bundle = dir.join("bundle.tar");
    let refs: Vec<&str> = pulled.iter().map(String::as_str).collect();
    img::save(&refs, &bundle);
    (pulled, bundle)
}

/// The KubeFATE service image archive, made once per test process (the tag is shared).
fn service_archive() -> &'static PathBuf {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("fatelab-service-image-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        img::make_image(&dir, SERVICE_IMAGE);
        let path = dir.join("kubefate-v1.4.1.docker");
        img::save(&[SERVICE_IMAGE], &path);
        path
    })
}

pub struct Lab {
    pub host: Host,
    pub kube: FakeKube,
    pub kubefate: FakeKubeFate,
    pub mirror: StaticServer,
    pub registry: String,
    pub bundle: PathBuf,
    work: tempfile::TempDir,
    pulled: Vec<String>,
}

impl Lab {
    pub async fn start(name: &str) -> Lab {
        let host = Host::new(Some("v1.7.3"));
        let work = tempfile::tempdir().unwrap();
        let registry = format!("127.0.0.1:9/fatelab-{name}-{}", std::process::id());
        let (pulled, bundle) = party_bundle(work.path(), &registry);

        let kubefate_cli = b"#!/bin/sh\necho 'kubefate commandLine version=v1.4.1'\n";
        // The release's own manifests (marked, so tests can tell them from fatelab's copy).
        let assets =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/releases/v1.6.0");
        let rbac = std::fs::read(assets.join("rbac-config.yaml")).unwrap();
        let kubefate_yaml = String::from_utf8(std::fs::read(assets.join("kubefate.yaml")).unwrap())
            .unwrap()
            .replacen(
                "    fate: kubefate
spec:",
                "    fate: kubefate
    shipped-in: package
spec:",
                1,
            );
        let package = tgz(&[
            ("kubefate", kubefate_cli, 0o755),
            ("rbac-config.yaml", &rbac, 0o644),
            ("kubefate.yaml", kubefate_yaml.as_bytes(), 0o644),
            ("cluster.yaml", b"name: fate-9999\n", 0o644),
            ("config.yaml", b"serviceurl: kubefate.net\n", 0o644),
        ]);
        let chart = tgz(&[
            (
                "fate/Chart.yaml",
                b"apiVersion: v1\nname: fate\nversion: v1.6.0\n",
                0o644,
            ),
            (
                "fate/values-template.yaml",
                b"partyId: {{ .partyId }}\n",
                0o644,
            ),
        ]);
        let mirror = StaticServer::start(BTreeMap::from([
            (format!("{DOWNLOADS}/kubefate-k8s-v1.6.0.tar.gz"), package),
            (
                format!("{DOWNLOADS}/kubefate-v1.4.1.docker"),
                std::fs::read(service_archive()).unwrap(),
            ),
            ("/charts/package/fate-v1.6.0.tgz".to_string(), chart),
        ]))
        .await;

        let kube = FakeKube::start().await;
        kube.put(deployment("kube-system", "nginx-ingress-controller", true));
        kube.run_deployments(true);
        let kubefate = FakeKubeFate::start(&kube).await;
        Lab {
            host,
            kube,
            kubefate,
            mirror,
            registry,
            bundle,
            work,
            pulled,
        }
    }

    /// `fatelab up` for this lab, answering yes, with `extra` flags (e.g. `--parties`).
    pub fn up(&self, extra: &[&str]) -> assert_cmd::Command {
        let bundle = self.bundle.to_str().unwrap();
        // Every step unless the test says where to stop (the sandbox host stops after hosts).
        let until: &[&str] = if extra.contains(&"--until") {
            &[]
        } else {
            &["--until", "test"]
        };
        // A short settle window: the fake kubelet crashes a container at once or never.
        let base = [
            "--yes",
            "--registry",
            &self.registry,
            "--images",
            bundle,
            "--settle",
            "500ms",
        ];
        let mut cmd = self
            .host
            .up(&self.kube, &[&base[..], extra, until].concat());
        cmd.env("FATELAB_GITHUB_MIRROR", &self.mirror.url)
            .env("FATELAB_CHART_REPO", format!("{}/charts", self.mirror.url));
        cmd
    }

    pub fn state(&self) -> PathBuf {
        self.host.state()
    }

    pub fn hosts_file(&self) -> PathBuf {
        self.host.hosts()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let refs: Vec<&str> = self.pulled.iter().map(String::as_str).collect();
        img::remove(&refs);
    }
}
