//! Plugins built against `wacme:dns@0.1.0`: their imports served by the
//! latest host functions, and their types converted to and from the latest
//! version's. A 0.1.0 plugin has no `dns` import, no DNS servers, default
//! [`Hints`] and no batch exports; everything else is the same contract.

use super::TxtSet;
use super::bindings::{latest, v0_1};
use super::metadata::{ConfigField, Hints, PluginMetadata};
use super::store::State;

use latest::wacme::dns as new;
use v0_1::wacme::dns as old;

impl old::http::Host for State {
    async fn send(
        &mut self,
        request: old::http::Request,
    ) -> Result<old::http::Response, old::http::HttpError> {
        use new::http::Method as N;
        use old::http::Method as O;
        let method = match request.method {
            O::Get => N::Get,
            O::Head => N::Head,
            O::Post => N::Post,
            O::Put => N::Put,
            O::Patch => N::Patch,
            O::Delete => N::Delete,
        };
        let request = new::http::Request {
            method,
            url: request.url,
            headers: request.headers,
            body: request.body,
        };
        match self.call.send(request).await {
            Ok(r) => Ok(old::http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(match e {
                new::http::HttpError::Denied(m) => old::http::HttpError::Denied(m),
                new::http::HttpError::Timeout(m) => old::http::HttpError::Timeout(m),
                new::http::HttpError::Connection(m) => old::http::HttpError::Connection(m),
                new::http::HttpError::TooLarge(m) => old::http::HttpError::TooLarge(m),
            }),
        }
    }
}

impl old::log::Host for State {
    async fn log(&mut self, level: old::log::Level, message: String) {
        use new::log::Level as N;
        use old::log::Level as O;
        let level = match level {
            O::Trace => N::Trace,
            O::Debug => N::Debug,
            O::Info => N::Info,
            O::Warn => N::Warn,
            O::Error => N::Error,
        };
        self.call.log(level, message)
    }
}

impl old::types::Host for State {}

/// A 0.1.0 plugin's metadata.
pub(super) fn metadata(m: old::types::PluginMetadata) -> PluginMetadata {
    PluginMetadata {
        name: m.name,
        version: m.version,
        description: m.description,
        homepage: m.homepage,
        config: m
            .config
            .into_iter()
            .map(|f| ConfigField {
                name: f.name,
                description: f.description,
                required: f.required,
                secret: f.secret,
                default: f.default,
                env_aliases: f.env_aliases,
            })
            .collect(),
        allowed_hosts: m.allowed_hosts,
        default_ttl: m.default_ttl,
        min_ttl: m.min_ttl,
        dns_servers: Vec::new(),
        hints: Hints::default(),
    }
}

/// A TXT set in 0.1.0 types.
pub(super) fn txt_set(set: &TxtSet) -> old::types::TxtSet {
    old::types::TxtSet {
        zone: set.zone.clone(),
        fqdn: set.fqdn.clone(),
        relative_name: set.relative_name.clone(),
        values: set.values.clone(),
        ttl: set.ttl,
    }
}

/// A 0.1.0 provider error in the latest types.
pub(super) fn provider_error(e: old::types::ProviderError) -> new::types::ProviderError {
    use new::types::ProviderError as N;
    use old::types::ProviderError as O;
    match e {
        O::InvalidConfig(m) => N::InvalidConfig(m),
        O::Authentication(m) => N::Authentication(m),
        O::ZoneNotFound(m) => N::ZoneNotFound(m),
        O::RateLimited(r) => N::RateLimited(new::types::RateLimit {
            message: r.message,
            retry_after_secs: r.retry_after_secs,
        }),
        O::Transient(m) => N::Transient(m),
        O::Permanent(m) => N::Permanent(m),
    }
}
