//! Who the lab belongs to. Under `sudo` (euid 0 with `SUDO_USER` set to someone other than
//! root) it is the invoking user's: their home, their state dir, and every file fatelab made
//! there handed to them — so `sudo fatelab up` followed by a plain `fatelab status` finds the
//! same lab, and a later run as that user reuses the same generated credentials.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct Invoker {
    /// The user behind sudo; `None` when fatelab runs as itself.
    pub sudo_user: Option<String>,
    pub uid: u32,
    pub gid: u32,
    pub home: Option<PathBuf>,
}

/// A user's (uid, gid, home), as the system's user database (NSS: files, LDAP, ...) has it.
fn user_entry(user: &str) -> Option<(u32, u32, PathBuf)> {
    let u = nix::unistd::User::from_name(user).ok()??;
    Some((u.uid.as_raw(), u.gid.as_raw(), u.dir))
}

impl Invoker {
    pub fn current() -> Invoker {
        let (euid, egid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let sudo_user = std::env::var("SUDO_USER")
            .ok()
            .filter(|u| !u.is_empty() && u != "root" && euid == 0);
        if let Some(user) = sudo_user
            && let Some((uid, gid, home)) = user_entry(&user)
        {
            // sudo says who called it; the user database only fills in what it left out.
            let env_id = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
            return Invoker {
                sudo_user: Some(user),
                uid: env_id("SUDO_UID").unwrap_or(uid),
                gid: env_id("SUDO_GID").unwrap_or(gid),
                home: Some(home),
            };
        }
        Invoker {
            sudo_user: None,
            uid: euid,
            gid: egid,
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
        }
    }

    pub fn under_sudo(&self) -> bool {
        self.sudo_user.is_some()
    }

    /// Gives `path` to the invoking user when fatelab runs under sudo (modes are kept, so a
    /// secret stays 0600). Errors are only logged: the lab works either way for root.
    pub fn hand_over(&self, path: &Path) {
        if !self.under_sudo() {
            return;
        }
        if let Err(e) = std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid)) {
            tracing::warn!(
                "could not give {} to {:?}: {e}",
                path.display(),
                self.sudo_user
            );
        }
    }

    /// Gives everything root made below `root` (and `root` itself) to the invoking user.
    pub fn hand_over_tree(&self, root: &Path) {
        if !self.under_sudo() {
            return;
        }
        let mut todo = vec![root.to_path_buf()];
        while let Some(p) = todo.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.uid() == 0 {
                self.hand_over(&p);
            }
            if meta.is_dir()
                && let Ok(entries) = std::fs::read_dir(&p)
            {
                todo.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
}

/// The command to run instead, as typed but under sudo (the binary by its full path, since
/// root's PATH may not have it).
pub fn with_sudo() -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "fatelab".into());
    let words: Vec<String> = std::iter::once(exe)
        .chain(std::env::args().skip(1))
        .collect();
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

/// Whether this process may write `path` (or create it in its directory).
pub fn may_write(path: &Path) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let target = if path.exists() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    nix::unistd::access(&target, nix::unistd::AccessFlags::W_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_user_is_found_in_the_user_database() {
        let me = nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .unwrap();
        let (uid, _, home) = user_entry(&me.name).unwrap();
        assert_eq!(uid, nix::unistd::getuid().as_raw());
        assert_eq!(home, me.dir);
        assert!(user_entry("no-such-user-fatelab").is_none());
    }

    #[test]
    fn a_writable_dir_and_a_read_only_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(may_write(&dir.path().join("new-file")));
        if !nix::unistd::geteuid().is_root() {
            assert!(!may_write(Path::new("/etc/hostname-of-nobody")));
        }
    }
}
