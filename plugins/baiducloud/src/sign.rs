//! Baidu AI Cloud request signatures (`bce-auth-v1`): the canonical
//! request, the signing key and the `Authorization` header. Pure functions
//! over HMAC-SHA256 from `wacme-plugin-auth`; the caller passes the time.
//! The unit tests hold them to the worked example of Baidu's "生成认证字符串"
//! (Generate authentication string) page.
//!
//! 1. `authStringPrefix = bce-auth-v1/<accessKeyId>/<timestamp>/<expiration>`,
//!    the timestamp `yyyy-mm-ddThh:mm:ssZ` (UTC);
//! 2. canonical request: `METHOD \n <URI, each byte but / encoded> \n
//!    <query> \n <headers>`, the query `encoded-name=encoded-value` pairs
//!    sorted as whole strings and joined by `&`, each header
//!    `encoded-lowercase-name:encoded-trimmed-value`, sorted, joined by `\n`;
//! 3. `signingKey = hex(HMAC(secret, authStringPrefix))`, `signature =
//!    hex(HMAC(signingKey, canonical request))`;
//! 4. `Authorization: <authStringPrefix>/<signed names ;-joined>/<signature>`.

use wacme_plugin_auth::sigv4::{datetime, hmac_sha256, uri_encode};

pub const VERSION: &str = "bce-auth-v1";
/// Seconds a signature stays valid.
pub const EXPIRATION_SECS: u64 = 1800;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `yyyy-mm-ddThh:mm:ssZ` (UTC) of a Unix time, the `x-bce-date` and the
/// timestamp of the prefix.
pub fn timestamp(unix_secs: u64) -> String {
    let d = datetime(unix_secs);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[9..11],
        &d[11..13],
        &d[13..15]
    )
}

pub fn auth_string_prefix(access_key_id: &str, timestamp: &str, expiration: u64) -> String {
    format!("{VERSION}/{access_key_id}/{timestamp}/{expiration}")
}

/// The canonical query string: `authorization` left out, each pair
/// `encoded-name=encoded-value` (`name=` when empty), the strings sorted.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<String> = query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("authorization"))
        .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs.join("&")
}

/// (canonical header lines, `;`-joined signed names) of `headers`, given as
/// (name, value) pairs in any case and order.
pub fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut lines: Vec<String> = headers
        .iter()
        .map(|(k, v)| {
            format!(
                "{}:{}",
                uri_encode(&k.trim().to_ascii_lowercase(), false),
                uri_encode(v.trim(), false)
            )
        })
        .collect();
    lines.sort();
    let mut names: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.trim().to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    (lines.join("\n"), names.join(";"))
}

pub fn canonical_request(
    method: &str,
    path: &str,
    query: &[(String, String)],
    canonical_headers: &str,
) -> String {
    let uri = if path.is_empty() {
        "/".to_string()
    } else {
        uri_encode(path, true)
    };
    format!(
        "{method}\n{uri}\n{}\n{canonical_headers}",
        canonical_query(query)
    )
}

/// `hex(HMAC(secret, prefix))`.
pub fn signing_key(secret_access_key: &str, prefix: &str) -> String {
    hex(&hmac_sha256(
        secret_access_key.as_bytes(),
        prefix.as_bytes(),
    ))
}

/// `hex(HMAC(signing key as its hex text, canonical request))`.
pub fn signature(signing_key: &str, canonical_request: &str) -> String {
    hex(&hmac_sha256(
        signing_key.as_bytes(),
        canonical_request.as_bytes(),
    ))
}

/// The `Authorization` value; `signed_headers` is empty when the default set
/// was signed.
pub fn authorization(prefix: &str, signed_headers: &str, signature: &str) -> String {
    format!("{prefix}/{signed_headers}/{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The worked example of Baidu AI Cloud's "生成认证字符串" (Generate
    /// authentication string, <https://cloud.baidu.com/doc/Reference/s/njwvz1yfu>):
    /// a BOS `PUT` of an upload part at 2015-04-27T08:23:49Z, valid 1800 s,
    /// AK `a`×32 and SK `b`×32, with the default signed headers (so the
    /// header list of the authorization string is empty).
    #[test]
    fn published_example() {
        let ts = timestamp(1_430_123_029);
        assert_eq!(ts, "2015-04-27T08:23:49Z");
        let prefix = auth_string_prefix(&"a".repeat(32), &ts, EXPIRATION_SECS);
        assert_eq!(
            prefix,
            "bce-auth-v1/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/2015-04-27T08:23:49Z/1800"
        );
        let key = signing_key(&"b".repeat(32), &prefix);
        assert_eq!(
            key,
            "1d5ce5f464064cbee060330d973218821825ac6952368a482a592e6615aef479"
        );
        let (headers, names) = canonical_headers(&pairs(&[
            ("Host", "bj.bcebos.com"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "8"),
            ("Content-Md5", "NFzcPqhviddjRNnSOGo4rw=="),
            ("x-bce-date", "2015-04-27T08:23:49Z"),
        ]));
        assert_eq!(
            headers,
            "content-length:8\ncontent-md5:NFzcPqhviddjRNnSOGo4rw%3D%3D\n\
             content-type:text%2Fplain\nhost:bj.bcebos.com\n\
             x-bce-date:2015-04-27T08%3A23%3A49Z"
        );
        assert_eq!(
            names,
            "content-length;content-md5;content-type;host;x-bce-date"
        );
        let canonical = canonical_request(
            "PUT",
            "/v1/test/myfolder/readme.txt",
            &pairs(&[
                ("partNumber", "9"),
                ("uploadId", "a44cc9bab11cbd156984767aad637851"),
            ]),
            &headers,
        );
        assert_eq!(
            canonical,
            "PUT\n/v1/test/myfolder/readme.txt\n\
             partNumber=9&uploadId=a44cc9bab11cbd156984767aad637851\n\
             content-length:8\ncontent-md5:NFzcPqhviddjRNnSOGo4rw%3D%3D\n\
             content-type:text%2Fplain\nhost:bj.bcebos.com\n\
             x-bce-date:2015-04-27T08%3A23%3A49Z"
        );
        let sig = signature(&key, &canonical);
        assert_eq!(
            sig,
            "d74a04362e6a848f5b39b15421cb449427f419c95a480fd6b8cf9fc783e2999e"
        );
        assert_eq!(
            authorization(&prefix, "", &sig),
            "bce-auth-v1/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/2015-04-27T08:23:49Z/1800//\
             d74a04362e6a848f5b39b15421cb449427f419c95a480fd6b8cf9fc783e2999e"
        );
    }

    /// The same page's CanonicalQueryString and CanonicalURI examples: pairs
    /// sort as whole `name=value` strings, an empty value keeps its `=`.
    #[test]
    fn published_query_and_uri_examples() {
        assert_eq!(
            canonical_query(&pairs(&[
                ("text", ""),
                ("text1", "测试"),
                ("text10", "test"),
            ])),
            "text10=test&text1=%E6%B5%8B%E8%AF%95&text="
        );
        assert_eq!(
            canonical_request("GET", "/example/测试", &[], "host:h"),
            "GET\n/example/%E6%B5%8B%E8%AF%95\n\nhost:h"
        );
        assert_eq!(
            canonical_query(&pairs(&[("authorization", "x"), ("a", "b c")])),
            "a=b%20c"
        );
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(951_825_600), "2000-02-29T12:00:00Z");
    }
}
