//! A test-only provider that does its HTTP through the standard
//! `wasi:http/outgoing-handler` (the `wasip2` crate's bindings), never
//! through wacme's own `http` import, except where a mode mixes the two on
//! purpose. `present` does what the `mode` config value names (see
//! [`MODES`]); `cleanup` does the `api` mode's deletion.
//!
//! Contract with the host's tests (as for the hostile plugin): when a
//! request the sandbox must stop gets an answer, `present` returns `Ok`, so
//! a test expecting an error fails loudly; otherwise the error says exactly
//! what `wasi:http` answered (`ErrorCode::…`, as the plugin sees it).

mod wasi;

use wacme_plugin_sdk::{Config, ConfigField, Error, Metadata, Provider, Result, TxtSet};
use wasi::{Fetched, fetch};

/// Every `mode` `present` accepts.
pub const MODES: &[&str] = &["api", "each", "get", "many", "mixed", "big-body", "ok"];

/// Origins the plugin declares itself, on non-public addresses: its own
/// choice, not the operator's, so the host must refuse them.
pub const DECLARED: &[&str] = &["https://127.0.0.1:18443", "https://10.1.2.3:18443"];

/// Requests `mixed` sends through wacme's own `http` import before going on
/// with `wasi:http`.
pub const MIXED_HTTP_IMPORT: u32 = 10;

pub struct WasiHttp;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(WasiHttp);

impl Provider for WasiHttp {
    fn metadata() -> Metadata {
        Metadata {
            name: "wasi-http".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test-only: HTTP through wasi:http/outgoing-handler; never use it for \
                          real"
                .into(),
            homepage: "https://github.com/wacme/wacme".into(),
            config: vec![
                ConfigField::new("mode", "What `present` does").required(),
                ConfigField::new("target", "The API's URL (declared as allowed)"),
                ConfigField::new("token", "The API's secret token").secret(),
            ],
            allowed_hosts: ["{target}"]
                .iter()
                .chain(DECLARED)
                .map(|h| h.to_string())
                .collect(),
            default_ttl: 60,
            min_ttl: 1,
            dns_servers: Vec::new(),
            hints: wacme_plugin_sdk::Hints::default(),
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        match config.require("mode")? {
            "api" => api(config, set, "POST"),
            "each" => each(&set.values),
            "get" => get(config.require("target")?),
            "many" => many(config.require("target")?, 0),
            "mixed" => many(config.require("target")?, MIXED_HTTP_IMPORT),
            "big-body" => big_body(config.require("target")?),
            "hold" => hold(config.require("target")?),
            "ok" => Ok(()),
            other => Err(Error::InvalidConfig(format!(
                "unknown mode {other:?}; one of: {}",
                MODES.join(", ")
            ))),
        }
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        match config.require("mode")? {
            "api" => api(config, set, "DELETE"),
            _ => Ok(()),
        }
    }
}

/// `api`: a provider's own call: `method {target}/tokens/{token}/records`
/// with the token in the path and in `authorization`, the record set as a
/// JSON body; the API's answer must be 2xx and echo the name.
fn api(config: &Config, set: &TxtSet, method: &str) -> Result<()> {
    let target = config.require("target")?.trim_end_matches('/');
    let token = config.require("token")?;
    let url = format!("{target}/tokens/{token}/records");
    let body = serde_json::json!({ "fqdn": set.fqdn, "values": set.values }).to_string();
    let headers = [
        ("authorization", format!("Bearer {token}")),
        ("content-type", "application/json".to_string()),
    ];
    let fetched = fetch(method, &url, &headers, body.as_bytes())
        .map_err(|code| Error::Transient(format!("api: {method}: {code}")))?;
    let text = String::from_utf8_lossy(&fetched.body);
    if !(200..300).contains(&fetched.status) || !text.contains(&set.fqdn) {
        return Err(Error::Permanent(format!(
            "api: {method}: HTTP {}: {text}",
            fetched.status
        )));
    }
    Ok(())
}

/// `each`: GETs every URL (the record set's values). Any answer is a
/// success of the attack (`Ok`); otherwise one `<url> => <error>` line per
/// URL, the error as `wasi:http` gave it.
fn each(urls: &[String]) -> Result<()> {
    let mut outcomes = Vec::new();
    for url in urls {
        match fetch("GET", url, &[], &[]) {
            Ok(Fetched { status, .. }) => {
                report(&format!("each: {url} answered HTTP {status}"));
                return Ok(());
            }
            Err(code) => outcomes.push(format!("{url} => {code}")),
        }
    }
    Err(Error::Permanent(format!(
        "each: stopped by the sandbox:\n{}",
        outcomes.join("\n")
    )))
}

/// `get`: one GET of `target`, its body read in full.
fn get(target: &str) -> Result<()> {
    match fetch("GET", target, &[], &[]) {
        Ok(fetched) => {
            report(&format!(
                "get: HTTP {}, {} bytes: {}",
                fetched.status,
                fetched.body.len(),
                String::from_utf8_lossy(&fetched.body[..fetched.body.len().min(64)])
            ));
            Ok(())
        }
        Err(code) => Err(Error::Permanent(format!("get: {code}"))),
    }
}

/// `many` and `mixed`: GETs `target` until refused (first `first` requests
/// through wacme's own `http` import, the rest through `wasi:http`). Never
/// refused within 10,000 requests is a success of the attack.
fn many(target: &str, first: u32) -> Result<()> {
    use wacme_plugin_sdk::bindings::wacme::dns::http as wit;
    for i in 0..first {
        let request = wit::Request {
            method: wit::Method::Get,
            url: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        wit::send(&request)
            .map_err(|e| Error::Permanent(format!("http import request {i}: {e:?}")))?;
    }
    for i in first..10_000 {
        if let Err(code) = fetch("GET", target, &[], &[]) {
            return Err(Error::Permanent(format!(
                "many: request {} refused: {code}",
                i + 1
            )));
        }
    }
    report("many: 10000 requests went out");
    Ok(())
}

/// `big-body`: POSTs 2 MiB to `target`.
fn big_body(target: &str) -> Result<()> {
    let body = vec![b'x'; 2 << 20];
    match fetch("POST", target, &[], &body) {
        Ok(fetched) => {
            report(&format!("big-body: sent, HTTP {}", fetched.status));
            Ok(())
        }
        Err(code) => Err(Error::Permanent(format!("big-body: {code}"))),
    }
}

/// `hold`: GETs `target` 100 times, keeping every response unread (their
/// bodies stay with the host). All 100 held is a success of the attack.
fn hold(target: &str) -> Result<()> {
    match wasi::hold(target, 100) {
        (held, None) => {
            report(&format!("hold: {held} unread responses held"));
            Ok(())
        }
        (held, Some(code)) => Err(Error::Permanent(format!(
            "hold: request {} failed after {held} held: {code}",
            held + 1
        ))),
    }
}

/// Says what got through, in the host's log.
fn report(message: &str) {
    #[cfg(target_arch = "wasm32")]
    wacme_plugin_sdk::log::error(message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{message}");
}
