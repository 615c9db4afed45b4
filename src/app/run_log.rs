//! A log of every `up`, `down` and `test` run: what the user was shown, line by line, and
//! fatelab's own log at `-vv`'s level, whatever the terminal showed:
//! kept in memory while the run goes on and written to `<state>/runs/` when it ends — only
//! where the state dir exists, so a run that was refused before it changed anything leaves
//! nothing behind. The newest [`KEEP`] are kept.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::filter::{LevelFilter, Targets};

use crate::cli::{Cli, Command};

/// How many run logs the state dir keeps.
pub const KEEP: usize = 10;
/// A run that logs more than this keeps its first part (and says so).
const MOST: usize = 32 << 20;

#[derive(Clone)]
pub struct RunLog {
    command: &'static str,
    buf: Arc<Mutex<Vec<u8>>>,
}

/// The sink the run's log layer writes into.
pub struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut b = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() < MOST {
            b.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl RunLog {
    /// The commands that change or judge a lab; `up --dry-run` changes nothing and is not one.
    pub fn for_command(cli: &Cli) -> Option<RunLog> {
        let command = match &cli.command {
            Command::Up(a) if !a.dry_run => "up",
            Command::Down(_) => "down",
            Command::Test(_) => "test",
            _ => return None,
        };
        let log = RunLog {
            command,
            buf: Arc::default(),
        };
        let args: Vec<String> = std::env::args().collect();
        let head = format!(
            "fatelab {} · {} · {}\n",
            env!("CARGO_PKG_VERSION"),
            k8s_openapi::jiff::Timestamp::now(),
            args.join(" ")
        );
        Sink(log.buf.clone()).write_all(head.as_bytes()).ok()?;
        Some(log)
    }

    pub fn sink(&self) -> Sink {
        Sink(self.buf.clone())
    }

    /// fatelab's own debug lines and the libraries' warnings, as `-vv` shows them.
    pub fn filter() -> Targets {
        Targets::new()
            .with_target("fatelab", LevelFilter::DEBUG)
            .with_target(crate::ui::KEPT, LevelFilter::INFO)
            .with_default(LevelFilter::WARN)
    }

    /// Writes the log as `<state>/runs/<time>-<command>.log` with the run's exit code, and
    /// removes all but the newest [`KEEP`]. `None` when there is no state dir to write to.
    pub fn save(&self, state_dir: &Path, code: i32) -> Option<PathBuf> {
        if !state_dir.is_dir() {
            return None;
        }
        let dir = state_dir.join("runs");
        std::fs::create_dir_all(&dir).ok()?;
        let now = k8s_openapi::jiff::Timestamp::now();
        let name = format!(
            "{}-{}-{}.log",
            now.strftime("%Y%m%dT%H%M%S%.3fZ"),
            self.command,
            std::process::id()
        );
        let path = dir.join(name);
        let mut text = self.buf.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if text.len() >= MOST {
            text.extend_from_slice(b"(the log was cut here: it grew past 32 MiB)\n");
        }
        text.extend_from_slice(format!("exit code {code}\n").as_bytes());
        std::fs::write(&path, text).ok()?;
        prune(&dir);
        Some(path)
    }
}

/// Keeps the newest [`KEEP`] logs (their names begin with the time, so names sort by age).
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut logs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    let extra = logs.len().saturating_sub(KEEP);
    for old in &logs[..extra] {
        let _ = std::fs::remove_file(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_logs_are_kept() {
        let tmp = tempfile_dir();
        for i in 0..13 {
            std::fs::write(tmp.join(format!("2026010{i:02}-up-1.log")), "x").unwrap();
        }
        std::fs::write(tmp.join("notes.txt"), "mine").unwrap();
        prune(&tmp);
        let mut left: Vec<String> = std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left.len(), KEEP + 1);
        assert_eq!(left[0], "202601003-up-1.log");
        assert!(left.contains(&"notes.txt".to_string()));
        let _ = std::fs::remove_dir_all(&tmp);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("fatelab-runlog-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
