//! ACME accounts (RFC 8555 §7.3): create (contacts, terms agreement, External
//! Account Binding), find an existing one (`onlyReturnExisting`), fetch,
//! update contacts, key rollover (`keyChange`) and deactivation. An
//! [`Account`] is the signing identity every order request goes through.

use super::client::{Client, Payload};
use super::error::{Error, Result};
use super::http::Response;
use super::jws::{self, ExternalAccountKey, KeyRef};
use super::keys::PrivateKey;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use url::Url;

/// What to send when creating an account.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    /// Contact URLs, e.g. `mailto:admin@example.com` (see [`mailto`]).
    pub contact: Vec<String>,
    pub terms_of_service_agreed: bool,
    /// External Account Binding, for CAs that require it.
    pub external_account: Option<ExternalAccountKey>,
}

/// The status of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    Valid,
    Deactivated,
    Revoked,
    #[serde(other)]
    Unknown,
}

/// The account object as the CA returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountResource {
    pub status: AccountStatus,
    /// `null` from the CA reads as no contacts.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub contact: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service_agreed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// The result of `newAccount`.
#[derive(Debug, Clone)]
pub struct Registration {
    pub account: Account,
    pub resource: AccountResource,
    /// True when the CA created the account now (HTTP 201), false when the
    /// key already had one.
    pub created: bool,
}

/// An account on a CA: its URL (the JWS `kid`), its key and the client.
/// `Clone + Send + Sync`: clones can run requests concurrently.
#[derive(Debug, Clone)]
pub struct Account {
    client: Client,
    key: Arc<PrivateKey>,
    url: Url,
    thumbprint: Arc<str>,
}

/// `mailto:` contact URL for an email address, with a basic check of the
/// address (one `@`, no spaces, commas or URL-special characters).
pub fn mailto(email: &str) -> Result<String> {
    let email = email.trim();
    let email = email.strip_prefix("mailto:").unwrap_or(email);
    let bad = || Error::Input(format!("{email:?} is not an email address"));
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || email.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, ',' | '?' | '<' | '>' | '"' | '#')
        })
    {
        return Err(bad());
    }
    Ok(format!("mailto:{email}"))
}

impl Client {
    /// What the CA requires before an account can be created, checked
    /// locally: agreement to its terms of service, and an External Account
    /// Binding where it requires one.
    pub fn check_new_account(&self, terms_agreed: bool, has_eab: bool) -> Result<()> {
        let meta = &self.directory().meta;
        if let Some(tos) = &meta.terms_of_service
            && !terms_agreed
        {
            return Err(Error::Input(format!(
                "the CA's terms of service must be agreed to: read {tos}, then pass --agree-tos"
            )));
        }
        if meta.external_account_required && !has_eab {
            return Err(Error::Input(
                "the CA requires External Account Binding: pass --eab-kid and --eab-hmac-key from the CA".into(),
            ));
        }
        Ok(())
    }

    /// Registers `key` with the CA (`newAccount`). When the key already has
    /// an account, the CA returns it and [`Registration::created`] is false.
    pub async fn new_account(&self, key: PrivateKey, request: &NewAccount) -> Result<Registration> {
        self.check_new_account(
            request.terms_of_service_agreed,
            request.external_account.is_some(),
        )?;
        for c in &request.contact {
            Url::parse(c).map_err(|_| Error::Input(format!("the contact {c:?} is not a URL")))?;
        }
        let url = self.directory().new_account.clone();
        let mut payload = json!({ "termsOfServiceAgreed": request.terms_of_service_agreed });
        if !request.contact.is_empty() {
            payload["contact"] = json!(request.contact);
        }
        if let Some(eab) = &request.external_account {
            payload["externalAccountBinding"] = eab.binding(&key.jwk(), url.as_str());
        }
        let resp = self
            .post(
                &key,
                KeyRef::Jwk,
                &url,
                Payload::Json(&payload),
                "application/json",
            )
            .await?;
        self.registration(key, resp)
    }

    /// Looks up the account of `key` without creating one
    /// (`onlyReturnExisting`); fails with the CA's `accountDoesNotExist`
    /// problem when there is none.
    pub async fn find_account(&self, key: PrivateKey) -> Result<Registration> {
        let url = self.directory().new_account.clone();
        let payload = json!({ "onlyReturnExisting": true });
        let resp = self
            .post(
                &key,
                KeyRef::Jwk,
                &url,
                Payload::Json(&payload),
                "application/json",
            )
            .await?;
        self.registration(key, resp)
    }

    /// The URL of the account `key` belongs to, or `None` when the CA has
    /// no account for it (`accountDoesNotExist`); creates nothing
    /// (`onlyReturnExisting`). Any other failure leaves the question open
    /// and is returned as is.
    pub async fn account_url_of(&self, key: &PrivateKey) -> Result<Option<Url>> {
        let url = self.directory().new_account.clone();
        let payload = json!({ "onlyReturnExisting": true });
        let sent = self
            .post(
                key,
                KeyRef::Jwk,
                &url,
                Payload::Json(&payload),
                "application/json",
            )
            .await;
        match sent {
            Ok(resp) => Ok(Some(resp.require_location()?)),
            Err(e) if e.is_problem("accountDoesNotExist") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An account known from earlier (stored URL and key); sends nothing.
    pub fn account(&self, key: PrivateKey, url: Url) -> Account {
        let thumbprint = key.thumbprint().into();
        Account {
            client: self.clone(),
            key: Arc::new(key),
            url,
            thumbprint,
        }
    }

    fn registration(&self, key: PrivateKey, resp: Response) -> Result<Registration> {
        let url = resp.require_location()?;
        let resource: AccountResource = resp.json()?;
        let created = resp.status == 201;
        tracing::debug!(account = %url, created, "ACME account");
        Ok(Registration {
            account: self.account(key, url),
            resource,
            created,
        })
    }
}

impl Account {
    /// The account URL (the `kid` of every request).
    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The RFC 7638 thumbprint of the account key.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The key authorization for a challenge token: `token.thumbprint`.
    pub fn key_authorization(&self, token: &str) -> String {
        jws::key_authorization(token, &self.thumbprint)
    }

    /// The TXT record value of a dns-01 challenge (RFC 8555 §8.4):
    /// base64url(SHA-256(key authorization)).
    pub fn dns01_value(&self, token: &str) -> String {
        jws::dns01_value(&self.key_authorization(token))
    }

    /// A clone that counts its requests in a fresh counter (one per order).
    pub fn counting(&self) -> Account {
        Account {
            client: self.client.counting(),
            ..self.clone()
        }
    }

    /// Requests sent in this clone's counter scope (see [`Account::counting`]).
    pub fn request_count(&self) -> u64 {
        self.client.request_count()
    }

    /// A signed POST with this account's `kid`.
    pub(crate) async fn post(
        &self,
        url: &Url,
        payload: Payload<'_>,
        accept: &str,
    ) -> Result<Response> {
        self.client
            .post(
                &self.key,
                KeyRef::Kid(self.url.as_str()),
                url,
                payload,
                accept,
            )
            .await
    }

    /// POST-as-GET of a JSON resource.
    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
    ) -> Result<(T, Response)> {
        let resp = self.post(url, Payload::Empty, "application/json").await?;
        Ok((resp.json()?, resp))
    }

    /// The account object as the CA has it now.
    pub async fn fetch(&self) -> Result<AccountResource> {
        Ok(self.get_json(&self.url).await?.0)
    }

    /// Replaces the account's contact URLs (an empty list removes them).
    pub async fn update_contact(&self, contact: &[String]) -> Result<AccountResource> {
        for c in contact {
            Url::parse(c).map_err(|_| Error::Input(format!("the contact {c:?} is not a URL")))?;
        }
        let payload = json!({ "contact": contact });
        let resp = self
            .post(&self.url, Payload::Json(&payload), "application/json")
            .await?;
        resp.json()
    }

    /// Rolls the account over to `new_key` (`keyChange`, RFC 8555 §7.3.5)
    /// and returns the account with that key. The old key stops working.
    pub async fn change_key(&self, new_key: PrivateKey) -> Result<Account> {
        let url =
            self.client.directory().key_change.clone().ok_or_else(|| {
                Error::Unsupported("account key rollover (no keyChange URL)".into())
            })?;
        let inner = jws::key_change_inner(&new_key, &self.key, self.url.as_str(), url.as_str())?;
        self.post(&url, Payload::Json(&inner), "application/json")
            .await?;
        tracing::debug!(account = %self.url, "account key changed");
        Ok(Account {
            client: self.client.clone(),
            thumbprint: new_key.thumbprint().into(),
            key: Arc::new(new_key),
            url: self.url.clone(),
        })
    }

    /// Deactivates the account for good (RFC 8555 §7.3.6).
    pub async fn deactivate(&self) -> Result<AccountResource> {
        let payload = json!({ "status": "deactivated" });
        let resp = self
            .post(&self.url, Payload::Json(&payload), "application/json")
            .await?;
        resp.json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_shareable_between_tasks() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<Account>();
        shareable::<crate::acme::Client>();
        fn sendable<T: Send + Sync>() {}
        sendable::<PrivateKey>();
    }

    #[test]
    fn account_resource_tolerates_null_contact() {
        let r: AccountResource =
            serde_json::from_str(r#"{"status":"valid","contact":null}"#).unwrap();
        assert!(r.contact.is_empty());
        let r: AccountResource = serde_json::from_str(r#"{"status":"revoked"}"#).unwrap();
        assert_eq!(r.status, AccountStatus::Revoked);
    }

    #[test]
    fn mailto_checks_addresses() {
        assert_eq!(
            mailto("admin@example.com").unwrap(),
            "mailto:admin@example.com"
        );
        assert_eq!(mailto("mailto:a@b.example").unwrap(), "mailto:a@b.example");
        for bad in [
            "",
            "admin",
            "@example.com",
            "a@",
            "a@b@c",
            "a b@c.d",
            "a@b.c,d@e.f",
            "a@.x",
            "a@x?subject=1",
        ] {
            assert!(matches!(mailto(bad), Err(Error::Input(_))), "{bad}");
        }
    }
}
