//! The ACME client core: connects to a CA's directory and sends requests —
//! unsigned GETs and `newNonce`, and signed POSTs with nonce handling,
//! bounded `badNonce` retries, `Retry-After` for 429/503 and retries of
//! transport failures where repeating is safe. Every URL followed — the
//! directory's resources, `Location`s, authorizations, challenges,
//! finalize, certificates and their alternates — must be https; plain http
//! only for a local CA whose directory is itself plain http on loopback,
//! and then only on loopback. Requests are paced per endpoint and the
//! whole client pauses while the CA asks it to back off ([`super::pace`]);
//! at most [`ClientConfig::max_in_flight`] signed requests are in flight at
//! once, so each answer's `Replay-Nonce` feeds the next request instead of
//! a `newNonce` call per request. Cheap to clone; every clone shares the
//! connection pool, the nonce pool and the pacing.

use super::directory::Directory;
use super::error::{Error, Result};
use super::http::{RequestCounter, Response, Transport, TransportConfig};
use super::jws::{self, KeyRef};
use super::keys::PrivateKey;
use super::nonce::NoncePool;
use super::pace::{Pacer, RateLimits, endpoint};
use reqwest::Method;
use serde_json::Value;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// How the client talks to the CA.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Extra trust roots for the CA's HTTPS endpoint (PEM certificates),
    /// on top of the system and built-in roots.
    pub ca_certs_pem: Vec<Vec<u8>>,
    pub connect_timeout: Duration,
    /// The whole of one HTTP exchange.
    pub request_timeout: Duration,
    /// How often a request rejected with `badNonce` is re-signed and sent
    /// again with a fresh nonce.
    pub max_bad_nonce_retries: u32,
    /// How often a 429 or 503 answer is waited out and retried.
    pub max_busy_retries: u32,
    /// The longest `Retry-After` waited out automatically; a longer one
    /// fails at once with the CA's problem (and its `retry_after`).
    pub max_retry_after: Duration,
    /// How often a request is repeated after a transport failure (only
    /// reads, or requests that certainly never reached the CA).
    pub max_transport_retries: u32,
    pub user_agent: String,
    /// Request rates per kind of endpoint (defaults under Let's Encrypt's
    /// published limits).
    pub rate_limits: RateLimits,
    /// Signed requests in flight at once (at least 1).
    pub max_in_flight: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            ca_certs_pem: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_bad_nonce_retries: 20,
            max_busy_retries: 3,
            max_retry_after: Duration::from_secs(60),
            max_transport_retries: 2,
            user_agent: format!("wacme/{}", env!("CARGO_PKG_VERSION")),
            rate_limits: RateLimits::default(),
            max_in_flight: 4,
        }
    }
}

impl ClientConfig {
    /// Adds the trust roots in a PEM file (one or more certificates).
    pub fn add_ca_cert_file(&mut self, path: &std::path::Path) -> Result<()> {
        let pem = std::fs::read(path)
            .map_err(|e| Error::Input(format!("cannot read {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::Input(format!(
                "{} is not a PEM certificate file: {e}",
                path.display()
            ))
        })?;
        if certs.is_empty() {
            return Err(Error::Input(format!(
                "{} holds no PEM certificate",
                path.display()
            )));
        }
        self.ca_certs_pem.push(pem);
        Ok(())
    }
}

#[derive(Debug)]
struct Inner {
    directory_url: Url,
    directory: Directory,
    transport: Transport,
    nonces: NoncePool,
    pacer: Pacer,
    in_flight: tokio::sync::Semaphore,
    config: ClientConfig,
}

/// A connection to one CA: its directory, HTTP client and nonce pool.
/// `Clone + Send + Sync`; clones share everything but the request counter
/// scope (see [`Client::counting`]).
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
    counter: RequestCounter,
}

/// The payload of a signed request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    /// A JSON object: a request that may change state on the CA.
    Json(&'a Value),
    /// POST-as-GET: a read, safe to repeat.
    Empty,
}

impl Client {
    /// Fetches the directory at `directory_url` and returns a client for that CA.
    pub async fn connect(directory_url: &str, config: ClientConfig) -> Result<Client> {
        let url = check_directory_url(directory_url)?;
        let mut extra_roots = Vec::new();
        for pem in &config.ca_certs_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::Input(format!("bad CA certificate: {e}")))?;
            extra_roots.extend(certs);
        }
        let transport = Transport::new(&TransportConfig {
            extra_roots,
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            user_agent: config.user_agent.clone(),
        })?;
        let counter = RequestCounter::new();
        let resp = get_with_retries(
            &transport,
            &config,
            &url,
            "application/json",
            &counter,
            None,
        )
        .await?;
        if !resp.is_success() {
            return Err(resp.error());
        }
        let ct = resp.content_type();
        if !(ct.contains("json") || ct.is_empty()) {
            return Err(resp.bad(format!(
                "expected the ACME directory (JSON), got {}",
                super::http::describe_body(&ct, &resp.body)
            )));
        }
        let directory = Directory::parse(&resp.body).map_err(|m| resp.bad(m))?;
        tracing::debug!(url = %url, ari = directory.renewal_info.is_some(),
            profiles = directory.meta.profiles.len(), "ACME directory loaded");
        let nonces = NoncePool::new();
        if let Some(n) = resp.replay_nonce() {
            nonces.put(n);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                directory_url: url,
                directory,
                transport,
                nonces,
                pacer: Pacer::new(&config.rate_limits),
                in_flight: tokio::sync::Semaphore::new(config.max_in_flight.max(1)),
                config,
            }),
            counter,
        })
    }

    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    pub fn directory_url(&self) -> &Url {
        &self.inner.directory_url
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// A clone whose requests are counted in a fresh counter (and still in
    /// the total): use one per order to learn how many CA requests it took.
    pub fn counting(&self) -> Client {
        Client {
            inner: self.inner.clone(),
            counter: RequestCounter::new(),
        }
    }

    /// Requests sent through this clone's counter scope (shared with the
    /// clones made from it by `clone`, not by [`Client::counting`]).
    pub fn request_count(&self) -> u64 {
        self.counter.get()
    }

    /// Requests sent to this CA by every clone, the directory fetch of
    /// [`Client::connect`] included.
    pub fn total_request_count(&self) -> u64 {
        self.inner.transport.total()
    }

    /// The counter of this clone's scope.
    pub fn counter(&self) -> &RequestCounter {
        &self.counter
    }

    /// An unsigned GET (ARI renewal information).
    pub(crate) async fn get(&self, url: &Url, accept: &str) -> Result<Response> {
        check_followed_url(&self.inner.directory_url, url)?;
        let resp = get_with_retries(
            &self.inner.transport,
            &self.inner.config,
            url,
            accept,
            &self.counter,
            Some((&self.inner.pacer, endpoint(&self.inner.directory, url))),
        )
        .await?;
        if let Some(n) = resp.replay_nonce() {
            self.inner.nonces.put(n);
        }
        Ok(resp)
    }

    /// A nonce from the pool, or a fresh one from `newNonce`.
    async fn nonce(&self) -> Result<String> {
        if let Some(n) = self.inner.nonces.take() {
            return Ok(n);
        }
        let url = &self.inner.directory.new_nonce;
        check_followed_url(&self.inner.directory_url, url)?;
        let mut busy = 0;
        let mut transport_failures = 0;
        loop {
            self.inner.pacer.wait(super::pace::Endpoint::NewNonce).await;
            let result = self
                .inner
                .transport
                .send(Method::HEAD, url, None, "*/*", &self.counter)
                .await;
            match result {
                Ok(resp) if resp.is_success() => {
                    return resp.replay_nonce().map(str::to_owned).ok_or_else(|| {
                        resp.bad("newNonce answered without a Replay-Nonce header")
                    });
                }
                Ok(resp) => {
                    if let Some(wait) = self.busy_wait(&resp, busy) {
                        busy += 1;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(resp.error());
                }
                Err(e)
                    if transport_failures < self.inner.config.max_transport_retries
                        && is_transient(&e, true) =>
                {
                    transport_failures += 1;
                    tokio::time::sleep(transport_backoff(transport_failures)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends a signed POST to `url` and returns the successful response, or
    /// the CA's error. `accept` is the media type asked for.
    pub(crate) async fn post(
        &self,
        key: &PrivateKey,
        key_ref: KeyRef<'_>,
        url: &Url,
        payload: Payload<'_>,
        accept: &str,
    ) -> Result<Response> {
        check_followed_url(&self.inner.directory_url, url)?;
        let read = matches!(payload, Payload::Empty);
        let json = match payload {
            Payload::Json(v) => Some(v),
            Payload::Empty => None,
        };
        let config = &self.inner.config;
        let _slot = self
            .inner
            .in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let kind = endpoint(&self.inner.directory, url);
        let (mut bad_nonces, mut busy, mut transport_failures) = (0u32, 0u32, 0u32);
        loop {
            let nonce = self.nonce().await?;
            self.inner.pacer.wait(kind).await;
            let body = jws::sign(key, key_ref, Some(&nonce), url.as_str(), json)?;
            let body = serde_json::to_vec(&body).expect("a JWS serializes");
            let result = self
                .inner
                .transport
                .send(Method::POST, url, Some(body), accept, &self.counter)
                .await;
            let resp = match result {
                Ok(resp) => resp,
                Err(e)
                    if transport_failures < config.max_transport_retries
                        && is_transient(&e, read) =>
                {
                    transport_failures += 1;
                    tokio::time::sleep(transport_backoff(transport_failures)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(n) = resp.replay_nonce() {
                self.inner.nonces.put(n);
            }
            if resp.is_success() {
                return Ok(resp);
            }
            if let Some(problem) = resp.problem()
                && problem.is("badNonce")
                && bad_nonces < config.max_bad_nonce_retries
            {
                bad_nonces += 1;
                tracing::debug!(url = %url, attempt = bad_nonces, "badNonce: retrying with a fresh nonce");
                continue;
            }
            if let Some(wait) = self.busy_wait(&resp, busy) {
                busy += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            return Err(resp.error());
        }
    }

    /// For a 429 or 503 answer that may be retried: how long to wait first
    /// (the whole client waits as long).
    fn busy_wait(&self, resp: &Response, attempts: u32) -> Option<Duration> {
        let wait = busy_wait(&self.inner.config, resp, attempts)?;
        self.inner.pacer.pause(wait);
        Some(wait)
    }
}

fn busy_wait(config: &ClientConfig, resp: &Response, attempts: u32) -> Option<Duration> {
    if !(resp.status == 429 || resp.status == 503) || attempts >= config.max_busy_retries {
        return None;
    }
    let wait = resp
        .retry_after()
        .unwrap_or_else(|| Duration::from_secs(1 << attempts.min(5)));
    if wait > config.max_retry_after {
        return None;
    }
    tracing::debug!(url = %resp.url, status = resp.status, wait_ms = wait.as_millis() as u64,
        "the CA asked to retry later");
    Some(wait)
}

async fn get_with_retries(
    transport: &Transport,
    config: &ClientConfig,
    url: &Url,
    accept: &str,
    counter: &RequestCounter,
    pacer: Option<(&Pacer, super::pace::Endpoint)>,
) -> Result<Response> {
    let (mut busy, mut failures) = (0u32, 0u32);
    loop {
        if let Some((pacer, kind)) = pacer {
            pacer.wait(kind).await;
        }
        match transport
            .send(Method::GET, url, None, accept, counter)
            .await
        {
            Ok(resp) if !resp.is_success() => {
                if let Some(wait) = busy_wait(config, &resp, busy) {
                    if let Some((pacer, _)) = pacer {
                        pacer.pause(wait);
                    }
                    busy += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Ok(resp);
            }
            Ok(resp) => return Ok(resp),
            Err(e) if failures < config.max_transport_retries && is_transient(&e, true) => {
                failures += 1;
                tokio::time::sleep(transport_backoff(failures)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether a failed request may be sent again: any request that never
/// reached the CA; a read also after a broken or timed-out exchange.
fn is_transient(e: &Error, read: bool) -> bool {
    match e {
        Error::Transport { maybe_sent, .. } => read || !maybe_sent,
        Error::Timeout { .. } => read,
        _ => false,
    }
}

fn transport_backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 * u64::from(attempt))
}

/// The directory URL must be HTTPS (plain HTTP only on loopback, for tests
/// and local CAs).
fn check_directory_url(text: &str) -> Result<Url> {
    let url = Url::parse(text.trim())
        .map_err(|e| Error::Input(format!("the directory URL {text:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::Input(format!(
            "the directory URL {url} must use https (plain http is allowed only on loopback)"
        ))),
        other => Err(Error::Input(format!(
            "the directory URL {url} has the unsupported scheme {other:?}"
        ))),
    }
}

/// Whether a URL the CA gave may be followed: https; plain http only on
/// loopback, and only when the directory itself is plain http on loopback
/// (a local CA, as the directory URL rules allow). An https CA sending
/// the client to plain http, even on loopback, would expose its requests
/// and let anyone on the path answer them.
fn check_followed_url(directory: &Url, url: &Url) -> Result<()> {
    let local_ca = directory.scheme() == "http" && is_loopback(directory);
    match url.scheme() {
        "https" => Ok(()),
        "http" if local_ca && is_loopback(url) => Ok(()),
        _ => Err(Error::InsecureUrl {
            url: url.to_string(),
        }),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_url_rules() {
        assert!(check_directory_url("https://acme.example/directory").is_ok());
        assert!(check_directory_url("http://127.0.0.1:4000/dir").is_ok());
        assert!(check_directory_url("http://localhost:4000/dir").is_ok());
        assert!(check_directory_url("http://[::1]:4000/dir").is_ok());
        assert!(matches!(
            check_directory_url("http://acme.example/dir"),
            Err(Error::Input(_))
        ));
        assert!(matches!(
            check_directory_url("ftp://acme.example/dir"),
            Err(Error::Input(_))
        ));
        assert!(matches!(
            check_directory_url("not a url"),
            Err(Error::Input(_))
        ));
    }

    #[test]
    fn followed_url_rules() {
        let url = |s: &str| Url::parse(s).unwrap();
        let public = url("https://acme.example/dir");
        let local = url("http://127.0.0.1:4000/dir");
        assert!(check_followed_url(&public, &url("https://acme.example/new-order")).is_ok());
        assert!(check_followed_url(&public, &url("https://other.example/cert/1")).is_ok());
        assert!(check_followed_url(&local, &url("https://acme.example/x")).is_ok());
        assert!(check_followed_url(&local, &url("http://127.0.0.1:4000/new-order")).is_ok());
        assert!(check_followed_url(&local, &url("http://localhost:4001/cert/1")).is_ok());
        for (dir, bad) in [
            (&public, "http://acme.example/new-order"),
            // An https CA never sends the client to plain http, not even on loopback.
            (&public, "http://127.0.0.1/finalize/1"),
            (&local, "http://acme.example/new-order"),
            (&local, "ftp://127.0.0.1/cert"),
            (&public, "data:text/plain,x"),
        ] {
            let err = check_followed_url(dir, &url(bad)).unwrap_err();
            assert!(matches!(err, Error::InsecureUrl { .. }), "{bad}: {err:?}");
            assert_eq!(err.class(), crate::error::ErrorClass::Ca);
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn transient_rules() {
        let refused = Error::Transport {
            method: "POST",
            url: "u".into(),
            message: "refused".into(),
            maybe_sent: false,
        };
        let cut = Error::Transport {
            method: "POST",
            url: "u".into(),
            message: "cut".into(),
            maybe_sent: true,
        };
        assert!(is_transient(&refused, false));
        assert!(is_transient(&cut, true));
        assert!(!is_transient(&cut, false));
        assert!(!is_transient(&Error::Input("x".into()), true));
    }
}
