//! A plugin written in JavaScript with a default componentize-js build: its
//! `fetch` support makes the component import `wasi:http`, and it must load
//! and reach its API through plain `fetch()`, under the sandbox's rules
//! (a redirect to an origin it may not reach is not followed).
//!
//! Needs `componentize-js` (CI installs the pinned version with npm); skips
//! loudly on a developer machine without it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use wacme::plugins::config::Sources;
use wacme::plugins::{Error, Plugin, Runtime, RuntimeOptions};
use wacme_tests::httpd::{Sink, TestServer, redirector};

/// The version `.ci/run` installs.
const PIN: &str = "@bytecodealliance/componentize-js@0.23.0";

const TOKEN: &str = "js-5ecret-token";

/// Builds `tests/plugins/<name>/app.js` into a component with every
/// default feature (once per source change) under the target directory.
fn build(name: &str) -> Option<PathBuf> {
    let Some(tool) = wacme_tests::find_program("componentize-js") else {
        eprintln!("*** componentize-js: npm install -g {PIN} ***");
        // Fails under CI; says loudly that the test is skipped elsewhere.
        wacme_tests::require_program("componentize-js");
        return None;
    };
    let source = wacme_tests::workspace_root()
        .join("tests/plugins")
        .join(name)
        .join("app.js");
    let out = wacme_tests::target_dir().join("js-plugins").join(name);
    std::fs::create_dir_all(&out).unwrap();
    let wasm = out.join(format!("{name}.wasm"));
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&wasm).is_none() || modified(&wasm) < modified(&source) {
        let status = Command::new(tool)
            .arg(&source)
            .arg("--wit")
            .arg(wacme_tests::workspace_root().join("wit/v0.2"))
            .args(["--world-name", "dns-provider", "-o"])
            .arg(&wasm)
            .current_dir(&out)
            .status()
            .expect("run componentize-js");
        assert!(status.success(), "componentize-js failed for {name}");
    }
    Some(wasm)
}

/// Builds and loads `js-fetch`, one test at a time: the tests of this file
/// would otherwise build the same file and compile the same large component
/// at once (the compile cache serves the later ones).
async fn js_fetch() -> Option<Plugin> {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let wasm = build("js-fetch")?;
    Some(load(&wasm).await)
}

async fn load(wasm: &Path) -> Plugin {
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(wacme_tests::target_dir().join("js-plugins/cache")),
        ..Default::default()
    })
    .unwrap();
    runtime.load_file(wasm).await.unwrap()
}

/// What the fake API saw: method, path, `authorization`.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A provider API that records each request and echoes its body.
async fn fake_api() -> (TestServer, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method,
              uri: axum::http::Uri,
              headers: axum::http::HeaderMap,
              body: String| {
            let log = log.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                log.lock()
                    .unwrap()
                    .push((method.to_string(), uri.path().to_string(), auth));
                body
            }
        },
    );
    (TestServer::start(app).await, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_componentize_js_build_loads_and_fetches() {
    let Some(plugin) = js_fetch().await else {
        return;
    };
    assert_eq!(plugin.metadata().name, "js-fetch");
    assert_eq!(plugin.wit_version(), "0.2.0");
    let (api, seen) = fake_api().await;
    let config = Sources::resolve_pairs(
        plugin.metadata(),
        &[("target", &api.url()), ("token", TOKEN)],
    )
    .unwrap();
    let session = plugin.session(&config, &[]).unwrap();
    let set = wacme_tests::sandbox::challenge_set(&["v"]);
    session.present(&set).await.unwrap();
    session.cleanup(&set).await.unwrap();
    let auth = format!("Bearer {TOKEN}");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("POST".to_string(), "/records".to_string(), auth.clone()),
            ("DELETE".to_string(), "/records".to_string(), auth),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_is_not_redirected_where_the_plugin_may_not_go() {
    let Some(plugin) = js_fetch().await else {
        return;
    };
    // Another origin, not allowed: reaching it would mean the redirect was
    // followed.
    let sink = Sink::start_on("127.0.0.2").await;
    let away = redirector(307, format!("{}/stolen", sink.server.url())).await;
    let config = Sources::resolve_pairs(
        plugin.metadata(),
        &[("target", &away.url()), ("token", TOKEN)],
    )
    .unwrap();
    let err = plugin
        .session(&config, &[])
        .unwrap()
        .present(&wacme_tests::sandbox::challenge_set(&["v"]))
        .await
        .expect_err("the redirect leads where the plugin may not go");
    assert!(matches!(err, Error::Provider { .. }), "{err}");
    assert!(!err.to_string().contains(TOKEN), "{err}");
    assert_eq!(sink.hits(), 0, "the redirect was followed");
}
