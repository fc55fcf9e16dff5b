//! A plugin written in Python (componentize-py): when it raises, the
//! exception's message reaches the operator in the error, secrets redacted,
//! instead of a bare "unreachable code reached".
//!
//! Needs `componentize-py` (CI installs the pinned version); skips loudly on
//! a developer machine without it.

use std::path::PathBuf;
use std::process::Command;
use wacme::plugins::config::Sources;
use wacme::plugins::{Runtime, RuntimeOptions};

/// The version `.ci/run` installs.
const PIN: &str = "componentize-py==0.25.1";

/// Builds `tests/plugins/<name>/app.py` into a component (once per source
/// change) under the target directory.
fn build(name: &str) -> Option<PathBuf> {
    let Some(tool) = wacme_tests::find_program("componentize-py") else {
        eprintln!("*** componentize-py: pip install '{PIN}' ***");
        // Fails under CI; says loudly that the test is skipped elsewhere.
        wacme_tests::require_program("componentize-py");
        return None;
    };
    let source = wacme_tests::workspace_root()
        .join("tests/plugins")
        .join(name)
        .join("app.py");
    let out = wacme_tests::target_dir().join("python-plugins").join(name);
    std::fs::create_dir_all(&out).unwrap();
    let wasm = out.join(format!("{name}.wasm"));
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&wasm).is_none() || modified(&wasm) < modified(&source) {
        // Built from a copy, so that no __pycache__ lands in the tree.
        std::fs::copy(&source, out.join("app.py")).unwrap();
        let status = Command::new(tool)
            .arg("-d")
            .arg(wacme_tests::workspace_root().join("wit/v0.2"))
            .args(["-w", "dns-provider", "componentize", "app", "-o"])
            .arg(&wasm)
            .current_dir(&out)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .status()
            .expect("run componentize-py");
        assert!(status.success(), "componentize-py failed for {name}");
    }
    Some(wasm)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_exception_reaches_the_operator_redacted() {
    let Some(wasm) = build("python-raise") else {
        return;
    };
    // A cache of its own: the first load is the one under test.
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let plugin = runtime.load_file(&wasm).await.unwrap();
    assert_eq!(
        plugin.wit_version(),
        "0.2.0",
        "componentize-py builds 0.2.0 too"
    );
    assert_eq!(plugin.metadata().name, "python-raise");
    // A large component's first load: the baseline compiler where there is one.
    #[cfg(target_arch = "x86_64")]
    assert_eq!(plugin.compiler(), wacme::plugins::Compiler::Winch);
    let config =
        Sources::resolve_pairs(plugin.metadata(), &[("token", "py-5ecret-token")]).unwrap();
    let set = wacme_tests::sandbox::challenge_set(&["v"]);
    let err = plugin
        .session(&config, &[])
        .unwrap()
        .present(&set)
        .await
        .expect_err("the plugin raises")
        .to_string();
    assert!(err.contains("trapped"), "{err}");
    assert!(
        err.contains("ValueError: zone example.test refused token [REDACTED]"),
        "the exception's message: {err}"
    );
    assert!(!err.contains("py-5ecret-token"), "{err}");
}
