//! Never losing an issued certificate: the pending-issuance record
//! (`<state>/pending-orders/<name>.json`) written before finalize, and what the runs
//! around it do.
//!
//! Covered: a run killed (SIGKILL) after finalize, whose certificate the
//! next `wacme issue` or `wacme renew` collects (the same serial and key, no
//! new order); a record whose order the CA no longer knows (discarded, a
//! new order placed); Ctrl-C after
//! finalize (the certificate is stored, exit 130); an alternate chain that
//! cannot be downloaded, without a preferred chain (never fetched) and with
//! one (the default chain, with a warning).
//!
//! The moment after finalize is found with the debug-build test hook
//! `WACME_TEST_PAUSE_AFTER_FINALIZE_MS`, which logs a line and waits.

mod acme_common;

use acme_common::fake_ca::{FakeCa, Fault};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use wacme_tests::dns01::{Bed, Local, show, temp_files};

const PAUSE_ENV: &str = "WACME_TEST_PAUSE_AFTER_FINALIZE_MS";
const PAUSE_LINE: &str = "test hook: pausing";
const EXIT_INTERRUPTED: i32 = 130;

/// Starts `cmd` with its stderr read line by line on a thread.
fn spawn_watched(cmd: &mut Command) -> (Child, Receiver<String>) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wacme");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a stderr line holding `needle`; panics (with what was seen)
/// when the run ends or 60 s pass first.
fn wait_for_line(rx: &Receiver<String>, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("no line with {needle:?} in 60 s:\n{}", seen.join("\n"))
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("wacme ended without {needle:?}:\n{}", seen.join("\n"))
            }
        }
    }
}

/// The pending record of `name` (the order and the certificate key).
fn pending_file(state: &Path, name: &str) -> PathBuf {
    state.join("pending-orders").join(format!("{name}.json"))
}

/// Where a record of the first layout sits (`order.json` + `privkey.pem`).
fn legacy_pending_dir(state: &Path, name: &str) -> PathBuf {
    state.join("pending").join(name)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)))
}

/// The serial (hex) of the certificate the CA issued for `order_url`,
/// asked with the account the run stored.
async fn serial_of_order(bed: &Bed, order_url: &str) -> String {
    let directory = bed.pebble.directory_url();
    let (stored, key) = wacme::acme::AccountStore::new(bed.state())
        .load(&directory)
        .unwrap()
        .expect("the run stored its account");
    let client = bed.pebble.acme_client().await.unwrap();
    let account = client.account(key, url::Url::parse(&stored.url).unwrap());
    let order = account
        .order(&url::Url::parse(order_url).unwrap())
        .await
        .unwrap();
    assert_eq!(order.status, wacme::acme::OrderStatus::Valid, "{order:?}");
    let chain = account
        .certificate(order.certificate.as_ref().unwrap())
        .await
        .unwrap();
    wacme::engine::issuance::leaf_facts(chain.leaf()).unwrap().0
}

/// Starts `wacme issue -d name` with the pause after finalize and kills it
/// (SIGKILL) there; checks the record it leaves. Returns the recorded order
/// URL and key (PEM).
fn kill_after_finalize(bed: &Bed, name: &str) -> (String, String) {
    let (mut child, rx) = spawn_watched(bed.issue_command(&[name], &[]).env(PAUSE_ENV, "60000"));
    wait_for_line(&rx, PAUSE_LINE);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    // The record: the order and the key in one file, private, and no
    // secret: the certificate key is its only key.
    let path = pending_file(bed.state(), name);
    let record_text = std::fs::read_to_string(&path).unwrap();
    let record: serde_json::Value = serde_json::from_str(&record_text).unwrap();
    let order_url = record["order_url"].as_str().unwrap().to_string();
    assert_eq!(record["cert_name"], name);
    assert_eq!(record["domains"], serde_json::json!([name]));
    let key_pem = record["private_key_pem"].as_str().unwrap().to_string();
    assert!(key_pem.contains("PRIVATE KEY"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(record_text.matches("BEGIN").count(), 1, "{record_text}");
    assert!(
        !record_text.contains(bed.pdns.api_key()),
        "the provider secret is in {record_text}"
    );
    (order_url, key_pem)
}

#[tokio::test]
async fn a_run_killed_after_finalize_is_collected_by_the_next_issue() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let name = "kill.example.test";
    let (order_url, key_pem) = kill_after_finalize(&bed, name);
    assert!(!bed.cert_dir(name).exists(), "nothing stored yet");
    let serial = serial_of_order(&bed, &order_url).await;

    // The next issue collects that certificate instead of ordering again.
    let out = bed.issue(&[name], &["--output", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let report = json(&out);
    assert_eq!(report["recovered_order"], order_url.as_str(), "{report}");
    assert_eq!(report["serial"], serial.as_str(), "{report}");
    assert_eq!(report["record_sets"], 0, "{report}");
    bed.check_certificate(name, &[name]).await;
    let stored_key = std::fs::read_to_string(bed.cert_dir(name).join("privkey.pem")).unwrap();
    assert_eq!(stored_key, key_pem);
    assert!(
        !pending_file(bed.state(), name).exists(),
        "the record is removed once stored"
    );
    bed.assert_no_residue().await;
    assert!(temp_files(bed.state()).is_empty());
}

#[tokio::test]
async fn renew_collects_the_certificate_of_a_killed_run() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let name = "renew.example.test";
    let out = bed.issue(&[name], &[]);
    assert!(out.status.success(), "{}", show(&out));
    let (order_url, key_pem) = kill_after_finalize(&bed, name);
    let serial = serial_of_order(&bed, &order_url).await;

    // Not due by its age, but its pending certificate is collected.
    let out = bed
        .wacme()
        .args(["renew", "--output", "json", "--cert-name", name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let report = json(&out);
    let cert = &report["certificates"][0];
    assert_eq!(cert["status"], "renewed", "{report}");
    assert!(
        cert["decision"]["reason"]
            .as_str()
            .unwrap()
            .contains("waiting to be collected"),
        "{report}"
    );
    assert_eq!(
        cert["issued"]["recovered_order"],
        order_url.as_str(),
        "{report}"
    );
    assert_eq!(cert["issued"]["serial"], serial.as_str(), "{report}");
    let stored_key = std::fs::read_to_string(bed.cert_dir(name).join("privkey.pem")).unwrap();
    assert_eq!(stored_key, key_pem);
    assert!(!pending_file(bed.state(), name).exists());
    bed.assert_no_residue().await;
}

#[tokio::test]
async fn ctrl_c_after_finalize_stores_the_certificate_and_exits_130() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let name = "intr.example.test";
    let (mut child, rx) = spawn_watched(bed.issue_command(&[name], &[]).env(PAUSE_ENV, "2000"));
    let mut lines = wait_for_line(&rx, PAUSE_LINE);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    lines.extend(rx.iter());
    let stderr = lines.join("\n");
    assert_eq!(status.code(), Some(EXIT_INTERRUPTED), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    bed.check_certificate(name, &[name]).await;
    assert!(!pending_file(bed.state(), name).exists(), "{stderr}");
    assert!(bed.local.journal_files().is_empty());
    bed.assert_no_residue().await;
    assert!(temp_files(bed.state()).is_empty());
}

/// A first Ctrl-C after finalize makes the run wait for the certificate; a
/// second one stops the wait at once (exit 130), the pending record keeps
/// the order and its key, and the next `wacme issue` collects it.
#[tokio::test]
async fn a_second_ctrl_c_after_finalize_leaves_the_order_to_the_next_run() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let name = "twice.example.test";
    let (mut child, rx) = spawn_watched(bed.issue_command(&[name], &[]).env(PAUSE_ENV, "60000"));
    let mut lines = wait_for_line(&rx, PAUSE_LINE);
    for _ in 0..2 {
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(200));
    }
    let sent = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    lines.extend(rx.iter());
    let stderr = lines.join("\n");
    assert_eq!(status.code(), Some(EXIT_INTERRUPTED), "{stderr}");
    assert!(stderr.contains("interrupted twice"), "{stderr}");
    assert!(!bed.cert_dir(name).exists());
    assert!(pending_file(bed.state(), name).exists(), "{stderr}");

    let out = bed.issue(&[name], &["--output", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(json(&out)["recovered_order"].is_string());
    bed.check_certificate(name, &[name]).await;
    assert!(!pending_file(bed.state(), name).exists());
    bed.assert_no_residue().await;
}

/// `wacme issue -d example.com` against the fake CA (its authorizations
/// are valid from the start: nothing is published, the pdns plugin is
/// loaded but never called).
fn fake_ca_issue(local: &Local, ca: &FakeCa, cert_name: &str, extra: &[&str]) -> Command {
    let mut cmd = local.wacme();
    cmd.env("WACME_PDNS_API_KEY", "unused")
        .args(["issue", "-d", "example.com", "--cert-name", cert_name])
        .args([
            "--dns",
            "pdns",
            "--dns-config",
            "api_url=http://127.0.0.1:9",
        ])
        .args(["--directory", &ca.directory_url()])
        .args(["--email", "admin@example.com", "--agree-tos"])
        .args(["--dns-resolver", "127.0.0.1:9"])
        .args(extra);
    cmd
}

async fn run(mut cmd: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run wacme"))
        .await
        .unwrap()
}

fn stored_chain(local: &Local, name: &str) -> String {
    std::fs::read_to_string(
        local
            .state
            .path()
            .join("certs")
            .join(name)
            .join("chain.pem"),
    )
    .unwrap()
}

const ALTERNATE: &str = "Fake Alternate Root 1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_order_the_ca_no_longer_knows_is_discarded() {
    let ca = FakeCa::start().await;
    let local = Local::new();
    let out = run(fake_ca_issue(&local, &ca, "gone", &[])).await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(ca.count("POST /new-order"), 1);

    // A record of this CA and account whose order is gone (404).
    let base = ca.directory_url().trim_end_matches("/dir").to_string();
    // A record of the first layout, as an earlier version left it.
    let dir = legacy_pending_dir(local.state.path(), "gone");
    std::fs::create_dir_all(&dir).unwrap();
    let key = wacme::acme::PrivateKey::generate(wacme::acme::KeyType::EcP256).unwrap();
    std::fs::write(dir.join("privkey.pem"), key.to_pem()).unwrap();
    let record = serde_json::json!({
        "version": 1,
        "cert_name": "gone",
        "order_url": format!("{base}/order/404"),
        "directory": ca.directory_url(),
        "account_url": format!("{base}/acct/1"),
        "domains": ["example.com"],
        "key_type": "ec-p256",
        "created": "2026-01-01T00:00:00Z",
    });
    std::fs::write(dir.join("order.json"), record.to_string()).unwrap();

    let out = run(fake_ca_issue(&local, &ca, "gone", &["--output", "json"])).await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(ca.count("POST /order/404"), 1, "the record was looked at");
    assert_eq!(ca.count("POST /new-order"), 2, "then a new order");
    let report = json(&out);
    assert!(report.get("recovered_order").is_none(), "{report}");
    assert!(!dir.exists(), "the record and its key are discarded");
    let stored =
        std::fs::read_to_string(local.state.path().join("certs/gone/privkey.pem")).unwrap();
    assert_ne!(stored, key.to_pem());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_alternate_chain_without_a_preferred_chain_is_not_fetched() {
    let ca = FakeCa::start().await;
    ca.state.lock().unwrap().alternates = 1;
    ca.inject(
        "/cert/1/alt/1",
        Fault::problem(404, "malformed", "this alternate is gone"),
    );
    let local = Local::new();
    let out = run(fake_ca_issue(&local, &ca, "plain", &[])).await;
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(ca.count("POST /cert/1/alt/1"), 0);
    assert!(!stored_chain(&local, "plain").contains("BEGIN"));
    assert!(!pending_file(local.state.path(), "plain").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_preferred_chain_falls_back_to_the_default_with_a_warning() {
    let ca = FakeCa::start().await;
    ca.state.lock().unwrap().alternates = 1;
    let local = Local::new();

    // The alternate works: it is chosen.
    let out = run(fake_ca_issue(
        &local,
        &ca,
        "alt",
        &["--preferred-chain", ALTERNATE],
    ))
    .await;
    assert!(out.status.success(), "{}", show(&out));
    assert!(stored_chain(&local, "alt").contains("BEGIN CERTIFICATE"));

    // It cannot be downloaded: the default chain, and a warning.
    ca.inject(
        "/cert/1/alt/1",
        Fault::problem(404, "malformed", "this alternate is gone"),
    );
    let out = run(fake_ca_issue(
        &local,
        &ca,
        "fallback",
        &["--preferred-chain", ALTERNATE],
    ))
    .await;
    assert!(out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("alternate chain") && stderr.contains("default chain"),
        "{stderr}"
    );
    assert!(!stored_chain(&local, "fallback").contains("BEGIN"));
    assert!(!pending_file(local.state.path(), "fallback").exists());
}
