//! `wacme persist show|set|remove`: the standing dns-persist-01 records
//! (`_validation-persist.<name>`) of the account at a CA
//! ([`crate::engine::persist`]). `set` and `remove` need a DNS plugin and
//! its credentials once; issuing and renewing with `--challenge
//! dns-persist-01` afterwards needs neither.

use super::account::{CaArgs, RegistrationArgs};
use super::exit::Exit;
use super::issue::DnsArgs;
use super::{GlobalArgs, print};
use crate::engine::persist::{self, PersistJob, PersistOutput};
use crate::engine::{CaOptions, Engine};
use crate::error::InputError;
use crate::names::parse_domains;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;

#[derive(Debug, Subcommand)]
pub enum PersistCommand {
    /// Print the record values for the account, to publish by hand.
    Show(Box<PersistArgs>),
    /// Publish the records through a DNS plugin and prove them on the
    /// authoritative nameservers (other values on the names are kept).
    Set(Box<PersistArgs>),
    /// Remove this account's values for this CA (other values are kept).
    Remove(Box<PersistArgs>),
}

#[derive(Debug, Args)]
pub struct PersistArgs {
    /// A name the record authorizes (repeatable); `*.example.com` sets
    /// `policy=wildcard` on example.com's record.
    #[arg(
        short = 'd',
        long = "domain",
        value_name = "NAME",
        required_unless_present = "cert_name"
    )]
    pub domains: Vec<String>,
    /// Take the names (when no -d is given), the plugin, its config and the
    /// DNS options from the config file's `[certificates.<NAME>]` entry.
    #[arg(long, value_name = "NAME")]
    pub cert_name: Option<String>,
    /// `policy=wildcard`: the record also authorizes `*.name` and names below it.
    #[arg(long)]
    pub wildcard: bool,
    /// `persistUntil`: the CA stops accepting the record after this moment
    /// (YYYY-MM-DD, RFC 3339, or UNIX seconds).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// The CA's issuer domain name. Default: the directory's
    /// (issuerDomainNames, else caaIdentities).
    #[arg(long, value_name = "DOMAIN")]
    pub issuer_domain_name: Option<String>,
    #[command(flatten)]
    pub ca: CaArgs,
    #[command(flatten)]
    pub registration: RegistrationArgs,
    #[command(flatten)]
    pub dns: DnsArgs,
}

/// `--until` as UNIX time.
pub fn parse_until(text: &str) -> Result<i64, InputError> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    if let Ok(t) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .map_err(|_| {
            InputError(format!(
                "--until {text:?}: expected YYYY-MM-DD, an RFC 3339 time or UNIX seconds"
            ))
        })
}

pub async fn run(
    command: PersistCommand,
    global: &GlobalArgs,
    engine: &Engine,
) -> anyhow::Result<Exit> {
    let (args, action) = match command {
        PersistCommand::Show(a) => (*a, "show"),
        PersistCommand::Set(a) => (*a, "set"),
        PersistCommand::Remove(a) => (*a, "remove"),
    };
    let config = global.config_file()?;
    let entry = match &args.cert_name {
        Some(name) => Some(config.certificate(name).ok_or_else(|| {
            InputError(format!(
                "--cert-name {name}: the config file has no [certificates.{name}] entry"
            ))
        })?),
        None => None,
    };
    let domains = match (args.domains.is_empty(), entry) {
        (true, Some(e)) => parse_domains(&e.domains)?,
        _ => parse_domains(&args.domains)?,
    };
    // A key given with --dns-config replaces the file's, unresolved.
    let file_config = match &args.cert_name {
        Some(name) => {
            let given: Vec<String> = args
                .dns
                .config
                .iter()
                .filter_map(|p| p.split_once('=').map(|(k, _)| k.trim().to_string()))
                .collect();
            config.plugin_config_except(name, |key| given.iter().any(|k| k == key))?
        }
        None => BTreeMap::new(),
    };
    let until = args.until.as_deref().map(parse_until).transpose()?;
    let ca = CaOptions {
        directory: args
            .ca
            .directory
            .clone()
            .or_else(|| entry.and_then(|e| e.directory.clone())),
        ca_cert: args.ca.ca_cert.clone(),
    }
    .with_defaults(&config);
    let registration = args
        .registration
        .registration()
        .with_defaults(&config.defaults);
    let job = PersistJob {
        domains,
        wildcard: args.wildcard,
        until,
        issuer: args.issuer_domain_name,
        directory: ca.url()?,
        ca_cert: ca.ca_cert,
        email: registration.email,
        agree_tos: registration.agree_tos,
        eab: registration.eab,
        dns: args.dns.options().with_defaults(entry, &config.defaults),
        file_config,
    };
    let workspace = global.workspace()?;
    let _lock = global.lock(&workspace)?;
    let out = match action {
        "show" => persist::show(engine, &workspace, &job).await?,
        "set" => persist::change(engine, &workspace, &job, false).await?,
        _ => persist::change(engine, &workspace, &job, true).await?,
    };
    print(global.output, &out, || describe(&out, action));
    Ok(Exit::Success)
}

fn describe(out: &PersistOutput, action: &str) -> String {
    let mut text = String::new();
    match action {
        "show" => text.push_str(&format!(
            "dns-persist-01 records ({}) for the account {} at {}; publish each as a TXT record:\n",
            out.draft, out.account, out.issuer
        )),
        "set" => text.push_str("Published and served by every authoritative nameserver:\n"),
        _ => text.push_str("Removed this account's values:\n"),
    }
    for r in &out.records {
        if action == "remove" {
            text.push_str(&format!("  {}.", r.name));
            if r.removed.is_empty() {
                text.push_str(" (none served)\n");
            } else {
                text.push('\n');
                for v in &r.removed {
                    text.push_str(&format!("    \"{v}\"\n"));
                }
            }
        } else {
            text.push_str(&format!("  {}. TXT \"{}\"\n", r.name, r.value));
        }
    }
    if action != "remove" {
        text.push_str(
            "Then issue and renew with --challenge dns-persist-01: no DNS credentials needed.\n",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_takes_dates_times_and_seconds() {
        assert_eq!(parse_until("1767225600").unwrap(), 1767225600);
        assert_eq!(parse_until("2026-01-01").unwrap(), 1767225600);
        assert_eq!(
            parse_until("2026-01-01T01:00:00+01:00").unwrap(),
            1767225600
        );
        assert!(parse_until("next year").is_err());
    }
}
