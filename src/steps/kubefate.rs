//! Step 7: the KubeFATE service (its RBAC, the service and its database) and a check that it
//! answers; also the `kubefate` CLI for the user, configured for this lab.

use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;

use super::{Ctx, Outcome, Step, StepFuture, StepInfo, StepPlan};
use crate::clients::kube;
use crate::clients::kubefate::NAMESPACE;
use crate::credentials;
use crate::render::manifests::{self, Credentials};
use crate::ui::StepLine;

pub struct Kubefate;

fn describe(doc: &Value) -> String {
    let field = |p: &str| doc.pointer(p).and_then(Value::as_str).unwrap_or("?");
    match doc.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{} {ns}/{}", field("/kind"), field("/metadata/name")),
        None => format!("{} {}", field("/kind"), field("/metadata/name")),
    }
}

/// How long the service gets to answer once its Deployment is available.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

async fn run(ctx: &Ctx<'_>, line: &StepLine) -> Result<Outcome> {
    let spec = ctx.spec;
    let r = spec.release;
    let creds = credentials::load_or_create(&ctx.state_dir)?;
    let package = Package::read(ctx);
    let (rbac, service) = match package_manifests(ctx, &package, &creds) {
        Ok(docs) => docs,
        Err(e) => {
            line.say(format!(
                "using fatelab's copy of the release manifests ({e:#})"
            ));
            manifests::documents(spec, &creds)?
        }
    };
    let client = ctx.kube().await?;
    let needs = format!("KubeFATE {} needs {}", r.release, r.kubernetes.describe());
    line.note("applying rbac-config.yaml");
    ctx.update_record(|rec| rec.kubefate_applied = true)?;
    let mut applied = kube::apply_all(client, &rbac, &needs).await?;
    line.note("applying kubefate.yaml");
    applied.extend(kube::apply_all(client, &service, &needs).await?);
    line.note("waiting for Deployments kube-fate/kubefate and kube-fate/mariadb");
    kube::wait_deployments_available(
        client,
        NAMESPACE,
        &["kubefate", "mariadb"],
        ctx.opts.wait_timeout,
    )
    .await
    .context("the KubeFATE service did not become available")?;

    let kf = ctx.kubefate().await?;
    line.note("asking the service for its version");
    let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
    let version = loop {
        // A Deployment turns available a moment before its Service routes to the pod.
        match async {
            kf.alive().await?;
            kf.version().await
        }
        .await
        {
            Ok(v) => break v,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(e.context(format!(
                    "the KubeFATE service did not answer within {}",
                    kube::human(ANSWER_WITHIN)
                )));
            }
            Err(e) => {
                tracing::info!("KubeFATE not answering yet: {e:#}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    if version != r.kubefate_service {
        line.say(format!(
            "warning: the service reports {version}; KubeFATE {} ships {}",
            r.release, r.kubefate_service
        ));
    }
    line.say(format!(
        "KubeFATE service {version} answers (logged in as {})",
        creds.kubefate_username
    ));
    install_cli(ctx, line, &package, &creds);
    Ok(if applied.iter().any(|a| a.changed) {
        Outcome::Done
    } else {
        Outcome::AlreadyDone(format!("KubeFATE service {version} already runs"))
    })
}

/// The files fatelab takes from the downloaded release package, read in one pass.
struct Package {
    path: std::path::PathBuf,
    files: std::collections::BTreeMap<String, Vec<u8>>,
}

impl Package {
    fn read(ctx: &Ctx) -> Result<Package> {
        let artifact = ctx
            .spec
            .release
            .artifact("package")
            .context("the catalog names no package")?;
        let path = super::artifacts::local_path(ctx, artifact);
        let files =
            crate::package::files(&path, &["rbac-config.yaml", "kubefate.yaml", "kubefate"])?;
        Ok(Package { path, files })
    }

    fn file(&self, name: &str) -> Result<&[u8]> {
        self.files
            .get(name)
            .map(Vec::as_slice)
            .with_context(|| format!("{} has no {name}", self.path.display()))
    }

    fn text(&self, name: &str) -> Result<String> {
        String::from_utf8(self.file(name)?.to_vec())
            .with_context(|| format!("{name} in {} is not text", self.path.display()))
    }
}

/// The manifests from the downloaded release package, with fatelab's edits.
fn package_manifests(
    ctx: &Ctx,
    package: &Result<Package>,
    creds: &Credentials,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let package = package.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
    manifests::documents_from(
        ctx.spec,
        creds,
        &package.text("rbac-config.yaml")?,
        &package.text("kubefate.yaml")?,
        "package's",
    )
}

/// Unpacks the package's `kubefate` binary and writes the config.yaml it reads from its working
/// directory, so the tutorial's `kubefate cluster ls` works. Best effort: fatelab itself does not
/// need the CLI.
fn install_cli(ctx: &Ctx, line: &StepLine, package: &Result<Package>, creds: &Credentials) {
    let dir = ctx.state_dir.join("kubefate");
    let result = (|| -> Result<()> {
        let package = package.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let binary = package.file("kubefate")?;
        std::fs::create_dir_all(&dir)?;
        let target = dir.join("kubefate");
        std::fs::write(&target, binary)?;
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let config = format!(
            "log:\n  level: info\nuser:\n  username: {}\n  password: {}\nserviceurl: {}\n",
            creds.kubefate_username,
            creds.kubefate_password,
            ctx.spec.service_host()
        );
        // It holds the service password: readable by its owner only.
        let cfg = dir.join("config.yaml");
        let _ = std::fs::remove_file(&cfg);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&cfg)?;
        std::io::Write::write_all(&mut f, config.as_bytes())?;
        Ok(())
    })();
    match result {
        Ok(()) => line.say(format!(
            "the kubefate CLI is in {d}; it reads config.yaml from its working directory: \
             `cd {d} && ./kubefate cluster ls` (to put it on PATH: `sudo ln -s {d}/kubefate /usr/local/bin/kubefate`)",
            d = dir.display()
        )),
        Err(e) => line.say(format!("the kubefate CLI was not installed ({e:#}); fatelab does not need it")),
    }
}

async fn undo(ctx: &Ctx<'_>, line: &StepLine) -> Result<Outcome> {
    if !ctx.record.lock().expect("record lock").kubefate_applied {
        return Ok(Outcome::AlreadyDone(
            "fatelab did not deploy KubeFATE".into(),
        ));
    }
    let client = ctx.kube().await?;
    let (rbac, service) = manifests::documents(ctx.spec, &Credentials::placeholder())?;
    // Cluster-scoped objects go explicitly; the namespace takes everything inside it along.
    for doc in rbac.iter().chain(service.iter()) {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if doc.pointer("/metadata/namespace").is_none() && kind != "Namespace" {
            line.note(format!("deleting {}", describe(doc)));
            kube::delete_object(client, doc).await?;
        }
    }
    line.note(format!("deleting namespace {NAMESPACE}"));
    kube::delete_namespace(client, NAMESPACE, ctx.opts.wait_timeout).await?;
    ctx.update_record(|r| r.kubefate_applied = false)?;
    Ok(Outcome::Done)
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
            "unpack the package's kubefate CLI with a config.yaml for this lab into the state dir".into(),
        ];
        Ok(StepPlan {
            actions,
            files: manifests::render(spec, &creds)?,
        })
    }

    fn run<'a>(&'a self, ctx: &'a Ctx, line: &'a StepLine) -> Option<StepFuture<'a>> {
        Some(Box::pin(run(ctx, line)))
    }

    fn undo<'a>(&'a self, ctx: &'a Ctx, line: &'a StepLine) -> Option<StepFuture<'a>> {
        Some(Box::pin(undo(ctx, line)))
    }
}
