//! OAuth 2.0 access-token requests through the host's HTTP import.
//!
//! - [`jwt_bearer_form`]: the JWT bearer grant (RFC 7523 §2.1), which Google
//!   service accounts use;
//! - [`client_credentials_form`]: the client credentials grant (RFC 6749
//!   §4.4) with a client secret in the body, which Microsoft Entra ID uses.
//!
//! A token endpoint exists to check credentials, so its refusals (HTTP
//! 400/401/403 with an RFC 6749 §5.2 `error`) are `authentication` errors
//! carrying its `error` code and description; 429 is `rate-limited` and
//! 5xx `transient`, as for any API call.

use serde::Deserialize;
use wacme_plugin_sdk::http::{Request, excerpt};
use wacme_plugin_sdk::{Error, Result, url};

/// The `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// An `application/x-www-form-urlencoded` body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", url::encode(k), url::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The token request body of the JWT bearer grant.
pub fn jwt_bearer_form(assertion: &str) -> String {
    form(&[("grant_type", JWT_BEARER_GRANT), ("assertion", assertion)])
}

/// The token request body of the client credentials grant.
pub fn client_credentials_form(client_id: &str, client_secret: &str, scope: &str) -> String {
    form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", client_secret),
        ("scope", scope),
    ])
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Deserialize)]
pub struct Token {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl core::fmt::Debug for Token {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Token")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// An error response (RFC 6749 §5.2).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}

/// POSTs `form` to `token_url` and returns the access token. `who` names the
/// identity provider in messages (e.g. "Google OAuth").
pub fn request_token(token_url: &str, form: String, who: &str) -> Result<Token> {
    let response = Request::post(token_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(form)
        .send()?;
    token_response(
        response.status,
        response.header("retry-after"),
        &response.body,
        who,
    )
}

/// The token of a token endpoint's answer, or the matching error.
pub fn token_response(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    who: &str,
) -> Result<Token> {
    if (200..300).contains(&status) {
        let token: Token = serde_json::from_slice(body).map_err(|e| {
            Error::Permanent(format!(
                "{who}: unexpected token response (HTTP {status}): {e}"
            ))
        })?;
        if token.access_token.is_empty() {
            return Err(Error::Permanent(format!(
                "{who}: the token response holds no access_token"
            )));
        }
        if let Some(kind) = &token.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(Error::Permanent(format!(
                "{who}: unsupported token type {kind:?}"
            )));
        }
        return Ok(token);
    }
    Err(token_error(status, retry_after, body, who))
}

/// Maps a token endpoint's refusal to the WIT error case.
pub fn token_error(status: u16, retry_after: Option<&str>, body: &[u8], who: &str) -> Error {
    let text = String::from_utf8_lossy(body);
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let reason = if parsed.error.is_empty() {
        excerpt(&text)
    } else {
        let description = first_sentence(&parsed.error_description);
        if description.is_empty() {
            parsed.error.clone()
        } else {
            format!("{}: {}", parsed.error, excerpt(description))
        }
    };
    let message = format!("{who} token endpoint: HTTP {status}: {reason}");
    match status {
        400 | 401 | 403 => Error::Authentication(message),
        _ => Error::from_status(status, retry_after, message),
    }
}

/// `text` up to the first line break: Microsoft Entra ID appends trace and
/// correlation ids on further lines.
fn first_sentence(text: &str) -> &str {
    text.split(['\r', '\n']).next().unwrap_or_default().trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_url_encoded() {
        assert_eq!(
            jwt_bearer_form("a.b-c_d"),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b-c_d"
        );
        assert_eq!(
            client_credentials_form("id", "s+/=cr et", "https://management.azure.com/.default"),
            "grant_type=client_credentials&client_id=id&client_secret=s%2B%2F%3Dcr%20et\
             &scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
        );
    }

    #[test]
    fn token_is_parsed_and_kept_out_of_debug() {
        let t = token_response(
            200,
            None,
            br#"{"access_token":"ya29.secret","expires_in":3599,"token_type":"Bearer"}"#,
            "Google OAuth",
        )
        .unwrap();
        assert_eq!(t.access_token, "ya29.secret");
        assert!(!format!("{t:?}").contains("ya29"));
        let no_token = token_response(200, None, br#"{"token_type":"Bearer"}"#, "x");
        assert!(matches!(no_token, Err(Error::Permanent(_))));
    }

    #[test]
    fn refusals_are_authentication_errors_with_the_reason() {
        // Google: https://developers.google.com/identity/protocols/oauth2/service-account#error-codes
        let e = token_response(
            400,
            None,
            br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
            "Google OAuth",
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::Authentication(m) if m == "Google OAuth token endpoint: HTTP 400: \
                invalid_grant: Invalid JWT Signature."),
            "{e:?}"
        );
        // Microsoft Entra ID: the description's first line only.
        let e = token_error(
            401,
            None,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1\r\nCorrelation ID: 2","error_codes":[7000215]}"#,
            "Microsoft Entra ID",
        );
        assert!(
            matches!(&e, Error::Authentication(m) if m == "Microsoft Entra ID token endpoint: \
                HTTP 401: invalid_client: AADSTS7000215: Invalid client secret provided."),
            "{e:?}"
        );
    }

    #[test]
    fn throttling_and_server_errors() {
        match token_error(429, Some("7"), b"{}", "x") {
            Error::RateLimited(r) => assert_eq!(r.retry_after_secs, Some(7)),
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            token_error(503, None, b"oops", "x"),
            Error::Transient(m) if m.contains("oops")
        ));
    }
}
