//! Judgement before anything changes: whether this host can run a lab (`fatelab doctor`, the
//! preflight step on minikube), and whether existing clusters and other organisations' parties
//! can hold one. Each check has a name, a status, what was found, and how to fix it.

pub mod cluster;
pub mod host;
pub mod local;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
    /// A failure a later step of `up` repairs by itself (a missing minikube is downloaded).
    #[serde(skip)]
    pub fixed_by_up: bool,
}

impl Check {
    fn new(
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        fix: Option<String>,
    ) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
            fix,
            fixed_by_up: false,
        }
    }
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Pass, detail, None)
    }
    pub fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(name, Status::Warn, detail, Some(fix.into()))
    }
    pub fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(name, Status::Fail, detail, Some(fix.into()))
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    /// The failures that stop `up`: not those a later step of `up` repairs, nor those `ignored`
    /// (`--ignore-check`).
    pub fn blocking(&self, ignored: &[String]) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| {
                c.status == Status::Fail && !c.fixed_by_up && !ignored.iter().any(|n| n == c.name)
            })
            .collect()
    }

    pub fn new(checks: Vec<Check>) -> Report {
        Report {
            ok: checks.iter().all(|c| c.status != Status::Fail),
            checks,
        }
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for c in &self.checks {
            let mark = match c.status {
                Status::Pass => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            s.push_str(&format!("{mark}  {:<18} {}\n", c.name, c.detail));
            if let (Some(fix), true) = (&c.fix, c.status != Status::Pass) {
                s.push_str(&format!("      {:<18} fix: {fix}\n", ""));
            }
        }
        let fails = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count();
        let warns = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .count();
        s.push_str(&if fails == 0 {
            format!("\nThis host can run the lab ({warns} warning(s)).\n")
        } else {
            format!("\n{fails} check(s) failed, {warns} warning(s): fix the failures above, then run again.\n")
        });
        s
    }
}
