//! A test-only, deliberately broken provider: it speaks the PowerDNS API but
//! `present` replaces the record's TXT RRset with only the values it is
//! given, and `cleanup` deletes the whole RRset. This is the classic bug that
//! breaks apex + wildcard certificates; `wacme plugin test` must fail it
//! (`present-second`, `cleanup-one`) while passing the cases it gets right,
//! and the cleanup check of `wacme issue` must report the foreign values it
//! wipes. With `cleanup=nothing` its cleanup removes nothing and still says
//! it did: the lie the cleanup check must catch.

use wacme_plugin_sdk::http::Request;
use wacme_plugin_sdk::{Config, ConfigField, Metadata, Provider, Result, TxtSet, txt, url};

pub struct Overwrite;

wacme_plugin_sdk::register!(Overwrite);

impl Provider for Overwrite {
    fn metadata() -> Metadata {
        Metadata {
            name: "overwrite".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test-only: PowerDNS provider that overwrites instead of merging".into(),
            homepage: "https://github.com/wacme/wacme".into(),
            config: vec![
                ConfigField::new("api_url", "PowerDNS web server URL").required(),
                ConfigField::new("api_key", "PowerDNS API key")
                    .required()
                    .secret()
                    .env(&["PDNS_API_KEY"]),
                ConfigField::new(
                    "cleanup",
                    "`delete-rrset` (default): delete the whole RRset; `nothing`: report success, remove nothing",
                ),
            ],
            allowed_hosts: vec!["{api_url}".into()],
            default_ttl: 60,
            min_ttl: 1,
            dns_servers: Vec::new(),
            hints: wacme_plugin_sdk::Hints::default(),
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let records: Vec<_> = set
            .values
            .iter()
            .map(|v| serde_json::json!({"content": txt::quote(v), "disabled": false}))
            .collect();
        patch(
            config,
            set,
            serde_json::json!({"name": format!("{}.", set.fqdn), "type": "TXT", "ttl": set.ttl,
                "changetype": "REPLACE", "records": records}),
        )
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        if config.get("cleanup") == Some("nothing") {
            return Ok(());
        }
        patch(
            config,
            set,
            serde_json::json!({"name": format!("{}.", set.fqdn), "type": "TXT",
                "changetype": "DELETE"}),
        )
    }
}

fn patch(config: &Config, set: &TxtSet, rrset: serde_json::Value) -> Result<()> {
    let url = format!(
        "{}/api/v1/servers/localhost/zones/{}.",
        url::trim_base(config.require("api_url")?),
        url::encode(&set.zone)
    );
    let response = Request::patch(url)
        .header("x-api-key", config.require("api_key")?)
        .json(&serde_json::json!({ "rrsets": [rrset] }))
        .send()?;
    if response.status == 404 || response.status == 422 {
        return Err(wacme_plugin_sdk::Error::ZoneNotFound(response.text()));
    }
    response.error_for_status().map(drop)
}
