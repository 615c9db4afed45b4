//! Step 5 of a local lab: each party's FATE Flow server — its own environment, `init` into its own
//! home, its conf (standalone computing and storage, RabbitMQ federation through its own broker
//! with every party's broker in its route table, the lab's nginx as its proxy), started, and
//! healthy when `GET /v2/server/fateflow` answers code 0 and its site says its own party.

use anyhow::{Context, Result};

use super::super::{Ctx, Diff, Outcome, Step, StepPlan};
use super::{dirs, not_running, recorded_all, remember, running, scheme, stop, strays, wait_ready};
use crate::host::local_lab::{self, write_private};
use crate::host::python::{PartyEnv, SharedEnv};
use crate::model::local::Role;
use crate::model::spec::Party;
use crate::model::step::StepName;
use crate::render::local::{ServiceConf, route_table, service_conf};
use crate::ui::StepLine;

pub struct Servers;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Its environment and home are made anew (FATE Flow's init), then it starts.
    Make,
    /// Its conf changed: written, and the server started again.
    Restart,
    Start,
    /// Only the route table changed: FATE Flow reads it for every new task.
    Routes,
    Stop,
}

pub struct Observed {
    acts: Vec<(u32, Act)>,
}

fn env_of(ctx: &Ctx, id: u32) -> PartyEnv {
    PartyEnv {
        dir: dirs(ctx).party_env(id),
    }
}

fn conf_file(ctx: &Ctx, id: u32) -> std::path::PathBuf {
    dirs(ctx).party_home(id).join("conf/service_conf.yaml")
}

pub(super) fn routes_file(ctx: &Ctx, id: u32) -> std::path::PathBuf {
    dirs(ctx)
        .party_home(id)
        .join("conf/rabbitmq_route_table.yaml")
}

fn routes(ctx: &Ctx) -> String {
    let brokers: Vec<(u32, u16)> = ctx
        .spec
        .parties
        .iter()
        .map(|p| (p.id, p.ports.rollsite))
        .collect();
    route_table(&brokers)
}

/// The conf as it should be, from the conf on disk (what `init` wrote, or a previous run).
fn wanted_conf(ctx: &Ctx, id: u32, now: &str) -> Result<String> {
    let password = dirs(ctx).existing_password()?;
    service_conf(
        now,
        &ServiceConf {
            party: id,
            ports: &ctx.spec.local_ports(id).expect("a local party"),
            proxy: scheme(ctx).proxy(),
            broker_password: password.expose(),
        },
    )
}

/// Party `id`'s FATE Flow answers, and as party `id`.
pub(super) async fn answers(ctx: &Ctx, id: u32) -> Result<()> {
    let flow = ctx.fate_flow(id).await?;
    flow.server_answers().await?;
    let party = flow.site_party().await?;
    anyhow::ensure!(
        party == id.to_string(),
        "the server on its port says it is party {party}"
    );
    Ok(())
}

async fn act_for(ctx: &Ctx, party: &Party) -> Option<(Act, String)> {
    let id = party.id;
    let http = party.ports.http;
    let conf_now = std::fs::read_to_string(conf_file(ctx, id)).ok();
    if env_of(ctx, id).site_packages().is_none() || conf_now.is_none() {
        return Some((
            Act::Make,
            format!(
                "make party {id}'s FATE Flow (its own environment, init into its home) and start it on 127.0.0.1:{http}"
            ),
        ));
    }
    let conf_ok = conf_now
        .as_deref()
        .and_then(|c| wanted_conf(ctx, id, c).ok().map(|w| w == c))
        .unwrap_or(false);
    let Some(p) = running(ctx, Role::FateFlow(id)) else {
        let why = not_running(ctx, Role::FateFlow(id));
        return Some((
            Act::Start,
            format!("start party {id}'s FATE Flow on 127.0.0.1:{http}{why}"),
        ));
    };
    if !conf_ok {
        return Some((
            Act::Restart,
            format!(
                "write party {id}'s FATE Flow conf and restart it (pid {})",
                p.pid
            ),
        ));
    }
    if let Err(e) = answers(ctx, id).await {
        return Some((
            Act::Restart,
            format!("restart party {id}'s FATE Flow (pid {}): {e:#}", p.pid),
        ));
    }
    if std::fs::read_to_string(routes_file(ctx, id)).ok() != Some(routes(ctx)) {
        return Some((
            Act::Routes,
            format!("give party {id}'s FATE Flow the lab's broker route table"),
        ));
    }
    None
}

/// Writes the party's conf (from what is on disk) and its route table.
fn write_conf(ctx: &Ctx, id: u32) -> Result<()> {
    let path = conf_file(ctx, id);
    let now =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    // It holds the broker password.
    write_private(&path, &wanted_conf(ctx, id, &now)?)?;
    std::fs::write(routes_file(ctx, id), routes(ctx))?;
    Ok(())
}

async fn start(ctx: &Ctx, id: u32) -> Result<crate::model::local::ProcessRecord> {
    let role = Role::FateFlow(id);
    stop(ctx, role).await?;
    let env = env_of(ctx, id);
    let site = env
        .site_packages()
        .context("the party's environment is not complete")?;
    let started = local_lab::start_fate_flow(&env.python(), &site, &dirs(ctx), id)?;
    let ports = ctx.spec.local_ports(id).expect("a local party");
    remember(
        ctx,
        role,
        started,
        &env.python(),
        vec![ports.http, ports.grpc],
    )
}

impl Step for Servers {
    type Observed = Observed;

    fn name(&self) -> StepName {
        StepName::Parties
    }

    fn title(&self) -> &'static str {
        "Start each party's FATE Flow (own environment and home, RabbitMQ federation)"
    }

    fn watched(&self) -> bool {
        true
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Observed>> {
        let found =
            futures::future::join_all(ctx.spec.parties.iter().map(|p| act_for(ctx, p))).await;
        let mut acts = Vec::new();
        let mut changes = Vec::new();
        for (p, f) in ctx.spec.parties.iter().zip(found) {
            if let Some((act, said)) = f {
                acts.push((p.id, act));
                changes.push(said);
            }
        }
        for p in recorded_all(ctx, |r| matches!(r, Role::FateFlow(_))) {
            if let Role::FateFlow(id) = p.role
                && ctx.spec.party(id).is_none()
            {
                acts.push((id, Act::Stop));
                changes.push(format!(
                    "stop party {id}'s FATE Flow and remove its home (no longer in the lab)"
                ));
            }
        }
        let summary = format!(
            "{} FATE Flow servers answer, each as its party",
            ctx.spec.parties.len()
        );
        Ok(Diff::new(changes, summary, Observed { acts }))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Observed>) -> Result<()> {
        let shared = SharedEnv::in_cache(&ctx.opts.cache_dir);
        let d = dirs(ctx);
        let mut started = Vec::new();
        for (id, act) in diff.observed.acts {
            let role = Role::FateFlow(id);
            match act {
                Act::Stop => {
                    stop(ctx, role).await?;
                    let _ = std::fs::remove_dir_all(d.of(role));
                    line.note(format!("stopped party {id}'s FATE Flow"));
                }
                Act::Routes => {
                    std::fs::write(routes_file(ctx, id), routes(ctx))?;
                    line.note(format!("party {id}'s route table lists every broker"));
                }
                Act::Make => {
                    stop(ctx, role).await?;
                    let home = d.party_home(id);
                    let _ = std::fs::remove_dir_all(&home);
                    let env = shared.party_env(&d.party_env(id)).await?;
                    let http = ctx.spec.local_ports(id).expect("a local party").http;
                    env.init(&home, http).await?;
                    write_conf(ctx, id)?;
                    started.push((id, start(ctx, id).await?));
                }
                Act::Restart | Act::Start => {
                    write_conf(ctx, id)?;
                    started.push((id, start(ctx, id).await?));
                }
            }
        }
        let waits = started.iter().map(|(id, p)| async move {
            wait_ready(ctx, p, || answers(ctx, *id)).await?;
            line.note(format!(
                "party {id}'s FATE Flow answers on 127.0.0.1:{} (pid {})",
                p.ports[0], p.pid
            ));
            anyhow::Ok(())
        });
        for r in futures::future::join_all(waits).await {
            r?;
        }
        Ok(())
    }

    /// Where each party is, once this step changed something.
    async fn epilogue(&self, ctx: &Ctx) -> Vec<String> {
        let d = dirs(ctx);
        let mut lines: Vec<String> = ctx
            .spec
            .parties
            .iter()
            .map(|p| {
                let ports = ctx.spec.local_ports(p.id).expect("a local party");
                format!(
                    "party {}: FATE Flow http://127.0.0.1:{} (jobs' logs in {}), RabbitMQ AMQP :{}, management :{}",
                    p.id,
                    ports.http,
                    d.party_home(p.id).join("logs").display(),
                    ports.amqp,
                    ports.management
                )
            })
            .collect();
        lines.push(
            "`fatelab test --job lr` trains between the first two; `fatelab status` shows every process; `fatelab down` stops them"
                .into(),
        );
        lines
    }

    async fn undo(&self, ctx: &Ctx, _line: &StepLine) -> Result<Outcome> {
        let is_server = |r: &Role| matches!(r, Role::FateFlow(_));
        let mut servers: Vec<Role> = recorded_all(ctx, is_server)
            .into_iter()
            .chain(strays(ctx).into_iter().filter(|p| is_server(&p.role)))
            .map(|p| p.role)
            .collect();
        servers.sort();
        servers.dedup();
        if servers.is_empty() {
            return Ok(Outcome::AlreadyDone("no FATE Flow is on record".into()));
        }
        let stops = futures::future::join_all(servers.iter().map(|&role| stop(ctx, role))).await;
        for (&role, s) in servers.iter().zip(stops) {
            s?;
            let _ = std::fs::remove_dir_all(dirs(ctx).of(role));
        }
        Ok(Outcome::Done)
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let mut actions = Vec::new();
        for p in &ctx.spec.parties {
            actions.push(format!(
                "party {}: a venv of its own (FATE Flow copied, the shared packages read through a .pth), \
                 `fate_flow init` into its home, conf: standalone computing and storage, rabbitmq federation \
                 (replication, its broker :{}), proxy nginx :{}; start it on 127.0.0.1:{} (gRPC :{}) and wait for \
                 GET /v2/server/fateflow code 0",
                p.id,
                p.ports.rollsite,
                scheme(ctx).proxy(),
                p.ports.http,
                p.ports.grpc
            ));
        }
        Ok(StepPlan {
            actions,
            files: vec![crate::render::RenderedFile {
                name: "rabbitmq_route_table.yaml".into(),
                contents: routes(ctx),
            }],
        })
    }
}
