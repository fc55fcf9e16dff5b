//! The Cloudflare provider (`--dns cloudflare`): publishes ACME challenge
//! values through Cloudflare's API v4.
//!
//! Authentication is an API token (`Authorization: Bearer`, needs Zone:Read
//! and DNS:Edit) or the legacy e-mail + global API key. The zone id is looked
//! up from the zone the host found (walking up the labels, as the account's
//! zone may sit above a delegated name), unless `zone_id` is set. `present`
//! lists the TXT records of the name and creates one record per missing
//! value (an identical record reported by the API is success); `cleanup`
//! deletes only the records whose content, quoted or bare, is one of the
//! values. Listing follows `result_info.total_pages`.
//!
//! The batch calls (`present_many` / `cleanup_many`, hint `batch`) look the
//! zone up once, list the TXT records of every name at once (`type=TXT`,
//! narrowed with `name.startswith` to the first label the names share, the
//! exact names picked here), and send every creation or deletion in one
//! `POST /zones/{zone_id}/dns_records/batch`, which Cloudflare applies in
//! one transaction (all or nothing). A batch over the smallest plan's limit
//! ([`MAX_BATCH_RECORDS`] records per request) is split.
//!
//! Everything but [`Cloudflare`]'s two calls is a plain function tested on the
//! host target.

use serde::Deserialize;
use serde_json::Value;
use wacme_plugin_sdk::batch;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
pub use wacme_plugin_sdk::zone::candidates as zone_candidates;
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

/// The public API base.
pub const DEFAULT_ENDPOINT: &str = "https://api.cloudflare.com/client/v4";
/// acme.sh's and lego's TTL for challenge records.
pub const DEFAULT_TTL: u32 = 120;
/// Smallest explicit TTL outside enterprise plans (`1` means "automatic").
pub const MIN_TTL: u32 = 60;
/// Records asked for per page when listing.
pub const PER_PAGE: u32 = 100;
/// Pages followed at most while listing one name (a runaway guard).
pub const MAX_PAGES: u32 = 50;
/// Records one `/dns_records/batch` request may touch on every plan (Free:
/// 200; Pro and up: 3500).
pub const MAX_BATCH_RECORDS: usize = 200;

pub struct Cloudflare;

// Exported symbols such as `wacme:dns/provider@0.2.0#present` do not link
// into a native cdylib; the native build exists for the unit tests.
#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Cloudflare);

impl Provider for Cloudflare {
    fn metadata() -> Metadata {
        Metadata {
            name: "cloudflare".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Cloudflare DNS, through API v4 with an API token (Zone:Read + \
                          DNS:Edit) or the legacy e-mail + global API key; one TXT record per \
                          value, only its own values removed"
                .into(),
            homepage: "https://developers.cloudflare.com/api/resources/dns/".into(),
            config: vec![
                ConfigField::new("api_token", "API token with Zone:Read and DNS:Edit")
                    .secret()
                    .env(&[
                        "CLOUDFLARE_DNS_API_TOKEN",
                        "CLOUDFLARE_API_TOKEN",
                        "CF_API_TOKEN",
                    ]),
                ConfigField::new("email", "Account e-mail, for the legacy global API key").env(&[
                    "CLOUDFLARE_EMAIL",
                    "CF_API_EMAIL",
                    "CF_Email",
                ]),
                ConfigField::new("api_key", "Legacy global API key (with `email`)")
                    .secret()
                    .env(&["CLOUDFLARE_API_KEY", "CF_API_KEY", "CF_Key"]),
                ConfigField::new("zone_id", "Zone id; looked up by name when unset")
                    .env(&["CLOUDFLARE_ZONE_ID", "CF_Zone_ID"]),
                ConfigField::new("endpoint", "API base URL").default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge records: 1 (automatic) or 60-86400; overrides the TTL \
                     wacme passes",
                ),
            ],
            allowed_hosts: vec!["{endpoint}".into()],
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            // `/dns_records/batch` takes many records of a zone at once.
            hints: wacme_plugin_sdk::Hints {
                batch: true,
                ..Default::default()
            },
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let zone_id = api.zone_id(&set.zone)?;
        let existing = api.list(&zone_id, &set.fqdn)?;
        let ttl = api.ttl.unwrap_or(set.ttl);
        for value in missing(&existing, &set.values) {
            let body = serde_json::json!({
                "type": "TXT",
                "name": set.fqdn,
                "content": txt::quote(value),
                "ttl": ttl,
            });
            let request = Request::post(format!("{}/zones/{zone_id}/dns_records", api.base));
            match api.call(request.json(&body)) {
                Err(ApiError { codes, .. }) if codes.iter().any(|c| IDENTICAL.contains(c)) => {
                    log::debug(&format!("{}: value already there", set.fqdn));
                }
                other => drop(other.map_err(|e| e.error)?),
            }
        }
        Ok(())
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let zone_id = api.zone_id(&set.zone)?;
        for record in api.list(&zone_id, &set.fqdn)? {
            if !matches_value(&record, &set.values) {
                continue;
            }
            let url = format!("{}/zones/{zone_id}/dns_records/{}", api.base, record.id);
            match api.call(Request::delete(url)) {
                Ok(_) => {}
                Err(ApiError { codes, status, .. })
                    if codes.contains(&RECORD_MISSING) || status == 404 => {}
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }

    fn present_many(config: &Config, sets: &[TxtSet]) -> Result<()> {
        let api = Api::from_config(config)?;
        let Some(zone) = batch_zone(sets)? else {
            return Ok(());
        };
        let zone_id = api.zone_id(zone)?;
        let names = merge_names(sets);
        let existing = api.list_names(&zone_id, &names)?;
        let posts = plan_posts(&names, &existing, api.ttl);
        api.batch(&zone_id, &[], &posts)
    }

    fn cleanup_many(config: &Config, sets: &[TxtSet]) -> Result<()> {
        let api = Api::from_config(config)?;
        let Some(zone) = batch_zone(sets)? else {
            return Ok(());
        };
        let zone_id = api.zone_id(zone)?;
        let names = merge_names(sets);
        let existing = api.list_names(&zone_id, &names)?;
        let deletes = plan_deletes(&names, &existing);
        api.batch(&zone_id, &deletes, &[])
    }
}

/// One record name of a batch: every value wanted there.
pub use wacme_plugin_sdk::batch::Name;

/// `name` lower case, without trailing dot.
fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The zone every set of a batch is in ([`batch::zone`]).
pub fn batch_zone(sets: &[TxtSet]) -> Result<Option<&str>> {
    batch::zone(sets, normalize)
}

/// The sets of a batch merged per record name ([`batch::merge`]).
pub fn merge_names(sets: &[TxtSet]) -> Vec<Name> {
    batch::merge(sets, normalize)
}

/// The `name.startswith` filter that lists every name of a batch: the first
/// label they all share plus its dot (`_acme-challenge.`), or `None` when
/// they share none (then every TXT record of the zone is listed).
pub fn shared_prefix(names: &[Name]) -> Option<String> {
    let first = names.first()?.name.split_once('.')?.0;
    names
        .iter()
        .all(|n| {
            n.name
                .split_once('.')
                .is_some_and(|(label, _)| label == first)
        })
        .then(|| format!("{first}."))
}

/// The listing URL of page `page` of the TXT records that may belong to
/// `names`.
pub fn list_names_url(base: &str, zone_id: &str, names: &[Name], page: u32) -> String {
    let mut url = format!("{base}/zones/{zone_id}/dns_records?type=TXT");
    if let Some(prefix) = shared_prefix(names) {
        url.push_str(&format!("&name.startswith={}", url::encode(&prefix)));
    }
    url.push_str(&format!("&page={page}&per_page={PER_PAGE}"));
    url
}

/// A record to create, as a batch `posts` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub name: String,
    /// Quoted, as the API stores TXT content.
    pub content: String,
    pub ttl: u32,
}

/// One record per value a name misses. `ttl` is the operator's override.
pub fn plan_posts(names: &[Name], existing: &[DnsRecord], ttl: Option<u32>) -> Vec<Post> {
    let mut posts = Vec::new();
    for name in names {
        let here: Vec<DnsRecord> = existing
            .iter()
            .filter(|r| normalize(&r.name) == name.name)
            .cloned()
            .collect();
        for value in missing(&here, &name.values) {
            posts.push(Post {
                name: name.name.clone(),
                content: txt::quote(value),
                ttl: ttl.unwrap_or(name.ttl),
            });
        }
    }
    posts
}

/// The ids of the records holding one of their name's values, each once.
pub fn plan_deletes(names: &[Name], existing: &[DnsRecord]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for record in existing {
        let name = normalize(&record.name);
        let ours = names
            .iter()
            .any(|n| n.name == name && matches_value(record, &n.values));
        if ours && !ids.contains(&record.id) {
            ids.push(record.id.clone());
        }
    }
    ids
}

/// The body of one `/dns_records/batch` request: `deletes` by id, then
/// `posts` (Cloudflare runs deletes, patches, puts, posts in this order).
pub fn batch_body(deletes: &[String], posts: &[Post]) -> Value {
    let mut body = serde_json::Map::new();
    if !deletes.is_empty() {
        let deletes: Vec<Value> = deletes
            .iter()
            .map(|id| serde_json::json!({"id": id}))
            .collect();
        body.insert("deletes".into(), Value::Array(deletes));
    }
    if !posts.is_empty() {
        let posts: Vec<Value> = posts
            .iter()
            .map(|p| {
                serde_json::json!({"type": "TXT", "name": p.name, "content": p.content, "ttl": p.ttl})
            })
            .collect();
        body.insert("posts".into(), Value::Array(posts));
    }
    Value::Object(body)
}

/// `deletes` then `posts` cut into request bodies of at most
/// [`MAX_BATCH_RECORDS`] records each.
pub fn batch_bodies(deletes: &[String], posts: &[Post]) -> Vec<Value> {
    let mut bodies: Vec<Value> = deletes
        .chunks(MAX_BATCH_RECORDS)
        .map(|d| batch_body(d, &[]))
        .collect();
    bodies.extend(posts.chunks(MAX_BATCH_RECORDS).map(|p| batch_body(&[], p)));
    bodies
}

/// "A record with those settings already exists" / "an identical record
/// already exists".
pub const IDENTICAL: [i64; 2] = [81057, 81058];
/// "Record does not exist" (already deleted).
pub const RECORD_MISSING: i64 = 81044;
/// "Authentication error".
pub const AUTH_ERROR: i64 = 10000;

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Token(String),
    Key { email: String, key: String },
}

/// The resolved configuration of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub base: String,
    pub auth: Auth,
    pub zone_id: Option<String>,
    pub ttl: Option<u32>,
}

/// A failed call: the WIT error plus what callers match on.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub codes: Vec<i64>,
    pub error: Error,
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let auth = match (
            config.get("api_token"),
            config.get("email"),
            config.get("api_key"),
        ) {
            (Some(token), _, _) => Auth::Token(token.into()),
            (None, Some(email), Some(key)) => Auth::Key {
                email: email.into(),
                key: key.into(),
            },
            _ => {
                return Err(Error::InvalidConfig(
                    "set `api_token` (recommended), or both `email` and `api_key`".into(),
                ));
            }
        };
        let ttl = config.parse::<u32>("ttl")?;
        if let Some(t) = ttl
            && t != 1
            && !(30..=86400).contains(&t)
        {
            return Err(Error::InvalidConfig(format!(
                "`ttl` must be 1 (automatic) or 60-86400 (30 on enterprise plans), not {t}"
            )));
        }
        let endpoint = config.get("endpoint").unwrap_or(DEFAULT_ENDPOINT).trim();
        if !endpoint.starts_with("https://") && !endpoint.starts_with("http://") {
            return Err(Error::InvalidConfig(format!(
                "`endpoint` must be an https:// URL, not {endpoint:?}"
            )));
        }
        Ok(Api {
            base: url::trim_base(endpoint).to_string(),
            auth,
            zone_id: config.get("zone_id").map(str::to_string),
            ttl,
        })
    }

    /// The id of the account's zone holding `zone`: `zone_id`, or the first
    /// name from `zone` upwards that the account has.
    pub fn zone_id(&self, zone: &str) -> Result<String> {
        if let Some(id) = &self.zone_id {
            return Ok(id.clone());
        }
        for candidate in zone_candidates(zone) {
            let url = format!("{}/zones?name={}", self.base, url::encode(&candidate));
            let envelope = self.call(Request::get(url)).map_err(|e| e.error)?;
            if let Some(id) = envelope.result.as_array().and_then(|zones| {
                zones
                    .iter()
                    .find(|z| z["name"].as_str() == Some(candidate.as_str()))
                    .and_then(|z| z["id"].as_str())
            }) {
                return Ok(id.to_string());
            }
        }
        Err(Error::ZoneNotFound(format!(
            "no Cloudflare zone for {zone} in this account (or the token lacks Zone:Read on it)"
        )))
    }

    /// Every TXT record named `fqdn`, all pages.
    pub fn list(&self, zone_id: &str, fqdn: &str) -> Result<Vec<DnsRecord>> {
        let mut records = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!(
                "{}/zones/{zone_id}/dns_records?type=TXT&name={}&page={page}&per_page={PER_PAGE}",
                self.base,
                url::encode(fqdn)
            );
            let envelope = self.call(Request::get(url)).map_err(|e| e.error)?;
            let batch: Vec<DnsRecord> = serde_json::from_value(envelope.result)
                .map_err(|e| Error::Permanent(format!("unexpected record list: {e}")))?;
            let last = batch.is_empty()
                || envelope
                    .result_info
                    .is_none_or(|info| info.total_pages <= page);
            records.extend(
                batch
                    .into_iter()
                    .filter(|r| r.name.eq_ignore_ascii_case(fqdn)),
            );
            if last {
                break;
            }
        }
        Ok(records)
    }

    /// Every TXT record of the zone named like one of `names`, all pages of
    /// one listing.
    pub fn list_names(&self, zone_id: &str, names: &[Name]) -> Result<Vec<DnsRecord>> {
        let mut records = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = list_names_url(&self.base, zone_id, names, page);
            let envelope = self.call(Request::get(url)).map_err(|e| e.error)?;
            let batch: Vec<DnsRecord> = serde_json::from_value(envelope.result)
                .map_err(|e| Error::Permanent(format!("unexpected record list: {e}")))?;
            let last = batch.is_empty()
                || envelope
                    .result_info
                    .is_none_or(|info| info.total_pages <= page);
            records.extend(
                batch
                    .into_iter()
                    .filter(|r| names.iter().any(|n| n.name == normalize(&r.name))),
            );
            if last {
                return Ok(records);
            }
        }
        // Values missed on a further page would be created twice or left
        // behind: the calls name by name list less.
        Err(Error::Permanent(format!(
            "more than {MAX_PAGES} pages of TXT records to list for one batch"
        )))
    }

    /// Deletes the records `deletes` and creates `posts` with as few
    /// `/dns_records/batch` requests as the limit allows.
    pub fn batch(&self, zone_id: &str, deletes: &[String], posts: &[Post]) -> Result<()> {
        if deletes.is_empty() && posts.is_empty() {
            log::debug("every record already as wanted");
            return Ok(());
        }
        log::debug(&format!(
            "batch: {} deletion(s), {} creation(s)",
            deletes.len(),
            posts.len()
        ));
        let url = format!("{}/zones/{zone_id}/dns_records/batch", self.base);
        for body in batch_bodies(deletes, posts) {
            match self.call(Request::post(url.clone()).json(&body)) {
                Ok(_) => {}
                // The batch is one transaction: a record another client
                // created or deleted since the listing fails all of it;
                // calls name by name sort that out.
                Err(ApiError { codes, error, .. })
                    if codes
                        .iter()
                        .any(|c| IDENTICAL.contains(c) || *c == RECORD_MISSING) =>
                {
                    return Err(Error::Transient(format!(
                        "records changed since they were listed: {}",
                        error_message(&error)
                    )));
                }
                Err(e) => return Err(e.error),
            }
        }
        Ok(())
    }

    /// Sends an authenticated request and unwraps the envelope.
    pub fn call(&self, request: Request) -> Result<Envelope, ApiError> {
        let request = match &self.auth {
            Auth::Token(token) => request.bearer(token),
            Auth::Key { email, key } => request
                .header("x-auth-email", email)
                .header("x-auth-key", key),
        };
        let response = request.header("accept", "application/json").send();
        let response = response.map_err(|error| ApiError {
            status: 0,
            codes: Vec::new(),
            error,
        })?;
        parse_response(&response)
    }
}

/// The v4 envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<ApiMessage>,
    #[serde(default)]
    pub result: Value,
    #[serde(default)]
    pub result_info: Option<ResultInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiMessage {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ResultInfo {
    #[serde(default)]
    pub total_pages: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DnsRecord {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub content: String,
}

/// The values that no record carries yet (each once).
pub fn missing<'v>(records: &[DnsRecord], values: &'v [String]) -> Vec<&'v String> {
    let mut out: Vec<&String> = Vec::new();
    for v in values {
        if !records.iter().any(|r| txt::unquote(&r.content) == *v) && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Whether the record's content, quoted or bare, is one of `values`.
pub fn matches_value(record: &DnsRecord, values: &[String]) -> bool {
    values.contains(&txt::unquote(&record.content)) || values.contains(&record.content)
}

/// The message an error carries.
fn error_message(error: &Error) -> &str {
    match error {
        Error::InvalidConfig(m)
        | Error::Authentication(m)
        | Error::ZoneNotFound(m)
        | Error::Transient(m)
        | Error::Permanent(m) => m,
        Error::RateLimited(r) => &r.message,
    }
}

/// The envelope of a successful answer, or the mapped error.
pub fn parse_response(response: &Response) -> Result<Envelope, ApiError> {
    let envelope = serde_json::from_slice::<Envelope>(&response.body).ok();
    if response.is_success()
        && let Some(e) = &envelope
        && e.success
    {
        return Ok(e.clone());
    }
    let (codes, detail) = match &envelope {
        Some(e) if !e.errors.is_empty() => (
            e.errors.iter().map(|m| m.code).collect::<Vec<_>>(),
            e.errors
                .iter()
                .map(|m| format!("{} {}", m.code, m.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => (Vec::new(), excerpt(&response.text())),
    };
    let message = format!("Cloudflare: HTTP {}: {detail}", response.status);
    let error = if response.status == 429 {
        Error::RateLimited(RateLimit {
            message,
            retry_after_secs: response
                .header("retry-after")
                .and_then(|v| v.trim().parse().ok()),
        })
    } else if codes.contains(&AUTH_ERROR) || matches!(response.status, 401 | 403) {
        Error::Authentication(format!(
            "{message} (check api_token, or email + api_key, and that the token has Zone:Read \
             and DNS:Edit on this zone)"
        ))
    } else if codes.contains(&9021) {
        Error::InvalidConfig(format!("{message} (TTL out of range: set `ttl`)"))
    } else {
        Error::from_status(response.status, response.header("retry-after"), message)
    };
    Err(ApiError {
        status: response.status,
        codes,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn record(id: &str, content: &str) -> DnsRecord {
        DnsRecord {
            id: id.into(),
            name: "_acme-challenge.example.com".into(),
            content: content.into(),
        }
    }

    fn values(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn config_token_or_legacy_key() {
        let api = Api::from_config(&Config::new([("api_token", "t")])).unwrap();
        assert_eq!(api.auth, Auth::Token("t".into()));
        assert_eq!(api.base, DEFAULT_ENDPOINT);
        let api = Api::from_config(&Config::new([
            ("email", "a@b.c"),
            ("api_key", "k"),
            ("endpoint", "http://127.0.0.1:9/client/v4/"),
            ("ttl", "1"),
        ]))
        .unwrap();
        assert_eq!(
            api.auth,
            Auth::Key {
                email: "a@b.c".into(),
                key: "k".into()
            }
        );
        assert_eq!(api.base, "http://127.0.0.1:9/client/v4");
        assert_eq!(api.ttl, Some(1));
        for bad in [
            vec![("email", "a@b.c")],
            vec![("api_token", "t"), ("ttl", "5")],
            vec![("api_token", "t"), ("endpoint", "ftp://x")],
        ] {
            assert!(matches!(
                Api::from_config(&Config::new(bad.clone())),
                Err(Error::InvalidConfig(_))
            ));
        }
    }

    #[test]
    fn zone_candidates_walk_up_to_two_labels() {
        assert_eq!(
            zone_candidates("Sub.Example.COM."),
            ["sub.example.com", "example.com"]
        );
        assert_eq!(zone_candidates("example.com"), ["example.com"]);
        assert!(zone_candidates("com").is_empty());
    }

    #[test]
    fn present_adds_only_missing_values() {
        let existing = [record("1", "\"a\""), record("2", "other")];
        assert_eq!(missing(&existing, &values(&["a", "b", "b"])), ["b"]);
        assert!(missing(&existing, &values(&["a"])).is_empty());
        assert_eq!(missing(&[], &values(&["x"])), ["x"]);
    }

    #[test]
    fn cleanup_matches_quoted_and_bare_content() {
        let v = values(&["abc"]);
        assert!(matches_value(&record("1", "\"abc\""), &v));
        assert!(matches_value(&record("2", "abc"), &v));
        assert!(!matches_value(&record("3", "\"abcd\""), &v));
        assert!(!matches_value(&record("4", "other"), &v));
    }

    #[test]
    fn envelopes_and_errors() {
        let ok = response(
            200,
            &[],
            r#"{"success":true,"errors":[],"messages":[],"result":[{"id":"r1","name":"x","content":"\"v\""}],"result_info":{"page":1,"per_page":100,"count":1,"total_count":1,"total_pages":1}}"#,
        );
        let e = parse_response(&ok).unwrap();
        assert_eq!(e.result_info.unwrap().total_pages, 1);

        let dup = response(
            400,
            &[],
            r#"{"success":false,"errors":[{"code":81058,"message":"An identical record already exists."}],"messages":[],"result":null}"#,
        );
        let err = parse_response(&dup).unwrap_err();
        assert_eq!(err.codes, [81058]);
        assert!(matches!(err.error, Error::Permanent(_)));

        let auth = response(
            403,
            &[],
            r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}"#,
        );
        let Error::Authentication(m) = parse_response(&auth).unwrap_err().error else {
            panic!("10000")
        };
        assert!(m.contains("10000 Authentication error"), "{m}");

        let limited = response(
            429,
            &[("retry-after", "7")],
            r#"{"success":false,"errors":[{"code":971,"message":"Please wait"}]}"#,
        );
        let Error::RateLimited(r) = parse_response(&limited).unwrap_err().error else {
            panic!("429")
        };
        assert_eq!(r.retry_after_secs, Some(7));

        let ttl = response(
            400,
            &[],
            r#"{"success":false,"errors":[{"code":9021,"message":"Invalid TTL"}]}"#,
        );
        assert!(matches!(
            parse_response(&ttl).unwrap_err().error,
            Error::InvalidConfig(_)
        ));
        let oops = response(502, &[], "<html>bad gateway</html>");
        assert!(matches!(
            parse_response(&oops).unwrap_err().error,
            Error::Transient(_)
        ));
        let missing = response(
            404,
            &[],
            r#"{"success":false,"errors":[{"code":81044,"message":"Record does not exist."}]}"#,
        );
        assert_eq!(
            parse_response(&missing).unwrap_err().codes,
            [RECORD_MISSING]
        );
    }

    fn txt_set(fqdn: &str, v: &[&str]) -> TxtSet {
        TxtSet {
            zone: "example.com".into(),
            fqdn: fqdn.into(),
            relative_name: fqdn.trim_end_matches(".example.com").into(),
            values: values(v),
            ttl: 120,
        }
    }

    fn name(n: &str, v: &[&str]) -> Name {
        Name {
            name: n.into(),
            values: values(v),
            ttl: 120,
        }
    }

    fn named(id: &str, name: &str, content: &str) -> DnsRecord {
        DnsRecord {
            id: id.into(),
            name: name.into(),
            content: content.into(),
        }
    }

    #[test]
    fn batches_stay_in_one_zone_and_merge_per_name() {
        assert_eq!(batch_zone(&[]).unwrap(), None);
        let sets = [
            txt_set("_acme-challenge.A.example.com.", &["1", "2"]),
            txt_set("_acme-challenge.b.example.com", &["3"]),
            txt_set("_acme-challenge.a.example.com", &["2", "4"]),
        ];
        assert_eq!(batch_zone(&sets).unwrap(), Some("example.com"));
        assert_eq!(
            merge_names(&sets),
            [
                name("_acme-challenge.a.example.com", &["1", "2", "4"]),
                name("_acme-challenge.b.example.com", &["3"]),
            ]
        );
        let mut other = txt_set("x.example.net", &["1"]);
        other.zone = "example.net".into();
        assert!(matches!(
            batch_zone(&[sets[0].clone(), other]),
            Err(Error::Permanent(_))
        ));
    }

    #[test]
    fn one_listing_covers_every_name() {
        let names = [
            name("_acme-challenge.example.com", &["a"]),
            name("_acme-challenge.www.example.com", &["b"]),
        ];
        assert_eq!(shared_prefix(&names).as_deref(), Some("_acme-challenge."));
        assert_eq!(
            list_names_url("https://api.test/client/v4", "z1", &names, 2),
            "https://api.test/client/v4/zones/z1/dns_records?type=TXT\
             &name.startswith=_acme-challenge.&page=2&per_page=100"
        );
        let mixed = [names[0].clone(), name("other.example.com", &["c"])];
        assert_eq!(shared_prefix(&mixed), None);
        assert_eq!(
            list_names_url("https://api.test/client/v4", "z1", &mixed, 1),
            "https://api.test/client/v4/zones/z1/dns_records?type=TXT&page=1&per_page=100"
        );
        assert_eq!(shared_prefix(&[name("com", &["x"])]), None);
        assert_eq!(shared_prefix(&[]), None);
    }

    #[test]
    fn posts_cover_only_missing_values_per_name() {
        let names = [
            name("_acme-challenge.a.example.com", &["a1", "a2"]),
            name("_acme-challenge.b.example.com", &["b1"]),
        ];
        // `a2` sits on another name: it does not count for `a`.
        let existing = [
            named("1", "_acme-challenge.a.example.com", "\"foreign\""),
            named("2", "_ACME-challenge.a.example.com", "\"a1\""),
            named("3", "_acme-challenge.b.example.com", "\"a2\""),
        ];
        assert_eq!(
            plan_posts(&names, &existing, None),
            [
                Post {
                    name: "_acme-challenge.a.example.com".into(),
                    content: "\"a2\"".into(),
                    ttl: 120
                },
                Post {
                    name: "_acme-challenge.b.example.com".into(),
                    content: "\"b1\"".into(),
                    ttl: 120
                },
            ]
        );
        assert!(plan_posts(&names[..1], &existing[..2], None).len() == 1);
        assert_eq!(plan_posts(&names[1..], &[], Some(60))[0].ttl, 60);
    }

    #[test]
    fn deletes_take_only_our_values_on_our_names() {
        let names = [
            name("_acme-challenge.a.example.com", &["a1"]),
            name("_acme-challenge.b.example.com", &["b1"]),
        ];
        let existing = [
            named("1", "_acme-challenge.a.example.com", "\"foreign\""),
            named("2", "_acme-challenge.a.example.com", "\"a1\""),
            named("3", "_acme-challenge.b.example.com", "b1"),
            named("4", "_acme-challenge.b.example.com", "\"a1\""),
            named("2", "_acme-challenge.a.example.com", "\"a1\""),
        ];
        assert_eq!(plan_deletes(&names, &existing), ["2", "3"]);
        assert!(plan_deletes(&names, &existing[..1]).is_empty());
    }

    #[test]
    fn batch_bodies_follow_the_documented_shape_and_limit() {
        let post = |i: usize| Post {
            name: format!("_acme-challenge.h{i}.example.com"),
            content: format!("\"v{i}\""),
            ttl: 120,
        };
        assert_eq!(
            batch_body(&["r1".into()], &[post(0)]),
            serde_json::json!({
                "deletes": [{"id": "r1"}],
                "posts": [{"type": "TXT", "name": "_acme-challenge.h0.example.com",
                           "content": "\"v0\"", "ttl": 120}],
            })
        );
        assert_eq!(
            batch_body(&[], &[post(1)]),
            serde_json::json!({"posts": [{"type": "TXT",
                "name": "_acme-challenge.h1.example.com", "content": "\"v1\"", "ttl": 120}]})
        );
        let posts: Vec<Post> = (0..450).map(post).collect();
        let sizes: Vec<usize> = batch_bodies(&[], &posts)
            .iter()
            .map(|b| b["posts"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [200, 200, 50]);
        let deletes: Vec<String> = (0..201).map(|i| format!("r{i}")).collect();
        let bodies = batch_bodies(&deletes, &[]);
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[1], serde_json::json!({"deletes": [{"id": "r200"}]}));
        assert!(batch_bodies(&[], &[]).is_empty());
    }

    #[test]
    fn metadata() {
        let m = Cloudflare::metadata();
        assert_eq!(m.name, "cloudflare");
        assert_eq!(m.allowed_hosts, ["{endpoint}"]);
        let token = m.config.iter().find(|f| f.name == "api_token").unwrap();
        assert!(token.secret && !token.required);
        assert_eq!(
            token.env_aliases,
            [
                "CLOUDFLARE_DNS_API_TOKEN",
                "CLOUDFLARE_API_TOKEN",
                "CF_API_TOKEN"
            ]
        );
        assert!(m.config.iter().any(|f| f.name == "api_key" && f.secret));
        let endpoint = m.config.iter().find(|f| f.name == "endpoint").unwrap();
        assert_eq!(endpoint.default.as_deref(), Some(DEFAULT_ENDPOINT));
        assert!(m.hints.batch, "/dns_records/batch takes many records");
    }
}
