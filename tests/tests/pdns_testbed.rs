//! The PowerDNS test bed (`wacme_tests::pdns`) itself: a started server
//! serves zones and RRsets written through its API over DNS, a second server
//! sharing the database serves the same data, and small cache TTLs make the
//! second one lag the way the propagation tests need.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use wacme_tests::pdns::{self, Pdns, PdnsOptions};

const ZONE: &str = "example.test";
const NAME: &str = "_acme-challenge.example.test";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn serves_what_the_api_writes() {
    if !pdns::available() {
        return;
    }
    let server = Pdns::start().await.unwrap();
    assert!(server.api_url().starts_with("http://127.0.0.1:"));
    assert!(server.api_key().len() >= 32);
    server
        .create_zone(ZONE, &[("ns1.example.test", ip("127.0.0.1"))])
        .await
        .unwrap();

    // The zone answers with its nameserver's glue, and the name is empty.
    let ns = pdns::exchange(
        server.dns_addr(),
        &"ns1.example.test.".parse().unwrap(),
        hickory_resolver::proto::rr::RecordType::A,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    assert!(ns.metadata.authoritative);
    assert_eq!(ns.answers.len(), 1, "{ns:?}");
    assert_eq!(server.txt_values(NAME).await.unwrap(), Vec::<String>::new());

    server
        .set_rrset(ZONE, NAME, "TXT", 60, &["\"first\"", "\"second value\""])
        .await
        .unwrap();
    assert_eq!(
        server.txt_values(NAME).await.unwrap(),
        ["first", "second value"]
    );
    assert_eq!(
        server.rrset(ZONE, NAME, "TXT").await.unwrap(),
        ["\"first\"", "\"second value\""]
    );

    server
        .add_record(ZONE, NAME, "TXT", 60, "\"third\"")
        .await
        .unwrap();
    assert_eq!(
        server.txt_values(NAME).await.unwrap(),
        ["first", "second value", "third"]
    );

    server.set_rrset(ZONE, NAME, "TXT", 60, &[]).await.unwrap();
    assert_eq!(server.txt_values(NAME).await.unwrap(), Vec::<String>::new());

    // A zone the server does not hold is refused, and said so.
    let err = server.txt_values("x.other.test").await.unwrap_err();
    assert!(err.to_string().contains("Refused"), "{err:#}");
    // A bad API call is an error carrying PowerDNS's message.
    let err = server
        .set_rrset(ZONE, "x.other.test", "TXT", 60, &["\"v\""])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("out of zone"), "{err:#}");
}

#[tokio::test]
async fn many_values_come_back_over_tcp() {
    if !pdns::available() {
        return;
    }
    let server = Pdns::start().await.unwrap();
    server
        .create_zone(ZONE, &[("ns1.example.test", ip("127.0.0.1"))])
        .await
        .unwrap();
    // 60 values of 43 characters do not fit a 4096-byte UDP answer.
    let values: Vec<String> = (0..60).map(|i| format!("{i:0>43}")).collect();
    let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
    let refs: Vec<&str> = quoted.iter().map(String::as_str).collect();
    server
        .set_rrset(ZONE, NAME, "TXT", 60, &refs)
        .await
        .unwrap();
    assert_eq!(server.txt_values(NAME).await.unwrap(), values);
}

#[tokio::test]
async fn second_server_shares_the_database() {
    if !pdns::available() {
        return;
    }
    let first = Pdns::start().await.unwrap();
    let second = first
        .start_secondary(PdnsOptions {
            ip: ip("127.0.0.2"),
            ..PdnsOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(second.dns_addr().ip(), ip("127.0.0.2"));
    assert_eq!(second.dns_addr().port(), first.dns_addr().port());
    assert_eq!(second.database(), first.database());

    // Created after both started, through the first server's API.
    first
        .create_zone(
            ZONE,
            &[
                ("ns1.example.test", ip("127.0.0.1")),
                ("ns2.example.test", ip("127.0.0.2")),
            ],
        )
        .await
        .unwrap();
    first
        .set_rrset(ZONE, NAME, "TXT", 60, &["\"shared\""])
        .await
        .unwrap();
    assert_eq!(second.txt_values(NAME).await.unwrap(), ["shared"]);
    assert_eq!(first.txt_values(NAME).await.unwrap(), ["shared"]);
    assert_eq!(
        second.rrset(ZONE, "ns2.example.test", "A").await.unwrap(),
        ["127.0.0.2"]
    );
}

#[tokio::test]
async fn a_caching_second_server_lags() {
    if !pdns::available() {
        return;
    }
    let first = Pdns::start_with(PdnsOptions {
        soa_minimum: 3,
        ..PdnsOptions::default()
    })
    .await
    .unwrap();
    let second = first
        .start_secondary(PdnsOptions {
            ip: ip("127.0.0.2"),
            cache_ttl: 3,
            negquery_cache_ttl: 3,
            query_cache_ttl: 3,
            ..PdnsOptions::default()
        })
        .await
        .unwrap();
    first
        .create_zone(ZONE, &[("ns1.example.test", ip("127.0.0.1"))])
        .await
        .unwrap();

    // The second server learns that the name does not exist, and caches it.
    assert!(second.txt_values(NAME).await.unwrap().is_empty());
    first
        .set_rrset(ZONE, NAME, "TXT", 60, &["\"late\""])
        .await
        .unwrap();
    let written = Instant::now();
    assert_eq!(first.txt_values(NAME).await.unwrap(), ["late"]);
    assert!(
        second.txt_values(NAME).await.unwrap().is_empty(),
        "the second server should still serve its cached negative answer"
    );

    // It catches up once its caches expire.
    loop {
        if second.txt_values(NAME).await.unwrap() == ["late"] {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(15),
            "the second server never caught up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        written.elapsed() >= Duration::from_secs(1),
        "caught up after {:?}: no lag",
        written.elapsed()
    );

    // Flushing its cache ends a lag at once.
    first.set_rrset(ZONE, NAME, "TXT", 60, &[]).await.unwrap();
    second.flush_cache(NAME).await.unwrap();
    assert!(second.txt_values(NAME).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_server_that_cannot_start_says_why() {
    if !pdns::available() {
        return;
    }
    let first = Pdns::start().await.unwrap();
    // Same address and port as the first server: refused before spawning.
    let err = first
        .start_secondary(PdnsOptions::default())
        .await
        .err()
        .expect("a second server on the same address");
    assert!(err.to_string().contains("another address"), "{err:#}");

    // Port taken by a foreign socket: pdns_server dies and the error carries
    // its log.
    let blocker = std::net::UdpSocket::bind("127.0.0.3:0").unwrap();
    let port = blocker.local_addr().unwrap().port();
    let err = first
        .start_secondary(PdnsOptions {
            ip: ip("127.0.0.3"),
            dns_port: Some(port),
            ..PdnsOptions::default()
        })
        .await
        .err()
        .expect("a second server on a taken port");
    assert!(err.to_string().contains("cannot start"), "{err:#}");

    // A server that dies while starting: the error carries its log.
    let err = Pdns::start_with(PdnsOptions {
        extra_config: vec!["wacme-no-such-setting=1".into()],
        ..PdnsOptions::default()
    })
    .await
    .err()
    .expect("pdns_server refuses unknown settings");
    let text = format!("{err:#}");
    assert!(text.contains("exited early"), "{text}");
    assert!(text.contains("wacme-no-such-setting"), "{text}");
}

#[test]
fn ports_picked_together_are_distinct() {
    let taken = wacme_tests::free_port();
    for _ in 0..50 {
        let ports = wacme_tests::free_ports_on("127.0.0.1", 3, &[taken]);
        assert_eq!(ports.len(), 3);
        assert!(!ports.contains(&taken), "{ports:?} has {taken}");
        assert!(
            ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2],
            "{ports:?}"
        );
    }
}

/// A server whose API port is taken keeps serving DNS without its API: the
/// bed says so at once (a port clash it retries) instead of waiting out its
/// start timeout with a bare "not ready".
#[tokio::test]
async fn a_taken_api_port_is_a_port_clash() {
    if !pdns::available() {
        return;
    }
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let options = PdnsOptions {
        extra_config: vec![format!("webserver-port={port}")],
        ..PdnsOptions::default()
    };
    let error = match Pdns::start_with(options).await {
        Ok(_) => panic!("pdns_server started with its API port {port} taken"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("port clash"), "{error}");
    assert!(error.contains("Listening on HTTP socket failed"), "{error}");
}
