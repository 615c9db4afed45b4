//! `fatelab open board|notebook PARTY`: a party's FATE Board or notebook in one command — its
//! ingress URL on minikube with the hosts entries written, else a local port forwarded through
//! the API server to the Service's pod, kept until Ctrl-C.

use anyhow::Result;
use tokio::net::TcpListener;

use super::open::{lab_on_record, run_options, state_dir};
use super::print_stdout;
use crate::cli::{Cli, Dashboard, OpenArgs};
use crate::clients::kube;
use crate::exit::usage;
use crate::model::target::Cluster;

/// Where each dashboard's Service listens in a party's namespace (both charts).
fn service_of(what: Dashboard) -> (&'static str, u16, &'static str) {
    match what {
        Dashboard::Board => ("fateboard", 8080, "FATE Board"),
        Dashboard::Notebook => ("notebook", 20000, "notebook"),
    }
}

/// Opens `url` in the desktop's browser when there is a desktop to show it on.
fn browse(url: &str, allowed: bool) {
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if allowed && display && webbrowser::open(url).is_err() {
        eprintln!("(no browser could be started: open {url} yourself)");
    }
}

pub async fn run(cli: &Cli, args: &OpenArgs) -> Result<i32> {
    let Some(ctx) = lab_on_record(cli, run_options(cli))? else {
        return Err(usage(format!(
            "there is no lab on record in {}; create one with `fatelab up`",
            state_dir(cli).display()
        )));
    };
    if ctx.spec.local().is_some() {
        return Err(usage(
            "a local lab has no FATE Board or notebook: its parties are FATE Flow servers \
             (`fatelab status` lists their addresses)",
        ));
    }
    let Some(party) = ctx.spec.party(args.party).filter(|p| p.is_ours()) else {
        return Err(usage(format!(
            "party {} is not one of this lab's own parties ({})",
            args.party,
            ctx.spec
                .ours()
                .map(|p| p.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let (service, port, name) = service_of(args.what);
    if !args.forward && party.cluster == Cluster::Minikube && ctx.record().hosts_file.is_some() {
        let (notebook, board) = ctx.spec.hostnames(party);
        let host = match args.what {
            Dashboard::Board => board,
            Dashboard::Notebook => notebook,
        };
        let url = format!("http://{host}/");
        print_stdout(&format!(
            "{url}\n(party {}'s {name} through minikube's ingress and the hosts entries; `--forward` forwards a local port instead)\n",
            party.id
        ))?;
        browse(&url, !args.no_browser);
        return Ok(0);
    }
    let client = ctx.kube_for(party).await?;
    let ns = party.namespace();
    let (pod, target) = kube::service_backend(client, &ns, service, port).await?;
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| {
            usage(format!(
                "cannot listen on 127.0.0.1:{}: {e} (another --port, or 0 for any free one)",
                args.port
            ))
        })?;
    let local = listener.local_addr()?.port();
    let url = format!("http://127.0.0.1:{local}/");
    print_stdout(&format!(
        "{url}\n(party {}'s {name}: {ns}/{pod}:{target}, behind Service {service}:{port}, through the API server; Ctrl-C ends it)\n",
        party.id
    ))?;
    browse(&url, !args.no_browser);
    let forwarding = kube::forward(client, &ns, &pod, target, listener, |e| {
        eprintln!("a connection could not be forwarded: {e}");
    });
    tokio::select! {
        r = forwarding => r.map(|()| 0),
        _ = tokio::signal::ctrl_c() => Ok(0),
    }
}
