//! One module per subcommand; `main` maps their errors to exit codes.

mod dashboard;
mod doctor;
mod down;
mod hosts;
mod images;
mod logs;
mod open;
mod plan;
mod probe;
mod run_log;
mod serve;
mod status;
mod test;
mod up;

use std::io::Write;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::exit;

pub fn main(cli: Cli) -> i32 {
    let run_log = run_log::RunLog::for_command(&cli);
    init_logging(cli.verbose, run_log.as_ref());
    crate::clients::transport::ensure_crypto_provider();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fatelab: failed: starting the async runtime: {e}");
            return exit::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(&cli));
    let code = match &outcome {
        Ok(code) => *code,
        Err(err) => {
            tracing::debug!("the run failed: {err:#}");
            exit::code_for(err)
        }
    };
    let saved = run_log.and_then(|l| l.save(&open::state_dir(&cli), code));
    // Under sudo, whatever root made in the lab's state dir is the invoking user's.
    crate::host::invoker::Invoker::current().hand_over_tree(&open::state_dir(&cli));
    if let Err(err) = outcome {
        let label = match code {
            exit::USAGE => "invalid input",
            _ => "failed",
        };
        let log = saved
            .map(|p| format!("\n(this run's full log: {})", p.display()))
            .unwrap_or_default();
        eprintln!("fatelab: {label}: {}{log}", readable(&err));
    }
    code
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
/// and without `NO_COLOR`. Beside it, the run's own log at `-vv`'s level (see [`run_log`]).
fn init_logging(verbose: u8, run_log: Option<&run_log::RunLog>) {
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
        // What the user is shown anyway, kept for the run's log only.
        .with_target(crate::ui::KEPT, LevelFilter::OFF)
        .with_default(libraries);
    let ansi = crate::ui::Mode::detect() == crate::ui::Mode::Live;
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_filter(filter);
    let kept = run_log.map(|log| {
        let log = log.clone();
        tracing_subscriber::fmt::layer()
            .with_writer(move || log.sink())
            .with_ansi(false)
            .with_filter(run_log::RunLog::filter())
    });
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(kept)
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
        Command::Serve(args) => serve::run(cli, args).await,
        Command::Probe => probe::run(cli).await,
        Command::Logs(args) => logs::run(cli, args).await,
        Command::Open(args) => dashboard::run(cli, args).await,
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

/// Writes to stdout, treating a closed pipe (`fatelab ... | head`) as success.
pub(crate) fn print_stdout(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
