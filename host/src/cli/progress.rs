//! Live progress on a terminal: for each certificate being issued, one
//! header line (ordering → solving → cleaning up, finalizing) and one line
//! per identifier following the solver's steps (presenting → propagating
//! n/m nameservers → validating → valid). Only when stderr is a TTY, the
//! output is text and `--quiet` is off; otherwise nothing is drawn. Lines
//! disappear when the certificate is done; results are printed instead.

use crate::dns01::solver::{Progress, ProgressSink, Step};
use crate::engine::issue::{CertificateProgress, Progress as Observer};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Whether to draw progress for this run.
pub fn wanted(global: &super::GlobalArgs) -> bool {
    use std::io::IsTerminal;
    !global.quiet && global.output == super::Output::Text && std::io::stderr().is_terminal()
}

/// What the engine reports progress to: lines on the terminal, when
/// [`wanted`].
pub struct Terminal {
    show: bool,
}

impl Terminal {
    pub fn new(global: &super::GlobalArgs) -> Terminal {
        Terminal {
            show: wanted(global),
        }
    }
}

impl Observer for Terminal {
    fn certificate(&self, cert_name: &str) -> Box<dyn CertificateProgress> {
        Box::new(Line::new(self.show, cert_name))
    }
}

impl CertificateProgress for Line {
    fn sink(&self) -> ProgressSink {
        Line::sink(self)
    }
    fn set(&self, phase: &str) {
        Line::set(self, phase)
    }
}

fn bars() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(MultiProgress::new)
}

/// The lines of one certificate; removed when dropped.
pub struct Line(Option<Arc<Lines>>);

struct Lines {
    multi: MultiProgress,
    header: ProgressBar,
    /// Identifier lines in the order they first appeared.
    identifiers: Mutex<Vec<(String, ProgressBar)>>,
}

impl Lines {
    fn update(&self, progress: &Progress) {
        match progress {
            Progress::Identifier { name, step } => {
                let mut lines = self.identifiers.lock().unwrap_or_else(|e| e.into_inner());
                let bar = match lines.iter().find(|(n, _)| n == name) {
                    Some((_, bar)) => bar.clone(),
                    None => {
                        let after = lines.last().map_or(&self.header, |(_, b)| b);
                        let bar = self.multi.insert_after(after, ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template("    {prefix:32} {wide_msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        bar.set_prefix(name.clone());
                        lines.push((name.clone(), bar.clone()));
                        self.header
                            .set_message(format!("solving {} identifier(s)", lines.len()));
                        bar
                    }
                };
                bar.set_message(describe(step));
            }
            Progress::CleaningUp => self.header.set_message("cleaning up, finalizing"),
        }
    }
}

impl Line {
    /// Lines for `cert_name`, or a no-op when `show` is false.
    pub fn new(show: bool, cert_name: &str) -> Line {
        if !show {
            return Line(None);
        }
        let header = bars().add(ProgressBar::new_spinner());
        header.set_style(
            ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} {elapsed:>4}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        header.set_prefix(cert_name.to_string());
        header.set_message("ordering");
        header.enable_steady_tick(Duration::from_millis(120));
        Line(Some(Arc::new(Lines {
            multi: bars().clone(),
            header,
            identifiers: Mutex::new(Vec::new()),
        })))
    }

    /// The sink the solver reports to.
    pub fn sink(&self) -> ProgressSink {
        let Some(lines) = self.0.clone() else {
            return ProgressSink::default();
        };
        ProgressSink::new(move |p| lines.update(&p))
    }

    /// Sets the header's message (phases outside the solver).
    pub fn set(&self, message: &str) {
        if let Some(lines) = &self.0 {
            lines.header.set_message(message.to_string());
        }
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if let Some(lines) = self.0.take() {
            let identifiers =
                std::mem::take(&mut *lines.identifiers.lock().unwrap_or_else(|e| e.into_inner()));
            for (_, bar) in identifiers {
                bar.finish_and_clear();
                lines.multi.remove(&bar);
            }
            lines.header.finish_and_clear();
            lines.multi.remove(&lines.header);
        }
    }
}

fn describe(step: &Step) -> String {
    match step {
        Step::Reused => "valid (authorization reused)".to_string(),
        Step::Presenting => "presenting".to_string(),
        Step::Propagating { done, total } => format!("propagating {done}/{total} nameservers"),
        Step::Validating => "validating".to_string(),
        Step::Valid => "valid".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_read_as_the_flow() {
        let steps = [
            Step::Presenting,
            Step::Propagating { done: 1, total: 2 },
            Step::Validating,
            Step::Valid,
        ];
        let text: Vec<String> = steps.iter().map(describe).collect();
        assert_eq!(
            text,
            [
                "presenting",
                "propagating 1/2 nameservers",
                "validating",
                "valid"
            ]
        );
    }

    #[test]
    fn hidden_lines_accept_every_event() {
        let line = Line::new(false, "example");
        let sink = line.sink();
        sink.emit(Progress::Identifier {
            name: "example.com".into(),
            step: Step::Presenting,
        });
        sink.emit(Progress::CleaningUp);
        line.set("stored");
    }

    #[test]
    fn identifiers_get_one_line_each_in_order() {
        let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        let lines = Lines {
            header: multi.add(ProgressBar::new_spinner()),
            multi,
            identifiers: Mutex::new(Vec::new()),
        };
        for (name, step) in [
            ("example.com", Step::Presenting),
            ("*.example.com", Step::Presenting),
            ("example.com", Step::Propagating { done: 1, total: 1 }),
            ("*.example.com", Step::Valid),
        ] {
            lines.update(&Progress::Identifier {
                name: name.into(),
                step,
            });
        }
        let shown: Vec<(String, String)> = lines
            .identifiers
            .lock()
            .unwrap()
            .iter()
            .map(|(n, b)| (n.clone(), b.message()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "example.com".to_string(),
                    "propagating 1/1 nameservers".to_string()
                ),
                ("*.example.com".to_string(), "valid".to_string()),
            ]
        );
        assert_eq!(lines.header.message(), "solving 2 identifier(s)");
    }
}
