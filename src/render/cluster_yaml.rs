//! Each party's cluster.yaml, the file `kubefate cluster install -f` takes.
//!
//! Starts from the release's base (the tutorial's fate-9999.yaml shape for v1.6.0) and fills in
//! the party's identity, its NodePorts, the registry, host names, a full-mesh partyList (every
//! other party at its address — the lab's IP unless it has its own — and its rollsite or osx
//! NodePort) and, for v2 charts,
//! the nodemanager and osx sizing.
//!
//! A registry under a v2 chart: the chart renders most images as `{{registry}}{{image}}` but the
//! fluent-bit sidecar as `{{registry}}/fluent-bit:2.1.4`, so no value of `registry` alone gives
//! valid references for both (`R/` makes `R//fluent-bit`). fatelab gives `registry: R` and each
//! module's `image` with a leading slash (`/federatedai/osx`), which renders both right.

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};

use super::{RenderedFile, parse_yaml, to_yaml};
use crate::model::catalog::{ClusterSchema, RegistryStyle};
use crate::model::spec::{LabSpec, Party};

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
    obj.insert(
        "registry".into(),
        json!(spec.registry.clone().unwrap_or_default()),
    );
    if spec.registry.is_some() && release.registry_style == RegistryStyle::Prefix {
        for module in &release.modules {
            if let Some(image) = release.module_image(module) {
                section_or_new(obj, module)
                    .insert("image".into(), json!(format!("/{}", image.repository)));
            }
        }
    }

    let peers: Vec<Value> = spec
        .parties
        .iter()
        .filter(|p| p.id != party.id)
        .map(|p| {
            json!({
                "partyId": p.id,
                "partyIp": spec.address(p).to_string(),
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
            // Where FATE Flow finds the party's serving-server (`servings.hosts`).
            if spec.serving == crate::model::spec::ServingWish::On {
                let (ip, port) = super::cluster_serving::fate_side(spec, party);
                obj.insert("servingIp".into(), json!(ip));
                obj.insert("servingPort".into(), json!(port));
            }
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
            if let Some(size) = &spec.sizing {
                set_sizing(obj, size);
            }
            v2_chart_image_refs(spec, &v)?;
        }
    }
    Ok(v)
}

/// The nodemanager and osx sections a sizing asks for. With a `nodemanager` section present the
/// chart's template no longer takes values.yaml's `sessionProcessorsPerNode`, so it is always set.
fn set_sizing(obj: &mut Map<String, Value>, size: &crate::model::sizing::PartySize) {
    let nm = section_or_new(obj, "nodemanager");
    nm.insert("replicas".into(), json!(size.nodemanager_replicas));
    nm.insert(
        "sessionProcessorsPerNode".into(),
        json!(size.session_processors),
    );
    let mut resources = Map::new();
    if let Some(r) = size.nodemanager_requests {
        resources.insert("requests".into(), r.quantities());
    }
    if let Some(l) = size.nodemanager_limits {
        resources.insert("limits".into(), l.quantities());
    }
    if !resources.is_empty() {
        nm.insert("resources".into(), Value::Object(resources));
    }
    let osx = section_or_new(obj, "osx");
    if let Some(r) = size.osx_requests {
        osx.insert("resources".into(), json!({ "requests": r.quantities() }));
    }
    if let Some(heap) = size.osx_heap_mib {
        osx.insert("heap".into(), json!(format!("{heap}m")));
    }
}

fn section_or_new<'a>(obj: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = obj.entry(key).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut().expect("just made an object")
}

/// The image references a v2 chart renders from this cluster.yaml (its templates' expressions,
/// KF@v2.0.0 helm-charts/FATE), so they can be checked against what fatelab pulls. Each one
/// must be a valid reference.
pub fn v2_chart_image_refs(spec: &LabSpec, cluster: &Value) -> Result<Vec<String>> {
    let registry = cluster["registry"].as_str().unwrap_or_default();
    let release = spec.release;
    let mut refs = Vec::new();
    for module in &release.modules {
        let Some(image) = release.module_image(module) else {
            continue;
        };
        let name = cluster[module.as_str()]["image"]
            .as_str()
            .map_or_else(|| image.repository.clone(), str::to_string);
        refs.push(format!("{registry}{name}:{}", image.tag));
    }
    for image in release
        .party_images
        .iter()
        .filter(|i| i.registry_path.is_some())
    {
        refs.push(if registry.is_empty() {
            format!("{}:{}", image.repository, image.tag)
        } else {
            format!("{registry}/fluent-bit:{}", image.tag)
        });
    }
    for r in &refs {
        if r.contains("//") || r.starts_with('/') {
            anyhow::bail!("the chart would render the image reference `{r}`, which is not valid");
        }
    }
    refs.sort();
    refs.dedup();
    Ok(refs)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(release: &str, registry: Option<&str>) -> LabSpec {
        crate::model::spec::example(&[9999, 10000], release, registry)
    }

    #[test]
    fn a_v2_chart_renders_exactly_the_images_fatelab_pulls_with_and_without_a_registry() {
        for registry in [None, Some("127.0.0.1:5000/"), Some("hub.example/fate")] {
            let s = spec("v2.0.0", registry);
            let v = value(&s, &s.parties[0]).unwrap();
            let mut pulled = s.party_image_refs();
            pulled.sort();
            assert_eq!(v2_chart_image_refs(&s, &v).unwrap(), pulled, "{registry:?}");
        }
        let s = spec("v2.0.0", Some("127.0.0.1:5000/"));
        let v = value(&s, &s.parties[0]).unwrap();
        assert_eq!(v["registry"], "127.0.0.1:5000");
        assert_eq!(v["nodemanager"]["image"], "/federatedai/eggroll");
        assert!(
            s.party_image_refs()
                .contains(&"127.0.0.1:5000/fluent-bit:2.1.4".to_string())
        );
    }

    /// KubeFATE v1.6.0 `k8s-deploy/examples/party-9999/cluster.yaml`: `servingIp: 192.168.9.1`,
    /// `servingPort: 30095` at the top level, read by chart fate 1.6.0's `servingIp`/`servingPort`.
    #[test]
    fn a_serving_lab_tells_each_fate_flow_its_serving_server() {
        let mut s = spec("v1.6.0", None);
        let v = value(&s, &s.parties[0]).unwrap();
        assert!(v.get("servingIp").is_none() && v.get("servingPort").is_none());
        s.serving = crate::model::spec::ServingWish::On;
        let v = value(&s, &s.parties[0]).unwrap();
        assert_eq!(v["servingIp"], "192.168.100.123");
        assert_eq!(v["servingPort"], 30095);
        assert_eq!(value(&s, &s.parties[1]).unwrap()["servingPort"], 30105);
    }

    #[test]
    fn the_old_way_of_a_slash_ended_registry_is_caught() {
        let s = spec("v2.0.0", Some("r.example"));
        let mut v = value(&s, &s.parties[0]).unwrap();
        v["registry"] = json!("r.example/");
        for m in s.release.modules.iter() {
            v[m.as_str()].as_object_mut().unwrap().remove("image");
        }
        let err = v2_chart_image_refs(&s, &v).unwrap_err();
        assert!(
            format!("{err}").contains("r.example//fluent-bit:2.1.4"),
            "{err}"
        );
    }

    #[test]
    fn sizing_goes_into_the_nodemanager_and_osx_sections() {
        let mut s = spec("v2.0.0", None);
        let fit = crate::model::sizing::size(
            crate::model::sizing::Profile::Small,
            2,
            crate::model::sizing::Host {
                cpus: 4,
                memory_mib: 8192,
            },
        );
        s.sizing = Some(fit.party);
        let v = value(&s, &s.parties[0]).unwrap();
        assert_eq!(
            v["nodemanager"],
            json!({"replicas": 1, "sessionProcessorsPerNode": 2,
                   "resources": {"requests": {"cpu": "1", "memory": "2048Mi"},
                                 "limits": {"cpu": "4", "memory": "4096Mi"}}})
        );
        assert_eq!(
            v["osx"]["resources"],
            json!({"requests": {"cpu": "100m", "memory": "1536Mi"}})
        );
        assert_eq!(v["osx"]["heap"], "1024m");
        assert_eq!(v["osx"]["nodePort"], json!(s.parties[0].ports.rollsite));
        // v1.6.0's chart takes no sizing.
        let mut v1 = spec("v1.6.0", None);
        v1.sizing = s.sizing.clone();
        assert!(
            value(&v1, &v1.parties[0])
                .unwrap()
                .get("nodemanager")
                .is_none()
        );
    }
}
