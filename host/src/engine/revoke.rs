//! Revoking a stored certificate with the account that issued it (or, when
//! that account is gone, by proving possession of the certificate's own
//! key), and marking it revoked in the store so a renewal replaces it.

use super::issue::extra;
use super::{Engine, Error};
use crate::acme::{PrivateKey, RevocationReason};
use crate::workspace::Workspace;
use anyhow::Context as _;
use serde::Serialize;
use std::path::PathBuf;

/// What was revoked.
#[derive(Debug, Serialize)]
pub struct Revoked {
    pub cert_name: String,
    pub serial: String,
    pub directory: String,
    pub reason: String,
    /// `account` or `certificate-key`.
    pub signed_with: &'static str,
}

/// Whether `cert_name` is stored; an input error naming the workspace when not.
pub fn check_stored(workspace: &Workspace, cert_name: &str) -> Result<(), Error> {
    let meta = workspace.certs().load_meta(cert_name).map_err(Error::new)?;
    match meta {
        Some(_) => Ok(()),
        None => Err(Error::new(workspace.not_stored(cert_name))),
    }
}

/// Revokes the stored certificate `cert_name` for `reason`, trusting
/// `ca_cert` besides the roots it was issued with.
pub async fn revoke(
    engine: &Engine,
    workspace: &Workspace,
    cert_name: &str,
    reason: Option<RevocationReason>,
    ca_cert: &[PathBuf],
) -> Result<Revoked, Error> {
    async {
        let store = workspace.certs();
        let meta = store
            .load_meta(cert_name)?
            .ok_or_else(|| workspace.not_stored(cert_name))?;
        let der = store.current_cert_der(cert_name)?;
        let mut ca_certs: Vec<PathBuf> = meta
            .extra
            .get(extra::CA_CERT)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        ca_certs.extend(ca_cert.iter().cloned());
        let client = engine.client(&meta.directory, &ca_certs).await?;
        let signed_with = match workspace.accounts().open(&client).await? {
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
                let key_path = store.paths(cert_name).privkey;
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
        store.mark_revoked(cert_name, &reason_name)?;
        anyhow::Ok(Revoked {
            cert_name: cert_name.to_string(),
            serial: meta.serial.clone(),
            directory: meta.directory.clone(),
            reason: reason_name,
            signed_with,
        })
    }
    .await
    .map_err(Error::from)
}
