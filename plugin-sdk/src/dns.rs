//! DNS messages over the host's `dns` import.
//!
//! A provider builds the message (wire format, e.g. with `hickory-proto`),
//! signs it if its server wants TSIG, and hands it to [`exchange`]. The host
//! decides what may be reached: only the servers the provider's metadata
//! declares in `dns_servers` (after templating from config). It sends over
//! UDP, retransmits, switches to TCP for truncated answers and large
//! messages, and returns only a response matching the message's ID and
//! question.
//!
//! A refused exchange comes back as [`Error::Permanent`] naming the reason;
//! timeouts and connection failures as [`Error::Transient`].

use crate::bindings::wacme::dns::dns as wit;
use crate::{Error, Result};

/// Sends `message` to `server` (`host`, `host:port`, `[v6]:port`, as the
/// provider's `dns_servers` entry reads after templating) and returns the
/// response message.
pub fn exchange(server: &str, message: &[u8]) -> Result<Vec<u8>> {
    wit::exchange(server, message).map_err(|e| match e {
        wit::DnsError::Denied(m) => {
            Error::Permanent(format!("DNS exchange denied by the host: {m}"))
        }
        wit::DnsError::Timeout(m) => Error::Transient(format!("no answer from {server}: {m}")),
        wit::DnsError::Connection(m) if m == "connection failed" => {
            Error::Transient(format!("connection failed: {server}"))
        }
        wit::DnsError::Connection(m) => {
            Error::Transient(format!("connection failed: {server}: {m}"))
        }
        wit::DnsError::TooLarge(m) => Error::Permanent(format!("DNS message too large: {m}")),
    })
}
