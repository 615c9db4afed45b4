//! Each party's cluster.yaml, the file `kubefate cluster install -f` takes.
//!
//! Starts from the release's base (the tutorial's fate-9999.yaml shape for v1.6.0) and fills in
//! the party's identity, its NodePorts, the registry, host names, and a full-mesh partyList:
//! every other party at the lab's IP and that party's rollsite (or osx) NodePort.

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use super::{RenderedFile, parse_yaml, to_yaml};
use crate::catalog::{ClusterSchema, RegistryStyle};
use crate::spec::{LabSpec, Party};

/// The cluster spec as a value: what the KubeFATE API receives (as JSON) and what fatelab writes (as YAML).
pub fn value(spec: &LabSpec, party: &Party) -> Result<Value> {
    let release = spec.release;
    let base = release.files()?.cluster_base;
    let mut v = parse_yaml(base, "the embedded cluster.yaml base")?;
    let obj = v
        .as_object_mut()
        .context("the embedded cluster.yaml base is not a mapping")?;

    obj.insert("name".into(), json!(party.name()));
    obj.insert("namespace".into(), json!(party.namespace()));
    obj.insert("partyId".into(), json!(party.id));
    let registry = match (&spec.registry, release.registry_style) {
        (None, _) => String::new(),
        (Some(r), RegistryStyle::ReplaceNamespace) => r.clone(),
        // v2 charts concatenate {{registry}}{{image}}, so the prefix carries its own slash.
        (Some(r), RegistryStyle::Prefix) => format!("{r}/"),
    };
    obj.insert("registry".into(), json!(registry));

    let peers: Vec<Value> = spec
        .parties
        .iter()
        .filter(|p| p.id != party.id)
        .map(|p| {
            json!({
                "partyId": p.id,
                "partyIp": spec.ip.to_string(),
                "partyPort": p.ports.rollsite,
            })
        })
        .collect();
    let federation = section(obj, &release.federation_module)?;
    federation.insert("nodePort".into(), json!(party.ports.rollsite));
    federation.insert("partyList".into(), Value::Array(peers));

    let python = section(obj, "python")?;
    python.insert("httpNodePort".into(), json!(party.ports.http));
    python.insert("grpcNodePort".into(), json!(party.ports.grpc));

    let (notebook, fateboard) = spec.hostnames(party);
    match release.cluster_schema {
        // Chart 1.6.0 derives `<party>.notebook.kubefate.net` itself; only a custom domain needs keys.
        ClusterSchema::V1 => {
            if spec.custom_domain() {
                obj.insert(
                    "host".into(),
                    json!({ "fateboard": fateboard, "client": notebook }),
                );
            }
        }
        ClusterSchema::V2 => {
            let ingress = section(obj, "ingress")?;
            ingress.insert(
                "fateboard".into(),
                json!({ "hosts": [{ "name": fateboard }] }),
            );
            ingress.insert("client".into(), json!({ "hosts": [{ "name": notebook }] }));
        }
    }
    Ok(v)
}

fn section<'a>(obj: &'a mut Map<String, Value>, key: &str) -> Result<&'a mut Map<String, Value>> {
    obj.get_mut(key)
        .and_then(Value::as_object_mut)
        .with_context(|| format!("the embedded cluster.yaml base has no `{key}` section"))
}

pub fn render(spec: &LabSpec, party: &Party) -> Result<RenderedFile> {
    let v = value(spec, party)?;
    let header = format!(
        "# {name}: party {id} of a {n}-party FATE lab, KubeFATE {release} (chart {chart} {version}).\n\
         # Rendered by fatelab; install with `kubefate cluster install -f {name}.yaml` after\n\
         # `kubectl create namespace {name}`, or let `fatelab up` do both.\n",
        name = party.name(),
        id = party.id,
        n = spec.parties.len(),
        release = spec.release.release,
        chart = spec.release.chart.name,
        version = spec.release.chart.version,
    );
    Ok(RenderedFile {
        name: format!("{}.yaml", party.name()),
        contents: header + &to_yaml(&v)?,
    })
}
