//! Orders, authorizations and challenges (RFC 8555 §7.1.3–7.1.5, §7.4–7.5):
//! `newOrder` with DNS identifiers (wildcards, validity, profile, ARI
//! `replaces`), fetching authorizations, answering a challenge, polling
//! authorizations and the order, and finalizing with a CSR.

use super::account::Account;
use super::client::Payload;
use super::error::{Error, Result};
use super::poll::{PollPolicy, Step, poll_until};
use super::problem::Problem;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use time::OffsetDateTime;
use url::Url;

/// An identifier in an order or authorization. Only `dns` is used here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl Identifier {
    /// A DNS identifier, validated and normalized as every name is
    /// ([`crate::names::parse_domain`]).
    pub fn dns(name: &str) -> Result<Identifier> {
        let domain = crate::names::parse_domain(name).map_err(|e| Error::Input(e.0))?;
        Ok(Identifier::from(&domain))
    }

    pub fn is_wildcard(&self) -> bool {
        self.value.starts_with("*.")
    }
}

impl From<&crate::names::Domain> for Identifier {
    fn from(domain: &crate::names::Domain) -> Identifier {
        Identifier {
            kind: "dns".into(),
            value: domain.name.clone(),
        }
    }
}

impl std::fmt::Display for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.value)
    }
}

/// How a set of DNS names differs from the names of an order (compared
/// without regard to case; a wildcard is a name of its own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NamesDifference {
    /// Ordered, but not among the names.
    pub missing: Vec<String>,
    /// Among the names, but not ordered.
    pub extra: Vec<String>,
}

impl NamesDifference {
    pub fn of(ordered: &[Identifier], names: &[String]) -> NamesDifference {
        use std::collections::BTreeSet;
        let want: BTreeSet<String> = ordered
            .iter()
            .map(|i| i.value.to_ascii_lowercase())
            .collect();
        let have: BTreeSet<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        NamesDifference {
            missing: want.difference(&have).cloned().collect(),
            extra: have.difference(&want).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }
}

impl std::fmt::Display for NamesDifference {
    /// `missing a, b; extra c`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing {}", self.missing.join(", ")));
        }
        if !self.extra.is_empty() {
            parts.push(format!("extra {}", self.extra.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}

/// The status of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Ready,
    Processing,
    Valid,
    Invalid,
    #[serde(other)]
    Unknown,
}

/// The status of an authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorizationStatus {
    Pending,
    Valid,
    Invalid,
    Deactivated,
    Expired,
    Revoked,
    #[serde(other)]
    Unknown,
}

/// The status of a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeStatus {
    Pending,
    Processing,
    Valid,
    Invalid,
    #[serde(other)]
    Unknown,
}

macro_rules! status_name {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let v = serde_json::to_value(self).expect("serializes");
                f.write_str(v.as_str().unwrap_or("unknown"))
            }
        }
    };
}
status_name!(OrderStatus);
status_name!(AuthorizationStatus);
status_name!(ChallengeStatus);

fn blank_url() -> Url {
    Url::parse("about:blank").expect("a valid URL")
}

/// An order (RFC 8555 §7.1.3). `url` is the order's own URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    #[serde(default = "blank_url", with = "super::serde_url")]
    pub url: Url,
    pub status: OrderStatus,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<OffsetDateTime>,
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_before: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_after: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    #[serde(default, with = "super::serde_url::vec")]
    pub authorizations: Vec<Url>,
    #[serde(with = "super::serde_url")]
    pub finalize: Url,
    #[serde(
        default,
        with = "super::serde_url::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub certificate: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// An authorization (RFC 8555 §7.1.4). For a wildcard name the identifier
/// is the base name and `wildcard` is true.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    #[serde(default = "blank_url", with = "super::serde_url")]
    pub url: Url,
    pub identifier: Identifier,
    pub status: AuthorizationStatus,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<OffsetDateTime>,
    #[serde(default)]
    pub challenges: Vec<Challenge>,
    #[serde(default)]
    pub wildcard: bool,
}

impl Authorization {
    /// The challenge of type `kind` (`dns-01`, `http-01`, …).
    pub fn challenge(&self, kind: &str) -> Option<&Challenge> {
        self.challenges.iter().find(|c| c.kind == kind)
    }

    /// The dns-01 challenge.
    pub fn dns01(&self) -> Option<&Challenge> {
        self.challenge("dns-01")
    }

    /// The dns-persist-01 challenge.
    pub fn dns_persist01(&self) -> Option<&Challenge> {
        self.challenge(super::persist::CHALLENGE_TYPE)
    }

    /// The name as it was ordered: `*.example.com` for a wildcard.
    pub fn ordered_name(&self) -> String {
        if self.wildcard {
            format!("*.{}", self.identifier.value)
        } else {
            self.identifier.value.clone()
        }
    }

    /// The first error reported by one of its challenges.
    pub fn challenge_error(&self) -> Option<&Problem> {
        self.challenges.iter().find_map(|c| c.error.as_ref())
    }
}

/// A challenge (RFC 8555 §7.1.5, §8).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Challenge {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(with = "super::serde_url")]
    pub url: Url,
    pub status: ChallengeStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub validated: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// dns-persist-01, drafts -00 and -01: the issuer domain names the CA
    /// accepts in the record.
    #[serde(
        rename = "issuer-domain-names",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub issuer_domain_names: Vec<String>,
    /// dns-persist-01, draft -02: the same list, renamed.
    #[serde(
        rename = "issuerDomainNames",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub issuer_domain_names_02: Vec<String>,
}

impl Challenge {
    /// A dns-persist-01 challenge's issuer domain names and the draft whose
    /// field named them (`None` when it lists none).
    pub fn persist_issuers(&self) -> Option<(super::persist::Draft, &[String])> {
        use super::persist::Draft;
        if !self.issuer_domain_names.is_empty() {
            Some((Draft::Early, &self.issuer_domain_names))
        } else if !self.issuer_domain_names_02.is_empty() {
            Some((Draft::V02, &self.issuer_domain_names_02))
        } else {
            None
        }
    }
}

/// What to ask for in `newOrder`.
#[derive(Debug, Clone, Default)]
pub struct NewOrder {
    pub identifiers: Vec<Identifier>,
    pub not_before: Option<OffsetDateTime>,
    pub not_after: Option<OffsetDateTime>,
    /// A certificate profile; the CA must advertise it in its directory.
    pub profile: Option<String>,
    /// The ARI certificate id of the certificate this order renews
    /// (RFC 9773 §5); sent only to CAs that support ARI.
    pub replaces: Option<String>,
}

impl NewOrder {
    /// An order for DNS names (normalized, duplicates dropped, order kept).
    pub fn dns<I, S>(names: I) -> Result<NewOrder>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut identifiers: Vec<Identifier> = Vec::new();
        for name in names {
            let id = Identifier::dns(name.as_ref())?;
            if !identifiers.contains(&id) {
                identifiers.push(id);
            }
        }
        if identifiers.is_empty() {
            return Err(Error::Input("an order needs at least one name".into()));
        }
        Ok(NewOrder {
            identifiers,
            ..NewOrder::default()
        })
    }

    pub fn profile(mut self, profile: impl Into<String>) -> NewOrder {
        self.profile = Some(profile.into());
        self
    }

    pub fn replaces(mut self, cert_id: impl Into<String>) -> NewOrder {
        self.replaces = Some(cert_id.into());
        self
    }
}

fn rfc3339(t: OffsetDateTime) -> Result<String> {
    t.format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::Input(format!("bad time {t}: {e}")))
}

impl Account {
    /// Creates an order (`newOrder`).
    pub async fn new_order(&self, request: &NewOrder) -> Result<Order> {
        if request.identifiers.is_empty() {
            return Err(Error::Input("an order needs at least one name".into()));
        }
        let directory = self.client().directory();
        let mut payload = json!({ "identifiers": request.identifiers });
        if let Some(t) = request.not_before {
            payload["notBefore"] = rfc3339(t)?.into();
        }
        if let Some(t) = request.not_after {
            payload["notAfter"] = rfc3339(t)?.into();
        }
        if let Some(profile) = &request.profile {
            let offered = &directory.meta.profiles;
            if offered.is_empty() {
                return Err(Error::Unsupported(format!(
                    "certificate profiles (asked for {profile:?})"
                )));
            }
            if !offered.contains_key(profile) {
                let names: Vec<&str> = offered.keys().map(String::as_str).collect();
                return Err(Error::Input(format!(
                    "the CA offers no profile {profile:?}; it offers: {}",
                    names.join(", ")
                )));
            }
            payload["profile"] = profile.clone().into();
        }
        if let Some(replaces) = &request.replaces {
            if directory.renewal_info.is_some() {
                payload["replaces"] = replaces.clone().into();
            } else {
                tracing::debug!("the CA has no ARI: not sending `replaces`");
            }
        }
        let url = directory.new_order.clone();
        let resp = self
            .post(&url, Payload::Json(&payload), "application/json")
            .await?;
        let mut order: Order = resp.json()?;
        order.url = resp.require_location()?;
        Ok(order)
    }

    /// Fetches an order.
    pub async fn order(&self, url: &Url) -> Result<Order> {
        let (mut order, _): (Order, _) = self.get_json(url).await?;
        order.url = url.clone();
        Ok(order)
    }

    async fn order_with_retry_after(&self, url: &Url) -> Result<(Order, Option<Duration>)> {
        let (mut order, resp): (Order, _) = self.get_json(url).await?;
        order.url = url.clone();
        Ok((order, resp.retry_after()))
    }

    /// Fetches an authorization.
    pub async fn authorization(&self, url: &Url) -> Result<Authorization> {
        Ok(self.authorization_with_retry_after(url).await?.0)
    }

    async fn authorization_with_retry_after(
        &self,
        url: &Url,
    ) -> Result<(Authorization, Option<Duration>)> {
        let (mut authz, resp): (Authorization, _) = self.get_json(url).await?;
        authz.url = url.clone();
        Ok((authz, resp.retry_after()))
    }

    /// Fetches all authorizations of an order, concurrently.
    pub async fn authorizations(&self, order: &Order) -> Result<Vec<Authorization>> {
        futures::future::try_join_all(order.authorizations.iter().map(|u| self.authorization(u)))
            .await
    }

    /// Tells the CA a challenge is ready to be validated (POST `{}`).
    pub async fn respond(&self, challenge_url: &Url) -> Result<Challenge> {
        let payload = json!({});
        let resp = self
            .post(challenge_url, Payload::Json(&payload), "application/json")
            .await?;
        resp.json()
    }

    /// Deactivates an authorization (RFC 8555 §7.5.2), e.g. one no longer
    /// wanted after a failed order.
    pub async fn deactivate_authorization(&self, url: &Url) -> Result<Authorization> {
        let payload = json!({ "status": "deactivated" });
        let resp = self
            .post(url, Payload::Json(&payload), "application/json")
            .await?;
        let mut authz: Authorization = resp.json()?;
        authz.url = url.clone();
        Ok(authz)
    }

    /// Polls an authorization until it is no longer `pending`: returns it
    /// when `valid`, fails with the challenge's problem otherwise.
    pub async fn wait_authorization(
        &self,
        url: &Url,
        policy: &PollPolicy,
    ) -> Result<Authorization> {
        let authz = poll_until(
            policy,
            None,
            || format!("waiting for the authorization {url} to be validated"),
            || async {
                let (authz, retry_after) = self.authorization_with_retry_after(url).await?;
                Ok(match authz.status {
                    AuthorizationStatus::Pending => Step::Again(retry_after),
                    _ => Step::Done(authz),
                })
            },
        )
        .await?;
        if authz.status == AuthorizationStatus::Valid {
            Ok(authz)
        } else {
            Err(authorization_failed(&authz))
        }
    }

    /// After the challenges of `authorizations` were answered: polls the
    /// order (one resource, however many names) while it is `pending`, and
    /// returns it once the CA has validated every authorization (`ready`,
    /// or further). When the order turns `invalid`, the authorizations are
    /// fetched once each to name the one that failed and why.
    pub async fn wait_authorized(
        &self,
        order_url: &Url,
        authorizations: &[Authorization],
        policy: &PollPolicy,
    ) -> Result<Order> {
        // The CA's work grows with the number of challenges: the first
        // look comes after about 1 ms per authorization (never sooner than
        // the policy's), so a large order is not polled a dozen times
        // while a small one is still seen at once.
        let pending = authorizations
            .iter()
            .filter(|a| a.status != AuthorizationStatus::Valid)
            .count() as u32;
        let policy = &PollPolicy {
            initial: policy
                .initial
                .max(Duration::from_millis(1) * pending)
                .min(policy.max_interval),
            ..*policy
        };
        let order = poll_until(
            policy,
            None,
            || format!("waiting for the CA to validate the order {order_url}"),
            || async {
                let (order, retry_after) = self.order_with_retry_after(order_url).await?;
                Ok(match order.status {
                    OrderStatus::Pending => Step::Again(retry_after),
                    _ => Step::Done(order),
                })
            },
        )
        .await?;
        if order.status != OrderStatus::Invalid {
            return check_order(order);
        }
        for authz in authorizations {
            if authz.status == AuthorizationStatus::Valid {
                continue;
            }
            let now = self.authorization(&authz.url).await?;
            if now.status != AuthorizationStatus::Valid {
                return Err(authorization_failed(&now));
            }
        }
        check_order(order)
    }

    /// Polls an order while it is `pending` or `processing`; returns it when
    /// `ready` or `valid`, fails with the order's problem when `invalid`.
    pub async fn wait_order(&self, url: &Url, policy: &PollPolicy) -> Result<Order> {
        self.wait_order_after(url, policy, None).await
    }

    async fn wait_order_after(
        &self,
        url: &Url,
        policy: &PollPolicy,
        retry_after: Option<Duration>,
    ) -> Result<Order> {
        let order = poll_until(
            policy,
            retry_after,
            || format!("waiting for the order {url}"),
            || async {
                let (order, retry_after) = self.order_with_retry_after(url).await?;
                Ok(match order.status {
                    OrderStatus::Pending | OrderStatus::Processing => Step::Again(retry_after),
                    _ => Step::Done(order),
                })
            },
        )
        .await?;
        check_order(order)
    }

    /// Polls an order while it is `pending`; returns it when `ready`, fails
    /// when it is anything else (`invalid`, or finalized already).
    async fn wait_ready(&self, url: &Url, policy: &PollPolicy) -> Result<Order> {
        let order = poll_until(
            policy,
            None,
            || format!("waiting for the order {url} to be ready"),
            || async {
                let (order, retry_after) = self.order_with_retry_after(url).await?;
                Ok(match order.status {
                    OrderStatus::Pending => Step::Again(retry_after),
                    _ => Step::Done(order),
                })
            },
        )
        .await?;
        let order = check_order(order)?;
        if order.status != OrderStatus::Ready {
            return Err(Error::Failed {
                what: format!("the order {url}, which must be ready to be finalized,"),
                status: order.status.to_string(),
                problem: order.error.map(Box::new),
            });
        }
        Ok(order)
    }

    /// Finalizes an order with a CSR (DER), as it is: the CA refuses one
    /// that is not `ready`. The answer may be `processing` (see
    /// [`Account::finalize_and_wait`], which waits for both).
    pub async fn finalize(&self, order: &Order, csr_der: &[u8]) -> Result<Order> {
        Ok(self.finalize_with_retry_after(order, csr_der).await?.0)
    }

    async fn finalize_with_retry_after(
        &self,
        order: &Order,
        csr_der: &[u8],
    ) -> Result<(Order, Option<Duration>)> {
        let payload: Value = json!({ "csr": super::jwk::b64(csr_der) });
        let resp = self
            .post(&order.finalize, Payload::Json(&payload), "application/json")
            .await?;
        let mut updated: Order = resp.json()?;
        updated.url = order.url.clone();
        Ok((updated, resp.retry_after()))
    }

    /// Finalizes an order and waits until it is `valid` with a certificate
    /// URL. Only a `ready` order is finalized (RFC 8555 §7.4): an `order`
    /// in another state (such as the `pending` one `newOrder` answered) is
    /// polled until it is `ready` first, and a finalize the CA refuses with
    /// `orderNotReady` is sent once more after polling again. Both waits
    /// honour the CA's `Retry-After` within `policy`.
    pub async fn finalize_and_wait(
        &self,
        order: &Order,
        csr_der: &[u8],
        policy: &PollPolicy,
    ) -> Result<Order> {
        let ready = if order.status == OrderStatus::Ready {
            order.clone()
        } else {
            check_order(order.clone())?;
            self.wait_ready(&order.url, policy).await?
        };
        let (order, retry_after) = match self.finalize_with_retry_after(&ready, csr_der).await {
            Err(e) if e.is_problem("orderNotReady") => {
                tracing::debug!(order = %ready.url, "finalize refused with orderNotReady: waiting for the order to be ready");
                let ready = self.wait_ready(&ready.url, policy).await?;
                self.finalize_with_retry_after(&ready, csr_der).await?
            }
            other => other?,
        };
        let mut order = check_order(order)?;
        if order.status != OrderStatus::Valid {
            order = self
                .wait_order_after(&order.url, policy, retry_after)
                .await?;
        }
        if order.status != OrderStatus::Valid {
            return Err(Error::Failed {
                what: format!("the order {} after finalization", order.url),
                status: order.status.to_string(),
                problem: order.error.map(Box::new),
            });
        }
        if order.certificate.is_none() {
            return Err(Error::BadResponse {
                method: "POST",
                url: order.url.to_string(),
                status: 200,
                message: "the order is valid but has no certificate URL".into(),
            });
        }
        Ok(order)
    }
}

/// An authorization that did not become valid, as an error naming it and
/// the challenge's problem.
fn authorization_failed(authz: &Authorization) -> Error {
    Error::Failed {
        what: format!("the authorization for {}", authz.ordered_name()),
        status: authz.status.to_string(),
        problem: authz.challenge_error().cloned().map(Box::new),
    }
}

fn check_order(order: Order) -> Result<Order> {
    match order.status {
        OrderStatus::Invalid | OrderStatus::Unknown => Err(Error::Failed {
            what: format!("the order {}", order.url),
            status: order.status.to_string(),
            problem: order.error.map(Box::new),
        }),
        _ => Ok(order),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_normalized_and_checked() {
        assert_eq!(
            Identifier::dns("Example.COM.").unwrap().value,
            "example.com"
        );
        assert_eq!(
            Identifier::dns("*.example.com").unwrap().value,
            "*.example.com"
        );
        assert!(Identifier::dns("*.example.com").unwrap().is_wildcard());
        assert_eq!(
            Identifier::dns("bücher.example").unwrap().value,
            "xn--bcher-kva.example"
        );
        for bad in [
            "",
            "*.",
            "a..b",
            "foo*.example.com",
            "*.*.example.com",
            "-a.example",
            "a_b.example",
            "localhost",
            "1.2.3.4",
            "a b.example",
        ] {
            assert!(
                matches!(Identifier::dns(bad), Err(Error::Input(_))),
                "{bad:?}"
            );
        }
        let long = format!("{}.example", "a".repeat(64));
        assert!(Identifier::dns(&long).is_err());
    }

    #[test]
    fn new_order_dedupes() {
        let o = NewOrder::dns(["example.com", "*.example.com", "EXAMPLE.com"]).unwrap();
        let values: Vec<&str> = o.identifiers.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(values, ["example.com", "*.example.com"]);
        assert!(NewOrder::dns(Vec::<String>::new()).is_err());
    }

    #[test]
    fn parses_order_and_authorization() {
        let order: Order = serde_json::from_str(
            r#"{"status":"pending","expires":"2026-01-01T00:00:00Z",
            "identifiers":[{"type":"dns","value":"example.com"},{"type":"dns","value":"*.example.com"}],
            "authorizations":["https://ca/authz/1","https://ca/authz/2"],
            "finalize":"https://ca/finalize/1","extra":{"ignored":true}}"#,
        )
        .unwrap();
        assert_eq!(order.status, OrderStatus::Pending);
        assert_eq!(order.authorizations.len(), 2);
        assert_eq!(order.url.as_str(), "about:blank");
        let authz: Authorization = serde_json::from_str(
            r#"{"status":"invalid","identifier":{"type":"dns","value":"example.com"},"wildcard":true,
            "challenges":[{"type":"dns-01","url":"https://ca/chal/1","status":"invalid","token":"tok",
              "error":{"type":"urn:ietf:params:acme:error:dns","detail":"NXDOMAIN"}},
              {"type":"tls-alpn-01","url":"https://ca/chal/2","status":"pending","token":"t2"}]}"#,
        )
        .unwrap();
        assert_eq!(authz.ordered_name(), "*.example.com");
        assert_eq!(authz.dns01().unwrap().token.as_deref(), Some("tok"));
        assert!(authz.challenge_error().unwrap().is("dns"));
        assert_eq!(authz.status.to_string(), "invalid");
        let persist: Authorization = serde_json::from_str(
            r#"{"status":"pending","identifier":{"type":"dns","value":"example.com"},
            "challenges":[{"type":"dns-persist-01","url":"https://ca/chal/3","status":"pending",
              "issuer-domain-names":["ca.test"],"accounturi":"https://ca/acct/1"},
              {"type":"dns-persist-01","url":"https://ca/chal/4","status":"pending",
              "issuerDomainNames":["ca2.test"]}]}"#,
        )
        .unwrap();
        use crate::acme::persist::Draft;
        let (draft, issuers) = persist.dns_persist01().unwrap().persist_issuers().unwrap();
        assert_eq!(
            (draft, issuers),
            (Draft::Early, &["ca.test".to_string()][..])
        );
        let (draft, issuers) = persist.challenges[1].persist_issuers().unwrap();
        assert_eq!(
            (draft, issuers),
            (Draft::V02, &["ca2.test".to_string()][..])
        );
        assert!(persist.dns_persist01().unwrap().token.is_none());
        assert!(authz.dns01().unwrap().persist_issuers().is_none());
        let odd: OrderStatus = serde_json::from_str(r#""frobnicated""#).unwrap();
        assert_eq!(odd, OrderStatus::Unknown);
    }
}
