//! Kubernetes through kube-rs: connect with minikube's kubeconfig, wait on real state with
//! watches, and explain what is not ready.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::WatchStreamExt;
use kube::runtime::wait::Condition;
use kube::{Api, Client, Config};

/// A client for the cluster in `kubeconfig`, each attempt of each call bounded by
/// `call_timeout` (until the answer's headers) and retried as [`super::transport`] says.
pub async fn connect(kubeconfig: &Path, call_timeout: Duration) -> Result<Client> {
    super::ensure_crypto_provider();
    let raw = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading the kubeconfig {}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(raw, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("using the kubeconfig {}", kubeconfig.display()))?;
    client_for(config, call_timeout)
}

/// A client for `config` with fatelab's deadlines and retries.
pub fn client_for(mut config: Config, call_timeout: Duration) -> Result<Client> {
    super::ensure_crypto_provider();
    config.connect_timeout = Some(call_timeout);
    // kube's own retry repeats 503s up to 15 times with a backoff growing to minutes, and any
    // method; fatelab's is bounded and repeats only what is safe to repeat.
    config.default_retry = false;
    let stack = tower::ServiceBuilder::new()
        .layer(tower::retry::RetryLayer::new(
            super::transport::RetryPolicy::new(),
        ))
        .layer(tower::timeout::TimeoutLayer::new(call_timeout))
        .layer(super::transport::TrackLayer)
        .layer(tower::buffer::BufferLayer::new(1024));
    Ok(kube::client::ClientBuilder::try_from(config)
        .context("creating the Kubernetes client")?
        .with_layer(&stack)
        .build())
}

/// `90s`, `10m`, `350ms`: how long a wait lasted, for messages.
pub fn human(d: Duration) -> String {
    match d.as_secs() {
        0 => format!("{}ms", d.as_millis()),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Waits (watching) until `cond` holds for the named object. A watch that breaks — a dropped
/// connection, a 5xx, a 410 Gone — is set up again with backoff (the watcher lists afresh
/// after a 410): a passing error ends no wait; the caller's timeout bounds it.
async fn wait_for<K>(api: Api<K>, name: &str, cond: impl Condition<K>) -> Result<Option<K>>
where
    K: Clone + std::fmt::Debug + Send + serde::de::DeserializeOwned + kube::Resource + 'static,
{
    let stream = watcher::watch_object(api, name).default_backoff();
    futures::pin_mut!(stream);
    loop {
        match stream.next().await {
            Some(Ok(obj)) if cond.matches_object(obj.as_ref()) => return Ok(obj),
            Some(Ok(_)) => {}
            Some(Err(e)) => tracing::info!("the watch on {name} broke ({e}); watching again"),
            None => bail!("the watch on {name} ended"),
        }
    }
}

/// A Deployment is available when its Available condition is True and at least one replica is.
pub fn deployment_available(d: Option<&Deployment>) -> bool {
    let Some(status) = d.and_then(|d| d.status.as_ref()) else {
        return false;
    };
    let condition = status
        .conditions
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Available"))
        .is_some_and(|c| c.status == "True");
    condition && status.available_replicas.unwrap_or(0) >= 1
}

/// Waits (with a watch, not polling) until the Deployment is available; on timeout the error
/// names every pod in the namespace that is not ready, and why.
pub async fn wait_deployment_available(
    client: &Client,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let waited = tokio::time::timeout(timeout, wait_for(api, name, deployment_available)).await;
    match waited {
        Ok(result) => {
            result.with_context(|| format!("watching Deployment {ns}/{name}"))?;
            Ok(())
        }
        Err(_) => {
            let pods = not_ready_pods(client, ns).await.unwrap_or_default();
            let detail = if pods.is_empty() {
                "no pods are reported in the namespace".to_string()
            } else {
                format!("pods not ready: {}", pods.join("; "))
            };
            bail!(
                "Deployment {ns}/{name} was not available after {}; {detail}",
                human(timeout)
            )
        }
    }
}

/// `name (phase; container: reason message)` for every pod whose containers are not all ready.
pub async fn not_ready_pods(client: &Client, ns: &str) -> Result<Vec<String>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods = api.list(&ListParams::default()).await?;
    Ok(pods
        .items
        .iter()
        .filter_map(describe_if_not_ready)
        .collect())
}

pub fn describe_if_not_ready(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into());
    if phase == "Succeeded" {
        return None;
    }
    let containers = status
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    if phase == "Running" && !containers.is_empty() && containers.iter().all(|c| c.ready) {
        return None;
    }
    let mut why: Vec<String> = containers
        .iter()
        .filter(|c| !c.ready)
        .map(|c| {
            let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
            match waiting {
                Some(w) => format!(
                    "{}: {}{}",
                    c.name,
                    w.reason.clone().unwrap_or_else(|| "Waiting".into()),
                    w.message
                        .as_ref()
                        .filter(|m| !m.is_empty())
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                ),
                None => format!("{}: not ready", c.name),
            }
        })
        .collect();
    if let Some(cond) = status.and_then(|s| s.conditions.as_ref()).and_then(|cs| {
        cs.iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    }) {
        why.push(format!(
            "unschedulable: {}",
            cond.message.clone().unwrap_or_default()
        ));
    }
    Some(if why.is_empty() {
        format!("{name} ({phase})")
    } else {
        format!("{name} ({phase}; {})", why.join(", "))
    })
}

// ---------------------------------------------------------------------------------------------
// Apply: multi-document YAML, server-side, generic over kinds.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, DynamicObject, LogParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use kube::runtime::wait::conditions;
use kube::runtime::watcher;

/// The field manager every fatelab write is recorded under.
pub const FIELD_MANAGER: &str = "fatelab";

/// Kinds that others depend on go first: namespaces, then identities and config, then RBAC.
fn apply_rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ServiceAccount" | "Secret" | "ConfigMap" => 2,
        "ClusterRole" | "Role" => 3,
        "ClusterRoleBinding" | "RoleBinding" => 4,
        "Service" => 5,
        _ => 6,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// The uid in the server's answer.
    pub uid: Option<String>,
    /// False when the server kept the object as it was (same resourceVersion).
    pub changed: bool,
}

/// Where one object of a manifest lives: the API for its kind (in its namespace, for a
/// namespaced kind) and its name.
struct Target {
    api: Api<DynamicObject>,
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: String,
}

impl Target {
    fn shown(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// The object's apiVersion/kind and name, or why it is no Kubernetes object.
fn identify(obj: &DynamicObject) -> Result<(GroupVersionKind, kube::core::TypeMeta, String)> {
    let types = obj
        .types
        .clone()
        .context("an object has no apiVersion/kind")?;
    let gvk = GroupVersionKind::try_from(&types).context("an object has a malformed apiVersion")?;
    let name = obj
        .metadata
        .name
        .clone()
        .context("an object has no metadata.name")?;
    Ok((gvk, types, name))
}

fn target(
    client: &Client,
    obj: &DynamicObject,
    types: kube::core::TypeMeta,
    name: String,
    resource: &kube::discovery::ApiResource,
    scope: &Scope,
) -> Target {
    let namespace = match scope {
        Scope::Cluster => None,
        Scope::Namespaced => Some(
            obj.metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
        ),
    };
    let api = match &namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    Target {
        api,
        api_version: types.api_version,
        kind: types.kind,
        namespace,
        name,
    }
}

/// The target of one manifest document, found by asking the server for its kind alone; `None`
/// when the server does not serve the kind.
async fn target_of(client: &Client, doc: &serde_json::Value) -> Result<Option<Target>> {
    let obj: DynamicObject =
        serde_json::from_value(doc.clone()).context("not a Kubernetes object")?;
    let (gvk, types, name) = identify(&obj)?;
    let Ok((resource, caps)) = kube::discovery::pinned_kind(client, &gvk).await else {
        return Ok(None);
    };
    Ok(Some(target(
        client,
        &obj,
        types,
        name,
        &resource,
        &caps.scope,
    )))
}

/// One discovery run for the API groups these objects belong to.
async fn discover(client: &Client, objects: &[DynamicObject]) -> Result<Discovery> {
    let groups: BTreeSet<String> = objects
        .iter()
        .filter_map(|o| o.types.as_ref())
        .map(|t| {
            t.api_version
                .split_once('/')
                .map_or(String::new(), |(g, _)| g.to_string())
        })
        .collect();
    let group_refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    Discovery::new(client.clone())
        .filter(&group_refs)
        .run()
        .await
        .context("discovering the API server's resources")
}

fn objects_of(docs: &[serde_json::Value]) -> Result<Vec<DynamicObject>> {
    docs.iter()
        .map(|d| {
            serde_json::from_value(d.clone())
                .context("a manifest document is not a Kubernetes object")
        })
        .collect()
}

/// The live objects that manifest documents name, as JSON (one discovery for all); `None` for
/// one that does not exist or whose kind the server does not serve.
pub async fn get_objects(
    client: &Client,
    docs: &[serde_json::Value],
) -> Result<Vec<Option<serde_json::Value>>> {
    let objects = objects_of(docs)?;
    let discovery = discover(client, &objects).await?;
    let mut out = Vec::with_capacity(docs.len());
    for obj in &objects {
        let (gvk, types, name) = identify(obj)?;
        let Some((resource, caps)) = discovery.resolve_gvk(&gvk) else {
            out.push(None);
            continue;
        };
        let t = target(client, obj, types, name, &resource, &caps.scope);
        let found = t
            .api
            .get_opt(&t.name)
            .await
            .with_context(|| format!("reading {}", t.shown()))?;
        out.push(found.map(|o| serde_json::to_value(o).unwrap_or_default()));
    }
    Ok(out)
}

/// Server-side applies every object (field manager `fatelab`, forced), namespaces first.
/// `needs` is said when the cluster does not serve a kind: which release needs which Kubernetes.
pub async fn apply_all(
    client: &Client,
    docs: &[serde_json::Value],
    needs: &str,
) -> Result<Vec<Applied>> {
    let mut objects = objects_of(docs)?;
    objects.sort_by_key(|o| apply_rank(o.types.as_ref().map_or("", |t| t.kind.as_str())));
    let discovery = discover(client, &objects).await?;
    let server = client
        .apiserver_version()
        .await
        .map(|v| v.git_version)
        .unwrap_or_else(|_| "unknown".into());

    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut applied = Vec::new();
    for obj in objects {
        let (gvk, types, name) = identify(&obj)?;
        let Some((resource, caps)) = discovery.resolve_gvk(&gvk) else {
            bail!(
                "the cluster (Kubernetes {server}) does not serve {} {} (object {name}); {needs}",
                types.api_version,
                types.kind
            );
        };
        let t = target(client, &obj, types, name, &resource, &caps.scope);
        let before = t
            .api
            .get_opt(&t.name)
            .await
            .with_context(|| format!("reading {}", t.shown()))?
            .and_then(|o| o.metadata.resource_version);
        let after = t
            .api
            .patch(&t.name, &params, &Patch::Apply(&obj))
            .await
            .with_context(|| format!("applying {}", t.shown()))?;
        applied.push(Applied {
            api_version: t.api_version,
            kind: t.kind,
            namespace: t.namespace,
            name: t.name,
            uid: after.metadata.uid.clone(),
            changed: before.is_none() || before != after.metadata.resource_version,
        });
    }
    Ok(applied)
}

// ---------------------------------------------------------------------------------------------
// Waiting on pods, failing early with the reason a person needs.

/// Container waiting reasons that will not fix themselves while fatelab waits.
const PULL_FAILURES: [&str; 3] = ["ImagePullBackOff", "ErrImagePull", "InvalidImageName"];

/// One line per pod for progress displays: `name phase [container: state, ...]`.
pub fn pod_summary(pod: &Pod) -> String {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Pending".into());
    let containers: Vec<String> = status
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let state = c.state.as_ref();
            let what = if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
                w.reason.clone().unwrap_or_else(|| "Waiting".into())
            } else if state.and_then(|s| s.running.as_ref()).is_some() {
                if c.ready {
                    "ready".into()
                } else {
                    "running".into()
                }
            } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
                t.reason.clone().unwrap_or_else(|| "Terminated".into())
            } else {
                "starting".into()
            };
            format!("{}: {what}", c.name)
        })
        .collect();
    if containers.is_empty() {
        format!("{name} {phase}")
    } else {
        format!("{name} {phase} [{}]", containers.join(", "))
    }
}

/// Why a pod will not come up on its own, if that is already clear.
#[derive(Debug, Clone, PartialEq)]
pub enum Stuck {
    ImagePull {
        pod: String,
        container: String,
        image: String,
        message: String,
    },
    /// In a crash loop, or restarted while the wait watched it settle.
    Crashing {
        pod: String,
        container: String,
        detail: String,
    },
    Unschedulable {
        pod: String,
        message: String,
    },
}

/// A wait that ended because a pod will not come up by itself: why, in words.
#[derive(Debug)]
pub struct StuckPod {
    pub stuck: Stuck,
    pub message: String,
}

impl std::fmt::Display for StuckPod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StuckPod {}

pub fn stuck(pod: &Pod) -> Option<Stuck> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let status = pod.status.as_ref()?;
    let all = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for c in all {
        let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = w.reason.as_deref().unwrap_or("");
        if PULL_FAILURES.contains(&reason) {
            return Some(Stuck::ImagePull {
                pod: name,
                container: c.name.clone(),
                image: c.image.clone(),
                message: w.message.clone().unwrap_or_else(|| reason.to_string()),
            });
        }
        if reason == "CrashLoopBackOff" {
            return Some(Stuck::Crashing {
                pod: name,
                container: c.name.clone(),
                detail: format!(
                    "CrashLoopBackOff, restarted {} times{}",
                    c.restart_count,
                    crate::health::last_exit(c)
                ),
            });
        }
    }
    let unschedulable = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    });
    unschedulable.map(|c| Stuck::Unschedulable {
        pod: name,
        message: c.message.clone().unwrap_or_default(),
    })
}

async fn explain(client: &Client, ns: &str, s: &Stuck) -> String {
    match s {
        Stuck::ImagePull {
            pod,
            container,
            image,
            message,
        } => format!(
            "pod {ns}/{pod} cannot pull image {image} (container {container}) from {}: {message}",
            crate::images::registry_of(image)
        ),
        Stuck::Crashing {
            pod,
            container,
            detail,
        } => {
            let logs: Api<Pod> = Api::namespaced(client.clone(), ns);
            let params = LogParams {
                container: Some(container.clone()),
                previous: true,
                tail_lines: Some(20),
                ..LogParams::default()
            };
            let tail = match logs.logs(pod, &params).await {
                Ok(t) if !t.trim().is_empty() => t,
                Ok(_) => "(no output)".into(),
                Err(e) => format!("(could not read its logs: {e})"),
            };
            format!(
                "pod {ns}/{pod} keeps crashing (container {container}: {detail}). The last log lines of its previous run:\n{}",
                tail.lines()
                    .map(|l| format!("    {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        }
        Stuck::Unschedulable { pod, message } => format!(
            "pod {ns}/{pod} cannot be scheduled: {message}. The node lacks what the pod requests; free CPU or memory, or use a bigger host"
        ),
    }
}

/// The pods matching `selector` in `ns`, as listed now.
pub async fn list_pods(client: &Client, ns: &str, selector: &str) -> Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods = api
        .list(&ListParams::default().labels(selector))
        .await
        .with_context(|| format!("listing pods {selector} in {ns}"))?;
    Ok(pods.items)
}

/// (pod, container) → restarts so far.
type Restarts = BTreeMap<(String, String), i32>;

fn restart_counts(pods: &BTreeMap<String, Pod>) -> Restarts {
    pods.iter()
        .flat_map(|(name, p)| {
            p.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
                .map(move |c| ((name.clone(), c.name.clone()), c.restart_count))
        })
        .collect()
}

/// Waits with a watch until every pod matching `selector` in `ns` is Running with every
/// container ready, then watches them for `settle` more: a restart in that window fails the
/// wait at once (see [`crate::health`]), as does a pod stuck on a pull, a crash loop or
/// scheduling. Every change is reported through `progress`.
pub async fn wait_healthy(
    client: &Client,
    ns: &str,
    selector: &str,
    timeout: Duration,
    settle: Duration,
    mut progress: impl FnMut(&[String]),
) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut pods: BTreeMap<String, Pod> = BTreeMap::new();
    let mut init_buffer: BTreeMap<String, Pod> = BTreeMap::new();
    let config = watcher::Config::default().labels(selector);
    let stream = watcher(api, config).default_backoff();
    let watch = async {
        futures::pin_mut!(stream);
        // Once all are ready: when the window ends, and each container's restarts at its start.
        let mut settling: Option<(tokio::time::Instant, Restarts)> = None;
        loop {
            let event = match &settling {
                Some((until, _)) => tokio::select! {
                    e = stream.next() => e,
                    () = tokio::time::sleep_until(*until) => return Ok(None),
                },
                None => stream.next().await,
            };
            let event = match event {
                Some(Ok(event)) => event,
                // The watcher sets itself up again (relisting after a 410) when polled next.
                Some(Err(e)) => {
                    tracing::info!(
                        "the watch on pods {selector} in {ns} broke ({e}); watching again"
                    );
                    continue;
                }
                None => bail!("the watch on pods {selector} in {ns} ended"),
            };
            match event {
                watcher::Event::Init => init_buffer.clear(),
                watcher::Event::InitApply(p) => {
                    init_buffer.insert(p.metadata.name.clone().unwrap_or_default(), p);
                }
                watcher::Event::InitDone => pods = std::mem::take(&mut init_buffer),
                watcher::Event::Apply(p) => {
                    pods.insert(p.metadata.name.clone().unwrap_or_default(), p);
                }
                watcher::Event::Delete(p) => {
                    pods.remove(&p.metadata.name.clone().unwrap_or_default());
                }
            }
            let lines: Vec<String> = pods.values().map(pod_summary).collect();
            progress(&lines);
            if let Some(s) = pods.values().find_map(stuck) {
                return Ok::<Option<Stuck>, anyhow::Error>(Some(s));
            }
            if let Some((_, before)) = &settling {
                for ((pod, container), n) in restart_counts(&pods) {
                    if before
                        .get(&(pod.clone(), container.clone()))
                        .is_some_and(|b| n > *b)
                    {
                        let status = pods[&pod]
                            .status
                            .iter()
                            .flat_map(|s| s.container_statuses.iter().flatten())
                            .find(|c| c.name == container)
                            .cloned();
                        let detail = format!(
                            "restarted {n} times, again while fatelab watched it settle (within {}){}",
                            human(settle),
                            status
                                .as_ref()
                                .map(crate::health::last_exit)
                                .unwrap_or_default()
                        );
                        return Ok(Some(Stuck::Crashing {
                            pod,
                            container,
                            detail,
                        }));
                    }
                }
            }
            let now = k8s_openapi::jiff::Timestamp::now();
            let all_ready = !pods.is_empty()
                && pods
                    .values()
                    .all(|p| crate::health::pod_problems(p, now, Duration::ZERO).is_empty());
            match (all_ready, settling.is_some()) {
                (true, false) => {
                    settling = Some((tokio::time::Instant::now() + settle, restart_counts(&pods)))
                }
                // A pod went away or stopped being ready without a restart: wait for all again.
                (false, true) => settling = None,
                _ => {}
            }
        }
    };
    match tokio::time::timeout(timeout, watch).await {
        Ok(Ok(None)) => Ok(()),
        Ok(Ok(Some(s))) => Err(StuckPod {
            message: explain(client, ns, &s).await,
            stuck: s,
        }
        .into()),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            let waiting: Vec<String> = not_ready_pods(client, ns).await.unwrap_or_default();
            bail!(
                "pods {selector} in {ns} were not all ready after {}{}",
                human(timeout),
                if waiting.is_empty() {
                    " (no pod matched)".to_string()
                } else {
                    format!("; not ready: {}", waiting.join("; "))
                }
            )
        }
    }
}

/// Waits for several Deployments at once.
pub async fn wait_deployments_available(
    client: &Client,
    ns: &str,
    names: &[&str],
    timeout: Duration,
) -> Result<()> {
    let waits = names
        .iter()
        .map(|n| wait_deployment_available(client, ns, n, timeout));
    futures::future::try_join_all(waits).await.map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Namespaces.

/// Creates a namespace; an existing one is fine. Returns whether fatelab created it.
pub async fn ensure_namespace(client: &Client, name: &str) -> Result<bool> {
    let api: Api<Namespace> = Api::all(client.clone());
    if api.get_opt(name).await?.is_some() {
        return Ok(false);
    }
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}
    }))?;
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e).with_context(|| format!("creating namespace {name}")),
    }
}

/// Deletes a namespace and waits (watching) until it is gone. A missing namespace is fine.
pub async fn delete_namespace(client: &Client, name: &str, timeout: Duration) -> Result<bool> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(existing) = api.get_opt(name).await? else {
        return Ok(false);
    };
    let uid = existing.metadata.uid.clone().unwrap_or_default();
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("deleting namespace {name}")),
    }
    tokio::time::timeout(timeout, wait_for(api, name, conditions::is_deleted(&uid)))
        .await
        .with_context(|| {
            format!(
                "namespace {name} was still terminating after {}",
                human(timeout)
            )
        })?
        .with_context(|| format!("watching namespace {name}"))?;
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// Reaching services through the API server, so fatelab never depends on DNS, /etc/hosts or ingress.

#[derive(Debug, Clone)]
pub struct ProxyResponse {
    pub status: u16,
    pub body: Vec<u8>,
    /// Where a redirect points (gin redirects paths without their registered trailing slash).
    pub location: Option<String>,
}

impl ProxyResponse {
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "the service answered HTTP {} with something that is not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
            )
        })
    }
}

/// How a proxied request may be sent: again after a passing failure, or only once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// A query (even one sent as POST): safe to send again.
    Safe,
    /// It may start something (an install, a job): sent once unless its method is a read.
    Once,
}

/// `METHOD /api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH` with an optional JSON body.
#[allow(clippy::too_many_arguments)]
pub async fn proxy(
    client: &Client,
    ns: &str,
    service: &str,
    port: u16,
    method: http::Method,
    path_and_query: &str,
    body: Option<&serde_json::Value>,
    repeat: Repeat,
) -> Result<ProxyResponse> {
    let payload = match body {
        Some(b) => Some(("application/json".to_string(), serde_json::to_vec(b)?)),
        None => None,
    };
    proxy_raw(
        client,
        ns,
        service,
        port,
        method,
        path_and_query,
        payload,
        None,
        repeat,
    )
    .await
}

/// The same with any body (`(content type, bytes)`) and an optional `Cookie` header, which the
/// API server's proxy forwards (unlike `Authorization`, which it strips).
#[allow(clippy::too_many_arguments)]
pub async fn proxy_raw(
    client: &Client,
    ns: &str,
    service: &str,
    port: u16,
    method: http::Method,
    path_and_query: &str,
    body: Option<(String, Vec<u8>)>,
    cookie: Option<&str>,
    repeat: Repeat,
) -> Result<ProxyResponse> {
    let uri = format!(
        "/api/v1/namespaces/{ns}/services/{service}:{port}/proxy/{}",
        path_and_query.trim_start_matches('/')
    );
    let mut req = http::Request::builder().method(method.clone()).uri(&uri);
    if let Some(c) = cookie {
        let mut value =
            http::HeaderValue::from_str(c).context("a cookie that is no header value")?;
        value.set_sensitive(true);
        req = req.header(http::header::COOKIE, value);
    }
    let bytes = match body {
        Some((content_type, bytes)) => {
            req = req.header(http::header::CONTENT_TYPE, content_type);
            bytes
        }
        None => Vec::new(),
    };
    let mut req = req.body(kube::client::Body::from(bytes))?;
    if repeat == Repeat::Safe {
        req.extensions_mut().insert(super::transport::Idempotent);
    }
    let shown = crate::secret::redact_url(&uri);
    let resp = client
        .send(req)
        .await
        .with_context(|| format!("{method} {shown} through the API server"))?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let body = resp
        .into_body()
        .collect_bytes()
        .await
        .with_context(|| format!("reading the answer to {method} {shown}"))?;
    Ok(ProxyResponse {
        status,
        body: body.to_vec(),
        location,
    })
}

/// Deletes one object given as YAML/JSON (any kind the server serves) if it is still the one with
/// `uid` (when given): an object someone made again under the same name is left alone. A missing
/// one is fine. Returns whether it was deleted.
pub async fn delete_object(
    client: &Client,
    doc: &serde_json::Value,
    uid: Option<&str>,
) -> Result<bool> {
    let Some(t) = target_of(client, doc).await? else {
        return Ok(false);
    };
    let Some(live) = t.api.get_opt(&t.name).await? else {
        return Ok(false);
    };
    if uid.is_some_and(|u| live.metadata.uid.as_deref() != Some(u)) {
        return Ok(false);
    }
    match t.api.delete(&t.name, &DeleteParams::default()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e).with_context(|| format!("deleting {}", t.shown())),
    }
}
