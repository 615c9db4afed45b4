//! Step 5: the release package, the KubeFATE service image and the chart, downloaded once (the
//! cache goes with `down --purge`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::{Ctx, Diff, Outcome, Step, StepPlan};
use crate::clients::download;
use crate::model::catalog::Artifact;
use crate::model::step::StepName;
use crate::ui::StepLine;

pub struct ReleaseFiles;

/// Downloads an artifact from the first of its places that has it; says where when it was not
/// the first, and records it in the cache's `SOURCES`. When none has it, the error names every
/// place tried and the flag that moves each.
async fn fetch_any(ctx: &Ctx, line: &StepLine, a: &Artifact) -> Result<download::Downloaded> {
    let path = ctx.artifact_path(a);
    let mut tried = Vec::new();
    let candidates = a.candidates(&ctx.urls);
    for (i, c) in candidates.iter().enumerate() {
        let bar = ctx.ui.download(&a.file);
        match download::fetch(Some(&bar), &c.url, &path, a.sha256.as_deref()).await {
            Ok(got) => {
                if c.name != a.file {
                    line.say(format!("{} is published as {} here", a.file, c.name));
                } else if i > 0 {
                    line.say(format!(
                        "{} found at {}",
                        a.file,
                        crate::secret::redact_url(&c.url)
                    ));
                }
                record_source(ctx, &a.file, &c.url)?;
                return Ok(got);
            }
            Err(e) => tried.push(format!("  {} ({e:#}; moved by {})", c.name, c.flag)),
        }
    }
    let mut advice = String::from(
        "point the flag at a mirror that has it, or, offline, put the file in a directory and pass --artifacts-dir DIR",
    );
    if a.name == "chart" {
        advice.push_str("; or give the chart you have with --chart DIR|TGZ");
    }
    bail!(
        "no source has {}; tried, in order:\n{}\n{advice}",
        a.file,
        tried.join("\n")
    )
}

fn record_source(ctx: &Ctx, file: &str, url: &str) -> Result<()> {
    let path = ctx.cache_dir().join("SOURCES");
    let mut all: BTreeMap<String, String> = std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            l.split_once("  ")
                .map(|(f, u)| (f.to_string(), u.to_string()))
        })
        .collect();
    all.insert(file.to_string(), crate::secret::redact_url(url));
    let text: String = all.iter().map(|(f, u)| format!("{f}  {u}\n")).collect();
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// Digests of downloaded files the catalog has none for, in `sha256sum` format beside them:
/// the first download is trusted and recorded, every later run checks the file against it.
const MANIFEST: &str = "SHA256SUMS";

fn manifest_path(ctx: &Ctx) -> PathBuf {
    ctx.cache_dir().join(MANIFEST)
}

fn read_manifest(ctx: &Ctx) -> BTreeMap<String, String> {
    std::fs::read_to_string(manifest_path(ctx))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (sum, file) = l.split_once("  ")?;
            Some((file.trim().to_string(), sum.trim().to_ascii_lowercase()))
        })
        .collect()
}

fn record_digest(ctx: &Ctx, file: &str, sum: &str) -> Result<()> {
    let mut all = read_manifest(ctx);
    all.insert(file.to_string(), sum.to_ascii_lowercase());
    let text: String = all.iter().map(|(f, s)| format!("{s}  {f}\n")).collect();
    let path = manifest_path(ctx);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// The digest a file must have: the catalog's, else the one recorded when it was downloaded.
fn expected(a: &Artifact, manifest: &BTreeMap<String, String>) -> Option<String> {
    a.sha256.clone().or_else(|| manifest.get(&a.file).cloned())
}

/// A chart in KubeFATE's own index is only a fallback for a service that cannot reach it; one
/// that is not there (fate v2.x) is uploaded before the installs, so it must be here.
fn required(ctx: &Ctx, a: &Artifact) -> bool {
    a.name != "chart" || !ctx.spec.release.chart.in_kubefate_index
}

/// `down --purge` removes the download cache (of every release); a plain `down` keeps it.
async fn undo(ctx: &Ctx) -> Result<Outcome> {
    let cache = ctx.state_dir.join("cache");
    if !ctx.opts.purge {
        return Ok(Outcome::AlreadyDone(
            "the download cache stays (`down --purge` removes it)".into(),
        ));
    }
    if !cache.exists() {
        return Ok(Outcome::AlreadyDone("there is no download cache".into()));
    }
    std::fs::remove_dir_all(&cache).with_context(|| format!("removing {}", cache.display()))?;
    Ok(Outcome::Done)
}

impl Step for ReleaseFiles {
    type Observed = Vec<Artifact>;

    fn name(&self) -> StepName {
        StepName::Artifacts
    }

    fn title(&self) -> &'static str {
        "Download the KubeFATE release files"
    }

    /// The artifacts that are missing, or whose cached copy does not match the catalog's digest.
    async fn observe(&self, ctx: &Ctx) -> Result<Diff<Vec<Artifact>>> {
        let mut missing: Vec<Artifact> = Vec::new();
        let manifest = read_manifest(ctx);
        for a in &ctx.spec.release.artifacts {
            let path = ctx.artifact_path(a);
            // The user's own chart is theirs: checked for being the release's chart when given, not
            // against a digest of the published one.
            if ctx.opts.chart.as_ref() == Some(&path) {
                continue;
            }
            let user_copy = ctx
                .opts
                .artifacts_dir
                .as_ref()
                .is_some_and(|d| path.starts_with(d));
            if !path.is_file() {
                missing.push(a.clone());
                continue;
            }
            let want = if user_copy {
                a.sha256.clone()
            } else {
                expected(a, &manifest)
            };
            let Some(want) = want else {
                continue;
            };
            let got = download::sha256_of(&path).await?;
            if got.eq_ignore_ascii_case(&want) {
                continue;
            }
            match (user_copy, a.sha256.is_some()) {
                (true, _) => bail!(
                    "{} does not match the catalog's sha256 {want} (it has {got})",
                    path.display()
                ),
                // A cached file that changed since fatelab downloaded it is reported, not used.
                (false, false) => bail!(
                    "{} changed since fatelab downloaded it: sha256 was {want}, is {got}. It is not used; \
                     remove it (and its line in {}) to download it again",
                    path.display(),
                    manifest_path(ctx).display()
                ),
                (false, true) => missing.push(a.clone()),
            }
        }
        // An optional file that could not be had is tried again, but is no change to the lab.
        let changes = missing
            .iter()
            .filter(|a| required(ctx, a))
            .map(|a| format!("download {}", a.file))
            .collect();
        Ok(Diff::new(
            changes,
            "every release file is already here",
            missing,
        ))
    }

    async fn converge(&self, ctx: &Ctx, line: &StepLine, diff: Diff<Vec<Artifact>>) -> Result<()> {
        for a in &diff.observed {
            line.note(format!("downloading {}", a.file));
            match fetch_any(ctx, line, a).await {
                Ok(got) => {
                    if a.sha256.is_none() {
                        record_digest(ctx, &a.file, &got.sha256)?;
                        line.say(format!(
                            "{}: sha256 {} (the catalog has none: recorded in {MANIFEST}, checked on every later run)",
                            a.file, got.sha256
                        ));
                    }
                }
                Err(e) if !required(ctx, a) => line.say(format!(
                    "could not download {}; it is only needed if the KubeFATE service cannot reach its \
                     chart repository: {e:#}",
                    a.file,
                )),
                Err(e) => return Err(e),
            }
        }
        // fatelab's edits of the chart must apply before anything is installed from it.
        if let Some(a) = ctx.spec.release.artifact("chart") {
            let path = ctx.artifact_path(a);
            if !ctx.spec.release.chart.edits.is_empty() && path.is_file() {
                crate::host::chart::apply_edits(
                    &std::fs::read(&path)?,
                    &ctx.spec.release.chart.edits,
                )
                .with_context(|| format!("{}", path.display()))?;
            }
        }
        // Files cached before their digest was recorded get it now.
        let manifest = read_manifest(ctx);
        for a in ctx
            .spec
            .release
            .artifacts
            .iter()
            .filter(|a| a.sha256.is_none())
        {
            let path = ctx.cache_dir().join(&a.file);
            if path.is_file() && !manifest.contains_key(&a.file) {
                record_digest(ctx, &a.file, &download::sha256_of(&path).await?)?;
            }
        }
        Ok(())
    }

    async fn undo(&self, ctx: &Ctx, _line: &StepLine) -> Result<Outcome> {
        undo(ctx).await
    }

    fn plan(&self, ctx: &Ctx) -> Result<StepPlan> {
        let cache = ctx.cache_dir();
        let mut actions: Vec<String> = ctx
            .spec
            .release
            .artifacts
            .iter()
            .map(|a| {
                if let Some(chart) = ctx.opts.chart.as_ref().filter(|_| a.name == "chart") {
                    return format!("chart: {} (from --chart)", chart.display());
                }
                let check = match &a.sha256 {
                    Some(sum) => format!("verify sha256 {sum}"),
                    None => "record its sha256 (the catalog has none yet)".to_string(),
                };
                let places: Vec<String> = a
                    .candidates(&ctx.urls)
                    .iter()
                    .map(|c| format!("{} ({})", c.url, c.flag))
                    .collect();
                let why = match (a.name == "chart", ctx.spec.release.chart.in_kubefate_index) {
                    (false, _) => "",
                    (true, true) => {
                        " — KubeFATE's own chart repository comes first (the service fetches it); \
                         this copy is only uploaded if the service cannot"
                    }
                    (true, false) => " — required: KubeFATE's chart repository has no such chart",
                };
                format!(
                    "download {} from the first of: {} → {} (resumed if partial, skipped if present); {check}{why}",
                    a.file,
                    places.join(", "),
                    cache.join(&a.file).display()
                )
            })
            .collect();
        if let Some(dir) = &ctx.opts.artifacts_dir {
            actions.push(format!(
                "files already in {} are used instead of downloading",
                dir.display()
            ));
        }
        Ok(StepPlan {
            actions,
            files: vec![],
        })
    }
}
