//! The address policy of plugin HTTP: an origin the plugin chose (a static
//! entry such as `https://*.evil.test:18443`) reaches public addresses only,
//! whatever its name resolves to; an origin the operator chose reaches
//! anything; and what goes wrong on the way looks the same to the plugin, so
//! it cannot scan ports.
//!
//! The hostile plugin (`tests/plugins/hostile`) declares the evil origins on
//! a fixed port, so every test runs in a network namespace of its own (see
//! `wacme_tests::netns`), where that port is free and 127.0.0.0/8 serves
//! only the test. Names are pinned with `RuntimeOptions::resolve`. Each
//! refusal is paired with a control: the same request with the operator's
//! trust reaches the same server, so the refusal is the policy's doing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wacme::plugins::config::Sources;
use wacme::plugins::{Error, RuntimeOptions};
use wacme_tests::httpd::redirector;
use wacme_tests::netns::{Ipv6, isolated};

/// The port of the hostile plugin's declared origins (`net::EVIL_PORT`).
const EVIL_PORT: u16 = 18443;

/// The operator's trust in the plugin's wildcard origin.
const TRUST_EVIL: &str = "https://*.evil.test:18443";

/// What a request is refused with when the name leads to loopback only.
fn loopback_denial(origin: &str) -> String {
    format!(
        "HttpError::Denied(\"{origin} resolves only to non-public addresses (loopback); an endpoint you \
         configure yourself or --plugin-allow may reach it\")"
    )
}

type Bed = wacme_tests::sandbox::Hostile;

/// A runtime with `pins` (name, address) and `roots` trusted, and the
/// hostile plugin loaded in it.
async fn bed(pins: &[(&str, &str)], roots: &[&TlsServer]) -> Bed {
    let resolve = pins
        .iter()
        .map(|(name, ip)| (name.to_string(), vec![ip.parse::<IpAddr>().unwrap()]))
        .collect();
    wacme_tests::sandbox::load_hostile(RuntimeOptions {
        extra_roots: roots
            .iter()
            .map(|s| s.ca_pem.clone().into_bytes())
            .collect(),
        resolve,
        ..Default::default()
    })
    .await
}

/// Runs the `http-each` mode over `urls`, with `target` configured and the
/// operator's `allow` list: `Ok` when a URL answered (the request got
/// through), otherwise the host's error for each URL, in order.
async fn http_each(
    bed: &Bed,
    target: Option<&str>,
    allow: &[&str],
    urls: &[&str],
) -> Result<(), Vec<String>> {
    let mut pairs = vec![("mode", "http-each")];
    if let Some(target) = target {
        pairs.push(("target", target));
    }
    let config = Sources::resolve_pairs(bed.plugin.metadata(), &pairs).unwrap();
    let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
    let session = bed.plugin.session(&config, &allow).unwrap();
    let set = wacme_tests::sandbox::challenge_set(urls);
    match session.present(&set).await {
        Ok(()) => Ok(()),
        Err(Error::Provider { error, .. }) => {
            let mut lines = error.message.lines();
            assert_eq!(
                lines.next(),
                Some("http-each: stopped by the sandbox:"),
                "{}",
                error.message
            );
            let errors: Vec<String> = lines
                .zip(urls)
                .map(|(line, url)| {
                    line.strip_prefix(&format!("{url} => "))
                        .unwrap_or_else(|| panic!("{url}: {line}"))
                        .to_string()
                })
                .collect();
            assert_eq!(errors.len(), urls.len(), "{}", error.message);
            Err(errors)
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// An HTTPS server on `ip:EVIL_PORT` with a certificate from its own CA for
/// `*.evil.test` and the given IP addresses; it counts TCP connections and
/// the requests it answered.
struct TlsServer {
    ca_pem: String,
    connections: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsServer {
    async fn start(ip: &str, cert_ips: &[&str]) -> TlsServer {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose, SanType,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(DnType::CommonName, "wacme network policy test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut leaf = CertificateParams::new(vec!["*.evil.test".to_string()]).unwrap();
        for cert_ip in cert_ips {
            leaf.subject_alt_names
                .push(SanType::IpAddress(cert_ip.parse().unwrap()));
        }
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = leaf.signed_by(&key, &issuer).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = listen(ip).await;
        let connections = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let (c, r) = (connections.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let (acceptor, r) = (acceptor.clone(), r.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        answer(tls, &r).await;
                    }
                });
            }
        });
        TlsServer {
            ca_pem: ca_cert.pem(),
            connections,
            requests,
            task,
        }
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn listen(ip: &str) -> tokio::net::TcpListener {
    let addr = SocketAddr::new(ip.parse().unwrap(), EVIL_PORT);
    tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"))
}

/// Reads one request head and answers it with 200, counting it.
async fn answer(
    mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    requests: &AtomicU64,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nreached")
        .await;
    let _ = stream.shutdown().await;
}

/// A server on `ip:EVIL_PORT` counting TCP connections that answers the
/// first bytes of each with `reply` (an HTTP server refusing a TLS
/// handshake) or, when `reply` is `None`, accepts and never says anything.
async fn raw_server(
    ip: &str,
    reply: Option<&'static [u8]>,
) -> (Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = listen(ip).await;
    let connections = Arc::new(AtomicU64::new(0));
    let c = connections.clone();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut tcp, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let Some(reply) = reply else {
                held.push(tcp);
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                if tcp.read(&mut buf).await.is_ok_and(|n| n > 0) {
                    let _ = tcp.write_all(reply).await;
                    let _ = tcp.shutdown().await;
                }
            });
        }
    });
    (connections, task)
}

/// Adds `ip` to the namespace's loopback interface.
fn add_address(ip: &str) {
    let status = std::process::Command::new("ip")
        .args(["addr", "add", &format!("{ip}/32"), "dev", "lo"])
        .status()
        .expect("run ip");
    assert!(status.success(), "ip addr add {ip}");
}

#[tokio::test]
async fn wildcard_name_resolving_to_loopback_is_denied() {
    if !isolated(
        "wildcard_name_resolving_to_loopback_is_denied",
        Ipv6::LoopbackOnly,
    ) {
        return;
    }
    let server = TlsServer::start("127.0.0.1", &[]).await;
    let bed = bed(&[("a.evil.test", "127.0.0.1")], &[&server]).await;
    let url = "https://a.evil.test:18443/";
    let errors = http_each(&bed, None, &[], &[url]).await.unwrap_err();
    assert_eq!(errors, [loopback_denial("https://a.evil.test:18443")]);
    assert_eq!(server.connections(), 0, "the loopback server was contacted");

    // Control: with the operator's trust the same request gets through.
    http_each(&bed, None, &[TRUST_EVIL], &[url])
        .await
        .expect("the operator's trust reaches loopback");
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn wildcard_name_resolving_to_private_or_metadata_addresses_is_denied() {
    if !isolated(
        "wildcard_name_resolving_to_private_or_metadata_addresses_is_denied",
        Ipv6::LoopbackOnly,
    ) {
        return;
    }
    add_address("10.77.0.1");
    add_address("169.254.169.254");
    let private = TlsServer::start("10.77.0.1", &[]).await;
    let metadata = TlsServer::start("169.254.169.254", &[]).await;
    let bed = bed(
        &[
            ("private.evil.test", "10.77.0.1"),
            ("metadata.evil.test", "169.254.169.254"),
        ],
        &[&private, &metadata],
    )
    .await;
    let urls = [
        "https://private.evil.test:18443/",
        "https://metadata.evil.test:18443/",
    ];
    let errors = http_each(&bed, None, &[], &urls).await.unwrap_err();
    assert_eq!(
        errors,
        [
            "HttpError::Denied(\"https://private.evil.test:18443 resolves only to non-public addresses \
             (private); an endpoint you configure yourself or --plugin-allow may reach it\")",
            "HttpError::Denied(\"https://metadata.evil.test:18443 resolves only to non-public addresses \
             (link-local); an endpoint you configure yourself or --plugin-allow may reach it\")",
        ]
    );
    assert_eq!(private.connections() + metadata.connections(), 0);

    for url in urls {
        http_each(&bed, None, &[TRUST_EVIL], &[url])
            .await
            .unwrap_or_else(|e| panic!("the operator's trust reaches {url}: {e:?}"));
    }
    assert_eq!((private.requests(), metadata.requests()), (1, 1));
}

#[tokio::test]
async fn ipv4_mapped_loopback_is_denied_as_literal_and_as_address() {
    if !isolated(
        "ipv4_mapped_loopback_is_denied_as_literal_and_as_address",
        Ipv6::LoopbackOnly,
    ) {
        return;
    }
    let server = TlsServer::start("127.0.0.1", &["::ffff:127.0.0.1"]).await;
    let bed = bed(&[("mapped.evil.test", "::ffff:127.0.0.1")], &[&server]).await;
    let literal = "https://[::ffff:127.0.0.1]:18443/";
    let name = "https://mapped.evil.test:18443/";
    let errors = http_each(&bed, None, &[], &[literal, name])
        .await
        .unwrap_err();
    assert_eq!(
        errors,
        [
            "HttpError::Denied(\"https://[::ffff:7f00:1]:18443 is a non-public address (loopback); an \
             endpoint you configure yourself or --plugin-allow may reach it\")"
                .to_string(),
            loopback_denial("https://mapped.evil.test:18443"),
        ]
    );
    assert_eq!(server.connections(), 0);

    let trusted = ["https://[::ffff:127.0.0.1]:18443", TRUST_EVIL];
    for url in [literal, name] {
        http_each(&bed, None, &trusted, &[url])
            .await
            .unwrap_or_else(|e| panic!("the operator's trust reaches {url}: {e:?}"));
    }
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn redirect_from_the_operators_origin_to_a_public_only_one_is_decided_again() {
    if !isolated(
        "redirect_from_the_operators_origin_to_a_public_only_one_is_decided_again",
        Ipv6::LoopbackOnly,
    ) {
        return;
    }
    let server = TlsServer::start("127.0.0.1", &[]).await;
    let bed = bed(&[("r.evil.test", "127.0.0.1")], &[&server]).await;
    // The operator's endpoint (a configured `target` on loopback) sends the
    // plugin on to an origin of the plugin's own choosing.
    let start = redirector(302, "https://r.evil.test:18443/landed".into()).await;
    let target = start.url();
    let errors = http_each(&bed, Some(&target), &[], &[&target])
        .await
        .unwrap_err();
    assert_eq!(
        errors,
        [
            "HttpError::Denied(\"redirected to https://r.evil.test:18443: https://r.evil.test:18443 resolves \
             only to non-public addresses (loopback); an endpoint you configure yourself or \
             --plugin-allow may reach it\")"
        ]
    );
    assert_eq!(server.connections(), 0, "the redirect was followed");
}

#[tokio::test]
async fn errors_do_not_tell_ports_apart() {
    if !isolated("errors_do_not_tell_ports_apart", Ipv6::LoopbackOnly) {
        return;
    }
    // Not trusted by the runtime: the handshake fails.
    let tls = TlsServer::start("127.0.0.1", &[]).await;
    let bad_request = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    let (plain, _plain) = raw_server("127.0.0.2", Some(bad_request)).await;
    let (silent, _silent) = raw_server("127.0.0.4", None).await;
    let bed = bed(
        &[
            ("tls.evil.test", "127.0.0.1"),
            ("plain.evil.test", "127.0.0.2"),
            ("closed.evil.test", "127.0.0.3"),
            ("silent.evil.test", "127.0.0.4"),
        ],
        &[],
    )
    .await;
    let urls = [
        "https://tls.evil.test:18443/",
        "https://plain.evil.test:18443/",
        "https://closed.evil.test:18443/",
        "https://unknown.evil.test:18443/",
        // Accepts, then never answers the handshake: the connect timeout.
        "https://silent.evil.test:18443/",
    ];
    // The operator trusts the origin: every address may be tried.
    let errors = http_each(&bed, None, &[TRUST_EVIL], &urls)
        .await
        .unwrap_err();
    assert_eq!(errors, vec![errors[0].clone(); urls.len()], "{errors:#?}");
    assert_eq!(errors[0], "HttpError::Connection(\"connection failed\")");
    // The servers were really tried.
    for (server, connections) in [
        ("tls", tls.connections()),
        ("plain", plain.load(Ordering::SeqCst)),
        ("silent", silent.load(Ordering::SeqCst)),
    ] {
        assert!(connections >= 1, "{server} was not contacted");
    }
    assert_eq!(tls.requests(), 0);
}
