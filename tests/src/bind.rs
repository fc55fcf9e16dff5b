//! BIND 9 (`named`) as a secondary nameserver that copies a zone from the
//! bed's PowerDNS by zone transfer (AXFR), only when told to: a real
//! secondary whose lag the test controls. `transfer()` runs
//! `rndc retransfer`; nothing else makes it fetch the zone (refresh timers
//! are an hour, and PowerDNS's native zones send no NOTIFY).

use anyhow::{Context, Result, bail};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

use crate::{find_program, free_port_on, require_program};

/// A running `named` holding `zone` as a secondary.
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

impl Bind {
    /// Starts `named` on `ip`, port `port` (the bed's nameserver port: every
    /// nameserver is asked on one port), as secondary of `zone` from
    /// `primary`, and waits for the first transfer.
    pub async fn secondary(ip: IpAddr, port: u16, zone: &str, primary: SocketAddr) -> Result<Bind> {
        let named = find_program("named").context("named is not installed (Debian: bind9)")?;
        let dir = tempfile::Builder::new().prefix("wacme-bind").tempdir()?;
        let control_port = free_port_on("127.0.0.1");
        let secret = base64_secret();
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
        std::fs::write(dir.path().join("named.conf"), conf)?;
        std::fs::write(
            dir.path().join("rndc.conf"),
            format!(
                "key \"rndc-key\" {{ algorithm hmac-sha256; secret \"{secret}\"; }};\n\
                 options {{ default-key \"rndc-key\"; default-server 127.0.0.1; default-port {control_port}; }};\n"
            ),
        )?;
        let log = std::fs::File::create(dir.path().join("named.log"))?;
        let child = Command::new(named)
            .args(["-g", "-c"])
            .arg(dir.path().join("named.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot run named")?;
        let mut bind = Bind {
            child,
            dir,
            addr: SocketAddr::new(ip, port),
            zone: zone.to_string(),
        };
        bind.wait_loaded().await?;
        Ok(bind)
    }

    /// Where it answers.
    pub fn dns_addr(&self) -> SocketAddr {
        self.addr
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

/// A random HMAC-SHA256 key in base64, for rndc.
fn base64_secret() -> String {
    use base64::Engine as _;
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
