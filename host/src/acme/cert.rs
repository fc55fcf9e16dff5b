//! Issued certificates: downloading the PEM chain and its alternates
//! (`Link: rel="alternate"`, RFC 8555 §7.4.2), checking that the leaf is
//! the one ordered (the certificate key's public key, exactly the ordered
//! names), choosing a preferred chain by issuer common name (alternates
//! fetched only for a preferred chain, the default kept when one fails),
//! and revocation (RFC 8555 §7.6) by the account key or by the
//! certificate's own key, with a reason code.

use super::account::Account;
use super::client::{Client, Payload};
use super::error::{Error, Result};
use super::http::PEM_CHAIN;
use super::jwk::b64;
use super::jws::KeyRef;
use super::keys::PrivateKey;
use super::order::{Identifier, NamesDifference};
use serde_json::json;
use url::Url;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

/// A certificate chain as the CA sent it: the leaf first, then issuers.
#[derive(Debug, Clone)]
pub struct CertificateChain {
    /// Where it was downloaded from.
    pub url: Url,
    /// The PEM text, as received.
    pub pem: String,
    /// The certificates in DER, leaf first.
    pub certs: Vec<Vec<u8>>,
}

impl CertificateChain {
    /// Parses a `application/pem-certificate-chain` body.
    pub fn from_pem(url: Url, pem_text: &str) -> Result<CertificateChain> {
        let blocks = pem::parse_many(pem_text)
            .map_err(|e| Error::Key(format!("the certificate chain is not valid PEM: {e}")))?;
        let certs: Vec<Vec<u8>> = blocks
            .into_iter()
            .filter(|b| b.tag() == "CERTIFICATE")
            .map(|b| b.into_contents())
            .collect();
        if certs.is_empty() {
            return Err(Error::Key(
                "the certificate chain holds no certificate".into(),
            ));
        }
        for (i, der) in certs.iter().enumerate() {
            X509Certificate::from_der(der).map_err(|e| {
                Error::Key(format!(
                    "certificate {} of the chain does not parse: {e}",
                    i + 1
                ))
            })?;
        }
        Ok(CertificateChain {
            url,
            pem: pem_text.to_owned(),
            certs,
        })
    }

    /// Fails unless the leaf certifies `key` (the same SubjectPublicKeyInfo)
    /// for exactly the DNS names `ordered` (without regard to case;
    /// wildcards as ordered): a certificate for another key, or with a name
    /// missing or one more, must never be stored or used.
    pub fn check_issued_for(&self, key: &PrivateKey, ordered: &[Identifier]) -> Result<()> {
        let wrong = |message: String| Error::WrongCertificate {
            url: self.url.to_string(),
            message,
        };
        let (_, leaf) = X509Certificate::from_der(self.leaf())
            .map_err(|e| wrong(format!("its leaf does not parse: {e}")))?;
        let mut problems = Vec::new();
        if leaf.public_key().raw != key.public_key_spki_der()?.as_slice() {
            problems.push(
                "its public key is not the one of the key generated for it (the CSR's)".to_string(),
            );
        }
        let mut names = Vec::new();
        for ext in leaf.extensions() {
            if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
                for name in &san.general_names {
                    names.push(describe_name(name));
                }
            }
        }
        let difference = NamesDifference::of(ordered, &names);
        if !difference.is_empty() {
            problems.push(format!("its names are not the ordered ones: {difference}"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(wrong(problems.join("; ")))
        }
    }

    /// The end-entity certificate (DER).
    pub fn leaf(&self) -> &[u8] {
        &self.certs[0]
    }

    /// The leaf alone, as PEM.
    pub fn leaf_pem(&self) -> String {
        pem_cert(&self.certs[0])
    }

    /// The issuer certificates (everything after the leaf), as PEM.
    pub fn issuers_pem(&self) -> String {
        self.certs[1..].iter().map(|c| pem_cert(c)).collect()
    }

    /// The issuer common name of the topmost certificate: the root the chain
    /// leads to.
    pub fn root_issuer_cn(&self) -> Option<String> {
        let top = self.certs.last()?;
        let (_, cert) = X509Certificate::from_der(top).ok()?;
        first_cn(cert.issuer())
    }

    /// Whether the chain leads to `issuer_cn`: the topmost certificate's
    /// issuer or subject has that common name (certbot's and lego's rule).
    pub fn matches_issuer(&self, issuer_cn: &str) -> bool {
        let Some(top) = self.certs.last() else {
            return false;
        };
        let Ok((_, cert)) = X509Certificate::from_der(top) else {
            return false;
        };
        [first_cn(cert.issuer()), first_cn(cert.subject())]
            .into_iter()
            .flatten()
            .any(|cn| cn.trim().eq_ignore_ascii_case(issuer_cn.trim()))
    }
}

/// A subjectAltName entry as text: a DNS name as it is, an IP address as
/// one, anything else as `x509-parser` shows it.
fn describe_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(n) => (*n).to_string(),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => std::net::IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("4 bytes")).to_string(),
            16 => {
                std::net::IpAddr::from(<[u8; 16]>::try_from(*bytes).expect("16 bytes")).to_string()
            }
            _ => format!("{name}"),
        },
        other => format!("{other}"),
    }
}

fn pem_cert(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CERTIFICATE", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn first_cn(name: &X509Name<'_>) -> Option<String> {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}

/// What [`Account::certificate_chain_for`] chose.
#[derive(Debug, Clone)]
pub struct ChosenChain {
    pub chain: CertificateChain,
    /// Alternate chains that could not be downloaded, with the reason.
    pub skipped: Vec<String>,
}

/// The chain to use: the first whose root issuer matches `preferred`, else
/// the CA's default (the first). `None` only for an empty list.
pub fn select_chain<'a>(
    chains: &'a [CertificateChain],
    preferred: Option<&str>,
) -> Option<&'a CertificateChain> {
    if let Some(name) = preferred
        && let Some(found) = chains.iter().find(|c| c.matches_issuer(name))
    {
        return Some(found);
    }
    chains.first()
}

/// Revocation reason codes (RFC 5280 §5.3.1) a subscriber may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    Unspecified = 0,
    KeyCompromise = 1,
    CaCompromise = 2,
    AffiliationChanged = 3,
    Superseded = 4,
    CessationOfOperation = 5,
    CertificateHold = 6,
    RemoveFromCrl = 8,
    PrivilegeWithdrawn = 9,
    AaCompromise = 10,
}

impl RevocationReason {
    pub const ALL: [RevocationReason; 10] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
        RevocationReason::RemoveFromCrl,
        RevocationReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    /// The camel-case name used on the command line (`keyCompromise`).
    pub fn name(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "cACompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::CertificateHold => "certificateHold",
            RevocationReason::RemoveFromCrl => "removeFromCRL",
            RevocationReason::PrivilegeWithdrawn => "privilegeWithdrawn",
            RevocationReason::AaCompromise => "aACompromise",
        }
    }
}

impl std::str::FromStr for RevocationReason {
    type Err = Error;

    /// A name (any case, `-`/`_` ignored) or the numeric code.
    fn from_str(s: &str) -> Result<Self> {
        let norm: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect::<String>()
            .to_ascii_lowercase();
        RevocationReason::ALL
            .into_iter()
            .find(|r| r.name().to_ascii_lowercase() == norm || r.code().to_string() == norm)
            .ok_or_else(|| {
                let names: Vec<&str> = RevocationReason::ALL.iter().map(|r| r.name()).collect();
                Error::Input(format!(
                    "unknown revocation reason {s:?}: use one of {}",
                    names.join(", ")
                ))
            })
    }
}

fn revoke_payload(cert_der: &[u8], reason: Option<RevocationReason>) -> serde_json::Value {
    let mut payload = json!({ "certificate": b64(cert_der) });
    if let Some(r) = reason {
        payload["reason"] = r.code().into();
    }
    payload
}

fn revoke_url(client: &Client) -> Result<Url> {
    client
        .directory()
        .revoke_cert
        .clone()
        .ok_or_else(|| Error::Unsupported("revocation (no revokeCert URL)".into()))
}

impl Account {
    /// Downloads a certificate chain (POST-as-GET).
    pub async fn certificate(&self, url: &Url) -> Result<CertificateChain> {
        Ok(self.certificate_with_alternates(url).await?.0)
    }

    async fn certificate_with_alternates(&self, url: &Url) -> Result<(CertificateChain, Vec<Url>)> {
        let resp = self.post(url, Payload::Empty, PEM_CHAIN).await?;
        let ct = resp.content_type();
        if !(ct == PEM_CHAIN
            || ct.is_empty()
            || ct.starts_with("application/x-pem")
            || ct == "text/plain")
        {
            return Err(resp.bad(format!(
                "expected a PEM certificate chain, got {}",
                super::http::describe_body(&ct, &resp.body)
            )));
        }
        let text = std::str::from_utf8(&resp.body)
            .map_err(|_| resp.bad("the certificate chain is not text"))?;
        let chain =
            CertificateChain::from_pem(url.clone(), text).map_err(|e| resp.bad(e.to_string()))?;
        Ok((chain, resp.links("alternate")))
    }

    /// Downloads the default chain and every alternate the CA links to
    /// (concurrently); the default comes first.
    pub async fn certificate_chains(&self, url: &Url) -> Result<Vec<CertificateChain>> {
        let (default, alternates) = self.certificate_with_alternates(url).await?;
        let mut chains = vec![default];
        let others =
            futures::future::try_join_all(alternates.iter().map(|u| self.certificate(u))).await?;
        chains.extend(others);
        Ok(chains)
    }

    /// Downloads the chains like [`Account::certificate_chains`] and checks
    /// that each leaf certifies `key` for exactly the `ordered` names
    /// ([`CertificateChain::check_issued_for`]): what to use before a new
    /// certificate is stored.
    pub async fn certificate_chains_for(
        &self,
        url: &Url,
        key: &PrivateKey,
        ordered: &[Identifier],
    ) -> Result<Vec<CertificateChain>> {
        let chains = self.certificate_chains(url).await?;
        for chain in &chains {
            chain.check_issued_for(key, ordered)?;
        }
        Ok(chains)
    }

    /// The chain to store for a new certificate: the default chain, or,
    /// when `preferred` names an issuer the default does not lead to, the
    /// first alternate (`Link: rel="alternate"`) that does. Alternates are
    /// downloaded only then, one at a time; one that cannot be downloaded
    /// is skipped and named in [`ChosenChain::skipped`], so the default
    /// chain is used rather than the run failing. The chosen leaf must
    /// certify `key` for exactly the `ordered` names
    /// ([`CertificateChain::check_issued_for`]).
    pub async fn certificate_chain_for(
        &self,
        url: &Url,
        key: &PrivateKey,
        ordered: &[Identifier],
        preferred: Option<&str>,
    ) -> Result<ChosenChain> {
        let (default, alternates) = self.certificate_with_alternates(url).await?;
        default.check_issued_for(key, ordered)?;
        let mut chosen = ChosenChain {
            chain: default,
            skipped: Vec::new(),
        };
        let Some(preferred) = preferred else {
            return Ok(chosen);
        };
        if chosen.chain.matches_issuer(preferred) {
            return Ok(chosen);
        }
        for alternate in &alternates {
            match self.certificate(alternate).await {
                Ok(chain) if chain.matches_issuer(preferred) => {
                    chain.check_issued_for(key, ordered)?;
                    chosen.chain = chain;
                    return Ok(chosen);
                }
                Ok(_) => {}
                Err(e) => chosen.skipped.push(format!("{alternate}: {e}")),
            }
        }
        Ok(chosen)
    }

    /// Revokes a certificate of this account (signed with the account key).
    pub async fn revoke(&self, cert_der: &[u8], reason: Option<RevocationReason>) -> Result<()> {
        let url = revoke_url(self.client())?;
        let payload = revoke_payload(cert_der, reason);
        self.post(&url, Payload::Json(&payload), "application/json")
            .await?;
        Ok(())
    }
}

impl Client {
    /// Revokes a certificate by proving possession of its private key (no
    /// account needed; the JWS carries the certificate key's JWK).
    pub async fn revoke_with_certificate_key(
        &self,
        cert_der: &[u8],
        cert_key: &PrivateKey,
        reason: Option<RevocationReason>,
    ) -> Result<()> {
        let url = revoke_url(self)?;
        let payload = revoke_payload(cert_der, reason);
        self.post(
            cert_key,
            KeyRef::Jwk,
            &url,
            Payload::Json(&payload),
            "application/json",
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain leaf ← intermediate, where the intermediate is issued by a
    /// root named `root_cn`.
    fn chain(root_cn: &str) -> String {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let root_key = KeyPair::generate().unwrap();
        let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
        root.distinguished_name.push(DnType::CommonName, root_cn);
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root_issuer = Issuer::new(root, root_key);
        let int_key = KeyPair::generate().unwrap();
        let mut int = CertificateParams::new(Vec::<String>::new()).unwrap();
        int.distinguished_name
            .push(DnType::CommonName, "Intermediate");
        int.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let int_cert = int.signed_by(&int_key, &root_issuer).unwrap();
        let int_issuer = Issuer::new(int, int_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["example.com".to_string()]).unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &int_issuer).unwrap();
        format!("{}{}", leaf_cert.pem(), int_cert.pem())
    }

    #[test]
    fn chains_and_preferred_issuer() {
        let url = Url::parse("https://ca/cert/1").unwrap();
        let a = CertificateChain::from_pem(url.clone(), &chain("Root A")).unwrap();
        let b = CertificateChain::from_pem(url.clone(), &chain("Root B")).unwrap();
        assert_eq!(a.certs.len(), 2);
        assert_eq!(a.root_issuer_cn().as_deref(), Some("Root A"));
        assert!(a.matches_issuer("root a"));
        assert!(a.matches_issuer("Intermediate")); // the topmost certificate's own name
        assert!(!a.matches_issuer("Root B"));
        let chains = [a, b];
        assert_eq!(
            select_chain(&chains, Some("Root B"))
                .unwrap()
                .root_issuer_cn()
                .unwrap(),
            "Root B"
        );
        assert_eq!(
            select_chain(&chains, Some("Nope"))
                .unwrap()
                .root_issuer_cn()
                .unwrap(),
            "Root A"
        );
        assert_eq!(
            select_chain(&chains, None)
                .unwrap()
                .root_issuer_cn()
                .unwrap(),
            "Root A"
        );
        assert!(select_chain(&[], None).is_none());
        assert!(
            chains[0]
                .leaf_pem()
                .starts_with("-----BEGIN CERTIFICATE-----\n")
        );
        assert_eq!(pem::parse_many(chains[0].issuers_pem()).unwrap().len(), 1);
    }

    #[test]
    fn the_leaf_must_hold_the_key_and_the_ordered_names() {
        use crate::acme::keys::KeyType;
        use rcgen::{CertificateParams, SanType};
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let ordered = [
            Identifier::dns("example.com").unwrap(),
            Identifier::dns("*.example.com").unwrap(),
        ];
        let url = Url::parse("https://ca/cert/1").unwrap();
        let leaf = |key: &PrivateKey, sans: Vec<SanType>| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.subject_alt_names = sans;
            let cert = params.self_signed(&key.to_rcgen().unwrap()).unwrap();
            CertificateChain::from_pem(url.clone(), &cert.pem()).unwrap()
        };
        let dns = |n: &str| SanType::DnsName(n.try_into().unwrap());
        leaf(&key, vec![dns("*.EXAMPLE.com"), dns("Example.Com")])
            .check_issued_for(&key, &ordered)
            .unwrap();

        let other = PrivateKey::generate(KeyType::EcP256).unwrap();
        let err = leaf(&other, vec![dns("example.com"), dns("*.example.com")])
            .check_issued_for(&key, &ordered)
            .unwrap_err();
        assert!(matches!(err, Error::WrongCertificate { .. }), "{err:?}");
        assert_eq!(err.class(), crate::error::ErrorClass::Ca);
        assert_eq!(
            err.to_string(),
            "the CA issued a certificate (https://ca/cert/1) that does not match the order: \
             its public key is not the one of the key generated for it (the CSR's)"
        );

        let ip = SanType::IpAddress("192.0.2.1".parse().unwrap());
        let err = leaf(&key, vec![dns("example.com"), dns("www.example.com"), ip])
            .check_issued_for(&key, &ordered)
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.ends_with(
                "its names are not the ordered ones: missing *.example.com; extra 192.0.2.1, www.example.com"
            ),
            "{msg}"
        );
    }

    #[test]
    fn bad_chains() {
        let url = Url::parse("https://ca/cert/1").unwrap();
        assert!(CertificateChain::from_pem(url.clone(), "").is_err());
        let junk = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(CertificateChain::from_pem(url, junk).is_err());
    }

    #[test]
    fn reason_codes() {
        assert_eq!(
            "keyCompromise".parse::<RevocationReason>().unwrap().code(),
            1
        );
        assert_eq!(
            "key-compromise".parse::<RevocationReason>().unwrap().code(),
            1
        );
        assert_eq!(
            "4".parse::<RevocationReason>().unwrap(),
            RevocationReason::Superseded
        );
        assert!("7".parse::<RevocationReason>().is_err());
        assert!("bogus".parse::<RevocationReason>().is_err());
        assert_eq!(
            revoke_payload(b"\x01\x02", Some(RevocationReason::Superseded)),
            json!({"certificate": "AQI", "reason": 4})
        );
        assert_eq!(revoke_payload(b"\x01", None), json!({"certificate": "AQ"}));
    }
}
