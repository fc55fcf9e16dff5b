//! The Amazon Route 53 provider (`--dns route53`): publishes ACME challenge
//! values through the Route 53 REST API (version 2013-04-01, XML), every
//! request signed with AWS Signature Version 4 (service `route53`, region
//! `us-east-1`; see `wacme_plugin_auth::sigv4`).
//!
//! Route 53 holds one TXT record set per name, so both calls read, modify
//! and write the whole set:
//!
//! 1. the hosted zone: `hosted_zone_id`, or `GET /hostedzonesbyname` for
//!    the zone and then each parent, the name matched exactly, private zones
//!    skipped unless `private_zone=true` (then only private ones count);
//! 2. the current set: `GET /hostedzone/{id}/rrset?name=&type=TXT`, pages
//!    followed while they still list this name;
//! 3. `present` writes the current values plus the missing ones (`UPSERT`);
//!    `cleanup` writes the values that remain (`UPSERT`) or, when none
//!    remains, deletes the set exactly as it was read (`DELETE` must repeat
//!    the TTL and every value);
//! 4. `GET /change/{id}` until the change is `INSYNC`, for at most
//!    `wait_insync` seconds (the host checks the nameservers anyway).
//!
//! The batch calls (`present_many` / `cleanup_many`, hint `batch`) look the
//! zone up once, list each name (a set another listing page already showed
//! is taken from there), and send every name's change in one change batch
//! (applied all or nothing by Route 53), then wait for it once. A batch
//! larger than one request may carry (100 changes, 1000 values, 32000
//! characters of values, an `UPSERT` counting twice) is split into several.
//!
//! Values of other clients are written back byte for byte, as read.

pub mod xml;

use wacme_plugin_auth::sigv4::{self, Credentials};
use wacme_plugin_sdk::batch;
use wacme_plugin_sdk::http::{Request, Response, excerpt};
use wacme_plugin_sdk::{
    Config, ConfigField, Error, Metadata, Provider, RateLimit, Result, TxtSet, log, txt, url,
};

pub const DEFAULT_ENDPOINT: &str = "https://route53.amazonaws.com";
pub const API_VERSION: &str = "2013-04-01";
pub const XMLNS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";
/// Route 53 is a global service signed for us-east-1 (`cn-northwest-1` in
/// the China partition).
pub const DEFAULT_REGION: &str = "us-east-1";
pub const SERVICE: &str = "route53";
pub const DEFAULT_TTL: u32 = 60;
pub const MIN_TTL: u32 = 1;
/// Seconds `present`/`cleanup` wait for `INSYNC` by default.
pub const DEFAULT_WAIT_INSYNC: u64 = 30;
/// Pages followed at most while listing.
pub const MAX_PAGES: u32 = 20;
/// Items per listing page.
pub const PAGE_SIZE: u32 = 100;

pub struct Route53;

// Exported symbols such as `wacme:dns/provider@0.2.0#present` do not link
// into a native cdylib; the native build exists for the unit tests.
#[cfg(target_arch = "wasm32")]
wacme_plugin_sdk::register!(Route53);

impl Provider for Route53 {
    fn metadata() -> Metadata {
        Metadata {
            name: "route53".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Amazon Route 53, REST API 2013-04-01 signed with AWS Signature \
                          Version 4; the TXT record set is read, merged and written back whole, \
                          other values kept"
                .into(),
            homepage: "https://docs.aws.amazon.com/Route53/latest/APIReference/".into(),
            config: vec![
                ConfigField::new(
                    "access_key_id",
                    "AWS access key ID (IAM user or role with route53:ListHostedZonesByName, \
                     ListResourceRecordSets, ChangeResourceRecordSets, GetChange)",
                )
                .required()
                .env(&["AWS_ACCESS_KEY_ID"]),
                ConfigField::new("secret_access_key", "AWS secret access key")
                    .required()
                    .secret()
                    .env(&["AWS_SECRET_ACCESS_KEY"]),
                ConfigField::new(
                    "session_token",
                    "Session token of temporary credentials (STS)",
                )
                .secret()
                .env(&["AWS_SESSION_TOKEN"]),
                ConfigField::new(
                    "hosted_zone_id",
                    "Hosted zone ID (e.g. Z0123456789ABC); skips the zone lookup",
                )
                .env(&["AWS_HOSTED_ZONE_ID"]),
                ConfigField::new(
                    "private_zone",
                    "true to use the private hosted zone of that name instead of the public one",
                )
                .default("false")
                .env(&["AWS_PRIVATE_ZONE"]),
                ConfigField::new("endpoint", "API endpoint").default(DEFAULT_ENDPOINT),
                ConfigField::new(
                    "region",
                    "Signing region of the endpoint (cn-northwest-1 for the China partition)",
                )
                .default(DEFAULT_REGION),
                ConfigField::new(
                    "ttl",
                    "TTL of the challenge record set; overrides the TTL wacme passes",
                )
                .env(&["AWS_TTL"]),
                ConfigField::new(
                    "wait_insync",
                    "Seconds to wait for a change to reach every Route 53 server (INSYNC); 0 \
                     does not wait",
                )
                .default("30"),
            ],
            allowed_hosts: vec!["{endpoint}".into()],
            default_ttl: DEFAULT_TTL,
            min_ttl: MIN_TTL,
            dns_servers: Vec::new(),
            // Route 53 refuses a change to a hosted zone while another is
            // pending (`PriorRequestNotComplete`): one write per zone. One
            // change batch takes many names: batch calls.
            hints: wacme_plugin_sdk::Hints {
                zone_write_concurrency: 1,
                batch: true,
                ..Default::default()
            },
        }
    }

    fn present(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let zone = api.hosted_zone(&set.zone)?;
        let current = api.txt_set(&zone, &set.fqdn)?;
        let ttl = api.ttl.unwrap_or(set.ttl);
        let Some(values) = plan_present(current.as_ref(), &set.values) else {
            log::debug(&format!("{}: every value already there", set.fqdn));
            return Ok(());
        };
        let change = api.change(&zone, &[(Action::Upsert, &set.fqdn, ttl, &values)])?;
        api.wait(&change)
    }

    fn cleanup(config: &Config, set: &TxtSet) -> Result<()> {
        let api = Api::from_config(config)?;
        let zone = api.hosted_zone(&set.zone)?;
        let Some(current) = api.txt_set(&zone, &set.fqdn)? else {
            return Ok(());
        };
        let change = match plan_cleanup(&current, &set.values) {
            Cleanup::Nothing => return Ok(()),
            Cleanup::Keep(remaining) => api.change(
                &zone,
                &[(Action::Upsert, &set.fqdn, current.ttl, &remaining)],
            )?,
            Cleanup::Delete => {
                match api.change(
                    &zone,
                    &[(Action::Delete, &set.fqdn, current.ttl, &current.values)],
                ) {
                    Ok(change) => change,
                    Err(ChangeError::NotFound) => return Ok(()),
                    Err(e) => return Err(e.into()),
                }
            }
        };
        api.wait(&change)
    }

    fn present_many(config: &Config, sets: &[TxtSet]) -> Result<()> {
        let api = Api::from_config(config)?;
        let Some(zone) = batch_zone(sets)? else {
            return Ok(());
        };
        let zone_id = api.hosted_zone(zone)?;
        let names = merge_names(sets);
        let current = api.txt_sets(&zone_id, &names)?;
        api.submit(&zone_id, &plan_present_many(&names, &current, api.ttl))
    }

    fn cleanup_many(config: &Config, sets: &[TxtSet]) -> Result<()> {
        let api = Api::from_config(config)?;
        let Some(zone) = batch_zone(sets)? else {
            return Ok(());
        };
        let zone_id = api.hosted_zone(zone)?;
        let names = merge_names(sets);
        let current = api.txt_sets(&zone_id, &names)?;
        api.submit(&zone_id, &plan_cleanup_many(&names, &current))
    }
}

/// Most `Change` elements one change batch carries.
pub const MAX_BATCH_CHANGES: usize = 100;
/// Most `ResourceRecord` elements one change batch carries (an `UPSERT`
/// counts twice).
pub const MAX_BATCH_RECORDS: usize = 1000;
/// Most characters in all `Value` elements of one change batch (an `UPSERT`
/// counts twice).
pub const MAX_BATCH_VALUE_CHARS: usize = 32_000;

/// One record name of a batch: every value wanted there.
pub use wacme_plugin_sdk::batch::Name;

/// The zone every set of a batch is in ([`batch::zone`]).
pub fn batch_zone(sets: &[TxtSet]) -> Result<Option<&str>> {
    batch::zone(sets, normalize)
}

/// The sets of a batch merged per record name ([`batch::merge`]): one
/// change batch may touch a record set only once.
pub fn merge_names(sets: &[TxtSet]) -> Vec<Name> {
    batch::merge(sets, normalize)
}

/// One change of a batch: a TXT set written whole, or deleted as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub action: Action,
    pub name: String,
    pub ttl: u32,
    /// Presentation form.
    pub values: Vec<String>,
}

/// The changes that make every name carry its values, `current[i]` being
/// the set read at `names[i]`; `ttl` is the operator's override.
pub fn plan_present_many(
    names: &[Name],
    current: &[Option<RrSet>],
    ttl: Option<u32>,
) -> Vec<Planned> {
    names
        .iter()
        .zip(current)
        .filter_map(|(name, current)| {
            plan_present(current.as_ref(), &name.values).map(|values| Planned {
                action: Action::Upsert,
                name: name.name.clone(),
                ttl: ttl.unwrap_or(name.ttl),
                values,
            })
        })
        .collect()
}

/// The changes that remove every name's values, as [`plan_cleanup`] does
/// for one.
pub fn plan_cleanup_many(names: &[Name], current: &[Option<RrSet>]) -> Vec<Planned> {
    names
        .iter()
        .zip(current)
        .filter_map(|(name, current)| {
            let current = current.as_ref()?;
            let (action, values) = match plan_cleanup(current, &name.values) {
                Cleanup::Nothing => return None,
                Cleanup::Keep(remaining) => (Action::Upsert, remaining),
                Cleanup::Delete => (Action::Delete, current.values.clone()),
            };
            Some(Planned {
                action,
                name: name.name.clone(),
                ttl: current.ttl,
                values,
            })
        })
        .collect()
}

/// `changes` cut into runs that each fit one change batch; a change too
/// large on its own still goes alone (and Route 53 says why it refuses it).
pub fn split_batches(changes: &[Planned]) -> Vec<&[Planned]> {
    let mut out = Vec::new();
    let (mut start, mut records, mut chars) = (0, 0, 0);
    for (i, change) in changes.iter().enumerate() {
        let weight = match change.action {
            Action::Upsert => 2,
            Action::Delete => 1,
        };
        let r = change.values.len() * weight;
        let c = change.values.iter().map(String::len).sum::<usize>() * weight;
        if i > start
            && (i - start == MAX_BATCH_CHANGES
                || records + r > MAX_BATCH_RECORDS
                || chars + c > MAX_BATCH_VALUE_CHARS)
        {
            out.push(&changes[start..i]);
            (start, records, chars) = (i, 0, 0);
        }
        records += r;
        chars += c;
    }
    if start < changes.len() {
        out.push(&changes[start..]);
    }
    out
}

/// A TXT record set as Route 53 lists it: values in presentation form
/// (`"abc"`, possibly several quoted strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrSet {
    pub ttl: u32,
    pub values: Vec<String>,
}

/// The values to write for `present`, or `None` when every value is there.
pub fn plan_present(current: Option<&RrSet>, wanted: &[String]) -> Option<Vec<String>> {
    let mut values = current.map(|c| c.values.clone()).unwrap_or_default();
    let mut added = false;
    for value in wanted {
        if !values.iter().any(|v| txt::unquote(v) == *value) {
            values.push(txt::quote(value));
            added = true;
        }
    }
    added.then_some(values)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    /// None of the values is there.
    Nothing,
    /// Write these remaining values.
    Keep(Vec<String>),
    /// Nothing remains: delete the set as read.
    Delete,
}

pub fn plan_cleanup(current: &RrSet, gone: &[String]) -> Cleanup {
    let remaining: Vec<String> = current
        .values
        .iter()
        .filter(|v| !gone.contains(&txt::unquote(v)))
        .cloned()
        .collect();
    if remaining.len() == current.values.len() {
        Cleanup::Nothing
    } else if remaining.is_empty() {
        Cleanup::Delete
    } else {
        Cleanup::Keep(remaining)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Upsert,
    Delete,
}

/// `ChangeResourceRecordSetsRequest` for TXT sets `(action, name, ttl,
/// values in presentation form)`.
pub fn change_batch(changes: &[(Action, &str, u32, &[String])]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ChangeResourceRecordSetsRequest \
         xmlns=\"{XMLNS}\"><ChangeBatch><Comment>ACME DNS-01 challenge (wacme)</Comment><Changes>"
    );
    for (action, name, ttl, values) in changes {
        let action = match action {
            Action::Upsert => "UPSERT",
            Action::Delete => "DELETE",
        };
        out.push_str(&format!(
            "<Change><Action>{action}</Action><ResourceRecordSet><Name>{}</Name><Type>TXT</Type>\
             <TTL>{ttl}</TTL><ResourceRecords>",
            xml::escape(&absolute(name))
        ));
        for value in values.iter() {
            out.push_str(&format!(
                "<ResourceRecord><Value>{}</Value></ResourceRecord>",
                xml::escape(value)
            ));
        }
        out.push_str("</ResourceRecords></ResourceRecordSet></Change>");
    }
    out.push_str("</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>");
    out
}

/// `name.` (Route 53 names are absolute).
pub fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// A name as Route 53 lists it (`_acme-challenge.example.com.`, special
/// characters as `\ooo` octal escapes) in wacme's form: lower case, no
/// trailing dot, escapes decoded.
pub fn normalize(name: &str) -> String {
    let name = name.trim().trim_end_matches('.');
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4].iter().all(u8::is_ascii_digit)
        {
            let code = (bytes[i + 1] - b'0') as u32 * 64
                + (bytes[i + 2] - b'0') as u32 * 8
                + (bytes[i + 3] - b'0') as u32;
            out.push(code as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

/// Where Route 53 lists a name: by its labels from the root down.
pub fn listing_key(name: &str) -> Vec<&str> {
    name.trim_end_matches('.').rsplit('.').collect()
}

/// The resolved configuration of one call.
#[derive(Debug, Clone)]
pub struct Api {
    pub endpoint: String,
    /// `host[:port]` of the endpoint, as the `Host` header carries it.
    pub authority: String,
    pub credentials: Credentials,
    pub region: String,
    pub hosted_zone_id: Option<String>,
    pub private_zone: bool,
    pub ttl: Option<u32>,
    pub wait_insync: u64,
}

/// A failed call, as the callers need to tell it apart.
#[derive(Debug, Clone)]
pub enum ChangeError {
    /// `InvalidChangeBatch`: a DELETE of a set that is not there.
    NotFound,
    Other(Error),
}

impl From<ChangeError> for Error {
    fn from(e: ChangeError) -> Error {
        match e {
            ChangeError::NotFound => Error::Permanent("the record set is not there".into()),
            ChangeError::Other(e) => e,
        }
    }
}

impl From<Error> for ChangeError {
    fn from(e: Error) -> ChangeError {
        ChangeError::Other(e)
    }
}

impl Api {
    pub fn from_config(config: &Config) -> Result<Api> {
        let endpoint = url::trim_base(config.get("endpoint").unwrap_or(DEFAULT_ENDPOINT).trim());
        // The signed host: without the default port.
        let authority = url::authority(endpoint).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "`endpoint` must be an https:// origin such as {DEFAULT_ENDPOINT}, not \
                     {endpoint:?}"
            ))
        })?;
        let private_zone = match config.get("private_zone").unwrap_or("false") {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            other => {
                return Err(Error::InvalidConfig(format!(
                    "`private_zone` must be true or false, not {other:?}"
                )));
            }
        };
        let hosted_zone_id = config
            .get("hosted_zone_id")
            .map(|id| id.trim().trim_start_matches("/hostedzone/").to_string());
        if let Some(id) = &hosted_zone_id
            && (id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(Error::InvalidConfig(format!(
                "`hosted_zone_id` must look like Z0123456789ABC, not {id:?}"
            )));
        }
        Ok(Api {
            endpoint: endpoint.to_string(),
            authority,
            credentials: Credentials {
                access_key_id: config.require("access_key_id")?.trim().into(),
                secret_access_key: config.require("secret_access_key")?.into(),
                session_token: config.get("session_token").map(str::to_string),
            },
            region: config.get("region").unwrap_or(DEFAULT_REGION).into(),
            hosted_zone_id,
            private_zone,
            ttl: config.parse::<u32>("ttl")?,
            wait_insync: config
                .parse::<u64>("wait_insync")?
                .unwrap_or(DEFAULT_WAIT_INSYNC),
        })
    }

    /// The signed request for `method path?query` with `body`, at `datetime`.
    pub fn signed_request(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: &str,
        datetime: &str,
    ) -> Request {
        let payload_hash = sigv4::sha256_hex(body.as_bytes());
        // The payload hash is sent and signed too, so a verifier need not
        // hash the body itself to check the signature.
        let headers = vec![
            ("host".to_string(), self.authority.clone()),
            ("x-amz-content-sha256".to_string(), payload_hash.clone()),
        ];
        let signed = sigv4::sign(
            &sigv4::AWS,
            &self.credentials,
            &self.region,
            SERVICE,
            &sigv4::Request {
                method,
                path,
                query,
                headers: &headers,
                payload_hash: &payload_hash,
            },
            datetime,
        );
        let mut url = format!("{}{}", self.endpoint, sigv4::uri_encode(path, true));
        if !query.is_empty() {
            url.push('?');
            url.push_str(&sigv4::canonical_query(query));
        }
        let mut request = match method {
            "POST" => Request::post(url)
                .header("content-type", "application/xml")
                .body(body.as_bytes().to_vec()),
            _ => Request::get(url),
        };
        request = request.header("x-amz-content-sha256", payload_hash);
        // The host sets `Host` itself, from the same URL.
        for (name, value) in signed.headers {
            request = request.header(name, value);
        }
        request
    }

    /// Sends a signed request; the parsed XML body on 2xx.
    fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: &str,
    ) -> Result<xml::Node, ChangeError> {
        let response = self
            .signed_request(method, path, query, body, &sigv4::now())
            .send()?;
        if !response.is_success() {
            return Err(api_error(&response));
        }
        xml::parse(&response.text()).map_err(|e| {
            ChangeError::Other(Error::Permanent(format!(
                "Route 53: unexpected answer to {method} {path} ({e}): {}",
                excerpt(&response.text())
            )))
        })
    }

    /// The hosted zone id for `zone`: configured, or the zone (or the
    /// nearest parent) the account holds, public or private as configured.
    pub fn hosted_zone(&self, zone: &str) -> Result<String> {
        if let Some(id) = &self.hosted_zone_id {
            return Ok(id.clone());
        }
        let mut candidate = normalize(zone);
        loop {
            if let Some(id) = self.find_zone(&candidate)? {
                return Ok(id);
            }
            match candidate.split_once('.') {
                Some((_, parent)) if parent.contains('.') => candidate = parent.to_string(),
                _ => break,
            }
        }
        Err(Error::ZoneNotFound(format!(
            "Route 53: no {} hosted zone for {zone} (or a parent) in this account",
            if self.private_zone {
                "private"
            } else {
                "public"
            }
        )))
    }

    fn find_zone(&self, name: &str) -> Result<Option<String>> {
        let mut query = vec![
            ("dnsname".to_string(), absolute(name)),
            ("maxitems".to_string(), PAGE_SIZE.to_string()),
        ];
        for _ in 0..MAX_PAGES {
            let page = self
                .call(
                    "GET",
                    &format!("/{API_VERSION}/hostedzonesbyname"),
                    &query,
                    "",
                )
                .map_err(Error::from)?;
            let zones = page.child("HostedZones").map(|z| z.all("HostedZone"));
            for zone in zones.into_iter().flatten() {
                let zone_name = normalize(zone.text_at(&["Name"]).unwrap_or_default());
                if zone_name != name {
                    // Listed in order from the name: past it, there is none.
                    if listing_key(&zone_name) > listing_key(name) {
                        return Ok(None);
                    }
                    continue;
                }
                let private = zone.text_at(&["Config", "PrivateZone"]) == Some("true");
                if private == self.private_zone {
                    let id = zone.text_at(&["Id"]).unwrap_or_default();
                    return Ok(Some(id.trim_start_matches("/hostedzone/").to_string()));
                }
            }
            let next = page.text_at(&["NextDNSName"]).map(normalize);
            if page.text_at(&["IsTruncated"]) != Some("true") || next.as_deref() != Some(name) {
                return Ok(None);
            }
            query = vec![
                ("dnsname".to_string(), absolute(name)),
                (
                    "hostedzoneid".to_string(),
                    page.text_at(&["NextHostedZoneId"])
                        .unwrap_or_default()
                        .to_string(),
                ),
                ("maxitems".to_string(), PAGE_SIZE.to_string()),
            ];
        }
        Ok(None)
    }

    /// The simple (no routing policy) TXT set at `fqdn`, if any.
    pub fn txt_set(&self, zone_id: &str, fqdn: &str) -> Result<Option<RrSet>> {
        self.txt_set_noting(zone_id, fqdn, &mut Vec::new())
    }

    /// The simple TXT set at each name, in the order of `names`. The names
    /// are listed in Route 53's order; a set a listing page already showed
    /// is taken from it instead of being listed again.
    pub fn txt_sets(&self, zone_id: &str, names: &[Name]) -> Result<Vec<Option<RrSet>>> {
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|a, b| listing_key(&names[*a].name).cmp(&listing_key(&names[*b].name)));
        let mut seen = Vec::new();
        let mut out = vec![None; names.len()];
        for i in order {
            let name = normalize(&names[i].name);
            out[i] = match seen.iter().find(|(n, _): &&(String, RrSet)| *n == name) {
                Some((_, set)) => Some(set.clone()),
                None => self.txt_set_noting(zone_id, &name, &mut seen)?,
            };
        }
        Ok(out)
    }

    /// [`Api::txt_set`], adding every simple TXT set of the pages read to
    /// `seen`.
    fn txt_set_noting(
        &self,
        zone_id: &str,
        fqdn: &str,
        seen: &mut Vec<(String, RrSet)>,
    ) -> Result<Option<RrSet>> {
        let name = normalize(fqdn);
        let path = format!("/{API_VERSION}/hostedzone/{zone_id}/rrset");
        let mut query = vec![
            ("name".to_string(), absolute(&name)),
            ("type".to_string(), "TXT".to_string()),
            ("maxitems".to_string(), PAGE_SIZE.to_string()),
        ];
        for _ in 0..MAX_PAGES {
            let page = self
                .call("GET", &path, &query, "")
                .map_err(|e| zone_error(e, zone_id))?;
            seen.extend(simple_txt_sets(&page));
            let sets = page
                .child("ResourceRecordSets")
                .map(|s| s.all("ResourceRecordSet"));
            for set in sets.into_iter().flatten() {
                let set_name = normalize(set.text_at(&["Name"]).unwrap_or_default());
                let set_type = set.text_at(&["Type"]).unwrap_or_default();
                if set_name != name || set_type != "TXT" {
                    // Listed in order from the name: past it, there is none.
                    if (listing_key(&set_name), set_type) > (listing_key(&name), "TXT") {
                        return Ok(None);
                    }
                    continue;
                }
                if set.child("SetIdentifier").is_some() {
                    continue;
                }
                return Ok(Some(rrset_of(set)));
            }
            let next_name = page.text_at(&["NextRecordName"]).map(normalize);
            if page.text_at(&["IsTruncated"]) != Some("true")
                || next_name.as_deref() != Some(name.as_str())
                || page.text_at(&["NextRecordType"]) != Some("TXT")
            {
                return Ok(None);
            }
            query = vec![
                ("name".to_string(), absolute(&name)),
                ("type".to_string(), "TXT".to_string()),
                ("maxitems".to_string(), PAGE_SIZE.to_string()),
            ];
            if let Some(id) = page.text_at(&["NextRecordIdentifier"]) {
                query.push(("identifier".to_string(), id.to_string()));
            }
        }
        Ok(None)
    }

    /// Submits `changes` in as few change batches as the limits allow,
    /// waiting for each to be `INSYNC` before the next.
    pub fn submit(&self, zone_id: &str, changes: &[Planned]) -> Result<()> {
        if changes.is_empty() {
            log::debug("every record set already as wanted");
            return Ok(());
        }
        for batch in split_batches(changes) {
            let batch: Vec<(Action, &str, u32, &[String])> = batch
                .iter()
                .map(|c| (c.action, c.name.as_str(), c.ttl, c.values.as_slice()))
                .collect();
            let change = self.change(zone_id, &batch).map_err(|e| match e {
                // A set deleted since it was read: the whole batch was
                // refused; calls name by name sort it out.
                ChangeError::NotFound => Error::Transient(
                    "Route 53: a record set of the batch is gone since it was read".into(),
                ),
                ChangeError::Other(e) => e,
            })?;
            self.wait(&change)?;
        }
        Ok(())
    }

    /// Submits a change batch; the change id.
    pub fn change(
        &self,
        zone_id: &str,
        changes: &[(Action, &str, u32, &[String])],
    ) -> Result<String, ChangeError> {
        let body = change_batch(changes);
        let answer = self
            .call(
                "POST",
                &format!("/{API_VERSION}/hostedzone/{zone_id}/rrset"),
                &[],
                &body,
            )
            .map_err(|e| match e {
                ChangeError::Other(e) => ChangeError::Other(zone_error_of(e, zone_id)),
                other => other,
            })?;
        let id = answer
            .text_at(&["ChangeInfo", "Id"])
            .unwrap_or_default()
            .trim_start_matches("/change/")
            .to_string();
        log::debug(&format!(
            "Route 53 change {id}: {}",
            answer.text_at(&["ChangeInfo", "Status"]).unwrap_or("?")
        ));
        Ok(id)
    }

    /// Polls `GetChange` until `INSYNC` or `wait_insync` seconds passed.
    pub fn wait(&self, change_id: &str) -> Result<()> {
        if self.wait_insync == 0 || change_id.is_empty() {
            return Ok(());
        }
        let start = std::time::Instant::now();
        let limit = std::time::Duration::from_secs(self.wait_insync);
        let mut delay = std::time::Duration::from_millis(250);
        loop {
            let answer = self
                .call(
                    "GET",
                    &format!("/{API_VERSION}/change/{change_id}"),
                    &[],
                    "",
                )
                .map_err(Error::from)?;
            let status = answer.text_at(&["ChangeInfo", "Status"]).unwrap_or("");
            if status == "INSYNC" {
                return Ok(());
            }
            if start.elapsed() + delay > limit {
                log::info(&format!(
                    "Route 53 change {change_id} still {status} after {}s; wacme checks the \
                     nameservers itself",
                    self.wait_insync
                ));
                return Ok(());
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(std::time::Duration::from_secs(4));
        }
    }
}

/// A listed `ResourceRecordSet` element as an [`RrSet`].
fn rrset_of(set: &xml::Node) -> RrSet {
    let values = set
        .child("ResourceRecords")
        .map(|r| {
            r.all("ResourceRecord")
                .filter_map(|r| r.text_at(&["Value"]))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let ttl = set
        .text_at(&["TTL"])
        .and_then(|t| t.parse().ok())
        .unwrap_or(DEFAULT_TTL);
    RrSet { ttl, values }
}

/// Every simple (no routing policy) TXT set of a `ListResourceRecordSets`
/// page, by normalized name.
pub fn simple_txt_sets(page: &xml::Node) -> Vec<(String, RrSet)> {
    page.child("ResourceRecordSets")
        .map(|s| s.all("ResourceRecordSet"))
        .into_iter()
        .flatten()
        .filter(|set| set.text_at(&["Type"]) == Some("TXT") && set.child("SetIdentifier").is_none())
        .map(|set| {
            (
                normalize(set.text_at(&["Name"]).unwrap_or_default()),
                rrset_of(set),
            )
        })
        .collect()
}

fn zone_error(e: ChangeError, zone_id: &str) -> Error {
    zone_error_of(Error::from(e), zone_id)
}

/// `NoSuchHostedZone` names the configured id.
fn zone_error_of(e: Error, zone_id: &str) -> Error {
    match e {
        Error::ZoneNotFound(m) => Error::ZoneNotFound(format!(
            "{m} (hosted zone {zone_id}: check `hosted_zone_id`)"
        )),
        other => other,
    }
}

/// Maps a failed answer: the `ErrorResponse` (`Error/Code`, `Message`) or
/// `InvalidChangeBatch` (`Messages/Message`) document.
pub fn api_error(response: &Response) -> ChangeError {
    let text = response.text();
    let doc = xml::parse(&text).ok();
    let (code, message, request_id) = match &doc {
        Some(d) if d.name == "InvalidChangeBatch" => (
            "InvalidChangeBatch".to_string(),
            d.child("Messages")
                .map(|m| {
                    m.all("Message")
                        .map(|m| m.text.trim().to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default(),
            d.text_at(&["RequestId"]).unwrap_or_default().to_string(),
        ),
        Some(d) => {
            // `ErrorResponse/Error` (Route 53), or `ErrorResponse/Errors/Error`
            // (the query-protocol form some emulators answer).
            let e = d.child("Error").or_else(|| d.at(&["Errors", "Error"]));
            let text = |name: &str| {
                e.and_then(|e| e.text_at(&[name]))
                    .unwrap_or_default()
                    .to_string()
            };
            (
                text("Code"),
                text("Message"),
                d.text_at(&["RequestId"]).unwrap_or_default().to_string(),
            )
        }
        None => (String::new(), String::new(), String::new()),
    };
    let detail = if code.is_empty() {
        excerpt(&text)
    } else if request_id.is_empty() {
        format!("{code}: {message}")
    } else {
        format!("{code}: {message} (RequestId {request_id})")
    };
    let message = format!("Route 53: HTTP {}: {detail}", response.status);
    let retry_after = response
        .header("retry-after")
        .and_then(|v| v.trim().parse().ok());
    let error = match code.as_str() {
        "Throttling" | "ThrottlingException" | "PriorRequestNotComplete" => {
            Error::RateLimited(RateLimit {
                message,
                retry_after_secs: retry_after,
            })
        }
        "InvalidChangeBatch" => {
            let lower = message.to_ascii_lowercase();
            if lower.contains("but it was not found") {
                return ChangeError::NotFound;
            }
            if lower.contains("values provided do not match")
                || lower.contains("but it already exists")
            {
                // Another client changed the set between our read and write:
                // a new call reads it again.
                Error::Transient(message)
            } else {
                Error::Permanent(message)
            }
        }
        "SignatureDoesNotMatch" if message.contains("Signature expired") => Error::Permanent(
            format!("{message}; this machine's clock is more than 5 minutes off UTC"),
        ),
        "SignatureDoesNotMatch" => {
            Error::Authentication(format!("{message}; check secret_access_key"))
        }
        "InvalidClientTokenId" | "UnrecognizedClientException" => Error::Authentication(format!(
            "{message}; check access_key_id (and session_token for temporary credentials)"
        )),
        "AccessDenied"
        | "AccessDeniedException"
        | "IncompleteSignature"
        | "ExpiredToken"
        | "InvalidSignatureException"
        | "MissingAuthenticationToken" => Error::Authentication(message),
        "RequestExpired" => Error::Permanent(format!(
            "{message}; this machine's clock is more than 5 minutes off UTC"
        )),
        "NoSuchHostedZone" | "HostedZoneNotFound" => Error::ZoneNotFound(message),
        "InvalidInput" if message.contains("TTL") => Error::InvalidConfig(message),
        "ServiceUnavailable" | "InternalFailure" | "InternalError" => Error::Transient(message),
        _ => Error::from_status(response.status, response.header("retry-after"), message),
    };
    ChangeError::Other(error)
}

#[cfg(test)]
mod tests;
