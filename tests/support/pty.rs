//! The real binary in a real pseudo-terminal, its output read into a terminal emulator: what a
//! person in front of it would see, row by row, at every moment of the run.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

pub const ROWS: u16 = 50;
pub const COLS: u16 = 160;

pub struct Pty {
    output: Receiver<Vec<u8>>,
    terminal: vt100::Parser,
    /// Every byte the program wrote, escape sequences and all.
    pub raw: Vec<u8>,
    /// Every row the screen ever showed, in the order each first appeared.
    seen: Vec<String>,
    seen_set: BTreeSet<String>,
    child: Box<dyn Child + Send + Sync>,
    input: Box<dyn Write + Send>,
    closed: bool,
}

impl Pty {
    /// Starts `cmd` (program, arguments, environment and directory as set) on a new terminal of
    /// ROWS × COLS, with `TERM` set as a terminal emulator sets it and no `NO_COLOR` unless `cmd`
    /// sets them.
    pub fn spawn(cmd: &assert_cmd::Command) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut builder = CommandBuilder::new(cmd.get_program());
        builder.args(cmd.get_args());
        // A terminal emulator's settings, whatever the test process runs under; the test's own
        // (below) override them.
        builder.env("TERM", "xterm-256color");
        builder.env_remove("NO_COLOR");
        for (key, value) in cmd.get_envs() {
            match value {
                Some(v) => builder.env(key, v),
                None => builder.env_remove(key),
            }
        }
        if let Some(dir) = cmd.get_current_dir() {
            builder.cwd(dir);
        }
        let child = pair.slave.spawn_command(builder).expect("spawn in the pty");
        // Only the child holds the terminal's other end now: its exit ends the output.
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let input = pair.master.take_writer().expect("pty writer");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            // Keeps the master open while the reader runs.
            let _master = pair.master;
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Pty {
            output: rx,
            terminal: vt100::Parser::new(
                NonZeroU16::new(ROWS).unwrap(),
                NonZeroU16::new(COLS).unwrap(),
                0,
            ),
            raw: Vec::new(),
            seen: Vec::new(),
            seen_set: BTreeSet::new(),
            child,
            input,
            closed: false,
        }
    }

    /// Feeds output to the screen one escape sequence at a time, noting every row after each, so
    /// a state that lasted one redraw is seen too.
    fn feed(&mut self, bytes: &[u8]) {
        self.raw.extend_from_slice(bytes);
        let mut start = 0;
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i] == 0x1b {
                self.terminal.process(&bytes[start..i]);
                start = i;
                self.note_rows();
            }
        }
    }

    fn note_rows(&mut self) {
        for row in self.terminal.screen().rows(0, COLS) {
            let row = row.trim_end().to_string();
            if !row.is_empty() && self.seen_set.insert(row.clone()) {
                self.seen.push(row);
            }
        }
    }

    /// Reads until the screen has shown a row that satisfies `want` (now, or at any moment
    /// before); returns that row. Fails the test, with the screen, when `timeout` passes or the
    /// program ends first.
    pub fn wait_for(
        &mut self,
        what: &str,
        want: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> String {
        let deadline = Instant::now() + timeout;
        let mut checked = 0;
        loop {
            if let Some(row) = self.seen[checked..].iter().find(|r| want(r)) {
                return row.clone();
            }
            checked = self.seen.len();
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.feed(&bytes),
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "the screen never showed {what}; the screen:\n{}",
                        self.screen()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.closed = true;
                    panic!(
                        "the program ended before the screen showed {what}; the screen:\n{}",
                        self.screen()
                    )
                }
            }
        }
    }

    /// Where in the run a row satisfying `want` first appeared.
    pub fn first(&self, want: impl Fn(&str) -> bool) -> Option<usize> {
        self.seen.iter().position(|r| want(r))
    }

    /// Types `keys` at the terminal.
    pub fn send(&mut self, keys: &[u8]) {
        self.input.write_all(keys).expect("write to the pty");
        self.input.flush().expect("flush the pty");
    }

    /// Reads everything until the program ends, and its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> u32 {
        let deadline = Instant::now() + timeout;
        while !self.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.feed(&bytes),
                Err(RecvTimeoutError::Disconnected) => self.closed = true,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "the program did not end in time; the screen:\n{}",
                        self.screen()
                    )
                }
            }
        }
        self.child.wait().expect("wait for the child").exit_code()
    }

    /// The screen as it is now, as text: its rows, each without the blanks that pad it.
    pub fn screen(&self) -> String {
        let rows: Vec<String> = self
            .terminal
            .screen()
            .rows(0, COLS)
            .map(|r| r.trim_end().to_string())
            .collect();
        rows.join("\n").trim_end().to_string()
    }

    /// Every row the screen ever showed.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    pub fn ever(&self, want: impl Fn(&str) -> bool) -> bool {
        self.seen.iter().any(|r| want(r))
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.child.kill();
        }
    }
}

/// Runs `cmd` in a terminal on a thread of its own (the fakes keep serving on the runtime),
/// lets `meanwhile` read and type at it, then reads on until it ends; returns the terminal and
/// the exit code.
pub async fn drive(
    cmd: assert_cmd::Command,
    meanwhile: impl FnOnce(&mut Pty) + Send + 'static,
) -> (Pty, u32) {
    tokio::task::spawn_blocking(move || {
        let mut pty = Pty::spawn(&cmd);
        meanwhile(&mut pty);
        let code = pty.wait_exit(LONG);
        (pty, code)
    })
    .await
    .expect("the terminal's thread")
}

/// Far longer than any run in a terminal takes; only a hang reaches it.
pub const LONG: Duration = Duration::from_secs(120);
