//! dns-persist-01 on the DNS side: what the zone's authoritative
//! nameservers serve at `_validation-persist.<name>` (the record format is
//! [`crate::acme::persist`]), whether that authorizes the account for every
//! name of an order, and answering an order's dns-persist-01 challenges
//! with no record published, no plugin and no cleanup.

use super::dns::DnsConfig;
use super::propagation::{self, Mode, Nameserver, PropagationError};
use super::zone::{ZoneError, ZoneFinder};
use crate::acme::persist::{self, Binding, Draft, Expected, RecordValue, Refusal};
use crate::acme::{Account, Authorization, AuthorizationStatus, Order, PollPolicy};
use crate::error::ErrorClass;

/// Why an order cannot be, or was not, authorized by dns-persist-01.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error(
        "the CA offers no dns-persist-01 challenge for {0}; use --challenge dns-01 with a DNS plugin"
    )]
    NotOffered(String),
    #[error("the CA's dns-persist-01 challenge for {0} names no issuer domain")]
    NoIssuers(String),
    #[error(
        "the CA's dns-persist-01 challenge for {name} names {count} issuer domains; {draft} allows at most {max}"
    )]
    TooManyIssuers {
        name: String,
        count: usize,
        draft: Draft,
        max: usize,
    },
    #[error(
        "the CA's dns-persist-01 challenge for {0} is of draft-ietf-acme-dns-persist-02 (issuerDomainNames), but its directory advertises no accountHashPrefix, which the record's hashed accounturi is built on"
    )]
    NoHashPrefix(String),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("no nameserver of {zone} answered for {fqdn}")]
    NoAnswer { zone: String, fqdn: String },
    #[error(transparent)]
    Zone(#[from] ZoneError),
    #[error(transparent)]
    Propagation(#[from] PropagationError),
    #[error(transparent)]
    Acme(#[from] crate::acme::Error),
}

impl PersistError {
    /// The class of this failure: what the CA offers is the CA's; what the
    /// zone serves is DNS.
    pub fn class(&self) -> ErrorClass {
        match self {
            PersistError::NotOffered(_)
            | PersistError::NoIssuers(_)
            | PersistError::TooManyIssuers { .. }
            | PersistError::NoHashPrefix(_) => ErrorClass::Ca,
            PersistError::Acme(e) => e.class(),
            _ => ErrorClass::Dns,
        }
    }
}

/// Where a record name lives and what its nameservers serve there.
#[derive(Debug, Clone)]
pub struct Served {
    /// The record name (after CNAMEs, when followed).
    pub fqdn: String,
    pub zone: String,
    pub nameservers: Vec<Nameserver>,
    /// The TXT values every answering nameserver serves.
    pub values: Vec<String>,
}

/// What the zone's authoritative nameservers serve at `record`
/// (`_validation-persist.<name>`).
pub async fn served(
    dns: &DnsConfig,
    zones: &ZoneFinder,
    record: &str,
) -> Result<Served, PersistError> {
    let placement = zones.place(record).await?;
    let nameservers =
        propagation::servers(dns, zones, &placement.zone, Mode::Authoritative).await?;
    let values = propagation::snapshot(dns, &nameservers, &placement.fqdn)
        .await
        .ok_or_else(|| PersistError::NoAnswer {
            zone: placement.zone.clone(),
            fqdn: placement.fqdn.clone(),
        })?;
    Ok(Served {
        fqdn: placement.fqdn,
        zone: placement.zone,
        nameservers,
        values,
    })
}

/// The issuer domain names of `authz`'s dns-persist-01 challenge and the
/// draft the challenge is shaped after (its field's name says which).
pub fn issuers(authz: &Authorization) -> Result<(Draft, &[String]), PersistError> {
    let name = authz.ordered_name();
    let challenge = authz
        .dns_persist01()
        .ok_or_else(|| PersistError::NotOffered(name.clone()))?;
    let (draft, issuers) = challenge
        .persist_issuers()
        .ok_or_else(|| PersistError::NoIssuers(name.clone()))?;
    if draft == Draft::V02 && issuers.len() > persist::MAX_ISSUERS {
        return Err(PersistError::TooManyIssuers {
            name,
            count: issuers.len(),
            draft,
            max: persist::MAX_ISSUERS,
        });
    }
    Ok((draft, issuers))
}

/// How the record must name `account` for a challenge of `draft`: -02
/// hashes over the directory's `accountHashPrefix` and the account key.
pub fn binding<'a>(
    account: &'a Account,
    draft: Draft,
    name: &str,
) -> Result<Binding<'a>, PersistError> {
    let prefix = account
        .client()
        .directory()
        .meta
        .account_hash_prefix
        .as_deref();
    Binding::for_draft(draft, account.url().as_str(), account.thumbprint(), prefix)
        .ok_or_else(|| PersistError::NoHashPrefix(name.to_string()))
}

/// Whether the nameservers serve, for every authorization still pending, a
/// record that authorizes `account` now, as the draft of the CA's challenge
/// binds it: the values that do, or the first reason one does not.
pub async fn check(
    dns: &DnsConfig,
    zones: &ZoneFinder,
    authorizations: &[Authorization],
    account: &Account,
) -> Result<Vec<RecordValue>, PersistError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let pending: Vec<&Authorization> = authorizations
        .iter()
        .filter(|a| a.status != AuthorizationStatus::Valid)
        .collect();
    let checks = pending.iter().map(|authz| async move {
        let (draft, issuers) = issuers(authz)?;
        let ordered = authz.ordered_name();
        let account = binding(account, draft, &ordered)?;
        let served = served(dns, zones, &persist::record_name(&ordered)).await?;
        let value = persist::judge(
            &served.values,
            &Expected {
                ordered: &ordered,
                issuers,
                account,
                now,
            },
        )?;
        Ok::<_, PersistError>(value)
    });
    futures::future::try_join_all(checks).await
}

/// Answers the dns-persist-01 challenge of every pending authorization of
/// `order` once the records are checked ([`check`]), and waits until the
/// CA validated them: the order as the CA then shows it. Nothing is
/// published or removed, so an interrupt may simply drop this.
pub async fn solve(
    account: &Account,
    dns: &DnsConfig,
    zones: &ZoneFinder,
    order: &Order,
    authorizations: &[Authorization],
    poll: &PollPolicy,
) -> Result<Order, PersistError> {
    check(dns, zones, authorizations, account).await?;
    let answers = authorizations
        .iter()
        .filter(|a| a.status == AuthorizationStatus::Pending)
        .map(|authz| async move {
            let challenge = authz
                .dns_persist01()
                .ok_or_else(|| PersistError::NotOffered(authz.ordered_name()))?;
            account.respond(&challenge.url).await?;
            Ok::<_, PersistError>(())
        });
    futures::future::try_join_all(answers).await?;
    Ok(account
        .wait_authorized(&order.url, authorizations, poll)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authz(challenges: &str) -> Authorization {
        serde_json::from_str(&format!(
            r#"{{"status":"pending","identifier":{{"type":"dns","value":"example.com"}},"wildcard":true,
            "challenges":[{challenges}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn issuers_and_the_draft_come_from_the_challenge() {
        let a = authz(
            r#"{"type":"dns-persist-01","url":"https://ca/c/1","status":"pending","issuer-domain-names":["ca.test"]}"#,
        );
        let (draft, names) = issuers(&a).unwrap();
        assert_eq!((draft, names), (Draft::Early, &["ca.test".to_string()][..]));

        let a = authz(
            r#"{"type":"dns-persist-01","url":"https://ca/c/1","status":"pending","issuerDomainNames":["ca.test","ca2.test"]}"#,
        );
        let (draft, names) = issuers(&a).unwrap();
        assert_eq!(draft, Draft::V02);
        assert_eq!(names, ["ca.test", "ca2.test"]);

        // -02 §3.1: more than 10 issuer domain names is malformed.
        let many: Vec<String> = (0..11).map(|i| format!("\"ca{i}.test\"")).collect();
        let a = authz(&format!(
            r#"{{"type":"dns-persist-01","url":"https://ca/c/1","status":"pending","issuerDomainNames":[{}]}}"#,
            many.join(",")
        ));
        let err = issuers(&a).unwrap_err();
        assert!(
            matches!(err, PersistError::TooManyIssuers { count: 11, .. }),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Ca);
        let err = PersistError::NoHashPrefix("example.com".into());
        assert!(err.to_string().contains("accountHashPrefix"), "{err}");
        assert_eq!(err.class(), ErrorClass::Ca);

        let a = authz(r#"{"type":"dns-persist-01","url":"https://ca/c/1","status":"pending"}"#);
        assert!(matches!(issuers(&a), Err(PersistError::NoIssuers(ref n)) if n == "*.example.com"));

        let a = authz(r#"{"type":"dns-01","url":"https://ca/c/1","status":"pending","token":"t"}"#);
        let err = issuers(&a).unwrap_err();
        assert!(matches!(err, PersistError::NotOffered(_)), "{err}");
        assert!(err.to_string().contains("--challenge dns-01"), "{err}");
    }

    #[test]
    fn refusals_are_dns_failures() {
        let refusal = Refusal::Missing {
            name: "_validation-persist.example.com".into(),
            issuers: "ca.test".into(),
        };
        assert_eq!(PersistError::from(refusal).class(), ErrorClass::Dns);
    }
}
