//! Scenario files (`scenarios/*.yaml`): a lab described once, reusable with `up -f FILE`.
//!
//! ```yaml
//! release: v1.6.0            # optional, default v1.6.0
//! ip: 192.168.100.123        # optional, default: detected
//! registry: hub.c.163.com/federatedai   # optional
//! domain: kubefate.net       # optional, default: the release's
//! kubeconfig: ~/team.kubeconfig  # optional: existing clusters instead of minikube
//! context: org-a             # optional: their default context
//! parties:                   # at least two; plain IDs or objects
//!   - 9999
//!   - id: 10000
//!     ports: { rollsite: 30101, grpc: 30102, http: 30107 }
//!     context: org-b         # the existing cluster this party is installed in
//!     ip: 10.0.1.7           # the address its rollsite/osx NodePort is reached at
//! ```

use std::path::Path;

use anyhow::Result;
use serde::Deserialize;

use crate::exit::usage;
use crate::model::spec::{PartyInput, PortOverrides, SpecInput};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    release: Option<String>,
    ip: Option<String>,
    registry: Option<String>,
    domain: Option<String>,
    kubeconfig: Option<std::path::PathBuf>,
    context: Option<String>,
    parties: Option<Vec<PartyEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PartyEntry {
    Id(u64),
    Full(PartyObject),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyObject {
    id: u64,
    #[serde(default)]
    ports: PortsObject,
    context: Option<String>,
    ip: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PortsObject {
    rollsite: Option<u32>,
    grpc: Option<u32>,
    http: Option<u32>,
}

pub fn parse(text: &str, origin: &str) -> Result<SpecInput> {
    let file: ScenarioFile = serde_saphyr::from_str(text).map_err(|e| {
        usage(format!(
            "scenario file {origin} is not valid: {e}\n\
             allowed keys: release, ip, registry, domain, kubeconfig, context, parties (a list of \
             IDs, or of {{id, ports: {{rollsite, grpc, http}}, context, ip}})"
        ))
    })?;
    let parties = file.parties.map(|list| {
        list.into_iter()
            .map(|entry| match entry {
                PartyEntry::Id(id) => PartyInput {
                    id,
                    ..PartyInput::default()
                },
                PartyEntry::Full(p) => PartyInput {
                    id: p.id,
                    ports: PortOverrides {
                        rollsite: p.ports.rollsite,
                        grpc: p.ports.grpc,
                        http: p.ports.http,
                    },
                    context: p.context,
                    ip: p.ip,
                    peer: false,
                },
            })
            .collect()
    });
    Ok(SpecInput {
        parties,
        ip: file.ip,
        release: file.release,
        registry: file.registry,
        domain: file.domain,
        kubeconfig: file.kubeconfig,
        context: file.context,
        local: None,
    })
}

pub fn load(path: &Path) -> Result<SpecInput> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read scenario file {}: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

/// Flags win over the file; a party named by `--parties` keeps the file's port overrides for it.
pub fn overlay(file: SpecInput, flags: SpecInput) -> SpecInput {
    let parties = match (flags.parties, file.parties.as_ref()) {
        (Some(ids), Some(from_file)) => Some(
            ids.into_iter()
                .map(|p| {
                    from_file
                        .iter()
                        .find(|f| f.id == p.id)
                        .cloned()
                        .unwrap_or(p)
                })
                .collect(),
        ),
        (Some(ids), None) => Some(ids),
        (None, _) => file.parties,
    };
    SpecInput {
        parties,
        ip: flags.ip.or(file.ip),
        release: flags.release.or(file.release),
        registry: flags.registry.or(file.registry),
        domain: flags.domain.or(file.domain),
        kubeconfig: flags.kubeconfig.or(file.kubeconfig),
        context: flags.context.or(file.context),
        local: flags.local.or(file.local),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_party_forms_parse() {
        let s = parse(
            "release: v2.0.0\nparties:\n  - 9999\n  - id: 10000\n    ports: { rollsite: 31001 }\n",
            "t.yaml",
        )
        .unwrap();
        let parties = s.parties.unwrap();
        assert_eq!(parties[0].id, 9999);
        assert_eq!(parties[1].ports.rollsite, Some(31001));
        assert_eq!(parties[1].ports.http, None);
        assert_eq!(s.release.as_deref(), Some("v2.0.0"));
    }

    #[test]
    fn unknown_keys_are_usage_errors() {
        let e = parse("partys: [1, 2]\n", "t.yaml").unwrap_err();
        assert_eq!(crate::exit::code_for(&e), crate::exit::USAGE);
        assert!(e.to_string().contains("t.yaml"), "{e}");
    }

    #[test]
    fn flags_override_and_keep_port_overrides() {
        let file = parse(
            "ip: 10.0.0.1\nparties:\n  - id: 1\n    ports: { http: 31000 }\n  - 2\n",
            "t.yaml",
        )
        .unwrap();
        let flags = SpecInput {
            parties: Some(vec![
                PartyInput {
                    id: 1,
                    ..PartyInput::default()
                },
                PartyInput {
                    id: 3,
                    ..PartyInput::default()
                },
            ]),
            ip: Some("10.0.0.2".into()),
            ..Default::default()
        };
        let merged = overlay(file, flags);
        assert_eq!(merged.ip.as_deref(), Some("10.0.0.2"));
        let parties = merged.parties.unwrap();
        assert_eq!(parties[0].ports.http, Some(31000));
        assert_eq!(parties[1].id, 3);
    }
}
