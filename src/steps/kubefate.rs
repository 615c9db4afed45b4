//! Step 6: the KubeFATE service (its RBAC, the service and its database) and a check that it answers.

use anyhow::Result;
use serde_json::Value;

use super::{Ctx, Step, StepInfo, StepPlan};
use crate::render::manifests::{self, Credentials};

pub struct Kubefate;

fn describe(doc: &Value) -> String {
    let field = |p: &str| doc.pointer(p).and_then(Value::as_str).unwrap_or("?");
    match doc.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{} {ns}/{}", field("/kind"), field("/metadata/name")),
        None => format!("{} {}", field("/kind"), field("/metadata/name")),
    }
}

impl Step for Kubefate {
    fn info(&self) -> StepInfo {
        StepInfo {
            name: "kubefate",
            title: "Deploy the KubeFATE service into namespace kube-fate",
        }
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let spec = ctx.spec;
        let creds = Credentials::placeholder();
        let (rbac, kubefate) = manifests::documents(spec, &creds)?;
        let list = |docs: &[Value]| docs.iter().map(describe).collect::<Vec<_>>().join(", ");
        let actions = vec![
            format!("server-side apply rbac-config.yaml: {}", list(&rbac)),
            "replace the release's admin/admin and kubefate/kubefate credentials in kubefate-secret with generated ones, kept in the state dir (mode 0600)".into(),
            format!("server-side apply kubefate.yaml: {}", list(&kubefate)),
            "wait for Deployments kube-fate/kubefate and kube-fate/mariadb to be available".into(),
            format!(
                "through the API server's service proxy: GET /, log in, GET /v1/version/ and expect service {}",
                spec.release.kubefate_service
            ),
        ];
        Ok(StepPlan {
            actions,
            files: manifests::render(spec, &creds)?,
        })
    }
}
