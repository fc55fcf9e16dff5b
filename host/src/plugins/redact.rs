//! Secret redaction for everything a plugin can make the host print: log
//! lines, error messages, request logs.
//!
//! Every value of a config field marked secret is replaced by `[REDACTED]`,
//! also in its URL-encoded form. Values shorter than four characters are not
//! searched for (they would mangle ordinary text, and are no real secret).

/// Replaces known secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut needles: Vec<String> = Vec::new();
        for secret in secrets {
            if secret.chars().count() < 4 {
                continue;
            }
            let encoded =
                url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>();
            let encoded20 = encoded.replace('+', "%20");
            for n in [secret, encoded, encoded20] {
                if !needles.contains(&n) {
                    needles.push(n);
                }
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Redactor { needles }
    }

    /// `text` with every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        out
    }
}

/// At most `max` bytes of `text` (cut on a character boundary), with a note
/// of how much was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} more bytes]", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_plain_and_url_encoded_forms() {
        let r = Redactor::new(["s3cr3t/key+x=".to_string(), "abc".to_string()]);
        assert_eq!(
            r.redact("token s3cr3t/key+x= here"),
            "token [REDACTED] here"
        );
        assert_eq!(
            r.redact("GET /?k=s3cr3t%2Fkey%2Bx%3D"),
            "GET /?k=[REDACTED]"
        );
        // Too short to be searched for.
        assert_eq!(r.redact("abcabc"), "abcabc");
    }

    #[test]
    fn longest_secret_wins() {
        let r = Redactor::new(["secret".to_string(), "secret-and-more".to_string()]);
        assert_eq!(
            r.redact("x secret-and-more y secret"),
            "x [REDACTED] y [REDACTED]"
        );
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééé", 3), "é… [4 more bytes]");
    }
}
