//! Each party's cluster-serving.yaml: the FATE-Serving cluster KubeFATE installs beside the
//! party (`up --serving`, releases whose catalog entry has a serving chart).
//!
//! The keys are the ones chart fate-serving v2.0.0's values template reads (KubeFATE v1.6.0
//! `helm-charts/FATE-Serving/values-template.yaml`; shared/reference/serving.md 2.1): the
//! serving-proxy's NodePort and a full-mesh `partyList` of the other parties' serving-proxy
//! NodePorts (no exchange), serving-server's NodePort and the party's FATE Flow it pulls models
//! from (`servingServer.fateflow`, FATE Flow's HTTP NodePort at the party's address), redis with
//! the lab's own password. The chart spells the proxy's host key `ingerssHost`; so does this.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::{RenderedFile, to_yaml};
use crate::model::catalog::Serving;
use crate::model::spec::{LabSpec, Party};

/// The serving cluster spec as a value: what the KubeFATE API receives (as JSON) and what
/// fatelab writes (as YAML). `redis_password` is the lab's generated one.
pub fn value(spec: &LabSpec, party: &Party, redis_password: &str) -> Result<Value> {
    let (chart, modules) = match &spec.release.serving {
        Serving::Chart { chart, modules, .. } => (chart, modules),
        Serving::Refused { refused } => bail!(
            "KubeFATE {} has no FATE-Serving: {refused}",
            spec.release.release
        ),
    };
    let ports = party.ports.serving();
    // Another organisation's party (--peer) runs its own serving, if any, at a port fatelab
    // does not know: only the lab's own parties are routed.
    let peers: Vec<Value> = spec
        .ours()
        .filter(|p| p.id != party.id)
        .map(|p| {
            json!({
                "partyId": p.id,
                "partyIp": spec.address(p).to_string(),
                "partyPort": p.ports.serving().proxy,
            })
        })
        .collect();
    let volume = |class: &str| {
        json!({
            "subPath": "",
            "existingClaim": "",
            "storageClass": class,
            "accessMode": "ReadWriteOnce",
            "size": "1Gi",
            "nodeSelector": {},
        })
    };
    let mut server = volume("serving-server");
    let server_obj = server.as_object_mut().context("a mapping")?;
    server_obj.insert("type".into(), json!("NodePort"));
    server_obj.insert("nodePort".into(), json!(ports.server));
    server_obj.insert(
        "fateflow".into(),
        json!({ "ip": spec.address(party).to_string(), "port": party.ports.http }),
    );
    let mut redis = volume("serving-redis");
    redis
        .as_object_mut()
        .context("a mapping")?
        .insert("password".into(), json!(redis_password));

    Ok(json!({
        "name": party.serving_name(),
        "namespace": party.serving_name(),
        "chartName": chart.name,
        "chartVersion": chart.version,
        "partyId": party.id,
        "registry": spec.registry.clone().unwrap_or_default(),
        "persistence": false,
        "istio": { "enabled": false },
        "modules": modules,
        "servingProxy": {
            "nodePort": ports.proxy,
            "ingerssHost": format!("{}.serving-proxy.{}", party.id, spec.domain),
            "partyList": peers,
            "nodeSelector": {},
        },
        "servingServer": server,
        "servingRedis": redis,
    }))
}

/// The file `--dry-run` writes for the party.
pub fn file(spec: &LabSpec, party: &Party, redis_password: &str) -> Result<RenderedFile> {
    Ok(RenderedFile {
        name: format!("{}.yaml", party.serving_name()),
        contents: to_yaml(&value(spec, party, redis_password)?)?,
    })
}

/// Where the party's FATE Flow finds its serving-server: the `servingIp`/`servingPort` of the
/// party's cluster.yaml, which chart fate 1.6.0 writes into FATE Flow's `servings.hosts`
/// (without them, binding a model answers "Please configure servings address", KubeFATE#415).
pub fn fate_side(spec: &LabSpec, party: &Party) -> (String, u16) {
    (
        spec.address(party).to_string(),
        party.ports.serving().server,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::example;

    /// KubeFATE v1.6.0's `k8s-deploy/examples/party-9999/cluster-serving.yaml`, the parts a lab
    /// decides (its addresses are the example's 192.168.9.1/192.168.10.1; here one lab IP).
    #[test]
    fn the_tutorial_parties_serve_where_kubefates_examples_do() {
        let spec = example(&[9999, 10000], "v1.6.0", None);
        let v = value(&spec, &spec.parties[0], "generated").unwrap();
        assert_eq!(v["name"], "fate-serving-9999");
        assert_eq!(v["namespace"], "fate-serving-9999");
        assert_eq!(
            (&v["chartName"], &v["chartVersion"]),
            (&json!("fate-serving"), &json!("v2.0.0"))
        );
        assert_eq!(
            v["modules"],
            json!(["servingProxy", "servingRedis", "servingServer"])
        );
        assert_eq!(v["servingProxy"]["nodePort"], 30096);
        assert_eq!(
            v["servingProxy"]["ingerssHost"],
            "9999.serving-proxy.kubefate.net"
        );
        assert_eq!(
            v["servingProxy"]["partyList"],
            json!([{"partyId": 10000, "partyIp": "192.168.100.123", "partyPort": 30106}])
        );
        assert_eq!(v["servingServer"]["nodePort"], 30095);
        assert_eq!(
            v["servingServer"]["fateflow"],
            json!({"ip": "192.168.100.123", "port": 30097})
        );
        assert_eq!(v["servingRedis"]["password"], "generated");
        assert_eq!(
            fate_side(&spec, &spec.parties[1]),
            ("192.168.100.123".to_string(), 30105)
        );
        let yaml = file(&spec, &spec.parties[1], "p").unwrap();
        assert_eq!(yaml.name, "fate-serving-10000.yaml");
        assert!(
            yaml.contents.contains("partyPort: 30096"),
            "{}",
            yaml.contents
        );
    }

    #[test]
    fn a_release_without_serving_says_why_and_what_instead() {
        let spec = example(&[9999, 10000], "v2.0.0", None);
        let e = value(&spec, &spec.parties[0], "p").unwrap_err().to_string();
        assert!(
            e.contains("KubeFATE v2.0.0 has no FATE-Serving")
                && e.contains("no online serving")
                && e.contains("offline prediction"),
            "{e}"
        );
    }
}
