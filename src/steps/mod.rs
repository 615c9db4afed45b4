//! The steps of `up`, one file per tutorial step, all sharing one [`Ctx`].
//!
//! Each step can say what it *would* do ([`Step::plan`]) without touching the host; that is what
//! `up --dry-run` prints. Running, checking "already done" and undoing are added per step as the
//! clients they need land (see the issues).

mod artifacts;
mod hosts;
mod images;
mod ingress;
mod kubefate;
mod minikube;
mod parties;
mod preflight;
mod smoke;

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::catalog::UrlBases;
use crate::render::RenderedFile;
use crate::spec::LabSpec;

/// Everything a step may look at: the validated spec and where things go on the host.
pub struct Ctx<'a> {
    pub spec: &'a LabSpec,
    pub urls: UrlBases,
    pub state_dir: PathBuf,
    pub hosts_file: PathBuf,
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

pub trait Step {
    fn info(&self) -> StepInfo;
    fn plan(&self, ctx: &Ctx) -> Result<StepPlan>;
}

/// The steps of `up`, in the order it takes them (the tutorial's order, images pulled early).
pub fn up_steps() -> Vec<Box<dyn Step>> {
    vec![
        Box::new(preflight::Preflight),
        Box::new(minikube::Minikube),
        Box::new(ingress::Ingress),
        Box::new(artifacts::Artifacts),
        Box::new(images::Images),
        Box::new(kubefate::Kubefate),
        Box::new(hosts::Hosts),
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
