//! What the sandbox suites share: the hostile test plugin loaded into a
//! runtime of its own (compile cache in a temporary folder), and the record
//! set its calls get.

use wacme::plugins::{Plugin, Runtime, RuntimeOptions, TxtSet};

/// The hostile plugin and the folder caching its compiled form.
pub struct Hostile {
    _cache: tempfile::TempDir,
    pub plugin: Plugin,
}

/// Loads `tests/plugins/hostile` into a runtime built from `options` (its
/// cache folder is replaced by a temporary one).
pub async fn load_hostile(options: RuntimeOptions) -> Hostile {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..options
    })
    .unwrap();
    let plugin = runtime
        .load_file(&crate::plugin_wasm("hostile"))
        .await
        .unwrap();
    Hostile {
        _cache: cache,
        plugin,
    }
}

/// `_acme-challenge.example.test` carrying `values`.
pub fn challenge_set(values: &[&str]) -> TxtSet {
    crate::provider_suite::txt_set("_acme-challenge.example.test", values, 60)
}
