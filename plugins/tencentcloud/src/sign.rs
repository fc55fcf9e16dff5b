//! TencentCloud API 3.0 request signatures (`TC3-HMAC-SHA256`, "Signature
//! v3"): the canonical request, the string to sign, the derived key and the
//! `Authorization` header. Pure functions over HMAC-SHA256 / SHA-256 from
//! `wacme-plugin-auth`; the caller passes the time. The unit tests hold them
//! to Tencent's published worked example.
//!
//! 1. canonical request: `POST \n / \n <query> \n <headers> \n <signed names>
//!    \n hex(SHA-256(body))`, each header `lowercase-name:lowercase trimmed
//!    value\n`, sorted by name;
//! 2. string to sign: `TC3-HMAC-SHA256 \n <timestamp> \n
//!    <yyyy-mm-dd>/<service>/tc3_request \n hex(SHA-256(canonical request))`;
//! 3. key: `HMAC(HMAC(HMAC("TC3" + secret, date), service), "tc3_request")`;
//! 4. `Authorization: TC3-HMAC-SHA256 Credential=<id>/<scope>,
//!    SignedHeaders=<names>, Signature=<hex HMAC(key, string to sign)>`.

use std::collections::BTreeMap;
use wacme_plugin_auth::sigv4::{datetime, hmac_sha256};

pub use wacme_plugin_auth::sigv4::sha256_hex;

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
pub const TERMINATOR: &str = "tc3_request";

/// The canonical request and the `;`-joined signed header names. `headers`
/// maps lower-case names to values; values are trimmed and lower-cased as
/// the service does.
pub fn canonical_request(
    method: &str,
    query: &str,
    headers: &BTreeMap<String, String>,
    hashed_payload: &str,
) -> (String, String) {
    let mut canonical = format!("{method}\n/\n{query}\n");
    for (name, value) in headers {
        canonical.push_str(&format!("{name}:{}\n", value.trim().to_ascii_lowercase()));
    }
    let signed = headers.keys().cloned().collect::<Vec<_>>().join(";");
    canonical.push('\n');
    canonical.push_str(&signed);
    canonical.push('\n');
    canonical.push_str(hashed_payload);
    (canonical, signed)
}

/// `yyyy-mm-dd` (UTC) of a Unix time, the date of the credential scope.
pub fn date(unix_secs: u64) -> String {
    let d = datetime(unix_secs);
    format!("{}-{}-{}", &d[0..4], &d[4..6], &d[6..8])
}

/// `<date>/<service>/tc3_request`.
pub fn credential_scope(unix_secs: u64, service: &str) -> String {
    format!("{}/{service}/{TERMINATOR}", date(unix_secs))
}

pub fn string_to_sign(unix_secs: u64, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{unix_secs}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// Lower-case hex signature of `string_to_sign` with the key derived for
/// the day of `unix_secs` and `service`.
pub fn signature(secret_key: &str, unix_secs: u64, service: &str, string_to_sign: &str) -> String {
    let k_date = hmac_sha256(
        format!("TC3{secret_key}").as_bytes(),
        date(unix_secs).as_bytes(),
    );
    let k_service = hmac_sha256(&k_date, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, TERMINATOR.as_bytes());
    hmac_sha256(&k_signing, string_to_sign.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn authorization(
    secret_id: &str,
    scope: &str,
    signed_headers: &str,
    signature: &str,
) -> String {
    format!(
        "{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, \
         Signature={signature}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Tencent Cloud's "Signature v3" page (API 3.0,
    /// <https://www.tencentcloud.com/document/api/267/37447>, also under
    /// each product's API docs, e.g. DNSPod's): CVM `DescribeInstances` at
    /// 1551113065 with key `Gu5t9xGARNpq86cd98joQYCN3EXAMPLE`.
    #[test]
    fn published_example() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let hashed = sha256_hex(payload.as_bytes());
        assert_eq!(
            hashed,
            "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        let headers: BTreeMap<String, String> = [
            ("content-type", "application/json; charset=utf-8"),
            ("host", "cvm.tencentcloudapi.com"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (canonical, signed) = canonical_request("POST", "", &headers, &hashed);
        assert_eq!(
            canonical,
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\n\
             host:cvm.tencentcloudapi.com\n\ncontent-type;host\n\
             35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(signed, "content-type;host");
        let scope = credential_scope(1_551_113_065, "cvm");
        assert_eq!(scope, "2019-02-25/cvm/tc3_request");
        let sts = string_to_sign(1_551_113_065, &scope, &canonical);
        assert_eq!(
            sts,
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        let sig = signature(
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            1_551_113_065,
            "cvm",
            &sts,
        );
        assert_eq!(
            sig,
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        assert_eq!(
            authorization("AKIDEXAMPLE", &scope, &signed, &sig),
            "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn dates_are_utc() {
        // 00:44:25 on the 26th in UTC+8 is still the 25th in UTC.
        assert_eq!(date(1_551_113_065), "2019-02-25");
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_825_600), "2000-02-29");
    }
}
