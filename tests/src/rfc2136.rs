//! What the RFC 2136 (DNS UPDATE, TSIG-signed) test beds share: the TSIG
//! key a bed accepts ([`TsigKey`]), the [`UpdateServer`] view of a running
//! server (BIND in [`crate::bind`], Knot in [`crate::knot`], PowerDNS in
//! [`crate::pdns`]), [`start`] to run any of them by [`Kind`], and the
//! client side the tests use to check a bed by hand: [`nsupdate`] (to seed a
//! foreign value, or to see a wrong key refused) and [`txt_values`] (asked
//! of the server itself over DNS).
//!
//! Every bed serves one zone on a free high port of a loopback address:
//! SOA, `NS ns1.<zone>.`, `ns1 A <ip>`, and accepts updates signed with its
//! key (BIND and Knot: TXT records only; PowerDNS cannot restrict types).

use std::net::{IpAddr, SocketAddr};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RecordType};
use tokio::io::AsyncWriteExt;

use crate::{find_program, require_program};

/// How long one `nsupdate` run may take before it is killed.
const NSUPDATE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TSIG key as every server (and `nsupdate -y`) takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key's name (a domain name, written without the trailing dot).
    pub name: String,
    /// `hmac-sha256`, `hmac-sha512`, … (the BIND spelling, which Knot,
    /// PowerDNS and `nsupdate` take too).
    pub algorithm: String,
    /// The shared secret, base64.
    pub secret: String,
}

impl TsigKey {
    /// An `hmac-sha256` key called `name` with a fresh random 256-bit secret.
    pub fn generate(name: &str) -> TsigKey {
        TsigKey {
            name: name.to_string(),
            algorithm: "hmac-sha256".to_string(),
            secret: random_secret(),
        }
    }

    /// The same name and algorithm with another random secret: a key the
    /// server knows by name whose signatures do not verify.
    pub fn with_wrong_secret(&self) -> TsigKey {
        TsigKey {
            secret: random_secret(),
            ..self.clone()
        }
    }

    /// The BIND `key` statement: `key "name" { algorithm …; secret "…"; };`.
    pub fn bind_key_block(&self) -> String {
        format!(
            "key \"{}\" {{ algorithm {}; secret \"{}\"; }};\n",
            self.name, self.algorithm, self.secret
        )
    }

    /// The argument of `nsupdate -y` / `dig -y`: `algorithm:name:secret`.
    pub fn y_arg(&self) -> String {
        format!("{}:{}:{}", self.algorithm, self.name, self.secret)
    }
}

/// A running RFC 2136 server holding one zone.
pub trait UpdateServer: Send + Sync {
    /// Where it answers DNS and takes updates (UDP and TCP).
    fn dns_addr(&self) -> SocketAddr;
    /// The zone it is primary for (no trailing dot).
    fn zone(&self) -> &str;
    /// Which server this is: `"bind"`, `"knot"` or `"pdns"`.
    fn name(&self) -> &'static str;
    /// The end of the server's log, for failure messages.
    fn log_tail(&self) -> String;
}

/// The servers a bed can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bind,
    Knot,
    Pdns,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Bind, Kind::Knot, Kind::Pdns];

    /// `"bind"`, `"knot"` or `"pdns"`, as [`UpdateServer::name`] says.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bind => "bind",
            Kind::Knot => "knot",
            Kind::Pdns => "pdns",
        }
    }

    /// Whether this server and `nsupdate` are installed (a failure under
    /// CI; elsewhere a loud skip).
    pub fn available(self) -> bool {
        let server = match self {
            Kind::Bind => crate::bind::primary_available(),
            Kind::Knot => crate::knot::available(),
            Kind::Pdns => crate::pdns::available(),
        };
        server && available()
    }
}

/// Starts a `kind` server on `ip`:`port` as primary of `zone`, taking
/// updates signed with `key`, and waits until it answers for the zone.
pub async fn start(
    kind: Kind,
    ip: IpAddr,
    port: u16,
    zone: &str,
    key: &TsigKey,
) -> Result<Box<dyn UpdateServer>> {
    Ok(match kind {
        Kind::Bind => Box::new(crate::bind::Bind::primary(ip, port, zone, key, &[]).await?),
        Kind::Knot => Box::new(crate::knot::Knot::primary(ip, port, zone, key).await?),
        Kind::Pdns => Box::new(crate::pdns::PdnsPrimary::start(ip, port, zone, key).await?),
    })
}

/// Whether `nsupdate` is installed (Debian: bind9-dnsutils).
pub fn available() -> bool {
    require_program("nsupdate")
}

/// Runs `nsupdate` against `server` for its zone: `server <ip> <port>`,
/// `zone <zone>`, then `commands` (lines such as
/// `update add <name> 60 TXT "value"`), then `send`. Signed with `key`
/// (`-y`) when given, unsigned otherwise. Returns what nsupdate did; a
/// refused update is a non-zero status with the server's answer in stderr
/// (e.g. `update failed: NOTAUTH(BADSIG)`), not an `Err`.
pub async fn nsupdate(
    server: &(impl UpdateServer + ?Sized),
    key: Option<&TsigKey>,
    commands: &str,
) -> Result<Output> {
    nsupdate_at(server.dns_addr(), server.zone(), key, commands).await
}

/// [`nsupdate`] for a server given by address and zone.
pub async fn nsupdate_at(
    addr: SocketAddr,
    zone: &str,
    key: Option<&TsigKey>,
    commands: &str,
) -> Result<Output> {
    let program = find_program("nsupdate").context("nsupdate is not installed (bind9-dnsutils)")?;
    let mut cmd = tokio::process::Command::new(program);
    // -t: give up on the server after a few seconds, not the default 300.
    cmd.args(["-t", "5"]);
    if let Some(key) = key {
        cmd.arg("-y").arg(key.y_arg());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run nsupdate")?;
    let script = format!(
        "server {} {}\nzone {}\n{}\nsend\n",
        addr.ip(),
        addr.port(),
        zone.trim_end_matches('.'),
        commands.trim_end()
    );
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(script.as_bytes()).await?;
    drop(stdin);
    tokio::time::timeout(NSUPDATE_TIMEOUT, child.wait_with_output())
        .await
        .with_context(|| format!("nsupdate to {addr} did not finish in {NSUPDATE_TIMEOUT:?}"))?
        .context("nsupdate")
}

/// An nsupdate [`Output`]'s status, stdout and stderr in one text, for
/// assertions and failure messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The TXT values `name` carries, asked of `server` itself over DNS (see
/// [`crate::pdns::txt_values_at`]).
pub async fn txt_values(server: &(impl UpdateServer + ?Sized), name: &str) -> Result<Vec<String>> {
    crate::pdns::txt_values_at(server.dns_addr(), name).await
}

/// Waits until `addr` answers the SOA of `zone` authoritatively, calling
/// `alive` between tries (it fails when the server died). Used by the beds'
/// start.
pub(crate) async fn wait_for_soa(
    addr: SocketAddr,
    zone: &str,
    timeout: Duration,
    mut alive: impl FnMut() -> Result<()>,
) -> Result<()> {
    let name = Name::from_ascii(format!("{}.", zone.trim_end_matches('.')))?;
    let deadline = Instant::now() + timeout;
    loop {
        alive()?;
        if let Ok(answer) =
            crate::pdns::exchange(addr, &name, RecordType::SOA, Duration::from_millis(200)).await
            && answer.metadata.response_code == ResponseCode::NoError
            && answer.metadata.authoritative
            && answer
                .answers
                .iter()
                .any(|r| r.record_type() == RecordType::SOA)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{addr} does not answer the SOA of {zone} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The zone file every bed starts from: `$TTL 60`, SOA (minimum 1 s, so a
/// name that did not exist is soon seen), `NS ns1.<zone>.`, `ns1 A <ip>`.
pub(crate) fn zone_file(zone: &str, ip: IpAddr) -> String {
    let zone = zone.trim_end_matches('.');
    let rtype = if ip.is_ipv4() { "A" } else { "AAAA" };
    format!(
        "$ORIGIN {zone}.\n$TTL 60\n\
         @ SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 1\n\
         @ NS ns1.{zone}.\n\
         ns1 {rtype} {ip}\n"
    )
}

/// A random 256-bit secret in base64.
pub fn random_secret() -> String {
    use base64::Engine as _;
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The last `lines` lines of the file at `path` (empty when unreadable).
pub(crate) fn file_tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    format!("--- last lines of {} ---\n{tail}", path.display())
}
