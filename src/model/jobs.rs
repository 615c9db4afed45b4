//! The federated jobs that prove a lab (`fatelab test`, `up --test`) and what is kept of them:
//! each job's result, and the last test of each kind in the record.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A lab whose training job scores below this is broken (`--min-auc`).
pub const DEFAULT_MIN_AUC: f64 = 0.9;
/// How much worse than the centralized model a federated one may score (`--max-gap`): FATE's
/// own benchmark quality checks allow an AUC 0.01 apart.
pub const DEFAULT_MAX_GAP: f64 = 0.01;

/// The jobs `fatelab test --job` runs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// FATE's toy job (secure add): the parties reach each other (seconds)
    #[default]
    Toy,
    /// Hetero logistic regression on the breast tables: the lab trains (minutes)
    Lr,
    /// Hetero SecureBoost (small trees) on the same tables
    Sbt,
}

impl JobKind {
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Toy => "toy",
            JobKind::Lr => "lr",
            JobKind::Sbt => "sbt",
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `up --test`: a job, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UpTest {
    Toy,
    Lr,
    Sbt,
    None,
}

impl UpTest {
    pub fn job(self) -> Option<JobKind> {
        match self {
            UpTest::Toy => Some(JobKind::Toy),
            UpTest::Lr => Some(JobKind::Lr),
            UpTest::Sbt => Some(JobKind::Sbt),
            UpTest::None => None,
        }
    }
}

/// What the evaluation of a binary model says.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metrics {
    pub auc: f64,
    pub ks: Option<f64>,
}

/// A training job's time, by phase (seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Timings {
    pub upload_s: f64,
    pub train_s: f64,
    pub metrics_s: f64,
}

/// One job between a guest and its hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobResult {
    /// Which job (records from before kinds hold only toy jobs).
    #[serde(default)]
    pub kind: JobKind,
    pub guest: u32,
    pub hosts: Vec<u32>,
    pub job_id: Option<String>,
    /// FATE Flow's status of the job (`success`, `failed`, ...), or `timeout`.
    pub status: String,
    pub duration_s: f64,
    /// FATE's own words when the job did not succeed.
    pub error: Option<String>,
    /// A training job's evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// A training job's time, by phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
    /// The tables a training job ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSummary>,
    /// The same model trained in one place on the joined table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
}

/// One party's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TableSummary {
    /// The file it was read from (the embedded breast table's name by default).
    pub source: String,
    /// Its name in FATE (namespace `experiment`).
    pub table: String,
    pub rows: u64,
    pub features: u64,
}

/// The tables of a training job: whose, how big, how many ids both hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DataSummary {
    /// The user's own tables (`--guest-data`/`--host-data`), not the breast tables.
    pub own: bool,
    pub guest: TableSummary,
    pub host: TableSummary,
    /// Ids in both tables: the rows PSI finds and both models train on.
    pub shared_ids: u64,
}

/// The centralized baseline beside the federated model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Baseline {
    /// The kind trained in one place: LR for either job (there is no tree baseline, so an
    /// `sbt` job is shown beside LR and not judged by the gap).
    pub model: JobKind,
    pub auc: f64,
    pub ks: f64,
    pub rows: u64,
    pub features: u64,
    /// Seconds it took to train and evaluate.
    pub train_s: f64,
    /// Centralized minus federated AUC, once the federated one is known.
    pub gap: Option<f64>,
    pub max_gap: f64,
}

impl Baseline {
    /// Whether the gap is judged: the same kind of model on both sides.
    pub fn judges(&self, kind: JobKind) -> bool {
        self.model == kind
    }

    /// Centralized minus federated AUC as shown with four decimals: equal models differ in the
    /// last bits, and "-0.0000" would read as a sign that means something.
    pub fn shown_gap(&self, federated: f64) -> f64 {
        let gap = self.auc - federated;
        if gap.abs() < 5e-5 { 0.0 } else { gap }
    }

    /// `federated AUC 0.9924 · centralized 0.9910 · Δ -0.0014 (within the 0.01 --max-gap allows)`.
    pub fn line(&self, kind: JobKind, federated: Option<f64>) -> String {
        let central = if self.model == kind {
            format!("centralized {:.4}", self.auc)
        } else {
            format!(
                "centralized {} {:.4} (no tree baseline: LR only)",
                self.model, self.auc
            )
        };
        let Some(fed) = federated else {
            return central;
        };
        let gap = self.auc - fed;
        let verdict = if !self.judges(kind) {
            "not judged: different models".to_string()
        } else if gap > self.max_gap {
            format!("more than the {} --max-gap allows", self.max_gap)
        } else {
            format!("within the {} --max-gap allows", self.max_gap)
        };
        format!(
            "federated AUC {fed:.4} · {central} · Δ {:.4} ({verdict})",
            self.shown_gap(fed)
        )
    }
}

impl JobResult {
    /// A job between `guest` and `host` that has not succeeded (yet): no ID, status failed.
    pub fn failed(kind: JobKind, guest: u32, host: u32) -> JobResult {
        JobResult {
            kind,
            guest,
            hosts: vec![host],
            job_id: None,
            status: "failed".into(),
            duration_s: 0.0,
            error: None,
            metrics: None,
            timings: None,
            data: None,
            baseline: None,
        }
    }

    /// A result for a job that could not even be submitted.
    pub fn not_submitted(kind: JobKind, guest: u32, host: u32, why: String) -> JobResult {
        JobResult {
            error: Some(why),
            ..JobResult::failed(kind, guest, host)
        }
    }

    /// The job succeeded and nothing about its result is wrong (a training job's AUC).
    pub fn success(&self) -> bool {
        self.status == "success" && self.error.is_none()
    }
}

/// A test as the record keeps it: when, whether every job passed, which kind, each job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TestRecord {
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub ok: bool,
    /// Absent in records from before there were kinds (they held only toy jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<JobKind>,
    pub jobs: Vec<JobResult>,
    /// The HTML report of a training test (its copy in the state dir).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}

impl TestRecord {
    /// Which kind it was: a record from before kinds knew only the toy job.
    pub fn kind(&self) -> JobKind {
        self.kind.unwrap_or(JobKind::Toy)
    }

    /// (guest, host) of every job.
    pub fn pairs(&self) -> Vec<(u32, u32)> {
        self.jobs
            .iter()
            .flat_map(|j| j.hosts.iter().map(move |h| (j.guest, *h)))
            .collect()
    }
}

/// Seconds, to a tenth.
pub fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(auc: f64) -> Baseline {
        Baseline {
            model: JobKind::Lr,
            auc,
            ks: 0.9,
            rows: 569,
            features: 30,
            train_s: 0.01,
            gap: None,
            max_gap: 0.01,
        }
    }

    #[test]
    fn the_line_judges_the_gap_and_shows_equal_models_as_equal() {
        let equal = baseline(0.98473707664884);
        assert!(
            equal
                .line(JobKind::Lr, Some(0.98473707664885))
                .contains("Δ 0.0000 (within the 0.01 --max-gap allows)")
        );
        assert!(
            baseline(0.99)
                .line(JobKind::Lr, Some(0.97))
                .contains("Δ 0.0200 (more than the 0.01 --max-gap allows)")
        );
        assert!(
            baseline(0.99)
                .line(JobKind::Sbt, Some(0.95))
                .contains("(not judged: different models)")
        );
    }
}
