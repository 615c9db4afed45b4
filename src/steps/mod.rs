//! The steps of `up`, one file per tutorial step, all sharing one [`Ctx`].
//!
//! Every step follows one contract: [`Step::observe`] reads the real world into the step's own
//! typed observation and compares it with the spec, giving a [`Diff`]; [`Step::converge`] acts on
//! that diff only and verifies the result. `up` runs both, `up --dry-run` on a host with a lab
//! prints the diffs, `status` reports the same observations, and `down` runs [`Step::undo`],
//! which removes what the record's inventory says fatelab made, through the system that made it.

mod artifacts;
pub mod existing;
mod hosts;
mod images;
pub mod ingress;
mod kubefate;
pub mod minikube;
pub mod minikube_advice;
mod parties;
mod preflight;

pub use ingress::controller_deployment as ingress_controller;
pub use parties::{party_health, summary as party_summary};
pub use preflight::report as preflight_report;
pub mod smoke;
pub mod training;

use std::any::Any;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::Result;
use semver::Version;
use serde::Serialize;

use crate::catalog::UrlBases;
use crate::clients::kubefate::KubeFate;
use crate::clients::minikube::Minikube;
use crate::render::RenderedFile;
use crate::spec::LabSpec;
use crate::state::LabRecord;
use crate::target::Cluster;
use crate::ui::{StepLine, Ui};
use std::collections::BTreeMap;

/// Choices that shape how `up` runs (not what the lab is).
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
    pub test: Option<smoke::JobKind>,
    /// A training job whose AUC is below this failed (`--min-auc`).
    pub min_auc: f64,
    /// How long a party's containers must stay ready without a restart to count as healthy.
    pub settle: Duration,
    /// The deadline of one attempt of one call to the cluster (until its answer's headers).
    pub call_timeout: Duration,
    /// When the whole run's budget ends (`up --timeout`), if it has one.
    pub budget_ends: Option<tokio::time::Instant>,
}

/// The minikube this lab runs on, once the minikube step has found or installed it.
#[derive(Debug, Clone)]
pub struct ActiveMinikube {
    pub client: Minikube,
    pub version: Version,
    pub kubernetes: Version,
}

/// Everything a step may look at: the validated spec, where things go, the UI, the record.
pub struct Ctx<'a> {
    pub spec: &'a LabSpec,
    pub urls: UrlBases,
    pub state_dir: PathBuf,
    /// The hosts file the hosts step writes; `None`: it writes none (an existing cluster).
    pub hosts_file: Option<PathBuf>,
    pub opts: RunOptions,
    pub ui: Ui,
    pub minikube: OnceLock<ActiveMinikube>,
    pub record: Mutex<LabRecord>,
    clusters: Vec<Cluster>,
    /// One API client per cluster that holds a party, connected on first use.
    kubes: BTreeMap<Cluster, tokio::sync::OnceCell<::kube::Client>>,
    kubefates: BTreeMap<Cluster, tokio::sync::OnceCell<KubeFate>>,
    /// The chart uploaded to a cluster's service in this run: parties whose installs fail at
    /// once upload it once.
    chart_uploaded: BTreeMap<Cluster, tokio::sync::OnceCell<()>>,
    /// Set once any step of this run changed something: the lab must be proven again.
    changed: AtomicBool,
}

impl<'a> Ctx<'a> {
    pub fn new(
        spec: &'a LabSpec,
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
            changed: AtomicBool::new(false),
        }
    }

    /// How long a wait may take: `--timeout`, and never past the run's budget.
    pub fn wait_timeout(&self) -> Duration {
        match self.opts.budget_ends {
            Some(ends) => self
                .opts
                .wait_timeout
                .min(ends.saturating_duration_since(tokio::time::Instant::now())),
            None => self.opts.wait_timeout,
        }
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

    /// The clusters this lab's parties are in, in the parties' order (minikube's alone, usually).
    pub fn clusters(&self) -> Vec<Cluster> {
        self.clusters.clone()
    }

    /// The first party's cluster: where a lab of one cluster does everything.
    pub fn primary(&self) -> Cluster {
        self.clusters.first().cloned().unwrap_or(Cluster::Minikube)
    }

    /// The primary cluster's API (see [`Ctx::kube_in`]).
    pub async fn kube(&self) -> Result<&::kube::Client> {
        self.kube_in(&self.primary()).await
    }

    /// A cluster's API, connected once: minikube's through the kubeconfig minikube wrote, an
    /// existing one through its context of the lab's kubeconfig.
    pub async fn kube_in(&self, cluster: &Cluster) -> Result<&::kube::Client> {
        let cell = self
            .kubes
            .get(cluster)
            .ok_or_else(|| anyhow::anyhow!("{} holds no party of this lab", cluster.describe()))?;
        cell.get_or_try_init(|| async {
            match cluster {
                Cluster::Minikube => {
                    let mk = minikube::active(self).await?;
                    let path = mk
                        .client
                        .kubeconfig()
                        .ok_or_else(|| anyhow::anyhow!("minikube has no kubeconfig path"))?
                        .to_path_buf();
                    crate::clients::kube::connect(&path, self.opts.call_timeout).await
                }
                Cluster::Context(name) => {
                    let crate::spec::Target::Existing { kubeconfig, .. } = &self.spec.target else {
                        anyhow::bail!("context {name} named in a lab on minikube");
                    };
                    crate::target::connect(kubeconfig, name, self.opts.call_timeout).await
                }
                Cluster::Elsewhere => {
                    anyhow::bail!("another organisation's cluster cannot be reached from here")
                }
            }
        })
        .await
    }

    /// The cluster a party is installed in.
    pub async fn kube_for(&self, party: &crate::spec::Party) -> Result<&::kube::Client> {
        self.kube_in(&party.cluster).await
    }

    /// Party `id`'s FATE Flow, through its own cluster's API server.
    pub async fn fate_flow(&self, id: u32) -> Result<crate::clients::fateflow::FateFlow> {
        let party = self
            .spec
            .party(id)
            .ok_or_else(|| anyhow::anyhow!("party {id} is not in this lab"))?;
        Ok(crate::clients::fateflow::FateFlow::new(
            self.kube_for(party).await?.clone(),
            &party.namespace(),
            self.spec.release.fate_flow_api,
        ))
    }

    /// The primary cluster's KubeFATE service (see [`Ctx::kubefate_in`]).
    pub async fn kubefate(&self) -> Result<&KubeFate> {
        self.kubefate_in(&self.primary()).await
    }

    /// A cluster's KubeFATE service, logged in with the lab's generated credentials.
    pub async fn kubefate_in(&self, cluster: &Cluster) -> Result<&KubeFate> {
        let cell = self
            .kubefates
            .get(cluster)
            .ok_or_else(|| anyhow::anyhow!("{} holds no party of this lab", cluster.describe()))?;
        cell.get_or_try_init(|| async {
            let creds = crate::credentials::load_or_create(&self.state_dir)?;
            let kube = self.kube_in(cluster).await?.clone();
            Ok::<_, anyhow::Error>(KubeFate::new(
                kube,
                &creds.kubefate_username,
                creds.kubefate_password.clone(),
            ))
        })
        .await
    }

    pub async fn kubefate_for(&self, party: &crate::spec::Party) -> Result<&KubeFate> {
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

    pub fn update_record(&self, f: impl FnOnce(&mut LabRecord)) -> Result<()> {
        let mut r = self.record.lock().expect("record lock");
        f(&mut r);
        r.save(&self.state_dir)
    }
}

/// What one step would do: human-readable actions, and the files it would write or apply.
#[derive(Debug, Default)]
pub struct StepPlan {
    pub actions: Vec<String>,
    pub files: Vec<RenderedFile>,
}

#[derive(Debug, Serialize)]
pub struct StepInfo {
    pub name: &'static str,
    pub title: &'static str,
}

/// What `undo` did.
pub enum Outcome {
    Done,
    /// Nothing to do: the world already is as the step would make it.
    AlreadyDone(String),
}

/// What a step's observation found different from the spec, and the observation itself.
pub struct Diff {
    /// Each change the step would make, in words; empty when the world is as declared.
    pub changes: Vec<String>,
    /// What was observed, said when nothing is to change ("minikube v1.22.0 runs").
    pub summary: String,
    observation: Box<dyn Any>,
}

impl Diff {
    pub fn new<T: Any>(changes: Vec<String>, summary: impl Into<String>, observation: T) -> Diff {
        Diff {
            changes,
            summary: summary.into(),
            observation: Box::new(observation),
        }
    }

    /// Nothing to change and nothing the step needs to carry to `converge`.
    pub fn none(summary: impl Into<String>) -> Diff {
        Diff::new(Vec::new(), summary, ())
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The step's own observation back, in its `converge`.
    pub fn observation<T: Any>(self) -> Box<T> {
        self.observation
            .downcast()
            .unwrap_or_else(|_| panic!("a step's diff carries another step's observation"))
    }
}

pub type StepFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + 'a>>;

pub trait Step {
    fn info(&self) -> StepInfo;
    /// What the step's line says for this lab: on existing clusters the host half checks
    /// instead of making.
    fn title(&self, ctx: &Ctx) -> &'static str {
        match (ctx.spec.on_minikube(), self.on_existing()) {
            (false, Some(t)) => t,
            _ => self.info().title,
        }
    }
    /// The title on existing clusters, when it differs.
    fn on_existing(&self) -> Option<&'static str> {
        None
    }
    /// Everything the step would do on a bare host (`up --dry-run` without a lab).
    fn plan(&self, ctx: &Ctx) -> Result<StepPlan>;
    /// Reads the world (never changing it) and compares it with the spec.
    fn observe<'a>(&'a self, ctx: &'a Ctx) -> StepFuture<'a, Diff>;
    /// Acts on `diff` only, then verifies; with an empty diff it only keeps the record current.
    fn converge<'a>(&'a self, ctx: &'a Ctx, line: &'a StepLine, diff: Diff) -> StepFuture<'a, ()>;
    /// Removes what the record says this step made.
    fn undo<'a>(&'a self, _ctx: &'a Ctx, _line: &'a StepLine) -> StepFuture<'a, Outcome> {
        Box::pin(async {
            Ok(Outcome::AlreadyDone(
                "this step leaves nothing behind".into(),
            ))
        })
    }
}

/// The trait's boxed methods for a step whose module has `async fn observe(ctx)` and
/// `async fn converge(ctx, line, diff)` (and, with `undo`, `async fn undo(ctx, line)`).
macro_rules! step_fns {
    () => {
        fn observe<'a>(&'a self, ctx: &'a Ctx) -> StepFuture<'a, Diff> {
            Box::pin(observe(ctx))
        }

        fn converge<'a>(
            &'a self,
            ctx: &'a Ctx,
            line: &'a StepLine,
            diff: Diff,
        ) -> StepFuture<'a, ()> {
            Box::pin(converge(ctx, line, diff))
        }
    };
    (undo) => {
        $crate::steps::step_fns!();

        fn undo<'a>(&'a self, ctx: &'a Ctx, line: &'a StepLine) -> StepFuture<'a, Outcome> {
            Box::pin(undo(ctx, line))
        }
    };
}
pub(crate) use step_fns;

/// The steps of `up`, in the order it takes them: the host half first (the tutorial's order),
/// then images early so no pod waits on a pull.
pub fn up_steps() -> Vec<Box<dyn Step>> {
    vec![
        Box::new(preflight::Preflight),
        Box::new(minikube::MinikubeStep),
        Box::new(ingress::Ingress),
        Box::new(hosts::Hosts),
        Box::new(artifacts::Artifacts),
        Box::new(images::Images),
        Box::new(kubefate::Kubefate),
        Box::new(parties::Parties),
        Box::new(smoke::Smoke),
    ]
}
