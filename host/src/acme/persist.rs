//! dns-persist-01 (draft-ietf-acme-dns-persist) as data: the standing TXT
//! record at `_validation-persist.<domain>` that names a CA and an ACME
//! account, its value in CAA issue-value syntax (RFC 8659 §4.2:
//! `issuer-domain-name; tag=value; …`), formatting and parsing it, and
//! deciding whether the values a name serves authorize an account for a
//! name (or its wildcard) now. Pure: no network, no clock of its own.
//!
//! Which draft a CA speaks is [`Draft`]: the early drafts (-00, -01, served
//! by Pebble, Boulder and Let's Encrypt staging) name the CA's issuer
//! domains in the challenge's `issuer-domain-names` and put the account URI
//! in the record as it is; -02 renames the field `issuerDomainNames`.

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
    /// -00 and -01: challenge field `issuer-domain-names`, the account URI
    /// in the record as it is.
    Early,
    /// -02: challenge field `issuerDomainNames`.
    V02,
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
    /// The ACME account's URL (its `kid`).
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
    /// The account URL.
    pub account_uri: &'a str,
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
        if value.account_uri != expected.account_uri {
            other_account.get_or_insert(Refusal::OtherAccount {
                name: name.clone(),
                found: value.account_uri.clone(),
                expected: expected.account_uri.to_string(),
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
            account_uri: ACCT,
            now,
        }
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
