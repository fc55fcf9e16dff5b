//! Write a wacme DNS provider plugin.
//!
//! A provider is a type implementing [`Provider`], registered with
//! [`register!`], built with `cargo build --target wasm32-wasip2`. The result
//! is a WebAssembly component that wacme loads into its sandbox.
//!
//! ```ignore
//! use wacme_plugin_sdk::{Config, Metadata, Provider, Result, TxtSet};
//!
//! struct Example;
//!
//! impl Provider for Example {
//!     fn metadata() -> Metadata { /* name, config fields, allowed hosts */ }
//!     fn present(config: &Config, set: &TxtSet) -> Result<()> { /* add set.values */ }
//!     fn cleanup(config: &Config, set: &TxtSet) -> Result<()> { /* remove set.values */ }
//! }
//!
//! wacme_plugin_sdk::register!(Example);
//! ```
//!
//! What the SDK owns: the generated bindings of the `wacme:dns` WIT package
//! ([`bindings`]), the [`Provider`] trait and its adapter, [`Config`] access,
//! the [`http`] client over the host's HTTP import, [`dns`] exchanges over
//! the host's DNS import, [`log`], and small helpers every provider needs
//! ([`txt`], [`url`], [`zone`]).

pub mod batch;
pub mod dns;
pub mod http;
pub mod log;
pub mod txt;
pub mod url;
pub mod zone;

/// Bindings generated from `wit/v0.2/` (world `wacme:dns/dns-provider@0.2.0`).
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/v0.2",
        world: "wacme:dns/dns-provider@0.2.0",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "wacme_plugin_sdk::bindings",
    });
}

pub use bindings::wacme::dns::types::{
    ConfigField, PluginMetadata as Metadata, ProviderError as Error, ProviderHints as Hints,
    RateLimit, TxtSet,
};

/// The WIT package version this SDK builds against.
pub const WIT_VERSION: &str = "0.2.0";

impl Default for Hints {
    /// No limit on concurrent writes per zone, cleanup removes values, no
    /// per-name value limit, no batch calls: what most APIs need.
    fn default() -> Self {
        Hints {
            zone_write_concurrency: 0,
            can_delete: true,
            max_values_per_name: None,
            batch: false,
        }
    }
}

/// Result of a provider operation.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// A DNS provider. wacme calls these on a fresh instance for every call, so
/// keep no state between calls.
pub trait Provider {
    /// Name, config fields and allowed hosts. Must not depend on config or
    /// call out.
    fn metadata() -> Metadata;

    /// Make `set.fqdn` carry at least `set.values`, leaving other values
    /// alone. Presenting values that are already there succeeds.
    fn present(config: &Config, set: &TxtSet) -> Result<()>;

    /// Remove exactly `set.values` from `set.fqdn`, leaving other values.
    /// Values that are already gone are not an error.
    fn cleanup(config: &Config, set: &TxtSet) -> Result<()>;

    /// [`Provider::present`] for several names of one zone. The host calls
    /// it only when [`Hints::batch`] is set; override both `_many` methods
    /// and set the hint when the API takes many changes in one request.
    /// The default presents the sets one by one.
    fn present_many(config: &Config, sets: &[TxtSet]) -> Result<()> {
        sets.iter().try_for_each(|set| Self::present(config, set))
    }

    /// [`Provider::cleanup`] for several names of one zone, as
    /// [`Provider::present_many`].
    fn cleanup_many(config: &Config, sets: &[TxtSet]) -> Result<()> {
        sets.iter().try_for_each(|set| Self::cleanup(config, set))
    }
}

/// Configuration values as resolved by the host: only declared keys, with
/// defaults applied.
#[derive(Debug, Clone, Default)]
pub struct Config {
    values: Vec<(String, String)>,
}

impl Config {
    /// Builds a config from key/value pairs (the host does this; tests may too).
    pub fn new<K: Into<String>, V: Into<String>>(values: impl IntoIterator<Item = (K, V)>) -> Self {
        Config {
            values: values
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `key`, if set and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The value of `key`, or an invalid-config error naming it.
    pub fn require(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| Error::InvalidConfig(format!("`{key}` is required")))
    }

    /// The value of `key` parsed as `T`, or an invalid-config error naming it.
    pub fn parse<T: core::str::FromStr>(&self, key: &str) -> Result<Option<T>>
    where
        T::Err: core::fmt::Display,
    {
        self.get(key)
            .map(|v| {
                v.parse()
                    .map_err(|e| Error::InvalidConfig(format!("`{key}` is not valid ({e}): {v:?}")))
            })
            .transpose()
    }
}

impl Error {
    /// Maps an HTTP status of a failed API call to the matching error case.
    /// `retry_after` is the response's `Retry-After` header, if any.
    pub fn from_status(
        status: u16,
        retry_after: Option<&str>,
        message: impl Into<String>,
    ) -> Error {
        let message = message.into();
        match status {
            401 | 403 => Error::Authentication(message),
            429 => Error::RateLimited(RateLimit {
                message,
                retry_after_secs: retry_after.and_then(|v| v.trim().parse().ok()),
            }),
            408 | 500..=599 => Error::Transient(message),
            _ => Error::Permanent(message),
        }
    }
}

impl ConfigField {
    /// An optional, non-secret field with no default.
    pub fn new(name: &str, description: &str) -> Self {
        ConfigField {
            name: name.into(),
            description: description.into(),
            required: false,
            secret: false,
            default: None,
            env_aliases: Vec::new(),
        }
    }

    /// The host refuses to run without a value.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Never logged or shown; redacted from messages.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Value used when the operator gives none.
    pub fn default(mut self, value: &str) -> Self {
        self.default = Some(value.into());
        self
    }

    /// Environment variables the host also reads this value from.
    pub fn env(mut self, aliases: &[&str]) -> Self {
        self.env_aliases = aliases.iter().map(|a| (*a).into()).collect();
        self
    }
}

#[doc(hidden)]
pub struct __Adapter<T>(core::marker::PhantomData<T>);

impl<T: Provider> bindings::exports::wacme::dns::provider::Guest for __Adapter<T> {
    fn metadata() -> Metadata {
        T::metadata()
    }

    fn present(config: Vec<(String, String)>, set: TxtSet) -> Result<()> {
        T::present(&Config { values: config }, &set)
    }

    fn cleanup(config: Vec<(String, String)>, set: TxtSet) -> Result<()> {
        T::cleanup(&Config { values: config }, &set)
    }

    fn present_many(config: Vec<(String, String)>, sets: Vec<TxtSet>) -> Result<()> {
        T::present_many(&Config { values: config }, &sets)
    }

    fn cleanup_many(config: Vec<(String, String)>, sets: Vec<TxtSet>) -> Result<()> {
        T::cleanup_many(&Config { values: config }, &sets)
    }
}

/// Exports a [`Provider`] implementation as the plugin's `provider` interface.
#[macro_export]
macro_rules! register {
    ($provider:ty) => {
        // Export names such as `wacme:dns/provider@0.2.0#present` only link
        // into a wasm component; natively a provider crate builds for its
        // unit tests and exports nothing.
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        type __WacmeRegisteredProvider = $crate::__Adapter<$provider>;
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export!(__WacmeRegisteredProvider with_types_in $crate::bindings);
    };
}
