//! TSIG, secret key transaction authentication for DNS (RFC 8945), on wire
//! format messages.
//!
//! This module owns TSIG keys ([`Key`], [`Algorithm`], and the BIND key file
//! format [`parse_key_file`] reads), signing a request ([`sign`]) and
//! verifying the server's signed answer to it ([`verify_response`]). It works
//! on the bytes of a complete DNS message, so it is independent of whatever
//! builds the message.
//!
//! Signing (RFC 8945 §4.3): the MAC covers the message as it is sent without
//! the TSIG record, followed by the TSIG variables (key name and algorithm
//! name in canonical form, class ANY, TTL 0, time signed, fudge, error, other
//! data). The TSIG record is appended as the last additional record and the
//! additional count is raised by one. A response's MAC (§4.3.1) covers the
//! request's MAC (length-prefixed), the response with its TSIG removed, its
//! additional count lowered and its ID set to the TSIG's original ID, and the
//! response's TSIG variables.
//!
//! Supported MACs: HMAC-SHA256, -SHA384, -SHA512, and HMAC-MD5 for old
//! servers (RFC 8945 says it should no longer be used for signing; callers
//! can ask [`Algorithm::is_weak`]). Truncated MACs are not accepted. Nothing
//! here reads a clock or draws random numbers: the caller passes the time and
//! has set the message ID.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use hmac::{Hmac, Mac};

/// Seconds of clock difference the receiver tolerates (RFC 8945 §10
/// recommends 300).
pub const FUDGE: u16 = 300;

/// TSIG resource record type.
const TYPE_TSIG: u16 = 250;
/// Class ANY, which TSIG records carry.
const CLASS_ANY: u16 = 255;

/// A TSIG MAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `hmac-md5.sig-alg.reg.int`: accepted for old servers only.
    HmacMd5,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

/// The algorithm names [`Algorithm::parse`] accepts, for error messages.
pub const SUPPORTED: &str = "hmac-sha256, hmac-sha384, hmac-sha512 (and hmac-md5 for old servers)";

impl Algorithm {
    /// The algorithm's name as a domain name, as it goes on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacMd5 => "hmac-md5.sig-alg.reg.int",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// Reads an algorithm name as BIND, lego (`hmac-sha256.`), certbot
    /// (`HMAC-SHA512`) and nsupdate write it: any case, with or without the
    /// trailing dot; `hmac-md5` or its full name `hmac-md5.sig-alg.reg.int`.
    pub fn parse(text: &str) -> Result<Algorithm, String> {
        let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
        match name.as_str() {
            "hmac-sha256" => Ok(Algorithm::HmacSha256),
            "hmac-sha384" => Ok(Algorithm::HmacSha384),
            "hmac-sha512" => Ok(Algorithm::HmacSha512),
            "hmac-md5" | "hmac-md5.sig-alg.reg.int" => Ok(Algorithm::HmacMd5),
            _ => Err(format!(
                "TSIG algorithm {text:?} is not supported; use one of {SUPPORTED}"
            )),
        }
    }

    /// Whether the algorithm is obsolete (HMAC-MD5).
    pub fn is_weak(self) -> bool {
        self == Algorithm::HmacMd5
    }

    /// Length in bytes of an untruncated MAC.
    pub fn mac_len(self) -> usize {
        match self {
            Algorithm::HmacMd5 => 16,
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha384 => 48,
            Algorithm::HmacSha512 => 64,
        }
    }

    /// HMAC of `data` under `secret`.
    pub fn mac(self, secret: &[u8], data: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(secret: &[u8], data: &[u8]) -> Vec<u8> {
            let mut mac =
                <M as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Algorithm::HmacMd5 => run::<Hmac<md5::Md5>>(secret, data),
            Algorithm::HmacSha256 => run::<Hmac<sha2::Sha256>>(secret, data),
            Algorithm::HmacSha384 => run::<Hmac<sha2::Sha384>>(secret, data),
            Algorithm::HmacSha512 => run::<Hmac<sha2::Sha512>>(secret, data),
        }
    }

    /// Whether `tag` is the HMAC of `data` under `secret`, compared in
    /// constant time.
    pub fn verify(self, secret: &[u8], data: &[u8], tag: &[u8]) -> bool {
        fn run<M: Mac + hmac::digest::KeyInit>(secret: &[u8], data: &[u8], tag: &[u8]) -> bool {
            let mut mac =
                <M as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
            mac.update(data);
            mac.verify_slice(tag).is_ok()
        }
        match self {
            Algorithm::HmacMd5 => run::<Hmac<md5::Md5>>(secret, data, tag),
            Algorithm::HmacSha256 => run::<Hmac<sha2::Sha256>>(secret, data, tag),
            Algorithm::HmacSha384 => run::<Hmac<sha2::Sha384>>(secret, data, tag),
            Algorithm::HmacSha512 => run::<Hmac<sha2::Sha512>>(secret, data, tag),
        }
    }
}

/// A TSIG key shared with the server.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// The key's name, lower case, without trailing dot (`wacme-key`,
    /// `tsig.example.com`).
    pub name: String,
    pub algorithm: Algorithm,
    pub secret: Vec<u8>,
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Key {
    /// A key from its name and its base64 secret (as in a BIND key file or
    /// `tsig-keygen` output; padding optional, whitespace ignored).
    pub fn new(name: &str, algorithm: Algorithm, secret_base64: &str) -> Result<Key, String> {
        Ok(Key {
            name: key_name(name)?,
            algorithm,
            secret: decode_secret(secret_base64)?,
        })
    }
}

/// `name` checked as a key name and normalised (lower case, no trailing dot).
fn key_name(name: &str) -> Result<String, String> {
    let trimmed = name.trim();
    let name = trimmed.strip_suffix('.').unwrap_or(trimmed);
    let bad = |why: &str| Err(format!("TSIG key name {trimmed:?} is not valid: {why}"));
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 253 {
        return bad("longer than 253 characters");
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '\\' | '"' | ';'))
    {
        return bad("it holds a space, quote, backslash or `;`");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return bad("empty label");
        }
        if label.len() > 63 {
            return bad("a label is longer than 63 bytes");
        }
    }
    Ok(name.to_ascii_lowercase())
}

fn decode_secret(text: &str) -> Result<Vec<u8>, String> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err("the TSIG secret is empty".into());
    }
    let secret = LENIENT
        .decode(&compact)
        .or_else(|_| general_purpose::URL_SAFE.decode(&compact))
        .map_err(|_| "the TSIG secret is not valid base64".to_string())?;
    if secret.is_empty() {
        return Err("the TSIG secret is empty".into());
    }
    Ok(secret)
}

/// Reads the text of a BIND key file, as `tsig-keygen`, `ddns-confgen` and
/// `rndc-confgen` print it:
///
/// ```text
/// key "wacme-key" {
///     algorithm hmac-sha256;
///     secret "b64secret…";
/// };
/// ```
///
/// The name may be quoted or bare; `#`, `//` and `/* */` comments and any
/// whitespace are allowed. The text must hold exactly one `key` statement;
/// other statements (`zone`, `update-policy` examples in comments) are an
/// error only when they are not commented out.
pub fn parse_key_file(text: &str) -> Result<Key, String> {
    let tokens = tokenize(text)?;
    let mut keys = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Word(w) if w.eq_ignore_ascii_case("key") => {
                let (key, next) = key_statement(&tokens, i + 1)?;
                keys.push(key);
                i = next;
            }
            Token::Word(w) | Token::Quoted(w) => {
                return Err(format!(
                    "the key file holds {w:?} where a `key \"name\" {{ … }};` statement belongs"
                ));
            }
            other => {
                return Err(format!(
                    "the key file holds `{}` where a `key` statement belongs",
                    other.show()
                ));
            }
        }
    }
    match keys.len() {
        0 => Err(
            "the key file holds no `key \"name\" { algorithm …; secret \"…\"; };` \
                  statement"
                .into(),
        ),
        1 => Ok(keys.remove(0)),
        n => Err(format!("the key file holds {n} keys; give exactly one")),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semicolon,
}

impl Token {
    fn show(&self) -> String {
        match self {
            Token::Word(w) => w.clone(),
            Token::Quoted(w) => format!("\"{w}\""),
            Token::Open => "{".into(),
            Token::Close => "}".into(),
            Token::Semicolon => ";".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                let mut closed = false;
                for c in chars.by_ref() {
                    if previous == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    previous = c;
                }
                if !closed {
                    return Err("the key file has an unterminated /* comment".into());
                }
            }
            '{' => tokens.push(Token::Open),
            '}' => tokens.push(Token::Close),
            ';' => tokens.push(Token::Semicolon),
            '"' => {
                let mut s = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => {
                            if let Some(next) = chars.next() {
                                s.push(next);
                            }
                        }
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err("the key file has an unterminated quoted string".into());
                }
                tokens.push(Token::Quoted(s));
            }
            c => {
                let mut s = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '{' | '}' | ';' | '"' | '#') {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(s));
            }
        }
    }
    Ok(tokens)
}

/// `"name" { algorithm …; secret "…"; };` from `tokens[i..]`; returns the key
/// and the index after the statement.
fn key_statement(tokens: &[Token], mut i: usize) -> Result<(Key, usize), String> {
    let name = match tokens.get(i) {
        Some(Token::Word(n) | Token::Quoted(n)) => n.clone(),
        _ => return Err("the key file's `key` statement has no name".into()),
    };
    i += 1;
    if tokens.get(i) != Some(&Token::Open) {
        return Err(format!(
            "the key file's key {name:?} lacks its `{{ … }}` block"
        ));
    }
    i += 1;
    let mut algorithm = None;
    let mut secret = None;
    loop {
        match tokens.get(i) {
            Some(Token::Close) => {
                i += 1;
                break;
            }
            Some(Token::Word(option)) => {
                let value = match tokens.get(i + 1) {
                    Some(Token::Word(v) | Token::Quoted(v)) => v.clone(),
                    _ => return Err(format!("the key file's `{option}` has no value")),
                };
                if tokens.get(i + 2) != Some(&Token::Semicolon) {
                    return Err(format!("the key file lacks a `;` after `{option}`"));
                }
                match option.to_ascii_lowercase().as_str() {
                    "algorithm" => algorithm = Some(value),
                    "secret" => secret = Some(value),
                    _ => {
                        return Err(format!(
                            "the key file's key {name:?} has an unknown option `{option}`"
                        ));
                    }
                }
                i += 3;
            }
            Some(other) => {
                return Err(format!(
                    "the key file's key {name:?} holds `{}` where an option belongs",
                    other.show()
                ));
            }
            None => {
                return Err(format!(
                    "the key file's key {name:?} is not closed with `}};`"
                ));
            }
        }
    }
    if tokens.get(i) == Some(&Token::Semicolon) {
        i += 1;
    } else {
        return Err(format!(
            "the key file lacks the `;` after key {name:?}'s `}}`"
        ));
    }
    let algorithm =
        algorithm.ok_or_else(|| format!("the key file's key {name:?} has no algorithm"))?;
    let secret = secret.ok_or_else(|| format!("the key file's key {name:?} has no secret"))?;
    Ok((Key::new(&name, Algorithm::parse(&algorithm)?, &secret)?, i))
}

/// `name` (lower case, no trailing dot) in canonical wire form.
fn emit_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    out.push(0);
}

/// The TSIG variables of RFC 8945 §4.3.3.
fn emit_variables(out: &mut Vec<u8>, key: &Key, time: u64, fudge: u16, error: u16, other: &[u8]) {
    emit_name(out, &key.name);
    out.extend(CLASS_ANY.to_be_bytes());
    out.extend(0u32.to_be_bytes());
    emit_name(out, key.algorithm.name());
    out.extend(&time.to_be_bytes()[2..]);
    out.extend(fudge.to_be_bytes());
    out.extend(error.to_be_bytes());
    out.extend((other.len() as u16).to_be_bytes());
    out.extend(other);
}

/// A request signed by [`sign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The message with its TSIG record, ready to send.
    pub message: Vec<u8>,
    /// The request's MAC, which the server's answer signs over.
    pub mac: Vec<u8>,
}

/// Signs `message` (a complete wire-format message without TSIG) with `key`
/// at `time` (seconds since the Unix epoch), fudge [`FUDGE`].
pub fn sign(message: &[u8], key: &Key, time: u64) -> Result<Signed, String> {
    if message.len() < 12 {
        return Err("a DNS message is at least 12 bytes".into());
    }
    let additionals = u16::from_be_bytes([message[10], message[11]])
        .checked_add(1)
        .ok_or("the message has too many additional records to add TSIG")?;
    let mut tbs = Vec::with_capacity(message.len() + 128);
    tbs.extend(message);
    emit_variables(&mut tbs, key, time, FUDGE, 0, &[]);
    let mac = key.algorithm.mac(&key.secret, &tbs);

    let mut rdata = Vec::with_capacity(64 + mac.len());
    emit_name(&mut rdata, key.algorithm.name());
    rdata.extend(&time.to_be_bytes()[2..]);
    rdata.extend(FUDGE.to_be_bytes());
    rdata.extend((mac.len() as u16).to_be_bytes());
    rdata.extend(&mac);
    rdata.extend(&message[0..2]); // original ID
    rdata.extend(0u16.to_be_bytes()); // error
    rdata.extend(0u16.to_be_bytes()); // other length

    let mut out = Vec::with_capacity(message.len() + 32 + rdata.len());
    out.extend(message);
    out[10..12].copy_from_slice(&additionals.to_be_bytes());
    emit_name(&mut out, &key.name);
    out.extend(TYPE_TSIG.to_be_bytes());
    out.extend(CLASS_ANY.to_be_bytes());
    out.extend(0u32.to_be_bytes());
    out.extend((rdata.len() as u16).to_be_bytes());
    out.extend(rdata);
    Ok(Signed { message: out, mac })
}

/// The TSIG record of a message, as [`find`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Offset of the record in the message.
    pub offset: usize,
    /// Key name, lower case, without trailing dot.
    pub key_name: String,
    /// Algorithm name, lower case, without trailing dot.
    pub algorithm: String,
    pub time: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    /// The TSIG error (RFC 8945 §3): 16 BADSIG, 17 BADKEY, 18 BADTIME,
    /// 22 BADTRUNC; 0 for none.
    pub error: u16,
    pub other: Vec<u8>,
}

impl Record {
    /// With BADTIME, the server's clock (RFC 8945 §5.2.3: other data holds
    /// it as 48 bits).
    pub fn server_time(&self) -> Option<u64> {
        (self.other.len() == 6).then(|| {
            let mut b = [0u8; 8];
            b[2..].copy_from_slice(&self.other);
            u64::from_be_bytes(b)
        })
    }
}

/// The mnemonic of a TSIG error code.
pub fn error_name(code: u16) -> String {
    match code {
        0 => "NOERROR".into(),
        16 => "BADSIG".into(),
        17 => "BADKEY".into(),
        18 => "BADTIME".into(),
        19 => "BADMODE".into(),
        20 => "BADNAME".into(),
        21 => "BADALG".into(),
        22 => "BADTRUNC".into(),
        n => format!("error {n}"),
    }
}

/// Reads the wire format of a message just far enough to find its TSIG.
struct Reader<'m> {
    message: &'m [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.message.len())
            .ok_or("the message ends early")?;
        let bytes = &self.message[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a name at the current position (following compression pointers
    /// without moving past them) and returns it lower case, dot separated.
    fn name(&mut self) -> Result<String, String> {
        let mut labels: Vec<String> = Vec::new();
        let mut at = self.at;
        let mut jumped = false;
        let mut jumps = 0;
        loop {
            let len = *self
                .message
                .get(at)
                .ok_or("the message ends inside a name")? as usize;
            match len {
                0 => {
                    if !jumped {
                        self.at = at + 1;
                    }
                    break;
                }
                0xc0..=0xff => {
                    let low = *self
                        .message
                        .get(at + 1)
                        .ok_or("the message ends inside a name")?;
                    if !jumped {
                        self.at = at + 2;
                        jumped = true;
                    }
                    jumps += 1;
                    if jumps > 64 {
                        return Err("a name's compression pointers loop".into());
                    }
                    at = ((len & 0x3f) << 8) | low as usize;
                }
                1..=63 => {
                    let label = self
                        .message
                        .get(at + 1..at + 1 + len)
                        .ok_or("the message ends inside a name")?;
                    labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
                    at += 1 + len;
                }
                _ => return Err("a name has an unknown label type".into()),
            }
        }
        Ok(labels.join("."))
    }
}

/// The message's TSIG record, if its last additional record is one.
pub fn find(message: &[u8]) -> Result<Option<Record>, String> {
    let mut r = Reader { message, at: 0 };
    let header = r.take(12)?;
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]) as usize;
    let (questions, records) = (count(4), count(6) + count(8) + count(10));
    // TSIG is the last additional record (RFC 8945 §5.1).
    if count(10) == 0 {
        return Ok(None);
    }
    for _ in 0..questions {
        r.name()?;
        r.take(4)?;
    }
    for _ in 0..records - 1 {
        r.name()?;
        r.take(8)?;
        let len = r.u16()? as usize;
        r.take(len)?;
    }
    let offset = r.at;
    let key_name = r.name()?;
    let rtype = r.u16()?;
    if rtype != TYPE_TSIG {
        return Ok(None);
    }
    r.take(6)?; // class, TTL
    let len = r.u16()? as usize;
    let end = r.at + len;
    let algorithm = r.name()?;
    let t = r.take(6)?;
    let time = u64::from_be_bytes([0, 0, t[0], t[1], t[2], t[3], t[4], t[5]]);
    let fudge = r.u16()?;
    let mac_len = r.u16()? as usize;
    let mac = r.take(mac_len)?.to_vec();
    let original_id = r.u16()?;
    let error = r.u16()?;
    let other_len = r.u16()? as usize;
    let other = r.take(other_len)?.to_vec();
    if r.at != end || end != message.len() {
        return Err("the TSIG record's length does not match its content".into());
    }
    Ok(Some(Record {
        offset,
        key_name,
        algorithm,
        time,
        fudge,
        mac,
        original_id,
        error,
        other,
    }))
}

/// Why a response's TSIG did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The response carries no TSIG record.
    Unsigned,
    /// The response cannot be read.
    Malformed(String),
    /// The response is signed with another key or algorithm.
    WrongKey { key_name: String, algorithm: String },
    /// The MAC is wrong (or truncated).
    BadMac,
    /// The server reports a TSIG error in a signed answer.
    Error(u16),
    /// The signature time is further than its fudge from `now`.
    BadTime { signed: u64, now: u64, fudge: u16 },
}

impl core::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VerifyError::Unsigned => f.write_str("the answer carries no TSIG signature"),
            VerifyError::Malformed(why) => write!(f, "the answer cannot be read: {why}"),
            VerifyError::WrongKey {
                key_name,
                algorithm,
            } => write!(
                f,
                "the answer is signed with key {key_name:?} ({algorithm}), not ours"
            ),
            VerifyError::BadMac => f.write_str("the answer's TSIG signature is wrong"),
            VerifyError::Error(code) => {
                write!(f, "the answer reports TSIG error {}", error_name(*code))
            }
            VerifyError::BadTime { signed, now, fudge } => write!(
                f,
                "the answer was signed at {signed}, {} s from this machine's clock ({now}); \
                 the tolerance is {fudge} s",
                signed.abs_diff(*now)
            ),
        }
    }
}

/// Verifies the TSIG of `response`, the answer to a request signed with
/// `key` whose MAC was `request_mac`, at `now` (seconds since the Unix
/// epoch). Returns the response's TSIG record.
pub fn verify_response(
    response: &[u8],
    request_mac: &[u8],
    key: &Key,
    now: u64,
) -> Result<Record, VerifyError> {
    let tsig = find(response)
        .map_err(VerifyError::Malformed)?
        .ok_or(VerifyError::Unsigned)?;
    if tsig.key_name != key.name || Algorithm::parse(&tsig.algorithm) != Ok(key.algorithm) {
        return Err(VerifyError::WrongKey {
            key_name: tsig.key_name,
            algorithm: tsig.algorithm,
        });
    }
    if tsig.mac.len() != key.algorithm.mac_len() {
        return Err(VerifyError::BadMac);
    }
    let mut tbs = Vec::with_capacity(response.len() + request_mac.len() + 2);
    tbs.extend((request_mac.len() as u16).to_be_bytes());
    tbs.extend(request_mac);
    tbs.extend(tsig.original_id.to_be_bytes());
    tbs.extend(&response[2..10]);
    let additionals = u16::from_be_bytes([response[10], response[11]]) - 1;
    tbs.extend(additionals.to_be_bytes());
    tbs.extend(&response[12..tsig.offset]);
    emit_variables(
        &mut tbs,
        key,
        tsig.time,
        tsig.fudge,
        tsig.error,
        &tsig.other,
    );
    if !key.algorithm.verify(&key.secret, &tbs, &tsig.mac) {
        return Err(VerifyError::BadMac);
    }
    if tsig.error != 0 {
        return Err(VerifyError::Error(tsig.error));
    }
    if tsig.time.abs_diff(now) > u64::from(tsig.fudge) {
        return Err(VerifyError::BadTime {
            signed: tsig.time,
            now,
            fudge: tsig.fudge,
        });
    }
    Ok(tsig)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "e5jUUHqOWrxQKn6EjHyCN0B27IpLFLK3vI7Ux28r9Es=";

    fn key(algorithm: Algorithm) -> Key {
        Key::new("wacme-key.", algorithm, SECRET).unwrap()
    }

    /// A minimal UPDATE message for zone `example.test.` with ID 0x1234.
    fn update() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x28, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        emit_name(&mut m, "example.test");
        m.extend([0, 6, 0, 1]); // SOA IN
        m
    }

    #[test]
    fn algorithm_names() {
        for (text, alg) in [
            ("hmac-sha256", Algorithm::HmacSha256),
            ("hmac-sha256.", Algorithm::HmacSha256),
            ("HMAC-SHA256", Algorithm::HmacSha256),
            (" hmac-sha384 ", Algorithm::HmacSha384),
            ("HMAC-SHA512", Algorithm::HmacSha512),
            ("hmac-sha512.", Algorithm::HmacSha512),
            ("hmac-md5", Algorithm::HmacMd5),
            ("HMAC-MD5.SIG-ALG.REG.INT.", Algorithm::HmacMd5),
            ("hmac-md5.sig-alg.reg.int", Algorithm::HmacMd5),
        ] {
            assert_eq!(Algorithm::parse(text), Ok(alg), "{text}");
        }
        for text in [
            "hmac-sha1",
            "hmac-sha224",
            "gss-tsig",
            "sha256",
            "",
            "hmac-sha256-128",
        ] {
            let err = Algorithm::parse(text).unwrap_err();
            assert!(
                err.contains("hmac-sha256, hmac-sha384, hmac-sha512"),
                "{err}"
            );
        }
        assert!(Algorithm::HmacMd5.is_weak());
        assert!(!Algorithm::HmacSha256.is_weak());
        for alg in [
            Algorithm::HmacMd5,
            Algorithm::HmacSha256,
            Algorithm::HmacSha384,
            Algorithm::HmacSha512,
        ] {
            assert_eq!(alg.mac(b"k", b"d").len(), alg.mac_len());
            assert_eq!(Algorithm::parse(alg.name()), Ok(alg));
        }
    }

    #[test]
    fn hmac_matches_rfc_4231_and_2202() {
        // RFC 4231 test case 2 and RFC 2202 test case 2.
        let data = b"what do ya want for nothing?";
        assert_eq!(
            hex::encode(Algorithm::HmacSha256.mac(b"Jefe", data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(Algorithm::HmacMd5.mac(b"Jefe", data)),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert!(
            Algorithm::HmacSha256.verify(
                b"Jefe",
                data,
                &hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
                    .unwrap()
            )
        );
        assert!(!Algorithm::HmacSha256.verify(b"Jefe", data, &[0; 32]));
    }

    #[test]
    fn keys_validate_name_and_secret() {
        let k = Key::new("Wacme-Key.", Algorithm::HmacSha256, SECRET).unwrap();
        assert_eq!(k.name, "wacme-key");
        assert_eq!(k.secret.len(), 32);
        // Padding optional, whitespace ignored.
        let k2 = Key::new(
            "wacme-key",
            Algorithm::HmacSha256,
            " e5jUUHqOWrxQKn6EjHyCN0B27IpL FLK3vI7Ux28r9Es ",
        )
        .unwrap();
        assert_eq!(k, k2);
        assert!(!format!("{k:?}").contains(SECRET));
        for name in ["", ".", "a..b", "a b", "a\"b", &"x".repeat(64)] {
            assert!(
                Key::new(name, Algorithm::HmacSha256, SECRET).is_err(),
                "{name}"
            );
        }
        for secret in ["", "   ", "not base64!", "=="] {
            assert!(
                Key::new("k", Algorithm::HmacSha256, secret).is_err(),
                "{secret}"
            );
        }
    }

    #[test]
    fn key_file_from_tsig_keygen() {
        let text = format!(
            "key \"wacme-key\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{SECRET}\";\n}};\n"
        );
        assert_eq!(parse_key_file(&text).unwrap(), key(Algorithm::HmacSha256));
    }

    #[test]
    fn key_file_from_ddns_confgen_with_comments() {
        let text = format!(
            "# To activate this key, place the following in named.conf, and\n\
             # in a separate keyfile on the system or systems from which nsupdate\n\
             # will be run:\n\
             key \"ddns-key.example.test\" {{\n\
             \talgorithm hmac-sha512;\n\
             \tsecret \"{SECRET}\";\n\
             }};\n\
             \n\
             # Then, in the \"zone\" statement for the zone containing the\n\
             # name \"example.test\", place an \"update-policy\" statement\n\
             # like this one, adjusted as needed for your preferred permissions:\n\
             # update-policy {{\n\
             # \t  grant ddns-key.example.test name example.test ANY;\n\
             # }};\n"
        );
        let k = parse_key_file(&text).unwrap();
        assert_eq!(k.name, "ddns-key.example.test");
        assert_eq!(k.algorithm, Algorithm::HmacSha512);
    }

    #[test]
    fn key_file_variants() {
        // Bare name, one line, C and C++ comments, options in any order,
        // upper-case algorithm with a trailing dot.
        let text = format!(
            "/* rfc2136 */ key wacme-key {{ secret \"{SECRET}\"; // base64\n algorithm HMAC-SHA256.; }};"
        );
        assert_eq!(parse_key_file(&text).unwrap(), key(Algorithm::HmacSha256));
        let md5 = format!("key \"wacme-key\" {{ algorithm hmac-md5; secret \"{SECRET}\"; }};");
        assert_eq!(parse_key_file(&md5).unwrap().algorithm, Algorithm::HmacMd5);
    }

    #[test]
    fn key_file_errors() {
        let one = format!("key \"a\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};");
        for (text, needle) in [
            ("", "no `key"),
            ("# only a comment\n", "no `key"),
            ("/etc/bind/ddns.key", "/etc/bind/ddns.key"),
            ("key \"a\" { algorithm hmac-sha256; };", "no secret"),
            (
                &format!("key \"a\" {{ secret \"{SECRET}\"; }};") as &str,
                "no algorithm",
            ),
            (
                &format!("key \"a\" {{ algorithm hmac-sha1; secret \"{SECRET}\"; }};"),
                "not supported",
            ),
            (
                "key \"a\" { algorithm hmac-sha256; secret \"!!\"; };",
                "base64",
            ),
            (
                &format!("key \"a\" {{ algorithm hmac-sha256 secret \"{SECRET}\"; }};"),
                "`;`",
            ),
            (
                &format!("key \"a\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; }}"),
                "`;`",
            ),
            (
                "key \"a\" { algorithm hmac-sha256; secret \"x",
                "unterminated",
            ),
            ("/* key", "unterminated"),
            (
                &format!("{one}\n{}", one.replace("\"a\"", "\"b\"")),
                "2 keys",
            ),
            (
                &format!("key \"a\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; foo bar; }};"),
                "unknown option",
            ),
        ] {
            let err = parse_key_file(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(!err.contains(SECRET), "{err}");
        }
    }

    #[test]
    fn signing_appends_a_tsig_record() {
        let message = update();
        let k = key(Algorithm::HmacSha256);
        let signed = sign(&message, &k, 1_700_000_000).unwrap();
        assert_eq!(&signed.message[..10], &message[..10]);
        assert_eq!(&signed.message[10..12], &[0, 1]);
        assert_eq!(&signed.message[12..message.len()], &message[12..]);
        let tsig = find(&signed.message).unwrap().unwrap();
        assert_eq!(tsig.offset, message.len());
        assert_eq!(tsig.key_name, "wacme-key");
        assert_eq!(tsig.algorithm, "hmac-sha256");
        assert_eq!((tsig.time, tsig.fudge), (1_700_000_000, 300));
        assert_eq!((tsig.original_id, tsig.error), (0x1234, 0));
        assert_eq!(tsig.mac, signed.mac);

        // The MAC covers the message and the TSIG variables, per RFC 8945.
        let mut tbs = message.clone();
        tbs.extend(b"\x09wacme-key\x00\x00\xff\x00\x00\x00\x00");
        tbs.extend(b"\x0bhmac-sha256\x00");
        tbs.extend(1_700_000_000u64.to_be_bytes()[2..].iter());
        tbs.extend([0x01, 0x2c, 0, 0, 0, 0]);
        assert_eq!(signed.mac, Algorithm::HmacSha256.mac(&k.secret, &tbs));

        // Another time or key gives another MAC.
        assert_ne!(sign(&message, &k, 1_700_000_001).unwrap().mac, signed.mac);
        assert_ne!(
            sign(&message, &key(Algorithm::HmacSha512), 1_700_000_000)
                .unwrap()
                .mac
                .len(),
            signed.mac.len()
        );
        assert!(sign(&[0; 11], &k, 0).is_err());
    }

    /// Signs `response` the way a server does (RFC 8945 §4.3.1).
    fn server_sign(response: &[u8], request_mac: &[u8], k: &Key, time: u64, error: u16) -> Vec<u8> {
        let mut tbs = (request_mac.len() as u16).to_be_bytes().to_vec();
        tbs.extend(request_mac);
        tbs.extend(response);
        emit_variables(&mut tbs, k, time, FUDGE, error, &[]);
        let mac = k.algorithm.mac(&k.secret, &tbs);
        let mut out = response.to_vec();
        out[10..12].copy_from_slice(&1u16.to_be_bytes());
        emit_name(&mut out, &k.name);
        let mut rdata = Vec::new();
        emit_name(&mut rdata, k.algorithm.name());
        rdata.extend(&time.to_be_bytes()[2..]);
        rdata.extend(FUDGE.to_be_bytes());
        rdata.extend((mac.len() as u16).to_be_bytes());
        rdata.extend(&mac);
        rdata.extend(&response[0..2]);
        rdata.extend(error.to_be_bytes());
        rdata.extend(0u16.to_be_bytes());
        out.extend([0, 250, 0, 255, 0, 0, 0, 0]);
        out.extend((rdata.len() as u16).to_be_bytes());
        out.extend(rdata);
        out
    }

    #[test]
    fn responses_verify() {
        let k = key(Algorithm::HmacSha256);
        let request = sign(&update(), &k, 1_700_000_000).unwrap();
        let mut response = update();
        response[2] |= 0x80; // QR
        let signed = server_sign(&response, &request.mac, &k, 1_700_000_001, 0);
        let tsig = verify_response(&signed, &request.mac, &k, 1_700_000_002).unwrap();
        assert_eq!(tsig.time, 1_700_000_001);

        assert_eq!(
            verify_response(&response, &request.mac, &k, 1_700_000_002),
            Err(VerifyError::Unsigned)
        );
        // A different request MAC, key, or a changed byte breaks it.
        assert_eq!(
            verify_response(&signed, &[0; 32], &k, 1_700_000_002),
            Err(VerifyError::BadMac)
        );
        let other = Key::new("wacme-key", Algorithm::HmacSha256, "AAAA").unwrap();
        assert_eq!(
            verify_response(&signed, &request.mac, &other, 1_700_000_002),
            Err(VerifyError::BadMac)
        );
        let mut tampered = signed.clone();
        tampered[3] ^= 1;
        assert_eq!(
            verify_response(&tampered, &request.mac, &k, 1_700_000_002),
            Err(VerifyError::BadMac)
        );
        let named = Key::new("other-key", Algorithm::HmacSha256, SECRET).unwrap();
        assert!(matches!(
            verify_response(&signed, &request.mac, &named, 1_700_000_002),
            Err(VerifyError::WrongKey { .. })
        ));
        assert!(matches!(
            verify_response(&signed, &request.mac, &k, 1_700_000_400),
            Err(VerifyError::BadTime { fudge: 300, .. })
        ));
        let bad_time = server_sign(&response, &request.mac, &k, 1_700_000_001, 18);
        assert_eq!(
            verify_response(&bad_time, &request.mac, &k, 1_700_000_002),
            Err(VerifyError::Error(18))
        );
        assert!(matches!(
            verify_response(&signed[..signed.len() - 1], &request.mac, &k, 1_700_000_002),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn find_follows_compressed_names() {
        // A response whose answer-section record name is a pointer to the
        // zone name in the question.
        let mut m = vec![0, 1, 0xa8, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        emit_name(&mut m, "example.test");
        m.extend([0, 6, 0, 1]);
        m.extend([0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 2, 1, b'x']);
        assert_eq!(find(&m).unwrap(), None);
        let k = key(Algorithm::HmacSha384);
        let signed = sign(&m, &k, 5).unwrap();
        let tsig = find(&signed.message).unwrap().unwrap();
        assert_eq!(tsig.offset, m.len());
        assert_eq!(tsig.algorithm, "hmac-sha384");
        // The answer's name (at offset 30) pointing at itself.
        let mut looped = m.clone();
        looped[30..32].copy_from_slice(&[0xc0, 30]);
        assert!(find(&sign(&looped, &k, 5).unwrap().message).is_err());
        assert_eq!(error_name(16), "BADSIG");
        assert_eq!(error_name(99), "error 99");
    }
}
