//! Checks a JSON value against the subset of JSON Schema that docs/*.schema.json use (schemars
//! writes them): `type` (one or several), `required`, `properties`, `additionalProperties`,
//! `items`, `enum`, `const`, `minimum`, `anyOf`, `oneOf`, and `$ref` to `#/$defs/...` (inlined
//! when the schema is read).

#![allow(dead_code)]

use serde_json::Value;

fn type_ok(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

/// Every violation, as "path: problem".
pub fn violations(schema: &Value, v: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.iter().any(|t| type_ok(v, t)) {
            out.push(format!("{path}: {v} is not {types:?}"));
            return out;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        out.push(format!("{path}: {v} is not one of {allowed:?}"));
    }
    if let Some(want) = schema.get("const")
        && want != v
    {
        out.push(format!("{path}: {v} is not {want}"));
    }
    if let (Some(min), Some(x)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64())
        && x < min
    {
        out.push(format!("{path}: {v} is below {min}"));
    }
    for (key, exactly_one) in [("anyOf", false), ("oneOf", true)] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let fitting = options
                .iter()
                .filter(|o| violations(o, v, path).is_empty())
                .count();
            if fitting == 0 || (exactly_one && fitting > 1) {
                out.push(format!("{path}: {v} fits {fitting} of the {key} options"));
            }
        }
    }
    if let Some(obj) = v.as_object() {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = r.as_str().unwrap();
            if !obj.contains_key(key) {
                out.push(format!("{path}: missing {key}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        if let Some(props) = props {
            for (k, sub) in props {
                if let Some(child) = obj.get(k) {
                    out.extend(violations(sub, child, &format!("{path}.{k}")));
                }
            }
        }
        if let Some(extra) = schema.get("additionalProperties").filter(|e| e.is_object()) {
            for (k, child) in obj {
                if !props.is_some_and(|p| p.contains_key(k)) {
                    out.extend(violations(extra, child, &format!("{path}.{k}")));
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, child) in arr.iter().enumerate() {
            out.extend(violations(items, child, &format!("{path}[{i}]")));
        }
    }
    out
}

pub fn status_schema() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status.schema.json");
    let root: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    inline(&root, &root)
}

/// The schema with every `{"$ref": "#/$defs/x", ...}` replaced by the definition (its own keys,
/// like a description, kept beside it).
fn inline(root: &Value, v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut out = serde_json::Map::new();
            if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                let name = r.strip_prefix("#/$defs/").expect("local refs only");
                let def = inline(root, &root["$defs"][name]);
                out.extend(def.as_object().expect("a definition is an object").clone());
            }
            for (k, x) in o.iter().filter(|(k, _)| *k != "$ref") {
                out.entry(k.clone()).or_insert_with(|| inline(root, x));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| inline(root, x)).collect()),
        other => other.clone(),
    }
}
