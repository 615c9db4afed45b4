//! `fatelab up`: validate, then converge every step of the lab's target: observe, compare, act
//! on the difference; `--dry-run` prints the differences instead.

use anyhow::Result;

use super::open::{hosts_file, lab_spec, run_options, state_dir};
use super::{plan, print_stdout};
use crate::checks::cluster::facts::resolve_addresses;
use crate::cli::{Cli, Output, UpArgs};
use crate::exit::usage;
use crate::host::invoker::{may_write, with_sudo};
use crate::host::lock::StateLock;
use crate::host::state;
use crate::model::catalog::UrlBases;
use crate::model::record::LabRecord;
use crate::model::spec::{LabSpec, ServingWish};
use crate::steps::{Ctx, for_target};
use crate::ui::Ui;

pub async fn run(cli: &Cli, args: &UpArgs) -> Result<()> {
    let mut spec = lab_spec(&args.lab)?;
    if args.serving {
        serving_possible(&spec, "--serving")?;
    }
    if let Some(b) = args.images_bundle.as_ref().filter(|b| !b.is_file()) {
        return Err(usage(format!("--images {}: no such file", b.display())));
    }
    if args.images_bundle.is_some() && !spec.on_minikube() {
        return Err(usage(
            "--images loads a bundle into this host's Docker, which an existing cluster's nodes do not use; \
             push the images to a registry the nodes reach (`fatelab images load` then push) and pass --registry",
        ));
    }
    if let Some(d) = args.artifacts_dir.as_ref().filter(|d| !d.is_dir()) {
        return Err(usage(format!(
            "--artifacts-dir {}: no such directory",
            d.display()
        )));
    }
    let state_dir = state_dir(cli);
    let chart = match &args.chart {
        Some(given) => Some(user_chart(&spec, given, args, &state_dir)?),
        None => None,
    };
    resolve_addresses(&mut spec, cli.call_timeout).await?;
    spec.sizing = size_lab(&spec, args.resources)?;
    let mut opts = run_options(cli);
    opts.minikube_version = args.versions.minikube_version.clone();
    opts.kubernetes_version = args.versions.kubernetes_version.clone();
    opts.chart = chart;
    opts.ignore_checks = args.ignore_check.clone();
    opts.wait_timeout = args.timeout;
    opts.artifacts_dir = args.artifacts_dir.clone();
    opts.images_bundle = args.images_bundle.clone();
    opts.pypi_index = args.pypi_index.clone();
    opts.test = if args.no_test { None } else { args.test.job() };
    opts.min_auc = args.min_auc;
    opts.settle = args.settle;
    // One budget for the whole run: every wait draws from it. The run itself stops a moment
    // after it, so a wait that runs out first can say what it waited for.
    let budget_ends = tokio::time::Instant::now() + args.timeout + BUDGET_GRACE;
    opts.budget_ends = Some(budget_ends);
    // What the lab is comes from the spec; what fatelab made is kept from the record.
    let previous = state::load(&state_dir)?;
    if let Some(prev) = &previous {
        same_place(&spec, prev)?;
    }
    let had_serving = previous.as_ref().is_some_and(|p| p.serving);
    spec.serving = match (args.serving, args.no_serving, had_serving) {
        (true, _, _) => ServingWish::On,
        (_, true, true) => ServingWish::Remove,
        (_, true, false) => ServingWish::Off,
        (_, _, true) => {
            serving_possible(
                &spec,
                "the lab's FATE-Serving (kept from an earlier `up --serving`)",
            )
            .map_err(|e| usage(format!("{e:#}; `fatelab up --no-serving` removes it first")))?;
            ServingWish::On
        }
        (_, _, false) => ServingWish::Off,
    };
    let mut record = previous.clone().unwrap_or_else(LabRecord::new);
    // Kept until the serving step has removed every serving cluster.
    record.serving = had_serving || spec.serving == ServingWish::On;
    record.release = spec.release.release.clone();
    record.parties = spec.parties.iter().map(|p| p.id).collect();
    record.ip = spec.ip.to_string();
    record.domain = spec.domain.clone();
    record.registry = spec.registry.clone();
    record.ports = spec.parties.iter().map(|p| (p.id, p.ports)).collect();
    record.sizing = spec.sizing.clone();
    placement(&spec, &mut record);
    let hosts = hosts_file(args.hosts_file.clone(), &spec);
    let ctx = Ctx::new(
        spec,
        UrlBases {
            github: args.github_mirror.clone(),
            chart_repo: args.chart_repo.clone(),
        },
        state_dir.clone(),
        hosts,
        opts,
        Ui::new(cli.yes, cli.verbose),
        record,
    );
    let steps = for_target(&ctx.spec);
    if let Some(until) = args.until.filter(|u| !steps.iter().any(|s| s.name() == *u)) {
        let names: Vec<&str> = steps.iter().map(|s| s.name().as_str()).collect();
        return Err(usage(format!(
            "--until {until}: this lab has no such step; its steps are {}",
            names.join(", ")
        )));
    }

    if args.dry_run {
        let plan = plan::build(&ctx, &steps)?;
        // On a host with a lab: what would change, observed now; else the whole plan.
        let text = match previous {
            Some(_) => plan::changes(&ctx, &steps).await,
            None => plan.to_text(&args.plan_dir) + &plan::checks_now(&ctx).await,
        };
        for path in plan.write(&args.plan_dir, &text)? {
            tracing::info!("wrote {}", path.display());
        }
        let out = match cli.output {
            Output::Text => text,
            Output::Json => plan.to_json(&args.plan_dir)? + "\n",
        };
        return print_stdout(&out);
    }

    needs_root(&ctx)?;
    let _lock = StateLock::acquire(&state_dir, "up")?;
    let total = steps.len();
    let mut times = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let line = ctx.ui.step(i + 1, total, step.title());
        let started = std::time::Instant::now();
        let result = {
            let work = async {
                let observed = step.observe(&ctx).await?;
                let unchanged = observed.is_empty().then(|| observed.summary().to_string());
                if unchanged.is_none() {
                    ctx.mark_changed();
                }
                observed.converge(&line).await?;
                anyhow::Ok(unchanged)
            };
            tokio::pin!(work);
            // The step is still alive in the second branch, so its calls in flight can be named.
            tokio::select! {
                r = &mut work => r,
                () = tokio::time::sleep_until(budget_ends) => Err(out_of_time(args.timeout)),
            }
        };
        times.push(format!(
            "{} {:.1}s",
            step.name(),
            started.elapsed().as_secs_f64()
        ));
        let acted = matches!(result, Ok(None));
        match result {
            Ok(None) => line.done(),
            Ok(Some(why)) => line.unchanged(&why),
            Err(e) => {
                line.failed();
                return Err(e.context(format!("step {} failed", step.name())));
            }
        }
        if acted {
            let epilogue = step.epilogue(&ctx).await;
            if !epilogue.is_empty() {
                epilogue.iter().for_each(|l| ctx.ui.println(l));
                ctx.ui.println(format!("Step times: {}", times.join(", ")));
            }
        }
        if args.until == Some(step.name()) && i + 1 < total {
            ctx.ui.println(format!(
                "Stopped after step {} as asked (--until); run `fatelab up` again to go on.",
                step.name()
            ));
            return Ok(());
        }
    }
    if ctx.spec.on_minikube() {
        kubectl_hint(&ctx);
    }
    for peer in ctx.spec.parties.iter().filter(|p| !p.is_ours()) {
        ctx.ui.println(format!(
            "Party {}'s organisation runs, on its side: {}\nthen `fatelab test --host {}` runs a job between the two from here.",
            peer.id,
            ctx.spec.other_side(peer),
            peer.id
        ));
    }
    ctx.ui.println("The lab is up.");
    Ok(())
}

fn same_place(spec: &LabSpec, previous: &LabRecord) -> Result<()> {
    let kind = |local: bool| {
        if local {
            "processes on this host (--local)"
        } else {
            "Kubernetes"
        }
    };
    if previous.local.is_some() != spec.local().is_some() {
        return Err(usage(format!(
            "the lab on record runs on {}, and this one on {}; nothing was changed: remove the old lab first \
             (`fatelab down`), or keep this one apart with --state-dir DIR",
            kind(previous.local.is_some()),
            kind(spec.local().is_some())
        )));
    }
    let was_minikube = previous.target.is_none();
    for (&id, _) in previous.clusters.iter() {
        let Some(party) = spec.party(id) else {
            continue;
        };
        let before = previous.placement.get(&id).and_then(|p| p.context.clone());
        let now = party.cluster.context().map(String::from);
        let moved = if was_minikube {
            !spec.on_minikube()
        } else {
            before != now
        };
        if moved {
            let place = |c: &Option<String>, minikube: bool| match (c, minikube) {
                (_, true) => "minikube".to_string(),
                (Some(c), _) => format!("context {c}"),
                (None, _) => "another organisation's cluster".to_string(),
            };
            return Err(usage(format!(
                "party {id} of the lab on record runs in {}, and this lab puts it in {}; nothing was changed: \
                 remove the old lab first (`fatelab down`), or keep this one apart with --state-dir DIR",
                place(&before, was_minikube),
                place(&now, spec.on_minikube()),
            )));
        }
    }
    Ok(())
}
fn placement(spec: &LabSpec, record: &mut LabRecord) {
    use crate::model::record::{Placement, TargetRecord};
    record.target = match &spec.target {
        crate::model::spec::Target::Minikube => None,
        crate::model::spec::Target::Local { ports } => {
            let local = record.local.get_or_insert_with(Default::default);
            local.port_base = ports.base;
            None
        }
        crate::model::spec::Target::Existing {
            kubeconfig,
            servers,
        } => {
            let mut servers = servers.clone();
            if let Some(old) = &record.target {
                for id in record.clusters.keys() {
                    if let Some(c) = record.placement.get(id).and_then(|p| p.context.as_ref())
                        && let Some(server) = old.servers.get(c)
                    {
                        servers.entry(c.clone()).or_insert_with(|| server.clone());
                    }
                }
            }
            Some(TargetRecord {
                kubeconfig: kubeconfig.path.clone(),
                servers,
            })
        }
    };
    let leaving: Vec<(u32, Placement)> = record
        .placement
        .iter()
        .filter(|(id, _)| record.clusters.contains_key(id) && spec.party(**id).is_none())
        .map(|(id, p)| (*id, p.clone()))
        .collect();
    record.placement = spec
        .parties
        .iter()
        .filter(|p| p.cluster != crate::model::target::Cluster::Minikube || p.address.is_some())
        .map(|p| {
            (
                p.id,
                Placement {
                    context: p.cluster.context().map(String::from),
                    ip: p.address.map(|a| a.to_string()),
                    peer: !p.is_ours(),
                },
            )
        })
        .chain(leaving)
        .collect();
}
fn user_chart(
    spec: &LabSpec,
    given: &std::path::Path,
    args: &UpArgs,
    state_dir: &std::path::Path,
) -> Result<std::path::PathBuf> {
    let r = spec.release;
    let wanted = crate::host::chart::ChartId {
        name: r.chart.name.clone(),
        version: r.chart.version.clone(),
    };
    let file = r
        .artifact("chart")
        .map_or_else(|| format!("{wanted}.tgz"), |a| a.file.clone());
    let packaged = if args.dry_run {
        args.plan_dir.join(&file)
    } else {
        state::cache_dir(state_dir, &r.release)
            .join("from-chart-dir")
            .join(&file)
    };
    let path = crate::host::chart::from_user(given, &wanted, &packaged)
        .map_err(|e| usage(format!("{e:#}")))?;
    crate::host::chart::apply_edits(&std::fs::read(&path)?, &r.chart.edits)
        .map_err(|e| usage(format!("--chart {}: {e:#}", given.display())))?;
    Ok(path)
}
fn size_lab(
    spec: &LabSpec,
    profile: crate::model::sizing::Profile,
) -> Result<Option<crate::model::sizing::PartySize>> {
    use crate::model::sizing;
    // An existing cluster's scheduler spreads the parties over its nodes: the chart's own
    // requests stand, and this host's size says nothing about it.
    if spec.release.cluster_schema != crate::model::catalog::ClusterSchema::V2
        || !spec.on_minikube()
    {
        return Ok(None);
    }
    let host = crate::host::facts::host_size()?;
    let n = spec.parties.len();
    let fit = sizing::size(profile, n, host);
    if fit.fits {
        return Ok(Some(fit.party));
    }
    let most = (2..=n)
        .rev()
        .find(|&k| sizing::size(sizing::Profile::Small, k, host).fits);
    let advice = match most {
        None => "not even two parties fit: use a bigger host".to_string(),
        Some(k) if profile == sizing::Profile::Small => {
            format!("at most {k} parties fit this host")
        }
        Some(k) if k == n => "`--resources small` fits this lab to the host".to_string(),
        Some(k) => format!("`--resources small` fits at most {k} parties here"),
    };
    anyhow::bail!(
        "preflight: the lab does not fit this host; nothing was changed:\n  {}\n{advice}",
        fit.arithmetic(n).join("\n  ")
    )
}

/// FATE-Serving runs beside a KubeFATE lab of a release whose catalog entry has a serving
/// chart; otherwise `what` is refused (exit 2) with the catalog's explanation, before anything
/// is asked of any host or service.
fn serving_possible(spec: &LabSpec, what: &str) -> Result<()> {
    use crate::model::catalog::Serving;
    if spec.local().is_some() {
        return Err(usage(format!(
            "{what}: a local lab runs FATE 2.2, which has no online serving (FATE Flow 2.x's model load is an \
             empty stub with no bind); FATE-Serving needs a KubeFATE lab of release v1.6.0"
        )));
    }
    match &spec.release.serving {
        Serving::Chart { .. } => Ok(()),
        Serving::Refused { refused } => Err(usage(format!(
            "{what}: KubeFATE {} cannot serve: {refused}",
            spec.release.release
        ))),
    }
}

/// Writing the hosts file needs root: say so before anything changes (exit 2).
fn needs_root(ctx: &Ctx) -> Result<()> {
    let Some(path) = &ctx.hosts_file else {
        return Ok(());
    };
    let current = std::fs::read(path).unwrap_or_default();
    let wanted =
        crate::host::hosts_file::with_block(&current, &crate::render::hosts::block(&ctx.spec))?;
    if wanted != current && !may_write(path) {
        return Err(usage(format!(
            "`up` writes the lab's host names into {} and that needs root; nothing was changed.\n\
             Run: sudo {}\n(the lab's files stay yours: under sudo fatelab keeps them in your home; \
             or pass --hosts-file PATH for a file you may write)",
            path.display(),
            with_sudo()
        )));
    }
    Ok(())
}

/// A wait that started early in the run ends up to this long before the run's own end: room to
/// say what it waited for (2 s was not always enough beside a compiler on 2 cores).
const BUDGET_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The run's budget is spent: say what it was waiting for, and for how long.
fn out_of_time(budget: std::time::Duration) -> anyhow::Error {
    let waiting = match crate::clients::transport::oldest_in_flight() {
        Some((call, for_how_long)) => format!(
            ", waiting for {call} (no answer for {})",
            humantime::format_duration(std::time::Duration::from_secs(for_how_long.as_secs()))
        ),
        None => String::new(),
    };
    anyhow::anyhow!(
        "ran out of time: `up --timeout {}` was spent{waiting}. Run `fatelab up` again to go on (it resumes), \
         with a larger --timeout if the lab is just slow",
        humantime::format_duration(budget)
    )
}

fn kubectl_hint(ctx: &Ctx) {
    if which::which("kubectl").is_err() {
        ctx.ui.println(
            "kubectl is not installed. fatelab does not need it; for one matching the cluster use \
             `minikube kubectl -- get pods -A`",
        );
    }
}
