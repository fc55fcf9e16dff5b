//! ACME accounts of a workspace, one per CA: registering (or finding, with
//! the stored key) an account, using the stored one, updating its contacts,
//! rolling its key over and deactivating it.
//!
//! Everything that can be checked locally (contacts, terms of service,
//! External Account Binding) is checked before the network; the account key
//! is stored before the CA learns of it, so an interrupted registration is
//! completed with the same key next time. Every use of a stored account
//! opens it through [`crate::acme::AccountStore::open`], which settles a key
//! rollover a crash left unfinished by asking the CA.

use super::Error;
use crate::acme::{
    self, Account, AccountResource, AccountStatus, Client, ExternalAccountKey, KeyType, NewAccount,
    PrivateKey, StoredAccount,
};
use crate::workspace::Workspace;
use anyhow::Context as _;

/// Who registers an account: contacts, agreement to the terms of service,
/// and an External Account Binding `(key id, base64url HMAC key)`.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub email: Vec<String>,
    pub agree_tos: bool,
    pub eab: Option<(String, String)>,
}

impl Registration {
    /// The config file's `email` and `agree_tos` where none were given.
    pub fn with_defaults(mut self, defaults: &crate::workspace::config::Defaults) -> Self {
        if self.email.is_empty() {
            self.email = defaults.email.clone();
        }
        self.agree_tos |= defaults.agree_tos.unwrap_or(false);
        self
    }
}

/// What registering an account needs.
#[derive(Debug, Clone, Default)]
pub struct RegisterRequest {
    /// Contact email addresses.
    pub email: Vec<String>,
    /// Agreement to the CA's terms of service.
    pub agree_tos: bool,
    /// External Account Binding key from the CA.
    pub eab: Option<ExternalAccountKey>,
    /// Type of a new account key.
    pub key_type: KeyType,
}

/// An account the CA knows, as stored.
pub struct Registered {
    pub account: Account,
    pub info: StoredAccount,
    pub status: AccountStatus,
    /// Whether the CA created it now (false: it had it already).
    pub created: bool,
}

/// Registers (or finds, with the same key) the account for `client`'s CA
/// and stores it.
pub async fn register(
    client: &Client,
    workspace: &Workspace,
    request: &RegisterRequest,
) -> Result<Registered, Error> {
    register_with(client, workspace, request)
        .await
        .map_err(Error::from)
}

async fn register_with(
    client: &Client,
    workspace: &Workspace,
    req: &RegisterRequest,
) -> anyhow::Result<Registered> {
    let store = workspace.accounts();
    let contact = req
        .email
        .iter()
        .map(|e| acme::mailto(e))
        .collect::<Result<Vec<_>, _>>()?;
    let eab = req.eab.clone();
    let directory = client.directory_url().to_string();
    client.check_new_account(req.agree_tos, eab.is_some())?;

    let stored = store.open(client).await?;
    let key = match store.load_key(&directory)? {
        Some(key) => key,
        None => {
            let key = PrivateKey::generate(req.key_type)?;
            store.save_key(&directory, &key)?;
            key
        }
    };
    let key_type = key.key_type();
    let thumbprint = key.thumbprint();
    let eab_kid = eab.as_ref().map(|e| e.kid().to_owned());
    let registration = client
        .new_account(
            key,
            &NewAccount {
                contact: contact.clone(),
                terms_of_service_agreed: req.agree_tos,
                external_account: eab,
            },
        )
        .await
        .with_context(|| format!("registering an account with {directory}"))?;
    let mut resource = registration.resource;
    if !registration.created && !req.email.is_empty() && resource.contact != contact {
        resource = registration
            .account
            .update_contact(&contact)
            .await
            .context("updating the account's contacts")?;
    }
    let info = StoredAccount {
        directory: directory.clone(),
        url: registration.account.url().to_string(),
        contact: resource.contact.clone(),
        key_type,
        thumbprint,
        terms_of_service_agreed: req.agree_tos
            || stored
                .as_ref()
                .is_some_and(|(s, _)| s.terms_of_service_agreed),
        eab_kid: eab_kid.or_else(|| stored.as_ref().and_then(|(s, _)| s.eab_kid.clone())),
        created_at: stored
            .as_ref()
            .map(|(s, _)| s.created_at)
            .unwrap_or_else(time::OffsetDateTime::now_utc),
    };
    store.save_info(&info)?;
    Ok(Registered {
        account: registration.account,
        info,
        status: resource.status,
        created: registration.created,
    })
}

/// The stored account for `client`'s CA, registering one (with `email`,
/// `agree_tos` and the External Account Binding `(kid, hmac_key)`, a key of
/// the default type) when there is none.
pub async fn ensure(
    client: &Client,
    workspace: &Workspace,
    email: &[String],
    agree_tos: bool,
    eab: Option<(&str, &str)>,
) -> Result<Account, Error> {
    async {
        let store = workspace.accounts();
        if let Some((info, key)) = store.open(client).await? {
            let url = url::Url::parse(&info.url).with_context(|| {
                format!(
                    "stored account URL {:?} in {}",
                    info.url,
                    store.root().display()
                )
            })?;
            return anyhow::Ok(client.account(key, url));
        }
        let request = RegisterRequest {
            email: email.to_vec(),
            agree_tos,
            eab: eab
                .map(|(kid, key)| ExternalAccountKey::new(kid.to_string(), key))
                .transpose()?,
            key_type: KeyType::default(),
        };
        anyhow::Ok(register_with(client, workspace, &request).await?.account)
    }
    .await
    .map_err(Error::from)
}

/// The stored account of `client`'s CA (an error when there is none).
pub async fn stored(
    client: &Client,
    workspace: &Workspace,
) -> Result<(StoredAccount, Account), Error> {
    let store = workspace.accounts();
    async {
        let (info, key) = store.open_required(client).await?;
        let url = url::Url::parse(&info.url).with_context(|| {
            format!(
                "bad account URL {:?} in {}",
                info.url,
                store.root().display()
            )
        })?;
        let account = client.account(key, url);
        anyhow::Ok((info, account))
    }
    .await
    .map_err(Error::from)
}

/// Replaces the contacts of the stored account; returns it as stored now
/// and its status.
pub async fn update_contact(
    client: &Client,
    workspace: &Workspace,
    email: &[String],
) -> Result<(StoredAccount, AccountStatus), Error> {
    async {
        let contact = email
            .iter()
            .map(|e| acme::mailto(e))
            .collect::<Result<Vec<_>, _>>()?;
        let (info, account) = stored(client, workspace).await?;
        let resource = account
            .update_contact(&contact)
            .await
            .context("updating the account's contacts")?;
        let info = StoredAccount {
            contact: resource.contact.clone(),
            ..info
        };
        workspace.accounts().save_info(&info)?;
        anyhow::Ok((info, resource.status))
    }
    .await
    .map_err(Error::from)
}

/// Rolls the stored account over to a new key of `key_type`; returns it as
/// stored now and the previous key's thumbprint.
pub async fn rollover(
    client: &Client,
    workspace: &Workspace,
    key_type: KeyType,
) -> Result<(StoredAccount, String), Error> {
    async {
        let (info, account) = stored(client, workspace).await?;
        let previous = info.thumbprint.clone();
        let new_key = PrivateKey::generate(key_type)?;
        let (info, _account) = workspace
            .accounts()
            .change_key(&info, &account, new_key)
            .await
            .context("rolling the account key over")?;
        anyhow::Ok((info, previous))
    }
    .await
    .map_err(Error::from)
}

/// Deactivates the stored account at the CA (permanent); its files stay.
pub async fn deactivate(
    client: &Client,
    workspace: &Workspace,
) -> Result<(StoredAccount, AccountStatus), Error> {
    async {
        let (info, account) = stored(client, workspace).await?;
        let resource = account
            .deactivate()
            .await
            .context("deactivating the account")?;
        anyhow::Ok((info, resource.status))
    }
    .await
    .map_err(Error::from)
}

/// The stored accounts (all, or the one of `directory`), each with what the
/// CA says of it now when `refresh` (connecting with `ca_certs` trusted).
pub async fn list(
    engine: &super::Engine,
    workspace: &Workspace,
    directory: Option<&str>,
    refresh: bool,
    ca_certs: &[std::path::PathBuf],
) -> Result<Vec<(StoredAccount, Option<AccountResource>)>, Error> {
    async {
        let store = workspace.accounts();
        let infos: Vec<StoredAccount> = match directory {
            Some(dir) => {
                let dir = normalize_url(dir);
                let info = store.load_info(&dir)?;
                vec![info.ok_or_else(|| acme::Error::NoAccount {
                    directory: dir,
                    accounts_dir: store.root().to_path_buf(),
                })?]
            }
            None => store.list()?,
        };
        let mut out = Vec::new();
        for info in infos {
            let (info, resource) = if refresh {
                let client = engine.client(&info.directory, ca_certs).await?;
                let (info, key) = store.open_required(&client).await?;
                let url = url::Url::parse(&info.url).with_context(|| {
                    format!(
                        "bad account URL in {}",
                        store.dir_for(&info.directory).display()
                    )
                })?;
                let resource = client
                    .account(key, url)
                    .fetch()
                    .await
                    .with_context(|| format!("fetching the account {}", info.url))?;
                (info, Some(resource))
            } else {
                (info, None)
            };
            out.push((info, resource));
        }
        anyhow::Ok(out)
    }
    .await
    .map_err(Error::from)
}

/// A directory URL as the client stores it (parsed and re-serialized), so
/// `https://ca.example` and `https://ca.example/` name the same account.
fn normalize_url(text: &str) -> String {
    url::Url::parse(text.trim())
        .map(|u| u.to_string())
        .unwrap_or_else(|_| text.to_owned())
}
