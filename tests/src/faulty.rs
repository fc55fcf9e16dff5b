//! A fault-injecting HTTP proxy for provider APIs: forwards every request to
//! an upstream (e.g. PowerDNS's API) unless a [`Rule`] matches it, in which
//! case it answers with an error status (optionally with `Retry-After`),
//! delays the request, or resets the connection. Rules can apply a limited
//! number of times or to a random share of requests (seeded, reproducible).
//! Every request is logged with what was done to it ([`Faulty::log`]).
//!
//! Connections are served by hyper directly (the proxy itself is an axum
//! router) so that a "reset" rule can abort the TCP connection with an RST
//! and no response, as a crashed or overloaded upstream does.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Which requests a rule applies to. Every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Match {
    /// HTTP method (`PATCH`), any when `None`.
    pub method: Option<String>,
    /// Strings that must all occur in the request text: method, path with
    /// query (as sent), then the body.
    pub contains: Vec<String>,
}

impl Match {
    /// Every request.
    pub fn any() -> Self {
        Match::default()
    }

    /// Requests whose text (method, path and query, body) holds `text`.
    pub fn mentioning(text: &str) -> Self {
        Match::any().and_mentioning(text)
    }

    pub fn and_mentioning(mut self, text: &str) -> Self {
        self.contains.push(text.to_string());
        self
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    fn matches(&self, method: &str, text: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self.contains.iter().all(|c| text.contains(c.as_str()))
    }
}

/// What a matching rule does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answer with this status and body (JSON `{"error": body}`), without
    /// asking the upstream; `retry_after` becomes a `Retry-After` header.
    Fail {
        status: u16,
        body: String,
        retry_after: Option<String>,
    },
    /// Wait this long, then forward.
    Delay(Duration),
    /// Abort the TCP connection (RST) without answering.
    Reset,
}

/// One fault: a condition, an action, how often it applies.
#[derive(Debug, Clone)]
pub struct Rule {
    pub when: Match,
    pub action: Action,
    /// Applies to at most this many matching requests (then the request
    /// goes on to the next rule or the upstream); unlimited when `None`.
    pub times: Option<u32>,
    /// Applies to this share (0..=1) of matching requests.
    pub rate: f64,
}

impl Rule {
    /// `status` with a PowerDNS-style error body for matching requests.
    pub fn fail(when: Match, status: u16) -> Self {
        Self::new(
            when,
            Action::Fail {
                status,
                body: format!("injected failure (HTTP {status})"),
                retry_after: None,
            },
        )
    }

    /// 429 with `Retry-After: <seconds>`.
    pub fn rate_limit(when: Match, retry_after_secs: u32) -> Self {
        Self::new(
            when,
            Action::Fail {
                status: 429,
                body: "injected rate limit".into(),
                retry_after: Some(retry_after_secs.to_string()),
            },
        )
    }

    pub fn delay(when: Match, by: Duration) -> Self {
        Self::new(when, Action::Delay(by))
    }

    pub fn reset(when: Match) -> Self {
        Self::new(when, Action::Reset)
    }

    pub fn new(when: Match, action: Action) -> Self {
        Rule {
            when,
            action,
            times: None,
            rate: 1.0,
        }
    }

    /// Only the first `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Only a random share (`0.0..=1.0`) of matching requests.
    pub fn rate(mut self, rate: f64) -> Self {
        self.rate = rate.clamp(0.0, 1.0);
        self
    }
}

/// What the proxy did with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Forwarded; the upstream answered this status.
    Forwarded(u16),
    /// Forwarded after a delay; the upstream answered this status.
    Delayed(u16),
    /// Answered with an injected status.
    Injected(u16),
    /// The connection was reset.
    Reset,
    /// The upstream could not be reached (502 to the client).
    UpstreamError(String),
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    /// Path and query as sent.
    pub uri: String,
    pub body: String,
    pub outcome: Outcome,
}

impl Logged {
    /// Whether the request's text mentions `text`.
    pub fn mentions(&self, text: &str) -> bool {
        self.uri.contains(text) || self.body.contains(text)
    }
}

struct ActiveRule {
    rule: Rule,
    applied: u32,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    rules: Mutex<Vec<ActiveRule>>,
    log: Mutex<Vec<Logged>>,
    rng: Mutex<u64>,
}

/// The proxy, listening on a loopback port until dropped. It runs on a
/// thread of its own, so a test may block (e.g. on `Command::output`) while
/// the proxy serves.
pub struct Faulty {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Fired by a handler to have its connection reset.
#[derive(Clone)]
struct Kill(Arc<Notify>);

impl Faulty {
    /// Starts a proxy on 127.0.0.1 forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        Self::start_blocking(upstream)
    }

    /// [`Faulty::start`] outside async code.
    pub fn start_blocking(upstream: &str) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind a loopback port");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            rules: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            rng: Mutex::new(0x9e37_79b9_7f4a_7c15),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let accept = async {
                    loop {
                        if let Ok((stream, _)) = listener.accept().await {
                            tokio::spawn(serve_connection(stream, app.clone()));
                        }
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_background();
        });
        Faulty {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`: give this to the plugin as its API URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a rule; rules are tried in the order they were added.
    pub fn add(&self, rule: Rule) -> &Self {
        self.shared
            .rules
            .lock()
            .unwrap()
            .push(ActiveRule { rule, applied: 0 });
        self
    }

    /// Removes every rule: everything is forwarded again.
    pub fn clear(&self) {
        self.shared.rules.lock().unwrap().clear();
    }

    /// Seeds the generator behind [`Rule::rate`].
    pub fn seed(&self, seed: u64) {
        *self.shared.rng.lock().unwrap() = seed.max(1);
    }

    /// Every request so far, in arrival order.
    pub fn log(&self) -> Vec<Logged> {
        self.shared.log.lock().unwrap().clone()
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, app: Router) {
    // A second handle on the socket, to set SO_LINGER 0 (close = RST) when a
    // rule resets the connection.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(twin) = std_stream.try_clone() else {
        return;
    };
    let Ok(stream) = tokio::net::TcpStream::from_std(std_stream) else {
        return;
    };
    let kill = Kill(Arc::new(Notify::new()));
    let app = app.layer(axum::Extension(kill.clone()));
    let service = hyper_util::service::TowerToHyperService::new(app);
    let mut conn = Box::pin(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
    );
    tokio::select! {
        _ = &mut conn => {}
        () = kill.0.notified() => {
            let _ = socket2::SockRef::from(&twin).set_linger(Some(Duration::ZERO));
        }
    }
    // The connection's handle closes first, then the twin: the last close
    // sends the RST.
    drop(conn);
    drop(twin);
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    axum::Extension(kill): axum::Extension<Kill>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_string();
    let uri = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let text = format!("{method} {uri}\n\n{body_text}");
    let action = pick(&shared, &method, &text);
    let record = |outcome: Outcome| {
        shared.log.lock().unwrap().push(Logged {
            method: method.clone(),
            uri: uri.clone(),
            body: body_text.clone(),
            outcome,
        });
    };
    let mut delayed = false;
    match action {
        Some(Action::Fail {
            status,
            body,
            retry_after,
        }) => {
            record(Outcome::Injected(status));
            let mut response = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                axum::Json(serde_json::json!({ "error": body })),
            )
                .into_response();
            if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert("retry-after", v);
            }
            return response;
        }
        Some(Action::Reset) => {
            record(Outcome::Reset);
            kill.0.notify_one();
            return std::future::pending().await;
        }
        Some(Action::Delay(by)) => {
            tokio::time::sleep(by).await;
            delayed = true;
        }
        None => {}
    }
    match forward(&shared, &parts.method, &uri, &parts.headers, body).await {
        Ok(response) => {
            let status = response.status().as_u16();
            record(if delayed {
                Outcome::Delayed(status)
            } else {
                Outcome::Forwarded(status)
            });
            response
        }
        Err(e) => {
            record(Outcome::UpstreamError(e.clone()));
            (StatusCode::BAD_GATEWAY, e).into_response()
        }
    }
}

/// The action of the first rule that applies to this request, counting it.
fn pick(shared: &Shared, method: &str, text: &str) -> Option<Action> {
    let mut rules = shared.rules.lock().unwrap();
    for active in rules.iter_mut() {
        let rule = &active.rule;
        if !rule.when.matches(method, text) || rule.times.is_some_and(|n| active.applied >= n) {
            continue;
        }
        if rule.rate < 1.0 && next_fraction(&shared.rng) >= rule.rate {
            continue;
        }
        active.applied += 1;
        return Some(rule.action.clone());
    }
    None
}

/// xorshift64*: a uniform fraction in `[0, 1)`.
fn next_fraction(state: &Mutex<u64>) -> f64 {
    let mut s = state.lock().unwrap();
    let mut x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
}

async fn forward(
    shared: &Shared,
    method: &axum::http::Method,
    uri: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, String> {
    let url = format!("{}{uri}", shared.upstream);
    let mut request = shared.http.request(method.clone(), &url).body(body);
    for (name, value) in headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            request = request.header(name, value);
        }
    }
    let upstream = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = upstream.status();
    let mut headers = HeaderMap::new();
    for (name, value) in upstream.headers() {
        if !matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            headers.append(name, value.clone());
        }
    }
    let bytes = upstream.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::httpd::TestServer;

    async fn upstream() -> TestServer {
        TestServer::start(Router::new().fallback(|| async { (StatusCode::CREATED, "upstream") }))
            .await
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn rules_fail_delay_reset_and_count() {
        let upstream = upstream().await;
        let proxy = Faulty::start(&upstream.url()).await;
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let get = |path: &str| http.get(format!("{}{path}", proxy.url())).send();

        proxy.add(Rule::rate_limit(Match::mentioning("/limited"), 7).times(1));
        proxy.add(Rule::delay(
            Match::mentioning("/slow").method("GET"),
            Duration::from_millis(300),
        ));
        proxy.add(Rule::reset(Match::mentioning("/reset")));

        let r = get("/plain").await.unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.text().await.unwrap(), "upstream");

        let r = get("/limited").await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
        assert_eq!(get("/limited").await.unwrap().status(), 201, "only once");

        let started = std::time::Instant::now();
        assert_eq!(get("/slow").await.unwrap().status(), 201);
        assert!(started.elapsed() >= Duration::from_millis(300));

        let err = get("/reset").await.unwrap_err();
        assert!(!err.is_status(), "no answer at all: {err:?}");

        let outcomes: Vec<Outcome> = proxy.log().into_iter().map(|l| l.outcome).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Forwarded(201),
                Outcome::Injected(429),
                Outcome::Forwarded(201),
                Outcome::Delayed(201),
                Outcome::Reset,
            ]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn random_failures_follow_the_rate_and_the_seed() {
        let upstream = upstream().await;
        let proxy = Faulty::start(&upstream.url()).await;
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut runs = Vec::new();
        for _ in 0..2 {
            proxy.clear();
            proxy.seed(42);
            proxy.add(Rule::fail(Match::any(), 503).rate(0.3));
            let mut failed = Vec::new();
            for _ in 0..200 {
                let status = http.get(proxy.url()).send().await.unwrap().status();
                failed.push(status == 503);
            }
            runs.push(failed);
        }
        assert_eq!(runs[0], runs[1], "the same seed fails the same requests");
        let share = runs[0].iter().filter(|f| **f).count();
        assert!(
            (30..=90).contains(&share),
            "{share} of 200 failed at rate 0.3"
        );
    }
}
