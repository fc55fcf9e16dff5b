//! The workspace: everything wacme keeps on disk, and how one run claims it.
//!
//! - the state directory ([`Workspace::locate`]): `--state-dir` /
//!   `WACME_STATE_DIR`, else the config file's `defaults.state_dir`, else
//!   the platform data directory (`~/.local/share/wacme` on Linux);
//! - its lock ([`lock`]): one run that changes it at a time;
//! - the account store (`accounts/`, [`crate::acme::AccountStore`]), the
//!   certificate store ([`certs`]), the pending issuances (`pending-orders/`,
//!   [`pending`]: a finalized order whose certificate is not stored yet)
//!   and the cleanup journal (`journal/`, [`crate::dns01::journal`]);
//! - the config file ([`config`]): defaults and the certificates it names
//!   (a large one parsed in sections, `config_sections`).

pub mod certs;
pub mod config;
mod config_sections;
pub mod lock;
pub mod pending;

use crate::acme::AccountStore;
use crate::dns01::journal::Journal;
use crate::error::InputError;
use certs::CertStore;
use config::ConfigFile;
use lock::{LockError, StateLock};
use pending::PendingStore;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A state directory. Cheap to clone; opening it touches nothing on disk.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// The workspace at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Workspace {
        Workspace { root: root.into() }
    }

    /// The state directory to use: `explicit` (a flag or environment
    /// variable), else the config file's `defaults.state_dir`, else the
    /// platform data directory + `wacme`.
    pub fn locate(explicit: Option<&Path>, config: &ConfigFile) -> Result<Workspace, InputError> {
        if let Some(dir) = explicit {
            return Ok(Workspace::new(dir));
        }
        if let Some(dir) = &config.defaults.state_dir {
            return Ok(Workspace::new(dir));
        }
        directories::ProjectDirs::from("", "", "wacme")
            .map(|d| Workspace::new(d.data_dir()))
            .ok_or_else(|| {
                InputError("no home directory to keep state in: pass --state-dir".into())
            })
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the state directory's lock, waiting up to `wait` for another
    /// run to release it. Blocking: call it off the async executor (or in
    /// `block_in_place`).
    pub fn lock(&self, wait: Duration) -> Result<StateLock, LockError> {
        StateLock::acquire(&self.root, wait)
    }

    /// [`Workspace::lock`] from async code.
    pub fn lock_blocking_in_place(&self, wait: Duration) -> Result<StateLock, LockError> {
        tokio::task::block_in_place(|| self.lock(wait))
    }

    /// The ACME accounts, one per CA.
    pub fn accounts(&self) -> AccountStore {
        AccountStore::new(&self.root)
    }

    /// The stored certificates.
    pub fn certs(&self) -> CertStore {
        CertStore::new(&self.root)
    }

    /// The issuances finalized whose certificates are not stored yet.
    pub fn pending(&self) -> PendingStore {
        PendingStore::new(&self.root)
    }

    /// The error for a certificate name this workspace does not store.
    pub fn not_stored(&self, cert_name: &str) -> InputError {
        InputError(format!(
            "no stored certificate {cert_name:?} in {} (see `wacme certs list`)",
            self.root.display()
        ))
    }

    /// The cleanup journal of challenge records.
    pub fn journal(&self) -> Journal {
        Journal::new(&self.root)
    }
}
