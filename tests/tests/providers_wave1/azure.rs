//! The azure plugin (built component) against the fake Azure Resource
//! Manager and Microsoft Entra ID token endpoint mirroring into PowerDNS:
//! the shared provider battery (conformance, apex + wildcard issuance, a
//! foreign value kept, a wrong client secret, throttled writes), with lego's
//! variable names and a resource group, and with acme.sh's names and the
//! zone found by listing the subscription.

use wacme::plugins::ProviderErrorKind;
use wacme_tests::dns01::{Bed, ZONE, show};
use wacme_tests::fake_azure::{AzureOptions, FakeAzure};
use wacme_tests::provider_suite::{self as suite, Case, Fake};

const SECRET: &str = "Qx8~azure.Secret_4f1b9c2e7d";
const WRONG: &str = "Zz9~wrong.Secret_0a0b0c0d0e";

/// lego's names, with the resource group.
fn lego_case(fake: &FakeAzure) -> Case {
    let o = fake.options();
    Case::new("azure")
        .config("endpoint", &fake.url())
        .config("authority_host", &fake.url())
        .env("AZURE_TENANT_ID", &o.tenant_id)
        .env("AZURE_CLIENT_ID", &o.client_id)
        .secret_env("AZURE_CLIENT_SECRET", SECRET)
        .env("AZURE_SUBSCRIPTION_ID", &o.subscription_id)
        .env("AZURE_RESOURCE_GROUP", &o.resource_group)
        .wrong_env("AZURE_CLIENT_SECRET", WRONG)
        .auth_reason("AADSTS7000215: Invalid client secret provided.")
}

/// acme.sh's names; no resource group.
fn acmesh_case(fake: &FakeAzure) -> Case {
    let o = fake.options();
    Case::new("azure")
        .config("endpoint", &fake.url())
        .config("authority_host", &fake.url())
        .env("AZUREDNS_TENANTID", &o.tenant_id)
        .env("AZUREDNS_APPID", &o.client_id)
        .secret_env("AZUREDNS_CLIENTSECRET", SECRET)
        .env("AZUREDNS_SUBSCRIPTIONID", &o.subscription_id)
        .wrong_env("AZUREDNS_CLIENTSECRET", WRONG)
        .auth_reason("AADSTS7000215: Invalid client secret provided.")
}

async fn start(pdns: &wacme_tests::pdns::Pdns) -> FakeAzure {
    FakeAzure::start(pdns, AzureOptions::new(SECRET, &[ZONE])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_conformance_with_resource_group() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &lego_case(&fake), &fake).await;
    assert!(fake.tokens_issued() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_conformance_finding_the_zone() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    suite::conformance(&pdns, &acmesh_case(&fake), &fake).await;
    let lists = fake
        .requests()
        .iter()
        .filter(|r| r.ends_with("/providers/Microsoft.Network/dnszones"))
        .count();
    assert!(
        lists >= 2,
        "the zone list's nextLink is followed: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_issues_apex_and_wildcard() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    let out = suite::issues_cleanly(&bed, &lego_case(&fake), &fake).await;
    let requests = fake.requests();
    let puts = requests.iter().filter(|r| r.starts_with("PUT")).count();
    let deletes = requests.iter().filter(|r| r.starts_with("DELETE")).count();
    assert_eq!((puts, deletes), (1, 1), "{requests:?}\n{}", show(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_keeps_a_foreign_value() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::foreign_value_kept(&bed, &acmesh_case(&fake), &fake).await;
    let requests = fake.requests();
    assert!(
        requests.iter().all(|r| !r.starts_with("DELETE")),
        "the set keeps the foreign value, so it is PUT, never deleted: {requests:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_wrong_client_secret() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    let out = suite::wrong_credential(&bed, &lego_case(&fake), &fake).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("invalid_client"),
        "{}",
        show(&out)
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.starts_with("PUT") && !r.starts_with("DELETE")),
        "nothing written: {:?}",
        fake.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_rate_limited_writes_are_retried() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let fake = start(&bed.pdns).await;
    suite::rate_limited_then_retried(&bed, &lego_case(&fake), &fake, 2).await;
    assert_eq!(fake.throttle().served(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_wrong_place_is_zone_not_found() {
    let Some(pdns) = suite::pdns_with_zone().await else {
        return;
    };
    let fake = start(&pdns).await;
    let set = suite::txt_set(suite::CHALLENGE, &["v1"], 30);
    let mut case = lego_case(&fake);
    for (k, v) in case.env.iter_mut() {
        if k == "AZURE_RESOURCE_GROUP" {
            *v = "not-the-rg".into();
        }
    }
    let loaded = suite::load(&case).await;
    let err = loaded.session.present(&set).await.unwrap_err();
    assert_eq!(
        err.provider_error().map(|p| p.kind),
        Some(ProviderErrorKind::ZoneNotFound),
        "{err}"
    );
    assert!(err.to_string().contains("ResourceGroupNotFound"), "{err}");
    // A value long enough to need several TXT strings round-trips.
    let long = "x".repeat(300);
    let set = suite::txt_set(suite::CHALLENGE, &[&long], 30);
    let loaded = suite::load(&lego_case(&fake)).await;
    loaded.session.present(&set).await.unwrap();
    let sets = fake.record_sets().await;
    let held = &sets[&(ZONE.to_string(), "_acme-challenge".to_string())];
    assert_eq!(
        held.records[0].iter().map(String::len).collect::<Vec<_>>(),
        [255, 45]
    );
    loaded.session.present(&set).await.unwrap();
    loaded.session.cleanup(&set).await.unwrap();
    assert!(fake.txt_records().await.is_empty());
    assert!(pdns.txt_values(suite::CHALLENGE).await.unwrap().is_empty());
}
