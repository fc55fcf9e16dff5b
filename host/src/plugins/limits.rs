//! The bounds a plugin runs under: time per call, memory, HTTP sizes and
//! counts, log volume; and the epoch tick that measures CPU deadlines.
//!
//! Memory is one budget per plugin instance (one store per call): the sum
//! of all its linear memories and all its tables, each table element
//! counted at [`TABLE_ELEMENT_BYTES`]. Time is one rule for every export,
//! `metadata` included: the plugin timeout, wall clock, per call.
//! The operator picks both within [`MEMORY_MIB`] and [`TIMEOUT_SECS`].

use std::ops::RangeInclusive;
use std::time::Duration;

/// Accepted values of `--plugin-memory`, in MiB.
pub const MEMORY_MIB: RangeInclusive<u64> = 1..=4096;
/// Accepted values of `--plugin-timeout`, in seconds.
pub const TIMEOUT_SECS: RangeInclusive<u64> = 1..=3600;
/// What one table element costs against the memory budget: a table holds
/// pointer-sized references (function tables) or two-word ones; 16 bytes
/// covers both.
pub const TABLE_ELEMENT_BYTES: usize = 16;
/// Core and component instances per plugin instance.
pub const MAX_INSTANCES: usize = 32;
/// Tables per plugin instance.
pub const MAX_TABLES: usize = 32;
/// Linear memories per plugin instance.
pub const MAX_MEMORIES: usize = 4;
/// Entries in a plugin instance's WASI resource table (streams, pollables…).
pub const MAX_WASI_RESOURCES: usize = 4096;

/// Checks a `--plugin-memory` value (MiB); the error does not name the
/// option.
pub fn check_memory_mib(mib: u64) -> Result<u64, String> {
    if MEMORY_MIB.contains(&mib) {
        Ok(mib)
    } else {
        Err(format!(
            "must be {} to {} MiB, not {mib}",
            MEMORY_MIB.start(),
            MEMORY_MIB.end()
        ))
    }
}

/// Checks a `--plugin-timeout` value (seconds); the error does not name the
/// option.
pub fn check_timeout_secs(secs: u64) -> Result<u64, String> {
    if TIMEOUT_SECS.contains(&secs) {
        Ok(secs)
    } else {
        Err(format!(
            "must be {} to {} seconds, not {secs}",
            TIMEOUT_SECS.start(),
            TIMEOUT_SECS.end()
        ))
    }
}

/// How often the epoch advances: the granularity of CPU deadlines.
pub const TICK: Duration = Duration::from_millis(10);

/// Bounds on what one plugin call may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The memory budget of one plugin instance: all its linear memories
    /// and tables together.
    pub memory_bytes: usize,
    /// Wall-clock time per call of any export (`metadata` at load,
    /// `present`, `cleanup`), instantiation included.
    pub call_timeout: Duration,
    /// Time per HTTP request (also bounded by what is left of the call).
    pub http_timeout: Duration,
    /// Largest HTTP response body.
    pub max_response_bytes: usize,
    /// Largest HTTP request body.
    pub max_request_bytes: usize,
    /// HTTP requests per call.
    pub max_requests_per_call: u32,
    /// Redirects followed per request.
    pub max_redirects: u32,
    /// Log lines per call: the `log` import and stdout/stderr lines together
    /// (further lines are dropped and counted, never an error for the plugin).
    pub max_log_lines_per_call: u32,
    /// Longest log line or error message shown.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(60),
            http_timeout: Duration::from_secs(30),
            max_response_bytes: 4 << 20,
            max_request_bytes: 1 << 20,
            max_requests_per_call: 1000,
            max_redirects: 5,
            max_log_lines_per_call: 1000,
            max_message_bytes: 4096,
        }
    }
}
