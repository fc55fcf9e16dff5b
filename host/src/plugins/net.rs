//! Where a plugin's HTTP and DNS messages may go, by address: the address
//! classes, the resolver that applies them, and the two HTTP clients built on
//! it (the `dns` import resolves server names with [`Clients::resolve`]).
//!
//! The allowlist ([`super::policy`]) decides by name. A name a plugin may
//! reach can still resolve to loopback, to a private network or to a cloud
//! metadata address, so a request whose origin the plugin chose (a static
//! entry of its metadata or a plugin default, [`Reach::Public`]) may only
//! connect to **public** addresses; an origin the operator gave (a configured
//! endpoint or `--plugin-allow`, [`Reach::Operator`]) may connect anywhere.
//!
//! The check and the connection use the same lookup: each client's
//! `PolicyResolver` resolves a name once (getaddrinfo, like reqwest's
//! default resolver, so `/etc/hosts` keeps working), drops the addresses the
//! client may not use and hands exactly the rest to the connector; a name
//! left with none fails with [`NonPublic`]. No second lookup happens, so a
//! name cannot answer one address to the check and another to the connect.
//! IP-literal URLs never reach a resolver: [`check_literal`] covers them.
//!
//! Names may be pinned to addresses ([`super::RuntimeOptions::resolve`], like
//! curl's `--resolve`); pinned addresses are subject to the same policy.

use super::policy::Reach;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use url::{Host, Url};

/// What kind of address an IP address is, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    /// Globally routable unicast.
    Public,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, IPv6 unique-local (fc00::/7), site-local (fec0::/10),
    /// local-use NAT64 (64:ff9b:1::/48).
    Private,
    /// 169.254.0.0/16 (cloud metadata services), fe80::/10.
    LinkLocal,
    /// Carrier-grade NAT, 100.64.0.0/10.
    SharedNat,
    Multicast,
    /// 0.0.0.0/8, ::.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// Documentation, benchmarking, protocol-assignment and reserved ranges
    /// (240.0.0.0/4, 2001:db8::/32, …), deprecated IPv4-compatible IPv6,
    /// Teredo, and anything outside IPv6 global unicast (2000::/3).
    Reserved,
}

impl AddrClass {
    pub fn is_public(self) -> bool {
        self == AddrClass::Public
    }

    fn as_str(self) -> &'static str {
        match self {
            AddrClass::Public => "public",
            AddrClass::Loopback => "loopback",
            AddrClass::Private => "private",
            AddrClass::LinkLocal => "link-local",
            AddrClass::SharedNat => "shared address space (CGNAT)",
            AddrClass::Multicast => "multicast",
            AddrClass::Unspecified => "unspecified",
            AddrClass::Broadcast => "broadcast",
            AddrClass::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddrClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The class of `ip`. IPv4 embedded in IPv6 (mapped `::ffff:a.b.c.d`,
/// NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is classified as that IPv4
/// address: the packet ends up there.
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        _ if ip.is_broadcast() => AddrClass::Broadcast,
        (0, _, _) => AddrClass::Unspecified,
        (127, _, _) => AddrClass::Loopback,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => AddrClass::Private,
        (169, 254, _) => AddrClass::LinkLocal,
        (100, 64..=127, _) => AddrClass::SharedNat,
        (224..=239, _, _) => AddrClass::Multicast,
        (240..=255, _, _) => AddrClass::Reserved,
        // IETF protocol assignments, documentation (TEST-NET-1/2/3), the
        // deprecated 6to4 relay anycast, benchmarking.
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (192, 88, 99) => {
            AddrClass::Reserved
        }
        (198, 18..=19, _) => AddrClass::Reserved,
        _ => AddrClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if ip.is_unspecified() {
        return AddrClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddrClass::Loopback;
    }
    let low32 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // Deprecated IPv4-compatible addresses (::a.b.c.d): never routed.
        [0, 0, 0, 0, 0, 0, _, _] => AddrClass::Reserved,
        // NAT64, well-known prefix: the translator connects to the IPv4.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => classify_v4(low32),
        // NAT64, local-use prefix: a network of the operator's own.
        [0x64, 0xff9b, 1, ..] => AddrClass::Private,
        // 6to4: the IPv4 address of the relay is in bits 16..48.
        [0x2002, hi, lo, ..] => classify_v4(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        // Teredo (2001::/32) and the rest of the IETF protocol assignments
        // (2001::/23), documentation (2001:db8::/32).
        [0x2001, 0..=0x1ff, ..] | [0x2001, 0xdb8, ..] => AddrClass::Reserved,
        [first, ..] if first & 0xff00 == 0xff00 => AddrClass::Multicast,
        [first, ..] if first & 0xfe00 == 0xfc00 => AddrClass::Private,
        [first, ..] if first & 0xffc0 == 0xfe80 => AddrClass::LinkLocal,
        [first, ..] if first & 0xffc0 == 0xfec0 => AddrClass::Private,
        [first, ..] if first & 0xe000 == 0x2000 => AddrClass::Public,
        _ => AddrClass::Reserved,
    }
}

/// The IP address of an IP-literal URL.
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// Refuses an IP-literal URL a [`Reach::Public`] request may not connect to;
/// `None` for names (the resolver decides) and allowed literals.
pub fn check_literal(url: &Url, reach: Reach) -> Option<(IpAddr, AddrClass)> {
    let ip = literal_ip(url)?;
    let class = classify(ip);
    (reach == Reach::Public && !class.is_public()).then_some((ip, class))
}

/// The advice that ends every address refusal.
pub const HOW_TO_ALLOW: &str = "an endpoint you configure yourself or --plugin-allow may reach it";

/// A name whose every address the policy refused.
#[derive(Debug, Clone)]
pub struct NonPublic {
    pub host: String,
    /// Each refused address and its class.
    pub refused: Vec<(IpAddr, AddrClass)>,
}

impl NonPublic {
    /// The classes refused, deduplicated, for messages: `loopback, private`.
    pub fn classes(&self) -> String {
        let mut classes: Vec<&str> = Vec::new();
        for (_, class) in &self.refused {
            if !classes.contains(&class.as_str()) {
                classes.push(class.as_str());
            }
        }
        classes.join(", ")
    }
}

impl fmt::Display for NonPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addrs: Vec<String> = self
            .refused
            .iter()
            .map(|(ip, class)| format!("{ip} ({class})"))
            .collect();
        write!(
            f,
            "{} resolves only to non-public addresses: {}",
            self.host,
            addrs.join(", ")
        )
    }
}

impl std::error::Error for NonPublic {}

/// The [`NonPublic`] refusal somewhere in `err`'s source chain.
pub fn refusal<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a NonPublic> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<NonPublic>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// How a name is written for pinning and for the resolution record: lower
/// case, without a trailing dot.
fn name_key(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The names pinned to addresses, and the addresses each client last handed
/// to its connector per name (for the operator's log).
#[derive(Debug, Default)]
struct Names {
    pins: HashMap<String, Vec<IpAddr>>,
    last: Mutex<HashMap<String, Vec<IpAddr>>>,
}

/// Entries kept in the resolution record before it starts over.
const MAX_RECORDED: usize = 256;

/// A reqwest resolver that resolves each name once and passes on only the
/// addresses its client may connect to.
#[derive(Debug, Clone)]
struct PolicyResolver {
    names: Arc<Names>,
    public_only: bool,
}

impl PolicyResolver {
    async fn resolve_name(&self, host: &str) -> Result<Vec<SocketAddr>, BoxError> {
        let key = name_key(host);
        let found: Vec<SocketAddr> = match self.names.pins.get(&key) {
            Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect(),
            None => tokio::net::lookup_host((host, 0)).await?.collect(),
        };
        let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = found
            .into_iter()
            .partition(|a| !self.public_only || classify(a.ip()).is_public());
        if allowed.is_empty() && !refused.is_empty() {
            return Err(Box::new(NonPublic {
                host: key,
                refused: refused.iter().map(|a| (a.ip(), classify(a.ip()))).collect(),
            }));
        }
        if !refused.is_empty() {
            tracing::debug!(
                "{key}: leaving out non-public addresses {:?}",
                refused.iter().map(|a| a.ip()).collect::<Vec<_>>()
            );
        }
        let mut last = self.names.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.len() >= MAX_RECORDED {
            last.clear();
        }
        last.insert(key, allowed.iter().map(|a| a.ip()).collect());
        Ok(allowed)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = this.resolve_name(&host).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The plugins' two HTTP clients: one that connects to public addresses
/// only, one that connects wherever the operator's endpoint points. Cheap
/// to clone.
#[derive(Clone)]
pub struct Clients {
    public: reqwest::Client,
    operator: reqwest::Client,
    public_names: Arc<Names>,
    operator_names: Arc<Names>,
}

impl Clients {
    /// Builds both clients from the same settings (`builder` is called once
    /// per client) with `pins` applied to both.
    pub fn build(
        builder: impl Fn() -> reqwest::ClientBuilder,
        pins: &[(String, Vec<IpAddr>)],
    ) -> reqwest::Result<Clients> {
        let names = || {
            Arc::new(Names {
                pins: pins
                    .iter()
                    .map(|(name, ips)| (name_key(name), ips.clone()))
                    .collect(),
                last: Mutex::default(),
            })
        };
        let (public_names, operator_names) = (names(), names());
        let client = |names: &Arc<Names>, public_only| {
            builder()
                .dns_resolver(Arc::new(PolicyResolver {
                    names: names.clone(),
                    public_only,
                }))
                .build()
        };
        Ok(Clients {
            public: client(&public_names, true)?,
            operator: client(&operator_names, false)?,
            public_names,
            operator_names,
        })
    }

    /// The client for a request of this reach.
    pub fn for_reach(&self, reach: Reach) -> &reqwest::Client {
        match reach {
            Reach::Public => &self.public,
            Reach::Operator => &self.operator,
        }
    }

    /// Resolves `host` (a name, not an address) the way this reach's HTTP
    /// client does: pins first, non-public addresses dropped for
    /// [`Reach::Public`] (a [`NonPublic`] error when nothing is left).
    pub async fn resolve(
        &self,
        host: &str,
        reach: Reach,
    ) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let resolver = PolicyResolver {
            names: match reach {
                Reach::Public => self.public_names.clone(),
                Reach::Operator => self.operator_names.clone(),
            },
            public_only: reach == Reach::Public,
        };
        let found = resolver.resolve_name(host).await?;
        Ok(found.into_iter().map(|a| a.ip()).collect())
    }

    /// The addresses `url`'s host was last resolved to for requests of this
    /// reach (its own address for a literal), for the operator's log.
    pub fn addresses(&self, url: &Url, reach: Reach) -> Vec<IpAddr> {
        if let Some(ip) = literal_ip(url) {
            return vec![ip];
        }
        let names = match reach {
            Reach::Public => &self.public_names,
            Reach::Operator => &self.operator_names,
        };
        let key = name_key(url.host_str().unwrap_or_default());
        let last = names.last.lock().unwrap_or_else(|e| e.into_inner());
        last.get(&key).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ip: &str) -> AddrClass {
        classify(ip.parse().unwrap())
    }

    #[test]
    fn ipv4_classes() {
        for (ip, want) in [
            ("127.0.0.1", AddrClass::Loopback),
            ("127.255.255.254", AddrClass::Loopback),
            ("10.0.0.1", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.31.255.255", AddrClass::Private),
            ("192.168.1.1", AddrClass::Private),
            ("169.254.169.254", AddrClass::LinkLocal),
            ("100.64.0.1", AddrClass::SharedNat),
            ("100.127.255.255", AddrClass::SharedNat),
            ("224.0.0.1", AddrClass::Multicast),
            ("239.255.255.250", AddrClass::Multicast),
            ("0.0.0.0", AddrClass::Unspecified),
            ("0.1.2.3", AddrClass::Unspecified),
            ("255.255.255.255", AddrClass::Broadcast),
            ("240.0.0.1", AddrClass::Reserved),
            ("192.0.2.1", AddrClass::Reserved),
            ("198.51.100.1", AddrClass::Reserved),
            ("203.0.113.1", AddrClass::Reserved),
            ("198.18.0.1", AddrClass::Reserved),
            ("192.0.0.8", AddrClass::Reserved),
            // Just outside the ranges above.
            ("8.8.8.8", AddrClass::Public),
            ("1.1.1.1", AddrClass::Public),
            ("172.15.255.255", AddrClass::Public),
            ("172.32.0.1", AddrClass::Public),
            ("100.63.255.255", AddrClass::Public),
            ("100.128.0.1", AddrClass::Public),
            ("169.253.0.1", AddrClass::Public),
            ("192.169.0.1", AddrClass::Public),
            ("198.20.0.1", AddrClass::Public),
            ("223.255.255.255", AddrClass::Public),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn ipv6_classes() {
        for (ip, want) in [
            ("::1", AddrClass::Loopback),
            ("::", AddrClass::Unspecified),
            ("fc00::1", AddrClass::Private),
            ("fd00:ec2::254", AddrClass::Private),
            ("fec0::1", AddrClass::Private),
            ("fe80::1", AddrClass::LinkLocal),
            ("febf::1", AddrClass::LinkLocal),
            ("ff02::1", AddrClass::Multicast),
            ("2001:db8::1", AddrClass::Reserved),
            ("2001::1", AddrClass::Reserved),
            ("100::1", AddrClass::Reserved),
            ("4000::1", AddrClass::Reserved),
            ("64:ff9b:1::1", AddrClass::Private),
            ("2606:4700:4700::1111", AddrClass::Public),
            ("2a00:1450:4001::1", AddrClass::Public),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn embedded_ipv4_is_classified_as_ipv4() {
        for (ip, want) in [
            // IPv4-mapped.
            ("::ffff:127.0.0.1", AddrClass::Loopback),
            ("::ffff:10.1.2.3", AddrClass::Private),
            ("::ffff:169.254.169.254", AddrClass::LinkLocal),
            ("::ffff:0.0.0.0", AddrClass::Unspecified),
            ("::ffff:8.8.8.8", AddrClass::Public),
            // NAT64, well-known prefix.
            ("64:ff9b::127.0.0.1", AddrClass::Loopback),
            ("64:ff9b::a9fe:a9fe", AddrClass::LinkLocal),
            ("64:ff9b::8.8.8.8", AddrClass::Public),
            // 6to4.
            ("2002:7f00:1::1", AddrClass::Loopback),
            ("2002:c0a8:101::1", AddrClass::Private),
            ("2002:808:808::1", AddrClass::Public),
            // IPv4-compatible (deprecated): never public.
            ("::127.0.0.1", AddrClass::Reserved),
            ("::8.8.8.8", AddrClass::Reserved),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn literals_are_checked_for_public_reach_only() {
        let url = |u: &str| Url::parse(u).unwrap();
        let mapped = url("https://[::ffff:127.0.0.1]:8443/");
        assert_eq!(
            check_literal(&mapped, Reach::Public),
            Some(("::ffff:127.0.0.1".parse().unwrap(), AddrClass::Loopback))
        );
        assert_eq!(check_literal(&mapped, Reach::Operator), None);
        assert_eq!(
            check_literal(&url("https://0x7f.1/"), Reach::Public).map(|(_, c)| c),
            Some(AddrClass::Loopback)
        );
        assert_eq!(check_literal(&url("https://8.8.8.8/"), Reach::Public), None);
        assert_eq!(
            check_literal(&url("https://example.com/"), Reach::Public),
            None
        );
    }

    #[tokio::test]
    async fn the_public_resolver_drops_non_public_addresses() {
        let pins = vec![
            (
                "Mixed.Example.".to_string(),
                vec!["127.0.0.1".parse().unwrap(), "8.8.8.8".parse().unwrap()],
            ),
            (
                "local.example".to_string(),
                vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
            ),
        ];
        let names = Arc::new(Names {
            pins: pins.into_iter().map(|(n, a)| (name_key(&n), a)).collect(),
            last: Mutex::default(),
        });
        let public = PolicyResolver {
            names: names.clone(),
            public_only: true,
        };
        let found = public.resolve_name("mixed.example").await.unwrap();
        assert_eq!(found, ["8.8.8.8:0".parse().unwrap()]);
        let err = public.resolve_name("local.example").await.unwrap_err();
        let refused = refusal(err.as_ref()).expect("a policy refusal");
        assert_eq!(refused.classes(), "private, loopback");
        let operator = PolicyResolver {
            names,
            public_only: false,
        };
        assert_eq!(
            operator.resolve_name("local.example").await.unwrap().len(),
            2
        );
    }
}
