//! The test bed for wacme's end-to-end tests: real servers (Pebble, PowerDNS)
//! started on loopback with free ports, fake provider APIs, and the paths of
//! the built `wacme` binary and plugin components.
//!
//! Servers are killed when their handle drops. A test that needs a binary
//! that is not installed fails under CI (`CI` set) and is skipped with a loud
//! message on a developer machine.

pub mod bind;
pub mod dns01;
pub mod fake_acmedns;
pub mod fake_alidns;
pub mod fake_azure;
pub mod fake_baiducloud;
pub mod fake_cloudflare;
pub mod fake_common;
pub mod fake_desec;
pub mod fake_digitalocean;
pub mod fake_dnspod;
pub mod fake_gandi;
pub mod fake_gcloud;
pub mod fake_godaddy;
pub mod fake_hetzner;
pub mod fake_huaweicloud;
pub mod fake_linode;
pub mod fake_namecheap;
pub mod fake_ovh;
pub mod fake_porkbun;
pub mod fake_rest;
pub mod fake_route53;
pub mod fake_store;
pub mod fake_tencentcloud;
pub mod fake_volcengine;
pub mod fake_vultr;
pub mod faulty;
pub mod httpd;
pub mod knot;
pub mod netns;
pub mod pdns;
pub mod pebble;
pub mod provider_suite;
pub mod rfc2136;
pub mod sandbox;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Cargo's target directory for this workspace.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace_root().join(p)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The `wacme` binary built by `scripts/test.sh` (`cargo build -p wacme`).
pub fn wacme_bin() -> PathBuf {
    let path = target_dir().join("debug").join("wacme");
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/test.sh (or `cargo build -p wacme`) before the tests",
        path.display()
    );
    path
}

/// A plugin component built by `scripts/build-plugins.sh`, by crate name
/// suffix: `plugin_wasm("pdns")` → `…/wasm32-wasip2/plugin/wacme_plugin_pdns.wasm`.
pub fn plugin_wasm(name: &str) -> PathBuf {
    let path = target_dir()
        .join("wasm32-wasip2")
        .join("plugin")
        .join(format!("wacme_plugin_{}.wasm", name.replace('-', "_")));
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/test.sh (or ./scripts/build-plugins.sh) before the tests",
        path.display()
    );
    path
}

/// Whether `name` is an installed program. Under CI a missing program is a
/// failure; elsewhere the caller skips, and this prints why, loudly.
pub fn require_program(name: &str) -> bool {
    if find_program(name).is_some() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("`{name}` is not installed, and CI must run this test: .ci/run installs it");
    }
    eprintln!(
        "\n*** SKIPPED: `{name}` is not installed. Install pebble, pdns-server and \
         pdns-backend-sqlite3 (see README.md) to run this test. ***\n"
    );
    false
}

/// Full path of an installed program, looking in `PATH` and the sbin folders.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A loopback port free for both TCP and UDP right now.
pub fn free_port() -> u16 {
    free_port_on("127.0.0.1")
}

/// A port free for both TCP and UDP on `ip` right now.
pub fn free_port_on(ip: &str) -> u16 {
    free_ports_on(ip, 1, &[])[0]
}

/// `n` distinct ports free for both TCP and UDP on `ip` right now, none of
/// them in `taken`. Ports picked one after the other with [`free_port_on`]
/// can repeat (the kernel may hand a released port out again at once), so
/// a server given two of them can clash with itself; these are held until
/// all are picked.
pub fn free_ports_on(ip: &str, n: usize, taken: &[u16]) -> Vec<u16> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..100 + n {
        if held.len() == n {
            break;
        }
        let tcp = TcpListener::bind((ip, 0)).expect("bind a loopback TCP port");
        let port = tcp.local_addr().unwrap().port();
        if taken.contains(&port) {
            continue;
        }
        if let Ok(udp) = UdpSocket::bind((ip, port)) {
            held.push((port, tcp, udp));
        }
    }
    assert_eq!(held.len(), n, "no {n} free ports on {ip}");
    held.into_iter().map(|(port, _, _)| port).collect()
}

/// Waits until something accepts TCP connections on `addr`.
pub fn wait_for_tcp(addr: SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("nothing listens on {addr} after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed (and reaped) on drop.
pub struct ChildGuard {
    pub name: &'static str,
    pub child: std::process::Child,
}

impl ChildGuard {
    /// Fails with the process's name and exit status if it is not running.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            anyhow::bail!("{} exited early: {status}", self.name);
        }
        Ok(())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
