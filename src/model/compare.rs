//! What differs between what the lab declares and what the world holds: a Kubernetes object
//! against its manifest, and a party's cluster spec against the one KubeFATE keeps.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

/// Numbers compare by value: KubeFATE (Go) hands back every number as a float.
fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

/// A Kubernetes quantity (`500m`, `0.5`, `4Gi`, `2`) as a number, for comparing what a manifest
/// says with what the API server stores: it writes quantities in canonical form (`0.5` → `500m`).
fn quantity(s: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("m", 0.001),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (num, factor) = SUFFIXES
        .iter()
        .find_map(|(suffix, f)| s.strip_suffix(suffix).map(|n| (n, *f)))
        .unwrap_or((s, 1.0));
    num.parse::<f64>().ok().map(|n| n * factor)
}

fn same_quantity(path: &str, a: &Value, b: &Value) -> bool {
    if !path.contains("resources.") {
        return false;
    }
    let q = |v: &Value| match v {
        Value::String(s) => quantity(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    matches!((q(a), q(b)), (Some(x), Some(y)) if (x - y).abs() <= f64::EPSILON * x.abs().max(1.0))
}

/// Where `have` does not hold what `want` declares, as paths (`spec.replicas`). Fields the
/// server adds (status, defaults, uid) are not differences; a list must match item for item.
pub fn undeclared(want: &Value, have: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(want, have, "", &mut out);
    out
}

fn walk(want: &Value, have: &Value, path: &str, out: &mut Vec<String>) {
    let at = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => {
            for (k, wv) in w {
                match h.get(k) {
                    Some(hv) => walk(wv, hv, &at(k), out),
                    None if wv.is_null() => {}
                    None => out.push(at(k)),
                }
            }
        }
        (Value::Array(w), Value::Array(h)) if w.len() == h.len() => {
            for (i, (wv, hv)) in w.iter().zip(h).enumerate() {
                walk(wv, hv, &format!("{path}[{i}]"), out);
            }
        }
        (w, h) if same_scalar(w, h) || same_quantity(path, w, h) => {}
        _ => out.push(if path.is_empty() {
            "(whole)".into()
        } else {
            path.into()
        }),
    }
}

/// A manifest as the API server stores it: a Secret's `stringData` lives base64-encoded in `data`.
pub fn as_stored(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if doc["kind"] == "Secret"
        && let Some(Value::Object(plain)) = doc.as_object_mut().and_then(|d| d.remove("stringData"))
    {
        let data = doc["data"].as_object().cloned().unwrap_or_default();
        let mut data = data;
        for (k, v) in plain {
            let text = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            data.insert(
                k,
                Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
            );
        }
        doc["data"] = Value::Object(data);
    }
    doc
}

/// A value as a person reads it: `30101`, not Go's float `30101.0`.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Where the live object differs from its manifest, as the server would store the manifest: a
/// Secret's `stringData` as `data`, and no namespace for a cluster-scoped object.
pub fn object_differences(doc: &Value, live: &Value) -> Vec<String> {
    let mut want = as_stored(doc);
    if live.pointer("/metadata/namespace").is_none()
        && let Some(m) = want.get_mut("metadata").and_then(Value::as_object_mut)
    {
        m.remove("namespace");
    }
    undeclared(&want, live)
}

/// A route of one party: (address, port) for each peer party ID.
fn routes(spec: &Value, module: &str) -> BTreeMap<String, (String, String)> {
    spec.pointer(&format!("/{module}/partyList"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            (
                shown(&p["partyId"]),
                (shown(&p["partyIp"]), shown(&p["partyPort"])),
            )
        })
        .collect()
}

fn flatten(v: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(v, &p, out);
            }
        }
        other => {
            out.insert(path.to_string(), other.clone());
        }
    }
}

/// Strings quoted, numbers as integers where they are whole.
fn quoted(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => shown(other),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    undeclared(a, b).is_empty() && undeclared(b, a).is_empty()
}

/// Whether a party's route table (its partyList) differs between two cluster specs.
pub fn routes_change(old: &Value, new: &Value, module: &str) -> bool {
    routes(old, module) != routes(new, module)
}

/// How a party's cluster spec changes from `old` (what KubeFATE holds) to `new` (what the lab
/// declares), in words: the route table by peer, every other key by its path. Empty: the same.
pub fn spec_changes(old: &Value, new: &Value, module: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (before, after) = (routes(old, module), routes(new, module));
    let gained: Vec<&str> = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .map(String::as_str)
        .collect();
    let lost: Vec<&str> = before
        .keys()
        .filter(|k| !after.contains_key(*k))
        .map(String::as_str)
        .collect();
    if !gained.is_empty() {
        out.push(format!("partyList gains {}", gained.join(", ")));
    }
    if !lost.is_empty() {
        out.push(format!("partyList loses {}", lost.join(", ")));
    }
    for (id, (ip, port)) in &after {
        if let Some((old_ip, old_port)) = before.get(id)
            && (old_ip, old_port) != (ip, port)
        {
            out.push(format!("route to {id}: {old_ip}:{old_port} → {ip}:{port}"));
        }
    }
    let list_key = format!("{module}.partyList");
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten(old, "", &mut a);
    flatten(new, "", &mut b);
    // A secret's change is said by its key alone: these lines reach the screen and the logs.
    let secret = |k: &str| k.to_ascii_lowercase().contains("password");
    for (k, nv) in &b {
        if k == &list_key {
            continue;
        }
        match a.get(k) {
            None if secret(k) => out.push(format!("{k} set")),
            None => out.push(format!("{k} set to {}", quoted(nv))),
            Some(ov) if !same(ov, nv) && secret(k) => out.push(format!("{k} changes")),
            Some(ov) if !same(ov, nv) => out.push(format!("{k}: {} → {}", quoted(ov), quoted(nv))),
            _ => {}
        }
    }
    for (k, ov) in &a {
        if k != &list_key && !b.contains_key(k) {
            out.push(if secret(k) {
                format!("{k} removed")
            } else {
                format!("{k} removed (was {})", quoted(ov))
            });
        }
    }
    if !out.is_empty() {
        let port = format!("{module}.nodePort");
        if a.get(&port)
            .zip(b.get(&port))
            .is_some_and(|(x, y)| same(x, y))
        {
            out.push(format!("{module} NodePort unchanged"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secret_change_is_said_without_its_values() {
        let old = json!({"servingRedis": {"password": "0ld5ecret"}, "a": 1});
        let new = json!({"servingRedis": {"password": "n3w5ecret"}, "a": 2});
        let said = spec_changes(&old, &new, "servingProxy").join("; ");
        assert!(said.contains("servingRedis.password changes"), "{said}");
        assert!(said.contains("a: 1 → 2"), "{said}");
        assert!(!said.contains("5ecret"), "{said}");
        let gone = spec_changes(&old, &json!({"a": 1}), "servingProxy").join("; ");
        assert!(gone.contains("servingRedis.password removed") && !gone.contains("5ecret"));
    }

    #[test]
    fn what_the_server_adds_is_no_difference() {
        let want = json!({"spec": {"replicas": 1, "ports": [{"port": 80}]}});
        let have = json!({"spec": {"replicas": 1.0, "ports": [{"port": 80, "protocol": "TCP"}]}, "status": {}});
        assert!(undeclared(&want, &have).is_empty());
        let changed = json!({"spec": {"replicas": 2, "ports": [{"port": 80}]}});
        assert_eq!(undeclared(&want, &changed), ["spec.replicas"]);
        assert_eq!(
            undeclared(&want, &json!({"spec": {}})),
            ["spec.replicas", "spec.ports"]
        );
    }

    #[test]
    fn quantities_compare_by_value() {
        let want = json!({"resources": {"requests": {"cpu": "0.5", "memory": "512Mi"}}});
        let have = json!({"resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}});
        assert!(undeclared(&want, &have).is_empty());
        let more = json!({"resources": {"requests": {"cpu": "1", "memory": "512Mi"}}});
        assert_eq!(undeclared(&want, &more), ["resources.requests.cpu"]);
        assert_eq!(quantity("4Gi"), Some(4.0 * 1073741824.0));
    }

    #[test]
    fn secrets_compare_as_stored() {
        let doc = json!({"kind": "Secret", "stringData": {"user": "admin"}});
        let stored = as_stored(&doc);
        assert_eq!(stored["data"]["user"], "YWRtaW4=");
        assert!(stored.get("stringData").is_none());
    }

    #[test]
    fn spec_changes_speak_of_peers_and_keys() {
        let old = json!({"partyId": 9999.0, "registry": "a", "rollsite": {"nodePort": 30091.0,
            "partyList": [{"partyId": 10000.0, "partyIp": "10.0.0.1", "partyPort": 30101.0}]}});
        let new = json!({"partyId": 9999, "registry": "b", "rollsite": {"nodePort": 30091,
            "partyList": [{"partyId": 10000, "partyIp": "10.0.0.2", "partyPort": 30101},
                          {"partyId": 10001, "partyIp": "10.0.0.2", "partyPort": 30111}]}});
        let c = spec_changes(&old, &new, "rollsite");
        assert_eq!(
            c,
            [
                "partyList gains 10001",
                "route to 10000: 10.0.0.1:30101 → 10.0.0.2:30101",
                "registry: \"a\" → \"b\"",
                "rollsite NodePort unchanged"
            ]
        );
        assert!(spec_changes(&new, &new, "rollsite").is_empty());
        assert!(spec_changes(&old, &old.clone(), "rollsite").is_empty());
    }
}
