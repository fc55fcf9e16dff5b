//! The outbound HTTP allowlist: which origins a plugin may reach.
//!
//! A plugin declares origins in its metadata (`https://api.example.com`,
//! `https://*.example.com`, `https://api.example.com:8443`) or templates
//! naming a config field (`{api_url}`) whose value's origin is allowed. The
//! operator may narrow the list further (`--plugin-allow`). A request is
//! allowed when its scheme, host and port match an entry of the plugin's list
//! **and**, if the operator gave a list, an entry of that list too.
//!
//! Plain `http://` is allowed only through a template whose value the operator
//! configured explicitly (never from a plugin's default, never as a static
//! entry): self-hosted APIs such as PowerDNS are often plain HTTP on a private
//! network, public APIs never are.
//!
//! Matching is on parsed, normalised URLs (the `url` crate's WHATWG parser:
//! lower-case, IDNA-encoded hosts, canonical IP literals), so look-alikes such
//! as `api.example.com.evil.test`, `API.EXAMPLE.COM`, `api.example.com.`,
//! `0x7f.1` or userinfo tricks (`https://api.example.com@evil.test/`) cannot
//! slip through.
//!
//! A match also says whose choice the origin was ([`Reach`]): the operator's
//! (an endpoint they configured, or their `--plugin-allow` list) or the
//! plugin's (a static entry or a default). Only the operator's may connect to
//! non-public addresses (see [`super::net`]).

use std::fmt;
use url::{Host, Url};

/// URL scheme of an allowed origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Https,
    Http,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    /// A normalised host name or IP literal (IPv6 in brackets).
    Exact(String),
    /// `*.suffix`: any name with at least one more label before `suffix`.
    Subdomains(String),
}

/// One allowed origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: Scheme,
    host: HostMatch,
    port: u16,
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            HostMatch::Exact(h) => h.clone(),
            HostMatch::Subdomains(s) => format!("*.{s}"),
        };
        let default_port = match self.scheme {
            Scheme::Https => 443,
            Scheme::Http => 80,
        };
        if self.port == default_port {
            write!(f, "{}://{host}", self.scheme.as_str())
        } else {
            write!(f, "{}://{host}:{}", self.scheme.as_str(), self.port)
        }
    }
}

/// Why an origin pattern or template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("allowed host `{entry}`: {reason}")]
pub struct PatternError {
    pub entry: String,
    pub reason: String,
}

/// Whose choice an allowed origin was, which decides the addresses a
/// request may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The plugin's (a static entry, or a template filled from a default):
    /// public addresses only.
    Public,
    /// The operator's (a template value they gave, or their `--plugin-allow`
    /// list): any address, as for any tool pointed at a local service.
    Operator,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

impl OriginPattern {
    /// Parses a static pattern: `https://host[:port]`, `https://*.domain`,
    /// with nothing after the origin but an optional `/`. `http://` is only
    /// accepted when `allow_http` (operator-given values).
    pub fn parse(entry: &str, allow_http: bool) -> Result<Self, PatternError> {
        let err = |reason: &str| PatternError {
            entry: entry.to_string(),
            reason: reason.to_string(),
        };
        let (wildcard, rest) = match entry.split_once("://*.") {
            Some((scheme, rest)) => (true, format!("{scheme}://{rest}")),
            None => (false, entry.to_string()),
        };
        let url = Url::parse(&rest).map_err(|e| err(&format!("not a URL ({e})")))?;
        let pattern = Self::from_url(&url, allow_http).map_err(|Denied(r)| err(&r))?;
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(err(
                "must be an origin only (scheme, host, optional port), without a path",
            ));
        }
        if !wildcard {
            return Ok(pattern);
        }
        match pattern.host {
            HostMatch::Exact(h)
                if !h.starts_with('[')
                    && h.parse::<std::net::Ipv4Addr>().is_err()
                    && h.contains('.') =>
            {
                Ok(OriginPattern {
                    host: HostMatch::Subdomains(h),
                    ..pattern
                })
            }
            _ => Err(err(
                "a wildcard needs a domain with at least two labels after `*.`",
            )),
        }
    }

    /// The origin of an operator-configured URL (a template's value); its path
    /// is ignored.
    pub fn from_configured_url(value: &str, allow_http: bool) -> Result<Self, Denied> {
        let url = Url::parse(value).map_err(|e| Denied(format!("`{value}` is not a URL ({e})")))?;
        Self::from_url(&url, allow_http)
    }

    fn from_url(url: &Url, allow_http: bool) -> Result<Self, Denied> {
        let scheme = match url.scheme() {
            "https" => Scheme::Https,
            "http" if allow_http => Scheme::Http,
            "http" => {
                return Err(Denied(
                    "plain http:// is only allowed for an endpoint the operator configured explicitly".into(),
                ));
            }
            other => {
                return Err(Denied(format!(
                    "scheme `{other}` is not allowed (https only)"
                )));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Denied(
                "URLs with user information (`user@host`) are not allowed".into(),
            ));
        }
        let host = normalized_host(url)
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Denied("the URL has no host".into()))?;
        if !host.starts_with('[') && host.split('.').any(str::is_empty) {
            return Err(Denied(format!("the host name `{host}` has an empty label")));
        }
        if host.contains('*') {
            // `https:/*.example.com` parses to a host literally named
            // `*.example.com`, which would print like a wildcard.
            return Err(Denied(
                "`*` may only stand as the whole leftmost label, written `https://*.domain`".into(),
            ));
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Denied("the URL has no port".into()))?;
        Ok(OriginPattern {
            scheme,
            host: HostMatch::Exact(host),
            port,
        })
    }

    fn matches(&self, url: &Url) -> bool {
        let scheme_ok = matches!(
            (self.scheme, url.scheme()),
            (Scheme::Https, "https") | (Scheme::Http, "http")
        );
        if !scheme_ok || url.port_or_known_default() != Some(self.port) {
            return false;
        }
        let Some(host) = normalized_host(url) else {
            return false;
        };
        match &self.host {
            HostMatch::Exact(h) => *h == host,
            HostMatch::Subdomains(suffix) => {
                matches!(url.host(), Some(Host::Domain(_)))
                    && host.len() > suffix.len() + 1
                    && host.ends_with(suffix.as_str())
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
            }
        }
    }
}

/// A URL's host as matched: lower case, IDNA, one trailing dot removed, IPv6
/// in brackets.
fn normalized_host(url: &Url) -> Option<String> {
    Some(match url.host()? {
        Host::Domain(d) => d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => format!("[{ip}]"),
    })
}

/// Where template values (`{key}` in an allowed-hosts entry) come from: a
/// key's value, and whether the operator gave it (rather than a plugin
/// default). Implemented by the resolved plugin config.
pub trait TemplateValues {
    fn template_value(&self, key: &str) -> Option<(&str, bool)>;
}

/// The checked list for one plugin with one configuration.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    plugin: Vec<OriginPattern>,
    /// For each entry of `plugin`: whether the operator gave it (a template
    /// whose value they configured).
    operator_given: Vec<bool>,
    operator: Option<Vec<OriginPattern>>,
}

impl AllowList {
    /// Builds the list from the plugin's declared entries (templates filled
    /// from `config`) and the operator's optional narrowing list.
    ///
    /// A template naming a key with no value contributes nothing. A template
    /// value that is not a usable URL is a config error naming the key.
    pub fn build(
        declared: &[String],
        config: &impl TemplateValues,
        operator: &[String],
    ) -> Result<Self, PatternError> {
        let mut plugin = Vec::new();
        let mut operator_given = Vec::new();
        for entry in declared {
            if let Some(key) = template_key(entry) {
                let Some((value, given)) = config.template_value(key) else {
                    continue;
                };
                let pattern = OriginPattern::from_configured_url(value, given).map_err(
                    |Denied(reason)| PatternError {
                        entry: format!("{entry} (config `{key}` = {value})"),
                        reason,
                    },
                )?;
                plugin.push(pattern);
                operator_given.push(given);
            } else {
                plugin.push(OriginPattern::parse(entry, false)?);
                operator_given.push(false);
            }
        }
        let operator = if operator.is_empty() {
            None
        } else {
            Some(
                operator
                    .iter()
                    .map(|e| OriginPattern::parse(e, true))
                    .collect::<Result<Vec<_>, _>>()?,
            )
        };
        Ok(AllowList {
            plugin,
            operator_given,
            operator,
        })
    }

    /// The plugin's effective origins (after templating).
    pub fn origins(&self) -> &[OriginPattern] {
        &self.plugin
    }

    /// Allows or refuses a request to `url`; an allowed one is
    /// [`Reach::Operator`] when it matches an entry the operator gave or the
    /// operator's list, [`Reach::Public`] otherwise.
    pub fn check(&self, url: &Url) -> Result<Reach, Denied> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Denied(
                "URLs with user information (`user@host`) are not allowed".into(),
            ));
        }
        let origin = origin_of(url);
        let matched: Vec<bool> = self
            .plugin
            .iter()
            .zip(&self.operator_given)
            .filter(|(p, _)| p.matches(url))
            .map(|(_, given)| *given)
            .collect();
        if matched.is_empty() {
            let allowed: Vec<String> = self.plugin.iter().map(|p| p.to_string()).collect();
            return Err(Denied(format!(
                "{origin} is not among the plugin's allowed hosts ({})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        match &self.operator {
            Some(operator) if !operator.iter().any(|p| p.matches(url)) => Err(Denied(format!(
                "{origin} is not allowed by the operator's --plugin-allow list"
            ))),
            Some(_) => Ok(Reach::Operator),
            None if matched.contains(&true) => Ok(Reach::Operator),
            None => Ok(Reach::Public),
        }
    }
}

/// `scheme://host[:port]` of a URL, for messages.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The config key of a `{key}` template entry.
pub fn template_key(entry: &str) -> Option<&str> {
    entry.strip_prefix('{')?.strip_suffix('}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::config::{Origin as ValueOrigin, ResolvedConfig};

    fn list(entries: &[&str]) -> AllowList {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        AllowList::build(&entries, &ResolvedConfig::default(), &[]).unwrap()
    }

    fn allowed(list: &AllowList, url: &str) -> bool {
        list.check(&Url::parse(url).unwrap()).is_ok()
    }

    #[test]
    fn exact_origin() {
        let l = list(&["https://api.example.com"]);
        assert!(allowed(&l, "https://api.example.com/v1/zones?x=1"));
        assert!(allowed(&l, "https://API.Example.COM/"));
        assert!(allowed(&l, "https://api.example.com./"), "trailing dot");
        assert!(
            allowed(&l, "https://api.example.com:443/"),
            "explicit default port"
        );
        assert!(!allowed(&l, "http://api.example.com/"), "scheme");
        assert!(!allowed(&l, "https://api.example.com:8443/"), "other port");
        assert!(
            !allowed(&l, "https://api.example.com.evil.test/"),
            "look-alike suffix"
        );
        assert!(!allowed(&l, "https://evilapi.example.com/"));
        assert!(!allowed(&l, "https://example.com/"));
        assert!(!allowed(&l, "ftp://api.example.com/"));
    }

    #[test]
    fn userinfo_is_refused() {
        let l = list(&["https://api.example.com"]);
        // The real host here is evil.test.
        assert!(!allowed(&l, "https://api.example.com@evil.test/"));
        // Even when the host itself is allowed.
        assert!(!allowed(&l, "https://user:pw@api.example.com/"));
        assert!(OriginPattern::parse("https://u@api.example.com", false).is_err());
    }

    #[test]
    fn explicit_ports() {
        let l = list(&["https://api.example.com:8443"]);
        assert!(allowed(&l, "https://api.example.com:8443/x"));
        assert!(!allowed(&l, "https://api.example.com/x"));
    }

    #[test]
    fn wildcards() {
        let l = list(&["https://*.example.com"]);
        assert!(allowed(&l, "https://a.example.com/"));
        assert!(allowed(&l, "https://a.b.example.com/"));
        assert!(
            !allowed(&l, "https://example.com/"),
            "the domain itself is not a subdomain"
        );
        assert!(!allowed(&l, "https://evilexample.com/"));
        assert!(!allowed(&l, "https://a.example.com.evil.test/"));
        assert!(
            OriginPattern::parse("https://*.com", false).is_err(),
            "too broad"
        );
        assert!(OriginPattern::parse("https://*.127.0.0.1", false).is_err());
        // A `*` the URL parser takes as part of an exact host name.
        assert!(OriginPattern::parse("https:/*.example.com", false).is_err());
        assert!(OriginPattern::parse("https:\\*.example.com", false).is_err());
    }

    #[test]
    fn ip_literals_are_canonical() {
        let l = list(&["https://127.0.0.1:8443", "https://[::1]:8443"]);
        assert!(allowed(&l, "https://127.0.0.1:8443/"));
        assert!(
            allowed(&l, "https://0x7f.1:8443/"),
            "hex/short IPv4 forms normalise"
        );
        assert!(allowed(&l, "https://[0:0:0:0:0:0:0:1]:8443/"));
        assert!(!allowed(&l, "https://127.0.0.2:8443/"));
        assert!(
            !allowed(&l, "https://localhost:8443/"),
            "a name is not its address"
        );
    }

    #[test]
    fn idn_hosts_match_their_punycode() {
        let l = list(&["https://bücher.example"]);
        assert!(allowed(&l, "https://xn--bcher-kva.example/"));
        assert!(allowed(&l, "https://BÜCHER.example/"));
    }

    #[test]
    fn static_entries_must_be_https_origins() {
        assert!(OriginPattern::parse("http://api.example.com", false).is_err());
        assert!(
            OriginPattern::parse("https://api.example.com/v1", false).is_err(),
            "paths are not origins"
        );
        assert!(OriginPattern::parse("api.example.com", false).is_err());
        // One trailing dot is the same name; more, or none left, is no name.
        assert_eq!(
            OriginPattern::parse("https://api.example.com./", false).unwrap(),
            OriginPattern::parse("https://api.example.com", false).unwrap()
        );
        assert!(OriginPattern::parse("https://./", false).is_err());
        assert!(OriginPattern::parse("https://a.1../", false).is_err());
        assert!(OriginPattern::parse("https://a..example.com", false).is_err());
        assert!(OriginPattern::parse("https://api.example.com/", false).is_ok());
    }

    #[test]
    fn templates_take_the_origin_of_configured_values() {
        let config = ResolvedConfig::for_tests(&[(
            "api_url",
            "http://127.0.0.1:8081/api/v1",
            ValueOrigin::Cli,
        )]);
        let l = AllowList::build(&["{api_url}".into()], &config, &[]).unwrap();
        assert!(allowed(&l, "http://127.0.0.1:8081/api/v1/servers"));
        assert!(!allowed(&l, "http://127.0.0.1:8082/"));
        assert!(
            !allowed(&l, "https://127.0.0.1:8081/"),
            "scheme is part of the origin"
        );
    }

    #[test]
    fn http_from_a_default_is_refused() {
        let config = ResolvedConfig::for_tests(&[(
            "endpoint",
            "http://api.example.com",
            ValueOrigin::Default,
        )]);
        let err = AllowList::build(&["{endpoint}".into()], &config, &[]).unwrap_err();
        assert!(err.reason.contains("http://"), "{err}");
        let https = ResolvedConfig::for_tests(&[(
            "endpoint",
            "https://api.example.com/v4",
            ValueOrigin::Default,
        )]);
        assert!(AllowList::build(&["{endpoint}".into()], &https, &[]).is_ok());
    }

    #[test]
    fn reach_is_the_operator_only_for_their_own_origins() {
        let reach = |l: &AllowList, u: &str| l.check(&Url::parse(u).unwrap()).unwrap();
        let config = ResolvedConfig::for_tests(&[
            ("api_url", "http://127.0.0.1:8081/api/v1", ValueOrigin::Cli),
            ("endpoint", "https://api.example.net", ValueOrigin::Default),
        ]);
        let declared: Vec<String> = ["{api_url}", "{endpoint}", "https://*.example.com"]
            .map(String::from)
            .into();
        let l = AllowList::build(&declared, &config, &[]).unwrap();
        assert_eq!(reach(&l, "http://127.0.0.1:8081/x"), Reach::Operator);
        assert_eq!(
            reach(&l, "https://api.example.net/"),
            Reach::Public,
            "a default is the plugin's choice"
        );
        assert_eq!(reach(&l, "https://a.example.com/"), Reach::Public);
        // The operator's list makes what it allows the operator's choice.
        let l = AllowList::build(&declared, &config, &["https://*.example.com".into()]).unwrap();
        assert_eq!(reach(&l, "https://a.example.com/"), Reach::Operator);
        // A configured value that is the same origin as a static entry.
        let config = ResolvedConfig::for_tests(&[(
            "endpoint",
            "https://a.example.com",
            ValueOrigin::Env("E".into()),
        )]);
        let l = AllowList::build(&declared, &config, &[]).unwrap();
        assert_eq!(reach(&l, "https://a.example.com/"), Reach::Operator);
        assert_eq!(reach(&l, "https://b.example.com/"), Reach::Public);
    }

    #[test]
    fn missing_template_value_allows_nothing() {
        let l = AllowList::build(&["{api_url}".into()], &ResolvedConfig::default(), &[]).unwrap();
        assert!(!allowed(&l, "https://anything.example/"));
    }

    #[test]
    fn operator_narrows() {
        let declared = vec!["https://*.example.com".to_string()];
        let l = AllowList::build(
            &declared,
            &ResolvedConfig::default(),
            &["https://eu.example.com".into()],
        )
        .unwrap();
        assert!(allowed(&l, "https://eu.example.com/"));
        let denied = l
            .check(&Url::parse("https://us.example.com/").unwrap())
            .unwrap_err();
        assert!(denied.0.contains("--plugin-allow"), "{denied}");
        // The operator cannot widen: an origin outside the plugin's list stays denied.
        let l = AllowList::build(
            &declared,
            &ResolvedConfig::default(),
            &["https://evil.test".into()],
        )
        .unwrap();
        assert!(!allowed(&l, "https://evil.test/"));
    }

    #[test]
    fn denial_names_origin_and_allowed_list() {
        let l = list(&["https://api.example.com"]);
        let denied = l
            .check(&Url::parse("https://evil.test/steal?k=v").unwrap())
            .unwrap_err();
        assert_eq!(
            denied.0,
            "https://evil.test is not among the plugin's allowed hosts (https://api.example.com)"
        );
    }
}
