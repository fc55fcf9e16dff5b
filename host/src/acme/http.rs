//! HTTP transport to the CA: one `reqwest` client (rustls, extra trust roots,
//! timeouts, no redirects), bounded response bodies, request counting,
//! debug-level logging of every request, and the header parsing ACME needs
//! (`Replay-Nonce`, `Location`, `Retry-After`, `Link`).

use super::error::{Error, ProblemResponse, Result};
use super::problem::Problem;
use bytes::Bytes;
use reqwest::header::{self, HeaderMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use url::Url;

/// The largest response body accepted from the CA.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

pub(crate) const JOSE_JSON: &str = "application/jose+json";
pub(crate) const PEM_CHAIN: &str = "application/pem-certificate-chain";

/// A shared count of HTTP requests sent to the CA (every attempt counts,
/// retries and `newNonce` included).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicU64>);

impl RequestCounter {
    pub fn new() -> RequestCounter {
        RequestCounter::default()
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Settings of the HTTP client.
#[derive(Debug, Clone)]
pub(crate) struct TransportConfig {
    pub extra_roots: Vec<reqwest::Certificate>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub user_agent: String,
}

#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    total: RequestCounter,
    request_timeout: Duration,
}

/// A complete response: status, headers and the whole (bounded) body.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Response {
    pub method: &'static str,
    pub url: Url,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Transport {
    pub fn new(config: &TransportConfig) -> Result<Transport> {
        // HTTP/1.1 only: one client serves every certificate of a run, and
        // with HTTP/2 all of its requests would share one multiplexed
        // connection, whose flow-control or GOAWAY trouble would hold every
        // order at once. Keep-alive connections from the pool fail alone.
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .http1_only()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(config.user_agent.clone());
        for root in &config.extra_roots {
            builder = builder.add_root_certificate(root.clone());
        }
        let http = builder.build().map_err(|e| {
            Error::Input(format!(
                "cannot set up the HTTPS client: {}",
                crate::error::chain(&e)
            ))
        })?;
        Ok(Transport {
            http,
            total: RequestCounter::new(),
            request_timeout: config.request_timeout,
        })
    }

    /// Requests sent through this transport since it was made.
    pub fn total(&self) -> u64 {
        self.total.get()
    }

    /// Sends one request and reads the whole response. Errors are
    /// transport-level only; HTTP error statuses come back as responses.
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: &Url,
        body: Option<Vec<u8>>,
        accept: &str,
        counter: &RequestCounter,
    ) -> Result<Response> {
        let method_name: &'static str = match method {
            reqwest::Method::GET => "GET",
            reqwest::Method::HEAD => "HEAD",
            reqwest::Method::POST => "POST",
            _ => "REQUEST",
        };
        let mut req = self
            .http
            .request(method, url.clone())
            .header(header::ACCEPT, accept);
        if let Some(body) = body {
            req = req.header(header::CONTENT_TYPE, JOSE_JSON).body(body);
        }
        self.total.add();
        counter.add();
        let started = Instant::now();
        let result = async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = read_bounded(resp).await?;
            Ok::<_, BodyError>((status, headers, body))
        }
        .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok((status, headers, body)) => {
                let response = Response {
                    method: method_name,
                    url: url.clone(),
                    status,
                    headers,
                    body,
                };
                let problem = if status >= 400 {
                    response.problem().map(|p| p.kind)
                } else {
                    None
                };
                tracing::debug!(
                    method = %method_name,
                    url = %url,
                    status,
                    problem = %problem.as_deref().unwrap_or("-"),
                    elapsed_ms,
                    "ACME request"
                );
                Ok(response)
            }
            Err(err) => {
                let error = match err {
                    BodyError::TooLarge(status) => Error::BadResponse {
                        method: method_name,
                        url: url.to_string(),
                        status,
                        message: format!("the response is larger than {} bytes", MAX_BODY),
                    },
                    BodyError::Http {
                        error,
                        reading_body,
                    } => self.transport_error(method_name, url, &error, reading_body),
                };
                tracing::debug!(method = %method_name, url = %url, elapsed_ms, error = %error, "ACME request failed");
                Err(error)
            }
        }
    }

    fn transport_error(
        &self,
        method: &'static str,
        url: &Url,
        e: &reqwest::Error,
        reading_body: bool,
    ) -> Error {
        if e.is_timeout() {
            return Error::Timeout {
                what: format!("{method} {url}"),
                after: self.request_timeout,
            };
        }
        let mut message = crate::error::chain(e);
        if reading_body {
            message = format!("the response body was cut off ({message})");
        } else if message.to_ascii_lowercase().contains("certificate") {
            message.push_str(" (if the CA uses a private TLS root, pass it with --ca-cert)");
        }
        Error::Transport {
            method,
            url: url.to_string(),
            message,
            maybe_sent: reading_body || !e.is_connect(),
        }
    }
}

enum BodyError {
    /// The body exceeds [`MAX_BODY`]; the HTTP status it came with.
    TooLarge(u16),
    Http {
        error: reqwest::Error,
        reading_body: bool,
    },
}

impl From<reqwest::Error> for BodyError {
    fn from(error: reqwest::Error) -> Self {
        BodyError::Http {
            error,
            reading_body: false,
        }
    }
}

async fn read_bounded(mut resp: reqwest::Response) -> Result<Bytes, BodyError> {
    let status = resp.status().as_u16();
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(BodyError::TooLarge(status));
    }
    let mut buf = bytes::BytesMut::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > MAX_BODY {
                    return Err(BodyError::TooLarge(status));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(buf.freeze()),
            Err(error) => {
                return Err(BodyError::Http {
                    error,
                    reading_body: true,
                });
            }
        }
    }
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn replay_nonce(&self) -> Option<&str> {
        self.header("replay-nonce").map(str::trim)
    }

    /// The `Location` header, resolved against the request URL.
    pub fn location(&self) -> Option<Url> {
        self.header("location")
            .and_then(|l| self.url.join(l.trim()).ok())
    }

    pub fn require_location(&self) -> Result<Url> {
        self.location()
            .ok_or_else(|| self.bad("the response has no Location header"))
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|v| parse_retry_after(v, SystemTime::now()))
    }

    /// The targets of the `Link` headers with relation `rel`.
    pub fn links(&self, rel: &str) -> Vec<Url> {
        let values = self
            .headers
            .get_all(header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok());
        parse_links(values, rel, &self.url)
    }

    /// The media type without parameters, lowercase (`""` if absent).
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    }

    /// The body as a problem document, if it is one.
    pub fn problem(&self) -> Option<Problem> {
        let ct = self.content_type();
        if ct.contains("json") || ct.is_empty() {
            Problem::parse(&self.body)
        } else {
            None
        }
    }

    /// The body parsed as JSON into `T`, or a clear error: wrong media type
    /// (an HTML page), truncated or invalid JSON, missing members.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let ct = self.content_type();
        if !(ct.contains("json") || ct.is_empty() && self.body.first() == Some(&b'{')) {
            return Err(self.bad(format!(
                "expected JSON, got {}",
                describe_body(&ct, &self.body)
            )));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            let what = if e.is_eof() {
                "the JSON document is truncated"
            } else if e.is_syntax() {
                "invalid JSON"
            } else {
                "the JSON document has the wrong shape"
            };
            self.bad(format!("{what} ({e})"))
        })
    }

    /// The error for a response with a failure status: the CA's problem
    /// document, or a description of whatever else it sent.
    pub fn error(&self) -> Error {
        match self.problem() {
            Some(problem) => Error::Problem(Box::new(ProblemResponse {
                method: self.method,
                url: self.url.to_string(),
                status: self.status,
                problem,
                retry_after: self.retry_after(),
            })),
            None => {
                let ct = self.content_type();
                let reason = reqwest::StatusCode::from_u16(self.status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("");
                let reason = if reason.is_empty() {
                    "an error status"
                } else {
                    reason
                };
                self.bad(format!(
                    "{reason}, not an ACME problem document: {}",
                    describe_body(&ct, &self.body)
                ))
            }
        }
    }

    pub fn bad(&self, message: impl Into<String>) -> Error {
        Error::BadResponse {
            method: self.method,
            url: self.url.to_string(),
            status: self.status,
            message: message.into(),
        }
    }
}

/// A short, printable description of a body that is not what was expected:
/// its media type and its HTML title or first characters.
pub(crate) fn describe_body(content_type: &str, body: &[u8]) -> String {
    let ct = if content_type.is_empty() {
        "no content type"
    } else {
        content_type
    };
    if body.is_empty() {
        return format!("{ct}, empty body");
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let lower = text.to_ascii_lowercase();
    let snippet = match (lower.find("<title>"), lower.find("</title>")) {
        (Some(a), Some(b)) if b > a + 7 => text[a + 7..b].to_string(),
        _ => text.chars().take(120).collect(),
    };
    let clean: String = snippet
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    format!("{ct}: {clean:?}")
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3): delay seconds or an
/// HTTP date. A date in the past is a zero delay; garbage is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long values saturate rather than fail.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The targets of `Link` header values with relation `rel` (RFC 8288),
/// resolved against `base`. Several links may share one header value.
pub fn parse_links<'a>(values: impl Iterator<Item = &'a str>, rel: &str, base: &Url) -> Vec<Url> {
    let mut out = Vec::new();
    for value in values {
        let mut rest = value;
        while let Some(start) = rest.find('<') {
            let Some(end) = rest[start..].find('>') else {
                break;
            };
            let target = &rest[start + 1..start + end];
            let after = &rest[start + end + 1..];
            // Parameters run until the next link (a comma outside quotes).
            let mut in_quotes = false;
            let mut params_end = after.len();
            for (i, c) in after.char_indices() {
                match c {
                    '"' => in_quotes = !in_quotes,
                    ',' if !in_quotes => {
                        params_end = i;
                        break;
                    }
                    _ => {}
                }
            }
            let params = &after[..params_end];
            let matches = params.split(';').any(|p| {
                let Some((k, v)) = p.split_once('=') else {
                    return false;
                };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case(rel))
            });
            if matches && let Ok(url) = base.join(target.trim()) {
                out.push(url);
            }
            rest = &after[params_end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn link_headers() {
        let base = Url::parse("https://ca.example/cert/abc").unwrap();
        let values = [
            r#"<https://ca.example/dir>;rel="index""#,
            r#"<https://ca.example/cert/abc/1>;rel="alternate", </cert/abc/2>; rel=alternate"#,
            r#"<https://ca.example/x>;title="a, b";rel="alternate up""#,
        ];
        let alts = parse_links(values.iter().copied(), "alternate", &base);
        let alts: Vec<&str> = alts.iter().map(Url::as_str).collect();
        assert_eq!(
            alts,
            [
                "https://ca.example/cert/abc/1",
                "https://ca.example/cert/abc/2",
                "https://ca.example/x"
            ]
        );
        let up = parse_links(values.iter().copied(), "up", &base);
        assert_eq!(up.len(), 1);
        assert!(
            parse_links(["garbage <".to_string().as_str()].into_iter(), "up", &base).is_empty()
        );
    }

    fn response(status: u16, ct: &str, body: &'static [u8]) -> Response {
        let mut headers = HeaderMap::new();
        if !ct.is_empty() {
            headers.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        }
        headers.insert("retry-after", "7".parse().unwrap());
        Response {
            method: "POST",
            url: Url::parse("https://ca.example/new-order").unwrap(),
            status,
            headers,
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn error_bodies_are_described_not_panicked_on() {
        let r = response(
            502,
            "text/html",
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        );
        let msg = r.error().to_string();
        assert!(
            msg.ends_with("(HTTP 502): Bad Gateway, not an ACME problem document: text/html: \"502 Bad Gateway\""),
            "{msg}"
        );
        let r = response(200, "text/html", b"<html>hi</html>");
        let msg = r.json::<serde_json::Value>().unwrap_err().to_string();
        assert!(msg.contains("expected JSON, got text/html"), "{msg}");
        let r = response(200, "application/json", br#"{"status":"val"#);
        let msg = r.json::<serde_json::Value>().unwrap_err().to_string();
        assert!(msg.contains("the JSON document is truncated"), "{msg}");
        let r = response(500, "", b"");
        assert!(
            r.error()
                .to_string()
                .contains("no content type, empty body")
        );
    }

    #[test]
    fn problem_responses_carry_retry_after() {
        let r = response(
            429,
            "application/problem+json",
            br#"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many"}"#,
        );
        match r.error() {
            Error::Problem(p) => {
                assert!(p.problem.is("rateLimited"));
                assert_eq!(p.retry_after, Some(Duration::from_secs(7)));
                assert_eq!(p.status, 429);
            }
            other => panic!("{other:?}"),
        }
    }
}
