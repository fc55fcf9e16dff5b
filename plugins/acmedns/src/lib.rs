//! The acme-dns provider (`--dns acmedns`): publishes ACME challenge values
//! through an acme-dns server (https://github.com/joohoi/acme-dns).
//!
//! acme-dns serves one TXT name per account, `<subdomain>.<its zone>` (the
//! account's `fulldomain`), and keeps the two values written last. Setup,
//! once per domain: register an account (`POST /register`), then CNAME
//! `_acme-challenge.<domain>` to the account's `fulldomain`. wacme follows
//! that CNAME by default, so the name it hands this plugin is the
//! `fulldomain`; the plugin finds the account by it (or by
//! `_acme-challenge.<domain>` when CNAMEs are not followed).
//!
//! `present` writes each value with `POST {server}/update`
//! (`X-Api-User`, `X-Api-Key`, `{"subdomain","txt"}`). Apex and wildcard
//! need two values on one name: exactly what acme-dns keeps. More than two
//! cannot be served at once and is refused.
//!
//! `cleanup` removes nothing: acme-dns has no delete. The values stay until
//! the next run's updates displace them; they are spent challenge answers,
//! worthless to anyone. The plugin says so in its log.
//!
//! Accounts come from `accounts`, a JSON object mapping each domain to
//! `{username, password, subdomain, fulldomain, server_url}` (lego's
//! `ACME_DNS_STORAGE_PATH` file has this shape; give its path as
//! `WACME_ACMEDNS_ACCOUNTS_FILE` or `ACME_DNS_STORAGE_PATH_FILE`), or from
//! the single-account fields `username`/`password`/`subdomain` (acme.sh's
//! `ACMEDNS_*`). Passwords and usernames never appear in a message or log.

use serde::Deserialize;
use std::collections::BTreeMap;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, url,
};

/// The public acme-dns instance, acme.sh's default.
pub const DEFAULT_API_BASE: &str = "https://auth.acme-dns.io";
/// acme-dns answers every TXT query with TTL 1; the record TTL is not ours
/// to set.
pub const DEFAULT_TTL: u32 = 1;
pub const MIN_TTL: u32 = 1;
/// Values acme-dns keeps per account.
pub const KEPT_VALUES: usize = 2;

pub struct AcmeDns;

#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(AcmeDns);

impl Provider for AcmeDns {
    fn metadata() -> Metadata {
        Metadata {
            name: "acmedns".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "acme-dns: one account per domain; CNAME _acme-challenge.<domain> to \
                          the account's fulldomain (wacme follows CNAMEs by default). acme-dns \
                          keeps the two latest values and has no delete, so cleanup removes \
                          nothing"
                .into(),
            homepage: "https://github.com/joohoi/acme-dns".into(),
            config: vec![
                ConfigField::new(
                    "accounts",
                    "JSON object: domain -> {username, password, subdomain, fulldomain, \
                     server_url} (lego's ACME_DNS_STORAGE_PATH file: pass its path as \
                     ACME_DNS_STORAGE_PATH_FILE or WACME_ACMEDNS_ACCOUNTS_FILE). CNAME \
                     _acme-challenge.<domain> to each fulldomain",
                )
                .secret()
                .env(&["ACME_DNS_STORAGE_PATH"]),
                ConfigField::new(
                    "api_base",
                    "acme-dns server URL (the one origin the plugin may reach)",
                )
                .default(DEFAULT_API_BASE)
                .env(&["ACME_DNS_API_BASE", "ACMEDNS_BASE_URL"]),
                ConfigField::new("username", "Single account: X-Api-User")
                    .secret()
                    .env(&["ACMEDNS_USERNAME"]),
                ConfigField::new("password", "Single account: X-Api-Key")
                    .secret()
                    .env(&["ACMEDNS_PASSWORD"]),
                ConfigField::new("subdomain", "Single account: its subdomain")
                    .env(&["ACMEDNS_SUBDOMAIN"]),
                ConfigField::new(
                    "fulldomain",
                    "Single account: its fulldomain, the CNAME target of \
                     _acme-challenge.<domain>",
                ),
            ],
            allowed_hosts: vec!["{api_base}".into()],
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            // acme-dns has no delete; it keeps the two values written last.
            hints: wacme_plugin_sdk::Hints {
                can_delete: false,
                max_values_per_name: Some(2),
                ..Default::default()
            },
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let setup = Setup::from_config(config)?;
        let (domain, account) = setup.account_for(&set.fqdn)?;
        let mut values: Vec<&String> = Vec::new();
        for v in &set.values {
            if !values.contains(&v) {
                values.push(v);
            }
        }
        if values.len() > KEPT_VALUES {
            return Err(Error::Permanent(format!(
                "{} needs {} values at once, and acme-dns keeps only {KEPT_VALUES} per account \
                 ({domain}); issue fewer names for that domain per order",
                set.fqdn,
                values.len()
            )));
        }
        let update = setup.update_url(domain, account)?;
        for value in values {
            let body = serde_json::json!({"subdomain": account.subdomain, "txt": value});
            let response = Request::post(&update)
                .header("x-api-user", &account.username)
                .header("x-api-key", &account.password)
                .header("accept", "application/json")
                .json(&body)
                .send()?;
            check_update(&response, value, domain)?;
        }
        log::debug(&format!(
            "{}: updated the acme-dns account of {domain}",
            set.fqdn
        ));
        Ok(())
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let setup = Setup::from_config(config)?;
        let whose = match setup.account_for(&set.fqdn) {
            Ok((domain, _)) => format!("the account of {domain}"),
            Err(_) => "no configured account".to_string(),
        };
        log::info(&format!(
            "{}: nothing to remove ({whose}): acme-dns has no delete and keeps the two values \
             written last; the next update displaces these spent challenge values",
            set.fqdn
        ));
        Ok(())
    }
}

/// One acme-dns account, as lego's storage file and `/register` hold it.
/// No `Debug`: it holds the credentials.
#[derive(Clone, Deserialize, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    pub password: String,
    pub subdomain: String,
    #[serde(default)]
    pub fulldomain: String,
    #[serde(default)]
    pub server_url: String,
}

/// The resolved configuration: the server and the accounts by domain.
pub struct Setup {
    pub api_base: String,
    /// Domain (lower case, no trailing dot, no `*.`) → account. The empty
    /// key is the single account given field by field.
    pub accounts: BTreeMap<String, Account>,
}

fn normalize(name: &str) -> String {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    name.strip_prefix("*.").map(str::to_string).unwrap_or(name)
}

/// Parses the `accounts` JSON. Errors name the position only, never a
/// value: the document holds passwords.
pub fn parse_accounts(json: &str) -> Result<BTreeMap<String, Account>> {
    if !json.trim_start().starts_with('{') {
        return Err(Error::InvalidConfig(
            "`accounts` is not a JSON object. If it names a file (as lego's \
             ACME_DNS_STORAGE_PATH does), pass the path as ACME_DNS_STORAGE_PATH_FILE or \
             WACME_ACMEDNS_ACCOUNTS_FILE instead, so wacme reads the file"
                .into(),
        ));
    }
    let raw: BTreeMap<String, Account> = serde_json::from_str(json).map_err(|e| {
        Error::InvalidConfig(format!(
            "`accounts` is not a JSON object of domain -> {{username, password, subdomain, \
             fulldomain, server_url}} ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    let mut accounts = BTreeMap::new();
    for (domain, account) in raw {
        let key = normalize(&domain);
        if key.is_empty() {
            return Err(Error::InvalidConfig(
                "`accounts` has an empty domain".into(),
            ));
        }
        if account.username.is_empty()
            || account.password.is_empty()
            || account.subdomain.is_empty()
        {
            return Err(Error::InvalidConfig(format!(
                "`accounts`: the account of {key} needs username, password and subdomain"
            )));
        }
        accounts.insert(key, account);
    }
    Ok(accounts)
}

impl Setup {
    pub fn from_config(config: &Config) -> Result<Setup> {
        let api_base = config.get("api_base").unwrap_or(DEFAULT_API_BASE).trim();
        if !api_base.starts_with("https://") && !api_base.starts_with("http://") {
            return Err(Error::InvalidConfig(format!(
                "`api_base` must be an https:// URL, not {api_base:?}"
            )));
        }
        let mut accounts = match config.get("accounts") {
            Some(json) => parse_accounts(json)?,
            None => BTreeMap::new(),
        };
        match (
            config.get("username"),
            config.get("password"),
            config.get("subdomain"),
        ) {
            (Some(username), Some(password), Some(subdomain)) => {
                accounts.insert(
                    String::new(),
                    Account {
                        username: username.into(),
                        password: password.into(),
                        subdomain: subdomain.into(),
                        fulldomain: config.get("fulldomain").map(normalize).unwrap_or_default(),
                        server_url: String::new(),
                    },
                );
            }
            (None, None, None) => {}
            _ => {
                return Err(Error::InvalidConfig(
                    "a single account needs `username`, `password` and `subdomain` together".into(),
                ));
            }
        }
        if accounts.is_empty() {
            return Err(Error::InvalidConfig(
                "no acme-dns account: set `accounts` (domain -> account JSON) or `username`, \
                 `password` and `subdomain`"
                    .into(),
            ));
        }
        Ok(Setup {
            api_base: url::trim_base(api_base).to_string(),
            accounts,
        })
    }

    /// The account serving `fqdn`: the one whose `fulldomain` it is (the
    /// CNAME was followed), else the one of the domain it is
    /// `_acme-challenge.` of, else the single account.
    pub fn account_for(&self, fqdn: &str) -> Result<(&str, &Account)> {
        let fqdn = normalize(fqdn);
        if let Some((d, a)) = self
            .accounts
            .iter()
            .find(|(_, a)| !a.fulldomain.is_empty() && normalize(&a.fulldomain) == fqdn)
        {
            return Ok((label(d), a));
        }
        if let Some(domain) = fqdn.strip_prefix("_acme-challenge.")
            && let Some((d, a)) = self.accounts.get_key_value(domain)
        {
            return Ok((d.as_str(), a));
        }
        if let Some(single) = self.accounts.get("")
            && single.fulldomain.is_empty()
        {
            return Ok((label(""), single));
        }
        Err(Error::ZoneNotFound(format!(
            "no acme-dns account serves {fqdn}: add the domain to `accounts` and CNAME \
             _acme-challenge.<domain> to its fulldomain"
        )))
    }

    /// `{server}/update` for the account: its `server_url` if it has one
    /// (which must be on `api_base`'s origin, the only one the plugin may
    /// reach), else `api_base`.
    pub fn update_url(&self, domain: &str, account: &Account) -> Result<String> {
        let server = url::trim_base(account.server_url.trim());
        if server.is_empty() {
            return Ok(format!("{}/update", self.api_base));
        }
        if origin(server) != origin(&self.api_base) {
            return Err(Error::InvalidConfig(format!(
                "the account of {domain} lives on {}, but `api_base` is {}: set `api_base` to \
                 that server (the plugin may reach only `api_base`)",
                origin(server),
                origin(&self.api_base)
            )));
        }
        Ok(format!("{server}/update"))
    }
}

fn label(domain: &str) -> &str {
    if domain.is_empty() {
        "the single account"
    } else {
        domain
    }
}

/// `scheme://host[:port]`, lower case.
pub fn origin(base: &str) -> String {
    let after = base.find("://").map(|i| i + 3).unwrap_or(0);
    let end = base[after..]
        .find('/')
        .map(|i| after + i)
        .unwrap_or(base.len());
    base[..end].to_ascii_lowercase()
}

/// acme-dns's error body.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
}

/// Checks an `/update` answer: 200 with `{"txt": value}`.
pub fn check_update(response: &Response, value: &str, domain: &str) -> Result<()> {
    if response.is_success() {
        let echoed: Option<String> = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| v["txt"].as_str().map(str::to_string));
        return match echoed {
            Some(t) if t == value => Ok(()),
            _ => Err(Error::Permanent(format!(
                "acme-dns: the update for {domain} answered without the value: {}",
                excerpt(&response.text())
            ))),
        };
    }
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let reason = if body.error.is_empty() {
        excerpt(&response.text())
    } else {
        body.error.clone()
    };
    let message = format!(
        "acme-dns: HTTP {}: {reason} (account of {domain})",
        response.status
    );
    Err(match (response.status, body.error.as_str()) {
        (429, _) => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        }),
        (401 | 403, _) | (_, "forbidden" | "unauthorized") => Error::Authentication(format!(
            "{message}: check the account's username, password and subdomain (and its \
             allowfrom list)"
        )),
        (_, "bad_txt") => Error::Permanent(format!(
            "{message}: acme-dns takes only 43-character ACME challenge values"
        )),
        (_, "bad_subdomain") => Error::InvalidConfig(format!(
            "{message}: the account's subdomain is not a valid acme-dns subdomain"
        )),
        (status, _) => Error::from_status(status, response.header("retry-after"), message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNTS: &str = r#"{
        "example.com": {"username": "c36f50e8-4632-44f0-83fe-e070fef28a10",
                        "password": "htB9mR9DYgcu9bX_afHF62erXaH2TS7bg9KW3F7Z",
                        "subdomain": "1be8df8e-7ee7-4ae5-9b3a-1ba1d8d3d8f6",
                        "fulldomain": "1be8df8e-7ee7-4ae5-9b3a-1ba1d8d3d8f6.auth.acme-dns.io",
                        "server_url": "https://auth.acme-dns.io"},
        "*.other.org": {"username": "u2", "password": "p2-secret", "subdomain": "s2",
                        "fulldomain": "s2.auth.acme-dns.io."}
    }"#;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![("retry-after".into(), "4".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn accounts_by_fulldomain_challenge_name_or_single() {
        let setup = Setup::from_config(&Config::new([("accounts", ACCOUNTS)])).unwrap();
        let (d, a) = setup
            .account_for("1be8df8e-7ee7-4ae5-9b3a-1ba1d8d3d8f6.auth.acme-dns.io")
            .unwrap();
        assert_eq!(d, "example.com");
        assert_eq!(a.subdomain, "1be8df8e-7ee7-4ae5-9b3a-1ba1d8d3d8f6");
        let (d, _) = setup.account_for("_acme-challenge.Example.com.").unwrap();
        assert_eq!(d, "example.com");
        let (d, a) = setup.account_for("s2.auth.acme-dns.io").unwrap();
        assert_eq!((d, a.username.as_str()), ("other.org", "u2"));
        let err = setup
            .account_for("_acme-challenge.unknown.net")
            .err()
            .unwrap();
        assert!(matches!(err, Error::ZoneNotFound(_)));

        let single = Setup::from_config(&Config::new([
            ("username", "u"),
            ("password", "p"),
            ("subdomain", "s"),
        ]))
        .unwrap();
        assert_eq!(
            single.account_for("anything.example").unwrap().0,
            "the single account"
        );
        assert_eq!(single.api_base, DEFAULT_API_BASE);
    }

    #[test]
    fn config_errors_never_show_a_password() {
        for (config, needle) in [
            (
                vec![("accounts", "/root/.lego-acme-dns-accounts.json")],
                "_FILE",
            ),
            (
                vec![(
                    "accounts",
                    r#"{"a.com": {"username": "u", "password": "p4ssw0rd""#,
                )],
                "line",
            ),
            (
                vec![(
                    "accounts",
                    r#"{"a.com": {"username": 5, "password": "p4ssw0rd"}}"#,
                )],
                "column",
            ),
            (
                vec![("username", "u"), ("password", "p4ssw0rd")],
                "together",
            ),
            (vec![], "no acme-dns account"),
            (
                vec![(
                    "accounts",
                    r#"{"a.com": {"username": "u", "password": "p4ssw0rd", "subdomain": ""}}"#,
                )],
                "subdomain",
            ),
        ] {
            let Err(Error::InvalidConfig(m)) = Setup::from_config(&Config::new(config.clone()))
            else {
                panic!("{config:?}")
            };
            assert!(m.contains(needle), "{m}");
            assert!(!m.contains("p4ssw0rd"), "{m}");
        }
    }

    #[test]
    fn server_url_must_share_the_allowed_origin() {
        let setup = Setup::from_config(&Config::new([("accounts", ACCOUNTS)])).unwrap();
        let (d, a) = setup.account_for("_acme-challenge.example.com").unwrap();
        assert_eq!(
            setup.update_url(d, a).unwrap(),
            "https://auth.acme-dns.io/update"
        );
        let elsewhere = Setup::from_config(&Config::new([
            ("accounts", ACCOUNTS),
            ("api_base", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        let (d, a) = elsewhere
            .account_for("_acme-challenge.example.com")
            .unwrap();
        assert!(matches!(
            elsewhere.update_url(d, a),
            Err(Error::InvalidConfig(_))
        ));
        let (d, a) = elsewhere.account_for("_acme-challenge.other.org").unwrap();
        assert_eq!(
            elsewhere.update_url(d, a).unwrap(),
            "http://127.0.0.1:9/update"
        );
    }

    /// Answers as acme-dns's api.go writes them.
    #[test]
    fn update_answers_map_to_wit_cases() {
        let v = "LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtoM";
        assert!(check_update(&response(200, &format!(r#"{{"txt": "{v}"}}"#)), v, "d").is_ok());
        assert!(matches!(
            check_update(&response(200, r#"{"txt": "other"}"#), v, "d"),
            Err(Error::Permanent(_))
        ));
        let Err(Error::Authentication(m)) =
            check_update(&response(401, r#"{"error": "forbidden"}"#), v, "d")
        else {
            panic!("401")
        };
        assert!(m.contains("forbidden"), "{m}");
        assert!(matches!(
            check_update(&response(400, r#"{"error": "bad_txt"}"#), v, "d"),
            Err(Error::Permanent(_))
        ));
        assert!(matches!(
            check_update(&response(400, r#"{"error": "bad_subdomain"}"#), v, "d"),
            Err(Error::InvalidConfig(_))
        ));
        let Err(Error::RateLimited(r)) = check_update(&response(429, ""), v, "d") else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(4));
        assert!(matches!(
            check_update(&response(502, "<html>"), v, "d"),
            Err(Error::Transient(_))
        ));
    }

    #[test]
    fn metadata() {
        let m = AcmeDns::metadata();
        assert_eq!(m.name, "acmedns");
        assert_eq!(m.allowed_hosts, ["{api_base}"]);
        let accounts = m.config.iter().find(|f| f.name == "accounts").unwrap();
        assert!(accounts.secret);
        assert!(
            accounts
                .description
                .contains("CNAME _acme-challenge.<domain>")
        );
        assert!(m.description.contains("CNAME"));
        for (name, alias) in [
            ("username", "ACMEDNS_USERNAME"),
            ("password", "ACMEDNS_PASSWORD"),
        ] {
            let f = m.config.iter().find(|f| f.name == name).unwrap();
            assert!(f.secret, "{name}");
            assert_eq!(f.env_aliases, [alias]);
        }
        let base = m.config.iter().find(|f| f.name == "api_base").unwrap();
        assert_eq!(base.env_aliases, ["ACME_DNS_API_BASE", "ACMEDNS_BASE_URL"]);
    }
}
