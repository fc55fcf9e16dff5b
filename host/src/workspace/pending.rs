//! Pending issuances: what a run needs to collect a certificate the CA
//! issues (or has issued) after the run stopped.
//!
//! ```text
//! <state>/pending-orders/<name>.json   the order URL, what was ordered and
//!                                      the new certificate's key (0600)
//! ```
//!
//! Written just before an order is finalized, removed once the certificate
//! is stored ([`crate::workspace::certs`]). One file, written atomically
//! and synced, so a record always has its key. It holds no account key and
//! no provider secret: URLs, names, the key type and the certificate key.
//!
//! One file, not two in a directory of their own (the layout before:
//! `<state>/pending/<name>/{order.json,privkey.pem}`, still read and
//! removed): on ext4 every file created while many inodes were recently
//! deleted costs a scan of them, and a batch of certificates creates and
//! removes these at the rate it issues.

use super::certs::{CertStore, StoreError, validate_name};
use crate::fsx::{Mode, sync_dir, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Directory of the records (one `<name>.json` each).
const DIR: &str = "pending-orders";
/// Directory of the first layout: `<name>/{order.json,privkey.pem}`.
const LEGACY_DIR: &str = "pending";
const LEGACY_KEY_FILE: &str = "privkey.pem";
const LEGACY_RECORD_FILE: &str = "order.json";

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

/// The file: the record and the certificate key (PEM).
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    record: PendingRecord,
    private_key_pem: String,
}

/// The pending issuances of a state directory.
#[derive(Debug, Clone)]
pub struct PendingStore {
    dir: PathBuf,
    legacy: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(path: &Path, e: impl ToString) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The contents of `path`, or `None` when it does not exist.
fn read_if_any(path: &Path) -> Result<Option<String>, StoreError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Removes `path`; its absence is not an error.
fn remove_if_any(path: &Path, remove: fn(&Path) -> std::io::Result<()>) -> Result<(), StoreError> {
    match remove(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

impl PendingStore {
    pub fn new(state_dir: &Path) -> Self {
        PendingStore {
            dir: state_dir.join(DIR),
            legacy: state_dir.join(LEGACY_DIR),
        }
    }

    /// The pending issuances of the state directory of `certs`: the
    /// certificates finalized but not stored there yet.
    pub fn of(certs: &CertStore) -> Self {
        PendingStore::new(certs.state_dir())
    }

    /// The file holding the pending issuance of `name` (and its key).
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Records a pending issuance and its certificate key (PEM), replacing
    /// any earlier one of the same certificate name.
    pub fn save(&self, record: &PendingRecord, key_pem: &str) -> Result<(), StoreError> {
        validate_name(&record.cert_name)?;
        let path = self.path_of(&record.cert_name);
        let stored = Stored {
            record: record.clone(),
            private_key_pem: key_pem.to_string(),
        };
        let mut json = serde_json::to_vec_pretty(&stored).expect("a record serializes");
        json.push(b'\n');
        write_atomic(&path, &json, Mode::Private).map_err(io(&path))?;
        // A record of the first layout would be collected first: this one
        // replaces it.
        self.remove_legacy(&record.cert_name)
    }

    /// Whether a pending issuance of `name` is recorded.
    pub fn exists(&self, name: &str) -> bool {
        validate_name(name).is_ok()
            && (self.path_of(name).is_file()
                || self.legacy.join(name).join(LEGACY_RECORD_FILE).is_file())
    }

    /// The pending issuance of `name` and its key (PEM), if one is recorded.
    pub fn load(&self, name: &str) -> Result<Option<(PendingRecord, String)>, StoreError> {
        validate_name(name)?;
        let path = self.path_of(name);
        if let Some(text) = read_if_any(&path)? {
            let stored: Stored = serde_json::from_str(&text).map_err(|e| corrupt(&path, e))?;
            return Ok(Some((stored.record, stored.private_key_pem)));
        }
        let dir = self.legacy.join(name);
        let path = dir.join(LEGACY_RECORD_FILE);
        let Some(text) = read_if_any(&path)? else {
            return Ok(None);
        };
        let record: PendingRecord = serde_json::from_str(&text).map_err(|e| corrupt(&path, e))?;
        let key_path = dir.join(LEGACY_KEY_FILE);
        let key = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
        Ok(Some((record, key)))
    }

    /// Removes the pending issuance of `name` (and one of the first
    /// layout); nothing recorded is not an error.
    pub fn remove(&self, name: &str) -> Result<(), StoreError> {
        validate_name(name)?;
        let path = self.path_of(name);
        remove_if_any(&path, |p| std::fs::remove_file(p))?;
        self.remove_legacy(name)
    }

    /// Removes `pending/<name>/` of the first layout (record first, then
    /// its key), if there is one.
    fn remove_legacy(&self, name: &str) -> Result<(), StoreError> {
        let dir = self.legacy.join(name);
        if !dir.exists() {
            return Ok(());
        }
        for file in [LEGACY_RECORD_FILE, LEGACY_KEY_FILE] {
            remove_if_any(&dir.join(file), |p| std::fs::remove_file(p))?;
        }
        remove_if_any(&dir, |p| std::fs::remove_dir(p))?;
        sync_dir(&self.legacy);
        Ok(())
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
        // One file per pending issuance, private: no directory of its own.
        let path = store.path_of("a.example");
        assert_eq!(path, state.path().join("pending-orders/a.example.json"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let files: Vec<_> = std::fs::read_dir(state.path().join("pending-orders"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files, ["a.example.json"]);
        store.remove("a.example").unwrap();
        assert!(!path.exists());
        assert!(!store.exists("a.example"));
        store.remove("a.example").unwrap();
        assert!(store.load("../x").is_err());
    }

    /// A record of the first layout (`pending/<name>/`, left by an earlier
    /// version's run) is still collected, and removed with the new one.
    #[test]
    fn records_of_the_first_layout_are_read_and_removed() {
        let state = tempfile::tempdir().unwrap();
        let store = PendingStore::new(state.path());
        let dir = state.path().join("pending/old.example");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("privkey.pem"), "OLD KEY").unwrap();
        std::fs::write(
            dir.join("order.json"),
            serde_json::to_vec(&record("old.example")).unwrap(),
        )
        .unwrap();
        assert!(store.exists("old.example"));
        let (r, key) = store.load("old.example").unwrap().unwrap();
        assert_eq!(r, record("old.example"));
        assert_eq!(key, "OLD KEY");
        store.remove("old.example").unwrap();
        assert!(!dir.exists());
        assert!(!store.exists("old.example"));

        // A new record of the same name replaces the old one at once.
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("privkey.pem"), "OLD KEY").unwrap();
        std::fs::write(dir.join("order.json"), b"{}").unwrap();
        store.save(&record("old.example"), "NEW KEY").unwrap();
        assert!(!dir.exists());
        assert_eq!(store.load("old.example").unwrap().unwrap().1, "NEW KEY");
    }
}
