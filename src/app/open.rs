//! Opening a lab for a command: the spec from flags and a scenario file (`up`, `doctor`,
//! `hosts`), or from the record (`status`, `test`, `down`), validated the same way either way;
//! and the step context around it.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cli::{Cli, DEFAULT_CHART_REPO, DEFAULT_GITHUB, LabArgs, PeerArg};
use crate::host::{hostip, state};
use crate::model::catalog::UrlBases;
use crate::model::jobs::{DEFAULT_MAX_GAP, DEFAULT_MIN_AUC, JobKind};
use crate::model::record::{LabRecord, TargetRecord};
use crate::model::scenario;
use crate::model::spec::{LabSpec, PartyInput, PortOverrides, SpecInput};
use crate::model::target::KubeconfigSource;
use crate::steps::{Ctx, RunOptions};
use crate::ui::Ui;

pub fn state_dir(cli: &Cli) -> PathBuf {
    cli.state_dir.clone().unwrap_or_else(state::default_dir)
}

/// Builds the validated lab spec from a scenario file (if any) overlaid by the flags; without
/// `--ip`, a lab on minikube takes this host's primary address.
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
        local: args.local.then_some(args.port_base),
    };
    let input = match &args.file {
        Some(path) => scenario::overlay(scenario::load(path)?, flags),
        None => flags,
    };
    input.validate_with(hostip::detect_primary_ipv4)
}

/// `--party` and its `--peer`s as one list in ID order, so the port scheme gives every party the
/// same NodePorts whichever organisation runs fatelab.
fn with_peers(ours: &[u64], peers: &[PeerArg]) -> Vec<PartyInput> {
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

/// The options every command starts from; each sets what its flags say.
pub fn run_options(cli: &Cli) -> RunOptions {
    RunOptions {
        minikube_version: None,
        kubernetes_version: None,
        ignore_checks: Vec::new(),
        wait_timeout: std::time::Duration::from_secs(600),
        artifacts_dir: None,
        chart: None,
        images_bundle: None,
        test: Some(JobKind::Toy),
        min_auc: DEFAULT_MIN_AUC,
        max_gap: DEFAULT_MAX_GAP,
        data: None,
        settle: crate::model::health::SETTLE_WINDOW,
        call_timeout: cli.call_timeout,
        budget_ends: None,
        purge: false,
        cache_dir: cli
            .cache_dir
            .clone()
            .unwrap_or_else(state::default_cache_dir),
        pypi_index: None,
    }
}

/// The spec of the lab on record, so `test`, `status` and `down` address what `up` made. It goes
/// through the same validation as flags and scenario files; a damaged record is an error naming
/// the file and the field (exit 1), never a lab with a zero port or address.
pub fn spec_from_record(record: &LabRecord, state_dir: &Path) -> Result<LabSpec> {
    let file = state_dir.join("lab.json");
    let bad = |field: &str, why: String| {
        anyhow::anyhow!(
            "{} is damaged (field `{field}`: {why}); fix it, or remove it to start over",
            file.display()
        )
    };
    if record.local.is_none() {
        crate::model::spec::parse_host_ip(&record.ip).map_err(|e| bad("ip", e))?;
    }
    if crate::model::catalog::find(&record.release).is_none() {
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
        local: record.local.as_ref().map(|l| l.port_base),
    };
    if record.local.is_some() {
        let local = SpecInput {
            parties: input.parties,
            local: input.local,
            ..SpecInput::default()
        };
        return local
            .validate()
            .map_err(|e| bad("parties/local", format!("{e:#}")));
    }
    let mut spec = input
        .validate()
        .map_err(|e| bad("parties/ports/registry/domain", format!("{e:#}")))?;
    spec.sizing = record.sizing.clone();
    if record.serving {
        spec.serving = crate::model::spec::ServingWish::On;
    }
    Ok(spec)
}

/// The clusters the lab was made on must still be in the kubeconfig, each at the same API
/// server: a context that is gone, or now names another cluster, is not this lab's (exit 1).
fn recorded_clusters_present(t: &TargetRecord) -> Result<()> {
    let source = KubeconfigSource {
        path: t.kubeconfig.clone(),
    };
    let known = crate::model::target::contexts(&source.load()?);
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
pub fn hosts_file(given: Option<PathBuf>, spec: &LabSpec) -> Option<PathBuf> {
    given.or_else(|| spec.on_minikube().then(|| PathBuf::from("/etc/hosts")))
}

/// The URLs a lab's downloads come from by default.
pub fn default_urls() -> UrlBases {
    UrlBases {
        github: DEFAULT_GITHUB.into(),
        chart_repo: DEFAULT_CHART_REPO.into(),
    }
}

/// The lab on record, opened with `opts`; `None` when there is none.
pub fn lab_on_record(cli: &Cli, opts: RunOptions) -> Result<Option<Ctx>> {
    match state::load(&state_dir(cli))? {
        Some(record) => open_record(cli, record, opts).map(Some),
        None => Ok(None),
    }
}

/// The lab of a record already read, opened with `opts`.
pub fn open_record(cli: &Cli, record: LabRecord, opts: RunOptions) -> Result<Ctx> {
    let dir = state_dir(cli);
    let spec = spec_from_record(&record, &dir)?;
    let hosts = hosts_file(record.hosts_file.clone(), &spec);
    Ok(Ctx::new(
        spec,
        default_urls(),
        dir,
        hosts,
        opts,
        Ui::new(cli.yes, cli.verbose),
        record,
    ))
}
