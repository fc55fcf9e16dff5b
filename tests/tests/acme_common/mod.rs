//! Shared by the `acme_*` tests: the whole issuance flow on one account, for
//! a CA whose challenges validate by themselves (Pebble with
//! `PEBBLE_VA_ALWAYS_VALID=1`, or the in-process responder).

#![allow(dead_code)]

pub mod fake_ca;

use std::time::{Duration, Instant};
use wacme::acme::{
    Account, AuthorizationStatus, CertificateChain, Csr, KeyType, NewOrder, Order, OrderStatus,
    PollPolicy, PrivateKey,
};

/// What one issuance produced.
pub struct Issued {
    pub order: Order,
    pub chains: Vec<CertificateChain>,
    pub key: PrivateKey,
    /// CA requests the order took (from `Account::counting`).
    pub requests: u64,
    pub elapsed: Duration,
}

/// Runs one order to a downloaded certificate: every challenge answered and
/// every authorization polled concurrently.
pub async fn issue(account: &Account, names: &[&str], key_type: KeyType) -> anyhow::Result<Issued> {
    issue_with(account, NewOrder::dns(names)?, key_type).await
}

pub async fn issue_with(
    account: &Account,
    request: NewOrder,
    key_type: KeyType,
) -> anyhow::Result<Issued> {
    let started = Instant::now();
    let account = account.counting();
    let policy = PollPolicy {
        timeout: Duration::from_secs(60),
        ..PollPolicy::default()
    };
    let order = account.new_order(&request).await?;
    anyhow::ensure!(order.status == OrderStatus::Pending || order.status == OrderStatus::Ready);
    let authzs = account.authorizations(&order).await?;
    let pending: Vec<_> = authzs
        .iter()
        .filter(|a| a.status == AuthorizationStatus::Pending)
        .collect();
    futures::future::try_join_all(pending.iter().map(|authz| {
        let account = account.clone();
        async move {
            let challenge = authz
                .dns01()
                .ok_or_else(|| anyhow::anyhow!("no dns-01 challenge"))?;
            let token = challenge.token.as_deref().unwrap_or_default();
            anyhow::ensure!(!token.is_empty(), "dns-01 challenge without a token");
            account.respond(&challenge.url).await?;
            account.wait_authorization(&authz.url, &policy).await?;
            anyhow::Ok(())
        }
    }))
    .await?;
    let order = account.wait_order(&order.url, &policy).await?;
    anyhow::ensure!(
        order.status == OrderStatus::Ready,
        "order is {}",
        order.status
    );
    let key = PrivateKey::generate(key_type)?;
    let csr = Csr::build(&order.identifiers, &key)?;
    let order = account
        .finalize_and_wait(&order, csr.der(), &policy)
        .await?;
    let url = order
        .certificate
        .as_ref()
        .expect("checked by finalize_and_wait");
    // As an issuance does: the leaf must hold the key, for the names ordered.
    let chains = account
        .certificate_chains_for(url, &key, &request.identifiers)
        .await?;
    Ok(Issued {
        order,
        chains,
        key,
        requests: account.request_count(),
        elapsed: started.elapsed(),
    })
}
