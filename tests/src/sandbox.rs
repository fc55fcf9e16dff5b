//! What the sandbox suites share: a test plugin (the hostile one, or the
//! one speaking standard `wasi:http`) loaded into a runtime of its own
//! (compile cache in a temporary folder), and the record set its calls get.

use wacme::plugins::{Plugin, Runtime, RuntimeOptions, TxtSet};

/// A test plugin (the hostile one unless loaded with [`load_test_plugin`])
/// and the folder caching its compiled form.
pub struct Hostile {
    _cache: tempfile::TempDir,
    pub plugin: Plugin,
}

/// Loads `tests/plugins/hostile` into a runtime built from `options` (its
/// cache folder is replaced by a temporary one).
pub async fn load_hostile(options: RuntimeOptions) -> Hostile {
    load_test_plugin("hostile", options).await
}

/// Loads `tests/plugins/<name>` into a runtime built from `options` (its
/// cache folder is replaced by a temporary one).
pub async fn load_test_plugin(name: &str, options: RuntimeOptions) -> Hostile {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..options
    })
    .unwrap();
    let plugin = runtime.load_file(&crate::plugin_wasm(name)).await.unwrap();
    Hostile {
        _cache: cache,
        plugin,
    }
}

/// `_acme-challenge.example.test` carrying `values`.
pub fn challenge_set(values: &[&str]) -> TxtSet {
    crate::provider_suite::txt_set("_acme-challenge.example.test", values, 60)
}
