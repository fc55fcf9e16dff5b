//! Running one test inside a fresh network namespace: loopback only, no
//! route anywhere else, and optionally no IPv6 at all — the network of a CI
//! runner or of a Docker container without IPv6. Servers the test starts
//! (Pebble, PowerDNS, BIND) start inside it too. 127.0.0.2-5 are interface
//! addresses there, for servers (BIND) that listen only on those.
//!
//! A test calls [`isolated`] first: outside the namespace it runs this same
//! test binary again, filtered to that one test, under `unshare`, and
//! returns `false` (the caller returns); inside it returns `true` and the
//! test body runs.

use std::process::Command;

/// Set in the copy that runs inside the namespace.
const MARKER: &str = "WACME_TEST_NETNS";

/// What the namespace offers besides IPv4 loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6 {
    /// `::1` only: IPv6 exists, nothing beyond loopback is routed.
    LoopbackOnly,
    /// IPv6 disabled: no IPv6 socket can be connected at all.
    Disabled,
}

/// `true` inside the namespace (run the test); `false` after running test
/// `name` (its path in this binary, e.g. `refusing_aaaa`) in a new
/// namespace, which panics if that run failed. Where namespaces cannot be
/// made, fails under CI and skips loudly elsewhere.
pub fn isolated(name: &str, ipv6: Ipv6) -> bool {
    if std::env::var_os(MARKER).is_some() {
        return true;
    }
    let Some(unshare) = crate::find_program("unshare") else {
        crate::require_program("unshare");
        return false;
    };
    let disable = match ipv6 {
        Ipv6::LoopbackOnly => "",
        Ipv6::Disabled => {
            "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && \
             echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6 && "
        }
    };
    // Loopback addresses besides 127.0.0.1 as interface addresses, so
    // servers that listen only on interface addresses (BIND) can use them.
    let script = format!(
        "ip link set lo up && for i in 2 3 4 5; do ip addr add 127.0.0.$i/32 dev lo; done && \
         {disable}exec \"$0\" --exact \"$1\" --nocapture --test-threads=1"
    );
    // Root makes the namespace directly; anyone else through a user
    // namespace (where the kernel allows it).
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut cmd = Command::new(unshare);
    if !root {
        cmd.arg("--map-root-user");
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let probe = Command::new(cmd.get_program())
        .args(cmd.get_args())
        .args(["--net", "true"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        if std::env::var_os("CI").is_some() {
            panic!("cannot create a network namespace (unshare --net), and CI must run {name}");
        }
        eprintln!(
            "\n*** SKIPPED: {name} needs a network namespace (run as root, or allow user \
             namespaces). ***\n"
        );
        return false;
    }
    let out = cmd
        .args(["--net", "sh", "-c", &script])
        .arg(exe)
        .arg(name)
        .env(MARKER, "1")
        .output()
        .expect("run the test in a network namespace");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in a network namespace ({ipv6:?}) failed:\n{stdout}\n{stderr}"
    );
    print!("{stdout}");
    eprint!("{stderr}");
    false
}
