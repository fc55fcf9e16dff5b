//! Certificate signing requests: built with `rcgen` for a fresh certificate
//! key (one new key per certificate), or supplied by the user and checked
//! (signature valid, names match the order).

use super::error::{Error, Result};
use super::keys::PrivateKey;
use super::order::{Identifier, NamesDifference};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

/// A CSR in DER form with the DNS names it asks for.
#[derive(Debug, Clone)]
pub struct Csr {
    der: Vec<u8>,
    names: Vec<String>,
}

impl Csr {
    /// A CSR for `names` signed by `key`: no subject (modern CAs take the
    /// names from the subjectAltName extension only), one DNS SAN per name.
    pub fn build(names: &[Identifier], key: &PrivateKey) -> Result<Csr> {
        if names.is_empty() {
            return Err(Error::Input("a CSR needs at least one name".into()));
        }
        let values: Vec<String> = names.iter().map(|i| i.value.clone()).collect();
        let mut params = rcgen::CertificateParams::new(values.clone())
            .map_err(|e| Error::Input(format!("cannot put the names in a CSR: {e}")))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params
            .serialize_request(&key.to_rcgen()?)
            .map_err(|e| Error::Key(format!("cannot sign the CSR: {e}")))?;
        Ok(Csr {
            der: csr.der().to_vec(),
            names: values,
        })
    }

    /// Reads a user-supplied CSR (PEM `CERTIFICATE REQUEST` or DER) and
    /// checks its signature.
    pub fn parse(data: &[u8]) -> Result<Csr> {
        let der = match pem::parse(data) {
            Ok(block) if block.tag().ends_with("CERTIFICATE REQUEST") => block.into_contents(),
            Ok(block) => {
                return Err(Error::Input(format!(
                    "expected a CERTIFICATE REQUEST, found {}",
                    block.tag()
                )));
            }
            Err(_) => data.to_vec(),
        };
        let (rest, csr) = X509CertificationRequest::from_der(&der)
            .map_err(|e| Error::Input(format!("not a certificate signing request: {e}")))?;
        if !rest.is_empty() {
            return Err(Error::Input(
                "trailing data after the certificate signing request".into(),
            ));
        }
        csr.verify_signature().map_err(|_| {
            Error::Input("the certificate signing request's signature is invalid".into())
        })?;
        let mut names = Vec::new();
        if let Some(exts) = csr.requested_extensions() {
            for ext in exts {
                if let ParsedExtension::SubjectAlternativeName(san) = ext {
                    for gn in &san.general_names {
                        if let GeneralName::DNSName(n) = gn {
                            names.push(n.to_ascii_lowercase());
                        }
                    }
                }
            }
        }
        for cn in csr.certification_request_info.subject.iter_common_name() {
            if let Ok(cn) = cn.as_str() {
                let cn = cn.to_ascii_lowercase();
                if !names.contains(&cn) {
                    names.push(cn);
                }
            }
        }
        if names.is_empty() {
            return Err(Error::Input(
                "the certificate signing request names no DNS name".into(),
            ));
        }
        Ok(Csr { der, names })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DNS names asked for (lowercase).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Fails unless the CSR asks for exactly the identifiers of an order.
    pub fn check_matches(&self, identifiers: &[Identifier]) -> Result<()> {
        let difference = NamesDifference::of(identifiers, &self.names);
        if !difference.is_empty() {
            let want: Vec<&str> = identifiers.iter().map(|i| i.value.as_str()).collect();
            return Err(Error::Input(format!(
                "the CSR names {} but the order is for {} ({difference})",
                self.names.join(", "),
                want.join(", ")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acme::keys::KeyType;

    #[test]
    fn built_csr_round_trips() {
        for kind in [KeyType::EcP256, KeyType::EcP384, KeyType::Rsa2048] {
            let key = PrivateKey::generate(kind).unwrap();
            let ids = [
                Identifier::dns("example.com").unwrap(),
                Identifier::dns("*.example.com").unwrap(),
            ];
            let csr = Csr::build(&ids, &key).unwrap();
            let parsed = Csr::parse(csr.der()).unwrap();
            assert_eq!(parsed.names(), ["example.com", "*.example.com"]);
            parsed.check_matches(&ids).unwrap();
            assert!(parsed.check_matches(&ids[..1]).is_err());
            let pem = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", csr.der().to_vec()));
            assert_eq!(Csr::parse(pem.as_bytes()).unwrap().names().len(), 2);
        }
    }

    #[test]
    fn rejects_bad_csrs() {
        assert!(Csr::parse(b"garbage").is_err());
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let csr = Csr::build(&[Identifier::dns("example.com").unwrap()], &key).unwrap();
        let mut der = csr.der().to_vec();
        let n = der.len();
        der[n - 5] ^= 0x55; // break the signature
        assert!(Csr::parse(&der).is_err());
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(
            Csr::parse(cert.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("CERTIFICATE REQUEST")
        );
    }
}
