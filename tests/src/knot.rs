//! Knot DNS (`knotd`) as the primary of a zone that takes RFC 2136 updates
//! of TXT records signed with a TSIG key: one of the [`crate::rfc2136`]
//! servers.
//!
//! [`Knot::primary`] writes `knot.conf` and the zone file into a temporary
//! folder that also holds everything else the server keeps (run dir, zone
//! storage, journal and timer databases, control socket, log), runs
//! `knotd -c knot.conf` in the foreground with one worker of each kind, and
//! waits until it answers the zone's SOA. The ACL grants `action: update`
//! to the key with `update-type: TXT` (Knot 3.2). The server is killed when
//! its handle drops.
//!
//! Knot answers a refused update with NOTAUTH, also when the message is not
//! signed (BIND says REFUSED there), and with NOTAUTH plus the TSIG error
//! BADKEY when a valid key is not allowed the update (e.g. an A record).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;

use crate::require_program;
use crate::rfc2136::{self, TsigKey, UpdateServer};

/// How long the server may take to answer for its zone.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether `knotd` is installed (a failure under CI; Debian: knot).
pub fn available() -> bool {
    require_program("knotd")
}

/// A running `knotd`, primary of one zone.
pub struct Knot {
    child: Child,
    dir: TempDir,
    addr: SocketAddr,
    zone: String,
}

impl Knot {
    /// Starts `knotd` on `ip`, port `port`, as primary of `zone` (SOA,
    /// `NS ns1.<zone>.`, `ns1 A <ip>`, TTL 60), taking updates of TXT
    /// records signed with `key`; waits until it answers the zone's SOA.
    pub async fn primary(ip: IpAddr, port: u16, zone: &str, key: &TsigKey) -> Result<Knot> {
        let knotd =
            crate::find_program("knotd").context("knotd is not installed (Debian: knot)")?;
        let dir = tempfile::Builder::new().prefix("wacme-knot").tempdir()?;
        let zone = zone.trim_end_matches('.');
        std::fs::write(
            dir.path().join(format!("{zone}.zone")),
            rfc2136::zone_file(zone, ip),
        )?;
        std::fs::write(
            dir.path().join("knot.conf"),
            config_text(dir.path(), ip, port, zone, key),
        )?;
        let log = std::fs::File::create(dir.path().join("knot.log"))?;
        let child = Command::new(knotd)
            .arg("-c")
            .arg(dir.path().join("knot.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot run knotd")?;
        let mut knot = Knot {
            child,
            dir,
            addr: SocketAddr::new(ip, port),
            zone: zone.to_string(),
        };
        let child = &mut knot.child;
        rfc2136::wait_for_soa(knot.addr, zone, START_TIMEOUT, || {
            match child.try_wait()? {
                Some(status) => bail!("knotd exited ({status})"),
                None => Ok(()),
            }
        })
        .await
        .map_err(|e| anyhow!("{e:#}\n{}", knot.log_tail()))?;
        Ok(knot)
    }

    /// Where it answers.
    pub fn dns_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The zone it holds (no trailing dot).
    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// Its folder (config, zone file, databases, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The control socket, for `knotc -s <socket> …`.
    pub fn control_socket(&self) -> PathBuf {
        self.dir.path().join("knot.sock")
    }

    /// The end of knotd's log, for failure messages.
    pub fn log_tail(&self) -> String {
        rfc2136::file_tail(&self.dir.path().join("knot.log"), 30)
    }
}

impl UpdateServer for Knot {
    fn dns_addr(&self) -> SocketAddr {
        self.addr
    }

    fn zone(&self) -> &str {
        &self.zone
    }

    fn name(&self) -> &'static str {
        "knot"
    }

    fn log_tail(&self) -> String {
        Knot::log_tail(self)
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_text(dir: &Path, ip: IpAddr, port: u16, zone: &str, key: &TsigKey) -> String {
    let d = dir.display();
    format!(
        r#"server:
    rundir: "{d}"
    listen: {ip}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

database:
    storage: "{d}"

control:
    listen: "{d}/knot.sock"

log:
  - target: stderr
    any: info

key:
  - id: {name}
    algorithm: {algorithm}
    secret: {secret}

acl:
  - id: tsig-update
    key: {name}
    action: update
    update-type: TXT

zone:
  - domain: {zone}.
    storage: "{d}"
    file: "{zone}.zone"
    acl: tsig-update
"#,
        name = key.name,
        algorithm = key.algorithm,
        secret = key.secret,
    )
}
