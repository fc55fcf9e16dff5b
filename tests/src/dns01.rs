//! The DNS-01 test bed: a real PowerDNS serving a zone, a real Pebble that
//! validates against it, and `wacme issue` run as a user runs it, through
//! the pdns WASM plugin. Also the checks every DNS-01 test makes afterwards
//! (no TXT value left, certificate valid for exactly the requested names, no
//! half-written files) and [`Local`], the state and plugin folders of a run
//! that needs no servers.

use crate::pdns::{Pdns, PdnsOptions};
use crate::pebble::{Pebble, PebbleOptions};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The zone every DNS-01 test issues for.
pub const ZONE: &str = "example.test";

/// A state directory, a home (cache, data) and a plugin folder holding the
/// pdns plugin: what `wacme` needs locally.
pub struct Local {
    pub state: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub plugin_dir: PathBuf,
}

impl Local {
    pub fn new() -> Local {
        let home = tempfile::tempdir().unwrap();
        let plugin_dir = home.path().join("plugins");
        std::fs::create_dir_all(&plugin_dir).unwrap();
        std::fs::copy(crate::plugin_wasm("pdns"), plugin_dir.join("pdns.wasm")).unwrap();
        Local {
            state: tempfile::tempdir().unwrap(),
            home,
            plugin_dir,
        }
    }

    /// `wacme` with this state, plugin dir and cache (no API key).
    pub fn wacme(&self) -> Command {
        let mut cmd = Command::new(crate::wacme_bin());
        cmd.env("WACME_STATE_DIR", self.state.path())
            .env("WACME_PLUGIN_DIR", &self.plugin_dir)
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env_remove("WACME_PDNS_API_KEY")
            .env_remove("PDNS_API_KEY");
        cmd
    }

    /// Files in the journal folder (entries of runs not cleaned up).
    pub fn journal_files(&self) -> Vec<PathBuf> {
        files_under(&self.state.path().join("journal"))
    }

    /// Every file under `certs/`.
    pub fn cert_files(&self) -> Vec<PathBuf> {
        files_under(&self.state.path().join("certs"))
    }
}

impl Default for Local {
    fn default() -> Self {
        Self::new()
    }
}

/// PowerDNS + Pebble + a state directory.
pub struct Bed {
    pub pdns: Pdns,
    pub pebble: Pebble,
    pub local: Local,
}

impl Bed {
    /// A bed, or `None` (with a loud message) where the servers are not
    /// installed outside CI.
    pub async fn start() -> Option<Bed> {
        Self::start_with(PdnsOptions::default(), PebbleOptions::new()).await
    }

    pub async fn start_with(pdns_options: PdnsOptions, pebble: PebbleOptions) -> Option<Bed> {
        Self::start_full(pdns_options, pebble, &[]).await
    }

    /// A bed whose zone has, besides `ns1.example.test` (this PowerDNS),
    /// the nameservers `more` (names in the zone get their address record).
    pub async fn start_full(
        pdns_options: PdnsOptions,
        pebble: PebbleOptions,
        more: &[(&str, IpAddr)],
    ) -> Option<Bed> {
        if !crate::pdns::available() || !crate::require_program("pebble") {
            return None;
        }
        let pdns = Pdns::start_with(pdns_options)
            .await
            .expect("start PowerDNS");
        let mut nameservers = vec![("ns1.example.test", pdns.dns_addr().ip())];
        nameservers.extend_from_slice(more);
        pdns.create_zone(ZONE, &nameservers)
            .await
            .expect("create zone");
        let pebble = Pebble::start(pebble.dns_server(pdns.dns_addr())).expect("start Pebble");
        Some(Bed {
            pdns,
            pebble,
            local: Local::new(),
        })
    }

    /// `wacme issue` with everything a test bed needs, plus `extra` args.
    pub fn issue_command(&self, domains: &[&str], extra: &[&str]) -> Command {
        self.issue_command_via(&self.pdns.api_url(), domains, extra)
    }

    /// [`Bed::issue_command`] with the plugin's `api_url` set to `api_url`
    /// (e.g. a [`crate::faulty::Faulty`] proxy in front of PowerDNS).
    pub fn issue_command_via(&self, api_url: &str, domains: &[&str], extra: &[&str]) -> Command {
        let mut cmd = self.wacme();
        cmd.arg("issue");
        for d in domains {
            cmd.args(["-d", d]);
        }
        cmd.args(["--dns", "pdns"])
            .args(["--dns-config", &format!("api_url={api_url}")]);
        self.bed_args(&mut cmd).args(extra);
        cmd
    }

    /// Adds what every issuance on this bed needs: Pebble (directory, its
    /// root, account contact and ToS), PowerDNS as resolver and the
    /// nameservers' port.
    pub fn bed_args<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.args(["--directory", &self.pebble.directory_url()])
            .arg("--ca-cert")
            .arg(self.pebble.ca_cert_path())
            .args(["--email", "admin@example.test", "--agree-tos"])
            .args(["--dns-resolver", &self.pdns.dns_addr().to_string()])
            .args(["--dns-port", &self.pdns.dns_addr().port().to_string()])
    }

    /// `wacme` with this bed's state, plugin dir, cache and API key.
    pub fn wacme(&self) -> Command {
        let mut cmd = self.local.wacme();
        cmd.env("WACME_PDNS_API_KEY", self.pdns.api_key());
        cmd
    }

    /// Runs `issue` and returns its output (not checked).
    pub fn issue(&self, domains: &[&str], extra: &[&str]) -> Output {
        self.issue_command(domains, extra)
            .output()
            .expect("run wacme")
    }

    /// The stored certificate directory of `name`.
    pub fn cert_dir(&self, name: &str) -> PathBuf {
        self.local.state.path().join("certs").join(name)
    }

    /// The state directory.
    pub fn state(&self) -> &Path {
        self.local.state.path()
    }

    /// Every TXT value left in any zone of the server (through the API, so
    /// nothing cached hides it), as `name "value"`. The test zones hold no
    /// TXT records of their own: whatever is found was left by a run.
    pub async fn leftover_challenges(&self) -> Vec<String> {
        let zones = self
            .pdns
            .api(reqwest::Method::GET, "/zones", None)
            .await
            .expect("list zones");
        let mut left = Vec::new();
        for zone in zones.as_array().into_iter().flatten() {
            let id = zone["name"].as_str().expect("zone name");
            let zone = self
                .pdns
                .api(reqwest::Method::GET, &format!("/zones/{id}"), None)
                .await
                .expect("read zone");
            for rrset in zone["rrsets"].as_array().into_iter().flatten() {
                let name = rrset["name"].as_str().unwrap_or_default();
                if rrset["type"] == "TXT" {
                    for r in rrset["records"].as_array().into_iter().flatten() {
                        left.push(format!(
                            "{name} {}",
                            r["content"].as_str().unwrap_or_default()
                        ));
                    }
                }
            }
        }
        left
    }

    /// Asserts that no TXT value is left in any zone.
    pub async fn assert_no_residue(&self) {
        let left = self.leftover_challenges().await;
        assert!(left.is_empty(), "TXT values left behind: {left:?}");
    }

    /// Asserts that a finished run left nothing behind: no TXT value, no
    /// half-written file, no journal entry.
    pub async fn assert_clean(&self) {
        self.assert_no_residue().await;
        assert!(
            temp_files(self.state()).is_empty(),
            "{:?}",
            temp_files(self.state())
        );
        assert!(
            self.local.journal_files().is_empty(),
            "{:?}",
            self.local.journal_files()
        );
    }

    /// Asserts that a failed run left nothing: [`Bed::assert_clean`] and no
    /// certificate file.
    pub async fn assert_failed_cleanly(&self) {
        self.assert_clean().await;
        assert!(
            self.local.cert_files().is_empty(),
            "{:?}",
            self.local.cert_files()
        );
    }

    /// Checks the stored certificate: verifies against Pebble's root and
    /// names exactly `domains`; the key is private.
    pub async fn check_certificate(&self, name: &str, domains: &[&str]) {
        let dir = self.cert_dir(name);
        let fullchain = std::fs::read_to_string(dir.join("fullchain.pem")).expect("fullchain.pem");
        let chain: Vec<Vec<u8>> = pem_blocks(&fullchain);
        let root = self.pebble.root_pem(0).await.expect("Pebble root");
        crate::pebble::verify_chain(&chain, &root).expect("chain verifies against Pebble's root");
        let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
        let mut sans: Vec<String> = leaf
            .subject_alternative_name()
            .unwrap()
            .map(|ext| {
                ext.value
                    .general_names
                    .iter()
                    .filter_map(|n| match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        sans.sort();
        let mut want: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
        want.sort();
        assert_eq!(
            sans, want,
            "the certificate names exactly the requested domains"
        );
        let key = dir.join("privkey.pem");
        assert!(
            std::fs::read_to_string(&key)
                .unwrap()
                .contains("PRIVATE KEY")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}

/// The DER of every PEM block in `text`.
pub fn pem_blocks(text: &str) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
        .map(|p| p.expect("valid PEM").contents)
        .collect()
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file (not folder) under `dir`; none when it does not exist.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(files_under(&p));
        } else {
            found.push(p);
        }
    }
    found
}

/// Files under `dir` whose names suggest a half-written write.
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".wacme-tmp-") || name.ends_with(".tmp") {
            found.push(p.clone());
        }
        if p.is_dir() && !e.file_type().is_ok_and(|t| t.is_symlink()) {
            found.extend(temp_files(&p));
        }
    }
    found
}
