//! What kind of failure something is, independent of how a program reports
//! it: every layer's error type says which [`ErrorClass`] it belongs to, and
//! the command line maps classes to exit codes at its edge (`cli::exit`).
//!
//! Also the one formatter of error chains ([`chain`], [`describe`]) and the
//! marker for bad input ([`InputError`]).

/// The class of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// Bad input found before any network call: a domain name, a config
    /// key or value, a missing required setting.
    Input,
    /// A plugin could not be loaded, broke the sandbox's rules, or its
    /// provider reported an error.
    Plugin,
    /// The ACME server refused or failed a request, or could not be reached.
    Ca,
    /// DNS: zone not found, or records did not propagate in time; a
    /// dns-persist-01 record that does not authorize the account.
    Dns,
    /// Local state: the state directory, a lock, a stored file.
    State,
    /// Stopped by a signal (after cleaning up).
    Interrupted,
    /// Anything else (a bug, or an I/O error not classified otherwise).
    Other,
}

/// Marks an error as bad user input ([`ErrorClass::Input`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// An error and its causes on one line (`outer: cause: root`), leaving out
/// a cause whose text an earlier part already holds (errors that name their
/// source in their own message), and the bare preambles HTTP clients put in
/// front of the useful part ("error sending request for url (…)").
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        let preamble = text.starts_with("error sending request")
            || text.starts_with("error decoding response body")
            || text.starts_with("request or response body error")
            || text == "client error (Connect)"
            || text == "client error (SendRequest)";
        if !preamble && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}

/// [`chain`] of an `anyhow` error (its context layers included).
pub fn describe(err: &anyhow::Error) -> String {
    chain(err.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("publishing x: {source}")]
        struct Outer {
            source: std::io::Error,
        }
        let err = anyhow::Error::new(Outer {
            source: std::io::Error::other("HTTP 500"),
        })
        .context("issuing example");
        assert_eq!(describe(&err), "issuing example: publishing x: HTTP 500");
    }

    #[test]
    fn chain_drops_http_client_preambles() {
        #[derive(Debug, thiserror::Error)]
        #[error("error sending request for url (https://x/)")]
        struct Sending {
            source: std::io::Error,
        }
        let err = Sending {
            source: std::io::Error::other("connection refused"),
        };
        assert_eq!(chain(&err), "connection refused");
    }
}
