//! The KubeFATE service's credentials: generated once per host, kept in the state dir (0600),
//! and reused on every later `up`. Reuse matters: the release keeps mariadb's data on a hostPath
//! that outlives the lab, and mariadb only takes a password when it first creates its database.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::model::credentials::Credentials;
use crate::secret::Secret;

const FILE: &str = "credentials.json";

#[derive(Serialize, Deserialize)]
struct Stored {
    kubefate_username: String,
    kubefate_password: Secret,
    mariadb_username: String,
    mariadb_password: Secret,
}

/// 128 random bits as 32 hex digits.
pub fn random_secret() -> Result<Secret> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("the system's random source failed: {e}"))?;
    Ok(Secret::new(hex::encode(bytes)))
}

/// A secret kept in its own file: read when there, else generated once and written 0600.
pub fn kept_secret(path: &Path) -> Result<Secret> {
    if let Ok(s) = std::fs::read_to_string(path) {
        return Ok(Secret::new(s.trim()));
    }
    let secret = random_secret()?;
    write_new_private(path, secret.expose().as_bytes())?;
    Ok(secret)
}

/// Where the credentials are kept.
pub fn path(state_dir: &Path) -> std::path::PathBuf {
    state_dir.join(FILE)
}

/// The lab's credentials as kept; an error when there are none (only `up` makes them).
pub fn load(state_dir: &Path) -> Result<Credentials> {
    let path = path(state_dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "the KubeFATE service's credentials are not in {} (the file is gone); `fatelab up` makes new ones",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let s: Stored = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is damaged; remove it, and `fatelab up` makes new credentials",
            path.display()
        )
    })?;
    Ok(Credentials {
        kubefate_username: s.kubefate_username,
        kubefate_password: s.kubefate_password,
        mariadb_username: s.mariadb_username,
        mariadb_password: s.mariadb_password,
    })
}

/// The lab's credentials, generated and kept (0600) when there are none yet.
pub fn load_or_create(state_dir: &Path) -> Result<Credentials> {
    let path = path(state_dir);
    if path.exists() {
        return load(state_dir);
    }
    let stored = Stored {
        kubefate_username: "admin".into(),
        kubefate_password: random_secret()?,
        mariadb_username: "kubefate".into(),
        mariadb_password: random_secret()?,
    };
    write_new_private(&path, &serde_json::to_vec_pretty(&stored)?)?;
    // Under sudo they are the invoking user's, still 0600: their later runs reuse them.
    crate::host::invoker::Invoker::current().hand_over(&path);
    load_or_create(state_dir)
}

/// Creates `path` (and its dir) readable by its owner only; an error if it exists already.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        assert_eq!(a.kubefate_username, "admin");
        assert_eq!(a.kubefate_password.expose().len(), 32);
        assert_ne!(a.kubefate_password, a.mariadb_password);
        assert_ne!(a.kubefate_password.expose(), "admin");
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let b = load_or_create(dir.path()).unwrap();
        assert_eq!(a.kubefate_password, b.kubefate_password);
    }

    #[test]
    fn loading_never_makes_them() {
        let dir = tempfile::tempdir().unwrap();
        let err = format!("{:#}", load(dir.path()).unwrap_err());
        assert!(err.contains("`fatelab up` makes new ones"), "{err}");
        assert!(!path(dir.path()).exists());
        std::fs::write(path(dir.path()), "not json").unwrap();
        assert!(
            load_or_create(dir.path()).is_err(),
            "a damaged file is not replaced"
        );
        assert_eq!(std::fs::read(path(dir.path())).unwrap(), b"not json");
    }
}
