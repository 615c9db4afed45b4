//! One fatelab command at a time per lab: an exclusive lock on a file in the state dir, released
//! when the process ends however it ends. The file names the holder for the next one.

use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{Context, Result};

pub struct StateLock {
    _file: std::fs::File,
}

impl StateLock {
    pub fn acquire(state_dir: &Path, command: &str) -> Result<StateLock> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating the state dir {}", state_dir.display()))?;
        let path = state_dir.join("lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        if file.try_lock().is_err() {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            anyhow::bail!(
                "another fatelab is working on this lab ({}); wait for it to finish, or stop it, then run this again",
                if holder.is_empty() {
                    "holder unknown".to_string()
                } else {
                    holder.to_string()
                }
            );
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "`fatelab {command}`, pid {}", std::process::id())?;
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_command_on_the_same_lab_is_refused_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let held = StateLock::acquire(dir.path(), "up").unwrap();
        let err = format!(
            "{:#}",
            StateLock::acquire(dir.path(), "down").err().unwrap()
        );
        assert!(
            err.contains("another fatelab is working on this lab (`fatelab up`, pid"),
            "{err}"
        );
        drop(held);
        assert!(StateLock::acquire(dir.path(), "down").is_ok());
    }
}
