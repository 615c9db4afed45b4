//! What the user sees on stderr: one line per step (a spinner while it runs, a mark and the time
//! after), progress bars for downloads, and confirmations. Plain lines when stderr is no terminal.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exit::usage;

#[derive(Clone)]
pub struct Ui {
    multi: MultiProgress,
    interactive: bool,
    pub yes: bool,
    pub verbose: u8,
}

pub struct StepLine {
    bar: ProgressBar,
    title: String,
    started: Instant,
    ui: Ui,
}

impl Ui {
    pub fn new(yes: bool, verbose: u8) -> Self {
        let interactive =
            std::io::stderr().is_terminal() && std::env::var("TERM").is_ok_and(|t| t != "dumb");
        let multi = MultiProgress::new();
        if !interactive {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        Ui {
            multi,
            interactive,
            yes,
            verbose,
        }
    }

    /// Always reaches the user: above the bars on a terminal, a plain stderr line otherwise.
    pub fn println(&self, msg: impl AsRef<str>) {
        if self.multi.is_hidden() {
            eprintln!("{}", msg.as_ref());
        } else {
            let _ = self.multi.println(msg.as_ref());
        }
    }

    /// A line for logs only: what a bar shows on a terminal, said once when it is done.
    pub fn plain(&self, msg: impl AsRef<str>) {
        if !self.interactive {
            eprintln!("{}", msg.as_ref());
        }
    }

    pub fn step(&self, n: usize, total: usize, title: &str) -> StepLine {
        let title = format!("[{n}/{total}] {title}");
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {wide_msg}").expect("valid template"),
        );
        bar.set_prefix(title.clone());
        if self.interactive {
            bar.enable_steady_tick(Duration::from_millis(120));
        } else {
            eprintln!("{title} ...");
        }
        StepLine {
            bar,
            title,
            started: Instant::now(),
            ui: self.clone(),
        }
    }

    pub fn bytes_bar(&self, total: Option<u64>, label: &str) -> ProgressBar {
        let bar = self.multi.add(match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        });
        bar.set_style(
            ProgressStyle::with_template(
                "    {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        bar
    }

    /// A line under a running step for one of several things it follows at once (a party).
    pub fn sub_line(&self, label: &str) -> SubLine {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("    {spinner} {prefix}: {wide_msg}")
                .expect("valid template"),
        );
        bar.set_prefix(label.to_string());
        if self.interactive {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        SubLine {
            bar,
            label: label.to_string(),
            last: std::sync::Mutex::new(String::new()),
            ui: self.clone(),
        }
    }

    pub fn count_bar(&self, total: u64, label: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template("    {msg}: {pos}/{len} [{bar:20}] {elapsed}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        bar
    }

    /// Asks before a change the user may not expect; `--yes` answers for them. Without a terminal
    /// and without `--yes` fatelab refuses rather than guess.
    pub fn confirm(&self, question: &str) -> Result<bool> {
        if self.yes {
            return Ok(true);
        }
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(usage(format!(
                "{question}\nfatelab needs a yes to go on, and there is no terminal to ask: re-run with --yes"
            )));
        }
        let answer = self.multi.suspend(|| {
            dialoguer::Confirm::new()
                .with_prompt(question)
                .default(false)
                .interact()
        })?;
        Ok(answer)
    }
}

pub struct SubLine {
    bar: ProgressBar,
    label: String,
    last: std::sync::Mutex<String>,
    ui: Ui,
}

impl SubLine {
    /// On a terminal the line is updated in place; otherwise each new message is printed once.
    pub fn set(&self, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        if self.ui.interactive {
            self.bar.set_message(msg.to_string());
            return;
        }
        let mut last = self.last.lock().expect("sub line lock");
        if *last != msg {
            eprintln!("    {}: {msg}", self.label);
            *last = msg.to_string();
        }
    }

    /// Takes the line away; what it followed is said elsewhere.
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }

    pub fn finish(&self, msg: impl AsRef<str>) {
        self.bar.finish_and_clear();
        self.ui
            .println(format!("    {}: {}", self.label, msg.as_ref()));
    }
}

impl StepLine {
    /// Shows what the step is doing now (a spinner message, or a plain line with -v off a terminal).
    pub fn note(&self, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        if self.ui.interactive {
            self.bar.set_message(msg.to_string());
        } else if self.ui.verbose > 0 {
            eprintln!("    {msg}");
        }
    }

    /// A line that must stay on screen (a warning, a result worth reading).
    pub fn say(&self, msg: impl AsRef<str>) {
        self.ui.println(format!("    {}", msg.as_ref()));
    }

    fn finish(self, mark: &str, tail: String) {
        let line = format!("{mark} {}{tail}", self.title);
        self.bar.finish_and_clear();
        self.ui.println(line);
    }

    pub fn done(self) {
        let took = self.started.elapsed();
        self.finish("✓", format!(" ({:.1}s)", took.as_secs_f64()));
    }

    /// The step found the world as declared.
    pub fn unchanged(self, why: &str) {
        self.finish("•", format!(" (nothing to do: {why})"));
    }

    pub fn skipped(self, why: &str) {
        self.finish("•", format!(" (skipped: {why})"));
    }

    pub fn failed(self) {
        self.finish("✗", String::new());
    }
}
