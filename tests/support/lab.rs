//! A whole fake lab for `up`: a sandbox host with a fake minikube, the fake API server (with
//! controllers that make Deployments available), the fake KubeFATE service behind its service
//! proxy, a mirror serving the release files, and an image bundle for the real Docker Engine.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use super::fake_kube::{FakeKube, deployment};
use super::fake_kubefate::FakeKubeFate;
use super::host::Host;
use super::images as img;
use super::static_server::StaticServer;

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

/// A chart as KubeFATE takes it, with the lines fatelab's v2.0.0 chart edits expect (from
/// KF@v2.0.0 helm-charts/FATE: the osx command line and the osx section of values-template).
pub fn chart_tgz(chart_yaml: &str) -> Vec<u8> {
    tgz(&[
        ("fate/Chart.yaml", chart_yaml.as_bytes(), 0o644),
        (
            "fate/values-template.yaml",
            b"partyId: {{ .partyId }}\n  osx:\n    enableTLS: {{ .enableTLS | default false}}\n",
            0o644,
        ),
        (
            "fate/templates/core/osx/deployment.yaml",
            b"command: java -server -Xms4g -Xmx4g -cp lib\n",
            0o644,
        ),
    ])
}

/// The images a v1.6.0 lab pulls (mariadb and every party image), by name under a registry.
pub const V1_PULLED: [&str; 7] = [
    "mariadb:10",
    "eggroll:1.6.0-release",
    "python:1.6.0-release",
    "client:1.6.0-release",
    "fateboard:1.6.0-release",
    "mysql:8",
    "fluentd:v1.12",
];

/// What chart fate-serving v2.0.0 pulls besides (KF@v1.6.0 helm-charts/FATE-Serving: its
/// images `{registry}/serving-*:2.0.0-release`, redis `{registry}/redis:5` under a registry).
pub const SERVING_PULLED: [&str; 3] = [
    "serving-proxy:2.0.0-release",
    "serving-server:2.0.0-release",
    "redis:5",
];

/// The same for v2.0.0: the names its chart pulls under a prefix registry.
pub const V2_PULLED: [&str; 8] = [
    "mariadb:10",
    "federatedai/osx:2.0.0-release",
    "federatedai/eggroll:2.0.0-release",
    "federatedai/fateflow:2.0.0-release",
    "federatedai/client:2.0.0-release",
    "federatedai/fateboard:2.0.0-release",
    "mysql:8.0.28",
    // The chart puts the sidecar at {registry}/fluent-bit, not under fluent/.
    "fluent-bit:2.1.4",
];

fn under(registry: &str, names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("{registry}/{n}")).collect()
}

/// Every image a v1.6.0 party pulls (and mariadb), made locally under `registry` and saved into
/// one bundle. Returns the references and the bundle's path.
pub fn party_bundle(dir: &std::path::Path, registry: &str) -> (Vec<String>, PathBuf) {
    bundle_of(dir, under(registry, &V1_PULLED))
}

/// The same for a v2.0.0 party.
pub fn party_bundle_v2(dir: &std::path::Path, registry: &str) -> (Vec<String>, PathBuf) {
    bundle_of(dir, under(registry, &V2_PULLED))
}

fn bundle_of(dir: &std::path::Path, pulled: Vec<String>) -> (Vec<String>, PathBuf) {
    for r in &pulled {
        img::make_image(dir, r);
    }
    let bundle = dir.join("bundle.tar");
    let refs: Vec<&str> = pulled.iter().map(String::as_str).collect();
    img::save(&refs, &bundle);
    (pulled, bundle)
}

/// The KubeFATE service image archive of a service version, made once per test process (the
/// tag is shared by every test of the process).
fn service_archive(version: &str) -> PathBuf {
    static ARCHIVES: std::sync::Mutex<BTreeMap<String, PathBuf>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut made = ARCHIVES.lock().unwrap();
    made.entry(version.to_string())
        .or_insert_with(|| {
            let dir = std::env::temp_dir().join(format!(
                "fatelab-service-image-{}-{version}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let image = format!("federatedai/kubefate:{version}");
            img::make_image(&dir, &image);
            let path = dir.join(format!("kubefate-{version}.docker"));
            img::save(&[image.as_str()], &path);
            path
        })
        .clone()
}

pub struct Lab {
    pub host: Host,
    pub kube: FakeKube,
    pub kubefate: FakeKubeFate,
    pub mirror: StaticServer,
    pub registry: String,
    pub bundle: PathBuf,
    pub release: String,
    work: tempfile::TempDir,
    pulled: Vec<String>,
}

impl Lab {
    pub async fn start(name: &str) -> Lab {
        Lab::start_release(name, "v1.6.0").await
    }

    /// A lab of `release` (v1.6.0 on the tutorial's minikube v1.7.3, v2.0.0 on v1.22.0), its
    /// release files served as GitHub release assets (v2.0.0's chart among them).
    pub async fn start_release(name: &str, release: &str) -> Lab {
        Lab::start_with(name, release, &[]).await
    }

    /// A v1.6.0 lab whose bundle also holds FATE-Serving's images (`up --serving`).
    pub async fn start_serving(name: &str) -> Lab {
        Lab::start_with(name, "v1.6.0", &SERVING_PULLED).await
    }

    async fn start_with(name: &str, release: &str, extra: &[&str]) -> Lab {
        let v2 = release == "v2.0.0";
        let host = Host::new(Some(if v2 { "v1.22.0" } else { "v1.7.3" }));
        if v2 {
            host.tool("conntrack");
        }
        let work = tempfile::tempdir().unwrap();
        let registry = format!("127.0.0.1:9/fatelab-{name}-{}", std::process::id());
        let (pulled, bundle) = if v2 {
            party_bundle_v2(work.path(), &registry)
        } else if extra.is_empty() {
            party_bundle(work.path(), &registry)
        } else {
            let names: Vec<&str> = V1_PULLED.iter().chain(extra).copied().collect();
            bundle_of(work.path(), under(&registry, &names))
        };
        let downloads = format!("/FederatedAI/KubeFATE/releases/download/{release}");
        let service = if v2 { "v1.4.5" } else { "v1.4.1" };

        let kubefate_cli = format!("#!/bin/sh\necho 'kubefate commandLine version={service}'\n");
        // The release's own manifests (marked, so tests can tell them from fatelab's copy).
        let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/releases")
            .join(release);
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
            ("kubefate", kubefate_cli.as_bytes(), 0o755),
            ("rbac-config.yaml", &rbac, 0o644),
            ("kubefate.yaml", kubefate_yaml.as_bytes(), 0o644),
            ("cluster.yaml", b"name: fate-9999\n", 0o644),
            ("config.yaml", b"serviceurl: kubefate.net\n", 0o644),
        ]);
        let chart_yaml = format!("apiVersion: v1\nname: fate\nversion: {release}\n");
        let chart = chart_tgz(&chart_yaml);
        // v1.6.0's chart is in KubeFATE's chart repository; v2.0.0's only a release asset.
        let chart_path = if v2 {
            format!("{downloads}/fate-{release}.tgz")
        } else {
            format!("/charts/package/fate-{release}.tgz")
        };
        let mirror = StaticServer::start(BTreeMap::from([
            (
                format!("{downloads}/kubefate-k8s-{release}.tar.gz"),
                package,
            ),
            (
                format!("{downloads}/kubefate-{service}.docker"),
                std::fs::read(service_archive(service)).unwrap(),
            ),
            (chart_path, chart),
        ]))
        .await;

        let kube = FakeKube::start().await;
        if v2 {
            kube.put(deployment(
                "ingress-nginx",
                "ingress-nginx-controller",
                true,
            ));
        } else {
            kube.put(deployment("kube-system", "nginx-ingress-controller", true));
        }
        kube.run_deployments(true);
        let kubefate = FakeKubeFate::start(&kube).await;
        kubefate.set_version(service);
        Lab {
            host,
            kube,
            kubefate,
            mirror,
            registry,
            bundle,
            release: release.to_string(),
            work,
            pulled,
        }
    }

    /// `fatelab up` for this lab, answering yes, with `extra` flags (e.g. `--parties`).
    pub fn up(&self, extra: &[&str]) -> assert_cmd::Command {
        self.up_from(&self.registry, true, true, extra)
    }

    /// The same, pulling from `registry` what Docker lacks instead of loading the bundle.
    pub fn up_pulling(&self, registry: &str, extra: &[&str]) -> assert_cmd::Command {
        self.up_from(registry, false, true, extra)
    }

    /// `up` without `--yes`: a question is put to the user (or refused without a terminal).
    pub fn up_asking(&self, extra: &[&str]) -> assert_cmd::Command {
        self.up_from(&self.registry, false, false, extra)
    }

    fn up_from(
        &self,
        registry: &str,
        bundle_too: bool,
        yes: bool,
        extra: &[&str],
    ) -> assert_cmd::Command {
        let bundle = self.bundle.to_str().unwrap();
        // Every step unless the test says where to stop (the sandbox host stops after hosts).
        let until: &[&str] = if extra.contains(&"--until") {
            &[]
        } else {
            &["--until", "test"]
        };
        // A short settle window: the fake kubelet crashes a container at once or never.
        let mut base = vec!["--registry", registry, "--settle", "500ms"];
        if yes {
            base.push("--yes");
        }
        if bundle_too {
            base.extend(["--images", bundle]);
        }
        if self.release == "v2.0.0" {
            base.extend([
                "--release",
                "v2.0.0",
                "--minikube-version",
                "v1.22.0",
                "--kubernetes-version",
                "v1.21.2",
            ]);
        }
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

    /// `fatelab up` for parties on existing clusters (`extra` names them): the lab's mirror and
    /// registry, answering yes, no image bundle and no hosts file (none is written unless asked).
    pub fn up_existing(&self, state: &std::path::Path, extra: &[&str]) -> assert_cmd::Command {
        let mut cmd = self.host.fatelab(None);
        cmd.env("FATELAB_STATE_DIR", state)
            .env("FATELAB_GITHUB_MIRROR", &self.mirror.url)
            .env("FATELAB_CHART_REPO", format!("{}/charts", self.mirror.url))
            .args([
                "up",
                "--yes",
                "--registry",
                &self.registry,
                "--settle",
                "500ms",
            ])
            .args(extra);
        cmd
    }

    /// A chart directory as the user has one (KubeFATE's helm-charts/FATE shape), for `--chart`.
    pub fn chart_dir(&self, version: &str) -> PathBuf {
        let dir = self.host.path("FATE");
        let archive = chart_tgz(&format!("apiVersion: v1\nname: fate\nversion: {version}\n"));
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive.as_slice()));
        for e in tar.entries().unwrap() {
            let mut e = e.unwrap();
            let rel = e
                .path()
                .unwrap()
                .strip_prefix("fate")
                .unwrap()
                .to_path_buf();
            let to = dir.join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            e.unpack(&to).unwrap();
        }
        dir
    }

    pub fn hosts_file(&self) -> PathBuf {
        self.host.hosts()
    }
}

/// An existing cluster as a team has one: its own fake API server with a Ready node at `ip` and
/// an IngressClass (Deployments made available by its controllers), and its own KubeFATE.
pub async fn existing_cluster(node: &str, ip: &str, service: &str) -> (FakeKube, FakeKubeFate) {
    let kube = FakeKube::start().await;
    kube.put(super::fake_kube::node(node, ip, true));
    kube.put(super::fake_kube::ingress_class("nginx", true));
    kube.run_deployments(true);
    let kubefate = FakeKubeFate::start(&kube).await;
    kubefate.set_version(service);
    (kube, kubefate)
}

impl Drop for Lab {
    fn drop(&mut self) {
        let refs: Vec<&str> = self.pulled.iter().map(String::as_str).collect();
        img::remove(&refs);
    }
}
