//! The RFC 2136 test beds (`wacme_tests::rfc2136`, BIND, Knot and PowerDNS)
//! themselves: each server takes a TSIG-signed update of a TXT record and
//! serves it over DNS at once, and refuses an update signed with the wrong
//! secret, with an unknown key name, or not signed at all.
//!
//! What each server answers (the `update failed: …` line of `nsupdate`),
//! and what it logs when it says why:
//!
//! | update              | BIND 9.18         | Knot 3.2          | PowerDNS 4.7 |
//! |---------------------|-------------------|-------------------|--------------|
//! | wrong secret        | `NOTAUTH(BADSIG)` | `NOTAUTH(BADSIG)` | `REFUSED`    |
//! | unknown key name    | `NOTAUTH(BADKEY)` | `NOTAUTH(BADKEY)` | `REFUSED`    |
//! | unsigned            | `REFUSED`         | `NOTAUTH`         | `REFUSED`    |
//! | right key, A record | `REFUSED`         | `NOTAUTH(BADKEY)` | accepted     |
//!
//! BIND logs `tsig verify failure (BADSIG)` / `(BADKEY)` and `update
//! '<zone>/IN' denied`; Knot logs no refusal at level info. PowerDNS answers
//! every refusal with a plain, unsigned REFUSED (nsupdate adds `; TSIG error
//! with server: expected a TSIG or SIG(0)`), so its log is what tells the
//! cases apart: `Signature with TSIG key '<key>' failed to validate`,
//! `can't find TSIG key with name '<key>'`, `TSIG key required, but packet
//! does not contain key`. It cannot limit a key to TXT records, so it takes
//! the A record.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use wacme_tests::free_port_on;
use wacme_tests::rfc2136::{self, Kind, TsigKey, UpdateServer};

const ZONE: &str = "example.test";
const NAME: &str = "_acme-challenge.www.example.test";
/// The name of the key the server does not know.
const UNKNOWN_KEY: &str = "other-key";

/// How a server refuses one update: nsupdate's `update failed: <answer>`,
/// and a line its log then holds, if it logs the reason.
struct Refusal {
    answer: &'static str,
    log: Option<&'static str>,
}

/// What a server answers to refused updates (`a_record` `None`: it accepts
/// a signed A record update).
struct Answers {
    wrong_secret: Refusal,
    unknown_key: Refusal,
    unsigned: Refusal,
    a_record: Option<&'static str>,
}

const BIND: Answers = Answers {
    wrong_secret: Refusal {
        answer: "NOTAUTH(BADSIG)",
        log: Some("TSIG wacme-key: tsig verify failure (BADSIG)"),
    },
    unknown_key: Refusal {
        answer: "NOTAUTH(BADKEY)",
        log: Some("TSIG other-key: tsig verify failure (BADKEY)"),
    },
    unsigned: Refusal {
        answer: "REFUSED",
        log: Some("update 'example.test/IN' denied"),
    },
    a_record: Some("REFUSED"),
};

const KNOT: Answers = Answers {
    wrong_secret: Refusal {
        answer: "NOTAUTH(BADSIG)",
        log: None,
    },
    unknown_key: Refusal {
        answer: "NOTAUTH(BADKEY)",
        log: None,
    },
    unsigned: Refusal {
        answer: "NOTAUTH",
        log: None,
    },
    a_record: Some("NOTAUTH(BADKEY)"),
};

const PDNS: Answers = Answers {
    wrong_secret: Refusal {
        answer: "REFUSED",
        log: Some("Signature with TSIG key 'wacme-key' failed to validate"),
    },
    unknown_key: Refusal {
        answer: "REFUSED",
        log: Some("can't find TSIG key with name 'other-key'"),
    },
    unsigned: Refusal {
        answer: "REFUSED",
        log: Some("TSIG key required, but packet does not contain key"),
    },
    a_record: None,
};

/// A started `kind` server and its key, or `None` (loudly) where it is not
/// installed outside CI.
async fn start(kind: Kind) -> Option<(Box<dyn UpdateServer>, TsigKey)> {
    if !kind.available() {
        return None;
    }
    let key = TsigKey::generate("wacme-key");
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let server = rfc2136::start(kind, ip, free_port_on("127.0.0.1"), ZONE, &key)
        .await
        .unwrap_or_else(|e| panic!("{} does not start: {e:#}", kind.name()));
    assert_eq!(server.name(), kind.name());
    assert_eq!(server.zone(), ZONE);
    Some((server, key))
}

/// A value no earlier run can have left.
fn fresh_value() -> String {
    format!(
        "token-{}",
        &rfc2136::random_secret()[..16].replace(['/', '+'], "x")
    )
}

/// The `update failed: …` answer nsupdate printed, or `None` when the
/// update went through (status 0, no such line).
async fn send(server: &dyn UpdateServer, key: Option<&TsigKey>, commands: &str) -> Option<String> {
    let out = rfc2136::nsupdate(server, key, commands).await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let failed = stderr
        .lines()
        .find_map(|l| l.strip_prefix("update failed: "))
        .map(|s| s.trim().to_string());
    match (&failed, out.status.success()) {
        (None, true) | (Some(_), false) => failed,
        _ => panic!(
            "nsupdate to {}: unexpected result\n{}\n{}",
            server.name(),
            rfc2136::output_text(&out),
            server.log_tail()
        ),
    }
}

async fn txt(server: &dyn UpdateServer) -> Vec<String> {
    rfc2136::txt_values(server, NAME).await.unwrap()
}

/// Waits (ten seconds at most) until the server's log holds `line`.
async fn wait_for_log(server: &dyn UpdateServer, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log_tail().contains(line) {
        assert!(
            Instant::now() < deadline,
            "{} did not log {line:?}:\n{}",
            server.name(),
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn serves_a_signed_update(kind: Kind) {
    let Some((server, key)) = start(kind).await else {
        return;
    };
    let server = server.as_ref();
    assert_eq!(txt(server).await, Vec::<String>::new());

    let first = fresh_value();
    let second = fresh_value();
    for value in [&first, &second] {
        let add = format!("update add {NAME}. 60 TXT \"{value}\"");
        assert_eq!(send(server, Some(&key), &add).await, None);
    }
    // Served right away: no cache stands between an update and the answer.
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    assert_eq!(txt(server).await, both, "{}", server.log_tail());

    let delete = format!("update delete {NAME}. TXT \"{first}\"");
    assert_eq!(send(server, Some(&key), &delete).await, None);
    assert_eq!(txt(server).await, vec![second]);

    let delete_all = format!("update delete {NAME}. TXT");
    assert_eq!(send(server, Some(&key), &delete_all).await, None);
    assert_eq!(txt(server).await, Vec::<String>::new());
}

async fn refuses_bad_updates(kind: Kind, answers: Answers) {
    let Some((server, key)) = start(kind).await else {
        return;
    };
    let server = server.as_ref();
    let value = fresh_value();
    let add = format!("update add {NAME}. 60 TXT \"{value}\"");

    let wrong_secret = key.with_wrong_secret();
    let unknown_key = TsigKey {
        name: UNKNOWN_KEY.into(),
        ..key.clone()
    };
    let cases = [
        ("wrong secret", Some(&wrong_secret), answers.wrong_secret),
        ("unknown key name", Some(&unknown_key), answers.unknown_key),
        ("unsigned", None, answers.unsigned),
    ];
    for (case, key, refusal) in cases {
        assert_eq!(
            send(server, key, &add).await.as_deref(),
            Some(refusal.answer),
            "{} answers an update with {case}",
            server.name()
        );
        if let Some(line) = refusal.log {
            wait_for_log(server, line).await;
        }
        assert_eq!(txt(server).await, Vec::<String>::new(), "{case}");
    }

    // The right key, for a record type other than TXT.
    let a = format!("update add www.{ZONE}. 60 A 192.0.2.1");
    assert_eq!(
        send(server, Some(&key), &a).await.as_deref(),
        answers.a_record,
        "{} answers an A record update",
        server.name()
    );

    // The right key still works after the refusals.
    assert_eq!(send(server, Some(&key), &add).await, None);
    assert_eq!(txt(server).await, vec![value]);
}

#[tokio::test]
async fn bind_serves_a_signed_update() {
    serves_a_signed_update(Kind::Bind).await;
}

#[tokio::test]
async fn bind_refuses_bad_updates() {
    refuses_bad_updates(Kind::Bind, BIND).await;
}

/// BIND knows keys it grants nothing (`extra_keys`): an update signed with
/// one is refused.
#[tokio::test]
async fn bind_refuses_a_known_key_without_grant() {
    if !Kind::Bind.available() {
        return;
    }
    let key = TsigKey::generate("wacme-key");
    let other = TsigKey::generate("other-key");
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let server = wacme_tests::bind::Bind::primary(
        ip,
        free_port_on("127.0.0.1"),
        ZONE,
        &key,
        std::slice::from_ref(&other),
    )
    .await
    .unwrap();
    let add = format!("update add {NAME}. 60 TXT \"{}\"", fresh_value());
    assert_eq!(
        send(&server, Some(&other), &add).await.as_deref(),
        Some("REFUSED")
    );
    assert_eq!(txt(&server).await, Vec::<String>::new());
}

#[tokio::test]
async fn knot_serves_a_signed_update() {
    serves_a_signed_update(Kind::Knot).await;
}

#[tokio::test]
async fn knot_refuses_bad_updates() {
    refuses_bad_updates(Kind::Knot, KNOT).await;
}

#[tokio::test]
async fn pdns_serves_a_signed_update() {
    serves_a_signed_update(Kind::Pdns).await;
}

#[tokio::test]
async fn pdns_refuses_bad_updates() {
    refuses_bad_updates(Kind::Pdns, PDNS).await;
}
