//! Stored certificates.
//!
//! ```text
//! <state>/certs/<name>  →  ../archive/<name>/<version>/   (a symlink)
//! <state>/archive/<name>/<version>/{cert,chain,fullchain,privkey}.pem, meta.json
//! ```
//!
//! A new certificate is written completely (keys 0600, directories 0700)
//! into a fresh version directory first; then one `rename` of a symlink
//! switches `certs/<name>` to it. A reader of `certs/<name>/…` therefore sees
//! either the old set or the new set, never a new key with an old
//! certificate, and a failed issuance never touches the working one. The
//! newest [`KEEP_VERSIONS`] versions are kept for rollback.

use crate::fsx::{Mode, create_private_dir, sync_dir, write_atomic, write_new};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// Marks a revoked version (see [`CertStore::mark_revoked`]).
const REVOKED_FILE: &str = "revoked.json";

/// Versions kept per certificate.
pub const KEEP_VERSIONS: usize = 5;

/// How a certificate was obtained: everything `renew` needs except secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertMeta {
    pub name: String,
    pub domains: Vec<String>,
    pub key_type: String,
    pub directory: String,
    pub account_url: String,
    /// The plugin as given (name or path) and the digest of what ran.
    pub plugin: String,
    pub plugin_sha256: String,
    /// Non-secret plugin config values; secret keys are resolved again.
    pub plugin_config: BTreeMap<String, String>,
    pub secret_keys: Vec<String>,
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// Anything else the issuing command wants to keep (propagation flags…).
    #[serde(default)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The PEM files of one issued certificate.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The leaf certificate.
    pub cert: String,
    /// The issuers, leaf excluded.
    pub chain: String,
    /// Private key, PKCS#8 PEM.
    pub key: String,
}

/// Paths of a stored certificate (through the `certs/<name>` link).
#[derive(Debug, Clone, Serialize)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub chain: PathBuf,
    pub fullchain: PathBuf,
    pub privkey: PathBuf,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "invalid certificate name {0:?}: use letters, digits, `.`, `_` and `-` (not starting with `.`)"
    )]
    BadName(String),
    #[error("{0} exists and is not managed by wacme (not a link into the archive); move it away")]
    Foreign(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks a certificate name (it becomes a directory name).
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadName(name.to_string()))
    }
}

/// The default certificate name: the first domain without a leading `*.`.
pub fn default_name(first_domain: &str) -> String {
    first_domain
        .strip_prefix("*.")
        .unwrap_or(first_domain)
        .to_string()
}

/// The certificate store of a state directory.
#[derive(Debug, Clone)]
pub struct CertStore {
    state: PathBuf,
}

impl CertStore {
    pub fn new(state_dir: &Path) -> Self {
        CertStore {
            state: state_dir.to_path_buf(),
        }
    }

    /// The state directory this store is in.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    fn link(&self, name: &str) -> PathBuf {
        self.state.join("certs").join(name)
    }

    fn archive(&self, name: &str) -> PathBuf {
        self.state.join("archive").join(name)
    }

    /// Paths of `name`'s files (whether or not it exists yet).
    pub fn paths(&self, name: &str) -> CertPaths {
        let dir = self.link(name);
        CertPaths {
            cert: dir.join("cert.pem"),
            chain: dir.join("chain.pem"),
            fullchain: dir.join("fullchain.pem"),
            privkey: dir.join("privkey.pem"),
        }
    }

    /// Stores a new version of `name` and makes it current.
    pub fn save(
        &self,
        name: &str,
        files: &CertFiles,
        meta: &CertMeta,
    ) -> Result<CertPaths, StoreError> {
        validate_name(name)?;
        let link = self.link(name);
        if let Ok(m) = std::fs::symlink_metadata(&link)
            && !m.file_type().is_symlink()
        {
            return Err(StoreError::Foreign(link));
        }
        let archive = self.archive(name);
        create_private_dir(&archive).map_err(io(&archive))?;
        create_private_dir(link.parent().unwrap()).map_err(io(link.parent().unwrap()))?;

        let stamp = meta.issued_at.unix_timestamp_nanos();
        let serial_tail: String = meta
            .serial
            .chars()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let version = format!("{stamp:020}-{serial_tail}");
        let dir = archive.join(&version);
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        // Not recursive: a version directory is always new.
        builder.create(&dir).map_err(io(&dir))?;
        let fullchain = format!("{}{}", ensure_newline(&files.cert), files.chain);
        for (file, data, mode) in [
            ("privkey.pem", files.key.as_str(), Mode::Private),
            ("cert.pem", files.cert.as_str(), Mode::Public),
            ("chain.pem", files.chain.as_str(), Mode::Public),
            ("fullchain.pem", fullchain.as_str(), Mode::Public),
        ] {
            let path = dir.join(file);
            write_new(&path, data.as_bytes(), mode).map_err(io(&path))?;
        }
        let meta_path = dir.join("meta.json");
        let json = serde_json::to_vec_pretty(meta).expect("meta serializes");
        write_new(&meta_path, &json, Mode::Private).map_err(io(&meta_path))?;
        // Nothing refers to the version yet: each file was synced as it was
        // written, the directory once now, then the link switches to it.
        sync_dir(&dir);

        // Switch the link in one rename.
        let target = Path::new("..").join("archive").join(name).join(&version);
        let tmp = link.with_file_name(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
        symlink(&target, &tmp).map_err(io(&tmp))?;
        if let Err(e) = std::fs::rename(&tmp, &link) {
            let _ = std::fs::remove_file(&tmp);
            return Err(StoreError::Io {
                path: link,
                source: e,
            });
        }
        if let Ok(d) = std::fs::File::open(link.parent().unwrap()) {
            let _ = d.sync_all();
        }
        self.prune(name, &version);
        Ok(self.paths(name))
    }

    /// Removes all but the newest [`KEEP_VERSIONS`] versions (never `current`).
    fn prune(&self, name: &str, current: &str) {
        let archive = self.archive(name);
        let Ok(entries) = std::fs::read_dir(&archive) else {
            return;
        };
        let mut versions: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        versions.sort();
        let excess = versions.len().saturating_sub(KEEP_VERSIONS);
        for old in versions.into_iter().take(excess).filter(|v| v != current) {
            if let Err(e) = std::fs::remove_dir_all(archive.join(&old)) {
                tracing::warn!("cannot prune {}: {e}", archive.join(old).display());
            }
        }
    }

    /// The current metadata of `name`, if stored.
    pub fn load_meta(&self, name: &str) -> Result<Option<CertMeta>, StoreError> {
        validate_name(name)?;
        let path = self.link(name).join("meta.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Io { path, source: e }),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path,
                reason: e.to_string(),
            })
    }

    /// Names of all stored certificates.
    pub fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.state.join("certs")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        names
    }

    /// The DER of `name`'s current leaf certificate.
    pub fn current_cert_der(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        validate_name(name)?;
        let path = self.link(name).join("cert.pem");
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let block = pem::parse(text.as_bytes()).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(block.into_contents())
    }

    /// Records that `name`'s current certificate was revoked (`revoked.json`
    /// beside it; a renewal makes a new version without one).
    pub fn mark_revoked(&self, name: &str, reason: &str) -> Result<(), StoreError> {
        validate_name(name)?;
        let path = self.link(name).join(REVOKED_FILE);
        let json = serde_json::json!({
            "reason": reason,
            "revoked_at": OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        });
        write_atomic(&path, json.to_string().as_bytes(), Mode::Public).map_err(io(&path))
    }

    /// Whether `name`'s current certificate was revoked by `wacme revoke`.
    pub fn is_revoked(&self, name: &str) -> bool {
        validate_name(name).is_ok() && self.link(name).join(REVOKED_FILE).exists()
    }

    /// Stored versions of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.archive(name)) else {
            return Vec::new();
        };
        let mut v: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        v
    }
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(serial: &str) -> CertMeta {
        CertMeta {
            name: "example.com".into(),
            domains: vec!["example.com".into()],
            key_type: "ec-p256".into(),
            directory: "https://ca.test/dir".into(),
            account_url: "https://ca.test/acct/1".into(),
            plugin: "pdns".into(),
            plugin_sha256: "00".into(),
            plugin_config: BTreeMap::new(),
            secret_keys: vec![],
            serial: serial.into(),
            not_before: OffsetDateTime::UNIX_EPOCH,
            not_after: OffsetDateTime::UNIX_EPOCH,
            issued_at: OffsetDateTime::now_utc(),
            extra: BTreeMap::new(),
        }
    }

    fn files(tag: &str) -> CertFiles {
        CertFiles {
            cert: format!("CERT {tag}\n"),
            chain: format!("CHAIN {tag}\n"),
            key: format!("KEY {tag}\n"),
        }
    }

    #[test]
    fn saves_switches_and_keeps_versions() {
        let state = tempfile::tempdir().unwrap();
        let store = CertStore::new(state.path());
        let paths = store
            .save("example.com", &files("one"), &meta("01"))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&paths.fullchain).unwrap(),
            "CERT one\nCHAIN one\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&paths.privkey)
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
            assert_eq!(
                std::fs::metadata(&paths.cert).unwrap().permissions().mode() & 0o777,
                0o644
            );
            let dir = std::fs::metadata(paths.privkey.parent().unwrap()).unwrap();
            assert_eq!(dir.permissions().mode() & 0o777, 0o700);
        }
        store
            .save("example.com", &files("two"), &meta("02"))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&paths.privkey).unwrap(),
            "KEY two\n"
        );
        assert_eq!(
            store.versions("example.com").len(),
            2,
            "the previous version stays"
        );
        assert_eq!(
            store.load_meta("example.com").unwrap().unwrap().serial,
            "02"
        );
        assert_eq!(store.names(), ["example.com"]);
        for i in 0..KEEP_VERSIONS + 2 {
            store
                .save(
                    "example.com",
                    &files(&i.to_string()),
                    &meta(&format!("1{i}")),
                )
                .unwrap();
        }
        assert_eq!(store.versions("example.com").len(), KEEP_VERSIONS);
    }

    #[test]
    fn refuses_bad_names_and_foreign_directories() {
        let state = tempfile::tempdir().unwrap();
        let store = CertStore::new(state.path());
        for bad in ["", "../x", "a/b", ".hidden", "sp ace"] {
            assert!(
                matches!(
                    store.save(bad, &files("x"), &meta("1")),
                    Err(StoreError::BadName(_))
                ),
                "{bad:?}"
            );
        }
        std::fs::create_dir_all(state.path().join("certs/mine")).unwrap();
        assert!(matches!(
            store.save("mine", &files("x"), &meta("1")),
            Err(StoreError::Foreign(_))
        ));
    }

    #[test]
    fn default_names_drop_the_wildcard() {
        assert_eq!(default_name("*.example.com"), "example.com");
        assert_eq!(default_name("www.example.com"), "www.example.com");
    }
}
