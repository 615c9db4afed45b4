//! fatelab: one command for the KubeFATE MiniKube tutorial.

mod catalog;
mod cli;
mod exit;
mod hostip;
mod plan;
mod render;
mod scenario;
mod spec;
mod state;
mod steps;

use std::io::Write;

use anyhow::Result;
use clap::Parser;

use cli::{Cli, Command, LabArgs, Output, UpArgs};
use exit::NotAvailable;
use spec::{LabSpec, PartyInput, PortOverrides, SpecInput};

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let code = match run(&cli) {
        Ok(()) => 0,
        Err(err) => {
            let code = exit::code_for(&err);
            let label = match code {
                exit::USAGE => "invalid input",
                exit::NOT_AVAILABLE => "not available yet",
                _ => "failed",
            };
            eprintln!("fatelab: {label}: {err:#}");
            code
        }
    };
    std::process::exit(code);
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .init();
}

fn run(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Up(args) => up(cli, args),
        Command::Status => Err(NotAvailable {
            command: "status",
            what_it_will_do: "report minikube, ingress, the KubeFATE service and every party's cluster, \
                              exiting 0 when healthy, 1 when not, 3 when there is no lab",
        }
        .into()),
        Command::Down => Err(NotAvailable {
            command: "down",
            what_it_will_do: "delete the party clusters, the KubeFATE service and fatelab's hosts-file \
                              block (only what fatelab created), asking first unless --yes",
        }
        .into()),
        Command::Doctor => Err(NotAvailable {
            command: "doctor",
            what_it_will_do: "check CPUs, memory, disk, Docker, cgroups, sudo, host tools, minikube, \
                              ports and the Kubernetes version, each with a fix",
        }
        .into()),
        Command::Test => Err(NotAvailable {
            command: "test",
            what_it_will_do: "run FATE's toy federated job between the parties and report its result",
        }
        .into()),
        Command::Images => Err(NotAvailable {
            command: "images",
            what_it_will_do: "list, pull, save and load the images a release needs (offline bundles)",
        }
        .into()),
    }
}

/// Builds the validated lab spec from a scenario file (if any) overlaid by the flags.
fn lab_spec(args: &LabArgs) -> Result<LabSpec> {
    let flags = SpecInput {
        parties: args.parties.as_ref().map(|ids| {
            ids.iter()
                .map(|&id| PartyInput {
                    id,
                    ports: PortOverrides::default(),
                })
                .collect()
        }),
        ip: args.ip.clone(),
        release: args.release.clone(),
        registry: args.registry.clone(),
        domain: args.domain.clone(),
    };
    let input = match &args.file {
        Some(path) => scenario::overlay(scenario::load(path)?, flags),
        None => flags,
    };
    input.validate()
}

fn up(cli: &Cli, args: &UpArgs) -> Result<()> {
    let spec = lab_spec(&args.lab)?;
    let ctx = steps::Ctx {
        spec: &spec,
        urls: catalog::UrlBases {
            github: args.github_mirror.clone(),
            chart_repo: args.chart_repo.clone(),
        },
        state_dir: cli.state_dir.clone().unwrap_or_else(state::default_dir),
        hosts_file: args.hosts_file.clone(),
    };
    if !args.dry_run {
        return Err(NotAvailable {
            command: "up",
            what_it_will_do: "run the steps `fatelab up --dry-run` lists, skipping those already done",
        }
        .into());
    }
    let plan = plan::build(&ctx)?;
    let text = plan.to_text(&args.plan_dir);
    let written = plan.write(&args.plan_dir, &text)?;
    for path in &written {
        tracing::info!("wrote {}", path.display());
    }
    let out = match cli.output {
        Output::Text => text,
        Output::Json => plan.to_json(&args.plan_dir)? + "\n",
    };
    print_stdout(&out)
}

/// Writes to stdout, treating a closed pipe (`fatelab ... | head`) as success.
fn print_stdout(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
