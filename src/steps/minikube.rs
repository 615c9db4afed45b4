//! Step 2 on minikube: a single-node Kubernetes with minikube's none driver (kubelet uses the host's Docker).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use semver::Version;

use super::{ActiveMinikube, Ctx, Diff, Outcome, Step, StepPlan};
use crate::clients::download;
use crate::clients::minikube::{ClusterState, Homes, Minikube};
use crate::host::minikube as host_minikube;
use crate::host::state;
use crate::model::compat;
use crate::model::record::MinikubeRecord;
use crate::model::step::StepName;
use crate::ui::StepLine;

pub struct StartMinikube;

/// The minikube release that renamed `--vm-driver` to `--driver`.
const DRIVER_FLAG_SINCE: Version = Version::new(1, 8, 0);
/// From this release on, every `start` rewrites /etc/docker/daemon.json and restarts Docker.
const REWRITES_DAEMON_JSON_SINCE: Version = Version::new(1, 29, 0);

/// The start arguments for a given minikube version: the driver flag was renamed in v1.8, and
/// the runtime is always named because v1.39 changed the default to containerd.
pub fn start_args(minikube: &Version, kubernetes: &Version) -> Vec<String> {
    let driver = if *minikube >= DRIVER_FLAG_SINCE {
        "--driver=none"
    } else {
        "--vm-driver=none"
    };
    vec![
        driver.to_string(),
        "--container-runtime=docker".to_string(),
        format!("--kubernetes-version=v{kubernetes}"),
    ]
}

/// minikube's name for this host's architecture: its releases carry linux-amd64 and linux-arm64.
pub fn arch() -> Result<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Ok("amd64"),
        "aarch64" => Ok("arm64"),
        other => Err(anyhow!(
            "minikube publishes no binary for this host's architecture ({other}); install it on PATH yourself"
        )),
    }
}

pub fn download_url(github: &str, version: &Version, arch: &str) -> String {
    format!(
        "{}/kubernetes/minikube/releases/download/v{version}/minikube-linux-{arch}",
        github.trim_end_matches('/')
    )
}

/// The digest in a `.sha256` file as minikube publishes them: the hex digest, maybe a name after.
fn published_digest(text: &str) -> Option<String> {
    let digest = text.split_whitespace().next()?.to_ascii_lowercase();
    (digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit())).then_some(digest)
}

async fn install(ctx: &Ctx, line: &StepLine, version: &Version) -> Result<(PathBuf, String)> {
    let url = download_url(&ctx.urls.github, version, arch()?);
    let dest = host_minikube::downloaded(&ctx.state_dir, version);
    if !ctx.ui.confirm(&format!(
        "minikube v{version} is needed. Download it from {url} into {}?",
        dest.display()
    ))? {
        return Err(anyhow!(
            "minikube v{version} is needed and the download was declined; install it on PATH yourself"
        ));
    }
    line.note(format!("downloading minikube v{version}"));
    let sums = format!("{url}.sha256");
    let text = download::fetch_text(&sums).await.context(
        "minikube publishes a .sha256 beside each binary; a mirror must serve it too \
         (--github-mirror URL, or FATELAB_GITHUB_MIRROR)",
    )?;
    let want = published_digest(&text)
        .with_context(|| format!("{sums} holds no SHA-256 digest: {:?}", text.trim()))?;
    let bar = ctx.ui.download(&format!("minikube-v{version}"));
    let got = download::fetch(Some(&bar), &url, &dest, Some(&want))
        .await
        .context("nothing was installed; a mirror can serve minikube: --github-mirror URL (or FATELAB_GITHUB_MIRROR)")?;
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))?;
    line.say(format!(
        "downloaded minikube v{version} ({} bytes, sha256 {} as published)",
        got.bytes, got.sha256
    ));
    Ok((dest, got.sha256))
}

/// What the minikube step found: a binary (or none) and, for a binary, its cluster's state.
pub struct Observed {
    homes: Homes,
    found: Option<(PathBuf, Version)>,
    state: Option<ClusterState>,
}

/// The minikube `up` uses when none is found: the user's `--minikube-version`, else the
/// release's recommendation.
fn catalog_version(ctx: &Ctx) -> Version {
    ctx.opts
        .minikube_version
        .clone()
        .unwrap_or_else(|| ctx.spec.release.recommended.minikube.0.clone())
}

impl Step for StartMinikube {
    type Observed = Observed;

    fn name(&self) -> StepName {
        StepName::Minikube
    }

    fn title(&self) -> &'static str {
        "Start Kubernetes with minikube's none driver"
    }

    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Observed>> {
        let homes = host_minikube::homes()?;
        let found = host_minikube::locate(
            &ctx.state_dir,
            &homes,
            ctx.opts.minikube_version.as_ref(),
            &catalog_version(ctx),
        )
        .await;
        let mut changes = Vec::new();
        let state = match &found {
            Ok((path, _)) => Some(Minikube::new(path.clone(), &homes).status().await?),
            Err(why) => {
                changes.push(format!(
                    "download minikube v{} ({why})",
                    catalog_version(ctx)
                ));
                None
            }
        };
        let summary = match (&found, &state) {
            (Ok((path, v)), Some(ClusterState::Running(_))) => {
                format!("minikube v{v} already runs a cluster ({})", path.display())
            }
            _ => {
                changes.push("start the cluster with `minikube start`".into());
                String::new()
            }
        };
        Ok(Diff::new(
            changes,
            summary,
            Observed {
                homes,
                found: found.ok(),
                state,
            },
        ))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Observed>) -> Result<()> {
        let Observed {
            homes,
            found,
            state,
        } = diff.observed;
        let mut downloaded_sha256 = None;
        let path = match found {
            Some((path, _)) => path,
            None => {
                let version = catalog_version(ctx);
                let (path, sum) = install(ctx, line, &version).await?;
                downloaded_sha256 = Some(sum);
                path
            }
        };
        let client = Minikube::new(path.clone(), &homes);
        let version = client.version().await?;
        let kubernetes = compat::choose_kubernetes(
            ctx.spec.release,
            &version,
            ctx.opts.kubernetes_version.as_ref(),
        );
        let active = ActiveMinikube {
            client: client.clone(),
            version: version.clone(),
            kubernetes: kubernetes.clone(),
        };
        let previous = ctx.record().minikube;
        let mut record = MinikubeRecord {
            path: path.clone(),
            version: version.clone().into(),
            kubernetes: kubernetes.clone().into(),
            homes: (&homes).into(),
            started_by_fatelab: previous.as_ref().is_some_and(|p| p.started_by_fatelab),
            downloaded_sha256: downloaded_sha256
                .or_else(|| previous.and_then(|p| p.downloaded_sha256)),
        };
        if let Some(ClusterState::Running(_)) = state {
            ctx.update_record(|r| r.minikube = Some(record))?;
            ctx.set_minikube(active);
            return Ok(());
        }

        if version >= REWRITES_DAEMON_JSON_SINCE {
            line.say(
                "note: `minikube start` rewrites /etc/docker/daemon.json (registry mirrors, data-root and \
                 other settings there are lost) and restarts Docker, which stops running containers",
            );
            if !ctx.ui.confirm("Start minikube now?")? {
                return Err(anyhow!("minikube start was declined; nothing was changed"));
            }
        }
        // Recorded before the start: an interrupted start still leaves a cluster `down --purge` removes.
        record.started_by_fatelab = true;
        ctx.update_record(|r| r.minikube = Some(record))?;
        let args = start_args(&version, &kubernetes);
        line.note(format!("minikube start {}", args.join(" ")));
        tracing::info!("running {} start {}", path.display(), args.join(" "));
        let out = client
            .start(&args, |l| {
                let l = l.trim();
                if !l.is_empty() {
                    line.note(l);
                }
            })
            .await?;
        if !out.success() {
            let advice = super::advice::minikube(&out, &version);
            let combined = out.combined();
            let tail: Vec<&str> = combined.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = tail[tail.len().saturating_sub(8)..].join("\n    ");
            return Err(anyhow!(
                "`minikube start` failed ({}): {}.\nFix: {}\nLast lines from minikube:\n    {tail}",
                advice.reason,
                advice.what,
                advice.fix
            ));
        }
        ctx.set_minikube(active);
        Ok(())
    }

    /// `down --purge` deletes the cluster fatelab started (never one it found running), and the
    /// minikube it downloaded; a plain `down` keeps both.
    async fn undo(&self, ctx: &Ctx, line: &StepLine) -> Result<Outcome> {
        if !ctx.opts.purge {
            return Ok(Outcome::AlreadyDone(
                "the minikube cluster stays (`down --purge` deletes the one fatelab started)"
                    .into(),
            ));
        }
        let started = ctx.record().minikube.filter(|m| m.started_by_fatelab);
        if let Some(m) = &started {
            line.note("minikube delete");
            let out = Minikube::new(m.path.clone(), &(&m.homes).into())
                .delete()
                .await?;
            if !out.success() {
                let advice = super::advice::minikube(&out, &m.version);
                anyhow::bail!(
                    "minikube delete ({}): {}",
                    advice.reason,
                    out.combined().trim()
                );
            }
            ctx.update_record(|r| r.minikube = None)?;
        }
        let _ = std::fs::remove_dir_all(state::bin_dir(&ctx.state_dir));
        Ok(match started {
            Some(_) => Outcome::Done,
            None => Outcome::AlreadyDone("fatelab started no minikube cluster here".into()),
        })
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let pins = &ctx.spec.release.recommended;
        let mk = catalog_version(ctx);
        let k8s =
            compat::choose_kubernetes(ctx.spec.release, &mk, ctx.opts.kubernetes_version.as_ref());
        let mut actions = vec![
            format!(
                "use minikube from PATH; if it is missing, download minikube v{mk} from {} into {} (after a confirmation), checked against the .sha256 minikube publishes beside it",
                download_url(&ctx.urls.github, &mk, arch().unwrap_or("amd64")),
                state::bin_dir(&ctx.state_dir).display()
            ),
            "ask `minikube status -o json` first: a cluster that already runs is not started again".into(),
            format!(
                "run `minikube start {}` (flags chosen by the minikube version; v1.7.x takes --vm-driver=none)",
                start_args(&mk, &k8s).join(" ")
            ),
            "one MINIKUBE_HOME and KUBECONFIG for every call (under sudo: the invoking user's), so status and delete see the same cluster".into(),
            "note: a modern `minikube start` rewrites /etc/docker/daemon.json and restarts Docker; fatelab asks before the first start".into(),
        ];
        if let Some(t) = &ctx.spec.release.tutorial {
            actions.push(format!(
                "the tutorial pinned minikube {} with Kubernetes {}; fatelab recommends {} with {}",
                t.minikube, t.kubernetes, pins.minikube, pins.kubernetes
            ));
        }
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_the_minikube_version() {
        let v = |s: &str| crate::model::catalog::version::parse(s).unwrap();
        assert_eq!(
            start_args(&v("v1.7.3"), &v("v1.17.3")),
            [
                "--vm-driver=none",
                "--container-runtime=docker",
                "--kubernetes-version=v1.17.3"
            ]
        );
        assert_eq!(
            start_args(&v("v1.22.0"), &v("v1.21.2")),
            [
                "--driver=none",
                "--container-runtime=docker",
                "--kubernetes-version=v1.21.2"
            ]
        );
    }
}
