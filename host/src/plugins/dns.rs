//! The `dns` import's allowlist: which nameservers a plugin may send DNS
//! messages to, and whose choice each one was.
//!
//! A plugin declares entries in its metadata's `dns-servers`:
//!
//! - a server: `ns1.example.com`, `ns1.example.com:5353`, `192.0.2.53`,
//!   `[2001:db8::53]:53` — the plugin's choice, so public addresses only;
//! - a template naming config keys: `{server}`, `{server}:{port}` or
//!   `{server}:53`. The value of `server` is a server as above and may carry
//!   its own port, which wins over a port that only defaulted; a port the
//!   operator gave that disagrees with it is a config error. A template
//!   whose server key has no value contributes nothing.
//!
//! The port is 53 unless something says otherwise. A server is the
//! operator's choice ([`Reach::Operator`]: any address, loopback and private
//! networks included) when its host came from a config value the operator
//! gave; otherwise it is the plugin's ([`Reach::Public`]). Names compare
//! lower case without a trailing dot, IP addresses in canonical form.

use super::policy::{Denied, PatternError, Reach, TemplateValues};
use std::fmt;
use std::net::IpAddr;

/// The port of a server given without one.
pub const DEFAULT_PORT: u16 = 53;

/// A nameserver: host name or IP address, and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Lower case without trailing dot, or a canonical IP address.
    pub host: String,
    pub port: u16,
}

impl Server {
    /// The IP address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip() {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            _ => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

/// Parses `host`, `host:port`, `ip`, `[ipv6]` or `[ipv6]:port` into the
/// normalised host and the port if one was written.
pub fn parse_server(text: &str) -> Result<(String, Option<u16>), String> {
    let text = text.trim();
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("`{p}` is not a port (1–65535)"))
    };
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{text}`: `[` without `]`"))?;
        let ip: std::net::Ipv6Addr = ip
            .parse()
            .map_err(|_| format!("`{ip}` is not an IPv6 address"))?;
        return match after {
            "" => Ok((ip.to_string(), None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((ip.to_string(), Some(port(p)?))),
                None => Err(format!("`{text}`: expected `:port` after `]`")),
            },
        };
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok((ip.to_string(), None));
    }
    let (host, p) = match text.rsplit_once(':') {
        Some((host, p)) => (host, Some(port(p)?)),
        None => (text, None),
    };
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        return Ok((ip.to_string(), p));
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        return Err(format!(
            "`{text}` is not a server (a host name or IP address with an optional port: \
             ns1.example.com, 192.0.2.53:5353, [2001:db8::53]:53)"
        ));
    }
    Ok((name, p))
}

/// One part of an entry: a literal or a config key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part<T> {
    Literal(T),
    Key(String),
}

/// A declared `dns-servers` entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEntry {
    host: Part<(String, Option<u16>)>,
    port: Option<Part<u16>>,
}

impl ServerEntry {
    /// Parses an entry; the error names what is wrong.
    pub fn parse(entry: &str) -> Result<ServerEntry, String> {
        let Some(rest) = entry.strip_prefix('{') else {
            return Ok(ServerEntry {
                host: Part::Literal(parse_server(entry)?),
                port: None,
            });
        };
        let (key, after) = rest
            .split_once('}')
            .ok_or("a template needs `}` after its key")?;
        let port = match after {
            "" => None,
            _ => {
                let p = after
                    .strip_prefix(':')
                    .ok_or("a template is `{key}`, `{key}:{port_key}` or `{key}:port`")?;
                match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(k) => Some(Part::Key(k.to_string())),
                    None => Some(Part::Literal(
                        p.parse::<u16>()
                            .ok()
                            .filter(|p| *p != 0)
                            .ok_or_else(|| format!("`{p}` is not a port (1–65535)"))?,
                    )),
                }
            }
        };
        Ok(ServerEntry {
            host: Part::Key(key.to_string()),
            port,
        })
    }

    /// The config keys the entry names.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        let host = match &self.host {
            Part::Key(k) => Some(k.as_str()),
            Part::Literal(_) => None,
        };
        let port = match &self.port {
            Some(Part::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        host.into_iter().chain(port)
    }

    /// The server this entry allows with `config`, and whose choice it was;
    /// `None` when its server key has no value.
    fn fill(
        &self,
        entry: &str,
        config: &impl TemplateValues,
    ) -> Result<Option<(Server, Reach)>, PatternError> {
        let err = |what: String, reason: String| PatternError {
            entry: format!("{entry} ({what})"),
            reason,
        };
        let ((host, own_port), reach) = match &self.host {
            Part::Literal(server) => (server.clone(), Reach::Public),
            Part::Key(key) => {
                let Some((value, given)) = config.template_value(key) else {
                    return Ok(None);
                };
                let server =
                    parse_server(value).map_err(|r| err(format!("config `{key}` = {value}"), r))?;
                (
                    server,
                    if given {
                        Reach::Operator
                    } else {
                        Reach::Public
                    },
                )
            }
        };
        let (port, port_given) = match &self.port {
            None => (None, false),
            Some(Part::Literal(p)) => (Some(*p), false),
            Some(Part::Key(key)) => match config.template_value(key) {
                None => (None, false),
                Some((value, given)) => {
                    let p = value
                        .trim()
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| {
                            err(
                                format!("config `{key}` = {value}"),
                                format!("`{value}` is not a port (1–65535)"),
                            )
                        })?;
                    (Some(p), given)
                }
            },
        };
        let port = match (own_port, port) {
            (Some(own), Some(p)) if own != p && port_given => {
                return Err(err(
                    "config".into(),
                    format!(
                        "the server `{host}:{own}` names port {own} but the port is set to {p}"
                    ),
                ));
            }
            (Some(own), _) => own,
            (None, Some(p)) => p,
            (None, None) => DEFAULT_PORT,
        };
        Ok(Some((Server { host, port }, reach)))
    }
}

/// The nameservers one plugin may reach with one configuration.
#[derive(Debug, Clone, Default)]
pub struct ServerList {
    servers: Vec<(Server, Reach)>,
}

impl ServerList {
    /// Fills the plugin's declared entries from `config`.
    pub fn build(
        declared: &[String],
        config: &impl TemplateValues,
    ) -> Result<ServerList, PatternError> {
        let mut servers = Vec::new();
        for entry in declared {
            let parsed = ServerEntry::parse(entry).map_err(|reason| PatternError {
                entry: entry.clone(),
                reason,
            })?;
            if let Some(server) = parsed.fill(entry, config)? {
                servers.push(server);
            }
        }
        Ok(ServerList { servers })
    }

    /// The servers, as `host:port`.
    pub fn servers(&self) -> Vec<String> {
        self.servers.iter().map(|(s, _)| s.to_string()).collect()
    }

    /// Allows or refuses an exchange with `server` (as the plugin wrote it;
    /// port 53 when it gives none).
    pub fn check(&self, server: &str) -> Result<(Server, Reach), Denied> {
        let (host, port) = parse_server(server).map_err(Denied)?;
        let wanted = Server {
            host,
            port: port.unwrap_or(DEFAULT_PORT),
        };
        let mut matched = self.servers.iter().filter(|(s, _)| *s == wanted).peekable();
        if matched.peek().is_none() {
            let allowed = self.servers();
            return Err(Denied(format!(
                "{wanted} is not among the plugin's DNS servers ({})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        let reach = if matched.any(|(_, r)| *r == Reach::Operator) {
            Reach::Operator
        } else {
            Reach::Public
        };
        Ok((wanted, reach))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::config::{Origin, ResolvedConfig};

    fn list(declared: &[&str], values: &[(&str, &str, Origin)]) -> ServerList {
        let declared: Vec<String> = declared.iter().map(|s| s.to_string()).collect();
        ServerList::build(&declared, &ResolvedConfig::for_tests(values)).unwrap()
    }

    #[test]
    fn servers_parse_and_normalise() {
        let p = |t: &str| parse_server(t).unwrap();
        assert_eq!(p("NS1.Example.COM."), ("ns1.example.com".into(), None));
        assert_eq!(
            p("ns1.example.com:5353"),
            ("ns1.example.com".into(), Some(5353))
        );
        assert_eq!(p("192.0.2.53"), ("192.0.2.53".into(), None));
        assert_eq!(p("127.0.0.1:5353"), ("127.0.0.1".into(), Some(5353)));
        assert_eq!(p("2001:db8::53"), ("2001:db8::53".into(), None));
        assert_eq!(p("[2001:0db8::0053]:53"), ("2001:db8::53".into(), Some(53)));
        assert_eq!(p("[::1]"), ("::1".into(), None));
        for bad in [
            "",
            "ns1..example.com",
            "ns1.example.com:0",
            "ns1.example.com:65536",
            "[::1",
            "[::1]x",
            "[nope]:53",
            "exa mple.com",
            "https://ns1.example.com",
            "user@ns1.example.com",
        ] {
            assert!(parse_server(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn entries_parse() {
        assert!(ServerEntry::parse("{server}").is_ok());
        assert!(ServerEntry::parse("{server}:{port}").is_ok());
        assert!(ServerEntry::parse("{server}:853").is_ok());
        assert!(ServerEntry::parse("ns1.example.com:53").is_ok());
        let keys: Vec<String> = ServerEntry::parse("{server}:{port}")
            .unwrap()
            .keys()
            .map(String::from)
            .collect();
        assert_eq!(keys, ["server", "port"]);
        for bad in ["{server", "{server}x", "{server}:port", "{server}:0", "a b"] {
            assert!(ServerEntry::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn templates_take_configured_servers_and_ports() {
        let l = list(
            &["{server}:{port}"],
            &[
                ("server", "127.0.0.1", Origin::Cli),
                ("port", "5353", Origin::Cli),
            ],
        );
        assert_eq!(l.servers(), ["127.0.0.1:5353"]);
        assert_eq!(l.check("127.0.0.1:5353").unwrap().1, Reach::Operator);
        assert!(l.check("127.0.0.1").is_err(), "port 53 is another server");
        assert!(l.check("127.0.0.2:5353").is_err());

        // The server's own port wins over a defaulted one.
        let l = list(
            &["{server}:{port}"],
            &[
                ("server", "[::1]:5353", Origin::Cli),
                ("port", "53", Origin::Default),
            ],
        );
        assert_eq!(l.servers(), ["[::1]:5353"]);
        assert!(l.check("[0:0::1]:5353").is_ok());

        // No port anywhere: 53.
        let l = list(
            &["{server}"],
            &[("server", "Ns1.Example.NET.", Origin::Cli)],
        );
        assert_eq!(l.servers(), ["ns1.example.net:53"]);
        assert!(l.check("ns1.example.net").is_ok());
        assert!(l.check("ns1.example.net.:53").is_ok());
    }

    #[test]
    fn a_port_given_twice_must_agree() {
        let declared = vec!["{server}:{port}".to_string()];
        let config = ResolvedConfig::for_tests(&[
            ("server", "127.0.0.1:5353", Origin::Cli),
            ("port", "5300", Origin::Cli),
        ]);
        let err = ServerList::build(&declared, &config).unwrap_err();
        assert!(err.reason.contains("port is set to 5300"), "{err}");
        let config = ResolvedConfig::for_tests(&[("server", "not a server", Origin::Cli)]);
        let err = ServerList::build(&declared, &config).unwrap_err();
        assert!(err.entry.contains("config `server`"), "{err}");
    }

    #[test]
    fn reach_is_the_operator_only_for_a_server_they_gave() {
        let l = list(
            &["{server}", "ns1.example.com"],
            &[("server", "10.0.0.53", Origin::Default)],
        );
        assert_eq!(l.check("10.0.0.53").unwrap().1, Reach::Public);
        assert_eq!(l.check("ns1.example.com:53").unwrap().1, Reach::Public);
        let l = list(
            &["{server}"],
            &[("server", "10.0.0.53", Origin::Env("X".into()))],
        );
        assert_eq!(l.check("10.0.0.53").unwrap().1, Reach::Operator);
    }

    #[test]
    fn a_missing_server_allows_nothing() {
        let l = list(&["{server}:{port}"], &[("port", "53", Origin::Default)]);
        assert!(l.servers().is_empty());
        let denied = l.check("127.0.0.1").unwrap_err();
        assert_eq!(
            denied.0,
            "127.0.0.1:53 is not among the plugin's DNS servers (none)"
        );
    }
}
