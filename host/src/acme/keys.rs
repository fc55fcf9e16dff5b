//! Private keys for accounts and certificates: generation (ECDSA P-256/P-384
//! on `ring`, RSA 2048/3072/4096 with the `rsa` crate), PKCS#8 PEM import and
//! export (SEC1 and PKCS#1 files are accepted on import), JWS signing and the
//! public JWK.

use super::error::{Error, Result};
use super::jwk::{Jwk, b64};
use ring::rand::SystemRandom;
use ring::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
    KeyPair as _, RsaKeyPair,
};
use std::fmt;
use std::str::FromStr;

/// The kind of key to generate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    /// ECDSA on P-256 (JWS `ES256`); the default.
    #[default]
    EcP256,
    /// ECDSA on P-384 (JWS `ES384`).
    EcP384,
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyType {
    pub const ALL: [KeyType; 5] = [
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ];

    /// The name used on the command line and in stored files.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }

    fn rsa_bits(self) -> Option<usize> {
        match self {
            KeyType::Rsa2048 => Some(2048),
            KeyType::Rsa3072 => Some(3072),
            KeyType::Rsa4096 => Some(4096),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = Error;

    /// Accepts `ec-p256`, plus the spellings other clients use (`ec256`,
    /// `p256`, `rsa2048`, …).
    fn from_str(s: &str) -> Result<Self> {
        let norm: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '_'))
            .collect::<String>()
            .to_ascii_lowercase();
        Ok(match norm.as_str() {
            "ecp256" | "ec256" | "p256" | "es256" | "ecdsap256" => KeyType::EcP256,
            "ecp384" | "ec384" | "p384" | "es384" | "ecdsap384" => KeyType::EcP384,
            "rsa2048" | "rsa" => KeyType::Rsa2048,
            "rsa3072" => KeyType::Rsa3072,
            "rsa4096" => KeyType::Rsa4096,
            _ => {
                return Err(Error::Input(format!(
                    "unknown key type {s:?}: use one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096"
                )));
            }
        })
    }
}

/// The JWS algorithm a key signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsAlg {
    ES256,
    ES384,
    RS256,
}

impl JwsAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlg::ES256 => "ES256",
            JwsAlg::ES384 => "ES384",
            JwsAlg::RS256 => "RS256",
        }
    }
}

enum Inner {
    Ec(EcdsaKeyPair, JwsAlg),
    Rsa(RsaKeyPair),
}

/// A private key: an account key (signs JWS) or a certificate key (signs the
/// CSR, and may sign a revocation request).
pub struct PrivateKey {
    inner: Inner,
    pkcs8: Vec<u8>,
}

// The OIDs needed to wrap a SEC1 EC key into PKCS#8.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

impl PrivateKey {
    /// Generates a new key.
    pub fn generate(kind: KeyType) -> Result<PrivateKey> {
        let rng = SystemRandom::new();
        match kind {
            KeyType::EcP256 | KeyType::EcP384 => {
                let alg = if kind == KeyType::EcP256 {
                    &ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &ECDSA_P384_SHA384_FIXED_SIGNING
                };
                let doc = EcdsaKeyPair::generate_pkcs8(alg, &rng)
                    .map_err(|_| Error::Key("cannot generate an ECDSA key".into()))?;
                PrivateKey::from_pkcs8_der(doc.as_ref())
            }
            _ => {
                use rsa::pkcs8::EncodePrivateKey;
                let bits = kind.rsa_bits().expect("an RSA key type");
                let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
                    .map_err(|e| Error::Key(format!("cannot generate an RSA {bits} key: {e}")))?;
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| Error::Key(format!("cannot encode an RSA key: {e}")))?;
                PrivateKey::from_pkcs8_der(der.as_bytes())
            }
        }
    }

    /// Reads a PKCS#8 DER key (ECDSA P-256/P-384 or RSA ≥ 2048 bits).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey> {
        let rng = SystemRandom::new();
        let inner = if let Ok(kp) =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
        {
            Inner::Ec(kp, JwsAlg::ES256)
        } else if let Ok(kp) = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, der, &rng)
        {
            Inner::Ec(kp, JwsAlg::ES384)
        } else {
            match RsaKeyPair::from_pkcs8(der) {
                Ok(kp) => Inner::Rsa(kp),
                Err(e) => {
                    return Err(Error::Key(format!(
                        "unsupported private key ({e}): expected ECDSA P-256, ECDSA P-384 or RSA of at least 2048 bits"
                    )));
                }
            }
        };
        Ok(PrivateKey {
            inner,
            pkcs8: der.to_vec(),
        })
    }

    /// Reads a PEM key: `PRIVATE KEY` (PKCS#8), `EC PRIVATE KEY` (SEC1) or
    /// `RSA PRIVATE KEY` (PKCS#1). Other PEM blocks in the text are skipped.
    pub fn from_pem(text: &str) -> Result<PrivateKey> {
        let blocks =
            pem::parse_many(text).map_err(|e| Error::Key(format!("not a PEM file: {e}")))?;
        for block in blocks {
            match block.tag() {
                "PRIVATE KEY" => return PrivateKey::from_pkcs8_der(block.contents()),
                "EC PRIVATE KEY" => {
                    let mut last = None;
                    for curve in [OID_P256, OID_P384] {
                        match PrivateKey::from_pkcs8_der(&sec1_to_pkcs8(block.contents(), curve)) {
                            Ok(k) => return Ok(k),
                            Err(e) => last = Some(e),
                        }
                    }
                    return Err(last.expect("tried a curve"));
                }
                "RSA PRIVATE KEY" => {
                    use rsa::pkcs1::DecodeRsaPrivateKey;
                    use rsa::pkcs8::EncodePrivateKey;
                    let key = rsa::RsaPrivateKey::from_pkcs1_der(block.contents())
                        .map_err(|e| Error::Key(format!("bad RSA private key: {e}")))?;
                    let der = key
                        .to_pkcs8_der()
                        .map_err(|e| Error::Key(format!("cannot encode an RSA key: {e}")))?;
                    return PrivateKey::from_pkcs8_der(der.as_bytes());
                }
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(Error::Key(
                        "encrypted private keys are not supported".into(),
                    ));
                }
                _ => continue,
            }
        }
        Err(Error::Key("no private key found in the PEM text".into()))
    }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("PRIVATE KEY", self.pkcs8.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// The key as PKCS#8 DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The JWS algorithm this key signs with.
    pub fn alg(&self) -> JwsAlg {
        match &self.inner {
            Inner::Ec(_, alg) => *alg,
            Inner::Rsa(_) => JwsAlg::RS256,
        }
    }

    /// The key type; for RSA keys of another size, the nearest smaller one.
    pub fn key_type(&self) -> KeyType {
        match &self.inner {
            Inner::Ec(_, JwsAlg::ES384) => KeyType::EcP384,
            Inner::Ec(..) => KeyType::EcP256,
            Inner::Rsa(kp) => match kp.public().modulus_len() * 8 {
                n if n >= 4096 => KeyType::Rsa4096,
                n if n >= 3072 => KeyType::Rsa3072,
                _ => KeyType::Rsa2048,
            },
        }
    }

    /// A short human description: `ECDSA P-256`, `RSA 3072`.
    pub fn describe(&self) -> String {
        match &self.inner {
            Inner::Ec(_, JwsAlg::ES384) => "ECDSA P-384".into(),
            Inner::Ec(..) => "ECDSA P-256".into(),
            Inner::Rsa(kp) => format!("RSA {}", kp.public().modulus_len() * 8),
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Jwk {
        match &self.inner {
            Inner::Ec(kp, alg) => {
                // Uncompressed point: 0x04 || x || y.
                let point = kp.public_key().as_ref();
                let n = (point.len() - 1) / 2;
                Jwk::Ec {
                    crv: if *alg == JwsAlg::ES384 {
                        "P-384"
                    } else {
                        "P-256"
                    }
                    .into(),
                    x: b64(&point[1..1 + n]),
                    y: b64(&point[1 + n..]),
                }
            }
            Inner::Rsa(kp) => {
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public());
                Jwk::Rsa {
                    n: b64(strip_zeros(&c.n)),
                    e: b64(strip_zeros(&c.e)),
                }
            }
        }
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> String {
        self.jwk().thumbprint()
    }

    /// Signs `message` for a JWS: ECDSA as fixed-width `r || s`, RSA as
    /// PKCS#1 v1.5 with SHA-256.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Ec(kp, _) => kp
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Key("ECDSA signing failed".into())),
            Inner::Rsa(kp) => {
                let mut sig = vec![0; kp.public().modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| Error::Key("RSA signing failed".into()))?;
                Ok(sig)
            }
        }
    }

    /// The same key as an `rcgen` key pair, for building a CSR.
    pub fn to_rcgen(&self) -> Result<rcgen::KeyPair> {
        let alg = match &self.inner {
            Inner::Ec(_, JwsAlg::ES384) => &rcgen::PKCS_ECDSA_P384_SHA384,
            Inner::Ec(..) => &rcgen::PKCS_ECDSA_P256_SHA256,
            Inner::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
        };
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from(self.pkcs8.as_slice());
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, alg)
            .map_err(|e| Error::Key(format!("cannot use the key for a CSR: {e}")))
    }

    /// The DER SubjectPublicKeyInfo, to match a key against a certificate.
    pub fn public_key_spki_der(&self) -> Result<Vec<u8>> {
        use rcgen::PublicKeyData;
        Ok(self.to_rcgen()?.subject_public_key_info())
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("type", &self.describe())
            .field("thumbprint", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}

/// Appends a DER tag-length-value.
fn der_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

/// PKCS#8 `PrivateKeyInfo` around a SEC1 `ECPrivateKey` on `curve_oid`.
fn sec1_to_pkcs8(sec1: &[u8], curve_oid: &[u8]) -> Vec<u8> {
    let mut alg = Vec::new();
    der_tlv(&mut alg, 0x06, OID_EC_PUBLIC_KEY);
    der_tlv(&mut alg, 0x06, curve_oid);
    let mut body = Vec::new();
    der_tlv(&mut body, 0x02, &[0]);
    der_tlv(&mut body, 0x30, &alg);
    der_tlv(&mut body, 0x04, sec1);
    let mut out = Vec::new();
    der_tlv(&mut out, 0x30, &body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(key: &PrivateKey, msg: &[u8], sig: &[u8]) -> bool {
        let public = match key.jwk() {
            Jwk::Ec { crv, x, y } => {
                let mut point = vec![4u8];
                point.extend(super::super::jwk::b64_decode(&x).unwrap());
                point.extend(super::super::jwk::b64_decode(&y).unwrap());
                let alg: &dyn signature::VerificationAlgorithm = if crv == "P-256" {
                    &signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED
                };
                return signature::UnparsedPublicKey::new(alg, point)
                    .verify(msg, sig)
                    .is_ok();
            }
            Jwk::Rsa { n, e } => signature::RsaPublicKeyComponents {
                n: super::super::jwk::b64_decode(&n).unwrap(),
                e: super::super::jwk::b64_decode(&e).unwrap(),
            },
        };
        public
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
            .is_ok()
    }

    #[test]
    fn ec_keys_sign_verifiably_and_round_trip_pem() {
        for (kind, alg, sig_len) in [
            (KeyType::EcP256, JwsAlg::ES256, 64),
            (KeyType::EcP384, JwsAlg::ES384, 96),
        ] {
            let key = PrivateKey::generate(kind).unwrap();
            assert_eq!(key.alg(), alg);
            assert_eq!(key.key_type(), kind);
            let sig = key.sign(b"hello").unwrap();
            assert_eq!(sig.len(), sig_len);
            assert!(verify(&key, b"hello", &sig));
            assert!(!verify(&key, b"hellO", &sig));
            let pem = key.to_pem();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            let again = PrivateKey::from_pem(&pem).unwrap();
            assert_eq!(again.thumbprint(), key.thumbprint());
            assert!(!format!("{key:?}").contains(&pem[30..60]));
            key.to_rcgen().unwrap();
        }
    }

    #[test]
    fn rsa_key_signs_rs256() {
        let key = PrivateKey::generate(KeyType::Rsa2048).unwrap();
        assert_eq!(key.alg(), JwsAlg::RS256);
        assert_eq!(key.describe(), "RSA 2048");
        let sig = key.sign(b"msg").unwrap();
        assert_eq!(sig.len(), 256);
        assert!(verify(&key, b"msg", &sig));
        match key.jwk() {
            Jwk::Rsa { e, .. } => assert_eq!(e, "AQAB"),
            other => panic!("{other:?}"),
        }
        key.to_rcgen().unwrap();
    }

    // Throwaway test keys made with `openssl ecparam -genkey -noout` (SEC1
    // with curve parameters, as OpenSSL and lego write them); the expected
    // thumbprints were computed from OpenSSL's view of the public key.
    const SEC1_P256: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFcQhO2HgnQaiVpGhOo5D6Os8H265dOMdmdPdEFEiyqPoAoGCCqGSM49
AwEHoUQDQgAE7LvwYzV0/a/iGhKgwUrIGPXhD6NeaOnD/N7H5pNSzP1KZBdejhex
YOIcIMeDBZP+BcMfEPoj8NWKhAhFnQhWSg==
-----END EC PRIVATE KEY-----
";
    const SEC1_P384: &str = "-----BEGIN EC PRIVATE KEY-----
MIGkAgEBBDCVnZ7fm8E7oC2mu0B6l448he/0VLM6qF1/Ddzm+EA7PCNL3lGT38zl
+I+isNMO0XegBwYFK4EEACKhZANiAATOhVCI6WFVcP5L7m0FqfAw1cWR5P6e9Ojc
+/0xBiDzQdy9E3hfY0gHqmW57mNC8nFNkeMSJhutOg12U42EpvAqpQrqxASPMqWh
0qiDzy+geObCInqrFGgr9k7Cnggtpo8=
-----END EC PRIVATE KEY-----
";

    #[test]
    fn imports_sec1_and_pkcs1() {
        let k = PrivateKey::from_pem(SEC1_P256).unwrap();
        assert_eq!(k.alg(), JwsAlg::ES256);
        assert_eq!(
            k.thumbprint(),
            "Lb2EKjn3NwEE3f6wnbrPhyisDYl4fSuOGsJJrIK3Ra0"
        );
        let k = PrivateKey::from_pem(SEC1_P384).unwrap();
        assert_eq!(k.alg(), JwsAlg::ES384);
        assert_eq!(
            k.thumbprint(),
            "WvbrFVIbR98pMKJ09ovXUI7vQOEWe32ZuvJgng6BfMM"
        );
        // Re-exported as PKCS#8, the same key.
        let again = PrivateKey::from_pem(&k.to_pem()).unwrap();
        assert_eq!(again.thumbprint(), k.thumbprint());

        use rsa::pkcs1::EncodeRsaPrivateKey;
        let rsa = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let pem = rsa.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).unwrap();
        let key = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(key.alg(), JwsAlg::RS256);
        assert_eq!(key.describe(), "RSA 2048");
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(PrivateKey::from_pem("nope"), Err(Error::Key(_))));
        let cert_only = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(PrivateKey::from_pem(cert_only).is_err());
        assert!(PrivateKey::from_pkcs8_der(b"\x30\x03\x02\x01\x00").is_err());
    }

    #[test]
    fn key_type_names() {
        for k in KeyType::ALL {
            assert_eq!(k.as_str().parse::<KeyType>().unwrap(), k);
        }
        assert_eq!("EC256".parse::<KeyType>().unwrap(), KeyType::EcP256);
        assert_eq!("rsa4096".parse::<KeyType>().unwrap(), KeyType::Rsa4096);
        assert!("dsa".parse::<KeyType>().is_err());
    }
}
