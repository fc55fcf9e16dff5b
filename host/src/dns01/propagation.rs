//! Proving the challenge records are visible before asking the CA to look
//! (and, after cleanup, that they are gone).
//!
//! `authoritative` (default): resolve each zone's NS set and every
//! nameserver's addresses through the configured resolvers, then ask the
//! nameservers directly, recursion off. A nameserver is confirmed when any
//! one of its addresses serves every expected value. An address that cannot
//! be used from here (no route for its family, connection refused, no answer
//! within the query timeout, REFUSED/SERVFAIL) is skipped after one try and
//! retried later while the check goes on; a nameserver none of whose
//! addresses can be used is reported as unreachable and does not hold the
//! check up, as the CA's resolvers reach it from elsewhere. A nameserver that
//! answers without the values (a lagging secondary) is waited for.
//! `authoritative-strict`: every nameserver must confirm. `recursive`: ask
//! the configured resolvers instead (each one a "nameserver" of one
//! address). `wait:<d>`: just sleep. `none`: skip.
//!
//! Polling is adaptive and per address: the first questions go out at once,
//! later ones back off from tens of milliseconds to two seconds, a slow
//! address never delays the others, and a confirmed nameserver is not asked
//! again. One global deadline covers everything; a timeout names each
//! server that was still behind and what it last said.

use super::dns::{self, Answer, DnsConfig};
use super::zone::{ZoneError, ZoneFinder};
use futures::StreamExt;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How to decide the records are visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every reachable nameserver of the zone confirms (at least one must).
    Authoritative,
    /// Every nameserver of the zone confirms, reachable from here or not.
    AuthoritativeStrict,
    Recursive,
    Wait(Duration),
    None,
}

impl Mode {
    /// Whether the check asks the zone's nameservers (and so can also prove
    /// that records are gone).
    pub fn is_authoritative(self) -> bool {
        matches!(self, Mode::Authoritative | Mode::AuthoritativeStrict)
    }

    /// Whether a nameserver that cannot be reached blocks the check.
    pub fn is_strict(self) -> bool {
        self == Mode::AuthoritativeStrict
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Authoritative => f.write_str("authoritative"),
            Mode::AuthoritativeStrict => f.write_str("authoritative-strict"),
            Mode::Recursive => f.write_str("recursive"),
            Mode::None => f.write_str("none"),
            Mode::Wait(d) => write!(f, "wait:{}ms", d.as_millis()),
        }
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "authoritative" => Ok(Mode::Authoritative),
            "authoritative-strict" => Ok(Mode::AuthoritativeStrict),
            "recursive" => Ok(Mode::Recursive),
            "none" => Ok(Mode::None),
            _ => match s.strip_prefix("wait:") {
                Some(d) => crate::duration::parse(d).map(Mode::Wait),
                None => Err(format!(
                    "`{s}` is not a propagation mode: use authoritative, authoritative-strict, recursive, wait:<duration> (e.g. wait:30s) or none"
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

    /// What `served` lacks: expected values not served, then values served
    /// that must not be.
    fn faults(&self, served: &[String]) -> (Vec<String>, Vec<String>) {
        let missing = self
            .values
            .iter()
            .filter(|v| !served.contains(v))
            .cloned()
            .collect();
        let present = self
            .absent
            .iter()
            .filter(|a| served.contains(a))
            .cloned()
            .collect();
        (missing, present)
    }
}

/// One address the check asks: a nameserver address (recursion off) or a
/// resolver (recursion on), with a label for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `ns1.example.com (192.0.2.1:53)` or `resolver 192.0.2.53:53`.
    pub label: String,
    pub addr: SocketAddr,
    pub recursion: bool,
}

/// A nameserver (or a resolver) and the addresses it can be asked on; it
/// confirms a name when any one of them does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nameserver {
    /// `ns1.example.com`, or `resolver 192.0.2.53:53`.
    pub name: String,
    pub addresses: Vec<Server>,
    /// Why `addresses` is empty: its address lookup failed.
    pub unresolved: Option<String>,
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

impl Observation {
    /// The address gave no usable answer: not reachable from here, or it
    /// refused the question.
    fn unusable(&self) -> bool {
        matches!(self, Observation::Refused(_) | Observation::Failed(_))
    }

    fn served(&self) -> Option<&[String]> {
        match self {
            Observation::Values(v) => Some(v),
            Observation::NxDomain => Some(&[]),
            _ => None,
        }
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observation::NotAsked => write!(f, "no answer yet"),
            Observation::Values(v) if v.is_empty() => write!(f, "no TXT records"),
            Observation::Values(v) => f.write_str(&quote_values(v)),
            Observation::NxDomain => write!(f, "NXDOMAIN"),
            Observation::Refused(rcode) => write!(f, "{rcode}"),
            Observation::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// TXT values as a person reads them: each in double quotes, space separated.
pub fn quote_values(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An address that was still behind (or could not be used) at the deadline.
#[derive(Debug, Clone)]
pub struct Lagging {
    pub server: String,
    pub fqdn: String,
    pub answered: Observation,
    /// Expected values it did not serve.
    pub missing: usize,
}

/// Where one nameserver stands on one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// One of its addresses served what was expected.
    Confirmed,
    /// None of its addresses could be used from here.
    Unreachable,
    /// It answered, without (all of) the expected values, or still serving
    /// values that must be gone.
    Missing,
}

/// One nameserver's verdict on one name, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NameserverReport {
    pub nameserver: String,
    pub fqdn: String,
    pub status: Status,
    /// The address that confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Expected values it did not serve (status `missing`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Values it still served that must be gone (status `missing`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unexpected: Vec<String>,
    /// What each address last said (`127.0.0.3:53: connection refused`),
    /// unless confirmed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
}

impl NameserverReport {
    /// One line for a person: `ns2.example.com: unreachable (…)`.
    pub fn describe(&self) -> String {
        match self.status {
            Status::Confirmed => format!(
                "{} confirmed {} ({})",
                self.nameserver,
                self.fqdn,
                self.address.as_deref().unwrap_or("")
            ),
            Status::Unreachable => format!(
                "{} could not be reached from here for {} ({})",
                self.nameserver,
                self.fqdn,
                self.detail.join("; ")
            ),
            Status::Missing => format!(
                "{} for {}: {}",
                self.nameserver,
                self.fqdn,
                self.detail.join("; ")
            ),
        }
    }
}

/// Why propagation was not confirmed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PropagationError {
    #[error("{}", timeout_message(.after, .lagging, .skipped))]
    Timeout {
        after: Duration,
        /// The addresses of every nameserver that held the check up.
        lagging: Vec<Lagging>,
        /// Nameservers not reachable from here, not waited for.
        skipped: Vec<NameserverReport>,
        /// Every nameserver's verdict.
        nameservers: Vec<NameserverReport>,
    },
    #[error(
        "zone {zone} has no NS records (resolvers asked: {resolvers}); use --propagation recursive or wait:<duration>"
    )]
    NoNameservers { zone: String, resolvers: String },
    #[error("cannot find the address of any nameserver of {zone}: {reason}")]
    NameserverAddress { zone: String, reason: String },
    #[error(transparent)]
    Zone(#[from] ZoneError),
}

fn timeout_message(after: &Duration, lagging: &[Lagging], skipped: &[NameserverReport]) -> String {
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
    for s in skipped {
        out.push_str(&format!("\n  {} (not waited for)", s.describe()));
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
    /// Distinct addresses asked.
    pub servers: usize,
    /// Questions sent.
    pub queries: u64,
    /// Every address asked (`ns1.example.com (192.0.2.1:53)`, or
    /// `resolver <addr>`), sorted.
    pub checked: Vec<String>,
    /// Per nameserver and name: confirmed, or unreachable (and skipped).
    pub nameservers: Vec<NameserverReport>,
}

impl Report {
    /// The nameservers skipped as unreachable.
    pub fn unreachable(&self) -> impl Iterator<Item = &NameserverReport> {
        self.nameservers
            .iter()
            .filter(|n| n.status == Status::Unreachable)
    }
}

/// The delay before poll round `n` (round 0 goes out at once).
pub fn backoff(round: u32) -> Duration {
    match round {
        0 => Duration::ZERO,
        n => Duration::from_millis((20u64 << (n - 1).min(7)).min(2000)),
    }
}

/// The delay before asking an unusable address again: one second, then
/// doubling up to five.
fn unusable_backoff(tries: u32) -> Duration {
    Duration::from_millis((1000u64 << tries.saturating_sub(1).min(3)).min(5000))
}

/// The nameservers of every zone of `expectations` when `mode` asks them
/// (authoritative modes); empty otherwise.
pub async fn lookup(
    dns: &DnsConfig,
    zones: &ZoneFinder,
    expectations: &[Expectation],
    mode: Mode,
) -> Result<BTreeMap<String, Vec<Nameserver>>, PropagationError> {
    if !mode.is_authoritative() {
        return Ok(BTreeMap::new());
    }
    let zone_names: BTreeSet<&str> = expectations.iter().map(|e| e.zone.as_str()).collect();
    futures::future::join_all(
        zone_names.into_iter().map(|zone| async move {
            Ok((zone.to_string(), nameservers(dns, zones, zone).await?))
        }),
    )
    .await
    .into_iter()
    .collect()
}

/// Waits until `expectations` are visible, per `mode`, or `timeout` passes.
/// `nameservers` are the zones' nameservers ([`lookup`]). `progress(fqdn,
/// done, total)` is called whenever the count of nameservers (or resolvers)
/// confirming a name changes: `done` of the `total` that count (unreachable
/// ones do not, unless strict).
pub async fn wait(
    dns: &DnsConfig,
    nameservers: &BTreeMap<String, Vec<Nameserver>>,
    expectations: &[Expectation],
    mode: Mode,
    timeout: Duration,
    progress: &(dyn Fn(&str, usize, usize) + Send + Sync),
) -> Result<Report, PropagationError> {
    let started = Instant::now();
    let groups = match mode {
        Mode::None => return Ok(Report::default()),
        Mode::Wait(d) => {
            tokio::time::sleep(d).await;
            return Ok(Report::default());
        }
        Mode::Recursive => groups(&resolvers(dns), expectations.iter()),
        Mode::Authoritative | Mode::AuthoritativeStrict => nameservers
            .iter()
            .flat_map(|(zone, servers)| {
                groups(
                    servers,
                    expectations.iter().filter(move |e| e.zone == *zone),
                )
            })
            .collect(),
    };
    poll(
        groups,
        dns.query_timeout,
        mode.is_strict(),
        started + timeout,
        progress,
    )
    .await
}

/// The TXT values at `fqdn` that every nameserver answering now agrees on
/// (`None` when none answered). Every address is asked once, all at once; a
/// nameserver counts from its first usable answer.
pub async fn snapshot(
    dns: &DnsConfig,
    nameservers: &[Nameserver],
    fqdn: &str,
) -> Option<Vec<String>> {
    let answers = futures::future::join_all(nameservers.iter().map(|ns| async move {
        let asks = ns.addresses.iter().map(|server| {
            Box::pin(async move {
                match ask(server, fqdn, dns.query_timeout).await.served() {
                    Some(values) => Ok(values.to_vec()),
                    None => Err(()),
                }
            })
        });
        if ns.addresses.is_empty() {
            return None;
        }
        futures::future::select_ok(asks).await.ok().map(|(v, _)| v)
    }))
    .await;
    let mut agreed: Option<Vec<String>> = None;
    for values in answers.into_iter().flatten() {
        agreed = Some(match agreed {
            None => values,
            Some(a) => a.into_iter().filter(|v| values.contains(v)).collect(),
        });
    }
    agreed
}

/// The nameservers `mode` asks about names in `zone`: the zone's
/// (authoritative modes), the resolvers (`Recursive`), none otherwise.
pub async fn servers(
    dns: &DnsConfig,
    zones: &ZoneFinder,
    zone: &str,
    mode: Mode,
) -> Result<Vec<Nameserver>, PropagationError> {
    match mode {
        Mode::Authoritative | Mode::AuthoritativeStrict => nameservers(dns, zones, zone).await,
        Mode::Recursive => Ok(resolvers(dns)),
        Mode::Wait(_) | Mode::None => Ok(Vec::new()),
    }
}

/// Waits until every one of `nameservers` (every reachable one unless
/// `strict`, at least one) meets every expectation, or `timeout` passes.
pub async fn check(
    dns: &DnsConfig,
    nameservers: &[Nameserver],
    expectations: &[Expectation],
    strict: bool,
    timeout: Duration,
) -> Result<Report, PropagationError> {
    poll(
        groups(nameservers, expectations.iter()),
        dns.query_timeout,
        strict,
        Instant::now() + timeout,
        &|_, _, _| {},
    )
    .await
}

fn resolvers(dns: &DnsConfig) -> Vec<Nameserver> {
    dns.resolvers
        .iter()
        .map(|&addr| Nameserver {
            name: format!("resolver {addr}"),
            addresses: vec![Server {
                label: format!("resolver {addr}"),
                addr,
                recursion: true,
            }],
            unresolved: None,
        })
        .collect()
}

/// One address of a group, as polled.
struct Probe {
    server: Server,
    last: Observation,
    tries: u32,
    answered: u32,
    next_at: Instant,
    in_flight: bool,
}

/// One nameserver asked about one name.
struct Group<'e> {
    nameserver: String,
    unresolved: Option<String>,
    expectation: &'e Expectation,
    probes: Vec<Probe>,
    confirmed_by: Option<usize>,
}

impl Group<'_> {
    /// Every address was tried and none gave a usable answer.
    fn unreachable(&self) -> bool {
        self.confirmed_by.is_none()
            && self
                .probes
                .iter()
                .all(|p| p.tries > 0 && !p.in_flight && p.last.unusable())
    }

    fn report(&self) -> NameserverReport {
        let (status, address) = match self.confirmed_by {
            Some(i) => (
                Status::Confirmed,
                Some(self.probes[i].server.addr.to_string()),
            ),
            None if self.unreachable() => (Status::Unreachable, None),
            None => (Status::Missing, None),
        };
        let served = self.probes.iter().find_map(|p| p.last.served());
        let (missing, unexpected) = match (status, served) {
            (Status::Missing, Some(s)) => self.expectation.faults(s),
            (Status::Missing, None) => (self.expectation.values.clone(), Vec::new()),
            _ => (Vec::new(), Vec::new()),
        };
        let mut detail: Vec<String> = match status {
            Status::Confirmed => Vec::new(),
            _ => self
                .probes
                .iter()
                .map(|p| {
                    let said = p.last.to_string();
                    let addr = p.server.addr.to_string();
                    if said.starts_with(&addr) {
                        said
                    } else {
                        format!("{addr}: {said}")
                    }
                })
                .collect(),
        };
        if let Some(why) = &self.unresolved {
            detail.push(format!("no address: {why}"));
        }
        NameserverReport {
            nameserver: self.nameserver.clone(),
            fqdn: self.expectation.fqdn.clone(),
            status,
            address,
            missing,
            unexpected,
            detail,
        }
    }
}

fn groups<'e>(
    nameservers: &[Nameserver],
    expectations: impl Iterator<Item = &'e Expectation> + Clone,
) -> Vec<Group<'e>> {
    let now = Instant::now();
    nameservers
        .iter()
        .flat_map(|ns| {
            expectations.clone().map(move |e| Group {
                nameserver: ns.name.clone(),
                unresolved: ns.unresolved.clone(),
                expectation: e,
                probes: ns
                    .addresses
                    .iter()
                    .map(|server| Probe {
                        server: server.clone(),
                        last: Observation::NotAsked,
                        tries: 0,
                        answered: 0,
                        next_at: now,
                        in_flight: false,
                    })
                    .collect(),
                confirmed_by: None,
            })
        })
        .collect()
}

/// Whether the groups of one name are settled: each confirmed, or (unless
/// `strict`) unreachable with at least one other confirmed.
fn settled(of_name: &[&Group], strict: bool) -> bool {
    let confirmed = of_name.iter().filter(|g| g.confirmed_by.is_some()).count();
    if strict {
        confirmed == of_name.len()
    } else {
        confirmed > 0
            && of_name
                .iter()
                .all(|g| g.confirmed_by.is_some() || g.unreachable())
    }
}

async fn poll(
    mut groups: Vec<Group<'_>>,
    query_timeout: Duration,
    strict: bool,
    deadline: Instant,
    progress: &(dyn Fn(&str, usize, usize) + Send + Sync),
) -> Result<Report, PropagationError> {
    let started = Instant::now();
    let names: Vec<String> = groups
        .iter()
        .map(|g| g.expectation.fqdn.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut shown: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut asked: BTreeSet<(SocketAddr, String)> = BTreeSet::new();
    let mut queries = 0u64;
    let mut inflight = futures::stream::FuturesUnordered::new();
    let all_settled = |groups: &[Group]| {
        names.iter().all(|name| {
            let of_name: Vec<&Group> = groups
                .iter()
                .filter(|g| &g.expectation.fqdn == name)
                .collect();
            settled(&of_name, strict)
        })
    };
    loop {
        let now = Instant::now();
        // Send every question that is due.
        for (gi, g) in groups.iter_mut().enumerate() {
            if g.confirmed_by.is_some() {
                continue;
            }
            for (pi, p) in g.probes.iter_mut().enumerate() {
                if p.in_flight || p.next_at > now {
                    continue;
                }
                p.in_flight = true;
                p.tries += 1;
                queries += 1;
                asked.insert((p.server.addr, p.server.label.clone()));
                let per_query = query_timeout.min(
                    deadline
                        .saturating_duration_since(now)
                        .max(Duration::from_millis(50)),
                );
                let server = p.server.clone();
                let fqdn = g.expectation.fqdn.clone();
                inflight.push(async move { (gi, pi, ask(&server, &fqdn, per_query).await) });
            }
        }
        let next_due = groups
            .iter()
            .filter(|g| g.confirmed_by.is_none())
            .flat_map(|g| g.probes.iter())
            .filter(|p| !p.in_flight)
            .map(|p| p.next_at)
            .min();
        if inflight.is_empty() && next_due.is_none_or(|t| t >= deadline) {
            break;
        }
        let wake = next_due.unwrap_or(deadline).min(deadline);
        tokio::select! {
            Some((gi, pi, seen)) = inflight.next() => {
                let g = &mut groups[gi];
                let p = &mut g.probes[pi];
                p.in_flight = false;
                let now = Instant::now();
                if seen.unusable() {
                    p.next_at = now + unusable_backoff(p.tries);
                } else {
                    p.answered += 1;
                    p.next_at = now + backoff(p.answered);
                }
                if seen.served().is_some_and(|s| g.expectation.holds(s)) {
                    g.confirmed_by = Some(pi);
                }
                p.last = seen;
                let fqdn = g.expectation.fqdn.clone();
                let of_name: Vec<&Group> = groups.iter().filter(|g| g.expectation.fqdn == fqdn).collect();
                let done = of_name.iter().filter(|g| g.confirmed_by.is_some()).count();
                let total = of_name.iter().filter(|g| strict || g.confirmed_by.is_some() || !g.unreachable()).count();
                if shown.get(&fqdn) != Some(&(done, total)) {
                    shown.insert(fqdn.clone(), (done, total));
                    progress(&fqdn, done, total);
                }
                if all_settled(&groups) {
                    break;
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
    }
    drop(inflight);
    let checked: Vec<String> = asked
        .iter()
        .map(|(_, label)| label.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let servers = asked
        .iter()
        .map(|(addr, _)| *addr)
        .collect::<BTreeSet<_>>()
        .len();
    let nameservers: Vec<NameserverReport> = groups.iter().map(Group::report).collect();
    if all_settled(&groups) {
        return Ok(Report {
            servers,
            queries,
            checked,
            nameservers,
        });
    }
    // Which groups held the check up: all unconfirmed ones, except (unless
    // strict) unreachable ones of names that some nameserver confirmed.
    let mut lagging = Vec::new();
    let mut skipped = Vec::new();
    for g in &groups {
        if g.confirmed_by.is_some() {
            continue;
        }
        let name_confirmed = groups
            .iter()
            .any(|o| o.expectation.fqdn == g.expectation.fqdn && o.confirmed_by.is_some());
        if !strict && name_confirmed && g.unreachable() {
            skipped.push(g.report());
            continue;
        }
        for p in &g.probes {
            let seen: BTreeSet<&String> = p.last.served().into_iter().flatten().collect();
            lagging.push(Lagging {
                server: p.server.label.clone(),
                fqdn: g.expectation.fqdn.clone(),
                missing: g
                    .expectation
                    .values
                    .iter()
                    .filter(|v| !seen.contains(v))
                    .count(),
                answered: p.last.clone(),
            });
        }
        if let Some(why) = &g.unresolved {
            lagging.push(Lagging {
                server: g.nameserver.clone(),
                fqdn: g.expectation.fqdn.clone(),
                missing: g.expectation.values.len(),
                answered: Observation::Failed(format!("no address: {why}")),
            });
        }
    }
    Err(PropagationError::Timeout {
        after: started.elapsed(),
        lagging,
        skipped,
        nameservers,
    })
}

/// The nameservers of `zone` with their addresses. A nameserver whose
/// addresses cannot be found is kept (with the reason) so the check can
/// report it; it is an error only when no nameserver has an address.
async fn nameservers(
    dns: &DnsConfig,
    zones: &ZoneFinder,
    zone: &str,
) -> Result<Vec<Nameserver>, PropagationError> {
    let names = zones.nameservers(zone).await?;
    if names.is_empty() {
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
    let found = futures::future::join_all(names.iter().map(|ns| async move {
        let name = dns::text(ns);
        let (ips, unresolved) = match dns.addresses(ns).await {
            Ok(ips) if !ips.is_empty() => (ips, None),
            Ok(_) => (Vec::new(), Some("no A or AAAA records".to_string())),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let addresses = ips
            .into_iter()
            .map(|ip| {
                let addr = SocketAddr::new(ip, dns.authoritative_port);
                Server {
                    label: format!("{name} ({addr})"),
                    addr,
                    recursion: false,
                }
            })
            .collect();
        Nameserver {
            name,
            addresses,
            unresolved,
        }
    }))
    .await;
    if found.iter().all(|ns| ns.addresses.is_empty()) {
        return Err(PropagationError::NameserverAddress {
            zone: zone.to_string(),
            reason: found
                .iter()
                .map(|ns| {
                    format!(
                        "{}: {}",
                        ns.name,
                        ns.unresolved.as_deref().unwrap_or("no address")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    Ok(found)
}

async fn ask(server: &Server, fqdn: &str, timeout: Duration) -> Observation {
    let Ok(qname) = dns::name(fqdn) else {
        return Observation::Failed("invalid name".into());
    };
    match dns::query(
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
    }
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
        assert_eq!(
            "authoritative-strict".parse::<Mode>().unwrap(),
            Mode::AuthoritativeStrict
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
        for mode in [
            "authoritative",
            "authoritative-strict",
            "recursive",
            "none",
            "wait:1500ms",
        ] {
            assert_eq!(mode.parse::<Mode>().unwrap().to_string(), mode);
        }
        let err = "sometimes".parse::<Mode>().unwrap_err();
        assert!(
            err.contains("authoritative, authoritative-strict, recursive, wait:<duration>"),
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
            skipped: Vec::new(),
            nameservers: Vec::new(),
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
