//! `wacme account …`: register an ACME account with a CA (kept in the state
//! directory, one per CA) and show the stored accounts.

use super::{GlobalArgs, Output, print};
use crate::acme::{
    self, AccountStore, Client, ClientConfig, ExternalAccountKey, KeyType, NewAccount, PrivateKey,
    StoredAccount,
};
use crate::exit::{Exit, InputError};
use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How to reach a CA.
#[derive(Debug, Args, Clone)]
pub struct CaArgs {
    /// The CA's ACME directory URL.
    #[arg(long, value_name = "URL", env = "WACME_DIRECTORY")]
    pub directory: String,
    /// Also trust this PEM certificate (or bundle) for the CA's HTTPS endpoint,
    /// e.g. a test CA's locally made root.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Vec<PathBuf>,
}

impl CaArgs {
    /// Connects to the CA (fetches its directory).
    pub async fn connect(&self) -> anyhow::Result<Client> {
        connect(&self.directory, &self.ca_cert).await
    }
}

async fn connect(directory: &str, ca_certs: &[PathBuf]) -> anyhow::Result<Client> {
    let mut config = ClientConfig::default();
    for path in ca_certs {
        config.add_ca_cert_file(path)?;
    }
    Ok(Client::connect(directory, config).await?)
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Register an account with a CA, or refresh the stored one (same key).
    Register {
        #[command(flatten)]
        ca: CaArgs,
        /// Contact email address (repeatable).
        #[arg(long, value_name = "ADDR")]
        email: Vec<String>,
        /// Agree to the CA's terms of service.
        #[arg(long)]
        agree_tos: bool,
        /// External Account Binding key id, for CAs that require one.
        #[arg(long, value_name = "ID", requires = "eab_hmac_key")]
        eab_kid: Option<String>,
        /// External Account Binding HMAC key (base64url), from the CA.
        #[arg(
            long,
            value_name = "B64URL",
            env = "WACME_EAB_HMAC_KEY",
            hide_env_values = true,
            requires = "eab_kid"
        )]
        eab_hmac_key: Option<String>,
        /// Type of a new account key.
        #[arg(long, value_name = "TYPE", default_value = "ec-p256")]
        key_type: String,
    },
    /// Show the stored accounts (all, or the one for --directory).
    Show {
        /// Only the account for this directory URL.
        #[arg(long, value_name = "URL", env = "WACME_DIRECTORY")]
        directory: Option<String>,
        /// Also ask the CA for the account's current status and contacts.
        #[arg(long)]
        refresh: bool,
        /// Trust this PEM certificate for the CA's HTTPS endpoint (with --refresh).
        #[arg(long, value_name = "PEM")]
        ca_cert: Vec<PathBuf>,
    },
}

pub async fn run(cmd: AccountCommand, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let state_dir = state_dir(global)?;
    match cmd {
        AccountCommand::Register {
            ca,
            email,
            agree_tos,
            eab_kid,
            eab_hmac_key,
            key_type,
        } => {
            let request = RegisterRequest {
                email,
                agree_tos,
                eab: match (eab_kid, eab_hmac_key) {
                    (Some(kid), Some(key)) => Some(ExternalAccountKey::new(kid, &key)?),
                    _ => None,
                },
                key_type: key_type.parse()?,
            };
            register(&state_dir, &ca, request, global.output).await
        }
        AccountCommand::Show {
            directory,
            refresh,
            ca_cert,
        } => {
            show(
                &state_dir,
                directory.as_deref(),
                refresh,
                &ca_cert,
                global.output,
            )
            .await
        }
    }
}

/// The state directory: `--state-dir` / `WACME_STATE_DIR`, else the
/// platform data directory + `wacme` (`~/.local/share/wacme` on Linux).
pub(crate) fn state_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &global.state_dir {
        return Ok(dir.clone());
    }
    directories::ProjectDirs::from("", "", "wacme")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| {
            InputError("no home directory to keep state in: pass --state-dir".into()).into()
        })
}

pub(crate) struct RegisterRequest {
    email: Vec<String>,
    agree_tos: bool,
    eab: Option<ExternalAccountKey>,
    key_type: KeyType,
}

#[derive(Serialize)]
struct AccountView {
    directory: String,
    account_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<acme::AccountStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<bool>,
    contact: Vec<String>,
    key_type: KeyType,
    thumbprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    eab_kid: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    account_dir: PathBuf,
}

impl AccountView {
    fn new(info: &StoredAccount, store: &AccountStore) -> AccountView {
        AccountView {
            directory: info.directory.clone(),
            account_url: info.url.clone(),
            status: None,
            created: None,
            contact: info.contact.clone(),
            key_type: info.key_type,
            thumbprint: info.thumbprint.clone(),
            eab_kid: info.eab_kid.clone(),
            created_at: info.created_at,
            account_dir: store.dir_for(&info.directory),
        }
    }

    fn text(&self) -> String {
        let mut out = format!("{}\n  account:    {}\n", self.directory, self.account_url);
        if let Some(status) = self.status {
            let status = serde_json::to_value(status).ok();
            let status = status
                .as_ref()
                .and_then(|s| s.as_str())
                .unwrap_or("unknown");
            out.push_str(&format!("  status:     {status}\n"));
        }
        let contact = if self.contact.is_empty() {
            "(none)".to_string()
        } else {
            self.contact.join(", ")
        };
        out.push_str(&format!("  contact:    {contact}\n"));
        out.push_str(&format!(
            "  key:        {} (thumbprint {})\n",
            self.key_type, self.thumbprint
        ));
        if let Some(kid) = &self.eab_kid {
            out.push_str(&format!("  EAB key id: {kid}\n"));
        }
        out.push_str(&format!("  stored in:  {}\n", self.account_dir.display()));
        out
    }
}

async fn register(
    state_dir: &Path,
    ca: &CaArgs,
    req: RegisterRequest,
    output: Output,
) -> anyhow::Result<Exit> {
    let client = ca.connect().await?;
    let store = AccountStore::new(state_dir);
    let registered = register_with(&client, &store, req).await?;
    let mut view = AccountView::new(&registered.info, &store);
    view.status = Some(registered.status);
    view.created = Some(registered.created);
    print(output, &view, || {
        let what = if registered.created {
            "Registered a new account"
        } else {
            "Account already registered"
        };
        format!("{what} with {}\n", view.text())
    });
    Ok(Exit::Success)
}

/// An account the CA knows, as stored.
pub(crate) struct Registered {
    pub account: acme::Account,
    pub info: StoredAccount,
    pub status: acme::AccountStatus,
    pub created: bool,
}

/// Registers (or finds, with the same key) the account for `client`'s CA
/// and stores it.
pub(crate) async fn register_with(
    client: &Client,
    store: &AccountStore,
    req: RegisterRequest,
) -> anyhow::Result<Registered> {
    // Everything that can be checked locally is checked before the network.
    let contact = req
        .email
        .iter()
        .map(|e| acme::mailto(e))
        .collect::<Result<Vec<_>, _>>()?;
    let directory = client.directory_url().to_string();
    let meta = &client.directory().meta;
    if let Some(tos) = &meta.terms_of_service
        && !req.agree_tos
    {
        return Err(InputError(format!(
            "the CA's terms of service must be agreed to: read {tos}, then pass --agree-tos"
        ))
        .into());
    }
    if meta.external_account_required && req.eab.is_none() {
        return Err(InputError(
            "the CA requires External Account Binding: pass --eab-kid and --eab-hmac-key from the CA".into(),
        )
        .into());
    }

    let stored = store.load(&directory)?;
    // The key is on disk before the CA learns of it, so an interrupted
    // registration is completed with the same key next time.
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
    let eab_kid = req.eab.as_ref().map(|e| e.kid().to_owned());
    let registration = client
        .new_account(
            key,
            &NewAccount {
                contact: contact.clone(),
                terms_of_service_agreed: req.agree_tos,
                external_account: req.eab,
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
/// `agree_tos` and optional EAB `(kid, hmac_key)`) when there is none.
pub(crate) async fn ensure_account(
    client: &Client,
    state_dir: &Path,
    email: &[String],
    agree_tos: bool,
    eab: Option<(&str, &str)>,
) -> anyhow::Result<acme::Account> {
    let store = AccountStore::new(state_dir);
    if let Some((info, key)) = store.load(client.directory_url().as_str())? {
        let url = url::Url::parse(&info.url).with_context(|| {
            format!(
                "stored account URL {:?} in {}",
                info.url,
                store.root().display()
            )
        })?;
        return Ok(client.account(key, url));
    }
    let request = RegisterRequest {
        email: email.to_vec(),
        agree_tos,
        eab: eab
            .map(|(kid, key)| ExternalAccountKey::new(kid.to_string(), key))
            .transpose()?,
        key_type: KeyType::default(),
    };
    Ok(register_with(client, &store, request).await?.account)
}

#[derive(Serialize)]
struct ShowView {
    state_dir: PathBuf,
    accounts: Vec<AccountView>,
}

async fn show(
    state_dir: &Path,
    directory: Option<&str>,
    refresh: bool,
    ca_certs: &[PathBuf],
    output: Output,
) -> anyhow::Result<Exit> {
    let store = AccountStore::new(state_dir);
    let infos: Vec<StoredAccount> = match directory {
        Some(dir) => {
            let url = normalize_url(dir);
            vec![store.load_required(&url)?.0]
        }
        None => store.list()?,
    };
    let mut accounts = Vec::new();
    for info in &infos {
        let mut view = AccountView::new(info, &store);
        if refresh {
            let (_, key) = store.load_required(&info.directory)?;
            let client = connect(&info.directory, ca_certs).await?;
            let url = url::Url::parse(&info.url)
                .with_context(|| format!("bad account URL in {}", view.account_dir.display()))?;
            let resource = client
                .account(key, url)
                .fetch()
                .await
                .with_context(|| format!("fetching the account {}", info.url))?;
            view.status = Some(resource.status);
            view.contact = resource.contact;
        }
        accounts.push(view);
    }
    let result = ShowView {
        state_dir: state_dir.to_path_buf(),
        accounts,
    };
    print(output, &result, || {
        if result.accounts.is_empty() {
            return format!("No accounts in {}\n", state_dir.display());
        }
        result
            .accounts
            .iter()
            .map(AccountView::text)
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(Exit::Success)
}

/// A directory URL as the client stores it (parsed and re-serialized), so
/// `https://ca.example` and `https://ca.example/` name the same account.
fn normalize_url(text: &str) -> String {
    url::Url::parse(text.trim())
        .map(|u| u.to_string())
        .unwrap_or_else(|_| text.to_owned())
}
