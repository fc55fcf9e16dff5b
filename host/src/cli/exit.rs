//! Process exit codes: the table documented in README.md, and the one place
//! that maps a failure's [`ErrorClass`] to its code.

use crate::error::ErrorClass;
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
    /// DNS: zone not found, or records did not propagate in time; a
    /// dns-persist-01 record missing, for another account, expired or
    /// without `policy=wildcard` for a wildcard.
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
    /// The certificate was issued or renewed and stored, but the check
    /// after cleanup found challenge values left on a nameserver (the
    /// journal keeps them for `wacme cleanup`) or values the run did not
    /// publish removed; `wacme cleanup`: records are left. Takes precedence
    /// over [`Exit::Hook`].
    Residue = 13,
    /// Stopped by Ctrl-C or SIGTERM (after cleaning up).
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

impl From<ErrorClass> for Exit {
    fn from(class: ErrorClass) -> Exit {
        match class {
            ErrorClass::Input => Exit::Input,
            ErrorClass::Plugin => Exit::Plugin,
            ErrorClass::Ca => Exit::Ca,
            ErrorClass::Dns => Exit::Dns,
            ErrorClass::State => Exit::State,
            ErrorClass::Interrupted => Exit::Interrupted,
            ErrorClass::Other => Exit::Failure,
        }
    }
}

/// The exit code of `err`: that of the first classified error in its chain
/// ([`crate::engine::classify`]).
pub fn classify(err: &anyhow::Error) -> Exit {
    crate::engine::classify(err).into()
}
