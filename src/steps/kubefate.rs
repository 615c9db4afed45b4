//! Step 7: the KubeFATE service (its RBAC, the service and its database) and a check that it
//! answers; also the `kubefate` CLI for the user, configured for this lab.

use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Value, json};

use super::{Ctx, Diff, Outcome, Step, StepFuture, StepInfo, StepPlan};
use crate::clients::kube;
use crate::clients::kubefate::NAMESPACE;
use crate::compare;
use crate::credentials;
use crate::render::manifests::{self, Credentials};
use crate::state::MadeObject;
use crate::target::Cluster;
use crate::ui::StepLine;

pub struct Kubefate;

fn describe(doc: &Value) -> String {
    let field = |p: &str| doc.pointer(p).and_then(Value::as_str).unwrap_or("?");
    match doc.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{} {ns}/{}", field("/kind"), field("/metadata/name")),
        None => format!("{} {}", field("/kind"), field("/metadata/name")),
    }
}

/// How long the service gets to answer once its Deployment is available.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

const DEPLOYMENTS: [&str; 2] = ["kubefate", "mariadb"];

fn identity(doc: &Value, existed: Option<&Value>, cluster: &Cluster) -> MadeObject {
    let field = |p: &str| doc.pointer(p).and_then(Value::as_str).unwrap_or_default();
    // Where the server keeps it: a cluster-scoped object has no namespace, whatever the file says.
    let namespace = match existed {
        Some(live) => live.pointer("/metadata/namespace"),
        None => doc.pointer("/metadata/namespace"),
    };
    MadeObject {
        context: cluster.context().map(String::from),
        api_version: field("/apiVersion").into(),
        kind: field("/kind").into(),
        namespace: namespace.and_then(Value::as_str).map(String::from),
        name: field("/metadata/name").into(),
        uid: existed
            .and_then(|o| o.pointer("/metadata/uid"))
            .and_then(Value::as_str)
            .map(String::from),
        created: existed.is_none(),
    }
}

/// The manifests, each object as the cluster holds it, and whether the service runs.
struct Observed {
    cluster: Cluster,
    package: Result<Package>,
    rbac: Vec<Value>,
    service: Vec<Value>,
    /// Every object with what the cluster holds under its name (uid; `created` = it was absent).
    found: Vec<MadeObject>,
    apply: bool,
    wait: bool,
}

/// Whether the recorded object `m` is in `cluster`.
fn in_cluster(m: &MadeObject, cluster: &Cluster) -> bool {
    m.context.as_deref() == cluster.context()
}

/// The cluster a recorded object is in.
fn cluster_of(m: &MadeObject) -> Cluster {
    match &m.context {
        Some(c) => Cluster::Context(c.clone()),
        None => Cluster::Minikube,
    }
}

/// Every cluster that holds a party gets its own service; each is observed on its own.
async fn observe(ctx: &Ctx<'_>) -> Result<Diff> {
    let clusters = ctx.clusters();
    let several = clusters.len() > 1 || !ctx.spec.on_minikube();
    let all = futures::future::try_join_all(clusters.iter().map(|c| observe_in(ctx, c))).await?;
    let mut changes = Vec::new();
    let mut observed = Vec::new();
    for (cluster, (c, o)) in clusters.iter().zip(all) {
        changes.extend(c.into_iter().map(|c| {
            if several {
                format!("{}: {c}", cluster.describe())
            } else {
                c
            }
        }));
        observed.push(o);
    }
    let service = &ctx.spec.release.kubefate_service;
    let summary = if several {
        format!(
            "KubeFATE service {service} runs as declared in {}",
            clusters
                .iter()
                .map(Cluster::describe)
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!("KubeFATE service {service} runs as declared")
    };
    Ok(Diff::new(changes, summary, observed))
}

async fn observe_in(ctx: &Ctx<'_>, cluster: &Cluster) -> Result<(Vec<String>, Observed)> {
    let creds = credentials::load_or_create(&ctx.state_dir)?;
    let package = Package::read(ctx);
    let (rbac, service) = match package_manifests(ctx, &package, &creds) {
        Ok(docs) => docs,
        Err(_) => manifests::documents(ctx.spec, &creds)?,
    };
    let client = ctx.kube_in(cluster).await?;
    let mut changes = Vec::new();
    let mut found = Vec::new();
    let docs: Vec<Value> = rbac.iter().chain(service.iter()).cloned().collect();
    let lives = kube::get_objects(client, &docs).await?;
    for (doc, live) in docs.iter().zip(lives) {
        match &live {
            None => changes.push(format!("create {}", describe(doc))),
            Some(l) => {
                let off = compare::object_differences(doc, l);
                if !off.is_empty() {
                    changes.push(format!(
                        "apply {} again (differs at {})",
                        describe(doc),
                        off.join(", ")
                    ));
                }
            }
        }
        found.push(identity(doc, live.as_ref(), cluster));
    }
    let apply = !changes.is_empty();
    let api: ::kube::Api<Deployment> = ::kube::Api::namespaced(client.clone(), NAMESPACE);
    let mut wait = false;
    for name in DEPLOYMENTS {
        if !kube::deployment_available(api.get_opt(name).await?.as_ref()) {
            wait = true;
            changes.push(format!(
                "wait until Deployment {NAMESPACE}/{name} is available"
            ));
        }
    }
    if !wait && let Err(e) = answers(ctx, cluster).await {
        wait = true;
        changes.push(format!("wait until the service answers (now: {e:#})"));
    }
    Ok((
        changes,
        Observed {
            cluster: cluster.clone(),
            package,
            rbac,
            service,
            found,
            apply,
            wait,
        },
    ))
}

/// A login and `GET /v1/version/` prove the service and its database answer.
async fn answers(ctx: &Ctx<'_>, cluster: &Cluster) -> Result<String> {
    ctx.kubefate_in(cluster).await?.version().await
}

/// The inventory entry for each object about to be applied: what the record already knew of it,
/// else what the cluster held before (an object that was there is not fatelab's to delete).
fn inventory(recorded: &[MadeObject], found: &[MadeObject]) -> Vec<MadeObject> {
    found
        .iter()
        .map(|f| {
            match recorded.iter().find(|r| {
                r.same_object(f) && (r.uid.is_none() || f.uid.is_none() || r.uid == f.uid)
            }) {
                Some(r) => r.clone(),
                None => f.clone(),
            }
        })
        .collect()
}

async fn converge(ctx: &Ctx<'_>, line: &StepLine, diff: Diff) -> Result<()> {
    let observed = *diff.observation::<Vec<Observed>>();
    let mut package_used = None;
    for o in observed {
        let package = converge_in(ctx, line, o).await?;
        package_used.get_or_insert(package);
    }
    if let Some(package) = package_used {
        let creds = credentials::load_or_create(&ctx.state_dir)?;
        install_cli(ctx, line, &package, &creds);
    }
    Ok(())
}

async fn converge_in(ctx: &Ctx<'_>, line: &StepLine, o: Observed) -> Result<Result<Package>> {
    let r = ctx.spec.release;
    let creds = credentials::load_or_create(&ctx.state_dir)?;
    let Observed {
        cluster,
        package,
        rbac,
        service,
        found,
        apply,
        wait,
    } = o;
    let client = ctx.kube_in(&cluster).await?;
    let place = if ctx.spec.on_minikube() {
        String::new()
    } else {
        format!(" in {}", cluster.describe())
    };
    if apply {
        if let Err(e) = &package {
            line.say(format!(
                "using fatelab's copy of the release manifests ({e:#})"
            ));
        }
        // Recorded before applying, so an interrupted run still knows what it may have made.
        let recorded: Vec<MadeObject> = ctx
            .record()
            .objects
            .into_iter()
            .filter(|m| in_cluster(m, &cluster))
            .collect();
        let mut made = inventory(&recorded, &found);
        let keep = |rec: &mut crate::state::LabRecord, made: &[MadeObject]| {
            rec.objects.retain(|m| !in_cluster(m, &cluster));
            rec.objects.extend(made.iter().cloned());
        };
        ctx.update_record(|rec| {
            keep(rec, &made);
            rec.clear_legacy();
        })?;
        let needs = format!("KubeFATE {} needs {}", r.release, r.kubernetes.describe());
        line.note(format!("applying rbac-config.yaml{place}"));
        let mut applied = kube::apply_all(client, &rbac, &needs).await?;
        line.note(format!("applying kubefate.yaml{place}"));
        applied.extend(kube::apply_all(client, &service, &needs).await?);
        for a in applied {
            if let Some(m) = made
                .iter_mut()
                .find(|m| m.kind == a.kind && m.name == a.name && m.namespace == a.namespace)
            {
                m.uid = a.uid;
            }
        }
        ctx.update_record(|rec| keep(rec, &made))?;
    }
    if apply || wait {
        line.note(format!(
            "waiting for Deployments kube-fate/kubefate and kube-fate/mariadb{place}"
        ));
        kube::wait_deployments_available(client, NAMESPACE, &DEPLOYMENTS, ctx.wait_timeout())
            .await
            .context("the KubeFATE service did not become available")?;
        line.note("asking the service for its version");
        let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
        let version = loop {
            // A Deployment turns available a moment before its Service routes to the pod.
            match answers(ctx, &cluster).await {
                Ok(v) => break v,
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(e.context(format!(
                        "the KubeFATE service did not answer within {}",
                        kube::human(ANSWER_WITHIN)
                    )));
                }
                Err(e) => {
                    tracing::info!("KubeFATE not answering yet: {e:#}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        if version != r.kubefate_service {
            line.say(format!(
                "warning: the service reports {version}; KubeFATE {} ships {}",
                r.release, r.kubefate_service
            ));
        }
        line.say(format!(
            "KubeFATE service {version} answers{place} (logged in as {})",
            creds.kubefate_username
        ));
    }
    Ok(package)
}

/// The files fatelab takes from the downloaded release package, read in one pass.
struct Package {
    path: std::path::PathBuf,
    files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl Package {
    fn read(ctx: &Ctx) -> Result<Package> {
        let artifact = ctx
            .spec
            .release
            .artifact("package")
            .context("the catalog names no package")?;
        let path = super::artifacts::local_path(ctx, artifact);
        let files =
            crate::package::files(&path, &["rbac-config.yaml", "kubefate.yaml", "kubefate"])?;
        Ok(Package { path, files })
    }

    fn file(&self, name: &str) -> Result<&[u8]> {
        self.files
            .get(name)
            .map(Vec::as_slice)
            .with_context(|| format!("{} has no {name}", self.path.display()))
    }

    fn text(&self, name: &str) -> Result<String> {
        String::from_utf8(self.file(name)?.to_vec())
            .with_context(|| format!("{name} in {} is not text", self.path.display()))
    }
}

/// The manifests from the downloaded release package, with fatelab's edits.
fn package_manifests(
    ctx: &Ctx,
    package: &Result<Package>,
    creds: &Credentials,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let package = package.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    manifests::documents_from(
        ctx.spec,
        creds,
        &package.text("rbac-config.yaml")?,
        &package.text("kubefate.yaml")?,
        "package's",
    )
}

/// Unpacks the package's `kubefate` binary and writes the config.yaml it reads from its working
/// directory, so the tutorial's `kubefate cluster ls` works. Best effort: fatelab itself does not
/// need the CLI.
fn install_cli(ctx: &Ctx, line: &StepLine, package: &Result<Package>, creds: &Credentials) {
    let dir = ctx.state_dir.join("kubefate");
    let result = (|| -> Result<bool> {
        let package = package.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let binary = package.file("kubefate")?;
        let target = dir.join("kubefate");
        let config = format!(
            "log:\n  level: info\nuser:\n  username: {}\n  password: {}\nserviceurl: {}\n",
            creds.kubefate_username,
            creds.kubefate_password.expose(),
            ctx.spec.service_host()
        );
        let cfg = dir.join("config.yaml");
        if std::fs::read(&target).is_ok_and(|b| b == binary)
            && std::fs::read(&cfg).is_ok_and(|c| c == config.as_bytes())
        {
            return Ok(false);
        }
        std::fs::create_dir_all(&dir)?;
        std::fs::write(&target, binary)?;
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        // It holds the service password: readable by its owner only.
        let _ = std::fs::remove_file(&cfg);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&cfg)?;
        std::io::Write::write_all(&mut f, config.as_bytes())?;
        Ok(true)
    })();
    match result {
        Ok(false) => {}
        Ok(true) => line.say(format!(
            "the kubefate CLI is in {d}; it reads config.yaml from its working directory: \
             `cd {d} && ./kubefate cluster ls` (to put it on PATH: `sudo ln -s {d}/kubefate /usr/local/bin/kubefate`)",
            d = dir.display()
        )),
        Err(e) => line.say(format!("the kubefate CLI was not installed ({e:#}); fatelab does not need it")),
    }
}

/// What the record says fatelab made here. A format-1 record only said "applied": then every
/// object of the manifests counts, by name, as that fatelab removed them.
fn recorded_objects(ctx: &Ctx) -> Result<Vec<MadeObject>> {
    let record = ctx.record();
    if !record.legacy_kubefate_applied() {
        return Ok(record.objects);
    }
    let (rbac, service) = manifests::documents(ctx.spec, &Credentials::placeholder())?;
    Ok(rbac
        .iter()
        .chain(service.iter())
        .map(|d| identity(d, None, &Cluster::Minikube))
        .collect())
}

fn as_doc(m: &MadeObject) -> Value {
    let mut doc =
        json!({"apiVersion": m.api_version, "kind": m.kind, "metadata": {"name": m.name}});
    if let Some(ns) = &m.namespace {
        doc["metadata"]["namespace"] = json!(ns);
    }
    doc
}

async fn undo(ctx: &Ctx<'_>, line: &StepLine) -> Result<Outcome> {
    let made = recorded_objects(ctx)?;
    let ours: Vec<&MadeObject> = made.iter().filter(|m| m.created).collect();
    for m in made.iter().filter(|m| !m.created) {
        line.say(format!(
            "leaving {} (it was there before fatelab applied over it)",
            m.describe()
        ));
    }
    if ours.is_empty() {
        ctx.update_record(|r| {
            r.objects.clear();
            r.clear_legacy();
        })?;
        return Ok(Outcome::AlreadyDone(
            "fatelab made no KubeFATE object here".into(),
        ));
    }
    let mut clusters: Vec<Cluster> = Vec::new();
    for m in &ours {
        if !clusters.contains(&cluster_of(m)) {
            clusters.push(cluster_of(m));
        }
    }
    for cluster in clusters {
        let here: Vec<&MadeObject> = ours
            .iter()
            .copied()
            .filter(|m| in_cluster(m, &cluster))
            .collect();
        undo_in(ctx, line, &cluster, &here).await?;
        ctx.update_record(|r| r.objects.retain(|m| !in_cluster(m, &cluster)))?;
    }
    ctx.update_record(|r| {
        r.objects.clear();
        r.clear_legacy();
    })?;
    Ok(Outcome::Done)
}

async fn undo_in(
    ctx: &Ctx<'_>,
    line: &StepLine,
    cluster: &Cluster,
    ours: &[&MadeObject],
) -> Result<()> {
    let client = ctx.kube_in(cluster).await?;
    let namespaces: Vec<&str> = ours
        .iter()
        .filter(|m| m.kind == "Namespace")
        .map(|m| m.name.as_str())
        .collect();
    // Objects outside a namespace fatelab made go one by one; such a namespace takes its own along.
    for m in ours.iter().filter(|m| {
        m.kind != "Namespace"
            && !m
                .namespace
                .as_deref()
                .is_some_and(|ns| namespaces.contains(&ns))
    }) {
        line.note(format!("deleting {}", m.describe()));
        kube::delete_object(client, &as_doc(m), m.uid.as_deref()).await?;
    }
    for m in ours.iter().filter(|m| m.kind == "Namespace") {
        line.note(format!("deleting {}", m.describe()));
        kube::delete_namespace(client, &m.name, ctx.wait_timeout()).await?;
    }
    Ok(())
}

impl Step for Kubefate {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "kubefate",
            title: "Deploy the KubeFATE service into namespace kube-fate",
        }
    }

    fn on_existing(&self) -> Option<&'static str> {
        Some("Deploy the KubeFATE service into namespace kube-fate of each cluster")
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = ctx.spec;
        let creds = Credentials::placeholder();
        let (rbac, kubefate) = manifests::documents(spec, &creds)?;
        let list = |docs: &[Value]| docs.iter().map(describe).collect::<Vec<_>>().join(", ");
        let actions = vec![
            format!("server-side apply rbac-config.yaml: {}", list(&rbac)),
            "replace the release's admin/admin and kubefate/kubefate credentials in kubefate-secret with generated ones, kept in the state dir (mode 0600)".into(),
            format!("server-side apply kubefate.yaml: {}", list(&kubefate)),
            "wait for Deployments kube-fate/kubefate and kube-fate/mariadb to be available".into(),
            format!(
                "through the API server's service proxy: log in, GET /v1/version/ and expect service {}",
                spec.release.kubefate_service
            ),
            "unpack the package's kubefate CLI with a config.yaml for this lab into the state dir".into(),
        ];
        Ok(StepPlan {
            actions,
            files: manifests::render(spec, &creds)?,
        })
    }

    super::step_fns!(undo);
}
