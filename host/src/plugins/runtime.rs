//! The engine, the limits, and calling a plugin in a fresh store.
//!
//! CPU: a ticker thread advances the engine's epoch every [`TICK`]; each store
//! has an epoch deadline of one tick and a callback that traps once the call's
//! wall-clock deadline has passed and otherwise yields to the async executor,
//! so a busy plugin neither outlives its deadline by more than a tick nor
//! starves other tasks. An outer `tokio::time::timeout` covers time spent
//! inside host calls, where epochs do not interrupt.
//!
//! Every export, `metadata` included, runs under the same deadline: the
//! plugin timeout ([`Limits::call_timeout`]), instantiation included.
//!
//! Memory: a [`Limiter`] keeps one budget per store (one plugin instance):
//! the sum of every linear memory and every table (elements counted at
//! [`TABLE_ELEMENT_BYTES`] each), from the initial sizes at instantiation
//! through every growth; it bounds the number of instances, memories and
//! tables, and remembers that the budget was hit, so the error can say so.
//! Growth that the engine refuses after the limiter allowed it stays counted
//! (the budget errs on the side of the host). The WASI resource table is
//! capped at [`MAX_WASI_RESOURCES`] entries.
//!
//! Output: the plugin's stdout and stderr go to its log
//! ([`super::output::PluginLog`]); a trap report ends with the last lines it
//! wrote.
//!
//! Compilers: a component is compiled once per machine and cached. On a
//! cache miss a large component (a JavaScript or Python plugin, which
//! carries its interpreter) is compiled by the baseline compiler (Winch,
//! where wasmtime has it: x86-64), about five times faster than by the
//! optimizing one (Cranelift), so the first run with it starts in about two
//! seconds instead of eight; its code runs a little slower (milliseconds per
//! call). A small one (a Rust plugin) compiles with Cranelift in a fraction
//! of a second anyway. [`Runtime::precompile`] (`wacme plugin install`)
//! writes the optimized form, which every later load prefers
//! ([`Compiler`], [`FirstCompile`]); so does the end of a run with
//! [`RuntimeOptions::tier_up`] (`wacme renew`) that loaded baseline code.
//!
//! Versions: a plugin exports `wacme:dns/provider` at one of
//! [`WIT_VERSIONS`]; the linker holds the imports of every one, and each
//! loaded plugin keeps the pre-instance of its own version ([`Pre`]).
//! Calls are made in the latest version's types; [`super::since_v0_1`]
//! converts for older plugins.

use super::batch::{Batched, Batches};
use super::bindings::latest::wacme::dns::types;
use super::bindings::{v0_1, v0_2};
use super::cache::CompileCache;
use super::config::ResolvedConfig;
use super::dns::ServerList;
use super::host::{CallCtx, Outbound};
use super::limits::{Limits, MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES, MAX_WASI_RESOURCES, TICK};
use super::metadata::PluginMetadata;
use super::net::Clients;
use super::output::Stream;
use super::policy::AllowList;
use super::redact::{Redactor, truncate};
use super::since_v0_1;
use super::store::{Limiter, MemoryLimitReached, State};
use super::wasi_http;
use super::{
    Error, Operation, ProviderError, ProviderErrorKind, TxtSet, WIT_VERSION, WIT_VERSIONS,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable, types::ComponentItem};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::WasiHttpCtx;

/// How to build a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    pub limits: Limits,
    /// Where compiled plugins are cached; `None` compiles in memory every time.
    pub cache_dir: Option<PathBuf>,
    /// Extra trust roots (PEM) for plugins' HTTPS endpoints.
    pub extra_roots: Vec<Vec<u8>>,
    /// Names pinned to addresses instead of being looked up (like curl's
    /// `--resolve`). Pinned addresses are subject to the address policy like
    /// looked-up ones: pinning is not the operator's trust.
    pub resolve: Vec<(String, Vec<IpAddr>)>,
    /// Which compiler compiles a component the cache does not hold.
    pub first_compile: FirstCompile,
    /// Note each plugin loaded with baseline code, so that
    /// [`Runtime::finish_tier_ups`] compiles its optimized form into the
    /// cache for later runs. For unattended runs (`wacme renew`), which can
    /// spend the seconds of CPU an interactive first run should not wait
    /// for. Needs a cache.
    pub tier_up: bool,
}

/// Which compiler compiles a component the cache does not hold (an
/// optimized entry in the cache is always used first). The baseline
/// compiler is Winch where wasmtime has it for this machine (x86-64);
/// elsewhere the optimizing one (Cranelift) does everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FirstCompile {
    /// The baseline compiler for components of at least
    /// [`BASELINE_MIN_BYTES`] (JavaScript and Python plugins, seconds to
    /// optimize), the optimizing one for smaller ones (a fraction of a
    /// second).
    #[default]
    Auto,
    /// The baseline compiler for every component.
    Baseline,
    /// The optimizing compiler for every component.
    Optimizing,
}

/// The size from which [`FirstCompile::Auto`] uses the baseline compiler:
/// Rust plugins are well below it (0.2–1.1 MiB), components carrying a
/// JavaScript or Python interpreter well above (12–33 MiB).
pub const BASELINE_MIN_BYTES: usize = 4 << 20;

/// The compiler that made a loaded plugin's machine code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compiler {
    /// Cranelift, optimizing: seconds of CPU for a JavaScript or Python
    /// plugin, the fastest code.
    Cranelift,
    /// Winch, wasmtime's baseline compiler: about a fifth of Cranelift's
    /// compile time, somewhat slower code.
    Winch,
}

impl Compiler {
    pub fn as_str(self) -> &'static str {
        match self {
            Compiler::Cranelift => "cranelift",
            Compiler::Winch => "winch",
        }
    }
}

/// One compiler's engine and the linker of every import for it.
struct Backend {
    engine: Engine,
    linker: Linker<State>,
    compiler: Compiler,
}

impl Backend {
    fn new(compiler: Compiler) -> Result<Backend, Error> {
        let rt = |e: &dyn std::fmt::Display| Error::Runtime(e.to_string());
        let mut config = wasmtime::Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        config.strategy(match compiler {
            Compiler::Cranelift => wasmtime::Strategy::Cranelift,
            Compiler::Winch => wasmtime::Strategy::Winch,
        });
        let engine = Engine::new(&config).map_err(|e| rt(&e))?;
        let mut linker: Linker<State> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| rt(&e))?;
        v0_1::DnsProvider::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(|e| rt(&e))?;
        v0_2::DnsProvider::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(|e| rt(&e))?;
        wasi_http::add_to_linker(&mut linker).map_err(|e| rt(&e))?;
        Ok(Backend {
            engine,
            linker,
            compiler,
        })
    }
}

impl RuntimeOptions {
    /// Defaults with the user's cache directory (`~/.cache/wacme/plugins`).
    pub fn with_user_cache() -> Self {
        let cache_dir =
            directories::ProjectDirs::from("", "", "wacme").map(|d| d.cache_dir().join("plugins"));
        RuntimeOptions {
            cache_dir,
            ..Default::default()
        }
    }
}

/// The plugin runtime: one per process. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    /// Cranelift: what the cache's optimized entries hold.
    optimizing: Backend,
    /// Winch, where wasmtime has it and [`FirstCompile`] may ask for it.
    baseline: Option<Backend>,
    first_compile: FirstCompile,
    cache: Option<CompileCache>,
    tier_up: bool,
    tier_ups: std::sync::Mutex<TierUps>,
    limits: Limits,
    http: Clients,
    ticker: Ticker,
    zone_gates: ZoneGates,
    batches: Batches,
}

/// Plugins loaded with baseline code whose optimized form is to be
/// compiled ([`RuntimeOptions::tier_up`]).
#[derive(Default)]
struct TierUps {
    /// The plugins (by SHA-256) noted: once per process.
    started: std::collections::HashSet<String>,
    /// Those not compiled yet.
    wanted: Vec<TierUp>,
}

/// A plugin whose optimized form is to be compiled.
struct TierUp {
    wasm: Vec<u8>,
    sha256: String,
    name: String,
}

/// Writes in flight per (plugin, zone), for plugins whose hints limit them:
/// shared by every session and order of the process, so that writes queue
/// here instead of colliding at the provider and being retried away.
#[derive(Default)]
struct ZoneGates {
    gates: std::sync::Mutex<HashMap<(String, String), Arc<tokio::sync::Semaphore>>>,
}

impl ZoneGates {
    /// Waits for a turn to write to `zone` through `plugin`; the turn ends
    /// when the permit drops.
    async fn enter(&self, plugin: &str, zone: &str, writes: u32) -> ZoneTurn<'_> {
        let key = (plugin.to_string(), zone.to_ascii_lowercase());
        let gate = self
            .gates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(writes as usize)))
            .clone();
        let permit = gate.clone().acquire_owned().await.ok();
        ZoneTurn {
            gates: self,
            key,
            gate,
            permit,
        }
    }
}

/// One turn to write to a zone; forgets the zone's gate when nobody else
/// holds or waits for it, so the map does not grow with every zone ever
/// written.
struct ZoneTurn<'g> {
    gates: &'g ZoneGates,
    key: (String, String),
    gate: Arc<tokio::sync::Semaphore>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Drop for ZoneTurn<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut gates = self.gates.gates.lock().unwrap_or_else(|e| e.into_inner());
        // The map's reference and ours: nobody else waits for this zone.
        if Arc::strong_count(&self.gate) == 2 {
            gates.remove(&self.key);
        }
    }
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.ticker.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.thread.take() {
            let _ = t.join();
        }
    }
}

struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(engines: &[&Engine]) -> std::io::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let engines: Vec<_> = engines.iter().map(|e| e.weak()).collect();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wacme-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    for engine in &engines {
                        match engine.upgrade() {
                            Some(e) => e.increment_epoch(),
                            None => return,
                        }
                    }
                }
            })?;
        Ok(Ticker {
            stop,
            thread: Some(thread),
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("deadline exceeded")]
struct DeadlineExceeded;

impl Runtime {
    /// Builds the engines (component model, epoch interruption; Cranelift,
    /// and Winch for first loads where wasmtime has it) and starts the epoch
    /// ticker.
    pub fn new(options: RuntimeOptions) -> Result<Self, Error> {
        let rt = |e: &dyn std::fmt::Display| Error::Runtime(e.to_string());
        let optimizing = Backend::new(Compiler::Cranelift)?;
        // Winch is complete on x86-64 only; elsewhere (or if it refuses this
        // configuration) first loads use Cranelift too.
        let baseline = (options.first_compile != FirstCompile::Optimizing
            && cfg!(target_arch = "x86_64"))
        .then(|| Backend::new(Compiler::Winch))
        .and_then(|b| {
            b.map_err(|e| tracing::debug!("no baseline compiler: {e}"))
                .ok()
        });
        // HTTP/1.1 only, as for the CA: the clients are shared by every
        // call of the process, and one troubled HTTP/2 connection would hold
        // all of them.
        let roots = options
            .extra_roots
            .iter()
            .map(|pem| reqwest::Certificate::from_pem(pem))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| rt(&e))?;
        let builder = || {
            let mut http = reqwest::Client::builder()
                .http1_only()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("wacme/", env!("CARGO_PKG_VERSION"), " (plugin)"))
                .connect_timeout(Duration::from_secs(10))
                .no_proxy();
            for cert in &roots {
                http = http.add_root_certificate(cert.clone());
            }
            http
        };
        let http = Clients::build(builder, &options.resolve).map_err(|e| rt(&e))?;
        let mut engines = vec![&optimizing.engine];
        engines.extend(baseline.as_ref().map(|b| &b.engine));
        let ticker = Ticker::start(&engines).map_err(|e| rt(&e))?;
        let cache = options.cache_dir.map(CompileCache::new);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                optimizing,
                baseline,
                first_compile: options.first_compile,
                cache,
                tier_up: options.tier_up,
                tier_ups: Default::default(),
                limits: options.limits,
                http,
                ticker,
                zone_gates: ZoneGates::default(),
                batches: Batches::default(),
            }),
        })
    }

    /// Whether `other` is this runtime (a clone of it).
    pub fn same(&self, other: &Runtime) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Loads a plugin from a `.wasm` file.
    pub async fn load_file(&self, path: &Path) -> Result<Plugin, Error> {
        let origin = path.display().to_string();
        let wasm = std::fs::read(path).map_err(|e| Error::Load {
            origin: origin.clone(),
            reason: e.to_string(),
        })?;
        self.load_bytes(&wasm, origin).await
    }

    /// Compiles `wasm` with the optimizing compiler into the cache, unless
    /// the cache holds that form already, so that no later run compiles the
    /// plugin and every run gets the optimized code (it is loaded too, as
    /// [`Runtime::load_bytes_with`] loads it). How long compiling took;
    /// `None` when the cache held it or when there is no cache to keep it in.
    pub async fn precompile(&self, wasm: &[u8], origin: &str) -> Result<Option<Duration>, Error> {
        if self.inner.cache.is_none() {
            return Ok(None);
        }
        let plugin = self
            .load_bytes_with(wasm, origin.to_string(), FirstCompile::Optimizing)
            .await?;
        Ok(plugin.load_times().compile)
    }

    /// Loads a plugin from component bytes; `origin` names it in messages.
    pub async fn load_bytes(&self, wasm: &[u8], origin: String) -> Result<Plugin, Error> {
        self.load_bytes_with(wasm, origin, self.inner.first_compile)
            .await
    }

    /// Loads a plugin from component bytes, compiling it with `first` when
    /// the cache holds no optimized form: `wacme plugin install` passes
    /// [`FirstCompile::Optimizing`], so the entry it leaves is the optimized
    /// one and nothing is compiled twice.
    pub async fn load_bytes_with(
        &self,
        wasm: &[u8],
        origin: String,
        first: FirstCompile,
    ) -> Result<Plugin, Error> {
        let load_err = |reason: String| Error::Load {
            origin: origin.clone(),
            reason,
        };
        check_component_header(wasm).map_err(load_err)?;
        let started = Instant::now();
        let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, wasm));
        // Compiling takes seconds for a large component (a JavaScript or
        // Python plugin carries its interpreter): off the async threads, so
        // other certificates' work goes on meanwhile.
        let (component, compile_time, compiler) = {
            let inner = self.inner.clone();
            let wasm = wasm.to_vec();
            let sha256 = sha256.clone();
            let name = plugin_name(&origin);
            tokio::task::spawn_blocking(move || {
                let optimizing = &inner.optimizing;
                // The optimized form, when `plugin install` wrote it, wins.
                if let Some(cache) = &inner.cache
                    && let Some(component) = cache.load_cached(&optimizing.engine, &sha256)
                {
                    return Ok((component, None, Compiler::Cranelift));
                }
                let backend = inner.first_backend(first, wasm.len());
                compile(inner.cache.as_ref(), backend, &wasm, &sha256, &name)
                    .map(|(c, took)| (c, took, backend.compiler))
            })
            .await
            .map_err(|e| load_err(format!("compiling stopped: {e}")))?
            .map_err(load_err)?
        };
        if let Some(took) = compile_time {
            tracing::debug!(
                "compiled {origin} with {} in {:.2} s",
                compiler.as_str(),
                took.as_secs_f64()
            );
        }
        let backend = self.inner.backend(compiler);
        let wit_version = check_exports(&backend.engine, &component).map_err(load_err)?;
        let pre = backend
            .linker
            .instantiate_pre(&component)
            .map_err(|e| load_err(format!("{e:#} ({})", accepted_imports(wit_version))))?;
        let typed = |e: wasmtime::Error| load_err(format!("{e:#}"));
        let pre = match wit_version {
            "0.1.0" => Pre::V0_1(v0_1::DnsProviderPre::new(pre).map_err(typed)?),
            _ => Pre::V0_2(v0_2::DnsProviderPre::new(pre).map_err(typed)?),
        };

        let mut plugin = PluginInner {
            runtime: self.clone(),
            compiler,
            pre,
            wit_version,
            metadata: None,
            sha256,
            origin: origin.clone(),
            size: wasm.len(),
            load: LoadTimes::default(),
        };
        let metadata = plugin.call_metadata().await?;
        metadata
            .validate()
            .map_err(|reason| Error::Metadata { origin, reason })?;
        plugin.metadata = Some(metadata);
        if compiler != Compiler::Cranelift && self.inner.tier_up {
            self.want_tier_up(wasm, &plugin.sha256, &plugin.origin);
        }
        plugin.load = LoadTimes {
            compile: compile_time,
            total: started.elapsed(),
        };
        Ok(Plugin {
            inner: Arc::new(plugin),
        })
    }
}

impl Runtime {
    /// Notes a plugin just loaded with baseline code, once per plugin, for
    /// [`Runtime::finish_tier_ups`].
    fn want_tier_up(&self, wasm: &[u8], sha256: &str, origin: &str) {
        if self.inner.cache.is_none() {
            return;
        }
        let mut tier_ups = self
            .inner
            .tier_ups
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if tier_ups.started.insert(sha256.to_string()) {
            tier_ups.wanted.push(TierUp {
                wasm: wasm.to_vec(),
                sha256: sha256.to_string(),
                name: plugin_name(origin),
            });
        }
    }

    /// Compiles the optimized form of each plugin loaded with baseline code
    /// so far ([`RuntimeOptions::tier_up`]) into the cache, one after the
    /// other, and returns when they are stored. The compiling runs on a
    /// thread of its own, not on the blocking pool, so that a caller that
    /// stops waiting (Ctrl-C) can end the process at once; the baseline
    /// form then stays and is used again.
    pub async fn finish_tier_ups(&self) {
        let wanted = std::mem::take(
            &mut self
                .inner
                .tier_ups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .wanted,
        );
        let Some(cache) = self.inner.cache.clone() else {
            return;
        };
        if wanted.is_empty() {
            return;
        }
        let engine = self.inner.optimizing.engine.clone();
        let (done, finished) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("wacme-tier-up".into())
            .spawn(move || {
                for TierUp { wasm, sha256, name } in wanted {
                    let announce = |_| {
                        tracing::info!(
                            target: NOTICE,
                            "compiling plugin {name}'s optimized form ({}) for later runs",
                            human_size(wasm.len())
                        )
                    };
                    match cache.load_or_compile(&engine, &wasm, &sha256, announce) {
                        Ok((_, Some(took))) => tracing::debug!(
                            "compiled {name}'s optimized form in {:.2} s",
                            took.as_secs_f64()
                        ),
                        Ok((_, None)) => {}
                        Err(e) => {
                            tracing::warn!("plugin {name}: its optimized form did not compile: {e}")
                        }
                    }
                }
                let _ = done.send(());
            });
        match spawned {
            Ok(_) => {
                let _ = finished.await;
            }
            Err(e) => tracing::warn!("no thread to compile optimized plugin forms: {e}"),
        }
    }
}

/// What loading a plugin cost, in this process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadTimes {
    /// Compiling it to machine code; `None` when the compiled form came
    /// from the cache (`wacme plugin install` fills it).
    pub compile: Option<Duration>,
    /// Everything: reading the compiled form (or compiling), linking, and
    /// the `metadata` call.
    pub total: Duration,
}

/// The file name without `.wasm`: how messages name a plugin.
fn plugin_name(origin: &str) -> String {
    let file = origin.rsplit(['/', '\\']).next().unwrap_or(origin);
    file.strip_suffix(".wasm").unwrap_or(file).to_string()
}

/// Compiles `wasm` with `backend`, through the cache when there is one
/// (the operator is told first: a large component takes seconds); also how
/// long compiling took, `None` when the cache held it.
fn compile(
    cache: Option<&CompileCache>,
    backend: &Backend,
    wasm: &[u8],
    sha256: &str,
    name: &str,
) -> Result<(Component, Option<Duration>), String> {
    let announce = |cached: bool| announce_compile(name, wasm.len(), cached);
    match cache {
        Some(cache) => cache.load_or_compile(&backend.engine, wasm, sha256, announce),
        None => {
            announce(false);
            let started = Instant::now();
            Component::new(&backend.engine, wasm)
                .map(|c| (c, Some(started.elapsed())))
                .map_err(|e| format!("{e:#}"))
        }
    }
}

impl RuntimeInner {
    /// The backend that compiles, as `first` says, a component of `size`
    /// bytes the cache does not hold.
    fn first_backend(&self, first: FirstCompile, size: usize) -> &Backend {
        match (first, &self.baseline) {
            (FirstCompile::Baseline, Some(baseline)) => baseline,
            (FirstCompile::Auto, Some(baseline)) if size >= BASELINE_MIN_BYTES => baseline,
            _ => &self.optimizing,
        }
    }

    /// The engine and linker of `compiler`.
    fn backend(&self, compiler: Compiler) -> &Backend {
        match (compiler, &self.baseline) {
            (Compiler::Winch, Some(baseline)) => baseline,
            _ => &self.optimizing,
        }
    }
}

/// The operator's notice that a plugin is being compiled (seconds for a
/// large one), shown by default (`--quiet` hides it).
fn announce_compile(name: &str, size: usize, cached: bool) {
    let size = human_size(size);
    if cached {
        tracing::info!(target: NOTICE, "compiling plugin {name} ({size}) once; cached for next runs");
    } else {
        tracing::info!(target: NOTICE, "compiling plugin {name} ({size}); not cached, so every run compiles it");
    }
}

/// The tracing target of messages the operator sees without `-v`.
pub const NOTICE: &str = "wacme::notice";

/// `12.3 MiB`, `840 KiB`.
fn human_size(bytes: usize) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes as f64 >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// What a plugin may import, for the message refusing one that imports
/// something else.
fn accepted_imports(wit_version: &str) -> String {
    format!(
        "plugins may import only WASI 0.2 (cli, clocks, filesystem, io, random, sockets, and \
         of wasi:http the `types` and `outgoing-handler` interfaces) and wacme:dns@{wit_version}"
    )
}

/// A component binary starts with `\0asm` and the component layer's version.
fn check_component_header(wasm: &[u8]) -> Result<(), String> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err("not a WebAssembly file".into());
    }
    if wasm[6..8] == [0, 0] {
        return Err(format!(
            "a core WebAssembly module, not a component: build the plugin with \
             `cargo build --target wasm32-wasip2` so it exports wacme:dns@{WIT_VERSION}"
        ));
    }
    Ok(())
}

/// The supported WIT version whose provider interface the component
/// exports.
fn check_exports(engine: &Engine, component: &Component) -> Result<&'static str, String> {
    let ty = component.component_type();
    let mut other_versions = Vec::new();
    for (name, item) in ty.exports(engine) {
        let Some(version) = name.strip_prefix("wacme:dns/provider@") else {
            continue;
        };
        match WIT_VERSIONS.iter().find(|v| **v == version) {
            Some(v) if matches!(item.ty, ComponentItem::ComponentInstance(_)) => return Ok(v),
            _ => other_versions.push(version.to_string()),
        }
    }
    let supported = supported_versions();
    if other_versions.is_empty() {
        Err(format!(
            "it does not export `wacme:dns/provider`, so it is not a wacme DNS provider \
             (this wacme supports {supported})"
        ))
    } else {
        Err(format!(
            "it was built for wacme:dns@{}, but this wacme supports {supported}; \
             rebuild the plugin against wacme-plugin-sdk for {WIT_VERSION}, or use a wacme \
             that supports its version",
            other_versions.join(", ")
        ))
    }
}

/// `wacme:dns@0.1.0 and 0.2.0`.
fn supported_versions() -> String {
    let (last, rest) = WIT_VERSIONS.split_last().expect("at least one version");
    if rest.is_empty() {
        format!("wacme:dns@{last}")
    } else {
        format!("wacme:dns@{} and {last}", rest.join(", "))
    }
}

/// A compiled plugin ready to instantiate, in the bindings of its version.
enum Pre {
    V0_1(v0_1::DnsProviderPre<State>),
    V0_2(v0_2::DnsProviderPre<State>),
}

/// One instance of a plugin.
enum Instance {
    V0_1(v0_1::DnsProvider),
    V0_2(v0_2::DnsProvider),
}

/// A loaded plugin. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    runtime: Runtime,
    /// Which engine `pre` belongs to.
    compiler: Compiler,
    pre: Pre,
    wit_version: &'static str,
    metadata: Option<PluginMetadata>,
    sha256: String,
    origin: String,
    size: usize,
    load: LoadTimes,
}

impl Plugin {
    /// The compiler that made the code this plugin runs.
    pub fn compiler(&self) -> Compiler {
        self.inner.compiler
    }

    /// What loading it cost.
    pub fn load_times(&self) -> LoadTimes {
        self.inner.load
    }

    pub fn metadata(&self) -> &PluginMetadata {
        self.inner.metadata.as_ref().expect("set at load")
    }

    /// The `wacme:dns` version the plugin was built for (`0.2.0`).
    pub fn wit_version(&self) -> &'static str {
        self.inner.wit_version
    }

    /// Hex SHA-256 of the component bytes.
    pub fn sha256(&self) -> &str {
        &self.inner.sha256
    }

    /// Where it was loaded from.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// Binds the plugin to a resolved config and the operator's optional
    /// allowlist (`--plugin-allow`).
    pub fn session(
        &self,
        config: &ResolvedConfig,
        operator_allow: &[String],
    ) -> Result<Session, Error> {
        let policy = |error| Error::Policy {
            plugin: self.metadata().name.clone(),
            error,
        };
        let http = AllowList::build(&self.metadata().allowed_hosts, config, operator_allow)
            .map_err(policy)?;
        let dns = ServerList::build(&self.metadata().dns_servers, config).map_err(policy)?;
        // Sessions of the same plugin bytes, config and operator list may
        // share batches: a batch call is made with any one of them.
        let mut identity = ring::digest::Context::new(&ring::digest::SHA256);
        identity.update(self.sha256().as_bytes());
        for (k, v) in config.pairs() {
            for part in [k.as_bytes(), b"\0", v.as_bytes(), b"\0"] {
                identity.update(part);
            }
        }
        for origin in operator_allow {
            identity.update(origin.as_bytes());
            identity.update(b"\0");
        }
        Ok(Session {
            plugin: self.clone(),
            key: Arc::from(hex::encode(identity.finish())),
            config: Arc::new(config.pairs()),
            outbound: Arc::new(Outbound { http, dns }),
            redactor: Arc::new(Redactor::new(config.secrets())),
            requests: Arc::new(AtomicU64::new(0)),
            no_batches: false,
        })
    }
}

impl PluginInner {
    async fn call_metadata(&self) -> Result<PluginMetadata, Error> {
        let name = self.origin.clone();
        let limit = self.runtime.inner.limits.call_timeout;
        let ctx = CallCtx::new(
            name.clone(),
            self.runtime.inner.http.clone(),
            Arc::new(Outbound::default()),
            Arc::new(Redactor::default()),
            self.runtime.inner.limits,
            Instant::now() + limit,
            Arc::new(AtomicU64::new(0)),
        );
        let run = async |store: &mut Store<State>, instance: Instance| match instance {
            Instance::V0_1(i) => i
                .wacme_dns_provider()
                .call_metadata(store)
                .await
                .map(since_v0_1::metadata),
            Instance::V0_2(i) => i
                .wacme_dns_provider()
                .call_metadata(store)
                .await
                .map(PluginMetadata::from),
        };
        self.run(ctx, Operation::Metadata, limit, &name, run).await
    }

    /// Instantiates in a fresh store and runs `f`, mapping traps, deadlines
    /// and the memory cap to [`Error`]s.
    async fn run<R>(
        &self,
        ctx: CallCtx,
        op: Operation,
        limit: Duration,
        plugin: &str,
        f: impl AsyncFnOnce(&mut Store<State>, Instance) -> wasmtime::Result<R>,
    ) -> Result<R, Error> {
        let inner = &self.runtime.inner;
        let deadline = Instant::now() + limit;
        let redactor = ctx.redactor.clone();
        let max_message = inner.limits.max_message_bytes;
        let output = ctx.output.clone();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_WASI_RESOURCES);
        let wasi = WasiCtxBuilder::new()
            .stdout(output.stream(Stream::Stdout))
            .stderr(output.stream(Stream::Stderr))
            .build();
        let mut store = Store::new(
            &inner.backend(self.compiler).engine,
            State {
                wasi,
                http: WasiHttpCtx::new(),
                table,
                limiter: Limiter::new(inner.limits.memory_bytes),
                call: ctx,
            },
        );
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::from(DeadlineExceeded))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let work = async {
            let instance = match &self.pre {
                Pre::V0_1(pre) => Instance::V0_1(pre.instantiate_async(&mut store).await?),
                Pre::V0_2(pre) => Instance::V0_2(pre.instantiate_async(&mut store).await?),
            };
            f(&mut store, instance).await
        };
        // Backstop for time spent in host calls, where epochs do not fire.
        let outcome = tokio::time::timeout(limit + TICK * 20, work).await;
        output.finish();
        let timeout = || Error::Timeout {
            plugin: plugin.to_string(),
            op,
            limit,
        };
        let err = match outcome {
            Err(_) => return Err(timeout()),
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => err,
        };
        if err.is::<DeadlineExceeded>() {
            return Err(timeout());
        }
        let mut reason = if store.data().limiter.hit || err.is::<MemoryLimitReached>() {
            format!(
                "was stopped: it exceeded its memory limit of {} MiB (all memories and tables \
                 together)",
                inner.limits.memory_bytes >> 20
            )
        } else {
            match err.downcast_ref::<wasmtime::Trap>() {
                Some(wasmtime::Trap::StackOverflow) => {
                    "was stopped: it overflowed its stack".to_string()
                }
                Some(wasmtime::Trap::Interrupt) => return Err(timeout()),
                Some(wasmtime::Trap::UnreachableCodeReached) => {
                    "trapped: unreachable code reached".to_string()
                }
                Some(trap) => {
                    let text = trap.to_string();
                    format!(
                        "trapped: {}",
                        text.strip_prefix("wasm trap: ").unwrap_or(&text)
                    )
                }
                None => {
                    let text = truncate(&redactor.redact(&format!("{err:#}")), max_message);
                    if text.contains("resource limit exceeded") {
                        format!(
                            "was stopped: {text} (at most {MAX_INSTANCES} instances, \
                             {MAX_MEMORIES} memories and {MAX_TABLES} tables)"
                        )
                    } else {
                        format!("failed: {text}")
                    }
                }
            }
        };
        if let Some(tail) = output.tail() {
            reason.push_str("; it last wrote: ");
            reason.push_str(&truncate(&tail, max_message));
        }
        Err(Error::Trap {
            plugin: plugin.to_string(),
            op,
            reason,
        })
    }
}

/// A plugin bound to one configuration: the unit the DNS-01 engine uses.
/// Cheap to clone; calls may run concurrently (each in its own store).
#[derive(Clone)]
pub struct Session {
    plugin: Plugin,
    config: Arc<Vec<(String, String)>>,
    /// Which sessions may share a batch (plugin bytes, config, allow list).
    key: Arc<str>,
    outbound: Arc<Outbound>,
    redactor: Arc<Redactor>,
    requests: Arc<AtomicU64>,
    /// The operator turned the plugin's batch exports off.
    no_batches: bool,
}

impl Session {
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// Origins the plugin may reach with this config.
    pub fn allowed_origins(&self) -> Vec<String> {
        self.outbound
            .http
            .origins()
            .iter()
            .map(|o| o.to_string())
            .collect()
    }

    /// Nameservers the plugin may send DNS messages to with this config
    /// (`host:port`).
    pub fn dns_servers(&self) -> Vec<String> {
        self.outbound.dns.servers()
    }

    /// HTTP requests and DNS exchanges the plugin made through this session
    /// so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Text with this session's secrets redacted.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// Makes `set.fqdn` carry at least `set.values`. For a plugin whose
    /// hints say `batch`, the call may go out in a batch with other names
    /// of the zone ([`super::batch`]).
    pub async fn present(&self, set: &TxtSet) -> Result<(), Error> {
        self.one(Operation::Present, set).await
    }

    /// Removes exactly `set.values` from `set.fqdn`; batched as
    /// [`Session::present`].
    pub async fn cleanup(&self, set: &TxtSet) -> Result<(), Error> {
        self.one(Operation::Cleanup, set).await
    }

    /// Whether calls go through the plugin's batch exports (its hints say
    /// `batch` and the operator did not turn them off).
    pub fn batches(&self) -> bool {
        !self.no_batches
            && self.plugin.metadata().hints.batch
            && self.plugin.wit_version() != "0.1.0"
    }

    /// The session calling the plugin once per name, never through its
    /// batch exports: the operator's way around a provider whose batch
    /// endpoint misbehaves. Writes still take the zone's turns.
    pub fn without_batches(mut self) -> Session {
        self.no_batches = true;
        self
    }

    async fn one(&self, op: Operation, set: &TxtSet) -> Result<(), Error> {
        if self.batches() {
            let key = (self.key.clone(), op, set.zone.to_ascii_lowercase());
            let batches = &self.plugin.inner.runtime.inner.batches;
            let outcome = batches
                .submit(
                    key,
                    set.clone(),
                    self.zone_turn(&set.zone),
                    |sets| async move {
                        let result = self.call_many(op, &sets, true).await;
                        if let Err(e) = &result {
                            tracing::info!(
                                "{e}; calling {op} again for each of the {} names alone",
                                sets.len()
                            );
                        }
                        result
                    },
                )
                .await;
            if outcome == Batched::Done {
                return Ok(());
            }
        }
        self.call(op, set).await
    }

    /// Makes every set carry at least its values: one call of the batch
    /// export when the plugin's hints say `batch` (every set must be of one
    /// zone), one [`Session::present`] per set otherwise.
    pub async fn present_many(&self, sets: &[TxtSet]) -> Result<(), Error> {
        self.call_many(Operation::Present, sets, false).await
    }

    /// Removes exactly each set's values, as [`Session::present_many`].
    pub async fn cleanup_many(&self, sets: &[TxtSet]) -> Result<(), Error> {
        self.call_many(Operation::Cleanup, sets, false).await
    }

    /// A turn to write to `zone`, when the plugin's hints limit writes per
    /// zone.
    async fn zone_turn(&self, zone: &str) -> Option<ZoneTurn<'_>> {
        let plugin = &self.plugin.inner;
        let writes = self.plugin.metadata().hints.zone_write_concurrency;
        let waited = Instant::now();
        let turn = match writes {
            0 => None,
            n => Some(
                plugin
                    .runtime
                    .inner
                    .zone_gates
                    .enter(&self.plugin.metadata().name, zone, n)
                    .await,
            ),
        };
        if waited.elapsed() > Duration::from_millis(1) {
            tracing::debug!(plugin = %self.plugin.metadata().name, %zone,
                waited_ms = waited.elapsed().as_millis() as u64,
                "waited for a turn to write to the zone");
        }
        turn
    }

    /// The sets in one batch call (or one call each for a plugin that does
    /// not batch); `turn_held` when the caller already holds the zone's turn.
    async fn call_many(
        &self,
        op: Operation,
        sets: &[TxtSet],
        turn_held: bool,
    ) -> Result<(), Error> {
        let batch = self.batches();
        if !batch {
            for set in sets {
                self.call(op, set).await?;
            }
            return Ok(());
        }
        let wit_sets: Vec<types::TxtSet> = sets.iter().map(wit_set).collect();
        let fqdns = sets.iter().map(|s| s.fqdn.as_str()).collect::<Vec<_>>();
        self.invoke(
            op,
            (!turn_held).then_some(sets[0].zone.as_str()),
            &fqdns.join(","),
            async |store, config, instance| match instance {
                Instance::V0_2(i) => {
                    let provider = i.wacme_dns_provider();
                    match op {
                        Operation::Present => {
                            provider.call_present_many(store, config, &wit_sets).await
                        }
                        _ => provider.call_cleanup_many(store, config, &wit_sets).await,
                    }
                }
                Instance::V0_1(_) => unreachable!("0.1.0 plugins have no batch exports"),
            },
        )
        .await
    }

    async fn call(&self, op: Operation, set: &TxtSet) -> Result<(), Error> {
        self.invoke(
            op,
            Some(&set.zone),
            &set.fqdn,
            async |store, config, instance| match instance {
                Instance::V0_1(i) => {
                    let provider = i.wacme_dns_provider();
                    let old = since_v0_1::txt_set(set);
                    let result = match op {
                        Operation::Present => provider.call_present(store, config, &old).await,
                        _ => provider.call_cleanup(store, config, &old).await,
                    };
                    result.map(|r| r.map_err(since_v0_1::provider_error))
                }
                Instance::V0_2(i) => {
                    let provider = i.wacme_dns_provider();
                    let new = wit_set(set);
                    match op {
                        Operation::Present => provider.call_present(store, config, &new).await,
                        _ => provider.call_cleanup(store, config, &new).await,
                    }
                }
            },
        )
        .await
    }

    /// Runs `f` on a fresh instance under the session's limits and maps a
    /// provider error; `what` names the records in the debug log. Waits
    /// first for a turn on `zone` (unless `None`: the caller holds it) when
    /// the plugin's hints limit writes per zone (the call's deadline starts
    /// after the wait).
    async fn invoke(
        &self,
        op: Operation,
        zone: Option<&str>,
        what: &str,
        f: impl AsyncFnOnce(
            &mut Store<State>,
            &Vec<(String, String)>,
            Instance,
        ) -> wasmtime::Result<Result<(), types::ProviderError>>,
    ) -> Result<(), Error> {
        let plugin = &self.plugin.inner;
        let limits = plugin.runtime.inner.limits;
        let name = self.plugin.metadata().name.clone();
        let _turn = match zone {
            Some(zone) => self.zone_turn(zone).await,
            None => None,
        };
        let ctx = CallCtx::new(
            name.clone(),
            plugin.runtime.inner.http.clone(),
            self.outbound.clone(),
            self.redactor.clone(),
            limits,
            Instant::now() + limits.call_timeout,
            self.requests.clone(),
        );
        let config = self.config.as_ref().clone();
        let started = Instant::now();
        let run =
            async |store: &mut Store<State>, instance: Instance| f(store, &config, instance).await;
        let result = plugin.run(ctx, op, limits.call_timeout, &name, run).await?;
        tracing::debug!(plugin = %name, %op, fqdn = %what,
            elapsed_ms = started.elapsed().as_millis() as u64, ok = result.is_ok(), "plugin call");
        result.map_err(|e| Error::Provider {
            plugin: name,
            op,
            error: self.provider_error(e, limits.max_message_bytes),
        })
    }

    fn provider_error(&self, e: types::ProviderError, max: usize) -> ProviderError {
        use types::ProviderError as W;
        let (kind, message, retry_after) = match e {
            W::InvalidConfig(m) => (ProviderErrorKind::InvalidConfig, m, None),
            W::Authentication(m) => (ProviderErrorKind::Authentication, m, None),
            W::ZoneNotFound(m) => (ProviderErrorKind::ZoneNotFound, m, None),
            W::RateLimited(r) => (
                ProviderErrorKind::RateLimited,
                r.message,
                r.retry_after_secs.map(|s| Duration::from_secs(s.into())),
            ),
            W::Transient(m) => (ProviderErrorKind::Transient, m, None),
            W::Permanent(m) => (ProviderErrorKind::Permanent, m, None),
        };
        ProviderError {
            kind,
            message: truncate(&self.redactor.redact(&message), max),
            retry_after,
        }
    }
}

/// A TXT set in the latest WIT types.
fn wit_set(set: &TxtSet) -> types::TxtSet {
    types::TxtSet {
        zone: set.zone.clone(),
        fqdn: set.fqdn.clone(),
        relative_name: set.relative_name.clone(),
        values: set.values.clone(),
        ttl: set.ttl,
    }
}
