//! Certificate names as the user gives them (`-d`, renewal state, `--zone`):
//! `wacme::names::parse_domain` and `parse_domains`.
//!
//! Input: UTF-8 text (invalid sequences replaced), one name per line. Each
//! line is parsed alone, and all lines together as one certificate's list.
//!
//! Checked for every accepted name (the promises of `names.rs`):
//! - ASCII only, lower case, `*` only as the whole leftmost label;
//! - its challenge name `_acme-challenge.<name without *.>` at most 253
//!   characters, at least two labels, labels of 1–63 letters,
//!   digits and inner hyphens, a last label that is not all digits;
//! - an `xn--` label is canonical punycode (IDNA gives back the same name);
//! - ASCII input is the trimmed input with one trailing dot removed, lower
//!   cased;
//! - idempotent: parsing the output (or its upper-case form, with a trailing
//!   dot, with surrounding blanks) gives the same name;
//! - `base` / `challenge_name` / `is_wildcard` agree with the name;
//! - the ACME layer takes it unchanged: `Identifier::dns` and `NewOrder::dns`
//!   (what issuance calls with these names) accept it and keep it as is.
//!
//! And for the list: `parse_domains` is exactly "parse each, keep the first
//! of duplicates, refuse an empty list, an invalid name or more than
//! `MAX_NAMES` distinct names".

#![no_main]

use libfuzzer_sys::fuzz_target;
use wacme::acme::{Identifier, NewOrder};
use wacme::names::{Domain, MAX_NAMES, parse_domain, parse_domains};

fn check_domain(input: &str, d: &Domain) {
    let name = d.name.as_str();
    assert!(name.is_ascii(), "{input:?} -> non-ASCII {name:?}");
    assert!(
        !name.bytes().any(|b| b.is_ascii_uppercase()),
        "{input:?} -> upper case in {name:?}"
    );
    assert!(name.len() <= 253, "{input:?} -> {} characters", name.len());
    assert!(
        d.challenge_name().len() <= 253,
        "{input:?} -> challenge name of {} characters",
        d.challenge_name().len()
    );

    let base = d.base();
    assert_eq!(d.is_wildcard(), name.starts_with("*."), "{name:?}");
    assert_eq!(
        name,
        if d.is_wildcard() {
            format!("*.{base}")
        } else {
            base.to_string()
        }
    );
    assert!(!base.contains('*'), "{input:?} -> `*` inside {name:?}");
    assert_eq!(d.challenge_name(), format!("_acme-challenge.{base}"));
    assert_eq!(d.to_string(), name);

    let labels: Vec<&str> = base.split('.').collect();
    assert!(labels.len() >= 2, "{input:?} -> single label {name:?}");
    for label in &labels {
        assert!(
            (1..=63).contains(&label.len()),
            "{input:?} -> label {label:?} of {} characters",
            label.len()
        );
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{input:?} -> bad character in label {label:?}"
        );
        assert!(
            !label.starts_with('-') && !label.ends_with('-'),
            "{input:?} -> label {label:?} with an outer hyphen"
        );
    }
    let tld = labels.last().expect("two labels");
    assert!(
        !tld.bytes().all(|b| b.is_ascii_digit()),
        "{input:?} -> all-digit last label in {name:?}"
    );
    assert!(
        base.parse::<std::net::IpAddr>().is_err(),
        "{input:?} -> IP address {name:?}"
    );

    if labels.iter().any(|l| l.starts_with("xn--")) {
        assert_eq!(
            idna::domain_to_ascii_strict(base).ok().as_deref(),
            Some(base),
            "{input:?} -> non-canonical punycode {name:?}"
        );
    }

    // ASCII input: trimmed, one trailing dot dropped, lower-cased, nothing else.
    let trimmed = input.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_ascii() {
        assert_eq!(name, trimmed.to_ascii_lowercase(), "{input:?}");
    }

    // Idempotent, and insensitive to case, one trailing dot and blanks.
    for again in [
        name.to_string(),
        name.to_ascii_uppercase(),
        format!("{name}."),
        format!(" \t{name}\n"),
    ] {
        match parse_domain(&again) {
            Ok(d2) => assert_eq!(&d2, d, "{input:?} -> {name:?}, then {again:?} -> {d2:?}"),
            Err(e) => panic!("{input:?} -> {name:?}, but {again:?} is refused: {}", e.0),
        }
    }

    // The ACME layer accepts it as is.
    match Identifier::dns(name) {
        Ok(id) => {
            assert_eq!(id.kind, "dns");
            assert_eq!(id.value, name, "Identifier::dns changed {name:?}");
            assert_eq!(id.is_wildcard(), d.is_wildcard());
        }
        Err(e) => panic!("{input:?} -> {name:?}, which Identifier::dns refuses: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();

    // The whole input as one name (blank and control characters included).
    if let Ok(d) = parse_domain(&text) {
        check_domain(&text, &d);
    }

    // Each line alone, and the model of `parse_domains`.
    let mut expected: Result<Vec<Domain>, ()> = if lines.is_empty() {
        Err(())
    } else {
        Ok(Vec::new())
    };
    for line in &lines {
        match parse_domain(line) {
            Ok(d) => {
                check_domain(line, &d);
                if let Ok(list) = &mut expected
                    && !list.contains(&d)
                {
                    list.push(d);
                }
            }
            Err(e) => {
                assert!(
                    e.0.starts_with("invalid domain name "),
                    "{line:?}: unexpected message {:?}",
                    e.0
                );
                expected = Err(());
            }
        }
    }
    if let Ok(list) = &expected
        && list.len() > MAX_NAMES
    {
        expected = Err(());
    }

    let got = parse_domains(&lines);
    match (&got, &expected) {
        (Ok(got), Ok(want)) => {
            assert_eq!(got, want, "parse_domains({lines:?})");
            assert!(!got.is_empty() && got.len() <= MAX_NAMES);
            // The order the ACME layer builds from them: same names, same order.
            let order = NewOrder::dns(got.iter().map(|d| d.name.as_str()))
                .unwrap_or_else(|e| panic!("NewOrder::dns refuses {got:?}: {e}"));
            let values: Vec<&str> = order.identifiers.iter().map(|i| i.value.as_str()).collect();
            let names: Vec<&str> = got.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(values, names);
        }
        (Err(_), Err(())) => {}
        (got, want) => panic!("parse_domains({lines:?}) = {got:?}, expected {want:?}"),
    }
    assert!(parse_domains::<&str>(&[]).is_err());
});
