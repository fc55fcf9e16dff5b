//! A fake Namecheap XML API on loopback, for the namecheap plugin's tests.
//!
//! Written from Namecheap's API documentation: one endpoint
//! (`/xml.response`, GET query or POST form), the global parameters checked
//! in the documented order with the documented error numbers (1010101
//! ApiUser missing, 1011102 API key invalid, 1011105 ClientIp missing,
//! 1011150 "Invalid request IP", 1016103 UserName unauthorized), every
//! answer HTTP 200 with `<ApiResponse Status="OK|ERROR">`.
//! `namecheap.domains.dns.getHosts` lists the domain's hosts (with HostId,
//! MXPref, TTL, the domain's EmailType); `namecheap.domains.dns.setHosts`
//! replaces the whole list, so a client that forgets a record deletes it.
//! setHosts checks what Namecheap checks: TTL 60-60000, MX hosts only with
//! EmailType MX; without EmailType the domain's email setting falls back to
//! NONE. Unknown domains answer 2019166. Throttled writes answer Error
//! 500000 "Too many requests" (what the live API sends; it adds no
//! Retry-After, the test switch does). TXT hosts are mirrored into a real
//! PowerDNS.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fake_common::RequestLog;
use crate::fake_store::PdnsMirror;
use crate::httpd::TestServer;
use crate::pdns::Pdns;
use crate::provider_suite::{Fake, Throttle};

/// What the fake account holds.
#[derive(Debug, Clone)]
pub struct NamecheapOptions {
    pub api_user: String,
    pub api_key: String,
    /// The whitelisted client IPs.
    pub whitelist: Vec<String>,
    /// Domains of the account, with their first hosts and EmailType.
    pub domains: Vec<(String, Vec<NcHost>, String)>,
}

impl NamecheapOptions {
    pub fn new(user: &str, key: &str, ip: &str, domains: &[&str]) -> Self {
        NamecheapOptions {
            api_user: user.into(),
            api_key: key.into(),
            whitelist: vec![ip.into()],
            domains: domains
                .iter()
                .map(|d| (d.to_string(), Vec::new(), "NONE".to_string()))
                .collect(),
        }
    }

    /// Gives `domain` mail (EmailType MX with an MX host) and a web address,
    /// the records a careless setHosts would lose.
    pub fn with_mail_and_web(mut self, domain: &str) -> Self {
        for (d, hosts, email) in &mut self.domains {
            if d == domain {
                hosts.push(NcHost::new("@", "A", "192.0.2.10", "10", "1800"));
                hosts.push(NcHost::new("www", "CNAME", "example.test.", "10", "1799"));
                hosts.push(NcHost::new("@", "MX", "mail.example.test.", "5", "3600"));
                hosts.push(NcHost::new(
                    "@",
                    "TXT",
                    "v=spf1 include:spf.example.test ~all",
                    "10",
                    "1800",
                ));
                *email = "MX".into();
            }
        }
        self
    }
}

/// One host as getHosts shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NcHost {
    pub host_id: u64,
    pub name: String,
    pub record_type: String,
    pub address: String,
    pub mx_pref: String,
    pub ttl: String,
}

impl NcHost {
    pub fn new(name: &str, rtype: &str, address: &str, mx: &str, ttl: &str) -> Self {
        NcHost {
            host_id: 0,
            name: name.into(),
            record_type: rtype.into(),
            address: address.into(),
            mx_pref: mx.into(),
            ttl: ttl.into(),
        }
    }
}

/// A domain as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NcDomain {
    pub name: String,
    pub hosts: Vec<NcHost>,
    pub email_type: String,
}

/// How the next getHosts answer is spoiled (to test that a client never
/// writes back what it could not read whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokenRead {
    /// The document stops in the middle.
    Truncated,
    /// A host lacks its Address attribute.
    HostWithoutAddress,
}

struct Inner {
    options: NamecheapOptions,
    domains: tokio::sync::Mutex<Vec<NcDomain>>,
    mirror: PdnsMirror,
    next_id: AtomicU64,
    throttle: Throttle,
    broken: std::sync::Mutex<Option<BrokenRead>>,
    requests: RequestLog,
}

/// A running fake.
pub struct FakeNamecheap {
    pub server: TestServer,
    inner: Arc<Inner>,
}

impl FakeNamecheap {
    /// Serves the fake, mirroring into `pdns` (which must serve every
    /// domain). TXT hosts of the initial lists are mirrored at once.
    pub async fn start(pdns: &Pdns, options: NamecheapOptions) -> Self {
        let next_id = AtomicU64::new(217_000);
        let domains: Vec<NcDomain> = options
            .domains
            .iter()
            .map(|(name, hosts, email)| NcDomain {
                name: name.clone(),
                hosts: hosts
                    .iter()
                    .map(|h| NcHost {
                        host_id: next_id.fetch_add(1, Ordering::SeqCst),
                        ..h.clone()
                    })
                    .collect(),
                email_type: email.clone(),
            })
            .collect();
        let inner = Arc::new(Inner {
            options,
            domains: tokio::sync::Mutex::new(domains.clone()),
            mirror: PdnsMirror::new(pdns),
            next_id,
            throttle: Throttle::new(),
            broken: std::sync::Mutex::new(None),
            requests: RequestLog::default(),
        });
        for d in &domains {
            let names: BTreeSet<String> = d
                .hosts
                .iter()
                .filter(|h| h.record_type == "TXT")
                .map(|h| fqdn(&h.name, &d.name))
                .collect();
            for name in names {
                sync(&inner, d, &name).await.unwrap();
            }
        }
        let app = Router::new()
            .route("/xml.response", get(api).post(api))
            .with_state(inner.clone());
        FakeNamecheap {
            server: TestServer::start(app).await,
            inner,
        }
    }

    /// The API URL, as the plugin's `api_url`.
    pub fn api_url(&self) -> String {
        format!("{}/xml.response", self.server.url())
    }

    pub async fn domain(&self, name: &str) -> NcDomain {
        self.inner
            .domains
            .lock()
            .await
            .iter()
            .find(|d| d.name == name)
            .cloned()
            .expect("a domain of the account")
    }

    /// Spoils the next getHosts answer.
    pub fn break_next_read(&self, how: BrokenRead) {
        *self.inner.broken.lock().unwrap() = Some(how);
    }

    /// The Command of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.inner.requests.all()
    }

    /// setHosts calls answered.
    pub fn writes(&self) -> usize {
        self.requests()
            .iter()
            .filter(|c| c.eq_ignore_ascii_case("namecheap.domains.dns.setHosts"))
            .count()
    }
}

impl Fake for FakeNamecheap {
    fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    async fn add_foreign(&self, fqdn_: &str, value: &str) {
        let mut domains = self.inner.domains.lock().await;
        let d = domains
            .iter_mut()
            .filter(|d| fqdn_ == d.name || fqdn_.ends_with(&format!(".{}", d.name)))
            .max_by_key(|d| d.name.len())
            .expect("name in a domain");
        let name = if fqdn_ == d.name {
            "@".to_string()
        } else {
            fqdn_
                .strip_suffix(&format!(".{}", d.name))
                .unwrap()
                .to_string()
        };
        d.hosts.push(NcHost {
            host_id: self.inner.next_id.fetch_add(1, Ordering::SeqCst),
            ..NcHost::new(&name, "TXT", value, "10", "60")
        });
        let d = d.clone();
        sync(&self.inner, &d, fqdn_).await.unwrap();
    }

    /// Every TXT host, except the SPF record of
    /// [`NamecheapOptions::with_mail_and_web`] (part of the zone, not of a
    /// challenge).
    async fn txt_records(&self) -> Vec<(String, String)> {
        self.inner
            .domains
            .lock()
            .await
            .iter()
            .flat_map(|d| {
                d.hosts
                    .iter()
                    .filter(|h| h.record_type == "TXT" && !h.address.starts_with("v=spf1"))
                    .map(|h| (fqdn(&h.name, &d.name), h.address.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

fn fqdn(name: &str, domain: &str) -> String {
    if name == "@" {
        domain.to_string()
    } else {
        format!("{}.{domain}", name.to_ascii_lowercase())
    }
}

/// XML attribute/text escaping.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn document(status: &str, errors: &str, command: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n\
         <ApiResponse Status=\"{status}\" xmlns=\"http://api.namecheap.com/xml.response\">\r\n\
         \x20 {errors}\r\n  <Warnings />\r\n  <RequestedCommand>{}</RequestedCommand>\r\n\
         \x20 {body}\r\n  <Server>PHX01SBAPIEXT05</Server>\r\n\
         \x20 <GMTTimeDifference>--5:00</GMTTimeDifference>\r\n\
         \x20 <ExecutionTime>0.011</ExecutionTime>\r\n</ApiResponse>",
        escape(&command.to_ascii_lowercase())
    )
}

fn xml(text: String) -> Response {
    ([("content-type", "text/xml; charset=utf-8")], text).into_response()
}

/// An `ERROR` answer (HTTP 200, as Namecheap sends them).
pub fn error(number: u64, message: &str) -> Response {
    xml(document(
        "ERROR",
        &format!(
            "<Errors>\r\n    <Error Number=\"{number}\">{}</Error>\r\n  </Errors>",
            escape(message)
        ),
        "",
        "",
    ))
}

fn ok_text(command: &str, body: &str) -> String {
    document(
        "OK",
        "<Errors />",
        command,
        &format!(
            "<CommandResponse Type=\"{}\">\r\n{body}\r\n  </CommandResponse>",
            escape(command)
        ),
    )
}

fn ok(command: &str, body: &str) -> Response {
    xml(ok_text(command, body))
}

async fn api(
    State(inner): State<Arc<Inner>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut params: HashMap<String, String> = query;
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        for (k, v) in url::form_urlencoded::parse(&body) {
            params.insert(k.into_owned(), v.into_owned());
        }
    }
    let get = |k: &str| param(&params, k);
    let command = get("Command").unwrap_or("").to_string();
    inner.requests.push(command.clone());
    let o = &inner.options;
    let Some(user) = get("ApiUser") else {
        return error(1010101, "Parameter APIUser is missing");
    };
    let Some(key) = get("ApiKey") else {
        return error(1010102, "Parameter APIKey is missing");
    };
    if user != o.api_user || key != o.api_key {
        return error(
            1011102,
            "API Key is invalid or API access has not been enabled",
        );
    }
    if command.is_empty() {
        return error(1010104, "Parameter Command is missing");
    }
    let Some(ip) = get("ClientIp") else {
        return error(1011105, "Parameter ClientIP is missing");
    };
    if !o.whitelist.iter().any(|w| w == ip) {
        return error(1011150, &format!("Invalid request IP: {ip}"));
    }
    if get("UserName") != Some(o.api_user.as_str()) {
        return error(1016103, "Parameter UserName is unauthorized");
    }
    let domain = match (get("SLD"), get("TLD")) {
        (Some(sld), Some(tld)) => format!("{sld}.{tld}").to_ascii_lowercase(),
        (None, _) => return error(2011166, "Parameter SLD is missing"),
        (_, None) => return error(2011166, "Parameter TLD is missing"),
    };
    match command.to_ascii_lowercase().as_str() {
        "namecheap.domains.dns.gethosts" => get_hosts(&inner, &domain).await,
        "namecheap.domains.dns.sethosts" => {
            if let Some(r) = inner
                .throttle
                .intercept(|| error(500000, "Too many requests"))
            {
                return r;
            }
            set_hosts(&inner, &domain, &params).await
        }
        _ => error(1010104, "Parameter Command is invalid"),
    }
}

async fn get_hosts(inner: &Inner, domain: &str) -> Response {
    let domains = inner.domains.lock().await;
    let Some(d) = domains.iter().find(|d| d.name == domain) else {
        return error(2019166, "Domain name not found");
    };
    let broken = inner.broken.lock().unwrap().take();
    let mut hosts = String::new();
    for (i, h) in d.hosts.iter().enumerate() {
        let address = if i == 0 && broken == Some(BrokenRead::HostWithoutAddress) {
            String::new()
        } else {
            format!(" Address=\"{}\"", escape(&h.address))
        };
        hosts.push_str(&format!(
            "      <host HostId=\"{}\" Name=\"{}\" Type=\"{}\"{address} MXPref=\"{}\" TTL=\"{}\" \
             AssociatedAppTitle=\"\" FriendlyName=\"\" IsActive=\"true\" IsDDNSEnabled=\"false\" />\r\n",
            h.host_id,
            escape(&h.name),
            escape(&h.record_type),
            escape(&h.mx_pref),
            escape(&h.ttl)
        ));
    }
    let body = format!(
        "    <DomainDNSGetHostsResult Domain=\"{}\" EmailType=\"{}\" IsUsingOurDNS=\"true\">\r\n\
         {hosts}    </DomainDNSGetHostsResult>",
        escape(domain),
        escape(&d.email_type)
    );
    let mut text = ok_text("namecheap.domains.dns.getHosts", &body);
    if broken == Some(BrokenRead::Truncated) {
        text.truncate(text.len() / 2);
    }
    xml(text)
}

/// A request parameter (names are case-insensitive), if not empty.
fn param<'p>(params: &'p HashMap<String, String>, key: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

async fn set_hosts(inner: &Inner, domain: &str, params: &HashMap<String, String>) -> Response {
    let get = |k: &str| param(params, k);
    let mut domains = inner.domains.lock().await;
    let Some(index) = domains.iter().position(|d| d.name == domain) else {
        return error(2019166, "Domain name not found");
    };
    let email_type = get("EmailType").unwrap_or("NONE").to_ascii_uppercase();
    if !["MXE", "MX", "FWD", "OX", "GMAIL", "NONE"].contains(&email_type.as_str()) {
        return error(2030280, &format!("Invalid EmailType: {email_type}"));
    }
    let mut hosts = Vec::new();
    for n in 1.. {
        let Some(name) = get(&format!("HostName{n}")) else {
            break;
        };
        let (Some(rtype), Some(address)) =
            (get(&format!("RecordType{n}")), get(&format!("Address{n}")))
        else {
            return error(2050900, &format!("Unknown error when adding host {n}"));
        };
        let rtype = rtype.to_ascii_uppercase();
        let ttl: u32 = get(&format!("TTL{n}"))
            .map(|t| t.parse().unwrap_or(0))
            .unwrap_or(1800);
        if !(60..=60000).contains(&ttl) {
            return error(2050900, &format!("Invalid TTL {ttl} for host {n}"));
        }
        if rtype == "MX" && email_type != "MX" {
            return error(
                2050900,
                &format!("MX records are not allowed with EmailType {email_type}"),
            );
        }
        hosts.push(NcHost {
            host_id: inner.next_id.fetch_add(1, Ordering::SeqCst),
            name: name.to_string(),
            record_type: rtype,
            address: address.to_string(),
            mx_pref: get(&format!("MXPref{n}")).unwrap_or("10").to_string(),
            ttl: ttl.to_string(),
        });
    }
    let old = std::mem::replace(
        &mut domains[index],
        NcDomain {
            name: domain.to_string(),
            hosts,
            email_type,
        },
    );
    let d = domains[index].clone();
    let names: BTreeSet<String> = old
        .hosts
        .iter()
        .chain(d.hosts.iter())
        .filter(|h| h.record_type == "TXT")
        .map(|h| fqdn(&h.name, domain))
        .collect();
    for name in names {
        if let Err(e) = sync(inner, &d, &name).await {
            domains[index] = old;
            return error(5050900, &format!("Unhandled error: {e}"));
        }
    }
    ok(
        "namecheap.domains.dns.setHosts",
        &format!(
            "    <DomainDNSSetHostsResult Domain=\"{}\" IsSuccess=\"true\">\r\n      <Warnings />\r\n    </DomainDNSSetHostsResult>",
            escape(domain)
        ),
    )
}

/// Mirrors the TXT hosts named `name` (absolute) of `d` into PowerDNS.
async fn sync(inner: &Inner, d: &NcDomain, name: &str) -> anyhow::Result<()> {
    let here: Vec<&NcHost> = d
        .hosts
        .iter()
        .filter(|h| h.record_type == "TXT" && fqdn(&h.name, &d.name) == name)
        .collect();
    let values: Vec<String> = here.iter().map(|h| h.address.clone()).collect();
    let ttl = here
        .iter()
        .filter_map(|h| h.ttl.parse().ok())
        .min()
        .unwrap_or(60);
    inner.mirror.set_txt(&d.name, name, ttl, &values).await
}
