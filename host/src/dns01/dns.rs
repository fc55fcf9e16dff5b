//! A small DNS client for the checks DNS-01 needs: one question to one
//! server, with the recursion-desired bit chosen by the caller.
//!
//! Recursive questions (zone discovery, CNAMEs, nameserver addresses) go to
//! the configured resolvers (`--dns-resolver`, else `/etc/resolv.conf`);
//! propagation checks ask each authoritative server directly with recursion
//! off. There is deliberately no cache: a propagation poll must see what the
//! server says now. Messages are built and parsed with hickory-proto (EDNS,
//! 1232-byte payload) and sent by [`crate::dnswire`]: UDP first, TCP when the
//! answer is truncated.

use crate::dnswire::{self, WireError};
use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Why a question got no usable answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DnsError {
    #[error("no answer from {server} within {timeout:?}")]
    Timeout {
        server: SocketAddr,
        timeout: Duration,
    },
    #[error("{server}: {reason}")]
    Network { server: SocketAddr, reason: String },
    #[error("{server}: malformed answer: {reason}")]
    Malformed { server: SocketAddr, reason: String },
    #[error("`{0}` is not a valid DNS name")]
    BadName(String),
    #[error("no DNS resolvers configured (none in /etc/resolv.conf; use --dns-resolver)")]
    NoResolvers,
}

/// A server's answer to one question.
#[derive(Debug, Clone)]
pub struct Answer {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
}

impl Answer {
    /// TXT strings of records owned by `name` (each record's strings joined).
    pub fn txt_values(&self, name: &Name) -> Vec<String> {
        self.answers
            .iter()
            .filter(|r| r.name.eq_case(name) || r.name == *name)
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect()
    }
}

/// A DNS name from text (`example.com` or `example.com.`), always absolute.
pub fn name(text: &str) -> Result<Name, DnsError> {
    let mut n = Name::from_ascii(text).map_err(|_| DnsError::BadName(text.to_string()))?;
    n.set_fqdn(true);
    Ok(n)
}

/// `name` as text: lower case, no trailing dot.
pub fn text(name: &Name) -> String {
    name.to_lowercase()
        .to_ascii()
        .trim_end_matches('.')
        .to_string()
}

/// Asks `server` one question.
pub async fn query(
    server: SocketAddr,
    qname: &Name,
    rtype: RecordType,
    recursion: bool,
    timeout: Duration,
) -> Result<Answer, DnsError> {
    let id: u16 = rand::random();
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = recursion;
    message.add_query(Query::query(qname.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.set_edns(edns);
    let request = message.to_vec().map_err(|e| DnsError::Malformed {
        server,
        reason: e.to_string(),
    })?;

    let response = dnswire::exchange(server, &request, timeout)
        .await
        .map_err(|e| match e {
            WireError::Timeout(_) => DnsError::Timeout { server, timeout },
            WireError::Network(reason) => DnsError::Network { server, reason },
            WireError::BadRequest(reason) | WireError::Malformed(reason) => {
                DnsError::Malformed { server, reason }
            }
        })?
        .message;
    Ok(Answer {
        rcode: response.metadata.response_code,
        authoritative: response.metadata.authoritative,
        answers: response.answers,
        authorities: response.authorities,
    })
}

/// The resolvers and ports DNS-01 uses.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// Recursive resolvers, asked in order until one answers.
    pub resolvers: Vec<SocketAddr>,
    /// Port for questions to authoritative servers (53 unless a test
    /// environment says otherwise).
    pub authoritative_port: u16,
    /// Time allowed for one question.
    pub query_timeout: Duration,
}

impl DnsConfig {
    /// `--dns-resolver` values (`ip` or `ip:port`, IPv6 as `[ip]:port`), or
    /// the system's resolvers when none are given.
    pub fn new(resolvers: &[String], authoritative_port: Option<u16>) -> Result<Self, String> {
        let resolvers = if resolvers.is_empty() {
            system_resolvers()
        } else {
            resolvers
                .iter()
                .map(|r| parse_server(r))
                .collect::<Result<Vec<_>, _>>()?
        };
        Ok(DnsConfig {
            resolvers,
            authoritative_port: authoritative_port.unwrap_or(53),
            query_timeout: Duration::from_secs(2),
        })
    }

    /// Asks the resolvers (recursion on), in order, until one answers.
    pub async fn recursive(&self, qname: &Name, rtype: RecordType) -> Result<Answer, DnsError> {
        let mut last = DnsError::NoResolvers;
        for attempt in 0..2 {
            for &server in &self.resolvers {
                match query(server, qname, rtype, true, self.query_timeout).await {
                    Ok(a) if a.rcode == ResponseCode::ServFail && attempt == 0 => {
                        last = DnsError::Network {
                            server,
                            reason: "SERVFAIL".into(),
                        };
                    }
                    Ok(a) => return Ok(a),
                    Err(e) => last = e,
                }
            }
        }
        Err(last)
    }

    /// Addresses (A and AAAA, through the resolvers) of a nameserver.
    pub async fn addresses(&self, host: &Name) -> Result<Vec<IpAddr>, DnsError> {
        let (v4, v6) = tokio::join!(
            self.recursive(host, RecordType::A),
            self.recursive(host, RecordType::AAAA)
        );
        let mut out = Vec::new();
        let mut first_err = None;
        for r in [v4, v6] {
            match r {
                Ok(a) => out.extend(a.answers.iter().filter_map(|r| match &r.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                    _ => None,
                })),
                Err(e) => first_err = first_err.or(Some(e)),
            }
        }
        match (out.is_empty(), first_err) {
            (true, Some(e)) => Err(e),
            _ => Ok(out),
        }
    }
}

/// `ip`, `ip:port` or `[ipv6]:port`; the port defaults to 53.
pub fn parse_server(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!(
        "`{text}` is not an IP address with an optional port (e.g. 1.1.1.1, 127.0.0.1:5353, [::1]:53)"
    ))
}

fn system_resolvers() -> Vec<SocketAddr> {
    let Ok(bytes) = std::fs::read("/etc/resolv.conf") else {
        return Vec::new();
    };
    let Ok(conf) = resolv_conf::Config::parse(&bytes) else {
        return Vec::new();
    };
    conf.nameservers
        .iter()
        .map(|ip| SocketAddr::new(ip.into(), 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse() {
        assert_eq!(
            parse_server("1.1.1.1").unwrap(),
            "1.1.1.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_server("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_server("[::1]:54").unwrap(),
            "[::1]:54".parse().unwrap()
        );
        assert_eq!(parse_server("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert!(
            parse_server("dns.google")
                .unwrap_err()
                .contains("not an IP address")
        );
    }

    #[test]
    fn names_are_absolute_and_shown_without_dot() {
        let n = name("_acme-challenge.Example.COM").unwrap();
        assert!(n.is_fqdn());
        assert_eq!(text(&n), "_acme-challenge.example.com");
    }
}
