//! Each process of a local lab, as `status` reports it: still the one fatelab started, and
//! answering (the broker's management API, FATE Flow's server query and site, a TCP accept).

use super::super::Ctx;
use super::{dirs, recorded, scheme};
use crate::clients::rabbitmq::Management;
use crate::host::process;
use crate::model::local::Role;
use crate::model::status::ProcessStatus;
use crate::render::local::BROKER_USER;

async fn answers(ctx: &Ctx, role: Role) -> anyhow::Result<String> {
    let s = scheme(ctx);
    match role {
        Role::Epmd | Role::Proxy => {
            let port = if role == Role::Epmd {
                s.epmd()
            } else {
                s.proxy()
            };
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            Ok(format!("accepts on 127.0.0.1:{port}"))
        }
        Role::Broker(id) => {
            let port = ctx
                .spec
                .local_ports(id)
                .map(|p| p.management)
                .unwrap_or_default();
            let m = Management::new(
                port,
                BROKER_USER,
                dirs(ctx).existing_password()?,
                std::time::Duration::from_secs(5),
            )?;
            let o = m.overview().await?;
            Ok(format!("RabbitMQ {} node {}", o.rabbitmq_version, o.node))
        }
        Role::FateFlow(id) => {
            let flow = ctx.fate_flow(id).await?;
            flow.server_answers().await?;
            let party = flow.site_party().await?;
            anyhow::ensure!(party == id.to_string(), "it says it is party {party}");
            Ok(format!("FATE Flow answers as party {party}"))
        }
    }
}

/// Every process the lab should have, in the order `up` starts them.
pub async fn processes(ctx: &Ctx) -> Vec<ProcessStatus> {
    let mut roles = vec![Role::Epmd];
    roles.extend(ctx.spec.parties.iter().map(|p| Role::Broker(p.id)));
    roles.push(Role::Proxy);
    roles.extend(ctx.spec.parties.iter().map(|p| Role::FateFlow(p.id)));
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
