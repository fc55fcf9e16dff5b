//! Solving an order's DNS-01 challenges through a provider plugin.
//!
//! 1. Each pending authorization's TXT value goes to `_acme-challenge.<name>`;
//!    CNAMEs are followed, zones found, and values grouped per effective
//!    name (apex and wildcard share one), so the plugin gets one call per
//!    name with every value that name must carry.
//! 2. A journal entry is written before anything is published.
//! 3. All names are presented concurrently (bounded); retryable provider
//!    errors are retried with backoff.
//! 4. Propagation is proven (see [`super::propagation`]).
//! 5. All challenges are answered and all authorizations polled concurrently.
//! 6. Cleanup always runs — after success, after any failure, and when the
//!    [`Interrupt`] fires (Ctrl-C) — and then the journal entry goes.

use super::journal::{Entry, Journal, JournalSet};
use super::propagation::{self, Expectation, Mode, PropagationError};
use super::zone::{ZoneError, ZoneFinder};
use crate::acme::{self, Account, Authorization, AuthorizationStatus, PollPolicy};
use crate::error::ErrorClass;
use crate::plugins::{self, Session, TxtSet};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How to solve.
#[derive(Debug, Clone)]
pub struct SolverOptions {
    pub propagation: Mode,
    pub propagation_timeout: Duration,
    /// TTL for the records; the plugin's default when `None`. Never below
    /// the plugin's minimum.
    pub ttl: Option<u32>,
    /// Plugin calls in flight at once.
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
    /// Cleanup failures; the journal keeps these for `wacme cleanup`.
    pub cleanup_errors: Vec<String>,
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
            SolveError::Interrupted => ErrorClass::Interrupted,
        }
    }
}

/// A Ctrl-C (or any other stop request) that every phase of an issuance
/// can watch. Cheap to clone.
#[derive(Clone, Default)]
pub struct Interrupt(Option<tokio::sync::watch::Receiver<bool>>);

impl Interrupt {
    /// Never fires.
    pub fn never() -> Self {
        Interrupt(None)
    }

    /// Fires on Ctrl-C (SIGINT) or SIGTERM (systemd, `docker stop`, a
    /// cancelled CI job). Installing the handlers replaces the default ones
    /// (which would kill the process at once), so every phase must watch
    /// this.
    pub fn on_signals() -> Self {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let terminate = async {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{SignalKind, signal};
                    match signal(SignalKind::terminate()) {
                        Ok(mut s) => {
                            s.recv().await;
                        }
                        Err(_) => std::future::pending::<()>().await,
                    }
                }
                #[cfg(not(unix))]
                std::future::pending::<()>().await
            };
            let fired = tokio::select! {
                result = tokio::signal::ctrl_c() => result.is_ok(),
                () = terminate => true,
            };
            if fired {
                let _ = tx.send(true);
                // Keep the sender alive: a closed channel would read as fired.
                std::future::pending::<()>().await;
            }
        });
        Interrupt(Some(rx))
    }

    /// A fired interrupt from a channel the caller controls (tests).
    pub fn from_channel(rx: tokio::sync::watch::Receiver<bool>) -> Self {
        Interrupt(Some(rx))
    }

    /// Resolves when the interrupt fires.
    pub async fn fired(&self) {
        match &self.0 {
            None => std::future::pending().await,
            Some(rx) => {
                let mut rx = rx.clone();
                if rx.wait_for(|fired| *fired).await.is_err() {
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
}

impl Solver<'_> {
    /// Publishes, proves and validates every pending authorization of
    /// `authorizations`, then cleans up. `entry` describes the plugin and its
    /// config for the journal (its `sets` are filled in here).
    pub async fn solve(
        &self,
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

        let outcome = {
            let work = self.present_and_validate(&sets, &names_by_fqdn, &pending, &mut report);
            tokio::select! {
                result = work => result,
                () = interrupt.fired() => Err(SolveError::Interrupted),
            }
        };

        let started = Instant::now();
        self.options.progress.emit(Progress::CleaningUp);
        report.cleanup_errors = self.cleanup(&sets).await;
        report.cleanup_ms = started.elapsed().as_millis() as u64;
        if report.cleanup_errors.is_empty() {
            if let Err(e) = held.complete() {
                tracing::warn!("cannot remove the journal entry: {e}");
            }
        } else {
            for e in &report.cleanup_errors {
                tracing::warn!("cleanup failed: {e}");
            }
            tracing::warn!(
                "some challenge records may remain; `wacme cleanup` (or the next `wacme issue`) removes them \
                 (journal: {})",
                held.path().display()
            );
        }
        outcome.map(|()| report)
    }

    async fn present_and_validate(
        &self,
        sets: &[TxtSet],
        names_by_fqdn: &BTreeMap<String, Vec<String>>,
        pending: &[(&Authorization, &acme::Challenge)],
        report: &mut SolveReport,
    ) -> Result<(), SolveError> {
        let started = Instant::now();
        for (authz, _) in pending {
            self.step(&authz.ordered_name(), Step::Presenting);
        }
        let results: Vec<Result<(), SolveError>> = futures::stream::iter(sets)
            .map(|set| async move {
                self.with_retries(set, true)
                    .await
                    .map_err(|source| SolveError::Present {
                        fqdn: set.fqdn.clone(),
                        source: Box::new(source),
                    })
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>, _>>()?;
        report.present_ms = started.elapsed().as_millis() as u64;

        let started = Instant::now();
        let expectations: Vec<Expectation> = sets
            .iter()
            .map(|s| Expectation {
                fqdn: s.fqdn.clone(),
                zone: s.zone.clone(),
                values: s.values.clone(),
                ..Expectation::default()
            })
            .collect();
        let progress = |fqdn: &str, done: usize, total: usize| {
            tracing::debug!("propagation of {fqdn}: {done}/{total} confirmed");
            for name in names_by_fqdn.get(fqdn).into_iter().flatten() {
                self.step(name, Step::Propagating { done, total });
            }
        };
        report.propagation = propagation::wait(
            self.dns,
            self.zones,
            &expectations,
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

        let started = Instant::now();
        futures::future::try_join_all(pending.iter().map(|(authz, challenge)| async move {
            let name = authz.ordered_name();
            self.account.respond(&challenge.url).await?;
            self.step(&name, Step::Validating);
            let done = self
                .account
                .wait_authorization(&authz.url, &self.options.poll)
                .await?;
            self.step(&name, Step::Valid);
            Ok::<_, acme::Error>(done)
        }))
        .await?;
        report.validation_ms = started.elapsed().as_millis() as u64;
        Ok(())
    }

    /// Cleans every set (idempotent: sets never presented are no-ops).
    async fn cleanup(&self, sets: &[TxtSet]) -> Vec<String> {
        futures::stream::iter(sets)
            .map(|set| async move {
                self.with_retries(set, false)
                    .await
                    .err()
                    .map(|e| e.to_string())
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .filter_map(|e| async move { e })
            .collect()
            .await
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
