//! Renewing stored certificates that are due, with the parameters stored at
//! issue time (plugin, non-secret config, DNS options, key type, directory,
//! account); secrets are resolved again from the environment and the config
//! file, never stored.
//!
//! A certificate is due when
//! 1. `force` is set, or it was revoked, or it has expired, or an earlier
//!    run left a pending issuance of it ([`crate::workspace::pending`]: its
//!    certificate is collected instead of ordering again);
//! 2. else with `days: Some(n)`: when at most n days are left;
//! 3. else when the CA offers ACME Renewal Information and the time it picks
//!    in the suggested window has come (the new order then names the old
//!    certificate in `replaces`);
//! 4. else (or when the ARI lookup fails) when at most a third of its
//!    lifetime is left.
//!
//! With `all`, every stored certificate and every `[certificates.*]` entry
//! of the config file not yet issued is processed, concurrently (`jobs`). A
//! failed renewal never touches the working certificate: the store only
//! switches to a version that is complete.

use super::issue::{IssueOutput, Job, Progress, extra, obtain};
use super::options::{DnsOptions, PluginOptions};
use super::{Engine, Error};
use crate::acme::{self, Client, KeyType};
use crate::dns01::solver::Interrupt;
use crate::error::{ErrorClass, InputError};
use crate::names::parse_domains;
use crate::workspace::Workspace;
use crate::workspace::certs::{CertMeta, CertStore};
use crate::workspace::config::{CertEntry, ConfigFile};
use futures::StreamExt as _;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use time::OffsetDateTime;

/// How to renew.
#[derive(Debug, Clone, Default)]
pub struct RenewOptions {
    /// Renew even when not due.
    pub force: bool,
    /// Due when at most this many days are left.
    pub days: Option<u32>,
    /// Certificates renewed at once.
    pub jobs: usize,
    /// Run this deploy hook instead of the stored one.
    pub deploy_hook: Option<String>,
    /// Answer with this challenge type instead of the stored one.
    pub challenge: Option<super::options::ChallengeKind>,
    /// Trusted besides the stored roots of each certificate's CA.
    pub ca_cert: Vec<PathBuf>,
    /// Log failures and stale records as they happen (text output).
    pub warn: bool,
}

/// Whether a certificate is due, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub due: bool,
    pub reason: String,
    /// When it becomes due (if known and not yet).
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub due_at: Option<OffsetDateTime>,
}

/// The decision without ARI (`ari` = the time ARI picked, if any).
pub fn decide(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
    force: bool,
    days: Option<u32>,
    ari: Option<OffsetDateTime>,
) -> Decision {
    let left = not_after - now;
    let days_left = left.whole_days();
    if force {
        return Decision {
            due: true,
            reason: "forced".into(),
            due_at: None,
        };
    }
    if not_after <= now {
        return Decision {
            due: true,
            reason: "expired".into(),
            due_at: None,
        };
    }
    if let Some(n) = days {
        let at = not_after - time::Duration::days(n.into());
        return Decision {
            due: at <= now,
            reason: format!("{days_left} days left, renewing at {n} or fewer (--days)"),
            due_at: (at > now).then_some(at),
        };
    }
    if let Some(at) = ari {
        return Decision {
            due: at <= now,
            reason: "the CA's renewal window (ARI)".into(),
            due_at: (at > now).then_some(at),
        };
    }
    let at = not_after - (not_after - not_before) / 3;
    Decision {
        due: at <= now,
        reason: format!("{days_left} days left, renewing with a third of the lifetime left"),
        due_at: (at > now).then_some(at),
    }
}

/// What happened to one certificate.
#[derive(Debug, Serialize)]
pub struct RenewResult {
    pub cert_name: String,
    /// `renewed`, `not_due` or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_after: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued: Option<IssueOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The class of the failure.
    #[serde(skip)]
    pub class: Option<ErrorClass>,
}

/// The whole run, counted (each certificate went to the caller as it finished).
#[derive(Debug)]
pub struct RenewReport {
    pub renewed: usize,
    pub not_due: usize,
    pub failed: usize,
    /// Renewed, but the deploy hook failed.
    pub hook_failed: usize,
    /// Renewed, but challenge values may be left behind (or foreign values
    /// were removed): see each certificate's `cleanup_check`.
    pub residue: usize,
    /// What the cleanup of earlier runs' leftovers did (before renewing).
    pub stale_journal: super::recovery::CleanupReport,
}

/// The certificates a run considers: `cert_name` (which must be stored or
/// named in the config file), or every stored one; with `all`, also every
/// config file entry not issued yet.
pub fn plan(
    workspace: &Workspace,
    config: &ConfigFile,
    cert_name: Option<&str>,
    all: bool,
) -> Result<Vec<String>, Error> {
    let store = workspace.certs();
    let mut names: Vec<String> = match cert_name {
        Some(n) => {
            crate::workspace::certs::validate_name(n)
                .map_err(|e| Error::new(InputError(e.to_string())))?;
            let stored = store.load_meta(n).map_err(Error::new)?;
            if stored.is_none() && config.certificate(n).is_none() {
                return Err(Error::new(workspace.not_stored(n)));
            }
            vec![n.to_string()]
        }
        None => store.names(),
    };
    if all {
        for name in config.certificates.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    Ok(names)
}

/// Waits a random time up to `jitter` (spreading cron-started runs).
pub async fn jitter(jitter: Option<Duration>) {
    if let Some(jitter) = jitter
        && !jitter.is_zero()
    {
        let ms = rand::Rng::gen_range(&mut rand::thread_rng(), 0..jitter.as_millis().max(1));
        tracing::info!("waiting {ms} ms (--jitter) before renewing");
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
    }
}

/// Renews those of `names` that are due, `options.jobs` at a time, handing
/// each certificate's result to `each` as soon as it is known (in the order
/// they finish) instead of keeping it: a run over thousands of certificates
/// holds only those in flight. The report has the counts.
#[allow(clippy::too_many_arguments)]
pub async fn renew(
    engine: &Engine,
    workspace: &Workspace,
    config: &ConfigFile,
    names: &[String],
    options: &RenewOptions,
    progress: &dyn Progress,
    interrupt: &Interrupt,
    each: &mut dyn FnMut(RenewResult),
) -> RenewReport {
    let stale_journal = super::issue::clean_stale(
        engine,
        workspace,
        &super::options::PluginOptions {
            plugin_dirs: config.defaults.plugin_dirs.clone(),
            ..Default::default()
        },
        config,
        options.warn,
        interrupt,
    )
    .await;
    let store = workspace.certs();
    let ctx = Ctx {
        engine,
        options,
        config,
        workspace,
        store: &store,
        progress,
        interrupt,
    };
    let mut report = RenewReport {
        renewed: 0,
        not_due: 0,
        failed: 0,
        hook_failed: 0,
        residue: 0,
        stale_journal,
    };
    let mut results = futures::stream::iter(names.iter())
        .map(|name| ctx.renew_one(name))
        .buffer_unordered(options.jobs.max(1));
    while let Some(result) = results.next().await {
        match result.status {
            "renewed" => report.renewed += 1,
            "not_due" => report.not_due += 1,
            _ => report.failed += 1,
        }
        if let Some(issued) = &result.issued {
            if issued.deploy_hook.as_ref().is_some_and(|h| !h.ok) {
                report.hook_failed += 1;
            }
            if issued.issued.residue {
                report.residue += 1;
            }
        }
        each(result);
    }
    report
}

struct Ctx<'a> {
    engine: &'a Engine,
    options: &'a RenewOptions,
    config: &'a ConfigFile,
    workspace: &'a Workspace,
    store: &'a CertStore,
    progress: &'a dyn Progress,
    interrupt: &'a Interrupt,
}

impl Ctx<'_> {
    async fn renew_one(&self, name: &str) -> RenewResult {
        let mut result = RenewResult {
            cert_name: name.to_string(),
            status: "failed",
            decision: None,
            not_after: None,
            issued: None,
            error: None,
            class: None,
        };
        match self.try_renew(name, &mut result).await {
            Ok(()) => {}
            Err(e) => {
                let e = Error::from(e);
                result.status = "failed";
                result.class = Some(e.class());
                result.error = Some(e.describe());
                if self.options.warn {
                    tracing::debug!("renewing {name} failed: {e:#}");
                }
            }
        }
        result
    }

    async fn try_renew(&self, name: &str, result: &mut RenewResult) -> anyhow::Result<()> {
        if self.interrupt.has_fired() {
            // Stopped before this certificate was begun.
            return Err(Error::new(crate::dns01::solver::SolveError::Interrupted).into());
        }
        let meta = self.store.load_meta(name)?;
        let entry = self.config.certificate(name);
        let mut job = self.job(name, meta.as_ref(), entry)?;
        let directory = match (&meta, entry.and_then(|e| e.directory.clone())) {
            (Some(m), _) => m.directory.clone(),
            (None, Some(d)) => d,
            (None, None) => self
                .config
                .defaults
                .directory
                .clone()
                .ok_or_else(|| InputError(format!("[certificates.{name}]: no directory")))?,
        };
        let directory = super::options::directory_url(&directory)?;
        let client = self.engine.client(&directory, &job.ca_cert).await?;

        let decision = match &meta {
            None => Decision {
                due: true,
                reason: "not issued yet (config file entry)".into(),
                due_at: None,
            },
            Some(meta) => {
                let domains_changed = {
                    let mut a: Vec<&String> = meta.domains.iter().collect();
                    let mut b: Vec<String> = job.domains.iter().map(|d| d.name.clone()).collect();
                    a.sort();
                    b.sort();
                    a.into_iter().cloned().collect::<Vec<_>>() != b
                };
                result.not_after = Some(meta.not_after);
                let der = self.store.current_cert_der(name)?;
                if client.directory().renewal_info.is_some() {
                    job.replaces = acme::cert_id(&der).ok();
                }
                if self.workspace.pending().exists(name) {
                    Decision {
                        due: true,
                        reason: "an earlier run's certificate is waiting to be collected".into(),
                        due_at: None,
                    }
                } else if domains_changed {
                    Decision {
                        due: true,
                        reason: "the config file's domains changed".into(),
                        due_at: None,
                    }
                } else if self.store.is_revoked(name) {
                    Decision {
                        due: true,
                        reason: "revoked".into(),
                        due_at: None,
                    }
                } else {
                    self.decide(&client, meta, &der).await
                }
            }
        };
        result.decision = Some(decision.clone());
        if !decision.due {
            result.status = "not_due";
            return Ok(());
        }
        tracing::info!("renewing {name}: {}", decision.reason);
        let issued = match self.obtain(&job, &client).await {
            Err(e) if job.replaces.is_some() && refused_replaces(&e) => {
                // The CA will not take this order as the old certificate's
                // replacement (e.g. it was replaced already): renew anyway.
                tracing::info!("renewing {name} without `replaces`: {e:#}");
                job.replaces = None;
                self.obtain(&job, &client).await?
            }
            other => other?,
        };
        result.status = "renewed";
        result.not_after = Some(issued.issued.not_after);
        result.issued = Some(issued);
        Ok(())
    }

    async fn obtain(&self, job: &Job, client: &Client) -> Result<IssueOutput, Error> {
        obtain(
            self.engine,
            self.workspace,
            job,
            client,
            self.progress,
            self.interrupt,
        )
        .await
    }

    async fn decide(&self, client: &Client, meta: &CertMeta, der: &[u8]) -> Decision {
        let now = OffsetDateTime::now_utc();
        let ari = if self.options.force || self.options.days.is_some() {
            None
        } else if client.directory().renewal_info.is_some() {
            match client.renewal_info(der).await {
                Ok(info) => Some(info.renewal_time(now)),
                Err(e) => {
                    tracing::warn!(
                        "renewal information for {} unavailable ({e}); using a third of the lifetime",
                        meta.name
                    );
                    None
                }
            }
        } else {
            None
        };
        decide(
            meta.not_before,
            meta.not_after,
            now,
            self.options.force,
            self.options.days,
            ari,
        )
    }

    /// The job for `name`: the stored parameters, with the config file's
    /// entry (if any) on top of them and the command line on top of both.
    fn job(
        &self,
        name: &str,
        meta: Option<&CertMeta>,
        entry: Option<&CertEntry>,
    ) -> anyhow::Result<Job> {
        let empty = BTreeMap::new();
        let x = meta.map(|m| &m.extra).unwrap_or(&empty);
        let s = |k: &str| x.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let list = |k: &str| -> Vec<String> {
            x.get(k)
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default()
        };
        let num = |k: &str| x.get(k).and_then(|v| v.as_u64());

        // The stored non-secret settings sit where the config file sits
        // (below --dns-config and the environment, above the plugin's
        // defaults): they are not replayed as command-line values.
        let mut stored_config: BTreeMap<String, String> =
            meta.map(|m| m.plugin_config.clone()).unwrap_or_default();
        let mut dns = DnsOptions {
            // Empty for a certificate issued by dns-persist-01 alone.
            plugin: meta.map(|m| m.plugin.clone()).filter(|p| !p.is_empty()),
            challenge: self
                .options
                .challenge
                .or_else(|| s(extra::CHALLENGE).and_then(|c| c.parse().ok())),
            config: Vec::new(),
            propagation: s(extra::PROPAGATION),
            propagation_timeout: s(extra::PROPAGATION_TIMEOUT),
            resolvers: list(extra::RESOLVERS),
            dns_port: num(extra::DNS_PORT).and_then(|p| u16::try_from(p).ok()),
            dns_zone: s(extra::DNS_ZONE),
            no_follow_cname: x.get(extra::FOLLOW_CNAME).and_then(|v| v.as_bool()) == Some(false),
            no_cleanup_check: x.get(extra::CLEANUP_CHECK).and_then(|v| v.as_bool()) == Some(false),
            no_dns_batch: x.get(extra::DNS_BATCH).and_then(|v| v.as_bool()) == Some(false),
            dns_ttl: num(extra::DNS_TTL).and_then(|t| u32::try_from(t).ok()),
            dns_concurrency: num(extra::DNS_CONCURRENCY).unwrap_or(8) as usize,
            plugins: PluginOptions {
                plugin_dirs: list(extra::PLUGIN_DIRS)
                    .into_iter()
                    .map(PathBuf::from)
                    .collect(),
                plugin_allow: list(extra::PLUGIN_ALLOW),
                plugin_timeout: num(extra::PLUGIN_TIMEOUT).unwrap_or(60),
                plugin_memory: num(extra::PLUGIN_MEMORY).unwrap_or(64) as usize,
                no_plugin_cache: false,
            },
        };
        let mut domains = meta.map(|m| m.domains.clone()).unwrap_or_default();
        let mut key_type = meta.map(|m| m.key_type.clone());
        if let Some(e) = entry {
            // The config file describes what the certificate should be.
            if dns.plugin.as_deref() != Some(e.dns.as_str()) {
                dns.plugin = Some(e.dns.clone());
                stored_config.clear();
            }
            dns.propagation = e.propagation.clone().or(dns.propagation);
            dns.propagation_timeout = e.propagation_timeout.clone().or(dns.propagation_timeout);
            if !e.resolvers.is_empty() {
                dns.resolvers = e.resolvers.clone();
            }
            dns.dns_port = e.dns_port.or(dns.dns_port);
            dns.dns_zone = e.dns_zone.clone().or(dns.dns_zone);
            dns.dns_ttl = e.dns_ttl.or(dns.dns_ttl);
            if let Some(check) = e.cleanup_check {
                dns.no_cleanup_check = !check;
            }
            if self.options.challenge.is_none()
                && let Some(challenge) = DnsOptions::entry_challenge(Some(e))?
            {
                dns.challenge = Some(challenge);
            }
            domains = e.domains.clone();
            key_type = e.key_type.clone().or(key_type);
        }
        let mut dns = dns.with_defaults(None, &self.config.defaults);
        // An entry's own `dns_batch` wins over the file's default.
        if let Some(batch) = entry.and_then(|e| e.dns_batch) {
            dns.no_dns_batch = !batch;
        }
        // Values in the config file's entry replace the stored ones for the
        // same keys.
        let mut file_config = stored_config;
        file_config.extend(self.config.plugin_config(name)?);
        let key_type: KeyType = key_type
            .or_else(|| self.config.defaults.key_type.clone())
            .unwrap_or_else(|| "ec-p256".into())
            .parse()
            .map_err(|e: acme::Error| InputError(e.to_string()))?;
        let mut ca_cert: Vec<PathBuf> = list(extra::CA_CERT)
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if ca_cert.is_empty() {
            ca_cert = self.config.defaults.ca_cert.clone();
        }
        ca_cert.extend(self.options.ca_cert.iter().cloned());
        Ok(Job {
            cert_name: name.to_string(),
            domains: parse_domains(&domains)?,
            key_type,
            dns,
            email: self.config.defaults.email.clone(),
            agree_tos: self.config.defaults.agree_tos.unwrap_or(false),
            eab: None,
            ca_cert,
            preferred_chain: entry
                .and_then(|e| e.preferred_chain.clone())
                .or_else(|| s(extra::PREFERRED_CHAIN)),
            profile: entry
                .and_then(|e| e.profile.clone())
                .or_else(|| s(extra::PROFILE)),
            replaces: None,
            file_config,
            config_path: self.config.path.clone(),
            exposed_literals: crate::workspace::config::exposed_literals(self.config, name),
            deploy_hook: self
                .options
                .deploy_hook
                .clone()
                .or_else(|| entry.and_then(|e| e.deploy_hook.clone()))
                .or_else(|| s(extra::DEPLOY_HOOK))
                .or_else(|| self.config.defaults.deploy_hook.clone()),
        })
    }
}

/// Whether the CA refused the renewal's order because of its `replaces`
/// field, so that it may be ordered once more without it:
/// - `alreadyReplaced` (RFC 9773 §5): the old certificate has a
///   replacement already (say, from an earlier run whose certificate was
///   lost);
/// - `malformed` whose detail is about the field (a CA that does not take
///   `replaces`, or not this value of it; Boulder said "already has a
///   replacement order" this way before `alreadyReplaced` existed).
///
/// Any other problem — a rate limit that mentions replacement orders among
/// them — is the renewal's failure: ordering again would only repeat it.
fn refused_replaces(err: &Error) -> bool {
    let Some(problem) = acme_error(err).and_then(acme::Error::problem) else {
        return false;
    };
    problem.is("alreadyReplaced")
        || problem.is("malformed")
            && problem
                .detail
                .as_deref()
                .is_some_and(|d| d.to_ascii_lowercase().contains("replace"))
}

/// The ACME error in `err`'s chain, also inside an issuance error (whose
/// `Acme` case is transparent: its source is the ACME error's source, so
/// the chain alone skips it).
fn acme_error(err: &Error) -> Option<&acme::Error> {
    use super::issuance::IssueError;
    err.inner().chain().find_map(|c| {
        c.downcast_ref::<acme::Error>()
            .or(match c.downcast_ref::<IssueError>() {
                Some(IssueError::Acme(e)) => Some(e),
                _ => None,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NB: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
    const NA: OffsetDateTime = datetime!(2026-04-01 0:00 UTC); // 90 days

    /// An ACME problem as `obtain` fails with it: inside an issuance error.
    fn refused(kind: &str, detail: &str) -> Error {
        let problem = acme::Problem::parse(
            serde_json::json!({"type": format!("urn:ietf:params:acme:error:{kind}"), "detail": detail})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let err = acme::Error::Problem(Box::new(acme::ProblemResponse {
            method: "POST",
            url: "https://ca.example/acme/replace-order".into(),
            status: 409,
            problem,
            retry_after: None,
        }));
        Error::new(crate::engine::issuance::IssueError::Acme(err))
    }

    #[test]
    fn the_renewal_is_ordered_again_without_replaces_only_when_the_ca_refused_it() {
        // RFC 9773: the certificate already has a replacement.
        assert!(refused_replaces(&refused(
            "alreadyReplaced",
            "serial 01 already has a replacement order"
        )));
        assert!(refused_replaces(&refused("alreadyReplaced", "")));
        // A CA that does not take the field, or this value of it.
        assert!(refused_replaces(&refused(
            "malformed",
            "Unable to decode \"replaces\" field"
        )));
        // Anything else is the renewal's failure, whatever its words (and
        // the URL does not count).
        assert!(!refused_replaces(&refused(
            "rateLimited",
            "too many replacement orders"
        )));
        assert!(!refused_replaces(&refused("malformed", "bad CSR")));
        assert!(!refused_replaces(&refused("serverInternal", "oops")));
        // Directly an ACME error, too.
        let direct = Error::from(anyhow::Error::new(acme::Error::Failed {
            what: "the order".into(),
            status: "invalid".into(),
            problem: None,
        }));
        assert!(!refused_replaces(&direct));
    }

    #[test]
    fn a_third_of_the_lifetime() {
        let d = decide(NB, NA, datetime!(2026-03-01 0:00 UTC), false, None, None);
        assert!(!d.due, "{d:?}");
        assert_eq!(d.due_at, Some(datetime!(2026-03-02 0:00 UTC)));
        let d = decide(NB, NA, datetime!(2026-03-02 0:00 UTC), false, None, None);
        assert!(d.due, "{d:?}");
    }

    #[test]
    fn days_force_expiry_and_ari() {
        let now = datetime!(2026-03-20 0:00 UTC);
        assert!(!decide(NB, NA, now, false, Some(7), None).due);
        assert!(decide(NB, NA, now, false, Some(12), None).due);
        assert!(decide(NB, NA, datetime!(2026-01-02 0:00 UTC), true, None, None).due);
        assert!(decide(NB, NA, datetime!(2026-05-01 0:00 UTC), false, Some(0), None).due);
        // ARI wins over the lifetime rule, both ways.
        let early = datetime!(2026-01-10 0:00 UTC);
        assert!(decide(NB, NA, early, false, None, Some(early)).due);
        assert!(
            !decide(
                NB,
                NA,
                now,
                false,
                None,
                Some(datetime!(2026-03-25 0:00 UTC))
            )
            .due
        );
    }
}
