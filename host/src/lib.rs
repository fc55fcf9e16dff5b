//! wacme: ACME (RFC 8555) DNS-01 certificates through sandboxed WebAssembly
//! DNS provider plugins.
//!
//! The flow, and the modules that own each step:
//! `cli` (commands) → `acme` (the CA protocol) → `dns01` (challenge records,
//! zones, propagation) → `plugins` (the sandbox) → a provider component.

pub mod acme;
pub mod certs;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod dns01;
pub mod exit;
pub mod fsx;
pub mod issuance;
pub mod lock;
pub mod plugins;
