//! The RFC 2136 provider (`--dns rfc2136`): publishes ACME challenge values
//! with DNS UPDATE messages, signed with TSIG (RFC 8945), sent to the zone's
//! primary server through the host's DNS import. For BIND, Knot, PowerDNS
//! and any server or appliance that takes dynamic updates.
//!
//! `present` sends one UPDATE for the zone the host found, without
//! prerequisites, adding each value as a TXT record at the record name
//! (adding a record that exists is a no-op, other values stay); `cleanup`
//! deletes exactly those records (class NONE, RFC 2136 §2.5.4), never the
//! whole RRset. The batch calls put every name of the call in that one
//! UPDATE (hints: `batch`), which the server applies atomically. A value is one TXT character-string; a value longer than 255
//! bytes is split into several.
//!
//! The key comes either as three fields (`tsig_key_name`, `tsig_secret`,
//! `tsig_algorithm`, as lego and certbot take it) or as the text of a BIND
//! key file (`tsig_key`, as `tsig-keygen` prints it), never both. Unsigned
//! updates, for servers that allow updates by address, must be asked for with
//! `tsig=none`: a missing key is a config error. The server's answer must be
//! signed with the same key and is verified (RFC 8945 §5.3).
//!
//! Server address rule: `server` is a host name, an IPv4 address, an IPv6
//! address (bare or in brackets), or any of these with a port (`host:port`,
//! `[v6]:port`). The plugin sends to `host:port`, or `[v6]:port` for IPv6,
//! where the port is the one written in `server` if any, else `port`
//! (default 53); a port in `server` that contradicts a `port` other than 53
//! is a config error. The metadata declares `{server}:{port}`: the host must
//! expand it by the same rule (a `server` value that already carries a port
//! keeps it, a bare IPv6 address gets brackets) and compare servers as
//! parsed host and port, not as text. See [`server_address`].
//!
//! This file owns the plugin's metadata, its config handling, the UPDATE
//! messages and the mapping of the server's answers to the WIT error cases;
//! TSIG itself is [`wacme_plugin_auth::tsig`]. Everything but [`Rfc2136`]'s
//! two calls is a plain function tested on the host target.

use std::net::Ipv6Addr;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode, update_message};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordSet, RecordType};
use wacme_plugin_auth::tsig::{self, Algorithm, Key, VerifyError};
use wacme_plugin_sdk::{Config, ConfigField, Error, Metadata, Provider, Result, TxtSet, dns, log};

/// TTL for challenge records when the operator sets none.
pub const DEFAULT_TTL: u32 = 60;
/// The smallest TTL used.
pub const MIN_TTL: u32 = 1;
/// The port of `server` when neither it nor `port` names one.
pub const DEFAULT_PORT: u16 = 53;

/// The provider registered as this component's export.
pub struct Rfc2136;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Rfc2136);

impl Provider for Rfc2136 {
    fn metadata() -> Metadata {
        Metadata {
            name: "rfc2136".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS, \
                          appliances): adds the challenge values to the record's TXT set and \
                          deletes only those values on cleanup"
                .into(),
            homepage: "https://www.rfc-editor.org/rfc/rfc2136".into(),
            config: vec![
                ConfigField::new(
                    "server",
                    "Primary server taking the updates: host name or IP address, optionally \
                     with a port (ns1.example.com, 192.0.2.53:5353, [2001:db8::53]:53)",
                )
                .required()
                .env(&["RFC2136_NAMESERVER", "NSUPDATE_SERVER"]),
                ConfigField::new("port", "Port of the server, when `server` names none")
                    .default("53")
                    .env(&["NSUPDATE_SERVER_PORT"]),
                ConfigField::new("tsig_key_name", "Name of the TSIG key (e.g. wacme-key)")
                    .env(&["RFC2136_TSIG_KEY"]),
                ConfigField::new("tsig_secret", "TSIG key secret, base64")
                    .secret()
                    .env(&["RFC2136_TSIG_SECRET"]),
                ConfigField::new(
                    "tsig_algorithm",
                    "TSIG algorithm: hmac-sha256 (when unset), hmac-sha384, hmac-sha512; \
                     hmac-md5 only for old servers",
                )
                .env(&["RFC2136_TSIG_ALGORITHM"]),
                ConfigField::new(
                    "tsig_key",
                    "The text of a BIND key file (key \"name\" { algorithm …; secret \"…\"; };), \
                     as tsig-keygen prints it; instead of tsig_key_name/tsig_secret/\
                     tsig_algorithm",
                )
                .secret(),
                ConfigField::new(
                    "tsig",
                    "`none` to send unsigned updates, for servers that allow updates by \
                     address; otherwise a TSIG key is required",
                ),
                ConfigField::new(
                    "ttl",
                    "TTL in seconds of the challenge records; overrides the TTL wacme passes",
                )
                .env(&["RFC2136_TTL"]),
            ],
            allowed_hosts: Vec::new(),
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: vec!["{server}:{port}".into()],
            // One UPDATE message carries the changes of any number of
            // names of a zone.
            hints: wacme_plugin_sdk::Hints {
                batch: true,
                ..Default::default()
            },
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        Self::present_many(config, std::slice::from_ref(set))
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        Self::cleanup_many(config, std::slice::from_ref(set))
    }

    fn present_many(config: &Config, sets: &[TxtSet]) -> Result<()> {
        let settings = Settings::from_config(config)?;
        let messages = sets
            .iter()
            .map(|set| {
                let ttl = settings.ttl.unwrap_or(set.ttl).max(MIN_TTL);
                build_update(set, Change::Add { ttl })
            })
            .collect::<Result<Vec<_>>>()?;
        settings.update(&summary(sets), merge(messages))
    }

    fn cleanup_many(config: &Config, sets: &[TxtSet]) -> Result<()> {
        let settings = Settings::from_config(config)?;
        let messages = sets
            .iter()
            .map(|set| build_update(set, Change::Delete))
            .collect::<Result<Vec<_>>>()?;
        settings.update(&summary(sets), merge(messages))
    }
}

/// One UPDATE holding the changes of `messages` (UPDATEs of one zone): the
/// first message with every other one's update section appended.
pub fn merge(messages: Vec<Message>) -> Message {
    let mut all = messages.into_iter();
    let mut first = all.next().expect("at least one set");
    for other in all {
        first.authorities.extend(other.authorities);
    }
    first
}

/// The sets of one call as one set, for messages: their zone, their names
/// joined, every value.
fn summary(sets: &[TxtSet]) -> TxtSet {
    let first = &sets[0];
    TxtSet {
        zone: first.zone.clone(),
        fqdn: sets
            .iter()
            .map(|s| s.fqdn.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        relative_name: first.relative_name.clone(),
        values: sets.iter().flat_map(|s| s.values.clone()).collect(),
        ttl: first.ttl,
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// What goes to the DNS import: `host:port` or `[v6]:port`.
    pub server: String,
    /// `None` only when the operator asked for unsigned updates.
    pub key: Option<Key>,
    /// The operator's TTL override.
    pub ttl: Option<u32>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Settings> {
        let ttl = config.parse::<u32>("ttl")?;
        if ttl == Some(0) {
            return Err(Error::InvalidConfig("`ttl` must be at least 1".into()));
        }
        Ok(Settings {
            server: server_address(config.require("server")?, config.get("port"))?,
            key: key_from_config(config)?,
            ttl,
        })
    }

    /// Signs `message` if there is a key, sends it and checks the answer.
    fn update(&self, set: &TxtSet, message: Message) -> Result<()> {
        if let Some(key) = &self.key
            && key.algorithm.is_weak()
        {
            log::warn(&format!(
                "rfc2136: TSIG key {:?} uses hmac-md5, which is weak; move the server and \
                 this key to hmac-sha256",
                key.name
            ));
        }
        let (bytes, request_mac) = encode(&message, self.key.as_ref(), now())?;
        log::debug(&format!(
            "rfc2136: UPDATE {} in zone {} at {} ({} value(s){})",
            set.fqdn,
            set.zone,
            self.server,
            set.values.len(),
            if self.key.is_some() {
                ", TSIG"
            } else {
                ", unsigned"
            }
        ));
        let response = dns::exchange(&self.server, &bytes)?;
        check_response(
            &response,
            message.metadata.id,
            self.key.as_ref().zip(request_mac.as_deref()),
            now(),
            set,
            &self.server,
        )
    }
}

/// Seconds since the Unix epoch (the WASI wall clock in the component).
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The `exchange` address of `server` with the `port` field: `host:port`,
/// or `[v6]:port` for an IPv6 address. A port written in `server` wins; it
/// must agree with `port` unless `port` is the default 53.
pub fn server_address(server: &str, port: Option<&str>) -> Result<String> {
    let server = server.trim();
    let bad = |why: &str| {
        Err(Error::InvalidConfig(format!(
            "`server` {server:?} is not valid: {why}; write a host name or IP address, \
             optionally with a port (ns1.example.com, 192.0.2.53:5353, [2001:db8::53]:5353)"
        )))
    };
    let parse_port = |text: &str, field: &str| {
        text.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| {
                Error::InvalidConfig(format!("`{field}` must be a port number, not {text:?}"))
            })
    };
    let field_port = port.map(|p| parse_port(p, "port")).transpose()?;

    let (host, own_port) = if let Some(rest) = server.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return bad("no `]` after the IPv6 address");
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return bad("not an IPv6 address in the brackets");
        }
        let own = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(p) => Some(parse_port(p, "server")?),
                None => return bad("only `:port` may follow the brackets"),
            },
        };
        (format!("[{v6}]"), own)
    } else if server.parse::<Ipv6Addr>().is_ok() {
        (format!("[{server}]"), None)
    } else {
        let (host, own) = match server.split_once(':') {
            Some((host, p)) => (host, Some(parse_port(p, "server")?)),
            None => (server, None),
        };
        let host = host.trim_end_matches('.');
        if host.is_empty() {
            return bad("no host");
        }
        if host.contains(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
            || host.contains("..")
        {
            return bad("a host name holds only letters, digits, `-`, `_` and dots");
        }
        (host.to_string(), own)
    };
    let port = match (own_port, field_port) {
        (Some(own), Some(field)) if field != DEFAULT_PORT && field != own => {
            return Err(Error::InvalidConfig(format!(
                "`server` {server:?} names port {own} but `port` is {field}; give the port once"
            )));
        }
        (Some(own), _) => own,
        (None, field) => field.unwrap_or(DEFAULT_PORT),
    };
    Ok(format!("{host}:{port}"))
}

/// The TSIG key of the config, or `None` when `tsig` is `none`.
pub fn key_from_config(config: &Config) -> Result<Option<Key>> {
    let separate: Vec<&str> = ["tsig_key_name", "tsig_secret", "tsig_algorithm"]
        .into_iter()
        .filter(|f| config.get(f).is_some())
        .collect();
    let key_file = config.get("tsig_key");
    match config.get("tsig").map(|v| v.trim().to_ascii_lowercase()) {
        None => {}
        Some(v) if v == "none" => {
            if let Some(field) = key_file.map(|_| "tsig_key").or(separate.first().copied()) {
                return Err(Error::InvalidConfig(format!(
                    "`tsig` is `none` (unsigned updates) but `{field}` is set; remove one"
                )));
            }
            return Ok(None);
        }
        Some(v) => {
            return Err(Error::InvalidConfig(format!(
                "`tsig` may only be `none` (unsigned updates), not {v:?}; leave it unset to \
                 sign with the configured key"
            )));
        }
    }
    let invalid = |m: String| Error::InvalidConfig(m);
    if let Some(text) = key_file {
        if let Some(field) = separate.first() {
            return Err(invalid(format!(
                "both `tsig_key` and `{field}` are set; give the key either as a key file \
                 (`tsig_key`) or as tsig_key_name/tsig_secret/tsig_algorithm"
            )));
        }
        return tsig::parse_key_file(text)
            .map(Some)
            .map_err(|e| invalid(key_file_hint(text, e)));
    }
    let name = config.get("tsig_key_name");
    let secret = config.get("tsig_secret");
    match (name, secret) {
        (Some(name), Some(secret)) => {
            let algorithm = match config.get("tsig_algorithm") {
                Some(a) => {
                    Algorithm::parse(a).map_err(|e| invalid(format!("`tsig_algorithm`: {e}")))?
                }
                None => Algorithm::HmacSha256,
            };
            Key::new(name, algorithm, secret)
                .map(Some)
                .map_err(|e| invalid(format!("`tsig_key_name`/`tsig_secret`: {e}")))
        }
        (Some(_), None) => Err(invalid(
            "`tsig_key_name` is set but `tsig_secret` is not".into(),
        )),
        (None, Some(_)) => Err(invalid(
            "`tsig_secret` is set but `tsig_key_name` is not".into(),
        )),
        (None, None) => Err(invalid(
            "no TSIG key: set `tsig_key` (the text of a BIND key file) or `tsig_key_name` and \
             `tsig_secret`; set `tsig=none` only if the server takes unsigned updates"
                .into(),
        )),
    }
}

/// The key file error, with a hint when the value looks like a path (the
/// plugin cannot read files; `tsig_key` holds the file's text).
fn key_file_hint(text: &str, error: String) -> String {
    let t = text.trim();
    let path_like = !t.contains('{')
        && (t.starts_with('/')
            || t.starts_with('.')
            || t.ends_with(".key")
            || t.ends_with(".conf"));
    if path_like {
        "`tsig_key` holds the text of the key file, not its path; pass the content, e.g. \
         --dns-config tsig_key=\"$(cat /etc/bind/wacme.key)\""
            .into()
    } else {
        format!("`tsig_key`: {error}")
    }
}

/// What an UPDATE does to the values of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Add each value (RFC 2136 §2.5.1) with this TTL.
    Add { ttl: u32 },
    /// Delete each value (RFC 2136 §2.5.4: class NONE, TTL 0).
    Delete,
}

/// `name` as an absolute domain name.
fn absolute(name: &str, what: &str) -> Result<Name> {
    let text = format!("{}.", name.trim_end_matches('.'));
    Name::from_ascii(&text)
        .map_err(|e| Error::Permanent(format!("{what} {name:?} is not a valid domain name: {e}")))
}

/// The TXT record data of one value: one character-string, or several of at
/// most 255 bytes when the value is longer.
pub fn txt_rdata(value: &str) -> TXT {
    TXT::from_bytes(value.as_bytes().chunks(255).collect())
}

/// The UPDATE message applying `change` to the values of `set` in zone
/// `set.zone`, with a random ID.
pub fn build_update(set: &TxtSet, change: Change) -> Result<Message> {
    let zone = absolute(&set.zone, "zone")?;
    let name = absolute(&set.fqdn, "record name")?;
    if !zone.zone_of(&name) {
        return Err(Error::Permanent(format!(
            "record {} is not inside zone {}",
            set.fqdn, set.zone
        )));
    }
    let ttl = match change {
        Change::Add { ttl } => ttl,
        Change::Delete => 0,
    };
    let mut rrset = RecordSet::with_ttl(name.clone(), RecordType::TXT, ttl);
    for value in &set.values {
        rrset.insert(
            Record::from_rdata(name.clone(), ttl, RData::TXT(txt_rdata(value))),
            0,
        );
    }
    let message = match change {
        Change::Add { .. } => update_message::append(rrset, zone, false, false),
        Change::Delete => update_message::delete_by_rdata(rrset, zone, false),
    };
    Ok(message)
}

/// The wire bytes of `message`, signed with `key` at `time` when there is
/// one, and the request MAC.
pub fn encode(
    message: &Message,
    key: Option<&Key>,
    time: u64,
) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let bytes = message
        .to_vec()
        .map_err(|e| Error::Permanent(format!("cannot encode the UPDATE message: {e}")))?;
    match key {
        None => Ok((bytes, None)),
        Some(key) => {
            let signed = tsig::sign(&bytes, key, time)
                .map_err(|e| Error::Permanent(format!("cannot sign the UPDATE message: {e}")))?;
            Ok((signed.message, Some(signed.mac)))
        }
    }
}

/// The mnemonic of a DNS RCODE.
pub fn rcode_name(code: ResponseCode) -> String {
    let n = u16::from(code);
    match n {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        7 => "YXRRSET".into(),
        8 => "NXRRSET".into(),
        9 => "NOTAUTH".into(),
        10 => "NOTZONE".into(),
        n => format!("RCODE {n}"),
    }
}

/// Checks the server's answer to the UPDATE with ID `id`. `signed` holds the
/// key and the request MAC when the request was signed; `now` is the time in
/// seconds since the Unix epoch.
pub fn check_response(
    response: &[u8],
    id: u16,
    signed: Option<(&Key, &[u8])>,
    now: u64,
    set: &TxtSet,
    server: &str,
) -> Result<()> {
    let message = Message::from_vec(response).map_err(|e| {
        Error::Transient(format!(
            "{server} sent an answer that is not a DNS message: {e}"
        ))
    })?;
    if message.metadata.id != id
        || message.metadata.message_type != MessageType::Response
        || message.metadata.op_code != OpCode::Update
    {
        return Err(Error::Transient(format!(
            "{server} sent an answer that does not match the UPDATE (ID {}, expected {id})",
            message.metadata.id
        )));
    }
    let rcode = message.metadata.response_code;
    let name = rcode_name(rcode);
    let zone = &set.zone;
    match rcode {
        ResponseCode::NoError => {}
        // NOTAUTH signed with our key and no TSIG error: the server took the
        // key, it just holds no such zone (RFC 2136 §3.1.1, RFC 8945 §5.2).
        ResponseCode::NotAuth
            if signed.is_some_and(|(key, mac)| {
                tsig::verify_response(response, mac, key, now).is_ok()
            }) =>
        {
            return Err(Error::ZoneNotFound(format!(
                "{server} answered NOTAUTH to a correctly signed update: it is not \
                 authoritative for zone {zone}"
            )));
        }
        ResponseCode::NotAuth | ResponseCode::Refused => {
            let tsig_error = tsig::find(response)
                .ok()
                .flatten()
                .filter(|t| t.error != 0)
                .map(|t| (t.error, t.server_time()));
            let why = match (rcode, tsig_error, signed.is_some()) {
                (_, Some((18, server_time)), _) => {
                    let clock = server_time
                        .map(|t| format!(" (server time {t}, ours {now})"))
                        .unwrap_or_default();
                    format!(
                        "server answered {name} (TSIG error BADTIME): the clocks of this machine \
                         and the server differ by more than {} s{clock}",
                        tsig::FUDGE
                    )
                }
                (_, Some((code, _)), _) => format!(
                    "server answered {name} (TSIG error {}): the key name, algorithm or secret \
                     is wrong, or the server does not know the key",
                    tsig::error_name(code)
                ),
                (ResponseCode::NotAuth, None, _) => format!(
                    "server answered {name}: it is not authoritative for zone {zone} or does not \
                     accept this key for it"
                ),
                (_, None, true) => format!(
                    "server answered {name}: the key may not update {} TXT in zone {zone} \
                     (check the zone's update-policy / allow-update or ACL), or the server is \
                     not the zone's primary",
                    set.fqdn
                ),
                (_, None, false) => format!(
                    "server answered {name} to an unsigned update of {} in zone {zone}: it \
                     likely requires a TSIG key, or does not allow updates from this address",
                    set.fqdn
                ),
            };
            return Err(Error::Authentication(format!("{server}: {why}")));
        }
        ResponseCode::NotZone => {
            return Err(Error::ZoneNotFound(format!(
                "{server} answered NOTZONE: it holds no zone {zone} containing {}",
                set.fqdn
            )));
        }
        ResponseCode::ServFail => {
            return Err(Error::Transient(format!(
                "{server} answered SERVFAIL to the update of zone {zone}"
            )));
        }
        _ => {
            return Err(Error::Permanent(format!(
                "{server} answered {name} to the update of {} in zone {zone}",
                set.fqdn
            )));
        }
    }
    let Some((key, request_mac)) = signed else {
        return Ok(());
    };
    match tsig::verify_response(response, request_mac, key, now) {
        Ok(_) => Ok(()),
        Err(e @ VerifyError::Unsigned) => Err(Error::Permanent(format!(
            "{server} answered NOERROR but {e}; a server that takes a signed update signs its \
             answer (RFC 8945), so this answer cannot be trusted"
        ))),
        Err(e @ (VerifyError::BadMac | VerifyError::Malformed(_))) => Err(Error::Transient(
            format!("{server} answered NOERROR but {e}; the answer cannot be trusted"),
        )),
        Err(e) => Err(Error::Permanent(format!(
            "{server} answered NOERROR but {e}"
        ))),
    }
}

#[cfg(test)]
mod tests;
