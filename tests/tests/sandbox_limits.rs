//! The sandbox's budgets and reports: one memory budget per plugin instance
//! (all linear memories and tables together), the range checks of
//! `--plugin-memory` and `--plugin-timeout`, the plugin timeout applying to
//! `metadata` too, and traps reported with what the plugin last wrote to
//! stdout/stderr (redacted).
//!
//! The memory and deadline cases use small components written in the
//! WebAssembly text format that export `wacme:dns/provider@0.1.0` with the
//! types of `wit/v0.1/dns.wit` (0.1.0 plugins), so loading gets as far as
//! instantiation and the `metadata` call; the output cases use the hostile
//! plugin.

use std::process::Command;
use std::time::{Duration, Instant};
use wacme::plugins::config::Sources;
use wacme::plugins::{Error, Limits, Plugin, Runtime, RuntimeOptions, Session, TxtSet};

const TOKEN: &str = "tok-5ecret-value-never-shown";
const MIB: usize = 1 << 20;

/// A provider component. Its main core module has one memory of one page
/// plus `main_extra`; `metadata` runs `metadata_body` (which must not
/// return: the component never builds a real answer); `more` adds core
/// modules and instances to the component.
fn provider(metadata_body: &str, main_extra: &str, more: &str) -> Vec<u8> {
    let wat = format!(
        r#"(component
  (core module $main
    (memory (export "memory") 1)
    {main_extra}
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) unreachable)
    (func (export "metadata") (result i32) {metadata_body})
    (func (export "present") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      unreachable)
    (func (export "cleanup") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
      unreachable))
  (core instance $main (instantiate $main))
  {more}
  (type $config-field (record
    (field "name" string)
    (field "description" string)
    (field "required" bool)
    (field "secret" bool)
    (field "default" (option string))
    (field "env-aliases" (list string))))
  (type $plugin-metadata (record
    (field "name" string)
    (field "version" string)
    (field "description" string)
    (field "homepage" string)
    (field "config" (list $config-field))
    (field "allowed-hosts" (list string))
    (field "default-ttl" u32)
    (field "min-ttl" u32)))
  (type $config (list (tuple string string)))
  (type $txt-set (record
    (field "zone" string)
    (field "fqdn" string)
    (field "relative-name" string)
    (field "values" (list string))
    (field "ttl" u32)))
  (type $rate-limit (record
    (field "message" string)
    (field "retry-after-secs" (option u32))))
  (type $provider-error (variant
    (case "invalid-config" string)
    (case "authentication" string)
    (case "zone-not-found" string)
    (case "rate-limited" $rate-limit)
    (case "transient" string)
    (case "permanent" string)))
  (type $metadata-fn (func (result $plugin-metadata)))
  (type $call-fn (func (param "config" $config) (param "set" $txt-set)
    (result (result (error $provider-error)))))
  (func $metadata (type $metadata-fn)
    (canon lift (core func $main "metadata") (memory (core memory $main "memory"))
      (realloc (core func $main "realloc"))))
  (func $present (type $call-fn)
    (canon lift (core func $main "present") (memory (core memory $main "memory"))
      (realloc (core func $main "realloc"))))
  (func $cleanup (type $call-fn)
    (canon lift (core func $main "cleanup") (memory (core memory $main "memory"))
      (realloc (core func $main "realloc"))))
  (instance $provider
    (export "config-field" (type $config-field))
    (export "plugin-metadata" (type $plugin-metadata))
    (export "txt-set" (type $txt-set))
    (export "rate-limit" (type $rate-limit))
    (export "provider-error" (type $provider-error))
    (export "metadata" (func $metadata))
    (export "present" (func $present))
    (export "cleanup" (func $cleanup)))
  (export "wacme:dns/provider@0.1.0" (instance $provider)))"#
    );
    wat::parse_str(&wat).unwrap_or_else(|e| panic!("{e}\n{wat}"))
}

/// Two more core instances, each with a memory of `pages` 64 KiB pages.
fn two_more_memories(pages: u32) -> String {
    format!(
        "(core module $big (memory {pages}))
         (core instance (instantiate $big))
         (core instance (instantiate $big))"
    )
}

fn runtime(limits: Limits) -> Runtime {
    Runtime::new(RuntimeOptions {
        limits,
        ..Default::default()
    })
    .unwrap()
}

fn with_memory(bytes: usize) -> Limits {
    Limits {
        memory_bytes: bytes,
        ..Limits::default()
    }
}

async fn load_error(limits: Limits, wasm: &[u8]) -> Error {
    match runtime(limits).load_bytes(wasm, "test.wasm".into()).await {
        Ok(_) => panic!("the component loaded"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn memories_under_the_budget_reach_metadata() {
    // 1 + 2 × 24 pages = about 3 MiB: under 4 MiB, so `metadata` runs (and
    // traps, as written).
    let wasm = provider("unreachable", "", &two_more_memories(24));
    let err = load_error(with_memory(4 * MIB), &wasm).await;
    let text = err.to_string();
    assert!(matches!(err, Error::Trap { .. }), "{text}");
    assert!(
        text.ends_with("metadata trapped: unreachable code reached"),
        "{text}"
    );
    assert!(!text.contains("memory limit"), "{text}");
}

#[tokio::test]
async fn memories_share_one_budget() {
    // Each extra memory (40 pages = 2.5 MiB) is under the 4 MiB budget;
    // together they are over it.
    let wasm = provider("unreachable", "", &two_more_memories(40));
    let err = load_error(with_memory(4 * MIB), &wasm).await;
    let text = err.to_string();
    assert!(matches!(err, Error::Trap { .. }), "{text}");
    assert!(
        text.contains("exceeded its memory limit of 4 MiB (all memories and tables together)"),
        "{text}"
    );
}

#[tokio::test]
async fn the_number_of_memories_stays_bounded() {
    // Empty memories cost nothing against the budget; their number is
    // capped on its own.
    let more = "(core module $empty (memory 0))".to_string()
        + &"(core instance (instantiate $empty))".repeat(8);
    let err = load_error(Limits::default(), &provider("unreachable", "", &more)).await;
    let text = err.to_string();
    assert!(text.contains("metadata was stopped: "), "{text}");
    assert!(
        text.contains("memory count") && text.contains("at most 32 instances, 4 memories"),
        "{text}"
    );
}

#[tokio::test]
async fn table_growth_counts_against_the_budget() {
    // 70 000 elements at 16 bytes each: about 1.07 MiB, over a 1 MiB budget.
    let wasm = provider(
        "(drop (table.grow $t (ref.null func) (i32.const 70000))) unreachable",
        "(table $t 1 funcref)",
        "",
    );
    let err = load_error(with_memory(MIB), &wasm).await;
    let text = err.to_string();
    assert!(
        text.contains("exceeded its memory limit of 1 MiB (all memories and tables together)"),
        "{text}"
    );
    // The same growth within a larger budget is allowed.
    let err = load_error(with_memory(4 * MIB), &wasm).await;
    assert!(!err.to_string().contains("memory limit"), "{err}");
}

#[tokio::test]
async fn metadata_runs_under_the_plugin_timeout() {
    let wasm = provider("(loop $spin (br $spin)) unreachable", "", "");
    let limits = Limits {
        call_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let started = Instant::now();
    let err = load_error(limits, &wasm).await;
    let elapsed = started.elapsed();
    match &err {
        Error::Timeout { limit, .. } => assert_eq!(*limit, Duration::from_secs(1), "{err}"),
        other => panic!("expected a timeout, got {other}"),
    }
    assert!(
        elapsed < Duration::from_secs(3),
        "metadata ran {elapsed:?}, over its 1 s timeout"
    );
}

async fn hostile(limits: Limits) -> Plugin {
    runtime(limits)
        .load_file(&wacme_tests::plugin_wasm("hostile"))
        .await
        .unwrap()
}

fn session(plugin: &Plugin, mode: &str) -> Session {
    let config =
        Sources::resolve_pairs(plugin.metadata(), &[("mode", mode), ("token", TOKEN)]).unwrap();
    plugin.session(&config, &[]).unwrap()
}

fn set() -> TxtSet {
    wacme_tests::sandbox::challenge_set(&["v1"])
}

#[tokio::test]
async fn a_trap_reports_the_last_lines_written_redacted() {
    let plugin = hostile(Limits::default()).await;
    let err = session(&plugin, "write-then-trap")
        .present(&set())
        .await
        .expect_err("the plugin traps");
    let text = err.to_string();
    assert!(matches!(err, Error::Trap { .. }), "{text}");
    assert!(
        text.contains("plugin `hostile` present trapped: "),
        "{text}"
    );
    assert!(text.contains("it last wrote: "), "{text}");
    assert!(text.contains("hostile stdout: starting"), "{text}");
    assert!(
        text.contains("hostile stderr: token is [REDACTED]"),
        "{text}"
    );
    // The unfinished last line is flushed at the end of the call.
    assert!(text.ends_with("hostile stderr: about to trap"), "{text}");
    assert!(!text.contains(TOKEN), "secret leaked in: {text}");
    // The runtime keeps serving.
    session(&plugin, "ok").present(&set()).await.unwrap();
}

#[tokio::test]
async fn a_rust_panic_message_reaches_the_error() {
    let plugin = hostile(Limits::default()).await;
    let err = session(&plugin, "panic")
        .present(&set())
        .await
        .expect_err("the plugin panics");
    let text = err.to_string();
    assert!(matches!(err, Error::Trap { .. }), "{text}");
    assert!(text.contains("present trapped: "), "{text}");
    assert!(
        text.contains("hostile plugin: panicking on purpose"),
        "{text}"
    );
}

#[tokio::test]
async fn output_over_the_line_cap_neither_fails_nor_traps_the_plugin() {
    // `write-then-trap` writes three lines; with a cap of one, two are
    // dropped, yet the plugin still reaches its own trap (not a write error)
    // and the report still has the last lines.
    let plugin = hostile(Limits {
        max_log_lines_per_call: 1,
        ..Limits::default()
    })
    .await;
    let err = session(&plugin, "write-then-trap")
        .present(&set())
        .await
        .expect_err("the plugin traps");
    let text = err.to_string();
    assert!(text.contains("trapped: "), "{text}");
    assert!(text.ends_with("hostile stderr: about to trap"), "{text}");
}

/// `wacme plugin list` with `args`, isolated from the user's plugins and cache.
fn wacme_plugin_list(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(wacme_tests::wacme_bin())
        .env("XDG_CACHE_HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("WACME_PLUGIN_DIR")
        .env_remove("WACME_CONFIG")
        .args(["plugin", "list", "--plugin-dir"])
        .arg(home.path())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn plugin_memory_and_timeout_out_of_range_are_refused() {
    for (option, value, range) in [
        ("--plugin-memory", "0", "1 to 4096 MiB"),
        ("--plugin-memory", "5000", "1 to 4096 MiB"),
        ("--plugin-timeout", "0", "1 to 3600 seconds"),
        ("--plugin-timeout", "3601", "1 to 3600 seconds"),
    ] {
        let out = wacme_plugin_list(&[option, value]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // 2: the command line was refused before anything ran.
        assert_eq!(out.status.code(), Some(2), "{option} {value}: {stderr}");
        assert!(
            stderr.contains(option) && stderr.contains(range),
            "{option} {value}: {stderr}"
        );
    }
    for (option, value) in [("--plugin-memory", "4096"), ("--plugin-timeout", "3600")] {
        let out = wacme_plugin_list(&[option, value]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{option} {value}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
