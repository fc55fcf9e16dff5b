//! The Huawei Cloud DNS provider (`--dns huaweicloud`): publishes ACME
//! challenge values through the DNS API v2
//! (`https://dns.<region>.myhuaweicloud.com`).
//!
//! Two ways to authenticate, AK/SK winning when both are configured:
//!
//! - AK/SK: every request signed with `SDK-HMAC-SHA256` (see [`sign`]);
//! - an IAM user's password, as acme.sh's `dns_huaweicloud` does
//!   (`HUAWEICLOUD_Username`, `HUAWEICLOUD_Password`,
//!   `HUAWEICLOUD_DomainName`): each call first asks IAM for a token
//!   (`POST {iam_endpoint}/v3/auth/tokens`, scoped to the region's project;
//!   the token comes back in `X-Subject-Token`) and sends it as
//!   `X-Auth-Token` on every DNS request. The token lives for that call
//!   only and is never logged.
//!
//! Huawei Cloud holds one TXT record set per name with every value in its
//! `records` list, so both calls read, modify and write the whole set:
//!
//! 1. the public zone: `GET /v2/zones?type=public&name=` for the zone and
//!    then each parent, the name matched exactly;
//! 2. the set: `GET /v2/zones/{zone_id}/recordsets?name=&type=TXT`, the
//!    name matched exactly (the API's filter is fuzzy), pages followed;
//! 3. `present` creates the set (`POST`) or writes the current values plus
//!    the missing ones (`PUT`); `cleanup` writes the values that remain
//!    (`PUT`) or deletes the set when none remains (`DELETE`).
//!
//! Values of other clients are written back byte for byte, as read.

pub mod sign;

use serde::Deserialize;
use serde_json::json;
use wacme_plugin_auth::sigv4;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url, zone,
};

pub const DEFAULT_REGION: &str = "cn-south-1";
/// The global IAM endpoint (acme.sh's, and Huawei's documented default).
pub const DEFAULT_IAM_ENDPOINT: &str = "https://iam.myhuaweicloud.com";
/// Every regional DNS endpoint (`https://dns.<region>.myhuaweicloud.com`)
/// and every IAM endpoint (`https://iam[.<region>].myhuaweicloud.com`) is
/// under this origin pattern.
pub const ENDPOINTS: &str = "https://*.myhuaweicloud.com";
pub const DEFAULT_TTL: u32 = 300;
pub const MIN_TTL: u32 = 1;
/// Items per listing page (the API's maximum).
pub const PAGE_SIZE: u32 = 500;
/// Pages followed at most while listing.
pub const MAX_PAGES: u32 = 20;

pub struct HuaweiCloud;

// Exported symbols such as `wacme:dns/provider@0.2.0#present` do not link
// into a native cdylib; the native build exists for the unit tests.
#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(HuaweiCloud);

impl Provider for HuaweiCloud {
    fn metadata() -> Metadata {
        Metadata {
            name: "huaweicloud".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Huawei Cloud DNS, API v2 signed with AK/SK (SDK-HMAC-SHA256) or with an \
                          IAM user's token (acme.sh's username/password login); the TXT record \
                          set is read, merged and written back whole, other values kept"
                .into(),
            homepage: "https://support.huaweicloud.com/intl/en-us/api-dns/dns_api_60001.html"
                .into(),
            config: vec![
                ConfigField::new(
                    "access_key_id",
                    "Access key ID (AK) of an IAM user with DNS FullAccess (or use username, \
                     password and domain_name)",
                )
                .env(&["HUAWEICLOUD_ACCESS_KEY_ID"]),
                ConfigField::new("secret_access_key", "Secret access key (SK)")
                    .secret()
                    .env(&["HUAWEICLOUD_SECRET_ACCESS_KEY"]),
                ConfigField::new(
                    "username",
                    "IAM user name, for the password login used when no AK/SK is given",
                )
                .env(&["HUAWEICLOUD_Username"]),
                ConfigField::new("password", "The IAM user's password")
                    .secret()
                    .env(&["HUAWEICLOUD_Password"]),
                ConfigField::new(
                    "domain_name",
                    "Account name the IAM user belongs to (not a DNS domain)",
                )
                .env(&["HUAWEICLOUD_DomainName"]),
                ConfigField::new("region", "Region of the DNS endpoint (e.g. ap-southeast-1)")
                    .default(DEFAULT_REGION)
                    .env(&["HUAWEICLOUD_REGION", "HUAWEICLOUD_Region"]),
                ConfigField::new(
                    "endpoint",
                    "API endpoint; default https://dns.<region>.myhuaweicloud.com",
                ),
                ConfigField::new(
                    "iam_endpoint",
                    "IAM endpoint of the password login (default https://iam.myhuaweicloud.com)",
                )
                .default(DEFAULT_IAM_ENDPOINT),
                ConfigField::new(
                    "project_id",
                    "Project ID sent as X-Project-Id, for accounts whose DNS calls need one",
                ),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge record set (default 300); overrides the TTL wacme \
                     passes",
                )
                .env(&["HUAWEICLOUD_TTL"]),
            ],
            allowed_hosts: vec![
                "{endpoint}".into(),
                "{iam_endpoint}".into(),
                ENDPOINTS.into(),
            ],
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            hints: wacme_plugin_sdk::Hints::default(),
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?.login()?;
        let zone_id = api.zone_id(&set.zone)?;
        let current = api.record_set(&zone_id, &set.fqdn)?;
        let ttl = api.ttl.unwrap_or(set.ttl);
        let Some(records) = plan_present(current.as_ref(), &set.values) else {
            log::debug(&format!("{}: every value already there", set.fqdn));
            return Ok(());
        };
        match current {
            None => api.create(&zone_id, &set.fqdn, ttl, &records),
            Some(current) => api.update(&zone_id, &current, ttl, &records),
        }
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?.login()?;
        let zone_id = api.zone_id(&set.zone)?;
        let Some(current) = api.record_set(&zone_id, &set.fqdn)? else {
            return Ok(());
        };
        match plan_cleanup(&current.records, &set.values) {
            Cleanup::Nothing => Ok(()),
            Cleanup::Keep(remaining) => api.update(&zone_id, &current, current.ttl, &remaining),
            Cleanup::Delete => api.delete(&zone_id, &current.id),
        }
    }
}

/// A TXT record set as the API lists it: values in presentation form
/// (`"abc"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordSet {
    pub id: String,
    pub name: String,
    #[serde(rename = "type", default)]
    pub rtype: String,
    #[serde(default)]
    pub ttl: u32,
    #[serde(default)]
    pub records: Vec<String>,
}

/// The records to write for `present`, or `None` when every value is there.
pub fn plan_present(current: Option<&RecordSet>, wanted: &[String]) -> Option<Vec<String>> {
    let mut records = current.map(|c| c.records.clone()).unwrap_or_default();
    let mut added = false;
    for value in wanted {
        if !records.iter().any(|r| txt::unquote(r) == *value) {
            records.push(txt::quote(value));
            added = true;
        }
    }
    added.then_some(records)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    /// None of the values is there.
    Nothing,
    /// Write these remaining records.
    Keep(Vec<String>),
    /// Nothing remains: delete the set.
    Delete,
}

pub fn plan_cleanup(current: &[String], gone: &[String]) -> Cleanup {
    let remaining: Vec<String> = current
        .iter()
        .filter(|r| !gone.contains(&txt::unquote(r)))
        .cloned()
        .collect();
    if remaining.len() == current.len() {
        Cleanup::Nothing
    } else if remaining.is_empty() {
        Cleanup::Delete
    } else {
        Cleanup::Keep(remaining)
    }
}

/// `name.` (the API's names are absolute).
pub fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// A listed name in wacme's form: lower case, no trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `https://dns.<region>.myhuaweicloud.com`, for a region made of lower-case
/// letters, digits and `-`.
pub fn regional_endpoint(region: &str) -> Result<String> {
    let ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        return Err(Error::InvalidConfig(format!(
            "`region` must look like {DEFAULT_REGION}, not {region:?}"
        )));
    }
    Ok(format!("https://dns.{region}.myhuaweicloud.com"))
}

/// How the DNS requests of a call are authenticated.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Each request signed with `SDK-HMAC-SHA256`.
    AkSk {
        access_key_id: String,
        secret_access_key: String,
    },
    /// An IAM token obtained with the user's password; `token` is empty
    /// until [`Api::login`].
    Password {
        username: String,
        password: String,
        domain_name: String,
        iam_endpoint: String,
        token: String,
    },
}

// The secrets and the token stay out of `{:?}`.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::AkSk { access_key_id, .. } => f
                .debug_struct("AkSk")
                .field("access_key_id", access_key_id)
                .finish_non_exhaustive(),
            Auth::Password {
                username,
                domain_name,
                iam_endpoint,
                ..
            } => f
                .debug_struct("Password")
                .field("username", username)
                .field("domain_name", domain_name)
                .field("iam_endpoint", iam_endpoint)
                .finish_non_exhaustive(),
        }
    }
}

impl Auth {
    /// AK/SK when either is given (both needed), else the password login
    /// when any of its fields is given (all three needed).
    pub fn from_config(config: &Config) -> Result<Auth> {
        let get = |k: &str| config.get(k).map(str::trim).filter(|v| !v.is_empty());
        let missing = |set: &str, keys: &[&str]| {
            let absent: Vec<String> = keys
                .iter()
                .filter(|k| get(k).is_none())
                .map(|k| format!("`{k}`"))
                .collect();
            Error::InvalidConfig(format!(
                "{set} is incomplete: {} missing",
                absent.join(", ")
            ))
        };
        let ak = get("access_key_id");
        // A secret is used as given, spaces included.
        let sk = config.get("secret_access_key");
        if ak.is_some() || sk.is_some() {
            return match (ak, sk) {
                (Some(a), Some(s)) => Ok(Auth::AkSk {
                    access_key_id: a.into(),
                    secret_access_key: s.into(),
                }),
                _ => Err(missing(
                    "the AK/SK credential",
                    &["access_key_id", "secret_access_key"],
                )),
            };
        }
        let keys = ["username", "password", "domain_name"];
        match (get("username"), config.get("password"), get("domain_name")) {
            (Some(u), Some(p), Some(d)) => Ok(Auth::Password {
                username: u.into(),
                password: p.into(),
                domain_name: d.into(),
                iam_endpoint: iam_endpoint(config.get("iam_endpoint"))?,
                token: String::new(),
            }),
            (None, None, None) => Err(Error::InvalidConfig(
                "no credential: set `access_key_id` and `secret_access_key`, or `username`, \
                 `password` and `domain_name` (acme.sh's HUAWEICLOUD_Username, \
                 HUAWEICLOUD_Password, HUAWEICLOUD_DomainName)"
                    .into(),
            )),
            _ => Err(missing("the password login", &keys)),
        }
    }
}

/// The IAM origin: an `http(s)://` origin without a path (a trailing `/`
/// is dropped).
pub fn iam_endpoint(value: Option<&str>) -> Result<String> {
    let value = url::trim_base(value.unwrap_or(DEFAULT_IAM_ENDPOINT).trim()).to_string();
    let ok = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .is_some_and(|a| !a.is_empty() && !a.contains(['/', '?', '#', '@']));
    if ok {
        Ok(value)
    } else {
        Err(Error::InvalidConfig(format!(
            "`iam_endpoint` must be an https:// origin such as {DEFAULT_IAM_ENDPOINT}, not \
             {value:?}"
        )))
    }
}

/// The resolved configuration of one call.
#[derive(Debug, Clone)]
pub struct Api {
    pub endpoint: String,
    /// `host[:port]` of the endpoint, as the `Host` header carries it.
    pub authority: String,
    pub auth: Auth,
    /// The region, whose project scopes an IAM token.
    pub region: String,
    pub project_id: Option<String>,
    pub ttl: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct ZoneList {
    #[serde(default)]
    zones: Vec<Zone>,
    #[serde(default)]
    metadata: ListMetadata,
}

#[derive(Debug, Default, Deserialize)]
struct ListMetadata {
    #[serde(default)]
    total_count: u64,
}

#[derive(Debug, Deserialize)]
struct Zone {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct RecordSetList {
    #[serde(default)]
    recordsets: Vec<RecordSet>,
    #[serde(default)]
    metadata: ListMetadata,
}

/// Both error bodies the API answers: `{"code","message"}` (DNS) and
/// `{"error_code","error_msg"}` (API Gateway).
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_msg: String,
    #[serde(default)]
    request_id: String,
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let auth = Auth::from_config(config)?;
        let region = config.get("region").unwrap_or(DEFAULT_REGION).trim();
        let project_id = config.get("project_id").map(|p| p.trim().to_string());
        let endpoint = match config.get("endpoint") {
            Some(e) => url::trim_base(e.trim()).to_string(),
            None => regional_endpoint(region)?,
        };
        // The region also names the token's project: checked the same way.
        if matches!(auth, Auth::Password { .. }) && project_id.is_none() {
            regional_endpoint(region)?;
        }
        // The signed host: without the default port.
        let authority = url::authority(&endpoint).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "`endpoint` must be an https:// origin such as \
                     https://dns.{DEFAULT_REGION}.myhuaweicloud.com, not {endpoint:?}"
            ))
        })?;
        Ok(Api {
            authority,
            endpoint,
            auth,
            region: region.to_string(),
            project_id,
            ttl: config.parse::<u32>("ttl")?,
        })
    }

    /// The body of the IAM token request: the user's password, scoped to
    /// the project of `project_id`, or else of the region (as acme.sh
    /// scopes to its region's project).
    pub fn token_request_body(&self) -> Option<serde_json::Value> {
        let Auth::Password {
            username,
            password,
            domain_name,
            ..
        } = &self.auth
        else {
            return None;
        };
        let project = match &self.project_id {
            Some(id) => json!({ "id": id }),
            None => json!({ "name": self.region }),
        };
        Some(json!({
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": username,
                            "password": password,
                            "domain": { "name": domain_name },
                        }
                    }
                },
                "scope": { "project": project }
            }
        }))
    }

    /// With the password login, gets the call's IAM token; with AK/SK,
    /// nothing to do.
    pub fn login(mut self) -> Result<Api> {
        let Some(body) = self.token_request_body() else {
            return Ok(self);
        };
        let Auth::Password {
            iam_endpoint,
            username,
            token,
            ..
        } = &mut self.auth
        else {
            return Ok(self);
        };
        let response = Request::post(format!("{iam_endpoint}/v3/auth/tokens"))
            .header("content-type", "application/json;charset=utf8")
            .body(body.to_string().into_bytes())
            .send()?;
        if !response.is_success() {
            return Err(iam_error(&response, username));
        }
        match response
            .header("x-subject-token")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) => *token = t.to_string(),
            None => {
                return Err(Error::Permanent(format!(
                    "Huawei Cloud IAM: HTTP {} without an X-Subject-Token header from \
                     {iam_endpoint}",
                    response.status
                )));
            }
        }
        log::debug(&format!("IAM token obtained for user {username}"));
        Ok(self)
    }

    /// The authenticated request for `method path?query` with `body` at
    /// `datetime`: signed with AK/SK, or carrying the IAM token.
    pub fn signed_request(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: &[u8],
        datetime: &str,
    ) -> Request {
        let mut headers = vec![
            ("host".to_string(), self.authority.clone()),
            (sign::DATE_HEADER.to_string(), datetime.to_string()),
        ];
        if !body.is_empty() {
            headers.push((
                "content-type".to_string(),
                "application/json;charset=utf8".to_string(),
            ));
        }
        if let Some(project) = &self.project_id {
            headers.push(("x-project-id".to_string(), project.clone()));
        }
        let authorization = match &self.auth {
            Auth::AkSk {
                access_key_id,
                secret_access_key,
            } => (
                "authorization",
                sign::sign(
                    access_key_id,
                    secret_access_key,
                    &sign::Request {
                        method,
                        path,
                        query,
                        headers: &headers,
                        body,
                    },
                    datetime,
                )
                .authorization,
            ),
            Auth::Password { token, .. } => ("x-auth-token", token.clone()),
        };
        let mut url = format!("{}{}", self.endpoint, sigv4::uri_encode(path, true));
        if !query.is_empty() {
            url.push('?');
            url.push_str(&sigv4::canonical_query(query));
        }
        let mut request = match method {
            "POST" => Request::post(url),
            "PUT" => Request::put(url),
            "DELETE" => Request::delete(url),
            _ => Request::get(url),
        };
        if !body.is_empty() {
            request = request.body(body.to_vec());
        }
        // The host sets `Host` itself, from the same URL.
        for (name, value) in headers.into_iter().filter(|(n, _)| n != "host") {
            request = request.header(name, value);
        }
        request.header(authorization.0, authorization.1)
    }

    /// Sends a signed request; the response when it succeeded.
    fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<serde_json::Value>,
    ) -> Result<Response, ApiError> {
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let response = self
            .signed_request(method, path, query, &body, &sigv4::now())
            .send()
            .map_err(ApiError::from)?;
        if response.is_success() {
            Ok(response)
        } else {
            Err(api_error(&response, self.auth_kind()))
        }
    }

    fn auth_kind(&self) -> AuthKind {
        match self.auth {
            Auth::AkSk { .. } => AuthKind::AkSk,
            Auth::Password { .. } => AuthKind::Token,
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(response: &Response, what: &str) -> Result<T> {
        serde_json::from_slice(&response.body).map_err(|e| {
            Error::Permanent(format!(
                "Huawei Cloud DNS: unexpected {what} ({e}): {}",
                excerpt(&response.text())
            ))
        })
    }

    /// The id of the public zone `zone` or its nearest parent.
    pub fn zone_id(&self, zone: &str) -> Result<String> {
        for candidate in zone::candidates(zone) {
            // The server may return fewer per page than asked: the next
            // offset is what was seen so far.
            let mut seen = 0u64;
            for _ in 0..MAX_PAGES {
                let query = vec![
                    ("type".to_string(), "public".to_string()),
                    ("name".to_string(), absolute(&candidate)),
                    ("limit".to_string(), PAGE_SIZE.to_string()),
                    ("offset".to_string(), seen.to_string()),
                ];
                let response = self
                    .call("GET", "/v2/zones", &query, None)
                    .map_err(|e| e.error)?;
                let list: ZoneList = Self::parse(&response, "zone list")?;
                if let Some(z) = list.zones.iter().find(|z| normalize(&z.name) == candidate) {
                    return Ok(z.id.clone());
                }
                seen += list.zones.len() as u64;
                if list.zones.is_empty() || seen >= list.metadata.total_count {
                    break;
                }
            }
        }
        Err(Error::ZoneNotFound(format!(
            "Huawei Cloud DNS: no public zone for {zone} (or a parent) in this account"
        )))
    }

    /// The TXT record set named exactly `fqdn`, if any.
    pub fn record_set(&self, zone_id: &str, fqdn: &str) -> Result<Option<RecordSet>> {
        let name = normalize(fqdn);
        let path = format!("/v2/zones/{zone_id}/recordsets");
        let mut seen = 0u64;
        for _ in 0..MAX_PAGES {
            let query = vec![
                ("name".to_string(), absolute(&name)),
                ("type".to_string(), "TXT".to_string()),
                ("limit".to_string(), PAGE_SIZE.to_string()),
                ("offset".to_string(), seen.to_string()),
            ];
            let response = self
                .call("GET", &path, &query, None)
                .map_err(|e| e.zone(zone_id))?;
            let list: RecordSetList = Self::parse(&response, "record set list")?;
            let count = list.recordsets.len() as u64;
            let total = list.metadata.total_count;
            if let Some(set) = list
                .recordsets
                .into_iter()
                .find(|s| normalize(&s.name) == name && s.rtype.eq_ignore_ascii_case("TXT"))
            {
                return Ok(Some(set));
            }
            seen += count;
            if count == 0 || seen >= total {
                break;
            }
        }
        Ok(None)
    }

    pub fn create(&self, zone_id: &str, fqdn: &str, ttl: u32, records: &[String]) -> Result<()> {
        let body = json!({
            "name": absolute(&normalize(fqdn)),
            "type": "TXT",
            "ttl": ttl,
            "records": records,
            "description": "ACME DNS-01 challenge (wacme)",
        });
        self.call(
            "POST",
            &format!("/v2/zones/{zone_id}/recordsets"),
            &[],
            Some(body),
        )
        .map(|_| ())
        .map_err(|e| e.zone(zone_id))
    }

    pub fn update(
        &self,
        zone_id: &str,
        current: &RecordSet,
        ttl: u32,
        records: &[String],
    ) -> Result<()> {
        let body = json!({
            "name": current.name,
            "type": "TXT",
            "ttl": ttl,
            "records": records,
        });
        match self.call(
            "PUT",
            &format!("/v2/zones/{zone_id}/recordsets/{}", current.id),
            &[],
            Some(body),
        ) {
            Ok(_) => Ok(()),
            // Deleted by another client since we read it: a new call reads
            // again and creates it.
            Err(e) if e.status == 404 => Err(Error::Transient(format!(
                "{} (the record set went away while it was being updated)",
                error_text(&e.error)
            ))),
            Err(e) => Err(e.zone(zone_id)),
        }
    }

    pub fn delete(&self, zone_id: &str, id: &str) -> Result<()> {
        match self.call(
            "DELETE",
            &format!("/v2/zones/{zone_id}/recordsets/{id}"),
            &[],
            None,
        ) {
            Ok(_) => Ok(()),
            Err(e) if e.status == 404 => Ok(()),
            Err(e) => Err(e.zone(zone_id)),
        }
    }
}

/// A failed call: the HTTP status (0 when nothing was answered) and the
/// mapped WIT error.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub error: Error,
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        ApiError {
            status: 0,
            code: String::new(),
            error,
        }
    }
}

impl ApiError {
    /// A 404 on a zone's path means the zone id is not (or no longer) there.
    fn zone(self, zone_id: &str) -> Error {
        if self.status == 404 && !self.code.starts_with("APIG") {
            Error::ZoneNotFound(format!("{} (zone {zone_id})", error_text(&self.error)))
        } else {
            self.error
        }
    }
}

fn error_text(e: &Error) -> String {
    match e {
        Error::RateLimited(r) => r.message.clone(),
        Error::Authentication(m)
        | Error::ZoneNotFound(m)
        | Error::Transient(m)
        | Error::InvalidConfig(m)
        | Error::Permanent(m) => m.clone(),
    }
}

/// How the failed request was authenticated: the hints differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    AkSk,
    Token,
}

/// IAM's error bodies: Keystone's `{"error":{"code","message","title"}}`,
/// the same object with `error_code`/`error_msg`, or those two at the top
/// (`IAM.xxxx`, and API Gateway's `APIGW.xxxx`).
#[derive(Debug, Default, Deserialize)]
struct IamErrorBody {
    #[serde(default)]
    error: Option<IamErrorObject>,
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_msg: String,
}

#[derive(Debug, Default, Deserialize)]
struct IamErrorObject {
    #[serde(default)]
    code: serde_json::Value,
    #[serde(default)]
    message: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_msg: String,
}

/// Maps a failed IAM token request to the WIT error case. The request
/// body (the password) is never part of the message.
pub fn iam_error(response: &Response, username: &str) -> Error {
    let body: IamErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let (code, message) = match body.error {
        Some(e) if !e.error_code.is_empty() => (e.error_code, e.error_msg),
        Some(e) => {
            // Keystone's numeric `code` only repeats the HTTP status.
            let code = match e.code {
                serde_json::Value::String(c) => c,
                _ => String::new(),
            };
            let message = match (e.title.is_empty(), e.message.is_empty()) {
                (false, false) if e.title != e.message => format!("{} ({})", e.message, e.title),
                (true, _) | (false, false) => e.message,
                (false, true) => e.title,
            };
            (code, message)
        }
        None => (body.error_code, body.error_msg),
    };
    let detail = match (code.is_empty(), message.is_empty()) {
        (true, true) => excerpt(&response.text()),
        (true, false) => message,
        (false, _) => format!("{code}: {message}"),
    };
    let text = format!("Huawei Cloud IAM: HTTP {}: {detail}", response.status);
    let retry_after = response.header("retry-after");
    match response.status {
        401 => Error::Authentication(format!(
            "{text}; check username ({username}), password and domain_name (the account name, \
             not a DNS domain)"
        )),
        429 => Error::RateLimited(RateLimit {
            message: text,
            retry_after_secs: retry_after.and_then(|v| v.trim().parse().ok()),
        }),
        400 => Error::InvalidConfig(format!(
            "{text}; check username, domain_name and region (the token's project)"
        )),
        status => Error::from_status(status, retry_after, text),
    }
}

/// Maps a failed answer to the WIT error case, keyed on the error code.
pub fn api_error(response: &Response, auth: AuthKind) -> ApiError {
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let (code, message) = if body.error_code.is_empty() {
        (body.code, body.message)
    } else {
        (body.error_code, body.error_msg)
    };
    let detail = match (code.is_empty(), body.request_id.is_empty()) {
        (true, _) => excerpt(&response.text()),
        (false, true) => format!("{code}: {message}"),
        (false, false) => format!("{code}: {message} (request_id {})", body.request_id),
    };
    let text = format!("Huawei Cloud DNS: HTTP {}: {detail}", response.status);
    let retry_after = response
        .header("retry-after")
        .and_then(|v| v.trim().parse().ok());
    // API Gateway codes are `APIG.xxxx` or `APIGW.xxxx`, by region.
    let gateway = code
        .strip_prefix("APIGW.")
        .or_else(|| code.strip_prefix("APIG."));
    let lower = message.to_ascii_lowercase();
    let error = match gateway {
        Some("0308") => Error::RateLimited(RateLimit {
            message: text,
            retry_after_secs: retry_after,
        }),
        Some("0301" | "0302" | "0303" | "0305" | "0306" | "0307")
            if auth == AuthKind::AkSk
                && (lower.contains("expired") || lower.contains("x-sdk-date")) =>
        {
            Error::Permanent(format!(
                "{text}; the request time (X-Sdk-Date) is more than 15 minutes off the \
                 server's: check this machine's clock"
            ))
        }
        Some("0301" | "0302" | "0303" | "0305" | "0306" | "0307") if auth == AuthKind::Token => {
            Error::Authentication(format!(
                "{text}; the IAM token was refused (check that the IAM user may use DNS in this \
                 region)"
            ))
        }
        Some("0301") if lower.contains("signature") => Error::Authentication(format!(
            "{text}; check secret_access_key (more than 5 failures in a row lock the AK for 5 \
             minutes)"
        )),
        Some("0301") if lower.contains("secretkey") || lower.contains("ak not exist") => {
            Error::Authentication(format!("{text}; check access_key_id"))
        }
        Some("0301" | "0302" | "0303" | "0305" | "0306" | "0307") => Error::Authentication(text),
        Some("0201" | "0202" | "0203" | "0204") => Error::Transient(text),
        _ if response.status == 429 => Error::RateLimited(RateLimit {
            message: text,
            retry_after_secs: retry_after,
        }),
        _ if response.status == 409 || code == "DNS.0312" => Error::Transient(format!(
            "{text}; another client changed the record set meanwhile"
        )),
        _ if response.status == 400 && lower.contains("ttl") => Error::InvalidConfig(text),
        _ => Error::from_status(response.status, response.header("retry-after"), text),
    };
    ApiError {
        status: response.status,
        code,
        error,
    }
}

#[cfg(test)]
mod tests;
