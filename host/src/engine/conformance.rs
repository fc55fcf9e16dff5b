//! The provider conformance suite behind `wacme plugin test`: a standard
//! battery of `present`/`cleanup` calls against a live zone, each checked
//! through DNS, the way `wacme issue` checks propagation.
//!
//! Cases, in order (names are stable, for `--output json` consumers):
//! - `metadata`: declared hosts usable with this config, secret-looking
//!   fields marked secret, TTLs consistent;
//! - `present-one`: one value on a fresh name is served;
//! - `present-second`: a second value on the same name, presented alone, is
//!   served next to the first (apex + wildcard need this);
//! - `present-again`: presenting both again succeeds, each served once;
//! - `cleanup-one`: removing the first value keeps the second;
//! - `cleanup-again`: removing it again succeeds and changes nothing;
//! - `cleanup-last`: removing the second value leaves the name empty;
//! - `deep-name`: a name two labels below the zone, presented and removed;
//! - `unowned-zone`: a zone the account cannot hold gives a clean provider
//!   error (zone-not-found preferred), not success, a trap or a timeout.
//!
//! Names carry a random label, so runs never collide with real challenge
//! records or each other; every value is removed at the end whatever failed.
//! DNS checks ask every authoritative nameserver of the zone directly
//! (recursion off, on the configured port), or the resolvers in
//! `recursive` mode, and poll until the expectation holds or the timeout
//! passes.

use crate::dns01::dns::DnsConfig;
use crate::dns01::propagation::{self, Expectation, Mode, Nameserver, PropagationError};
use crate::dns01::solver::call_with_retries;
use crate::dns01::zone::ZoneFinder;
use crate::error::InputError;
use crate::plugins::{self, ProviderErrorKind, Session, TxtSet};
use base64::Engine as _;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Where the DNS checks look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckMode {
    /// Every nameserver of the zone, directly.
    Authoritative,
    /// The configured resolvers.
    Recursive,
}

/// How to run the battery.
#[derive(Debug, Clone)]
pub struct Options {
    /// The live zone to test in (e.g. `example.com`).
    pub zone: String,
    /// TTL of the test records; the plugin's default when `None`.
    pub ttl: Option<u32>,
    pub mode: CheckMode,
    /// How long one DNS expectation may take to hold.
    pub timeout: Duration,
    /// Retries of a retryable provider error, as `wacme issue` does.
    pub retries: u32,
}

/// One case's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: &'static str,
    pub description: &'static str,
    pub passed: bool,
    /// What was seen (the failure, or a note on a pass).
    pub detail: String,
    pub duration_ms: u64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub plugin: String,
    pub version: String,
    pub zone: String,
    pub check: CheckMode,
    /// The servers asked.
    pub servers: Vec<String>,
    /// The record names used.
    pub names: Vec<String>,
    pub cases: Vec<CaseResult>,
    pub passed: usize,
    pub failed: usize,
    /// Problems removing the test values at the end (empty when clean).
    pub leftovers: Vec<String>,
}

impl Report {
    pub fn success(&self) -> bool {
        self.failed == 0 && !self.cases.is_empty()
    }

    /// The text form: one line per case, then a summary.
    pub fn text(&self) -> String {
        let mut out = format!(
            "conformance of {} {} in zone {} (checked on {})\n",
            self.plugin,
            self.version,
            self.zone,
            if self.servers.is_empty() {
                "no servers".to_string()
            } else {
                self.servers.join(", ")
            }
        );
        for c in &self.cases {
            out.push_str(&format!(
                "  {} {:<15} {} ({} ms)\n",
                if c.passed { "PASS" } else { "FAIL" },
                c.name,
                c.description,
                c.duration_ms
            ));
            if !c.detail.is_empty() {
                for line in c.detail.lines() {
                    out.push_str(&format!("       {line}\n"));
                }
            }
        }
        for l in &self.leftovers {
            out.push_str(&format!("  warning: {l}\n"));
        }
        out.push_str(&format!("{} passed, {} failed\n", self.passed, self.failed));
        out
    }
}

/// Names whose values must be secret: they hold credentials.
fn looks_secret(field: &str) -> bool {
    let f = field.to_ascii_lowercase();
    let credential = ["secret", "token", "password", "passwd", "key"]
        .iter()
        .any(|w| f.contains(w));
    // Names of things, and addresses (`token_uri`: where to get a token).
    let identifier = ["_id", "email", "_name", "_url", "_uri"]
        .iter()
        .any(|end| f.ends_with(end));
    credential && !identifier
}

/// A random DNS-safe label suffix and a challenge-like value.
fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

fn random_value() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

struct Runner<'a> {
    session: &'a Session,
    dns: &'a DnsConfig,
    options: &'a Options,
    servers: Result<Vec<Nameserver>, String>,
    ttl: u32,
}

/// Runs the battery with `session` (a plugin bound to its config).
pub async fn run(session: &Session, dns: &DnsConfig, options: &Options) -> Report {
    let meta = session.plugin().metadata();
    let zone = options.zone.trim_end_matches('.').to_ascii_lowercase();
    let ttl = options.ttl.unwrap_or(meta.default_ttl).max(meta.min_ttl);
    let mode = match options.mode {
        CheckMode::Authoritative => Mode::Authoritative,
        CheckMode::Recursive => Mode::Recursive,
    };
    let finder = ZoneFinder::new(dns.clone(), None, false);
    let servers = propagation::servers(dns, &finder, &zone, mode)
        .await
        .map_err(|e| format!("cannot find the servers to ask about {zone}: {e}"));
    let runner = Runner {
        session,
        dns,
        options,
        servers,
        ttl,
    };
    let id = random_hex(4);
    let n1 = format!("_wacme-test-{id}.{zone}");
    let n2 = format!("_acme-challenge.wacme-test-{id}.{zone}");
    let (v1, v2, v3) = (random_value(), random_value(), random_value());
    let set = |fqdn: &str, values: &[&str]| TxtSet {
        zone: zone.clone(),
        fqdn: fqdn.to_string(),
        relative_name: crate::dns01::zone::relative(fqdn, &zone),
        values: values.iter().map(|v| v.to_string()).collect(),
        ttl,
    };

    let mut cases = Vec::new();
    let mut case = |name, description, outcome: Result<String, String>, started: Instant| {
        let (passed, detail) = match outcome {
            Ok(note) => (true, note),
            Err(e) => (false, e),
        };
        cases.push(CaseResult {
            name,
            description,
            passed,
            detail,
            duration_ms: started.elapsed().as_millis() as u64,
        });
    };

    let t = Instant::now();
    case(
        "metadata",
        "declared hosts, secret fields and TTLs are sane",
        runner.metadata(),
        t,
    );

    let t = Instant::now();
    let r = runner.step(true, &set(&n1, &[&v1]), &[&v1], &[]).await;
    case("present-one", "one value on a fresh name is served", r, t);

    let t = Instant::now();
    let r = runner.step(true, &set(&n1, &[&v2]), &[&v1, &v2], &[]).await;
    case(
        "present-second",
        "a second value on the same name is served next to the first",
        r,
        t,
    );

    let t = Instant::now();
    let r = runner
        .step(true, &set(&n1, &[&v1, &v2]), &[&v1, &v2], &[])
        .await;
    case(
        "present-again",
        "presenting again succeeds (idempotent)",
        r,
        t,
    );

    let t = Instant::now();
    let r = runner.step(false, &set(&n1, &[&v1]), &[&v2], &[&v1]).await;
    case("cleanup-one", "removing one value keeps the other", r, t);

    let t = Instant::now();
    let r = runner.step(false, &set(&n1, &[&v1]), &[&v2], &[&v1]).await;
    case(
        "cleanup-again",
        "removing it again succeeds (idempotent)",
        r,
        t,
    );

    let t = Instant::now();
    let r = runner
        .step(false, &set(&n1, &[&v2]), &[], &[&v1, &v2])
        .await;
    case(
        "cleanup-last",
        "removing the last value empties the name",
        r,
        t,
    );

    let t = Instant::now();
    let r = match runner.step(true, &set(&n2, &[&v3]), &[&v3], &[]).await {
        Ok(_) => runner.step(false, &set(&n2, &[&v3]), &[], &[&v3]).await,
        Err(e) => Err(e),
    };
    case(
        "deep-name",
        "a name two labels below the zone is presented and removed",
        r,
        t,
    );

    let t = Instant::now();
    let r = runner.unowned(&id).await;
    case(
        "unowned-zone",
        "a zone the account does not hold gives a clean error",
        r,
        t,
    );

    // Whatever happened above, take every test value away.
    let mut leftovers = Vec::new();
    for s in [set(&n1, &[&v1, &v2]), set(&n2, &[&v3])] {
        if let Err(e) = call_with_retries(session, &s, false, options.retries).await {
            leftovers.push(format!("final cleanup of {} failed: {e}", s.fqdn));
        }
    }

    let passed = cases.iter().filter(|c| c.passed).count();
    Report {
        plugin: meta.name.clone(),
        version: meta.version.clone(),
        zone,
        check: options.mode,
        servers: match &runner.servers {
            Ok(s) => s
                .iter()
                .flat_map(|ns| ns.addresses.iter().map(|a| a.label.clone()))
                .collect(),
            Err(_) => Vec::new(),
        },
        names: vec![n1, n2],
        failed: cases.len() - passed,
        passed,
        cases,
        leftovers,
    }
}

/// Loads the plugin `dns.plugin` with its config (`dns.config` pairs, then
/// the environment) and runs the battery in `options.zone`.
pub async fn test_plugin(
    engine: &super::Engine,
    dns: &super::DnsOptions,
    options: &Options,
) -> Result<Report, super::Error> {
    async {
        let pairs = dns.config_pairs()?;
        let resolvers = dns.dns_config()?;
        let zone = crate::names::parse_domain(&options.zone)?;
        if zone.is_wildcard() {
            return Err(
                InputError(format!("--zone {} must not be a wildcard", options.zone)).into(),
            );
        }
        let plugin = engine.load_plugin(&dns.plugins, dns.plugin_arg()?).await?;
        let config = engine.resolve_config(&plugin, &pairs, &std::collections::BTreeMap::new())?;
        let session = plugin.session(&config, &dns.plugins.plugin_allow)?;
        let options = Options {
            zone: zone.name.clone(),
            ..options.clone()
        };
        anyhow::Ok(run(&session, &resolvers, &options).await)
    }
    .await
    .map_err(super::Error::from)
}

impl Runner<'_> {
    fn metadata(&self) -> Result<String, String> {
        let m = self.session.plugin().metadata();
        let mut problems = Vec::new();
        if let Err(e) = m.validate() {
            problems.push(e);
        }
        if m.allowed_hosts.is_empty() && m.dns_servers.is_empty() {
            problems.push(
                "it declares no allowed hosts and no DNS servers, so it cannot reach any API"
                    .into(),
            );
        } else if self.session.allowed_origins().is_empty() && self.session.dns_servers().is_empty()
        {
            let declared: Vec<&str> = m
                .allowed_hosts
                .iter()
                .chain(&m.dns_servers)
                .map(String::as_str)
                .collect();
            problems.push(format!(
                "none of its allowed hosts and DNS servers ({}) applies with this config",
                declared.join(", ")
            ));
        }
        for f in &m.config {
            if looks_secret(&f.name) && !f.secret {
                problems.push(format!(
                    "config field `{}` looks like a credential but is not marked secret",
                    f.name
                ));
            }
            if f.secret && f.default.is_some() {
                problems.push(format!("secret field `{}` has a default value", f.name));
            }
        }
        if m.default_ttl == 0 {
            problems.push("default TTL is 0".into());
        }
        if problems.is_empty() {
            let mut reach = Vec::new();
            if !m.allowed_hosts.is_empty() {
                reach.push(format!(
                    "allowed origins with this config: {}",
                    self.session.allowed_origins().join(", ")
                ));
            }
            if !m.dns_servers.is_empty() {
                reach.push(format!(
                    "DNS servers with this config: {}",
                    self.session.dns_servers().join(", ")
                ));
            }
            Ok(format!(
                "{}; secret fields: {}",
                reach.join("; "),
                m.secret_keys().collect::<Vec<_>>().join(", ")
            ))
        } else {
            Err(problems.join("\n"))
        }
    }

    /// One call, then waits until every server shows `present` and none of
    /// `absent`.
    async fn step(
        &self,
        present: bool,
        set: &TxtSet,
        shown: &[&str],
        absent: &[&str],
    ) -> Result<String, String> {
        let op = if present { "present" } else { "cleanup" };
        call_with_retries(self.session, set, present, self.options.retries)
            .await
            .map_err(|e| format!("{op} of {} value(s) on {}: {e}", set.values.len(), set.fqdn))?;
        self.expect(&set.fqdn, shown, absent).await
    }

    async fn expect(&self, fqdn: &str, shown: &[&str], absent: &[&str]) -> Result<String, String> {
        let servers = self.servers.as_ref().map_err(Clone::clone)?;
        let strings = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let expectation = Expectation {
            fqdn: fqdn.to_string(),
            zone: self.options.zone.clone(),
            values: strings(shown),
            absent: strings(absent),
            once: true,
        };
        match propagation::check(
            self.dns,
            servers,
            &[expectation],
            false,
            self.options.timeout,
        )
        .await
        {
            Ok(_) => Ok(String::new()),
            Err(PropagationError::Timeout { lagging, .. }) => {
                let want = |v: &[&str]| {
                    if v.is_empty() {
                        "nothing".to_string()
                    } else {
                        v.iter()
                            .map(|x| format!("\"{x}\""))
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                };
                let mut msg = format!(
                    "{fqdn} TXT should show {} and not {} (each once); after {:.1} s:",
                    want(shown),
                    want(absent),
                    self.options.timeout.as_secs_f64()
                );
                for l in lagging {
                    msg.push_str(&format!("\n{} answered {}", l.server, l.answered));
                }
                Err(msg)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn unowned(&self, id: &str) -> Result<String, String> {
        let zone = format!("wacme-conformance-{id}.invalid");
        let fqdn = format!("_acme-challenge.{zone}");
        let set = TxtSet {
            zone: zone.clone(),
            fqdn: fqdn.clone(),
            relative_name: "_acme-challenge".into(),
            values: vec![random_value()],
            ttl: self.ttl,
        };
        match self.session.present(&set).await {
            Ok(()) => {
                let _ = self.session.cleanup(&set).await;
                Err(format!(
                    "present in {zone}, a zone no account can hold, reported success"
                ))
            }
            Err(plugins::Error::Provider { error, .. }) => match error.kind {
                ProviderErrorKind::ZoneNotFound => Ok(format!("zone-not-found: {}", error.message)),
                ProviderErrorKind::Permanent | ProviderErrorKind::Authentication => Ok(format!(
                    "{error} (zone-not-found would tell the operator more)"
                )),
                _ => Err(format!("expected zone-not-found, got {error}")),
            },
            Err(e) => Err(format!("expected a provider error, got: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names() {
        for s in [
            "api_token",
            "api_key",
            "access_key_secret",
            "password",
            "tsig_key",
        ] {
            assert!(looks_secret(s), "{s}");
        }
        for s in [
            "access_key_id",
            "email",
            "endpoint",
            "zone_id",
            "ttl",
            "key_name",
            "token_uri",
            "oauth_token_url",
        ] {
            assert!(!looks_secret(s), "{s}");
        }
    }

    #[test]
    fn values_look_like_challenges() {
        let v = random_value();
        assert_eq!(v.len(), 43);
        assert_ne!(v, random_value());
        assert_eq!(random_hex(4).len(), 8);
    }

    #[test]
    fn report_text_and_success() {
        let report = Report {
            plugin: "p".into(),
            version: "1".into(),
            zone: "example.test".into(),
            check: CheckMode::Authoritative,
            servers: vec!["ns1 (127.0.0.1:53)".into()],
            names: vec![],
            cases: vec![
                CaseResult {
                    name: "present-one",
                    description: "d",
                    passed: true,
                    detail: String::new(),
                    duration_ms: 3,
                },
                CaseResult {
                    name: "present-second",
                    description: "d2",
                    passed: false,
                    detail: "x answered \"b\"".into(),
                    duration_ms: 4,
                },
            ],
            passed: 1,
            failed: 1,
            leftovers: vec![],
        };
        assert!(!report.success());
        let text = report.text();
        assert!(text.contains("PASS present-one"), "{text}");
        assert!(text.contains("FAIL present-second"), "{text}");
        assert!(text.ends_with("1 passed, 1 failed\n"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["cases"][1]["passed"], false);
        assert_eq!(json["check"], "authoritative");
    }
}
