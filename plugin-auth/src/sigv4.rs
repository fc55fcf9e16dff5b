//! AWS Signature Version 4, and the V4-style schemes derived from it.
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>:
//!
//! 1. canonical request: `METHOD \n CanonicalURI \n CanonicalQuery \n
//!    CanonicalHeaders \n SignedHeaders \n HexPayloadHash`, where the URI and
//!    the query are percent-encoded (RFC 3986 unreserved kept, `%XY` upper
//!    case), the query is sorted by encoded name then value, and each header
//!    is `lowercase-name:trimmed value` (inner runs of spaces collapsed,
//!    repeated headers joined with `,`), sorted by name, one per line;
//! 2. string to sign: `Algorithm \n DateTime \n Scope \n
//!    hex(SHA-256(canonical request))`, scope `yyyymmdd/region/service/terminator`;
//! 3. signing key: `HMAC(HMAC(HMAC(HMAC(prefix + secret, date), region),
//!    service), terminator)`;
//! 4. signature: `hex(HMAC(signing key, string to sign))`, sent as
//!    `Authorization: Algorithm Credential=<key id>/<scope>,
//!    SignedHeaders=<names>, Signature=<hex>`.
//!
//! [`AWS`] holds AWS's names (`AWS4-HMAC-SHA256`, key prefix `AWS4`,
//! terminator `aws4_request`, `x-amz-date`, `x-amz-security-token`); other
//! clouds that copied the scheme change only those, through a [`Scheme`].
//! Nothing here reads a clock: the caller passes the time.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What differs between AWS SigV4 and a V4-style scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheme {
    /// First line of the string to sign and first word of `Authorization`.
    pub algorithm: &'static str,
    /// Prepended to the secret to key the first HMAC (`AWS4`; empty for
    /// schemes that key with the bare secret).
    pub key_prefix: &'static str,
    /// Last element of the credential scope.
    pub terminator: &'static str,
    /// Header carrying the request time (`yyyymmddThhmmssZ`), lower case.
    pub date_header: &'static str,
    /// Header carrying a temporary credential's session token, lower case.
    pub token_header: &'static str,
}

/// AWS Signature Version 4.
pub const AWS: Scheme = Scheme {
    algorithm: "AWS4-HMAC-SHA256",
    key_prefix: "AWS4",
    terminator: "aws4_request",
    date_header: "x-amz-date",
    token_header: "x-amz-security-token",
};

/// Hex SHA-256 of the empty payload.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An access key, with the session token of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The parts of a request that are signed.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as it would be before percent-encoding (e.g.
    /// `/2013-04-01/hostedzone/Z1`); each byte outside the unreserved set
    /// and `/` is encoded once.
    pub path: &'a str,
    /// Query parameters, not yet encoded, in any order.
    pub query: &'a [(String, String)],
    /// Headers to sign, `host` included, any case, in any order; a name may
    /// repeat.
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body (see [`sha256_hex`] and [`EMPTY_SHA256`]).
    pub payload_hash: &'a str,
}

/// The outcome of [`sign`]: the headers to send, and the intermediate
/// strings (for diagnostics and tests).
#[derive(Debug, Clone)]
pub struct Signed {
    /// Headers to add to the request: the date header, the session token
    /// header when there is one, and `authorization`.
    pub headers: Vec<(String, String)>,
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
}

/// Signs `request` at `datetime` (`yyyymmddThhmmssZ`, see [`datetime`]) for
/// `region` and `service`. The date header and, with a session token, the
/// token header are added to the signed headers first.
pub fn sign(
    scheme: &Scheme,
    credentials: &Credentials,
    region: &str,
    service: &str,
    request: &Request<'_>,
    datetime: &str,
) -> Signed {
    let mut headers = request.headers.to_vec();
    let mut added = vec![(scheme.date_header.to_string(), datetime.to_string())];
    if let Some(token) = &credentials.session_token {
        added.push((scheme.token_header.to_string(), token.clone()));
    }
    headers.extend(added.iter().cloned());
    let (canonical_request, signed_headers) = canonical_request(&Request {
        headers: &headers,
        ..request.clone()
    });
    let date = &datetime[..datetime.len().min(8)];
    let scope = credential_scope(scheme, date, region, service);
    let string_to_sign = string_to_sign(scheme, datetime, &scope, &canonical_request);
    let key = signing_key(
        scheme,
        &credentials.secret_access_key,
        date,
        region,
        service,
    );
    let signature = signature(&key, &string_to_sign);
    added.push((
        "authorization".to_string(),
        authorization(
            scheme,
            &credentials.access_key_id,
            &scope,
            &signed_headers,
            &signature,
        ),
    ));
    Signed {
        headers: added,
        canonical_request,
        string_to_sign,
        signature,
    }
}

/// Percent-encodes `s` the SigV4 way: `A-Z a-z 0-9 - _ . ~` kept (and `/`
/// when `keep_slash`), every other UTF-8 byte as `%XY` (upper-case hex).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The canonical query string: each name and value encoded, sorted by
/// encoded name then encoded value, joined with `&`.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A header value as signed: trimmed, inner runs of spaces and tabs one space.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// (canonical header lines, `;`-joined signed header names).
pub fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut merged: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in headers {
        merged
            .entry(name.trim().to_ascii_lowercase())
            .or_default()
            .push(canonical_value(value));
    }
    let lines: String = merged
        .iter()
        .map(|(name, values)| format!("{name}:{}\n", values.join(",")))
        .collect();
    let names = merged.keys().cloned().collect::<Vec<_>>().join(";");
    (lines, names)
}

/// (canonical request, signed header names).
pub fn canonical_request(request: &Request<'_>) -> (String, String) {
    let path = if request.path.is_empty() {
        "/".to_string()
    } else {
        uri_encode(request.path, true)
    };
    let (lines, signed) = canonical_headers(request.headers);
    let canonical = format!(
        "{}\n{path}\n{}\n{lines}\n{signed}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_query(request.query),
        request.payload_hash
    );
    (canonical, signed)
}

/// `date/region/service/terminator`.
pub fn credential_scope(scheme: &Scheme, date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/{}", scheme.terminator)
}

pub fn string_to_sign(
    scheme: &Scheme,
    datetime: &str,
    scope: &str,
    canonical_request: &str,
) -> String {
    format!(
        "{}\n{datetime}\n{scope}\n{}",
        scheme.algorithm,
        sha256_hex(canonical_request.as_bytes())
    )
}

pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The derived key for one day, region and service.
pub fn signing_key(
    scheme: &Scheme,
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
) -> [u8; 32] {
    let k_date = hmac_sha256(
        format!("{}{secret}", scheme.key_prefix).as_bytes(),
        date.as_bytes(),
    );
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, scheme.terminator.as_bytes())
}

/// Lower-case hex HMAC-SHA256 of the string to sign.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

pub fn authorization(
    scheme: &Scheme,
    access_key_id: &str,
    scope: &str,
    signed_headers: &str,
    signature: &str,
) -> String {
    format!(
        "{} Credential={access_key_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        scheme.algorithm
    )
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `yyyymmddThhmmssZ` of a Unix time (UTC).
pub fn datetime(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// [`datetime`] of the current wall-clock time.
pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    datetime(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test suite's credentials and time (context.json of every case).
    const KEY_ID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const WHEN: &str = "20150830T123600Z";

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    struct Vector {
        name: &'static str,
        method: &'static str,
        path: &'static str,
        query: &'static [(&'static str, &'static str)],
        headers: &'static [(&'static str, &'static str)],
        body: &'static str,
        token: Option<&'static str>,
        canonical: &'static str,
        signature: &'static str,
    }

    const HOST: (&str, &str) = ("Host", "example.amazonaws.com");
    const STS_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

    /// The AWS Signature Version 4 test suite
    /// (<https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html>),
    /// as kept in awslabs/aws-c-auth `tests/aws-signing-test-suite/v4/<name>/`
    /// (`request.txt`, `header-canonical-request.txt`,
    /// `header-signature.txt`): region us-east-1, service `service`,
    /// 2015-08-30T12:36:00Z.
    const SUITE: &[Vector] = &[
        Vector {
            name: "get-vanilla",
            method: "GET",
            path: "/",
            query: &[],
            headers: &[HOST],
            body: "",
            token: None,
            canonical: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        },
        Vector {
            name: "post-vanilla-query",
            method: "POST",
            path: "/",
            query: &[("Param1", "value1")],
            headers: &[HOST],
            body: "",
            token: None,
            canonical: "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
        },
        Vector {
            name: "get-vanilla-query-order-key-case",
            method: "GET",
            path: "/",
            query: &[("Param2", "value2"), ("Param1", "value1")],
            headers: &[HOST],
            body: "",
            token: None,
            canonical: "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        },
        Vector {
            name: "get-vanilla-query-order-encoded",
            method: "GET",
            path: "/",
            query: &[
                ("Param-3", "Value3"),
                ("Param", "Value2"),
                ("\u{1234}", "Value1"),
            ],
            headers: &[HOST],
            body: "",
            token: None,
            canonical: "GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
        },
        Vector {
            name: "get-vanilla-query-unreserved",
            method: "GET",
            path: "/",
            query: &[(
                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            )],
            headers: &[HOST],
            body: "",
            token: None,
            canonical: "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        },
        Vector {
            name: "get-vanilla-utf8-query",
            method: "GET",
            path: "/",
            query: &[("\u{1234}", "bar")],
            headers: &[HOST],
            body: "",
            token: None,
            canonical: "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        },
        Vector {
            name: "get-utf8",
            method: "GET",
            path: "/\u{1234}",
            query: &[],
            headers: &[HOST],
            body: "",
            token: None,
            canonical: "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        },
        Vector {
            name: "get-unreserved",
            method: "GET",
            path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            query: &[],
            headers: &[HOST],
            body: "",
            token: None,
            canonical: "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
        },
        Vector {
            name: "get-space-normalized",
            method: "GET",
            path: "/example space/",
            query: &[],
            headers: &[HOST],
            body: "",
            token: None,
            canonical: "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
        },
        Vector {
            name: "get-header-key-duplicate",
            method: "GET",
            path: "/",
            query: &[],
            headers: &[
                HOST,
                ("My-Header1", "value2"),
                ("My-Header1", "value2"),
                ("My-Header1", "value1"),
            ],
            body: "",
            token: None,
            canonical: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        },
        Vector {
            name: "get-header-value-trim",
            method: "GET",
            path: "/",
            query: &[],
            headers: &[
                HOST,
                ("My-Header1", " value1"),
                ("My-Header2", " \"a   b   c\""),
            ],
            body: "",
            token: None,
            canonical: "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        },
        Vector {
            name: "post-header-key-sort",
            method: "POST",
            path: "/",
            query: &[],
            headers: &[HOST, ("My-Header1", "value1")],
            body: "",
            token: None,
            canonical: "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nx-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
        },
        Vector {
            name: "get-vanilla-with-session-token",
            method: "GET",
            path: "/",
            query: &[],
            headers: &[HOST],
            body: "",
            token: Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"),
            canonical: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\nhost;x-amz-date;x-amz-security-token\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
        },
        Vector {
            name: "post-sts-header-before",
            method: "POST",
            path: "/",
            query: &[],
            headers: &[HOST],
            body: "",
            token: Some(STS_TOKEN),
            canonical: "",
            signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
        },
        Vector {
            name: "post-x-www-form-urlencoded",
            method: "POST",
            path: "/",
            query: &[],
            headers: &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                HOST,
                ("Content-Length", "13"),
                (
                    "x-amz-content-sha256",
                    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
                ),
            ],
            body: "Param1=value1",
            token: None,
            canonical: "POST\n/\n\ncontent-length:13\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\nx-amz-date:20150830T123600Z\n\ncontent-length;content-type;host;x-amz-content-sha256;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            signature: "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        },
    ];

    fn credentials(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: KEY_ID.into(),
            secret_access_key: SECRET.into(),
            session_token: token.map(str::to_string),
        }
    }

    #[test]
    fn the_published_test_suite() {
        for v in SUITE {
            let (query, headers) = (pairs(v.query), pairs(v.headers));
            let payload_hash = sha256_hex(v.body.as_bytes());
            let request = Request {
                method: v.method,
                path: v.path,
                query: &query,
                headers: &headers,
                payload_hash: &payload_hash,
            };
            let signed = sign(
                &AWS,
                &credentials(v.token),
                "us-east-1",
                "service",
                &request,
                WHEN,
            );
            if !v.canonical.is_empty() {
                assert_eq!(signed.canonical_request, v.canonical, "{}", v.name);
            }
            assert_eq!(signed.signature, v.signature, "{}", v.name);
            let authorization = &signed.headers.last().unwrap().1;
            assert!(
                authorization.starts_with(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders="
                ) && authorization.ends_with(&format!(", Signature={}", v.signature)),
                "{}: {authorization}",
                v.name
            );
        }
    }

    #[test]
    fn get_vanilla_intermediate_strings() {
        // get-vanilla/header-string-to-sign.txt and header-signed-request.txt.
        let headers = pairs(&[HOST]);
        let signed = sign(
            &AWS,
            &credentials(None),
            "us-east-1",
            "service",
            &Request {
                method: "GET",
                path: "/",
                query: &[],
                headers: &headers,
                payload_hash: EMPTY_SHA256,
            },
            WHEN,
        );
        assert_eq!(
            signed.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            signed.headers,
            pairs(&[
                ("x-amz-date", "20150830T123600Z"),
                (
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
                ),
            ])
        );
    }

    /// The worked example of the AWS General Reference ("Examples of the
    /// complete Signature Version 4 signing process", IAM ListUsers):
    /// <https://docs.aws.amazon.com/general/latest/gr/sigv4-signed-request-examples.html>.
    #[test]
    fn iam_list_users_example() {
        let query = pairs(&[("Action", "ListUsers"), ("Version", "2010-05-08")]);
        let headers = pairs(&[
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("Host", "iam.amazonaws.com"),
        ]);
        let signed = sign(
            &AWS,
            &credentials(None),
            "us-east-1",
            "iam",
            &Request {
                method: "GET",
                path: "/",
                query: &query,
                headers: &headers,
                payload_hash: EMPTY_SHA256,
            },
            WHEN,
        );
        assert_eq!(
            sha256_hex(signed.canonical_request.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        assert_eq!(
            signed.signature,
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn another_scheme_changes_only_its_names() {
        const OTHER: Scheme = Scheme {
            algorithm: "HMAC-SHA256",
            key_prefix: "",
            terminator: "request",
            date_header: "x-date",
            token_header: "x-security-token",
        };
        let headers = pairs(&[("host", "open.example.com")]);
        let request = Request {
            method: "GET",
            path: "/",
            query: &[],
            headers: &headers,
            payload_hash: EMPTY_SHA256,
        };
        let signed = sign(&OTHER, &credentials(Some("t")), "r", "s", &request, WHEN);
        assert!(
            signed
                .canonical_request
                .contains("\nx-date:20150830T123600Z\n")
        );
        assert!(signed.canonical_request.contains("\nx-security-token:t\n"));
        assert!(
            signed
                .string_to_sign
                .starts_with("HMAC-SHA256\n20150830T123600Z\n20150830/r/s/request\n")
        );
        let key = signing_key(&OTHER, SECRET, "20150830", "r", "s");
        let k_date = hmac_sha256(SECRET.as_bytes(), b"20150830");
        let k = hmac_sha256(&hmac_sha256(&hmac_sha256(&k_date, b"r"), b"s"), b"request");
        assert_eq!(key, k);
        assert!(
            signed.headers[2]
                .1
                .starts_with("HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/r/s/request, ")
        );
    }

    #[test]
    fn datetime_is_utc() {
        assert_eq!(datetime(1_440_938_160), WHEN);
        assert_eq!(datetime(0), "19700101T000000Z");
        assert_eq!(datetime(1_709_164_800), "20240229T000000Z");
        assert_eq!(now().len(), 16);
    }

    #[test]
    fn encoding() {
        assert_eq!(uri_encode("a b*c/é~", false), "a%20b%2Ac%2F%C3%A9~");
        assert_eq!(uri_encode("/x y/z", true), "/x%20y/z");
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
        let debug = format!("{:?}", credentials(Some("TOKEN-9f2c")));
        assert!(
            !debug.contains(SECRET) && !debug.contains("TOKEN-9f2c"),
            "{debug}"
        );
    }
}
