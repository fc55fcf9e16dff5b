//! `wacme account …`: register an ACME account with a CA (kept in the state
//! directory, one per CA), show the stored accounts, update their contacts,
//! roll their keys over and deactivate them. Also the CA options every
//! command shares (`CaArgs`, with directory shortcuts).

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
    /// The CA's ACME directory: a URL or letsencrypt, letsencrypt-staging,
    /// zerossl, google, google-staging. Default: the config file's.
    #[arg(long, value_name = "URL|NAME", env = "WACME_DIRECTORY")]
    pub directory: Option<String>,
    /// Also trust this PEM certificate (or bundle) for the CA's HTTPS endpoint,
    /// e.g. a test CA's locally made root.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Vec<PathBuf>,
}

/// Well-known ACME directories by short name.
pub const DIRECTORY_SHORTCUTS: [(&str, &str); 5] = [
    (
        "letsencrypt",
        "https://acme-v02.api.letsencrypt.org/directory",
    ),
    (
        "letsencrypt-staging",
        "https://acme-staging-v02.api.letsencrypt.org/directory",
    ),
    ("zerossl", "https://acme.zerossl.com/v2/DV90"),
    ("google", "https://dv.acme-v02.api.pki.goog/directory"),
    (
        "google-staging",
        "https://dv.acme-v02.test-api.pki.goog/directory",
    ),
];

/// The directory URL for a shortcut name, or `text` itself.
pub fn directory_url(text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    if let Some((_, url)) = DIRECTORY_SHORTCUTS.iter().find(|(n, _)| *n == text) {
        return Ok(url.to_string());
    }
    if text.contains("://") {
        return Ok(text.to_string());
    }
    let names: Vec<&str> = DIRECTORY_SHORTCUTS.iter().map(|(n, _)| *n).collect();
    Err(InputError(format!(
        "--directory {text:?} is neither a URL nor one of {}",
        names.join(", ")
    ))
    .into())
}

impl CaArgs {
    /// Fills what was not given from the config file's defaults.
    pub fn with_defaults(mut self, config: &crate::config::ConfigFile) -> CaArgs {
        if self.directory.is_none() {
            self.directory = config.defaults.directory.clone();
        }
        if self.ca_cert.is_empty() {
            self.ca_cert = config.defaults.ca_cert.clone();
        }
        self
    }

    /// The directory URL (shortcuts expanded).
    pub fn url(&self) -> anyhow::Result<String> {
        match &self.directory {
            Some(d) => directory_url(d),
            None => Err(InputError(
                "no ACME directory: pass --directory (e.g. letsencrypt-staging) or set it in the config file".into(),
            )
            .into()),
        }
    }

    /// Connects to the CA (fetches its directory).
    pub async fn connect(&self) -> anyhow::Result<Client> {
        connect(&self.url()?, &self.ca_cert).await
    }
}

pub(crate) async fn connect(directory: &str, ca_certs: &[PathBuf]) -> anyhow::Result<Client> {
    let mut config = ClientConfig::default();
    for path in ca_certs {
        config.add_ca_cert_file(path)?;
    }
    Ok(Client::connect(directory, config).await?)
}

/// What registering an account needs, for commands that may create one.
#[derive(Debug, Clone, Args)]
pub struct RegistrationArgs {
    /// Contact email address (repeatable). Default: the config file's `email`.
    #[arg(long, value_name = "ADDR")]
    pub email: Vec<String>,
    /// Agree to the CA's terms of service (needed to create an account).
    #[arg(long)]
    pub agree_tos: bool,
    /// External Account Binding key id, for CAs that require one.
    #[arg(
        long,
        value_name = "ID",
        env = "WACME_EAB_KID",
        requires = "eab_hmac_key"
    )]
    pub eab_kid: Option<String>,
    /// External Account Binding HMAC key (base64url), from the CA.
    #[arg(
        long,
        value_name = "B64URL",
        env = "WACME_EAB_HMAC_KEY",
        hide_env_values = true,
        requires = "eab_kid"
    )]
    pub eab_hmac_key: Option<String>,
}

impl RegistrationArgs {
    /// The config file's `email` and `agree_tos` where none were given.
    pub fn with_defaults(mut self, defaults: &crate::config::Defaults) -> Self {
        if self.email.is_empty() {
            self.email = defaults.email.clone();
        }
        self.agree_tos |= defaults.agree_tos.unwrap_or(false);
        self
    }

    /// The EAB key id and HMAC key, when both were given.
    pub fn eab(&self) -> Option<(String, String)> {
        self.eab_kid.clone().zip(self.eab_hmac_key.clone())
    }
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Register an account with a CA, or refresh the stored one (same key).
    Register {
        #[command(flatten)]
        ca: CaArgs,
        #[command(flatten)]
        registration: RegistrationArgs,
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
    /// Replace the contact addresses of the stored account.
    Update {
        #[command(flatten)]
        ca: CaArgs,
        /// The new contact email address (repeatable; none clears them).
        #[arg(long, value_name = "ADDR")]
        email: Vec<String>,
    },
    /// Roll the account over to a new key (RFC 8555 §7.3.5); the old key stops working.
    Rollover {
        #[command(flatten)]
        ca: CaArgs,
        /// Type of the new account key.
        #[arg(long, value_name = "TYPE", default_value = "ec-p256")]
        key_type: String,
    },
    /// Deactivate the account at the CA: permanent, it can never be used again.
    Deactivate {
        #[command(flatten)]
        ca: CaArgs,
        /// Confirm: deactivation cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

pub async fn run(cmd: AccountCommand, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let state_dir = state_dir(global)?;
    match cmd {
        AccountCommand::Register {
            ca,
            registration,
            key_type,
        } => {
            let config = global.config_file()?;
            let registration = registration.with_defaults(&config.defaults);
            let request = RegisterRequest {
                eab: match registration.eab() {
                    Some((kid, key)) => Some(ExternalAccountKey::new(kid, &key)?),
                    None => None,
                },
                email: registration.email,
                agree_tos: registration.agree_tos,
                key_type: key_type.parse()?,
            };
            let ca = ca.with_defaults(&config);
            let _lock = global.lock(&state_dir)?;
            register(&state_dir, &ca, request, global.output).await
        }
        AccountCommand::Update { ca, email } => {
            let ca = ca.with_defaults(&global.config_file()?);
            let _lock = global.lock(&state_dir)?;
            update(&state_dir, &ca, &email, global.output).await
        }
        AccountCommand::Rollover { ca, key_type } => {
            let key_type: KeyType = key_type
                .parse()
                .map_err(|e: acme::Error| InputError(e.to_string()))?;
            let ca = ca.with_defaults(&global.config_file()?);
            let _lock = global.lock(&state_dir)?;
            rollover(&state_dir, &ca, key_type, global.output).await
        }
        AccountCommand::Deactivate { ca, yes } => {
            if !yes {
                return Err(InputError(
                    "deactivating an account cannot be undone: pass --yes to confirm".into(),
                )
                .into());
            }
            let ca = ca.with_defaults(&global.config_file()?);
            let _lock = global.lock(&state_dir)?;
            deactivate(&state_dir, &ca, global.output).await
        }
        AccountCommand::Show {
            directory,
            refresh,
            ca_cert,
        } => {
            let directory = directory
                .or_else(|| global.config_file().ok()?.defaults.directory)
                .map(|d| directory_url(&d))
                .transpose()?;
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

/// The state directory: `--state-dir` / `WACME_STATE_DIR`, else the config
/// file's `defaults.state_dir`, else the platform data directory + `wacme`
/// (`~/.local/share/wacme` on Linux).
/// A broken config file is an error here even when it is not otherwise
/// needed, so every command reports it.
pub(crate) fn state_dir(global: &GlobalArgs) -> anyhow::Result<PathBuf> {
    let config = global.config_file()?;
    if let Some(dir) = &global.state_dir {
        return Ok(dir.clone());
    }
    if let Some(dir) = config.defaults.state_dir {
        return Ok(dir);
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

/// The stored account of `ca`'s directory and a client for it.
async fn stored_account(
    state_dir: &Path,
    ca: &CaArgs,
) -> anyhow::Result<(AccountStore, StoredAccount, acme::Account)> {
    let client = ca.connect().await?;
    let store = AccountStore::new(state_dir);
    let (info, key) = store.load_required(client.directory_url().as_str())?;
    let url = url::Url::parse(&info.url).with_context(|| {
        format!(
            "bad account URL {:?} in {}",
            info.url,
            store.root().display()
        )
    })?;
    let account = client.account(key, url);
    Ok((store, info, account))
}

async fn update(
    state_dir: &Path,
    ca: &CaArgs,
    email: &[String],
    output: Output,
) -> anyhow::Result<Exit> {
    let contact = email
        .iter()
        .map(|e| acme::mailto(e))
        .collect::<Result<Vec<_>, _>>()?;
    let (store, info, account) = stored_account(state_dir, ca).await?;
    let resource = account
        .update_contact(&contact)
        .await
        .context("updating the account's contacts")?;
    let info = StoredAccount {
        contact: resource.contact.clone(),
        ..info
    };
    store.save_info(&info)?;
    let mut view = AccountView::new(&info, &store);
    view.status = Some(resource.status);
    print(output, &view, || format!("Updated {}", view.text()));
    Ok(Exit::Success)
}

async fn rollover(
    state_dir: &Path,
    ca: &CaArgs,
    key_type: KeyType,
    output: Output,
) -> anyhow::Result<Exit> {
    let (store, info, account) = stored_account(state_dir, ca).await?;
    let old = info.thumbprint.clone();
    let new_key = PrivateKey::generate(key_type)?;
    let (info, _account) = store
        .change_key(&info, &account, new_key)
        .await
        .context("rolling the account key over")?;
    let view = AccountView::new(&info, &store);
    #[derive(Serialize)]
    struct Rolled<'a> {
        #[serde(flatten)]
        account: &'a AccountView,
        previous_thumbprint: String,
    }
    let rolled = Rolled {
        account: &view,
        previous_thumbprint: old.clone(),
    };
    print(output, &rolled, || {
        format!("Rolled the account key over (was {old}): {}", view.text())
    });
    Ok(Exit::Success)
}

async fn deactivate(state_dir: &Path, ca: &CaArgs, output: Output) -> anyhow::Result<Exit> {
    let (store, info, account) = stored_account(state_dir, ca).await?;
    let resource = account
        .deactivate()
        .await
        .context("deactivating the account")?;
    let mut view = AccountView::new(&info, &store);
    view.status = Some(resource.status);
    print(output, &view, || {
        format!(
            "Deactivated {}  (its files stay in {}; remove them to register anew)\n",
            view.text(),
            view.account_dir.display()
        )
    });
    Ok(Exit::Success)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_shortcuts_expand_and_urls_pass_through() {
        assert_eq!(
            directory_url("letsencrypt").unwrap(),
            "https://acme-v02.api.letsencrypt.org/directory"
        );
        assert_eq!(
            directory_url(" letsencrypt-staging ").unwrap(),
            "https://acme-staging-v02.api.letsencrypt.org/directory"
        );
        assert_eq!(
            directory_url("zerossl").unwrap(),
            "https://acme.zerossl.com/v2/DV90"
        );
        assert_eq!(
            directory_url("google").unwrap(),
            "https://dv.acme-v02.api.pki.goog/directory"
        );
        assert_eq!(
            directory_url("https://ca.test/dir").unwrap(),
            "https://ca.test/dir"
        );
        let err = directory_url("letsencrpyt").unwrap_err();
        assert!(err.to_string().contains("letsencrypt-staging"), "{err}");
        assert!(err.is::<InputError>());
    }
}
