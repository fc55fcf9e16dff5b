//! dns-persist-01 end to end: the in-process fake CA
//! (`acme_common/fake_ca.rs`, Pebble 2.4 predates the challenge) validating
//! `_validation-persist.<name>` on a real PowerDNS, and `wacme` run as a
//! user runs it.
//!
//! Covered: `wacme persist set` through the pdns plugin (a foreign value on
//! the name kept), then apex + wildcard issued and renewed with
//! `--challenge dns-persist-01` and no DNS credential in the environment or
//! on the command line, then `persist remove` (the foreign value kept);
//! `persist show`; `persist set --cert-name` from a config file entry;
//! `--challenge auto` answering with a served record and
//! never calling the plugin; refusals before any challenge is answered: a record of
//! another account, an expired `persistUntil`, a wildcard without
//! `policy=wildcard`, no record at all.
//!
//! And against the fake CA speaking draft -02 (hashed account URIs under
//! the directory's `accountHashPrefix`): `persist show`/`set` write the
//! hashed value (replacing a -01 value of the account), apex + wildcard
//! issued on it without credentials, the domain-free (`*`) form accepted,
//! and a -01-shaped record refused, by wacme before answering and by the
//! CA's own check.

mod acme_common;

use acme_common::fake_ca::FakeCa;
use std::process::{Command, Output};
use wacme_tests::dns01::{Local, ZONE, show};
use wacme_tests::pdns::Pdns;

/// Exit code of a DNS failure (host/src/cli/exit.rs).
const EXIT_DNS: i32 = 6;
const ISSUER: &str = "fake-ca.test";
const RECORD: &str = "_validation-persist.example.test";
const FOREIGN: &str = "other-ca.example; accounturi=https://other-ca.example/acct/7";

/// PowerDNS serving the test zone, the fake CA reading it, a state folder.
struct PersistBed {
    pdns: Pdns,
    ca: FakeCa,
    local: Local,
}

impl PersistBed {
    async fn start() -> Option<PersistBed> {
        PersistBed::start_draft(false).await
    }

    /// The bed with the CA speaking draft -02.
    async fn start_02() -> Option<PersistBed> {
        PersistBed::start_draft(true).await
    }

    async fn start_draft(draft02: bool) -> Option<PersistBed> {
        if !wacme_tests::pdns::available() {
            return None;
        }
        let pdns = Pdns::start().await.expect("start PowerDNS");
        pdns.create_zone(ZONE, &[("ns1.example.test", pdns.dns_addr().ip())])
            .await
            .expect("create zone");
        let ca = if draft02 {
            FakeCa::with_persist_02(pdns.dns_addr(), ISSUER).await
        } else {
            FakeCa::with_persist(pdns.dns_addr(), ISSUER).await
        };
        Some(PersistBed {
            pdns,
            ca,
            local: Local::new(),
        })
    }

    /// `wacme <args>` with the CA and the DNS servers, and no API key in the
    /// environment ([`Local::wacme`] removes it).
    fn wacme(&self, args: &[&str]) -> Command {
        let mut cmd = self.local.wacme();
        cmd.args(args)
            .args(["--directory", &self.ca.directory_url()])
            .args(["--email", "admin@example.test", "--agree-tos"])
            .args(["--dns-resolver", &self.pdns.dns_addr().to_string()])
            .args(["--dns-port", &self.pdns.dns_addr().port().to_string()]);
        cmd
    }

    /// `wacme persist <action>` through the pdns plugin, with its API key.
    fn persist_with_plugin(&self, action: &str, extra: &[&str]) -> Output {
        let mut cmd = self.wacme(&["--output", "json", "persist", action]);
        cmd.args(extra)
            .args(["--dns", "pdns"])
            .args(["--dns-config", &format!("api_url={}", self.pdns.api_url())])
            .env("WACME_PDNS_API_KEY", self.pdns.api_key());
        run(cmd)
    }

    /// `wacme issue --challenge dns-persist-01`: no plugin, no credential.
    fn issue_persist(&self, domains: &[&str]) -> Output {
        let mut cmd = self.wacme(&["--output", "json", "issue", "--challenge", "dns-persist-01"]);
        for d in domains {
            cmd.args(["-d", d]);
        }
        run(cmd)
    }

    /// Publishes `values` at the record name directly (as an operator's
    /// DNS console would).
    async fn publish(&self, values: &[String]) {
        let contents: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
        let refs: Vec<&str> = contents.iter().map(String::as_str).collect();
        self.pdns
            .set_rrset(ZONE, RECORD, "TXT", 60, &refs)
            .await
            .unwrap();
    }

    async fn served(&self) -> Vec<String> {
        self.pdns.txt_values(RECORD).await.unwrap()
    }

    /// The account URL `persist show` prints (registering the account).
    fn account(&self) -> String {
        let out = run(self.wacme(&["--output", "json", "persist", "show", "-d", ZONE]));
        assert!(out.status.success(), "{}", show(&out));
        json(&out)["account"].as_str().unwrap().to_string()
    }

    fn challenges_answered(&self) -> usize {
        (0..4)
            .map(|i| self.ca.count(&format!("POST /chall/p{i}")))
            .sum()
    }
}

/// Runs `cmd` to its end. The test runtime has two workers: while this
/// one waits, the fake CA answers on the other.
fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run wacme")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_issue_renew_and_remove_without_dns_credentials() {
    let Some(bed) = PersistBed::start().await else {
        return;
    };
    bed.publish(&[FOREIGN.to_string()]).await;

    let out = bed.persist_with_plugin("set", &["-d", ZONE, "--wildcard", "--until", "2099-01-01"]);
    assert!(out.status.success(), "{}", show(&out));
    let set = json(&out);
    let account = set["account"].as_str().unwrap().to_string();
    let value = format!("{ISSUER}; accounturi={account}; policy=wildcard; persistUntil=4070908800");
    assert_eq!(set["records"][0]["value"], value.as_str());
    let mut want = vec![value.clone(), FOREIGN.to_string()];
    want.sort();
    assert_eq!(bed.served().await, want, "the foreign value is kept");

    // Setting again is idempotent: still one value of ours.
    let out = bed.persist_with_plugin("set", &["-d", ZONE, "--wildcard", "--until", "2099-01-01"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(bed.served().await, want);

    // No API key in the environment, no --dns, no --dns-config.
    let out = bed.issue_persist(&[ZONE, "*.example.test"]);
    assert!(out.status.success(), "{}", show(&out));
    let issued = json(&out);
    assert_eq!(issued["cert_name"], ZONE);
    assert_eq!(issued["challenge"], "dns-persist-01");
    assert_eq!(issued["provider_requests"], 0);
    assert_eq!(issued["record_sets"], 0);
    assert_eq!(bed.challenges_answered(), 2, "apex and wildcard");
    assert_eq!(bed.served().await, want, "the record stays");
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            bed.local
                .state
                .path()
                .join("certs")
                .join(ZONE)
                .join("meta.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(meta["extra"]["challenge"], "dns-persist-01", "{meta}");

    // Renewal repeats the stored choice, still without credentials.
    // Renewal repeats the stored settings: no CA or DNS arguments either.
    let mut renew = bed.local.wacme();
    renew.args(["--output", "json", "renew", "--cert-name", ZONE, "--force"]);
    let out = run(renew);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(bed.challenges_answered(), 4, "renewed by dns-persist-01");
    assert_eq!(bed.served().await, want);

    let out = bed.persist_with_plugin("remove", &["-d", ZONE]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(json(&out)["records"][0]["removed"][0], value.as_str());
    assert_eq!(bed.served().await, [FOREIGN], "only our value removed");
}

/// `persist set --cert-name` takes the names, the plugin and its config
/// from the config file's entry; the entry's `challenge` makes `issue
/// --cert-name` use the record, without the API key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_from_a_config_file_entry() {
    let Some(bed) = PersistBed::start().await else {
        return;
    };
    let config = bed.local.home.path().join("wacme.toml");
    std::fs::write(
        &config,
        format!(
            "[certificates.\"{ZONE}\"]\ndomains = [\"{ZONE}\", \"*.{ZONE}\"]\ndns = \"pdns\"\n\
             challenge = \"dns-persist-01\"\n\n\
             [certificates.\"{ZONE}\".dns_config]\napi_url = \"{}\"\n",
            bed.pdns.api_url()
        ),
    )
    .unwrap();
    let mut cmd = bed.wacme(&["--output", "json", "persist", "set", "--cert-name", ZONE]);
    cmd.arg("--config")
        .arg(&config)
        .env("WACME_PDNS_API_KEY", bed.pdns.api_key());
    let out = run(cmd);
    assert!(out.status.success(), "{}", show(&out));
    let value = json(&out)["records"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(value.ends_with("; policy=wildcard"), "{value}");
    assert_eq!(bed.served().await, [value]);

    let mut cmd = bed.wacme(&["--output", "json", "issue", "--cert-name", ZONE]);
    cmd.arg("--config").arg(&config);
    let out = run(cmd);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(json(&out)["challenge"], "dns-persist-01");
    assert_eq!(bed.challenges_answered(), 2);
}

/// Without `--challenge` (auto), a served record wins over the plugin: the
/// plugin is loaded but never called, no journal is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_prefers_a_served_record() {
    let Some(bed) = PersistBed::start().await else {
        return;
    };
    let ours = bed.account();
    bed.publish(&[format!("{ISSUER}; accounturi={ours}; policy=wildcard")])
        .await;
    let mut cmd = bed.wacme(&[
        "--output",
        "json",
        "issue",
        "-d",
        ZONE,
        "-d",
        "*.example.test",
    ]);
    cmd.args(["--dns", "pdns"])
        .args(["--dns-config", &format!("api_url={}", bed.pdns.api_url())])
        .env("WACME_PDNS_API_KEY", bed.pdns.api_key());
    let out = run(cmd);
    assert!(out.status.success(), "{}", show(&out));
    let issued = json(&out);
    assert_eq!(issued["challenge"], "dns-persist-01");
    assert_eq!(issued["provider_requests"], 0);
    assert_eq!(issued["record_sets"], 0);
    assert_eq!(bed.challenges_answered(), 2);
    assert!(bed.local.journal_files().is_empty());
    assert_eq!(bed.served().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_prints_the_values_to_publish() {
    let Some(bed) = PersistBed::start().await else {
        return;
    };
    let out = run(bed.wacme(&[
        "persist",
        "show",
        "-d",
        ZONE,
        "-d",
        "*.www.example.test",
        "--until",
        "2030-01-01",
    ]));
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let account = format!("http://{}/acct/1", bed.ca.addr);
    assert!(
        text.contains(&format!(
            "{RECORD}. TXT \"{ISSUER}; accounturi={account}; persistUntil=1893456000\""
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "_validation-persist.www.example.test. TXT \"{ISSUER}; accounturi={account}; policy=wildcard; persistUntil=1893456000\""
        )),
        "{text}"
    );
    assert!(bed.served().await.is_empty(), "show publishes nothing");
}

/// Runs an issuance that must be refused before any challenge is answered,
/// with a message holding `why`.
async fn refused(bed: &PersistBed, domains: &[&str], why: &str) {
    let out = bed.issue_persist(domains);
    assert_eq!(out.status.code(), Some(EXIT_DNS), "{}", show(&out));
    assert!(show(&out).contains(why), "{why:?} not in {}", show(&out));
    assert_eq!(bed.challenges_answered(), 0);
    assert!(bed.local.cert_files().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_of_another_account_is_refused() {
    let Some(bed) = PersistBed::start().await else {
        return;
    };
    let ours = bed.account();
    let other = format!("{ISSUER}; accounturi=http://{}/acct/99", bed.ca.addr);
    bed.publish(&[other, FOREIGN.to_string()]).await;
    refused(&bed, &[ZONE], "names another ACME account").await;
    let out = bed.issue_persist(&[ZONE]);
    assert!(
        show(&out).contains(&format!("not {ours}")),
        "{}",
        show(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_record_is_refused() {
    let Some(bed) = PersistBed::start().await else {
        return;
    };
    let ours = bed.account();
    bed.publish(&[format!(
        "{ISSUER}; accounturi={ours}; persistUntil=1700000000"
    )])
    .await;
    refused(&bed, &[ZONE], "expired: persistUntil=1700000000").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_needs_policy_wildcard() {
    let Some(bed) = PersistBed::start().await else {
        return;
    };
    let ours = bed.account();
    bed.publish(&[format!("{ISSUER}; accounturi={ours}")]).await;
    refused(&bed, &[ZONE, "*.example.test"], "policy=wildcard").await;
    // The apex alone is fine with it.
    let out = bed.issue_persist(&[ZONE]);
    assert!(out.status.success(), "{}", show(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_record_is_refused() {
    let Some(bed) = PersistBed::start().await else {
        return;
    };
    refused(&bed, &[ZONE], "serves no dns-persist-01 record").await;
}

const DRAFT_02: &str = "draft-ietf-acme-dns-persist-02";

/// Draft -02: `show` and `set` write the hashed account URI the CA
/// computes (its own code, `FakeCa::hashed_account_uri`), `set` replaces
/// the account's -01-shaped value and keeps a foreign one, and apex +
/// wildcard are issued on it without any DNS credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft02_set_and_issue_apex_and_wildcard_without_dns_credentials() {
    let Some(bed) = PersistBed::start_02().await else {
        return;
    };
    let out = run(bed.wacme(&["--output", "json", "persist", "show", "-d", ZONE]));
    assert!(out.status.success(), "{}", show(&out));
    let shown = json(&out);
    assert_eq!(shown["draft"], DRAFT_02);
    let account = shown["account"].as_str().unwrap().to_string();
    let hashed = bed.ca.hashed_account_uri(&account, ZONE);
    assert!(
        hashed.starts_with(&format!("{}sha-256/", bed.ca.account_hash_prefix())),
        "{hashed}"
    );
    assert_eq!(
        shown["records"][0]["value"],
        format!("{ISSUER}; accounturi={hashed}")
    );

    let old = format!("{ISSUER}; accounturi={account}; policy=wildcard");
    bed.publish(&[old.clone(), FOREIGN.to_string()]).await;
    let out = bed.persist_with_plugin("set", &["-d", ZONE, "-d", "*.example.test"]);
    assert!(out.status.success(), "{}", show(&out));
    let set = json(&out);
    assert_eq!(set["draft"], DRAFT_02);
    let value = format!("{ISSUER}; accounturi={hashed}; policy=wildcard");
    assert_eq!(set["records"][0]["value"], value.as_str());
    assert_eq!(set["records"][0]["removed"][0], old.as_str());
    let mut want = vec![value.clone(), FOREIGN.to_string()];
    want.sort();
    assert_eq!(bed.served().await, want, "-01 value replaced, foreign kept");

    let out = bed.issue_persist(&[ZONE, "*.example.test"]);
    assert!(out.status.success(), "{}", show(&out));
    let issued = json(&out);
    assert_eq!(issued["challenge"], "dns-persist-01");
    assert_eq!(issued["provider_requests"], 0);
    assert_eq!(issued["record_sets"], 0);
    assert_eq!(bed.challenges_answered(), 2, "apex and wildcard");
    assert!(!bed.local.cert_files().is_empty());
}

/// Draft -02 §4.1: the hash may be computed over `*` instead of the
/// domain; wacme and the CA both accept it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft02_accepts_the_domain_free_form() {
    let Some(bed) = PersistBed::start_02().await else {
        return;
    };
    let ours = bed.account();
    let any = bed.ca.hashed_account_uri(&ours, "*");
    assert_ne!(any, bed.ca.hashed_account_uri(&ours, ZONE));
    bed.publish(&[format!("{ISSUER}; accounturi={any}")]).await;
    let out = bed.issue_persist(&[ZONE]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(bed.challenges_answered(), 1);
}

/// Draft -02 no longer accepts the account URL (the -01 form): wacme says
/// so before answering any challenge, and the CA's own check refuses it as
/// malformed (§9.3.1) while accepting the hashed value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft02_refuses_a_draft01_record() {
    let Some(bed) = PersistBed::start_02().await else {
        return;
    };
    let ours = bed.account();
    let early = format!("{ISSUER}; accounturi={ours}; policy=wildcard");
    bed.publish(std::slice::from_ref(&early)).await;
    refused(&bed, &[ZONE, "*.example.test"], "draft -01 form").await;
    let out = bed.issue_persist(&[ZONE]);
    assert!(
        show(&out).contains(&bed.ca.account_hash_prefix()),
        "names the prefix: {}",
        show(&out)
    );

    let err = bed
        .ca
        .validate(std::slice::from_ref(&early), &ours, ZONE, true)
        .unwrap_err();
    assert_eq!(err.0, "malformed", "{err:?}");
    let hashed = bed.ca.hashed_account_uri(&ours, ZONE);
    let good = format!("{ISSUER}; accounturi={hashed}; policy=wildcard");
    assert!(
        bed.ca
            .validate(&[early, good.clone()], &ours, ZONE, true)
            .is_ok()
    );
    // Bound to example.test: not another name's record.
    let err = bed
        .ca
        .validate(&[good], &ours, "other.example.test", false)
        .unwrap_err();
    assert_eq!(err.0, "unauthorized", "{err:?}");
}
