//! The steps of a lab of local processes (`up --local`): check the host, install FATE's
//! packages once, start a RabbitMQ node per party, start the nginx that routes between the
//! parties, start a FATE Flow per party. What they share: the lab's directories, its record of
//! processes, and the question "is this recorded process still ours and running".

mod brokers;
mod checks;
mod health;
mod packages;
pub(super) mod probe;
mod proxy;
mod servers;

pub use brokers::Brokers;
pub use checks::{LocalChecks, report};
pub use health::{party_problems, processes};
pub use packages::Packages;
pub use proxy::Proxy;
pub use servers::Servers;

use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::host::local_lab::LabDirs;
use crate::host::process::{self, Started, Stopped};
use crate::model::local::{LocalRecord, PortScheme, ProcessRecord, Role};

/// How long a process may take to end on SIGTERM before SIGKILL (a broker's clean stop takes
/// about 8 s).
const GRACE: Duration = Duration::from_secs(20);

fn scheme(ctx: &Ctx) -> PortScheme {
    ctx.spec
        .local()
        .or_else(|| ctx.record().local.map(|l| PortScheme { base: l.port_base }))
        .unwrap_or(PortScheme {
            base: crate::model::local::DEFAULT_PORT_BASE,
        })
}

fn dirs(ctx: &Ctx) -> LabDirs {
    LabDirs::new(&ctx.state_dir)
}

/// The recorded process of `role`, if any (alive or not).
fn recorded(ctx: &Ctx, role: Role) -> Option<ProcessRecord> {
    ctx.record().local?.process(role).cloned()
}

/// The recorded process of `role` while it still runs.
fn running(ctx: &Ctx, role: Role) -> Option<ProcessRecord> {
    recorded(ctx, role).filter(process::alive)
}

/// The recorded processes of this lab of a kind, alive or not.
fn recorded_all(ctx: &Ctx, pick: impl Fn(&Role) -> bool) -> Vec<ProcessRecord> {
    ctx.record()
        .local
        .map(|l| {
            l.processes
                .into_values()
                .filter(|p| pick(&p.role))
                .collect()
        })
        .unwrap_or_default()
}

fn local_record(r: &mut crate::model::record::LabRecord, base: u16) -> &mut LocalRecord {
    r.local.get_or_insert_with(|| LocalRecord {
        port_base: base,
        ..LocalRecord::default()
    })
}

/// Records a process the moment it started: a run killed after this still knows it.
fn remember(
    ctx: &Ctx,
    role: Role,
    started: Started,
    program: &std::path::Path,
    ports: Vec<u16>,
) -> Result<ProcessRecord> {
    let rec = ProcessRecord {
        role,
        pid: started.pid,
        started: started.started,
        program: program.to_path_buf(),
        ports,
        log: dirs(ctx).log(role),
    };
    let base = scheme(ctx).base;
    ctx.update_record(|r| {
        local_record(r, base)
            .processes
            .insert(role.key(), rec.clone());
    })?;
    Ok(rec)
}

/// A process of `role` that a run killed between starting it and recording it left behind: its
/// pidfile names it, it still runs where it was started, and the record holds another (or none).
fn stray(ctx: &Ctx, role: Role) -> Option<ProcessRecord> {
    let d = dirs(ctx);
    let s = d.started(role)?;
    let known = recorded(ctx, role).is_some_and(|p| p.pid == s.pid && p.started == s.started);
    (!known).then(|| ProcessRecord {
        role,
        pid: s.pid,
        started: s.started,
        program: std::fs::read_link(format!("/proc/{}/exe", s.pid)).unwrap_or_default(),
        ports: vec![],
        log: d.log(role),
    })
}

/// Every stray of the lab (see [`stray`]), whatever its role.
fn strays(ctx: &Ctx) -> Vec<ProcessRecord> {
    dirs(ctx)
        .roles()
        .into_iter()
        .filter_map(|role| stray(ctx, role))
        .collect()
}

/// What `observe` says of a process of `role` that does not run: the recorded one ended, or
/// an interrupted run left one unrecorded (stopped before the new one starts).
fn not_running(ctx: &Ctx, role: Role) -> String {
    match (stray(ctx, role), recorded(ctx, role)) {
        (Some(s), _) => format!(
            " (first stopping {}, which an interrupted fatelab run started and did not record)",
            process::describe(s.pid)
        ),
        (None, Some(p)) => format!(" (pid {} has ended)", p.pid),
        (None, None) => String::new(),
    }
}

/// Stops the recorded process of `role` (only if it is still the one fatelab started) and any
/// stray of that role, and forgets them.
async fn stop(ctx: &Ctx, role: Role) -> Result<Option<Stopped>> {
    let stray = stray(ctx, role);
    if let Some(s) = &stray {
        let who = process::describe(s.pid);
        process::stop(s, GRACE).await?;
        ctx.ui.println(format!(
            "    stopped {who}, {}, which an interrupted fatelab run started and did not record",
            role.describe()
        ));
    }
    let Some(p) = recorded(ctx, role) else {
        return Ok(stray.map(|_| Stopped::Stopped));
    };
    let how = process::stop(&p, GRACE).await?;
    ctx.update_record(|r| {
        if let Some(l) = r.local.as_mut() {
            l.processes.remove(&role.key());
        }
    })?;
    Ok(Some(how))
}

/// The last lines of a process's output, for an error that says why it did not come up.
fn tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits for `ready` to answer Ok, while the process runs, until the run's deadline.
async fn wait_ready<F, Fut>(ctx: &Ctx, p: &ProcessRecord, ready: F) -> Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let deadline = ctx.deadline();
    loop {
        let last = match ready().await {
            Ok(()) => return Ok(()),
            Err(e) => format!("{e:#}"),
        };
        if !process::alive(p) {
            anyhow::bail!(
                "{} (pid {}) ended while starting; the end of its output ({}):\n{}",
                p.role.describe(),
                p.pid,
                p.log.display(),
                tail(&p.log, 15)
            );
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "{} (pid {}) did not answer in time: {last}; its output: {}",
                p.role.describe(),
                p.pid,
                p.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
