//! FATE's Python side for a local lab: the interpreter, one shared environment in the cache with
//! the pinned packages (installed once, with progress), a pristine copy of FATE Flow beside it,
//! and each party's small environment on top.
//!
//! Why per-party environments: `fate_flow init --home H` rewrites files inside the installed
//! package (`settings.py`, `commands/service.sh`), so two servers cannot share one copy of
//! `fate_flow`. Each party's environment holds its own copy (from the pristine one, never from a
//! copy that may have been initialised) and a `.pth` line naming the shared site-packages, which
//! it only reads. FATE Flow starts its tasks with `sys.executable`, so they get it too.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt;

use crate::model::local::{FATE_VERSION, PACKAGES};

/// python3 and what it can do.
#[derive(Debug, Clone)]
pub struct Python {
    pub path: PathBuf,
    pub version: (u32, u32, u32),
    /// It has the `venv` and `ensurepip` modules (Debian splits them into python3-venv).
    pub venv: bool,
}

/// The python3 on PATH, or why there is none.
pub async fn find_python() -> std::result::Result<Python, String> {
    let path = which::which("python3").map_err(|_| "python3 is not on PATH".to_string())?;
    let out = tokio::process::Command::new(&path)
        .args([
            "-c",
            "import sys\ntry:\n import venv, ensurepip\n v=1\nexcept ImportError:\n v=0\n\
             print(sys.version_info[0], sys.version_info[1], sys.version_info[2], v)",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("running {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let n: Vec<u32> = text
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    match n[..] {
        [a, b, c, v] => Ok(Python {
            path,
            version: (a, b, c),
            venv: v == 1,
        }),
        _ => Err(format!(
            "{} did not say its version: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The shared environment of one FATE release in the cache.
#[derive(Debug, Clone)]
pub struct SharedEnv {
    pub dir: PathBuf,
}

/// What a complete shared environment says of itself (written last, so a half install is none).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Marker {
    packages: Vec<String>,
    site_packages: PathBuf,
}

fn pins() -> Vec<String> {
    PACKAGES.iter().map(|(n, v)| format!("{n}=={v}")).collect()
}

impl SharedEnv {
    pub fn in_cache(cache_dir: &Path) -> SharedEnv {
        SharedEnv {
            dir: cache_dir.join(format!("fate-{FATE_VERSION}")),
        }
    }

    pub fn python(&self) -> PathBuf {
        self.dir.join("env/bin/python")
    }

    /// The pristine FATE Flow every party copies (installed apart, never initialised).
    fn pristine(&self) -> PathBuf {
        self.dir.join("fate-flow")
    }

    fn marker(&self) -> PathBuf {
        self.dir.join("fatelab-env.json")
    }

    /// The shared site-packages, when the environment is complete with today's pins.
    pub fn site_packages(&self) -> Option<PathBuf> {
        let m: Marker = serde_json::from_slice(&std::fs::read(self.marker()).ok()?).ok()?;
        (m.packages == pins() && self.python().exists() && self.pristine().is_dir())
            .then_some(m.site_packages)
    }

    pub fn complete(&self) -> bool {
        self.site_packages().is_some()
    }

    /// Installs the pinned packages (a no-op for pip when they are there), then FATE Flow's
    /// pristine copy, then the marker. `progress` hears what pip fetches.
    pub async fn install(
        &self,
        python: &Path,
        index: Option<&str>,
        progress: impl Fn(&PipProgress),
    ) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let _ = std::fs::remove_file(self.marker());
        if !self.python().exists() {
            run(
                tokio::process::Command::new(python)
                    .args(["-m", "venv"])
                    .arg(self.dir.join("env")),
                "making the shared Python environment",
            )
            .await?;
        }
        let mut state = PipProgress::new(&match index {
            Some(i) => format!("FATE's packages from {i}"),
            None => "FATE's packages".to_string(),
        });
        let mut args: Vec<String> = vec!["-m".into(), "pip".into(), "install".into()];
        args.extend(["--progress-bar".into(), "off".into()]);
        args.extend(["--disable-pip-version-check".into()]);
        if let Some(i) = index {
            args.extend(["--index-url".into(), i.into()]);
        }
        args.extend(pins());
        pip(&self.python(), &args, &mut state, &progress).await?;

        let pristine = self.pristine();
        let _ = std::fs::remove_dir_all(&pristine);
        let mut args: Vec<String> = ["-m", "pip", "install", "--progress-bar", "off"]
            .map(String::from)
            .to_vec();
        args.extend(["--disable-pip-version-check".into(), "--no-deps".into()]);
        args.extend(["--target".into(), pristine.to_string_lossy().into_owned()]);
        if let Some(i) = index {
            args.extend(["--index-url".into(), i.into()]);
        }
        args.push(format!("fate-flow=={FATE_VERSION}"));
        state.what = "FATE Flow's own copy".into();
        pip(&self.python(), &args, &mut state, &progress).await?;

        let site = purelib(&self.python()).await?;
        let marker = Marker {
            packages: pins(),
            site_packages: site,
        };
        std::fs::write(self.marker(), serde_json::to_vec_pretty(&marker)?)
            .with_context(|| format!("writing {}", self.marker().display()))?;
        Ok(())
    }

    /// Makes (or makes again) a party's environment in `dir`: a venv without pip, FATE Flow
    /// copied from the pristine install, and the shared site-packages on its path.
    pub async fn party_env(&self, dir: &Path) -> Result<PartyEnv> {
        let shared = self
            .site_packages()
            .context("the shared environment is not complete; `fatelab up` installs it")?;
        let _ = std::fs::remove_dir_all(dir);
        run(
            tokio::process::Command::new(self.python())
                .args(["-m", "venv", "--without-pip"])
                .arg(dir),
            "making a party's Python environment",
        )
        .await?;
        let env = PartyEnv {
            dir: dir.to_path_buf(),
        };
        let site = purelib(&env.python()).await?;
        for entry in std::fs::read_dir(self.pristine())? {
            let entry = entry?;
            let name = entry.file_name();
            let keep = name.to_string_lossy().starts_with("fate_flow");
            if keep {
                copy_tree(&entry.path(), &site.join(&name))?;
            }
        }
        std::fs::write(
            site.join("zz_fatelab_shared.pth"),
            format!("{}\n", shared.display()),
        )?;
        std::fs::write(dir.join("site-packages"), site.to_string_lossy().as_bytes())?;
        Ok(env)
    }
}

/// A party's own environment.
#[derive(Debug, Clone)]
pub struct PartyEnv {
    pub dir: PathBuf,
}

impl PartyEnv {
    pub fn python(&self) -> PathBuf {
        self.dir.join("bin/python")
    }

    /// Its site-packages (written when it was made); `None` when it is not complete.
    pub fn site_packages(&self) -> Option<PathBuf> {
        let p = PathBuf::from(std::fs::read_to_string(self.dir.join("site-packages")).ok()?);
        p.join("fate_flow/fate_flow_server.py")
            .exists()
            .then_some(p)
    }

    /// FATE Flow's own `init`: the home's conf, data and log dirs, and its settings.
    pub async fn init(&self, home: &Path, port: u16) -> Result<()> {
        run(
            tokio::process::Command::new(self.python())
                .args(["-m", "fate_flow.commands.server_cli", "init", "--ip"])
                .arg("127.0.0.1")
                .arg("--port")
                .arg(port.to_string())
                .arg("--home")
                .arg(home),
            "FATE Flow's init",
        )
        .await
    }
}

/// What pip is doing, for a progress line.
#[derive(Debug, Clone)]
pub struct PipProgress {
    pub what: String,
    /// The file pip fetches now, with its size as pip gives it.
    pub current: String,
    /// The sizes of the files fetched so far (pip says each one's before it fetches it).
    pub bytes: u64,
    pub files: u32,
    pub since: Instant,
}

impl PipProgress {
    fn new(what: &str) -> PipProgress {
        PipProgress {
            what: what.into(),
            current: String::new(),
            bytes: 0,
            files: 0,
            since: Instant::now(),
        }
    }

    /// Reads one line of pip's output: "Downloading torch-2.5.1-….whl (906.5 MB)".
    fn line(&mut self, line: &str) {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("Downloading ") {
            self.files += 1;
            self.current = rest.to_string();
            if let Some(size) = rest.rsplit_once('(').and_then(|(_, s)| s.strip_suffix(')')) {
                self.bytes += parse_size(size).unwrap_or(0);
            }
        } else if let Some(rest) = t.strip_prefix("Collecting ") {
            self.current = format!("resolving {rest}");
        } else if t.starts_with("Installing collected packages") {
            self.current = "unpacking and installing".into();
        }
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let (n, unit) = s.trim().split_once(' ')?;
    let n: f64 = n.parse().ok()?;
    let scale = match unit {
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "bytes" => 1.0,
        _ => return None,
    };
    Some((n * scale) as u64)
}

async fn pip(
    python: &Path,
    args: &[String],
    state: &mut PipProgress,
    progress: &impl Fn(&PipProgress),
) -> Result<()> {
    let mut child = tokio::process::Command::new(python)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting pip ({})", python.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let err_task = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let mut kept = Vec::new();
        while let Ok(Some(l)) = lines.next_line().await {
            kept.push(l);
        }
        kept
    });
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut tail: Vec<String> = Vec::new();
    while let Some(l) = lines.next_line().await? {
        state.line(&l);
        progress(state);
        tail.push(l);
        if tail.len() > 20 {
            tail.remove(0);
        }
    }
    let status = child.wait().await?;
    let err = err_task.await.unwrap_or_default();
    if !status.success() {
        let said: Vec<&String> = err.iter().rev().take(15).rev().collect();
        bail!(
            "pip could not install {} ({}):\n{}\n(pip needs to reach its package index; give a mirror with --pypi-index URL)",
            state.what,
            status,
            said.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(())
}

/// The interpreter's site-packages.
async fn purelib(python: &Path) -> Result<PathBuf> {
    let out = tokio::process::Command::new(python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", python.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{} could not say its site-packages: {}",
        python.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

async fn run(cmd: &mut tokio::process::Command, what: &str) -> Result<()> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| what.to_string())?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for e in std::fs::read_dir(from)? {
            let e = e?;
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_lines_become_progress() {
        let mut p = PipProgress::new("x");
        p.line("Collecting torch==2.5.1");
        assert_eq!(p.current, "resolving torch==2.5.1");
        p.line("  Downloading torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl (906.5 MB)");
        p.line("  Downloading pika-1.2.1-py2.py3-none-any.whl (155 kB)");
        assert_eq!(p.files, 2);
        assert_eq!(p.bytes, 906_500_000 + 155_000);
        assert!(p.current.starts_with("pika-1.2.1"));
    }
}
