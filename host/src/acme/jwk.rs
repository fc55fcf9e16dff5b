//! Public keys as JSON Web Keys (RFC 7517) with their RFC 7638 thumbprint,
//! and the base64url encoding every JOSE structure uses.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// base64url without padding.
pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url, with or without padding.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('='))
}

/// A public key as a JSON Web Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jwk {
    Ec { crv: String, x: String, y: String },
    Rsa { n: String, e: String },
}

impl Jwk {
    /// The JWK as JSON (the form put in a protected header).
    pub fn to_json(&self) -> Value {
        match self {
            Jwk::Ec { crv, x, y } => json!({"kty": "EC", "crv": crv, "x": x, "y": y}),
            Jwk::Rsa { n, e } => json!({"kty": "RSA", "n": n, "e": e}),
        }
    }

    /// RFC 7638 §3: the required members only, sorted, no whitespace. Built by
    /// hand so the result never depends on a JSON library's key order.
    pub fn canonical_json(&self) -> String {
        match self {
            Jwk::Ec { crv, x, y } => {
                format!(
                    r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                    q(crv),
                    q(x),
                    q(y)
                )
            }
            Jwk::Rsa { n, e } => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, q(e), q(n)),
        }
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256(canonical JSON)).
    pub fn thumbprint(&self) -> String {
        b64(ring::digest::digest(&ring::digest::SHA256, self.canonical_json().as_bytes()).as_ref())
    }
}

fn q(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}
