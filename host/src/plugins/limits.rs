//! The bounds a plugin runs under: time per call, memory, HTTP sizes and
//! counts, log volume; and the epoch tick that measures CPU deadlines.

use std::time::Duration;

/// How often the epoch advances: the granularity of CPU deadlines.
pub const TICK: Duration = Duration::from_millis(10);

/// Bounds on what one plugin call may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Linear memory per store.
    pub memory_bytes: usize,
    /// Wall-clock time per `present`/`cleanup` call.
    pub call_timeout: Duration,
    /// Wall-clock time for the `metadata` call at load.
    pub metadata_timeout: Duration,
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
    /// Log lines per call (further lines are dropped, with one warning).
    pub max_log_lines_per_call: u32,
    /// Longest log line or error message shown.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(60),
            metadata_timeout: Duration::from_secs(5),
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
