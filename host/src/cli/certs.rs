//! `wacme certs list`: the stored certificates, their names, expiry and
//! plugin.

use super::exit::Exit;
use super::{GlobalArgs, print};
use clap::Subcommand;
use serde::Serialize;
use std::path::PathBuf;
use time::OffsetDateTime;

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// List the stored certificates.
    List,
}

/// One stored certificate.
#[derive(Debug, Serialize)]
pub struct CertView {
    pub name: String,
    pub domains: Vec<String>,
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub days_left: i64,
    pub plugin: String,
    pub key_type: String,
    pub directory: String,
    pub revoked: bool,
    pub fullchain: PathBuf,
    pub privkey: PathBuf,
    pub versions: usize,
}

#[derive(Debug, Serialize)]
struct ListView {
    state_dir: PathBuf,
    certificates: Vec<CertView>,
    /// Certificates whose metadata cannot be read.
    errors: Vec<String>,
}

pub async fn run(cmd: CertsCommand, global: &GlobalArgs) -> anyhow::Result<Exit> {
    match cmd {
        CertsCommand::List => list(global),
    }
}

fn list(global: &GlobalArgs) -> anyhow::Result<Exit> {
    let workspace = global.workspace()?;
    let state = workspace.root();
    let store = workspace.certs();
    let now = OffsetDateTime::now_utc();
    let mut certificates = Vec::new();
    let mut errors = Vec::new();
    for name in store.names() {
        match store.load_meta(&name) {
            Ok(Some(m)) => {
                let paths = store.paths(&name);
                certificates.push(CertView {
                    revoked: store.is_revoked(&name),
                    versions: store.versions(&name).len(),
                    days_left: (m.not_after - now).whole_days(),
                    name,
                    domains: m.domains,
                    serial: m.serial,
                    not_before: m.not_before,
                    not_after: m.not_after,
                    plugin: m.plugin,
                    key_type: m.key_type,
                    directory: m.directory,
                    fullchain: paths.fullchain,
                    privkey: paths.privkey,
                });
            }
            Ok(None) => errors.push(format!("{name}: no meta.json")),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let view = ListView {
        state_dir: state.to_path_buf(),
        certificates,
        errors,
    };
    print(global.output, &view, || {
        let mut out = String::new();
        if view.certificates.is_empty() {
            out.push_str(&format!("No certificates in {}\n", state.display()));
        }
        for c in &view.certificates {
            let status = if c.revoked {
                " REVOKED".to_string()
            } else if c.days_left < 0 {
                " EXPIRED".to_string()
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{}{status}\n  domains: {}\n  expires: {} ({} days left)\n  plugin:  {}\n  path:    {}\n",
                c.name,
                c.domains.join(", "),
                c.not_after.date(),
                c.days_left,
                c.plugin,
                c.fullchain.display()
            ));
        }
        for e in &view.errors {
            out.push_str(&format!("error: {e}\n"));
        }
        out
    });
    Ok(if view.errors.is_empty() {
        Exit::Success
    } else {
        Exit::State
    })
}
