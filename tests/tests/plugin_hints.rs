//! Provider hints (WIT 0.2) as the host honours them: writes to one zone
//! queue per zone for a provider that tolerates one at a time (the pdns
//! plugin: PowerDNS's sqlite backend answers concurrent writes with
//! "database is locked"), while other zones go on in parallel; a provider
//! that says nothing (a 0.1.0 plugin) is called concurrently as before.
//!
//! The API is a stand-in for PowerDNS's that holds every request a moment
//! and records the most requests it had in flight per zone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use wacme::plugins::config::Sources;
use wacme::plugins::{Runtime, RuntimeOptions};
use wacme_tests::httpd::TestServer;
use wacme_tests::provider_suite::txt_set_in;

/// Requests in flight per zone, and the most seen at once.
#[derive(Default)]
struct InFlight {
    now: HashMap<String, u32>,
    max: HashMap<String, u32>,
    max_total: u32,
}

type Shared = Arc<Mutex<InFlight>>;

async fn hold(state: &Shared, zone: &str) {
    {
        let mut s = state.lock().unwrap();
        let now = s.now.entry(zone.to_string()).or_default();
        *now += 1;
        let now = *now;
        let max = s.max.entry(zone.to_string()).or_default();
        *max = (*max).max(now);
        let total: u32 = s.now.values().sum();
        s.max_total = s.max_total.max(total);
    }
    tokio::time::sleep(Duration::from_millis(40)).await;
    *state.lock().unwrap().now.get_mut(zone).unwrap() -= 1;
}

async fn read_zone(State(state): State<Shared>, Path(zone): Path<String>) -> String {
    hold(&state, &zone).await;
    serde_json::json!({ "name": zone, "rrsets": [] }).to_string()
}

async fn patch_zone(State(state): State<Shared>, Path(zone): Path<String>) -> StatusCode {
    hold(&state, &zone).await;
    StatusCode::NO_CONTENT
}

/// Makes four calls for two names each in each of two zones at once through
/// `plugin`; returns the most requests the API had in flight for one zone,
/// and in all.
async fn present_concurrently(plugin: &str) -> (u32, u32) {
    let state = Shared::default();
    let app = Router::new()
        .route(
            "/api/v1/servers/localhost/zones/{zone}",
            get(read_zone).patch(patch_zone),
        )
        .with_state(state.clone());
    let api = TestServer::start(app).await;
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let plugin = runtime
        .load_file(&wacme_tests::plugin_wasm(plugin))
        .await
        .unwrap();
    let config = Sources::resolve_pairs(
        plugin.metadata(),
        &[("api_url", &api.url()), ("api_key", "key")],
    )
    .unwrap();
    let session = plugin.session(&config, &[]).unwrap();
    // Four calls per zone at once, each of two names (one batch call for a
    // plugin that batches, two single calls in a row for one that does not).
    let batches: Vec<Vec<_>> = ["a.test", "b.test"]
        .iter()
        .flat_map(|zone| {
            (0..4).map(move |i| {
                (0..2)
                    .map(|j| {
                        let fqdn = format!("_acme-challenge.n{i}{j}.{zone}");
                        txt_set_in(zone, &fqdn, &["v"], 60)
                    })
                    .collect()
            })
        })
        .collect();
    let calls = batches.iter().map(|sets| session.present_many(sets));
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    let s = state.lock().unwrap();
    assert_eq!(s.max.len(), 2, "both zones were written");
    (s.max.values().copied().max().unwrap(), s.max_total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_write_per_zone_at_a_time_when_the_provider_says_so() {
    let (per_zone, total) = present_concurrently("pdns").await;
    assert_eq!(per_zone, 1, "the pdns plugin's zone-write-concurrency is 1");
    assert!(total >= 2, "zones are not serialized with each other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_without_hints_is_called_concurrently() {
    // The stand-in does see concurrency when nothing holds it back: the
    // test above could not pass by accident.
    let (per_zone, _) = present_concurrently("legacy-v01").await;
    assert!(per_zone > 1, "{per_zone}");
}
