//! Plugin runtime costs: compiling a component the first time, loading it
//! from the compile cache, and one call in a fresh instance.
//!
//! Targets: first compile ≤ 150 ms, cached load ≤ 2 ms, instantiate + call
//! ≤ 1 ms. Run with `cargo bench -p wacme-tests --bench plugin_runtime`
//! after `./scripts/build-plugins.sh`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;
use std::time::Duration;
use wacme::plugins::config::Sources;
use wacme::plugins::{Runtime, RuntimeOptions, TxtSet};

fn runtime(cache: Option<&Path>) -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: cache.map(Path::to_path_buf),
        ..Default::default()
    })
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pdns = wacme_tests::plugin_wasm("pdns");
    let hostile = wacme_tests::plugin_wasm("hostile");
    let mut group = c.benchmark_group("plugin");
    group.measurement_time(Duration::from_secs(5));

    group.sample_size(10);
    group.bench_function("first_compile_pdns", |b| {
        let uncached = runtime(None);
        b.iter(|| rt.block_on(uncached.load_file(&pdns)).unwrap());
    });

    group.sample_size(100);
    let cache = tempfile::tempdir().unwrap();
    let cached = runtime(Some(cache.path()));
    rt.block_on(cached.load_file(&pdns)).unwrap(); // fills the cache
    group.bench_function("cached_load_pdns", |b| {
        b.iter(|| rt.block_on(cached.load_file(&pdns)).unwrap());
    });

    let plugin = rt.block_on(cached.load_file(&hostile)).unwrap();
    let config = Sources::resolve_pairs(plugin.metadata(), &[("mode", "ok")]).unwrap();
    let session = plugin.session(&config, &[]).unwrap();
    let set = TxtSet {
        zone: "example.test".into(),
        fqdn: "_acme-challenge.example.test".into(),
        relative_name: "_acme-challenge".into(),
        values: vec!["value-one".into(), "value-two".into()],
        ttl: 60,
    };
    group.bench_function("instantiate_and_call", |b| {
        b.iter(|| rt.block_on(session.present(&set)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
