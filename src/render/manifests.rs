//! The KubeFATE service manifests (`rbac-config.yaml`, `kubefate.yaml`) with fatelab's edits,
//! made on parsed objects rather than with the tutorial's `sed`:
//! registry prefix for pulled images, the service's ingress host, and the service credentials.

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::{RenderedFile, parse_yaml_documents, to_yaml};
use crate::model::catalog::ImageSource;
use crate::model::credentials::Credentials;
use crate::model::spec::LabSpec;

/// The release's manifests as fatelab embeds them, with fatelab's edits.
pub fn documents(spec: &LabSpec, creds: &Credentials) -> Result<(Vec<Value>, Vec<Value>)> {
    let files = spec.release.files()?;
    documents_from(spec, creds, files.rbac_config, files.kubefate, "embedded")
}

/// The same edits on manifests from elsewhere (the downloaded release package).
pub fn documents_from(
    spec: &LabSpec,
    creds: &Credentials,
    rbac_text: &str,
    kubefate_text: &str,
    origin: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut rbac = parse_yaml_documents(rbac_text, &format!("the {origin} rbac-config.yaml"))?;
    let mut kubefate = parse_yaml_documents(kubefate_text, &format!("the {origin} kubefate.yaml"))?;
    for doc in rbac.iter_mut().chain(kubefate.iter_mut()) {
        match doc.get("kind").and_then(Value::as_str) {
            Some("Secret") if name_of(doc) == Some("kubefate-secret") => {
                set_credentials(doc, creds)?
            }
            Some("Deployment") => retarget_images(doc, spec),
            Some("Ingress") => set_ingress_host(doc, &spec.service_host()),
            _ => {}
        }
    }
    Ok((rbac, kubefate))
}

pub fn render(spec: &LabSpec, creds: &Credentials) -> Result<Vec<RenderedFile>> {
    let (rbac, kubefate) = documents(spec, creds)?;
    let header = format!(
        "# Rendered by fatelab from KubeFATE {}'s k8s-deploy manifests (with fatelab's edits).\n",
        spec.release.release
    );
    let join = |docs: &[Value]| -> Result<String> {
        let parts = docs.iter().map(to_yaml).collect::<Result<Vec<_>>>()?;
        Ok(header.clone() + &parts.join("---\n"))
    };
    Ok(vec![
        RenderedFile {
            name: "rbac-config.yaml".into(),
            contents: join(&rbac)?,
        },
        RenderedFile {
            name: "kubefate.yaml".into(),
            contents: join(&kubefate)?,
        },
    ])
}

fn name_of(doc: &Value) -> Option<&str> {
    doc.pointer("/metadata/name").and_then(Value::as_str)
}

fn set_credentials(secret: &mut Value, c: &Credentials) -> Result<()> {
    let data = secret
        .get_mut("stringData")
        .and_then(Value::as_object_mut)
        .context("kubefate-secret has no stringData")?;
    data.insert("kubefateUsername".into(), json!(c.kubefate_username));
    data.insert(
        "kubefatePassword".into(),
        json!(c.kubefate_password.expose()),
    );
    data.insert("mariadbUsername".into(), json!(c.mariadb_username));
    data.insert("mariadbPassword".into(), json!(c.mariadb_password.expose()));
    Ok(())
}

/// Points pulled images (mariadb) at `--registry`; the KubeFATE image itself is loaded from the
/// release file, so its name stays as the release has it.
fn retarget_images(deployment: &mut Value, spec: &LabSpec) {
    let release = spec.release;
    let Some(pod) = deployment.pointer_mut("/spec/template/spec") else {
        return;
    };
    for list in ["containers", "initContainers"] {
        let Some(containers) = pod.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers {
            let Some(image) = c.get("image").and_then(Value::as_str) else {
                continue;
            };
            let known = release.service_images.iter().find(|i| {
                i.source == ImageSource::Registry && format!("{}:{}", i.repository, i.tag) == image
            });
            if let Some(known) = known {
                let new = known.reference(spec.registry.as_deref(), release.registry_style);
                c["image"] = json!(new);
            }
        }
    }
}

fn set_ingress_host(ingress: &mut Value, host: &str) {
    if let Some(rules) = ingress
        .pointer_mut("/spec/rules")
        .and_then(Value::as_array_mut)
    {
        for rule in rules {
            rule["host"] = json!(host);
        }
    }
}
