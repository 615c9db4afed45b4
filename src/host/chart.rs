//! A Helm chart the user has (`up --chart DIR|TGZ`): which chart it is, and a directory packaged
//! the way `helm package` lays it out (every file under `<name>/`), so KubeFATE can take it.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// What a chart's `Chart.yaml` says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartId {
    pub name: String,
    pub version: String,
}

impl std::fmt::Display for ChartId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.name, self.version)
    }
}

#[derive(serde::Deserialize)]
struct ChartYaml {
    name: String,
    version: String,
}

fn parse_chart_yaml(text: &str, from: &str) -> Result<ChartId> {
    let c: ChartYaml =
        serde_saphyr::from_str(text).with_context(|| format!("{from}: not a Chart.yaml"))?;
    Ok(ChartId {
        name: c.name,
        version: c.version,
    })
}

/// The chart in a `.tgz`: its top-level `*/Chart.yaml`, and whether it has the
/// `values-template.yaml` KubeFATE renders cluster.yaml through.
pub fn read_tgz(path: &Path) -> Result<ChartId> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let (mut id, mut template) = (None, false);
    for entry in archive
        .entries()
        .with_context(|| format!("{} is not a .tgz", path.display()))?
    {
        let mut entry = entry.with_context(|| format!("{} is damaged", path.display()))?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let parts: Vec<&str> = name.trim_start_matches("./").split('/').collect();
        match parts.as_slice() {
            [_, "Chart.yaml"] => {
                let mut text = String::new();
                entry.read_to_string(&mut text)?;
                id = Some(parse_chart_yaml(
                    &text,
                    &format!("{}:{name}", path.display()),
                )?);
            }
            [_, "values-template.yaml"] => template = true,
            _ => {}
        }
    }
    let Some(id) = id else {
        bail!(
            "{} holds no <chart>/Chart.yaml: it is not a packaged Helm chart",
            path.display()
        );
    };
    if !template {
        bail!(
            "{} has no values-template.yaml: KubeFATE renders cluster.yaml through it, so it takes only its own charts",
            path.display()
        );
    }
    Ok(id)
}

/// The chart in a directory (its `Chart.yaml` at the top).
pub fn read_dir(dir: &Path) -> Result<ChartId> {
    let file = dir.join("Chart.yaml");
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "{} has no Chart.yaml: it is not a Helm chart directory",
            dir.display()
        )
    })?;
    if !dir.join("values-template.yaml").is_file() {
        bail!(
            "{} has no values-template.yaml: KubeFATE renders cluster.yaml through it, so it takes only its own charts",
            dir.display()
        );
    }
    parse_chart_yaml(&text, &file.display().to_string())
}

/// Packages a chart directory into `out` as `helm package` would: every file under `<name>/`,
/// without version-control directories. Entries are sorted and their times fixed, so the same
/// directory always gives the same bytes (and the same digest in the plan).
pub fn package_dir(dir: &Path, id: &ChartId, out: &Path) -> Result<()> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let partial = out.with_extension("tgz.partial");
    let writer = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let gz = flate2::write::GzEncoder::new(writer, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for rel in &files {
        let bytes = std::fs::read(dir.join(rel))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        let name = Path::new(&id.name).join(rel);
        tar.append_data(&mut header, &name, bytes.as_slice())
            .with_context(|| format!("packaging {}", rel.display()))?;
    }
    tar.into_inner()?.finish()?;
    std::fs::rename(&partial, out).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if matches!(name.to_str(), Some(".git" | ".svn" | ".hg")) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file() {
            out.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}

/// The chart a release needs, from what the user gave: a `.tgz` as it is, a directory packaged
/// into `packaged`. Either must be the release's chart (name and version), else nothing is used.
pub fn from_user(given: &Path, wanted: &ChartId, packaged: &Path) -> Result<PathBuf> {
    let (id, path) = if given.is_dir() {
        let id = read_dir(given)?;
        (id, None)
    } else if given.is_file() {
        (read_tgz(given)?, Some(given.to_path_buf()))
    } else {
        bail!("--chart {}: no such file or directory", given.display());
    };
    if &id != wanted {
        bail!(
            "--chart {} is chart {id}, but this release installs chart {wanted}",
            given.display()
        );
    }
    match path {
        Some(p) => Ok(p),
        None => {
            package_dir(given, &id, packaged)?;
            Ok(packaged.to_path_buf())
        }
    }
}

/// The chart with fatelab's edits applied: every file kept as it was (order, mode, time) but the
/// edited ones. An edit that does not match exactly once is an error naming it, so a chart that
/// is not the release's is never uploaded half-edited.
pub fn apply_edits(tgz: &[u8], edits: &[crate::model::catalog::ChartEdit]) -> Result<Vec<u8>> {
    if edits.is_empty() {
        return Ok(tgz.to_vec());
    }
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    let mut out = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut matched = vec![0usize; edits.len()];
    for entry in archive.entries().context("the chart is not a .tgz")? {
        let mut entry = entry.context("the chart is damaged")?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let inner = path
            .trim_start_matches("./")
            .split_once('/')
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_default();
        let mut header = entry.header().clone();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        for (i, edit) in edits.iter().enumerate().filter(|(_, e)| e.file == inner) {
            let text = String::from_utf8(bytes).with_context(|| format!("{path} is not text"))?;
            matched[i] = text.matches(edit.find.as_str()).count();
            bytes = text
                .replacen(edit.find.as_str(), &edit.replace, 1)
                .into_bytes();
        }
        header.set_size(bytes.len() as u64);
        header.set_cksum();
        out.append_data(&mut header, &path, bytes.as_slice())?;
    }
    for (edit, n) in edits.iter().zip(&matched) {
        if *n != 1 {
            bail!(
                "fatelab's edit of the chart's {} ({}) expects `{}` once and found it {n} times: \
                 this is not the release's chart",
                edit.file,
                edit.why,
                edit.find.trim_end()
            );
        }
    }
    Ok(out.into_inner()?.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart_dir(root: &Path, version: &str) -> PathBuf {
        let dir = root.join("FATE");
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            format!("apiVersion: v1\nname: fate\nversion: {version}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("values-template.yaml"),
            "partyId: {{ .partyId }}\n",
        )
        .unwrap();
        std::fs::write(dir.join("templates/osx.yaml"), "kind: Deployment\n").unwrap();
        std::fs::write(dir.join(".git/HEAD"), "ref\n").unwrap();
        dir
    }

    fn wanted() -> ChartId {
        ChartId {
            name: "fate".into(),
            version: "v2.0.0".into(),
        }
    }

    #[test]
    fn a_directory_is_packaged_under_its_chart_name_and_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = chart_dir(tmp.path(), "v2.0.0");
        let out = tmp.path().join("out/fate-v2.0.0.tgz");
        assert_eq!(from_user(&dir, &wanted(), &out).unwrap(), out);
        assert_eq!(read_tgz(&out).unwrap(), wanted());
        let mut names: Vec<String> = tar::Archive::new(flate2::read::GzDecoder::new(
            std::fs::File::open(&out).unwrap(),
        ))
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "fate/Chart.yaml",
                "fate/templates/osx.yaml",
                "fate/values-template.yaml"
            ]
        );
        let first = std::fs::read(&out).unwrap();
        from_user(&dir, &wanted(), &out).unwrap();
        assert_eq!(
            std::fs::read(&out).unwrap(),
            first,
            "packaging is repeatable"
        );
        // A packaged chart given as a file is used as it is.
        assert_eq!(
            from_user(&out, &wanted(), &tmp.path().join("x.tgz")).unwrap(),
            out
        );
    }

    #[test]
    fn the_catalogs_edits_apply_once_and_keep_every_other_file() {
        let edits = &crate::model::catalog::find("v2.0.0").unwrap().chart.edits;
        assert!(!edits.is_empty());
        let tmp = tempfile::tempdir().unwrap();
        let dir = chart_dir(tmp.path(), "v2.0.0");
        std::fs::create_dir_all(dir.join("templates/core/osx")).unwrap();
        std::fs::write(
            dir.join("templates/core/osx/deployment.yaml"),
            "command: java -server -Xms4g -Xmx4g -cp lib\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("values-template.yaml"),
            "  osx:\n    enableTLS: {{ .enableTLS | default false}}\n  nodemanager:\n",
        )
        .unwrap();
        let out = tmp.path().join("c.tgz");
        from_user(&dir, &wanted(), &out).unwrap();
        let edited = apply_edits(&std::fs::read(&out).unwrap(), edits).unwrap();
        let mut files = std::collections::BTreeMap::new();
        for e in tar::Archive::new(flate2::read::GzDecoder::new(edited.as_slice()))
            .entries()
            .unwrap()
        {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            files.insert(name, text);
        }
        assert_eq!(files.len(), 4);
        assert_eq!(
            files["fate/templates/core/osx/deployment.yaml"],
            "command: java -server -Xms{{ .Values.modules.osx.heap | default \"4g\" }} -Xmx{{ .Values.modules.osx.heap | default \"4g\" }} -cp lib\n"
        );
        assert!(
            files["fate/values-template.yaml"]
                .contains("\n    heap: {{ .heap | default \"4g\" }}\n  nodemanager:")
        );
        assert_eq!(files["fate/templates/osx.yaml"], "kind: Deployment\n");
        // The same edits again find nothing to edit: refused, naming the edit.
        let err = apply_edits(&edited, edits).unwrap_err();
        assert!(format!("{err:#}").contains("found it 0 times"), "{err:#}");
    }

    #[test]
    fn another_chart_or_version_is_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = chart_dir(tmp.path(), "v1.11.2");
        let err = from_user(&dir, &wanted(), &tmp.path().join("o.tgz")).unwrap_err();
        assert!(
            format!("{err:#}")
                .contains("is chart fate v1.11.2, but this release installs chart fate v2.0.0"),
            "{err:#}"
        );
        std::fs::remove_file(dir.join("values-template.yaml")).unwrap();
        let err = read_dir(&dir).unwrap_err();
        assert!(
            format!("{err:#}").contains("values-template.yaml"),
            "{err:#}"
        );
        let err = from_user(
            &tmp.path().join("none"),
            &wanted(),
            &tmp.path().join("o.tgz"),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("no such file or directory"),
            "{err:#}"
        );
    }
}
