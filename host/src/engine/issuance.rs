//! One certificate, from a new order to stored files: order → DNS-01
//! ([`crate::dns01::solver`]) → new key and CSR → finalize → download (with
//! the preferred chain; the leaf must hold the new key and exactly the
//! ordered names) → atomic store ([`crate::workspace::certs`]).
//!
//! Shared by `wacme issue` and `wacme renew`.

use crate::acme::{self, Account, Csr, KeyType, NewOrder, PrivateKey, select_chain};
use crate::dns01::dns::DnsConfig;
use crate::dns01::journal::{Entry, Journal, JournalDns};
use crate::dns01::records::Records;
use crate::dns01::solver::{
    CleanupCheck, Interrupt, SolveError, SolveReport, Solver, SolverOptions,
};
use crate::dns01::zone::ZoneFinder;
use crate::names::Domain;
use crate::plugins::Session;
use crate::workspace::certs::{CertFiles, CertMeta, CertPaths, CertStore, StoreError};
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
    pub present_ms: u64,
    pub propagation_ms: u64,
    pub validation_ms: u64,
    pub finalize_ms: u64,
    pub cleanup_ms: u64,
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
}

/// Why an issuance failed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error(transparent)]
    Solve(#[from] SolveError),
    #[error(transparent)]
    Acme(#[from] acme::Error),
    #[error("storing the certificate: {0}")]
    Store(#[from] StoreError),
    #[error("the CA returned a certificate that cannot be read: {0}")]
    BadCertificate(String),
    #[error("the CA returned no certificate chain")]
    NoChain,
}

impl IssueError {
    /// The class of this failure.
    pub fn class(&self) -> crate::error::ErrorClass {
        use crate::error::ErrorClass;
        match self {
            IssueError::Solve(e) => e.class(),
            IssueError::Acme(e) => e.class(),
            IssueError::Store(_) => ErrorClass::State,
            IssueError::BadCertificate(_) | IssueError::NoChain => ErrorClass::Ca,
        }
    }
}

/// Everything an issuance uses.
pub struct Issuer<'a> {
    pub account: &'a Account,
    pub session: &'a Session,
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
    /// Issues and stores one certificate. Cleanup of challenge records
    /// always runs; `interrupt` stops the issuance in any phase (after
    /// cleanup, if records were published), and nothing is stored then.
    pub async fn issue(
        &self,
        request: &IssueRequest,
        interrupt: &Interrupt,
    ) -> Result<Issued, IssueError> {
        let started = Instant::now();
        let account = self.account.counting();
        let requests_before = self.session.requests();

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

        let entry = Entry {
            version: 2,
            plugin: self.plugin_arg.to_string(),
            plugin_sha256: self.session.plugin().sha256().to_string(),
            plugin_path: std::fs::canonicalize(self.session.plugin().origin())
                .ok()
                .map(|p| p.display().to_string()),
            plugin_dirs: self.plugin_dirs.clone(),
            config_file: self.config_file.clone(),
            cert_name: Some(request.cert_name.clone()),
            dns: Some(JournalDns {
                resolvers: self.dns.resolvers.iter().map(|r| r.to_string()).collect(),
                port: self.dns.authoritative_port,
                propagation: self.options.propagation.to_string(),
                cleanup_check: self.options.cleanup_check,
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
            session: self.session,
            zones: self.zones,
            dns: self.dns,
            journal: self.journal,
            options: self.options,
            records: self.records,
        };
        let solved: SolveReport = solver
            .solve(&order, &authorizations, entry, interrupt)
            .await?;
        // The order as validation left it (`ready`): finalized without
        // asking for it again.
        let order = solved.order.clone().unwrap_or(order);

        // The solver watched the interrupt while records were published (it
        // must clean up); from here on an interrupt simply stops.
        let finalize_started = Instant::now();
        let (key, chain) = interruptible(interrupt, async {
            let key_type = request.key_type;
            // RSA key generation takes long enough to keep off the async workers.
            let key = tokio::task::spawn_blocking(move || PrivateKey::generate(key_type))
                .await
                .map_err(|e| {
                    IssueError::BadCertificate(format!("key generation panicked: {e}"))
                })??;
            let csr = Csr::build(&order.identifiers, &key)?;
            let order = account
                .finalize_and_wait(&order, csr.der(), &self.options.poll)
                .await?;
            let url = order.certificate.clone().ok_or(IssueError::NoChain)?;
            // A certificate for another key or other names is refused here,
            // before anything is stored: the working certificate stays.
            let chains = account
                .certificate_chains_for(&url, &key, &new_order.identifiers)
                .await?;
            let chain = select_chain(&chains, request.preferred_chain.as_deref())
                .ok_or(IssueError::NoChain)?
                .clone();
            Ok((key, chain))
        })
        .await?;
        let finalize_ms = finalize_started.elapsed().as_millis() as u64;

        let (serial, not_before, not_after) = leaf_facts(chain.leaf())?;
        let issued_at = OffsetDateTime::now_utc();
        let meta = CertMeta {
            name: request.cert_name.clone(),
            domains: request.domains.iter().map(|d| d.name.clone()).collect(),
            key_type: key.key_type().as_str().to_string(),
            directory: account.client().directory_url().to_string(),
            account_url: account.url().to_string(),
            plugin: self.plugin_arg.to_string(),
            plugin_sha256: self.session.plugin().sha256().to_string(),
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
        let (paths, meta) = tokio::task::spawn_blocking(move || {
            store.save(&name, &files, &meta).map(|p| (p, meta))
        })
        .await
        .unwrap_or_else(|e| match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("storing the certificate did not finish: {e}"),
        })?;

        Ok(Issued {
            cert_name: request.cert_name.clone(),
            domains: meta.domains,
            serial,
            not_before,
            not_after,
            paths,
            timings: Timings {
                present_ms: solved.present_ms,
                propagation_ms: solved.propagation_ms,
                validation_ms: solved.validation_ms,
                finalize_ms,
                cleanup_ms: solved.cleanup_ms,
                total_ms: started.elapsed().as_millis() as u64,
            },
            ca_requests: account.request_count(),
            provider_requests: self.session.requests() - requests_before,
            reused_authorizations: solved.reused_authorizations,
            record_sets: solved.sets.len(),
            residue: solved.residue(),
            propagation: solved.propagation,
            cleanup_errors: solved.cleanup_errors,
            cleanup_check: solved.cleanup_check,
        })
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
