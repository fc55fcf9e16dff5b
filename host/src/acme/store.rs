//! Account state on disk: one folder per CA under `<state>/accounts/`, named
//! after the directory URL, holding `account.key.pem` (PKCS#8, 0600) and
//! `account.json` (URL, contacts, key type, thumbprint — no secrets). Files
//! are written atomically; the key is written before anything refers to it.
//!
//! A key rollover (RFC 8555 §7.3.5) survives a crash at any point: the new
//! key is stored as `account.key.next.pem` before the CA is asked to switch;
//! once the CA has, `account.key.pem` is replaced, then `account.json`, then
//! the next key is removed. [`AccountStore::open`] finds an unfinished
//! rollover (a next key, or a key `account.json` does not name) and asks
//! the CA which key it holds: the rollover is finished with the next key
//! the CA accepts, or undone once the old key is confirmed (the unused next
//! key is kept aside as `account.key.unused-<time>.pem`). At every step a
//! file holds the key the CA accepts; when the CA cannot be asked, nothing
//! changes.

use super::account::Account;
use super::client::Client;
use super::error::{Error, Result};
use super::keys::{KeyType, PrivateKey};
use crate::fsx::{Mode, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

pub const KEY_FILE: &str = "account.key.pem";
pub const NEXT_KEY_FILE: &str = "account.key.next.pem";
pub const INFO_FILE: &str = "account.json";
/// Where a next key the CA did not take is kept aside: this prefix, the
/// Unix time, `.pem`.
pub const UNUSED_KEY_PREFIX: &str = "account.key.unused-";

/// A point inside a key rollover where [`AccountStore::change_key_until`]
/// stops, leaving the files as a crash there would (for tests).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloverCrashPoint {
    /// The next key is stored; `keyChange` is not sent.
    BeforeKeyChange,
    /// The CA holds the next key; nothing local has changed.
    AfterKeyChange,
    /// `account.key.pem` holds the next key; `account.json` names the old one.
    AfterKeyFile,
    /// `account.json` names the next key; `account.key.next.pem` is still there.
    AfterInfo,
}

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
        read_key(&self.dir_for(directory_url).join(KEY_FILE))
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

    /// The stored account for a CA, with its key, as on disk: an unfinished
    /// key rollover (see the module docs) is an error here; use
    /// [`AccountStore::open`] to settle it with the CA.
    pub fn load(&self, directory_url: &str) -> Result<Option<(StoredAccount, PrivateKey)>> {
        let dir = self.dir_for(directory_url);
        let Some(info) = read_info(&dir.join(INFO_FILE))? else {
            return Ok(None);
        };
        let key = self.required_key(directory_url)?;
        if key.thumbprint() != info.thumbprint {
            return Err(mismatch(&dir, false));
        }
        if self.load_next_key(directory_url)?.is_some() {
            return Err(Error::storage(
                dir.join(NEXT_KEY_FILE),
                std::io::Error::other(
                    "a key rollover is unfinished: use the account once to settle it with the CA",
                ),
            ));
        }
        Ok(Some((info, key)))
    }

    /// The stored account for a CA, or [`Error::NoAccount`].
    pub fn load_required(&self, directory_url: &str) -> Result<(StoredAccount, PrivateKey)> {
        self.load(directory_url)?
            .ok_or_else(|| self.no_account(directory_url))
    }

    /// `account.json` of a CA's account, without its key.
    pub fn load_info(&self, directory_url: &str) -> Result<Option<StoredAccount>> {
        read_info(&self.dir_for(directory_url).join(INFO_FILE))
    }

    /// The stored account for `client`'s CA with the key the CA holds now.
    /// An unfinished key rollover is settled first by asking the CA (see
    /// the module docs); otherwise nothing is sent.
    pub async fn open(&self, client: &Client) -> Result<Option<(StoredAccount, PrivateKey)>> {
        let directory_url = client.directory_url().as_str();
        let Some(info) = self.load_info(directory_url)? else {
            return Ok(None);
        };
        let key = self.required_key(directory_url)?;
        let next = self.load_next_key(directory_url)?;
        if next.is_none() && key.thumbprint() == info.thumbprint {
            return Ok(Some((info, key)));
        }
        self.settle(client, info, key, next).await.map(Some)
    }

    /// [`AccountStore::open`], or [`Error::NoAccount`].
    pub async fn open_required(&self, client: &Client) -> Result<(StoredAccount, PrivateKey)> {
        let directory_url = client.directory_url().as_str();
        self.open(client)
            .await?
            .ok_or_else(|| self.no_account(directory_url))
    }

    fn no_account(&self, directory_url: &str) -> Error {
        Error::NoAccount {
            directory: directory_url.to_owned(),
            accounts_dir: self.root.clone(),
        }
    }

    fn required_key(&self, directory_url: &str) -> Result<PrivateKey> {
        self.load_key(directory_url)?.ok_or_else(|| {
            Error::storage(
                self.dir_for(directory_url).join(KEY_FILE),
                std::io::Error::new(std::io::ErrorKind::NotFound, "the account key is missing"),
            )
        })
    }

    /// The next key of an unfinished rollover, if any.
    fn load_next_key(&self, directory_url: &str) -> Result<Option<PrivateKey>> {
        read_key(&self.dir_for(directory_url).join(NEXT_KEY_FILE))
    }

    /// Finishes or undoes an unfinished rollover by what the CA says: the
    /// next key when the CA holds it, else the key file's key once the CA
    /// confirms it. Nothing changes unless the CA answered.
    async fn settle(
        &self,
        client: &Client,
        info: StoredAccount,
        key: PrivateKey,
        next: Option<PrivateKey>,
    ) -> Result<(StoredAccount, PrivateKey)> {
        let dir = self.dir_for(&info.directory);
        if let Some(next) = next {
            if self.ca_holds(client, &info, &next, NEXT_KEY_FILE).await? {
                tracing::info!(
                    account = %info.url,
                    "finishing an interrupted account key rollover: the CA holds the new key"
                );
                let info = self
                    .switch_to(&info, &next, None)?
                    .expect("runs to the end");
                return Ok((info, next));
            }
            if !self.ca_holds(client, &info, &key, KEY_FILE).await? {
                return Err(Error::storage(
                    dir.join(KEY_FILE),
                    std::io::Error::other(format!(
                        "the CA accepts neither this key nor {NEXT_KEY_FILE} for the account {}",
                        info.url
                    )),
                ));
            }
            tracing::info!(
                account = %info.url,
                "undoing an interrupted account key rollover: the CA kept the old key"
            );
            let info = self.confirm(info, &key)?;
            self.set_aside_next_key(&dir)?;
            return Ok((info, key));
        }
        if !self.ca_holds(client, &info, &key, KEY_FILE).await? {
            return Err(mismatch(&dir, true));
        }
        tracing::info!(
            account = %info.url,
            "the CA holds the account key {KEY_FILE} has, not the one {INFO_FILE} named: updating it"
        );
        Ok((self.confirm(info, &key)?, key))
    }

    /// Whether the CA holds `key` for the account of `info` (false: it knows
    /// no account for the key). `file` names the key in errors.
    async fn ca_holds(
        &self,
        client: &Client,
        info: &StoredAccount,
        key: &PrivateKey,
        file: &str,
    ) -> Result<bool> {
        let Some(url) = client.account_url_of(key).await? else {
            return Ok(false);
        };
        if url::Url::parse(&info.url).is_ok_and(|stored| stored == url) {
            return Ok(true);
        }
        Err(Error::storage(
            self.dir_for(&info.directory).join(file),
            std::io::Error::other(format!(
                "the CA says this key belongs to the account {url}, not {}",
                info.url
            )),
        ))
    }

    /// `info` naming `key`, saved if it named another.
    fn confirm(&self, info: StoredAccount, key: &PrivateKey) -> Result<StoredAccount> {
        if info.thumbprint == key.thumbprint() && info.key_type == key.key_type() {
            return Ok(info);
        }
        let info = StoredAccount {
            key_type: key.key_type(),
            thumbprint: key.thumbprint(),
            ..info
        };
        self.save_info(&info)?;
        Ok(info)
    }

    /// Moves `account.key.next.pem` aside (it stays private: a rename).
    fn set_aside_next_key(&self, dir: &Path) -> Result<()> {
        let next = dir.join(NEXT_KEY_FILE);
        let stamp = OffsetDateTime::now_utc().unix_timestamp();
        let aside = dir.join(format!("{UNUSED_KEY_PREFIX}{stamp}.pem"));
        match std::fs::rename(&next, &aside) {
            Ok(()) => {
                crate::fsx::sync_dir(dir);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::storage(next, e)),
        }
    }

    /// The local half of a rollover the CA has done: the key file, then
    /// `account.json`, then removing the next key. `None` when stopped at
    /// `crash`.
    fn switch_to(
        &self,
        info: &StoredAccount,
        key: &PrivateKey,
        crash: Option<RolloverCrashPoint>,
    ) -> Result<Option<StoredAccount>> {
        self.save_key(&info.directory, key)?;
        if crash == Some(RolloverCrashPoint::AfterKeyFile) {
            return Ok(None);
        }
        let info = StoredAccount {
            key_type: key.key_type(),
            thumbprint: key.thumbprint(),
            ..info.clone()
        };
        self.save_info(&info)?;
        if crash == Some(RolloverCrashPoint::AfterInfo) {
            return Ok(None);
        }
        let dir = self.dir_for(&info.directory);
        let next = dir.join(NEXT_KEY_FILE);
        match std::fs::remove_file(&next) {
            Ok(()) => crate::fsx::sync_dir(&dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::storage(next, e)),
        }
        Ok(Some(info))
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
    /// it replaces `account.key.pem`, `account.json` is updated and the
    /// next key removed. Settle an unfinished rollover first
    /// ([`AccountStore::open`]): this one replaces its next key. When the
    /// CA's answer is lost, the next key stays for `open` to settle.
    pub async fn change_key(
        &self,
        info: &StoredAccount,
        account: &Account,
        new_key: PrivateKey,
    ) -> Result<(StoredAccount, Account)> {
        let done = self.change_key_until(info, account, new_key, None).await?;
        Ok(done.expect("runs to the end"))
    }

    /// [`AccountStore::change_key`], stopped at `crash` (then `None`) to
    /// leave the files as a crash there would.
    #[doc(hidden)]
    pub async fn change_key_until(
        &self,
        info: &StoredAccount,
        account: &Account,
        new_key: PrivateKey,
        crash: Option<RolloverCrashPoint>,
    ) -> Result<Option<(StoredAccount, Account)>> {
        if account.client().directory().key_change.is_none() {
            return Err(Error::Unsupported(
                "account key rollover (no keyChange URL)".into(),
            ));
        }
        let next = self.dir_for(&info.directory).join(NEXT_KEY_FILE);
        write_atomic(&next, new_key.to_pem().as_bytes(), Mode::Private)
            .map_err(|e| Error::storage(&next, e))?;
        if crash == Some(RolloverCrashPoint::BeforeKeyChange) {
            return Ok(None);
        }
        let account = account.change_key(new_key).await?;
        if crash == Some(RolloverCrashPoint::AfterKeyChange) {
            return Ok(None);
        }
        let Some(info) = self.switch_to(info, account.key(), crash)? else {
            return Ok(None);
        };
        Ok(Some((info, account)))
    }
}

/// The key file's key is not the one `account.json` names (and, when
/// `asked`, the CA does not hold it either).
fn mismatch(dir: &Path, asked: bool) -> Error {
    let why = if asked {
        ", and the CA knows no account for it"
    } else {
        ""
    };
    Error::storage(
        dir.join(KEY_FILE),
        std::io::Error::other(format!(
            "the key does not match the thumbprint in {INFO_FILE}{why}"
        )),
    )
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

/// A PEM key file, if it exists.
fn read_key(path: &std::path::Path) -> Result<Option<PrivateKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => PrivateKey::from_pem(&text)
            .map(Some)
            .map_err(|e| Error::storage(path, std::io::Error::other(e.to_string()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::storage(path, e)),
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

        // So is a key with an unfinished rollover next to it: only the CA
        // can tell which of the two it holds (`open` asks it).
        store.save_key(dir_url, &key).unwrap();
        assert!(store.load(dir_url).is_ok());
        let next = store.dir_for(dir_url).join(NEXT_KEY_FILE);
        let next_key = PrivateKey::generate(KeyType::EcP256).unwrap();
        std::fs::write(&next, next_key.to_pem()).unwrap();
        let err = store.load(dir_url).unwrap_err();
        assert!(err.to_string().contains("unfinished"), "{err}");
        assert_eq!(store.load_info(dir_url).unwrap(), Some(info));
    }
}
