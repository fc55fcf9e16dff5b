//! Loading plugins: the compile cache (hits, corrupt and foreign entries),
//! files that are not components, and components built for another WIT
//! version; and the `wacme plugin list|inspect` commands.

use std::path::{Path, PathBuf};
use std::process::Command;
use wacme::plugins::{Compiler, Error, FirstCompile, Runtime, RuntimeOptions};

fn runtime(cache: &Path) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.to_path_buf()),
        ..Default::default()
    })
    .unwrap()
}

fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn compiled_plugins_are_cached_and_bad_entries_recompiled() {
    let home = tempfile::tempdir().unwrap();
    // Not there yet: wacme creates it, private.
    let cache = home.path().join("cache/plugins");
    let cache = cache.as_path();
    let wasm = wacme_tests::plugin_wasm("pdns");
    let first = runtime(cache).load_file(&wasm).await.unwrap();
    let entries = cache_entries(cache);
    assert_eq!(entries.len(), 1, "one entry per plugin and engine");
    let entry = &entries[0];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(entry).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(cache).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    let good = std::fs::read(entry).unwrap();
    assert!(first.load_times().compile.is_some(), "compiled");

    // A cache hit gives the same plugin, and compiles nothing.
    let second = runtime(cache).load_file(&wasm).await.unwrap();
    assert_eq!(first.metadata(), second.metadata());
    assert_eq!(second.load_times().compile, None, "from the cache");

    // Flip one byte of compiled code: the checksum catches it, the entry is
    // recompiled and rewritten.
    let mut corrupt = good.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    std::fs::write(entry, &corrupt).unwrap();
    let third = runtime(cache).load_file(&wasm).await.unwrap();
    assert_eq!(third.metadata().name, "pdns");
    assert_eq!(
        std::fs::read(entry).unwrap(),
        good,
        "the corrupt entry was rewritten"
    );

    // Something else entirely under the entry's name.
    std::fs::write(entry, b"garbage").unwrap();
    runtime(cache).load_file(&wasm).await.unwrap();
    assert_eq!(std::fs::read(entry).unwrap(), good);
}

#[cfg(unix)]
#[tokio::test]
async fn a_cache_others_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    runtime(cache.path())
        .load_file(&wacme_tests::plugin_wasm("pdns"))
        .await
        .unwrap();
    assert!(
        cache_entries(cache.path()).is_empty(),
        "nothing cached in a world-writable directory"
    );
}

async fn load_error(bytes: &[u8]) -> String {
    let cache = tempfile::tempdir().unwrap();
    match runtime(cache.path())
        .load_bytes(bytes, "test.wasm".into())
        .await
    {
        Ok(_) => panic!("loading must fail"),
        Err(e @ Error::Load { .. }) => e.to_string(),
        Err(other) => panic!("expected a load error, got {other}"),
    }
}

#[tokio::test]
async fn files_that_are_not_components_are_named_as_such() {
    assert!(
        load_error(b"hello, world")
            .await
            .contains("not a WebAssembly file")
    );
    let core_module = wat::parse_str("(module)").unwrap();
    let err = load_error(&core_module).await;
    assert!(
        err.contains("core WebAssembly module, not a component") && err.contains("wasm32-wasip2"),
        "{err}"
    );
}

#[tokio::test]
async fn other_wit_versions_are_refused_naming_ours() {
    for future in ["0.3.0", "1.0.0", "0.2.1"] {
        let other_version = wat::parse_str(format!(
            r#"(component
                (instance $i)
                (export "wacme:dns/provider@{future}" (instance $i)))"#
        ))
        .unwrap();
        let err = load_error(&other_version).await;
        assert!(
            err.contains(&format!("built for wacme:dns@{future}"))
                && err.contains("supports wacme:dns@0.1.0 and 0.2.0"),
            "{err}"
        );
    }

    let unrelated = wat::parse_str("(component)").unwrap();
    let err = load_error(&unrelated).await;
    assert!(
        err.contains("does not export `wacme:dns/provider`")
            && err.contains("wacme:dns@0.1.0 and 0.2.0"),
        "{err}"
    );
}

/// `wacme <args…> --plugin-dir <dir>` with an isolated cache.
fn wacme(plugin_dir: &Path, cache: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(wacme_tests::wacme_bin());
    cmd.env("XDG_CACHE_HOME", cache)
        .env("XDG_DATA_HOME", cache)
        .env_remove("WACME_PLUGIN_DIR")
        .args(args)
        .arg("--plugin-dir")
        .arg(plugin_dir);
    cmd
}

/// The pdns plugin (WIT 0.2.0) and the legacy fixture (0.1.0) side by side.
fn plugin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, file) in [("pdns", "pdns.wasm"), ("legacy-v01", "legacy-pdns.wasm")] {
        std::fs::copy(wacme_tests::plugin_wasm(name), dir.path().join(file)).unwrap();
    }
    dir
}

#[test]
fn plugin_list_shows_name_and_wit_version() {
    let (dir, cache) = (plugin_dir(), tempfile::tempdir().unwrap());
    let out = wacme(dir.path(), cache.path(), &["plugin", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("pdns "))
        .unwrap_or_else(|| panic!("no pdns row in:\n{text}"));
    assert!(row.contains("0.2.0") && row.contains("pdns.wasm"), "{row}");
    let legacy = text
        .lines()
        .find(|l| l.starts_with("legacy-pdns "))
        .unwrap_or_else(|| panic!("no legacy-pdns row in:\n{text}"));
    assert!(
        legacy.contains(" 0.1.0 ") && legacy.contains("legacy-pdns.wasm"),
        "{legacy}"
    );

    let out = wacme(
        dir.path(),
        cache.path(),
        &["plugin", "list", "--output", "json"],
    )
    .output()
    .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pdns = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "pdns")
        .unwrap();
    assert_eq!(pdns["wit_version"], "0.2.0");
    let legacy = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "legacy-pdns")
        .unwrap();
    assert_eq!(legacy["wit_version"], "0.1.0");
}

#[test]
fn plugin_inspect_shows_metadata_hosts_fields_and_digest() {
    let (dir, cache) = (plugin_dir(), tempfile::tempdir().unwrap());
    let out = wacme(
        dir.path(),
        cache.path(),
        &["plugin", "inspect", "pdns", "--output", "json"],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], "pdns");
    assert_eq!(v["wit_version"], "0.2.0");
    assert_eq!(v["allowed_hosts"], serde_json::json!(["{api_url}"]));
    assert_eq!(v["dns_servers"], serde_json::json!([]));
    assert_eq!(v["hints"]["zone_write_concurrency"], 1);
    assert_eq!(v["hints"]["can_delete"], true);
    assert_eq!(v["sha256"], sha256sum(&dir.path().join("pdns.wasm")));
    let key = v["config"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "api_key")
        .unwrap();
    assert_eq!(key["secret"], true);
    assert_eq!(key["required"], true);

    // By path, as text.
    let path = dir.path().join("pdns.wasm");
    let out = wacme(dir.path(), cache.path(), &["plugin", "inspect"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("WIT:           wacme:dns@0.2.0")
            && text.contains("WACME_PDNS_API_KEY")
            && text.contains("DNS servers:   none")
            && text.contains("hints:         one write per zone at a time"),
        "{text}"
    );

    // A 0.1.0 plugin: its version, no DNS servers, the default hints.
    let out = wacme(
        dir.path(),
        cache.path(),
        &["plugin", "inspect", "legacy-pdns"],
    )
    .output()
    .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("WIT:           wacme:dns@0.1.0")
            && text.contains("hints:         concurrent writes per zone, one call per name"),
        "{text}"
    );
}

/// `plugin inspect rfc2136` shows the nameservers it may reach: the server
/// the operator configures, nothing else.
#[test]
fn plugin_inspect_shows_dns_servers() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::copy(
        wacme_tests::plugin_wasm("rfc2136"),
        dir.path().join("rfc2136.wasm"),
    )
    .unwrap();
    let out = wacme(dir.path(), cache.path(), &["plugin", "inspect", "rfc2136"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("DNS servers:   {server}:{port}")
            && text.contains("allowed hosts: none")
            && text.contains("WIT:           wacme:dns@0.2.0"),
        "{text}"
    );
    let out = wacme(
        dir.path(),
        cache.path(),
        &["plugin", "inspect", "rfc2136", "--output", "json"],
    )
    .output()
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dns_servers"], serde_json::json!(["{server}:{port}"]));
}

#[test]
fn missing_and_broken_plugins_have_distinct_exit_codes() {
    let (dir, cache) = (plugin_dir(), tempfile::tempdir().unwrap());
    let out = wacme(dir.path(), cache.path(), &["plugin", "inspect", "nosuch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "unknown name is bad input");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no plugin named `nosuch`"));

    let broken = dir.path().join("broken.wasm");
    std::fs::write(&broken, b"not wasm").unwrap();
    let out = wacme(dir.path(), cache.path(), &["plugin", "inspect"])
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "a broken plugin is a plugin error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WebAssembly file"));

    // `list` still lists the good one and reports the broken one.
    let out = wacme(dir.path(), cache.path(), &["plugin", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("pdns") && text.contains("error: ") && text.contains("broken.wasm"),
        "{text}"
    );
}

/// The file's SHA-256 as `sha256sum` computes it (an independent check).
fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The first-party plugins installed beside the binary by `scripts/build.sh`
/// are found with no flags at all.
#[test]
fn first_party_plugins_are_found_beside_the_binary() {
    let bin = wacme_tests::wacme_bin();
    let beside = bin.parent().unwrap().join("plugins").join("pdns.wasm");
    assert!(
        beside.exists(),
        "{} is missing: run ./scripts/test.sh (it runs scripts/build.sh --debug)",
        beside.display()
    );
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .env("XDG_CACHE_HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .env_remove("WACME_PLUGIN_DIR")
        .args(["plugin", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("pdns ")
            && l.contains("0.1.0")
            && l.contains(&beside.display().to_string())),
        "{text}"
    );
}

/// Compiling a plugin (seconds for a JavaScript or Python one) is announced
/// the first time, unless `--quiet`; a cached one says nothing.
#[test]
fn the_first_compile_is_announced_once() {
    let (dir, cache) = (plugin_dir(), tempfile::tempdir().unwrap());
    let run = |extra: &[&str]| {
        let mut args = vec!["plugin", "inspect", "pdns"];
        args.extend_from_slice(extra);
        let out = wacme(dir.path(), cache.path(), &args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let quiet = run(&["--quiet", "--no-plugin-cache"]);
    assert!(!quiet.contains("compiling"), "{quiet}");
    let uncached = run(&["--no-plugin-cache"]);
    assert!(
        uncached.contains("compiling plugin pdns (") && uncached.contains("not cached"),
        "{uncached}"
    );
    let first = run(&[]);
    assert!(
        first.contains("compiling plugin pdns (")
            && first.contains("KiB) once; cached for next runs"),
        "{first}"
    );
    let second = run(&[]);
    assert!(!second.contains("compiling"), "{second}");
}

/// With the baseline compiler chosen for first loads (as it is for large
/// plugins), a first load compiles with Winch (on x86-64) and caches that;
/// `Runtime::precompile` (`plugin install`) writes the optimized form,
/// which every later load prefers, and does nothing when it is there. A
/// small plugin's first load under the default choice is optimized.
#[tokio::test]
async fn first_loads_compile_fast_until_the_optimized_form_is_written() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = |cache: &Path| {
        Runtime::new(RuntimeOptions {
            cache_dir: Some(cache.to_path_buf()),
            first_compile: FirstCompile::Baseline,
            ..Default::default()
        })
        .unwrap()
    };
    let wasm = wacme_tests::plugin_wasm("pdns");
    let bytes = std::fs::read(&wasm).unwrap();
    let baseline = if cfg!(target_arch = "x86_64") {
        Compiler::Winch
    } else {
        Compiler::Cranelift
    };
    let first = runtime(cache.path()).load_file(&wasm).await.unwrap();
    assert_eq!(first.compiler(), baseline);
    assert!(first.load_times().compile.is_some());
    let again = runtime(cache.path()).load_file(&wasm).await.unwrap();
    assert_eq!(again.compiler(), baseline);
    assert_eq!(again.load_times().compile, None, "the baseline form cached");

    let rt = runtime(cache.path());
    let took = rt.precompile(&bytes, "pdns.wasm").await.unwrap();
    assert!(took.is_some(), "the optimized form compiled");
    assert_eq!(rt.precompile(&bytes, "pdns.wasm").await.unwrap(), None);
    let optimized = runtime(cache.path()).load_file(&wasm).await.unwrap();
    assert_eq!(optimized.compiler(), Compiler::Cranelift);
    assert_eq!(optimized.load_times().compile, None);
    assert_eq!(optimized.metadata(), first.metadata());

    // Without a cache there is nowhere to keep it: nothing to do.
    let uncached = Runtime::new(RuntimeOptions::default()).unwrap();
    assert_eq!(
        uncached.precompile(&bytes, "pdns.wasm").await.unwrap(),
        None
    );

    // The default: a plugin below BASELINE_MIN_BYTES is optimized at once.
    assert!(bytes.len() < wacme::plugins::BASELINE_MIN_BYTES);
    let small = uncached
        .load_bytes(&bytes, "pdns.wasm".into())
        .await
        .unwrap();
    assert_eq!(small.compiler(), Compiler::Cranelift);
}

/// A runtime with `tier_up` (what `wacme renew` runs) that loads baseline
/// code compiles the optimized form into the cache in `finish_tier_ups`,
/// once per plugin: the next load is optimized and compiles nothing. A
/// runtime without it leaves the baseline form.
#[tokio::test]
async fn baseline_loads_tier_up_in_the_background_when_asked() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("SKIPPED: no baseline compiler (Winch) on this architecture");
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let runtime = |tier_up: bool| {
        Runtime::new(RuntimeOptions {
            cache_dir: Some(cache.path().to_path_buf()),
            first_compile: FirstCompile::Baseline,
            tier_up,
            ..Default::default()
        })
        .unwrap()
    };
    let wasm = wacme_tests::plugin_wasm("pdns");

    let plain = runtime(false);
    assert_eq!(
        plain.load_file(&wasm).await.unwrap().compiler(),
        Compiler::Winch
    );
    plain.finish_tier_ups().await;
    let again = runtime(false).load_file(&wasm).await.unwrap();
    assert_eq!(again.compiler(), Compiler::Winch, "nothing tiered up");
    assert_eq!(cache_entries(cache.path()).len(), 1);

    let tiering = runtime(true);
    let loaded = tiering.load_file(&wasm).await.unwrap();
    assert_eq!(
        loaded.compiler(),
        Compiler::Winch,
        "this run keeps what it loaded"
    );
    tiering.load_file(&wasm).await.unwrap();
    assert_eq!(
        cache_entries(cache.path()).len(),
        1,
        "nothing before the end"
    );
    tiering.finish_tier_ups().await;
    assert_eq!(
        cache_entries(cache.path()).len(),
        2,
        "the optimized form beside it"
    );
    let next = runtime(false).load_file(&wasm).await.unwrap();
    assert_eq!(next.compiler(), Compiler::Cranelift);
    assert_eq!(next.load_times().compile, None, "nothing compiled");
    assert_eq!(next.metadata(), loaded.metadata());

    // Without a cache there is nowhere to keep it: nothing is started.
    let uncached = Runtime::new(RuntimeOptions {
        first_compile: FirstCompile::Baseline,
        tier_up: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        uncached.load_file(&wasm).await.unwrap().compiler(),
        Compiler::Winch
    );
    uncached.finish_tier_ups().await;
}

/// `wacme plugin install` compiles the optimized form into the cache, so
/// the first use afterwards compiles nothing and runs the optimized code.
#[test]
fn install_compiles_ahead_of_first_use() {
    let (dir, cache) = (plugin_dir(), tempfile::tempdir().unwrap());
    let state = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = wacme(dir.path(), cache.path(), args)
            .env("WACME_STATE_DIR", state.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let wasm = wacme_tests::plugin_wasm("pdns");
    let install = run(&["plugin", "install", wasm.to_str().unwrap(), "--yes"]);
    assert!(
        install.contains("compiling plugin wacme_plugin_pdns ("),
        "{install}"
    );
    let out = wacme(dir.path(), cache.path(), &["plugin", "inspect", "pdns"])
        .env("WACME_STATE_DIR", state.path())
        .output()
        .unwrap();
    let first_use = String::from_utf8_lossy(&out.stderr);
    assert!(!first_use.contains("compiling"), "{first_use}");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("compiled by:   cranelift (optimized)"),
        "{shown}"
    );
}
