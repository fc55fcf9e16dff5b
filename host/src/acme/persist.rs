//! dns-persist-01 (draft-ietf-acme-dns-persist) as data: the standing TXT
//! record at `_validation-persist.<domain>` that names a CA and an ACME
//! account, its value in CAA issue-value syntax (RFC 8659 §4.2:
//! `issuer-domain-name; tag=value; …`), formatting and parsing it, and
//! deciding whether the values a name serves authorize an account for a
//! name (or its wildcard) now. Pure: no network, no clock of its own.
//!
//! Which draft a CA speaks is [`Draft`], and how the record names the
//! account follows from it ([`Binding`]): the early drafts (-00, -01)
//! name the CA's issuer domains in the challenge's `issuer-domain-names`
//! and put the account URL in `accounturi` as it is; -02 renames the field
//! `issuerDomainNames`, has the directory advertise `accountHashPrefix`
//! (and `issuerDomainNames`), and accepts only a hashed account URI:
//! `<accountHashPrefix>sha-256/<base64url(SHA-256(len || domain ||
//! thumbprint || account URL))>` ([`hashed_account_uri`]). The record's
//! name, its issuer, `policy` and `persistUntil` are the same in both.

use std::fmt;

/// The label in front of the domain that holds the record.
pub const RECORD_LABEL: &str = "_validation-persist";

/// The challenge type.
pub const CHALLENGE_TYPE: &str = "dns-persist-01";

/// The record's name for an ordered name: `_validation-persist.<domain>`,
/// the same for `example.com` and `*.example.com`.
pub fn record_name(domain: &str) -> String {
    let base = domain.strip_prefix("*.").unwrap_or(domain);
    format!("{RECORD_LABEL}.{}", base.trim_end_matches('.'))
}

/// The draft version whose shape a CA serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draft {
    /// -00 and -01: challenge field `issuer-domain-names`, the account URL
    /// in the record as it is.
    Early,
    /// -02: challenge field `issuerDomainNames`, directory `meta`
    /// `accountHashPrefix`, a hashed account URI in the record.
    V02,
}

/// The hash algorithm of -02 hashed account URIs, as its RFC 6920 Hash
/// Name String: SHA-256, the one every -02 CA must accept.
pub const HASH_ALG: &str = "sha-256";

/// The `domain_name` of -02's opt-out form: a hashed account URI that does
/// not depend on the domain (every -02 CA accepts it).
pub const ANY_DOMAIN: &str = "*";

/// Clients refuse a -02 challenge naming more issuer domains (§3.1).
pub const MAX_ISSUERS: usize = 10;

/// The name a record at `_validation-persist.<name>` is about: the ordered
/// name without `*.` and trailing dot, in lower case (the form -02 hashes;
/// ACME identifiers are already A-labels).
pub fn base_name(domain: &str) -> String {
    domain
        .strip_prefix("*.")
        .unwrap_or(domain)
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Draft -02 §4.1: the hashed account URI of the account at `account_url`
/// whose key has the RFC 7638 thumbprint `thumbprint` (its unpadded
/// base64url text, as in key authorizations), for the record of `domain`
/// (or [`ANY_DOMAIN`]): `prefix` + `sha-256/` + the unpadded base64url
/// SHA-256 of one octet giving the domain's length, the domain, the
/// thumbprint and the account URL. `None` for a domain longer than 255
/// octets, which no DNS name is.
pub fn hashed_account_uri(
    prefix: &str,
    domain: &str,
    thumbprint: &str,
    account_url: &str,
) -> Option<String> {
    let len = u8::try_from(domain.len()).ok()?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&[len]);
    ctx.update(domain.as_bytes());
    ctx.update(thumbprint.as_bytes());
    ctx.update(account_url.as_bytes());
    let digest = super::jwk::b64(ctx.finish().as_ref());
    Some(format!("{prefix}{HASH_ALG}/{digest}"))
}

/// How a record names the account, in the CA's draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    /// -00/-01: `accounturi` is the account URL.
    Url { url: &'a str },
    /// -02: `accounturi` is the hashed account URI under the directory's
    /// `accountHashPrefix`, over the account key's thumbprint.
    Hashed {
        prefix: &'a str,
        thumbprint: &'a str,
        url: &'a str,
    },
}

impl<'a> Binding<'a> {
    /// The binding `draft` asks of the account at `url` with key
    /// `thumbprint`; -02 needs the directory's `accountHashPrefix` (`None`
    /// when it has none).
    pub fn for_draft(
        draft: Draft,
        url: &'a str,
        thumbprint: &'a str,
        prefix: Option<&'a str>,
    ) -> Option<Binding<'a>> {
        match draft {
            Draft::Early => Some(Binding::Url { url }),
            Draft::V02 => Some(Binding::Hashed {
                prefix: prefix?,
                thumbprint,
                url,
            }),
        }
    }

    pub fn draft(&self) -> Draft {
        match self {
            Binding::Url { .. } => Draft::Early,
            Binding::Hashed { .. } => Draft::V02,
        }
    }

    /// The account URL.
    pub fn url(&self) -> &'a str {
        match *self {
            Binding::Url { url } | Binding::Hashed { url, .. } => url,
        }
    }

    /// The `accounturi` this account's record for `domain` carries: the
    /// URL, or (-02) the hashed URI bound to the domain (`None` for a
    /// domain longer than 255 octets).
    pub fn account_uri(&self, domain: &str) -> Option<String> {
        match *self {
            Binding::Url { url } => Some(url.to_string()),
            Binding::Hashed {
                prefix,
                thumbprint,
                url,
            } => hashed_account_uri(prefix, &base_name(domain), thumbprint, url),
        }
    }

    /// Whether `value` (an `accounturi`) names this account in the record
    /// for `domain`: the URL, exactly; or (-02) the hashed URI for the
    /// domain or for [`ANY_DOMAIN`], compared as strings (-02 §4.2).
    pub fn names(&self, domain: &str, value: &str) -> bool {
        match *self {
            Binding::Url { url } => value == url,
            Binding::Hashed {
                prefix,
                thumbprint,
                url,
            } => [base_name(domain).as_str(), ANY_DOMAIN]
                .iter()
                .any(|d| hashed_account_uri(prefix, d, thumbprint, url).as_deref() == Some(value)),
        }
    }
}

impl Draft {
    /// The challenge field that lists the CA's issuer domain names.
    pub fn issuers_field(self) -> &'static str {
        match self {
            Draft::Early => "issuer-domain-names",
            Draft::V02 => "issuerDomainNames",
        }
    }
}

impl fmt::Display for Draft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Draft::Early => "draft-ietf-acme-dns-persist-01",
            Draft::V02 => "draft-ietf-acme-dns-persist-02",
        })
    }
}

/// A record value: what `wacme persist set` publishes and what a CA reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordValue {
    /// The CA's issuer domain name (one of the challenge's).
    pub issuer: String,
    /// `accounturi`: the ACME account's URL (its `kid`) in -00/-01, its
    /// hashed account URI in -02 ([`Binding::account_uri`]).
    pub account_uri: String,
    /// `policy=wildcard`: also covers `*.name` and names below it.
    pub wildcard: bool,
    /// `persistUntil`: UNIX time after which the CA no longer accepts it.
    pub persist_until: Option<i64>,
}

impl fmt::Display for RecordValue {
    /// `issuer; accounturi=…[; policy=wildcard][; persistUntil=…]`, the
    /// spelling of the draft's examples.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; accounturi={}", self.issuer, self.account_uri)?;
        if self.wildcard {
            f.write_str("; policy=wildcard")?;
        }
        if let Some(t) = self.persist_until {
            write!(f, "; persistUntil={t}")?;
        }
        Ok(())
    }
}

/// Why a value that names an issuer cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    #[error("no issuer domain name")]
    NoIssuer,
    #[error("an empty parameter (a stray or trailing `;`)")]
    EmptyParameter,
    #[error("parameter {0:?} is not tag=value")]
    NotTagValue(String),
    #[error("parameter {0:?} is given twice")]
    Duplicate(String),
    #[error("the value of {tag} holds a character RFC 8659 forbids: {value:?}")]
    BadValue { tag: String, value: String },
    #[error("no accounturi parameter")]
    NoAccount,
    #[error("persistUntil {0:?} is not a UNIX time")]
    BadTime(String),
}

/// RFC 8659 whitespace: space and tab.
fn trim_wsp(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// The issuer domain name of a value, before any parameter (`None` when
/// there is none).
pub fn issuer_of(text: &str) -> Option<&str> {
    let issuer = trim_wsp(text.split(';').next().unwrap_or(""));
    (!issuer.is_empty()).then_some(issuer)
}

impl RecordValue {
    /// Reads a value. Tags are compared without regard to case, unknown
    /// tags are ignored, a `policy` other than `wildcard` counts as absent
    /// (as the draft says); whitespace around `;` and `=` is allowed.
    pub fn parse(text: &str) -> Result<RecordValue, SyntaxError> {
        let mut parts = text.split(';');
        let issuer = trim_wsp(parts.next().unwrap_or(""));
        if issuer.is_empty() {
            return Err(SyntaxError::NoIssuer);
        }
        let mut seen: Vec<String> = Vec::new();
        let mut account_uri = None;
        let mut wildcard = false;
        let mut persist_until = None;
        for part in parts {
            let part = trim_wsp(part);
            if part.is_empty() {
                return Err(SyntaxError::EmptyParameter);
            }
            let Some((tag, value)) = part.split_once('=') else {
                return Err(SyntaxError::NotTagValue(part.into()));
            };
            let (tag, value) = (trim_wsp(tag), trim_wsp(value));
            if tag.is_empty() {
                return Err(SyntaxError::NotTagValue(part.into()));
            }
            let lower = tag.to_ascii_lowercase();
            if seen.contains(&lower) {
                return Err(SyntaxError::Duplicate(tag.into()));
            }
            seen.push(lower.clone());
            if !value
                .bytes()
                .all(|b| (0x21..=0x3a).contains(&b) || (0x3c..=0x7e).contains(&b))
            {
                return Err(SyntaxError::BadValue {
                    tag: tag.into(),
                    value: value.into(),
                });
            }
            match lower.as_str() {
                "accounturi" if !value.is_empty() => account_uri = Some(value.to_string()),
                "accounturi" => return Err(SyntaxError::NoAccount),
                "policy" => wildcard = value.eq_ignore_ascii_case("wildcard"),
                "persistuntil" => {
                    persist_until = Some(
                        value
                            .parse::<i64>()
                            .map_err(|_| SyntaxError::BadTime(value.into()))?,
                    )
                }
                _ => {}
            }
        }
        Ok(RecordValue {
            issuer: issuer.to_string(),
            account_uri: account_uri.ok_or(SyntaxError::NoAccount)?,
            wildcard,
            persist_until,
        })
    }
}

/// Why the served values do not authorize the account (the first reason
/// found, most specific first: a record of this CA for this account that
/// fails, then one for another account, then a malformed one, then none).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{name} serves no dns-persist-01 record for {issuers}; publish one with `wacme persist set` (or see `wacme persist show`)"
    )]
    Missing { name: String, issuers: String },
    #[error(
        "the dns-persist-01 record at {name} names another ACME account ({found}), not {expected}"
    )]
    OtherAccount {
        name: String,
        found: String,
        expected: String,
    },
    #[error(
        "the dns-persist-01 record at {name} has accounturi {found}, not this account's hashed URI {expected} (another account's, or this account's under an earlier key); publish it again with `wacme persist set`"
    )]
    OtherHash {
        name: String,
        found: String,
        expected: String,
    },
    #[error(
        "the dns-persist-01 record at {name} names the account as {found}, not as a hashed account URI under {prefix}: this CA speaks draft -02, which no longer accepts the draft -01 form (the account URL); publish it again with `wacme persist set`"
    )]
    NotHashed {
        name: String,
        found: String,
        prefix: String,
    },
    #[error(
        "the dns-persist-01 record at {name} expired: persistUntil={until} is in the past; publish a new one with `wacme persist set`"
    )]
    Expired { name: String, until: i64 },
    #[error(
        "the dns-persist-01 record at {name} has no policy=wildcard, which {ordered} needs; publish it with `wacme persist set --wildcard`"
    )]
    NotWildcard { name: String, ordered: String },
    #[error("the dns-persist-01 record at {name} cannot be read: {value:?}: {error}")]
    Malformed {
        name: String,
        value: String,
        error: SyntaxError,
    },
}

/// What a name must prove.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The name ordered: `example.com` or `*.example.com`.
    pub ordered: &'a str,
    /// The CA's issuer domain names (from the challenge).
    pub issuers: &'a [String],
    /// The account, as the CA's draft binds it.
    pub account: Binding<'a>,
    /// Now, as UNIX time.
    pub now: i64,
}

/// Whether one of `served` (the TXT values at the record name) authorizes
/// `expected`: the value that does, or why none does.
pub fn judge(served: &[String], expected: &Expected<'_>) -> Result<RecordValue, Refusal> {
    let name = record_name(expected.ordered);
    let wildcard = expected.ordered.starts_with("*.");
    let mut other_account = None;
    let mut expired = None;
    let mut not_wildcard = None;
    let mut malformed = None;
    for text in served {
        let Some(issuer) = issuer_of(text) else {
            continue;
        };
        if !expected
            .issuers
            .iter()
            .any(|i| i.eq_ignore_ascii_case(issuer))
        {
            continue;
        }
        let value = match RecordValue::parse(text) {
            Ok(v) => v,
            Err(error) => {
                malformed.get_or_insert(Refusal::Malformed {
                    name: name.clone(),
                    value: text.clone(),
                    error,
                });
                continue;
            }
        };
        if !expected.account.names(expected.ordered, &value.account_uri) {
            let found = value.account_uri.clone();
            other_account.get_or_insert(match expected.account {
                Binding::Url { url } => Refusal::OtherAccount {
                    name: name.clone(),
                    found,
                    expected: url.to_string(),
                },
                Binding::Hashed { prefix, .. } if !found.starts_with(prefix) => {
                    Refusal::NotHashed {
                        name: name.clone(),
                        found,
                        prefix: prefix.to_string(),
                    }
                }
                Binding::Hashed { .. } => Refusal::OtherHash {
                    name: name.clone(),
                    found,
                    expected: expected
                        .account
                        .account_uri(expected.ordered)
                        .unwrap_or_default(),
                },
            });
            continue;
        }
        if wildcard && !value.wildcard {
            not_wildcard.get_or_insert(Refusal::NotWildcard {
                name: name.clone(),
                ordered: expected.ordered.to_string(),
            });
            continue;
        }
        if let Some(until) = value.persist_until
            && until < expected.now
        {
            expired.get_or_insert(Refusal::Expired {
                name: name.clone(),
                until,
            });
            continue;
        }
        return Ok(value);
    }
    Err(expired
        .or(not_wildcard)
        .or(other_account)
        .or(malformed)
        .unwrap_or_else(|| Refusal::Missing {
            name,
            issuers: expected.issuers.join(", "),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "https://ca.test/acme/acct/1234";

    fn issuers() -> Vec<String> {
        vec!["ca.test".into(), "other-name.ca.test".into()]
    }

    fn expect<'a>(ordered: &'a str, issuers: &'a [String], now: i64) -> Expected<'a> {
        Expected {
            ordered,
            issuers,
            account: Binding::Url { url: ACCT },
            now,
        }
    }

    // Draft -02 §10.2 (the test vector): the thumbprint is RFC 7638 §3.1's
    // example key's, the account URL and prefix the draft's.
    const THUMB: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    const URL_02: &str = "https://ca.example/acct/123";
    const PREFIX: &str = "https://ca.example/account-hash/";
    const HASHED: &str =
        "https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw";
    const HASHED_ANY: &str =
        "https://ca.example/account-hash/sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug";

    fn binding_02() -> Binding<'static> {
        Binding::Hashed {
            prefix: PREFIX,
            thumbprint: THUMB,
            url: URL_02,
        }
    }

    fn expect_02<'a>(ordered: &'a str, issuers: &'a [String]) -> Expected<'a> {
        Expected {
            ordered,
            issuers,
            account: binding_02(),
            now: 100,
        }
    }

    #[test]
    fn hashed_account_uris_match_the_draft_02_vectors() {
        // SHA-256(0x0b || "example.com" || THUMB || URL_02), unpadded base64url.
        assert_eq!(
            hashed_account_uri(PREFIX, "example.com", THUMB, URL_02).unwrap(),
            HASHED
        );
        // The opt-out: SHA-256(0x01 || "*" || THUMB || URL_02).
        assert_eq!(
            hashed_account_uri(PREFIX, ANY_DOMAIN, THUMB, URL_02).unwrap(),
            HASHED_ANY
        );
        assert!(hashed_account_uri(PREFIX, &"a".repeat(256), THUMB, URL_02).is_none());
        // The record of example.com and of *.example.com is the same one,
        // so is its hash; the name is lower-cased, the trailing dot dropped.
        let b = binding_02();
        for name in ["example.com", "*.example.com", "Example.COM."] {
            assert_eq!(b.account_uri(name).unwrap(), HASHED, "{name}");
        }
        // The draft's Figure 5 record reads back to that accounturi.
        let v = RecordValue::parse(&format!("authority.example; accounturi={HASHED}")).unwrap();
        assert_eq!(v.account_uri, HASHED);
        assert_eq!(b.draft(), Draft::V02);
        assert_eq!(b.url(), URL_02);
    }

    #[test]
    fn bindings_follow_the_draft() {
        assert_eq!(
            Binding::for_draft(Draft::Early, ACCT, THUMB, None),
            Some(Binding::Url { url: ACCT })
        );
        assert_eq!(Binding::for_draft(Draft::V02, URL_02, THUMB, None), None);
        assert_eq!(
            Binding::for_draft(Draft::V02, URL_02, THUMB, Some(PREFIX)),
            Some(binding_02())
        );
        let early = Binding::Url { url: URL_02 };
        assert_eq!(early.account_uri("example.com").unwrap(), URL_02);
        assert!(early.names("example.com", URL_02));
        assert!(!early.names("example.com", HASHED));
        let b = binding_02();
        assert!(b.names("example.com", HASHED));
        assert!(b.names("example.com", HASHED_ANY), "the opt-out form");
        assert!(b.names("other.example", HASHED_ANY), "for any domain");
        assert!(!b.names("other.example", HASHED), "bound to example.com");
        assert!(!b.names("example.com", URL_02), "the -01 form");
        assert!(
            !b.names("example.com", &HASHED.to_ascii_lowercase()),
            "compared without case-folding"
        );
    }

    #[test]
    fn judging_under_draft_02() {
        let issuers = vec!["authority.example".to_string()];
        let e = expect_02("example.com", &issuers);
        // The draft's examples (Figures 5 and 8), and the opt-out form.
        let v = judge(&[format!("authority.example; accounturi={HASHED}")], &e).unwrap();
        assert_eq!(v.account_uri, HASHED);
        assert!(judge(&[format!("authority.example; accounturi={HASHED_ANY}")], &e).is_ok());
        let wild = expect_02("*.example.com", &issuers);
        assert!(
            judge(
                &[format!(
                    "authority.example; accounturi={HASHED}; policy=wildcard"
                )],
                &wild
            )
            .is_ok()
        );
        // A draft -01 record (the account URL itself): refused, saying so.
        let err = judge(&[format!("authority.example; accounturi={URL_02}")], &e).unwrap_err();
        assert!(
            matches!(err, Refusal::NotHashed { ref prefix, .. } if prefix == PREFIX),
            "{err}"
        );
        assert!(err.to_string().contains("draft -01"), "{err}");
        // Another account's hash, or a hash bound to another domain.
        let other =
            hashed_account_uri(PREFIX, "example.com", THUMB, "https://ca.example/acct/9").unwrap();
        let bound_elsewhere = hashed_account_uri(PREFIX, "example.net", THUMB, URL_02).unwrap();
        for found in [other, bound_elsewhere] {
            let err = judge(&[format!("authority.example; accounturi={found}")], &e).unwrap_err();
            assert!(
                matches!(err, Refusal::OtherHash { ref expected, .. } if expected == HASHED),
                "{err}"
            );
        }
        // persistUntil and policy are read as in -01.
        let err = judge(
            &[format!(
                "authority.example; accounturi={HASHED}; persistUntil=99"
            )],
            &e,
        )
        .unwrap_err();
        assert!(matches!(err, Refusal::Expired { until: 99, .. }), "{err}");
        let err = judge(&[format!("authority.example; accounturi={HASHED}")], &wild).unwrap_err();
        assert!(matches!(err, Refusal::NotWildcard { .. }), "{err}");
    }

    #[test]
    fn record_names_drop_the_wildcard_label() {
        assert_eq!(
            record_name("example.com"),
            "_validation-persist.example.com"
        );
        assert_eq!(
            record_name("*.example.com"),
            "_validation-persist.example.com"
        );
    }

    #[test]
    fn formats_as_the_draft_examples_and_reads_back() {
        let v = RecordValue {
            issuer: "letsencrypt.org".into(),
            account_uri: "https://acme-v02.api.letsencrypt.org/acme/acct/1234".into(),
            wildcard: true,
            persist_until: Some(1767225600),
        };
        let text = v.to_string();
        assert_eq!(
            text,
            "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1234; policy=wildcard; persistUntil=1767225600"
        );
        assert_eq!(RecordValue::parse(&text).unwrap(), v);
        let plain = RecordValue {
            wildcard: false,
            persist_until: None,
            ..v
        };
        assert_eq!(
            plain.to_string(),
            "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1234"
        );
    }

    #[test]
    fn caa_syntax_whitespace_case_and_unknown_tags() {
        let v = RecordValue::parse(
            " ca.test\t;AccountURI = https://ca.test/acme/acct/1234 ;\tPOLICY=WildCard; future=1;PersistUntil=5 ",
        )
        .unwrap();
        assert_eq!(v.issuer, "ca.test");
        assert_eq!(v.account_uri, ACCT);
        assert!(v.wildcard);
        assert_eq!(v.persist_until, Some(5));
        // A policy the draft does not define counts as absent.
        let v = RecordValue::parse("ca.test; accounturi=x; policy=subdomains").unwrap();
        assert!(!v.wildcard);
    }

    #[test]
    fn malformed_values_are_refused() {
        for (text, want) in [
            ("; accounturi=x", SyntaxError::NoIssuer),
            ("ca.test", SyntaxError::NoAccount),
            ("ca.test;", SyntaxError::EmptyParameter),
            ("ca.test; accounturi=x;", SyntaxError::EmptyParameter),
            (
                "ca.test; accounturi",
                SyntaxError::NotTagValue("accounturi".into()),
            ),
            ("ca.test; =x", SyntaxError::NotTagValue("=x".into())),
            (
                "ca.test; accounturi=x; AccountUri=y",
                SyntaxError::Duplicate("AccountUri".into()),
            ),
            (
                "ca.test; accounturi=a;b",
                SyntaxError::NotTagValue("b".into()),
            ),
            (
                "ca.test; accounturi=a b",
                SyntaxError::BadValue {
                    tag: "accounturi".into(),
                    value: "a b".into(),
                },
            ),
            ("ca.test; accounturi=", SyntaxError::NoAccount),
            (
                "ca.test; accounturi=x; persistUntil=tomorrow",
                SyntaxError::BadTime("tomorrow".into()),
            ),
        ] {
            assert_eq!(RecordValue::parse(text), Err(want), "{text:?}");
        }
    }

    #[test]
    fn judging_picks_the_value_of_this_ca_and_account() {
        let issuers = issuers();
        let served = vec![
            "other-ca.example; accounturi=https://other/1".to_string(),
            "garbage without meaning".to_string(),
            format!("Other-Name.CA.test; accounturi={ACCT}"),
        ];
        let v = judge(&served, &expect("example.com", &issuers, 100)).unwrap();
        assert_eq!(v.issuer, "Other-Name.CA.test");
    }

    #[test]
    fn refusals_say_why() {
        let issuers = issuers();
        let e = expect("example.com", &issuers, 100);
        assert!(matches!(
            judge(&[], &e),
            Err(Refusal::Missing { ref name, .. }) if name == "_validation-persist.example.com"
        ));
        // Another CA's record only: missing, for this CA.
        assert!(matches!(
            judge(&["other.example; accounturi=x".into()], &e),
            Err(Refusal::Missing { .. })
        ));
        assert!(matches!(
            judge(&["ca.test; accounturi=https://ca.test/acme/acct/9".into()], &e),
            Err(Refusal::OtherAccount { ref found, .. }) if found.ends_with("/9")
        ));
        assert!(matches!(
            judge(
                &[format!("ca.test; accounturi={ACCT}; persistUntil=99")],
                &e
            ),
            Err(Refusal::Expired { until: 99, .. })
        ));
        // Valid through the second it names.
        assert!(
            judge(
                &[format!("ca.test; accounturi={ACCT}; persistUntil=100")],
                &e
            )
            .is_ok()
        );
        assert!(matches!(
            judge(&["ca.test; accounturi".into()], &e),
            Err(Refusal::Malformed { .. })
        ));
        let wild = expect("*.example.com", &issuers, 100);
        assert!(matches!(
            judge(&[format!("ca.test; accounturi={ACCT}")], &wild),
            Err(Refusal::NotWildcard { .. })
        ));
        assert!(
            judge(
                &[format!("ca.test; accounturi={ACCT}; policy=wildcard")],
                &wild
            )
            .is_ok()
        );
        // The most specific reason wins over another account's record.
        let served = vec![
            "ca.test; accounturi=https://ca.test/acme/acct/9".to_string(),
            format!("ca.test; accounturi={ACCT}; persistUntil=1"),
        ];
        assert!(matches!(judge(&served, &e), Err(Refusal::Expired { .. })));
    }
}
