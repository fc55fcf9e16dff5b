//! Attacks on the host's `dns` import: servers the plugin declares itself
//! (so only public addresses may be reached through them), a server from a
//! config default (the plugin's choice too), and a mode that sends one query
//! to each server of a list and reports exactly what the host answered.

use wacme_plugin_sdk::{Error, Result};

/// Servers the metadata declares besides `{dns_server}`: the plugin's own
/// choice, not the operator's. The name is pinned by the host's tests.
pub const DECLARED: &[&str] = &["ns.evil.test:5300", "127.0.0.1:5300"];

/// The default of `dns_server`: a loopback server the operator never chose.
pub const DEFAULT_SERVER: &str = "127.0.0.2:5300";

/// A query for `example.test. TXT` with ID `id` (RFC 1035 wire format).
pub fn query(id: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in ["example", "test"] {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 16, 0, 1]);
    m
}

/// `dns-each`: sends garbage bytes to the first server of `servers` (the
/// TXT values of the call), then [`query`] to each, with the raw import, and
/// reports every outcome: the error lists `garbage => <outcome>`, then one
/// `<server> => <outcome>` line per server, where an outcome is the host's
/// error exactly as returned, or `answered <n> bytes`. It never returns `Ok`:
/// the tests read the lines.
pub fn dns_each(servers: &[String]) -> Result<()> {
    use wacme_plugin_sdk::bindings::wacme::dns::dns as wit;
    let outcome = |server: &str, message: &[u8]| match wit::exchange(server, message) {
        Ok(answer) => {
            crate::report(&format!("dns-each: {server} answered"));
            format!("answered {} bytes", answer.len())
        }
        Err(e) => format!("{e:?}"),
    };
    let mut outcomes = Vec::new();
    if let Some(first) = servers.first() {
        outcomes.push(format!(
            "garbage => {}",
            outcome(first, b"not a dns message")
        ));
    }
    for (i, server) in servers.iter().enumerate() {
        let line = outcome(server, &query(0x4a00 + i as u16));
        outcomes.push(format!("{server} => {line}"));
    }
    Err(Error::Permanent(format!(
        "dns-each: stopped by the sandbox:\n{}",
        outcomes.join("\n")
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_query_is_well_formed() {
        let q = super::query(7);
        assert_eq!(&q[..2], &[0, 7]);
        assert_eq!(q.len(), 12 + 14 + 4);
    }
}
