//! A plugin's log: the `log` import and the plugin's WASI stdout and stderr,
//! under one line cap per call.
//!
//! Output streams are split into lines; each line is cut to
//! [`Limits::max_message_bytes`], passes through the session's [`Redactor`]
//! and goes to `tracing` with target `wacme::plugin` and `plugin = <name>`:
//! stderr at `warn`, stdout at `info`. A stream never fails and never traps
//! the plugin: lines over the per-call cap ([`Limits::max_log_lines_per_call`],
//! shared with the `log` import) are dropped and counted. A partial last
//! line is written out when the call ends ([`PluginLog::finish`]).
//!
//! The last few lines of stdout and stderr ([`TAIL_LINES`], at most
//! [`TAIL_BYTES`]) are kept, even past the cap, so a trap report can say
//! what the plugin last wrote (a panic message, an uncaught exception).

use super::bindings::latest::wacme::dns::log::Level;
use super::limits::Limits;
use super::redact::{Redactor, truncate};
use bytes::Bytes;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Lines of stdout/stderr kept for a trap report.
pub const TAIL_LINES: usize = 5;
/// Bytes of stdout/stderr kept for a trap report.
pub const TAIL_BYTES: usize = 2048;
/// What a stream offers to take in one write (WASI's usual permit).
const WRITE_PERMIT: usize = 64 * 1024;

/// Which stream a write came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// The log of one plugin call. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct PluginLog {
    inner: Arc<Mutex<LogState>>,
}

struct LogState {
    plugin: String,
    redactor: Arc<Redactor>,
    max_lines: u32,
    max_message: usize,
    lines: u32,
    dropped: u64,
    /// Unfinished last line of stdout and stderr.
    partial: [Partial; 2],
    /// Last lines of stdout/stderr, not yet redacted (redacted when shown).
    tail: VecDeque<String>,
    tail_bytes: usize,
}

#[derive(Default)]
struct Partial {
    bytes: Vec<u8>,
    /// The line in progress was already written out cut; skip to its end.
    skipping: bool,
}

impl PluginLog {
    pub(crate) fn new(plugin: String, redactor: Arc<Redactor>, limits: &Limits) -> Self {
        PluginLog {
            inner: Arc::new(Mutex::new(LogState {
                plugin,
                redactor,
                max_lines: limits.max_log_lines_per_call,
                max_message: limits.max_message_bytes,
                lines: 0,
                dropped: 0,
                partial: Default::default(),
                tail: VecDeque::new(),
                tail_bytes: 0,
            })),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A line from the `log` import.
    pub(crate) fn log(&self, level: Level, message: &str) {
        self.state().emit(level, message);
    }

    /// Bytes the plugin wrote to `stream`.
    pub(crate) fn write(&self, stream: Stream, bytes: &[u8]) {
        self.state().write(stream, bytes);
    }

    /// Writes out partial lines and says how many lines were dropped (end of
    /// the call).
    pub(crate) fn finish(&self) {
        let mut state = self.state();
        for stream in [Stream::Stdout, Stream::Stderr] {
            let partial = &mut state.partial[stream as usize];
            let bytes = std::mem::take(&mut partial.bytes);
            let skipping = std::mem::take(&mut partial.skipping);
            if !bytes.is_empty() && !skipping {
                state.line(stream, &bytes);
            }
        }
        if state.dropped > 0 {
            tracing::warn!(plugin = %state.plugin, "dropped {} plugin log lines over the limit of {} per call",
                state.dropped, state.max_lines);
        }
    }

    /// The last lines the plugin wrote to stdout/stderr, redacted, joined
    /// with ` | `; `None` if it wrote nothing.
    pub(crate) fn tail(&self) -> Option<String> {
        let state = self.state();
        if state.tail.is_empty() {
            return None;
        }
        let lines: Vec<String> = state
            .tail
            .iter()
            .map(|line| state.redactor.redact(line))
            .collect();
        Some(lines.join(" | "))
    }

    /// Lines dropped over the cap so far.
    #[cfg(test)]
    fn dropped(&self) -> u64 {
        self.state().dropped
    }

    /// A stdout or stderr stream for a WASI context.
    pub(crate) fn stream(&self, stream: Stream) -> LogStream {
        LogStream {
            log: self.clone(),
            stream,
        }
    }
}

impl LogState {
    /// Counts a line against the cap; `false` when it is to be dropped.
    fn admit(&mut self) -> bool {
        self.lines = self.lines.saturating_add(1);
        if self.lines <= self.max_lines {
            return true;
        }
        if self.lines == self.max_lines + 1 {
            tracing::warn!(plugin = %self.plugin,
                "plugin logged more than {} lines in one call; dropping the rest", self.max_lines);
        }
        self.dropped += 1;
        false
    }

    fn emit(&mut self, level: Level, message: &str) {
        if !self.admit() {
            return;
        }
        // Cut before redacting (bounded work), leaving room for a secret that
        // straddles the cut, then cut to the shown length.
        let head = truncate(message, self.max_message + 1024);
        let message = truncate(&self.redactor.redact(&head), self.max_message);
        let plugin = self.plugin.as_str();
        match level {
            Level::Trace => tracing::trace!(target: "wacme::plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "wacme::plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "wacme::plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "wacme::plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "wacme::plugin", plugin, "{message}"),
        }
    }

    fn write(&mut self, stream: Stream, mut bytes: &[u8]) {
        // A line longer than this is written out cut, the rest skipped.
        let longest = self.max_message + 1024;
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let (chunk, rest) = match newline {
                Some(i) => (&bytes[..i], &bytes[i + 1..]),
                None => (bytes, &[][..]),
            };
            bytes = rest;
            let partial = &mut self.partial[stream as usize];
            if !partial.skipping {
                let room = longest.saturating_sub(partial.bytes.len());
                partial
                    .bytes
                    .extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    partial.skipping = true;
                    let line = std::mem::take(&mut partial.bytes);
                    self.line(stream, &line);
                }
            }
            if newline.is_some() {
                let partial = &mut self.partial[stream as usize];
                let line = std::mem::take(&mut partial.bytes);
                if !std::mem::take(&mut partial.skipping) {
                    self.line(stream, &line);
                }
            }
        }
    }

    /// One complete line of stdout or stderr.
    fn line(&mut self, stream: Stream, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        self.remember(text);
        let level = match stream {
            Stream::Stdout => Level::Info,
            Stream::Stderr => Level::Warn,
        };
        self.emit(level, text);
    }

    /// Keeps `text` among the last lines (a bounded copy, redacted later).
    fn remember(&mut self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        // Keep enough of a line to redact a secret at its end.
        let text = truncate(text, TAIL_BYTES / 2 + 256);
        self.tail_bytes += text.len();
        self.tail.push_back(text);
        while self.tail.len() > TAIL_LINES || self.tail_bytes > TAIL_BYTES + 512 {
            match self.tail.pop_front() {
                Some(old) => self.tail_bytes -= old.len(),
                None => break,
            }
        }
    }
}

/// A plugin's stdout or stderr: every write goes to its [`PluginLog`].
pub(crate) struct LogStream {
    log: PluginLog,
    stream: Stream,
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LogStream {
            log: self.log.clone(),
            stream: self.stream,
        })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LogStream {
            log: self.log.clone(),
            stream: self.stream,
        })
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl OutputStream for LogStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.log.write(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.log.write(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(secret: &str, max_lines: u32) -> PluginLog {
        let limits = Limits {
            max_log_lines_per_call: max_lines,
            max_message_bytes: 64,
            ..Limits::default()
        };
        PluginLog::new(
            "p".into(),
            Arc::new(Redactor::new([secret.to_string()])),
            &limits,
        )
    }

    #[test]
    fn splits_lines_across_writes_and_flushes_the_partial_one() {
        let log = log("s3cr3t-value", 100);
        log.write(Stream::Stderr, b"first li");
        log.write(Stream::Stderr, b"ne\r\nsecond s3cr3t-value\n\nthird");
        assert_eq!(log.tail().unwrap(), "first line | second [REDACTED]");
        log.finish();
        assert!(log.tail().unwrap().ends_with(" | third"));
    }

    #[test]
    fn over_the_cap_lines_are_dropped_but_the_tail_is_kept() {
        let log = log("s3cr3t-value", 2);
        log.log(Level::Info, "one");
        for i in 0..10 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        assert_eq!(log.dropped(), 9);
        let tail = log.tail().unwrap();
        assert!(
            tail.starts_with("line 5") && tail.ends_with("line 9"),
            "{tail}"
        );
    }

    #[test]
    fn long_lines_are_cut_and_the_tail_stays_bounded() {
        let log = log("s3cr3t-value", 1000);
        let long = vec![b'a'; 100_000];
        for _ in 0..20 {
            log.write(Stream::Stderr, &long);
            log.write(Stream::Stderr, b"\n");
        }
        let state = log.state();
        assert!(state.tail_bytes <= TAIL_BYTES + 512);
        assert!(state.tail.len() <= TAIL_LINES);
        assert_eq!(state.lines, 20);
        assert!(state.partial[1].bytes.is_empty() && !state.partial[1].skipping);
    }

    /// What reached `tracing`: level, target, `plugin` field, message.
    type Events = Arc<Mutex<Vec<(tracing::Level, String, String, String)>>>;

    struct Capture(Events);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            #[derive(Default)]
            struct Fields {
                plugin: String,
                message: String,
            }
            impl tracing::field::Visit for Fields {
                fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                    if field.name() == "plugin" {
                        self.plugin = value.to_string();
                    }
                }
                fn record_debug(
                    &mut self,
                    field: &tracing::field::Field,
                    value: &dyn std::fmt::Debug,
                ) {
                    if field.name() == "message" {
                        self.message = format!("{value:?}");
                    }
                }
            }
            let mut fields = Fields::default();
            event.record(&mut fields);
            let meta = event.metadata();
            self.0.lock().unwrap().push((
                *meta.level(),
                meta.target().to_string(),
                fields.plugin,
                fields.message,
            ));
        }
    }

    #[test]
    fn stdout_and_stderr_reach_the_plugin_log_target() {
        use tracing_subscriber::layer::SubscriberExt;
        let events = Events::default();
        let subscriber = tracing_subscriber::registry().with(Capture(events.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let log = log("s3cr3t-value", 100);
            let mut stdout = log.stream(Stream::Stdout).p2_stream();
            let mut stderr = log.stream(Stream::Stderr).p2_stream();
            stdout.write(Bytes::from_static(b"to stdout\n")).unwrap();
            stderr
                .write(Bytes::from_static(b"to stderr s3cr3t-value\nunfinished"))
                .unwrap();
            log.finish();
        });
        let events = events.lock().unwrap();
        let plugin_events: Vec<_> = events
            .iter()
            .map(|(level, target, plugin, message)| {
                (*level, target.as_str(), plugin.as_str(), message.as_str())
            })
            .collect();
        assert_eq!(
            plugin_events,
            [
                (tracing::Level::INFO, "wacme::plugin", "p", "to stdout"),
                (
                    tracing::Level::WARN,
                    "wacme::plugin",
                    "p",
                    "to stderr [REDACTED]"
                ),
                (tracing::Level::WARN, "wacme::plugin", "p", "unfinished"),
            ]
        );
    }
}
