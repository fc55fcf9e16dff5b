//! A test-only provider that attacks the sandbox: `present` performs the
//! attack named by the `mode` config value.
//!
//! Contract with the host's tests: when an attack *succeeds* (it read a file,
//! saw an environment variable, reached a host it did not declare, …)
//! `present` returns `Ok(())`, so a test expecting an error fails loudly.
//! When the sandbox stops it, `present` returns an error whose message says
//! what happened, or the instance traps (loop, memory, stack, panic).
//! `cleanup` always succeeds. Modes are listed in [`MODES`].

pub mod dns;
mod env;
pub mod net;
mod output;

use core::hint::black_box;
use wacme_plugin_sdk::http::Request;
use wacme_plugin_sdk::{Config, ConfigField, Error, Metadata, Provider, Result, TxtSet, log};

/// Every attack `mode` accepts.
pub const MODES: &[&str] = &[
    "read-file",
    "read-env",
    "http-undeclared",
    "http-target",
    "infinite-loop",
    "memory-bomb",
    "panic",
    "stack-overflow",
    "log-flood",
    "huge-request-body",
    "many-requests",
    "wasi-sockets",
    "huge-string",
    "leak-secret",
    "exfil-env",
    "http-each",
    "dns-each",
    "write-then-trap",
    "ok",
];

/// URLs `http-undeclared` tries; the metadata declares neither. The first is
/// under the reserved `.example` TLD, so even a broken host sends nothing to
/// a real machine; a connection error still proves the request left.
pub const UNDECLARED_URLS: &[&str] = &["https://undeclared.example/", "http://127.0.0.1:1/"];

const MIB: usize = 1024 * 1024;

pub struct Hostile;

// Exported symbols such as `wacme:dns/provider@0.2.0#present` do not link
// into a native cdylib; the native build exists for the unit tests.
#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Hostile);

impl Provider for Hostile {
    fn metadata() -> Metadata {
        Metadata {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test-only: attacks the sandbox (one attack per `mode`); never use it \
                          for real"
                .into(),
            homepage: "https://github.com/wacme/wacme".into(),
            config: vec![
                ConfigField::new("mode", "The attack `present` performs").required(),
                ConfigField::new("target", "URL the HTTP attacks use (declared as allowed)"),
                ConfigField::new("token", "A secret that `leak-secret` tries to leak").secret(),
                ConfigField::new("loot", "What `exfil-env` steals from the environment").env(&[
                    "MY_TOP_SECRET",
                    "CF_API_TOKEN",
                    "WACME_PDNS_API_KEY",
                ]),
                ConfigField::new("endpoint", "An internal URL `exfil-env` tries to reach")
                    .env(&["VAULT_ADDR"]),
                ConfigField::new("dns_server", "A nameserver `dns-each` may reach")
                    .default(dns::DEFAULT_SERVER),
            ],
            allowed_hosts: ["{target}", "{endpoint}"]
                .iter()
                .chain(net::DECLARED)
                .map(|h| h.to_string())
                .collect(),
            default_ttl: 60,
            min_ttl: 1,
            dns_servers: ["{dns_server}"]
                .iter()
                .chain(dns::DECLARED)
                .map(|s| s.to_string())
                .collect(),
            hints: wacme_plugin_sdk::Hints::default(),
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let mode = config.require("mode")?;
        match mode {
            "read-file" => read_file(),
            "read-env" => read_env(),
            "http-undeclared" => http_undeclared(),
            "http-target" => http_target(config.require("target")?),
            "infinite-loop" => infinite_loop(),
            "memory-bomb" => memory_bomb(1024),
            "panic" => panic!("hostile plugin: panicking on purpose"),
            "stack-overflow" => {
                // Runtime data the optimizer cannot know; never reached.
                let depth = recurse(0, u64::MAX - u64::from(set.ttl));
                Err(Error::Permanent(format!(
                    "stack-overflow: recursion returned at {depth}"
                )))
            }
            "log-flood" => log_flood(100 * 1000 * 1000),
            "huge-request-body" => huge_request_body(config.require("target")?),
            "many-requests" => many_requests(config.require("target")?, 10_000),
            "wasi-sockets" => wasi_sockets(config.get("target")),
            "huge-string" => Err(Error::Permanent(huge_string(16 * MIB))),
            "leak-secret" => leak_secret(config.require("token")?),
            "exfil-env" => env::exfil_env(config),
            "http-each" => net::http_each(&set.values),
            "dns-each" => dns::dns_each(&set.values),
            "write-then-trap" => output::write_then_trap(config.require("token")?),
            "ok" => Ok(()),
            other => Err(Error::InvalidConfig(format!(
                "unknown mode {other:?}; one of: {}",
                MODES.join(", ")
            ))),
        }
    }

    fn cleanup(_config: &Config, _set: &TxtSet) -> Result<()> {
        Ok(())
    }
}

/// Says what leaked: through the host's log in the component; on the host
/// target (unit tests), where the import does not exist, on stderr.
pub(crate) fn report(message: &str) {
    #[cfg(target_arch = "wasm32")]
    log::error(message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{message}");
}

/// Stopped: the error the host test expects, naming the attack.
fn stopped(mode: &str, what: impl core::fmt::Display) -> Error {
    Error::Permanent(format!("{mode}: stopped by the sandbox: {what}"))
}

fn read_file() -> Result<()> {
    let passwd = std::fs::read("/etc/passwd");
    let cwd = std::fs::read_dir(".");
    match (passwd, cwd) {
        (Ok(bytes), _) => {
            report(&format!(
                "read-file: read {} bytes of /etc/passwd",
                bytes.len()
            ));
            Ok(())
        }
        (_, Ok(entries)) => {
            report(&format!(
                "read-file: listed `.` ({} entries)",
                entries.count()
            ));
            Ok(())
        }
        (Err(a), Err(b)) => Err(stopped("read-file", format!("/etc/passwd: {a}; `.`: {b}"))),
    }
}

fn read_env() -> Result<()> {
    let vars: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    if vars.is_empty() {
        Err(stopped("read-env", "the environment is empty"))
    } else {
        report(&format!(
            "read-env: saw {} variables: {}",
            vars.len(),
            vars.join(" ")
        ));
        Ok(())
    }
}

fn http_undeclared() -> Result<()> {
    // The raw import, so that only the host's policy refusal counts as
    // stopped: any other outcome means the request went out.
    use wacme_plugin_sdk::bindings::wacme::dns::http as wit;
    let mut refusals = Vec::new();
    for url in UNDECLARED_URLS {
        let request = wit::Request {
            method: wit::Method::Get,
            url: (*url).into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        match wit::send(&request) {
            Err(wit::HttpError::Denied(m)) => refusals.push(format!("{url}: denied: {m}")),
            Ok(response) => {
                report(&format!(
                    "http-undeclared: {url} answered HTTP {}",
                    response.status
                ));
                return Ok(());
            }
            Err(e) => {
                report(&format!("http-undeclared: {url} was attempted: {e:?}"));
                return Ok(());
            }
        }
    }
    Err(stopped("http-undeclared", refusals.join("; ")))
}

fn http_target(target: &str) -> Result<()> {
    match Request::get(target).send() {
        Ok(response) => {
            report(&format!(
                "http-target: {target} answered HTTP {}",
                response.status
            ));
            Ok(())
        }
        Err(e) => Err(stopped("http-target", e)),
    }
}

fn infinite_loop() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Allocates and touches `mib` MiB, one MiB at a time.
fn memory_bomb(mib: usize) -> Result<()> {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for n in 0..mib {
        let mut chunk = Vec::new();
        if let Err(e) = chunk.try_reserve_exact(MIB) {
            return Err(stopped(
                "memory-bomb",
                format!("allocation failed after {n} MiB: {e}"),
            ));
        }
        chunk.resize(MIB, 0);
        for page in chunk.chunks_mut(4096) {
            page[0] = black_box(n as u8);
        }
        chunks.push(black_box(chunk));
    }
    report(&format!(
        "memory-bomb: holds {} MiB",
        black_box(&chunks).len()
    ));
    Ok(())
}

/// Recursion the optimizer cannot remove: it stops only at `stop` (runtime
/// data, never reached), and each frame combines the deeper result with a
/// non-associative operation, so it is neither a tail call nor an
/// accumulator loop. Everything stays in wasm locals: the engine's own stack
/// limit stops it, not an out-of-bounds store below the shadow stack.
#[inline(never)]
fn recurse(depth: u64, stop: u64) -> u64 {
    if depth == stop {
        return depth;
    }
    recurse(depth + 1, stop).rotate_left(1) ^ depth
}

fn log_flood(total_bytes: usize) -> Result<()> {
    let line = "flood ".repeat(1000 / 6);
    let mut sent = 0;
    while sent < total_bytes {
        log::info(&line);
        sent += line.len();
    }
    // The log import cannot refuse: finishing means the host took every
    // line; its tests check what it kept and how long this took.
    Ok(())
}

fn huge_request_body(target: &str) -> Result<()> {
    let body = vec![b'x'; 32 * MIB];
    match Request::post(target)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
    {
        Ok(response) => {
            report(&format!(
                "huge-request-body: sent 32 MiB, HTTP {}",
                response.status
            ));
            Ok(())
        }
        Err(e) => Err(stopped("huge-request-body", e)),
    }
}

fn many_requests(target: &str, count: usize) -> Result<()> {
    for n in 1..=count {
        if let Err(e) = Request::get(target).send() {
            return Err(stopped(
                "many-requests",
                format!("request {n} of {count} failed: {e}"),
            ));
        }
    }
    report(&format!("many-requests: all {count} requests answered"));
    Ok(())
}

/// The `host:port` of `target`, or a loopback port when there is none.
pub fn socket_target(target: Option<&str>) -> String {
    let Some(target) = target else {
        return "127.0.0.1:80".into();
    };
    let (default_port, rest) = match target.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (443, rest),
        Some((_, rest)) => (80, rest),
        None => (80, target),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let has_port = match authority.rfind(']') {
        Some(bracket) => authority[bracket..].contains(':'),
        None => authority.contains(':'),
    };
    if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    }
}

fn wasi_sockets(target: Option<&str>) -> Result<()> {
    use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
    let addr = socket_target(target);
    let mut refusals = Vec::new();
    match TcpStream::connect(&addr) {
        Ok(_) => {
            report(&format!("wasi-sockets: connected to {addr} over TCP"));
            return Ok(());
        }
        Err(e) => refusals.push(format!("TCP connect {addr}: {e}")),
    }
    match UdpSocket::bind("127.0.0.1:0") {
        Ok(socket) => {
            let sent = socket.send_to(b"hostile", &addr);
            report(&format!(
                "wasi-sockets: bound a UDP socket; send to {addr}: {sent:?}"
            ));
            return Ok(());
        }
        Err(e) => refusals.push(format!("UDP bind: {e}")),
    }
    match ("localhost", 80).to_socket_addrs() {
        Ok(found) => {
            report(&format!(
                "wasi-sockets: resolved localhost: {:?}",
                found.collect::<Vec<_>>()
            ));
            return Ok(());
        }
        Err(e) => refusals.push(format!("name lookup: {e}")),
    }
    Err(stopped("wasi-sockets", refusals.join("; ")))
}

/// A message of exactly `len` bytes.
pub fn huge_string(len: usize) -> String {
    let head = "huge-string: ";
    let mut s = String::with_capacity(len);
    s.push_str(head);
    s.extend(core::iter::repeat_n('x', len.saturating_sub(head.len())));
    s
}

fn leak_secret(token: &str) -> Result<()> {
    for level in [
        log::Level::Trace,
        log::Level::Debug,
        log::Level::Info,
        log::Level::Warn,
    ] {
        log::log(level, &format!("leak-secret: the token is {token}"));
    }
    log::error(&format!("leak-secret: token={token} (again: {token})"));
    Err(Error::Authentication(format!(
        "leak-secret: rejected token {token}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_target_takes_the_authority() {
        assert_eq!(socket_target(None), "127.0.0.1:80");
        assert_eq!(
            socket_target(Some("http://127.0.0.1:8081/x?y")),
            "127.0.0.1:8081"
        );
        assert_eq!(socket_target(Some("https://u:p@h.test/")), "h.test:443");
        assert_eq!(socket_target(Some("http://[::1]/")), "[::1]:80");
        assert_eq!(socket_target(Some("http://[::1]:9/")), "[::1]:9");
    }

    #[test]
    fn huge_string_has_the_exact_length() {
        assert_eq!(huge_string(16 * MIB).len(), 16 * MIB);
        assert!(huge_string(100).starts_with("huge-string: "));
    }

    #[test]
    fn every_mode_is_dispatched_and_unknown_ones_are_config_errors() {
        let set = TxtSet {
            zone: "example.test".into(),
            fqdn: "_acme-challenge.example.test".into(),
            relative_name: "_acme-challenge".into(),
            values: vec![],
            ttl: 60,
        };
        let ok = Config::new([("mode", "ok")]);
        assert!(Hostile::present(&ok, &set).is_ok());
        let unknown = Config::new([("mode", "nope")]);
        let Err(Error::InvalidConfig(m)) = Hostile::present(&unknown, &set) else {
            panic!("unknown mode accepted");
        };
        assert!(MODES.iter().all(|mode| m.contains(mode)), "{m}");
        assert!(Hostile::cleanup(&unknown, &set).is_ok());
        let source = include_str!("lib.rs");
        for mode in MODES {
            assert!(
                source.contains(&format!("\"{mode}\" =>")),
                "{mode} is not dispatched"
            );
        }
    }

    // Outside the sandbox the attacks must succeed: this proves that `Ok`
    // from the component means the sandbox leaked.
    #[test]
    fn attacks_succeed_outside_the_sandbox() {
        assert!(read_file().is_ok());
        assert!(std::env::vars_os().next().is_none() || read_env().is_ok());
        assert!(memory_bomb(4).is_ok());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = format!("http://{}/", listener.local_addr().unwrap());
        assert!(wasi_sockets(Some(&target)).is_ok());
    }

    #[test]
    fn metadata_declares_the_configured_and_the_network_origins() {
        let m = Hostile::metadata();
        assert_eq!(m.allowed_hosts[..2], ["{target}", "{endpoint}"]);
        assert_eq!(m.allowed_hosts[2..], *net::DECLARED);
        assert!(m.config.iter().any(|f| f.name == "token" && f.secret));
        assert!(m.config.iter().any(|f| f.name == "mode" && f.required));
    }
}
