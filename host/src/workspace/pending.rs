//! Pending issuances: what a run needs to collect a certificate the CA
//! issues (or has issued) after the run stopped.
//!
//! ```text
//! <state>/pending/<name>/privkey.pem   the new certificate's key (0600)
//! <state>/pending/<name>/order.json    the order URL and what was ordered
//! ```
//!
//! Written just before an order is finalized, removed once the certificate
//! is stored ([`crate::workspace::certs`]). The key is written first and
//! the record last (both atomically and synced), so a record that exists
//! always has its key. The record holds no account key and no provider
//! secret: only URLs, names and the key type.

use super::certs::{CertStore, StoreError, validate_name};
use crate::fsx::{Mode, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const KEY_FILE: &str = "privkey.pem";
const RECORD_FILE: &str = "order.json";

/// An order finalized (or about to be) whose certificate is not stored yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRecord {
    pub version: u32,
    pub cert_name: String,
    /// The order's URL at the CA.
    pub order_url: String,
    /// The CA's directory URL and the account that placed the order.
    pub directory: String,
    pub account_url: String,
    /// The names ordered, as requested.
    pub domains: Vec<String>,
    /// The key type of the certificate key (`ec256`, `rsa2048`, …).
    pub key_type: String,
    /// RFC 3339 time the record was written.
    pub created: String,
}

/// The pending issuances of a state directory.
#[derive(Debug, Clone)]
pub struct PendingStore {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl PendingStore {
    pub fn new(state_dir: &Path) -> Self {
        PendingStore {
            dir: state_dir.join("pending"),
        }
    }

    /// The pending issuances of the state directory of `certs`: the
    /// certificates finalized but not stored there yet.
    pub fn of(certs: &CertStore) -> Self {
        PendingStore::new(certs.state_dir())
    }

    /// The directory holding the pending issuance of `name`.
    pub fn dir_of(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Records a pending issuance and its certificate key (PEM), replacing
    /// any earlier one of the same certificate name.
    pub fn save(&self, record: &PendingRecord, key_pem: &str) -> Result<(), StoreError> {
        validate_name(&record.cert_name)?;
        let dir = self.dir_of(&record.cert_name);
        let key = dir.join(KEY_FILE);
        write_atomic(&key, key_pem.as_bytes(), Mode::Private).map_err(io(&key))?;
        let path = dir.join(RECORD_FILE);
        let mut json = serde_json::to_vec_pretty(record).expect("a record serializes");
        json.push(b'\n');
        write_atomic(&path, &json, Mode::Private).map_err(io(&path))
    }

    /// Whether a pending issuance of `name` is recorded.
    pub fn exists(&self, name: &str) -> bool {
        validate_name(name).is_ok() && self.dir_of(name).join(RECORD_FILE).is_file()
    }

    /// The pending issuance of `name` and its key (PEM), if one is recorded.
    pub fn load(&self, name: &str) -> Result<Option<(PendingRecord, String)>, StoreError> {
        validate_name(name)?;
        let dir = self.dir_of(name);
        let path = dir.join(RECORD_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let record: PendingRecord =
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let key_path = dir.join(KEY_FILE);
        let key = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
        Ok(Some((record, key)))
    }

    /// Removes the pending issuance of `name` (record first, then its key);
    /// nothing recorded is not an error.
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        validate_name(name)?;
        let dir = self.dir_of(name);
        for file in [RECORD_FILE, KEY_FILE] {
            let path = dir.join(file);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
        }
        match std::fs::remove_dir(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&dir)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> PendingRecord {
        PendingRecord {
            version: 1,
            cert_name: name.into(),
            order_url: "https://ca.example/order/1".into(),
            directory: "https://ca.example/dir".into(),
            account_url: "https://ca.example/acct/1".into(),
            domains: vec!["example.com".into()],
            key_type: "ec256".into(),
            created: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn save_load_remove() {
        let state = tempfile::tempdir().unwrap();
        let store = PendingStore::new(state.path());
        assert!(store.load("a.example").unwrap().is_none());
        assert!(!store.exists("a.example"));
        store.save(&record("a.example"), "KEY").unwrap();
        assert!(store.exists("a.example"));
        let (r, key) = store.load("a.example").unwrap().unwrap();
        assert_eq!(r, record("a.example"));
        assert_eq!(key, "KEY");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [KEY_FILE, RECORD_FILE] {
                let p = store.dir_of("a.example").join(f);
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{f}");
            }
        }
        store.remove("a.example").unwrap();
        assert!(!store.dir_of("a.example").exists());
        store.remove("a.example").unwrap();
        assert!(store.load("../x").is_err());
    }
}
