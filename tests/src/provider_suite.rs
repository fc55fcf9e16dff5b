//! The battery every DNS provider plugin is held to, as `wacme` users run it:
//! the conformance suite (`wacme plugin test`) against the provider's fake,
//! then `wacme issue -d example.test -d '*.example.test'` against Pebble with
//! the fake mirroring into PowerDNS — cleanly, next to a value another client
//! put on the challenge name, with a wrong credential, and with the fake
//! answering its first writes "429 Too Many Requests".
//!
//! A provider's test file describes the provider once, as a [`Case`] (plugin
//! name, `--dns-config` pairs, credentials in the environment, the secrets
//! that must never be printed, the reason the API gives for a bad
//! credential), and its fake implements [`Fake`] (in `src/fake_<name>.rs`,
//! embedding a [`Throttle`]):
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn foreign_value_survives() {
//!     let Some(bed) = Bed::start().await else { return };
//!     let fake = FakeExample::start(&bed.pdns, ExampleOptions::new(TOKEN, &[ZONE])).await;
//!     provider_suite::foreign_value_kept(&bed, &case(&fake), &fake).await;
//! }
//! ```
//!
//! Every `wacme` run here is a child process awaited without blocking the
//! runtime, so the fake keeps answering meanwhile.

use std::future::Future;
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::response::Response;

use crate::dns01::{Bed, ZONE, show};
use crate::pdns::{self, Pdns};

/// The challenge name apex and wildcard of [`ZONE`] share.
pub const CHALLENGE: &str = "_acme-challenge.example.test";
/// The wildcard issued next to [`ZONE`].
pub const WILDCARD: &str = "*.example.test";
/// The value [`foreign_value_kept`] puts on [`CHALLENGE`] beforehand.
pub const FOREIGN_VALUE: &str = "foreign-value-from-another-client";

/// One provider as the battery runs it.
#[derive(Debug, Clone, Default)]
pub struct Case {
    /// Plugin name: `--dns <plugin>`, and the crate `wacme-plugin-<plugin>`.
    pub plugin: String,
    /// `--dns-config key=value` pairs, including the fake's endpoint.
    pub config: Vec<(String, String)>,
    /// Environment that authenticates (secrets go through the environment).
    pub env: Vec<(String, String)>,
    /// Environment entries that replace (same name) or extend [`Case::env`]
    /// for [`wrong_credential`].
    pub wrong_env: Vec<(String, String)>,
    /// Strings that must appear in no output: every secret value, right or
    /// wrong. (A [`Case::wrong_env`] value replacing a secret of
    /// [`Case::env`] counts as one without being listed.)
    pub secrets: Vec<String>,
    /// Text of the provider's answer to a wrong credential that stderr must
    /// show (e.g. its error code or message).
    pub auth_reason: String,
    /// Extra `wacme issue` arguments every issuance of the case needs.
    pub issue_args: Vec<String>,
}

impl Case {
    pub fn new(plugin: &str) -> Case {
        Case {
            plugin: plugin.into(),
            ..Case::default()
        }
    }

    /// Adds `--dns-config key=value`.
    pub fn config(mut self, key: &str, value: &str) -> Case {
        self.config.push((key.into(), value.into()));
        self
    }

    /// Adds a non-secret environment variable to the authenticating env.
    pub fn env(mut self, key: &str, value: &str) -> Case {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds a secret environment variable (the value is also a secret).
    pub fn secret_env(mut self, key: &str, value: &str) -> Case {
        self.secrets.push(value.into());
        self.env(key, value)
    }

    /// Replaces (or adds) `key` with `value` for the wrong-credential run.
    pub fn wrong_env(mut self, key: &str, value: &str) -> Case {
        self.wrong_env.push((key.into(), value.into()));
        self
    }

    /// Adds a string that must never be printed.
    pub fn secret(mut self, value: &str) -> Case {
        self.secrets.push(value.into());
        self
    }

    /// The provider's reason for rejecting a wrong credential.
    pub fn auth_reason(mut self, text: &str) -> Case {
        self.auth_reason = text.into();
        self
    }

    /// `key=value` arguments of `--dns-config`.
    pub fn config_args(&self) -> Vec<String> {
        self.config
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// [`Case::env`] with [`Case::wrong_env`] applied.
    pub fn wrong_credential_env(&self) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        for (k, v) in &self.wrong_env {
            match env.iter_mut().find(|(key, _)| key == k) {
                Some(entry) => entry.1 = v.clone(),
                None => env.push((k.clone(), v.clone())),
            }
        }
        env
    }

    /// Every string that must appear in no output: [`Case::secrets`] and the
    /// wrong values standing in for them.
    pub fn all_secrets(&self) -> Vec<String> {
        let mut all = self.secrets.clone();
        for (k, v) in &self.wrong_env {
            let replaces_secret = self
                .env
                .iter()
                .any(|(key, value)| key == k && self.secrets.contains(value));
            if replaces_secret && !all.contains(v) {
                all.push(v.clone());
            }
        }
        all.retain(|s| !s.is_empty());
        all
    }
}

/// What the battery needs from a provider's fake API. Implement it in the
/// fake's own module (`src/fake_<name>.rs`).
pub trait Fake: Sync {
    /// The switch that answers the next writes with the provider's 429.
    fn throttle(&self) -> &Throttle;

    /// Adds the TXT value `value` (bare) at `fqdn` as another client of the
    /// same account would: listed by the API like any record, and mirrored
    /// into PowerDNS.
    fn add_foreign(&self, fqdn: &str, value: &str) -> impl Future<Output = ()> + Send;

    /// Every TXT record the fake holds, as `(fqdn, bare value)`.
    fn txt_records(&self) -> impl Future<Output = Vec<(String, String)>> + Send;
}

/// Answers the next N write requests of a fake with the provider's
/// rate-limit response (`Retry-After: 1` added), and counts those served.
///
/// In a write handler, after the credential check:
///
/// ```ignore
/// if let Some(r) = inner.throttle.intercept(|| failure(StatusCode::TOO_MANY_REQUESTS, "…")) {
///     return r;
/// }
/// ```
#[derive(Debug, Default)]
pub struct Throttle {
    pending: AtomicU32,
    served: AtomicU32,
}

impl Throttle {
    pub fn new() -> Throttle {
        Throttle::default()
    }

    /// The next `n` writes are refused (replaces what was still pending).
    pub fn next(&self, n: u32) {
        self.pending.store(n, Ordering::SeqCst);
    }

    /// Whether this write is to be refused; counts it when it is.
    pub fn take(&self) -> bool {
        let hit = self
            .pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if hit {
            self.served.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }

    /// `Some(response())` with `Retry-After: 1` (unless `response` set one)
    /// when this write is to be refused, else `None`.
    pub fn intercept(&self, response: impl FnOnce() -> Response) -> Option<Response> {
        if !self.take() {
            return None;
        }
        let mut r = response();
        if !r.headers().contains_key("retry-after") {
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        Some(r)
    }

    /// Refusals served so far.
    pub fn served(&self) -> u32 {
        self.served.load(Ordering::SeqCst)
    }

    /// Refusals still to serve.
    pub fn pending(&self) -> u32 {
        self.pending.load(Ordering::SeqCst)
    }
}

/// A PowerDNS serving [`ZONE`] (with `ns1.example.test` on itself), or
/// `None` (loudly) where PowerDNS is not installed outside CI.
pub async fn pdns_with_zone() -> Option<Pdns> {
    if !pdns::available() {
        return None;
    }
    let pdns = Pdns::start().await.expect("start PowerDNS");
    pdns.create_zone(ZONE, &[("ns1.example.test", "127.0.0.1".parse().unwrap())])
        .await
        .expect("create zone");
    Some(pdns)
}

/// The conformance cases `wacme plugin test` runs.
pub const CONFORMANCE_CASES: [&str; 9] = [
    "metadata",
    "present-one",
    "present-second",
    "present-again",
    "cleanup-one",
    "cleanup-again",
    "cleanup-last",
    "deep-name",
    "unowned-zone",
];

/// `wacme plugin test <component> --zone example.test` with the case's
/// config and environment, checked through `pdns`, JSON output; not checked.
pub async fn conformance_output(pdns: &Pdns, case: &Case) -> Output {
    let mut cmd = std::process::Command::new(crate::wacme_bin());
    cmd.args(["plugin", "test"])
        .arg(crate::plugin_wasm(&case.plugin))
        .args(["--zone", ZONE, "--no-plugin-cache", "--output", "json"])
        .args(["--dns-resolver", &pdns.dns_addr().to_string()])
        .args(["--dns-port", &pdns.dns_addr().port().to_string()])
        .args(["--propagation-timeout", "5s"]);
    for c in case.config_args() {
        cmd.args(["--dns-config", &c]);
    }
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
    run(cmd).await
}

/// Runs the conformance suite and asserts every case passed (an unknown zone
/// as `zone-not-found`), nothing is left in PowerDNS or in the fake, and no
/// secret was printed. Returns the JSON report for further checks.
pub async fn conformance(pdns: &Pdns, case: &Case, fake: &impl Fake) -> serde_json::Value {
    let out = conformance_output(pdns, case).await;
    assert!(out.status.success(), "{}", show(&out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)));
    for name in CONFORMANCE_CASES {
        let c = report["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}: {report}"));
        assert_eq!(c["passed"], true, "{name}: {report}");
        if name == "unowned-zone" {
            let detail = c["detail"].as_str().unwrap_or_default();
            assert!(
                detail.starts_with("zone-not-found"),
                "an unknown zone is zone-not-found: {report}"
            );
        }
    }
    assert_eq!(
        (report["passed"].as_u64(), report["failed"].as_u64()),
        (Some(9), Some(0)),
        "{report}"
    );
    assert_eq!(report["leftovers"], serde_json::json!([]), "{report}");
    for name in report["names"].as_array().expect("names") {
        let name = name.as_str().unwrap();
        assert!(
            pdns.rrset(ZONE, name, "TXT").await.unwrap().is_empty(),
            "{name} left in PowerDNS"
        );
    }
    let held = fake.txt_records().await;
    assert!(held.is_empty(), "left in the fake: {held:?}");
    assert_no_secret(case, &out);
    report
}

/// `wacme issue -d example.test -d '*.example.test' --dns <plugin>` on the
/// bed (Pebble, PowerDNS's resolver and port), the plugin copied into the
/// bed's plugin folder, the case's `--dns-config` pairs, `env` in the
/// environment, JSON output; not checked.
pub async fn issue(bed: &Bed, case: &Case, env: &[(String, String)]) -> Output {
    issue_args(bed, case, env, &[]).await
}

/// [`issue`] with `extra` arguments (e.g. `-vv`).
pub async fn issue_args(
    bed: &Bed,
    case: &Case,
    env: &[(String, String)],
    extra: &[&str],
) -> Output {
    std::fs::copy(
        crate::plugin_wasm(&case.plugin),
        bed.local.plugin_dir.join(format!("{}.wasm", case.plugin)),
    )
    .expect("copy the plugin into the plugin folder");
    let mut cmd = bed.wacme();
    cmd.arg("issue")
        .args(["-d", ZONE, "-d", WILDCARD])
        .args(["--dns", &case.plugin]);
    bed.bed_args(&mut cmd)
        .args(["--output", "json"])
        .args(&case.issue_args)
        .args(extra);
    for c in case.config_args() {
        cmd.args(["--dns-config", &c]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd).await
}

/// Asserts `out` (of [`issue`]) succeeded with one record set for apex and
/// wildcard, the certificate verifies and names exactly both, the run left
/// nothing (no TXT value in PowerDNS or in the fake, no journal entry, no
/// temporary file), and no secret was printed.
pub async fn assert_issued_cleanly(bed: &Bed, case: &Case, fake: &impl Fake, out: &Output) {
    assert_issued(bed, case, out).await;
    bed.assert_clean().await;
    let held = fake.txt_records().await;
    assert!(held.is_empty(), "left in the fake: {held:?}");
}

/// Issues with the case's environment and asserts [`assert_issued_cleanly`].
pub async fn issues_cleanly(bed: &Bed, case: &Case, fake: &impl Fake) -> Output {
    let out = issue(bed, case, &case.env).await;
    assert_issued_cleanly(bed, case, fake, &out).await;
    out
}

/// A value another client put on the challenge name before the run (through
/// the provider's API) is still there afterwards, alone: in the fake and in
/// PowerDNS.
pub async fn foreign_value_kept(bed: &Bed, case: &Case, fake: &impl Fake) {
    fake.add_foreign(CHALLENGE, FOREIGN_VALUE).await;
    assert_eq!(
        bed.pdns.txt_values(CHALLENGE).await.unwrap(),
        [FOREIGN_VALUE],
        "the fake mirrors the foreign value into PowerDNS"
    );
    let out = issue(bed, case, &case.env).await;
    assert_issued(bed, case, &out).await;
    assert_eq!(
        fake.txt_records().await,
        [(CHALLENGE.to_string(), FOREIGN_VALUE.to_string())],
        "the fake holds the foreign value, alone"
    );
    assert_eq!(
        bed.pdns.txt_values(CHALLENGE).await.unwrap(),
        [FOREIGN_VALUE]
    );
    assert_eq!(
        bed.leftover_challenges().await,
        [format!("{CHALLENGE}. \"{FOREIGN_VALUE}\"")],
        "no other TXT value anywhere"
    );
    assert!(
        bed.local.journal_files().is_empty(),
        "{:?}",
        bed.local.journal_files()
    );
}

/// With [`Case::wrong_env`], `wacme -vv issue` fails with exit code 4 (a
/// provider error), its JSON error shows [`Case::auth_reason`], no secret
/// (right or wrong) appears in stdout or stderr, and nothing is left: no
/// record (PowerDNS, the fake), no certificate, and — the provider refused
/// before anything was written — no journal entry, so `wacme cleanup` has
/// nothing to do.
pub async fn wrong_credential(bed: &Bed, case: &Case, fake: &impl Fake) -> Output {
    assert!(
        !case.wrong_env.is_empty(),
        "the case sets no wrong credential"
    );
    assert!(!case.auth_reason.is_empty(), "the case names no reason");
    let out = issue_args(bed, case, &case.wrong_credential_env(), &["-vv"]).await;
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&case.auth_reason),
        "the error shows the provider's reason {:?}: {}",
        case.auth_reason,
        show(&out)
    );
    assert_no_secret(case, &out);
    bed.assert_failed_cleanly().await;
    let held = fake.txt_records().await;
    assert!(held.is_empty(), "left in the fake: {held:?}");
    let mut cmd = bed.wacme();
    cmd.arg("cleanup");
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
    let cleaned = run(cmd).await;
    assert!(cleaned.status.success(), "{}", show(&cleaned));
    assert!(
        String::from_utf8_lossy(&cleaned.stdout).contains("nothing to clean up"),
        "{}",
        show(&cleaned)
    );
    out
}

/// The fake refuses the first `writes` writes with its rate-limit answer
/// (`Retry-After: 1`); the issuance still succeeds cleanly and the fake
/// served exactly that many refusals.
pub async fn rate_limited_then_retried(bed: &Bed, case: &Case, fake: &impl Fake, writes: u32) {
    assert!(writes > 0);
    fake.throttle().next(writes);
    let out = issue(bed, case, &case.env).await;
    assert_issued_cleanly(bed, case, fake, &out).await;
    assert_eq!(
        (fake.throttle().served(), fake.throttle().pending()),
        (writes, 0),
        "the fake refused {writes} writes: {}",
        show(&out)
    );
}

/// Asserts neither stdout nor stderr of `out` holds one of the case's
/// secrets.
pub fn assert_no_secret(case: &Case, out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for secret in case.all_secrets() {
        assert!(
            !stdout.contains(&secret) && !stderr.contains(&secret),
            "a secret was printed: {}",
            show(out)
        );
    }
}

/// Success, one record set, the certificate, no secret printed.
async fn assert_issued(bed: &Bed, case: &Case, out: &Output) {
    assert!(out.status.success(), "{}", show(out));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)));
    assert_eq!(
        report["record_sets"], 1,
        "apex and wildcard share one name: {report}"
    );
    bed.check_certificate(ZONE, &[ZONE, WILDCARD]).await;
    assert_no_secret(case, out);
}

/// A plugin loaded by the host's runtime with a case's configuration, for
/// tests that call `present` / `cleanup` directly.
pub struct Loaded {
    pub plugin: wacme::plugins::Plugin,
    /// Configured from [`Case::config`] and [`Case::env`] (through the
    /// plugin's environment variable names, as `wacme` resolves them).
    pub session: wacme::plugins::Session,
    _cache: tempfile::TempDir,
}

/// Loads the case's plugin component and opens a session with its config
/// and authenticating environment (the process environment is not read).
pub async fn load(case: &Case) -> Loaded {
    load_with_env(case, &case.env).await
}

/// [`load`] with `env` instead of [`Case::env`].
pub async fn load_with_env(case: &Case, env: &[(String, String)]) -> Loaded {
    use wacme::plugins::config::Sources;
    let cache = tempfile::tempdir().unwrap();
    let runtime = wacme::plugins::Runtime::new(wacme::plugins::RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Default::default()
    })
    .expect("plugin runtime");
    let plugin = runtime
        .load_file(&crate::plugin_wasm(&case.plugin))
        .await
        .expect("load the plugin");
    let lookup = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let read = |_: &std::path::Path| Err(std::io::Error::other("no files are read"));
    // What an operator gets: the grants shipped with wacme.
    let policy =
        wacme::plugins::grants::GrantFile::in_memory().policy(plugin.metadata(), plugin.sha256());
    let config = Sources {
        cli: &case.config,
        file: &Default::default(),
        env: &lookup,
        policy: &policy,
        read_file: &read,
    }
    .resolve(plugin.metadata())
    .expect("resolve the case's config");
    let session = plugin.session(&config, &[]).expect("open a session");
    Loaded {
        plugin,
        session,
        _cache: cache,
    }
}

/// The record set of `values` at `fqdn` in [`ZONE`] (or in `zone` with
/// [`txt_set_in`]), as the host passes it.
pub fn txt_set(fqdn: &str, values: &[&str], ttl: u32) -> wacme::plugins::TxtSet {
    txt_set_in(ZONE, fqdn, values, ttl)
}

pub fn txt_set_in(zone: &str, fqdn: &str, values: &[&str], ttl: u32) -> wacme::plugins::TxtSet {
    let relative_name = match fqdn.strip_suffix(&format!(".{zone}")) {
        Some(r) => r.to_string(),
        None => "@".to_string(),
    };
    wacme::plugins::TxtSet {
        zone: zone.into(),
        fqdn: fqdn.into(),
        relative_name,
        values: values.iter().map(|v| v.to_string()).collect(),
        ttl,
    }
}

/// Runs `cmd` to completion without blocking the runtime's threads.
async fn run(cmd: std::process::Command) -> Output {
    tokio::process::Command::from(cmd)
        .output()
        .await
        .expect("run wacme")
}
