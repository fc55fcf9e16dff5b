//! `wacme revoke`: revokes a stored certificate with the account that
//! issued it (or, when that account is gone, by proving possession of the
//! certificate's own key), and marks it revoked in the store so `wacme
//! renew` replaces it on its next run ([`crate::engine::revoke`]).

use super::exit::Exit;
use super::{GlobalArgs, print};
use crate::acme::RevocationReason;
use crate::engine::{Engine, revoke};
use crate::error::InputError;
use clap::Args;
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

pub async fn run(args: RevokeArgs, global: &GlobalArgs, engine: &Engine) -> anyhow::Result<Exit> {
    let reason: Option<RevocationReason> = args
        .reason
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: crate::acme::Error| InputError(e.to_string()))?;
    let workspace = global.workspace()?;
    revoke::check_stored(&workspace, &args.cert_name)?;
    let _lock = global.lock(&workspace)?;
    let out = revoke::revoke(engine, &workspace, &args.cert_name, reason, &args.ca_cert).await?;
    print(global.output, &out, || {
        format!(
            "Revoked {} (serial {}, reason {}); `wacme renew --cert-name {}` replaces it\n",
            out.cert_name, out.serial, out.reason, out.cert_name
        )
    });
    Ok(Exit::Success)
}
