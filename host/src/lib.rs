//! wacme: ACME (RFC 8555) DNS-01 certificates through sandboxed WebAssembly
//! DNS provider plugins.
//!
//! The layers, each using only those below it:
//!
//! ```text
//!   cli          parse arguments, print text/JSON, map error classes to exit codes
//!    │
//!   engine       operations: issue, renew, revoke, cleanup, accounts, plugin test
//!    │  └───────── workspace   state directory, lock, config file, stores, journal
//!    ├──────┬──────────┐
//!   acme   dns01 ──▶ plugins   the CA protocol · challenge records, zones,
//!    │      │          │       propagation · the WebAssembly sandbox
//!   names, duration, error, fsx, dnswire   shared by all of them
//! ```
//!
//! An issuance as data: `wacme issue -d a -d '*.a'` becomes an
//! [`engine::issue::Job`] in [`cli`]; [`engine::issue::obtain`] asks the
//! [`workspace::Workspace`] for the account and a journal and runs
//! [`engine::issuance`], which orders from the CA ([`acme`]) and has
//! [`dns01`] publish, prove and remove the TXT records through a plugin
//! session ([`plugins`]); an [`engine::issue::IssueOutput`] comes back for
//! the CLI to print. No step climbs back up.

pub mod acme;
pub mod cli;
pub mod dns01;
pub mod dnswire;
pub mod duration;
pub mod engine;
pub mod error;
pub mod fsx;
pub mod names;
pub mod plugins;
pub mod workspace;
