//! Each process of a local lab, as `status` reports it: still the one fatelab started, and
//! answering (the broker's management API, FATE Flow's server query and site, a TCP accept).

use super::super::Ctx;
use super::{brokers, recorded, scheme, servers};
use crate::clients::tcp;
use crate::host::process;
use crate::model::local::Role;
use crate::model::spec::Party;
use crate::model::status::ProcessStatus;

async fn answers(ctx: &Ctx, role: Role) -> anyhow::Result<String> {
    let s = scheme(ctx);
    match role {
        Role::Epmd | Role::Proxy => {
            let port = if role == Role::Epmd {
                s.epmd()
            } else {
                s.proxy()
            };
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            tcp::answers(addr, std::time::Duration::from_secs(5))
                .await
                .map_err(anyhow::Error::msg)?;
            Ok(format!("accepts on {addr}"))
        }
        Role::Broker(id) => {
            let o = brokers::answers_as(&brokers::management(ctx, id)?, id).await?;
            Ok(format!("RabbitMQ {} node {}", o.rabbitmq_version, o.node))
        }
        Role::FateFlow(id) => {
            servers::answers(ctx, id).await?;
            Ok(format!("FATE Flow answers as party {id}"))
        }
    }
}

/// Every process the lab should have, in the order `up` starts them.
pub async fn processes(ctx: &Ctx) -> Vec<ProcessStatus> {
    let mut roles = vec![Role::Epmd];
    roles.extend(ctx.spec.parties.iter().map(|p| Role::Broker(p.id)));
    roles.push(Role::Proxy);
    roles.extend(ctx.spec.parties.iter().map(|p| Role::FateFlow(p.id)));
    of_roles(ctx, &roles).await
}

/// What keeps a party of a local lab from working, in words; empty when it is healthy: its FATE
/// Flow and its broker run and answer.
pub async fn party_problems(ctx: &Ctx, party: &Party) -> Vec<String> {
    of_roles(ctx, &[Role::FateFlow(party.id), Role::Broker(party.id)])
        .await
        .into_iter()
        .filter(|p| !p.healthy)
        .map(|p| p.detail)
        .collect()
}

pub(super) async fn of_roles(ctx: &Ctx, roles: &[Role]) -> Vec<ProcessStatus> {
    let asked = roles.iter().map(|&role| async move {
        let rec = recorded(ctx, role);
        let running = rec.as_ref().is_some_and(process::alive);
        let (healthy, detail) = match (&rec, running) {
            (None, _) => (
                false,
                format!(
                    "{} is not on record; `fatelab up --local` starts it",
                    role.describe()
                ),
            ),
            (Some(p), false) => (
                false,
                format!(
                    "{} (pid {}) is not running; `fatelab up --local` starts it again",
                    role.describe(),
                    p.pid
                ),
            ),
            (Some(_), true) => match answers(ctx, role).await {
                Ok(said) => (true, said),
                Err(e) => (
                    false,
                    format!("{} runs but does not answer: {e:#}", role.describe()),
                ),
            },
        };
        let (name, party) = match role {
            Role::Epmd => ("epmd", None),
            Role::Broker(id) => ("broker", Some(id)),
            Role::Proxy => ("proxy", None),
            Role::FateFlow(id) => ("fateflow", Some(id)),
        };
        ProcessStatus {
            role: name.into(),
            party,
            pid: rec.as_ref().map(|p| p.pid),
            ports: rec.map(|p| p.ports).unwrap_or_default(),
            running,
            healthy,
            detail,
        }
    });
    futures::future::join_all(asked).await
}
