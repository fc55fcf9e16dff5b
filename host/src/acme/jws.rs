//! JSON Web Signatures as ACME uses them (RFC 8555 §6.2, RFC 7515 flattened
//! JSON serialization): the protected header with `jwk` or `kid`, POST-as-GET,
//! key authorizations, External Account Binding (HS256) and the nested JWS of
//! a key change. Keys and their JWK form live in [`super::keys`] and
//! [`super::jwk`].

use super::error::{Error, Result};
use super::jwk::{Jwk, b64, b64_decode};
use super::keys::PrivateKey;
use base64::Engine as _;
use serde_json::{Value, json};

/// The key authorization of a challenge token (RFC 8555 §8.1):
/// `token "." thumbprint`.
pub fn key_authorization(token: &str, thumbprint: &str) -> String {
    format!("{token}.{thumbprint}")
}

/// The TXT record value of a dns-01 challenge (RFC 8555 §8.4):
/// base64url(SHA-256(key authorization)), no padding.
pub fn dns01_value(key_authorization: &str) -> String {
    b64(ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes()).as_ref())
}

/// How a JWS names its signing key.
#[derive(Debug, Clone, Copy)]
pub enum KeyRef<'a> {
    /// The whole public key (`newAccount`, revocation by certificate key).
    Jwk,
    /// The account URL (every other request).
    Kid(&'a str),
}

/// Signs `payload` (or the empty payload of a POST-as-GET when `None`) as a
/// flattened JWS for `url`.
pub fn sign(
    key: &PrivateKey,
    key_ref: KeyRef<'_>,
    nonce: Option<&str>,
    url: &str,
    payload: Option<&Value>,
) -> Result<Value> {
    let mut header = serde_json::Map::new();
    header.insert("alg".into(), key.alg().as_str().into());
    match key_ref {
        KeyRef::Jwk => header.insert("jwk".into(), key.jwk().to_json()),
        KeyRef::Kid(kid) => header.insert("kid".into(), kid.into()),
    };
    if let Some(nonce) = nonce {
        header.insert("nonce".into(), nonce.into());
    }
    header.insert("url".into(), url.into());
    let protected = b64(&serde_json::to_vec(&header).expect("a map serializes"));
    let payload = match payload {
        Some(p) => b64(&serde_json::to_vec(p).expect("a value serializes")),
        None => String::new(),
    };
    let signature = key.sign(format!("{protected}.{payload}").as_bytes())?;
    Ok(json!({
        "protected": protected,
        "payload": payload,
        "signature": b64(&signature),
    }))
}

/// External Account Binding credentials: the key id and MAC key the CA gave
/// out of band. `Debug` never shows the key.
#[derive(Clone)]
pub struct ExternalAccountKey {
    kid: String,
    hmac_key: Vec<u8>,
}

impl ExternalAccountKey {
    /// `hmac_key_b64url` is the MAC key as the CA shows it: base64url (with
    /// or without padding; standard base64 is accepted too).
    pub fn new(kid: impl Into<String>, hmac_key_b64url: &str) -> Result<ExternalAccountKey> {
        let kid = kid.into();
        if kid.trim().is_empty() {
            return Err(Error::Input("the EAB key id is empty".into()));
        }
        let text = hmac_key_b64url.trim();
        let hmac_key = b64_decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
            .map_err(|_| Error::Input("the EAB HMAC key is not valid base64url".into()))?;
        if hmac_key.is_empty() {
            return Err(Error::Input("the EAB HMAC key is empty".into()));
        }
        Ok(ExternalAccountKey { kid, hmac_key })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The `externalAccountBinding` member of a `newAccount` payload
    /// (RFC 8555 §7.3.4): an HS256 JWS over the account's JWK, for `url`.
    pub fn binding(&self, account_jwk: &Jwk, url: &str) -> Value {
        let header = json!({"alg": "HS256", "kid": self.kid, "url": url});
        let protected = b64(&serde_json::to_vec(&header).expect("serializes"));
        let payload = b64(&serde_json::to_vec(&account_jwk.to_json()).expect("serializes"));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.hmac_key);
        let tag = ring::hmac::sign(&key, format!("{protected}.{payload}").as_bytes());
        json!({"protected": protected, "payload": payload, "signature": b64(tag.as_ref())})
    }
}

impl std::fmt::Debug for ExternalAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalAccountKey")
            .field("kid", &self.kid)
            .field("hmac_key", &"<redacted>")
            .finish()
    }
}

/// The inner JWS of a `keyChange` request (RFC 8555 §7.3.5): signed by the
/// new key, carrying its JWK, no nonce.
pub fn key_change_inner(
    new_key: &PrivateKey,
    old_key: &PrivateKey,
    account_url: &str,
    key_change_url: &str,
) -> Result<Value> {
    let payload = json!({"account": account_url, "oldKey": old_key.jwk().to_json()});
    sign(new_key, KeyRef::Jwk, None, key_change_url, Some(&payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acme::keys::KeyType;

    // RFC 7638 §3.1.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rfc7638_thumbprint_example() {
        let jwk = Jwk::Rsa {
            n: RFC7638_N.into(),
            e: "AQAB".into(),
        };
        assert!(jwk.canonical_json().starts_with(
            r#"{"e":"AQAB","kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4"#
        ));
        // The RFC lists the SHA-256 octets, then this base64url form.
        let digest = ring::digest::digest(&ring::digest::SHA256, jwk.canonical_json().as_bytes());
        assert_eq!(
            digest.as_ref(),
            &[
                55, 54, 203, 177, 120, 124, 184, 48, 156, 119, 238, 140, 55, 5, 197, 225, 111, 251,
                158, 133, 151, 21, 144, 31, 30, 76, 89, 177, 17, 130, 245, 123
            ]
        );
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn dns01_txt_value() {
        // Token from RFC 8555 §8.4, thumbprint from RFC 7638; the value was
        // computed independently (Python hashlib + base64).
        let ka = key_authorization(
            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
        );
        assert_eq!(
            ka,
            "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(
            dns01_value(&ka),
            "ZTRx1Ckl1-tM05o5zaizTTA0yUy5AGereMgSNWC6Ll8"
        );
    }

    #[test]
    fn ec_thumbprint_members_and_order() {
        let jwk = Jwk::Ec {
            crv: "P-256".into(),
            x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU".into(),
            y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".into(),
        };
        assert_eq!(
            jwk.canonical_json(),
            r#"{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#
        );
        // Independently computed: SHA-256 of the canonical JSON above.
        let digest = ring::digest::digest(&ring::digest::SHA256, jwk.canonical_json().as_bytes());
        assert_eq!(jwk.thumbprint(), b64(digest.as_ref()));
        assert_eq!(jwk.thumbprint().len(), 43);
    }

    fn decode_json(part: &Value) -> Value {
        serde_json::from_slice(&b64_decode(part.as_str().unwrap()).unwrap()).unwrap()
    }

    fn verify_jws(key: &PrivateKey, jws: &Value) -> bool {
        use ring::signature::{self, UnparsedPublicKey};
        let input = format!(
            "{}.{}",
            jws["protected"].as_str().unwrap(),
            jws["payload"].as_str().unwrap()
        );
        let sig = b64_decode(jws["signature"].as_str().unwrap()).unwrap();
        match key.jwk() {
            Jwk::Ec { crv, x, y } => {
                let mut point = vec![4u8];
                point.extend(b64_decode(&x).unwrap());
                point.extend(b64_decode(&y).unwrap());
                let alg: &dyn signature::VerificationAlgorithm = if crv == "P-256" {
                    &signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED
                };
                UnparsedPublicKey::new(alg, point)
                    .verify(input.as_bytes(), &sig)
                    .is_ok()
            }
            Jwk::Rsa { n, e } => signature::RsaPublicKeyComponents {
                n: b64_decode(&n).unwrap(),
                e: b64_decode(&e).unwrap(),
            }
            .verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                input.as_bytes(),
                &sig,
            )
            .is_ok(),
        }
    }

    #[test]
    fn jws_with_jwk_and_kid() {
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let payload = json!({"termsOfServiceAgreed": true});
        let jws = sign(
            &key,
            KeyRef::Jwk,
            Some("nonce-1"),
            "https://ca/new-acct",
            Some(&payload),
        )
        .unwrap();
        let header = decode_json(&jws["protected"]);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["nonce"], "nonce-1");
        assert_eq!(header["url"], "https://ca/new-acct");
        assert_eq!(header["jwk"], key.jwk().to_json());
        assert!(header.get("kid").is_none());
        assert_eq!(decode_json(&jws["payload"]), payload);
        assert!(verify_jws(&key, &jws));

        // POST-as-GET: empty payload, kid instead of jwk.
        let jws = sign(
            &key,
            KeyRef::Kid("https://ca/acct/1"),
            Some("n2"),
            "https://ca/order/1",
            None,
        )
        .unwrap();
        assert_eq!(jws["payload"], "");
        let header = decode_json(&jws["protected"]);
        assert_eq!(header["kid"], "https://ca/acct/1");
        assert!(header.get("jwk").is_none());
        assert!(verify_jws(&key, &jws));

        // A tampered payload does not verify.
        let mut bad = jws.clone();
        bad["payload"] = Value::String(b64(b"{}"));
        assert!(!verify_jws(&key, &bad));
    }

    #[test]
    fn jws_es384_and_rs256() {
        let key = PrivateKey::generate(KeyType::EcP384).unwrap();
        let jws = sign(&key, KeyRef::Kid("k"), Some("n"), "u", Some(&json!({}))).unwrap();
        assert_eq!(decode_json(&jws["protected"])["alg"], "ES384");
        assert!(verify_jws(&key, &jws));
        let key = PrivateKey::generate(KeyType::Rsa2048).unwrap();
        let jws = sign(&key, KeyRef::Jwk, Some("n"), "u", Some(&json!({}))).unwrap();
        let header = decode_json(&jws["protected"]);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["jwk"]["kty"], "RSA");
        assert!(verify_jws(&key, &jws));
    }

    #[test]
    fn external_account_binding() {
        // The MAC key from the EAB example that ships with Pebble.
        let mac_b64 = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
        let eab = ExternalAccountKey::new("kid-1", mac_b64).unwrap();
        assert!(!format!("{eab:?}").contains(mac_b64));
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let binding = eab.binding(&key.jwk(), "https://ca/new-acct");
        let header = decode_json(&binding["protected"]);
        assert_eq!(
            header,
            json!({"alg": "HS256", "kid": "kid-1", "url": "https://ca/new-acct"})
        );
        assert!(header.get("nonce").is_none());
        assert_eq!(decode_json(&binding["payload"]), key.jwk().to_json());
        let input = format!(
            "{}.{}",
            binding["protected"].as_str().unwrap(),
            binding["payload"].as_str().unwrap()
        );
        let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &b64_decode(mac_b64).unwrap());
        let tag = b64_decode(binding["signature"].as_str().unwrap()).unwrap();
        assert_eq!(tag.len(), 32);
        ring::hmac::verify(&mac, input.as_bytes(), &tag).unwrap();
        let wrong = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"other");
        assert!(ring::hmac::verify(&wrong, input.as_bytes(), &tag).is_err());

        // Padded and standard-alphabet keys are the same key.
        let padded = ExternalAccountKey::new("k", "-_8=").unwrap();
        let standard = ExternalAccountKey::new("k", "+/8=").unwrap();
        assert_eq!(padded.hmac_key, vec![0xfb, 0xff]);
        assert_eq!(standard.hmac_key, padded.hmac_key);
        assert!(matches!(
            ExternalAccountKey::new("k", "not base64!"),
            Err(Error::Input(_))
        ));
        assert!(matches!(
            ExternalAccountKey::new("", mac_b64),
            Err(Error::Input(_))
        ));
    }

    #[test]
    fn key_change_is_nested() {
        let old = PrivateKey::generate(KeyType::EcP256).unwrap();
        let new = PrivateKey::generate(KeyType::EcP384).unwrap();
        let inner =
            key_change_inner(&new, &old, "https://ca/acct/1", "https://ca/key-change").unwrap();
        let header = decode_json(&inner["protected"]);
        assert_eq!(header["jwk"], new.jwk().to_json());
        assert!(header.get("nonce").is_none());
        assert_eq!(header["url"], "https://ca/key-change");
        let payload = decode_json(&inner["payload"]);
        assert_eq!(payload["account"], "https://ca/acct/1");
        assert_eq!(payload["oldKey"], old.jwk().to_json());
        assert!(verify_jws(&new, &inner));
        assert!(!verify_jws(&old, &inner));
    }
}
