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
//! The result is the whole-file parse's or nothing: a piece that does not
//! parse, `defaults` in more than one piece, or a certificate in more than
//! one (a table continued or redefined further down) return `None`, and the
//! caller parses the whole file, which gives TOML's own answer and message.

use super::config::{CertEntry, Defaults};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml_parser::lexer::TokenKind;

/// Files up to this size are parsed whole; larger ones in pieces of about
/// this size.
pub const SECTIONS_AT: usize = 64 * 1024;

/// One piece: the same shape as the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Piece {
    defaults: Option<Defaults>,
    #[serde(default)]
    certificates: BTreeMap<String, CertEntry>,
}

/// `text` parsed piece by piece, when that gives what parsing it whole
/// would (see the module docs); `None` otherwise.
pub fn parse(
    text: &str,
    piece_size: usize,
) -> Option<(Option<Defaults>, BTreeMap<String, CertEntry>)> {
    let mut defaults = None;
    let mut certificates = BTreeMap::new();
    let mut start = 0;
    let cuts = cuts(text);
    for end in cuts.iter().copied().chain(std::iter::once(text.len())) {
        if end < text.len() && end - start < piece_size {
            continue;
        }
        let piece: Piece = toml::from_str(&text[start..end]).ok()?;
        if let Some(d) = piece.defaults {
            if defaults.is_some() {
                return None;
            }
            defaults = Some(d);
        }
        for (name, entry) in piece.certificates {
            if certificates.insert(name, entry).is_some() {
                return None;
            }
        }
        start = end;
    }
    Some((defaults, certificates))
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

    fn whole(text: &str) -> Option<(Option<Defaults>, BTreeMap<String, CertEntry>)> {
        let p: Piece = toml::from_str(text).ok()?;
        Some((p.defaults, p.certificates))
    }

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
    fn pieces_give_what_the_whole_file_gives() {
        let mut text = String::from(
            "[defaults]\nemail = [\"a@example.test\"]\n\n[defaults.ca_rate_limits]\nother = \"5/s\"\n\n",
        );
        for i in 0..200 {
            text.push_str(&format!(
                "[certificates.c{i}]\ndomains = [\"c{i}.test\", \"*.c{i}.test\"]\ndns = \"pdns\"\n\n\
                 [certificates.c{i}.dns_config]\napi_url = \"http://127.0.0.1:{i}\"\n\n"
            ));
        }
        text.push_str("[defaults]\n");
        assert!(parse(&text, 1).is_none(), "[defaults] twice: TOML's error");
        text.truncate(text.len() - "[defaults]\n".len());
        let expected = whole(&text).unwrap();
        for size in [1, 100, 1000, 10_000, 1 << 20] {
            let got = parse(&text, size).unwrap();
            assert_eq!(got.1, expected.1, "piece size {size}");
            assert_eq!(got.0, expected.0, "piece size {size}");
        }
    }

    #[test]
    fn anything_pieces_cannot_answer_exactly_falls_back() {
        let redefined = "[certificates.a]\ndomains = [\"a\"]\ndns = \"p\"\n\
                         [certificates.b]\ndomains = [\"b\"]\ndns = \"p\"\n\
                         [certificates.a]\ndns_zone = \"z\"\n";
        assert!(
            whole(redefined).is_none(),
            "TOML rejects a table defined twice"
        );
        assert!(parse(redefined, 1).is_none());
        // A sub-table after another certificate: valid TOML, but its piece
        // alone is not.
        let continued = "[certificates.a]\ndomains = [\"a\"]\ndns = \"p\"\n\
                         [certificates.b]\ndomains = [\"b\"]\ndns = \"p\"\n\
                         [certificates.a.dns_config]\nk = \"v\"\n";
        assert!(whole(continued).is_some());
        assert!(parse(continued, 1).is_none());
        // `defaults` split around certificates.
        let split = "[defaults]\nemail = []\n[certificates.a]\ndomains = [\"a\"]\ndns = \"p\"\n\
                     [defaults.ca_rate_limits]\nother = \"1/s\"\n";
        assert!(whole(split).is_some());
        assert!(parse(split, 1).is_none());
        // A syntax error anywhere.
        assert!(parse("[certificates.a]\ndomains = [\n[certificates.b]\n", 1).is_none());
    }
}
