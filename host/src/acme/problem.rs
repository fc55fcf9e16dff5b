//! ACME problem documents (RFC 7807 as profiled by RFC 8555 §6.7): the typed
//! form of every error a CA reports, with subproblems per identifier.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The URN prefix of the error types RFC 8555 defines.
pub const ACME_ERROR_PREFIX: &str = "urn:ietf:params:acme:error:";

/// An identifier a subproblem is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemIdentifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// A problem document returned by the CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The full type URI, e.g. `urn:ietf:params:acme:error:badNonce`.
    #[serde(rename = "type", default = "about_blank")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The identifier this problem is about (set in subproblems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<ProblemIdentifier>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subproblems: Vec<Problem>,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}

impl Problem {
    /// Parses a problem document; `None` when `body` is not a JSON object
    /// that looks like one (it must have a string `type` or `detail`).
    pub fn parse(body: &[u8]) -> Option<Problem> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let obj = value.as_object()?;
        let has_type = obj.get("type").is_some_and(|t| t.is_string());
        let has_detail = obj.get("detail").is_some_and(|d| d.is_string());
        if !has_type && !has_detail {
            return None;
        }
        serde_json::from_value(value).ok()
    }

    /// The short ACME error name (`badNonce`, `rateLimited`, …) when the type
    /// is one of RFC 8555's `urn:ietf:params:acme:error:` types.
    pub fn acme_type(&self) -> Option<&str> {
        self.kind.strip_prefix(ACME_ERROR_PREFIX)
    }

    /// Whether this is the ACME error `short` (e.g. `"badNonce"`).
    pub fn is(&self, short: &str) -> bool {
        self.acme_type() == Some(short)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.acme_type().unwrap_or(&self.kind);
        if let Some(id) = &self.identifier {
            write!(f, "{}: ", id.value)?;
        }
        match self.detail.as_deref() {
            Some(detail) if !detail.is_empty() => write!(f, "{kind}: {detail}")?,
            _ => write!(f, "{kind}")?,
        }
        for sub in &self.subproblems {
            write!(f, "; {sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc8555_example_with_subproblems() {
        // RFC 8555 §6.7.1.
        let body = br#"{
            "type": "urn:ietf:params:acme:error:malformed",
            "detail": "Some of the identifiers requested were rejected",
            "subproblems": [
                {
                    "type": "urn:ietf:params:acme:error:malformed",
                    "detail": "Invalid underscore in DNS name \"_example.org\"",
                    "identifier": {"type": "dns", "value": "_example.org"}
                },
                {
                    "type": "urn:ietf:params:acme:error:rejectedIdentifier",
                    "detail": "This CA will not issue for \"example.net\"",
                    "identifier": {"type": "dns", "value": "example.net"}
                }
            ]
        }"#;
        let p = Problem::parse(body).unwrap();
        assert!(p.is("malformed"));
        assert_eq!(p.subproblems.len(), 2);
        assert!(p.subproblems[1].is("rejectedIdentifier"));
        assert_eq!(
            p.subproblems[1].identifier.as_ref().unwrap().value,
            "example.net"
        );
        let text = p.to_string();
        assert!(
            text.starts_with("malformed: Some of the identifiers"),
            "{text}"
        );
        assert!(text.contains("; example.net: rejectedIdentifier: This CA will not issue"));
    }

    #[test]
    fn keeps_foreign_types_and_status() {
        let p = Problem::parse(br#"{"type":"about:blank","detail":"x","status":503}"#).unwrap();
        assert_eq!(p.acme_type(), None);
        assert_eq!(p.status, Some(503));
        assert_eq!(p.to_string(), "about:blank: x");
        let p = Problem::parse(br#"{"detail":"only detail"}"#).unwrap();
        assert_eq!(p.kind, "about:blank");
    }

    #[test]
    fn rejects_non_problems() {
        assert!(Problem::parse(b"<html>502</html>").is_none());
        assert!(Problem::parse(br#"{"hello":"world"}"#).is_none());
        assert!(Problem::parse(br#"["type"]"#).is_none());
        assert!(Problem::parse(br#"{"type":"urn:ietf:params:acme:error:badNonce""#).is_none());
        assert!(Problem::parse(br#"{"type":5}"#).is_none());
    }
}
