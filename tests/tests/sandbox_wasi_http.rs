//! Standard HTTP in the sandbox: a plugin speaking `wasi:http/outgoing-handler`
//! (`tests/plugins/wasi-http`, through the `wasip2` crate) loads, reaches
//! what the `wacme:dns/http` import may reach, and nothing more: the same
//! allowlist (on every redirect hop), address policy, body caps, per-call
//! request budget (shared with the `http` import), timeouts, uniform network
//! failure and redaction of what is logged; and the answers it leaves unread
//! stay within its memory budget.
//!
//! The plugin reports errors as `wasi:http` gave them (`ErrorCode::…`), and
//! returns `Ok` when a request the sandbox must stop got an answer. A
//! component importing anything else (here `wasi:http/incoming-handler`) is
//! still refused, and the refusal says what a plugin may import.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wacme::plugins::config::Sources;
use wacme::plugins::{Error, Limits, RuntimeOptions, Session};
use wacme_tests::httpd::{Sink, TestServer, redirector};
use wacme_tests::sandbox::{Hostile, challenge_set, load_test_plugin};

const TOKEN: &str = "tok-wasi-5ecret-never-logged";

async fn bed(limits: Limits) -> Hostile {
    load_test_plugin(
        "wasi-http",
        RuntimeOptions {
            limits,
            ..Default::default()
        },
    )
    .await
}

fn session(bed: &Hostile, mode: &str, target: Option<&str>, allow: &[&str]) -> Session {
    let mut pairs = vec![("mode", mode), ("token", TOKEN)];
    if let Some(target) = target {
        pairs.push(("target", target));
    }
    let config = Sources::resolve_pairs(bed.plugin.metadata(), &pairs).unwrap();
    let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
    bed.plugin.session(&config, &allow).unwrap()
}

/// Runs `mode` and returns the plugin's error message (the request must
/// have been stopped).
async fn stopped(bed: &Hostile, mode: &str, target: Option<&str>) -> String {
    let err = session(bed, mode, target, &[])
        .present(&challenge_set(&["v"]))
        .await
        .expect_err(&format!("`{mode}` must be stopped"));
    match err {
        Error::Provider { error, .. } => error.message,
        other => panic!("unexpected error: {other}"),
    }
}

/// The `each` mode over `urls`: `Ok` when one answered, otherwise what
/// `wasi:http` gave for each URL, in order.
async fn each(bed: &Hostile, allow: &[&str], urls: &[&str]) -> Result<(), Vec<String>> {
    match session(bed, "each", None, allow)
        .present(&challenge_set(urls))
        .await
    {
        Ok(()) => Ok(()),
        Err(Error::Provider { error, .. }) => {
            let mut lines = error.message.lines();
            assert_eq!(lines.next(), Some("each: stopped by the sandbox:"));
            Err(lines
                .zip(urls)
                .map(|(line, url)| {
                    line.strip_prefix(&format!("{url} => "))
                        .unwrap_or_else(|| panic!("{url}: {line}"))
                        .to_string()
                })
                .collect())
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// What the fake API saw: method, path, `authorization`, body.
type Seen = Arc<Mutex<Vec<(String, String, String, String)>>>;

/// A provider API that records each request and echoes its body.
async fn fake_api() -> (TestServer, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method,
              uri: axum::http::Uri,
              headers: axum::http::HeaderMap,
              body: String| {
            let log = log.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                log.lock().unwrap().push((
                    method.to_string(),
                    uri.path().to_string(),
                    auth,
                    body.clone(),
                ));
                body
            }
        },
    );
    (TestServer::start(app).await, seen)
}

#[tokio::test]
async fn a_wasi_http_plugin_loads_and_calls_its_api() {
    let bed = bed(Limits::default()).await;
    assert_eq!(bed.plugin.metadata().name, "wasi-http");
    let (api, seen) = fake_api().await;
    let session = session(&bed, "api", Some(&api.url()), &[]);
    let set = challenge_set(&["v1", "v2"]);
    session.present(&set).await.unwrap();
    session.cleanup(&set).await.unwrap();
    let seen = seen.lock().unwrap();
    let path = format!("/tokens/{TOKEN}/records");
    let auth = format!("Bearer {TOKEN}");
    assert_eq!(seen.len(), 2, "{seen:?}");
    for ((method, p, a, body), want) in seen.iter().zip(["POST", "DELETE"]) {
        assert_eq!((method.as_str(), p, a), (want, &path, &auth));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["fqdn"], set.fqdn);
        assert_eq!(body["values"], serde_json::json!(["v1", "v2"]));
    }
}

#[tokio::test]
async fn hosts_outside_the_allowlist_are_denied() {
    let bed = bed(Limits::default()).await;
    let sink = Sink::start_on("127.0.0.2").await;
    let undeclared = format!("{}/", sink.server.url());
    let urls = ["https://undeclared.example/", undeclared.as_str()];
    let errors = each(&bed, &[], &urls).await.unwrap_err();
    assert_eq!(errors, ["ErrorCode::HttpRequestDenied"; 2]);
    assert_eq!(sink.hits(), 0);
}

#[tokio::test]
async fn non_public_addresses_the_plugin_chose_are_denied() {
    let bed = bed(Limits::default()).await;
    // Declared by the plugin itself: public addresses only.
    let urls = ["https://127.0.0.1:18443/", "https://10.1.2.3:18443/"];
    let errors = each(&bed, &[], &urls).await.unwrap_err();
    assert_eq!(errors, ["ErrorCode::HttpRequestDenied"; 2]);
    // Control: with the operator's trust in the loopback origin the request
    // is tried (answered, or failing on the network), not refused.
    let trusted = ["https://127.0.0.1:18443/"];
    if let Err(errors) = each(&bed, &["https://127.0.0.1:18443"], &trusted).await {
        assert_eq!(errors, ["ErrorCode::DestinationUnavailable"]);
    }
}

#[tokio::test]
async fn redirects_are_decided_again_on_every_hop() {
    let bed = bed(Limits::default()).await;
    // Another origin, not allowed: reaching it would mean the redirect was
    // followed.
    let sink = Sink::start_on("127.0.0.2").await;
    let away = redirector(302, format!("{}/stolen", sink.server.url())).await;
    let message = stopped(&bed, "get", Some(&away.url())).await;
    assert_eq!(message, "get: ErrorCode::HttpRequestDenied");
    assert_eq!(sink.hits(), 0, "the redirect was followed");

    // Within the allowed origin, the host follows it: the plugin sees the
    // final answer.
    let arrived = Arc::new(AtomicU64::new(0));
    let count = arrived.clone();
    let app = axum::Router::new()
        .route(
            "/start",
            axum::routing::get(|| async { axum::response::Redirect::to("/end") }),
        )
        .route(
            "/end",
            axum::routing::get(move || {
                count.fetch_add(1, Ordering::SeqCst);
                async { "arrived" }
            }),
        );
    let server = TestServer::start(app).await;
    session(&bed, "get", Some(&format!("{}/start", server.url())), &[])
        .present(&challenge_set(&["v"]))
        .await
        .unwrap();
    assert_eq!(arrived.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_request_budget_is_capped_and_shared_with_the_http_import() {
    let limits = Limits {
        max_requests_per_call: 50,
        ..Limits::default()
    };
    let bed = bed(limits).await;
    let sink = Sink::start_on("127.0.0.1").await;
    let message = stopped(&bed, "many", Some(&sink.server.url())).await;
    assert_eq!(
        message,
        "many: request 51 refused: ErrorCode::HttpRequestDenied"
    );
    assert_eq!(sink.hits(), 50);

    // Ten through wacme's own import, then wasi:http: one budget for both.
    let sink = Sink::start_on("127.0.0.1").await;
    let message = stopped(&bed, "mixed", Some(&sink.server.url())).await;
    assert_eq!(
        message,
        "many: request 51 refused: ErrorCode::HttpRequestDenied"
    );
    assert_eq!(sink.hits(), 50);
}

#[tokio::test]
async fn bodies_over_the_caps_are_refused() {
    let limits = Limits {
        max_response_bytes: 1024,
        ..Limits::default()
    };
    let bed = bed(limits).await;
    let app = axum::Router::new().fallback(|| async { "x".repeat(4096) });
    let big = TestServer::start(app).await;
    let message = stopped(&bed, "get", Some(&big.url())).await;
    assert_eq!(message, "get: ErrorCode::HttpResponseBodySize(None)");

    // 2 MiB against the default cap of 1 MiB: refused, never cut and sent.
    let sink = Sink::start_on("127.0.0.1").await;
    let message = stopped(&bed, "big-body", Some(&sink.server.url())).await;
    assert_eq!(message, "big-body: ErrorCode::HttpRequestBodySize(None)");
    assert_eq!(sink.hits(), 0);
}

#[tokio::test]
async fn unread_responses_cannot_pile_up_in_the_host() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        max_response_bytes: 2 << 20,
        max_request_bytes: 64 << 10,
        call_timeout: Duration::from_secs(3),
        ..Limits::default()
    };
    let bed = bed(limits).await;
    let hits = Arc::new(AtomicU64::new(0));
    let count = hits.clone();
    let app = axum::Router::new().fallback(move || {
        count.fetch_add(1, Ordering::SeqCst);
        async { "x".repeat(1 << 20) }
    });
    let server = TestServer::start(app).await;
    // The plugin keeps 100 answers of 1 MiB unread.
    let err = session(&bed, "hold", Some(&server.url()), &[])
        .present(&challenge_set(&["v"]))
        .await
        .expect_err("the host must not hold 100 MiB for the plugin");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    // The call's 16 MiB: 14 bodies of 1 MiB held, and the 15th request's
    // reservation (2 MiB + 64 KiB) no longer fits.
    assert_eq!(hits.load(Ordering::SeqCst), 14);
}

/// A server on `port` of 127.0.0.1 counting connections, answering each
/// with `reply` (not HTTP) or, when `None`, never saying anything.
async fn raw_server(port: u16, reply: Option<&'static [u8]>) -> (Arc<AtomicU64>, TestTask) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let connections = Arc::new(AtomicU64::new(0));
    let count = connections.clone();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
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
    (connections, TestTask(task))
}

/// Aborts its task when dropped (the listener closes with it).
struct TestTask(tokio::task::JoinHandle<()>);

impl TestTask {
    /// Stops the task and waits until its listener is closed.
    async fn stop(mut self) {
        self.0.abort();
        let _ = (&mut self.0).await;
    }
}

impl Drop for TestTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test]
async fn a_closed_port_and_an_open_one_look_alike() {
    let bed = bed(Limits::default()).await;
    let port = wacme_tests::free_port();
    let target = format!("http://127.0.0.1:{port}/");
    // Nothing listens.
    let closed = stopped(&bed, "get", Some(&target)).await;
    // Something listens that does not speak HTTP.
    let (connections, server) = raw_server(port, Some(b"SSH-2.0-OpenSSH_9.6\r\n")).await;
    let open = stopped(&bed, "get", Some(&target)).await;
    assert!(connections.load(Ordering::SeqCst) >= 1, "not contacted");
    server.stop().await;
    // Something listens that hangs up without a word.
    let (connections, _server) = raw_server(port, Some(b"")).await;
    let hangs_up = stopped(&bed, "get", Some(&target)).await;
    assert!(connections.load(Ordering::SeqCst) >= 1, "not contacted");
    assert_eq!(closed, "get: ErrorCode::DestinationUnavailable");
    assert_eq!(open, closed);
    assert_eq!(hangs_up, closed);
}

#[tokio::test]
async fn the_host_timeout_applies() {
    let limits = Limits {
        http_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let bed = bed(limits).await;
    let port = wacme_tests::free_port();
    let (connections, _server) = raw_server(port, None).await;
    let message = stopped(&bed, "get", Some(&format!("http://127.0.0.1:{port}/"))).await;
    assert_eq!(message, "get: ErrorCode::ConnectionTimeout");
    assert!(connections.load(Ordering::SeqCst) >= 1, "not contacted");
}

/// Everything the host logs, from every test of this file, at debug level.
fn captured_log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init()
            .expect("the only subscriber of this test binary");
        log
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_of_requests_never_reach_the_log() {
    let log = captured_log();
    let bed = bed(Limits::default()).await;
    let (api, _) = fake_api().await;
    // The token is in the path and in `authorization`: once answered, once
    // failing on the network (whose error text names the URL).
    session(&bed, "api", Some(&api.url()), &[])
        .present(&challenge_set(&["v"]))
        .await
        .unwrap();
    let closed = format!("http://127.0.0.1:{}", wacme_tests::free_port());
    session(&bed, "api", Some(&closed), &[])
        .present(&challenge_set(&["v"]))
        .await
        .unwrap_err();
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(
        !text.contains(TOKEN),
        "the token leaked into the log:\n{text}"
    );
    // The requests were logged, their secret redacted.
    let path = "/tokens/[REDACTED]/records";
    assert!(
        text.contains(&format!("POST {}{path} -> 200", api.url())),
        "{text}"
    );
    assert!(
        text.contains(&format!("POST {closed}{path} failed")),
        "{text}"
    );
}

#[tokio::test]
async fn other_imports_are_refused_naming_what_a_plugin_may_import() {
    // Exports a (hollow) provider, so loading gets as far as the imports.
    let wasm = wat::parse_str(
        r#"(component
  (import "wasi:http/incoming-handler@0.2.0" (instance (export "handle" (func))))
  (instance $provider)
  (export "wacme:dns/provider@0.1.0" (instance $provider)))"#,
    )
    .unwrap();
    let runtime = wacme::plugins::Runtime::new(RuntimeOptions::default()).unwrap();
    let err = runtime
        .load_bytes(&wasm, "incoming.wasm".into())
        .await
        .err()
        .expect("an import outside WASI's client side and wacme:dns is refused")
        .to_string();
    assert!(err.contains("wasi:http/incoming-handler@0.2.0"), "{err}");
    assert!(
        err.contains(
            "plugins may import only WASI 0.2 (cli, clocks, filesystem, io, random, sockets, \
             and of wasi:http the `types` and `outgoing-handler` interfaces) and wacme:dns@0.1.0"
        ),
        "{err}"
    );
}
