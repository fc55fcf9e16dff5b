//! `wacme account …`: register an ACME account with a CA (kept in the state
//! directory, one per CA), show the stored accounts, update their contacts,
//! roll their keys over and deactivate them ([`crate::engine::account`]).
//! Also the CA options every command shares (`CaArgs`).

use super::exit::Exit;
use super::{GlobalArgs, Output, print};
use crate::acme::{self, AccountStore, Client, ExternalAccountKey, KeyType, StoredAccount};
use crate::engine::account::{self as accounts, RegisterRequest, Registration};
use crate::engine::options::directory_url;
use crate::engine::{CaOptions, Engine};
use crate::error::InputError;
use crate::workspace::Workspace;
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::PathBuf;

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

impl CaArgs {
    /// The engine's options, with the config file's defaults for what was
    /// not given.
    pub fn options(&self, config: &crate::workspace::config::ConfigFile) -> CaOptions {
        CaOptions {
            directory: self.directory.clone(),
            ca_cert: self.ca_cert.clone(),
        }
        .with_defaults(config)
    }
}

/// Connects to the CA of `ca` (its directory checked first).
async fn connect(engine: &Engine, ca: &CaOptions) -> anyhow::Result<Client> {
    Ok(engine.client(&ca.url()?, &ca.ca_cert).await?)
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
    /// The engine's registration data as given.
    pub fn registration(&self) -> Registration {
        Registration {
            email: self.email.clone(),
            agree_tos: self.agree_tos,
            eab: self.eab_kid.clone().zip(self.eab_hmac_key.clone()),
        }
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

pub async fn run(
    cmd: AccountCommand,
    global: &GlobalArgs,
    engine: &Engine,
) -> anyhow::Result<Exit> {
    let workspace = global.workspace()?;
    let output = global.output;
    match cmd {
        AccountCommand::Register {
            ca,
            registration,
            key_type,
        } => {
            let config = global.config_file()?;
            let registration = registration.registration().with_defaults(&config.defaults);
            let request = RegisterRequest {
                eab: match registration.eab {
                    Some((kid, key)) => Some(ExternalAccountKey::new(kid, &key)?),
                    None => None,
                },
                email: registration.email,
                agree_tos: registration.agree_tos,
                key_type: key_type.parse()?,
            };
            let ca = ca.options(&config);
            let _lock = global.lock(&workspace)?;
            let client = connect(engine, &ca).await?;
            let registered = accounts::register(&client, &workspace, &request).await?;
            let mut view = AccountView::new(&registered.info, &workspace.accounts());
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
        }
        AccountCommand::Update { ca, email } => {
            let ca = ca.options(&global.config_file()?);
            let _lock = global.lock(&workspace)?;
            let client = connect(engine, &ca).await?;
            let (info, status) = accounts::update_contact(&client, &workspace, &email).await?;
            let mut view = AccountView::new(&info, &workspace.accounts());
            view.status = Some(status);
            print(output, &view, || format!("Updated {}", view.text()));
        }
        AccountCommand::Rollover { ca, key_type } => {
            let key_type: KeyType = key_type
                .parse()
                .map_err(|e: acme::Error| InputError(e.to_string()))?;
            let ca = ca.options(&global.config_file()?);
            let _lock = global.lock(&workspace)?;
            let client = connect(engine, &ca).await?;
            let (info, old) = accounts::rollover(&client, &workspace, key_type).await?;
            let view = AccountView::new(&info, &workspace.accounts());
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
        }
        AccountCommand::Deactivate { ca, yes } => {
            if !yes {
                return Err(InputError(
                    "deactivating an account cannot be undone: pass --yes to confirm".into(),
                )
                .into());
            }
            let ca = ca.options(&global.config_file()?);
            let _lock = global.lock(&workspace)?;
            let client = connect(engine, &ca).await?;
            let (info, status) = accounts::deactivate(&client, &workspace).await?;
            let mut view = AccountView::new(&info, &workspace.accounts());
            view.status = Some(status);
            print(output, &view, || {
                format!(
                    "Deactivated {}  (its files stay in {}; remove them to register anew)\n",
                    view.text(),
                    view.account_dir.display()
                )
            });
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
                engine,
                &workspace,
                directory.as_deref(),
                refresh,
                &ca_cert,
                output,
            )
            .await?;
        }
    }
    Ok(Exit::Success)
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

#[derive(Serialize)]
struct ShowView {
    state_dir: PathBuf,
    accounts: Vec<AccountView>,
}

async fn show(
    engine: &Engine,
    workspace: &Workspace,
    directory: Option<&str>,
    refresh: bool,
    ca_certs: &[PathBuf],
    output: Output,
) -> anyhow::Result<()> {
    let store = workspace.accounts();
    let listed = accounts::list(engine, workspace, directory, refresh, ca_certs).await?;
    let accounts = listed
        .iter()
        .map(|(info, resource)| {
            let mut view = AccountView::new(info, &store);
            if let Some(resource) = resource {
                view.status = Some(resource.status);
                view.contact = resource.contact.clone();
            }
            view
        })
        .collect();
    let state_dir = workspace.root();
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
    Ok(())
}
