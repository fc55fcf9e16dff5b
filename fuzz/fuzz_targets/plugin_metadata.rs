//! Plugin metadata validation, config resolution and the outbound HTTP
//! allowlist (`wacme::plugins::{metadata, config, policy, redact}`).
//!
//! Input: UTF-8 text (invalid sequences replaced), one directive a line:
//!
//! ```text
//! name pdns
//! version 0.1.0
//! description PowerDNS
//! homepage https://example.com
//! ttl 60 1                      default-ttl, min-ttl
//! field api_url required secret default=VALUE alias=PDNS_API_URL
//! allow {api_url}               an allowed-hosts entry, as the plugin declares it
//! cli api_url=http://…          --dns-config (through `parse_pair`)
//! file key=value                a config-file value
//! env VAR=value                 an environment variable
//! readfile /path=content        a file a `*_FILE` variable may name
//! operator https://…            a --plugin-allow entry
//! url https://…/path            a URL the plugin asks the host to fetch
//! ```
//!
//! Checked:
//! - nothing panics;
//! - metadata that validates has a well-formed name, templates naming
//!   declared keys, `min_ttl <= default_ttl`, and static entries that build
//!   an allowlist;
//! - a resolved config holds only declared keys, non-empty values, every
//!   required key, and exactly the secret fields' values as secrets;
//! - an origin pattern prints as something that parses back to itself;
//! - the allowlist decision: a URL is allowed only if it has no user
//!   information and its normalised origin (scheme, host without trailing
//!   dots, port; or a `*.suffix` of its host name) is among the plugin's
//!   origins and, when the operator gave a list, among the operator's; and
//!   every such URL is allowed;
//! - the redactor never lets a (plain, four characters or more) secret
//!   through.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::path::Path;
use url::{Host, Url};
use wacme::plugins::config::{Origin, Sources, normalize_key, parse_pair};
use wacme::plugins::policy::{AllowList, OriginPattern, origin_of, template_key};
use wacme::plugins::redact::{REDACTED, Redactor};
use wacme::plugins::{ConfigField, PluginMetadata, ResolvedConfig};

struct Input {
    meta: PluginMetadata,
    cli: Vec<(String, String)>,
    file: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
    files: BTreeMap<String, String>,
    operator: Vec<String>,
    urls: Vec<String>,
}

fn parse_input(text: &str) -> Input {
    let mut input = Input {
        meta: PluginMetadata {
            name: String::new(),
            version: String::new(),
            description: String::new(),
            homepage: String::new(),
            config: Vec::new(),
            allowed_hosts: Vec::new(),
            default_ttl: 60,
            min_ttl: 0,
        },
        cli: Vec::new(),
        file: BTreeMap::new(),
        env: BTreeMap::new(),
        files: BTreeMap::new(),
        operator: Vec::new(),
        urls: Vec::new(),
    };
    for line in text.lines() {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let kv = |s: &str| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .unwrap_or_else(|| (s.to_string(), String::new()))
        };
        match word {
            "name" => input.meta.name = rest.to_string(),
            "version" => input.meta.version = rest.to_string(),
            "description" => input.meta.description = rest.to_string(),
            "homepage" => input.meta.homepage = rest.to_string(),
            "ttl" => {
                let mut n = rest.split(' ').map(|t| t.parse::<u32>().unwrap_or(0));
                input.meta.default_ttl = n.next().unwrap_or(0);
                input.meta.min_ttl = n.next().unwrap_or(0);
            }
            "field" => {
                let mut tokens = rest.split(' ');
                let mut field = ConfigField {
                    name: tokens.next().unwrap_or("").to_string(),
                    description: String::new(),
                    required: false,
                    secret: false,
                    default: None,
                    env_aliases: Vec::new(),
                };
                for t in tokens {
                    match t.split_once('=') {
                        Some(("default", v)) => field.default = Some(v.to_string()),
                        Some(("alias", v)) => field.env_aliases.push(v.to_string()),
                        _ if t == "required" => field.required = true,
                        _ if t == "secret" => field.secret = true,
                        _ => field.description.push_str(t),
                    }
                }
                input.meta.config.push(field);
            }
            "allow" => input.meta.allowed_hosts.push(rest.to_string()),
            "cli" => {
                if let Ok(pair) = parse_pair(rest) {
                    assert!(!pair.0.is_empty() && rest.ends_with(pair.1.as_str()));
                    input.cli.push(pair);
                }
            }
            "file" => {
                let (k, v) = kv(rest);
                input.file.insert(k, v);
            }
            "env" => {
                let (k, v) = kv(rest);
                input.env.insert(k, v);
            }
            "readfile" => {
                let (k, v) = kv(rest);
                input.files.insert(k, v);
            }
            "operator" => input.operator.push(rest.to_string()),
            "url" => input.urls.push(rest.to_string()),
            _ => {}
        }
    }
    input
}

/// Patterns print as something that parses back to the same pattern.
fn check_pattern_round_trip(p: &OriginPattern) {
    let shown = p.to_string();
    match OriginPattern::parse(&shown, true) {
        Ok(again) => assert_eq!(&again, p, "{shown:?} parses to another pattern"),
        Err(e) => panic!("the pattern {p:?} prints as {shown:?}, which does not parse: {e}"),
    }
}

fn check_validated(meta: &PluginMetadata) {
    let name = meta.name.as_bytes();
    assert!((1..=32).contains(&name.len()), "{:?}", meta.name);
    assert!(name[0].is_ascii_alphanumeric(), "{:?}", meta.name);
    assert!(
        name.iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-'),
        "{:?}",
        meta.name
    );
    assert!(meta.min_ttl <= meta.default_ttl);
    for field in &meta.config {
        assert_eq!(field.name, normalize_key(&field.name));
        assert!(!(field.required && field.default.is_some()));
    }
    for entry in &meta.allowed_hosts {
        if let Some(key) = template_key(entry) {
            assert!(meta.config.iter().any(|f| f.name == key), "{entry:?}");
        } else {
            let p = OriginPattern::parse(entry, false)
                .unwrap_or_else(|e| panic!("validated entry {entry:?} does not parse: {e}"));
            assert!(p.to_string().starts_with("https://"), "{entry:?} -> {p}");
        }
    }
    // With no config values, templates add nothing and static entries parse.
    if let Err(e) = AllowList::build(&meta.allowed_hosts, &ResolvedConfig::default(), &[]) {
        panic!("validated metadata builds no allowlist: {e}");
    }
}

fn check_config(meta: &PluginMetadata, valid: bool, config: &ResolvedConfig) {
    for (key, value) in config.pairs() {
        assert!(
            meta.config.iter().any(|f| f.name == key),
            "undeclared key {key:?}"
        );
        assert!(!value.is_empty(), "empty value for {key:?}");
        assert!(config.origin(&key).is_some());
        assert_eq!(config.get(&key), Some(value.as_str()));
    }
    for field in &meta.config {
        if field.required {
            assert!(
                config.get(&field.name).is_some(),
                "{:?} missing",
                field.name
            );
        }
    }
    if !valid {
        // Duplicate keys make "the field of a key" ambiguous.
        return;
    }
    let mut secrets = config.secrets();
    secrets.sort();
    // The secret values: those of the fields marked secret.
    let mut want: Vec<String> = config
        .pairs()
        .into_iter()
        .filter(|(k, _)| {
            meta.config
                .iter()
                .find(|f| &f.name == k)
                .is_some_and(|f| f.secret)
        })
        .map(|(_, v)| v)
        .collect();
    want.sort();
    assert_eq!(secrets, want);
}

/// Whether a pattern is a `*.suffix` one (its fields are private).
fn is_wildcard(p: &OriginPattern) -> bool {
    format!("{p:?}").contains("Subdomains(")
}

/// A pattern as the model sees it: how it prints, and whether it is a
/// wildcard.
fn model(patterns: &[OriginPattern]) -> Vec<(String, bool)> {
    patterns
        .iter()
        .map(|p| (p.to_string(), is_wildcard(p)))
        .collect()
}

/// The origin keys a URL could be allowed under: its exact normalised
/// origin, and every `*.suffix` of its host name.
fn origin_keys(url: &Url) -> (String, Vec<String>) {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let scheme = url.scheme();
    let Some(host) = url.host_str() else {
        return (String::new(), Vec::new());
    };
    let host = match url.host() {
        Some(Host::Domain(_)) => host.strip_suffix('.').unwrap_or(host).to_string(),
        // IPv4-mapped IPv6 addresses print in dotted form (`::ffff:1.2.3.4`).
        Some(Host::Ipv6(ip)) => format!("[{ip}]"),
        _ => host.to_string(),
    };
    let exact = format!("{scheme}://{host}{port}");
    let mut wildcards = Vec::new();
    if matches!(url.host(), Some(Host::Domain(_))) {
        for (i, _) in host.match_indices('.') {
            if i > 0 && i + 1 < host.len() {
                wildcards.push(format!("{scheme}://*.{}{port}", &host[i + 1..]));
            }
        }
    }
    (exact, wildcards)
}

fn check_decision(list: &AllowList, operator: &[OriginPattern], url: &Url) {
    let result = list.check(url);
    let plugin = model(list.origins());
    let operator = model(operator);
    let (exact, wildcards) = origin_keys(url);
    let covers = |patterns: &[(String, bool)]| {
        patterns.iter().any(|(shown, wildcard)| {
            if *wildcard {
                wildcards.contains(shown)
            } else {
                *shown == exact
            }
        })
    };
    let userinfo = !url.username().is_empty() || url.password().is_some();
    let in_plugin = covers(&plugin);
    let in_operator = operator.is_empty() || covers(&operator);
    let model = !userinfo && matches!(url.scheme(), "http" | "https") && in_plugin && in_operator;
    match result {
        Ok(()) => assert!(
            model,
            "{url} (origin {}) is allowed; plugin origins {plugin:?}, operator {operator:?}",
            origin_of(url)
        ),
        Err(denied) => {
            assert!(
                !model,
                "{url} is denied ({}); plugin origins {plugin:?}, operator {operator:?}",
                denied.0
            );
            assert!(!denied.0.is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let input = parse_input(&text);
    let meta = &input.meta;

    let valid = meta.validate();
    match &valid {
        Ok(()) => check_validated(meta),
        Err(message) => assert!(!message.is_empty()),
    }
    let _ = meta.secret_keys().count();

    for entry in meta.allowed_hosts.iter().chain(&input.operator) {
        for allow_http in [false, true] {
            if let Ok(p) = OriginPattern::parse(entry, allow_http) {
                check_pattern_round_trip(&p);
            }
        }
    }

    // Config resolution from the command line, a config file, the
    // environment and `*_FILE` files.
    let env = |k: &str| input.env.get(k).cloned();
    let read = |p: &Path| {
        input
            .files
            .get(p.to_string_lossy().as_ref())
            .cloned()
            .ok_or_else(|| std::io::Error::other("no such file"))
    };
    let sources = Sources {
        cli: &input.cli,
        file: &input.file,
        env: &env,
        read_file: &read,
    };
    let config = match sources.resolve(meta) {
        Ok(config) => {
            check_config(meta, valid.is_ok(), &config);
            for (_, value) in config.pairs() {
                for allow_http in [false, true] {
                    if let Ok(p) = OriginPattern::from_configured_url(&value, allow_http) {
                        check_pattern_round_trip(&p);
                    }
                }
            }
            config
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            ResolvedConfig::default()
        }
    };

    // Secrets never get through the redactor.
    let redactor = Redactor::new(config.secrets());
    for secret in config.secrets() {
        let probe = format!("token={secret}&x={secret}{secret} {text}");
        let out = redactor.redact(&probe);
        if secret.chars().count() >= 4 && !secret.chars().any(|c| "[]REDACT".contains(c)) {
            assert!(!out.contains(&secret), "{secret:?} survives in {out:?}");
            assert!(out.contains(REDACTED));
        }
    }

    // The allowlist decision.
    let operator_patterns: Option<Vec<OriginPattern>> = input
        .operator
        .iter()
        .map(|e| OriginPattern::parse(e, true).ok())
        .collect();
    match AllowList::build(&meta.allowed_hosts, &config, &input.operator) {
        Ok(list) => {
            let operator = operator_patterns.expect("the operator list parsed in build");
            for p in list.origins() {
                check_pattern_round_trip(p);
                if p.to_string().starts_with("http://") {
                    // Plain http only from a template the operator configured.
                    assert!(
                        meta.allowed_hosts.iter().any(|e| template_key(e)
                            .and_then(|k| config.origin(k))
                            .is_some_and(|o| o != Origin::Default)),
                        "{p} allowed without an operator-configured template"
                    );
                }
            }
            for raw in &input.urls {
                if let Ok(url) = Url::parse(raw) {
                    check_decision(&list, &operator, &url);
                }
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
