//! The certificate lifecycle end to end, as a user (or a cron job, or a CI
//! pipeline) runs it: `wacme renew` (due, not due, forced, `--all`), deploy
//! hooks, `wacme revoke`, `wacme certs list`, account rollover, the config
//! file, the state directory lock, JSON output and exit codes. Real Pebble
//! validating against a real PowerDNS through the pdns WASM plugin.

use serde_json::Value;
use std::path::Path;
use std::process::Output;
use wacme_tests::dns01::{Bed, ZONE, show};
use wacme_tests::pdns::PdnsOptions;
use wacme_tests::pebble::PebbleOptions;

/// Exit codes (see host/src/exit.rs).
const OK: i32 = 0;
const USAGE: i32 = 2;
const INPUT: i32 = 3;
const PLUGIN: i32 = 4;
const CA: i32 = 5;
const STATE: i32 = 7;
const NOTHING_DUE: i32 = 10;
const SOME_FAILED: i32 = 11;
const HOOK: i32 = 12;

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(out)))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Helpers over the shared test bed.
trait BedExt {
    fn run(&self, args: &[&str]) -> Output;
    fn issue_ok(&self, domains: &[&str], extra: &[&str]);
    fn renew(&self, args: &[&str]) -> Output;
    fn serial(&self, name: &str) -> String;
}

impl BedExt for Bed {
    fn run(&self, args: &[&str]) -> Output {
        self.wacme().args(args).output().expect("run wacme")
    }

    fn issue_ok(&self, domains: &[&str], extra: &[&str]) {
        let out = self.issue(domains, extra);
        assert_eq!(code(&out), OK, "{}", show(&out));
    }

    /// `wacme renew` with JSON output and Pebble's root trusted.
    fn renew(&self, args: &[&str]) -> Output {
        self.wacme()
            .args(["renew", "--output", "json"])
            .args(args)
            .output()
            .expect("run wacme renew")
    }

    fn serial(&self, name: &str) -> String {
        let meta: Value =
            serde_json::from_str(&read(&self.cert_dir(name).join("meta.json"))).unwrap();
        meta["serial"].as_str().unwrap().to_string()
    }
}

#[tokio::test]
async fn renew_not_due_due_and_forced_with_the_deploy_hook_environment() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let hook_out = bed.local.home.path().join("hook.env");
    let hook = format!(
        "env | grep '^WACME_' | grep -v '^WACME_STATE_DIR\\|^WACME_PLUGIN_DIR\\|^WACME_PDNS' | sort > {}",
        hook_out.display()
    );
    bed.issue_ok(
        &[ZONE, &format!("*.{ZONE}")],
        &["--deploy-hook", &hook, "--key-type", "ec-p384"],
    );
    let issued_env = read(&hook_out);
    let dir = bed.cert_dir(ZONE);
    let expected = [
        format!("WACME_CERT_NAME={ZONE}"),
        format!("WACME_DOMAINS={ZONE} *.{ZONE}"),
        format!("WACME_CERT_PATH={}", dir.join("cert.pem").display()),
        format!("WACME_CHAIN_PATH={}", dir.join("chain.pem").display()),
        format!(
            "WACME_FULLCHAIN_PATH={}",
            dir.join("fullchain.pem").display()
        ),
        format!("WACME_KEY_PATH={}", dir.join("privkey.pem").display()),
    ];
    for line in &expected {
        assert!(
            issued_env.lines().any(|l| l == line),
            "{line} in\n{issued_env}"
        );
    }
    std::fs::remove_file(&hook_out).unwrap();
    let first = bed.serial(ZONE);

    // A fresh certificate is not due: exit 10, nothing changes, no hook.
    let out = bed.renew(&["--cert-name", ZONE]);
    assert_eq!(code(&out), NOTHING_DUE, "{}", show(&out));
    let report = json(&out);
    assert_eq!(report["exit_code"], NOTHING_DUE);
    assert_eq!(report["not_due"], 1);
    assert_eq!(report["certificates"][0]["status"], "not_due");
    // Pebble offers no renewalInfo: a third of the lifetime decides.
    let reason = report["certificates"][0]["decision"]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("a third of the lifetime"), "{reason}");
    assert!(report["certificates"][0]["decision"]["due_at"].is_string());
    assert_eq!(bed.serial(ZONE), first);
    assert!(!hook_out.exists(), "no hook when nothing was renewed");

    // Due by --days: renewed with the stored parameters, hook run again.
    let out = bed.renew(&["--cert-name", ZONE, "--days", "100000"]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    let report = json(&out);
    assert_eq!(report["renewed"], 1);
    let cert = &report["certificates"][0];
    assert_eq!(cert["status"], "renewed");
    assert_eq!(cert["issued"]["deploy_hook"]["ok"], true);
    assert_eq!(cert["issued"]["domains"][1], format!("*.{ZONE}"));
    let second = bed.serial(ZONE);
    assert_ne!(first, second);
    assert_eq!(read(&hook_out), issued_env, "same hook environment");
    bed.check_certificate(ZONE, &[ZONE, &format!("*.{ZONE}")])
        .await;
    let meta: Value = serde_json::from_str(&read(&dir.join("meta.json"))).unwrap();
    assert_eq!(meta["key_type"], "ec-p384", "the stored key type is kept");

    // Forced.
    let out = bed.renew(&["--cert-name", ZONE, "--force"]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    assert_ne!(bed.serial(ZONE), second);
    assert_eq!(
        std::fs::read_dir(bed.state().join("archive").join(ZONE))
            .unwrap()
            .count(),
        3,
        "previous versions are kept"
    );
    assert!(bed.leftover_challenges().await.is_empty());
}

#[tokio::test]
async fn a_failed_renewal_leaves_the_old_certificate_and_a_failed_hook_keeps_the_new() {
    // No authorization reuse: every renewal publishes records again.
    let options = PebbleOptions::new().authz_reuse(0);
    let Some(bed) = Bed::start_with(PdnsOptions::default(), options).await else {
        return;
    };
    bed.issue_ok(&[ZONE], &[]);
    let dir = bed.cert_dir(ZONE);
    let snapshot = || -> Vec<String> {
        ["cert.pem", "fullchain.pem", "privkey.pem", "meta.json"]
            .iter()
            .map(|f| read(&dir.join(f)))
            .collect()
    };
    let mut before = snapshot();

    // The provider refuses the (re-resolved) secret: a plugin failure.
    // Pebble reuses a valid authorization 1 % of the time even with
    // PEBBLE_AUTHZREUSE=0 (`rand.Intn(100) > percent`): such a renewal
    // never calls the provider and succeeds, so it is tried again.
    let mut out;
    let archived = || {
        std::fs::read_dir(bed.state().join("archive").join(ZONE))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let mut archived_before = archived();
    let mut tries = 0;
    loop {
        tries += 1;
        out = bed
            .wacme()
            .env("WACME_PDNS_API_KEY", "wrong-key")
            .args(["renew", "--output", "json", "--cert-name", ZONE, "--force"])
            .output()
            .unwrap();
        let reused = serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|r| r["certificates"][0]["issued"]["reused_authorizations"].as_u64())
            .unwrap_or(0);
        if reused == 0 || tries == 3 {
            break;
        }
        // That renewal succeeded (and archived the certificate it replaced).
        before = snapshot();
        archived_before = archived();
    }
    assert_eq!(code(&out), PLUGIN, "{}", show(&out));
    let report = json(&out);
    assert_eq!(report["failed"], 1);
    assert_eq!(report["certificates"][0]["status"], "failed");
    assert_eq!(report["certificates"][0]["exit_code"], PLUGIN);
    let after: Vec<String> = ["cert.pem", "fullchain.pem", "privkey.pem", "meta.json"]
        .iter()
        .map(|f| read(&dir.join(f)))
        .collect();
    assert_eq!(before, after, "the working certificate is untouched");
    assert_eq!(
        archived(),
        archived_before,
        "nothing archived by the failure"
    );

    // A secret that is missing altogether: input error, before any network call.
    let out = bed
        .wacme()
        .env_remove("WACME_PDNS_API_KEY")
        .args(["renew", "--cert-name", ZONE, "--force"])
        .output()
        .unwrap();
    assert_eq!(code(&out), INPUT, "{}", show(&out));
    assert_eq!(
        read(&dir.join("cert.pem")),
        before[0],
        "the working certificate is untouched"
    );

    // A failing deploy hook: exit 12, the renewed certificate stays.
    let out = bed.renew(&["--cert-name", ZONE, "--force", "--deploy-hook", "exit 3"]);
    assert_eq!(code(&out), HOOK, "{}", show(&out));
    let report = json(&out);
    assert_eq!(report["certificates"][0]["status"], "renewed");
    assert_eq!(
        report["certificates"][0]["issued"]["deploy_hook"]["ok"],
        false
    );
    assert_eq!(
        report["certificates"][0]["issued"]["deploy_hook"]["exit_code"],
        3
    );
    assert_ne!(read(&dir.join("cert.pem")), before[0], "renewed anyway");
    bed.check_certificate(ZONE, &[ZONE]).await;
    assert!(bed.leftover_challenges().await.is_empty());
}

#[tokio::test]
async fn renew_all_across_several_certificates() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let names = ["a", "b", "c"].map(|n| format!("{n}.{ZONE}"));
    for n in &names {
        bed.issue_ok(&[n], &[]);
    }
    let serials: Vec<String> = names.iter().map(|n| bed.serial(n)).collect();

    let out = bed.renew(&["--all"]);
    assert_eq!(code(&out), NOTHING_DUE, "{}", show(&out));
    assert_eq!(json(&out)["not_due"], 3);

    let out = bed.renew(&["--all", "--force", "--jobs", "2"]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    let report = json(&out);
    assert_eq!(report["renewed"], 3);
    // Listed as they finished: each once.
    let mut listed: Vec<&str> = report["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cert_name"].as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, names.iter().map(String::as_str).collect::<Vec<_>>());
    for (n, old) in names.iter().zip(&serials) {
        assert_ne!(&bed.serial(n), old, "{n} renewed");
        bed.check_certificate(n, &[n]).await;
    }

    // One entry that cannot be issued (its plugin does not exist): the
    // others still renew, and the run says some failed.
    let config = bed.local.home.path().join("wacme.toml");
    std::fs::write(
        &config,
        format!(
            "[certificates.broken]\ndomains = [\"broken.{ZONE}\"]\ndns = \"no-such-plugin\"\n[defaults]\ndirectory = \"{}\"\n",
            bed.pebble.directory_url()
        ),
    )
    .unwrap();
    let out = bed.renew(&[
        "--all",
        "--force",
        "--config",
        config.to_str().unwrap(),
        "--ca-cert",
        bed.pebble.ca_cert_path().to_str().unwrap(),
    ]);
    assert_eq!(code(&out), SOME_FAILED, "{}", show(&out));
    let report = json(&out);
    assert_eq!(report["renewed"], 3);
    assert_eq!(report["failed"], 1);
    let broken = report["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cert_name"] == "broken")
        .expect("the broken entry is reported");
    assert_eq!(broken["cert_name"], "broken");
    assert_eq!(broken["status"], "failed");
    assert!(
        broken["error"].as_str().unwrap().contains("no-such-plugin"),
        "{broken}"
    );
    assert!(bed.leftover_challenges().await.is_empty());
}

#[tokio::test]
async fn revoke_list_and_renew_the_revoked() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    bed.issue_ok(&[ZONE, &format!("www.{ZONE}")], &[]);
    let out = bed.run(&["certs", "list", "--output", "json"]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    let list = json(&out);
    let c = &list["certificates"][0];
    assert_eq!(c["name"], ZONE);
    assert_eq!(
        c["domains"],
        serde_json::json!([ZONE, format!("www.{ZONE}")])
    );
    assert_eq!(c["plugin"], "pdns");
    assert_eq!(c["revoked"], false);
    assert!(c["days_left"].as_i64().unwrap() > 30, "{c}");
    assert!(c["not_after"].is_string());
    let serial = c["serial"].as_str().unwrap().to_string();

    let out = bed.run(&["revoke", "--cert-name", "nope"]);
    assert_eq!(code(&out), INPUT, "{}", show(&out));
    let out = bed.run(&["revoke", "--cert-name", ZONE, "--reason", "bogus"]);
    assert_eq!(code(&out), INPUT, "{}", show(&out));

    let out = bed.run(&[
        "revoke",
        "--cert-name",
        ZONE,
        "--reason",
        "keyCompromise",
        "--output",
        "json",
    ]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    let revoked = json(&out);
    assert_eq!(revoked["serial"], serial);
    assert_eq!(revoked["reason"], "keyCompromise");
    // The CA says so too: revoking again is refused.
    let out = bed.run(&["revoke", "--cert-name", ZONE]);
    assert_eq!(code(&out), CA, "{}", show(&out));

    let list = json(&bed.run(&["certs", "list", "--output", "json"]));
    assert_eq!(list["certificates"][0]["revoked"], true);
    let text = bed.run(&["certs", "list"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("REVOKED"));

    // A revoked certificate is due.
    let out = bed.renew(&["--cert-name", ZONE]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    assert_eq!(
        json(&out)["certificates"][0]["decision"]["reason"],
        "revoked"
    );
    let list = json(&bed.run(&["certs", "list", "--output", "json"]));
    assert_eq!(list["certificates"][0]["revoked"], false);
    assert_ne!(list["certificates"][0]["serial"], serial);
}

#[tokio::test]
async fn account_rollover_update_then_issue() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    bed.issue_ok(&[ZONE], &[]);
    let dir_url = bed.pebble.directory_url();
    let ca_cert = bed.pebble.ca_cert_path();
    let ca = [
        "--directory",
        &dir_url,
        "--ca-cert",
        ca_cert.to_str().unwrap(),
    ];
    let show_json = || {
        let out = bed.run(&["account", "show", "--output", "json"]);
        assert_eq!(code(&out), OK, "{}", show(&out));
        json(&out)["accounts"][0].clone()
    };
    let before = show_json();

    let mut args = vec![
        "account",
        "rollover",
        "--key-type",
        "ec-p384",
        "--output",
        "json",
    ];
    args.extend(ca);
    let out = bed.run(&args);
    assert_eq!(code(&out), OK, "{}", show(&out));
    let rolled = json(&out);
    assert_eq!(rolled["previous_thumbprint"], before["thumbprint"]);
    let after = show_json();
    assert_ne!(after["thumbprint"], before["thumbprint"]);
    assert_eq!(after["key_type"], "ec-p384");
    assert_eq!(after["account_url"], before["account_url"]);

    let mut args = vec!["account", "update", "--email", "new@example.test"];
    args.extend(ca);
    let out = bed.run(&args);
    assert_eq!(code(&out), OK, "{}", show(&out));
    assert_eq!(show_json()["contact"][0], "mailto:new@example.test");

    // The new key signs the next order.
    bed.issue_ok(&[&format!("after.{ZONE}")], &[]);
    bed.check_certificate(&format!("after.{ZONE}"), &[&format!("after.{ZONE}")])
        .await;

    // Deactivation needs confirmation, then the account is unusable.
    let mut args = vec!["account", "deactivate"];
    args.extend(ca);
    assert_eq!(code(&bed.run(&args)), INPUT);
    args.push("--yes");
    let out = bed.run(&args);
    assert_eq!(code(&out), OK, "{}", show(&out));
    let out = bed.issue(&[&format!("late.{ZONE}")], &[]);
    assert_eq!(code(&out), CA, "{}", show(&out));
}

#[tokio::test]
async fn config_file_round_trip_with_secret_references() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let secret_file = bed.local.home.path().join("pdns-key");
    std::fs::write(&secret_file, format!("{}\n", bed.pdns.api_key())).unwrap();
    let hook_out = bed.local.home.path().join("hook.txt");
    let config = bed.local.home.path().join("wacme.toml");
    let text = format!(
        r#"# wacme test config
[defaults]
directory = "{dir}"
ca_cert = ["{ca}"]
email = ["admin@example.test"]
agree_tos = true
resolvers = ["{dns}"]
dns_port = {port}
propagation_timeout = "60s"

[certificates.site]
domains = ["{ZONE}", "*.{ZONE}"]
dns = "pdns"
deploy_hook = "echo $WACME_CERT_NAME > {hook}"
[certificates.site.dns_config]
api_url = "{api}"
api_key = "file:{secret}"

[certificates.other]
domains = ["other.{ZONE}"]
dns = "pdns"
[certificates.other.dns_config]
api_url = "{api}"
api_key = "env:MY_PDNS_KEY"
"#,
        dir = bed.pebble.directory_url(),
        ca = bed.pebble.ca_cert_path().display(),
        dns = bed.pdns.dns_addr(),
        port = bed.pdns.dns_addr().port(),
        api = bed.pdns.api_url(),
        secret = secret_file.display(),
        hook = hook_out.display(),
    );
    std::fs::write(&config, &text).unwrap();
    let wacme = |args: &[&str]| {
        bed.wacme()
            .env_remove("WACME_PDNS_API_KEY")
            .env("MY_PDNS_KEY", bed.pdns.api_key())
            .env("WACME_CONFIG", &config)
            .args(args)
            .output()
            .unwrap()
    };

    // `issue --cert-name` takes everything from the file.
    let out = wacme(&["issue", "--cert-name", "site", "--output", "json"]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    bed.check_certificate("site", &[ZONE, &format!("*.{ZONE}")])
        .await;
    assert_eq!(read(&hook_out).trim(), "site");
    let meta = read(&bed.cert_dir("site").join("meta.json"));
    assert!(
        !meta.contains(bed.pdns.api_key()),
        "no secret is stored: {meta}"
    );
    assert!(meta.contains("api_key"), "the secret's name is: {meta}");

    // `renew --all`: `other` is issued (not yet stored), `site` is not due.
    let out = wacme(&["renew", "--all", "--output", "json"]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    let report = json(&out);
    assert_eq!(report["renewed"], 1);
    assert_eq!(report["not_due"], 1);
    bed.check_certificate("other", &[&format!("other.{ZONE}")])
        .await;
    // Forced: both renew with secrets re-read from the file and the environment.
    let out = wacme(&["renew", "--all", "--force", "--output", "json"]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    assert_eq!(json(&out)["renewed"], 2);
    assert!(bed.leftover_challenges().await.is_empty());

    // `account register` takes email and agree_tos from the file too.
    let out = wacme(&["account", "register", "--output", "json"]);
    assert_eq!(code(&out), OK, "{}", show(&out));

    // A secret written literally in a file others may read: a warning that
    // names the file and the key, never the value; none once it is 0600.
    use std::os::unix::fs::PermissionsExt as _;
    let literal = text.replace(
        "\"env:MY_PDNS_KEY\"",
        &format!("\"{}\"", bed.pdns.api_key()),
    );
    std::fs::write(&config, &literal).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = wacme(&["renew", "--cert-name", "other", "--force"]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("readable by other users") && stderr.contains("api_key"),
        "{stderr}"
    );
    assert!(stderr.contains("[certificates.other]"), "{stderr}");
    assert!(!stderr.contains(bed.pdns.api_key()), "{stderr}");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = wacme(&["renew", "--cert-name", "other", "--force"]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("readable by other users"), "{stderr}");
    std::fs::write(&config, &text).unwrap();

    // Unknown keys are errors with their line.
    let bad = text.replace(
        "dns = \"pdns\"\ndeploy_hook",
        "dns = \"pdns\"\ndns_plugin = \"x\"\ndeploy_hook",
    );
    let line = bad
        .lines()
        .position(|l| l.starts_with("dns_plugin"))
        .unwrap()
        + 1;
    std::fs::write(&config, &bad).unwrap();
    let out = wacme(&["renew", "--all"]);
    assert_eq!(code(&out), INPUT, "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("line {line}")), "{stderr}");
    assert!(stderr.contains("dns_plugin"), "{stderr}");
    let out = wacme(&["certs", "list", "--output", "json"]);
    assert_eq!(code(&out), INPUT, "{}", show(&out));
    let err = json(&out);
    assert_eq!(err["exit_code"], INPUT);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains(&format!("line {line}"))
    );

    // A missing env: reference names the variable.
    std::fs::write(&config, &text).unwrap();
    let out = bed
        .wacme()
        .env_remove("WACME_PDNS_API_KEY")
        .env("WACME_CONFIG", &config)
        .args(["renew", "--cert-name", "other", "--force"])
        .output()
        .unwrap();
    assert_eq!(code(&out), INPUT, "{}", show(&out));
    assert!(show(&out).contains("MY_PDNS_KEY"), "{}", show(&out));
}

#[test]
fn the_state_lock_makes_a_second_run_wait_then_fail() {
    let state = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let wacme = |args: &[&str]| {
        std::process::Command::new(wacme_tests::wacme_bin())
            .env("WACME_STATE_DIR", state.path())
            .env("XDG_CONFIG_HOME", home.path())
            .env("XDG_CACHE_HOME", home.path())
            .args(args)
            .output()
            .unwrap()
    };
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.path().join("lock"))
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(state.path().join("lock"), "pid 4242\n").unwrap();
    let started = std::time::Instant::now();
    let out = wacme(&["cleanup", "--lock-wait", "1s"]);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(code(&out), STATE, "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another wacme run (pid 4242)"), "{stderr}");
    let out = wacme(&["renew", "--all", "--lock-wait", "0s", "--output", "json"]);
    assert_eq!(code(&out), STATE, "{}", show(&out));
    assert_eq!(json(&out)["exit_code"], STATE);

    // A run that starts while the lock is held proceeds once it is released.
    let waiting = std::process::Command::new(wacme_tests::wacme_bin())
        .env("WACME_STATE_DIR", state.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("XDG_CACHE_HOME", home.path())
        .args(["cleanup", "--lock-wait", "30s"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    lock.unlock().unwrap();
    let out = waiting.wait_with_output().unwrap();
    assert_eq!(code(&out), OK, "{}", show(&out));
    // Nothing stored: renew has nothing due, in text and in JSON.
    let out = wacme(&["renew", "--all"]);
    assert_eq!(code(&out), NOTHING_DUE);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "No certificates to renew.\n0 renewed, 0 not due, 0 failed\n"
    );
    let out = wacme(&["renew", "--all", "--output", "json"]);
    assert_eq!(code(&out), NOTHING_DUE);
    let report = json(&out);
    assert_eq!(report["certificates"], serde_json::json!([]), "{report}");
    assert_eq!(report["exit_code"], NOTHING_DUE);
}

#[test]
fn exit_codes_and_json_errors_without_servers() {
    let state = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let wacme = |args: &[&str]| {
        std::process::Command::new(wacme_tests::wacme_bin())
            .env("WACME_STATE_DIR", state.path())
            .env("XDG_CONFIG_HOME", home.path())
            .env("XDG_CACHE_HOME", home.path())
            .env_remove("WACME_DIRECTORY")
            .args(args)
            .output()
            .unwrap()
    };
    // Usage: renew needs --cert-name or --all.
    assert_eq!(code(&wacme(&["renew"])), USAGE);
    // Input: an unknown certificate, a bad name, no directory, a bad shortcut.
    for args in [
        &["renew", "--cert-name", "nothing-here"][..],
        &[
            "issue",
            "-d",
            "bad..name",
            "--dns",
            "pdns",
            "--directory",
            "letsencrypt",
        ],
        &["issue", "-d", "example.test", "--dns", "pdns"],
        &[
            "issue",
            "-d",
            "example.test",
            "--dns",
            "pdns",
            "--directory",
            "letsencrpyt",
        ],
        &["--config", "/nonexistent/wacme.toml", "certs", "list"],
    ] {
        let out = wacme(args);
        assert_eq!(code(&out), INPUT, "{args:?}: {}", show(&out));
    }
    // JSON errors: one object on stdout with the code.
    let out = wacme(&["renew", "--cert-name", "nothing-here", "--output", "json"]);
    let err = json(&out);
    assert_eq!(err["exit_code"], INPUT);
    assert!(err["error"].as_str().unwrap().contains("nothing-here"));
    assert!(err["causes"].is_array());
    // CA: nothing answers at the directory URL.
    let out = wacme(&[
        "account",
        "register",
        "--directory",
        "http://127.0.0.1:9/directory",
        "--agree-tos",
    ]);
    assert_eq!(code(&out), CA, "{}", show(&out));
    // An empty store lists nothing.
    let out = wacme(&["certs", "list", "--output", "json"]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    assert_eq!(json(&out)["certificates"], serde_json::json!([]));
}

#[test]
fn completions_and_man_pages() {
    let run = |args: &[&str]| {
        std::process::Command::new(wacme_tests::wacme_bin())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["completions", "bash"]);
    assert_eq!(code(&out), OK);
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("wacme") && script.contains("renew"),
        "{script}"
    );
    let out = run(&["manpage"]);
    assert_eq!(code(&out), OK);
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH wacme"));
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["manpage", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code(&out), OK, "{}", show(&out));
    assert!(dir.path().join("wacme.1").exists());
    assert!(dir.path().join("wacme-renew.1").exists());
}

/// A renewal resolves the plugin's config as an issuance does: the stored
/// settings sit where the config file sits, so the environment overrides
/// them; the plugin's defaults and values read from the environment are
/// not stored at all.
#[tokio::test]
async fn renewal_config_follows_the_documented_precedence() {
    let options = PebbleOptions::new().authz_reuse(0);
    let Some(bed) = Bed::start_with(PdnsOptions::default(), options).await else {
        return;
    };
    // Issued with api_url on the command line, and a TTL from the
    // environment.
    let out = bed
        .issue_command(&[ZONE], &[])
        .env("WACME_PDNS_TTL", "77")
        .output()
        .unwrap();
    assert_eq!(code(&out), OK, "{}", show(&out));
    let meta: Value = serde_json::from_str(&read(&bed.cert_dir(ZONE).join("meta.json"))).unwrap();
    let stored = &meta["plugin_config"];
    assert_eq!(stored["api_url"], bed.pdns.api_url(), "{meta}");
    assert!(
        stored.get("ttl").is_none(),
        "environment values are not stored: {meta}"
    );
    assert!(
        stored.get("server_id").is_none(),
        "plugin defaults are not stored: {meta}"
    );

    // The environment names another API endpoint (a proxy in front of the
    // same PowerDNS): the renewal goes there, not to the stored one.
    let proxy = wacme_tests::faulty::Faulty::start(&bed.pdns.api_url()).await;
    // Pebble reuses a valid authorization now and then even when told not
    // to (1 % per identifier): then nothing is published, so try again.
    let mut attempts = 0;
    let out = loop {
        attempts += 1;
        let out = bed
            .wacme()
            .env("WACME_PDNS_API_URL", proxy.url())
            .args(["renew", "--cert-name", ZONE, "--force", "--output", "json"])
            .output()
            .unwrap();
        assert_eq!(code(&out), OK, "{}", show(&out));
        let issued = &json(&out)["certificates"][0]["issued"];
        if issued["provider_requests"] != 0 || attempts == 3 {
            break out;
        }
    };
    assert!(
        !proxy.log().is_empty(),
        "the environment's api_url was not used: {}",
        show(&out)
    );
}

/// `[defaults.ca_rate_limits]` in the config file paces the requests to the
/// CA; a value that is not a rate is refused before any network call,
/// naming the key.
#[tokio::test]
async fn ca_rate_limits_come_from_the_config_file() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let config = bed.local.home.path().join("wacme.toml");
    let write = |other: &str| {
        std::fs::write(
            &config,
            format!("[defaults.ca_rate_limits]\nother = \"{other}\"\nnew_order = \"50/s\"\n"),
        )
        .unwrap()
    };
    write("4/s burst 1");
    let started = std::time::Instant::now();
    let out = bed
        .issue_command(&[ZONE], &["--output", "json"])
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(code(&out), OK, "{}", show(&out));
    // newAccount, newOrder and a few newNonce aside, every request is an
    // "other" one, one per 250 ms after the first.
    let requests = json(&out)["ca_requests"].as_u64().unwrap();
    let other = requests.saturating_sub(6);
    assert!(
        took >= std::time::Duration::from_millis(250 * other.saturating_sub(1)),
        "{requests} requests in {took:?}"
    );

    write("fast");
    let out = bed
        .issue_command(&["other.example.test"], &[])
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(code(&out), INPUT, "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ca_rate_limits.other"),
        "{}",
        show(&out)
    );
}
