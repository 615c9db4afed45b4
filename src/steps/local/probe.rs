//! The federation of a local lab, hop by hop, from the host: the route table each party's FATE
//! Flow reads (`conf/rabbitmq_route_table.yaml`), whether the other party's RabbitMQ node runs
//! and answers as itself, and whether its AMQP port accepts a connection.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::super::Ctx;
use super::{health, servers};
use crate::model::local::Role;
use crate::model::probe::{Crossing, Hop, ProbeReport, Route, route_problem};

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

fn declared(to: &crate::model::spec::Party) -> Route {
    Route {
        ip: "127.0.0.1".into(),
        port: to.ports.rollsite,
    }
}

fn fix() -> String {
    "`fatelab up --local` starts what is missing and writes every party's route table again; `fatelab status` shows each process".into()
}

pub async fn probe(ctx: &Ctx) -> ProbeReport {
    let ids: Vec<u32> = ctx.spec.parties.iter().map(|p| p.id).collect();
    let brokers = health::of_roles(
        ctx,
        &ids.iter().map(|&id| Role::Broker(id)).collect::<Vec<_>>(),
    )
    .await;
    let broker_problem: BTreeMap<u32, Option<String>> = ids
        .iter()
        .zip(brokers)
        .map(|(&id, b)| (id, (!b.healthy).then_some(b.detail)))
        .collect();
    let mut crossings = Vec::new();
    for from in &ctx.spec.parties {
        let table = table(ctx, from.id);
        for to in ctx.spec.parties.iter().filter(|b| b.id != from.id) {
            let declared = declared(to);
            let c = match &table {
                Err(e) => Crossing::failed(from.id, to.id, Hop::Inside, e.clone(), fix()),
                Ok(t) => match route_problem(t, "FATE Flow", from.id, to.id, &declared) {
                    Some(p) => Crossing::failed(from.id, to.id, Hop::Route, p, fix()),
                    None => match &broker_problem[&to.id] {
                        Some(p) => Crossing::failed(from.id, to.id, Hop::Ready, p.clone(), fix()),
                        None => match tokio::time::timeout(
                            Duration::from_secs(3),
                            tokio::net::TcpStream::connect(("127.0.0.1", declared.port)),
                        )
                        .await
                        {
                            Ok(Ok(_)) => Crossing::passed(from.id, to.id),
                            Ok(Err(e)) => Crossing::failed(
                                from.id,
                                to.id,
                                Hop::Connect,
                                format!("{declared} refused ({e})"),
                                fix(),
                            ),
                            Err(_) => Crossing::failed(
                                from.id,
                                to.id,
                                Hop::Connect,
                                format!("{declared} does not answer within 3s"),
                                fix(),
                            ),
                        },
                    },
                },
            };
            crossings.push(c);
        }
    }
    ProbeReport::new("rabbitmq", ids.clone(), ids, crossings)
}
