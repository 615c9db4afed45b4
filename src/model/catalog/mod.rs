//! What each KubeFATE release needs, loaded from the embedded `assets/catalog.yaml`.
//!
//! The catalog is data so that adding a release is an edit to YAML, not to code; the
//! manifests and the cluster.yaml base of each release live beside it in `assets/releases/`.

use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub mod version;

pub use version::{Minor, Tag};

const CATALOG_YAML: &str = include_str!("../../../assets/catalog.yaml");

/// The release `up` uses when neither a flag nor a scenario names one: the tutorial's.
pub const DEFAULT_RELEASE: &str = "v1.6.0";

#[derive(Debug, Deserialize)]
struct CatalogFile {
    releases: Vec<Release>,
    minikube: Vec<MinikubeRow>,
}

/// What one minikube release starts by default and the oldest Kubernetes it accepts.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MinikubeRow {
    pub version: Tag,
    pub default_kubernetes: Tag,
    pub oldest_kubernetes: Tag,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Release {
    pub release: String,
    pub summary: String,
    /// Free disk (GB) the release's images need in Docker's data-root.
    pub disk_gb: u64,
    pub kubefate_service: String,
    pub chart: Chart,
    pub image_tag: String,
    pub fate_flow_api: crate::clients::fateflow::Api,
    pub cluster_schema: ClusterSchema,
    pub kubernetes: KubernetesRange,
    pub recommended: Pins,
    pub tutorial: Option<Pins>,
    pub ingress: IngressFacts,
    pub domain: String,
    pub hosts: HostPatterns,
    pub registry_style: RegistryStyle,
    pub federation_module: String,
    pub modules: Vec<String>,
    pub artifacts: Vec<Artifact>,
    pub service_images: Vec<Image>,
    pub party_images: Vec<Image>,
    pub serving: Serving,
}

/// Whether the release can serve models online beside each party, and with what.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Serving {
    /// A FATE-Serving chart KubeFATE installs per party.
    Chart {
        chart: Chart,
        modules: Vec<String>,
        images: Vec<Image>,
    },
    /// Why this release has no online serving, and what it offers instead.
    Refused { refused: String },
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Chart {
    pub name: String,
    pub version: String,
    /// False when KubeFATE's own chart repository lacks it (fate v2.x): then fatelab uploads it
    /// (`POST /v1/chart`) before the installs, and the chart file is required.
    #[serde(default = "yes")]
    pub in_kubefate_index: bool,
    /// Every way the chart fatelab uploads differs from the release's: each a text replacement
    /// that must match exactly once.
    #[serde(default)]
    pub edits: Vec<ChartEdit>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChartEdit {
    /// The file's path inside the chart (below `<name>/`).
    pub file: String,
    pub find: String,
    pub replace: String,
    pub why: String,
}

fn yes() -> bool {
    true
}

/// Which cluster.yaml dialect the release's chart reads (keys differ between chart 1.x and 2.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterSchema {
    V1,
    V2,
}

/// Inclusive range of Kubernetes minor versions ("1.21"); `max: None` means no known upper bound.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct KubernetesRange {
    pub min: Minor,
    pub max: Option<Minor>,
}

impl KubernetesRange {
    pub fn describe(&self) -> String {
        match &self.max {
            Some(max) => format!("Kubernetes {} to {}", self.min, max),
            None => format!("Kubernetes {} or newer", self.min),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Pins {
    pub minikube: Tag,
    pub kubernetes: Tag,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IngressFacts {
    pub api_version: String,
    pub class: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct HostPatterns {
    pub service: String,
    pub notebook: String,
    pub fateboard: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegistryStyle {
    /// `REG/eggroll:tag`: the registry stands in for `federatedai/` (and for Docker Hub's library).
    ReplaceNamespace,
    /// `REG/federatedai/osx:tag`: the registry is put in front of the full image name.
    Prefix,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Artifact {
    pub name: String,
    pub file: String,
    pub url: String,
    pub sha256: Option<String>,
    /// Other names the release may publish the same file under (the Makefile's `-amd64` ones),
    /// tried in order after `file`, beside it.
    #[serde(default)]
    pub alternatives: Vec<String>,
    /// Other places the same file is published at, tried in order after `url`.
    #[serde(default)]
    pub mirrors: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Image {
    pub repository: String,
    pub tag: String,
    pub mirror_name: String,
    #[serde(default)]
    pub source: ImageSource,
    pub used_by: Vec<String>,
    /// Where the chart puts it under a registry, when not where the release's style would
    /// (v2's fluent-bit sidecar: `{registry}/fluent-bit:2.1.4`).
    #[serde(default)]
    pub registry_path: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageSource {
    /// Pulled from a registry (Docker Hub or `--registry`).
    #[default]
    Registry,
    /// Shipped as a file in the release (the KubeFATE service image): loaded, never pulled.
    Artifact,
}

impl Image {
    /// The reference Docker and the pods use, given the lab's registry prefix.
    pub fn reference(&self, registry: Option<&str>, style: RegistryStyle) -> String {
        match (registry, self.source) {
            (Some(reg), ImageSource::Registry) if self.registry_path.is_some() => {
                format!(
                    "{reg}/{}:{}",
                    self.registry_path.as_deref().unwrap_or_default(),
                    self.tag
                )
            }
            (Some(reg), ImageSource::Registry) => match style {
                RegistryStyle::ReplaceNamespace => {
                    format!("{reg}/{}:{}", self.mirror_name, self.tag)
                }
                RegistryStyle::Prefix => format!("{reg}/{}:{}", self.repository, self.tag),
            },
            _ => format!("{}:{}", self.repository, self.tag),
        }
    }
}

/// Where the release's artifacts are fetched from; both bases can point at a mirror or a test server.
#[derive(Debug, Clone, Serialize)]
pub struct UrlBases {
    pub github: String,
    pub chart_repo: String,
}

impl Artifact {
    pub fn url(&self, bases: &UrlBases) -> String {
        expand(&self.url, bases)
    }

    /// Every place the file may be, in order: each source (`url`, then the mirrors) under each
    /// name (`file`, then the alternatives), with the flag that moves that source.
    pub fn candidates(&self, bases: &UrlBases) -> Vec<Candidate> {
        let mut all = Vec::new();
        for template in std::iter::once(&self.url).chain(&self.mirrors) {
            let url = expand(template, bases);
            let dir = url.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            let flag = source_flag(template);
            all.push(Candidate {
                name: self.file.clone(),
                url,
                flag,
            });
            for name in &self.alternatives {
                all.push(Candidate {
                    name: name.clone(),
                    url: format!("{dir}/{name}"),
                    flag,
                });
            }
        }
        all
    }
}

/// One place an artifact may be downloaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub url: String,
    /// The flag that points this source at a mirror.
    pub flag: &'static str,
}

fn expand(template: &str, bases: &UrlBases) -> String {
    template
        .replace("{github}", bases.github.trim_end_matches('/'))
        .replace("{chart_repo}", bases.chart_repo.trim_end_matches('/'))
}

fn source_flag(template: &str) -> &'static str {
    if template.contains("{chart_repo}") {
        "--chart-repo"
    } else {
        "--github-mirror"
    }
}

impl HostPatterns {
    pub fn expand(pattern: &str, party: u32, domain: &str) -> String {
        pattern
            .replace("{party}", &party.to_string())
            .replace("{domain}", domain)
    }
}

/// The manifests and the cluster.yaml base of one release, embedded at build time.
pub struct ReleaseFiles {
    pub rbac_config: &'static str,
    pub kubefate: &'static str,
    pub cluster_base: &'static str,
}

macro_rules! release_files {
    ($dir:literal) => {
        ReleaseFiles {
            rbac_config: include_str!(concat!(
                "../../../assets/releases/",
                $dir,
                "/rbac-config.yaml"
            )),
            kubefate: include_str!(concat!("../../../assets/releases/", $dir, "/kubefate.yaml")),
            cluster_base: include_str!(concat!("../../../assets/releases/", $dir, "/cluster.yaml")),
        }
    };
}

impl Release {
    pub fn files(&self) -> Result<ReleaseFiles> {
        Ok(match self.release.as_str() {
            "v1.6.0" => release_files!("v1.6.0"),
            "v2.0.0" => release_files!("v2.0.0"),
            other => bail!("release {other} is in the catalog but its files are not embedded"),
        })
    }

    pub fn artifact(&self, name: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.name == name)
    }

    /// A module's own image: the first party image the catalog lists as used by it (a sidecar
    /// or an init container's image comes after).
    pub fn module_image(&self, module: &str) -> Option<&Image> {
        self.party_images
            .iter()
            .find(|i| i.used_by.iter().any(|m| m == module))
    }
}

fn catalog() -> &'static CatalogFile {
    static CATALOG: OnceLock<CatalogFile> = OnceLock::new();
    CATALOG.get_or_init(|| {
        serde_saphyr::from_str(CATALOG_YAML)
            .context("assets/catalog.yaml does not parse")
            .unwrap_or_else(|e| panic!("{e:#}"))
    })
}

pub fn all() -> &'static [Release] {
    &catalog().releases
}

pub fn minikube_rows() -> &'static [MinikubeRow] {
    &catalog().minikube
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|r| r.release.as_str()).collect()
}

/// Finds a release by name; `1.6.0` and `v1.6.0` are the same release.
pub fn find(name: &str) -> Option<&'static Release> {
    let wanted = name.trim();
    let wanted = wanted.strip_prefix('v').unwrap_or(wanted);
    all()
        .iter()
        .find(|r| r.release.strip_prefix('v').unwrap_or(&r.release) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses_and_every_release_has_its_files() {
        assert!(all().len() >= 2);
        for r in all() {
            let files = r.files().unwrap();
            assert!(files.kubefate.contains("kind: Deployment"), "{}", r.release);
            assert!(r.artifact("package").is_some());
            assert!(r.artifact("service-image").is_some());
            assert_eq!(r.modules.first(), Some(&r.federation_module));
        }
    }

    #[test]
    fn tutorial_release_facts() {
        let r = find("v1.6.0").unwrap();
        assert_eq!(r.kubefate_service, "v1.4.1");
        assert_eq!(r.image_tag, "1.6.0-release");
        assert_eq!(r.ingress.api_version, "networking.k8s.io/v1beta1");
        assert_eq!(r.kubernetes.max, Some(Minor(1, 21)));
        assert_eq!(r.fate_flow_api, crate::clients::fateflow::Api::V1);
        assert!(std::ptr::eq(r, find("1.6.0").unwrap()));
    }

    #[test]
    fn image_references_follow_the_registry_style() {
        let v1 = find("v1.6.0").unwrap();
        let mysql = v1
            .party_images
            .iter()
            .find(|i| i.repository == "mysql")
            .unwrap();
        assert_eq!(mysql.reference(None, v1.registry_style), "mysql:8");
        assert_eq!(
            mysql.reference(Some("hub.c.163.com/federatedai"), v1.registry_style),
            "hub.c.163.com/federatedai/mysql:8"
        );
        let v2 = find("v2.0.0").unwrap();
        let osx = &v2.party_images[0];
        assert_eq!(
            osx.reference(Some("mirror.example:5000"), v2.registry_style),
            "mirror.example:5000/federatedai/osx:2.0.0-release"
        );
        let kubefate = &v1.service_images[0];
        assert_eq!(
            kubefate.reference(Some("hub.c.163.com/federatedai"), v1.registry_style),
            "federatedai/kubefate:v1.4.1",
            "the service image is loaded from the release file, never renamed"
        );
    }

    #[test]
    fn artifact_urls_take_the_mirror() {
        let r = find("v1.6.0").unwrap();
        let bases = UrlBases {
            github: "http://127.0.0.1:8080/".into(),
            chart_repo: "http://127.0.0.1:8081".into(),
        };
        assert_eq!(
            r.artifact("service-image").unwrap().url(&bases),
            "http://127.0.0.1:8080/FederatedAI/KubeFATE/releases/download/v1.6.0/kubefate-v1.4.1.docker"
        );
        assert_eq!(
            r.artifact("chart").unwrap().url(&bases),
            "http://127.0.0.1:8081/package/fate-v1.6.0.tgz"
        );
    }
}
