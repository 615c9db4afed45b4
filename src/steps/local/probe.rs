//! The federation of a local lab, hop by hop, from the host: the route table each party's FATE
//! Flow reads (`conf/rabbitmq_route_table.yaml`), whether the other party's RabbitMQ node runs
//! and answers as itself, and whether its AMQP port accepts a connection.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::super::Ctx;
use super::{health, servers};
use crate::clients::tcp;
use crate::model::local::Role;
use crate::model::probe::{Crossing, Hop, ProbeReport, Route, route_problem};
use crate::model::spec::Party;

/// The longest a connection to a broker's AMQP port may take to be accepted.
const DIAL: Duration = Duration::from_secs(3);

#[derive(Deserialize)]
struct Entry {
    host: String,
    port: u16,
}

/// The routes in party `id`'s table, keyed by party as the probe's tables are.
fn table(ctx: &Ctx, id: u32) -> Result<BTreeMap<String, Route>, String> {
    let path = servers::routes_file(ctx, id);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let entries: BTreeMap<String, Entry> = serde_saphyr::from_str(&text)
        .map_err(|e| format!("{} is not a route table: {e}", path.display()))?;
    Ok(entries
        .into_iter()
        .map(|(k, e)| {
            (
                k,
                Route {
                    ip: e.host,
                    port: e.port,
                },
            )
        })
        .collect())
}

/// What is wrong with the routes party `id`'s FATE Flow reads, one line per party.
pub fn stale_routes(ctx: &Ctx, id: u32) -> Vec<String> {
    match table(ctx, id) {
        Err(e) => vec![e],
        Ok(t) => ctx
            .spec
            .parties
            .iter()
            .filter(|b| b.id != id)
            .filter_map(|b| route_problem(&t, "FATE Flow", id, b.id, &declared(b)))
            .collect(),
    }
}

fn declared(to: &Party) -> Route {
    Route {
        ip: "127.0.0.1".into(),
        port: to.ports.rollsite,
    }
}

fn fix() -> String {
    "`fatelab up --local` starts what is missing and writes every party's route table again; `fatelab status` shows each process".into()
}

/// One crossing: the route in `from`'s table, then `to`'s broker, then a connection to it.
async fn crossing(
    from: u32,
    to: &Party,
    table: &Result<BTreeMap<String, Route>, String>,
    broker_problem: Option<&String>,
) -> Crossing {
    let declared = declared(to);
    let failed = |hop, problem| Crossing::failed(from, to.id, hop, problem, fix());
    let table = match table {
        Ok(t) => t,
        Err(e) => return failed(Hop::Inside, e.clone()),
    };
    if let Some(p) = route_problem(table, "FATE Flow", from, to.id, &declared) {
        return failed(Hop::Route, p);
    }
    if let Some(p) = broker_problem {
        return failed(Hop::Ready, p.clone());
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], declared.port));
    match tcp::answers(addr, DIAL).await {
        Ok(()) => Crossing::passed(from, to.id),
        Err(why) => failed(Hop::Connect, format!("{declared}: {why}")),
    }
}

pub async fn probe(ctx: &Ctx) -> ProbeReport {
    let ids: Vec<u32> = ctx.spec.parties.iter().map(|p| p.id).collect();
    let brokers = health::of_roles(
        ctx,
        &ids.iter().map(|&id| Role::Broker(id)).collect::<Vec<_>>(),
    )
    .await;
    let broker_problem: BTreeMap<u32, String> = ids
        .iter()
        .zip(brokers)
        .filter(|(_, b)| !b.healthy)
        .map(|(&id, b)| (id, b.detail))
        .collect();
    let mut crossings = Vec::new();
    for from in &ctx.spec.parties {
        let table = table(ctx, from.id);
        for to in ctx.spec.parties.iter().filter(|b| b.id != from.id) {
            crossings.push(crossing(from.id, to, &table, broker_problem.get(&to.id)).await);
        }
    }
    ProbeReport::new("rabbitmq", ids.clone(), ids, crossings)
}
