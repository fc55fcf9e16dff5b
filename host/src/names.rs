//! Domain names as the user gives them, checked before any network call.
//!
//! Each name is lower-cased, stripped of one trailing dot and converted from
//! IDN to its ASCII (punycode) form; `*` may appear only as the whole
//! leftmost label; IP addresses, single-label names and malformed labels are
//! refused with a message naming the name and the problem. Duplicates are
//! dropped (keeping the first), and an order holds at most [`MAX_NAMES`].

use crate::error::InputError;

/// Most names in one certificate (Let's Encrypt's limit).
pub const MAX_NAMES: usize = 100;

/// Where a name's DNS-01 record goes, before the name.
pub const CHALLENGE_PREFIX: &str = "_acme-challenge.";

/// The longest name (without `*.`) whose challenge name is a DNS name.
pub const MAX_BASE_LEN: usize = 253 - CHALLENGE_PREFIX.len();

/// One certificate name, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Domain {
    /// The ASCII name as it goes into the order and the CSR (`*.example.com`).
    pub name: String,
}

impl Domain {
    pub fn is_wildcard(&self) -> bool {
        self.name.starts_with("*.")
    }

    /// The name without `*.` (what the authorization is for).
    pub fn base(&self) -> &str {
        self.name.strip_prefix("*.").unwrap_or(&self.name)
    }

    /// `_acme-challenge.<base>`: where its DNS-01 value goes (before CNAMEs).
    pub fn challenge_name(&self) -> String {
        format!("{CHALLENGE_PREFIX}{}", self.base())
    }
}

impl std::fmt::Display for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// Validates and normalises the names of one certificate.
pub fn parse_domains<S: AsRef<str>>(inputs: &[S]) -> Result<Vec<Domain>, InputError> {
    if inputs.is_empty() {
        return Err(InputError(
            "no domain names given: use -d <name> (repeatable)".into(),
        ));
    }
    let mut out: Vec<Domain> = Vec::new();
    for input in inputs {
        let domain = parse_domain(input.as_ref())?;
        if !out.contains(&domain) {
            out.push(domain);
        }
    }
    if out.len() > MAX_NAMES {
        return Err(InputError(format!(
            "{} distinct names given; a certificate holds at most {MAX_NAMES}",
            out.len()
        )));
    }
    Ok(out)
}

/// Validates and normalises one name.
pub fn parse_domain(input: &str) -> Result<Domain, InputError> {
    let bad = |reason: &str| InputError(format!("invalid domain name {input:?}: {reason}"));
    let trimmed = input.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(bad("empty"));
    }
    if trimmed.parse::<std::net::IpAddr>().is_ok()
        || trimmed
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::Ipv6Addr>()
            .is_ok()
    {
        return Err(bad("IP addresses cannot be validated with DNS-01"));
    }
    let (wildcard, rest) = match trimmed.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    if rest.contains('*') {
        return Err(bad(
            "`*` is only allowed as the whole leftmost label (`*.example.com`)",
        ));
    }
    // ASCII names get the specific checks below; others are converted first.
    let ascii = if rest.is_ascii() {
        rest.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_strict(rest)
            .map_err(|_| bad("not a valid internationalised domain name"))?
            .to_ascii_lowercase()
    };
    // The DNS-01 record of the name lives at `_acme-challenge.<name>`, which
    // must itself be a DNS name: at most 253 characters.
    if ascii.len() > MAX_BASE_LEN {
        return Err(bad(&format!(
            "{} characters: `{CHALLENGE_PREFIX}<name>`, where its DNS-01 record goes, would be \
             {} characters, over DNS's 253 (at most {MAX_BASE_LEN} fit)",
            ascii.len(),
            ascii.len() + CHALLENGE_PREFIX.len()
        )));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("needs at least two labels (e.g. example.com)"));
    }
    for label in &labels {
        if label.is_empty() {
            return Err(bad("empty label (two dots in a row)"));
        }
        if label.len() > 63 {
            return Err(bad(&format!(
                "label `{label}` is longer than 63 characters"
            )));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad(&format!(
                "label `{label}` may only hold letters, digits and `-`"
            )));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad(&format!("label `{label}` starts or ends with `-`")));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("the last label is all digits"));
    }
    if labels.iter().any(|l| l.starts_with("xn--")) {
        if idna::domain_to_ascii_strict(&ascii).is_err() {
            return Err(bad("an `xn--` label is not valid punycode"));
        }
        let (unicode, decoded) = idna::domain_to_unicode(&ascii);
        if decoded.is_err() {
            return Err(bad("an `xn--` label is not valid punycode"));
        }
        for (label, u_label) in labels.iter().zip(unicode.split('.')) {
            if label.starts_with("xn--")
                && let Some(c) = u_label.chars().find(|c| !idna2008_valid(*c))
            {
                return Err(bad(&format!(
                    "label `{label}` decodes to `{u_label}`, whose {c:?} (U+{:04X}) no \
                     internationalised domain name may hold (IDNA 2008 allows letters, \
                     marks, digits and `-`)",
                    c as u32
                )));
            }
        }
    }
    let name = if wildcard {
        format!("*.{ascii}")
    } else {
        ascii
    };
    Ok(Domain { name })
}

/// Whether `c` may stand in an internationalised label (RFC 5892, in
/// outline): lower-case and other letters, modifier letters, combining
/// marks, decimal digits and `-`; no symbols, punctuation, spaces, emoji.
fn idna2008_valid(c: char) -> bool {
    use icu_properties::CodePointMapData;
    use icu_properties::props::GeneralCategory as G;
    c == '-'
        || matches!(
            CodePointMapData::<G>::new().get(c),
            G::LowercaseLetter
                | G::OtherLetter
                | G::ModifierLetter
                | G::NonspacingMark
                | G::SpacingMark
                | G::DecimalNumber
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        parse_domain(s).unwrap().name
    }

    fn err(s: &str) -> String {
        parse_domain(s).unwrap_err().0
    }

    #[test]
    fn normalises() {
        assert_eq!(ok("Example.COM."), "example.com");
        assert_eq!(ok(" www.example.com "), "www.example.com");
        assert_eq!(ok("*.Example.com"), "*.example.com");
        assert_eq!(ok("bücher.example"), "xn--bcher-kva.example");
        assert_eq!(ok("*.münchen.de"), "*.xn--mnchen-3ya.de");
        assert_eq!(ok("xn--bcher-kva.example"), "xn--bcher-kva.example");
        assert_eq!(ok("xn--mnchen-3ya.de"), "xn--mnchen-3ya.de");
    }

    #[test]
    fn refuses_with_a_reason() {
        assert!(err("www.*.example.com").contains("whole leftmost label"));
        assert!(err("*example.com").contains("whole leftmost label"));
        assert!(err("**.example.com").contains("whole leftmost label"));
        assert!(err("192.0.2.1").contains("IP addresses"));
        assert!(err("[::1]").contains("IP addresses"));
        assert!(err("localhost").contains("two labels"));
        assert!(err("a..example.com").contains("empty label"));
        assert!(err("-a.example.com").contains("starts or ends with `-`"));
        assert!(err("under_score.example.com").contains("letters, digits"));
        assert!(err(&format!("{}.com", "a".repeat(64))).contains("longer than 63"));
        assert!(err("xn--zz.example.com").contains("punycode"));
        assert!(err("b\u{fffd}d.example.com").contains("not a valid"));
        assert!(err("").contains("empty"));
        assert!(err("example.123").contains("all digits"));
        // Punycode that decodes, but to symbols no IDN may hold.
        assert!(err("xn--bcher.example.test").contains("U+2246"));
        assert!(err("xn--ls8h.example").contains("no internationalised"));
    }

    #[test]
    fn the_challenge_name_must_fit_in_dns() {
        // Labels of 63 characters, joined: a name of exactly `len` characters.
        let name = |len: usize| {
            let mut labels = Vec::new();
            let mut left = len - ".example".len();
            while left > 0 {
                let take = left.min(63);
                labels.push("a".repeat(take));
                left -= take;
                left = left.saturating_sub(1); // the dot
            }
            format!("{}.example", labels.join("."))
        };
        assert_eq!(name(237).len(), 237);
        assert_eq!(ok(&name(237)).len(), 237);
        assert_eq!(
            parse_domain(&name(237)).unwrap().challenge_name().len(),
            253
        );
        let e = err(&name(238));
        assert!(e.contains("_acme-challenge.") && e.contains("254"), "{e}");
        assert!(err(&format!("*.{}", name(238))).contains("254"));
        assert_eq!(ok(&format!("*.{}", name(237))).len(), 239);
    }

    #[test]
    fn dedupes_and_limits() {
        let d = parse_domains(&[
            "example.com",
            "*.example.com",
            "EXAMPLE.com.",
            "www.example.com",
        ])
        .unwrap();
        let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["example.com", "*.example.com", "www.example.com"]);
        let many: Vec<String> = (0..=MAX_NAMES)
            .map(|i| format!("n{i}.example.com"))
            .collect();
        assert!(parse_domains(&many).unwrap_err().0.contains("at most 100"));
        assert!(parse_domains::<&str>(&[]).is_err());
    }

    #[test]
    fn wildcard_and_apex_share_a_challenge_name() {
        let apex = parse_domain("example.com").unwrap();
        let wild = parse_domain("*.example.com").unwrap();
        assert_eq!(apex.challenge_name(), wild.challenge_name());
        assert_eq!(wild.base(), "example.com");
        assert!(wild.is_wildcard() && !apex.is_wildcard());
    }
}
