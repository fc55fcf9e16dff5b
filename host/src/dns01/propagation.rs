//! Proving the challenge records are visible before asking the CA to look.
//!
//! `authoritative` (default): resolve each zone's NS set and every
//! nameserver's addresses through the configured resolvers, then ask every
//! address directly, recursion off, until each one serves every expected
//! value. `recursive`: ask the configured resolvers instead. `wait:<d>`: just
//! sleep. `none`: skip.
//!
//! Polling is adaptive: the first round goes out at once, later rounds back
//! off from tens of milliseconds to two seconds, and only servers still
//! missing a value are asked again. One global deadline covers everything; a
//! timeout names each server that was still behind and what it last said.

use super::dns::{self, Answer, DnsConfig};
use super::zone::{ZoneError, ZoneFinder};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;
use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How to decide the records are visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Authoritative,
    Recursive,
    Wait(Duration),
    None,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "authoritative" => Ok(Mode::Authoritative),
            "recursive" => Ok(Mode::Recursive),
            "none" => Ok(Mode::None),
            _ => match s.strip_prefix("wait:") {
                Some(d) => crate::duration::parse(d).map(Mode::Wait),
                None => Err(format!(
                    "`{s}` is not a propagation mode: use authoritative, recursive, wait:<duration> (e.g. wait:30s) or none"
                )),
            },
        }
    }
}

/// What one name must (and must not) show.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    pub fqdn: String,
    pub zone: String,
    /// Values the name must serve.
    pub values: Vec<String>,
    /// Values the name must not serve.
    pub absent: Vec<String>,
    /// Each of `values` exactly once (no duplicate records).
    pub once: bool,
}

impl Expectation {
    /// Whether `served` (the name's TXT values) meets the expectation.
    pub fn holds(&self, served: &[String]) -> bool {
        let count = |v: &String| served.iter().filter(|s| *s == v).count();
        self.values.iter().all(|v| {
            if self.once {
                count(v) == 1
            } else {
                count(v) >= 1
            }
        }) && !self.absent.iter().any(|a| served.contains(a))
    }
}

/// A server the check asks: a nameserver address (recursion off) or a
/// resolver (recursion on), with a label for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `ns1.example.com (192.0.2.1:53)` or `resolver 192.0.2.53:53`.
    pub label: String,
    pub addr: SocketAddr,
    pub recursion: bool,
}

/// What a server last said about a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    NotAsked,
    Values(Vec<String>),
    NxDomain,
    Refused(String),
    Failed(String),
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observation::NotAsked => write!(f, "not asked yet"),
            Observation::Values(v) if v.is_empty() => write!(f, "no TXT records"),
            Observation::Values(v) => write!(
                f,
                "{}",
                v.iter()
                    .map(|x| format!("\"{x}\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Observation::NxDomain => write!(f, "NXDOMAIN"),
            Observation::Refused(rcode) => write!(f, "{rcode}"),
            Observation::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// A server that was still behind at the deadline.
#[derive(Debug, Clone)]
pub struct Lagging {
    pub server: String,
    pub fqdn: String,
    pub answered: Observation,
    pub missing: usize,
}

/// Why propagation was not confirmed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PropagationError {
    #[error("{}", timeout_message(.after, .lagging))]
    Timeout {
        after: Duration,
        lagging: Vec<Lagging>,
    },
    #[error(
        "zone {zone} has no NS records (resolvers asked: {resolvers}); use --propagation recursive or wait:<duration>"
    )]
    NoNameservers { zone: String, resolvers: String },
    #[error("cannot find the address of nameserver {nameserver} of {zone}: {reason}")]
    NameserverAddress {
        zone: String,
        nameserver: String,
        reason: String,
    },
    #[error(transparent)]
    Zone(#[from] ZoneError),
}

fn timeout_message(after: &Duration, lagging: &[Lagging]) -> String {
    let mut out = format!(
        "TXT records not visible on every server after {:.1} s:",
        after.as_secs_f64()
    );
    for l in lagging {
        out.push_str(&format!(
            "\n  {} for {}: answered {} ({} value(s) missing)",
            l.server, l.fqdn, l.answered, l.missing
        ));
    }
    out.push_str(
        "\nRaise --propagation-timeout, or change the check: --propagation recursive (ask only the \
         resolvers), --propagation wait:<duration> (fixed wait), --propagation none; \
         --dns-resolver picks the resolvers, --dns-port the nameservers' port.",
    );
    out
}

/// What a successful check did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// Distinct servers asked.
    pub servers: usize,
    /// Questions sent.
    pub queries: u64,
    /// Every server asked (`ns1.example.com (192.0.2.1:53)`, or
    /// `resolver <addr>`), sorted.
    pub checked: Vec<String>,
}

struct Target<'e> {
    server: Server,
    expectation: &'e Expectation,
    last: Observation,
    done: bool,
}

/// The delay before poll round `n` (round 0 goes out at once).
pub fn backoff(round: u32) -> Duration {
    match round {
        0 => Duration::ZERO,
        n => Duration::from_millis((20u64 << (n - 1).min(7)).min(2000)),
    }
}

/// Waits until `expectations` are visible, per `mode`, or `timeout` passes.
/// After each poll round, `progress(fqdn, done, total)` is called for every
/// name still being checked that round: `done` of its `total` servers serve
/// every value.
pub async fn wait(
    dns: &DnsConfig,
    zones: &ZoneFinder,
    expectations: &[Expectation],
    mode: Mode,
    timeout: Duration,
    progress: &(dyn Fn(&str, usize, usize) + Send + Sync),
) -> Result<Report, PropagationError> {
    let started = Instant::now();
    let targets = match mode {
        Mode::None => return Ok(Report::default()),
        Mode::Wait(d) => {
            tokio::time::sleep(d).await;
            return Ok(Report::default());
        }
        Mode::Recursive => targets(&resolvers(dns), expectations),
        Mode::Authoritative => {
            let zone_names: BTreeSet<&str> = expectations.iter().map(|e| e.zone.as_str()).collect();
            let per_zone = futures::future::join_all(
                zone_names
                    .into_iter()
                    .map(|zone| async move { Ok((zone, nameservers(dns, zones, zone).await?)) }),
            )
            .await
            .into_iter()
            .collect::<Result<Vec<_>, PropagationError>>()?;
            per_zone
                .into_iter()
                .flat_map(|(zone, servers)| {
                    let of_zone: Vec<&Expectation> =
                        expectations.iter().filter(|e| e.zone == zone).collect();
                    servers.into_iter().flat_map(move |server| {
                        of_zone.clone().into_iter().map(move |e| Target {
                            server: server.clone(),
                            expectation: e,
                            last: Observation::NotAsked,
                            done: false,
                        })
                    })
                })
                .collect()
        }
    };
    poll_targets(
        targets,
        dns.query_timeout,
        started + timeout,
        started,
        progress,
    )
    .await
}

/// The servers `mode` asks about names in `zone`: its nameservers'
/// addresses (`Authoritative`), the resolvers (`Recursive`), none otherwise.
pub async fn servers(
    dns: &DnsConfig,
    zones: &ZoneFinder,
    zone: &str,
    mode: Mode,
) -> Result<Vec<Server>, PropagationError> {
    match mode {
        Mode::Authoritative => nameservers(dns, zones, zone).await,
        Mode::Recursive => Ok(resolvers(dns)),
        Mode::Wait(_) | Mode::None => Ok(Vec::new()),
    }
}

/// Waits until every one of `servers` meets every expectation, or `timeout`
/// passes.
pub async fn check(
    dns: &DnsConfig,
    servers: &[Server],
    expectations: &[Expectation],
    timeout: Duration,
) -> Result<Report, PropagationError> {
    let started = Instant::now();
    poll_targets(
        targets(servers, expectations),
        dns.query_timeout,
        started + timeout,
        started,
        &|_, _, _| {},
    )
    .await
}

fn resolvers(dns: &DnsConfig) -> Vec<Server> {
    dns.resolvers
        .iter()
        .map(|&addr| Server {
            label: format!("resolver {addr}"),
            addr,
            recursion: true,
        })
        .collect()
}

fn targets<'e>(servers: &[Server], expectations: &'e [Expectation]) -> Vec<Target<'e>> {
    servers
        .iter()
        .flat_map(|server| {
            expectations.iter().map(move |e| Target {
                server: server.clone(),
                expectation: e,
                last: Observation::NotAsked,
                done: false,
            })
        })
        .collect()
}

async fn poll_targets(
    mut targets: Vec<Target<'_>>,
    query_timeout: Duration,
    deadline: Instant,
    started: Instant,
    progress: &(dyn Fn(&str, usize, usize) + Send + Sync),
) -> Result<Report, PropagationError> {
    let servers = targets
        .iter()
        .map(|t| t.server.addr)
        .collect::<BTreeSet<_>>()
        .len();
    let checked: Vec<String> = targets
        .iter()
        .map(|t| t.server.label.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let total = targets.len();
    let mut queries = 0u64;
    for round in 0.. {
        let delay = backoff(round);
        if Instant::now() + delay > deadline {
            break;
        }
        tokio::time::sleep(delay).await;
        let pending: Vec<&mut Target> = targets.iter_mut().filter(|t| !t.done).collect();
        queries += pending.len() as u64;
        let polled: BTreeSet<String> = pending.iter().map(|t| t.expectation.fqdn.clone()).collect();
        let per_query = query_timeout.min(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(50)),
        );
        futures::future::join_all(pending.into_iter().map(|t| poll(t, per_query))).await;
        for fqdn in &polled {
            let of_name = targets.iter().filter(|t| &t.expectation.fqdn == fqdn);
            let (done, all) = of_name.fold((0, 0), |(d, a), t| (d + usize::from(t.done), a + 1));
            progress(fqdn, done, all);
        }
        let done = targets.iter().filter(|t| t.done).count();
        if done == total {
            return Ok(Report {
                servers,
                queries,
                checked,
            });
        }
    }
    let lagging = targets
        .into_iter()
        .filter(|t| !t.done)
        .map(|t| {
            let seen: BTreeSet<String> = match &t.last {
                Observation::Values(v) => v.iter().cloned().collect(),
                _ => BTreeSet::new(),
            };
            Lagging {
                server: t.server.label,
                fqdn: t.expectation.fqdn.clone(),
                missing: t
                    .expectation
                    .values
                    .iter()
                    .filter(|v| !seen.contains(*v))
                    .count(),
                answered: t.last,
            }
        })
        .collect();
    Err(PropagationError::Timeout {
        after: started.elapsed(),
        lagging,
    })
}

/// Every address of every nameserver of `zone`.
async fn nameservers(
    dns: &DnsConfig,
    zones: &ZoneFinder,
    zone: &str,
) -> Result<Vec<Server>, PropagationError> {
    let nameservers = zones.nameservers(zone).await?;
    if nameservers.is_empty() {
        return Err(PropagationError::NoNameservers {
            zone: zone.to_string(),
            resolvers: dns
                .resolvers
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let addresses = futures::future::join_all(nameservers.iter().map(|ns| async move {
        let ns_text = dns::text(ns);
        match dns.addresses(ns).await {
            Ok(ips) if !ips.is_empty() => Ok((ns_text, ips)),
            Ok(_) => Err(PropagationError::NameserverAddress {
                zone: zone.to_string(),
                nameserver: ns_text,
                reason: "no A or AAAA records".into(),
            }),
            Err(e) => Err(PropagationError::NameserverAddress {
                zone: zone.to_string(),
                nameserver: ns_text,
                reason: e.to_string(),
            }),
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    Ok(addresses
        .into_iter()
        .flat_map(|(ns, ips)| {
            ips.into_iter().map(move |ip| {
                let addr = SocketAddr::new(ip, dns.authoritative_port);
                Server {
                    label: format!("{ns} ({addr})"),
                    addr,
                    recursion: false,
                }
            })
        })
        .collect())
}

async fn poll(t: &mut Target<'_>, timeout: Duration) {
    let Ok(qname) = dns::name(&t.expectation.fqdn) else {
        t.last = Observation::Failed("invalid name".into());
        return;
    };
    let server = &t.server;
    t.last = match dns::query(
        server.addr,
        &qname,
        RecordType::TXT,
        server.recursion,
        timeout,
    )
    .await
    {
        Ok(answer) => observe(&answer, &qname),
        Err(e) => Observation::Failed(e.to_string()),
    };
    t.done = match &t.last {
        Observation::Values(values) => t.expectation.holds(values),
        Observation::NxDomain => t.expectation.holds(&[]),
        _ => false,
    };
}

fn observe(answer: &Answer, qname: &hickory_resolver::proto::rr::Name) -> Observation {
    match answer.rcode {
        ResponseCode::NoError => Observation::Values(answer.txt_values(qname)),
        ResponseCode::NXDomain => Observation::NxDomain,
        other => Observation::Refused(other.to_str().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!(
            "authoritative".parse::<Mode>().unwrap(),
            Mode::Authoritative
        );
        assert_eq!("recursive".parse::<Mode>().unwrap(), Mode::Recursive);
        assert_eq!("none".parse::<Mode>().unwrap(), Mode::None);
        assert_eq!(
            "wait:30s".parse::<Mode>().unwrap(),
            Mode::Wait(Duration::from_secs(30))
        );
        assert_eq!(
            "wait:250ms".parse::<Mode>().unwrap(),
            Mode::Wait(Duration::from_millis(250))
        );
        assert_eq!(
            "wait:2m".parse::<Mode>().unwrap(),
            Mode::Wait(Duration::from_secs(120))
        );
        let err = "sometimes".parse::<Mode>().unwrap_err();
        assert!(
            err.contains("authoritative, recursive, wait:<duration>"),
            "{err}"
        );
        assert!("wait:soon".parse::<Mode>().is_err());
    }

    #[test]
    fn expectations_hold_on_what_is_served() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let e = |values: &[&str], absent: &[&str], once: bool| Expectation {
            values: v(values),
            absent: v(absent),
            once,
            ..Expectation::default()
        };
        assert!(e(&["a"], &["c"], true).holds(&v(&["a", "b"])));
        assert!(!e(&["a"], &["b"], true).holds(&v(&["a", "b"])));
        assert!(
            !e(&["a"], &[], true).holds(&v(&["a", "a"])),
            "duplicates fail"
        );
        assert!(e(&["a"], &[], false).holds(&v(&["a", "a"])));
        assert!(!e(&["a"], &[], false).holds(&v(&[])));
        assert!(e(&[], &["a"], true).holds(&v(&[])));
    }

    #[test]
    fn backoff_starts_fast_and_caps() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_millis(20));
        assert_eq!(backoff(2), Duration::from_millis(40));
        assert_eq!(backoff(7), Duration::from_millis(1280));
        assert_eq!(backoff(8), Duration::from_secs(2));
        assert_eq!(backoff(100), Duration::from_secs(2));
    }

    #[test]
    fn timeout_message_names_each_server_and_the_flags() {
        let msg = PropagationError::Timeout {
            after: Duration::from_secs(5),
            lagging: vec![Lagging {
                server: "ns2.example.test (127.0.0.2:5300)".into(),
                fqdn: "_acme-challenge.example.test".into(),
                answered: Observation::NxDomain,
                missing: 2,
            }],
        }
        .to_string();
        assert!(msg.contains("ns2.example.test (127.0.0.2:5300) for _acme-challenge.example.test: answered NXDOMAIN (2 value(s) missing)"), "{msg}");
        assert!(
            msg.contains("--propagation-timeout") && msg.contains("--propagation recursive"),
            "{msg}"
        );
    }
}
