//! The ACME protocol (RFC 8555) as the host speaks it to a CA.
//!
//! - [`Client`] ([`client`]): one CA — directory, HTTPS transport, nonce pool,
//!   signed requests with `badNonce` / `Retry-After` / transport retries,
//!   paced per endpoint ([`pace`]). `Clone + Send + Sync`; clones share
//!   connections, nonces and pacing.
//! - [`Account`] ([`account`]): the signing identity for everything after
//!   registration; orders ([`order`]), certificates and revocation ([`cert`]).
//! - [`PrivateKey`] ([`keys`]), JWS/JWK/EAB ([`jws`]), CSRs ([`csr`]),
//!   problem documents ([`problem`]), polling ([`poll`]), ARI ([`ari`]),
//!   account files ([`store`]) and the dns-persist-01 record ([`persist`]).
//!
//! A typical issuance: [`Client::connect`] → [`Client::new_account`] (or
//! [`Client::account`] from stored state) → [`Account::new_order`] →
//! [`Account::authorizations`] → publish [`Account::dns01_value`] →
//! [`Account::respond`] (all concurrently) → [`Account::wait_authorized`]
//! (the order polled until the CA validated everything) →
//! [`Account::finalize_and_wait`] with a [`Csr`] (it waits for the order to
//! be `ready` first) → [`Account::certificate_chains`] →
//! [`select_chain`].
//! [`Account::counting`] gives a clone whose [`Account::request_count`]
//! counts the CA requests of one order.

pub mod account;
pub mod ari;
pub mod cert;
pub mod client;
pub mod csr;
pub mod directory;
pub mod error;
pub mod http;
pub mod jwk;
pub mod jws;
pub mod keys;
pub mod nonce;
pub mod order;
pub mod pace;
pub mod persist;
pub mod poll;
pub mod problem;
mod serde_url;
pub mod store;

pub use account::{Account, AccountResource, AccountStatus, NewAccount, Registration, mailto};
pub use ari::{RenewalInfo, SuggestedWindow, cert_id};
pub use cert::{CertificateChain, ChosenChain, RevocationReason, select_chain};
pub use client::{Client, ClientConfig};
pub use csr::Csr;
pub use directory::{Directory, Meta};
pub use error::{Error, ProblemResponse, Result};
pub use http::RequestCounter;
pub use jwk::Jwk;
pub use jws::ExternalAccountKey;
pub use keys::{JwsAlg, KeyType, PrivateKey};
pub use order::{
    Authorization, AuthorizationStatus, Challenge, ChallengeStatus, Identifier, NewOrder, Order,
    OrderStatus,
};
pub use pace::{Rate, RateLimits};
pub use poll::PollPolicy;
pub use problem::Problem;
pub use store::{AccountStore, StoredAccount};
