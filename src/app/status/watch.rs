//! `fatelab status --watch`: the status report kept on screen until Ctrl-C. Pods and Deployments
//! are watched, so a pod that turns Running or crashes shows at once; minikube, KubeFATE's list
//! and the peers have no watch and are asked again every `--refresh`.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use futures::FutureExt;
use futures::stream::{BoxStream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};

use super::report::{ingress_controller, report};
use super::{code, render};
use crate::app::print_stdout;
use crate::cli::{Output, StatusArgs};
use crate::model::record::LabRecord;
use crate::model::status::StatusReport;
use crate::steps::Ctx;
use crate::ui::Mode;

/// Changes that come together (a party's pods all turning Running) make one redraw.
const COALESCE: Duration = Duration::from_millis(300);

pub async fn run(output: Output, args: &StatusArgs, ctx: &Ctx, record: &LabRecord) -> Result<i32> {
    let live = Mode::of(std::io::stdout().is_terminal()) == Mode::Live && output == Output::Text;
    let mut changes = changes(ctx, record).await;
    let mut refresh = tokio::time::interval(args.refresh);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut last: Option<StatusReport> = None;
    loop {
        let now = tokio::select! {
            now = report(ctx, record, args.show_credentials) => now,
            _ = &mut ctrl_c => break,
        };
        draw(&now, last.as_ref(), output, live, args.refresh)?;
        last = Some(now);
        // The interval's first tick is at once; from here on it marks the next refresh.
        refresh.reset();
        tokio::select! {
            _ = refresh.tick() => {}
            Some(()) = changes.next() => {
                tokio::time::sleep(COALESCE).await;
                while changes.next().now_or_never().flatten().is_some() {}
            }
            _ = &mut ctrl_c => break,
        }
    }
    Ok(last.as_ref().map_or(crate::exit::FAILURE, code))
}

/// On a terminal the screen is cleared and drawn again, with when and how it is kept current;
/// elsewhere (a pipe, a log, `NO_COLOR`) a report is printed only when it differs from the last.
fn draw(
    now: &StatusReport,
    last: Option<&StatusReport>,
    output: Output,
    live: bool,
    every: Duration,
) -> Result<()> {
    if !live && last == Some(now) {
        return Ok(());
    }
    let body = match output {
        Output::Json => serde_json::to_string(now)? + "\n",
        Output::Text => render(now, output)?,
    };
    if live {
        let at = k8s_openapi::jiff::Timestamp::now().strftime("%H:%M:%S UTC");
        return print_stdout(&format!(
            "\x1b[H\x1b[2J{body}\nat {at}; drawn again on every pod change, and every {} — Ctrl-C to stop\n",
            humantime::format_duration(every)
        ));
    }
    let spacer = if last.is_some() && output == Output::Text {
        "\n"
    } else {
        ""
    };
    print_stdout(&format!("{spacer}{body}"))
}

/// One item for every change a watch reports: the pods of each party's namespace, the KubeFATE
/// service's Deployments in each cluster, and minikube's ingress controller. Each watch has made
/// its first listing when this returns, so whatever changes after it is reported; a cluster that
/// does not answer now is left to the refresh.
async fn changes(ctx: &Ctx, record: &LabRecord) -> BoxStream<'static, ()> {
    let mut watches: Vec<BoxStream<'static, ()>> = Vec::new();
    for party in ctx.spec.ours() {
        if let Ok(client) = ctx.kube_for(party).await {
            let pods: Api<Pod> = Api::namespaced(client.clone(), &party.namespace());
            watches.push(changed(pods));
        }
    }
    for cluster in ctx.clusters() {
        if let Ok(client) = ctx.kube_in(cluster).await {
            let deployments: Api<Deployment> = Api::namespaced(client.clone(), "kube-fate");
            watches.push(changed(deployments));
        }
    }
    if ctx.spec.on_minikube()
        && let Ok(client) = ctx.kube().await
    {
        let (ns, _) = ingress_controller(record);
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
        watches.push(changed(deployments));
    }
    let listed = futures::future::join_all(watches.into_iter().map(listed)).await;
    futures::stream::select_all(listed).boxed()
}

/// The watch once its first listing is done (or after a bounded wait for it).
async fn listed(mut watch: BoxStream<'static, ()>) -> BoxStream<'static, ()> {
    let _ = tokio::time::timeout(FIRST_LIST, watch.next()).await;
    watch
}

/// How long a watch's first listing may take before the report is drawn without it.
const FIRST_LIST: Duration = Duration::from_secs(10);

/// A watch of every object of `api`: one item when its first listing is done, then one per
/// change. It sets itself up again after errors, with backoff; a listing made again then (after
/// a break, changes may have been missed) counts as a change.
fn changed<K>(api: Api<K>) -> BoxStream<'static, ()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(|event| async move {
            match event {
                Ok(
                    watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone,
                ) => Some(()),
                _ => None,
            }
        })
        .boxed()
}
