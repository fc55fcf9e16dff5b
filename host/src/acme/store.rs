//! Account state on disk: one folder per CA under `<state>/accounts/`, named
//! after the directory URL, holding `account.key.pem` (PKCS#8, 0600) and
//! `account.json` (URL, contacts, key type, thumbprint — no secrets). Files
//! are written atomically; the key is written before anything refers to it,
//! and a key rollover keeps the new key on disk before the CA switches.

use super::account::Account;
use super::error::{Error, Result};
use super::keys::{KeyType, PrivateKey};
use crate::fsx::{Mode, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

pub const KEY_FILE: &str = "account.key.pem";
pub const NEXT_KEY_FILE: &str = "account.key.next.pem";
pub const INFO_FILE: &str = "account.json";

/// What is kept about an account besides its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAccount {
    /// The CA's directory URL.
    pub directory: String,
    /// The account URL (JWS `kid`).
    pub url: String,
    #[serde(default)]
    pub contact: Vec<String>,
    pub key_type: KeyType,
    /// RFC 7638 thumbprint of the account key.
    pub thumbprint: String,
    #[serde(default)]
    pub terms_of_service_agreed: bool,
    /// The External Account Binding key id used at registration (the MAC key
    /// is never stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab_kid: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The accounts under one state directory.
#[derive(Debug, Clone)]
pub struct AccountStore {
    root: PathBuf,
}

impl AccountStore {
    /// The store under `state_dir` (`<state_dir>/accounts`).
    pub fn new(state_dir: &Path) -> AccountStore {
        AccountStore {
            root: state_dir.join("accounts"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of the account for a directory URL:
    /// `https://acme-v02.api.letsencrypt.org/directory` →
    /// `accounts/acme-v02.api.letsencrypt.org_directory`.
    pub fn dir_for(&self, directory_url: &str) -> PathBuf {
        self.root.join(folder_name(directory_url))
    }

    /// The stored key for a CA, if any (possibly without `account.json`, when
    /// a registration was interrupted).
    pub fn load_key(&self, directory_url: &str) -> Result<Option<PrivateKey>> {
        let path = self.dir_for(directory_url).join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => PrivateKey::from_pem(&text)
                .map(Some)
                .map_err(|e| Error::storage(&path, std::io::Error::other(e.to_string()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::storage(path, e)),
        }
    }

    /// Writes the account key (0600). Call before registering, so a key the
    /// CA knows is never lost.
    pub fn save_key(&self, directory_url: &str, key: &PrivateKey) -> Result<PathBuf> {
        let path = self.dir_for(directory_url).join(KEY_FILE);
        write_atomic(&path, key.to_pem().as_bytes(), Mode::Private)
            .map_err(|e| Error::storage(&path, e))?;
        Ok(path)
    }

    /// Writes `account.json`.
    pub fn save_info(&self, info: &StoredAccount) -> Result<PathBuf> {
        let path = self.dir_for(&info.directory).join(INFO_FILE);
        let mut json = serde_json::to_vec_pretty(info).expect("serializes");
        json.push(b'\n');
        write_atomic(&path, &json, Mode::Public).map_err(|e| Error::storage(&path, e))?;
        Ok(path)
    }

    /// The stored account for a CA, with its key.
    pub fn load(&self, directory_url: &str) -> Result<Option<(StoredAccount, PrivateKey)>> {
        let dir = self.dir_for(directory_url);
        let Some(info) = read_info(&dir.join(INFO_FILE))? else {
            return Ok(None);
        };
        let Some(key) = self.load_key(directory_url)? else {
            return Err(Error::storage(
                dir.join(KEY_FILE),
                std::io::Error::new(std::io::ErrorKind::NotFound, "the account key is missing"),
            ));
        };
        if key.thumbprint() != info.thumbprint {
            return Err(Error::storage(
                dir.join(KEY_FILE),
                std::io::Error::other("the key does not match the thumbprint in account.json"),
            ));
        }
        Ok(Some((info, key)))
    }

    /// The stored account for a CA, or [`Error::NoAccount`].
    pub fn load_required(&self, directory_url: &str) -> Result<(StoredAccount, PrivateKey)> {
        self.load(directory_url)?.ok_or_else(|| Error::NoAccount {
            directory: directory_url.to_owned(),
            accounts_dir: self.root.clone(),
        })
    }

    /// Every stored account, sorted by directory URL.
    pub fn list(&self) -> Result<Vec<StoredAccount>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::storage(&self.root, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::storage(&self.root, e))?;
            if let Some(info) = read_info(&entry.path().join(INFO_FILE))? {
                out.push(info);
            }
        }
        out.sort_by(|a, b| a.directory.cmp(&b.directory));
        Ok(out)
    }

    /// Rolls `account` over to `new_key` safely: the new key is written to
    /// `account.key.next.pem` first, then the CA is asked to switch, then
    /// it replaces `account.key.pem` and `account.json` is updated.
    pub async fn change_key(
        &self,
        info: &StoredAccount,
        account: &Account,
        new_key: PrivateKey,
    ) -> Result<(StoredAccount, Account)> {
        let dir = self.dir_for(&info.directory);
        let next = dir.join(NEXT_KEY_FILE);
        write_atomic(&next, new_key.to_pem().as_bytes(), Mode::Private)
            .map_err(|e| Error::storage(&next, e))?;
        let account = account.change_key(new_key).await?;
        let current = dir.join(KEY_FILE);
        std::fs::rename(&next, &current).map_err(|e| Error::storage(&current, e))?;
        let info = StoredAccount {
            key_type: account.key().key_type(),
            thumbprint: account.thumbprint().to_owned(),
            ..info.clone()
        };
        self.save_info(&info)?;
        Ok((info, account))
    }
}

fn read_info(path: &Path) -> Result<Option<StoredAccount>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::storage(
                path,
                std::io::Error::other(format!("not a valid account file: {e}")),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::storage(path, e)),
    }
}

/// A folder name for a directory URL: host, port if given, path segments,
/// joined by `_`; anything but letters, digits, `.` and `-` becomes `-`.
fn folder_name(directory_url: &str) -> String {
    let mut parts = Vec::new();
    match url::Url::parse(directory_url.trim()) {
        Ok(url) => {
            parts.push(url.host_str().unwrap_or("unknown").to_owned());
            if let Some(port) = url.port() {
                parts.push(port.to_string());
            }
            parts.extend(
                url.path_segments()
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
        Err(_) => parts.push(directory_url.to_owned()),
    }
    let name: String = parts
        .join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('.').to_owned();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names() {
        assert_eq!(
            folder_name("https://acme-v02.api.letsencrypt.org/directory"),
            "acme-v02.api.letsencrypt.org_directory"
        );
        assert_eq!(
            folder_name("https://localhost:14000/dir"),
            "localhost_14000_dir"
        );
        assert_eq!(folder_name("https://[::1]:14000/dir"), "---1-_14000_dir");
        assert_eq!(folder_name("https://ca.example/a/../b/"), "ca.example_b");
        assert!(!folder_name("https://ca.example/..%2f..%2fetc").contains('/'));
    }

    #[test]
    fn save_load_list() {
        let tmp = tempfile::tempdir().unwrap();
        let store = AccountStore::new(tmp.path());
        let dir_url = "https://localhost:14000/dir";
        assert!(store.load(dir_url).unwrap().is_none());
        assert!(store.list().unwrap().is_empty());
        let missing = store.load_required(dir_url).unwrap_err();
        assert_eq!(missing.class(), crate::error::ErrorClass::State);
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let key_path = store.save_key(dir_url, &key).unwrap();
        // A key without account.json is not an account yet.
        assert!(store.load(dir_url).unwrap().is_none());
        assert_eq!(
            store.load_key(dir_url).unwrap().unwrap().thumbprint(),
            key.thumbprint()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let info = StoredAccount {
            directory: dir_url.into(),
            url: "https://localhost:14000/my-account/1".into(),
            contact: vec!["mailto:a@example.com".into()],
            key_type: key.key_type(),
            thumbprint: key.thumbprint(),
            terms_of_service_agreed: true,
            eab_kid: None,
            created_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        };
        store.save_info(&info).unwrap();
        let (loaded, loaded_key) = store.load(dir_url).unwrap().unwrap();
        assert_eq!(loaded, info);
        assert_eq!(loaded_key.thumbprint(), key.thumbprint());
        assert_eq!(store.list().unwrap(), vec![info.clone()]);
        let text = std::fs::read_to_string(store.dir_for(dir_url).join(INFO_FILE)).unwrap();
        assert!(!text.contains("PRIVATE"));

        // A key that does not match the stored thumbprint is refused.
        store
            .save_key(dir_url, &PrivateKey::generate(KeyType::EcP256).unwrap())
            .unwrap();
        assert!(matches!(store.load(dir_url), Err(Error::Storage { .. })));
    }
}
