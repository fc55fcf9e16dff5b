//! Authentication helpers shared by wacme's provider plugins, in pure Rust so
//! they build for `wasm32-wasip2` (and natively, for unit tests and the fake
//! APIs):
//!
//! - [`sigv4`]: AWS Signature Version 4 and V4-style request signing;
//! - [`jwt`]: RS256-signed JSON Web Tokens (RFC 7515 / RFC 7519), e.g. the
//!   assertion of a Google service account;
//! - [`oauth`]: OAuth 2.0 token requests (JWT bearer grant, RFC 7523; client
//!   credentials, RFC 6749 §4.4) through the host's HTTP import, with the
//!   token endpoint's errors mapped to the WIT error cases;
//! - [`tsig`]: TSIG-signed DNS messages (RFC 8945) and BIND key files, for
//!   dynamic updates over the host's DNS import.

pub mod jwt;
pub mod oauth;
pub mod sigv4;
pub mod tsig;
