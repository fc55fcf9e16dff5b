//! `wacme issue` end to end: real Pebble validating against a real PowerDNS,
//! records published by the pdns WASM plugin. Every test checks that the
//! certificate verifies against Pebble's root for exactly the requested
//! names and that no `_acme-challenge` value is left in the zone.

use wacme_tests::dns01::{Bed, show};

#[tokio::test]
async fn apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let out = bed.issue(&["example.test", "*.example.test"], &["--output", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["cert_name"], "example.test");
    assert_eq!(report["record_sets"], 1, "apex and wildcard share one name");
    bed.check_certificate("example.test", &["example.test", "*.example.test"])
        .await;
    assert!(
        bed.leftover_challenges().await.is_empty(),
        "{:?}",
        bed.leftover_challenges().await
    );
}
