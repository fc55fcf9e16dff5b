//! The ACME client against a real Pebble: accounts (create, find, update,
//! rollover, deactivate, EAB), issuance through finalize and download with
//! every certificate key type, revocation both ways, alternate chains, a CA
//! that rejects half of all nonces, and parallel orders on one client.
//! Challenges validate through Pebble's `PEBBLE_VA_ALWAYS_VALID=1`.

mod acme_common;

use acme_common::issue;
use std::time::Duration;
use wacme::acme::{
    AccountStatus, AuthorizationStatus, Client, Csr, ExternalAccountKey, KeyType, NewAccount,
    NewOrder, PrivateKey, RevocationReason, cert_id, select_chain,
};
use wacme_tests::pebble::{Pebble, PebbleOptions, subject_cn, verify_chain};
use wacme_tests::require_program;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

fn new_account_request(email: &str) -> NewAccount {
    NewAccount {
        contact: vec![format!("mailto:{email}")],
        terms_of_service_agreed: true,
        external_account: None,
    }
}

fn san_names(der: &[u8]) -> Vec<String> {
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    let mut names: Vec<String> = cert
        .subject_alternative_name()
        .unwrap()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Pebble's view of a certificate's status (its management API).
async fn cert_status(pebble: &Pebble, cert_der: &[u8]) -> serde_json::Value {
    let (_, cert) = X509Certificate::from_der(cert_der).unwrap();
    let serial = format!("{:x}", cert.serial);
    let url = format!("{}/cert-status-by-serial/{serial}", pebble.management_url());
    let resp = pebble
        .http_client()
        .unwrap()
        .get(&url)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_lifecycle() {
    if !require_program("pebble") {
        return;
    }
    let pebble = Pebble::start(PebbleOptions::new()).unwrap();
    let client = pebble.acme_client().await.unwrap();
    assert!(client.directory().meta.terms_of_service.is_some());
    assert!(client.directory().key_change.is_some());

    // Create.
    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let key_pem = key.to_pem();
    let reg = client
        .new_account(key, &new_account_request("one@example.com"))
        .await
        .unwrap();
    assert!(reg.created);
    assert_eq!(reg.resource.status, AccountStatus::Valid);
    assert_eq!(reg.resource.contact, ["mailto:one@example.com"]);
    let account = reg.account;

    // The same key again: the existing account, not a new one.
    let again = client
        .new_account(
            PrivateKey::from_pem(&key_pem).unwrap(),
            &new_account_request("one@example.com"),
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.account.url(), account.url());

    // Find without creating.
    let found = client
        .find_account(PrivateKey::from_pem(&key_pem).unwrap())
        .await
        .unwrap();
    assert_eq!(found.account.url(), account.url());
    let err = client
        .find_account(PrivateKey::generate(KeyType::EcP256).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_problem("accountDoesNotExist"), "{err}");

    // Fetch and update the contacts.
    assert_eq!(account.fetch().await.unwrap().status, AccountStatus::Valid);
    let updated = account
        .update_contact(&[
            "mailto:two@example.com".into(),
            "mailto:three@example.com".into(),
        ])
        .await
        .unwrap();
    assert_eq!(
        updated.contact,
        ["mailto:two@example.com", "mailto:three@example.com"]
    );
    assert_eq!(account.fetch().await.unwrap().contact.len(), 2);

    // Key rollover to a P-384 key: the new key works, the old one is gone.
    let rolled = account
        .change_key(PrivateKey::generate(KeyType::EcP384).unwrap())
        .await
        .unwrap();
    assert_eq!(rolled.url(), account.url());
    assert_ne!(rolled.thumbprint(), account.thumbprint());
    assert_eq!(rolled.fetch().await.unwrap().status, AccountStatus::Valid);
    let err = client
        .find_account(PrivateKey::from_pem(&key_pem).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_problem("accountDoesNotExist"), "{err}");
    let new_pem = rolled.key().to_pem();
    let found = client
        .find_account(PrivateKey::from_pem(&new_pem).unwrap())
        .await
        .unwrap();
    assert_eq!(found.account.url(), account.url());

    // An authorization can be deactivated.
    let order = rolled
        .new_order(&NewOrder::dns(["deact.example.com"]).unwrap())
        .await
        .unwrap();
    let authz = rolled
        .deactivate_authorization(&order.authorizations[0])
        .await
        .unwrap();
    assert_eq!(authz.status, AuthorizationStatus::Deactivated);

    // Deactivate the account: afterwards it cannot be used.
    let gone = rolled.deactivate().await.unwrap();
    assert_eq!(gone.status, AccountStatus::Deactivated);
    let err = rolled.fetch().await.unwrap_err();
    assert!(err.is_problem("unauthorized"), "{err}");
    assert_eq!(err.class(), wacme::error::ErrorClass::Ca);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_and_p384_account_keys() {
    if !require_program("pebble") {
        return;
    }
    let pebble = Pebble::start(PebbleOptions::new().always_valid()).unwrap();
    let client = pebble.acme_client().await.unwrap();
    for kind in [KeyType::Rsa2048, KeyType::EcP384] {
        let reg = client
            .new_account(
                PrivateKey::generate(kind).unwrap(),
                &new_account_request("keys@example.com"),
            )
            .await
            .unwrap();
        assert!(reg.created, "{kind}");
        // A whole order signed with this key type.
        let issued = issue(
            &reg.account,
            &[&format!("{kind}.example.com")],
            KeyType::EcP256,
        )
        .await
        .unwrap();
        assert_eq!(issued.chains.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_account_binding() {
    if !require_program("pebble") {
        return;
    }
    // The MAC key from the EAB example that ships with Pebble.
    let mac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let pebble = Pebble::start(PebbleOptions::new().eab("kid-1", mac)).unwrap();
    let client = pebble.acme_client().await.unwrap();
    assert!(client.directory().meta.external_account_required);

    // Without EAB: refused before anything is sent, as bad input.
    let before = client.total_request_count();
    let err = client
        .new_account(
            PrivateKey::generate(KeyType::EcP256).unwrap(),
            &new_account_request("eab@example.com"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), wacme::error::ErrorClass::Input, "{err}");
    assert_eq!(client.total_request_count(), before);

    // A wrong MAC key or an unknown key id: the CA refuses.
    for (kid, key) in [
        ("kid-1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ("kid-9", mac),
    ] {
        let request = NewAccount {
            external_account: Some(ExternalAccountKey::new(kid, key).unwrap()),
            ..new_account_request("eab@example.com")
        };
        let err = client
            .new_account(PrivateKey::generate(KeyType::EcP256).unwrap(), &request)
            .await
            .unwrap_err();
        assert!(err.problem().is_some(), "{kid}: {err}");
        assert_eq!(err.class(), wacme::error::ErrorClass::Ca);
    }

    // The right credentials.
    let request = NewAccount {
        external_account: Some(ExternalAccountKey::new("kid-1", mac).unwrap()),
        ..new_account_request("eab@example.com")
    };
    let reg = client
        .new_account(PrivateKey::generate(KeyType::EcP256).unwrap(), &request)
        .await
        .unwrap();
    assert!(reg.created);
    assert_eq!(reg.resource.status, AccountStatus::Valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_apex_and_wildcard_with_every_key_type() {
    if !require_program("pebble") {
        return;
    }
    let pebble = Pebble::start(PebbleOptions::new().always_valid().nonce_reject(0)).unwrap();
    let account = pebble.new_account().await.unwrap();
    let root = pebble.root_pem(0).await.unwrap();

    // Apex + wildcard, the default key: the speed case.
    let issued = issue(&account, &["example.com", "*.example.com"], KeyType::EcP256)
        .await
        .unwrap();
    eprintln!(
        "apex + wildcard: {} ms, {} CA requests",
        issued.elapsed.as_millis(),
        issued.requests
    );
    let chain = &issued.chains[0];
    assert_eq!(san_names(chain.leaf()), ["*.example.com", "example.com"]);
    verify_chain(&chain.certs, &root).unwrap();
    // The leaf holds the key the CSR was made with.
    let (_, leaf) = X509Certificate::from_der(chain.leaf()).unwrap();
    assert_eq!(
        leaf.public_key().raw,
        issued.key.public_key_spki_der().unwrap()
    );
    // newOrder, 2 authorizations, 2 responses, ≥2 polls, ≥1 order poll,
    // finalize, download: at least 9; more means wasted polling.
    assert!(
        (9..=20).contains(&issued.requests),
        "{} requests",
        issued.requests
    );
    assert!(
        issued.elapsed < Duration::from_secs(5),
        "{:?}",
        issued.elapsed
    );

    // Every other key type, concurrently, on clones of the same account.
    let kinds = [
        KeyType::EcP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ];
    let results = futures::future::join_all(kinds.iter().map(|&kind| {
        let account = account.clone();
        async move {
            let name = format!("{kind}.example.org");
            (kind, issue(&account, &[name.as_str()], kind).await)
        }
    }))
    .await;
    for (kind, result) in results {
        let issued = result.unwrap_or_else(|e| panic!("{kind}: {e:#}"));
        let leaf = issued.chains[0].leaf();
        assert_eq!(san_names(leaf), [format!("{kind}.example.org")]);
        let (_, cert) = X509Certificate::from_der(leaf).unwrap();
        assert_eq!(
            cert.public_key().raw,
            issued.key.public_key_spki_der().unwrap(),
            "{kind}"
        );
        verify_chain(&issued.chains[0].certs, &root).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_supplied_csr() {
    if !require_program("pebble") {
        return;
    }
    let pebble = Pebble::start(PebbleOptions::new().always_valid()).unwrap();
    let account = pebble.new_account().await.unwrap();
    // A CSR made elsewhere (subject CN + SANs, its own key).
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["csr.example.com".into(), "www.csr.example.com".into()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "csr.example.com");
    let pem = params.serialize_request(&key).unwrap().pem().unwrap();
    let csr = Csr::parse(pem.as_bytes()).unwrap();

    let order = account
        .new_order(&NewOrder::dns(["www.csr.example.com", "csr.example.com"]).unwrap())
        .await
        .unwrap();
    csr.check_matches(&order.identifiers).unwrap();
    for authz in account.authorizations(&order).await.unwrap() {
        account.respond(&authz.dns01().unwrap().url).await.unwrap();
    }
    let policy = wacme::acme::PollPolicy::default();
    let order = account.wait_order(&order.url, &policy).await.unwrap();
    let order = account
        .finalize_and_wait(&order, csr.der(), &policy)
        .await
        .unwrap();
    let chain = account
        .certificate(order.certificate.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        san_names(chain.leaf()),
        ["csr.example.com", "www.csr.example.com"]
    );

    // A CSR that does not match is caught before finalizing.
    let other = account
        .new_order(&NewOrder::dns(["other.example.com"]).unwrap())
        .await
        .unwrap();
    assert!(csr.check_matches(&other.identifiers).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_by_account_and_by_certificate_key() {
    if !require_program("pebble") {
        return;
    }
    let pebble = Pebble::start(PebbleOptions::new().always_valid()).unwrap();
    let account = pebble.new_account().await.unwrap();

    // By the account key, with a reason.
    let issued = issue(&account, &["revoke1.example.com"], KeyType::EcP256)
        .await
        .unwrap();
    let leaf = issued.chains[0].leaf().to_vec();
    assert_eq!(cert_status(&pebble, &leaf).await["Status"], "Valid");
    account
        .revoke(&leaf, Some(RevocationReason::Superseded))
        .await
        .unwrap();
    let status = cert_status(&pebble, &leaf).await;
    assert_eq!(status["Status"], "Revoked", "{status}");
    assert_eq!(status["Reason"], 4, "{status}");
    let err = account.revoke(&leaf, None).await.unwrap_err();
    assert!(err.is_problem("alreadyRevoked"), "{err}");

    // Another account may not revoke it.
    let stranger = pebble.new_account().await.unwrap();
    let issued2 = issue(&account, &["revoke2.example.com"], KeyType::EcP384)
        .await
        .unwrap();
    let leaf2 = issued2.chains[0].leaf().to_vec();
    let err = stranger.revoke(&leaf2, None).await.unwrap_err();
    assert!(err.is_problem("unauthorized"), "{err}");

    // By the certificate's own key (no account involved), key compromise.
    let client: &Client = account.client();
    client
        .revoke_with_certificate_key(&leaf2, &issued2.key, Some(RevocationReason::KeyCompromise))
        .await
        .unwrap();
    let status = cert_status(&pebble, &leaf2).await;
    assert_eq!(status["Status"], "Revoked", "{status}");
    assert_eq!(status["Reason"], 1, "{status}");

    // The wrong key for the certificate is refused.
    let issued3 = issue(&account, &["revoke3.example.com"], KeyType::EcP256)
        .await
        .unwrap();
    let err = client
        .revoke_with_certificate_key(
            issued3.chains[0].leaf(),
            &PrivateKey::generate(KeyType::EcP256).unwrap(),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.problem().is_some(), "{err}");
    assert_eq!(
        cert_status(&pebble, issued3.chains[0].leaf()).await["Status"],
        "Valid"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternate_chains_and_preferred_issuer() {
    if !require_program("pebble") {
        return;
    }
    let pebble = Pebble::start(PebbleOptions::new().always_valid().alternate_roots(2)).unwrap();
    let account = pebble.new_account().await.unwrap();
    let issued = issue(&account, &["alt.example.com"], KeyType::EcP256)
        .await
        .unwrap();
    assert_eq!(
        issued.chains.len(),
        3,
        "the default chain and two alternates"
    );
    let leaf = issued.chains[0].leaf();
    let mut root_cns = Vec::new();
    for (i, chain) in issued.chains.iter().enumerate() {
        assert_eq!(chain.leaf(), leaf, "every chain has the same leaf");
        let root = pebble.root_pem(i).await.unwrap();
        verify_chain(&chain.certs, &root).unwrap_or_else(|e| panic!("chain {i}: {e:#}"));
        let cn = subject_cn(&root).unwrap();
        assert_eq!(chain.root_issuer_cn().as_deref(), Some(cn.as_str()));
        root_cns.push(cn);
    }
    root_cns.dedup();
    assert_eq!(root_cns.len(), 3, "three different roots: {root_cns:?}");

    // Preferred chain by issuer CN; no match keeps the default.
    let chosen = select_chain(&issued.chains, Some(&root_cns[2])).unwrap();
    assert_eq!(chosen.url, issued.chains[2].url);
    let chosen = select_chain(&issued.chains, Some(&root_cns[1].to_uppercase())).unwrap();
    assert_eq!(chosen.url, issued.chains[1].url);
    let chosen = select_chain(&issued.chains, Some("No Such Root")).unwrap();
    assert_eq!(chosen.url, issued.chains[0].url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_of_all_nonces_rejected_twenty_orders() {
    if !require_program("pebble") {
        return;
    }
    // Strict mode too, as the reference clients' end-to-end tests run it.
    let pebble = Pebble::start(
        PebbleOptions::new()
            .always_valid()
            .nonce_reject(50)
            .strict(),
    )
    .unwrap();
    let account = pebble.new_account().await.unwrap();
    let before = account.client().total_request_count();
    let mut requests = 0;
    for i in 0..20 {
        let apex = format!("n{i}.example.com");
        let wildcard = format!("*.n{i}.example.com");
        let issued = issue(
            &account,
            &[apex.as_str(), wildcard.as_str()],
            KeyType::EcP256,
        )
        .await
        .unwrap_or_else(|e| panic!("order {i}: {e:#}"));
        assert_eq!(
            san_names(issued.chains[0].leaf()),
            [wildcard.clone(), apex.clone()]
        );
        requests += issued.requests;
    }
    let total = account.client().total_request_count() - before;
    assert_eq!(
        total, requests,
        "per-order counters add up to the client's total"
    );
    // Without rejections 20 orders take about 220 requests; half the nonces
    // rejected shows up as retries.
    eprintln!("20 orders with PEBBLE_WFE_NONCEREJECT=50: {total} CA requests");
    assert!(
        total > 300,
        "{total} requests: were nonces really rejected?"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_orders_share_one_client() {
    if !require_program("pebble") {
        return;
    }
    let pebble = Pebble::start(PebbleOptions::new().always_valid()).unwrap();
    let account = pebble.new_account().await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let account = account.clone();
            tokio::spawn(async move {
                let name = format!("p{i}.example.net");
                issue(&account, &[name.as_str()], KeyType::EcP256)
                    .await
                    .map(|x| (name, x))
            })
        })
        .collect();
    for task in tasks {
        let (name, issued) = task.await.unwrap().unwrap();
        assert_eq!(san_names(issued.chains[0].leaf()), [name]);
        // The ARI id of a Pebble certificate can be computed (Pebble itself has no ARI).
        cert_id(issued.chains[0].leaf()).unwrap();
    }
    let err = account
        .new_order(
            &NewOrder::dns(["x.example.net"])
                .unwrap()
                .replaces("abc.def"),
        )
        .await
        .map(|o| o.replaces);
    // Pebble has no renewalInfo, so `replaces` is not sent.
    assert_eq!(err.unwrap(), None);
    let err = account
        .new_order(&NewOrder::dns(["x.example.net"]).unwrap().profile("classic"))
        .await
        .unwrap_err();
    assert!(matches!(err, wacme::acme::Error::Unsupported(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_identifier_is_a_problem_with_detail() {
    if !require_program("pebble") {
        return;
    }
    let pebble = Pebble::start(PebbleOptions::new().always_valid()).unwrap();
    let account = pebble.new_account().await.unwrap();
    // A name the client itself would refuse (an underscore), put in by
    // hand so the CA's own answer is seen.
    let mut request = NewOrder::dns(["fine.example.com"]).unwrap();
    request.identifiers[0].value = "bad_name.example.com".into();
    let err = account.new_order(&request).await.unwrap_err();
    let problem = err.problem().unwrap_or_else(|| panic!("{err}"));
    assert!(problem.detail.is_some(), "{problem:?}");
    assert_eq!(err.class(), wacme::error::ErrorClass::Ca);
    assert!(err.to_string().contains("the CA refused POST"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_account_and_safe_key_rollover() {
    if !require_program("pebble") {
        return;
    }
    use wacme::acme::{AccountStore, StoredAccount};
    let pebble = Pebble::start(PebbleOptions::new()).unwrap();
    let client = pebble.acme_client().await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let store = AccountStore::new(state.path());
    let directory = client.directory_url().to_string();

    let key = PrivateKey::generate(KeyType::EcP256).unwrap();
    store.save_key(&directory, &key).unwrap();
    let reg = client
        .new_account(key, &new_account_request("store@example.com"))
        .await
        .unwrap();
    let info = StoredAccount {
        directory: directory.clone(),
        url: reg.account.url().to_string(),
        contact: reg.resource.contact.clone(),
        key_type: reg.account.key().key_type(),
        thumbprint: reg.account.thumbprint().to_owned(),
        terms_of_service_agreed: true,
        eab_kid: None,
        created_at: time::OffsetDateTime::now_utc(),
    };
    store.save_info(&info).unwrap();

    // Load it back as a fresh process would, and use it.
    let (loaded, key) = store.load_required(&directory).unwrap();
    let account = client.account(key, url::Url::parse(&loaded.url).unwrap());
    assert_eq!(account.fetch().await.unwrap().status, AccountStatus::Valid);

    // Roll over through the store: files and CA agree afterwards.
    let (rolled_info, rolled) = store
        .change_key(
            &loaded,
            &account,
            PrivateKey::generate(KeyType::EcP384).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(rolled_info.key_type, KeyType::EcP384);
    assert!(
        !store
            .dir_for(&directory)
            .join("account.key.next.pem")
            .exists()
    );
    let (again, key) = store.load_required(&directory).unwrap();
    assert_eq!(again, rolled_info);
    assert_eq!(key.thumbprint(), rolled.thumbprint());
    let found = client.find_account(key).await.unwrap();
    assert_eq!(found.account.url().as_str(), loaded.url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_validation_reports_the_problem() {
    if !require_program("pebble") {
        return;
    }
    // Real validation against a DNS server that is not there.
    let nowhere: std::net::SocketAddr = format!("127.0.0.1:{}", wacme_tests::free_port())
        .parse()
        .unwrap();
    let pebble = Pebble::start(PebbleOptions::new().dns_server(nowhere)).unwrap();
    let account = pebble.new_account().await.unwrap();
    let order = account
        .new_order(&NewOrder::dns(["fail.example.com"]).unwrap())
        .await
        .unwrap();
    let authz = account
        .authorization(&order.authorizations[0])
        .await
        .unwrap();
    let challenge = authz.dns01().unwrap();
    assert_eq!(
        account
            .key_authorization(challenge.token.as_deref().unwrap())
            .split('.')
            .count(),
        2
    );
    account.respond(&challenge.url).await.unwrap();
    let policy = wacme::acme::PollPolicy {
        timeout: Duration::from_secs(60),
        ..Default::default()
    };
    let err = account
        .wait_authorization(&authz.url, &policy)
        .await
        .unwrap_err();
    assert!(matches!(err, wacme::acme::Error::Failed { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with("the authorization for fail.example.com is invalid: "),
        "{msg}"
    );
    assert!(err.problem().is_some(), "{err:?}");
    let err = account.wait_order(&order.url, &policy).await.unwrap_err();
    assert!(err.to_string().contains("is invalid"), "{err}");

    // A poll deadline that passes is a timeout naming what was awaited.
    let order = account
        .new_order(&NewOrder::dns(["slow.example.com"]).unwrap())
        .await
        .unwrap();
    let policy = wacme::acme::PollPolicy {
        timeout: Duration::from_millis(300),
        ..Default::default()
    };
    // Nobody answered the challenge: the authorization stays pending.
    let err = account
        .wait_authorization(&order.authorizations[0], &policy)
        .await
        .unwrap_err();
    assert!(matches!(err, wacme::acme::Error::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string().contains("waiting for the authorization"),
        "{err}"
    );
}
