//! The PowerDNS plugin (`plugins/pdns`, built component) run by the host's
//! plugin runtime against a real PowerDNS: values show over DNS, other
//! values on the name survive, cleanup removes only its own, calls are
//! idempotent, concurrent presents in one zone lose nothing, batch calls
//! change many names in one GET and one PATCH, and failures come back as
//! the right WIT error case.

use wacme::plugins::config::Sources;
use wacme::plugins::{Error, Plugin, ProviderErrorKind, Runtime, RuntimeOptions, Session, TxtSet};
use wacme_tests::pdns::{self, Pdns};

const ZONE: &str = "example.test";
const NAME: &str = "_acme-challenge.example.test";

struct Bed {
    pdns: Pdns,
    plugin: Plugin,
    _cache: tempfile::TempDir,
}

/// A PowerDNS with zone `example.test` and the loaded pdns plugin, or `None`
/// when PowerDNS is not installed (outside CI).
async fn bed() -> Option<Bed> {
    if !pdns::available() {
        return None;
    }
    let pdns = Pdns::start().await.unwrap();
    pdns.create_zone(ZONE, &[("ns1.example.test", "127.0.0.1".parse().unwrap())])
        .await
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    let plugin = runtime
        .load_file(&wacme_tests::plugin_wasm("pdns"))
        .await
        .unwrap();
    Some(Bed {
        pdns,
        plugin,
        _cache: cache,
    })
}

impl Bed {
    /// A session with the server's URL and key, plus `extra` settings.
    fn session(&self, extra: &[(&str, &str)]) -> Session {
        self.try_session(extra).unwrap()
    }

    fn try_session(&self, extra: &[(&str, &str)]) -> Result<Session, Error> {
        let api_url = self.pdns.api_url();
        let mut pairs = vec![
            ("api_url", api_url.as_str()),
            ("api_key", self.pdns.api_key()),
        ];
        pairs.extend_from_slice(extra);
        let config = Sources::resolve_pairs(self.plugin.metadata(), &pairs)?;
        self.plugin.session(&config, &[])
    }
}

fn set(fqdn: &str, values: &[&str]) -> TxtSet {
    let zone = ZONE.to_string();
    let relative_name = match fqdn.strip_suffix(&format!(".{ZONE}")) {
        Some(relative) => relative.to_string(),
        None => "@".to_string(),
    };
    TxtSet {
        zone,
        fqdn: fqdn.to_string(),
        relative_name,
        values: values.iter().map(|v| v.to_string()).collect(),
        ttl: 60,
    }
}

fn kind(err: &Error) -> ProviderErrorKind {
    err.provider_error()
        .unwrap_or_else(|| panic!("not a provider error: {err}"))
        .kind
}

#[tokio::test]
async fn present_and_cleanup_touch_only_their_values() {
    let Some(bed) = bed().await else { return };
    let session = bed.session(&[]);
    bed.pdns
        .set_rrset(ZONE, NAME, "TXT", 300, &["\"foreign\""])
        .await
        .unwrap();

    session
        .present(&set(NAME, &["v-apex", "v-wild"]))
        .await
        .unwrap();
    assert_eq!(
        bed.pdns.txt_values(NAME).await.unwrap(),
        ["foreign", "v-apex", "v-wild"]
    );
    assert_eq!(
        bed.pdns.rrset(ZONE, NAME, "TXT").await.unwrap(),
        ["\"foreign\"", "\"v-apex\"", "\"v-wild\""]
    );

    // Idempotent.
    session
        .present(&set(NAME, &["v-apex", "v-wild"]))
        .await
        .unwrap();
    assert_eq!(
        bed.pdns.txt_values(NAME).await.unwrap(),
        ["foreign", "v-apex", "v-wild"]
    );

    // Cleaning one value keeps the other and the foreign one; again is fine.
    session.cleanup(&set(NAME, &["v-apex"])).await.unwrap();
    assert_eq!(
        bed.pdns.txt_values(NAME).await.unwrap(),
        ["foreign", "v-wild"]
    );
    session.cleanup(&set(NAME, &["v-apex"])).await.unwrap();
    session.cleanup(&set(NAME, &["v-wild"])).await.unwrap();
    assert_eq!(bed.pdns.txt_values(NAME).await.unwrap(), ["foreign"]);
}

#[tokio::test]
async fn cleanup_of_the_last_value_deletes_the_rrset() {
    let Some(bed) = bed().await else { return };
    let session = bed.session(&[]);
    let name = "_acme-challenge.www.example.test";
    session.present(&set(name, &["only"])).await.unwrap();
    assert_eq!(bed.pdns.txt_values(name).await.unwrap(), ["only"]);
    session.cleanup(&set(name, &["only"])).await.unwrap();
    assert!(bed.pdns.rrset(ZONE, name, "TXT").await.unwrap().is_empty());
    assert!(bed.pdns.txt_values(name).await.unwrap().is_empty());
    // Already gone.
    session.cleanup(&set(name, &["only"])).await.unwrap();
}

#[tokio::test]
async fn api_root_url_and_ttl_override_are_honoured() {
    let Some(bed) = bed().await else { return };
    let api_root = format!("{}/api/v1/", bed.pdns.api_url());
    let session = bed.session(&[("api_url", &api_root), ("ttl", "123")]);
    session.present(&set(ZONE, &["at-apex"])).await.unwrap();
    assert_eq!(bed.pdns.txt_values(ZONE).await.unwrap(), ["at-apex"]);
    let zone = bed
        .pdns
        .api(
            reqwest::Method::GET,
            "/zones/example.test.?rrsets=true&rrset_name=example.test.&rrset_type=TXT",
            None,
        )
        .await
        .unwrap();
    let txt = zone["rrsets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "TXT")
        .unwrap();
    assert_eq!(txt["ttl"], 123, "{txt}");
}

/// `present_many` / `cleanup_many` through the batch exports: four names,
/// one of them carrying another client's value; each batch call is one GET
/// of the zone and one PATCH, and the foreign value survives both.
#[tokio::test]
async fn batch_calls_take_two_requests_and_keep_foreign_values() {
    let Some(bed) = bed().await else { return };
    let session = bed.session(&[]);
    assert!(bed.plugin.metadata().hints.batch);
    let names = [
        NAME,
        "_acme-challenge.a.example.test",
        "_acme-challenge.b.example.test",
        "_acme-challenge.deep.c.example.test",
    ];
    bed.pdns
        .set_rrset(ZONE, names[1], "TXT", 300, &["\"foreign\""])
        .await
        .unwrap();
    let sets: Vec<TxtSet> = names
        .iter()
        .enumerate()
        .map(|(i, name)| set(name, &[&format!("v{i}-apex"), &format!("v{i}-wild")]))
        .collect();

    let before = session.requests();
    session.present_many(&sets).await.unwrap();
    assert_eq!(session.requests() - before, 2, "one GET, one PATCH");
    for (i, name) in names.iter().enumerate() {
        let mut want = vec![format!("v{i}-apex"), format!("v{i}-wild")];
        if i == 1 {
            want.insert(0, "foreign".into());
        }
        assert_eq!(bed.pdns.txt_values(name).await.unwrap(), want, "{name}");
    }

    // Again: every value is there, so only the GET.
    let before = session.requests();
    session.present_many(&sets).await.unwrap();
    assert_eq!(session.requests() - before, 1, "nothing to write");

    let before = session.requests();
    session.cleanup_many(&sets).await.unwrap();
    assert_eq!(session.requests() - before, 2, "one GET, one PATCH");
    assert_eq!(bed.pdns.txt_values(names[1]).await.unwrap(), ["foreign"]);
    assert_eq!(
        bed.pdns.rrset(ZONE, names[1], "TXT").await.unwrap(),
        ["\"foreign\""]
    );
    for name in [names[0], names[2], names[3]] {
        assert!(
            bed.pdns.rrset(ZONE, name, "TXT").await.unwrap().is_empty(),
            "{name}"
        );
    }

    // Already gone: the GET only.
    let before = session.requests();
    session.cleanup_many(&sets).await.unwrap();
    assert_eq!(session.requests() - before, 1);
    assert_eq!(bed.pdns.txt_values(names[1]).await.unwrap(), ["foreign"]);
}

/// Concurrent writes to one zone collide in PowerDNS's sqlite backend
/// ("database is locked", HTTP 500): the plugin reports them as transient
/// and the host's retries (as the solver makes them) get every write
/// through without losing a value.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_presents_in_one_zone_lose_nothing() {
    use wacme::dns01::solver::{CLEANUP_RETRIES, SolverOptions, call_with_retries};
    let retries = SolverOptions::default().provider_retries;
    let Some(bed) = bed().await else { return };
    let session = bed.session(&[]);
    let names: Vec<String> = (0..8)
        .map(|i| format!("_acme-challenge.h{i}.example.test"))
        .collect();
    let calls = names.iter().enumerate().map(|(i, name)| {
        let session = session.clone();
        let set = set(name, &[&format!("a{i}"), &format!("b{i}")]);
        async move { call_with_retries(&session, &set, true, retries).await }
    });
    for result in futures_join_all(calls).await {
        result.unwrap();
    }
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            bed.pdns.txt_values(name).await.unwrap(),
            [format!("a{i}"), format!("b{i}")],
            "{name}"
        );
    }

    // Concurrent cleanups of one value per name keep the other.
    let calls = names.iter().enumerate().map(|(i, name)| {
        let session = session.clone();
        let set = set(name, &[&format!("a{i}")]);
        async move { call_with_retries(&session, &set, false, CLEANUP_RETRIES).await }
    });
    for result in futures_join_all(calls).await {
        result.unwrap();
    }
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            bed.pdns.txt_values(name).await.unwrap(),
            [format!("b{i}")],
            "{name}"
        );
    }
}

/// Runs the futures concurrently (the test runtime has several threads).
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn failures_map_to_the_wit_error_cases() {
    let Some(bed) = bed().await else { return };

    let wrong_key = bed.session(&[("api_key", "not-the-key")]);
    let err = wrong_key.present(&set(NAME, &["v"])).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Authentication, "{err}");
    assert!(!err.to_string().contains(bed.pdns.api_key()), "{err}");

    let session = bed.session(&[]);
    let mut other_zone = set("_acme-challenge.other.test", &["v"]);
    other_zone.zone = "other.test".into();
    let err = session.present(&other_zone).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::ZoneNotFound, "{err}");
    assert!(err.to_string().contains("other.test."), "{err}");

    let wrong_server = bed.session(&[("server_id", "elsewhere")]);
    let err = wrong_server.present(&set(NAME, &["v"])).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::ZoneNotFound, "{err}");

    // A name outside the zone: PowerDNS answers 422 with its reason.
    let mut out_of_zone = set("_acme-challenge.other.test", &["v"]);
    out_of_zone.zone = ZONE.into();
    let err = session.present(&out_of_zone).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Permanent, "{err}");
    assert!(err.to_string().contains("out of zone"), "{err}");

    // Nothing listens there: worth retrying.
    let port = wacme_tests::free_port();
    let closed = bed.session(&[("api_url", &format!("http://127.0.0.1:{port}"))]);
    let err = closed.present(&set(NAME, &["v"])).await.unwrap_err();
    assert_eq!(kind(&err), ProviderErrorKind::Transient, "{err}");

    // A URL without host: the host's policy or the plugin refuses it.
    match bed.try_session(&[("api_url", "http:///nowhere")]) {
        Err(e) => assert!(matches!(e, Error::Policy { .. } | Error::Config(_)), "{e}"),
        Ok(bad_url) => {
            let err = bad_url.present(&set(NAME, &["v"])).await.unwrap_err();
            assert_eq!(kind(&err), ProviderErrorKind::InvalidConfig, "{err}");
        }
    }

    // Nothing was written by any of these.
    assert!(bed.pdns.txt_values(NAME).await.unwrap().is_empty());
}
