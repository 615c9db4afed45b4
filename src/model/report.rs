//! What a training test's report shows: the lab, and per job its result, both models' curves,
//! the loss per iteration, the timeline and the data. Gathered while the job runs; drawn by
//! `render::report`.

use crate::clients::fateflow::{Curve, Evaluation};
use crate::model::baseline::Roc;
use crate::model::jobs::JobResult;

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Seconds since the Unix epoch.
    pub at: i64,
    /// `KubeFATE v1.11.2 (FATE 1.11.2)`, `local FATE 2.2.0`.
    pub release: String,
    /// Each party with where its FATE Flow is reached.
    pub parties: Vec<(u32, String)>,
    pub jobs: Vec<JobReport>,
}

#[derive(Debug, Clone)]
pub struct JobReport {
    pub result: JobResult,
    /// The federated evaluation as FATE Flow returned it (with its curves, where recorded).
    pub federated: Option<Evaluation>,
    pub centralized: Option<Roc>,
    /// The federated model's loss per iteration, when FATE Flow reports it.
    pub loss: Option<Curve>,
    /// The centralized model's loss per epoch.
    pub centralized_loss: Vec<f64>,
    pub timeline: Vec<Span>,
}

/// One bar of the timeline, in seconds from the job's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub label: String,
    pub start_s: f64,
    pub end_s: f64,
}
