//! What the user sees on stderr: one line per step (a spinner while it runs, a mark and the time
//! after), progress bars for downloads, and confirmations. Plain lines when stderr is no terminal
//! (or `NO_COLOR` asks for no escape sequences).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Result;
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::exit::usage;

/// How stderr is drawn: live (spinners and bars redrawn in place, marks in colour) on a terminal
/// that can, or plain lines, each written once (logs, `TERM=dumb`, and `NO_COLOR`, whose users
/// asked for text without escape sequences).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Live,
    Plain,
}

impl Mode {
    /// How stderr is drawn.
    pub fn detect() -> Mode {
        Mode::of(std::io::stderr().is_terminal())
    }

    /// How a stream that is (or is not) a terminal is drawn.
    pub fn of(terminal: bool) -> Mode {
        let dumb = std::env::var("TERM").map_or(true, |t| t == "dumb");
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if terminal && !dumb && !no_color {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

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

/// A bar for bytes or a count; what it reached is said once when it is done. A bar dropped
/// before it is done (its work failed) goes away: what went wrong is said by whoever failed.
pub struct Bar {
    bar: ProgressBar,
    label: String,
    bytes: bool,
    started: Instant,
    ui: Ui,
}

/// The ANSI colour of a mark on a live terminal; plain text otherwise.
fn paint(ui: &Ui, colour: &str, text: &str) -> String {
    if ui.interactive {
        format!("\x1b[{colour}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

impl Ui {
    pub fn new(yes: bool, verbose: u8) -> Self {
        let interactive = Mode::detect() == Mode::Live;
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
        kept(msg.as_ref());
        self.show(msg.as_ref());
    }

    fn show(&self, msg: impl AsRef<str>) {
        if self.multi.is_hidden() {
            eprintln!("{}", msg.as_ref());
        } else {
            let _ = self.multi.println(msg.as_ref());
        }
    }

    /// A line for logs only: what a bar shows on a terminal, said once when it is done.
    pub fn plain(&self, msg: impl AsRef<str>) {
        kept(msg.as_ref());
        if !self.interactive {
            eprintln!("{}", msg.as_ref());
        }
    }

    pub fn step(&self, n: usize, total: usize, title: &str) -> StepLine {
        let title = format!("[{n}/{total}] {title}");
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {prefix} {wide_msg}")
                .expect("valid template"),
        );
        bar.set_prefix(title.clone());
        kept(&format!("{title} ..."));
        if self.interactive {
            bar.enable_steady_tick(Duration::from_millis(120));
            // A step that ends within the first tick is still seen running.
            bar.force_draw();
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

    pub fn bytes_bar(&self, total: Option<u64>, label: &str) -> Bar {
        let bar = self.multi.add(match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        });
        bar.set_style(
            ProgressStyle::with_template(
                "    {msg} [{bar:30.cyan/blue}] {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        self.bar(bar, label, true)
    }

    fn bar(&self, bar: ProgressBar, label: &str, bytes: bool) -> Bar {
        Bar {
            bar,
            label: label.to_string(),
            bytes,
            started: Instant::now(),
            ui: self.clone(),
        }
    }

    /// A line under a running step for one of several things it follows at once (a party).
    pub fn sub_line(&self, label: &str) -> SubLine {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("    {spinner:.cyan} {prefix}: {wide_msg}")
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

    pub fn count_bar(&self, total: u64, label: &str) -> Bar {
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template(
                "    {msg}: {pos}/{len} [{bar:20.cyan/blue}] {percent:>3}% {elapsed}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        self.bar(bar, label, false)
    }

    /// Whether [`Ui::confirm`] can get an answer: `--yes`, or a terminal to ask at.
    pub fn can_ask(&self) -> bool {
        self.yes || (std::io::stdin().is_terminal() && std::io::stderr().is_terminal())
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
        if !self.interactive {
            return ask_plainly(question);
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

/// The question as one line of text and the answer as a typed line: no cursor movement, for a
/// terminal that is to get no escape sequences.
fn ask_plainly(question: &str) -> Result<bool> {
    use std::io::{BufRead, Write};
    let mut err = std::io::stderr().lock();
    // One write: stderr is unbuffered, and whoever answers must see the whole prompt at once.
    err.write_all(format!("{question} [y/N] ").as_bytes())?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

impl Bar {
    /// A handle for a callback that moves the bar (a transfer's progress).
    pub fn progress(&self) -> ProgressBar {
        self.bar.clone()
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    pub fn set_length(&self, n: u64) {
        self.bar.set_length(n);
    }

    pub fn set_position(&self, n: u64) {
        self.bar.set_position(n);
    }

    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// The bar as it ends (drawn once more, so a fast transfer is seen reaching its end), then
    /// one line that stays: `✓ label: what, how much (bytes, or done/all) in how long`.
    pub fn done(self, what: &str) {
        if self.ui.interactive {
            self.bar.force_draw();
        }
        self.bar.finish_and_clear();
        let took = self.started.elapsed().as_secs_f64();
        let amount = if self.bytes {
            HumanBytes(self.bar.position()).to_string()
        } else {
            format!("{}/{}", self.bar.position(), self.bar.length().unwrap_or(0))
        };
        let mark = paint(&self.ui, "32", "✓");
        self.ui.println(format!(
            "    {mark} {}: {what} {amount} in {took:.1}s",
            self.label
        ));
    }
}

/// A download's bar, made when the answer says how large the file is, and made again on each
/// attempt (a resumed one starts where the part left off).
pub struct DownloadBar {
    ui: Ui,
    label: String,
    bar: std::sync::Mutex<Option<Bar>>,
}

impl Ui {
    pub fn download(&self, label: &str) -> DownloadBar {
        DownloadBar {
            ui: self.clone(),
            label: label.to_string(),
            bar: std::sync::Mutex::new(None),
        }
    }
}

impl crate::clients::download::Progress for DownloadBar {
    fn start(&self, total: Option<u64>, already: u64) {
        let bar = self.ui.bytes_bar(total, &self.label);
        bar.set_position(already);
        *self.bar.lock().expect("bar lock") = Some(bar);
    }

    fn advance(&self, bytes: u64) {
        if let Some(b) = self.bar.lock().expect("bar lock").as_ref() {
            b.inc(bytes);
        }
    }

    fn done(&self) {
        if let Some(b) = self.bar.lock().expect("bar lock").take() {
            b.done("downloaded");
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
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
        let mut last = self.last.lock().expect("sub line lock");
        if *last != msg {
            kept(&format!("    {}: {msg}", self.label));
        }
        if self.ui.interactive {
            self.bar.set_message(msg.to_string());
        } else if *last != msg {
            eprintln!("    {}: {msg}", self.label);
        }
        *last = msg.to_string();
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
        kept(&format!("    {msg}"));
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

    /// The step's last line: its mark, its title, how long it took, and why when it did nothing.
    fn finish(self, mark: &str, colour: &str, tail: String) {
        let took = self.started.elapsed().as_secs_f64();
        kept(&format!("{mark} {} ({took:.1}s){tail}", self.title));
        let mark = paint(&self.ui, colour, mark);
        let line = format!("{mark} {} ({took:.1}s){tail}", self.title);
        self.bar.finish_and_clear();
        self.ui.show(line);
    }

    pub fn done(self) {
        self.finish("✓", "32", String::new());
    }

    /// The step found the world as declared.
    pub fn unchanged(self, why: &str) {
        self.finish("•", "2", format!(" — nothing to do: {why}"));
    }

    pub fn skipped(self, why: &str) {
        self.finish("•", "2", format!(" — skipped: {why}"));
    }

    pub fn failed(self) {
        self.finish("✗", "31", String::new());
    }
}

/// Where what the user is shown goes to be kept in the run's log (never to the terminal twice).
pub const KEPT: &str = "fatelab_run";

/// A line the user is shown, for the run's log (see `app::run_log`).
fn kept(line: &str) {
    tracing::info!(target: KEPT, "{line}");
}
