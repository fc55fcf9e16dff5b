//! Hostile plugins against the sandbox: each attack must end in a clear error
//! within its limits, and the same runtime must keep serving the next call.
//!
//! The hostile plugin (`tests/plugins/hostile`) returns `Ok` when an attack
//! *succeeds*, so every `expect_err` here fails loudly if the sandbox leaks.
//!
//! The suite runs the optimized code (Cranelift) that a first load of a
//! small plugin and `wacme plugin install` make; the baseline compiler's
//! code (Winch, on x86-64: a large plugin's first load) meets the CPU,
//! memory, stack and trap attacks too.

use std::time::{Duration, Instant};
use wacme::plugins::config::Sources;
use wacme::plugins::{
    Compiler, Error, FirstCompile, Limits, Plugin, ResolvedConfig, RuntimeOptions, Session, TxtSet,
};
use wacme_tests::httpd::{Sink, redirector};
use wacme_tests::sandbox::{Hostile, challenge_set, load_hostile};

const TOKEN: &str = "tok-5ecret-value-never-shown";

type Bed = Hostile;

async fn bed(limits: Limits) -> Bed {
    load_hostile(RuntimeOptions {
        limits,
        ..Default::default()
    })
    .await
}

fn config(plugin: &Plugin, pairs: &[(&str, &str)]) -> ResolvedConfig {
    Sources::resolve_pairs(plugin.metadata(), pairs).unwrap()
}

fn session(plugin: &Plugin, mode: &str, target: Option<&str>) -> Session {
    let mut pairs = vec![("mode", mode), ("token", TOKEN)];
    if let Some(t) = target {
        pairs.push(("target", t));
    }
    plugin.session(&config(plugin, &pairs), &[]).unwrap()
}

fn set() -> TxtSet {
    challenge_set(&["v1"])
}

/// Runs `mode`, expects an error, checks that the same plugin still serves
/// an `ok` call afterwards, and returns the error's text.
async fn attack(bed: &Bed, mode: &str, target: Option<&str>) -> (Error, Duration) {
    let started = Instant::now();
    let err = session(&bed.plugin, mode, target)
        .present(&set())
        .await
        .expect_err(&format!("attack `{mode}` must be stopped"));
    let elapsed = started.elapsed();
    session(&bed.plugin, "ok", None)
        .present(&set())
        .await
        .unwrap_or_else(|e| panic!("the runtime must keep serving after `{mode}`: {e}"));
    let text = err.to_string();
    assert!(!text.contains(TOKEN), "secret leaked in: {text}");
    (err, elapsed)
}

#[tokio::test]
async fn friendly_call_succeeds() {
    let bed = bed(Limits::default()).await;
    let m = bed.plugin.metadata();
    assert_eq!(m.name, "hostile");
    assert_eq!(bed.plugin.compiler(), Compiler::Cranelift);
    session(&bed.plugin, "ok", None)
        .present(&set())
        .await
        .unwrap();
    session(&bed.plugin, "ok", None)
        .cleanup(&set())
        .await
        .unwrap();
}

#[tokio::test]
async fn cannot_read_files() {
    let bed = bed(Limits::default()).await;
    let (err, _) = attack(&bed, "read-file", None).await;
    assert!(matches!(err, Error::Provider { .. }), "{err}");
}

#[tokio::test]
async fn sees_no_environment() {
    // SAFETY: set before any other thread of this test reads the environment.
    unsafe { std::env::set_var("WACME_SANDBOX_CANARY", "visible") };
    let bed = bed(Limits::default()).await;
    let (err, _) = attack(&bed, "read-env", None).await;
    assert!(matches!(err, Error::Provider { .. }), "{err}");
}

#[tokio::test]
async fn cannot_reach_undeclared_hosts() {
    let bed = bed(Limits::default()).await;
    let (err, _) = attack(&bed, "http-undeclared", None).await;
    let text = err.to_string();
    assert!(
        text.contains("denied") && text.contains("not among the plugin's allowed hosts"),
        "{text}"
    );
}

#[tokio::test]
async fn redirects_to_undeclared_hosts_are_not_followed() {
    let bed = bed(Limits::default()).await;
    // The sink is another origin (other address and port): reaching it would
    // mean the redirect was followed.
    let sink = Sink::start_on("127.0.0.2").await;
    let redirect = redirector(302, format!("{}/stolen", sink.server.url())).await;
    let (err, _) = attack(&bed, "http-target", Some(&redirect.url())).await;
    let text = err.to_string();
    assert!(text.contains("redirected to http://127.0.0.2"), "{text}");
    assert_eq!(sink.hits(), 0, "the undeclared host was contacted");
}

#[tokio::test]
async fn redirects_within_the_allowed_origin_are_followed() {
    let bed = bed(Limits::default()).await;
    let sink = Sink::start_on("127.0.0.1").await;
    // Same origin as the target: allowed, so the hostile plugin "succeeds".
    let target = format!("{}/start", sink.server.url());
    session(&bed.plugin, "http-target", Some(&target))
        .present(&set())
        .await
        .unwrap();
    assert_eq!(sink.hits(), 1);
}

#[tokio::test]
async fn infinite_loop_stops_at_the_deadline() {
    let limits = Limits {
        call_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let bed = bed(limits).await;
    let (err, elapsed) = attack(&bed, "infinite-loop", None).await;
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(
        elapsed >= Duration::from_secs(1),
        "stopped before its deadline: {elapsed:?}"
    );
    assert!(
        elapsed <= Duration::from_secs(2),
        "stopped more than 1 s after its deadline: {elapsed:?}"
    );
}

#[tokio::test]
async fn memory_bomb_hits_the_cap() {
    let bed = bed(Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    })
    .await;
    let (err, _) = attack(&bed, "memory-bomb", None).await;
    assert!(err.to_string().contains("memory limit of 32 MiB"), "{err}");
}

#[tokio::test]
async fn panic_is_contained() {
    let bed = bed(Limits::default()).await;
    let (err, _) = attack(&bed, "panic", None).await;
    assert!(
        matches!(err, Error::Trap { .. }) && err.to_string().contains("trapped"),
        "{err}"
    );
}

#[tokio::test]
async fn stack_overflow_is_contained() {
    let bed = bed(Limits::default()).await;
    let (err, _) = attack(&bed, "stack-overflow", None).await;
    assert!(err.to_string().contains("overflowed its stack"), "{err}");
}

/// The baseline compiler's code (what a large plugin's first load runs)
/// stops at the same deadline, memory cap and stack guard.
#[tokio::test]
async fn baseline_code_is_held_to_the_same_limits() {
    let bed = load_hostile(RuntimeOptions {
        limits: Limits {
            call_timeout: Duration::from_secs(1),
            memory_bytes: 32 << 20,
            ..Limits::default()
        },
        first_compile: FirstCompile::Baseline,
        ..Default::default()
    })
    .await;
    #[cfg(target_arch = "x86_64")]
    assert_eq!(bed.plugin.compiler(), Compiler::Winch);
    let (err, elapsed) = attack(&bed, "infinite-loop", None).await;
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    let (err, _) = attack(&bed, "memory-bomb", None).await;
    assert!(err.to_string().contains("memory limit of 32 MiB"), "{err}");
    let (err, _) = attack(&bed, "stack-overflow", None).await;
    assert!(err.to_string().contains("overflowed its stack"), "{err}");
    let (err, _) = attack(&bed, "panic", None).await;
    assert!(matches!(err, Error::Trap { .. }), "{err}");
}

#[tokio::test]
async fn sockets_are_unavailable() {
    let bed = bed(Limits::default()).await;
    let sink = Sink::start_on("127.0.0.1").await;
    let (err, _) = attack(&bed, "wasi-sockets", Some(&sink.server.url())).await;
    assert!(matches!(err, Error::Provider { .. }), "{err}");
    assert_eq!(sink.hits(), 0);
}

#[tokio::test]
async fn request_count_is_capped() {
    let limits = Limits {
        max_requests_per_call: 50,
        ..Limits::default()
    };
    let bed = bed(limits).await;
    let sink = Sink::start_on("127.0.0.1").await;
    let (err, _) = attack(&bed, "many-requests", Some(&sink.server.url())).await;
    assert!(
        err.to_string().contains("more than 50 HTTP requests"),
        "{err}"
    );
    assert_eq!(sink.hits(), 50);
}

#[tokio::test]
async fn huge_request_body_is_refused() {
    let bed = bed(Limits::default()).await;
    let sink = Sink::start_on("127.0.0.1").await;
    let (err, _) = attack(&bed, "huge-request-body", Some(&sink.server.url())).await;
    assert!(err.to_string().contains("over the limit"), "{err}");
    assert_eq!(sink.hits(), 0);
}

#[tokio::test]
async fn huge_error_message_is_truncated() {
    let bed = bed(Limits::default()).await;
    let (err, _) = attack(&bed, "huge-string", None).await;
    let text = err.to_string();
    assert!(text.len() < 8192, "message of {} bytes", text.len());
    assert!(text.contains("more bytes]"), "truncation is shown");
}

#[tokio::test]
async fn log_flood_is_bounded() {
    let bed = bed(Limits::default()).await;
    let started = Instant::now();
    // Whatever the plugin's fate (its memory cap may stop it first), the
    // host must stay responsive and finish well within the call deadline.
    let _ = session(&bed.plugin, "log-flood", None)
        .present(&set())
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    session(&bed.plugin, "ok", None)
        .present(&set())
        .await
        .unwrap();
}

#[tokio::test]
async fn secrets_are_redacted_from_errors() {
    let bed = bed(Limits::default()).await;
    let (err, _) = attack(&bed, "leak-secret", None).await;
    assert!(err.to_string().contains("[REDACTED]"), "{err}");
}
