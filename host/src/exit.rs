//! Process exit codes: one per failure class, documented in README.md.
//!
//! Every module's error type is classified here by walking an error's source
//! chain, so a failure deep in the ACME or plugin layer still ends the process
//! with the code of its class.

use std::process::ExitCode;

/// What kind of failure ended a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Success = 0,
    /// An unexpected failure (a bug, or an I/O error not classified below).
    Failure = 1,
    /// The command line could not be parsed (clap's own code).
    Usage = 2,
    /// Bad input found before any network call: a domain name, a config
    /// key or value, a missing required setting.
    Input = 3,
    /// A plugin could not be loaded, broke the sandbox's rules, or its
    /// provider reported an error.
    Plugin = 4,
    /// The ACME server refused or failed a request, or could not be reached.
    Ca = 5,
    /// DNS: zone not found, or records did not propagate in time.
    Dns = 6,
    /// Local state: the state directory, a lock, a stored file.
    State = 7,
    /// `wacme renew`: nothing was due, nothing failed.
    NothingDue = 10,
    /// `wacme renew` over several certificates: at least one failed (the
    /// others were renewed or not due; the output lists each).
    SomeFailed = 11,
    /// The certificate was issued or renewed and stored, but the deploy hook
    /// failed.
    Hook = 12,
    /// Stopped by Ctrl-C or SIGTERM (after cleaning up).
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

/// Marks an error as bad user input (exit code 3).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// `err` and its causes on one line (`outer: cause: root`), leaving out a
/// cause whose text the message already holds (errors that name their
/// source in their own message).
pub fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// The exit class of `err`: the first classified error in its chain.
pub fn classify(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if cause.is::<InputError>() {
            return Exit::Input;
        }
        if let Some(e) = cause.downcast_ref::<crate::plugins::Error>() {
            return e.exit();
        }
        if let Some(e) = cause.downcast_ref::<crate::acme::Error>() {
            return e.exit();
        }
        if let Some(e) = cause.downcast_ref::<crate::issuance::IssueError>() {
            return e.exit();
        }
        if let Some(e) = cause.downcast_ref::<crate::dns01::solver::SolveError>() {
            return e.exit();
        }
        if cause.is::<crate::config::ConfigFileError>() || cause.is::<crate::plugins::ConfigError>()
        {
            return Exit::Input;
        }
        if cause.is::<crate::lock::LockError>() {
            return Exit::State;
        }
        if cause.is::<crate::certs::StoreError>() {
            return Exit::State;
        }
    }
    Exit::Failure
}

#[cfg(test)]
mod describe_tests {
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
}
