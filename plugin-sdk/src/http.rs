//! HTTP client over the host's `http` import.
//!
//! The host decides what may be reached: only the origins the provider's
//! metadata declares (and the operator allows). A refused request comes back
//! as [`Error::Permanent`] naming the reason; timeouts and connection failures
//! as [`Error::Transient`].

use crate::bindings::wacme::dns::http as wit;
use crate::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use wit::Method;

/// An HTTP request under construction.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }
    pub fn put(url: impl Into<String>) -> Self {
        Self::new(Method::Put, url)
    }
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new(Method::Patch, url)
    }
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// A JSON body with `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.body = serde_json::to_vec(body).expect("serializing a request body cannot fail");
        self.header("content-type", "application/json")
    }

    /// A raw body; set its content type with [`Request::header`].
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request. Any status is a successful send; check
    /// [`Response::status`] or use [`Response::error_for_status`].
    pub fn send(self) -> Result<Response> {
        let origin = origin(&self.url).to_string();
        let request = wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
        };
        match wit::send(&request) {
            Ok(r) => Ok(Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(wit::HttpError::Denied(m)) => {
                Err(Error::Permanent(format!("request denied by the host: {m}")))
            }
            Err(wit::HttpError::Timeout(m)) => {
                Err(Error::Transient(format!("request timed out: {m}")))
            }
            // The host says only "connection failed" (the detail is in
            // its log, not for the plugin); name where to.
            Err(wit::HttpError::Connection(m)) if m == "connection failed" => {
                Err(Error::Transient(format!("connection failed: {origin}")))
            }
            Err(wit::HttpError::Connection(m)) => Err(Error::Transient(format!(
                "connection failed: {origin}: {m}"
            ))),
            Err(wit::HttpError::TooLarge(m)) => {
                Err(Error::Permanent(format!("response too large: {m}")))
            }
        }
    }
}

/// `scheme://host[:port]` of a URL (the whole text when it has no path).
fn origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..].find(['/', '?', '#']) {
        Some(end) => &url[..start + end],
        None => url,
    }
}

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Permanent(format!(
                "unexpected response (HTTP {}): {e}: {}",
                self.status,
                excerpt(&self.text())
            ))
        })
    }

    /// `Ok(self)` on 2xx, else the error case matching the status (see
    /// [`Error::from_status`]) with an excerpt of the body.
    pub fn error_for_status(self) -> Result<Self> {
        if self.is_success() {
            return Ok(self);
        }
        let message = format!("HTTP {}: {}", self.status, excerpt(&self.text()));
        Err(Error::from_status(
            self.status,
            self.header("retry-after"),
            message,
        ))
    }
}

/// At most 300 characters of `text`, on one line.
pub fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn origin_of_a_url() {
        assert_eq!(
            super::origin("https://api.example.com/v1/zones?x=1"),
            "https://api.example.com"
        );
        assert_eq!(
            super::origin("http://127.0.0.1:8081?x"),
            "http://127.0.0.1:8081"
        );
        assert_eq!(super::origin("https://a.example"), "https://a.example");
    }
}
