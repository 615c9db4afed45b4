//! The steps of `up`, one module per tutorial step, all sharing one [`Ctx`].
//!
//! Every step follows one contract ([`Step`]): `observe` reads the real world into the step's own
//! typed observation and compares it with the spec, giving a [`Diff`] — what would change, what
//! would stop `up` here, and the observation itself; `converge` acts on that diff only and
//! verifies the result; `undo` removes what the record's inventory says the step made, through
//! the system that made it. `up` runs observe → converge, `up --dry-run` prints the diffs,
//! `status` reports the diffs of the steps whose world is the lab itself, `down` runs the undos
//! in reverse.
//!
//! Where the lab runs decides the list once ([`for_target`]): on minikube the host half makes
//! Kubernetes; on existing clusters its steps check those clusters instead, under the same names.
//! Steps never import each other; what several need lives in [`Ctx`] or below.

pub mod advice;
mod artifacts;
pub mod collect;
mod ctx;
mod existing;
mod gate;
mod hosts;
mod images;
mod ingress;
mod kubefate;
mod local;
mod minikube;
mod parties;
mod preflight;
pub mod probe;
mod serving;
pub mod test;

pub use ctx::{ActiveMinikube, Ctx, RunOptions};
pub use local::party_problems as local_party_problems;
pub use local::processes as local_processes;
pub use parties::party_health;
pub use serving::serving_health;

use std::future::Future;
use std::pin::Pin;

use anyhow::Result;

use crate::model::spec::{LabSpec, Target};
use crate::model::step::StepName;
use crate::render::RenderedFile;
use crate::ui::StepLine;

/// The label a namespace fatelab makes carries, so a create whose answer was lost is known as
/// fatelab's when it is sent again.
pub const MADE_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "fatelab");

/// What one step would do on a bare host: its actions in words, and the files it would write or
/// apply.
#[derive(Debug, Default)]
pub struct StepPlan {
    pub actions: Vec<String>,
    pub files: Vec<RenderedFile>,
}

/// What `undo` did.
pub enum Outcome {
    Done,
    /// Nothing to do: the world already is as the step would make it.
    AlreadyDone(String),
}

/// What a step's observation found different from the spec, and the observation itself.
#[derive(Debug)]
pub struct Diff<T> {
    /// Each change the step would make, in words; empty when the world is as declared.
    pub changes: Vec<String>,
    /// Why `up` would stop at this step, each in words (a host check that fails).
    pub blockers: Vec<String>,
    /// What was observed, said when nothing is to change ("minikube v1.22.0 runs").
    pub summary: String,
    pub observed: T,
}

impl<T> Diff<T> {
    pub fn new(changes: Vec<String>, summary: impl Into<String>, observed: T) -> Diff<T> {
        Diff {
            changes,
            blockers: Vec::new(),
            summary: summary.into(),
            observed,
        }
    }

    /// Nothing to change and nothing stops `up`.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.blockers.is_empty()
    }
}

impl Diff<()> {
    /// Nothing to change and nothing the step needs to carry to `converge`.
    pub fn none(summary: impl Into<String>) -> Diff<()> {
        Diff::new(Vec::new(), summary, ())
    }
}

/// One step of `up`, typed by what its observation carries to its converge.
pub trait Step {
    type Observed;

    fn name(&self) -> StepName;
    fn title(&self) -> &'static str;
    /// Everything the step would do on a bare host (`up --dry-run` without a lab).
    fn plan(&self, ctx: &Ctx) -> Result<StepPlan>;
    /// Reads the world (never changing it) and compares it with the spec.
    fn observe(&self, ctx: &Ctx) -> impl Future<Output = Result<Diff<Self::Observed>>>;
    /// Acts on `diff` only, then verifies; with an empty diff it only keeps the record current.
    fn converge(
        &self,
        ctx: &Ctx,
        line: &StepLine,
        diff: Diff<Self::Observed>,
    ) -> impl Future<Output = Result<()>>;
    /// Removes what the record says this step made.
    fn undo(&self, _ctx: &Ctx, _line: &StepLine) -> impl Future<Output = Result<Outcome>> {
        async {
            Ok(Outcome::AlreadyDone(
                "this step leaves nothing behind".into(),
            ))
        }
    }
    /// Lines for the end of `up` once this step changed something (the parties' summary).
    fn epilogue(&self, _ctx: &Ctx) -> impl Future<Output = Vec<String>> {
        async { Vec::new() }
    }
    /// Whether `status` says what this step would change: its world is the lab itself.
    fn watched(&self) -> bool {
        false
    }
}

pub type StepFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + 'a>>;

/// A step whose observation is hidden: what a list of steps holds.
pub trait AnyStep {
    fn name(&self) -> StepName;
    fn title(&self) -> &'static str;
    fn plan(&self, ctx: &Ctx) -> Result<StepPlan>;
    fn observe<'a>(&'a self, ctx: &'a Ctx) -> StepFuture<'a, Box<dyn Observation<'a> + 'a>>;
    fn undo<'a>(&'a self, ctx: &'a Ctx, line: &'a StepLine) -> StepFuture<'a, Outcome>;
    fn epilogue<'a>(&'a self, ctx: &'a Ctx) -> Pin<Box<dyn Future<Output = Vec<String>> + 'a>>;
    fn watched(&self) -> bool;
}

/// A step's observation in words, ready to be converged on by the step that made it.
pub trait Observation<'a> {
    fn changes(&self) -> &[String];
    fn blockers(&self) -> &[String];
    fn summary(&self) -> &str;
    fn is_empty(&self) -> bool {
        self.changes().is_empty() && self.blockers().is_empty()
    }
    fn converge(self: Box<Self>, line: &'a StepLine) -> StepFuture<'a, ()>;
}

struct Observed<'a, S: Step> {
    step: &'a S,
    ctx: &'a Ctx,
    diff: Diff<S::Observed>,
}

impl<'a, S: Step> Observation<'a> for Observed<'a, S> {
    fn changes(&self) -> &[String] {
        &self.diff.changes
    }

    fn blockers(&self) -> &[String] {
        &self.diff.blockers
    }

    fn summary(&self) -> &str {
        &self.diff.summary
    }

    fn converge(self: Box<Self>, line: &'a StepLine) -> StepFuture<'a, ()> {
        let Observed { step, ctx, diff } = *self;
        Box::pin(step.converge(ctx, line, diff))
    }
}

impl<S: Step> AnyStep for S {
    fn name(&self) -> StepName {
        Step::name(self)
    }

    fn title(&self) -> &'static str {
        Step::title(self)
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        Step::plan(self, ctx)
    }

    fn observe<'a>(&'a self, ctx: &'a Ctx) -> StepFuture<'a, Box<dyn Observation<'a> + 'a>> {
        Box::pin(async move {
            let diff = Step::observe(self, ctx).await?;
            Ok(Box::new(Observed {
                step: self,
                ctx,
                diff,
            }) as Box<dyn Observation<'a> + 'a>)
        })
    }

    fn undo<'a>(&'a self, ctx: &'a Ctx, line: &'a StepLine) -> StepFuture<'a, Outcome> {
        Box::pin(Step::undo(self, ctx, line))
    }

    fn epilogue<'a>(&'a self, ctx: &'a Ctx) -> Pin<Box<dyn Future<Output = Vec<String>> + 'a>> {
        Box::pin(Step::epilogue(self, ctx))
    }

    fn watched(&self) -> bool {
        Step::watched(self)
    }
}

/// The checks `up` makes before it changes anything, as `fatelab doctor` reports them: the
/// host's on minikube, each cluster's on existing clusters; and the peers' on both.
pub async fn preflight_report(ctx: &Ctx) -> crate::checks::Report {
    match ctx.spec.target {
        Target::Minikube => preflight::report(ctx).await,
        Target::Existing { .. } => existing::report(ctx).await,
        Target::Local { .. } => local::report(ctx).await,
    }
}

/// Those checks' failures that would stop `up` now, in the words its first step says them.
pub async fn preflight_blockers(ctx: &Ctx) -> Vec<String> {
    gate::blockers(ctx, &preflight_report(ctx).await)
}

/// FATE-Serving's step, in a lab that has it or is to have it or lose it (`up --serving`).
fn serving_step(spec: &LabSpec) -> Option<Box<dyn AnyStep>> {
    (spec.serving != crate::model::spec::ServingWish::Off)
        .then(|| Box::new(serving::ServingClusters) as Box<dyn AnyStep>)
}

/// The steps of `up` for where this lab runs, in the order `up` takes them: the host half first
/// (the tutorial's order), then images early so no pod waits on a pull.
pub fn for_target(spec: &LabSpec) -> Vec<Box<dyn AnyStep>> {
    let mut steps: Vec<Box<dyn AnyStep>> = match spec.target {
        Target::Minikube => vec![
            Box::new(preflight::HostChecks),
            Box::new(minikube::StartMinikube),
            Box::new(ingress::IngressAddon),
            Box::new(hosts::HostsFile::ON_MINIKUBE),
            Box::new(artifacts::ReleaseFiles),
            Box::new(images::PrePull),
            Box::new(kubefate::KubefateService::ON_MINIKUBE),
            Box::new(parties::Parties),
            Box::new(test::TestJob),
        ],
        Target::Existing { .. } => vec![
            Box::new(existing::ClusterChecks),
            Box::new(existing::ClusterVersions),
            Box::new(existing::IngressClasses),
            Box::new(hosts::HostsFile::ON_EXISTING),
            Box::new(artifacts::ReleaseFiles),
            Box::new(existing::NodesPull),
            Box::new(kubefate::KubefateService::ON_EXISTING),
            Box::new(parties::Parties),
            Box::new(test::TestJob),
        ],
        Target::Local { .. } => vec![
            Box::new(local::LocalChecks),
            Box::new(local::Packages),
            Box::new(local::Brokers),
            Box::new(local::Proxy),
            Box::new(local::Servers),
            Box::new(test::TestJob),
        ],
    };
    // Beside the parties, before the job that proves the lab.
    if let Some(serving) = serving_step(spec) {
        steps.insert(steps.len() - 1, serving);
    }
    steps
}
