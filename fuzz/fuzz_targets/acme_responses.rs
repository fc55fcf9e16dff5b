//! ACME responses from a CA, read through the client's own code paths:
//! the `Response` helpers (`json`, `problem`, `error`, `content_type`,
//! `retry_after`, `location`, `links`, `replay_nonce`), `Directory::parse`,
//! `Problem::parse`, the order / authorization / challenge / account /
//! `renewalInfo` types, PEM chain splitting (`CertificateChain::from_pem`),
//! ARI `cert_id`, the nonce pool and the poll delay.
//!
//! Input layout (text-friendly, so seeds are readable):
//!
//! ```text
//! o                                  first byte: what the body is (see `Kind`)
//! HTTP 201                           optional status (default 200)
//! Content-Type: application/json     response headers, one a line
//! Location: /acme/order/1
//!                                    a blank line, then the body
//! {"status":"pending", …}
//! ```
//!
//! Without a blank line the rest after the first line is the body, with no
//! headers.
//!
//! Beyond "never panics", checked: content types come back bare and
//! lower case; `Retry-After` seconds are exact and dates never grow as time
//! passes; poll delays stay within the policy's bounds; a kept nonce is
//! handed out once; an error response carries the same problem document
//! `Problem::parse` finds; parsed directories and problem documents survive
//! a serialisation round trip; a renewal time lies inside the suggested
//! window; a parsed chain's leaf and issuers re-encode to the same DER.

#![no_main]

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;
use url::Url;
use wacme::acme::http::{Response, parse_links, parse_retry_after};
use wacme::acme::nonce::NoncePool;
use wacme::acme::{
    AccountResource, Authorization, CertificateChain, Challenge, Directory, Error, Order,
    PollPolicy, Problem, RenewalInfo, cert_id, select_chain,
};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Directory,
    Order,
    Authorization,
    Challenge,
    Problem,
    Account,
    RenewalInfo,
    PemChain,
    CertDer,
}

impl Kind {
    fn from_byte(b: u8) -> Kind {
        const ALL: [Kind; 9] = [
            Kind::Directory,
            Kind::Order,
            Kind::Authorization,
            Kind::Challenge,
            Kind::Problem,
            Kind::Account,
            Kind::RenewalInfo,
            Kind::PemChain,
            Kind::CertDer,
        ];
        match b {
            b'd' => Kind::Directory,
            b'o' => Kind::Order,
            b'a' => Kind::Authorization,
            b'c' => Kind::Challenge,
            b'p' => Kind::Problem,
            b'A' => Kind::Account,
            b'r' => Kind::RenewalInfo,
            b'C' => Kind::PemChain,
            b'x' => Kind::CertDer,
            other => ALL[other as usize % ALL.len()],
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits the input into kind, status, headers and body.
fn response(data: &[u8]) -> Option<(Kind, Response)> {
    let (&first, _) = data.split_first()?;
    let kind = Kind::from_byte(first);
    let rest = match find(data, b"\n") {
        Some(i) => &data[i + 1..],
        None => &[],
    };
    let (head, body) = match find(rest, b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (&[][..], rest),
    };
    let mut status = 200u16;
    let mut headers = HeaderMap::new();
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(code) = line.strip_prefix(b"HTTP ") {
            if let Some(code) = std::str::from_utf8(code)
                .ok()
                .and_then(|c| c.trim().parse::<u16>().ok())
            {
                status = code;
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    Some((
        kind,
        Response {
            method: "POST",
            url: Url::parse("https://ca.example/acme/order/1").expect("a URL"),
            status,
            headers,
            body: Bytes::copy_from_slice(body),
        },
    ))
}

fn unix(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// What every response goes through: the header helpers and, for a
/// failure status, the error the client would return.
fn check_common(resp: &Response) {
    let ct = resp.content_type();
    assert_eq!(ct, ct.to_ascii_lowercase());
    assert_eq!(ct, ct.trim());
    assert!(!ct.contains(';'), "{ct:?}");

    // Retry-After.
    let policy = PollPolicy::default();
    let retry_after = resp.retry_after();
    for value in resp.headers.get_all("retry-after") {
        let Ok(value) = value.to_str() else { continue };
        let early = parse_retry_after(value, unix(0));
        let now = parse_retry_after(value, unix(1_795_305_600)); // 2026-11-22
        let late = parse_retry_after(value, unix(253_402_300_799)); // 9999-12-31
        let digits = value.trim();
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let secs = digits.parse::<u64>().unwrap_or(u64::MAX);
            for got in [early, now, late] {
                assert_eq!(got, Some(Duration::from_secs(secs)), "{value:?}");
            }
        } else {
            assert_eq!(early.is_some(), now.is_some(), "{value:?}");
            assert_eq!(now.is_some(), late.is_some(), "{value:?}");
            if let (Some(a), Some(b), Some(c)) = (early, now, late) {
                assert!(a >= b && b >= c, "{value:?}: {a:?} {b:?} {c:?}");
            }
        }
    }
    for polls in [0, 1, 3, 20, 31, u32::MAX] {
        let delay = policy.delay(polls, retry_after);
        assert!(delay >= policy.initial.min(policy.max_interval));
        assert!(delay <= policy.max_interval.max(policy.max_retry_after));
    }

    // Location and Link.
    if let Some(location) = resp.location() {
        assert_eq!(resp.require_location().ok(), Some(location));
    } else {
        assert!(resp.require_location().is_err());
    }
    let links: Vec<&str> = resp
        .headers
        .get_all(http::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    for rel in ["alternate", "up", "index"] {
        let got = resp.links(rel);
        assert_eq!(got, parse_links(links.iter().copied(), rel, &resp.url));
    }

    // Nonces: kept only when base64url, and handed out once.
    let pool = NoncePool::new();
    if let Some(nonce) = resp.replay_nonce() {
        pool.put(nonce);
        let valid = !nonce.is_empty()
            && nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        assert_eq!(pool.take().as_deref(), valid.then_some(nonce));
        assert!(pool.take().is_none());
    }

    // The problem document and the error for a failure status.
    let problem = resp.problem();
    if ct.contains("json") || ct.is_empty() {
        assert_eq!(problem, Problem::parse(&resp.body));
    } else {
        assert!(problem.is_none());
    }
    if !resp.is_success() {
        let error = resp.error();
        let _ = error.to_string();
        let _ = error.exit();
        match (&error, &problem) {
            (Error::Problem(p), Some(want)) => {
                assert_eq!(&p.problem, want);
                assert_eq!(p.status, resp.status);
                // Dates are relative to the clock: compare presence only.
                assert_eq!(p.retry_after.is_some(), retry_after.is_some());
                assert_eq!(error.problem(), Some(want));
            }
            (Error::BadResponse { status, .. }, None) => assert_eq!(*status, resp.status),
            (other, _) => panic!("unexpected error {other:?} for problem {problem:?}"),
        }
    }
    let _ = resp.json::<serde_json::Value>();
}

fn check_problem(p: &Problem) {
    let _ = p.to_string();
    if let Some(short) = p.acme_type() {
        assert!(p.is(short));
    }
    let json = serde_json::to_vec(p).expect("a problem serializes");
    assert_eq!(Problem::parse(&json).as_ref(), Some(p), "round trip");
}

fn check_directory(resp: &Response) {
    // As `Client::connect` reads it.
    let ct = resp.content_type();
    if !resp.is_success() || !(ct.contains("json") || ct.is_empty()) {
        return;
    }
    let Ok(dir) = Directory::parse(&resp.body) else {
        return;
    };
    let json = serde_json::to_vec(&dir).expect("a directory serializes");
    let again = Directory::parse(&json)
        .unwrap_or_else(|e| panic!("a parsed directory does not parse again: {e}"));
    assert_eq!(
        serde_json::to_value(&dir).unwrap(),
        serde_json::to_value(&again).unwrap()
    );
}

fn check_order(resp: &Response) {
    // As `Account::new_order` / `finalize` read it.
    let Ok(order) = resp.json::<Order>() else {
        return;
    };
    let _ = order.status.to_string();
    if let Some(problem) = &order.error {
        check_problem(problem);
    }
    let _ = resp.require_location();
    let _ = resp.retry_after();
}

fn check_authorization(resp: &Response) {
    let Ok(authz) = resp.json::<Authorization>() else {
        return;
    };
    let name = authz.ordered_name();
    assert_eq!(
        name,
        if authz.wildcard {
            format!("*.{}", authz.identifier.value)
        } else {
            authz.identifier.value.clone()
        }
    );
    let _ = authz.status.to_string();
    if let Some(c) = authz.dns01() {
        assert_eq!(c.kind, "dns-01");
    }
    if let Some(problem) = authz.challenge_error() {
        check_problem(problem);
    }
    for c in &authz.challenges {
        let _ = c.status.to_string();
    }
}

fn check_renewal_info(resp: &Response) {
    // As `Client::renewal_info` reads it.
    if !resp.is_success() {
        return;
    }
    let Ok(mut info) = resp.json::<RenewalInfo>() else {
        return;
    };
    let window = info.suggested_window;
    if window.end < window.start {
        return;
    }
    info.retry_after = resp.retry_after();
    for now in [
        OffsetDateTime::UNIX_EPOCH,
        OffsetDateTime::from_unix_timestamp(1_795_305_600).unwrap(),
        window.start,
        window.end,
        OffsetDateTime::from_unix_timestamp(253_402_300_799).unwrap(),
    ] {
        let t = info.renewal_time(now);
        if window.end <= now {
            assert_eq!(t, now);
        } else {
            let start = window.start.max(now);
            assert!(
                t >= start && (t < window.end || t == start),
                "{t} outside {start}..{}",
                window.end
            );
        }
    }
}

fn check_chain(resp: &Response) {
    // As `Account::certificate_with_alternates` reads it.
    let ct = resp.content_type();
    if !(ct == "application/pem-certificate-chain"
        || ct.is_empty()
        || ct.starts_with("application/x-pem")
        || ct == "text/plain")
    {
        return;
    }
    let Ok(text) = std::str::from_utf8(&resp.body) else {
        return;
    };
    let alternates = resp.links("alternate");
    let Ok(chain) = CertificateChain::from_pem(resp.url.clone(), text) else {
        return;
    };
    assert!(!chain.certs.is_empty());
    assert_eq!(chain.leaf(), &chain.certs[0][..]);
    let leaf = pem::parse_many(chain.leaf_pem()).expect("leaf PEM parses");
    assert_eq!(leaf.len(), 1);
    assert_eq!(leaf[0].contents(), chain.leaf());
    let issuers = pem::parse_many(chain.issuers_pem()).expect("issuer PEM parses");
    assert_eq!(issuers.len(), chain.certs.len() - 1);
    for (block, der) in issuers.iter().zip(&chain.certs[1..]) {
        assert_eq!(block.contents(), &der[..]);
    }
    let root = chain.root_issuer_cn();
    if let Some(cn) = &root {
        assert!(chain.matches_issuer(cn));
    }
    let chains = [chain];
    let preferred = root.as_deref().or(Some("ISRG Root X1"));
    assert!(select_chain(&chains, preferred).is_some());
    assert!(select_chain(&chains, None).is_some());
    assert!(select_chain(&[], preferred).is_none());
    let _ = cert_id(chains[0].leaf());
    let _ = alternates;
}

fuzz_target!(|data: &[u8]| {
    let Some((kind, resp)) = response(data) else {
        return;
    };
    check_common(&resp);
    match kind {
        Kind::Directory => check_directory(&resp),
        Kind::Order => check_order(&resp),
        Kind::Authorization => check_authorization(&resp),
        Kind::Challenge => {
            // As `Account::respond` reads it.
            if let Ok(c) = resp.json::<Challenge>() {
                let _ = c.status.to_string();
                if let Some(problem) = &c.error {
                    check_problem(problem);
                }
            }
        }
        Kind::Problem => {
            if let Some(p) = Problem::parse(&resp.body) {
                check_problem(&p);
            }
        }
        Kind::Account => {
            // As `Client::registration` reads it.
            if resp.require_location().is_ok()
                && let Ok(account) = resp.json::<AccountResource>()
            {
                let _ = (account.status, account.contact.len(), resp.status == 201);
            }
        }
        Kind::RenewalInfo => check_renewal_info(&resp),
        Kind::PemChain => check_chain(&resp),
        Kind::CertDer => {
            if let Ok(id) = cert_id(&resp.body) {
                let (aki, serial) = id.split_once('.').expect("id is aki.serial");
                assert!(!aki.contains('=') && !serial.contains('='));
            }
        }
    }
});
