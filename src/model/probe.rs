//! The federation probe's findings: for each ordered pair of parties, whether a message from one
//! can reach the other, and if not, the first hop that fails, in words, with what to do. Also
//! how a rollsite/osx route table is read (what the charts render into it).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The hops a crossing from party A to party B takes, in the order they are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Hop {
    /// A's federation pod cannot be looked into (missing, not running, exec refused).
    Inside,
    /// A's loaded route table has no entry for B, or another address than declared.
    Route,
    /// B's federation pod is not ready.
    Ready,
    /// B's declared address does not accept a TCP connection from inside A's pod.
    Connect,
}

/// One ordered pair's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Crossing {
    pub from: u32,
    pub to: u32,
    pub ok: bool,
    /// the first hop that fails; null when the crossing works
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<Hop>,
    /// what fails, in words
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// what to do about it
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Crossing {
    pub fn passed(from: u32, to: u32) -> Crossing {
        Crossing {
            from,
            to,
            ok: true,
            hop: None,
            problem: None,
            fix: None,
        }
    }

    pub fn failed(from: u32, to: u32, hop: Hop, problem: String, fix: String) -> Crossing {
        Crossing {
            from,
            to,
            ok: false,
            hop: Some(hop),
            problem: Some(problem),
            fix: Some(fix),
        }
    }
}

/// `fatelab probe --output json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeReport {
    /// the federation component probed: rollsite (FATE 1.x), osx (FATE 2.x on KubeFATE), or
    /// rabbitmq (a local lab)
    pub via: String,
    /// every party of the lab, peers included, in ID order: the matrix's rows and columns
    pub parties: Vec<u32>,
    /// the parties whose inside fatelab can see (a peer's rows are not probed)
    pub probed: Vec<u32>,
    pub crossings: Vec<Crossing>,
    pub ok: bool,
}

impl ProbeReport {
    pub fn new(via: &str, parties: Vec<u32>, probed: Vec<u32>, crossings: Vec<Crossing>) -> Self {
        let ok = crossings.iter().all(|c| c.ok);
        ProbeReport {
            via: via.into(),
            parties,
            probed,
            crossings,
            ok,
        }
    }

    pub fn crossing(&self, from: u32, to: u32) -> Option<&Crossing> {
        self.crossings.iter().find(|c| c.from == from && c.to == to)
    }
}

/// Where a route table sends a party's traffic by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub ip: String,
    pub port: u16,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

/// The `default` route of every party in a rollsite/osx `route_table.json`
/// (`{"route_table": {"<party>": {"default": [{"ip", "port"}], ...}}, "permission": ...}`).
pub fn parse_route_table(text: &str) -> Result<BTreeMap<String, Route>, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("it is not JSON ({e})"))?;
    let table = doc
        .get("route_table")
        .and_then(|t| t.as_object())
        .ok_or("it has no route_table object")?;
    Ok(table
        .iter()
        .filter_map(|(party, routes)| {
            let first = routes.get("default")?.get(0)?;
            let ip = match first.get("ip")? {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let port = first.get("port")?.as_u64()?.try_into().ok()?;
            Some((party.clone(), Route { ip, port }))
        })
        .collect())
}

/// A party ID as the charts print it into the table: a Go template formats the number as a
/// float, so IDs of a million and more become `1e+06`, `1.0001e+06` (reference §7.2).
pub fn table_key(id: u32) -> String {
    if id < 1_000_000 {
        return id.to_string();
    }
    let e = format!("{:e}", f64::from(id));
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    format!("{mantissa}e+{:02}", exp.parse::<i32>().unwrap_or(0))
}

/// What is wrong with the route from `from` to `to` in a loaded table, if anything.
pub fn route_problem(
    table: &BTreeMap<String, Route>,
    via: &str,
    from: u32,
    to: u32,
    declared: &Route,
) -> Option<String> {
    match table.get(&table_key(to)) {
        None => Some(format!("{from}'s {via} has no route to {to}")),
        Some(r) if r != declared => Some(format!(
            "{from}'s {via} sends {to}'s traffic to {r}, not to {declared} as declared"
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_table_is_read() {
        let text = r#"{"route_table": {
            "10000": {"default": [{"ip": "192.168.1.5", "port": 30101}]},
            "9999": {"fateflow": [{"ip": "fateflow", "port": 9360}], "default": [{"ip": "rollsite", "port": 9370}]}
        }, "permission": {"default_allow": true}}"#;
        let t = parse_route_table(text).unwrap();
        let declared = Route {
            ip: "192.168.1.5".into(),
            port: 30101,
        };
        assert_eq!(t["10000"], declared);
        assert_eq!(route_problem(&t, "rollsite", 9999, 10000, &declared), None);
        assert_eq!(
            route_problem(&t, "rollsite", 9999, 10001, &declared).unwrap(),
            "9999's rollsite has no route to 10001"
        );
        let moved = Route {
            ip: "192.168.1.6".into(),
            port: 30101,
        };
        assert!(
            route_problem(&t, "rollsite", 9999, 10000, &moved)
                .unwrap()
                .contains("to 192.168.1.5:30101, not to 192.168.1.6:30101")
        );
        assert!(parse_route_table("{").is_err());
    }

    #[test]
    fn large_ids_are_keyed_as_the_chart_prints_them() {
        assert_eq!(table_key(999_999), "999999");
        assert_eq!(table_key(1_000_000), "1e+06");
        assert_eq!(table_key(1_000_100), "1.0001e+06");
        assert_eq!(table_key(1_234_567), "1.234567e+06");
    }
}
