//! The command line: `fatelab up | status | down | doctor | test | images`.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::model::jobs::{DEFAULT_MAX_GAP, DEFAULT_MIN_AUC, JobKind, UpTest};
use crate::model::step::StepName;
use crate::model::{catalog, spec};

pub const DEFAULT_GITHUB: &str = "https://github.com";
pub const DEFAULT_CHART_REPO: &str = "https://federatedai.github.io/KubeFATE";

#[derive(Debug, Parser)]
#[command(
    name = "fatelab",
    version,
    about = "Stand up a multi-party FATE federated-learning lab on one Linux host, and prove it works",
    long_about = "Stand up a multi-party FATE federated-learning lab on one Linux host, and prove it works.\n\n\
        fatelab does every step of the KubeFATE MiniKube tutorial itself: checks the host, starts \
        Kubernetes with minikube's none driver, enables ingress, deploys the KubeFATE service, \
        installs one FATE cluster per party, and runs a federated job between them (FATE's toy job, or a training job).\n\n\
        Start with `fatelab up --dry-run`: it works on any machine and shows the whole plan.",
    after_help = "Exit status: 0 success, 1 failure, 2 bad input (nothing changed), \
        3 no lab (status)."
)]
pub struct Cli {
    /// More log output on stderr: -v fatelab's info (and library warnings), -vv fatelab's debug,
    /// -vvv the libraries' debug too. Secrets never appear at any level
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Deadline of one attempt of one call to the cluster, KubeFATE or FATE Flow (until the
    /// answer starts); safe calls are tried again with backoff (e.g. 30s, 5s)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration_arg, global = true)]
    pub call_timeout: std::time::Duration,

    /// Format of what a command prints on stdout: text for people, json for scripts
    #[arg(long, value_enum, default_value_t = Output::Text, global = true)]
    pub output: Output,

    /// Answer yes to every confirmation (for scripts and CI); env FATELAB_YES accepts 1/0, yes/no, true/false
    #[arg(short = 'y', long, global = true, env = "FATELAB_YES", action = ArgAction::SetTrue,
          value_parser = BoolishValueParser::new())]
    pub yes: bool,

    /// Where fatelab keeps its record of the lab, downloads and generated credentials
    /// [default: $XDG_STATE_HOME/fatelab, else ~/.local/state/fatelab]
    #[arg(long, global = true, env = "FATELAB_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Where fatelab keeps what any lab may reuse: the local lab's Python environment (FATE 2.2
    /// and torch, about 6 GB) [default: $XDG_CACHE_HOME/fatelab, else ~/.cache/fatelab]
    #[arg(long, global = true, env = "FATELAB_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the lab: every step of the tutorial, each checked; safe to run again
    Up(Box<UpArgs>),
    /// Show the lab's health: minikube, ingress, KubeFATE, each party, the last test
    /// (exit 0 healthy, 1 not, 3 no lab)
    Status(StatusArgs),
    /// Remove what `up` made, and only that: party clusters, their namespaces, the KubeFATE
    /// service, the hosts-file block; asks first unless --yes
    Down(DownArgs),
    /// Check that this host can run the lab, and say how to fix each problem (exit 1 if a check fails)
    Doctor(DoctorArgs),
    /// Print the hosts-file lines for the machine whose browser opens the notebooks and FATE Boards
    Hosts(HostsArgs),
    /// Run a federated job (the toy job, or training with --job lr|sbt) between the parties of the lab on record (exit 1 if it fails)
    Test(TestArgs),
    /// Publish the trained LR model to FATE-Serving (a lab made with `up --serving`, release
    /// v1.6.0): deploy, load into every party, bind to a service id, then one online prediction
    /// beside the training job's own score for the same row (exit 1 if they disagree although
    /// the host answers real rows)
    Serve(ServeArgs),
    /// Check the federation hop by hop for every ordered pair of parties, from inside each
    /// party's rollsite/osx pod (its loaded route table, the other pod's readiness, a TCP dial):
    /// a matrix with the first failing hop and its fix (exit 0 all pass, 1 not)
    Probe,
    /// Open a party's FATE Board or notebook: its ingress URL on minikube, else a local port
    /// forwarded through the API server (kept until Ctrl-C)
    Open(OpenArgs),
    /// Write one .tar.gz for a bug report: pods, container logs (and previous runs'), events,
    /// KubeFATE's clusters and jobs, FATE Flow's records and logs of the last test jobs,
    /// minikube's logs, fatelab's own run logs, status and doctor; no secret in it
    Logs(LogsArgs),
    /// List, pull, save or load the images a release needs (offline bundles for air-gapped hosts)
    Images(ImagesArgs),
    /// Print a shell completion script for fatelab's commands and flags (see the README for
    /// where each shell reads it)
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in: bash, zsh, fish (also elvish, powershell)
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: clap_complete::Shell,
}

/// What the lab is made of; shared by every command that builds a lab spec.
#[derive(Debug, Args, Clone)]
pub struct LabArgs {
    /// Scenario file describing the lab (see scenarios/); the flags below override it
    #[arg(short = 'f', long = "file", value_name = "SCENARIO")]
    pub file: Option<PathBuf>,

    /// Party IDs, comma-separated; at least two, all distinct [default: 9999,10000]
    #[arg(long, value_name = "IDS", value_delimiter = ',', value_parser = spec::parse_party_id)]
    pub parties: Option<Vec<u64>>,

    /// Host IPv4 address the parties use to reach each other (not loopback)
    /// [default: the address of the interface with the default route; on an existing cluster,
    /// a node's InternalIP]
    #[arg(long, value_name = "IP", value_parser = parse_ip_arg)]
    pub ip: Option<String>,

    /// Install into the existing cluster of this kubeconfig file instead of minikube
    /// (without it, --context reads KUBECONFIG, several files merged, or ~/.kube/config)
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Install into this kubeconfig context's existing cluster instead of minikube
    /// [default with --kubeconfig: its current context]
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// The party (or parties, comma-separated) this fatelab installs, when the others are
    /// --peer parties that other organisations run
    #[arg(long, value_name = "ID", value_delimiter = ',', value_parser = spec::parse_party_id,
          conflicts_with = "parties", requires = "peer")]
    pub party: Vec<u64>,

    /// A party another organisation runs, as ID=HOST:PORT: HOST the IPv4 address and PORT the
    /// rollsite/osx NodePort its cluster is reached at (repeatable; needs --party)
    #[arg(long, value_name = "ID=HOST:PORT", value_parser = parse_peer_arg, requires = "party")]
    pub peer: Vec<PeerArg>,

    /// KubeFATE release: v1.6.0 (the tutorial's, needs Kubernetes <= 1.21) or v2.0.0 (FATE 2.0,
    /// current Kubernetes) [default: v1.6.0]
    #[arg(long, value_name = "RELEASE", value_parser = parse_release_arg)]
    pub release: Option<String>,

    /// Image registry for every pulled image. v1.6.0 puts it in place of `federatedai`
    /// (hub.c.163.com/federatedai → hub.c.163.com/federatedai/eggroll); v2.0.0 puts it in front of
    /// the full name (registry.local:5000 → registry.local:5000/federatedai/osx)
    /// [default: none, images come from Docker Hub]
    #[arg(long, value_name = "PREFIX", value_parser = parse_registry_arg)]
    pub registry: Option<String>,

    /// Run the lab as processes on this host instead of Kubernetes: per party a FATE Flow 2.2
    /// server (from PyPI) and a RabbitMQ node, one nginx between them, all on 127.0.0.1; no root,
    /// no images (needs python3 with venv, rabbitmq-server and nginx)
    #[arg(long, conflicts_with_all = ["ip", "kubeconfig", "context", "party", "peer", "release", "registry", "domain"])]
    pub local: bool,

    /// With --local: the first of the lab's ports (10 for the lab, then 10 per party: FATE Flow
    /// HTTP and gRPC, the broker's AMQP, management and distribution ports)
    #[arg(long, value_name = "PORT", default_value_t = crate::model::local::DEFAULT_PORT_BASE, requires = "local")]
    pub port_base: u16,

    /// Domain for the ingress host names (KubeFATE service, notebooks, FATE Boards)
    /// [default: the release's: kubefate.net for v1.6.0, example.com for v2.0.0]
    #[arg(long, value_name = "DOMAIN", value_parser = spec::parse_domain)]
    pub domain: Option<String>,
}

/// Which minikube and Kubernetes to use; by default the release's recommendation.
#[derive(Debug, Args, Clone)]
pub struct VersionArgs {
    /// minikube version to use; fatelab downloads it into the state dir if the one on PATH differs
    /// [default: the one on PATH, else the release's recommendation (v1.22.0 for v1.6.0)]
    #[arg(long, value_name = "VERSION", value_parser = parse_version_arg)]
    pub minikube_version: Option<semver::Version>,

    /// Kubernetes version for `minikube start` [default: the release's recommendation, or the
    /// tutorial's v1.17.3 with the tutorial's minikube v1.7.3]
    #[arg(long, value_name = "VERSION", value_parser = parse_version_arg)]
    pub kubernetes_version: Option<semver::Version>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub lab: LabArgs,
    #[command(flatten)]
    pub versions: VersionArgs,
}

#[derive(Debug, Args)]
pub struct HostsArgs {
    #[command(flatten)]
    pub lab: LabArgs,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    #[command(subcommand)]
    pub action: ImagesAction,

    /// KubeFATE release whose images to handle [default: v1.6.0]
    #[arg(long, value_name = "RELEASE", value_parser = parse_release_arg, global = true)]
    pub release: Option<String>,

    /// Registry prefix, as for `up` (the images are named as the pods will ask for them)
    #[arg(long, value_name = "PREFIX", value_parser = parse_registry_arg, global = true)]
    pub registry: Option<String>,

    /// FATE-Serving's images too, for a lab made with `up --serving`
    #[arg(long, global = true)]
    pub serving: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImagesAction {
    /// List every image the release needs and whether Docker has it
    List,
    /// Pull the images Docker does not have yet (each once, concurrently)
    Pull,
    /// Write every image the release needs into one archive, for a host without a registry
    Save {
        /// Archive to write
        #[arg(short = 'o', long = "output-file", value_name = "FILE")]
        archive: PathBuf,
    },
    /// Load an archive made by `images save` or `docker save` (streamed; skipped when present)
    Load {
        /// Archive to read
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Which dashboard `open` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dashboard {
    /// FATE Board (the jobs, their DAG and metrics)
    Board,
    /// the party's Jupyter notebook (FATE's client)
    Notebook,
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// What to open
    #[arg(value_enum, value_name = "WHAT")]
    pub what: Dashboard,

    /// The party whose dashboard it is
    #[arg(value_name = "PARTY")]
    pub party: u32,

    /// Forward a local port through the API server even where the ingress URL would do
    #[arg(long)]
    pub forward: bool,

    /// The local port to forward from (0: any free one)
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub port: u16,

    /// Only print the URL; do not start a browser
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Where to write the archive [default: ./fatelab-logs-<time>.tar.gz]
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Also show the KubeFATE service's generated username and password
    #[arg(long)]
    pub show_credentials: bool,

    /// Keep the report on screen until Ctrl-C: drawn again as soon as a watched pod or
    /// Deployment changes, and every --refresh for what no watch covers
    #[arg(long)]
    pub watch: bool,

    /// With --watch: how often minikube, KubeFATE's cluster list and the peers (which cannot be
    /// watched) are asked again (e.g. 5s, 1m)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_arg,
          requires = "watch")]
    pub refresh: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The training job whose model to serve [default: the last successful lr job on record]
    #[arg(long, value_name = "JOB_ID")]
    pub job: Option<String>,

    /// The job's guest party [default: the guest on record, else the first party]
    #[arg(long, value_name = "PARTY")]
    pub guest: Option<u32>,

    /// The service id the model is bound to (what an inference names in `head.serviceId`)
    #[arg(long, value_name = "ID", default_value = "fatelab-lr")]
    pub service_id: String,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Guest (initiator) party [default: the first party]
    #[arg(long, value_name = "PARTY")]
    pub guest: Option<u32>,

    /// Host party [default: every other party, one job each]
    #[arg(long, value_name = "PARTY")]
    pub host: Option<u32>,

    /// Longest wait for a job to finish (e.g. 90s, 10m)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration_arg)]
    pub timeout: std::time::Duration,

    /// Which job: toy (the parties talk), lr (hetero logistic regression) or sbt (hetero
    /// SecureBoost) on the breast tables (or your own: --guest-data/--host-data), uploaded to the
    /// parties first unless they hold them
    #[arg(long, value_name = "JOB", value_enum, default_value = "toy")]
    pub job: JobKind,

    /// A training job whose AUC is below this fails: a lab that trains garbage is broken
    #[arg(long, value_name = "AUC", default_value_t = DEFAULT_MIN_AUC, value_parser = parse_auc_arg)]
    pub min_auc: f64,

    /// The guest's own table for lr/sbt: a CSV with a header, the id column, the label and the
    /// guest's features (checked before anything is sent; uploaded under a name from its content)
    #[arg(long, value_name = "CSV", requires = "host_data")]
    pub guest_data: Option<PathBuf>,

    /// The host's own table for lr/sbt: a CSV with a header, the id column and the host's
    /// features (no label, no feature the guest's table has)
    #[arg(long, value_name = "CSV", requires = "guest_data")]
    pub host_data: Option<PathBuf>,

    /// The label column of --guest-data (0/1)
    #[arg(
        long,
        value_name = "COLUMN",
        default_value = "y",
        requires = "guest_data"
    )]
    pub label: String,

    /// The id column of both tables (PSI joins on it)
    #[arg(
        long,
        value_name = "COLUMN",
        default_value = "id",
        requires = "guest_data"
    )]
    pub id: String,

    /// A training job whose AUC is more than this below the same model trained in one place on
    /// the joined table (the centralized baseline) fails
    #[arg(long, value_name = "AUC", default_value_t = DEFAULT_MAX_GAP, value_parser = parse_auc_arg)]
    pub max_gap: f64,

    /// Also write the training report (one self-contained HTML file: ROC of both models, KS,
    /// loss, timeline, data) here; a copy is always kept in the state dir
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Also delete the minikube cluster (if fatelab started it), fatelab's download cache and
    /// (a local lab) the shared Python environment in the cache dir
    #[arg(long)]
    pub purge: bool,

    /// Time for the whole run: every wait (a KubeFATE delete job, a namespace going away) draws
    /// from it (e.g. 20m, 1h)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration_arg)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub lab: LabArgs,

    #[command(flatten)]
    pub versions: VersionArgs,

    /// Doctor checks (by name, comma-separated) whose failure only warns, e.g. cgroups,memory
    #[arg(long, value_name = "CHECKS", value_delimiter = ',')]
    pub ignore_check: Vec<String>,

    /// Use release files already in DIR (kubefate-k8s-*.tar.gz, kubefate-*.docker, fate-*.tgz)
    /// instead of downloading
    #[arg(long, value_name = "DIR")]
    pub artifacts_dir: Option<PathBuf>,

    /// The FATE chart to install from: a packaged .tgz, or a chart directory (like KubeFATE's
    /// helm-charts/FATE) that fatelab packages; it must be the release's chart and version
    #[arg(long, value_name = "DIR|TGZ")]
    pub chart: Option<PathBuf>,

    /// How much CPU and memory each party asks for (v2 charts): `small` fits the lab to this
    /// host, `tutorial` is KubeFATE's example cluster.yaml, `chart` the chart's own defaults
    #[arg(long, value_name = "PROFILE", value_enum, default_value = "small")]
    pub resources: crate::model::sizing::Profile,

    /// Load this image bundle (from `fatelab images save`) instead of pulling from a registry
    #[arg(long = "images", value_name = "BUNDLE")]
    pub images_bundle: Option<PathBuf>,

    /// Stop after this step (preflight, minikube, ingress, hosts, artifacts, images, kubefate,
    /// parties, serving, test; with --local: preflight, packages, brokers, proxy, parties, test), e.g.
    /// `--until ingress` for just Kubernetes
    #[arg(long, value_name = "STEP", value_enum, hide_possible_values = true)]
    pub until: Option<StepName>,

    /// Time for the whole run: every wait and every retry draws from it (e.g. 20m, 1h)
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration_arg)]
    pub timeout: std::time::Duration,

    /// How long every container of a party must stay ready without a restart before the party
    /// counts as healthy (catches a crash loop's first restarts; e.g. 30s, 500ms)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration_arg)]
    pub settle: std::time::Duration,

    /// The federated job that proves the lab at the end: toy (the parties talk, seconds), lr or
    /// sbt (the lab trains on the breast tables, minutes), or none
    #[arg(long, value_name = "JOB", value_enum, default_value = "toy")]
    pub test: UpTest,

    /// The same as `--test none` (run a job later with `fatelab test`)
    #[arg(long, conflicts_with = "test")]
    pub no_test: bool,

    /// A training job (lr, sbt) whose AUC is below this fails: a lab that trains garbage is broken
    #[arg(long, value_name = "AUC", default_value_t = DEFAULT_MIN_AUC, value_parser = parse_auc_arg)]
    pub min_auc: f64,

    /// Also deploy FATE-Serving beside each party (KubeFATE's cluster-serving.yaml; release
    /// v1.6.0 — FATE 2.x has no online serving), so `fatelab serve` can publish a model.
    /// A lab that has it keeps it when this is not given
    #[arg(long, conflicts_with = "no_serving")]
    pub serving: bool,

    /// Remove the lab's FATE-Serving clusters (after a yes)
    #[arg(long)]
    pub no_serving: bool,

    /// Change nothing: print every step `up` would take and write the rendered files to --plan-dir
    #[arg(long)]
    pub dry_run: bool,

    /// Where --dry-run writes the rendered files (party cluster.yaml files, manifests, hosts lines)
    #[arg(
        long,
        value_name = "DIR",
        default_value = "fatelab-plan",
        requires = "dry_run"
    )]
    pub plan_dir: PathBuf,

    /// Base URL for every GitHub download (release files, minikube), for mirrors and offline tests
    #[arg(long, value_name = "URL", env = "FATELAB_GITHUB_MIRROR", default_value = DEFAULT_GITHUB,
          value_parser = parse_url_arg)]
    pub github_mirror: String,

    /// Base URL of the KubeFATE Helm chart repository (the chart is uploaded from here if needed)
    #[arg(long, value_name = "URL", env = "FATELAB_CHART_REPO", default_value = DEFAULT_CHART_REPO,
          value_parser = parse_url_arg)]
    pub chart_repo: String,

    /// With --local: the Python package index pip installs FATE from (a mirror, or a local
    /// index for offline tests) [default: pip's own configuration, else PyPI]
    #[arg(long, value_name = "URL", env = "FATELAB_PYPI_INDEX", value_parser = parse_url_arg)]
    pub pypi_index: Option<String>,

    /// Hosts file that receives the lab's host names [default on minikube: /etc/hosts; on an
    /// existing cluster none is written unless this is given]
    #[arg(long, value_name = "PATH")]
    pub hosts_file: Option<PathBuf>,
}

fn parse_auc_arg(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err("expected an AUC between 0 and 1, like 0.9".into()),
    }
}

fn parse_version_arg(s: &str) -> Result<semver::Version, String> {
    crate::model::catalog::version::parse(s)
        .map_err(|_| "expected a version like v1.22.0".to_string())
}

/// `500ms`, `90s`, `10m`, `1h30m` (humantime's forms) or plain seconds.
pub fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let d = match t.parse::<u64>() {
        Ok(secs) => std::time::Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(t)
            .map_err(|_| format!("'{s}' is not a duration like 90s, 10m or 1h"))?,
    };
    if d.is_zero() {
        return Err("the duration must be more than 0 seconds".into());
    }
    Ok(d)
}

/// `--peer ID=HOST:PORT`, parsed; the port's range is checked with the rest of the lab.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerArg {
    pub id: u64,
    pub ip: String,
    pub port: u32,
}

fn parse_peer_arg(s: &str) -> Result<PeerArg, String> {
    let shape = || format!("'{s}' is not ID=HOST:PORT, like 10000=10.0.1.7:30101");
    let (id, addr) = s.trim().split_once('=').ok_or_else(shape)?;
    let (host, port) = addr.rsplit_once(':').ok_or_else(shape)?;
    let id = spec::parse_party_id(id)?;
    let ip = spec::parse_host_ip(host)
        .map_err(|e| format!("--peer {id}: {}", e.replacen("--ip ", "", 1)))?;
    let port: u32 = port
        .parse()
        .map_err(|_| format!("--peer {id}: port '{port}' is not a number"))?;
    Ok(PeerArg {
        id,
        ip: ip.to_string(),
        port,
    })
}

fn parse_ip_arg(s: &str) -> Result<String, String> {
    spec::parse_host_ip(s).map(|ip| ip.to_string())
}

fn parse_release_arg(s: &str) -> Result<String, String> {
    catalog::find(s).map(|r| r.release.clone()).ok_or_else(|| {
        format!(
            "not a release fatelab knows; known releases: {}",
            catalog::names().join(", ")
        )
    })
}

fn parse_registry_arg(s: &str) -> Result<String, String> {
    spec::parse_registry(s).map(|r| r.unwrap_or_default())
}

fn parse_url_arg(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(t.to_string()),
        _ => Err("expected an http:// or https:// URL, like https://github.com".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_has_help() {
        fn walk(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "{path} --{id} has no help");
            }
            for sub in cmd.get_subcommands() {
                assert!(
                    sub.get_about().is_some(),
                    "{path} {} has no about",
                    sub.get_name()
                );
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&Cli::command(), "fatelab");
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration_arg("90s"),
            Ok(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration_arg("10m"),
            Ok(std::time::Duration::from_secs(600))
        );
        assert_eq!(
            parse_duration_arg("2"),
            Ok(std::time::Duration::from_secs(2))
        );
        assert_eq!(
            parse_duration_arg("500ms"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert!(parse_duration_arg("soon").is_err());
        assert!(parse_duration_arg("0s").is_err());
        // The hand-written parser this replaced overflowed here.
        assert!(parse_duration_arg("99999999999999999h").is_err());
    }

    #[test]
    fn url_arguments() {
        assert_eq!(
            parse_url_arg("http://127.0.0.1:8080/"),
            Ok("http://127.0.0.1:8080".into())
        );
        assert!(parse_url_arg("github.com").is_err());
        assert!(parse_url_arg("https://").is_err());
    }
}
