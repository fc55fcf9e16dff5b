//! One certificate, from a new order to stored files: order → DNS-01
//! ([`crate::dns01::solver`]), or dns-persist-01 on a standing record
//! ([`crate::dns01::persist`], nothing published) → new key and CSR → pending record
//! ([`crate::workspace::pending`]) → finalize → download (the default
//! chain, or the preferred one; the leaf must hold the new key and exactly
//! the ordered names) → atomic store ([`crate::workspace::certs`]) → pending
//! record removed.
//!
//! An issued certificate is never given up: once finalize is sent, an
//! interrupt no longer stops the run (it collects and stores the
//! certificate, then reports the interrupt), and a run that dies leaves
//! its pending record, from which the next issuance of the same
//! certificate name collects the certificate instead of ordering again.
//!
//! Shared by `wacme issue` and `wacme renew`.

use super::options::ChallengeKind;
use crate::acme::{
    self, Account, CertificateChain, Csr, Identifier, KeyType, NewOrder, Order, OrderStatus,
    PrivateKey,
};
use crate::dns01::dns::DnsConfig;
use crate::dns01::journal::{Entry, Journal, JournalDns};
use crate::dns01::persist;
use crate::dns01::records::Records;
use crate::dns01::solver::{
    CleanupCheck, Interrupt, SolveError, SolveReport, Solver, SolverOptions,
};
use crate::dns01::zone::ZoneFinder;
use crate::names::Domain;
use crate::plugins::Session;
use crate::workspace::certs::{CertFiles, CertMeta, CertPaths, CertStore, StoreError};
use crate::workspace::pending::{PendingRecord, PendingStore};
use std::collections::BTreeMap;
use std::time::Instant;
use time::OffsetDateTime;

/// What to issue.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    pub domains: Vec<Domain>,
    pub cert_name: String,
    pub key_type: KeyType,
    /// Issuer common name of the preferred chain, if the CA offers several.
    pub preferred_chain: Option<String>,
    /// An ACME profile the CA advertises.
    pub profile: Option<String>,
    /// ARI certificate id of the certificate this one replaces.
    pub replaces: Option<String>,
    /// Kept in the stored metadata (for renewals).
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Where the time went.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Timings {
    /// Getting the plugin ready before the order (0 when a certificate
    /// before this one in the run loaded it); not part of `total_ms`.
    pub plugin_load_ms: u64,
    /// The part of `plugin_load_ms` spent compiling the plugin, when this
    /// certificate's setup compiled it (no compiled form was cached).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_compile_ms: Option<u64>,
    pub present_ms: u64,
    pub propagation_ms: u64,
    pub validation_ms: u64,
    pub finalize_ms: u64,
    pub cleanup_ms: u64,
    /// From the order to the stored certificate, cleanup included.
    pub total_ms: u64,
}

/// An issued, stored certificate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Issued {
    pub cert_name: String,
    pub domains: Vec<String>,
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub paths: CertPaths,
    pub timings: Timings,
    pub ca_requests: u64,
    /// Requests the plugin made for this issuance. A batched call (several
    /// certificates' names of one zone in one call) counts on the
    /// certificate whose name opened the batch, so over a run the sum is
    /// exact and a single certificate's count may be 0.
    pub provider_requests: u64,
    pub reused_authorizations: usize,
    pub record_sets: usize,
    /// How propagation was proven: the servers asked.
    pub propagation: crate::dns01::propagation::Report,
    pub cleanup_errors: Vec<String>,
    /// What the zones' nameservers said after cleanup.
    pub cleanup_check: CleanupCheck,
    /// Challenge values may be left behind, or foreign values were
    /// removed: the certificate is stored, the exit code says so.
    pub residue: bool,
    /// The order an earlier run finalized, whose certificate this run
    /// collected from its pending record (no new order was placed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered_order: Option<String>,
    /// The challenge type that answered the order (`dns-01`,
    /// `dns-persist-01`); none for a collected certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
}

/// Why an issuance failed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Solve(#[from] SolveError),
    #[error(transparent)]
    Acme(#[from] acme::Error),
    #[error(transparent)]
    Persist(#[from] persist::PersistError),
    #[error("storing the certificate: {0}")]
    Store(#[from] StoreError),
    #[error("the CA returned a certificate that cannot be read: {0}")]
    BadCertificate(String),
    #[error("the CA returned no certificate chain")]
    NoChain,
    #[error("interrupted; the certificate issued meanwhile is stored in {0}")]
    InterruptedAfterStore(String),
    #[error(
        "interrupted twice while the CA was issuing {0}: the next `wacme issue` or `wacme renew` of it collects the certificate"
    )]
    InterruptedBeforeStore(String),
}

impl IssueError {
    /// The class of this failure.
    pub fn class(&self) -> crate::error::ErrorClass {
        use crate::error::ErrorClass;
        match self {
            IssueError::Solve(e) => e.class(),
            IssueError::Acme(e) => e.class(),
            IssueError::Persist(e) => e.class(),
            IssueError::Store(_) => ErrorClass::State,
            IssueError::BadCertificate(_) | IssueError::NoChain => ErrorClass::Ca,
            IssueError::InterruptedAfterStore(_) | IssueError::InterruptedBeforeStore(_) => {
                ErrorClass::Interrupted
            }
        }
    }
}

/// Everything an issuance uses.
pub struct Issuer<'a> {
    pub account: &'a Account,
    /// The plugin session (none for dns-persist-01 only).
    pub session: Option<&'a Session>,
    /// Which challenge answers the order.
    pub challenge: ChallengeKind,
    pub zones: &'a ZoneFinder,
    pub dns: &'a DnsConfig,
    pub journal: &'a Journal,
    pub certs: &'a CertStore,
    pub options: &'a SolverOptions,
    /// The record sets of every order of this process.
    pub records: &'a Records,
    /// Plugin as the user named it (for the journal and metadata).
    pub plugin_arg: &'a str,
    /// Non-secret config values and the names of secret ones.
    pub plugin_config: BTreeMap<String, String>,
    pub secret_keys: Vec<String>,
    pub plugin_allow: Vec<String>,
    /// The plugin folders searched (for the journal).
    pub plugin_dirs: Vec<String>,
    /// The config file read, if any (for the journal).
    pub config_file: Option<String>,
}

impl Issuer<'_> {
    /// Issues and stores one certificate, or collects the one an earlier
    /// run's pending record names. Cleanup of challenge records always
    /// runs; `interrupt` stops the issuance in any phase before finalize
    /// (after cleanup, if records were published), and nothing is stored
    /// then. After finalize it is noted, the certificate is collected and
    /// stored, and the result is the interrupt.
    pub async fn issue(
        &self,
        request: &IssueRequest,
        interrupt: &Interrupt,
    ) -> Result<Issued, IssueError> {
        let started = Instant::now();
        let account = self.account.counting();
        let requests_before = self.session.map_or(0, |s| s.requests());

        if let Some(mut issued) = self.recover(&account, request, interrupt).await? {
            issued.timings.total_ms = started.elapsed().as_millis() as u64;
            issued.timings.finalize_ms = issued.timings.total_ms;
            issued.ca_requests = account.request_count();
            return Ok(issued);
        }

        let mut new_order = NewOrder::dns(request.domains.iter().map(|d| d.name.as_str()))?;
        if let Some(profile) = &request.profile {
            new_order = new_order.profile(profile.clone());
        }
        if let Some(replaces) = &request.replaces {
            new_order = new_order.replaces(replaces.clone());
        }
        let (order, authorizations) = interruptible(interrupt, async {
            let order = account.new_order(&new_order).await?;
            let authorizations = account.authorizations(&order).await?;
            Ok((order, authorizations))
        })
        .await?;

        let persist = match (self.challenge, self.session) {
            (ChallengeKind::DnsPersist01, _) | (ChallengeKind::Auto, None) => true,
            (ChallengeKind::Dns01, _) => false,
            (ChallengeKind::Auto, Some(_)) => {
                interruptible(interrupt, async {
                    Ok(self.persist_ready(&account, &authorizations).await)
                })
                .await?
            }
        };
        if persist {
            let solved = self
                .solve_persist(&account, &order, &authorizations, interrupt)
                .await?;
            let mut issued = self
                .finish(
                    &account,
                    request,
                    solved,
                    started,
                    requests_before,
                    interrupt,
                )
                .await?;
            issued.challenge = Some(acme::persist::CHALLENGE_TYPE.into());
            return Ok(issued);
        }
        let session = self
            .session
            .expect("dns-01 needs the plugin session (DnsSetup loads it for dns-01 and auto)");

        let entry = Entry {
            version: 2,
            plugin: self.plugin_arg.to_string(),
            plugin_sha256: session.plugin().sha256().to_string(),
            plugin_path: std::fs::canonicalize(session.plugin().origin())
                .ok()
                .map(|p| p.display().to_string()),
            plugin_dirs: self.plugin_dirs.clone(),
            config_file: self.config_file.clone(),
            cert_name: Some(request.cert_name.clone()),
            dns: Some(JournalDns {
                resolvers: self.dns.resolvers.iter().map(|r| r.to_string()).collect(),
                port: self.dns.authoritative_port,
                propagation: self.options.propagation.to_string(),
                // Values a provider cannot delete never disappear: nothing
                // for `wacme cleanup` to wait for either.
                cleanup_check: self.options.cleanup_check
                    && session.plugin().metadata().hints.can_delete,
            }),
            config: self.plugin_config.clone(),
            secret_keys: self.secret_keys.clone(),
            plugin_allow: self.plugin_allow.clone(),
            sets: Vec::new(),
            created: OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            pid: std::process::id(),
        };
        let solver = Solver {
            account: &account,
            session,
            zones: self.zones,
            dns: self.dns,
            journal: self.journal,
            options: self.options,
            records: self.records,
        };
        let mut solved: SolveReport = solver
            .solve(&order, &authorizations, entry, interrupt)
            .await?;
        solved.order.get_or_insert(order);
        self.finish(
            &account,
            request,
            solved,
            started,
            requests_before,
            interrupt,
        )
        .await
    }

    /// Whether every authorization still pending can be answered by
    /// dns-persist-01 now: the CA offers it and the zone serves a record
    /// for this account (`--challenge auto`). A failed check is only
    /// logged: dns-01 answers then.
    async fn persist_ready(
        &self,
        account: &Account,
        authorizations: &[crate::acme::Authorization],
    ) -> bool {
        let offered = authorizations.iter().all(|a| {
            a.status == crate::acme::AuthorizationStatus::Valid || a.dns_persist01().is_some()
        });
        if !offered {
            return false;
        }
        match persist::check(self.dns, self.zones, authorizations, account).await {
            Ok(_) => {
                tracing::info!(
                    "answering with dns-persist-01: the zone serves a record for this account"
                );
                true
            }
            Err(e) => {
                tracing::info!("not using dns-persist-01 ({e}): answering with dns-01");
                false
            }
        }
    }

    /// The order's authorizations proven by dns-persist-01 records already
    /// served: nothing published, nothing to clean up.
    async fn solve_persist(
        &self,
        account: &Account,
        order: &Order,
        authorizations: &[crate::acme::Authorization],
        interrupt: &Interrupt,
    ) -> Result<SolveReport, IssueError> {
        let started = Instant::now();
        let order = interruptible(interrupt, async {
            Ok(persist::solve(
                account,
                self.dns,
                self.zones,
                order,
                authorizations,
                &self.options.poll,
            )
            .await?)
        })
        .await?;
        Ok(SolveReport {
            validation_ms: started.elapsed().as_millis() as u64,
            reused_authorizations: authorizations
                .iter()
                .filter(|a| a.status == crate::acme::AuthorizationStatus::Valid)
                .count(),
            order: Some(order),
            ..SolveReport::default()
        })
    }

    /// From validated authorizations to a stored certificate: key, pending
    /// record, finalize, download, store.
    async fn finish(
        &self,
        account: &Account,
        request: &IssueRequest,
        solved: SolveReport,
        started: Instant,
        requests_before: u64,
        interrupt: &Interrupt,
    ) -> Result<Issued, IssueError> {
        let account = account.clone();
        // The order as validation left it (`ready`): finalized without
        // asking for it again.
        let order = solved.order.clone().expect("set by the solving step");
        let new_order = NewOrder::dns(request.domains.iter().map(|d| d.name.as_str()))?;

        // The solver watched the interrupt while records were published (it
        // must clean up); until finalize is sent an interrupt simply stops.
        let finalize_started = Instant::now();
        let (key, ready) = interruptible(interrupt, async {
            let key_type = request.key_type;
            // RSA key generation takes long enough to keep off the async workers.
            let key = tokio::task::spawn_blocking(move || PrivateKey::generate(key_type))
                .await
                .map_err(|e| {
                    IssueError::BadCertificate(format!("key generation panicked: {e}"))
                })??;
            let ready = if order.status == OrderStatus::Ready {
                order.clone()
            } else {
                account.wait_order(&order.url, &self.options.poll).await?
            };
            Ok((key, ready))
        })
        .await?;

        // Before finalize: the key and the order on disk, so the certificate
        // the CA issues can be collected whatever happens to this run.
        let record = PendingRecord {
            version: 1,
            cert_name: request.cert_name.clone(),
            order_url: ready.url.to_string(),
            directory: account.client().directory_url().to_string(),
            account_url: account.url().to_string(),
            domains: request.domains.iter().map(|d| d.name.clone()).collect(),
            key_type: key.key_type().as_str().to_string(),
            created: OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        };
        let key_pem = key.to_pem();
        let pending = PendingStore::of(self.certs);
        blocking(move || pending.save(&record, &key_pem)).await?;

        let chain = self
            .collect(
                &account,
                &ready,
                &key,
                &new_order.identifiers,
                request,
                interrupt,
            )
            .await?;
        let finalize_ms = finalize_started.elapsed().as_millis() as u64;
        let mut issued = self
            .store(&account, request, &key, &chain, interrupt)
            .await?;
        issued.timings = Timings {
            plugin_load_ms: 0,
            plugin_compile_ms: None,
            present_ms: solved.present_ms,
            propagation_ms: solved.propagation_ms,
            validation_ms: solved.validation_ms,
            finalize_ms,
            cleanup_ms: solved.cleanup_ms,
            total_ms: started.elapsed().as_millis() as u64,
        };
        issued.ca_requests = account.request_count();
        issued.provider_requests = self.session.map_or(0, |s| s.requests()) - requests_before;
        issued.reused_authorizations = solved.reused_authorizations;
        issued.record_sets = solved.sets.len();
        issued.residue = solved.residue();
        issued.propagation = solved.propagation;
        issued.cleanup_errors = solved.cleanup_errors;
        issued.cleanup_check = solved.cleanup_check;
        Ok(issued)
    }

    /// Collects the certificate of an earlier run's pending record of
    /// `request.cert_name`, if there is one to collect: its order `valid`
    /// (downloaded), `processing` (polled) or `ready` (finalized with the
    /// recorded key). `None` when there is nothing to collect: no record,
    /// or one whose order is `invalid`, gone, not finalized (`pending`), or
    /// for another CA, account, names or key type (then the record and its
    /// key are discarded and a new order is placed).
    async fn recover(
        &self,
        account: &Account,
        request: &IssueRequest,
        interrupt: &Interrupt,
    ) -> Result<Option<Issued>, IssueError> {
        let name = request.cert_name.clone();
        let pending = PendingStore::of(self.certs);
        let Some((record, key_pem)) = blocking(move || pending.load(&name)).await? else {
            return Ok(None);
        };
        let name = &request.cert_name;
        let requested: std::collections::BTreeSet<String> = request
            .domains
            .iter()
            .map(|d| d.name.to_ascii_lowercase())
            .collect();
        let recorded: std::collections::BTreeSet<String> = record
            .domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        let mismatch = if record.directory != account.client().directory_url().as_str() {
            Some(format!("it was ordered from {}", record.directory))
        } else if record.account_url != account.url().as_str() {
            Some(format!(
                "it was ordered by the account {}",
                record.account_url
            ))
        } else if recorded != requested {
            Some(format!("it was for {}", record.domains.join(", ")))
        } else if record.key_type != request.key_type.as_str() {
            Some(format!("it was for a {} key", record.key_type))
        } else {
            None
        };
        if let Some(why) = mismatch {
            tracing::warn!(
                "discarding the pending issuance of {name} (order {}): {why}",
                record.order_url
            );
            self.discard(name).await;
            return Ok(None);
        }
        let (key, order_url) = match (
            PrivateKey::from_pem(&key_pem),
            url::Url::parse(&record.order_url),
        ) {
            (Ok(k), Ok(u)) => (k, u),
            (Err(e), _) => {
                tracing::warn!("discarding the pending issuance of {name}: its key: {e}");
                self.discard(name).await;
                return Ok(None);
            }
            (_, Err(e)) => {
                tracing::warn!("discarding the pending issuance of {name}: its order URL: {e}");
                self.discard(name).await;
                return Ok(None);
            }
        };
        let order = match interruptible(interrupt, async { Ok(account.order(&order_url).await?) })
            .await
        {
            Ok(order) => order,
            Err(IssueError::Acme(e)) if is_gone(&e) => {
                tracing::warn!(
                    "the CA no longer knows the pending order {order_url} of {name}: ordering anew"
                );
                self.discard(name).await;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        match order.status {
            OrderStatus::Valid | OrderStatus::Processing | OrderStatus::Ready => {}
            status => {
                tracing::warn!(
                    "the pending order {order_url} of {name} is {status}: ordering anew"
                );
                self.discard(name).await;
                return Ok(None);
            }
        }
        tracing::info!(
            "collecting the certificate of {name} from the order {order_url} of an earlier run"
        );
        let identifiers = NewOrder::dns(&record.domains)?.identifiers;
        let chain = self
            .collect(account, &order, &key, &identifiers, request, interrupt)
            .await?;
        let mut issued = self
            .store(account, request, &key, &chain, interrupt)
            .await?;
        issued.recovered_order = Some(order_url.to_string());
        Ok(Some(issued))
    }

    /// Takes `order` (`ready`, `processing` or `valid`) to a downloaded,
    /// checked certificate chain for `key`. Once finalize is sent (or was,
    /// by an earlier run) an interrupt no longer stops this: the CA is
    /// issuing, and the certificate must be kept. The poll policy bounds
    /// the wait. The pending record stays when this fails, except when the
    /// order failed or the CA issued a certificate that is not the one
    /// ordered (nothing to collect then).
    async fn collect(
        &self,
        account: &Account,
        order: &Order,
        key: &PrivateKey,
        identifiers: &[Identifier],
        request: &IssueRequest,
        interrupt: &Interrupt,
    ) -> Result<CertificateChain, IssueError> {
        let work = async {
            let order = match order.status {
                OrderStatus::Valid => order.clone(),
                _ => {
                    let order = if order.status == OrderStatus::Processing {
                        account.wait_order(&order.url, &self.options.poll).await?
                    } else {
                        let csr = Csr::build(identifiers, key)?;
                        account
                            .finalize_and_wait(order, csr.der(), &self.options.poll)
                            .await?
                    };
                    test_pause_after_finalize().await;
                    order
                }
            };
            if order.status != OrderStatus::Valid {
                return Err(IssueError::Acme(acme::Error::Failed {
                    what: format!("the order {}", order.url),
                    status: order.status.to_string(),
                    problem: order.error.map(Box::new),
                }));
            }
            let url = order.certificate.clone().ok_or(IssueError::NoChain)?;
            // A certificate for another key or other names is refused here,
            // before anything is stored: the working certificate stays.
            let chosen = account
                .certificate_chain_for(&url, key, identifiers, request.preferred_chain.as_deref())
                .await?;
            for skipped in &chosen.skipped {
                tracing::warn!(
                    "an alternate chain of {} could not be downloaded ({skipped}); using the default chain",
                    request.cert_name
                );
            }
            Ok(chosen.chain)
        };
        let notice = async {
            interrupt.fired().await;
            tracing::warn!(
                "interrupted after the order of {} was finalized: waiting for the certificate to store it first",
                request.cert_name
            );
            std::future::pending::<()>().await
        };
        // A second signal stops the wait: the pending record keeps the
        // order and its key for the next run.
        let result = tokio::select! {
            result = work => result,
            () = notice => unreachable!("the notice never ends"),
            () = interrupt.fired_again() => {
                return Err(IssueError::InterruptedBeforeStore(request.cert_name.clone()));
            }
        };
        if let Err(IssueError::Acme(e)) = &result
            && matches!(
                e,
                acme::Error::Failed { .. } | acme::Error::WrongCertificate { .. }
            )
        {
            self.discard(&request.cert_name).await;
        }
        result
    }

    /// Stores a collected certificate, then removes the pending record.
    /// When `interrupt` fired meanwhile, the result is the interrupt (the
    /// certificate is stored).
    async fn store(
        &self,
        account: &Account,
        request: &IssueRequest,
        key: &PrivateKey,
        chain: &CertificateChain,
        interrupt: &Interrupt,
    ) -> Result<Issued, IssueError> {
        let (serial, not_before, not_after) = leaf_facts(chain.leaf())?;
        let issued_at = OffsetDateTime::now_utc();
        let meta = CertMeta {
            name: request.cert_name.clone(),
            domains: request.domains.iter().map(|d| d.name.clone()).collect(),
            key_type: key.key_type().as_str().to_string(),
            directory: account.client().directory_url().to_string(),
            account_url: account.url().to_string(),
            plugin: self.plugin_arg.to_string(),
            plugin_sha256: self
                .session
                .map(|s| s.plugin().sha256().to_string())
                .unwrap_or_default(),
            plugin_config: self.plugin_config.clone(),
            secret_keys: self.secret_keys.clone(),
            serial: serial.clone(),
            not_before,
            not_after,
            issued_at,
            extra: request.extra.clone(),
        };
        let files = CertFiles {
            cert: chain.leaf_pem(),
            chain: chain.issuers_pem(),
            key: key.to_pem(),
        };
        // Creating, syncing and renaming a dozen files blocks: off the
        // executor, so other certificates of the run go on meanwhile.
        let store = self.certs.clone();
        let name = request.cert_name.clone();
        let (paths, meta) =
            blocking(move || store.save(&name, &files, &meta).map(|p| (p, meta))).await?;
        let pending = PendingStore::of(self.certs);
        let name = request.cert_name.clone();
        if let Err(e) = blocking(move || pending.remove(&name)).await {
            tracing::warn!(
                "the certificate {} is stored, but its pending record could not be removed: {e}",
                request.cert_name
            );
        }
        if interrupt.has_fired() {
            let dir = paths.cert.parent().unwrap_or(&paths.cert);
            return Err(IssueError::InterruptedAfterStore(dir.display().to_string()));
        }
        Ok(Issued {
            cert_name: request.cert_name.clone(),
            domains: meta.domains,
            serial,
            not_before,
            not_after,
            paths,
            timings: Timings::default(),
            ca_requests: account.request_count(),
            provider_requests: 0,
            reused_authorizations: 0,
            record_sets: 0,
            propagation: Default::default(),
            cleanup_errors: Vec::new(),
            cleanup_check: CleanupCheck::default(),
            residue: false,
            recovered_order: None,
            challenge: None,
        })
    }

    /// Removes the pending record of `name` and its key (a failure is only
    /// logged: the next run tries again).
    async fn discard(&self, name: &str) {
        let pending = PendingStore::of(self.certs);
        let owned = name.to_string();
        if let Err(e) = blocking(move || pending.remove(&owned)).await {
            tracing::warn!("cannot remove the pending issuance of {name}: {e}");
        }
    }
}

/// Whether the CA says a resource does not exist (HTTP 404).
fn is_gone(e: &acme::Error) -> bool {
    match e {
        acme::Error::Problem(p) => p.status == 404,
        acme::Error::BadResponse { status, .. } => *status == 404,
        _ => false,
    }
}

/// Runs blocking file work off the async executor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, IssueError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("file work did not finish: {e}"),
        })
        .map_err(IssueError::Store)
}

/// The environment variable of [`test_pause_after_finalize`].
#[doc(hidden)]
pub const TEST_PAUSE_AFTER_FINALIZE_ENV: &str = "WACME_TEST_PAUSE_AFTER_FINALIZE_MS";

/// A test hook of debug builds only: with
/// `WACME_TEST_PAUSE_AFTER_FINALIZE_MS` set, waits that long once the order
/// is finalized and before the certificate is downloaded, so tests can
/// interrupt or kill a run at that moment. Release builds ignore it.
#[doc(hidden)]
async fn test_pause_after_finalize() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var(TEST_PAUSE_AFTER_FINALIZE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tracing::warn!(
            "test hook: pausing {ms} ms after finalize ({TEST_PAUSE_AFTER_FINALIZE_ENV})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

/// Runs `work` unless `interrupt` fires first.
async fn interruptible<T>(
    interrupt: &Interrupt,
    work: impl Future<Output = Result<T, IssueError>>,
) -> Result<T, IssueError> {
    tokio::select! {
        result = work => result,
        () = interrupt.fired() => Err(IssueError::Solve(SolveError::Interrupted)),
    }
}

/// Serial (hex), notBefore and notAfter of a DER certificate.
pub fn leaf_facts(der: &[u8]) -> Result<(String, OffsetDateTime, OffsetDateTime), IssueError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| IssueError::BadCertificate(e.to_string()))?;
    let serial = hex::encode(cert.raw_serial());
    let validity = cert.validity();
    Ok((
        serial,
        validity.not_before.to_datetime(),
        validity.not_after.to_datetime(),
    ))
}
