//! Standard HTTP for plugins: `wasi:http/outgoing-handler` (and the
//! `wasi:http/types` it needs), served by wasmtime-wasi-http with every
//! request handed to the same [`Sender`] as the `wacme:dns/http` import.
//!
//! So a request through `wasi:http` (JavaScript's `fetch()`, a Python or Go
//! HTTP client built on it) obeys exactly the rules of the `http` import:
//! the session's allowlist, checked on every redirect hop; the address
//! policy; the request and response body caps; the per-call request budget,
//! which both imports share; each request's timeout bounded by the call's
//! deadline; redaction of what is logged. Nothing else sends: there is no
//! default sender in this build of wasmtime-wasi-http.
//!
//! What the plugin sees:
//!
//! - the final response, its body read in full by the host: redirects are
//!   followed by the host (never by the plugin), with credentials dropped
//!   on a change of origin, as for the `http` import;
//! - the request body is collected before sending; one over the cap is
//!   refused with `http-request-body-size`, never cut;
//! - refusals by the rules are `http-request-denied` (the reason goes to
//!   the operator's log, `-v`); a response body over the cap is
//!   `http-response-body-size`; the request's or the call's time running
//!   out is `connection-timeout`; every network failure (unknown name,
//!   refused, reset, TLS, not HTTP) is one and the same
//!   `destination-unavailable`, so a closed port and an open one look alike;
//! - what the host holds for a call's requests is bounded by the plugin's
//!   own memory budget ([`super::Limits::memory_bytes`]): a request in
//!   flight reserves the request and response caps, an answered one keeps
//!   its body's size until the plugin has read the body to its end or
//!   dropped it. A request that does not fit waits for earlier ones, so
//!   requests run side by side (a dozen at the default limits) and a
//!   plugin that piles up unread responses runs into its call's deadline
//!   rather than into the host's memory (the `http` import copies every
//!   answer into the plugin's memory, where the same budget applies);
//! - the request options' timeouts are ignored: the host's apply;
//! - `host`, `connection`, `transfer-encoding` and `upgrade` (with
//!   wasmtime-wasi-http's other forbidden fields) cannot be set at all;
//!   `content-length` is checked against the body by wasmtime-wasi-http,
//!   then set by the host from the body it sends; `te` is refused
//!   (`http-request-denied`), as by the `http` import.

use super::host::{CallCtx, Incoming, Outgoing, Refusal, Sender};
use super::store::State;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::future::Future;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// Adds `wasi:http/types` and `wasi:http/outgoing-handler` to the linker.
pub(crate) fn add_to_linker(
    linker: &mut wasmtime::component::Linker<State>,
) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.call,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

/// What wasmtime-wasi-http's `send_request` returns.
type Sent = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for CallCtx {
    /// The host sets `host` from the URL it sends to.
    fn set_host_header(&mut self) -> bool {
        false
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _response_done: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Sent {
        // Counted now, in the order the plugin made its requests, against
        // the budget the `http` and `dns` imports use too.
        let counted = self.count_request();
        let sender = self.sender();
        let memory = self.wasi_http_memory.clone();
        Box::new(async move {
            if let Err(reason) = counted {
                return Err(refused(&sender, Refusal::Denied(reason)).into());
            }
            let limits = &sender.limits;
            let reserve = kib(limits.max_request_bytes + limits.max_response_bytes)
                .min(kib(limits.memory_bytes));
            let Ok(mut held) = memory.acquire_many_owned(reserve).await else {
                unreachable!("the semaphore is never closed")
            };
            let outgoing = match outgoing(&sender, request).await {
                Ok(outgoing) => outgoing,
                Err(Collect::TooLarge(max)) => {
                    tracing::info!(plugin = %sender.plugin, "wasi:http request refused \
                        (http-request-body-size): request body over the limit of {max} bytes");
                    return Err(ErrorCode::HttpRequestBodySize(None).into());
                }
                Err(Collect::Body(e)) => return Err(e),
            };
            match sender.send(outgoing).await {
                Ok(incoming) => {
                    // The body's size stays reserved while the body lives;
                    // the rest goes back now.
                    let kept = held
                        .split(kib(incoming.body.len()) as usize)
                        .unwrap_or(held);
                    let done: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send> =
                        Box::new(async { Ok(()) });
                    Ok((response(incoming, kept), done))
                }
                Err(refusal) => Err(refused(&sender, refusal).into()),
            }
        })
    }
}

/// Why an outgoing request could not be built.
enum Collect {
    /// The body is over the cap of this many bytes.
    TooLarge(usize),
    /// The plugin's body stream failed (wasmtime-wasi-http's own error).
    Body(wasmtime_wasi_http::Error),
}

/// The request as the [`Sender`] takes it, its body collected up to the
/// cap.
async fn outgoing(sender: &Sender, request: http::Request<WasiBody>) -> Result<Outgoing, Collect> {
    let (parts, mut body) = request.into_parts();
    let max = sender.limits.max_request_bytes;
    let mut data = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(Collect::Body)?;
        if let Ok(chunk) = frame.into_data() {
            if data.len() + chunk.len() > max {
                return Err(Collect::TooLarge(max));
            }
            data.extend_from_slice(&chunk);
        }
    }
    let mut headers = parts.headers;
    // Checked against the body by wasmtime-wasi-http; the host sets its own.
    headers.remove(http::header::CONTENT_LENGTH);
    Ok(Outgoing {
        method: parts.method,
        url: parts.uri.to_string(),
        headers,
        body: data,
    })
}

/// The plugin's view of a final answer: its body in memory, holding `kept`
/// of the call's memory until the body is dropped (read to its end, or
/// dropped unread). The body is whole, so `transfer-encoding` no longer
/// describes it.
fn response(incoming: Incoming, kept: OwnedSemaphorePermit) -> http::Response<WasiBody> {
    let mut headers = incoming.headers;
    headers.remove(http::header::TRANSFER_ENCODING);
    let body = http_body_util::Full::new(Bytes::from(incoming.body))
        .map_err(|never| match never {})
        .map_frame(move |frame| {
            let _ = &kept;
            frame
        })
        .boxed_unsync();
    let mut response = http::Response::new(body);
    *response.status_mut() = incoming.status;
    *response.headers_mut() = headers;
    response
}

/// `bytes` in whole KiB, the unit of a call's `wasi:http` memory.
fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

/// The `wasi:http` error code for a refusal; the operator's log gets the
/// reason the code cannot carry.
fn refused(sender: &Sender, refusal: Refusal) -> ErrorCode {
    let (code, reason) = match refusal {
        Refusal::Denied(reason) => (ErrorCode::HttpRequestDenied, reason),
        Refusal::Timeout(reason) => (ErrorCode::ConnectionTimeout, reason),
        Refusal::TooLarge(reason) => (ErrorCode::HttpResponseBodySize(None), reason),
        // The detail is already in the log (`Sender::send`).
        Refusal::Connection => return ErrorCode::DestinationUnavailable,
    };
    tracing::info!(plugin = %sender.plugin, "wasi:http request refused ({}): {}",
        code_name(&code), sender.redactor.redact(&reason));
    code
}

fn code_name(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::HttpRequestDenied => "http-request-denied",
        ErrorCode::ConnectionTimeout => "connection-timeout",
        ErrorCode::HttpResponseBodySize(_) => "http-response-body-size",
        _ => "error",
    }
}
