//! The ACME layer's error type: what went wrong talking to the CA (a problem
//! document, the network, a malformed answer, a deadline) or with the input
//! and keys given to it, and the exit class of each.

use super::problem::Problem;
use crate::error::ErrorClass;
use std::path::PathBuf;
use std::time::Duration;

/// A result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A problem document the CA answered a request with.
#[derive(Debug, Clone)]
pub struct ProblemResponse {
    pub method: &'static str,
    pub url: String,
    /// HTTP status code of the response.
    pub status: u16,
    pub problem: Problem,
    /// The `Retry-After` the CA sent with it (e.g. with `rateLimited`).
    pub retry_after: Option<Duration>,
}

/// Everything the ACME client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The CA refused a request with a problem document.
    #[error(
        "the CA refused {} {} (HTTP {}): {}{}",
        .0.method, .0.url, .0.status, .0.problem,
        .0.retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default()
    )]
    Problem(Box<ProblemResponse>),

    /// The CA could not be reached, or the connection broke.
    #[error("cannot reach the CA: {method} {url}: {message}")]
    Transport {
        method: &'static str,
        url: String,
        message: String,
        /// False when the request certainly never reached the server
        /// (connection refused, DNS or TLS failure): then it is safe to repeat.
        maybe_sent: bool,
    },

    /// A request or a wait took longer than allowed.
    #[error("timed out after {}: {what}", humanize(*.after))]
    Timeout { what: String, after: Duration },

    /// The CA answered with something that is not what the protocol says:
    /// not JSON, an HTML error page, a truncated document, a missing header.
    #[error("unexpected answer from the CA to {method} {url} (HTTP {status}): {message}")]
    BadResponse {
        method: &'static str,
        url: String,
        status: u16,
        message: String,
    },

    /// The CA issued a certificate that is not the one ordered: for another
    /// key, or for other names.
    #[error("the CA issued a certificate ({url}) that does not match the order: {message}")]
    WrongCertificate { url: String, message: String },

    /// An order, authorization or challenge ended in a failed state.
    #[error("{what} is {status}{}", .problem.as_ref().map(|p| format!(": {p}")).unwrap_or_default())]
    Failed {
        what: String,
        status: String,
        problem: Option<Box<Problem>>,
    },

    /// The CA does not offer something that was asked for (ARI, profiles, …).
    #[error("the CA does not support {0}")]
    Unsupported(String),

    /// Bad input found before anything was sent: a name, a URL, an option.
    #[error("{0}")]
    Input(String),

    /// The CA gave a URL the client will not follow: not https (see
    /// [`crate::acme::Client`]). Nothing was sent to it.
    #[error(
        "the CA gave the URL {url}, which must use https (plain http is followed only for a local CA whose directory is on loopback); nothing was sent to it"
    )]
    InsecureUrl { url: String },

    /// A key or certificate that cannot be used.
    #[error("{0}")]
    Key(String),

    /// No account is stored for a CA.
    #[error("no account for {directory} in {}: register one first (wacme account register)", .accounts_dir.display())]
    NoAccount {
        directory: String,
        accounts_dir: PathBuf,
    },

    /// Reading or writing local account state failed.
    #[error("{}: {source}", .path.display())]
    Storage {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The class of this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Input(_) | Error::Key(_) => ErrorClass::Input,
            Error::Storage { .. } | Error::NoAccount { .. } => ErrorClass::State,
            _ => ErrorClass::Ca,
        }
    }

    /// The problem document, when the CA answered with one (directly or as
    /// the reason an order or authorization failed).
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Problem(p) => Some(&p.problem),
            Error::Failed { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }

    /// Whether the CA answered with the ACME error `short` (e.g. `"accountDoesNotExist"`).
    pub fn is_problem(&self, short: &str) -> bool {
        self.problem().is_some_and(|p| p.is(short))
    }

    pub(crate) fn storage(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Storage {
            path: path.into(),
            source,
        }
    }
}

fn humanize(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_exit_classes() {
        let e = Error::Problem(Box::new(ProblemResponse {
            method: "POST",
            url: "https://ca/new-order".into(),
            status: 429,
            problem: Problem::parse(
                br#"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"slow down"}"#,
            )
            .unwrap(),
            retry_after: Some(Duration::from_secs(60)),
        }));
        assert_eq!(
            e.to_string(),
            "the CA refused POST https://ca/new-order (HTTP 429): rateLimited: slow down (retry after 60s)"
        );
        assert!(e.is_problem("rateLimited"));
        assert_eq!(e.class(), ErrorClass::Ca);
        assert_eq!(Error::Input("x".into()).class(), ErrorClass::Input);
        let t = Error::Timeout {
            what: "waiting".into(),
            after: Duration::from_millis(1500),
        };
        assert_eq!(t.to_string(), "timed out after 1.5 s: waiting");
    }
}
