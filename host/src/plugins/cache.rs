//! On-disk cache of compiled plugins.
//!
//! Compiling a component takes a fraction of a second for a Rust plugin and
//! seconds of CPU for a JavaScript or Python one, which carries its
//! interpreter (BENCHMARKS.md, "First load"); loading its compiled form takes
//! milliseconds. Entries are keyed by the SHA-256 of the component bytes and
//! the engine's compatibility hash (wasmtime version, target, compiler and
//! settings), so a new wacme or a changed plugin never picks up a stale
//! entry, and a plugin's baseline (Winch) and optimized (Cranelift) forms
//! are two entries.
//!
//! Deserializing compiled code is only safe for files this host wrote, so an
//! entry carries the SHA-256 of its payload, which is checked before use, and
//! the cache directory must be private to the user (0700, owned by us). An
//! entry that fails either check, or that wasmtime refuses, is recompiled and
//! rewritten, never trusted.

use crate::fsx::{Mode, create_private_dir, write_atomic};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 8] = b"wacmecw1";

#[derive(Clone)]
pub(crate) struct CompileCache {
    dir: PathBuf,
}

/// Feeds `Hash` output into SHA-256 (stable, unlike `DefaultHasher`).
struct Sha256Hasher(ring::digest::Context);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        unreachable!("only used through `digest`")
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl CompileCache {
    pub(crate) fn new(dir: PathBuf) -> Self {
        CompileCache { dir }
    }

    /// Path of the entry for `wasm_sha256` under `engine`.
    fn entry_path(&self, engine: &Engine, wasm_sha256: &str) -> PathBuf {
        let mut hasher = Sha256Hasher(ring::digest::Context::new(&ring::digest::SHA256));
        hasher.write(wasm_sha256.as_bytes());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let key = hex::encode(hasher.0.finish());
        self.dir.join(format!("{key}.cwasm"))
    }

    /// The compiled component from a valid entry for `wasm_sha256` under
    /// `engine`, if there is one; nothing is compiled. An entry that fails
    /// its checks is ignored (with a warning) and left to be rewritten.
    pub(crate) fn load_cached(&self, engine: &Engine, wasm_sha256: &str) -> Option<Component> {
        if !self.dir_is_private() {
            return None;
        }
        match self.load(engine, &self.entry_path(engine, wasm_sha256)) {
            Ok(found) => found,
            Err(reason) => {
                tracing::warn!("ignoring cached plugin: {reason}");
                None
            }
        }
    }

    /// The compiled component, from the cache when a valid entry exists,
    /// else compiled now (`announce` is told first: compiling a large
    /// component takes seconds) and stored (a failure to store is only
    /// logged). The second value is how long compiling took, `None` when the
    /// cache answered.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        wasm_sha256: &str,
        announce: impl FnOnce(bool),
    ) -> Result<(Component, Option<Duration>), String> {
        let path = self.entry_path(engine, wasm_sha256);
        let usable = self.dir_is_private();
        if usable {
            match self.load(engine, &path) {
                Ok(Some(component)) => return Ok((component, None)),
                Ok(None) => {}
                Err(reason) => tracing::warn!(
                    "ignoring cached plugin {}: {reason}; recompiling",
                    path.display()
                ),
            }
        }
        announce(usable);
        let started = Instant::now();
        let compiled = engine
            .precompile_component(wasm)
            .map_err(|e| format!("{e:#}"))?;
        let compile_time = started.elapsed();
        // SAFETY: the bytes were produced by this engine just now.
        let component =
            unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| format!("{e:#}"))?;
        if usable {
            let digest = ring::digest::digest(&ring::digest::SHA256, &compiled);
            let mut file = Vec::with_capacity(MAGIC.len() + 32 + compiled.len());
            file.extend_from_slice(MAGIC);
            file.extend_from_slice(digest.as_ref());
            file.extend_from_slice(&compiled);
            if let Err(e) = write_atomic(&path, &file, Mode::Private) {
                tracing::warn!("cannot cache compiled plugin at {}: {e}", path.display());
            }
        }
        Ok((component, Some(compile_time)))
    }

    fn load(&self, engine: &Engine, path: &Path) -> Result<Option<Component>, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        if bytes.len() < MAGIC.len() + 32 || &bytes[..MAGIC.len()] != MAGIC {
            return Err("not a wacme cache entry".into());
        }
        let (digest, payload) = bytes[MAGIC.len()..].split_at(32);
        if ring::digest::digest(&ring::digest::SHA256, payload).as_ref() != digest {
            return Err("checksum mismatch (corrupt entry)".into());
        }
        // SAFETY: the payload is bit-for-bit what this host wrote (checksum
        // above) into a directory only this user can write (checked by the
        // caller); wasmtime also checks its own header and compatibility.
        unsafe { Component::deserialize(engine, payload) }
            .map(Some)
            .map_err(|e| format!("{e:#}"))
    }

    /// Creates the directory if needed; true when it is ours and not
    /// writable by anyone else.
    fn dir_is_private(&self) -> bool {
        if let Err(e) = create_private_dir(&self.dir) {
            tracing::warn!("plugin cache {} unavailable: {e}", self.dir.display());
            return false;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let Ok(meta) = std::fs::metadata(&self.dir) else {
                return false;
            };
            let uid = rustix::process::geteuid().as_raw();
            if meta.uid() != uid || meta.mode() & 0o022 != 0 {
                tracing::warn!(
                    "plugin cache {} is writable by others; not using it",
                    self.dir.display()
                );
                return false;
            }
        }
        true
    }
}
