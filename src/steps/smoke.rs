//! Step 9: prove the lab works with FATE's toy federated job (what `fatelab test` runs).

use anyhow::{Result, bail};

use super::{Ctx, Diff, Step, StepFuture, StepInfo, StepPlan};
use crate::catalog::FateFlowApi;
use crate::clients::fateflow::{FateFlow, JobResult};
use crate::spec::Party;
use crate::ui::StepLine;

pub struct Smoke;

/// Known causes for a failure message, in fatelab's words (reference §6.9).
fn known_causes(message: &str) -> Option<&'static str> {
    let m = message.to_lowercase();
    (m.contains("roll site") || m.contains("rollsite") || m.contains("unavailable") || m.contains("federated schedule error"))
        .then_some(
            "the parties cannot reach each other's rollsite: check that --ip is this host's address as pods see it, \
             that each partyList entry points at the other party's rollsite NodePort, and that no firewall blocks \
             the NodePorts (test one party alone first: guest and host the same party)",
        )
}

/// Guest and host pairs: the chosen pair, or the first party as guest with each other in turn.
pub fn pairs(parties: &[Party], guest: Option<u32>, host: Option<u32>) -> Result<Vec<(u32, u32)>> {
    let ids: Vec<u32> = parties.iter().map(|p| p.id).collect();
    for id in [guest, host].into_iter().flatten() {
        if !ids.contains(&id) {
            bail!(crate::exit::UsageError(format!(
                "party {id} is not in this lab (its parties are {ids:?})"
            )));
        }
    }
    let g = guest.unwrap_or(ids[0]);
    Ok(match host {
        Some(h) => vec![(g, h)],
        None => ids.iter().filter(|&&h| h != g).map(|&h| (g, h)).collect(),
    })
}

/// Runs the toy job for each pair through the guest's FATE Flow and records the results.
pub async fn run_jobs(
    ctx: &Ctx<'_>,
    pairs: &[(u32, u32)],
    line: &StepLine,
) -> Result<Vec<JobResult>> {
    let client = ctx.kube().await?;
    let mut results = Vec::new();
    for &(guest, host) in pairs {
        let ns = format!("fate-{guest}");
        let flow = FateFlow::new(client.clone(), &ns, ctx.spec.release.fate_flow_api);
        let result = flow
            .run_toy(guest, &[host], ctx.wait_timeout(), |p| {
                line.note(format!("guest {guest}, host {host}: {p}"))
            })
            .await;
        let mut result = match result {
            Ok(r) => r,
            Err(e) => JobResult {
                guest,
                hosts: vec![host],
                job_id: None,
                status: "failed".into(),
                duration_s: 0.0,
                error: Some(format!("{e:#}")),
            },
        };
        if let Some(e) = result.error.as_mut()
            && let Some(hint) = known_causes(e)
        {
            e.push_str(&format!("\nLikely cause: {hint}"));
        }
        line.say(describe(ctx, &result));
        results.push(result);
    }
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ok = results.iter().all(JobResult::success);
    ctx.update_record(|r| {
        r.last_test = Some(serde_json::json!({"at": at, "ok": ok, "jobs": results}));
    })?;
    Ok(results)
}

/// One line per job: its ID, status, duration, and where to look at it.
pub fn describe(ctx: &Ctx, r: &JobResult) -> String {
    let party = ctx.spec.parties.iter().find(|p| p.id == r.guest);
    let board = party
        .map(|p| {
            let (_, fateboard) = ctx.spec.hostnames(p);
            format!(
                "http://{fateboard}/#/dashboard?job_id={}&role=guest&party_id={}",
                r.job_id.as_deref().unwrap_or(""),
                r.guest
            )
        })
        .unwrap_or_default();
    let head = format!(
        "toy job guest {} / host {}: {} {} in {:.1}s",
        r.guest,
        r.hosts
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        r.job_id.as_deref().unwrap_or("(not submitted)"),
        r.status,
        r.duration_s
    );
    match &r.error {
        None => format!("{head}; FATE Board: {board}"),
        Some(e) => format!("{head}: {e}"),
    }
}

/// "proven at <time>, job <id>" when the record's last test passed for exactly these pairs.
fn proven(ctx: &Ctx, pairs: &[(u32, u32)]) -> Option<String> {
    let last = ctx.record().last_test?;
    if last["ok"] != true {
        return None;
    }
    let jobs: Vec<JobResult> = serde_json::from_value(last["jobs"].clone()).ok()?;
    let tested: Vec<(u32, u32)> = jobs
        .iter()
        .flat_map(|j| j.hosts.iter().map(move |h| (j.guest, *h)))
        .collect();
    if tested != pairs {
        return None;
    }
    let at = last["at"]
        .as_i64()
        .and_then(|s| k8s_openapi::jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
        .unwrap_or_else(|| "?".into());
    let ids: Vec<&str> = jobs.iter().filter_map(|j| j.job_id.as_deref()).collect();
    Some(format!(
        "proven at {at}, job {}; `fatelab test` runs it again",
        ids.join(", ")
    ))
}

/// A lab this run did not change and whose last test passed is proven already.
async fn observe(ctx: &Ctx<'_>) -> Result<Diff> {
    if ctx.opts.skip_test {
        return Ok(Diff::none("--no-test"));
    }
    let pairs = pairs(&ctx.spec.parties, None, None)?;
    if !ctx.changed()
        && let Some(why) = proven(ctx, &pairs)
    {
        return Ok(Diff::none(why));
    }
    let changes = pairs
        .iter()
        .map(|(g, h)| format!("run the toy job with guest {g} and host {h}"))
        .collect();
    Ok(Diff::new(changes, "", pairs))
}

async fn converge(ctx: &Ctx<'_>, line: &StepLine, diff: Diff) -> Result<()> {
    if diff.is_empty() {
        return Ok(());
    }
    let pairs = diff.observation::<Vec<(u32, u32)>>();
    let results = run_jobs(ctx, &pairs, line).await?;
    if let Some(bad) = results.iter().find(|r| !r.success()) {
        bail!("the toy job failed: {}", describe(ctx, bad));
    }
    Ok(())
}

impl Step for Smoke {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "test",
            title: "Run FATE's toy federated job between the parties",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = ctx.spec;
        let guest = &spec.parties[0];
        let (submit, query) = match spec.release.fate_flow_api {
            FateFlowApi::V1 => (
                "POST /v1/job/submit (toy_example, work_mode 1)",
                "POST /v1/job/query until f_status is success",
            ),
            FateFlowApi::V2 => (
                "POST /v2/job/submit (toy_example dag)",
                "GET /v2/job/query until status is success",
            ),
        };
        let actions = spec.parties[1..]
            .iter()
            .map(|host| {
                format!(
                    "guest {} with host {}: {submit} to party {}'s FATE Flow (through the API server; NodePort {}), then {query}",
                    guest.id, host.id, guest.id, guest.ports.http
                )
            })
            .collect();
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }

    super::step_fns!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollsite_failure_has_a_likely_cause() {
        assert!(
            known_causes("create job failed: [Roll Site Error TransInfo] UNAVAILABLE").is_some()
        );
        assert!(known_causes("No module named 'fate'").is_none());
    }
}
