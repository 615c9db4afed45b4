//! The steps of `up`, one file per tutorial step, all sharing one [`Ctx`].
//!
//! Each step can say what it *would* do ([`Step::plan`], printed by `up --dry-run`), do it
//! ([`Step::run`], checking first whether it is already done), and undo what fatelab made
//! ([`Step::undo`], for `down`). A step whose client has not landed yet has no `run`.

mod artifacts;
mod hosts;
mod images;
pub mod ingress;
mod kubefate;
pub mod minikube;
mod parties;
mod preflight;

pub use ingress::controller_deployment as ingress_controller;
pub use parties::summary as party_summary;
pub use preflight::facts as preflight_facts;
pub mod smoke;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
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
use crate::ui::{StepLine, Ui};

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
    /// An image bundle (`fatelab images save`) to load instead of pulling.
    pub images_bundle: Option<PathBuf>,
    /// `up --no-test`: leave the toy job to a later `fatelab test`.
    pub skip_test: bool,
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
    pub hosts_file: PathBuf,
    pub opts: RunOptions,
    pub ui: Ui,
    pub minikube: OnceLock<ActiveMinikube>,
    pub record: Mutex<LabRecord>,
    pub kube: tokio::sync::OnceCell<::kube::Client>,
    pub kubefate: tokio::sync::OnceCell<KubeFate>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        spec: &'a LabSpec,
        urls: UrlBases,
        state_dir: PathBuf,
        hosts_file: PathBuf,
        opts: RunOptions,
        ui: Ui,
        record: LabRecord,
    ) -> Self {
        Ctx {
            spec,
            urls,
            state_dir,
            hosts_file,
            opts,
            ui,
            minikube: OnceLock::new(),
            record: Mutex::new(record),
            kube: tokio::sync::OnceCell::new(),
            kubefate: tokio::sync::OnceCell::new(),
        }
    }

    /// The cluster's API, through the kubeconfig minikube wrote (connected once).
    pub async fn kube(&self) -> Result<&::kube::Client> {
        self.kube
            .get_or_try_init(|| async {
                let mk = minikube::active(self).await?;
                let path = mk
                    .client
                    .kubeconfig()
                    .ok_or_else(|| anyhow::anyhow!("minikube has no kubeconfig path"))?
                    .to_path_buf();
                crate::clients::kube::connect(&path).await
            })
            .await
    }

    /// The KubeFATE service, logged in with the lab's generated credentials.
    pub async fn kubefate(&self) -> Result<&KubeFate> {
        self.kubefate
            .get_or_try_init(|| async {
                let creds = crate::credentials::load_or_create(&self.state_dir)?;
                let kube = self.kube().await?.clone();
                Ok::<_, anyhow::Error>(KubeFate::new(
                    kube,
                    &creds.kubefate_username,
                    &creds.kubefate_password,
                ))
            })
            .await
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

pub enum Outcome {
    Done,
    /// Nothing to do: the world already is as the step would make it.
    AlreadyDone(String),
}

pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<Outcome>> + 'a>>;

pub trait Step {
    fn info(&self) -> StepInfo;
    fn plan(&self, ctx: &Ctx) -> Result<StepPlan>;
    /// `None` when this step cannot run in this build yet.
    fn run<'a>(&'a self, _ctx: &'a Ctx, _line: &'a StepLine) -> Option<StepFuture<'a>> {
        None
    }
    /// `None` when the step leaves nothing behind that `down` should remove.
    fn undo<'a>(&'a self, _ctx: &'a Ctx, _line: &'a StepLine) -> Option<StepFuture<'a>> {
        None
    }
}

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

/// `v1.22.0` → (1, 22); used to pick flags and names that changed between versions.
pub(crate) fn minor_of(version: &str) -> Option<(u32, u32)> {
    let mut it = version.trim_start_matches('v').split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}
