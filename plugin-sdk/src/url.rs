//! URL helpers for building API requests.

/// Percent-encodes `s` for a URL query or path segment: everything except the
/// RFC 3986 unreserved characters `A-Z a-z 0-9 - _ . ~` becomes `%XY`
/// (upper-case hex, UTF-8 bytes; space is `%20`).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `base` with a trailing `/` removed, so `format!("{base}/path")` is right
/// whether the operator wrote the URL with or without one.
pub fn trim_base(base: &str) -> &str {
    base.trim_end_matches('/')
}

/// The `host[:port]` a signed request's `Host` header carries for
/// `endpoint`, an `https://` or `http://` origin without a path: lower case,
/// without the default `:443` of https. `None` when `endpoint` is not such
/// an origin.
pub fn authority(endpoint: &str) -> Option<String> {
    let authority = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .filter(|a| !a.is_empty() && !a.contains(['/', '?', '#', '@']))?
        .to_ascii_lowercase();
    Some(
        authority
            .strip_suffix(":443")
            .filter(|_| endpoint.starts_with("https://"))
            .map(str::to_string)
            .unwrap_or(authority),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_reserved_and_non_ascii() {
        assert_eq!(super::encode("a b*c~d:é"), "a%20b%2Ac~d%3A%C3%A9");
        assert_eq!(super::trim_base("https://x/api/"), "https://x/api");
    }

    #[test]
    fn authority_of_an_origin() {
        use super::authority;
        assert_eq!(
            authority("https://DNS.Example.com:443").unwrap(),
            "dns.example.com"
        );
        assert_eq!(authority("http://127.0.0.1:443").unwrap(), "127.0.0.1:443");
        assert_eq!(authority("https://x:8443").unwrap(), "x:8443");
        for bad in [
            "dns.example.com",
            "https://",
            "https://x/path",
            "https://u@x",
            "ftp://x",
        ] {
            assert_eq!(authority(bad), None, "{bad}");
        }
    }
}
