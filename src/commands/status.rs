//! `fatelab status`: one round of parallel requests about the lab on record (`--watch`: see
//! `watch.rs`).
//! JSON output follows docs/status.schema.json.

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::{Value, json};

use super::{ctx_from_record, print_stdout, run_options, spec_from_record, state_dir};
use crate::cli::{Cli, Output, StatusArgs, VersionArgs};
use crate::clients::kube::deployment_available;
use crate::clients::minikube::{ClusterState, Minikube};
use crate::credentials;
use crate::exit;
use crate::health::Health;
use crate::state::LabRecord;
use crate::steps::Ctx;
use crate::target::Cluster;

/// No single question may hold `status` up for longer than this.
const EACH: Duration = Duration::from_secs(10);

async fn bounded<T>(f: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(EACH, f)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {}s", EACH.as_secs()))?
}

async fn minikube(record: &LabRecord) -> Value {
    let Some(m) = &record.minikube else {
        return json!({"healthy": false, "state": "Unknown", "version": null, "detail": "no minikube on record"});
    };
    let client = Minikube::new(m.path.clone(), &m.homes);
    match bounded(client.status()).await {
        Ok(ClusterState::Running(_)) => {
            json!({"healthy": true, "state": "Running", "version": m.version,
            "detail": format!("Kubernetes {}", m.kubernetes)})
        }
        Ok(ClusterState::NotRunning(s)) => {
            json!({"healthy": false, "state": "NotRunning", "version": m.version,
            "detail": format!("host {}, kubelet {}, apiserver {}; start it again with `fatelab up`", s.host, s.kubelet, s.apiserver)})
        }
        Ok(ClusterState::Missing) => {
            json!({"healthy": false, "state": "Missing", "version": m.version,
            "detail": "the minikube cluster does not exist; `fatelab up` creates it"})
        }
        Err(e) => {
            json!({"healthy": false, "state": "Unknown", "version": m.version, "detail": format!("{e:#}")})
        }
    }
}

/// One bounded question to each of the lab's clusters, all at once.
async fn each_cluster<T, F, Fut>(ctx: &Ctx<'_>, ask: F) -> Vec<(Cluster, Result<T>)>
where
    F: Fn(Cluster) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let clusters = ctx.clusters();
    let answers =
        futures::future::join_all(clusters.iter().cloned().map(|c| bounded(ask(c)))).await;
    clusters.into_iter().zip(answers).collect()
}

/// On existing clusters "minikube" says whether each context answers, and with which version.
async fn existing_clusters(ctx: &Ctx<'_>) -> Value {
    let answers = each_cluster(ctx, |c| async move {
        crate::steps::existing::server_version(ctx, &c).await
    })
    .await;
    let healthy = answers.iter().all(|(_, v)| v.is_ok());
    let detail: Vec<String> = answers
        .iter()
        .map(|(c, v)| match v {
            Ok(v) => format!("{} answers, Kubernetes v{v}", c.describe()),
            Err(e) => format!("{}: {e:#}", c.describe()),
        })
        .collect();
    let version = answers
        .iter()
        .find_map(|(_, v)| v.as_ref().ok().map(|v| format!("v{v}")));
    json!({"healthy": healthy, "state": "Existing", "version": version,
           "detail": format!("no minikube: {}", detail.join("; "))})
}

async fn existing_ingress(ctx: &Ctx<'_>) -> Value {
    let classes = each_cluster(ctx, |c| async move {
        crate::steps::existing::ingress_classes(ctx, &c).await
    })
    .await;
    let detail: Vec<String> = classes
        .iter()
        .map(|(c, v)| match v {
            Ok(list) => crate::steps::existing::ingress_note(ctx, c, list),
            Err(e) => format!("{}: {e:#}", c.describe()),
        })
        .collect();
    // No class is a way to run a lab, not a fault: the lab is reached through the API server.
    json!({"healthy": classes.iter().all(|(_, v)| v.is_ok()), "detail": detail.join("; ")})
}

/// The ingress controller's Deployment of the lab's minikube (it moved twice in minikube's history).
pub fn ingress_controller(record: &LabRecord) -> (&'static str, &'static str) {
    let version = record
        .minikube
        .as_ref()
        .and_then(|m| crate::clients::minikube::parse_semver(&m.version).ok())
        .unwrap_or_else(|| semver::Version::new(1, 22, 0));
    crate::steps::ingress_controller(&version)
}

async fn ingress(ctx: &Ctx<'_>, record: &LabRecord) -> Value {
    if !ctx.spec.on_minikube() {
        return existing_ingress(ctx).await;
    }
    let (ns, name) = ingress_controller(record);
    let result = bounded(async {
        let api: Api<Deployment> = Api::namespaced(ctx.kube().await?.clone(), ns);
        Ok(api.get_opt(name).await?)
    })
    .await;
    match result {
        Ok(d) if deployment_available(d.as_ref()) => {
            json!({"healthy": true, "detail": format!("{ns}/{name} available")})
        }
        Ok(Some(_)) => json!({"healthy": false, "detail": format!("{ns}/{name} is not available")}),
        Ok(None) => {
            json!({"healthy": false, "detail": format!("{ns}/{name} does not exist; `fatelab up` enables the addon")})
        }
        Err(e) => json!({"healthy": false, "detail": format!("{e:#}")}),
    }
}

/// Each cluster's KubeFATE service, and what it lists.
type Listed = std::collections::BTreeMap<Cluster, Vec<crate::clients::kubefate::Cluster>>;

async fn kubefate(ctx: &Ctx<'_>, show_credentials: bool) -> (Value, Listed) {
    let results = each_cluster(ctx, |c| async move {
        let kf = ctx.kubefate_in(&c).await?;
        let version = kf.version().await?;
        let listed = kf.clusters(false).await?;
        Ok((version, listed))
    })
    .await;
    let several = !ctx.spec.on_minikube();
    let mut details = Vec::new();
    let mut listed = Listed::new();
    let mut version = None;
    let mut healthy = true;
    for (c, r) in results {
        let place = if several {
            format!("{}: ", c.describe())
        } else {
            String::new()
        };
        match r {
            Ok((v, l)) => {
                details.push(format!("{place}answers through the API server"));
                version.get_or_insert(v);
                listed.insert(c, l);
            }
            Err(e) => {
                healthy = false;
                details.push(format!("{place}{e:#}"));
            }
        }
    }
    let mut v = json!({"healthy": healthy, "version": version, "detail": details.join("; ")});
    if show_credentials && let Ok(c) = credentials::load_or_create(&ctx.state_dir) {
        v["credentials"] =
            json!({"username": c.kubefate_username, "password": c.kubefate_password.expose()});
    }
    (v, listed)
}

async fn party_health(ctx: &Ctx<'_>, party: &crate::spec::Party) -> Result<Health> {
    bounded(crate::steps::party_health(ctx, party)).await
}

/// The steps whose world is the lab itself, observed as `up` observes them: what `up` would change.
const OBSERVED: [&str; 4] = ["ingress", "hosts", "kubefate", "parties"];

async fn drift(ctx: &Ctx<'_>) -> Vec<String> {
    let steps: Vec<_> = crate::steps::up_steps()
        .into_iter()
        .filter(|s| OBSERVED.contains(&s.info().name))
        .collect();
    let observed = futures::future::join_all(steps.iter().map(|s| bounded(s.observe(ctx)))).await;
    steps
        .iter()
        .zip(observed)
        .flat_map(|(step, diff)| {
            let name = step.info().name;
            match diff {
                Ok(d) => d.changes.iter().map(|c| format!("{name}: {c}")).collect(),
                Err(e) => vec![format!("{name}: cannot tell now ({e:#})")],
            }
        })
        .collect()
}

pub async fn run(cli: &Cli, args: &StatusArgs) -> Result<i32> {
    let Some(record) = LabRecord::load(&state_dir(cli))? else {
        let out = match cli.output {
            Output::Json => {
                serde_json::to_string_pretty(&json!({"lab": false, "healthy": false}))? + "\n"
            }
            Output::Text => format!(
                "There is no lab (no record in {}). Create one with `fatelab up`.\n",
                state_dir(cli).display()
            ),
        };
        print_stdout(&out)?;
        return Ok(exit::NO_LAB);
    };
    let spec = spec_from_record(&record, &state_dir(cli))?;
    let opts = run_options(
        cli,
        &VersionArgs {
            minikube_version: None,
            kubernetes_version: None,
        },
    );
    let ctx = ctx_from_record(cli, &spec, record.clone(), opts);
    if args.watch {
        return super::watch::run(cli.output, args, &ctx, &record).await;
    }
    let report = report(&ctx, &record, args.show_credentials).await;
    print_stdout(&render(&report, cli.output)?)?;
    Ok(code(&report))
}

/// 0 when the lab is healthy, 1 when not.
pub fn code(report: &Value) -> i32 {
    if report["healthy"] == true { 0 } else { 1 }
}

/// The report as `status` prints it: JSON for scripts, text for people.
pub fn render(report: &Value, output: Output) -> Result<String> {
    Ok(match output {
        Output::Json => serde_json::to_string_pretty(report)? + "\n",
        Output::Text => text(report),
    })
}

/// One round of questions about the lab on record, as docs/status.schema.json describes it.
pub async fn report(ctx: &Ctx<'_>, record: &LabRecord, show_credentials: bool) -> Value {
    let spec = ctx.spec;
    let (mk, ing, (kf, listed)) = tokio::join!(
        async {
            if spec.on_minikube() {
                minikube(record).await
            } else {
                existing_clusters(ctx).await
            }
        },
        ingress(ctx, record),
        kubefate(ctx, show_credentials)
    );
    let healths = futures::future::join_all(spec.ours().map(|p| party_health(ctx, p))).await;
    let none = Vec::new();
    let mut parties: Vec<Value> = spec
        .ours()
        .zip(healths)
        .map(|(p, health)| {
            let clusters = listed.get(&p.cluster).unwrap_or(&none);
            let cluster = clusters.iter().find(|c| c.name == p.name());
            let status = cluster.map(|c| c.status.clone()).unwrap_or_else(|| {
                if kf["healthy"] == true { "Missing".into() } else { "Unknown".into() }
            });
            let (ready, total) = health.as_ref().map(Health::counts).unwrap_or((0, 0));
            let problems: Vec<String> = match &health {
                Ok(Health::Unhealthy { problems, .. }) => problems.iter().map(|p| p.to_string()).collect(),
                Ok(Health::NoPods) => vec!["no pods".into()],
                Ok(Health::Healthy { .. }) => vec![],
                Err(e) => vec![format!("{e:#}")],
            };
            let healthy = status == "Running" && health.as_ref().is_ok_and(Health::is_healthy);
            let (notebook, fateboard) = spec.hostnames(p);
            json!({
                "id": p.id, "cluster": p.name(), "cluster_id": cluster.map(|c| c.uuid.clone()),
                "cluster_status": status, "pods_ready": ready, "pods_total": total,
                "healthy": healthy, "problems": problems,
                "urls": {"notebook": format!("http://{notebook}"), "fateboard": format!("http://{fateboard}")},
                "node_ports": p.ports, "context": p.cluster.context(), "address": spec.address(p).to_string(),
            })
        })
        .collect();
    let peers = crate::steps::existing::peer_checks(ctx).await;
    for (p, check) in spec.parties.iter().filter(|p| !p.is_ours()).zip(peers) {
        let answers = check.status == crate::doctor::Status::Pass;
        parties.push(json!({
            "id": p.id, "peer": true, "healthy": answers, "cluster_status": "Elsewhere",
            "pods_ready": 0, "pods_total": 0,
            "problems": if answers { vec![] } else { vec![check.detail.clone()] },
            "urls": {"notebook": "", "fateboard": ""}, "node_ports": p.ports,
            "address": spec.address(p).to_string(), "detail": check.detail,
        }));
    }
    let healthy = mk["healthy"] == true
        && ing["healthy"] == true
        && kf["healthy"] == true
        // Another organisation's party is theirs to keep healthy; it is reported, not judged.
        && parties
            .iter()
            .all(|p| p["healthy"] == true || p["peer"] == true);
    let changes = drift(ctx).await;
    json!({
        "lab": true, "healthy": healthy, "release": spec.release.release,
        "as_declared": changes.is_empty(), "changes": changes,
        "minikube": mk, "ingress": ing, "kubefate": kf, "parties": parties, "last_test": record.last_test,
        "tests": tests_by_kind(record),
    })
}

fn text(r: &Value) -> String {
    let mark = |v: &Value| if v["healthy"] == true { "ok  " } else { "FAIL" };
    let mut s = format!(
        "KubeFATE {} lab: {}\n",
        r["release"].as_str().unwrap_or("?"),
        if r["healthy"] == true {
            "healthy"
        } else {
            "NOT healthy"
        }
    );
    s.push_str(&format!(
        "{} minikube   {} {}\n",
        mark(&r["minikube"]),
        r["minikube"]["state"].as_str().unwrap_or(""),
        r["minikube"]["detail"].as_str().unwrap_or("")
    ));
    s.push_str(&format!(
        "{} ingress    {}\n",
        mark(&r["ingress"]),
        r["ingress"]["detail"].as_str().unwrap_or("")
    ));
    let kf = &r["kubefate"];
    s.push_str(&format!(
        "{} kubefate   {} {}\n",
        mark(kf),
        kf["version"].as_str().unwrap_or("-"),
        kf["detail"].as_str().unwrap_or("")
    ));
    if let Some(c) = kf.get("credentials") {
        s.push_str(&format!(
            "     credentials {} / {}\n",
            c["username"].as_str().unwrap_or(""),
            c["password"].as_str().unwrap_or("")
        ));
    }
    for p in r["parties"].as_array().into_iter().flatten() {
        if p["peer"] == true {
            s.push_str(&format!(
                "{} party {:<6} another organisation's: {}\n",
                if p["healthy"] == true { "ok  " } else { "WARN" },
                p["id"],
                p["detail"].as_str().unwrap_or("")
            ));
            continue;
        }
        s.push_str(&format!(
            "{} party {:<6} {} {}/{} pods ready; rollsite {}, FATE Flow {}; {} {}\n",
            mark(p),
            p["id"],
            p["cluster_status"].as_str().unwrap_or(""),
            p["pods_ready"],
            p["pods_total"],
            p["node_ports"]["rollsite"],
            p["node_ports"]["http"],
            p["urls"]["notebook"].as_str().unwrap_or(""),
            p["urls"]["fateboard"].as_str().unwrap_or("")
        ));
        for problem in p["problems"].as_array().into_iter().flatten() {
            s.push_str(&format!("       {}\n", problem.as_str().unwrap_or("")));
        }
    }
    let changes: Vec<&str> = r["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if changes.is_empty() {
        s.push_str("     as declared: `fatelab up` would change nothing\n");
    } else {
        s.push_str("     not as declared; `fatelab up` would:\n");
        for c in changes {
            s.push_str(&format!("       {c}\n"));
        }
    }
    let tests = r["tests"].as_object().cloned().unwrap_or_default();
    if tests.is_empty() {
        s.push_str("     last test: none yet (`fatelab test`)\n");
    }
    for (kind, t) in &tests {
        let at = t["at"]
            .as_i64()
            .and_then(|x| k8s_openapi::jiff::Timestamp::from_second(x).ok())
            .map(|x| x.to_string())
            .unwrap_or_else(|| "?".into());
        let mut line = format!(
            "     last {kind} test: {} at {at}",
            if t["ok"] == true { "success" } else { "FAILED" }
        );
        for job in t["jobs"].as_array().into_iter().flatten() {
            line.push_str(&format!(
                "; guest {} / host {}: job {} {}",
                job["guest"],
                job["hosts"][0],
                job["job_id"].as_str().unwrap_or("-"),
                job["status"].as_str().unwrap_or("?")
            ));
            if let Some(auc) = job.pointer("/metrics/auc").and_then(Value::as_f64) {
                line.push_str(&format!(", AUC {auc:.4}"));
            }
            if let Some(ks) = job.pointer("/metrics/ks").and_then(Value::as_f64) {
                line.push_str(&format!(", KS {ks:.4}"));
            }
        }
        s.push_str(&line);
        s.push('\n');
    }
    s
}

/// The last test of each kind; a record from before kinds holds only a toy test.
fn tests_by_kind(record: &crate::state::LabRecord) -> Value {
    let mut all = serde_json::Map::new();
    for (k, v) in &record.tests {
        all.insert(k.clone(), v.clone());
    }
    if all.is_empty()
        && let Some(t) = &record.last_test
    {
        all.insert("toy".into(), t.clone());
    }
    Value::Object(all)
}
