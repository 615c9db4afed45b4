//! The KubeFATE k8s release package (`kubefate-k8s-<release>.tar.gz`): its files sit at the top
//! level up to v1.7 and under `kubefate/` from v1.8 on (shared/reference/kubefate.md §1.1, §1.6).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};

/// The named files of the package (by base name, either layout), read in one pass.
pub fn files(path: &Path, wanted: &[&str]) -> Result<BTreeMap<String, Vec<u8>>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut found = BTreeMap::new();
    for entry in archive
        .entries()
        .with_context(|| format!("{} is not a tar.gz", path.display()))?
    {
        let mut entry = entry.with_context(|| format!("{} is damaged", path.display()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path()?.to_string_lossy().into_owned();
        let name = name.trim_start_matches("./");
        let base = name.strip_prefix("kubefate/").unwrap_or(name);
        if wanted.contains(&base) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            found.insert(base.to_string(), bytes);
        }
    }
    Ok(found)
}

/// The files fatelab takes from the downloaded release package, read in one pass.
pub struct Package {
    path: std::path::PathBuf,
    files: BTreeMap<String, Vec<u8>>,
}

impl Package {
    /// The manifests and the `kubefate` CLI of the package at `path`.
    pub fn read(path: &Path) -> Result<Package> {
        let files = files(path, &["rbac-config.yaml", "kubefate.yaml", "kubefate"])?;
        Ok(Package {
            path: path.to_path_buf(),
            files,
        })
    }

    pub fn file(&self, name: &str) -> Result<&[u8]> {
        self.files
            .get(name)
            .map(Vec::as_slice)
            .with_context(|| format!("{} has no {name}", self.path.display()))
    }

    pub fn text(&self, name: &str) -> Result<String> {
        String::from_utf8(self.file(name)?.to_vec())
            .with_context(|| format!("{name} in {} is not text", self.path.display()))
    }
}
