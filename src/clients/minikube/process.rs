//! Running external programs: captured, or streamed line by line while they run.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[derive(Debug, Clone)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Both streams, for matching messages a program may print on either.
    pub fn combined(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

fn command(program: &Path, args: &[OsString], env: &[(String, OsString)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A captured command (a status, a version, a delete) that has not ended by then is killed:
/// such commands answer in seconds, and one that hangs would hold up everything after it.
/// Streamed commands (a start) run as long as their caller's budget allows.
pub const RUN_WITHIN: std::time::Duration = std::time::Duration::from_secs(180);

pub async fn run(program: &Path, args: &[OsString], env: &[(String, OsString)]) -> Result<Output> {
    let shown = || {
        let words: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        format!("{} {}", program.display(), words.join(" "))
    };
    let out = tokio::time::timeout(RUN_WITHIN, command(program, args, env).output())
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "`{}` had not ended after {}s and was stopped",
                shown(),
                RUN_WITHIN.as_secs()
            )
        })?
        .with_context(|| format!("running {}", program.display()))?;
    Ok(Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs a program and hands every output line (stdout and stderr alike) to `on_line` as it comes.
pub async fn run_streaming(
    program: &Path,
    args: &[OsString],
    env: &[(String, OsString)],
    mut on_line: impl FnMut(&str),
) -> Result<Output> {
    let mut child = command(program, args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", program.display()))?;
    let mut out = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut err = BufReader::new(child.stderr.take().expect("piped")).lines();
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            line = out.next_line(), if out_open => match line? {
                Some(l) => { on_line(&l); stdout.push_str(&l); stdout.push('\n'); }
                None => out_open = false,
            },
            line = err.next_line(), if err_open => match line? {
                Some(l) => { on_line(&l); stderr.push_str(&l); stderr.push('\n'); }
                None => err_open = false,
            },
        }
    }
    let status = child.wait().await?;
    Ok(Output {
        code: status.code(),
        stdout,
        stderr,
    })
}
