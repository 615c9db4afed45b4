//! What a training job is made of, as [`super::v1`] and [`super::v2`] build it: its tables (one
//! per party, with an id column and, for the guest, a label) and each algorithm's component
//! and parameters. The values are the caller's.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct Jobs {
    pub data: Data,
    pub v2: V2Jobs,
    pub v1: V1Jobs,
}

#[derive(Debug, Deserialize)]
pub struct Data {
    pub namespace: String,
    pub partitions: u32,
    pub rows: u64,
    pub guest: TableSpec,
    pub host: TableSpec,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TableSpec {
    pub name: String,
    pub file: String,
    #[serde(default)]
    pub label: Option<String>,
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct V2Jobs {
    pub schema_version: String,
    /// The evaluation's input, whose name changed in FATE 2.1.
    pub evaluation_input: ByFate,
    pub jobs: BTreeMap<String, Job>,
}

#[derive(Debug, Deserialize)]
pub struct V1Jobs {
    pub jobs: BTreeMap<String, Job>,
}

/// One algorithm: its task name, component (v2 `component_ref`, v1 module), whether it needs an
/// arbiter, the output the evaluation reads (v2), and its parameters as FATE takes them.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub task: String,
    pub component: String,
    pub arbiter: bool,
    #[serde(default)]
    pub output: Option<ByFate>,
    pub parameters: Value,
}

/// A FATE release as far as its components' names go: major and minor (2.2.0 → 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FateVersion(pub u32, pub u32);

impl FateVersion {
    /// `2.2.0`, `v2.0.0`, `2.1`; `None` when it does not start with two numbers.
    pub fn parse(text: &str) -> Option<FateVersion> {
        let mut parts = text.trim().trim_start_matches('v').split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(FateVersion(major, minor))
    }
}

impl std::fmt::Display for FateVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// A name FATE changed between releases: each name by the FATE version from which it holds
/// (`{ "2.0": train_data_output, "2.1": train_output_data }`).
#[derive(Debug, Clone)]
pub struct ByFate(BTreeMap<FateVersion, String>);

impl ByFate {
    /// The name in `fate`: the one of the latest version not after it (the earliest one for a
    /// FATE older than all of them).
    pub fn at(&self, fate: FateVersion) -> &str {
        self.0
            .range(..=fate)
            .next_back()
            .or_else(|| self.0.iter().next())
            .map_or("", |(_, name)| name.as_str())
    }
}

impl<'de> Deserialize<'de> for ByFate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = BTreeMap::<String, String>::deserialize(d)?;
        if names.is_empty() {
            return Err(serde::de::Error::custom("no name for any FATE version"));
        }
        names
            .into_iter()
            .map(|(version, name)| {
                FateVersion::parse(&version)
                    .map(|v| (v, name))
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!("'{version}' is not a FATE version"))
                    })
            })
            .collect::<Result<_, _>>()
            .map(ByFate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renamed_name_is_the_one_of_the_fate_in_use() {
        let names: ByFate =
            serde_json::from_str(r#"{"2.0": "train_data_output", "2.1": "train_output_data"}"#)
                .unwrap();
        let at = |v: &str| names.at(FateVersion::parse(v).unwrap()).to_string();
        assert_eq!(at("2.0.0"), "train_data_output");
        assert_eq!(at("v2.1.0"), "train_output_data");
        assert_eq!(at("2.2.0"), "train_output_data");
        assert_eq!(at("3.0"), "train_output_data");
        assert_eq!(at("1.11.2"), "train_data_output");
        assert!(serde_json::from_str::<ByFate>(r#"{"two": "x"}"#).is_err());
        assert!(serde_json::from_str::<ByFate>("{}").is_err());
    }
}
