//! The DNSPod provider (`--dns dnspod`): publishes ACME challenge values
//! through DNSPod's legacy token API (`https://dnsapi.cn`), the one acme.sh's
//! `dns_dp` and lego's `dnspod` use.
//!
//! Every call is a form-encoded `POST /<Action>` carrying
//! `login_token=<id>,<token>&format=json&lang=en&error_on_empty=no`; the
//! answer is HTTP 200 with `status.code` ("1" success). `present` lists the
//! challenge name (`Record.List`, `sub_domain`, TXT records only) and calls
//! `Record.Create` for each value not there yet; `cleanup` calls
//! `Record.Remove` only for the records holding one of the values (code "8",
//! record gone, is success). [`api_error`] maps the status codes to the WIT
//! error cases.

use serde::Deserialize;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

pub const DEFAULT_ENDPOINT: &str = "https://dnsapi.cn";
/// The free plan accepts nothing lower.
pub const DEFAULT_TTL: u32 = 600;
pub const MIN_TTL: u32 = 1;
/// Records per page when listing (the API pages at 3000 anyway).
pub const PAGE_SIZE: u64 = 3000;
/// Pages followed at most while listing one name.
pub const MAX_PAGES: u64 = 20;
/// The default line ("默认"), the only one every plan has.
pub const DEFAULT_LINE: &str = "默认";
/// DNSPod bans API clients without a `程序名/版本(联系邮箱)` user agent.
pub const USER_AGENT: &str = concat!(
    "wacme-plugin-dnspod/",
    env!("CARGO_PKG_VERSION"),
    " (https://github.com/wacme/wacme)"
);

pub struct Dnspod;

// Exported symbols such as `wacme:dns/provider@0.2.0#present` do not link
// into a native cdylib; the native build exists for the unit tests.
#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Dnspod);

impl Provider for Dnspod {
    fn metadata() -> Metadata {
        Metadata {
            name: "dnspod".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "DNSPod legacy token API (dnsapi.cn, as acme.sh dns_dp); one record \
                          per value, only its own values removed"
                .into(),
            homepage: "https://docs.dnspod.cn/api/".into(),
            config: vec![
                ConfigField::new("id", "API token ID (with `token`)").env(&["DP_Id"]),
                ConfigField::new("token", "API token (with `id`)")
                    .secret()
                    .env(&["DP_Key"]),
                ConfigField::new(
                    "login_token",
                    "`ID,Token` in one value, instead of `id` and `token`",
                )
                .secret()
                .env(&["DNSPOD_API_KEY"]),
                ConfigField::new("endpoint", "API endpoint").default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge records (600 on the free plan); overrides the TTL \
                     wacme passes",
                ),
            ],
            allowed_hosts: vec!["{endpoint}".into()],
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            hints: wacme_plugin_sdk::Hints::default(),
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let ttl = api.ttl.unwrap_or(set.ttl).to_string();
        let existing: Vec<String> = api.list(set)?.into_iter().map(|r| r.value).collect();
        for value in &set.values {
            if existing.contains(value) {
                log::debug(&format!("{}: value already there", set.fqdn));
                continue;
            }
            api.call(
                "Record.Create",
                &[
                    ("domain", set.zone.as_str()),
                    ("sub_domain", set.relative_name.as_str()),
                    ("record_type", "TXT"),
                    ("record_line", DEFAULT_LINE),
                    ("value", value.as_str()),
                    ("ttl", ttl.as_str()),
                ],
            )
            .map_err(|e| e.error)?;
        }
        Ok(())
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        for record in api.list(set)? {
            if !set.values.contains(&record.value) {
                continue;
            }
            match api.call(
                "Record.Remove",
                &[("domain", set.zone.as_str()), ("record_id", &record.id)],
            ) {
                Ok(_) => {}
                // "Record id invalid": already gone.
                Err(e) if e.code == "8" => {}
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }
}

/// The resolved configuration of one call.
#[derive(Clone)]
pub struct Api {
    pub endpoint: String,
    /// `<id>,<token>`.
    pub login_token: String,
    pub ttl: Option<u32>,
}

/// A failed call: the API's `status.code`, the message shown for it and the
/// mapped WIT error.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub error: Error,
}

/// One TXT record of the challenge name, value unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub value: String,
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let endpoint = url::trim_base(config.get("endpoint").unwrap_or(DEFAULT_ENDPOINT).trim());
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(Error::InvalidConfig(format!(
                "`endpoint` must be an https:// URL such as {DEFAULT_ENDPOINT}, not {endpoint:?}"
            )));
        }
        let login_token = match (
            config.get("id").map(str::trim),
            config.get("token").map(str::trim),
            config.get("login_token").map(str::trim),
        ) {
            (Some(id), Some(token), _) => format!("{id},{token}"),
            (None, None, Some(both)) => match both.split_once(',') {
                Some((id, token)) if !id.trim().is_empty() && !token.trim().is_empty() => {
                    format!("{},{}", id.trim(), token.trim())
                }
                _ => {
                    return Err(Error::InvalidConfig(
                        "`login_token` must be `ID,Token` (the token's ID, a comma, the token)"
                            .into(),
                    ));
                }
            },
            (Some(_), None, _) => return Err(Error::InvalidConfig("`token` is required".into())),
            (None, Some(_), _) => return Err(Error::InvalidConfig("`id` is required".into())),
            (None, None, None) => {
                return Err(Error::InvalidConfig(
                    "`id` and `token` (or `login_token` = `ID,Token`) are required".into(),
                ));
            }
        };
        Ok(Api {
            endpoint: endpoint.to_string(),
            login_token,
            ttl: config.parse::<u32>("ttl")?,
        })
    }

    /// Every TXT record named exactly `set.relative_name` in `set.zone`.
    pub fn list(&self, set: &TxtSet) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        // The offset advances by what each page held: a page may be shorter
        // than the length asked for.
        let mut offset = 0;
        for _ in 0..MAX_PAGES {
            let (offset_text, length) = (offset.to_string(), PAGE_SIZE.to_string());
            let body = match self.call(
                "Record.List",
                &[
                    ("domain", set.zone.as_str()),
                    ("sub_domain", set.relative_name.as_str()),
                    ("record_type", "TXT"),
                    ("offset", offset_text.as_str()),
                    ("length", length.as_str()),
                ],
            ) {
                Ok(body) => body,
                // "No records" (without `error_on_empty=no`).
                Err(e) if e.code == "10" => break,
                // "Domain id invalid", "Not the domain owner".
                Err(e) if e.code == "6" || e.code == "9" => {
                    return Err(Error::ZoneNotFound(format!(
                        "{}; the domain is not in this DNSPod account",
                        e.message
                    )));
                }
                Err(e) => return Err(e.error),
            };
            let listing: Listing = serde_json::from_slice(&body)
                .map_err(|e| Error::Permanent(format!("unexpected record list: {e}")))?;
            let count = listing.records.len() as u64;
            records.extend(
                listing
                    .records
                    .into_iter()
                    .filter(|r| {
                        r.name.eq_ignore_ascii_case(&set.relative_name)
                            && r.rtype.eq_ignore_ascii_case("TXT")
                    })
                    .map(|r| Record {
                        id: r.id.to_string(),
                        value: txt::unquote(&r.value),
                    }),
            );
            let total: u64 = listing
                .info
                .and_then(|i| i.records_num.or(i.record_total))
                .and_then(|n| n.to_string().trim_matches('"').parse().ok())
                .unwrap_or(0);
            offset += count;
            if count == 0 || offset >= total {
                break;
            }
        }
        Ok(records)
    }

    /// Sends one action; the JSON body when `status.code` is "1".
    pub fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Vec<u8>, ApiError> {
        let response = self
            .request(action, params)
            .send()
            .map_err(|error| ApiError {
                code: String::new(),
                message: String::new(),
                error,
            })?;
        check(&response)?;
        Ok(response.body)
    }

    /// The form-encoded request for `action`.
    pub fn request(&self, action: &str, params: &[(&str, &str)]) -> Request {
        Request::post(format!("{}/{action}", self.endpoint))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .header("user-agent", USER_AGENT)
            .body(form(&self.login_token, params))
    }
}

/// The request body: the common parameters, then `params`.
pub fn form(login_token: &str, params: &[(&str, &str)]) -> String {
    [
        ("login_token", login_token),
        ("format", "json"),
        ("lang", "en"),
        ("error_on_empty", "no"),
    ]
    .iter()
    .chain(params)
    .map(|(k, v)| format!("{}={}", url::encode(k), url::encode(v)))
    .collect::<Vec<_>>()
    .join("&")
}

/// A JSON number or string (the API uses both for ids and counts).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Text {
    Number(u64),
    String(String),
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Text::Number(n) => write!(f, "{n}"),
            Text::String(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Listing {
    #[serde(default)]
    pub info: Option<Info>,
    #[serde(default)]
    pub records: Vec<ListedRecord>,
}

#[derive(Debug, Deserialize)]
pub struct Info {
    #[serde(default)]
    pub record_total: Option<Text>,
    #[serde(default)]
    pub records_num: Option<Text>,
}

#[derive(Debug, Deserialize)]
pub struct ListedRecord {
    pub id: Text,
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
struct Status {
    #[serde(default)]
    code: Option<Text>,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(default)]
    status: Status,
}

/// `Ok` when the answer is HTTP 2xx with `status.code` "1", else the mapped
/// error.
pub fn check(response: &Response) -> Result<(), ApiError> {
    let envelope: Option<Envelope> = serde_json::from_slice(&response.body).ok();
    let code = envelope
        .as_ref()
        .and_then(|e| e.status.code.as_ref())
        .map(|c| c.to_string());
    if response.is_success() && code.as_deref() == Some("1") {
        return Ok(());
    }
    Err(api_error(response))
}

/// Maps a failed answer to the WIT error case, keyed on `status.code`.
pub fn api_error(response: &Response) -> ApiError {
    let envelope: Envelope = serde_json::from_slice(&response.body).unwrap_or_default();
    let code = envelope
        .status
        .code
        .map(|c| c.to_string())
        .unwrap_or_default();
    let detail = if code.is_empty() {
        excerpt(&response.text())
    } else {
        format!("status {code}: {}", envelope.status.message)
    };
    let message = format!("DNSPod: HTTP {}: {detail}", response.status);
    let shown = message.clone();
    let error = match code.as_str() {
        "-1" => Error::Authentication(format!(
            "{message}; check id and token (or login_token = ID,Token)"
        )),
        "-8" | "-7" | "83" | "85" => Error::Authentication(message),
        "-2" => Error::RateLimited(RateLimit {
            message,
            retry_after_secs: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        }),
        "3" | "-99" => Error::Transient(message),
        "29" | "32" => Error::InvalidConfig(format!(
            "{message}; this plan needs a higher TTL: set `ttl` (600 on the free plan)"
        )),
        "" if response.is_success() => Error::Permanent(message),
        "" => Error::from_status(response.status, response.header("retry-after"), message),
        _ => Error::Permanent(message),
    };
    ApiError {
        code,
        message: shown,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Result<(), ApiError> {
        check(&Response {
            status: 200,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        })
    }

    fn status(code: &str, message: &str) -> ApiError {
        answer(&format!(
            r#"{{"status":{{"code":"{code}","message":"{message}","created_at":"2026-01-01 00:00:00"}}}}"#
        ))
        .unwrap_err()
    }

    #[test]
    fn credentials_are_id_and_token_or_login_token() {
        let api = Api::from_config(&Config::new([("id", "12345"), ("token", "abc")])).unwrap();
        assert_eq!(api.login_token, "12345,abc");
        assert_eq!(api.endpoint, DEFAULT_ENDPOINT);
        let api = Api::from_config(&Config::new([
            ("login_token", " 12345 , abc "),
            ("endpoint", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        assert_eq!(
            (api.login_token.as_str(), api.endpoint.as_str()),
            ("12345,abc", "http://127.0.0.1:9")
        );
        for bad in [
            vec![("login_token", "abc")],
            vec![("login_token", ",abc")],
            vec![("id", "1")],
            vec![("token", "t")],
            vec![],
            vec![("id", "1"), ("token", "t"), ("endpoint", "dnsapi.cn")],
            vec![("id", "1"), ("token", "t"), ("ttl", "x")],
        ] {
            assert!(
                matches!(
                    Api::from_config(&Config::new(bad.clone())),
                    Err(Error::InvalidConfig(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn requests_are_form_encoded_posts() {
        let api = Api::from_config(&Config::new([("id", "1"), ("token", "t k")])).unwrap();
        let request = api.request(
            "Record.Create",
            &[("record_line", DEFAULT_LINE), ("value", "a+b=c")],
        );
        let text = format!("{request:?}");
        assert!(text.contains("https://dnsapi.cn/Record.Create"), "{text}");
        assert!(text.contains("wacme-plugin-dnspod/"), "{text}");
        assert_eq!(
            form(
                "1,t k",
                &[("record_line", DEFAULT_LINE), ("value", "a+b=c")]
            ),
            "login_token=1%2Ct%20k&format=json&lang=en&error_on_empty=no\
             &record_line=%E9%BB%98%E8%AE%A4&value=a%2Bb%3Dc"
        );
    }

    #[test]
    fn status_codes_map_to_wit_cases() {
        assert!(
            answer(r#"{"status":{"code":"1","message":"Action completed successful"}}"#).is_ok()
        );
        let e = status("-1", "Login failed");
        let Error::Authentication(m) = e.error else {
            panic!("login")
        };
        assert!(m.contains("Login failed"), "{m}");
        assert!(matches!(
            status("-8", "Login failed too many times").error,
            Error::Authentication(_)
        ));
        assert!(matches!(
            status("-2", "API usage is limited").error,
            Error::RateLimited(_)
        ));
        assert!(matches!(
            status("3", "Unknown error").error,
            Error::Transient(_)
        ));
        assert!(matches!(
            status("29", "TTL too small").error,
            Error::InvalidConfig(_)
        ));
        let e = status("8", "Record id invalid");
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("8", "DNSPod: HTTP 200: status 8: Record id invalid")
        );
        assert!(matches!(
            status("34", "Invalid value").error,
            Error::Permanent(_)
        ));
        let e = check(&Response {
            status: 502,
            headers: Vec::new(),
            body: b"<html>bad gateway</html>".to_vec(),
        })
        .unwrap_err();
        assert!(matches!(e.error, Error::Transient(_)));
    }

    #[test]
    fn listing_parses_the_real_shape() {
        let body = r#"{"status":{"code":"1","message":"Action completed successful","created_at":"2016-08-12 17:57:55"},
            "domain":{"id":9842292,"name":"example.com","punycode":"example.com","grade":"DP_Free","ttl":600},
            "info":{"sub_domains":"12","record_total":"2","records_num":"2"},
            "records":[{"id":"44146112","name":"_acme-challenge","line":"默认","line_id":"0","type":"TXT",
              "ttl":"600","value":"v1","weight":null,"mx":"0","enabled":"1","status":"enabled",
              "monitor_status":"","remark":"","updated_on":"2016-08-12 17:07:05","use_aqb":"no"},
              {"id":44146113,"name":"_acme-challenge","type":"TXT","value":"v2"}]}"#;
        let l: Listing = serde_json::from_str(body).unwrap();
        assert_eq!(l.records[0].id.to_string(), "44146112");
        assert_eq!(l.records[1].id.to_string(), "44146113");
        assert_eq!(l.info.unwrap().records_num.unwrap().to_string(), "2");
    }

    #[test]
    fn metadata() {
        let m = Dnspod::metadata();
        assert_eq!(m.name, "dnspod");
        assert_eq!(
            (m.default_ttl, m.allowed_hosts.as_slice()),
            (600, &["{endpoint}".to_string()][..])
        );
        let field = |n: &str| m.config.iter().find(|f| f.name == n).unwrap();
        assert_eq!(field("id").env_aliases, ["DP_Id"]);
        assert!(field("token").secret);
        assert_eq!(field("token").env_aliases, ["DP_Key"]);
        assert!(field("login_token").secret);
        assert_eq!(field("login_token").env_aliases, ["DNSPOD_API_KEY"]);
    }
}
