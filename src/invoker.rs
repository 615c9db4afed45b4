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

/// A user's (uid, gid, home) from /etc/passwd.
fn passwd_entry(user: &str) -> Option<(u32, u32, PathBuf)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[0] == user)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?, PathBuf::from(f[5]))))
}

impl Invoker {
    pub fn current() -> Invoker {
        // SAFETY: these only read the process's credentials.
        let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let sudo_user = std::env::var("SUDO_USER")
            .ok()
            .filter(|u| !u.is_empty() && u != "root" && euid == 0);
        if let Some(user) = sudo_user
            && let Some((uid, gid, home)) = passwd_entry(&user)
        {
            // sudo says who called it; /etc/passwd only fills in what it left out.
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
