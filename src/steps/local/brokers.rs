//! Step 3 of a local lab: one RabbitMQ node per party (its own node name, base, database and
//! Erlang cookie in the lab's state; every listener on 127.0.0.1; the federation plugin; FATE's
//! admin user with a generated password), and the lab's own epmd for them.

use std::time::Duration;

use anyhow::{Context, Result};

use super::super::{Ctx, Diff, Outcome, Step, StepPlan};
use super::{
    dirs, not_running, recorded, recorded_all, remember, running, scheme, stop, strays, wait_ready,
};
use crate::clients::rabbitmq::{Management, Overview};
use crate::host::local_lab::{self, write_private};
use crate::model::local::{LocalPorts, Role};
use crate::model::step::StepName;
use crate::render::local::{BROKER_USER, ENABLED_PLUGINS, rabbitmq_conf};
use crate::ui::StepLine;

pub struct Brokers;

/// What to do with one process of this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Start,
    /// It runs but is not as declared (another conf, or no answer): stop it, then start it.
    Restart,
    /// It runs and has not answered yet: give it until the deadline, else restart it.
    Await,
    /// No longer in the lab.
    Stop,
}

pub struct Observed {
    acts: Vec<(Role, Act)>,
}

/// The management API of party `id`'s node, as FATE's admin user.
pub(super) fn management(ctx: &Ctx, id: u32) -> Result<Management> {
    let password = dirs(ctx).existing_password()?;
    Management::new(
        ports_of(ctx, id).management,
        BROKER_USER,
        password,
        Duration::from_secs(5),
    )
}

fn node_name(id: u32) -> String {
    format!("rabbit{id}@localhost")
}

/// Party `id`'s node answers on its port under its own name.
pub(super) async fn answers_as(m: &Management, id: u32) -> Result<Overview> {
    let o = m.overview().await?;
    anyhow::ensure!(
        o.node == node_name(id),
        "another node ({}) answers on party {id}'s port",
        o.node
    );
    Ok(o)
}

/// (Re)starts party `id`'s node with its conf and plugins written first; recorded at once.
async fn start_broker(
    ctx: &Ctx,
    server: &std::path::Path,
    id: u32,
) -> Result<crate::model::local::ProcessRecord> {
    let role = Role::Broker(id);
    stop(ctx, role).await?;
    let d = dirs(ctx);
    let ports = ports_of(ctx, id);
    let dir = d.of(role);
    write_private(
        &dir.join("rabbitmq.conf"),
        &rabbitmq_conf(&ports, d.broker_password()?.expose()),
    )?;
    std::fs::write(dir.join("enabled_plugins"), ENABLED_PLUGINS)?;
    let started = local_lab::start_broker(server, &d, id, &ports, scheme(ctx).epmd())?;
    remember(
        ctx,
        role,
        started,
        server,
        vec![ports.amqp, ports.management, ports.dist],
    )
}

fn conf_now(ctx: &Ctx, id: u32) -> Option<String> {
    std::fs::read_to_string(dirs(ctx).of(Role::Broker(id)).join("rabbitmq.conf")).ok()
}

fn ports_of(ctx: &Ctx, id: u32) -> LocalPorts {
    ctx.spec.local_ports(id).expect("a party of a local lab")
}

impl Step for Brokers {
    type Observed = Observed;

    fn name(&self) -> StepName {
        StepName::Brokers
    }

    fn title(&self) -> &'static str {
        "Start each party's RabbitMQ node (federation plugin, 127.0.0.1 only)"
    }

    fn watched(&self) -> bool {
        true
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Observed>> {
        let s = scheme(ctx);
        let mut acts = Vec::new();
        let mut changes = Vec::new();
        match running(ctx, Role::Epmd) {
            None => {
                acts.push((Role::Epmd, Act::Start));
                changes.push(format!("start the brokers' epmd on 127.0.0.1:{}", s.epmd()));
            }
            Some(p) if p.ports != [s.epmd()] => {
                acts.push((Role::Epmd, Act::Restart));
                changes.push(format!(
                    "start the brokers' epmd again, on 127.0.0.1:{} (the lab's ports moved)",
                    s.epmd()
                ));
            }
            Some(_) => {}
        }
        let password = dirs(ctx).existing_password().ok();
        for party in &ctx.spec.parties {
            let role = Role::Broker(party.id);
            let ports = ports_of(ctx, party.id);
            let Some(p) = running(ctx, role) else {
                let why = not_running(ctx, role);
                acts.push((role, Act::Start));
                changes.push(format!(
                    "start party {}'s RabbitMQ node{why}: AMQP 127.0.0.1:{}, management :{}",
                    party.id, ports.amqp, ports.management
                ));
                continue;
            };
            let wanted = password
                .as_ref()
                .map(|pw| rabbitmq_conf(&ports, pw.expose()));
            if conf_now(ctx, party.id) != wanted {
                acts.push((role, Act::Restart));
                changes.push(format!(
                    "restart party {}'s RabbitMQ node (pid {}) with its new ports",
                    party.id, p.pid
                ));
                continue;
            }
            let answer = match management(ctx, party.id) {
                Ok(m) => m.overview().await,
                Err(e) => Err(e),
            };
            match answer {
                Ok(o) if o.node == node_name(party.id) => {}
                Ok(o) => {
                    acts.push((role, Act::Restart));
                    changes.push(format!(
                        "restart party {}'s RabbitMQ node: its port answers as node {}",
                        party.id, o.node
                    ));
                }
                Err(e) => {
                    acts.push((role, Act::Await));
                    changes.push(format!(
                        "wait for party {}'s RabbitMQ node (pid {}; {e:#}), restart it if it does not answer",
                        party.id, p.pid
                    ));
                }
            }
        }
        for p in recorded_all(ctx, |r| matches!(r, Role::Broker(_))) {
            if let Role::Broker(id) = p.role
                && ctx.spec.party(id).is_none()
            {
                acts.push((p.role, Act::Stop));
                changes.push(format!(
                    "stop party {id}'s RabbitMQ node (no longer in the lab)"
                ));
            }
        }
        let summary = format!(
            "{} RabbitMQ nodes answer (epmd on :{})",
            ctx.spec.parties.len(),
            s.epmd()
        );
        Ok(Diff::new(changes, summary, Observed { acts }))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Observed>) -> Result<()> {
        let programs = local_lab::programs();
        let server = programs
            .rabbitmq_server
            .clone()
            .context("rabbitmq-server is not installed (`fatelab doctor --local` says how)")?;
        let d = dirs(ctx);
        let s = scheme(ctx);
        let mut waits = Vec::new();
        for (role, act) in diff.observed.acts {
            match (role, act) {
                (Role::Epmd, _) => {
                    let epmd = programs.epmd.clone().context("epmd is not on PATH")?;
                    let _ = stop(ctx, Role::Epmd).await?;
                    let started = local_lab::start_epmd(&epmd, &d, s.epmd())?;
                    remember(ctx, Role::Epmd, started, &epmd, vec![s.epmd()])?;
                    line.note(format!("epmd runs on 127.0.0.1:{}", s.epmd()));
                }
                (Role::Broker(id), Act::Stop) => {
                    stop(ctx, role).await?;
                    let _ = std::fs::remove_dir_all(d.of(role));
                    line.note(format!("stopped party {id}'s RabbitMQ node"));
                }
                (Role::Broker(id), Act::Await) => {
                    waits.push((id, recorded(ctx, role).expect("observed running"), true))
                }
                (Role::Broker(id), Act::Start | Act::Restart) => {
                    waits.push((id, start_broker(ctx, &server, id).await?, false));
                }
                _ => {}
            }
        }
        for (id, p, may_restart) in waits {
            // One client for the whole wait, not one per poll.
            let m = &management(ctx, id)?;
            let ready = || async move { answers_as(m, id).await.map(|_| ()) };
            let waited = wait_ready(ctx, &p, ready).await;
            match waited {
                Ok(()) => line.note(format!(
                    "party {id}'s RabbitMQ node answers (pid {}, AMQP :{})",
                    p.pid,
                    ports_of(ctx, id).amqp
                )),
                Err(e) if may_restart => {
                    line.say(format!("party {id}'s RabbitMQ node: {e:#}; restarting it"));
                    let p = start_broker(ctx, &server, id).await?;
                    wait_ready(ctx, &p, ready).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn undo(&self, ctx: &Ctx, _line: &StepLine) -> Result<Outcome> {
        let brokers = recorded_all(ctx, |r| matches!(r, Role::Broker(_)));
        let epmd = recorded(ctx, Role::Epmd);
        if brokers.is_empty() && epmd.is_none() && !dirs(ctx).root.exists() {
            return Ok(Outcome::AlreadyDone("no broker is on record".into()));
        }
        // Whatever an interrupted run left unrecorded goes with the directory that names it.
        let mut roles: Vec<Role> = brokers.iter().map(|p| p.role).collect();
        roles.extend(strays(ctx).into_iter().map(|p| p.role));
        roles.sort();
        roles.dedup();
        let stops = futures::future::join_all(roles.iter().map(|&role| stop(ctx, role))).await;
        for s in stops {
            s?;
        }
        stop(ctx, Role::Epmd).await?;
        // The last of the lab's processes are gone: so goes its directory (and its password).
        let root = dirs(ctx).root;
        match std::fs::remove_dir_all(&root) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", root.display())),
        }
        Ok(Outcome::Done)
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let s = scheme(ctx);
        let mut actions = vec![format!(
            "start epmd on 127.0.0.1:{} (the lab's own, not the system's 4369)",
            s.epmd()
        )];
        for party in &ctx.spec.parties {
            let p = ports_of(ctx, party.id);
            actions.push(format!(
                "party {}: RabbitMQ node rabbit{}@localhost, AMQP 127.0.0.1:{}, management :{}, distribution :{}; \
                 plugins management + federation; user {BROKER_USER} with a generated password (0600, never shown); \
                 wait until its management API answers",
                party.id, party.id, p.amqp, p.management, p.dist
            ));
        }
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}
