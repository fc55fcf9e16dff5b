//! `wacme revoke`: revokes a stored certificate with the account that
//! issued it (or, when that account is gone, by proving possession of the
//! certificate's own key), and marks it revoked in the store so `wacme
//! renew` replaces it on its next run.

use super::account::{connect, state_dir};
use super::issue::extra;
use super::{GlobalArgs, print};
use crate::acme::{AccountStore, PrivateKey, RevocationReason};
use crate::certs::CertStore;
use crate::exit::{Exit, InputError};
use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The stored certificate to revoke.
    #[arg(long, value_name = "NAME")]
    pub cert_name: String,
    /// Reason: unspecified, keyCompromise, affiliationChanged, superseded,
    /// cessationOfOperation, … (RFC 5280 names, any case, or the number).
    #[arg(long, value_name = "NAME")]
    pub reason: Option<String>,
    /// Also trust this PEM certificate for the CA's HTTPS endpoint.
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Vec<PathBuf>,
}

#[derive(Serialize)]
struct Revoked {
    cert_name: String,
    serial: String,
    directory: String,
    reason: String,
    /// `account` or `certificate-key`.
    signed_with: &'static str,
}

pub async fn run(args: RevokeArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let reason: Option<RevocationReason> = args
        .reason
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: crate::acme::Error| InputError(e.to_string()))?;
    let state = state_dir(global)?;
    let store = CertStore::new(&state);
    let meta = store.load_meta(&args.cert_name)?.ok_or_else(|| {
        InputError(format!(
            "no stored certificate {:?} in {} (see `wacme certs list`)",
            args.cert_name,
            state.display()
        ))
    })?;
    let _lock = global.lock(&state)?;
    let der = store.current_cert_der(&args.cert_name)?;
    let mut ca_certs: Vec<PathBuf> = meta
        .extra
        .get(extra::CA_CERT)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    ca_certs.extend(args.ca_cert.iter().cloned());
    let client = connect(&meta.directory, &ca_certs).await?;
    let accounts = AccountStore::new(&state);
    let signed_with = match accounts.load(client.directory_url().as_str())? {
        Some((info, key)) if info.url == meta.account_url => {
            let url = url::Url::parse(&info.url).context("stored account URL")?;
            client
                .account(key, url)
                .revoke(&der, reason)
                .await
                .context("revoking the certificate")?;
            "account"
        }
        _ => {
            let key_path = store.paths(&args.cert_name).privkey;
            let pem = std::fs::read_to_string(&key_path)
                .with_context(|| format!("reading {}", key_path.display()))?;
            let key = PrivateKey::from_pem(&pem)?;
            client
                .revoke_with_certificate_key(&der, &key, reason)
                .await
                .context("revoking the certificate with its own key")?;
            "certificate-key"
        }
    };
    let reason_name = reason
        .unwrap_or(RevocationReason::Unspecified)
        .name()
        .to_string();
    store.mark_revoked(&args.cert_name, &reason_name)?;
    let out = Revoked {
        cert_name: args.cert_name.clone(),
        serial: meta.serial.clone(),
        directory: meta.directory.clone(),
        reason: reason_name,
        signed_with,
    };
    print(global.output, &out, || {
        format!(
            "Revoked {} (serial {}, reason {}); `wacme renew --cert-name {}` replaces it\n",
            out.cert_name, out.serial, out.reason, out.cert_name
        )
    });
    Ok(Exit::Success)
}
