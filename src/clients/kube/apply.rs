//! Server-side apply of multi-document manifests, generic over kinds (discovery says where each
//! kind lives), reading them back, and deleting one object by its uid.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use kube::{Api, Client};

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

/// A manifest document as the cluster holds it: the namespace it is kept in (`None` for a
/// cluster-scoped kind, whatever the file says), and the live object, if there is one (never
/// for a kind the server does not serve).
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub namespace: Option<String>,
    pub live: Option<serde_json::Value>,
}

/// Each manifest document as the cluster holds it (one discovery for all).
pub async fn get_objects(client: &Client, docs: &[serde_json::Value]) -> Result<Vec<Held>> {
    let objects = objects_of(docs)?;
    let discovery = discover(client, &objects).await?;
    let mut out = Vec::with_capacity(docs.len());
    for obj in &objects {
        let (gvk, types, name) = identify(obj)?;
        let Some((resource, caps)) = discovery.resolve_gvk(&gvk) else {
            out.push(Held {
                namespace: obj.metadata.namespace.clone(),
                live: None,
            });
            continue;
        };
        let t = target(client, obj, types, name, &resource, &caps.scope);
        let found = t
            .api
            .get_opt(&t.name)
            .await
            .with_context(|| format!("reading {}", t.shown()))?;
        out.push(Held {
            namespace: t.namespace,
            live: found.map(|o| serde_json::to_value(o).unwrap_or_default()),
        });
    }
    Ok(out)
}

/// Whether the server keeps objects of this kind in namespaces; `None` when it does not serve it.
pub async fn namespaced(client: &Client, api_version: &str, kind: &str) -> Result<Option<bool>> {
    let types = kube::core::TypeMeta {
        api_version: api_version.into(),
        kind: kind.into(),
    };
    let gvk = GroupVersionKind::try_from(&types).context("a malformed apiVersion")?;
    Ok(kube::discovery::pinned_kind(client, &gvk)
        .await
        .ok()
        .map(|(_, caps)| caps.scope == Scope::Namespaced))
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
