//! Directories that are not what they should be: unreachable, non-ACME JSON,
//! a truncated body, an HTML error page, a server that never answers. Each
//! must be a clear, typed error (exit class "CA"), never a panic or a hang.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use wacme::acme::{Client, ClientConfig, Error};
use wacme::error::ErrorClass;

/// A raw HTTP server answering every connection with `response` (bytes as
/// given, then the connection is closed). Runs until the test ends.
fn raw_server(response: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut seen = Vec::new();
            // Read the request head, then answer.
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(response);
            let _ = stream.flush();
        }
    });
    format!("http://{addr}/dir")
}

/// A server that accepts connections and never answers.
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://{addr}/dir")
}

async fn connect(url: &str) -> Error {
    let config = ClientConfig {
        request_timeout: Duration::from_secs(2),
        ..ClientConfig::default()
    };
    let started = Instant::now();
    let err = Client::connect(url, config).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    err
}

#[tokio::test]
async fn unreachable_directory() {
    let port = wacme_tests::free_port();
    let err = connect(&format!("http://127.0.0.1:{port}/dir")).await;
    assert!(
        matches!(
            err,
            Error::Transport {
                maybe_sent: false,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with("cannot reach the CA: GET http://127.0.0.1:"),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
    assert_eq!(err.class(), ErrorClass::Ca);
}

#[tokio::test]
async fn non_acme_json() {
    let url = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"hello\":\"world\"}",
    );
    let err = connect(&url).await;
    assert!(
        matches!(err, Error::BadResponse { status: 200, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("not an ACME directory: missing newNonce, newAccount, newOrder"),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::Ca);
}

#[tokio::test]
async fn truncated_body() {
    // Content-Length promises more than arrives before the connection closes.
    let url = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\nConnection: close\r\n\r\n{\"newNonce\":\"http://127.0.0.1/nonce\",\"newAcc",
    );
    let err = connect(&url).await;
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(
        err.to_string().contains("the response body was cut off"),
        "{err}"
    );

    // A complete HTTP message whose JSON stops half-way.
    let url = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 29\r\nConnection: close\r\n\r\n{\"newNonce\":\"http://127.0.0.1",
    );
    let err = connect(&url).await;
    assert!(matches!(err, Error::BadResponse { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("not valid JSON (EOF while parsing"),
        "{err}"
    );
}

#[tokio::test]
async fn html_error_page() {
    let url = raw_server(
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 93\r\nConnection: close\r\n\r\n<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
    );
    let err = connect(&url).await;
    assert!(
        matches!(err, Error::BadResponse { status: 502, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(
            "(HTTP 502): Bad Gateway, not an ACME problem document: text/html: \"502 Bad Gateway\""
        ),
        "{msg}"
    );

    // A 200 HTML page (a captive portal, a web site instead of the API).
    let url = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 48\r\nConnection: close\r\n\r\n<html><title>Welcome to nginx!</title></html>   ",
    );
    let err = connect(&url).await;
    assert!(
        err.to_string()
            .contains("expected the ACME directory (JSON), got text/html: \"Welcome to nginx!\""),
        "{err}"
    );
}

#[tokio::test]
async fn oversized_body() {
    // Declared too large, and too large without a declared length.
    let declared = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\nConnection: close\r\n\r\n{";
    let err = connect(&raw_server(declared)).await;
    assert!(
        err.to_string()
            .contains("(HTTP 200): the response is larger than 2097152 bytes"),
        "{err}"
    );
    let mut streamed =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n".to_vec();
    streamed.extend(std::iter::repeat_n(b' ', 3_000_000));
    let err = connect(&raw_server(streamed.leak())).await;
    assert!(
        err.to_string().contains("the response is larger than"),
        "{err}"
    );
}

#[tokio::test]
async fn server_that_never_answers() {
    let url = silent_server();
    let started = Instant::now();
    let err = connect(&url).await;
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("timed out after 2.0 s: GET http://127.0.0.1:"),
        "{err}"
    );
    // A read is retried twice after a timeout: three attempts.
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bad_urls_are_input_errors() {
    for url in ["not a url", "ftp://ca.example/dir", "http://ca.example/dir"] {
        let err = Client::connect(url, ClientConfig::default())
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Input, "{url}: {err}");
    }
    let mut config = ClientConfig::default();
    let err = config
        .add_ca_cert_file(std::path::Path::new("/nonexistent/ca.pem"))
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Input);
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), "not a certificate").unwrap();
    let err = config.add_ca_cert_file(tmp.path()).unwrap_err();
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
}
