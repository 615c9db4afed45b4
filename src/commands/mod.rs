//! One module per subcommand; `main` maps their errors to exit codes.

mod doctor;
mod down;
mod hosts;
mod images;
mod status;
mod test;
mod up;
mod watch;

pub use up::with_sudo;

use std::io::Write;

use anyhow::Result;

use crate::cli::{Cli, Command, LabArgs, VersionArgs};
use crate::exit;
use crate::scenario;
use crate::spec::{LabSpec, PartyInput, PortOverrides, SpecInput};
use crate::steps::RunOptions;

pub fn main(cli: Cli) -> i32 {
    init_logging(cli.verbose);
    crate::clients::ensure_crypto_provider();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fatelab: failed: starting the async runtime: {e}");
            return exit::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(&cli));
    // Under sudo, whatever root made in the lab's state dir is the invoking user's.
    crate::invoker::Invoker::current().hand_over_tree(&state_dir(&cli));
    match outcome {
        Ok(code) => code,
        Err(err) => {
            let code = exit::code_for(&err);
            let label = match code {
                exit::USAGE => "invalid input",
                _ => "failed",
            };
            eprintln!("fatelab: {label}: {}", readable(&err));
            code
        }
    }
}

/// The error chain on one line, each cause in words: an API error as its HTTP status, reason and
/// the server's message (not kube's debug dump), and advice when the cause was passing.
fn readable(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let said = match cause.downcast_ref::<kube::Error>() {
            // Its sources only say the same again.
            Some(kube::Error::Api(s)) => {
                parts.push(format!("HTTP {} {}: {}", s.code, s.reason, s.message));
                break;
            }
            Some(kube::Error::Service(e)) => format!("no answer ({e})"),
            _ => cause.to_string(),
        };
        // kube repeats its source in its own message; say each thing once (a short word may
        // stand inside a longer message by chance, so only its end counts for it).
        let said_already = parts
            .last()
            .is_some_and(|p| p.ends_with(&said) || (said.len() > 8 && p.contains(&said)));
        if !said.is_empty() && !said_already {
            parts.push(said);
        }
    }
    let mut line = parts.join(": ");
    if crate::clients::transport::is_transient(err) {
        line.push_str(
            "\n(the cluster or a service failed to answer for a moment, even after retries; \
             nothing was judged broken because of it: run the command again)",
        );
    }
    line
}

/// fatelab's own logs at warn (`-v` info, `-vv` debug); the libraries' (kube, hyper, reqwest)
/// not at all by default, at warn from `-v`, at debug from `-vvv`. Colour only on a terminal
/// and without `NO_COLOR`.
fn init_logging(verbose: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let (own, libraries) = match verbose {
        0 => (LevelFilter::WARN, LevelFilter::OFF),
        1 => (LevelFilter::INFO, LevelFilter::WARN),
        2 => (LevelFilter::DEBUG, LevelFilter::WARN),
        _ => (LevelFilter::TRACE, LevelFilter::DEBUG),
    };
    let filter = Targets::new()
        .with_target("fatelab", own)
        .with_default(libraries);
    let ansi = crate::ui::Mode::detect() == crate::ui::Mode::Live;
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init();
}

/// Runs the command; `Ok(code)` for commands whose result is a status (doctor), errors otherwise.
async fn run(cli: &Cli) -> Result<i32> {
    match &cli.command {
        Command::Up(args) => up::run(cli, args).await.map(|()| 0),
        Command::Doctor(args) => doctor::run(cli, args).await,
        Command::Hosts(args) => hosts::run(cli, args).map(|()| 0),
        Command::Down(args) => down::run(cli, args).await.map(|()| 0),
        Command::Status(args) => status::run(cli, args).await,
        Command::Test(args) => test::run(cli, args).await,
        Command::Images(args) => images::run(cli, args).await.map(|()| 0),
        Command::Completions(args) => completions(args).map(|()| 0),
    }
}

/// The shell's completion script, generated from the clap definitions so it never lags them.
fn completions(args: &crate::cli::CompletionsArgs) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut <Cli as clap::CommandFactory>::command(),
        "fatelab",
        &mut script,
    );
    print_stdout(&String::from_utf8(script)?)
}

/// Builds the validated lab spec from a scenario file (if any) overlaid by the flags.
pub fn lab_spec(args: &LabArgs) -> Result<LabSpec> {
    let parties = if args.party.is_empty() {
        args.parties.as_ref().map(|ids| {
            ids.iter()
                .map(|&id| PartyInput {
                    id,
                    ..PartyInput::default()
                })
                .collect()
        })
    } else {
        Some(with_peers(&args.party, &args.peer))
    };
    let flags = SpecInput {
        parties,
        ip: args.ip.clone(),
        release: args.release.clone(),
        registry: args.registry.clone(),
        domain: args.domain.clone(),
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
    };
    let input = match &args.file {
        Some(path) => scenario::overlay(scenario::load(path)?, flags),
        None => flags,
    };
    input.validate()
}

/// `--party` and its `--peer`s as one list in ID order, so the port scheme gives every party the
/// same NodePorts whichever organisation runs fatelab.
fn with_peers(ours: &[u64], peers: &[crate::cli::PeerArg]) -> Vec<PartyInput> {
    let mut all: Vec<PartyInput> = ours
        .iter()
        .map(|&id| PartyInput {
            id,
            ..PartyInput::default()
        })
        .chain(peers.iter().map(|p| PartyInput {
            id: p.id,
            ports: PortOverrides {
                rollsite: Some(p.port),
                ..PortOverrides::default()
            },
            ip: Some(p.ip.clone()),
            peer: true,
            ..PartyInput::default()
        }))
        .collect();
    all.sort_by_key(|p| p.id);
    all
}

/// A lab whose training job scores below this is broken (`--min-auc`).
pub const DEFAULT_MIN_AUC: f64 = 0.9;

fn run_options(cli: &Cli, versions: &VersionArgs) -> RunOptions {
    RunOptions {
        minikube_version: versions.minikube_version.clone(),
        kubernetes_version: versions.kubernetes_version.clone(),
        ignore_checks: Vec::new(),
        wait_timeout: std::time::Duration::from_secs(600),
        artifacts_dir: None,
        chart: None,
        images_bundle: None,
        test: Some(crate::steps::smoke::JobKind::Toy),
        min_auc: DEFAULT_MIN_AUC,
        settle: crate::health::SETTLE_WINDOW,
        call_timeout: cli.call_timeout,
        budget_ends: None,
    }
}

/// The spec of the lab on record, so `test`, `status` and `down` address what `up` made. It goes
/// through the same validation as flags and scenario files; a damaged record is an error naming
/// the file and the field (exit 1), never a lab with a zero port or address.
pub fn spec_from_record(
    record: &crate::state::LabRecord,
    state_dir: &std::path::Path,
) -> Result<LabSpec> {
    let file = state_dir.join("lab.json");
    let bad = |field: &str, why: String| {
        anyhow::anyhow!(
            "{} is damaged (field `{field}`: {why}); fix it, or remove it to start over",
            file.display()
        )
    };
    crate::spec::parse_host_ip(&record.ip).map_err(|e| bad("ip", e))?;
    if crate::catalog::find(&record.release).is_none() {
        return Err(bad(
            "release",
            format!("{} is not a release this fatelab knows", record.release),
        ));
    }
    let mut parties = Vec::new();
    for &id in &record.parties {
        let ports = record
            .ports
            .get(&id)
            .ok_or_else(|| bad("ports", format!("party {id} has no ports")))?;
        let place = record.placement.get(&id).cloned().unwrap_or_default();
        parties.push(PartyInput {
            id: id.into(),
            ports: PortOverrides {
                rollsite: Some(ports.rollsite.into()),
                grpc: (!place.peer).then_some(ports.grpc.into()),
                http: (!place.peer).then_some(ports.http.into()),
            },
            context: place.context,
            ip: place.ip,
            peer: place.peer,
        });
    }
    let target = record.target.clone();
    if let Some(t) = &target {
        recorded_clusters_present(t)?;
    }
    let input = SpecInput {
        parties: Some(parties),
        ip: Some(record.ip.clone()),
        release: Some(record.release.clone()),
        registry: record.registry.clone(),
        domain: (!record.domain.is_empty()).then(|| record.domain.clone()),
        kubeconfig: target.as_ref().and_then(|t| t.kubeconfig.clone()),
        context: None,
    };
    let mut spec = input
        .validate()
        .map_err(|e| bad("parties/ports/registry/domain", format!("{e:#}")))?;
    spec.sizing = record.sizing.clone();
    Ok(spec)
}

/// The clusters the lab was made on must still be in the kubeconfig, each at the same API
/// server: a context that is gone, or now names another cluster, is not this lab's (exit 1).
fn recorded_clusters_present(t: &crate::state::TargetRecord) -> Result<()> {
    let source = crate::target::KubeconfigSource {
        path: t.kubeconfig.clone(),
    };
    let known = crate::target::contexts(&source.load()?);
    for (context, server) in &t.servers {
        match known.servers.get(context) {
            None => anyhow::bail!(
                "the lab's context {context} (API server {server}) is not in the kubeconfig now ({}); \
                 put it back (or point KUBECONFIG at the file that has it) and run the command again",
                source.describe()
            ),
            Some(now) if now != server => anyhow::bail!(
                "the lab's context {context} now points at {now}, but the lab was made on {server}; \
                 fatelab will not touch another cluster: restore the context or use the kubeconfig the lab was made with",
            ),
            Some(_) => {}
        }
    }
    Ok(())
}

/// The hosts file the lab's names go into: the one given, else `/etc/hosts` on minikube; on an
/// existing cluster none unless given.
pub fn hosts_file(given: Option<std::path::PathBuf>, spec: &LabSpec) -> Option<std::path::PathBuf> {
    given.or_else(|| {
        spec.on_minikube()
            .then(|| std::path::PathBuf::from("/etc/hosts"))
    })
}

/// A step context for the lab on record; `None` when there is no lab.
pub fn ctx_from_record<'a>(
    cli: &Cli,
    spec: &'a LabSpec,
    record: crate::state::LabRecord,
    opts: RunOptions,
) -> crate::steps::Ctx<'a> {
    crate::steps::Ctx::new(
        spec,
        crate::catalog::UrlBases {
            github: crate::cli::DEFAULT_GITHUB.into(),
            chart_repo: crate::cli::DEFAULT_CHART_REPO.into(),
        },
        state_dir(cli),
        hosts_file(record.hosts_file.clone(), spec),
        opts,
        crate::ui::Ui::new(cli.yes, cli.verbose),
        record,
    )
}

fn state_dir(cli: &Cli) -> std::path::PathBuf {
    cli.state_dir
        .clone()
        .unwrap_or_else(crate::state::default_dir)
}

/// Whether this process may write `path` (or create it in its directory).
pub fn may_write(path: &std::path::Path) -> bool {
    // SAFETY: geteuid only reads the process's credentials.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let target = if path.exists() {
        path.to_path_buf()
    } else {
        path.parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default()
    };
    let Ok(c_path) = std::ffi::CString::new(target.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: access only reads the path's permissions.
    unsafe { libc::access(c_path.as_ptr(), libc::W_OK) == 0 }
}

/// Writes to stdout, treating a closed pipe (`fatelab ... | head`) as success.
fn print_stdout(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
