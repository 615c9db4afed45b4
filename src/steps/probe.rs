//! The federation, hop by hop, as each party's own federation pod sees it: the route table it
//! has loaded (read inside the pod through the API server's `exec`), whether the other party's
//! pod is ready, and whether the other party's declared address accepts a TCP connection from
//! inside the pod (bash's `/dev/tcp` under coreutils' `timeout`: the eggroll and osx images are
//! CentOS-based and have both; FATE `build/docker-build/docker/modules/eggroll/Dockerfile`,
//! osx's `eclipse/centos_jdk8` base). A local lab is probed from the host (see
//! `super::local::probe`).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Ctx;
use crate::clients::kube::{self, ContainerState, PodView};
use crate::model::probe::{Crossing, Hop, ProbeReport, Route, parse_route_table, route_problem};
use crate::model::spec::Party;

/// The longest one TCP dial from inside a pod may take before it counts as dropped.
const DIAL_SECS: u32 = 3;
/// The longest one `exec` may take, from the upgrade to the exit status.
const EXEC_LIMIT: Duration = Duration::from_secs(15);

/// Where the chart mounts the route table in the federation container (KF@v1.6.0
/// `rollsite-module.yaml`, KF@v2.0.0 `core/osx/deployment.yaml`).
fn table_path(via: &str) -> &'static str {
    if via == "osx" {
        "/data/projects/fate/osx/conf/broker/route_table.json"
    } else {
        "/data/projects/fate/eggroll/conf/route_table/route_table.json"
    }
}

/// The address and port the lab declares for `to` in every other party's partyList.
pub fn declared(ctx: &Ctx, to: &Party) -> Route {
    Route {
        ip: ctx.spec.address(to).to_string(),
        port: to.ports.rollsite,
    }
}

fn via(ctx: &Ctx) -> String {
    ctx.spec.release.federation_module.clone()
}

/// Party `party`'s federation pod, as listed now (the chart labels it `fateMoudle=<module>`).
pub async fn federation_pod(ctx: &Ctx, party: &Party) -> Result<PodView> {
    let via = via(ctx);
    let selector = format!("name={},fateMoudle={via}", party.name());
    let pods = kube::list_pods(ctx.kube_for(party).await?, &party.namespace(), &selector).await?;
    pods.into_iter()
        .max_by_key(|p| p.is_ready())
        .with_context(|| format!("{}'s {via} pod does not exist", party.id))
}

/// Why a pod is not ready, in one word or two (`CrashLoopBackOff`, `Pending`).
fn not_ready(pod: &PodView) -> Option<String> {
    if pod.is_ready() {
        return None;
    }
    let why = pod
        .containers
        .iter()
        .filter(|c| !c.ready)
        .find_map(|c| match &c.state {
            ContainerState::Waiting { reason, .. } => Some(reason.clone()),
            ContainerState::Terminated(e) => Some(e.reason.clone()),
            _ => None,
        });
    Some(why.unwrap_or_else(|| pod.phase.clone()))
}

/// The route table inside `party`'s federation pod, read now.
async fn loaded_table(ctx: &Ctx, party: &Party, pod: &PodView) -> Result<BTreeMap<String, Route>> {
    let via = via(ctx);
    let path = table_path(&via);
    let ran = kube::exec(
        ctx.kube_for(party).await?,
        &party.namespace(),
        &pod.name,
        &via,
        &["cat", path],
        EXEC_LIMIT,
    )
    .await?;
    if ran.code != 0 {
        bail!("`cat {path}` in {} said: {}", pod.name, ran.stderr.trim());
    }
    parse_route_table(&ran.stdout).map_err(|e| anyhow::anyhow!("{path} in {}: {e}", pod.name))
}

/// What is wrong with the routes `party`'s federation pod has loaded (part (a) of the probe,
/// for `status`): one line per party it would send to the wrong place, or not at all.
pub async fn stale_routes(ctx: &Ctx, party: &Party) -> Result<Vec<String>> {
    if ctx.spec.local().is_some() {
        return Ok(super::local::probe::stale_routes(ctx, party.id));
    }
    stale_routes_in(ctx, party, &federation_pod(ctx, party).await?).await
}

/// [`stale_routes`] as `pod` (party's federation pod, already listed) sees them.
pub async fn stale_routes_in(ctx: &Ctx, party: &Party, pod: &PodView) -> Result<Vec<String>> {
    let table = loaded_table(ctx, party, pod).await?;
    let via = via(ctx);
    Ok(ctx
        .spec
        .parties
        .iter()
        .filter(|b| b.id != party.id)
        .filter_map(|b| route_problem(&table, &via, party.id, b.id, &declared(ctx, b)))
        .collect())
}

/// [`stale_routes`] of a local lab's party (its table is a file: no waiting).
pub fn local_stale_routes(ctx: &Ctx, id: u32) -> Vec<String> {
    super::local::probe::stale_routes(ctx, id)
}

/// How a dial from inside a pod ended.
enum Dial {
    Accepted,
    Refused(String),
    Dropped,
    /// The pod could not run the check at all.
    NotRun(String),
}

async fn dial(ctx: &Ctx, party: &Party, pod: &PodView, to: &Route) -> Dial {
    let script = format!("</dev/tcp/{}/{}", to.ip, to.port);
    let secs = DIAL_SECS.to_string();
    let argv = ["timeout", &secs, "bash", "-c", &script];
    let client = match ctx.kube_for(party).await {
        Ok(c) => c,
        Err(e) => return Dial::NotRun(format!("{e:#}")),
    };
    match kube::exec(
        client,
        &party.namespace(),
        &pod.name,
        &via(ctx),
        &argv,
        EXEC_LIMIT,
    )
    .await
    {
        Ok(r) if r.code == 0 => Dial::Accepted,
        // coreutils' timeout: 124 when the command ran out of time.
        Ok(r) if r.code == 124 => Dial::Dropped,
        Ok(r) if r.code == 126 || r.code == 127 => Dial::NotRun(r.stderr.trim().to_string()),
        Ok(r) => Dial::Refused(
            r.stderr
                .lines()
                .last()
                .unwrap_or("connection failed")
                .trim()
                .to_string(),
        ),
        Err(e) => Dial::NotRun(format!("{e:#}")),
    }
}

fn fix_inside(ctx: &Ctx, party: &Party) -> String {
    format!(
        "`fatelab status` says what is wrong with party {id}; `fatelab logs` collects its pods' logs (a restarted container's previous run too) and events, `kubectl -n {ns} describe pod -l fateMoudle={via}` shows the pod",
        id = party.id,
        ns = party.namespace(),
        via = via(ctx)
    )
}

fn fix_route(ctx: &Ctx, from: &Party) -> String {
    format!(
        "`fatelab up` with this lab's parties writes every partyList again and restarts {}'s {} pod when it keeps an old table",
        from.id,
        via(ctx)
    )
}

/// One row of the matrix: what `from`'s federation pod sees of every other party.
async fn row(
    ctx: &Ctx,
    from: &Party,
    pods: &BTreeMap<u32, Result<PodView, String>>,
) -> Vec<Crossing> {
    let via = via(ctx);
    let others: Vec<&Party> = ctx
        .spec
        .parties
        .iter()
        .filter(|b| b.id != from.id)
        .collect();
    let every = |hop: Hop, problem: String, fix: String| -> Vec<Crossing> {
        others
            .iter()
            .map(|b| Crossing::failed(from.id, b.id, hop, problem.clone(), fix.clone()))
            .collect()
    };
    let pod = match &pods[&from.id] {
        Ok(p) => p,
        Err(e) => return every(Hop::Inside, e.clone(), fix_inside(ctx, from)),
    };
    if let Some(why) = not_ready(pod)
        && !pod
            .containers
            .iter()
            .any(|c| c.name == via && matches!(c.state, ContainerState::Running { .. }))
    {
        return every(
            Hop::Inside,
            format!("{}'s {via} not ready: {why}", from.id),
            fix_inside(ctx, from),
        );
    }
    let table = match loaded_table(ctx, from, pod).await {
        Ok(t) => t,
        Err(e) => {
            return every(
                Hop::Inside,
                format!("cannot read {}'s {via} route table: {e:#}", from.id),
                fix_inside(ctx, from),
            );
        }
    };
    let (table, via) = (&table, &via);
    let each = others.iter().map(|b| {
        async move {
            let to = declared(ctx, b);
            if let Some(p) = route_problem(table, via, from.id, b.id, &to) {
                return Crossing::failed(from.id, b.id, Hop::Route, p, fix_route(ctx, from));
            }
            if let Some(Ok(theirs)) = pods.get(&b.id)
                && let Some(why) = not_ready(theirs)
            {
                return Crossing::failed(
                    from.id,
                    b.id,
                    Hop::Ready,
                    format!("{}'s {via} not ready: {why}", b.id),
                    fix_inside(ctx, b),
                );
            }
            match dial(ctx, from, pod, &to).await {
                Dial::Accepted => Crossing::passed(from.id, b.id),
                Dial::Refused(said) => Crossing::failed(
                    from.id,
                    b.id,
                    Hop::Connect,
                    format!("{to} refused from inside {}'s {via} pod ({said})", from.id),
                    format!(
                        "nothing accepts on {to}: check that {} is party {}'s {via} NodePort and {} the address of a node in its cluster (`fatelab status` on that side)",
                        to.port, b.id, to.ip
                    ),
                ),
                Dial::Dropped => Crossing::failed(
                    from.id,
                    b.id,
                    Hop::Connect,
                    format!(
                        "{to} does not answer within {DIAL_SECS}s from inside {}'s {via} pod",
                        from.id
                    ),
                    format!(
                        "a firewall between the clusters drops packets to {to}: open TCP {} (the NodePort range 30000-32767) towards {}",
                        to.port, to.ip
                    ),
                ),
                Dial::NotRun(why) => Crossing::failed(
                    from.id,
                    b.id,
                    Hop::Inside,
                    format!("cannot dial {to} from inside {}'s {via} pod: {why}", from.id),
                    fix_inside(ctx, from),
                ),
            }
        }
    });
    futures::future::join_all(each).await
}

/// Every ordered pair of the lab's parties, peers as destinations (their inside is not ours to
/// look at).
pub async fn probe(ctx: &Ctx) -> ProbeReport {
    if ctx.spec.local().is_some() {
        return super::local::probe::probe(ctx).await;
    }
    let ours: Vec<&Party> = ctx.spec.ours().collect();
    let listed = futures::future::join_all(ours.iter().map(|p| async move {
        (
            p.id,
            federation_pod(ctx, p).await.map_err(|e| format!("{e:#}")),
        )
    }))
    .await;
    let pods: BTreeMap<u32, Result<PodView, String>> = listed.into_iter().collect();
    let rows = futures::future::join_all(ours.iter().map(|p| row(ctx, p, &pods))).await;
    ProbeReport::new(
        &via(ctx),
        ctx.spec.parties.iter().map(|p| p.id).collect(),
        ours.iter().map(|p| p.id).collect(),
        rows.into_iter().flatten().collect(),
    )
}
