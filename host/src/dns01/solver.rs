//! Solving an order's DNS-01 challenges through a provider plugin.
//!
//! 1. Each pending authorization's TXT value goes to `_acme-challenge.<name>`;
//!    CNAMEs are followed, zones found, and values grouped per effective
//!    name (apex and wildcard share one), so the plugin gets one call per
//!    name with every value that name must carry.
//! 2. A journal entry is written before anything is published. In the
//!    authoritative modes the zones' nameservers are looked up and asked
//!    what each name serves now (the values to keep).
//! 3. All names are presented concurrently (bounded) through
//!    [`super::records`], which owns each name's set across the orders of
//!    the process; retryable provider errors are retried with backoff.
//! 4. Propagation is proven (see [`super::propagation`]).
//! 5. All challenges are answered concurrently, then the order is polled
//!    until the CA has validated them all.
//! 6. Cleanup always runs — after success, after any failure, and when the
//!    [`Interrupt`] fires (Ctrl-C) — for every name something may have been
//!    written to. Then the nameservers are asked again: this run's values
//!    must be gone and the values that were there before must still be
//!    ([`CleanupCheck`]). The journal entry goes unless values are left.

use super::journal::{Entry, Journal, JournalSet};
use super::propagation::{self, Expectation, Mode, Nameserver, PropagationError, Status};
use super::records::Records;
use super::zone::{ZoneError, ZoneFinder};
use crate::acme::{self, Account, Authorization, AuthorizationStatus, PollPolicy};
use crate::error::ErrorClass;
use crate::plugins::{self, ProviderErrorKind, Session, TxtSet};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How to solve.
#[derive(Debug, Clone)]
pub struct SolverOptions {
    pub propagation: Mode,
    pub propagation_timeout: Duration,
    /// Check on the nameservers after cleanup (off for providers that
    /// cannot delete).
    pub cleanup_check: bool,
    /// TTL for the records; the plugin's default when `None`. Never below
    /// the plugin's minimum.
    pub ttl: Option<u32>,
    /// Plugin calls in flight at once (for a plugin that batches, names in
    /// flight: at least a batch's worth, since they become few calls).
    pub concurrency: usize,
    /// Retries of a retryable provider error (transient, rate limited) when
    /// publishing; removing always gets at least [`CLEANUP_RETRIES`]. Eight
    /// by default: PowerDNS's sqlite backend, syncing each commit, refused
    /// one of 200 concurrent publishes six times in a row.
    pub provider_retries: u32,
    /// Polling of authorizations.
    pub poll: PollPolicy,
    /// Where the phases are reported (a progress display); nowhere by default.
    pub progress: ProgressSink,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            propagation: Mode::Authoritative,
            propagation_timeout: Duration::from_secs(120),
            cleanup_check: true,
            ttl: None,
            concurrency: 8,
            provider_retries: 8,
            poll: PollPolicy::default(),
            progress: ProgressSink::default(),
        }
    }
}

/// Where the time went, and what was done.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SolveReport {
    pub present_ms: u64,
    pub propagation_ms: u64,
    pub validation_ms: u64,
    pub cleanup_ms: u64,
    /// The record sets presented (and cleaned up).
    pub sets: Vec<TxtSet>,
    /// Authorizations the CA already held valid (nothing to publish).
    pub reused_authorizations: usize,
    pub propagation: propagation::Report,
    /// The order as the CA last showed it (`ready` once validated).
    #[serde(skip)]
    pub order: Option<acme::Order>,
    /// Cleanup failures (the journal keeps the entry unless the cleanup
    /// check found the values gone anyway).
    pub cleanup_errors: Vec<String>,
    /// What the nameservers said after cleanup.
    pub cleanup_check: CleanupCheck,
}

impl SolveReport {
    /// Whether the run may have left challenge values behind, or removed
    /// values it found: a failed cleanup check, or a cleanup error nothing
    /// could check.
    pub fn residue(&self) -> bool {
        match self.cleanup_check.status {
            CheckStatus::Failed => true,
            CheckStatus::Verified => false,
            CheckStatus::Skipped => !self.cleanup_errors.is_empty(),
        }
    }
}

/// The check after cleanup, on the zones' nameservers.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CleanupCheck {
    pub status: CheckStatus,
    /// Why the check was skipped, or what it could not see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Values of this run still served after cleanup.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<Residue>,
    /// Values served before this run published anything that are gone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub foreign_removed: Vec<Residue>,
}

/// The outcome of the cleanup check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Not checked (a propagation mode that does not ask the nameservers,
    /// nothing published, or no nameserver answered).
    #[default]
    Skipped,
    /// This run's values are gone, and every value found before is there.
    Verified,
    /// Values were left, or foreign values removed.
    Failed,
}

/// Values one nameserver still served (or no longer served) on one name.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Residue {
    pub fqdn: String,
    pub nameserver: String,
    pub values: Vec<String>,
}

impl Residue {
    /// `<nameserver> still serves "<v>" … at <fqdn>`.
    pub fn still_served(&self) -> String {
        format!(
            "{} still serves {} at {}",
            self.nameserver,
            super::propagation::quote_values(&self.values),
            self.fqdn
        )
    }
}

impl CleanupCheck {
    /// Lines for a person, one per finding.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.left {
            out.push(format!("after cleanup, {}", r.still_served()));
        }
        for r in &self.foreign_removed {
            out.push(format!(
                "the plugin removed values it did not publish: {} no longer serves {} at {}",
                r.nameserver,
                super::propagation::quote_values(&r.values),
                r.fqdn
            ));
        }
        out
    }
}

/// Why solving failed (cleanup has run either way).
#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    #[error("the CA offered no usable dns-01 challenge for {0}")]
    NoDns01(String),
    #[error("the authorization for {name} is {status}, not pending")]
    Unusable { name: String, status: String },
    #[error(transparent)]
    Zone(#[from] ZoneError),
    #[error(transparent)]
    Plugin(#[from] plugins::Error),
    #[error("publishing the TXT values of {fqdn}: {source}")]
    Present {
        fqdn: String,
        source: Box<plugins::Error>,
    },
    #[error(transparent)]
    Propagation(#[from] PropagationError),
    #[error(transparent)]
    Acme(#[from] acme::Error),
    #[error("cannot write the cleanup journal in {dir}: {source}")]
    Journal { dir: String, source: std::io::Error },
    #[error("interrupted; the challenge records were cleaned up")]
    Interrupted,
    #[error(
        "interrupted twice: cleanup was cut short; `wacme cleanup` removes what is left (journal: {journal})"
    )]
    CleanupCutShort { journal: String },
}

impl SolveError {
    /// The class of this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            SolveError::Zone(_) | SolveError::Propagation(_) => ErrorClass::Dns,
            SolveError::Plugin(e) => e.class(),
            SolveError::Present { source, .. } => source.class(),
            SolveError::Acme(e) => e.class(),
            SolveError::NoDns01(_) | SolveError::Unusable { .. } => ErrorClass::Ca,
            SolveError::Journal { .. } => ErrorClass::State,
            SolveError::Interrupted | SolveError::CleanupCutShort { .. } => ErrorClass::Interrupted,
        }
    }
}

/// A Ctrl-C (or any other stop request) that every phase of an issuance
/// can watch; a second one cuts cleanup short. Cheap to clone.
#[derive(Clone, Default)]
pub struct Interrupt(Option<tokio::sync::watch::Receiver<u32>>);

impl Interrupt {
    /// Never fires.
    pub fn never() -> Self {
        Interrupt(None)
    }

    /// Fires on Ctrl-C (SIGINT) or SIGTERM (systemd, `docker stop`, a
    /// cancelled CI job), and counts them. Installing the handlers replaces
    /// the default ones (which would kill the process at once), so every
    /// phase must watch this.
    pub fn on_signals() -> Self {
        let (tx, rx) = tokio::sync::watch::channel(0u32);
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut terminate = {
                use tokio::signal::unix::{SignalKind, signal};
                signal(SignalKind::terminate()).ok()
            };
            loop {
                let term = async {
                    #[cfg(unix)]
                    if let Some(s) = terminate.as_mut() {
                        s.recv().await;
                        return;
                    }
                    std::future::pending::<()>().await
                };
                let fired = tokio::select! {
                    result = tokio::signal::ctrl_c() => result.is_ok(),
                    () = term => true,
                };
                if !fired {
                    // No handler could be installed: never fire (and keep
                    // the sender, as a closed channel would read as fired).
                    std::future::pending::<()>().await;
                }
                tx.send_modify(|n| *n += 1);
            }
        });
        Interrupt(Some(rx))
    }

    /// An interrupt fired by sending counts on a channel the caller
    /// controls (tests).
    pub fn from_channel(rx: tokio::sync::watch::Receiver<u32>) -> Self {
        Interrupt(Some(rx))
    }

    /// Whether the interrupt has fired by now.
    pub fn has_fired(&self) -> bool {
        self.0.as_ref().is_some_and(|rx| *rx.borrow() > 0)
    }

    /// Resolves when the interrupt fires.
    pub async fn fired(&self) {
        self.fired_times(1).await
    }

    /// Resolves when the interrupt fires a second time: stop even what
    /// must otherwise finish (cleanup retries; the journal keeps what is
    /// left).
    pub async fn fired_again(&self) {
        self.fired_times(2).await
    }

    async fn fired_times(&self, times: u32) {
        match &self.0 {
            None => std::future::pending().await,
            Some(rx) => {
                let mut rx = rx.clone();
                if rx.wait_for(|n| *n >= times).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// What happened while solving one order, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// One identifier (as ordered, e.g. `*.example.com`) reached `step`.
    Identifier { name: String, step: Step },
    /// Every authorization is valid (or the run failed); the records are
    /// being removed.
    CleaningUp,
}

/// The steps of one identifier, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Its authorization was already valid: nothing to publish.
    Reused,
    /// Its TXT record set is being published.
    Presenting,
    /// `done` of `total` nameservers (or resolvers) serve its record set.
    Propagating { done: usize, total: usize },
    /// The CA was asked to validate; waiting for its verdict.
    Validating,
    /// The CA validated it.
    Valid,
}

/// Receives [`Progress`]; cheap to clone. The default drops everything.
#[derive(Clone, Default)]
pub struct ProgressSink(Option<std::sync::Arc<dyn Fn(Progress) + Send + Sync>>);

impl ProgressSink {
    pub fn new(f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        ProgressSink(Some(std::sync::Arc::new(f)))
    }

    pub fn emit(&self, progress: Progress) {
        if let Some(f) = &self.0 {
            f(progress);
        }
    }
}

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "ProgressSink(..)"
        } else {
            "ProgressSink(none)"
        })
    }
}

/// Solves the DNS-01 challenges of one order.
pub struct Solver<'a> {
    pub account: &'a Account,
    pub session: &'a Session,
    pub zones: &'a ZoneFinder,
    pub dns: &'a super::dns::DnsConfig,
    pub journal: &'a Journal,
    pub options: &'a SolverOptions,
    /// The record sets of every order of this process.
    pub records: &'a Records,
}

/// The order being solved, its authorizations, and the pending ones with
/// their dns-01 challenge.
struct Challenges<'a> {
    order: &'a acme::Order,
    authorizations: &'a [Authorization],
    pending: &'a [(&'a Authorization, &'a acme::Challenge)],
}

/// A record set and whether anything may have been written for it.
struct Published {
    set: TxtSet,
    written: AtomicBool,
}

impl Solver<'_> {
    /// Publishes, proves and validates every pending authorization of
    /// `authorizations`, then cleans up. `entry` describes the plugin and its
    /// config for the journal (its `sets` are filled in here).
    pub async fn solve(
        &self,
        order: &acme::Order,
        authorizations: &[Authorization],
        mut entry: Entry,
        interrupt: &Interrupt,
    ) -> Result<SolveReport, SolveError> {
        let mut report = SolveReport::default();
        let mut pending = Vec::new();
        for authz in authorizations {
            match authz.status {
                AuthorizationStatus::Valid => {
                    report.reused_authorizations += 1;
                    self.step(&authz.ordered_name(), Step::Reused);
                }
                AuthorizationStatus::Pending => {
                    let challenge = authz
                        .dns01()
                        .filter(|c| c.token.is_some())
                        .ok_or_else(|| SolveError::NoDns01(authz.ordered_name()))?;
                    pending.push((authz, challenge));
                }
                status => {
                    return Err(SolveError::Unusable {
                        name: authz.ordered_name(),
                        status: status.to_string(),
                    });
                }
            }
        }
        if pending.is_empty() {
            return Ok(report);
        }

        // Values (and the identifiers they prove) per challenge name, then
        // per effective name after CNAMEs.
        let mut by_record: BTreeMap<String, (BTreeSet<String>, Vec<String>)> = BTreeMap::new();
        for (authz, challenge) in &pending {
            let record = format!(
                "_acme-challenge.{}",
                authz.identifier.value.to_ascii_lowercase()
            );
            let (values, names) = by_record.entry(record).or_default();
            values.insert(
                self.account
                    .dns01_value(challenge.token.as_deref().unwrap_or_default()),
            );
            names.push(authz.ordered_name());
        }
        let placements =
            futures::future::try_join_all(by_record.keys().map(|record| self.zones.place(record)))
                .await?;
        let mut by_fqdn: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        let mut names_by_fqdn: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (placement, (record, (values, names))) in placements.iter().zip(by_record.iter()) {
            names_by_fqdn
                .entry(placement.fqdn.clone())
                .or_default()
                .extend(names.iter().cloned());
            if !placement.via.is_empty() {
                // `via` holds the targets, the last of them `fqdn`.
                tracing::info!(
                    "{record} is delegated by CNAME to {}",
                    placement.via.join(" → ")
                );
            }
            by_fqdn
                .entry((placement.fqdn.clone(), placement.zone.clone()))
                .or_default()
                .extend(values.iter().cloned());
        }
        let meta = self.session.plugin().metadata();
        let ttl = self
            .options
            .ttl
            .unwrap_or(meta.default_ttl)
            .max(meta.min_ttl);
        let sets: Vec<TxtSet> = by_fqdn
            .into_iter()
            .map(|((fqdn, zone), values)| TxtSet {
                relative_name: super::zone::relative(&fqdn, &zone),
                zone,
                fqdn,
                values: values.into_iter().collect(),
                ttl,
            })
            .collect();
        report.sets = sets.clone();

        entry.sets = sets.iter().map(JournalSet::from).collect();
        let held = self
            .journal
            .record(&entry)
            .map_err(|source| SolveError::Journal {
                dir: self.journal.dir().display().to_string(),
                source,
            })?;
        let held_path = held.path().display().to_string();

        let published: Vec<Published> = sets
            .iter()
            .map(|set| Published {
                set: set.clone(),
                written: AtomicBool::new(false),
            })
            .collect();
        let claim = self.records.claim();
        let mut nameservers = BTreeMap::new();
        let mut before = BTreeMap::new();
        let outcome = {
            let work = async {
                // What each name serves before anything is published: the
                // values the cleanup check expects to find again.
                nameservers = propagation::lookup(
                    self.dns,
                    self.zones,
                    &expectations(&sets),
                    self.options.propagation,
                )
                .await?;
                if self.options.cleanup_check && self.session.plugin().metadata().hints.can_delete {
                    before = self.snapshot(&sets, &nameservers).await;
                }
                let challenges = Challenges {
                    order,
                    authorizations,
                    pending: &pending,
                };
                self.present_and_validate(
                    &challenges,
                    &published,
                    &claim,
                    &nameservers,
                    &names_by_fqdn,
                    &mut report,
                )
                .await
            };
            tokio::select! {
                result = work => result,
                () = interrupt.fired() => Err(SolveError::Interrupted),
            }
        };

        let started = Instant::now();
        self.options.progress.emit(Progress::CleaningUp);
        // Cleanup always runs, also after an interrupt; a second one cuts it
        // short (the journal entry stays for `wacme cleanup`).
        let cleanup = async {
            let (gone, errors) = self.cleanup(&published, &claim).await;
            // After a failed removal the values are most likely still
            // there: one look then, not a wait for the whole deadline.
            let check_timeout = if errors.is_empty() {
                self.options.propagation_timeout
            } else {
                self.dns.query_timeout
            };
            let check = self
                .check_cleanup(&published, &gone, &nameservers, &before, check_timeout)
                .await;
            (errors, check)
        };
        let cut_short = tokio::select! {
            (errors, check) = cleanup => {
                report.cleanup_errors = errors;
                report.cleanup_check = check;
                false
            }
            () = interrupt.fired_again() => {
                report.cleanup_errors =
                    vec!["interrupted again: cleanup was cut short".to_string()];
                true
            }
        };
        report.cleanup_ms = started.elapsed().as_millis() as u64;
        for e in &report.cleanup_errors {
            tracing::warn!("cleanup failed: {e}");
        }
        for line in report.cleanup_check.describe() {
            tracing::warn!("{line}");
        }
        let left = match report.cleanup_check.status {
            _ if cut_short => true,
            CheckStatus::Verified => false,
            CheckStatus::Failed => !report.cleanup_check.left.is_empty(),
            CheckStatus::Skipped => !report.cleanup_errors.is_empty(),
        };
        if left {
            tracing::warn!(
                "challenge records remain; `wacme cleanup` (or the next `wacme issue`) removes them \
                 (journal: {})",
                held.path().display()
            );
        } else if let Err(e) = held.complete() {
            tracing::warn!("cannot remove the journal entry: {e}");
        }
        if cut_short {
            return Err(SolveError::CleanupCutShort { journal: held_path });
        }
        outcome.map(|()| report)
    }

    /// What every nameserver agrees each set's name serves now, for the
    /// cleanup check (authoritative modes only).
    async fn snapshot(
        &self,
        sets: &[TxtSet],
        nameservers: &BTreeMap<String, Vec<Nameserver>>,
    ) -> BTreeMap<String, Option<Vec<String>>> {
        let mut dns = self.dns.clone();
        // A silent address must not hold publishing up for long.
        dns.query_timeout = dns.query_timeout.min(Duration::from_secs(1));
        let dns = &dns;
        futures::future::join_all(sets.iter().filter_map(|set| {
            let servers = nameservers.get(&set.zone)?;
            Some(async move {
                (
                    set.fqdn.clone(),
                    propagation::snapshot(dns, servers, &set.fqdn).await,
                )
            })
        }))
        .await
        .into_iter()
        .collect()
    }

    async fn present_and_validate(
        &self,
        challenges: &Challenges<'_>,
        published: &[Published],
        claim: &super::records::Claim<'_>,
        nameservers: &BTreeMap<String, Vec<Nameserver>>,
        names_by_fqdn: &BTreeMap<String, Vec<String>>,
        report: &mut SolveReport,
    ) -> Result<(), SolveError> {
        let pending = challenges.pending;
        let started = Instant::now();
        for (authz, _) in pending {
            self.step(&authz.ordered_name(), Step::Presenting);
        }
        let results: Vec<Result<(), SolveError>> = futures::stream::iter(published)
            .map(|p| async move {
                p.written.store(true, Ordering::SeqCst);
                let max_values = self
                    .session
                    .plugin()
                    .metadata()
                    .hints
                    .max_values_per_name
                    .map(|n| n as usize);
                let result = claim
                    .present(&p.set, max_values, |all| async move {
                        self.with_retries(&all, true).await
                    })
                    .await;
                if let Err(e) = &result
                    && e.provider_error().is_some_and(|p| before_any_write(p.kind))
                {
                    p.written.store(false, Ordering::SeqCst);
                }
                result.map_err(|source| SolveError::Present {
                    fqdn: p.set.fqdn.clone(),
                    source: Box::new(source),
                })
            })
            .buffer_unordered(self.calls_at_once())
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        report.present_ms = started.elapsed().as_millis() as u64;

        let started = Instant::now();
        let sets: Vec<TxtSet> = published.iter().map(|p| p.set.clone()).collect();
        let progress = |fqdn: &str, done: usize, total: usize| {
            tracing::debug!("propagation of {fqdn}: {done}/{total} confirmed");
            for name in names_by_fqdn.get(fqdn).into_iter().flatten() {
                self.step(name, Step::Propagating { done, total });
            }
        };
        report.propagation = propagation::wait(
            self.dns,
            nameservers,
            &expectations(&sets),
            self.options.propagation,
            self.options.propagation_timeout,
            &progress,
        )
        .await?;
        for n in report.propagation.unreachable() {
            tracing::info!(
                "nameserver {}; not waited for: the CA's resolvers may reach it from elsewhere \
                 (--propagation authoritative-strict waits for every nameserver)",
                n.describe()
            );
        }
        report.propagation_ms = started.elapsed().as_millis() as u64;

        // Answer every challenge, then poll the order — one resource —
        // until the CA has validated them all (the authorizations are
        // fetched again only to explain a failure).
        let started = Instant::now();
        futures::future::try_join_all(pending.iter().map(|(authz, challenge)| async move {
            self.account.respond(&challenge.url).await?;
            self.step(&authz.ordered_name(), Step::Validating);
            Ok::<_, acme::Error>(())
        }))
        .await?;
        let validated = self
            .account
            .wait_authorized(
                &challenges.order.url,
                challenges.authorizations,
                &self.options.poll,
            )
            .await?;
        for (authz, _) in pending {
            self.step(&authz.ordered_name(), Step::Valid);
        }
        report.order = Some(validated);
        report.validation_ms = started.elapsed().as_millis() as u64;
        Ok(())
    }

    /// Gives up every set: removes this run's values (those no other order
    /// of the process holds) wherever something may have been written.
    /// Returns, per name, the values that must now be gone, and the errors.
    async fn cleanup(
        &self,
        published: &[Published],
        claim: &super::records::Claim<'_>,
    ) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
        let results: Vec<(String, Result<Vec<String>, plugins::Error>)> =
            futures::stream::iter(published)
                .map(|p| async move {
                    let remove =
                        p.written
                            .load(Ordering::SeqCst)
                            .then_some(|mine: TxtSet| async move {
                                self.with_retries(&mine, false).await
                            });
                    (p.set.fqdn.clone(), claim.cleanup(&p.set, remove).await)
                })
                .buffer_unordered(self.calls_at_once())
                .collect()
                .await;
        let mut gone = BTreeMap::new();
        let mut errors = Vec::new();
        for (fqdn, result) in results {
            match result {
                Ok(values) => {
                    gone.insert(fqdn, values);
                }
                Err(e) => {
                    let values = published
                        .iter()
                        .find(|p| p.set.fqdn == fqdn)
                        .map(|p| p.set.values.clone())
                        .unwrap_or_default();
                    gone.insert(fqdn, values);
                    errors.push(e.to_string());
                }
            }
        }
        (gone, errors)
    }

    /// Asks the nameservers whether `gone` is gone and what was there
    /// `before` (less anything this process published) is still there.
    async fn check_cleanup(
        &self,
        published: &[Published],
        gone: &BTreeMap<String, Vec<String>>,
        nameservers: &BTreeMap<String, Vec<Nameserver>>,
        before: &BTreeMap<String, Option<Vec<String>>>,
        timeout: Duration,
    ) -> CleanupCheck {
        let skipped = |note: &str| CleanupCheck {
            note: Some(note.to_string()),
            ..CleanupCheck::default()
        };
        if !self.options.cleanup_check {
            return skipped("turned off (--no-cleanup-check)");
        }
        let plugin = self.session.plugin().metadata();
        if !plugin.hints.can_delete {
            return skipped(&format!(
                "the {} provider cannot delete values (its hints say so); they stay until \
                 later values displace them",
                plugin.name
            ));
        }
        if !self.options.propagation.is_authoritative() {
            return skipped(
                "the cleanup check asks the zones' nameservers: only with --propagation authoritative",
            );
        }
        if !published.iter().any(|p| p.written.load(Ordering::SeqCst)) {
            return skipped("nothing was published");
        }
        let mut expectations = Vec::new();
        let mut unchecked = Vec::new();
        for p in published {
            let Some(snapshot) = before.get(&p.set.fqdn).cloned().flatten() else {
                unchecked.push(p.set.fqdn.clone());
                continue;
            };
            let absent = gone.get(&p.set.fqdn).cloned().unwrap_or_default();
            expectations.push(Expectation {
                fqdn: p.set.fqdn.clone(),
                zone: p.set.zone.clone(),
                values: snapshot
                    .into_iter()
                    .filter(|v| !self.records.is_ours(v) && !absent.contains(v))
                    .collect(),
                absent,
                once: false,
            });
        }
        let note = (!unchecked.is_empty()).then(|| {
            format!(
                "no nameserver answered before publishing: {} not checked",
                unchecked.join(", ")
            )
        });
        if expectations.is_empty() {
            return CleanupCheck {
                note,
                ..CleanupCheck::default()
            };
        }
        let all: Vec<Nameserver> = nameservers.values().flatten().cloned().collect();
        let mut by_zone: BTreeMap<&str, Vec<&Expectation>> = BTreeMap::new();
        for e in &expectations {
            by_zone.entry(e.zone.as_str()).or_default().push(e);
        }
        let checks = by_zone.into_iter().map(|(zone, of_zone)| {
            let servers = nameservers.get(zone).map(Vec::as_slice).unwrap_or(&all);
            let of_zone: Vec<Expectation> = of_zone.into_iter().cloned().collect();
            async move { propagation::check(self.dns, servers, &of_zone, false, timeout).await }
        });
        let mut check = CleanupCheck {
            status: CheckStatus::Verified,
            note,
            ..CleanupCheck::default()
        };
        for result in futures::future::join_all(checks).await {
            let verdicts = match result {
                Ok(_) => continue,
                Err(PropagationError::Timeout { nameservers, .. }) => nameservers,
                Err(e) => {
                    check.note = Some(e.to_string());
                    continue;
                }
            };
            let mut found = false;
            for v in verdicts.into_iter().filter(|v| v.status == Status::Missing) {
                found = true;
                if !v.unexpected.is_empty() {
                    check.left.push(Residue {
                        fqdn: v.fqdn.clone(),
                        nameserver: v.nameserver.clone(),
                        values: v.unexpected,
                    });
                }
                if !v.missing.is_empty() {
                    check.foreign_removed.push(Residue {
                        fqdn: v.fqdn,
                        nameserver: v.nameserver,
                        values: v.missing,
                    });
                }
            }
            if !found {
                check.note = Some("no nameserver answered after cleanup".into());
            }
        }
        if !check.left.is_empty() || !check.foreign_removed.is_empty() {
            check.status = CheckStatus::Failed;
        } else if check.note.as_deref() == Some("no nameserver answered after cleanup") {
            check.status = CheckStatus::Skipped;
        }
        check
    }

    fn step(&self, name: &str, step: Step) {
        self.options.progress.emit(Progress::Identifier {
            name: name.to_string(),
            step,
        });
    }

    async fn with_retries(&self, set: &TxtSet, present: bool) -> Result<(), plugins::Error> {
        let retries = if present {
            self.options.provider_retries
        } else {
            self.options.provider_retries.max(CLEANUP_RETRIES)
        };
        call_with_retries(self.session, set, present, retries).await
    }
}

/// What must show for `sets` to count as published.
fn expectations(sets: &[TxtSet]) -> Vec<Expectation> {
    sets.iter()
        .map(|s| Expectation {
            fqdn: s.fqdn.clone(),
            zone: s.zone.clone(),
            values: s.values.clone(),
            ..Expectation::default()
        })
        .collect()
}

impl Solver<'_> {
    /// Names handled at once: `concurrency` plugin calls, or for a plugin
    /// that batches, as many names as one batch call takes (they become few
    /// calls).
    fn calls_at_once(&self) -> usize {
        if self.session.batches() {
            self.options.concurrency.max(plugins::batch::MAX_SETS)
        } else {
            self.options.concurrency.max(1)
        }
    }
}

/// Provider errors that come before anything is written: a call that ended
/// with one published nothing.
fn before_any_write(kind: ProviderErrorKind) -> bool {
    matches!(
        kind,
        ProviderErrorKind::InvalidConfig
            | ProviderErrorKind::Authentication
            | ProviderErrorKind::ZoneNotFound
    )
}

/// Retries a cleanup gets at least, whatever publishing gets: a value left
/// behind outlives the run (about
/// 10-20 s of backoff in all before leaving it to the journal and
/// `wacme cleanup`).
pub const CLEANUP_RETRIES: u32 = 8;

/// One plugin call, retried on transient or rate-limited errors: after the
/// provider's retry-after (up to 30 s), else after [`retry_delay`]. This is
/// the only retry layer: plugins report a retryable failure and return.
pub async fn call_with_retries(
    session: &Session,
    set: &TxtSet,
    present: bool,
    retries: u32,
) -> Result<(), plugins::Error> {
    let mut attempt = 0;
    loop {
        let result = if present {
            session.present(set).await
        } else {
            session.cleanup(set).await
        };
        match result {
            Err(e) if attempt < retries && e.provider_error().is_some_and(|p| p.is_retryable()) => {
                let wait = e
                    .provider_error()
                    .and_then(|p| p.retry_after)
                    .map(|d| d.min(Duration::from_secs(30)))
                    .unwrap_or_else(|| retry_delay(attempt, rand::random::<f64>()));
                tracing::info!("{e}; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The pause before retry `attempt` (from 0): 50 ms doubling up to 3.2 s,
/// scaled by `1 + fraction` (`fraction` in `[0, 1)`) so that calls failing
/// together (e.g. writes colliding on one zone) spread out.
pub fn retry_delay(attempt: u32, fraction: f64) -> Duration {
    let base = 50u64 << attempt.min(6);
    Duration::from_millis((base as f64 * (1.0 + fraction.clamp(0.0, 1.0))) as u64)
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_with_jitter_and_caps() {
        assert_eq!(retry_delay(0, 0.0), Duration::from_millis(50));
        assert_eq!(retry_delay(1, 0.0), Duration::from_millis(100));
        assert_eq!(retry_delay(2, 0.5), Duration::from_millis(300));
        assert_eq!(retry_delay(1, 7.0), Duration::from_millis(200));
        assert_eq!(retry_delay(20, 0.0), Duration::from_millis(3200));
        let cleanup: Duration = (0..CLEANUP_RETRIES).map(|a| retry_delay(a, 1.0)).sum();
        assert!(cleanup <= Duration::from_secs(25), "{cleanup:?}");
        assert!(cleanup >= Duration::from_secs(10), "{cleanup:?}");
    }
}
