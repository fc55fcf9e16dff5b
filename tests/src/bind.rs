//! BIND 9 (`named`) in the test beds, two ways.
//!
//! - [`Bind::secondary`]: a secondary nameserver that copies a zone from the
//!   bed's PowerDNS by zone transfer (AXFR), only when told to: a real
//!   secondary whose lag the test controls. `transfer()` runs
//!   `rndc retransfer`; nothing else makes it fetch the zone (refresh timers
//!   are an hour, and PowerDNS's native zones send no NOTIFY).
//! - [`Bind::primary`]: the primary of a zone that takes RFC 2136 updates
//!   of TXT records signed with a TSIG key (`update-policy { grant <key>
//!   zonesub TXT; }`), its journal in its own folder: one of the
//!   [`crate::rfc2136`] servers.
//!
//! Either runs `named -g` in a temporary folder (config, zone file, journal,
//! log), and is killed when its handle drops.

use anyhow::{Context, Result, bail};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

use crate::rfc2136::{self, TsigKey, UpdateServer};
use crate::{find_program, free_port_on, require_program};

/// How long a primary may take to answer for its zone.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `named` holding `zone` (as a secondary or a primary).
pub struct Bind {
    child: Child,
    dir: TempDir,
    addr: SocketAddr,
    zone: String,
}

/// Whether `named` and `rndc` are installed (a failure under CI).
pub fn available() -> bool {
    require_program("named") && require_program("rndc")
}

/// Whether `named` is installed: all that [`Bind::primary`] runs (a
/// failure under CI).
pub fn primary_available() -> bool {
    require_program("named")
}

impl Bind {
    /// Starts `named` on `ip`, port `port` (the bed's nameserver port: every
    /// nameserver is asked on one port), as secondary of `zone` from
    /// `primary`, and waits for the first transfer.
    pub async fn secondary(ip: IpAddr, port: u16, zone: &str, primary: SocketAddr) -> Result<Bind> {
        let named = find_program("named").context("named is not installed (Debian: bind9)")?;
        let dir = tempfile::Builder::new().prefix("wacme-bind").tempdir()?;
        let control_port = free_port_on("127.0.0.1");
        let secret = rfc2136::random_secret();
        let d = dir.path().display();
        let conf = format!(
            r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    listen-on port {port} {{ {ip}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
    allow-query {{ any; }};
}};
key "rndc-key" {{ algorithm hmac-sha256; secret "{secret}"; }};
controls {{ inet 127.0.0.1 port {control_port} allow {{ 127.0.0.1; }} keys {{ "rndc-key"; }}; }};
zone "{zone}" {{
    type secondary;
    primaries {{ {pip} port {pport}; }};
    file "{d}/{zone}.db";
    min-refresh-time 3600;
    max-refresh-time 3600;
}};
"#,
            pip = primary.ip(),
            pport = primary.port(),
        );
        std::fs::write(
            dir.path().join("rndc.conf"),
            format!(
                "key \"rndc-key\" {{ algorithm hmac-sha256; secret \"{secret}\"; }};\n\
                 options {{ default-key \"rndc-key\"; default-server 127.0.0.1; default-port {control_port}; }};\n"
            ),
        )?;
        let mut bind = Self::spawn(&named, dir, &conf, SocketAddr::new(ip, port), zone)?;
        bind.wait_loaded().await?;
        Ok(bind)
    }

    /// Starts `named` on `ip`, port `port`, as primary of `zone` (SOA,
    /// `NS ns1.<zone>.`, `ns1 A <ip>`, TTL 60), taking updates of TXT
    /// records anywhere in the zone signed with `key`; waits until it
    /// answers the zone's SOA. `extra_keys` are known to the server but
    /// granted nothing: an update signed with one of them is refused.
    pub async fn primary(
        ip: IpAddr,
        port: u16,
        zone: &str,
        key: &TsigKey,
        extra_keys: &[TsigKey],
    ) -> Result<Bind> {
        let named = find_program("named").context("named is not installed (Debian: bind9)")?;
        let dir = tempfile::Builder::new().prefix("wacme-bind").tempdir()?;
        let zone = zone.trim_end_matches('.');
        let d = dir.path().display();
        std::fs::write(
            dir.path().join(format!("{zone}.db")),
            rfc2136::zone_file(zone, ip),
        )?;
        let keys: String = std::iter::once(key)
            .chain(extra_keys)
            .map(TsigKey::bind_key_block)
            .collect();
        let listen = if ip.is_ipv4() {
            format!("listen-on port {port} {{ {ip}; }};\n    listen-on-v6 {{ none; }};")
        } else {
            format!("listen-on {{ none; }};\n    listen-on-v6 port {port} {{ {ip}; }};")
        };
        let conf = format!(
            r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    {listen}
    recursion no;
    notify no;
    dnssec-validation no;
    allow-query {{ any; }};
}};
controls {{ }};
{keys}zone "{zone}" {{
    type primary;
    file "{d}/{zone}.db";
    journal "{d}/{zone}.db.jnl";
    update-policy {{ grant "{name}" zonesub TXT; }};
}};
"#,
            name = key.name,
        );
        let mut bind = Self::spawn(&named, dir, &conf, SocketAddr::new(ip, port), zone)?;
        let addr = bind.addr;
        rfc2136::wait_for_soa(addr, zone, START_TIMEOUT, || {
            match bind.child.try_wait()? {
                Some(status) => bail!("named exited ({status})"),
                None => Ok(()),
            }
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}\n{}", bind.log_tail()))?;
        Ok(bind)
    }

    /// Writes `conf` into `dir` and runs `named -g -n 1` on it, its output
    /// in `named.log`.
    fn spawn(named: &Path, dir: TempDir, conf: &str, addr: SocketAddr, zone: &str) -> Result<Bind> {
        std::fs::write(dir.path().join("named.conf"), conf)?;
        let log = std::fs::File::create(dir.path().join("named.log"))?;
        let child = Command::new(named)
            .args(["-g", "-n", "1", "-c"])
            .arg(dir.path().join("named.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot run named")?;
        Ok(Bind {
            child,
            dir,
            addr,
            zone: zone.to_string(),
        })
    }

    /// Where it answers.
    pub fn dns_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The zone it holds (no trailing dot).
    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// Fetches the zone from the primary now (`rndc retransfer`) and waits
    /// until the transfer is done.
    pub async fn transfer(&self) -> Result<()> {
        let before = self.transfers();
        self.rndc(&["retransfer", &self.zone])?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.transfers() == before {
            if Instant::now() > deadline {
                bail!("no transfer within 10 s:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    fn rndc(&self, args: &[&str]) -> Result<()> {
        let out = Command::new(find_program("rndc").context("rndc is not installed")?)
            .arg("-c")
            .arg(self.dir.path().join("rndc.conf"))
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!(
                "rndc {args:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Completed transfers, as named logs them.
    fn transfers(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("named.log"))
            .unwrap_or_default()
            .matches("Transfer completed")
            .count()
    }

    async fn wait_loaded(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.transfers() == 0 {
            if let Some(status) = self.child.try_wait()? {
                bail!("named exited ({status}):\n{}", self.log_tail());
            }
            if Instant::now() > deadline {
                bail!("named loaded no zone in 15 s:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// The end of named's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Its folder (config, zone file, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl UpdateServer for Bind {
    fn dns_addr(&self) -> SocketAddr {
        self.addr
    }

    fn zone(&self) -> &str {
        &self.zone
    }

    fn name(&self) -> &'static str {
        "bind"
    }

    fn log_tail(&self) -> String {
        Bind::log_tail(self)
    }
}
