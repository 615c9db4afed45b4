//! `fatelab serve`: the trained LR model published to FATE-Serving (FATE 1.x) — deployed when
//! the job is DSL v2, loaded into every party's serving-server, bound to a service id at the
//! guest's — then one online inference for a row of the guest's table, its score beside the
//! score the training job itself gave that row. Each hop's failure is named with its fix.
//! Facts: shared/reference/serving.md §2.2-2.6.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};

use super::open::{lab_on_record, run_options, state_dir};
use super::print_stdout;
use crate::cli::{Cli, Output, ServeArgs};
use crate::clients::fateflow::publish::{JobModel, OutputPage, PartyAnswer, Publish};
use crate::clients::fateflow::{Api, FateFlow};
use crate::clients::kube::config_map_value;
use crate::clients::serving::{self, HOST_FEATURE_NOT_EXIST, MODEL_NULL, PROXY_ROUTER_ERROR};
use crate::exit::usage;
use crate::host::lock::StateLock;
use crate::model::jobs::JobKind;
use crate::model::record::Served;
use crate::model::spec::Party;
use crate::model::training;
use crate::steps::Ctx;

/// Online and offline scores this close are the same prediction.
const SAME: f64 = 1e-6;
/// FATE-Serving's default host adaptor: the same made-up features for any id.
const MOCK_ADAPTOR: &str = "MockAdapter";
/// FATE Flow's words for a DSL v2 model version it has not deployed.
const NOT_DEPLOYED: &str = "Please deploy model before loading";
/// The guest's table goes through DataIO first; its output holds each row's features.
const DATAIO: &str = "dataio_0";

pub async fn run(cli: &Cli, args: &ServeArgs) -> Result<i32> {
    let Some(ctx) = lab_on_record(cli, run_options(cli))? else {
        return Err(usage(format!(
            "there is no lab on record in {}; create one with `fatelab up --serving`",
            state_dir(cli).display()
        )));
    };
    if ctx.spec.local().is_some() || ctx.spec.release.fate_flow_api == Api::V2 {
        return Err(usage(
            "FATE 2.x has no online serving (FATE Flow 2.x's model load is an empty stub with no bind); \
             it predicts offline with a `predict` stage instead. `fatelab serve` needs a KubeFATE lab \
             of release v1.6.0 made with `fatelab up --serving`",
        ));
    }
    if !ctx.record().serving {
        return Err(usage(
            "this lab has no FATE-Serving: `fatelab up --serving` deploys it beside each party, then \
             `fatelab serve` publishes the model",
        ));
    }
    let _lock = StateLock::acquire(&ctx.state_dir, "serve")?;
    let (job_id, guest, component) = which_job(&ctx, args)?;
    let served = publish(&ctx, args, &job_id, guest, &component).await?;
    ctx.update_record(|r| r.served = Some(served.clone()))?;
    let same = (served.online_score - served.offline_score).abs() <= SAME;
    match cli.output {
        Output::Json => print_stdout(&(serde_json::to_string_pretty(&served)? + "\n"))?,
        Output::Text => print_stdout(&text(&served, same))?,
    }
    // A real adaptor answers the host's real row: then the two must agree, or the served model
    // or row is not the trained one.
    let mock = served.host_adaptor.contains(MOCK_ADAPTOR);
    Ok(if same || mock { 0 } else { 1 })
}

/// The job to serve: `--job`, else the last successful lr test's; its guest and model task.
fn which_job(ctx: &Ctx, args: &ServeArgs) -> Result<(String, u32, String)> {
    let record = ctx.record();
    if let Some(g) = args.guest.filter(|g| ctx.spec.party(*g).is_none()) {
        return Err(usage(format!("--guest {g}: the lab has no party {g}")));
    }
    let task = |kind: JobKind| {
        training::jobs()
            .v1
            .jobs
            .get(kind.name())
            .map(|j| j.task.clone())
    };
    let tests = record.tests.values().chain(record.last_test.iter());
    let known = tests.flat_map(|t| t.jobs.iter()).find(|j| match &args.job {
        Some(id) => j.job_id.as_deref() == Some(id),
        None => j.kind == JobKind::Lr && j.success() && j.job_id.is_some(),
    });
    match (&args.job, known) {
        (_, Some(j)) => {
            let id = j.job_id.clone().expect("a found job has an id");
            let component = task(j.kind).with_context(|| format!("job {id} trained no model"))?;
            Ok((id, args.guest.unwrap_or(j.guest), component))
        }
        (Some(id), None) => {
            let guest = args.guest.unwrap_or(ctx.spec.parties[0].id);
            Ok((id.clone(), guest, task(JobKind::Lr).expect("lr is a job")))
        }
        (None, None) => Err(usage(
            "no successful lr job on record: `fatelab test --job lr` trains one (or give --job ID)",
        )),
    }
}

async fn publish(
    ctx: &Ctx,
    args: &ServeArgs,
    job_id: &str,
    guest: u32,
    component: &str,
) -> Result<Served> {
    let flow = ctx.fate_flow(guest).await?;
    let line = ctx
        .ui
        .step(1, 4, &format!("Find the model of job {job_id}"));
    let model = match flow.job_model(job_id, guest).await? {
        Some(m) if m.status == "success" => m,
        Some(m) => {
            line.failed();
            bail!(
                "job {job_id} is {}, not success: only a finished training job has a model to serve",
                m.status
            );
        }
        None => {
            line.failed();
            bail!(
                "FATE Flow of party {guest} has no job {job_id} (`fatelab status` lists the lab's tests)"
            );
        }
    };
    let (mut version, reused) = deployed_version(ctx, &flow, &model, job_id, &line).await?;
    line.done();

    let line = ctx.ui.step(2, 4, "Load it into every party's FATE-Serving");
    let mut publish = Publish::new(guest, &model.roles, &model.model_id, &version);
    let (mut answer, mut parties) = flow.load_model(&publish).await?;
    if reused && parties.iter().any(|p| p.retmsg.contains(NOT_DEPLOYED)) {
        // FATE Flow no longer knows the version on record (its database was made anew).
        version = deploy(&flow, &model, &line).await?;
        publish = Publish::new(guest, &model.roles, &model.model_id, &version);
        (answer, parties) = flow.load_model(&publish).await?;
    }
    if answer.retcode != 0 || parties.iter().any(|p| p.retcode != 0) {
        line.failed();
        bail!("{}", load_failure(ctx, &parties, &answer.retmsg));
    }
    line.say(format!(
        "loaded by {}",
        parties
            .iter()
            .map(|p| format!("party {} ({})", p.party, p.role))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    line.done();

    let line = ctx.ui.step(
        3,
        4,
        &format!("Bind it to service id {} at party {guest}", args.service_id),
    );
    publish.service_id = Some(args.service_id.clone());
    let bound = flow.bind_model(&publish).await?;
    if bound.retcode != 0 {
        line.failed();
        bail!("{}", hop_failure(ctx, guest, "bind", &bound.retmsg));
    }
    line.done();

    let line = ctx
        .ui
        .step(4, 4, "Ask the guest's serving-proxy for one prediction");
    let (row_id, features, offline) = a_row(&flow, job_id, guest, component).await?;
    let hosts = model.roles.get("host").cloned().unwrap_or_default();
    let guest_party = party(ctx, guest)?;
    let kube = ctx.kube_for(guest_party).await?;
    let asked = serving::infer(
        kube,
        &guest_party.serving_name(),
        &args.service_id,
        &features,
        &row_id,
    )
    .await?;
    let Some(online) = asked.score.filter(|_| asked.retcode == 0) else {
        line.failed();
        bail!(
            "{}",
            inference_failure(
                guest,
                &hosts,
                &args.service_id,
                asked.retcode,
                &asked.retmsg
            )
        );
    };
    let mut adaptors = Vec::new();
    for h in &hosts {
        adaptors.push(host_adaptor(ctx, *h).await);
    }
    line.done();
    Ok(Served {
        service_id: args.service_id.clone(),
        job_id: job_id.into(),
        model_id: model.model_id.clone(),
        model_version: version,
        guest,
        hosts,
        row_id,
        features,
        offline_score: offline,
        online_score: online,
        host_adaptor: adaptors.join(", "),
        at: k8s_openapi::jiff::Timestamp::now().as_second(),
    })
}

fn party(ctx: &Ctx, id: u32) -> Result<&Party> {
    ctx.spec
        .party(id)
        .with_context(|| format!("party {id} is not in this lab"))
}

/// The version to load: a DSL v1 job's own; a DSL v2 job's model deployed once (a re-run
/// reuses the version on record for the same job rather than deploying another). True when it
/// is the recorded one.
async fn deployed_version(
    ctx: &Ctx,
    flow: &FateFlow,
    model: &JobModel,
    job_id: &str,
    line: &crate::ui::StepLine,
) -> Result<(String, bool)> {
    if model.dsl_version < 2 {
        return Ok((model.model_version.clone(), false));
    }
    if let Some(s) = ctx.record().served.filter(|s| s.job_id == job_id) {
        line.say(format!(
            "deployed before as model version {}",
            s.model_version
        ));
        return Ok((s.model_version, true));
    }
    Ok((deploy(flow, model, line).await?, false))
}

async fn deploy(flow: &FateFlow, model: &JobModel, line: &crate::ui::StepLine) -> Result<String> {
    let version = flow
        .deploy_model(&model.model_id, &model.model_version)
        .await?;
    line.say(format!(
        "deployed as model version {version} (a DSL v2 job's model is deployed before it is served)"
    ));
    Ok(version)
}

/// The first row of the job's own predictions whose features the guest's DataIO output shows:
/// (id, features by name, the job's score).
async fn a_row(
    flow: &FateFlow,
    job_id: &str,
    guest: u32,
    component: &str,
) -> Result<(String, BTreeMap<String, f64>, f64)> {
    let predicted = flow.output_page(job_id, "guest", guest, component).await?;
    let rows = flow.output_page(job_id, "guest", guest, DATAIO).await?;
    for p in &predicted.rows {
        let Some(id) = OutputPage::id(p) else {
            continue;
        };
        let Some(score) = predicted
            .cell(p, "predict_score")
            .and_then(serde_json::Value::as_f64)
        else {
            continue;
        };
        let Some(row) = rows
            .rows
            .iter()
            .find(|r| OutputPage::id(r).as_ref() == Some(&id))
        else {
            continue;
        };
        // DataIO's output with a label: id, label, then the features.
        let features = rows
            .header
            .iter()
            .zip(row)
            .skip(2)
            .filter_map(|(name, v)| Some((name.clone(), v.as_f64()?)))
            .collect();
        return Ok((id, features, score));
    }
    bail!(
        "job {job_id}'s output holds no scored row of the guest's table (FATE Flow of party {guest}: \
         {component} and {DATAIO} outputs): was it a training job with a guest table?"
    )
}

/// The host's feature adaptor, as its serving-server-config says.
async fn host_adaptor(ctx: &Ctx, host: u32) -> String {
    let Ok(p) = party(ctx, host) else {
        return "unknown".into();
    };
    let Ok(kube) = ctx.kube_for(p).await else {
        return "unknown".into();
    };
    let props = config_map_value(
        kube,
        &p.serving_name(),
        "serving-server-config",
        "serving-server.properties",
    )
    .await
    .ok()
    .flatten()
    .unwrap_or_default();
    props
        .lines()
        .find_map(|l| l.trim().strip_prefix("feature.single.adaptor="))
        .map_or_else(|| "unknown".into(), |a| a.trim().to_string())
}

/// A load refused: the first party's failure, named by its hop.
fn load_failure(ctx: &Ctx, parties: &[PartyAnswer], retmsg: &str) -> String {
    match parties.iter().find(|p| p.retcode != 0) {
        Some(p) => hop_failure(ctx, p.party, "load", &p.retmsg),
        None => format!("FATE Flow refused the model load: {retmsg}"),
    }
}

/// What FATE Flow's words about a load or bind at `party` mean, and what to do.
fn hop_failure(ctx: &Ctx, party: u32, what: &str, retmsg: &str) -> String {
    let address = ctx
        .spec
        .party(party)
        .map(|p| {
            let (ip, port) = crate::render::cluster_serving::fate_side(&ctx.spec, p);
            format!("{ip}:{port}")
        })
        .unwrap_or_default();
    if retmsg.contains("Please configure servings address") {
        return format!(
            "FATE Flow of party {party} has no serving address (`servings` in its service_conf.yaml is \
             empty — KubeFATE#415), so it cannot {what} the model. `fatelab up --serving` sets \
             servingIp/servingPort ({address}) in fate-{party}'s cluster.yaml and updates the cluster; \
             FATE's words: {retmsg}"
        );
    }
    if retmsg.contains("UNAVAILABLE") || retmsg.contains("failed to connect") {
        return format!(
            "FATE Flow of party {party} cannot reach its serving-server at {address} (gRPC, the \
             serving-server NodePort; KubeFATE#746/#651), so it cannot {what} the model. `fatelab status` \
             shows fate-serving-{party}'s pods; the NodePort must answer on {address} from inside the \
             cluster. FATE's words: {}",
            one_line(retmsg)
        );
    }
    if retmsg.contains(NOT_DEPLOYED) {
        return format!(
            "FATE Flow of party {party} has not deployed this model version (a DSL v2 job's model is \
             deployed before it is loaded; deployed on one party, it is on all); FATE's words: {retmsg}"
        );
    }
    format!(
        "party {party} could not {what} the model: {}",
        one_line(retmsg)
    )
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a failed inference means, hop by hop.
fn inference_failure(
    guest: u32,
    hosts: &[u32],
    service_id: &str,
    retcode: i64,
    retmsg: &str,
) -> String {
    let hosts: Vec<String> = hosts.iter().map(u32::to_string).collect();
    let hosts = hosts.join(", ");
    match retcode {
        MODEL_NULL if retmsg.contains("serviceId") => format!(
            "serving-server of party {guest} has no model bound to service id {service_id} (FATE-Serving \
             keeps bindings inside its pod: a restart forgets them — KubeFATE#704); `fatelab serve` \
             loads and binds it again. FATE-Serving's words: {retmsg}"
        ),
        MODEL_NULL => format!(
            "the host's serving-server (party {hosts}) has not loaded the model; `fatelab serve` loads \
             it into every party again. FATE-Serving's words: {retmsg}"
        ),
        PROXY_ROUTER_ERROR => format!(
            "serving-proxy of party {guest} has no route to the host (party {hosts}): its route table \
             (ConfigMap serving-proxy-config in fate-serving-{guest}) lacks it, though the lab's \
             fate-serving-{guest}.yaml lists it (servingProxy.partyList), so it was changed after the \
             install; `fatelab up --no-serving` then `fatelab up --serving` installs FATE-Serving again. \
             FATE-Serving's words: {retmsg}"
        ),
        HOST_FEATURE_NOT_EXIST => format!(
            "the host (party {hosts}) has no features for the row: its feature adaptor found none. \
             FATE-Serving's words: {retmsg}"
        ),
        _ => format!("serving-proxy of party {guest} answered code {retcode}: {retmsg}"),
    }
}

fn text(s: &Served, same: bool) -> String {
    let mut out = format!(
        "model       {} version {} (job {})\n\
         service id  {} at party {} (hosts: {})\n\
         row         id {} of the guest's table ({} features sent; the host is sent only the id)\n\
         online      {:.6}  serving-proxy of party {}\n\
         offline     {:.6}  job {}'s own prediction for id {}\n",
        s.model_id,
        s.model_version,
        s.job_id,
        s.service_id,
        s.guest,
        s.hosts
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        s.row_id,
        s.features.len(),
        s.online_score,
        s.guest,
        s.offline_score,
        s.job_id,
        s.row_id,
    );
    let gap = (s.online_score - s.offline_score).abs();
    if same {
        out.push_str(&format!(
            "the same prediction (within {SAME:e}): the served model is the trained one\n"
        ));
    } else if s.host_adaptor.contains(MOCK_ADAPTOR) {
        out.push_str(&format!(
            "they differ by {gap:.6}, as expected here: the host answers with FATE-Serving's \
             MockAdapter, the same made-up features for any id (x0=1 … x10=32776), so the host's half \
             of the online score is not the real row's. Point feature.single.adaptor in the host's \
             serving-server-config at a real feature source (e.g. HttpAdapter) to compare for real.\n"
        ));
    } else {
        out.push_str(&format!(
            "they differ by {gap:.6} although the host's adaptor ({}) answers real rows: the served \
             model or row is not the trained one\n",
            s.host_adaptor
        ));
    }
    out.push_str(&format!("host adaptor {}\n", s.host_adaptor));
    out
}
