//! `wacme account register` / `wacme account show` as a user runs them:
//! against Pebble, with and without EAB, with bad input, and the exit code
//! of each failure class. Needs the built binary (`cargo build -p wacme`).

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use wacme_tests::pebble::{Pebble, PebbleOptions};
use wacme_tests::{require_program, wacme_bin};

fn wacme(state: &Path, args: &[&str]) -> Output {
    Command::new(wacme_bin())
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env_remove("WACME_STATE_DIR")
        .env_remove("WACME_DIRECTORY")
        .env_remove("WACME_EAB_HMAC_KEY")
        .env_remove("RUST_LOG")
        .output()
        .expect("run wacme")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

/// stderr without terminal colour codes.
fn stderr(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip "ESC [ … letter".
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn register_and_show_against_pebble() {
    if !require_program("pebble") {
        return;
    }
    let pebble = Pebble::start(PebbleOptions::new()).unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = pebble.directory_url();
    let ca = pebble.ca_cert_path();
    let ca = ca.to_str().unwrap();

    let out = wacme(
        state.path(),
        &[
            "account",
            "register",
            "--directory",
            &dir,
            "--ca-cert",
            ca,
            "--email",
            "cli@example.com",
            "--agree-tos",
            "--output",
            "json",
            "-vv",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["created"], true);
    assert_eq!(v["status"], "valid");
    assert_eq!(v["contact"], serde_json::json!(["mailto:cli@example.com"]));
    assert_eq!(v["key_type"], "ec-p256");
    let account_url = v["account_url"].as_str().unwrap().to_owned();
    assert!(
        account_url.starts_with("https://127.0.0.1:"),
        "{account_url}"
    );

    // Every request is logged at debug level, without secrets.
    let log = stderr(&out);
    assert!(log.contains("ACME request"), "{log}");
    assert!(
        log.contains("ACME request method=HEAD url=https://127.0.0.1:"),
        "{log}"
    );
    assert!(
        log.contains("method=POST url=") && log.contains("/sign-me-up status=201"),
        "{log}"
    );

    // The files: a 0600 PKCS#8 key and a JSON file without secrets.
    let account_dir = Path::new(v["account_dir"].as_str().unwrap()).to_path_buf();
    assert!(account_dir.starts_with(state.path().join("accounts")));
    let key_path = account_dir.join("account.key.pem");
    let key_pem = std::fs::read_to_string(&key_path).unwrap();
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let info = std::fs::read_to_string(account_dir.join("account.json")).unwrap();
    assert!(!info.contains("PRIVATE"));
    assert!(info.contains(&account_url));
    let key_body: String = key_pem.lines().nth(1).unwrap().to_owned();
    assert!(!log.contains(&key_body), "the key leaked into the log");

    // Registering again: the same account, contacts updated.
    let out = wacme(
        state.path(),
        &[
            "account",
            "register",
            "--directory",
            &dir,
            "--ca-cert",
            ca,
            "--email",
            "new@example.com",
            "--agree-tos",
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["created"], false);
    assert_eq!(v["account_url"], account_url.as_str());
    assert_eq!(v["contact"], serde_json::json!(["mailto:new@example.com"]));
    assert_eq!(
        std::fs::read_to_string(&key_path).unwrap(),
        key_pem,
        "the key is kept"
    );

    // Show: local, then refreshed from the CA.
    let out = wacme(state.path(), &["account", "show", "--output", "json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(v["accounts"][0]["account_url"], account_url.as_str());
    assert_eq!(v["accounts"][0]["directory"], dir.as_str());
    assert!(v["accounts"][0].get("status").is_none());
    let out = wacme(
        state.path(),
        &[
            "account",
            "show",
            "--directory",
            &dir,
            "--refresh",
            "--ca-cert",
            ca,
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["accounts"][0]["status"], "valid");
    assert_eq!(
        v["accounts"][0]["contact"],
        serde_json::json!(["mailto:new@example.com"])
    );

    // Text output.
    let out = wacme(state.path(), &["account", "show"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&account_url) && text.contains("ec-p256"),
        "{text}"
    );

    // Another CA's account is not there.
    let out = wacme(
        state.path(),
        &["account", "show", "--directory", "https://ca.example/dir"],
    );
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert!(stderr(&out).contains("no account for https://ca.example/dir"));
}

#[test]
fn register_refusals_and_exit_codes() {
    if !require_program("pebble") {
        return;
    }
    let pebble = Pebble::start(PebbleOptions::new()).unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = pebble.directory_url();
    let ca = pebble.ca_cert_path();
    let ca = ca.to_str().unwrap();

    // Terms not agreed: bad input, nothing stored.
    let out = wacme(
        state.path(),
        &[
            "account",
            "register",
            "--directory",
            &dir,
            "--ca-cert",
            ca,
            "--email",
            "a@example.com",
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("--agree-tos"), "{}", stderr(&out));
    assert!(!state.path().join("accounts").exists());

    // A bad email address: bad input.
    let out = wacme(
        state.path(),
        &[
            "account",
            "register",
            "--directory",
            &dir,
            "--ca-cert",
            ca,
            "--email",
            "not-an-email",
            "--agree-tos",
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("\"not-an-email\" is not an email address"),
        "{}",
        stderr(&out)
    );

    // An unknown key type.
    let out = wacme(
        state.path(),
        &[
            "account",
            "register",
            "--directory",
            &dir,
            "--ca-cert",
            ca,
            "--agree-tos",
            "--key-type",
            "dsa",
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));

    // Pebble's TLS root not trusted: a CA failure that says what to do.
    let out = wacme(
        state.path(),
        &["account", "register", "--directory", &dir, "--agree-tos"],
    );
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(stderr(&out).contains("--ca-cert"), "{}", stderr(&out));

    // Nothing listening, as JSON.
    let port = wacme_tests::free_port();
    let nowhere = format!("http://127.0.0.1:{port}/dir");
    let out = wacme(
        state.path(),
        &[
            "account",
            "register",
            "--directory",
            &nowhere,
            "--agree-tos",
            "--output",
            "json",
        ],
    );
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["exit_code"], 5);
    assert!(
        v["error"].as_str().unwrap().contains("cannot reach the CA"),
        "{v}"
    );

    // A directory URL that is not a URL.
    let out = wacme(
        state.path(),
        &["account", "register", "--directory", "nope", "--agree-tos"],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));

    // EAB key id without the key: a usage error from the parser.
    let out = wacme(
        state.path(),
        &[
            "account",
            "register",
            "--directory",
            &dir,
            "--agree-tos",
            "--eab-kid",
            "kid-1",
        ],
    );
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn register_with_external_account_binding() {
    if !require_program("pebble") {
        return;
    }
    let mac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let pebble = Pebble::start(PebbleOptions::new().eab("kid-1", mac)).unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = pebble.directory_url();
    let ca = pebble.ca_cert_path();
    let ca = ca.to_str().unwrap();

    let out = wacme(
        state.path(),
        &[
            "account",
            "register",
            "--directory",
            &dir,
            "--ca-cert",
            ca,
            "--agree-tos",
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("External Account Binding"),
        "{}",
        stderr(&out)
    );

    let out = wacme(
        state.path(),
        &[
            "account",
            "register",
            "--directory",
            &dir,
            "--ca-cert",
            ca,
            "--agree-tos",
            "--eab-kid",
            "kid-1",
            "--eab-hmac-key",
            mac,
            "--output",
            "json",
            "-vv",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["created"], true);
    assert_eq!(v["eab_kid"], "kid-1");
    assert!(
        !stderr(&out).contains(mac),
        "the HMAC key leaked into the log"
    );
    let info =
        std::fs::read_to_string(Path::new(v["account_dir"].as_str().unwrap()).join("account.json"))
            .unwrap();
    assert!(!info.contains(mac));
    assert!(info.contains("kid-1"));
}
