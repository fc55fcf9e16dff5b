//! A real PowerDNS Authoritative server (`pdns_server`, gsqlite3 backend) on
//! loopback for the end-to-end tests.
//!
//! [`Pdns::start`] creates a sqlite database from the Debian schema, writes a
//! `pdns.conf` into its own temporary folder, starts the server on a free
//! port with the HTTP API on another one (random API key), and waits until
//! both the API and DNS answer. [`Pdns::start_secondary`] starts a second
//! server sharing the same database on another loopback address (same DNS
//! port, so one "authoritative port" setting reaches both), which is how the
//! tests get a zone with two nameservers; each server keeps its own caches,
//! so small cache TTLs ([`PdnsOptions`]) make one of them lag for a few
//! seconds. Zones and records are changed through the API; [`Pdns::txt_values`]
//! asks the server itself over DNS (UDP, no recursion, TCP on truncation).
//!
//! [`PdnsOptions::accepting_updates`] and [`Pdns::allow_tsig_updates`] make
//! a server take RFC 2136 updates signed with a TSIG key; [`PdnsPrimary`] is
//! such a server holding one zone, one of the [`crate::rfc2136`] servers.
//!
//! The server is killed when its handle drops. A server that dies while
//! starting fails the start with the tail of its log.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::rfc2136::{TsigKey, UpdateServer};
use crate::{ChildGuard, find_program, free_ports_on, require_program};

/// Where Debian's pdns-backend-sqlite3 puts the database schema.
pub const SCHEMA: &str = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql";

/// How long a server may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one DNS query waits for its answer (per try).
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether PowerDNS with the sqlite backend is installed. Under CI a missing
/// piece is a failure; elsewhere the caller skips (and this says why).
pub fn available() -> bool {
    if !require_program("pdns_server") {
        return false;
    }
    if Path::new(SCHEMA).is_file() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{SCHEMA} is missing, and CI must run this test: .ci/run installs pdns-backend-sqlite3"
        );
    }
    eprintln!(
        "\n*** SKIPPED: {SCHEMA} is missing: install pdns-backend-sqlite3 (see README.md). ***\n"
    );
    false
}

/// How a server is started.
#[derive(Debug, Clone)]
pub struct PdnsOptions {
    /// Address of both listeners (DNS and API).
    pub ip: IpAddr,
    /// DNS port; `None` picks a free one ([`Pdns::start_secondary`] uses the
    /// primary's).
    pub dns_port: Option<u16>,
    /// `cache-ttl`: seconds whole answers stay in the packet cache.
    pub cache_ttl: u32,
    /// `negquery-cache-ttl`: seconds a "no such name" stays in the query cache.
    pub negquery_cache_ttl: u32,
    /// `query-cache-ttl`: seconds a backend answer stays in the query cache.
    pub query_cache_ttl: u32,
    /// SOA minimum (and SOA TTL) of zones made by [`Pdns::create_zone`]: the
    /// TTL of negative answers.
    pub soa_minimum: u32,
    /// More `pdns.conf` lines (`setting=value`), written last.
    pub extra_config: Vec<String>,
}

impl Default for PdnsOptions {
    /// 127.0.0.1, no caching: every change shows at once.
    fn default() -> Self {
        PdnsOptions {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            dns_port: None,
            cache_ttl: 0,
            negquery_cache_ttl: 0,
            query_cache_ttl: 0,
            soa_minimum: 1,
            extra_config: Vec::new(),
        }
    }
}

impl PdnsOptions {
    /// These options plus DNS UPDATE (RFC 2136) accepted from loopback
    /// clients. Beware: PowerDNS takes *unsigned* updates from those
    /// addresses for any zone that names no key in `TSIG-ALLOW-DNSUPDATE`;
    /// [`Pdns::allow_tsig_updates`] names one, after which only updates
    /// signed with it are taken.
    pub fn accepting_updates(mut self) -> Self {
        self.extra_config.extend([
            "dnsupdate=yes".to_string(),
            "allow-dnsupdate-from=127.0.0.0/8,::1/128".to_string(),
        ]);
        self
    }
}

/// A running `pdns_server`.
pub struct Pdns {
    child: Mutex<ChildGuard>,
    /// Holds the shared database; kept alive by every server using it.
    data: Arc<TempDir>,
    /// This server's own folder (config, sockets, log).
    dir: TempDir,
    options: PdnsOptions,
    dns_addr: SocketAddr,
    api_addr: SocketAddr,
    api_key: String,
    http: reqwest::Client,
}

impl Pdns {
    /// Starts a server with no caching on 127.0.0.1.
    pub async fn start() -> Result<Pdns> {
        Self::start_with(PdnsOptions::default()).await
    }

    /// Starts a server with its own, fresh database.
    pub async fn start_with(options: PdnsOptions) -> Result<Pdns> {
        let data = Arc::new(tempfile::Builder::new().prefix("wacme-pdns-db").tempdir()?);
        create_database(&data.path().join("pdns.sqlite3"))?;
        let key = random_key();
        // A port picked free can be taken before the server binds it: retry
        // with new ports when that happened.
        let mut tries = 0;
        loop {
            tries += 1;
            match Self::spawn(data.clone(), options.clone(), key.clone()).await {
                Err(e) if options.dns_port.is_none() && tries < 3 && is_port_clash(&e) => continue,
                result => return result,
            }
        }
    }

    /// Starts a second server on `options.ip` that serves the same database
    /// (and takes the same API key); its DNS port is this server's unless
    /// `options.dns_port` says otherwise. Change data through either API.
    pub async fn start_secondary(&self, options: PdnsOptions) -> Result<Pdns> {
        let options = PdnsOptions {
            dns_port: options.dns_port.or(Some(self.dns_addr.port())),
            ..options
        };
        let addr = SocketAddr::new(options.ip, options.dns_port.unwrap());
        if addr == self.dns_addr {
            bail!("a second server needs another address than {addr}");
        }
        if let Err(e) = TcpListener::bind(addr).and_then(|_| UdpSocket::bind(addr)) {
            bail!("cannot start a second pdns_server on {addr}: {e}");
        }
        Self::spawn(self.data.clone(), options, self.api_key.clone()).await
    }

    async fn spawn(data: Arc<TempDir>, options: PdnsOptions, api_key: String) -> Result<Pdns> {
        let program = find_program("pdns_server")
            .context("pdns_server is not installed (Debian: pdns-server pdns-backend-sqlite3)")?;
        let ip = options.ip.to_string();
        // Distinct ports: the API's must not be the DNS port (TCP on both).
        let (dns_port, api_port) = match options.dns_port {
            Some(dns) => (dns, free_ports_on(&ip, 1, &[dns])[0]),
            None => {
                let ports = free_ports_on(&ip, 2, &[]);
                (ports[0], ports[1])
            }
        };
        let dir = tempfile::Builder::new().prefix("wacme-pdns").tempdir()?;
        let conf = config_text(
            &options,
            &data.path().join("pdns.sqlite3"),
            dir.path(),
            dns_port,
            api_port,
            &api_key,
        );
        std::fs::write(dir.path().join("pdns.conf"), conf)?;
        let log = std::fs::File::create(dir.path().join("pdns.log"))?;
        let child = Command::new(&program)
            .arg(format!("--config-dir={}", dir.path().display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot run {}", program.display()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()?;
        let pdns = Pdns {
            child: Mutex::new(ChildGuard {
                name: "pdns_server",
                child,
            }),
            data,
            dir,
            dns_addr: SocketAddr::new(options.ip, dns_port),
            api_addr: SocketAddr::new(options.ip, api_port),
            options,
            api_key,
            http,
        };
        pdns.wait_ready().await?;
        Ok(pdns)
    }

    /// Waits until the API answers with our key and DNS answers a query.
    async fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut api_up = false;
        loop {
            self.check_running()?;
            if !api_up {
                let url = format!("{}/api/v1/servers/localhost", self.api_url());
                let response = self
                    .http
                    .get(&url)
                    .header("x-api-key", &self.api_key)
                    .send()
                    .await;
                api_up = matches!(response, Ok(r) if r.status().is_success());
                // pdns_server keeps running without its API when the port
                // was taken between picking and binding it: fail now, as a
                // clash the caller retries with new ports.
                if !api_up
                    && self
                        .log_tail(40)
                        .contains("Listening on HTTP socket failed")
                {
                    bail!(
                        "pdns_server's API port {} is in use (port clash)\n{}",
                        self.api_addr,
                        self.log_tail(40)
                    );
                }
            }
            if api_up {
                let probe = Name::from_ascii("wacme-readiness.invalid.")?;
                if exchange(
                    self.dns_addr,
                    &probe,
                    RecordType::SOA,
                    Duration::from_millis(300),
                )
                .await
                .is_ok()
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "pdns_server on {} (API {}) not ready after {START_TIMEOUT:?} (API up: {api_up})\n{}",
                    self.dns_addr,
                    self.api_addr,
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails, with the tail of the server's log, when it is not running.
    pub fn check_running(&self) -> Result<()> {
        let mut child = self
            .child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(e) = child.check_running() {
            bail!(
                "{e} (DNS {}, API {})\n{}",
                self.dns_addr,
                self.api_addr,
                self.log_tail(40)
            );
        }
        Ok(())
    }

    /// The last `lines` lines of the server's output.
    pub fn log_tail(&self, lines: usize) -> String {
        let path = self.dir.path().join("pdns.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n");
        format!("--- last lines of {} ---\n{tail}", path.display())
    }

    /// The web server root, as an operator writes `api_url`
    /// (`http://127.0.0.1:<port>`; the API is under `/api/v1`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Where this server answers DNS (UDP and TCP).
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns_addr
    }

    pub fn options(&self) -> &PdnsOptions {
        &self.options
    }

    /// The sqlite database this server (and its secondaries) serves.
    pub fn database(&self) -> PathBuf {
        self.data.path().join("pdns.sqlite3")
    }

    /// Creates a native zone whose NS records are `nameservers` (absolute
    /// names with their addresses, e.g. `("ns1.example.test", 127.0.0.1)`).
    /// Nameservers inside the zone get their A/AAAA record in it; the SOA
    /// minimum is [`PdnsOptions::soa_minimum`].
    pub async fn create_zone(&self, zone: &str, nameservers: &[(&str, IpAddr)]) -> Result<()> {
        let zone = absolute(zone);
        if nameservers.is_empty() {
            bail!("a zone needs at least one nameserver");
        }
        let min = self.options.soa_minimum;
        let primary = absolute(nameservers[0].0);
        let mut rrsets = vec![json!({
            "name": zone, "type": "SOA", "ttl": min,
            "records": [{"content": format!("{primary} hostmaster.{zone} 1 10800 3600 604800 {min}"), "disabled": false}],
        })];
        let mut glue: Vec<(String, &str, Vec<String>)> = Vec::new();
        for (name, addr) in nameservers {
            let name = absolute(name);
            if name != zone && !name.ends_with(&format!(".{zone}")) {
                continue;
            }
            let rtype = if addr.is_ipv4() { "A" } else { "AAAA" };
            match glue.iter_mut().find(|(n, t, _)| *n == name && *t == rtype) {
                Some((_, _, addrs)) => addrs.push(addr.to_string()),
                None => glue.push((name, rtype, vec![addr.to_string()])),
            }
        }
        for (name, rtype, addrs) in glue {
            let records: Vec<Value> = addrs
                .iter()
                .map(|a| json!({"content": a, "disabled": false}))
                .collect();
            rrsets.push(json!({"name": name, "type": rtype, "ttl": 60, "records": records}));
        }
        let mut ns_names: Vec<String> = nameservers.iter().map(|(n, _)| absolute(n)).collect();
        ns_names.dedup();
        let body =
            json!({"name": zone, "kind": "Native", "nameservers": ns_names, "rrsets": rrsets});
        self.api(reqwest::Method::POST, "/zones", Some(body))
            .await?;
        Ok(())
    }

    /// Imports `key` (`POST /tsigkeys`) and makes it the one key that may
    /// update `zone` (metadata `TSIG-ALLOW-DNSUPDATE`); an update's SOA
    /// serial goes up by one (`SOA-EDIT-DNSUPDATE` `INCREASE`). The server
    /// must have been started with [`PdnsOptions::accepting_updates`].
    pub async fn allow_tsig_updates(&self, zone: &str, key: &TsigKey) -> Result<()> {
        self.api(
            reqwest::Method::POST,
            "/tsigkeys",
            Some(json!({"name": key.name, "algorithm": key.algorithm, "key": key.secret})),
        )
        .await?;
        let zone = absolute(zone);
        for (kind, value) in [
            ("TSIG-ALLOW-DNSUPDATE", key.name.as_str()),
            ("SOA-EDIT-DNSUPDATE", "INCREASE"),
        ] {
            self.api(
                reqwest::Method::PUT,
                &format!("/zones/{zone}/metadata/{kind}"),
                Some(json!({"kind": kind, "metadata": [value]})),
            )
            .await?;
        }
        Ok(())
    }

    /// Replaces the RRset `name`/`rtype` (in `zone`) with `contents` in
    /// presentation form (TXT content quoted: `"\"value\""`); no contents
    /// deletes it.
    pub async fn set_rrset(
        &self,
        zone: &str,
        name: &str,
        rtype: &str,
        ttl: u32,
        contents: &[&str],
    ) -> Result<()> {
        let rrset = if contents.is_empty() {
            json!({"name": absolute(name), "type": rtype, "changetype": "DELETE"})
        } else {
            let records: Vec<Value> = contents
                .iter()
                .map(|c| json!({"content": c, "disabled": false}))
                .collect();
            json!({"name": absolute(name), "type": rtype, "ttl": ttl, "changetype": "REPLACE", "records": records})
        };
        let path = format!("/zones/{}", absolute(zone));
        self.api(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"rrsets": [rrset]})),
        )
        .await?;
        Ok(())
    }

    /// Adds one record to the RRset `name`/`rtype`, keeping the others.
    pub async fn add_record(
        &self,
        zone: &str,
        name: &str,
        rtype: &str,
        ttl: u32,
        content: &str,
    ) -> Result<()> {
        let mut contents = self.rrset(zone, name, rtype).await?;
        if !contents.iter().any(|c| c == content) {
            contents.push(content.to_string());
        }
        let refs: Vec<&str> = contents.iter().map(String::as_str).collect();
        self.set_rrset(zone, name, rtype, ttl, &refs).await
    }

    /// The contents of the RRset `name`/`rtype` as the API shows them
    /// (presentation form, sorted; empty when there is none).
    pub async fn rrset(&self, zone: &str, name: &str, rtype: &str) -> Result<Vec<String>> {
        let path = format!(
            "/zones/{}?rrsets=true&rrset_name={}&rrset_type={rtype}",
            absolute(zone),
            absolute(name)
        );
        let zone_json = self.api(reqwest::Method::GET, &path, None).await?;
        let mut contents: Vec<String> = zone_json["rrsets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                r["type"] == rtype
                    && r["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&absolute(name)))
            })
            .flat_map(|r| r["records"].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r["content"].as_str().map(str::to_string))
            .collect();
        contents.sort();
        Ok(contents)
    }

    /// Empties this server's caches for `name` and everything below it.
    pub async fn flush_cache(&self, name: &str) -> Result<()> {
        let path = format!("/cache/flush?domain={}", absolute(name));
        self.api(reqwest::Method::PUT, &path, None).await?;
        Ok(())
    }

    /// The TXT values `name` carries, asked of this server over DNS (each
    /// value's character strings joined; sorted). No such name or no TXT
    /// record gives an empty list; any other failure is an error.
    pub async fn txt_values(&self, name: &str) -> Result<Vec<String>> {
        txt_values_at(self.dns_addr, name).await
    }

    /// One call of the API under `/api/v1/servers/localhost`; a non-2xx
    /// answer is an error with its status and body. Returns the JSON body
    /// (`Null` when empty).
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let url = format!("{}/api/v1/servers/localhost{path}", self.api_url());
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header("x-api-key", &self.api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            bail!(
                "{method} {url}: HTTP {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).with_context(|| format!("{method} {url}: not JSON"))
    }
}

/// A `pdns_server` with no caching, primary of one zone that takes updates
/// signed with a TSIG key (any record type: PowerDNS has no per-type rule
/// short of a Lua policy script). Its API stays usable through [`Self::pdns`].
///
/// With the wrong secret PowerDNS answers NOTAUTH (TSIG error BADSIG), with
/// an unknown key name NOTAUTH (BADKEY), unsigned REFUSED.
pub struct PdnsPrimary {
    pub pdns: Pdns,
    zone: String,
}

impl PdnsPrimary {
    /// Starts a server on `ip`, port `port`, with `zone` (SOA, `NS
    /// ns1.<zone>.`, `ns1 A <ip>`) taking updates signed with `key`.
    pub async fn start(ip: IpAddr, port: u16, zone: &str, key: &TsigKey) -> Result<PdnsPrimary> {
        let pdns = Pdns::start_with(
            PdnsOptions {
                ip,
                dns_port: Some(port),
                ..PdnsOptions::default()
            }
            .accepting_updates(),
        )
        .await?;
        let zone = zone.trim_end_matches('.').to_string();
        pdns.create_zone(&zone, &[(&format!("ns1.{zone}"), ip)])
            .await?;
        pdns.allow_tsig_updates(&zone, key).await?;
        Ok(PdnsPrimary { pdns, zone })
    }
}

impl UpdateServer for PdnsPrimary {
    fn dns_addr(&self) -> SocketAddr {
        self.pdns.dns_addr()
    }

    fn zone(&self) -> &str {
        &self.zone
    }

    fn name(&self) -> &'static str {
        "pdns"
    }

    fn log_tail(&self) -> String {
        self.pdns.log_tail(30)
    }
}

/// The TXT values `name` carries according to the server at `server` (see
/// [`Pdns::txt_values`]).
pub async fn txt_values_at(server: SocketAddr, name: &str) -> Result<Vec<String>> {
    let qname = Name::from_ascii(absolute(name))?;
    let answer = exchange(server, &qname, RecordType::TXT, QUERY_TIMEOUT).await?;
    match answer.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        other => bail!("{server} answered {other} for {name} TXT"),
    }
    let mut values: Vec<String> = answer
        .answers
        .iter()
        .filter(|r| r.name == qname)
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    values.sort();
    Ok(values)
}

/// Sends one non-recursive query to `server` (UDP, retried; TCP when the
/// answer is truncated) and returns the answer.
pub async fn exchange(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message> {
    let id = (RandomState::new().build_hasher().finish() & 0xffff) as u16;
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = false;
    query.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    query.set_edns(edns);
    let bytes = query.to_vec()?;

    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let socket = tokio::net::UdpSocket::bind(bind).await?;
    socket.connect(server).await?;
    let mut buf = vec![0u8; 65535];
    for _ in 0..3 {
        socket.send(&bytes).await?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let Ok(received) = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await
            else {
                break;
            };
            let Ok(answer) = Message::from_vec(&buf[..received?]) else {
                continue;
            };
            if answer.metadata.id != id || answer.metadata.message_type != MessageType::Response {
                continue;
            }
            if answer.metadata.truncation {
                return exchange_tcp(server, &bytes, id, timeout).await;
            }
            return Ok(answer);
        }
    }
    Err(anyhow!(
        "no DNS answer from {server} for {name} {rtype} (3 tries of {timeout:?})"
    ))
}

async fn exchange_tcp(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Message> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(server).await?;
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        stream.write_all(&framed).await?;
        let len = stream.read_u16().await? as usize;
        let mut buf = vec![0u8; len];
        stream.read_exact(&mut buf).await?;
        let answer = Message::from_vec(&buf)?;
        if answer.metadata.id != id {
            bail!("{server} answered over TCP with the wrong id");
        }
        Ok(answer)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow!("no DNS answer over TCP from {server} within {timeout:?}"))?
}

/// `name` with one trailing dot.
fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

fn random_key() -> String {
    (0..4)
        .map(|_| format!("{:016x}", RandomState::new().build_hasher().finish()))
        .collect()
}

fn create_database(path: &Path) -> Result<()> {
    let schema = std::fs::read_to_string(SCHEMA)
        .with_context(|| format!("cannot read {SCHEMA} (Debian: pdns-backend-sqlite3)"))?;
    let db = rusqlite::Connection::open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    db.execute_batch(&schema)
        .with_context(|| format!("cannot load {SCHEMA}"))?;
    Ok(())
}

fn is_port_clash(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}");
    text.contains("port clash") || (text.contains("exited early") && text.contains("in use"))
}

fn config_text(
    o: &PdnsOptions,
    db: &Path,
    dir: &Path,
    dns_port: u16,
    api_port: u16,
    api_key: &str,
) -> String {
    let lines = [
        "launch=gsqlite3".to_string(),
        format!("gsqlite3-database={}", db.display()),
        format!("local-address={}", o.ip),
        format!("local-port={dns_port}"),
        "api=yes".into(),
        format!("api-key={api_key}"),
        "webserver=yes".into(),
        format!("webserver-address={}", o.ip),
        format!("webserver-port={api_port}"),
        "webserver-allow-from=127.0.0.0/8,::1/128".into(),
        format!("socket-dir={}", dir.display()),
        "guardian=no".into(),
        "daemon=no".into(),
        "disable-syslog=yes".into(),
        // No query to the public DNS for the security status.
        "security-poll-suffix=".into(),
        // Servers sharing the database must see zones the other created.
        "zone-cache-refresh-interval=0".into(),
        format!("cache-ttl={}", o.cache_ttl),
        format!("negquery-cache-ttl={}", o.negquery_cache_ttl),
        format!("query-cache-ttl={}", o.query_cache_ttl),
    ];
    let mut text = String::new();
    for line in lines.iter().chain(&o.extra_config) {
        text.push_str(line);
        text.push('\n');
    }
    text
}
