//! The plugin sandbox: loading DNS provider components and calling them
//! under strict limits.
//!
//! A plugin is a WebAssembly component exporting `wacme:dns/provider` at one
//! of [`WIT_VERSIONS`] (0.1.0 and 0.2.0; see the compatibility policy in the
//! README). It runs with an empty WASI context (no environment, no files, no
//! sockets; stdout and stderr go to the plugin's log), one memory budget per
//! instance (all memories and tables), a wall-clock deadline per call
//! (`metadata` included) enforced by epoch interruption plus an outer
//! timeout, and two ways out: the `http` import, which only reaches the
//! origins its metadata declares (after templating from config) and the
//! operator allows, and the `dns` import (0.2.0), which only reaches the
//! nameservers it declares ([`dns`]); of those only public addresses unless
//! the operator chose the origin or server. Standard `wasi:http`
//! (`outgoing-handler`) is the `http` import under another name: its
//! requests go through the same sender, under the same rules and budget
//! (`wasi_http`).
//!
//! - [`Runtime`]: one per process; owns the engine, the epoch ticker, the
//!   linker, the compile cache and the HTTP clients (see [`net`] for the
//!   address policy they apply).
//! - [`Plugin`]: a loaded, validated component with its metadata.
//! - [`Session`]: a plugin bound to a resolved config and allowlist; each
//!   `present`/`cleanup` runs in a fresh store.

pub mod batch;
mod bindings;
mod cache;
pub mod config;
pub mod discovery;
pub mod dns;
pub mod grants;
mod host;
pub mod limits;
pub mod metadata;
pub mod net;
mod output;
pub mod policy;
pub mod redact;
mod runtime;
mod since_v0_1;
mod store;
mod wasi_http;

pub use config::{ConfigError, ResolvedConfig};
pub use limits::Limits;
pub use metadata::{ConfigField, Hints, PluginMetadata};
pub use runtime::{
    BASELINE_MIN_BYTES, Compiler, FirstCompile, LoadTimes, NOTICE, Plugin, Runtime, RuntimeOptions,
    Session,
};

use crate::error::ErrorClass;
use std::time::Duration;

/// The latest WIT package version this host implements: what the SDK
/// builds against.
pub const WIT_VERSION: &str = "0.2.0";
/// Every WIT package version this host loads, oldest first.
pub const WIT_VERSIONS: &[&str] = &["0.1.0", WIT_VERSION];

/// All values one record name must carry (see `txt-set` in `wit/v0.2/dns.wit`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TxtSet {
    pub zone: String,
    pub fqdn: String,
    pub relative_name: String,
    pub values: Vec<String>,
    pub ttl: u32,
}

/// The kind of error a provider reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderErrorKind {
    InvalidConfig,
    Authentication,
    ZoneNotFound,
    RateLimited,
    Transient,
    Permanent,
}

/// An error a provider returned (its message already redacted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProviderError {
    pub kind: ProviderErrorKind,
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    /// Whether the same call may succeed if tried again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ProviderErrorKind::RateLimited | ProviderErrorKind::Transient
        )
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            ProviderErrorKind::InvalidConfig => "invalid config",
            ProviderErrorKind::Authentication => "authentication failed",
            ProviderErrorKind::ZoneNotFound => "zone not found",
            ProviderErrorKind::RateLimited => "rate limited",
            ProviderErrorKind::Transient => "temporary failure",
            ProviderErrorKind::Permanent => "failed",
        };
        write!(f, "{kind}: {}", self.message)?;
        if let Some(after) = self.retry_after {
            write!(f, " (retry after {} s)", after.as_secs())?;
        }
        Ok(())
    }
}

/// Which export was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Metadata,
    Present,
    Cleanup,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::Metadata => "metadata",
            Operation::Present => "present",
            Operation::Cleanup => "cleanup",
        })
    }
}

/// Everything that can go wrong loading or calling a plugin.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no plugin named `{name}` (looked in: {searched}); give a path to a .wasm file or --plugin-dir"
    )]
    NotFound { name: String, searched: String },
    #[error("cannot load plugin {origin}: {reason}")]
    Load { origin: String, reason: String },
    #[error("plugin {origin} has invalid metadata: {reason}")]
    Metadata { origin: String, reason: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("plugin `{plugin}`: {error}")]
    Policy {
        plugin: String,
        error: policy::PatternError,
    },
    #[error("plugin `{plugin}` {op} {error}")]
    Provider {
        plugin: String,
        op: Operation,
        error: ProviderError,
    },
    /// A trap, the memory budget, or a failure inside the sandbox;
    /// `reason` starts with its verb (`trapped: …`, `was stopped: …`,
    /// `failed: …`) and ends with what the plugin last wrote, if anything.
    #[error("plugin `{plugin}` {op} {reason}")]
    Trap {
        plugin: String,
        op: Operation,
        reason: String,
    },
    #[error("plugin `{plugin}` {op} did not finish within {limit:?}")]
    Timeout {
        plugin: String,
        op: Operation,
        limit: Duration,
    },
    #[error("plugin runtime: {0}")]
    Runtime(String),
    /// A plugin limit out of its range (`--plugin-memory`, `--plugin-timeout`).
    #[error("{0}")]
    Limit(String),
}

impl Error {
    /// The class of this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::NotFound { .. } | Error::Config(_) | Error::Policy { .. } | Error::Limit(_) => {
                ErrorClass::Input
            }
            Error::Provider { error, .. } if error.kind == ProviderErrorKind::InvalidConfig => {
                ErrorClass::Input
            }
            _ => ErrorClass::Plugin,
        }
    }

    /// The provider error, if the plugin returned one.
    pub fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            Error::Provider { error, .. } => Some(error),
            _ => None,
        }
    }
}
