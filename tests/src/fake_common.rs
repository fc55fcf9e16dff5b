//! Small pieces every fake provider API needs alike, whatever its wire
//! format: the log of the requests it was sent ([`RequestLog`]), the
//! server clock the signature-checking fakes can move ([`Clock`]), and the
//! step between absolute names and names relative to a zone
//! ([`join_name`], [`split_name`]), and `or_answer!` for the handler checks
//! whose error is already the provider's answer.
//! Provider behaviour (URLs, auth, error bodies) stays in each `fake_*`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::fake_store::zone_of;

/// One line per request (`METHOD path`, or whatever the fake logs), in order.
#[derive(Default)]
pub struct RequestLog(Mutex<Vec<String>>);

impl RequestLog {
    pub fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }

    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// How many requests start with `prefix` (e.g. `"PUT "`).
    pub fn count(&self, prefix: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }
}

/// The fake server's clock: the system clock moved by an offset, so tests
/// can put client and server out of step.
#[derive(Default)]
pub struct Clock(AtomicI64);

impl Clock {
    /// Moves the clock by `secs` from the system clock.
    pub fn set_offset(&self, secs: i64) {
        self.0.store(secs, Ordering::SeqCst);
    }

    /// The current offset in seconds.
    pub fn offset(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Unix seconds, as the server sees them.
    pub fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + self.offset()
    }
}

/// The absolute name of `relative` in `zone`, where `apex` (`"@"` or `""`,
/// as the API writes it) stands for the zone itself. Case is kept.
pub fn join_name(relative: &str, apex: &str, zone: &str) -> String {
    if relative == apex {
        zone.to_string()
    } else {
        format!("{relative}.{zone}")
    }
}

/// A name a test writes as another client would: `fqdn` in lower case
/// without a trailing dot, the zone of `zones` holding it, and the name
/// relative to that zone (`apex` at the apex). Panics when no zone holds it.
pub fn split_name(zones: &[String], fqdn: &str, apex: &str) -> (String, String, String) {
    let fqdn = fqdn.trim_end_matches('.').to_ascii_lowercase();
    let zone = zone_of(zones, &fqdn).expect("name in a zone").clone();
    let relative = match fqdn.strip_suffix(&format!(".{zone}")) {
        Some(r) => r.to_string(),
        None => apex.to_string(),
    };
    (fqdn, zone, relative)
}

/// The `Ok` value of a check whose `Err` is the finished error response;
/// on `Err`, returns that response from the handler.
macro_rules! or_answer {
    ($check:expr) => {
        match $check {
            Ok(value) => value,
            Err(response) => return response,
        }
    };
}
pub(crate) use or_answer;
