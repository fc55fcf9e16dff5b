//! Huawei Cloud AK/SK request signing (`SDK-HMAC-SHA256`, the API Gateway
//! scheme every Huawei Cloud API accepts):
//! <https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm.html>.
//!
//! 1. canonical request: `METHOD \n CanonicalURI \n CanonicalQuery \n
//!    CanonicalHeaders \n SignedHeaders \n hex(SHA-256(body))`, as in AWS
//!    SigV4 except that the URI always ends with `/` (the request itself is
//!    sent without it);
//! 2. string to sign: `SDK-HMAC-SHA256 \n X-Sdk-Date \n
//!    hex(SHA-256(canonical request))` (no credential scope);
//! 3. signature: `hex(HMAC-SHA256(secret key, string to sign))` (no derived
//!    key), sent as `Authorization: SDK-HMAC-SHA256 Access=<AK>,
//!    SignedHeaders=<names>, Signature=<hex>`.
//!
//! Encoding, sorting and header canonicalisation are SigV4's, taken from
//! `wacme_plugin_auth::sigv4`. Nothing here reads a clock.

use wacme_plugin_auth::sigv4;

pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// The request time header (`yyyymmddThhmmssZ`).
pub const DATE_HEADER: &str = "x-sdk-date";

/// The parts of a request that are signed.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path before percent-encoding, without the trailing `/` the
    /// canonical URI adds.
    pub path: &'a str,
    /// Query parameters, not yet encoded, in any order.
    pub query: &'a [(String, String)],
    /// Headers to sign (`host` and `x-sdk-date` included), any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// The signature and the intermediate strings.
#[derive(Debug, Clone)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

/// The canonical URI: the encoded path, ending with `/`.
pub fn canonical_uri(path: &str) -> String {
    let encoded = sigv4::uri_encode(path, true);
    if encoded.ends_with('/') {
        encoded
    } else {
        format!("{encoded}/")
    }
}

/// (canonical request, signed header names).
pub fn canonical_request(request: &Request<'_>) -> (String, String) {
    let (lines, signed) = sigv4::canonical_headers(request.headers);
    let canonical = format!(
        "{}\n{}\n{}\n{lines}\n{signed}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_uri(request.path),
        sigv4::canonical_query(request.query),
        sigv4::sha256_hex(request.body)
    );
    (canonical, signed)
}

pub fn string_to_sign(datetime: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{datetime}\n{}",
        sigv4::sha256_hex(canonical_request.as_bytes())
    )
}

/// Lower-case hex HMAC-SHA256 of the string to sign, keyed with the secret.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mac = sigv4::hmac_sha256(secret.as_bytes(), string_to_sign.as_bytes());
    mac.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn authorization(access_key_id: &str, signed_headers: &str, signature: &str) -> String {
    format!(
        "{ALGORITHM} Access={access_key_id}, SignedHeaders={signed_headers}, Signature={signature}"
    )
}

/// Signs `request` whose `x-sdk-date` header holds `datetime`.
pub fn sign(access_key_id: &str, secret: &str, request: &Request<'_>, datetime: &str) -> Signed {
    let (canonical_request, signed_headers) = canonical_request(request);
    let string_to_sign = string_to_sign(datetime, &canonical_request);
    let signature = signature(secret, &string_to_sign);
    Signed {
        authorization: authorization(access_key_id, &signed_headers, &signature),
        canonical_request,
        string_to_sign,
        signature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The API Signing Guide's worked example (VPC list,
    /// <https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm-003.html>
    /// and `-004.html`): its string to sign and, with the SK
    /// `MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc`, its signature.
    #[test]
    fn signing_guide_example() {
        let string_to_sign = "SDK-HMAC-SHA256\n20191115T033655Z\n\
                              b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a";
        assert_eq!(
            signature("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", string_to_sign),
            "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
        );
    }

    /// Huawei's API Gateway Python signing SDK (`apig_sdk/signer.py`,
    /// published with the API Signing Guide), test file `signer_test.py`:
    /// `test_CanonicalRequest`, `test_SignStringToSign`, `test_AuthHeaderValue`.
    #[test]
    fn signing_sdk_test_vectors() {
        // POST https://…/app1?a=1, header x-stage: RELEASE, body "body".
        let query = pairs(&[("a", "1")]);
        let headers = pairs(&[("x-stage", "RELEASE")]);
        let (canonical, signed) = canonical_request(&Request {
            method: "POST",
            path: "/app1",
            query: &query,
            headers: &headers,
            body: b"body",
        });
        assert_eq!(
            canonical,
            "POST\n/app1/\na=1\nx-stage:RELEASE\n\nx-stage\n\
             230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5"
        );
        assert_eq!(signed, "x-stage");
        assert_eq!(
            signature("abc", "abc"),
            "2f02e24ae2e1fe880399f27600afa88364e6062bf9bbe114b32fa8f23d03608a"
        );
        assert_eq!(
            authorization(
                "ABCDE12345",
                "host;x-sdk-date;x-stage",
                "abcdefghijklmnopqrst1234567890"
            ),
            "SDK-HMAC-SHA256 Access=ABCDE12345, SignedHeaders=host;x-sdk-date;x-stage, \
             Signature=abcdefghijklmnopqrst1234567890"
        );
    }

    #[test]
    fn a_dns_request_end_to_end() {
        let query = pairs(&[("type", "TXT"), ("name", "_acme-challenge.example.com.")]);
        let headers = pairs(&[
            ("Host", "dns.cn-south-1.myhuaweicloud.com"),
            ("X-Sdk-Date", "20260101T000000Z"),
        ]);
        let signed = sign(
            "AK",
            "SK",
            &Request {
                method: "get",
                path: "/v2/zones/ff80/recordsets",
                query: &query,
                headers: &headers,
                body: b"",
            },
            "20260101T000000Z",
        );
        assert_eq!(
            signed.canonical_request,
            format!(
                "GET\n/v2/zones/ff80/recordsets/\nname=_acme-challenge.example.com.&type=TXT\n\
                 host:dns.cn-south-1.myhuaweicloud.com\nx-sdk-date:20260101T000000Z\n\n\
                 host;x-sdk-date\n{}",
                sigv4::EMPTY_SHA256
            )
        );
        assert!(
            signed
                .string_to_sign
                .starts_with("SDK-HMAC-SHA256\n20260101T000000Z\n")
        );
        assert_eq!(
            signed.authorization,
            format!(
                "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature={}",
                signed.signature
            )
        );
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri("/a b"), "/a%20b/");
    }
}
