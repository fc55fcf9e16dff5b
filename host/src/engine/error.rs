//! The engine's error: any failure of an operation, with its
//! [`ErrorClass`] found once, from the first classified error in its chain.

use crate::error::{ErrorClass, InputError};
use std::fmt;

/// A failed operation: what went wrong (with every cause) and its class.
pub struct Error {
    class: ErrorClass,
    inner: anyhow::Error,
}

impl Error {
    /// `err` as an engine error, classified.
    pub fn new(err: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::from(anyhow::Error::new(err))
    }

    /// The class of the failure.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The message and its causes on one line, each named once.
    pub fn describe(&self) -> String {
        crate::error::describe(&self.inner)
    }

    /// The causes below the top message, outermost first.
    pub fn causes(&self) -> Vec<String> {
        self.inner.chain().skip(1).map(|c| c.to_string()).collect()
    }

    /// The underlying error (to downcast to a layer's error type).
    pub fn inner(&self) -> &anyhow::Error {
        &self.inner
    }
}

impl From<anyhow::Error> for Error {
    fn from(inner: anyhow::Error) -> Error {
        Error {
            class: classify(&inner),
            inner,
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({:?})", self.inner, self.class)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// The class of `err`: that of the first error in its chain whose type
/// says (an [`Error`] already classified, an [`InputError`], or a layer's
/// error type), else [`ErrorClass::Other`].
pub fn classify(err: &anyhow::Error) -> ErrorClass {
    use crate::workspace::{certs::StoreError, config::ConfigFileError, lock::LockError};
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Error>() {
            return e.class;
        }
        if cause.is::<InputError>()
            || cause.is::<ConfigFileError>()
            || cause.is::<crate::plugins::ConfigError>()
        {
            return ErrorClass::Input;
        }
        if let Some(e) = cause.downcast_ref::<crate::plugins::Error>() {
            return e.class();
        }
        if let Some(e) = cause.downcast_ref::<crate::acme::Error>() {
            return e.class();
        }
        if let Some(e) = cause.downcast_ref::<crate::plugins::grants::GrantError>() {
            return e.class();
        }
        if let Some(e) = cause.downcast_ref::<super::issuance::IssueError>() {
            return e.class();
        }
        if let Some(e) = cause.downcast_ref::<crate::dns01::solver::SolveError>() {
            return e.class();
        }
        if cause.is::<LockError>() || cause.is::<StoreError>() {
            return ErrorClass::State;
        }
    }
    ErrorClass::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_classified_cause_wins() {
        let err = anyhow::Error::new(InputError("bad name".into())).context("issuing");
        assert_eq!(classify(&err), ErrorClass::Input);
        let typed = Error::from(anyhow::anyhow!("plain"));
        assert_eq!(typed.class(), ErrorClass::Other);
        let wrapped = anyhow::Error::new(Error::from(err)).context("renewing");
        assert_eq!(classify(&wrapped), ErrorClass::Input);
        assert_eq!(
            Error::from(wrapped).describe(),
            "renewing: issuing: bad name"
        );
    }
}
