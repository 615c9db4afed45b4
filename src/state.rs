//! Where fatelab keeps what outlives one run: the lab record, downloads, generated credentials.

use std::path::PathBuf;

/// `$XDG_STATE_HOME/fatelab`, else `~/.local/state/fatelab` (the XDG default), else `./.fatelab`.
pub fn default_dir() -> PathBuf {
    let from_env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(xdg) = from_env("XDG_STATE_HOME").filter(|p| p.is_absolute()) {
        return xdg.join("fatelab");
    }
    match from_env("HOME") {
        Some(home) => home.join(".local/state/fatelab"),
        None => PathBuf::from(".fatelab"),
    }
}

/// Downloads of one release live apart from another's, so switching releases never mixes files.
pub fn cache_dir(state_dir: &std::path::Path, release: &str) -> PathBuf {
    state_dir.join("cache").join(release)
}
