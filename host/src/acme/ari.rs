//! ACME Renewal Information (RFC 9773): the certificate id (from the
//! Authority Key Identifier and the serial number), the `renewalInfo`
//! lookup with its suggested window, and the time to renew within it.

use super::client::Client;
use super::error::{Error, Result};
use super::jwk::b64;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

/// The ARI certificate identifier: `base64url(AKI keyIdentifier) "."
/// base64url(serial number octets)`.
pub fn cert_id(cert_der: &[u8]) -> Result<String> {
    let (_, cert) = X509Certificate::from_der(cert_der)
        .map_err(|e| Error::Key(format!("the certificate does not parse: {e}")))?;
    let aki = cert
        .extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref(),
            _ => None,
        })
        .ok_or_else(|| {
            Error::Key("the certificate has no Authority Key Identifier; ARI needs one".into())
        })?;
    // `raw_serial` is the DER INTEGER's content octets, leading zero included.
    Ok(format!("{}.{}", b64(aki.0), b64(cert.raw_serial())))
}

/// The window the CA suggests renewing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedWindow {
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
}

/// A `renewalInfo` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalInfo {
    pub suggested_window: SuggestedWindow,
    #[serde(
        default,
        rename = "explanationURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub explanation_url: Option<String>,
    /// When to ask again (the response's `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<Duration>,
}

impl RenewalInfo {
    /// A time to renew: uniformly random within the window (RFC 9773 §4.2),
    /// or now when the window has already passed.
    pub fn renewal_time(&self, now: OffsetDateTime) -> OffsetDateTime {
        let SuggestedWindow { start, end } = self.suggested_window;
        if end <= now {
            return now;
        }
        let start = start.max(now);
        let span = (end - start).whole_milliseconds().max(0) as u64;
        if span == 0 {
            return start;
        }
        let offset = rand::Rng::gen_range(&mut rand::thread_rng(), 0..span);
        start + time::Duration::milliseconds(offset as i64)
    }
}

impl Client {
    /// Looks up the renewal information of a certificate (unauthenticated GET).
    pub async fn renewal_info(&self, cert_der: &[u8]) -> Result<RenewalInfo> {
        let base = self.directory().renewal_info.clone().ok_or_else(|| {
            Error::Unsupported("ACME Renewal Information (no renewalInfo URL)".into())
        })?;
        let id = cert_id(cert_der)?;
        let text = format!("{}/{}", base.as_str().trim_end_matches('/'), id);
        let url = url::Url::parse(&text)
            .map_err(|e| Error::Input(format!("bad renewalInfo URL {text}: {e}")))?;
        let resp = self.get(&url, "application/json").await?;
        if !resp.is_success() {
            return Err(resp.error());
        }
        let mut info: RenewalInfo = resp.json()?;
        if info.suggested_window.end < info.suggested_window.start {
            return Err(resp.bad("the suggested renewal window ends before it starts"));
        }
        info.retry_after = resp.retry_after();
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SerialNumber};

    /// A certificate with the given serial, issued by a CA whose key
    /// identifier is `ski`.
    fn cert(ski: &[u8], serial: &[u8]) -> Vec<u8> {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(ski.to_vec());
        let issuer = Issuer::new(ca, ca_key);
        let mut leaf = CertificateParams::new(vec!["example.com".to_string()]).unwrap();
        leaf.serial_number = Some(SerialNumber::from_slice(serial));
        leaf.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        leaf.signed_by(&key, &issuer).unwrap().der().to_vec()
    }

    #[test]
    fn rfc9773_example_cert_id() {
        // RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4
        // and serial 00:87:65:43:21 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
        let ski = [
            0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
            0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4,
        ];
        let der = cert(&ski, &[0x00, 0x87, 0x65, 0x43, 0x21]);
        assert_eq!(
            cert_id(&der).unwrap(),
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
        );
    }

    #[test]
    fn no_aki_is_an_error() {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["example.com".to_string()]).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        assert!(
            cert_id(&der)
                .unwrap_err()
                .to_string()
                .contains("Authority Key Identifier")
        );
        assert!(cert_id(b"junk").is_err());
    }

    #[test]
    fn renewal_time_is_inside_the_window() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let info: RenewalInfo = serde_json::from_str(
            r#"{"suggestedWindow":{"start":"2023-11-20T00:00:00Z","end":"2023-11-22T00:00:00Z"},
                "explanationURL":"https://ca.example/why"}"#,
        )
        .unwrap();
        assert_eq!(
            info.explanation_url.as_deref(),
            Some("https://ca.example/why")
        );
        for _ in 0..50 {
            let t = info.renewal_time(now);
            assert!(t >= info.suggested_window.start && t < info.suggested_window.end);
        }
        let late = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert_eq!(info.renewal_time(late), late);
    }
}
