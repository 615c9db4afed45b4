//! Files fatelab writes or applies, rendered from the lab spec and the release's embedded files.
//! Pure functions: nothing here touches the host, so `--dry-run` and `up` render the same bytes.

pub mod cluster_serving;
pub mod cluster_yaml;
pub mod hosts;
pub mod local;
pub mod manifests;
pub mod report;

use anyhow::{Context, Result};
use serde_json::Value;

/// One rendered file: its name inside the plan directory and its contents.
#[derive(Debug, Clone)]
pub struct RenderedFile {
    pub name: String,
    pub contents: String,
}

/// YAML 1.1 spellings as kubectl reads them (`0644` is octal, `yes` stays a string).
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! { legacy_octal_numbers: true, strict_booleans: true }
}

pub fn parse_yaml(text: &str, what: &str) -> Result<Value> {
    serde_saphyr::from_str_with_options(text, yaml_options())
        .with_context(|| format!("{what} is not valid YAML"))
}

pub fn parse_yaml_documents(text: &str, what: &str) -> Result<Vec<Value>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, yaml_options())
        .with_context(|| format!("{what} is not valid YAML"))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

pub fn to_yaml(value: &Value) -> Result<String> {
    serde_saphyr::to_string(value).context("serialising YAML")
}
