//! `wacme persist`: the standing dns-persist-01 records of an account at a
//! CA. `show` computes the values (to publish by hand), `set` publishes them
//! once through a DNS plugin and proves them on the authoritative servers,
//! `remove` takes this account's values away. Values of other CAs or
//! accounts on the same name are never touched. Afterwards, issuing and
//! renewing with `--challenge dns-persist-01` needs no DNS credentials.

use super::account;
use super::options::{ChallengeKind, DnsOptions, DnsSetup};
use super::{Engine, Error};
use crate::acme::persist::{self, Binding, RecordValue};
use crate::acme::{Account, Client};
use crate::dns01::persist::{PersistError, served};
use crate::dns01::propagation::{self, Expectation};
use crate::dns01::solver::{CLEANUP_RETRIES, call_with_retries};
use crate::error::InputError;
use crate::names::Domain;
use crate::plugins::TxtSet;
use crate::workspace::Workspace;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What `wacme persist` works on.
#[derive(Debug, Clone)]
pub struct PersistJob {
    /// The names; `*.name` asks for `policy=wildcard` on `name`'s record.
    pub domains: Vec<Domain>,
    /// `policy=wildcard` on every record.
    pub wildcard: bool,
    /// `persistUntil`, as UNIX time.
    pub until: Option<i64>,
    /// The CA's issuer domain name, instead of the directory's.
    pub issuer: Option<String>,
    pub directory: String,
    pub ca_cert: Vec<PathBuf>,
    pub email: Vec<String>,
    pub agree_tos: bool,
    pub eab: Option<(String, String)>,
    pub dns: DnsOptions,
    /// The config file layer of plugin config.
    pub file_config: BTreeMap<String, String>,
}

/// One record: where, and the value this account's is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PersistRecord {
    /// `_validation-persist.<name>`.
    pub name: String,
    pub value: String,
    /// Values of this CA and account replaced or removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// What `wacme persist` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PersistOutput {
    pub account: String,
    pub issuer: String,
    /// The draft whose record shape the values follow, as the CA's
    /// directory announces it.
    pub draft: String,
    pub records: Vec<PersistRecord>,
}

/// The CA's issuer domain name: the one given, else the directory's
/// (`issuerDomainNames` of draft -02, then `caaIdentities`).
pub fn issuer(client: &Client, given: Option<&str>) -> Result<String, InputError> {
    if let Some(issuer) = given {
        return Ok(issuer.trim().trim_end_matches('.').to_ascii_lowercase());
    }
    let meta = &client.directory().meta;
    meta.issuer_domain_names
        .first()
        .or_else(|| meta.caa_identities.first())
        .cloned()
        .ok_or_else(|| {
            InputError(
                "the CA's directory names no issuer domain (meta issuerDomainNames or caaIdentities): pass --issuer-domain-name"
                    .into(),
            )
        })
}

/// How the CA's directory says a record names `account`: draft -02's
/// hashed account URI when it advertises `accountHashPrefix`, else (-00,
/// -01) the account URL. Issuance goes by the challenge instead
/// ([`crate::dns01::persist::binding`]); a -02 CA advertises both.
pub fn binding(account: &Account) -> Binding<'_> {
    let meta = &account.client().directory().meta;
    match meta.account_hash_prefix.as_deref() {
        Some(prefix) => Binding::Hashed {
            prefix,
            thumbprint: account.thumbprint(),
            url: account.url().as_str(),
        },
        None => Binding::Url {
            url: account.url().as_str(),
        },
    }
}

/// The records of `job`, one per base name: the value naming the account
/// as `binding` does.
pub fn records(
    job: &PersistJob,
    binding: &Binding<'_>,
    issuer: &str,
) -> Result<Vec<(String, RecordValue)>, InputError> {
    let mut by_name: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for d in &job.domains {
        let wildcard = job.wildcard || d.name.starts_with("*.");
        by_name
            .entry(persist::record_name(&d.name))
            .or_insert_with(|| (persist::base_name(&d.name), false))
            .1 |= wildcard;
    }
    by_name
        .into_iter()
        .map(|(name, (domain, wildcard))| {
            let account_uri = binding.account_uri(&domain).ok_or_else(|| {
                InputError(format!(
                    "{domain}: too long a name for a dns-persist-01 record"
                ))
            })?;
            let value = RecordValue {
                issuer: issuer.to_string(),
                account_uri,
                wildcard,
                persist_until: job.until,
            };
            Ok((name, value))
        })
        .collect()
}

/// Whether a value served at `_validation-persist.<domain>` is this CA's
/// and this account's, in either draft's shape (so that `set` replaces a
/// -01 value once the CA speaks -02).
fn is_ours(text: &str, issuer: &str, binding: &Binding<'_>, domain: &str) -> bool {
    persist::issuer_of(text).is_some_and(|i| i.eq_ignore_ascii_case(issuer))
        && RecordValue::parse(text)
            .is_ok_and(|v| v.account_uri == binding.url() || binding.names(domain, &v.account_uri))
}

/// The name a record name is about.
fn domain_of(record: &str) -> &str {
    record
        .strip_prefix(persist::RECORD_LABEL)
        .and_then(|n| n.strip_prefix('.'))
        .unwrap_or(record)
}

async fn account_for(
    engine: &Engine,
    workspace: &Workspace,
    job: &PersistJob,
) -> Result<(Account, String), Error> {
    let client = engine
        .client(&job.directory, &job.ca_cert)
        .await
        .map_err(Error::new)?;
    let issuer = issuer(&client, job.issuer.as_deref()).map_err(Error::new)?;
    let account = account::ensure(
        &client,
        workspace,
        &job.email,
        job.agree_tos,
        job.eab.as_ref().map(|(k, h)| (k.as_str(), h.as_str())),
    )
    .await?;
    Ok((account, issuer))
}

/// The values of `job` for the workspace's account (registered if there is
/// none yet): what to publish by hand.
pub async fn show(
    engine: &Engine,
    workspace: &Workspace,
    job: &PersistJob,
) -> Result<PersistOutput, Error> {
    let (account, issuer) = account_for(engine, workspace, job).await?;
    let binding = binding(&account);
    let records = records(job, &binding, &issuer)
        .map_err(Error::new)?
        .into_iter()
        .map(|(name, value)| PersistRecord {
            name,
            value: value.to_string(),
            removed: Vec::new(),
        })
        .collect();
    Ok(PersistOutput {
        account: account.url().to_string(),
        issuer,
        draft: binding.draft().to_string(),
        records,
    })
}

/// Publishes (`remove` false) or removes the values of `job` through its
/// plugin and waits until the authoritative nameservers show the change.
pub async fn change(
    engine: &Engine,
    workspace: &Workspace,
    job: &PersistJob,
    remove: bool,
) -> Result<PersistOutput, Error> {
    let mut dns = job.dns.clone();
    dns.challenge = Some(ChallengeKind::Dns01);
    let setup = DnsSetup::new(engine, &dns, &job.file_config).await?;
    let plugin = setup.plugin.as_ref().expect("dns-01 loads the plugin");
    let session = &plugin.session;
    let (account, issuer) = account_for(engine, workspace, job).await?;
    let meta = session.plugin().metadata();
    let ttl = setup
        .options
        .ttl
        .unwrap_or(meta.default_ttl)
        .max(meta.min_ttl);
    let binding = binding(&account);
    let mut out = Vec::new();
    for (name, value) in records(job, &binding, &issuer).map_err(Error::new)? {
        let value = value.to_string();
        let before = served(&setup.dns, &setup.zones, &name)
            .await
            .map_err(Error::new)?;
        let ours: Vec<String> = before
            .values
            .iter()
            .filter(|v| is_ours(v, &issuer, &binding, domain_of(&name)) && (remove || **v != value))
            .cloned()
            .collect();
        let set = |values: Vec<String>| TxtSet {
            zone: before.zone.clone(),
            fqdn: before.fqdn.clone(),
            relative_name: crate::dns01::zone::relative(&before.fqdn, &before.zone),
            values,
            ttl,
        };
        if !remove {
            call_with_retries(
                session,
                &set(vec![value.clone()]),
                true,
                setup.options.provider_retries,
            )
            .await
            .map_err(Error::new)?;
        }
        if !ours.is_empty() {
            call_with_retries(session, &set(ours.clone()), false, CLEANUP_RETRIES)
                .await
                .map_err(Error::new)?;
        }
        let expectation = Expectation {
            fqdn: before.fqdn.clone(),
            zone: before.zone.clone(),
            values: if remove {
                Vec::new()
            } else {
                vec![value.clone()]
            },
            absent: ours.clone(),
            once: false,
        };
        propagation::check(
            &setup.dns,
            &before.nameservers,
            &[expectation],
            setup.options.propagation.is_strict(),
            setup.options.propagation_timeout,
        )
        .await
        .map_err(|e| Error::new(PersistError::from(e)))?;
        out.push(PersistRecord {
            name: before.fqdn,
            value,
            removed: ours,
        });
    }
    Ok(PersistOutput {
        account: account.url().to_string(),
        issuer,
        draft: binding.draft().to_string(),
        records: out,
    })
}
