//! Parsing a large config file a group of `[certificates.<name>]` sections
//! at a time.
//!
//! The TOML parser holds the whole document at once: its tokens, its
//! events and a spanned tree, about 30 bytes of memory per byte of text, so
//! a file naming 10,000 certificates (1.5 MB) would cost 45 MB before the
//! first certificate is renewed. Above [`SECTIONS_AT`] bytes the file is
//! cut before top-level `[certificates.<name>]` headers (found with the
//! TOML lexer, so never inside a string, an array or an inline table) into
//! pieces of about that size, each parsed on its own.
//!
//! A piece that does not parse returns `None`; so does anything the caller
//! finds the pieces cannot answer exactly (`defaults` in more than one
//! piece, a certificate in more than one: a table continued or redefined
//! further down). The caller then parses the whole file, which gives
//! TOML's own answer and message.

use serde::de::DeserializeOwned;
use toml_parser::lexer::TokenKind;

/// Files up to this size are parsed whole; larger ones in pieces of about
/// this size.
pub const SECTIONS_AT: usize = 64 * 1024;

/// `text` cut into pieces of about `piece_size` bytes (see the module
/// docs), each parsed as a `T`; `None` when one does not parse.
pub fn parse<T: DeserializeOwned>(text: &str, piece_size: usize) -> Option<Vec<T>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for end in cuts(text).into_iter().chain(std::iter::once(text.len())) {
        if end < text.len() && end - start < piece_size {
            continue;
        }
        pieces.push(toml::from_str(&text[start..end]).ok()?);
        start = end;
    }
    Some(pieces)
}

/// Where each top-level `[certificates.<name>]` header starts (not the
/// first one when the file begins with it).
fn cuts(text: &str) -> Vec<usize> {
    let source = toml_parser::Source::new(text);
    let mut tokens = source.lex().peekable();
    let mut cuts = Vec::new();
    // Open `[` / `{` of values: a header only starts a line outside them.
    let mut depth = 0usize;
    let mut line_start = true;
    while let Some(token) = tokens.next() {
        match token.kind() {
            TokenKind::Newline => {
                line_start = true;
                continue;
            }
            TokenKind::Whitespace => continue,
            TokenKind::LeftSquareBracket if line_start && depth == 0 => {
                let at = token.span().start();
                // The header's tokens up to `]` (or the line's end).
                let mut inner = Vec::new();
                while let Some(t) = tokens.next_if(|t| t.kind() != TokenKind::Newline) {
                    if t.kind() == TokenKind::RightSquareBracket {
                        break;
                    }
                    if t.kind() != TokenKind::Whitespace {
                        inner.push((t.kind(), &text[t.span().start()..t.span().end()]));
                    }
                }
                let is_certificate = matches!(
                    inner.as_slice(),
                    [
                        (TokenKind::Atom, "certificates"),
                        (TokenKind::Dot, _),
                        (
                            TokenKind::Atom | TokenKind::BasicString | TokenKind::LiteralString,
                            _
                        ),
                    ]
                );
                if is_certificate && at > 0 {
                    cuts.push(at);
                }
            }
            TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => depth += 1,
            TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                depth = depth.saturating_sub(1)
            }
            _ => {}
        }
        line_start = false;
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# a comment [certificates.not]
[defaults]
email = ["a@example.test"]
resolvers = [
[certificates.no] ]
"#;

    #[test]
    fn cuts_only_before_top_level_certificate_headers() {
        let text = r#"[defaults]
email = ["a@example.test"]

[certificates.a]
domains = ["a.test",
"[certificates.x]",
]
dns = """
[certificates.y]
"""
dns_config = { k = "[certificates.z]" }

  [certificates."b.c"]   # indented, quoted
domains = ["b.test"]
dns = "pdns"
[certificates.b.c.d]
[[certificates.e]]
[defaults.ca_rate_limits]
"#;
        let at = cuts(text);
        let heads: Vec<&str> = at.iter().map(|c| &text[*c..*c + 17]).collect();
        assert_eq!(heads, ["[certificates.a]\n", "[certificates.\"b."]);
        assert!(cuts(FILE).is_empty());
    }

    #[test]
    fn pieces_are_about_the_size_asked_and_cover_the_file() {
        let mut text = String::from("[defaults]\nemail = []\n");
        for i in 0..100 {
            text.push_str(&format!("[certificates.c{i}]\ndomains = [\"c{i}\"]\n"));
        }
        let count = |size| parse::<toml::Table>(&text, size).unwrap().len();
        assert_eq!(count(1), 101, "every section alone");
        assert_eq!(count(1 << 20), 1, "all in one");
        let mid = count(200);
        assert!(mid > 1 && mid < 101, "{mid}");
        let names: usize = parse::<toml::Table>(&text, 200)
            .unwrap()
            .iter()
            .map(|t| {
                t.get("certificates")
                    .and_then(|c| c.as_table())
                    .map_or(0, |c| c.len())
            })
            .sum();
        assert_eq!(names, 100);
        assert!(parse::<toml::Table>("[certificates.a]\nd = [\n[certificates.b]\n", 1).is_none());
    }
}
