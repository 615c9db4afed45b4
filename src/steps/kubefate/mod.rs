//! Step 7: the KubeFATE service (its RBAC, the service and its database) in each cluster that
//! holds a party, and a check that it answers; also the `kubefate` CLI for the user.
//!
//! Observing reads only: without the credentials file it says they will be made, and it reads
//! the release package once per run. Only converging makes the credentials.

mod cli;

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Value, json};

use super::{Ctx, Diff, Outcome, Step, StepPlan};
use crate::clients::kube::{self, Applied, Held};
use crate::clients::kubefate::{NAMESPACE, Redirected};
use crate::host::credentials;
use crate::model::compare;
use crate::model::credentials::Credentials;
use crate::model::record::{LabRecord, MadeObject};
use crate::model::step::StepName;
use crate::model::target::Cluster;
use crate::render::manifests;
use crate::ui::StepLine;

pub struct KubefateService {
    title: &'static str,
}

impl KubefateService {
    pub const ON_MINIKUBE: KubefateService = KubefateService {
        title: "Deploy the KubeFATE service into namespace kube-fate",
    };
    pub const ON_EXISTING: KubefateService = KubefateService {
        title: "Deploy the KubeFATE service into namespace kube-fate of each cluster",
    };
}

fn describe(doc: &Value) -> String {
    let field = |p: &str| doc.pointer(p).and_then(Value::as_str).unwrap_or("?");
    match doc.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{} {ns}/{}", field("/kind"), field("/metadata/name")),
        None => format!("{} {}", field("/kind"), field("/metadata/name")),
    }
}

/// The longest the service gets to answer once its Deployment is available.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

const DEPLOYMENTS: [&str; 2] = ["kubefate", "mariadb"];

/// The inventory entry of one manifest object, as the cluster holds it: in the namespace the
/// server keeps it in (none for a cluster-scoped kind, whatever the file says), with the uid of
/// the object there; `created` when there was none.
fn identity(doc: &Value, held: &Held, cluster: &Cluster) -> MadeObject {
    let field = |p: &str| doc.pointer(p).and_then(Value::as_str).unwrap_or_default();
    MadeObject {
        context: cluster.context().map(String::from),
        api_version: field("/apiVersion").into(),
        kind: field("/kind").into(),
        namespace: held.namespace.clone(),
        name: field("/metadata/name").into(),
        uid: held
            .live
            .as_ref()
            .and_then(|o| o.pointer("/metadata/uid"))
            .and_then(Value::as_str)
            .map(String::from),
        created: held.live.is_none(),
    }
}

/// What one cluster holds of the service, and what converging there must do.
pub struct InCluster {
    cluster: Cluster,
    /// Every object with what the cluster holds under its name.
    found: Vec<MadeObject>,
    apply: bool,
    wait: bool,
}

pub struct Observed {
    clusters: Vec<InCluster>,
    /// The credentials file is missing: converging makes new ones.
    new_credentials: bool,
}

/// The manifests with fatelab's edits, the same for every cluster: the downloaded package's,
/// else fatelab's embedded copy (and why the package's could not be used).
struct Manifests {
    rbac: Vec<Value>,
    service: Vec<Value>,
    fallback: Option<String>,
}

fn documents(ctx: &Ctx, creds: &Credentials) -> Result<Manifests> {
    let from_package = ctx.package().map_err(|e| anyhow::anyhow!(e)).and_then(|p| {
        manifests::documents_from(
            &ctx.spec,
            creds,
            &p.text("rbac-config.yaml")?,
            &p.text("kubefate.yaml")?,
            "package's",
        )
    });
    let ((rbac, service), fallback) = match from_package {
        Ok(docs) => (docs, None),
        Err(e) => (
            manifests::documents(&ctx.spec, creds)?,
            Some(format!("{e:#}")),
        ),
    };
    Ok(Manifests {
        rbac,
        service,
        fallback,
    })
}

/// A login and `GET /v1/version/` prove the service and its database answer.
async fn answers(ctx: &Ctx, cluster: &Cluster) -> Result<String> {
    ctx.kubefate_in(cluster).await?.version().await
}

/// `wanted` was rendered with the lab's credentials, or with placeholders when it has none.
async fn observe_in(
    ctx: &Ctx,
    cluster: &Cluster,
    wanted: &Manifests,
    creds: Option<&Credentials>,
) -> Result<(Vec<String>, InCluster)> {
    let client = ctx.kube_in(cluster).await?;
    let mut changes = Vec::new();
    let mut found = Vec::new();
    let docs: Vec<Value> = wanted.rbac.iter().chain(&wanted.service).cloned().collect();
    let held = kube::get_objects(client, &docs).await?;
    for (doc, held) in docs.iter().zip(&held) {
        match &held.live {
            None => changes.push(format!("create {}", describe(doc))),
            // Without the credentials the secret's values cannot be compared; it is made anew.
            Some(_) if creds.is_none() && doc["kind"] == "Secret" => {}
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
        found.push(identity(doc, held, cluster));
    }
    let apply = !changes.is_empty() || creds.is_none();
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
    if !wait
        && creds.is_some()
        && let Err(e) = answers(ctx, cluster).await
    {
        wait = true;
        changes.push(format!("wait until the service answers (now: {e:#})"));
    }
    Ok((
        changes,
        InCluster {
            cluster: cluster.clone(),
            found,
            apply,
            wait,
        },
    ))
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

/// The server's answers to the apply, in the inventory: each object's uid, where it is kept.
fn answered(made: &mut [MadeObject], applied: &[Applied]) {
    for a in applied {
        if let Some(m) = made
            .iter_mut()
            .find(|m| m.api_version == a.api_version && m.kind == a.kind && m.name == a.name)
        {
            m.namespace = a.namespace.clone();
            m.uid = a.uid.clone();
        }
    }
}

async fn converge_in(
    ctx: &Ctx,
    line: &StepLine,
    o: InCluster,
    docs: &Manifests,
    creds: &Credentials,
) -> Result<()> {
    let r = ctx.spec.release;
    let InCluster {
        cluster,
        found,
        apply,
        wait,
    } = o;
    let client = ctx.kube_in(&cluster).await?;
    let place = cluster.place();
    if apply {
        if let Some(why) = &docs.fallback {
            line.say(format!(
                "using fatelab's copy of the release manifests ({why})"
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
        let keep = |rec: &mut LabRecord, made: &[MadeObject]| {
            rec.objects.retain(|m| !in_cluster(m, &cluster));
            rec.objects.extend(made.iter().cloned());
        };
        ctx.update_record(|rec| {
            keep(rec, &made);
            rec.clear_legacy();
        })?;
        let needs = format!("KubeFATE {} needs {}", r.release, r.kubernetes.describe());
        line.note(format!("applying rbac-config.yaml{place}"));
        let mut applied = kube::apply_all(client, &docs.rbac, &needs).await?;
        line.note(format!("applying kubefate.yaml{place}"));
        applied.extend(kube::apply_all(client, &docs.service, &needs).await?);
        answered(&mut made, &applied);
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
        // A Deployment turns available a moment before its Service routes to the pod; the
        // service has no watch to wait on, so it is asked again every second.
        let within = ANSWER_WITHIN.min(ctx.wait_timeout());
        let deadline = tokio::time::Instant::now() + within;
        let version = loop {
            match answers(ctx, &cluster).await {
                Ok(v) => break v,
                Err(e) if e.chain().any(|c| c.is::<Redirected>()) => return Err(e),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(e.context(format!(
                        "the KubeFATE service did not answer within {}",
                        humantime::format_duration(within)
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
    Ok(())
}

/// What the record says fatelab made here. A format-1 record only said "applied": then every
/// object of the manifests counts, by name, as that fatelab removed them.
fn recorded_objects(ctx: &Ctx) -> Result<Vec<MadeObject>> {
    let record = ctx.record();
    if !record.legacy_kubefate_applied() {
        return Ok(record.objects);
    }
    let (rbac, service) = manifests::documents(&ctx.spec, &Credentials::placeholder())?;
    Ok(rbac
        .iter()
        .chain(service.iter())
        .map(|d| MadeObject {
            context: None,
            api_version: d["apiVersion"].as_str().unwrap_or_default().into(),
            kind: d["kind"].as_str().unwrap_or_default().into(),
            namespace: d
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(String::from),
            name: d
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            uid: None,
            created: true,
        })
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

async fn undo_in(
    ctx: &Ctx,
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
    // A namespace fatelab made takes its own objects along; the rest go one by one. Whether an
    // object lives in a namespace is the server's word: records from before fatelab asked it
    // gave a ClusterRole the namespace its file names.
    for m in ours.iter().filter(|m| m.kind != "Namespace") {
        let inside = match m.namespace.as_deref() {
            Some(ns) if namespaces.contains(&ns) => {
                kube::namespaced(client, &m.api_version, &m.kind).await? != Some(false)
            }
            _ => false,
        };
        if inside {
            continue;
        }
        line.note(format!("deleting {}", m.describe()));
        kube::delete_object(client, &as_doc(m), m.uid.as_deref()).await?;
    }
    for m in ours.iter().filter(|m| m.kind == "Namespace") {
        line.note(format!("deleting {}", m.describe()));
        kube::delete_namespace(client, &m.name, ctx.wait_timeout()).await?;
    }
    Ok(())
}

impl Step for KubefateService {
    type Observed = Observed;

    fn name(&self) -> StepName {
        StepName::Kubefate
    }

    fn title(&self) -> &'static str {
        self.title
    }

    fn watched(&self) -> bool {
        true
    }

    /// Every cluster that holds a party gets its own service; each is observed on its own.
    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Observed>> {
        let creds = match credentials::load(&ctx.state_dir) {
            Ok(c) => Some(c),
            Err(_) if !credentials::path(&ctx.state_dir).exists() => None,
            Err(e) => return Err(e),
        };
        let clusters = ctx.clusters();
        let several = clusters.len() > 1 || clusters.iter().any(|c| *c != Cluster::Minikube);
        let wanted = documents(ctx, creds.as_ref().unwrap_or(&Credentials::placeholder()))?;
        let all = futures::future::try_join_all(
            clusters
                .iter()
                .map(|c| observe_in(ctx, c, &wanted, creds.as_ref())),
        )
        .await?;
        let mut changes = Vec::new();
        if creds.is_none() {
            changes.push(format!(
                "generate the service's credentials into {} (there are none) and give them to the service",
                credentials::path(&ctx.state_dir).display()
            ));
        }
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
        Ok(Diff::new(
            changes,
            summary,
            Observed {
                clusters: observed,
                new_credentials: creds.is_none(),
            },
        ))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Observed>) -> Result<()> {
        let Observed {
            clusters,
            new_credentials,
        } = diff.observed;
        let creds = credentials::load_or_create(&ctx.state_dir)?;
        if new_credentials {
            line.say(format!(
                "generated the service's credentials into {}",
                credentials::path(&ctx.state_dir).display()
            ));
        }
        let docs = documents(ctx, &creds)?;
        let any = !clusters.is_empty();
        for o in clusters {
            converge_in(ctx, line, o, &docs, &creds).await?;
        }
        if any {
            cli::install(ctx, line, &creds);
        }
        Ok(())
    }

    async fn undo(&self, ctx: &Ctx, line: &StepLine) -> Result<Outcome> {
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

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = &ctx.spec;
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
}
