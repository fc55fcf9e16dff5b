//! One HTTP exchange through `wasi:http/outgoing-handler`, the way a
//! standard client does it: the request handed to the handler first, then
//! its body streamed, then the response awaited and its body read to the
//! end (or, for [`hold`], left unread). Errors are the `wasi:http` error
//! code as the plugin sees it (`ErrorCode::…`).

/// A response: its status and whole body.
pub struct Fetched {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends a request and waits for the response, leaving its body unread.
#[cfg(target_arch = "wasm32")]
pub fn send(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<wasip2::http::types::IncomingResponse, String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("not a URL: {url}"))?;
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.is_empty() { "/" } else { path };

    let fields: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&fields).map_err(|e| format!("headers: {e:?}"))?;
    let request = OutgoingRequest::new(fields);
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        other => Method::Other(other.to_string()),
    };
    request.set_method(&method).map_err(|()| "method")?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    request.set_scheme(Some(&scheme)).map_err(|()| "scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "authority")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "path")?;
    let outgoing = request.body().map_err(|()| "body")?;

    let future = outgoing_handler::handle(request, None).map_err(|code| format!("{code:?}"))?;

    // The body, in the chunks blocking writes take; the host may stop
    // reading it (a body over its cap), which ends the writing.
    {
        let stream = outgoing.write().map_err(|()| "body stream")?;
        for chunk in body.chunks(4096) {
            if let Err(StreamError::Closed | StreamError::LastOperationFailed(_)) =
                stream.blocking_write_and_flush(chunk)
            {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);

    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(format!("{code:?}")),
        Some(Err(())) => Err("response taken twice".into()),
        None => Err("response not ready after waiting".into()),
    }
}

/// [`send`], then the response's body read to its end.
#[cfg(target_arch = "wasm32")]
pub fn fetch(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<Fetched, String> {
    use wasip2::http::types::IncomingBody;
    use wasip2::io::streams::StreamError;

    let response = send(method, url, headers, body)?;
    let status = response.status();
    let incoming = response.consume().map_err(|()| "response body")?;
    let mut data = Vec::new();
    {
        let stream = incoming.stream().map_err(|()| "response body stream")?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(format!("reading the body: {}", e.to_debug_string()));
                }
            }
        }
    }
    drop(IncomingBody::finish(incoming));
    Ok(Fetched { status, body: data })
}

/// `hold`: GETs `url` up to `times` times, keeping every response with its
/// body unread; how many were answered, or the first error after them.
#[cfg(target_arch = "wasm32")]
pub fn hold(url: &str, times: u32) -> (u32, Option<String>) {
    let mut held = Vec::new();
    for _ in 0..times {
        match send("GET", url, &[], &[]) {
            Ok(response) => held.push(response),
            Err(code) => return (held.len() as u32, Some(code)),
        }
    }
    (held.len() as u32, None)
}

/// The native build (clippy, unit tests) has no `wasi:http`.
#[cfg(not(target_arch = "wasm32"))]
pub fn hold(_url: &str, _times: u32) -> (u32, Option<String>) {
    (0, Some("wasi:http exists only in the component".into()))
}

/// The native build (clippy, unit tests) has no `wasi:http`.
#[cfg(not(target_arch = "wasm32"))]
pub fn fetch(
    _method: &str,
    _url: &str,
    _headers: &[(&str, String)],
    _body: &[u8],
) -> Result<Fetched, String> {
    Err("wasi:http exists only in the component".into())
}
