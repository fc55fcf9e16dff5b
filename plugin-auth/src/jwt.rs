//! RS256 JSON Web Tokens: JWS compact serialisation (RFC 7515 §7.1) signed
//! with RSASSA-PKCS1-v1_5 over SHA-256 (RFC 7518 §3.3).
//!
//! PKCS#1 v1.5 signatures are deterministic, so signing needs no random
//! bytes and is tested against the published example of RFC 7515 A.2.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::Sha256;

/// Base64url without padding (RFC 7515 §2).
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA private key that signs RS256.
#[derive(Clone)]
pub struct RsaKey {
    signer: rsa::pkcs1v15::SigningKey<Sha256>,
}

impl core::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RsaKey(..)")
    }
}

impl RsaKey {
    /// Parses a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, what Google's
    /// service-account keys hold) or PKCS#1 (`BEGIN RSA PRIVATE KEY`). The
    /// error names the problem, never the key's content.
    pub fn from_pem(pem: &str) -> Result<RsaKey, String> {
        let pem = pem.trim();
        let key = if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                .map_err(|e| format!("the PKCS#8 private key does not parse ({e})"))?
        } else if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            rsa::RsaPrivateKey::from_pkcs1_pem(pem)
                .map_err(|e| format!("the PKCS#1 private key does not parse ({e})"))?
        } else {
            return Err(
                "the private key is not a PEM RSA key (`-----BEGIN PRIVATE KEY-----` \
                        or `-----BEGIN RSA PRIVATE KEY-----`)"
                    .into(),
            );
        };
        Ok(RsaKey::from_key(key))
    }

    /// Wraps a key built from its components.
    pub fn from_key(key: rsa::RsaPrivateKey) -> RsaKey {
        RsaKey {
            signer: rsa::pkcs1v15::SigningKey::<Sha256>::new(key),
        }
    }

    /// RSASSA-PKCS1-v1_5 SHA-256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signer.sign(message).to_vec()
    }
}

/// `BASE64URL(header) '.' BASE64URL(claims)`: the JWS signing input, from
/// the exact JSON texts given.
pub fn signing_input(header_json: &str, claims_json: &str) -> String {
    format!(
        "{}.{}",
        b64url(header_json.as_bytes()),
        b64url(claims_json.as_bytes())
    )
}

/// The compact JWS of `claims_json` under `header_json` (which must say
/// `"alg":"RS256"`), signed with `key`.
pub fn encode_rs256(key: &RsaKey, header_json: &str, claims_json: &str) -> String {
    let input = signing_input(header_json, claims_json);
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64url(&signature))
}

/// A JWT with header `{"alg":"RS256","typ":"JWT"[,"kid":…]}` and `claims`.
pub fn sign(key: &RsaKey, kid: Option<&str>, claims: &serde_json::Value) -> String {
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = kid.into();
    }
    encode_rs256(key, &header.to_string(), &claims.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use rsa::BigUint;

    // RFC 7515, Appendix A.2 "Example JWS Using RSASSA-PKCS1-v1_5 SHA-256"
    // (https://www.rfc-editor.org/rfc/rfc7515#appendix-A.2): the RSA key of
    // A.2.1 as a JWK, the JWS Protected Header and Payload, and the
    // resulting JWS Signature.
    const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    const E: &str = "AQAB";
    const D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
    const P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
    const Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
    /// `{"alg":"RS256"}`
    const HEADER: &str = "{\"alg\":\"RS256\"}";
    /// The payload of A.2.1, with its CRLFs.
    const PAYLOAD: &str =
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    const SIGNING_INPUT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    const SIGNATURE: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

    fn int(b64: &str) -> BigUint {
        BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(b64).unwrap())
    }

    fn rfc_key() -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::from_components(int(N), int(E), int(D), vec![int(P), int(Q)]).unwrap()
    }

    #[test]
    fn rfc7515_a2_rs256_signature() {
        let key = RsaKey::from_key(rfc_key());
        assert_eq!(signing_input(HEADER, PAYLOAD), SIGNING_INPUT);
        assert_eq!(b64url(&key.sign(SIGNING_INPUT.as_bytes())), SIGNATURE);
        assert_eq!(
            encode_rs256(&key, HEADER, PAYLOAD),
            format!("{SIGNING_INPUT}.{SIGNATURE}")
        );
    }

    #[test]
    fn rfc7515_a2_key_from_pkcs8_and_pkcs1_pem() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let pkcs8 = rfc_key().to_pkcs8_pem(LineEnding::LF).unwrap();
        let pkcs1 = rfc_key().to_pkcs1_pem(LineEnding::LF).unwrap();
        for pem in [pkcs8.as_str(), pkcs1.as_str()] {
            let key = RsaKey::from_pem(pem).unwrap();
            assert_eq!(b64url(&key.sign(SIGNING_INPUT.as_bytes())), SIGNATURE);
        }
    }

    #[test]
    fn bad_pem_is_named_without_content() {
        let err =
            RsaKey::from_pem("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----")
                .unwrap_err();
        assert!(err.contains("PKCS#8"), "{err}");
        assert!(!err.contains("c2VjcmV0"), "{err}");
        let err = RsaKey::from_pem("secret").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn jwt_header_carries_kid() {
        let key = RsaKey::from_key(rfc_key());
        let token = sign(&key, Some("k1"), &serde_json::json!({"iss": "a"}));
        let header = token.split('.').next().unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})
        );
        assert_eq!(token.split('.').count(), 3);
    }
}
