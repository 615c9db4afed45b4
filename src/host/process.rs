//! The local lab's processes: started in a session of their own (so they outlive `up`, and a
//! stop reaches their children), known again by pid *and* start time (a pid alone may have been
//! reused), stopped only while they are still the process fatelab started. Never by name.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::model::local::ProcessRecord;

/// A process just started: its pid and start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub pid: u32,
    pub started: u64,
}

/// The fields of `/proc/PID/stat` after the command name (which is in parentheses and may hold
/// spaces): index 0 is field 3, the state.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(String::from).collect())
}

/// A process's state letter and start time (clock ticks after boot); `None` when there is none.
fn stat(pid: u32) -> Option<(char, u64)> {
    let fields = stat_fields(pid)?;
    let state = fields.first()?.chars().next()?;
    let started = fields.get(19)?.parse().ok()?;
    Some((state, started))
}

/// The living processes of process group `pgid`. A pid is not given to a new process while a
/// group of that number exists, so the members of a recorded process's group are its own,
/// even after the leader died (nginx's workers, a task FATE Flow started).
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|f| {
                f.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
                    && !matches!(f.first().map(String::as_str), Some("Z" | "X"))
            })
        })
        .collect()
}

/// The processes left of a recorded process's group: its own when the recorded process still
/// runs, or when no process has its pid any more (then the group's members are orphans of
/// it); none when its pid now belongs to another process (which leads a group of its own).
pub fn left_of(p: &ProcessRecord) -> Vec<u32> {
    let reused = stat(p.pid).is_some_and(|(state, at)| at != p.started && state != 'Z');
    if reused {
        return Vec::new();
    }
    group_members(p.pid)
}

/// The processes left of each of `records`' groups (see [`left_of`]), from one look at /proc.
pub fn left_of_all(records: &[ProcessRecord]) -> Vec<u32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let living: Vec<(u32, u32)> = procs
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let f = stat_fields(pid)?;
            let dead = matches!(f.first().map(String::as_str), Some("Z" | "X"));
            (!dead).then_some((pid, f.get(2)?.parse().ok()?))
        })
        .collect();
    records
        .iter()
        .filter(|p| !stat(p.pid).is_some_and(|(state, at)| at != p.started && state != 'Z'))
        .flat_map(|p| {
            living
                .iter()
                .filter(|(_, group)| *group == p.pid)
                .map(|(pid, _)| *pid)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// True while `pid` is the process started at `started` and has not ended (a zombie has).
pub fn is_same(pid: u32, started: u64) -> bool {
    matches!(stat(pid), Some((state, at)) if at == started && state != 'Z' && state != 'X')
}

/// True while the recorded process runs.
pub fn alive(p: &ProcessRecord) -> bool {
    is_same(p.pid, p.started)
}

/// Starts `program` with `args` in a new session (through `setsid` and `sh`, which exec it: the
/// pid is the program's), `env` added to a clean environment with PATH, stdin closed and its
/// output appended to `log`. The started process writes its own pid to `pidfile` before it
/// becomes `program`: a run killed before it recorded the process leaves it findable
/// ([`from_pidfile`]).
pub fn spawn(
    program: &Path,
    args: &[&OsStr],
    env: &[(&str, &OsStr)],
    cwd: &Path,
    log: &Path,
    pidfile: &Path,
) -> Result<Started> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let _ = std::fs::remove_file(pidfile);
    let mut cmd = std::process::Command::new("setsid");
    cmd.args(["sh", "-c", r#"echo $$ > "$0" && exec "$@""#])
        .arg(pidfile)
        .arg(program)
        .args(args)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        )
        .env("LANG", "C.UTF-8")
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {} (through setsid)", program.display()))?;
    let pid = child.id();
    // The child is not waited for: it is the lab's, not this run's. Its start time is read now,
    // while the pid cannot have been reused.
    let (_, started) = stat(pid).with_context(|| {
        format!(
            "{} ended at once; its output is in {}",
            program.display(),
            log.display()
        )
    })?;
    drop(child);
    Ok(Started { pid, started })
}

/// The process `pidfile` names while it is still the one [`spawn`] started there: alive, the
/// leader of its own session and working in `cwd`, as `spawn` made it (a pid reused since is
/// none of these).
pub fn from_pidfile(pidfile: &Path, cwd: &Path) -> Option<Started> {
    let pid: u32 = std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()?;
    let fields = stat_fields(pid)?;
    let state = fields.first()?.chars().next()?;
    let session: u32 = fields.get(3)?.parse().ok()?;
    let started = fields.get(19)?.parse().ok()?;
    let here = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    let there = std::fs::canonicalize(cwd).ok()?;
    (session == pid && !matches!(state, 'Z' | 'X') && here == there)
        .then_some(Started { pid, started })
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It ran and now does not.
    Stopped,
    /// It needed SIGKILL after `grace`.
    Killed,
    /// It had already ended, or its pid is now another process's: nothing was sent.
    Gone,
}

/// Stops the recorded process and its session's processes: SIGTERM to its process group, then
/// SIGKILL after `grace`; nothing at all when the pid is no longer the process fatelab started.
pub async fn stop(p: &ProcessRecord, grace: Duration) -> Result<Stopped> {
    let pid = Pid::from_raw(p.pid as i32);
    if !alive(p) {
        // What is left of its group is still fatelab's (see [`left_of`]).
        if !left_of(p).is_empty() {
            let _ = killpg(pid, Signal::SIGKILL);
        }
        return Ok(Stopped::Gone);
    }
    // The process itself too: just after its start it may not have made its session yet.
    let _ = nix::sys::signal::kill(pid, Signal::SIGTERM);
    let _ = killpg(pid, Signal::SIGTERM);
    if ended_within(p, grace).await {
        return Ok(Stopped::Stopped);
    }
    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
    let _ = killpg(pid, Signal::SIGKILL);
    if ended_within(p, Duration::from_secs(5)).await {
        return Ok(Stopped::Killed);
    }
    anyhow::bail!(
        "{} (pid {}) did not end, even after SIGKILL",
        p.role.describe(),
        p.pid
    )
}

/// Sends `signal` to the recorded process only (nginx reloads its configuration on SIGHUP).
pub fn signal(p: &ProcessRecord, signal: Signal) -> Result<()> {
    anyhow::ensure!(
        alive(p),
        "{} (pid {}) is not running",
        p.role.describe(),
        p.pid
    );
    nix::sys::signal::kill(Pid::from_raw(p.pid as i32), signal)
        .with_context(|| format!("signalling {} (pid {})", p.role.describe(), p.pid))
}

async fn ended_within(p: &ProcessRecord, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if !alive(p) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    !alive(p)
}

/// The processes listening on each of `ports` (any address), found through the socket inodes
/// of /proc/net/tcp{,6} and each process's open files (read once for all ports); a port is
/// missing when nothing listens on it, or when its listener is not this user's to see.
pub fn listeners(ports: &[u16]) -> BTreeMap<u16, Vec<u32>> {
    let mut inodes: BTreeMap<String, u16> = BTreeMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
                continue;
            };
            let port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if let Some(port) = port.filter(|p| *state == "0A" && ports.contains(p)) {
                inodes.insert(format!("socket:[{inode}]"), port);
            }
        }
    }
    let mut found: BTreeMap<u16, Vec<u32>> = BTreeMap::new();
    if inodes.is_empty() {
        return found;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if let Some(&port) = link.to_str().and_then(|l| inodes.get(l)) {
                let pids = found.entry(port).or_default();
                if !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
        }
    }
    found
}

/// A process as messages name it: "nginx (pid 123)".
pub fn describe(pid: u32) -> String {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    format!("{} (pid {pid})", comm.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::local::Role;

    #[test]
    fn a_process_is_known_by_pid_and_start_time_and_stopped_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let pidfile = dir.path().join("pid");
        let s = spawn(
            Path::new("/bin/sleep"),
            &[OsStr::new("600")],
            &[],
            dir.path(),
            &log,
            &pidfile,
        )
        .unwrap();
        // What it wrote itself finds it again, only where it runs.
        assert!(
            wait_for(|| from_pidfile(&pidfile, dir.path()) == Some(s)),
            "{:?}",
            std::fs::read_to_string(&pidfile)
        );
        assert_eq!(from_pidfile(&pidfile, Path::new("/")), None);
        let rec = ProcessRecord {
            role: Role::Proxy,
            pid: s.pid,
            started: s.started,
            program: "/bin/sleep".into(),
            ports: vec![],
            log,
        };
        assert!(alive(&rec));
        let other = ProcessRecord {
            started: s.started + 1,
            ..rec.clone()
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        assert_eq!(
            rt.block_on(stop(&other, Duration::from_secs(1))).unwrap(),
            Stopped::Gone,
            "another start time is another process: nothing is sent"
        );
        assert!(alive(&rec));
        assert_eq!(
            rt.block_on(stop(&rec, Duration::from_secs(5))).unwrap(),
            Stopped::Stopped
        );
        assert!(!alive(&rec));
    }

    /// The pidfile is written by the child, after `spawn` returned: polled, briefly.
    fn wait_for(done: impl Fn() -> bool) -> bool {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn group_of(pid: u32) -> Option<u32> {
        stat_fields(pid)?.get(2)?.parse().ok()
    }

    #[test]
    fn a_listener_is_named() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let pids = listeners(&[port]).remove(&port).unwrap_or_default();
        assert_eq!(pids, [std::process::id()]);
        assert!(describe(pids[0]).ends_with(&format!("(pid {})", pids[0])));
        assert!(group_members(group_of(pids[0]).unwrap()).contains(&pids[0]));
    }
}
