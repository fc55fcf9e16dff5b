//! Attacks on the host's address policy: origins the plugin declares itself
//! (so only public addresses may be reached through them) and a mode that
//! tries a list of URLs and reports exactly what the host answered for each,
//! for tests that compare error texts (port scanning).

use wacme_plugin_sdk::{Error, Result};

/// The port of the static origins below; the host's tests serve it inside a
/// network namespace of their own.
pub const EVIL_PORT: u16 = 18443;

/// Origins the metadata declares besides `{target}`: the plugin's own
/// choice, not the operator's.
pub const DECLARED: &[&str] = &[
    "https://*.evil.test:18443",
    "https://[::ffff:127.0.0.1]:18443",
];

/// `http-each`: GETs every URL in `urls` (the TXT values of the call) with
/// the raw import. Any answer at all is a success of the attack (`Ok`);
/// otherwise the error lists one `<url> => <host's error>` line per URL, the
/// error exactly as the host returned it.
pub fn http_each(urls: &[String]) -> Result<()> {
    use wacme_plugin_sdk::bindings::wacme::dns::http as wit;
    let mut outcomes = Vec::new();
    for url in urls {
        let request = wit::Request {
            method: wit::Method::Get,
            url: url.clone(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        match wit::send(&request) {
            Ok(response) => {
                crate::report(&format!(
                    "http-each: {url} answered HTTP {}",
                    response.status
                ));
                return Ok(());
            }
            Err(e) => outcomes.push(format!("{url} => {e:?}")),
        }
    }
    Err(Error::Permanent(format!(
        "http-each: stopped by the sandbox:\n{}",
        outcomes.join("\n")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_origins_use_the_evil_port() {
        for origin in DECLARED {
            assert!(origin.ends_with(&format!(":{EVIL_PORT}")), "{origin}");
        }
    }
}
