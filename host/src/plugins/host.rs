//! The host functions a plugin imports: `wacme:dns/http`, `wacme:dns/dns`
//! and `wacme:dns/log`, in the latest WIT version's types (older versions
//! convert in [`super::since_v0_1`]).
//!
//! `http.send` and `dns.exchange` are the plugin's only ways out of the
//! sandbox (`wasi:http` is a second face of `http.send`: both hand their
//! requests to [`Sender::send`], the one place the HTTP rules below are
//! applied, and count them against the same per-call budget). `dns.exchange` reaches only the session's [`ServerList`], a
//! server name resolved under the same address policy as HTTP, one message
//! per exchange counted against the same per-call budget as HTTP requests,
//! and sent by [`crate::dnswire`] within what is left of the call. Every request and
//! every redirect hop is checked against the session's [`AllowList`];
//! redirects are followed here (never by the HTTP client), request bodies,
//! response bodies and the number of requests per call are capped, each
//! request's timeout is bounded by what is left of the call's deadline, and
//! what is logged about a request (method, origin, path, status) passes
//! through the session's [`Redactor`]. `log.log` goes to the call's
//! [`PluginLog`], which the plugin's stdout and stderr share.
//!
//! What went wrong on the way (unknown name, refused, reset, TLS failure, an
//! answer that is not HTTP) reaches the plugin as one uniform
//! `connection("connection failed")`, so that it cannot tell a closed port
//! from an open one; the detail goes to the operator's log (`-v`).

use super::bindings::latest::wacme::dns::{dns, http, log};
use super::dns::ServerList;
use super::limits::Limits;
use super::net::{self, Clients, HOW_TO_ALLOW};
use super::output::PluginLog;
use super::policy::{AllowList, Reach, origin_of};
use super::redact::Redactor;
use crate::dnswire::{self, WireError};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use url::Url;

/// How an operator lets a plugin reach a non-public nameserver.
const HOW_TO_ALLOW_DNS: &str = "a server you configure yourself may be on any address";

/// Where one session's plugin may go: HTTP origins and nameservers.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    pub(crate) http: AllowList,
    pub(crate) dns: ServerList,
}

/// What the imports of one plugin call need.
pub(crate) struct CallCtx {
    plugin: String,
    clients: Clients,
    outbound: Arc<Outbound>,
    pub(crate) redactor: Arc<Redactor>,
    limits: Limits,
    deadline: Instant,
    total_requests: Arc<AtomicU64>,
    requests: u32,
    /// What the host may hold for this call's `wasi:http` requests and
    /// their unread responses, in KiB: the plugin's own memory budget
    /// ([`super::wasi_http`]).
    pub(crate) wasi_http_memory: Arc<tokio::sync::Semaphore>,
    pub(crate) output: PluginLog,
}

impl CallCtx {
    pub(crate) fn new(
        plugin: String,
        clients: Clients,
        outbound: Arc<Outbound>,
        redactor: Arc<Redactor>,
        limits: Limits,
        deadline: Instant,
        total_requests: Arc<AtomicU64>,
    ) -> Self {
        CallCtx {
            output: PluginLog::new(plugin.clone(), redactor.clone(), &limits),
            plugin,
            clients,
            outbound,
            redactor,
            limits,
            deadline,
            total_requests,
            requests: 0,
            wasi_http_memory: Arc::new(tokio::sync::Semaphore::new(
                limits.memory_bytes.div_ceil(1024),
            )),
        }
    }

    /// Counts one request or exchange against the call's budget; the
    /// refusal when it is spent.
    pub(crate) fn count_request(&mut self) -> Result<(), String> {
        self.requests += 1;
        if self.requests > self.limits.max_requests_per_call {
            if self.requests == self.limits.max_requests_per_call + 1 {
                tracing::warn!(plugin = %self.plugin, "plugin exceeded {} HTTP requests and DNS exchanges in one call; refusing more",
                    self.limits.max_requests_per_call);
            }
            return Err(format!(
                "more than {} HTTP requests and DNS exchanges in one call",
                self.limits.max_requests_per_call
            ));
        }
        self.total_requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The HTTP sender of this call: what both `wacme:dns/http` and
    /// `wasi:http/outgoing-handler` send through, detached from the store so
    /// a request can run in a task of its own.
    pub(crate) fn sender(&self) -> Sender {
        Sender {
            plugin: self.plugin.clone(),
            clients: self.clients.clone(),
            outbound: self.outbound.clone(),
            redactor: self.redactor.clone(),
            limits: self.limits,
            deadline: self.deadline,
        }
    }

    /// `wacme:dns/http.send`: counts the request, then sends it under the
    /// session's rules ([`Sender::send`]).
    pub(crate) async fn send(
        &mut self,
        request: http::Request,
    ) -> Result<http::Response, http::HttpError> {
        use http::HttpError::{Connection, Denied, Timeout, TooLarge};
        self.count_request().map_err(Denied)?;
        let method = match request.method {
            http::Method::Get => reqwest::Method::GET,
            http::Method::Head => reqwest::Method::HEAD,
            http::Method::Post => reqwest::Method::POST,
            http::Method::Put => reqwest::Method::PUT,
            http::Method::Patch => reqwest::Method::PATCH,
            http::Method::Delete => reqwest::Method::DELETE,
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Denied(format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| Denied(format!("invalid value for header `{name}`")))?;
            headers.append(name, value);
        }
        let outgoing = Outgoing {
            method,
            url: request.url,
            headers,
            body: request.body,
        };
        match self.sender().send(outgoing).await {
            Ok(response) => Ok(http::Response {
                status: response.status.as_u16(),
                headers: response
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: response.body,
            }),
            Err(Refusal::Denied(reason)) => Err(Denied(reason)),
            Err(Refusal::Timeout(reason)) => Err(Timeout(reason)),
            Err(Refusal::TooLarge(reason)) => Err(TooLarge(reason)),
            Err(Refusal::Connection) => Err(Connection("connection failed".into())),
        }
    }

    pub(crate) async fn exchange(
        &mut self,
        server: String,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, dns::DnsError> {
        use dns::DnsError::{Connection, Denied, Timeout, TooLarge};
        self.count_request().map_err(Denied)?;
        if message.len() > u16::MAX as usize {
            return Err(TooLarge(format!(
                "a DNS message of {} bytes is over 65535 bytes",
                message.len()
            )));
        }
        let shown = self.redactor.redact(&server);
        let (server, reach) = self.outbound.dns.check(&server).map_err(|denied| {
            tracing::warn!(plugin = %self.plugin, "denied DNS exchange with {shown}: {denied}");
            Denied(denied.0)
        })?;
        let addresses = match server.ip() {
            Some(ip) => {
                let class = net::classify(ip);
                if reach == Reach::Public && !class.is_public() {
                    let reason =
                        format!("{server} is a non-public address ({class}); {HOW_TO_ALLOW_DNS}");
                    tracing::warn!(plugin = %self.plugin, "denied DNS exchange: {reason}");
                    return Err(Denied(reason));
                }
                vec![ip]
            }
            None => match self.clients.resolve(&server.host, reach).await {
                Ok(found) => found,
                Err(e) => {
                    if let Some(refused) = net::refusal(e.as_ref()) {
                        let reason = format!(
                            "{server} resolves only to non-public addresses ({}); {HOW_TO_ALLOW_DNS}",
                            refused.classes()
                        );
                        tracing::warn!(plugin = %self.plugin, "denied DNS exchange: {reason}");
                        return Err(Denied(reason));
                    }
                    tracing::info!(plugin = %self.plugin, "DNS exchange with {server}: cannot resolve {}: {e}", server.host);
                    return Err(Connection("connection failed".into()));
                }
            },
        };
        let mut failure = None;
        for ip in addresses {
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Timeout("the plugin call's deadline has passed".into()));
            }
            let timeout = remaining.min(self.limits.http_timeout);
            let addr = std::net::SocketAddr::new(ip, server.port);
            let started = Instant::now();
            match dnswire::exchange(addr, &message, timeout).await {
                Ok(reply) => {
                    tracing::debug!(plugin = %self.plugin, "DNS {:?} to {server} ({addr}{}) -> {} ({} ms)",
                        reply.message.metadata.op_code, if reply.tcp { ", TCP" } else { "" },
                        reply.message.metadata.response_code, started.elapsed().as_millis());
                    return Ok(reply.bytes);
                }
                Err(WireError::BadRequest(reason)) => {
                    return Err(Denied(format!("not a DNS message: {reason}")));
                }
                Err(e) => {
                    tracing::info!(plugin = %self.plugin, "DNS exchange with {server} ({addr}) failed after {} ms: {e}",
                        started.elapsed().as_millis());
                    failure = Some(e);
                }
            }
        }
        Err(match failure {
            Some(WireError::Timeout(t)) => Timeout(format!("no answer from {server} within {t:?}")),
            _ => Connection("connection failed".into()),
        })
    }

    pub(crate) fn log(&mut self, level: log::Level, message: String) {
        self.output.log(level, &message);
    }
}

/// The methods a plugin may use, on either HTTP import.
const METHODS: &[reqwest::Method] = &[
    reqwest::Method::GET,
    reqwest::Method::HEAD,
    reqwest::Method::POST,
    reqwest::Method::PUT,
    reqwest::Method::PATCH,
    reqwest::Method::DELETE,
];

/// Request headers only the host sets (from the URL and the body).
const SET_BY_HOST: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
];

/// One HTTP request of a plugin, whichever import it came through.
pub(crate) struct Outgoing {
    pub(crate) method: reqwest::Method,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// The final answer to an [`Outgoing`] request, body read in full.
pub(crate) struct Incoming {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// Why a request got no answer, as each import reports it to the plugin.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The session's rules refused it (the reason is for the plugin).
    Denied(String),
    /// The request's time, or the call's, ran out.
    Timeout(String),
    /// The response body is over the cap.
    TooLarge(String),
    /// Anything that went wrong on the network: one answer for all, so a
    /// closed port and an open one look alike (the operator's log has the
    /// detail).
    Connection,
}

/// What sending a plugin's request needs, owned: the HTTP half of a
/// [`CallCtx`].
#[derive(Clone)]
pub(crate) struct Sender {
    pub(crate) plugin: String,
    clients: Clients,
    outbound: Arc<Outbound>,
    pub(crate) redactor: Arc<Redactor>,
    pub(crate) limits: Limits,
    deadline: Instant,
}

impl Sender {
    /// Sends `request` under the session's rules and returns the final
    /// answer (redirects followed here), or why not. The request was
    /// counted against the call's budget by the caller.
    pub(crate) async fn send(&self, request: Outgoing) -> Result<Incoming, Refusal> {
        use Refusal::{Denied, Timeout, TooLarge};
        if request.body.len() > self.limits.max_request_bytes {
            return Err(Denied(format!(
                "request body of {} bytes is over the limit of {} bytes",
                request.body.len(),
                self.limits.max_request_bytes
            )));
        }
        let mut url = Url::parse(&request.url).map_err(|e| {
            Denied(format!(
                "`{}` is not a valid URL: {e}",
                self.redactor.redact(&request.url)
            ))
        })?;
        let mut method = request.method;
        if !METHODS.contains(&method) {
            return Err(Denied(format!("method {method} is not allowed")));
        }
        let mut headers = request.headers;
        if let Some(name) = headers
            .keys()
            .find(|name| SET_BY_HOST.contains(&name.as_str()))
        {
            return Err(Denied(format!("header `{name}` is set by the host")));
        }
        let mut body = request.body;

        for hop in 0..=self.limits.max_redirects {
            let on_hop = |reason: String| {
                if hop == 0 {
                    reason
                } else {
                    format!("redirected to {}: {reason}", origin_of(&url))
                }
            };
            let reach = match self.outbound.http.check(&url) {
                Ok(reach) => reach,
                Err(denied) => {
                    let reason = on_hop(denied.0);
                    tracing::warn!(plugin = %self.plugin, "denied {method} {}: {reason}", self.redactor.redact(&origin_of(&url)));
                    return Err(Denied(reason));
                }
            };
            if let Some((ip, class)) = net::check_literal(&url, reach) {
                let reason = on_hop(format!(
                    "{} is a non-public address ({class}); {HOW_TO_ALLOW}",
                    origin_of(&url)
                ));
                tracing::warn!(plugin = %self.plugin, "denied {method} {}: {ip} is {class}: {reason}",
                    self.redactor.redact(&origin_of(&url)));
                return Err(Denied(reason));
            }
            let remaining = self.deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Timeout("the plugin call's deadline has passed".into()));
            }
            let timeout = remaining.min(self.limits.http_timeout);
            let started = Instant::now();
            let sent = self
                .clients
                .for_reach(reach)
                .request(method.clone(), url.clone())
                .headers(headers.clone())
                .body(body.clone())
                .timeout(timeout)
                .send()
                .await;
            let shown = self
                .redactor
                .redact(&format!("{}{}", origin_of(&url), url.path()));
            let mut response = match sent {
                Ok(r) => r,
                Err(e) => {
                    if let Some(refused) = net::refusal(&e) {
                        let reason = on_hop(format!(
                            "{} resolves only to non-public addresses ({}); {HOW_TO_ALLOW}",
                            origin_of(&url),
                            refused.classes()
                        ));
                        tracing::warn!(plugin = %self.plugin, "denied {method} {shown}: {}",
                            self.redactor.redact(&refused.to_string()));
                        return Err(Denied(reason));
                    }
                    return Err(self.failed(&method, &shown, &url, reach, &e, started, timeout));
                }
            };
            let status = response.status();
            tracing::debug!(plugin = %self.plugin, "{method} {shown} -> {} ({} ms)", status.as_u16(),
                started.elapsed().as_millis());

            if status.is_redirection()
                && let Some(location) = response.headers().get(reqwest::header::LOCATION)
            {
                let location = location.to_str().unwrap_or_default().to_string();
                let next = url
                    .join(&location)
                    .map_err(|_| Denied(format!("redirect to an invalid location {location:?}")))?;
                if hop == self.limits.max_redirects {
                    return Err(Denied(format!(
                        "more than {} redirects",
                        self.limits.max_redirects
                    )));
                }
                let to_get = status == reqwest::StatusCode::SEE_OTHER
                    || (matches!(status.as_u16(), 301 | 302) && method == reqwest::Method::POST);
                if to_get {
                    method = reqwest::Method::GET;
                    body.clear();
                    headers.remove(reqwest::header::CONTENT_TYPE);
                }
                if origin_of(&next) != origin_of(&url) {
                    strip_for_other_origin(&mut headers);
                }
                url = next;
                continue;
            }

            let max = self.limits.max_response_bytes;
            if response
                .content_length()
                .is_some_and(|len| len > max as u64)
            {
                return Err(TooLarge(format!(
                    "response of {} bytes is over the limit of {max} bytes",
                    response.content_length().unwrap_or_default()
                )));
            }
            let response_headers = response.headers().clone();
            let mut data = Vec::new();
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        if data.len() + chunk.len() > max {
                            return Err(TooLarge(format!(
                                "response body is over the limit of {max} bytes"
                            )));
                        }
                        data.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(self.failed(&method, &shown, &url, reach, &e, started, timeout));
                    }
                }
            }
            return Ok(Incoming {
                status,
                headers: response_headers,
                body: data,
            });
        }
        unreachable!("the loop returns on its last hop")
    }

    /// What the plugin learns of a failed request: `timeout` when the
    /// request's own deadline passed, otherwise the uniform connection
    /// failure. The operator's log gets the detail: the error chain and the
    /// addresses tried.
    #[allow(clippy::too_many_arguments)]
    fn failed(
        &self,
        method: &reqwest::Method,
        shown: &str,
        url: &Url,
        reach: Reach,
        error: &reqwest::Error,
        started: Instant,
        timeout: std::time::Duration,
    ) -> Refusal {
        let addresses = self.clients.addresses(url, reach);
        let reason = self.redactor.redact(&crate::error::chain(error));
        let elapsed = started.elapsed();
        tracing::info!(plugin = %self.plugin, "{method} {shown} failed after {} ms (addresses {addresses:?}, {} reach): {reason}",
            elapsed.as_millis(), match reach { Reach::Public => "public", Reach::Operator => "operator" });
        if error.is_timeout() && elapsed >= timeout {
            Refusal::Timeout(format!(
                "no complete answer from {} within {timeout:?}",
                origin_of(url)
            ))
        } else {
            Refusal::Connection
        }
    }
}

/// Headers a request keeps when redirected to another origin: those that
/// describe the request. Any other may carry a credential (`authorization`,
/// `cookie`, a token header such as `x-auth-token`, an API key under a
/// provider's own name), so the next origin gets none of them.
const SAFE_ACROSS_ORIGINS: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "content-type",
    "user-agent",
];

fn strip_for_other_origin(headers: &mut HeaderMap) {
    let names: Vec<_> = headers
        .keys()
        .filter(|name| !SAFE_ACROSS_ORIGINS.contains(&name.as_str()))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn only_descriptive_headers_cross_origins() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer t"),
            ("cookie", "s=1"),
            ("x-auth-token", "iam-token"),
            ("x-api-key", "k"),
            ("x-tc-action", "CreateRecord"),
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("user-agent", "plugin/1"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        strip_for_other_origin(&mut headers);
        let mut kept: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        kept.sort();
        assert_eq!(kept, ["accept", "content-type", "user-agent"]);
    }
}
