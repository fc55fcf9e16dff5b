//! The cleanup journal: a record, written before anything is presented, of
//! which TXT values a run is about to publish through which plugin, so that a
//! run that crashes (or is killed) leaves nothing behind for long: the next
//! `wacme issue` or `wacme cleanup` removes those values.
//!
//! One file per run in `<state-dir>/journal/`, written atomically with mode
//! 0600 and held under an exclusive lock (`flock`) by its run for as long as
//! it lives. A file whose lock can be taken belongs to a run that is gone:
//! that is a stale entry to clean. Secret config values are never written;
//! they are resolved again (environment, `*_FILE`, config file) at cleanup.
//! Everything else needed to rebuild the plugin session is: the component's
//! path and hash, the plugin folders searched, the config file and the
//! certificate whose settings it used, and the DNS settings to check on the
//! nameservers that the records are gone.

use crate::fsx::create_private_dir;
use crate::plugins::TxtSet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What one run presents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Format version of this file.
    pub version: u32,
    /// The plugin as given (name or path).
    pub plugin: String,
    /// SHA-256 of the plugin component that presented the values.
    pub plugin_sha256: String,
    /// The component file that was loaded (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_path: Option<String>,
    /// The plugin folders the run searched (`--plugin-dir`, config).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugin_dirs: Vec<String>,
    /// The config file the run read (its `env:`/`file:` references give
    /// the secrets again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    /// The certificate whose config-file entry the run used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_name: Option<String>,
    /// Where to check that the records are gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<JournalDns>,
    /// Non-secret config values as resolved for the run.
    pub config: BTreeMap<String, String>,
    /// Keys of secret values, to be resolved again at cleanup.
    pub secret_keys: Vec<String>,
    /// Operator's `--plugin-allow` list.
    #[serde(default)]
    pub plugin_allow: Vec<String>,
    /// Every set the run may have presented.
    pub sets: Vec<JournalSet>,
    /// When the run started (RFC 3339).
    pub created: String,
    /// The run's process id (for messages).
    pub pid: u32,
}

/// The DNS settings of a run, for the check after a later cleanup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalDns {
    /// Recursive resolvers (`ip:port`).
    pub resolvers: Vec<String>,
    /// The nameservers' port.
    pub port: u16,
    /// The propagation mode (`authoritative`, …).
    pub propagation: String,
    /// Whether the run checked its cleanup on the nameservers (off for
    /// providers that cannot delete: a later cleanup trusts the plugin).
    #[serde(default = "yes")]
    pub cleanup_check: bool,
}

fn yes() -> bool {
    true
}

/// A [`TxtSet`] as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalSet {
    pub zone: String,
    pub fqdn: String,
    pub relative_name: String,
    pub values: Vec<String>,
    pub ttl: u32,
}

impl From<&TxtSet> for JournalSet {
    fn from(s: &TxtSet) -> Self {
        JournalSet {
            zone: s.zone.clone(),
            fqdn: s.fqdn.clone(),
            relative_name: s.relative_name.clone(),
            values: s.values.clone(),
            ttl: s.ttl,
        }
    }
}

impl From<&JournalSet> for TxtSet {
    fn from(s: &JournalSet) -> Self {
        TxtSet {
            zone: s.zone.clone(),
            fqdn: s.fqdn.clone(),
            relative_name: s.relative_name.clone(),
            values: s.values.clone(),
            ttl: s.ttl,
        }
    }
}

/// The journal directory of a state dir.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

/// A live run's entry: locked while held; [`Held::complete`] removes it.
#[derive(Debug)]
pub struct Held {
    path: PathBuf,
    _file: File,
}

/// An entry left by a run that is gone, locked by us while we clean it.
#[derive(Debug)]
pub struct Stale {
    pub path: PathBuf,
    pub entry: Entry,
    _file: File,
}

impl Journal {
    pub fn new(state_dir: &Path) -> Self {
        Journal {
            dir: state_dir.join("journal"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `entry` and holds it for this run.
    pub fn record(&self, entry: &Entry) -> std::io::Result<Held> {
        create_private_dir(&self.dir)?;
        let json = serde_json::to_vec_pretty(entry).map_err(std::io::Error::other)?;
        let mut builder = tempfile::Builder::new();
        builder.prefix(".run-").suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o600));
        }
        let mut tmp = builder.tempfile_in(&self.dir)?;
        // Lock before the file becomes visible under its final name, so no
        // cleaner can ever take it for stale.
        tmp.as_file().lock()?;
        tmp.write_all(&json)?;
        tmp.as_file().sync_all()?;
        let name = format!(
            "run-{}-{:016x}.json",
            std::process::id(),
            rand::random::<u64>()
        );
        let path = self.dir.join(name);
        let file = tmp.persist(&path).map_err(|e| e.error)?;
        Ok(Held { path, _file: file })
    }

    /// Entries whose runs are gone (their lock is free). Each is returned
    /// locked, so two cleaners never work on the same entry. Unreadable
    /// entries are reported by path and left in place.
    pub fn stale(&self) -> (Vec<Stale>, Vec<(PathBuf, String)>) {
        let mut stale = Vec::new();
        let mut broken = Vec::new();
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return (stale, broken);
        };
        let mut paths: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let Ok(file) = File::options().read(true).write(true).open(&path) else {
                continue;
            };
            if file.try_lock().is_err() {
                continue; // a live run holds it
            }
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Entry>(&b).map_err(|e| e.to_string()))
            {
                Ok(entry) => stale.push(Stale {
                    path,
                    entry,
                    _file: file,
                }),
                Err(reason) => broken.push((path, reason)),
            }
        }
        (stale, broken)
    }
}

impl Held {
    /// Everything was cleaned up: the entry is no longer needed.
    pub fn complete(self) -> std::io::Result<()> {
        std::fs::remove_file(&self.path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Stale {
    /// The stale entry was cleaned up.
    pub fn complete(self) -> std::io::Result<()> {
        std::fs::remove_file(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            version: 1,
            plugin: "pdns".into(),
            plugin_sha256: "ab".into(),
            plugin_path: Some("/usr/lib/wacme/plugins/pdns.wasm".into()),
            plugin_dirs: vec!["/etc/wacme/plugins".into()],
            config_file: Some("/etc/wacme/wacme.toml".into()),
            cert_name: Some("example.test".into()),
            dns: Some(JournalDns {
                resolvers: vec!["127.0.0.1:53".into()],
                port: 53,
                propagation: "authoritative".into(),
                cleanup_check: true,
            }),
            config: BTreeMap::from([("api_url".into(), "http://127.0.0.1:8081".into())]),
            secret_keys: vec!["api_key".into()],
            plugin_allow: vec![],
            sets: vec![JournalSet {
                zone: "example.test".into(),
                fqdn: "_acme-challenge.example.test".into(),
                relative_name: "_acme-challenge".into(),
                values: vec!["a".into(), "b".into()],
                ttl: 60,
            }],
            created: "2026-11-22T00:00:00Z".into(),
            pid: 1,
        }
    }

    #[test]
    fn live_entries_are_not_stale_and_dropped_ones_are() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        let held = journal.record(&entry()).unwrap();
        assert!(journal.stale().0.is_empty(), "a held entry is live");
        let path = held.path().to_path_buf();
        drop(held); // the run died without completing
        let (stale, broken) = journal.stale();
        assert!(broken.is_empty());
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].path, path);
        assert_eq!(stale[0].entry, entry());
        // While one cleaner holds it, another does not see it.
        assert!(journal.stale().0.is_empty());
        stale.into_iter().next().unwrap().complete().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn completed_entries_disappear_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        let held = journal.record(&entry()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(held.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let text = std::fs::read_to_string(held.path()).unwrap();
        assert!(text.contains("api_key") && text.contains("api_url"));
        held.complete().unwrap();
        assert_eq!(std::fs::read_dir(journal.dir()).unwrap().count(), 0);
    }

    #[test]
    fn entries_of_the_first_format_still_read() {
        let v1 = r#"{"version":1,"plugin":"pdns","plugin_sha256":"ab","config":{},
            "secret_keys":["api_key"],"sets":[],"created":"2026-11-22T00:00:00Z","pid":7}"#;
        let entry: Entry = serde_json::from_str(v1).unwrap();
        assert_eq!(entry.plugin_path, None);
        assert!(entry.plugin_dirs.is_empty() && entry.dns.is_none());
    }

    #[test]
    fn broken_entries_are_reported_not_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        create_private_dir(journal.dir()).unwrap();
        let bad = journal.dir().join("run-1-x.json");
        std::fs::write(&bad, b"{not json").unwrap();
        let (stale, broken) = journal.stale();
        assert!(stale.is_empty());
        assert_eq!(broken.len(), 1);
        assert!(bad.exists());
    }
}
