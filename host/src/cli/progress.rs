//! Live progress on a terminal: one line per certificate being issued,
//! following the solver's phases (presenting → propagating n/m →
//! validating n/m → cleaning up → stored). Only when stderr is a TTY, the
//! output is text and `--quiet` is off; otherwise nothing is drawn.

use crate::dns01::solver::{Progress, ProgressSink};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::sync::OnceLock;
use std::time::Duration;

/// Whether to draw progress for this run.
pub fn wanted(global: &super::GlobalArgs) -> bool {
    use std::io::IsTerminal;
    !global.quiet && global.output == super::Output::Text && std::io::stderr().is_terminal()
}

fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(MultiProgress::new)
}

/// The line of one certificate; removed when dropped.
pub struct Line(Option<ProgressBar>);

impl Line {
    /// A line for `cert_name`, or a no-op when `show` is false.
    pub fn new(show: bool, cert_name: &str) -> Line {
        if !show {
            return Line(None);
        }
        let bar = bars().add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} {elapsed:>4}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(cert_name.to_string());
        bar.set_message("ordering");
        bar.enable_steady_tick(Duration::from_millis(120));
        Line(Some(bar))
    }

    /// The sink the solver reports to.
    pub fn sink(&self) -> ProgressSink {
        let Some(bar) = self.0.clone() else {
            return ProgressSink::default();
        };
        ProgressSink::new(move |p| bar.set_message(describe(&p)))
    }

    /// Sets the message directly (phases outside the solver).
    pub fn set(&self, message: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.to_string());
        }
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
            bars().remove(&bar);
        }
    }
}

fn describe(p: &Progress) -> String {
    match p {
        Progress::Presenting { records, names } => {
            format!("presenting {records} record set(s) for {names} name(s)")
        }
        Progress::Propagating { total: 0, .. } => "propagating".to_string(),
        Progress::Propagating { done, total } => format!("propagating {done}/{total}"),
        Progress::Validating { valid, total } => format!("validating {valid}/{total} valid"),
        Progress::CleaningUp => "valid; cleaning up, finalizing".to_string(),
    }
}
