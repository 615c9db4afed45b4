//! What every step may look at: the validated spec, where things go, the run's options, the UI,
//! the record, and the clients of the lab's clusters (connected once, on first use).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use semver::Version;

use crate::clients::fateflow::FateFlow;
use crate::clients::kubefate::KubeFate;
use crate::clients::minikube::Minikube;
use crate::host::package::Package;
use crate::host::{credentials, state};
use crate::model::catalog::{Artifact, UrlBases};
use crate::model::jobs::JobKind;
use crate::model::record::LabRecord;
use crate::model::spec::{LabSpec, Party, Target};
use crate::model::target::Cluster;
use crate::ui::Ui;

/// Choices that shape how a command runs (not what the lab is).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub minikube_version: Option<Version>,
    pub kubernetes_version: Option<Version>,
    /// Doctor checks whose failure is only a warning for this run.
    pub ignore_checks: Vec<String>,
    pub wait_timeout: Duration,
    /// Release files the user already has (offline); looked up by file name before downloading.
    pub artifacts_dir: Option<PathBuf>,
    /// The chart file to use (`up --chart`, a directory already packaged), instead of a download.
    pub chart: Option<PathBuf>,
    /// An image bundle (`fatelab images save`) to load instead of pulling.
    pub images_bundle: Option<PathBuf>,
    /// The job `up` proves the lab with (`--test`; `None` leaves it to a later `fatelab test`).
    pub test: Option<JobKind>,
    /// A training job whose AUC is below this failed (`--min-auc`).
    pub min_auc: f64,
    /// A training job further below the centralized baseline than this failed (`--max-gap`).
    pub max_gap: f64,
    /// The tables a training job runs on (`--guest-data`/`--host-data`); the breast tables when none.
    pub data: Option<std::sync::Arc<crate::model::dataset::Dataset>>,
    /// How long a party's containers must stay ready without a restart to count as healthy.
    pub settle: Duration,
    /// The deadline of one attempt of one call to the cluster (until its answer's headers).
    pub call_timeout: Duration,
    /// When the whole run's budget ends (`--timeout` of `up` and `down`), if it has one.
    pub budget_ends: Option<tokio::time::Instant>,
    /// `down --purge`: the minikube cluster fatelab started and the download cache go too.
    pub purge: bool,
    /// What any lab may reuse (the local lab's Python environment).
    pub cache_dir: PathBuf,
    /// The package index pip installs FATE from (`--pypi-index`); `None`: pip's own.
    pub pypi_index: Option<String>,
}

/// The minikube this lab runs on, once the minikube step has found or installed it.
#[derive(Debug, Clone)]
pub struct ActiveMinikube {
    pub client: Minikube,
    pub version: Version,
    pub kubernetes: Version,
}

pub struct Ctx {
    pub spec: LabSpec,
    pub urls: UrlBases,
    pub state_dir: PathBuf,
    /// The hosts file the hosts step writes; `None`: it writes none (an existing cluster).
    pub hosts_file: Option<PathBuf>,
    pub opts: RunOptions,
    pub ui: Ui,
    minikube: OnceLock<ActiveMinikube>,
    record: Mutex<LabRecord>,
    clusters: Vec<Cluster>,
    /// One API client per cluster that holds a party, connected on first use.
    kubes: BTreeMap<Cluster, tokio::sync::OnceCell<kube::Client>>,
    kubefates: BTreeMap<Cluster, tokio::sync::OnceCell<KubeFate>>,
    /// The chart uploaded to a cluster's service in this run: parties whose installs fail at
    /// once upload it once.
    chart_uploaded: BTreeMap<Cluster, tokio::sync::OnceCell<()>>,
    /// The release package, read once per run (or why it could not be).
    package: OnceLock<std::result::Result<Package, String>>,
    /// Set once any step of this run changed something: the lab must be proven again.
    changed: AtomicBool,
}

impl Ctx {
    pub fn new(
        spec: LabSpec,
        urls: UrlBases,
        state_dir: PathBuf,
        hosts_file: Option<PathBuf>,
        opts: RunOptions,
        ui: Ui,
        record: LabRecord,
    ) -> Self {
        let mut clusters = spec.clusters();
        // A party fatelab installed that the lab no longer has is removed in its own cluster.
        for (id, place) in &record.placement {
            if let Some(c) = place
                .context
                .as_ref()
                .filter(|_| record.clusters.contains_key(id))
            {
                let c = Cluster::Context(c.clone());
                if !clusters.contains(&c) && !spec.on_minikube() {
                    clusters.push(c);
                }
            }
        }
        if clusters.is_empty() {
            clusters.push(Cluster::Minikube);
        }
        fn cells<T>(clusters: &[Cluster]) -> BTreeMap<Cluster, tokio::sync::OnceCell<T>> {
            clusters
                .iter()
                .map(|c| (c.clone(), tokio::sync::OnceCell::new()))
                .collect()
        }
        Ctx {
            kubes: cells(&clusters),
            kubefates: cells(&clusters),
            chart_uploaded: cells(&clusters),
            clusters,
            spec,
            urls,
            state_dir,
            hosts_file,
            opts,
            ui,
            minikube: OnceLock::new(),
            record: Mutex::new(record),
            package: OnceLock::new(),
            changed: AtomicBool::new(false),
        }
    }

    /// How long a wait may take: the command's `--timeout`, and never past its budget.
    pub fn wait_timeout(&self) -> Duration {
        match self.opts.budget_ends {
            Some(ends) => self
                .opts
                .wait_timeout
                .min(ends.saturating_duration_since(tokio::time::Instant::now())),
            None => self.opts.wait_timeout,
        }
    }

    /// When a wait that starts now must end.
    pub fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.wait_timeout()
    }

    pub fn mark_changed(&self) {
        self.changed.store(true, Ordering::SeqCst);
    }

    pub fn changed(&self) -> bool {
        self.changed.load(Ordering::SeqCst)
    }

    pub fn record(&self) -> LabRecord {
        self.record.lock().expect("record lock").clone()
    }

    pub fn update_record(&self, f: impl FnOnce(&mut LabRecord)) -> Result<()> {
        let mut r = self.record.lock().expect("record lock");
        f(&mut r);
        state::save(&self.state_dir, &r)
    }

    /// The clusters this lab's parties are in, in the parties' order (minikube's alone, usually).
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// The cluster a party fatelab installed is in: the lab's word for a party it has, the
    /// record's for one it no longer has.
    pub fn cluster_of_party(&self, id: u32) -> Cluster {
        if let Some(p) = self.spec.party(id).filter(|p| p.is_ours()) {
            return p.cluster.clone();
        }
        match self
            .record()
            .placement
            .get(&id)
            .and_then(|p| p.context.clone())
        {
            Some(c) => Cluster::Context(c),
            None => self.primary(),
        }
    }

    /// The first party's cluster: where a lab of one cluster does everything.
    pub fn primary(&self) -> Cluster {
        self.clusters.first().cloned().unwrap_or(Cluster::Minikube)
    }

    /// The minikube step found or started this minikube.
    pub fn set_minikube(&self, active: ActiveMinikube) {
        let _ = self.minikube.set(active);
    }

    /// The minikube to use: the one this run found or started, else the recorded one (asked
    /// for its version once per run).
    pub async fn minikube(&self) -> Result<ActiveMinikube> {
        if let Some(a) = self.minikube.get() {
            return Ok(a.clone());
        }
        let rec = self
            .record()
            .minikube
            .context("no minikube is recorded for this lab; run `fatelab up` first")?;
        let client = Minikube::new(rec.path.clone(), &(&rec.homes).into());
        let version = client.version().await?;
        let active = ActiveMinikube {
            client,
            version,
            kubernetes: rec.kubernetes.0.clone(),
        };
        self.set_minikube(active.clone());
        Ok(active)
    }

    /// The primary cluster's API (see [`Ctx::kube_in`]).
    pub async fn kube(&self) -> Result<&kube::Client> {
        self.kube_in(&self.primary()).await
    }

    /// A cluster's API, connected once: minikube's through the kubeconfig minikube wrote, an
    /// existing one through its context of the lab's kubeconfig.
    pub async fn kube_in(&self, cluster: &Cluster) -> Result<&kube::Client> {
        let cell = self
            .kubes
            .get(cluster)
            .ok_or_else(|| anyhow::anyhow!("{} holds no party of this lab", cluster.describe()))?;
        cell.get_or_try_init(|| async {
            match cluster {
                Cluster::Minikube => {
                    let mk = self.minikube().await?;
                    let path = mk
                        .client
                        .kubeconfig()
                        .context("minikube has no kubeconfig path")?
                        .to_path_buf();
                    crate::clients::kube::connect(&path, self.opts.call_timeout).await
                }
                Cluster::Context(name) => {
                    let Target::Existing { kubeconfig, .. } = &self.spec.target else {
                        anyhow::bail!("context {name} named in a lab on minikube");
                    };
                    crate::clients::kube::connect_context(
                        kubeconfig.load()?,
                        name,
                        self.opts.call_timeout,
                    )
                    .await
                    .with_context(|| format!("in {}", kubeconfig.describe()))
                }
                Cluster::Elsewhere => {
                    anyhow::bail!("another organisation's cluster cannot be reached from here")
                }
                Cluster::Local => {
                    anyhow::bail!("a lab of local processes has no Kubernetes cluster")
                }
            }
        })
        .await
    }

    /// The cluster a party is installed in.
    pub async fn kube_for(&self, party: &Party) -> Result<&kube::Client> {
        self.kube_in(&party.cluster).await
    }

    /// Party `id`'s FATE Flow, through its own cluster's API server.
    pub async fn fate_flow(&self, id: u32) -> Result<FateFlow> {
        let party = self
            .spec
            .party(id)
            .ok_or_else(|| anyhow::anyhow!("party {id} is not in this lab"))?;
        if party.cluster == Cluster::Local {
            let url = format!("http://127.0.0.1:{}", party.ports.http);
            return Ok(FateFlow::at(
                crate::clients::transport::Direct::new(&url, self.opts.call_timeout)?,
                &format!("of party {id} ({url})"),
                self.spec.release.fate_flow_api,
            ));
        }
        Ok(FateFlow::new(
            self.kube_for(party).await?.clone(),
            &party.namespace(),
            self.spec.release.fate_flow_api,
        ))
    }

    /// A cluster's KubeFATE service, logged in with the lab's credentials (which only the
    /// kubefate step's converge makes).
    pub async fn kubefate_in(&self, cluster: &Cluster) -> Result<&KubeFate> {
        let cell = self
            .kubefates
            .get(cluster)
            .ok_or_else(|| anyhow::anyhow!("{} holds no party of this lab", cluster.describe()))?;
        cell.get_or_try_init(|| async {
            let creds = credentials::load(&self.state_dir)?;
            let kube = self.kube_in(cluster).await?.clone();
            Ok::<_, anyhow::Error>(KubeFate::new(
                kube,
                &creds.kubefate_username,
                creds.kubefate_password.clone(),
            ))
        })
        .await
    }

    pub async fn kubefate_for(&self, party: &Party) -> Result<&KubeFate> {
        self.kubefate_in(&party.cluster).await
    }

    /// Runs `upload` once per cluster in this run.
    pub async fn chart_uploaded_once<F, Fut>(&self, cluster: &Cluster, upload: F) -> Result<()>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        match self.chart_uploaded.get(cluster) {
            Some(cell) => cell.get_or_try_init(upload).await.map(|_| ()),
            None => upload().await,
        }
    }

    /// Where an artifact is (or will be): the chart the user gave with `--chart`, the user's
    /// `--artifacts-dir` copy if present, else the cache. (The cache keeps it under `file`,
    /// whichever name it was published under.)
    pub fn artifact_path(&self, a: &Artifact) -> PathBuf {
        if let Some(chart) = self.opts.chart.as_ref().filter(|_| a.name == "chart") {
            return chart.clone();
        }
        if let Some(dir) = &self.opts.artifacts_dir {
            let names = std::iter::once(&a.file).chain(&a.alternatives);
            if let Some(p) = names.map(|n| dir.join(n)).find(|p| p.is_file()) {
                return p;
            }
        }
        self.cache_dir().join(&a.file)
    }

    /// This release's download cache.
    pub fn cache_dir(&self) -> PathBuf {
        state::cache_dir(&self.state_dir, &self.spec.release.release)
    }

    /// The release package's files, read once per run; an error says why it could not be.
    pub fn package(&self) -> std::result::Result<&Package, String> {
        self.package
            .get_or_init(|| {
                let artifact = self
                    .spec
                    .release
                    .artifact("package")
                    .ok_or_else(|| "the catalog names no package".to_string())?;
                Package::read(&self.artifact_path(artifact)).map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}
