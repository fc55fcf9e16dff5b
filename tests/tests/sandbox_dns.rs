//! The `dns` import under attack (`tests/plugins/hostile`, mode `dns-each`):
//! a plugin reaches a nameserver only when it declares it, and a loopback or
//! private server only when the operator configured it — not through a
//! server it names itself (as an address or a name resolving to loopback),
//! not through its own default. What is not a DNS message is refused before
//! it leaves. Every refused server is a real listener that counts what
//! reached it: nothing may.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wacme::plugins::config::Sources;
use wacme::plugins::{Error, RuntimeOptions};
use wacme_tests::sandbox::{Hostile, challenge_set, load_hostile};

/// The default of the hostile plugin's `dns_server` (`dns::DEFAULT_SERVER`).
const DEFAULT_SERVER: &str = "127.0.0.2:5300";

/// A UDP nameserver on `addr` that answers every message with itself as a
/// response (QR set) and counts what it received.
struct Responder {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Responder {
    async fn start(addr: &str) -> Responder {
        let socket = tokio::net::UdpSocket::bind(addr).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let count = received.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let mut answer = buf[..n].to_vec();
                if answer.len() >= 3 {
                    answer[2] |= 0x80;
                }
                let _ = socket.send_to(&answer, from).await;
            }
        });
        Responder {
            addr,
            received,
            task,
        }
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn hostile() -> Hostile {
    load_hostile(RuntimeOptions {
        resolve: vec![(
            "ns.evil.test".into(),
            vec!["127.0.0.1".parse::<IpAddr>().unwrap()],
        )],
        ..Default::default()
    })
    .await
}

/// What `dns-each` reported over `servers` with `dns_server` configured by
/// the operator (or left at the plugin's default): the outcome of the
/// garbage message (sent to the first server), then one per server.
async fn dns_each(bed: &Hostile, dns_server: Option<&str>, servers: &[&str]) -> Vec<String> {
    let mut pairs = vec![("mode", "dns-each")];
    if let Some(server) = dns_server {
        pairs.push(("dns_server", server));
    }
    let config = Sources::resolve_pairs(bed.plugin.metadata(), &pairs).unwrap();
    let session = bed.plugin.session(&config, &[]).unwrap();
    let error = match session.present(&challenge_set(servers)).await {
        Err(Error::Provider { error, .. }) => error,
        other => panic!("unexpected outcome: {other:?}"),
    };
    let mut lines = error.message.lines();
    assert_eq!(
        lines.next(),
        Some("dns-each: stopped by the sandbox:"),
        "{}",
        error.message
    );
    let garbage = lines.next().expect("garbage line");
    assert!(garbage.starts_with("garbage => "), "{}", error.message);
    let mut outcomes = vec![garbage["garbage => ".len()..].to_string()];
    for (line, server) in lines.zip(servers) {
        let outcome = line
            .strip_prefix(&format!("{server} => "))
            .unwrap_or_else(|| panic!("{server}: {line}"));
        outcomes.push(outcome.to_string());
    }
    assert_eq!(outcomes.len(), servers.len() + 1, "{}", error.message);
    outcomes
}

#[tokio::test]
async fn a_server_the_operator_configured_is_reached_even_on_loopback() {
    let bed = hostile().await;
    let server = Responder::start("127.0.0.1:0").await;
    let addr = server.addr.to_string();
    let outcomes = dns_each(&bed, Some(&addr), &[&addr]).await;
    assert!(outcomes[1].starts_with("answered"), "{outcomes:?}");
    // The garbage was refused before it left: only the query arrived.
    assert!(
        outcomes[0].contains("Denied") && outcomes[0].contains("not a DNS message"),
        "{outcomes:?}"
    );
    assert_eq!(server.received(), 1);
}

#[tokio::test]
async fn servers_the_plugin_chose_may_not_be_loopback() {
    let bed = hostile().await;
    // Listeners where the plugin's own servers point, counting what arrives.
    let static_ip = Responder::start("127.0.0.1:5300").await;
    let default = Responder::start(DEFAULT_SERVER).await;
    let outcomes = dns_each(
        &bed,
        None,
        &["127.0.0.1:5300", "ns.evil.test:5300", DEFAULT_SERVER],
    )
    .await;
    for (outcome, why) in outcomes[1..].iter().zip([
        "127.0.0.1:5300 is a non-public address (loopback)",
        "ns.evil.test:5300 resolves only to non-public addresses (loopback)",
        "127.0.0.2:5300 is a non-public address (loopback)",
    ]) {
        assert!(
            outcome.contains("Denied") && outcome.contains(why),
            "{outcome} should say {why:?}"
        );
    }
    assert_eq!(static_ip.received() + default.received(), 0);
}

#[tokio::test]
async fn undeclared_servers_are_refused_before_anything_leaves() {
    let bed = hostile().await;
    let declared = Responder::start("127.0.0.1:0").await;
    let other = Responder::start("127.0.0.1:0").await;
    let addr = declared.addr.to_string();
    let outcomes = dns_each(&bed, Some(&addr), &[&other.addr.to_string()]).await;
    for outcome in &outcomes {
        assert!(
            outcome.contains("Denied")
                && outcome.contains("is not among the plugin's DNS servers")
                && outcome.contains(&addr),
            "{outcomes:?}"
        );
    }
    assert_eq!(other.received() + declared.received(), 0);
}
