//! The `rfc2136` plugin against real RFC 2136 servers — BIND 9, Knot DNS and
//! PowerDNS, each primary for `example.test` and taking TSIG-signed updates
//! — with Pebble validating against the same server: the conformance suite,
//! an apex + wildcard issuance, a value another client put on the name left
//! alone, and a wrong TSIG secret refused with the server's own answer and
//! nothing left behind.
//!
//! The plugin reaches the server only through the host's `dns` import, and
//! the server is on loopback: allowed because the operator configured it
//! (`--dns-config server=…`).

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Output};

use wacme_tests::dns01::{Local, show, temp_files};
use wacme_tests::pebble::{Pebble, PebbleOptions};
use wacme_tests::provider_suite::{CHALLENGE, CONFORMANCE_CASES, FOREIGN_VALUE, WILDCARD};
use wacme_tests::rfc2136::{self, Kind, TsigKey, UpdateServer};
use wacme_tests::{free_port_on, pdns::txt_values_at};

const ZONE: &str = "example.test";

/// One server, its key, a Pebble validating against it, and local state.
struct Bed {
    server: Box<dyn UpdateServer>,
    key: TsigKey,
    pebble: Pebble,
    local: Local,
}

impl Bed {
    /// A bed on `kind`, or `None` (loudly) where it is not installed
    /// outside CI.
    async fn start(kind: Kind) -> Option<Bed> {
        if !kind.available() || !wacme_tests::require_program("pebble") {
            return None;
        }
        let key = TsigKey::generate("wacme-key");
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let server = rfc2136::start(kind, ip, free_port_on("127.0.0.1"), ZONE, &key)
            .await
            .unwrap_or_else(|e| panic!("{} does not start: {e:#}", kind.name()));
        let pebble =
            Pebble::start(PebbleOptions::new().dns_server(server.dns_addr())).expect("Pebble");
        let local = Local::new();
        std::fs::copy(
            wacme_tests::plugin_wasm("rfc2136"),
            local.plugin_dir.join("rfc2136.wasm"),
        )
        .unwrap();
        Some(Bed {
            server,
            key,
            pebble,
            local,
        })
    }

    /// `--dns-config server=<ip>:<port>`.
    fn server_config(&self) -> String {
        format!("server={}", self.server.dns_addr())
    }

    /// `wacme` with the state and the key in the plugin's own variables.
    fn wacme(&self) -> Command {
        self.wacme_with_key(&self.key)
    }

    fn wacme_with_key(&self, key: &TsigKey) -> Command {
        let mut cmd = self.local.wacme();
        cmd.env("WACME_RFC2136_TSIG_KEY_NAME", &key.name)
            .env("WACME_RFC2136_TSIG_SECRET", &key.secret)
            .env("WACME_RFC2136_TSIG_ALGORITHM", &key.algorithm);
        cmd
    }

    /// `wacme issue -d example.test -d '*.example.test' --dns rfc2136` on
    /// this bed, JSON output.
    fn issue(&self, cmd: Command) -> Output {
        self.issue_names(cmd, &[ZONE, WILDCARD], &[])
    }

    /// `wacme issue -d <name>… --dns rfc2136 <extra>…` on this bed, JSON
    /// output.
    fn issue_names(&self, mut cmd: Command, names: &[&str], extra: &[&str]) -> Output {
        cmd.args(["issue", "--dns", "rfc2136"]).args(extra);
        for name in names {
            cmd.args(["-d", name]);
        }
        cmd.args(["--dns-config", &self.server_config()])
            .args(["--directory", &self.pebble.directory_url()])
            .arg("--ca-cert")
            .arg(self.pebble.ca_cert_path())
            .args(["--email", "admin@example.test", "--agree-tos"])
            .args(["--dns-resolver", &self.server.dns_addr().to_string()])
            .args(["--dns-port", &self.server.dns_addr().port().to_string()])
            .args(["--output", "json"]);
        cmd.output().expect("run wacme")
    }

    async fn txt(&self, name: &str) -> Vec<String> {
        txt_values_at(self.server.dns_addr(), name).await.unwrap()
    }

    /// Nothing left: no TXT value at the challenge name, no journal entry,
    /// no half-written file.
    async fn assert_clean(&self) {
        assert_eq!(
            self.txt(CHALLENGE).await,
            Vec::<String>::new(),
            "{}",
            self.server.log_tail()
        );
        assert!(self.local.journal_files().is_empty());
        assert!(temp_files(self.local.state.path()).is_empty());
    }

    fn assert_no_secret(&self, out: &Output) {
        let text = show(out);
        assert!(!text.contains(&self.key.secret), "secret printed: {text}");
        let wrong = self.key.with_wrong_secret();
        assert!(!text.contains(&wrong.secret), "secret printed: {text}");
    }
}

async fn conformance(kind: Kind) {
    let Some(bed) = Bed::start(kind).await else {
        return;
    };
    let mut cmd = bed.wacme();
    cmd.args(["plugin", "test"])
        .arg(wacme_tests::plugin_wasm("rfc2136"))
        .args(["--zone", ZONE, "--no-plugin-cache", "--output", "json"])
        .args(["--dns-config", &bed.server_config()])
        .args(["--dns-resolver", &bed.server.dns_addr().to_string()])
        .args(["--dns-port", &bed.server.dns_addr().port().to_string()])
        .args(["--propagation-timeout", "10s"]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        show(&out),
        bed.server.log_tail()
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in CONFORMANCE_CASES {
        let case = report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name}: {report}"));
        assert_eq!(case["passed"], true, "{name}: {report}");
    }
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["leftovers"], serde_json::json!([]), "{report}");
    for name in report["names"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        assert!(bed.txt(name).await.is_empty(), "{name} left on the server");
    }
    bed.assert_no_secret(&out);
}

async fn issues_apex_and_wildcard(kind: Kind) {
    let Some(bed) = Bed::start(kind).await else {
        return;
    };
    let out = bed.issue(bed.wacme());
    assert!(
        out.status.success(),
        "{}\n{}",
        show(&out),
        bed.server.log_tail()
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["record_sets"], 1, "{report}");
    assert_eq!(report["cleanup_check"]["status"], "verified", "{report}");
    let mut names: Vec<&str> = report["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [WILDCARD, ZONE]);
    let cert = bed.local.state.path().join("certs").join(ZONE);
    assert!(cert.join("fullchain.pem").is_file());
    bed.assert_clean().await;
    bed.assert_no_secret(&out);
}

async fn keeps_a_foreign_value(kind: Kind) {
    let Some(bed) = Bed::start(kind).await else {
        return;
    };
    let add = format!("update add {CHALLENGE}. 60 TXT \"{FOREIGN_VALUE}\"");
    let seeded = rfc2136::nsupdate(bed.server.as_ref(), Some(&bed.key), &add)
        .await
        .unwrap();
    assert!(seeded.status.success(), "{}", rfc2136::output_text(&seeded));
    assert_eq!(bed.txt(CHALLENGE).await, [FOREIGN_VALUE]);

    let out = bed.issue(bed.wacme());
    assert!(
        out.status.success(),
        "{}\n{}",
        show(&out),
        bed.server.log_tail()
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["cleanup_check"]["status"], "verified", "{report}");
    assert_eq!(
        bed.txt(CHALLENGE).await,
        [FOREIGN_VALUE],
        "alone, untouched"
    );
    assert!(bed.local.journal_files().is_empty());
}

/// A wrong TSIG secret: exit 4 with the server's answer in the message
/// (`rcode` and, where the server signs its refusal, the TSIG error), no
/// secret printed, nothing left, nothing for `wacme cleanup` to do.
async fn refuses_a_wrong_secret(kind: Kind, answer: &[&str]) {
    let Some(bed) = Bed::start(kind).await else {
        return;
    };
    let out = bed.issue(bed.wacme_with_key(&bed.key.with_wrong_secret()));
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for part in answer {
        assert!(stdout.contains(part), "{part:?} missing: {}", show(&out));
    }
    assert!(stdout.contains("authentication failed"), "{}", show(&out));
    bed.assert_no_secret(&out);
    bed.assert_clean().await;
    assert!(
        !bed.local.state.path().join("certs").join(ZONE).exists(),
        "no certificate"
    );
    let cleaned = bed.wacme().arg("cleanup").output().unwrap();
    assert!(cleaned.status.success(), "{}", show(&cleaned));
    assert!(
        String::from_utf8_lossy(&cleaned.stdout).contains("nothing to clean up"),
        "{}",
        show(&cleaned)
    );
}

macro_rules! per_server {
    ($($name:ident: $kind:expr, $answer:expr;)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn conformance_suite() {
                conformance($kind).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn apex_and_wildcard() {
                issues_apex_and_wildcard($kind).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn foreign_value_kept() {
                keeps_a_foreign_value($kind).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn wrong_secret() {
                refuses_a_wrong_secret($kind, $answer).await;
            }
        }
    )*};
}

per_server! {
    bind: Kind::Bind, &["NOTAUTH", "BADSIG"];
    knot: Kind::Knot, &["NOTAUTH", "BADSIG"];
    pdns: Kind::Pdns, &["REFUSED"];
}

/// A plugin built against WIT 0.1.0 (`legacy-pdns`, PowerDNS's HTTP API)
/// and one against 0.2.0 (`rfc2136`, dynamic updates to the same PowerDNS)
/// issue side by side, then renew together in one `renew --all`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_of_both_wit_versions_renew_in_one_run() {
    use wacme_tests::dns01::Bed as PdnsBed;
    use wacme_tests::pdns::PdnsOptions;
    if !Kind::Pdns.available() {
        return;
    }
    let Some(bed) = PdnsBed::start_with(
        PdnsOptions::default().accepting_updates(),
        PebbleOptions::new(),
    )
    .await
    else {
        return;
    };
    let key = TsigKey::generate("wacme-key");
    bed.pdns.allow_tsig_updates(ZONE, &key).await.unwrap();
    for (plugin, file) in [("legacy-v01", "legacy-pdns"), ("rfc2136", "rfc2136")] {
        std::fs::copy(
            wacme_tests::plugin_wasm(plugin),
            bed.local.plugin_dir.join(format!("{file}.wasm")),
        )
        .unwrap();
    }
    let wacme = || {
        let mut cmd = bed.wacme();
        cmd.env("WACME_LEGACY_PDNS_API_KEY", bed.pdns.api_key())
            .env("RFC2136_TSIG_KEY", &key.name)
            .env("RFC2136_TSIG_SECRET", &key.secret);
        cmd
    };
    let legacy = format!("legacy.{ZONE}");
    let dynamic = format!("dyn.{ZONE}");
    for (name, plugin, config) in [
        (
            &legacy,
            "legacy-pdns",
            format!("api_url={}", bed.pdns.api_url()),
        ),
        (
            &dynamic,
            "rfc2136",
            format!("server={}", bed.pdns.dns_addr()),
        ),
    ] {
        let mut cmd = wacme();
        cmd.args([
            "issue",
            "-d",
            name,
            "--dns",
            plugin,
            "--dns-config",
            &config,
        ]);
        bed.bed_args(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{plugin}: {}", show(&out));
    }
    let serial = |name: &str| {
        let meta = std::fs::read_to_string(bed.cert_dir(name).join("meta.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&meta).unwrap()["serial"].clone()
    };
    let before = [serial(&legacy), serial(&dynamic)];

    let mut cmd = wacme();
    cmd.args([
        "renew", "--all", "--force", "--jobs", "2", "--output", "json",
    ]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["renewed"], 2, "{report}");
    assert_ne!(serial(&legacy), before[0], "the 0.1.0 plugin renewed");
    assert_ne!(serial(&dynamic), before[1], "the 0.2.0 plugin renewed");
    bed.check_certificate(&legacy, &[&legacy]).await;
    bed.check_certificate(&dynamic, &[&dynamic]).await;
    bed.assert_clean().await;
}

/// Ten names of one zone (five apex + wildcard pairs) in one order: the
/// plugin's batch export puts them in one UPDATE to present and one to
/// clean up, where one call per name would take ten of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_update_carries_many_names() {
    let Some(bed) = Bed::start(Kind::Bind).await else {
        return;
    };
    let names: Vec<String> = (0..5)
        .flat_map(|i| [format!("n{i}.{ZONE}"), format!("*.n{i}.{ZONE}")])
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let out = bed.issue_names(bed.wacme(), &names, &["--cert-name", "many"]);
    assert!(out.status.success(), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["record_sets"], 5, "{report}");
    assert_eq!(report["cleanup_check"]["status"], "verified", "{report}");
    let exchanges = report["provider_requests"].as_u64().unwrap();
    // Two when every name joins the first batch; a loaded machine may
    // split one batch in two.
    assert!(
        (2..=4).contains(&exchanges),
        "{exchanges} UPDATEs: {report}"
    );
    for i in 0..5 {
        let name = format!("_acme-challenge.n{i}.{ZONE}");
        assert!(bed.txt(&name).await.is_empty(), "{name} left");
    }
}

/// Without batching (`--no-dns-batch`), ten names (twenty identifiers) take
/// one UPDATE per name to present and one to clean up: twenty messages,
/// none to read first (an UPDATE adds and deletes single records).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_update_per_name_without_batching() {
    let Some(bed) = Bed::start(Kind::Bind).await else {
        return;
    };
    let names: Vec<String> = (0..10)
        .flat_map(|i| [format!("u{i}.{ZONE}"), format!("*.u{i}.{ZONE}")])
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let out = bed.issue_names(
        bed.wacme(),
        &names,
        &["--cert-name", "unbatched", "--no-dns-batch"],
    );
    assert!(out.status.success(), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["record_sets"], 10, "{report}");
    assert_eq!(report["cleanup_check"]["status"], "verified", "{report}");
    assert_eq!(report["provider_requests"], 20, "{report}");
    for i in 0..10 {
        let name = format!("_acme-challenge.u{i}.{ZONE}");
        assert!(bed.txt(&name).await.is_empty(), "{name} left");
    }
}
