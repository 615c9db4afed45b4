//! The state dir: where fatelab keeps what outlives one run — the record of what it made (for
//! `status`, `down` and re-runs), downloads, generated credentials.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::host::invoker::Invoker;
use crate::model::record::LabRecord;

const RECORD_FILE: &str = "lab.json";

/// `$XDG_STATE_HOME/fatelab`, else `~/.local/state/fatelab` (the XDG default), else `./.fatelab`.
/// Under sudo it is the invoking user's `~/.local/state/fatelab` (root's environment, and so its
/// XDG_STATE_HOME, says nothing about that user's).
pub fn default_dir() -> PathBuf {
    xdg_dir("XDG_STATE_HOME", ".local/state").unwrap_or_else(|| PathBuf::from(".fatelab"))
}

/// `$XDG_CACHE_HOME/fatelab`, else `~/.cache/fatelab` (under sudo, the invoking user's), else
/// the state dir's `cache`: what any lab may reuse, kept by `down` unless `--purge`.
pub fn default_cache_dir() -> PathBuf {
    xdg_dir("XDG_CACHE_HOME", ".cache").unwrap_or_else(|| default_dir().join("cache"))
}

/// fatelab's dir under the XDG variable `var` (an absolute path, and not root's under sudo),
/// else under `home_default` in the invoking user's home.
fn xdg_dir(var: &str, home_default: &str) -> Option<PathBuf> {
    let who = Invoker::current();
    let xdg = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    if let Some(xdg) = xdg.filter(|_| !who.under_sudo()) {
        return Some(xdg.join("fatelab"));
    }
    who.home.map(|home| home.join(home_default).join("fatelab"))
}

/// Downloads of one release live apart from another's, so switching releases never mixes files.
pub fn cache_dir(state_dir: &Path, release: &str) -> PathBuf {
    state_dir.join("cache").join(release)
}

pub fn bin_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("bin")
}

/// The lab on record in `state_dir`, if there is one.
pub fn load(state_dir: &Path) -> Result<Option<LabRecord>> {
    let path = state_dir.join(RECORD_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => LabRecord::from_json(&bytes, &path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the record (whole, by rename, so a crash leaves the old one or the new one).
pub fn save(state_dir: &Path, record: &LabRecord) -> Result<()> {
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("creating the state dir {}", state_dir.display()))?;
    let path = state_dir.join(RECORD_FILE);
    let tmp = state_dir.join(format!("{RECORD_FILE}.tmp"));
    std::fs::write(&tmp, record.to_json()?)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    let who = Invoker::current();
    who.hand_over(state_dir);
    who.hand_over(&path);
    Ok(())
}

pub fn remove(state_dir: &Path) -> Result<()> {
    match std::fs::remove_file(state_dir.join(RECORD_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_saved_and_read_back_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_none());
        let mut r = LabRecord::new();
        r.release = "v1.6.0".into();
        r.parties = vec![9999, 10000];
        save(dir.path(), &r).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(r));
        remove(dir.path()).unwrap();
        assert!(load(dir.path()).unwrap().is_none());
    }
}
