//! TXT record content as DNS APIs write it.

/// `value` in DNS presentation form: `"value"`, with `"` and `\` escaped.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The value inside TXT content, whether the API returned it quoted
/// (`"abc"`, possibly split into several quoted strings) or bare (`abc`).
pub fn unquote(content: &str) -> String {
    let content = content.trim();
    if !content.starts_with('"') {
        return content.to_string();
    }
    let mut out = String::with_capacity(content.len());
    let mut in_string = false;
    let mut chars = content.chars();
    while let Some(c) = chars.next() {
        match (c, in_string) {
            ('"', _) => in_string = !in_string,
            ('\\', true) => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            (c, true) => out.push(c),
            (_, false) => {} // whitespace between strings
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_round_trips() {
        for v in ["abc", "a\"b", "back\\slash", ""] {
            assert_eq!(unquote(&quote(v)), v);
        }
        assert_eq!(quote("abc"), "\"abc\"");
    }

    #[test]
    fn unquote_accepts_bare_and_split_content() {
        assert_eq!(unquote("abc"), "abc");
        assert_eq!(unquote("\"ab\" \"cd\""), "abcd");
        assert_eq!(unquote("  \"x\"  "), "x");
    }
}
