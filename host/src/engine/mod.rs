//! The engine: the operations wacme performs, callable the same way by the
//! command line, the conformance suite, tests and a long-running service.
//!
//! An [`Engine`] owns what a process shares between operations: one ACME
//! client per CA (directory, connection pool, nonce pool), one plugin
//! runtime per set of sandbox limits (engine, epoch ticker, compile cache)
//! and every plugin it loaded. Operations take a
//! [`Workspace`](crate::workspace::Workspace) (state directory, stores,
//! journal), typed options, and return a typed report or an [`Error`]
//! carrying its [`ErrorClass`](crate::error::ErrorClass):
//!
//! - [`account`]: register, find, update, roll over, deactivate;
//! - [`issue`]: one certificate end to end ([`issuance`]) and its deploy
//!   [`hook`];
//! - [`renew`]: which stored certificates are due, and renewing them;
//! - [`revoke`]: revoking a stored certificate;
//! - [`persist`]: the standing dns-persist-01 records (show, set, remove);
//! - [`recovery`]: removing what crashed runs left in the journal;
//! - [`conformance`]: the plugin test battery.

pub mod account;
pub mod conformance;
mod error;
pub mod hook;
pub mod issuance;
pub mod issue;
pub mod options;
pub mod persist;
pub mod recovery;
pub mod renew;
pub mod revoke;

pub use error::{Error, classify};
pub use options::{CaOptions, ChallengeKind, DnsOptions, DnsSetup, PluginOptions, PluginSetup};

use crate::acme::{Client, ClientConfig};
use crate::plugins::config::{ConfigError, ResolvedConfig, Sources};
use crate::plugins::grants::{EnvPolicy, GrantFile};
use crate::plugins::{self, Limits, Plugin, Runtime, RuntimeOptions, discovery};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// What makes two runtimes differ: the cache switch and the limits.
type RuntimeKey = (bool, u64, usize);

/// A plugin file as loaded: runtime, path, size, modification time.
type LoadedKey = (RuntimeKey, PathBuf, u64, Option<SystemTime>);

/// Shared state of the operations of one process. Create one and keep it
/// for the process's life; cheap to share by reference.
#[derive(Default)]
pub struct Engine {
    /// Every certificate of a run (e.g. `renew --all`) shares one engine,
    /// epoch ticker and HTTP client per set of limits.
    runtimes: Mutex<BTreeMap<RuntimeKey, Runtime>>,
    /// A plugin file is read, checked and its compiled form loaded once,
    /// however many certificates use it: certificates that want it while it
    /// loads (compiling can take seconds) wait for that one load.
    loaded: Mutex<BTreeMap<LoadedKey, Arc<tokio::sync::OnceCell<Plugin>>>>,
    /// One client per CA (directory and trusted roots): one directory
    /// fetch, one connection pool, one nonce pool.
    clients: tokio::sync::Mutex<BTreeMap<(String, Vec<PathBuf>), Client>>,
    /// The challenge record sets of every order in flight, per name.
    records: crate::dns01::records::Records,
    /// Request rates of new CA clients.
    rate_limits: std::sync::Mutex<crate::acme::RateLimits>,
    /// Which environment variables plugins may read (`plugins.lock`).
    grants: RwLock<GrantFile>,
    /// Where `wacme plugin install` puts plugins: searched for names last.
    installed_dir: RwLock<Option<PathBuf>>,
    /// Ignored variables already warned about, per plugin.
    warned: Mutex<BTreeSet<(String, String)>>,
    /// Whether new runtimes note plugins loaded with baseline code, for
    /// [`Engine::finish_tier_ups`].
    tier_up: std::sync::atomic::AtomicBool,
}

/// The runtime for `options`; limits out of their range are refused (they
/// may come from a stored renewal record rather than the command line).
fn runtime_key(options: &PluginOptions) -> Result<RuntimeKey, plugins::Error> {
    use crate::plugins::limits::{check_memory_mib, check_timeout_secs};
    let timeout = check_timeout_secs(options.plugin_timeout)
        .map_err(|e| plugins::Error::Limit(format!("--plugin-timeout {e}")))?;
    let memory = check_memory_mib(options.plugin_memory as u64)
        .map_err(|e| plugins::Error::Limit(format!("--plugin-memory {e}")))?;
    Ok((options.no_plugin_cache, timeout, memory as usize))
}

impl Engine {
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Sets the request rates of the CA clients made from now on (the
    /// config file's `ca_rate_limits`).
    pub fn set_rate_limits(&self, limits: crate::acme::RateLimits) {
        *self.rate_limits.lock().unwrap_or_else(|e| e.into_inner()) = limits;
    }

    /// Makes the plugin runtimes made from now on note each plugin they
    /// load with baseline code (a JavaScript or Python plugin never
    /// installed), so that [`Engine::finish_tier_ups`] compiles its
    /// optimized form into the cache for later runs. For unattended runs
    /// (`wacme renew`): an interactive first run should not wait seconds
    /// for it.
    pub fn set_tier_up(&self, on: bool) {
        self.tier_up.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Compiles the optimized forms [`Engine::set_tier_up`] asked for into
    /// the cache, and returns when they are stored: at the end of a run, so
    /// that the compile (seconds of CPU, hundreds of MB) never competes
    /// with the run's certificates.
    pub async fn finish_tier_ups(&self) {
        let runtimes: Vec<Runtime> = self
            .runtimes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for runtime in runtimes {
            runtime.finish_tier_ups().await;
        }
    }

    /// Uses these grants (the state directory's `plugins.lock`) and finds
    /// installed plugins in `installed_dir`. Without a call, plugins read
    /// only their own variables and the aliases shipped with wacme.
    pub fn set_plugin_grants(&self, grants: GrantFile, installed_dir: Option<PathBuf>) {
        *self.grants.write().unwrap_or_else(|e| e.into_inner()) = grants;
        *self
            .installed_dir
            .write()
            .unwrap_or_else(|e| e.into_inner()) = installed_dir;
    }

    /// The environment variables `plugin` may read.
    pub fn env_policy(&self, plugin: &Plugin) -> EnvPolicy {
        self.grants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .policy(plugin.metadata(), plugin.sha256())
    }

    /// Resolves `plugin`'s config from the command line pairs, the
    /// environment (as far as granted) and the config file's layer; warns
    /// once per process about each variable that is set but not read.
    pub fn resolve_config(
        &self,
        plugin: &Plugin,
        cli: &[(String, String)],
        file: &BTreeMap<String, String>,
    ) -> Result<ResolvedConfig, ConfigError> {
        let policy = self.env_policy(plugin);
        let config = Sources::resolve_with_process_env(plugin.metadata(), &policy, cli, file)?;
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        for ignored in config.ignored() {
            if warned.insert((plugin.metadata().name.clone(), ignored.var.clone())) {
                tracing::warn!("plugin `{}`: {ignored}", plugin.metadata().name);
            }
        }
        Ok(config)
    }

    /// The directories searched for plugins by name.
    pub fn plugin_search_dirs(&self, options: &PluginOptions) -> Vec<PathBuf> {
        let mut dirs = discovery::search_dirs(&options.plugin_dirs);
        if let Some(dir) = self
            .installed_dir
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            && !dirs.contains(&dir)
        {
            dirs.push(dir);
        }
        dirs
    }

    /// The challenge record sets of every order this engine runs.
    pub fn records(&self) -> &crate::dns01::records::Records {
        &self.records
    }

    /// The plugin runtime for these options (one per set of limits).
    pub fn runtime(&self, options: &PluginOptions) -> Result<Runtime, plugins::Error> {
        let key = runtime_key(options)?;
        let mut runtimes = self.runtimes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(runtime) = runtimes.get(&key) {
            return Ok(runtime.clone());
        }
        let mut runtime_options = if options.no_plugin_cache {
            RuntimeOptions::default()
        } else {
            RuntimeOptions::with_user_cache()
        };
        runtime_options.tier_up = self.tier_up.load(std::sync::atomic::Ordering::Relaxed);
        runtime_options.limits = Limits {
            call_timeout: Duration::from_secs(key.1),
            memory_bytes: key.2 << 20,
            ..Limits::default()
        };
        let runtime = Runtime::new(runtime_options)?;
        runtimes.insert(key, runtime.clone());
        Ok(runtime)
    }

    /// Finds the plugin named (or at the path) `arg` and loads it into the
    /// runtime for `options`; a file loaded before is not read again.
    pub async fn load_plugin(
        &self,
        options: &PluginOptions,
        arg: &str,
    ) -> Result<Plugin, plugins::Error> {
        self.load_plugin_once(options, arg).await.map(|(p, _)| p)
    }

    /// [`Engine::load_plugin`], and whether this call did the loading (not
    /// an earlier or concurrent one).
    pub async fn load_plugin_once(
        &self,
        options: &PluginOptions,
        arg: &str,
    ) -> Result<(Plugin, bool), plugins::Error> {
        let runtime = self.runtime(options)?;
        let runtime_key = runtime_key(options)?;
        let path = discovery::find(arg, &self.plugin_search_dirs(options))?;
        let key = std::fs::metadata(&path)
            .ok()
            .map(|m| (runtime_key, path.clone(), m.len(), m.modified().ok()));
        let Some(key) = key else {
            return runtime.load_file(&path).await.map(|p| (p, true));
        };
        let cell = self
            .loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone();
        // A failed load leaves the cell empty: the next caller tries again
        // (and gets its own error).
        let here = std::sync::atomic::AtomicBool::new(false);
        let plugin = cell
            .get_or_try_init(|| {
                here.store(true, std::sync::atomic::Ordering::Relaxed);
                runtime.load_file(&path)
            })
            .await?;
        Ok((plugin.clone(), here.into_inner()))
    }

    /// The client for a CA, connected (its directory fetched) on first use.
    pub async fn client(
        &self,
        directory: &str,
        ca_certs: &[PathBuf],
    ) -> Result<Client, crate::acme::Error> {
        let mut clients = self.clients.lock().await;
        let key = (directory.to_string(), ca_certs.to_vec());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let limits = self
            .rate_limits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let client = connect_with(directory, ca_certs, limits).await?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// A new client for a CA (no sharing).
pub async fn connect(directory: &str, ca_certs: &[PathBuf]) -> Result<Client, crate::acme::Error> {
    connect_with(directory, ca_certs, crate::acme::RateLimits::default()).await
}

async fn connect_with(
    directory: &str,
    ca_certs: &[PathBuf],
    rate_limits: crate::acme::RateLimits,
) -> Result<Client, crate::acme::Error> {
    let mut config = ClientConfig {
        rate_limits,
        ..ClientConfig::default()
    };
    for path in ca_certs {
        config.add_ca_cert_file(path)?;
    }
    Client::connect(directory, config).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_limits_out_of_range_are_input_errors_not_clamped() {
        let with = |plugin_timeout, plugin_memory| PluginOptions {
            plugin_timeout,
            plugin_memory,
            ..PluginOptions::default()
        };
        assert_eq!(runtime_key(&with(60, 64)).unwrap(), (false, 60, 64));
        assert_eq!(runtime_key(&with(3600, 4096)).unwrap(), (false, 3600, 4096));
        for (timeout, memory, option) in [
            (60, 0, "--plugin-memory"),
            (60, 4097, "--plugin-memory"),
            (0, 64, "--plugin-timeout"),
            (3601, 64, "--plugin-timeout"),
        ] {
            let err = runtime_key(&with(timeout, memory)).unwrap_err();
            assert_eq!(err.class(), crate::error::ErrorClass::Input, "{err}");
            assert!(err.to_string().starts_with(option), "{err}");
        }
    }
}
