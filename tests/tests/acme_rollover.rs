//! Account key rollover (RFC 8555 §7.3.5) interrupted wherever a crash could
//! stop it, against the in-process CA of `acme_common/fake_ca.rs`: the next
//! use of the account (through the engine, as every command does) asks the
//! CA which key it holds and finishes or undoes the rollover, so the
//! workspace always ends up with a key the CA accepts and files that agree.
//! The crash points are those of `AccountStore::change_key_until`; one more
//! test builds the files an older wacme left (the key renamed into place,
//! `account.json` not yet updated).

mod acme_common;

use acme_common::fake_ca::{FakeCa, Fault};
use std::path::PathBuf;
use wacme::acme::store::{INFO_FILE, KEY_FILE, NEXT_KEY_FILE, RolloverCrashPoint};
use wacme::acme::{
    Account, AccountStore, Client, ClientConfig, KeyType, PrivateKey, StoredAccount,
};
use wacme::engine::account::{self as accounts, RegisterRequest};
use wacme::error::ErrorClass;
use wacme::workspace::Workspace;

/// A workspace with an account registered at a fresh fake CA.
struct Setup {
    ca: FakeCa,
    client: Client,
    _state: tempfile::TempDir,
    workspace: Workspace,
    info: StoredAccount,
    account: Account,
}

impl Setup {
    async fn new() -> Setup {
        let ca = FakeCa::start().await;
        let client = Client::connect(&ca.directory_url(), ClientConfig::default())
            .await
            .unwrap();
        let state = tempfile::tempdir().unwrap();
        let workspace = Workspace::new(state.path());
        let request = RegisterRequest {
            email: vec!["roll@example.com".into()],
            agree_tos: true,
            eab: None,
            key_type: KeyType::EcP256,
        };
        let registered = accounts::register(&client, &workspace, &request)
            .await
            .unwrap();
        assert!(registered.created);
        Setup {
            ca,
            client,
            _state: state,
            workspace,
            info: registered.info,
            account: registered.account,
        }
    }

    fn store(&self) -> AccountStore {
        self.workspace.accounts()
    }

    fn dir(&self) -> PathBuf {
        self.store().dir_for(&self.info.directory)
    }

    /// Runs a rollover to a new P-384 key that stops at `crash`; returns
    /// the new key's thumbprint.
    async fn crash_at(&self, crash: RolloverCrashPoint) -> String {
        let new_key = PrivateKey::generate(KeyType::EcP384).unwrap();
        let thumbprint = new_key.thumbprint();
        let done = self
            .store()
            .change_key_until(&self.info, &self.account, new_key, Some(crash))
            .await
            .unwrap();
        assert!(done.is_none(), "stopped at {crash:?}");
        thumbprint
    }

    /// What the files say: the key file's thumbprint, `account.json`'s,
    /// whether a next key is there, and how many unused keys were set aside.
    fn files(&self) -> (String, String, bool, usize) {
        let dir = self.dir();
        let key = PrivateKey::from_pem(&std::fs::read_to_string(dir.join(KEY_FILE)).unwrap())
            .unwrap()
            .thumbprint();
        let info: StoredAccount =
            serde_json::from_slice(&std::fs::read(dir.join(INFO_FILE)).unwrap()).unwrap();
        let unused = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("account.key.unused-")
            })
            .count();
        (
            key,
            info.thumbprint,
            dir.join(NEXT_KEY_FILE).exists(),
            unused,
        )
    }

    /// Asserts that the files agree on `thumbprint`, nothing is pending, and
    /// the CA accepts that key for the account.
    async fn assert_settled_on(&self, thumbprint: &str, account: &Account) {
        let (key, info, next, _) = self.files();
        assert_eq!(key, thumbprint, "key file");
        assert_eq!(info, thumbprint, "account.json");
        assert!(!next, "{NEXT_KEY_FILE} is left");
        assert_eq!(account.thumbprint(), thumbprint);
        account.fetch().await.expect("the CA accepts the key");
        let (_, again) = self.store().load_required(&self.info.directory).unwrap();
        assert_eq!(again.thumbprint(), thumbprint, "loads without the CA now");
    }
}

#[tokio::test]
async fn crash_before_key_change_keeps_the_old_key_and_sets_the_new_one_aside() {
    let s = Setup::new().await;
    let old = s.info.thumbprint.clone();
    s.crash_at(RolloverCrashPoint::BeforeKeyChange).await;
    assert_eq!(s.files(), (old.clone(), old.clone(), true, 0));
    assert_eq!(s.ca.count("POST /key-change"), 0);

    // The next use asks the CA: it does not know the new key, it does know
    // the old one; the new key is kept aside, not deleted.
    let (info, account) = accounts::stored(&s.client, &s.workspace).await.unwrap();
    assert_eq!(info.thumbprint, old);
    s.assert_settled_on(&old, &account).await;
    assert_eq!(s.files().3, 1, "the unused next key is kept aside");
    #[cfg(unix)]
    for entry in std::fs::read_dir(s.dir()).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let entry = entry.unwrap();
        if entry.file_name().to_string_lossy().contains(".key.") {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{:?}", entry.file_name());
        }
    }

    // A rollover now runs to the end.
    let (rolled, previous) = accounts::rollover(&s.client, &s.workspace, KeyType::EcP256)
        .await
        .unwrap();
    assert_eq!(previous, old);
    let (_, account) = accounts::stored(&s.client, &s.workspace).await.unwrap();
    s.assert_settled_on(&rolled.thumbprint, &account).await;
}

#[tokio::test]
async fn crash_after_the_ca_switched_finishes_the_rollover() {
    let s = Setup::new().await;
    let old = s.info.thumbprint.clone();
    let new = s.crash_at(RolloverCrashPoint::AfterKeyChange).await;
    assert_eq!(s.ca.count("POST /key-change"), 1);
    // Only the next key works at the CA now.
    assert_eq!(s.files(), (old.clone(), old.clone(), true, 0));
    assert!(s.account.fetch().await.is_err(), "the old key is refused");

    let (info, account) = accounts::stored(&s.client, &s.workspace).await.unwrap();
    assert_eq!(info.thumbprint, new);
    assert_eq!(info.key_type, KeyType::EcP384);
    assert_eq!(info.url, s.info.url);
    s.assert_settled_on(&new, &account).await;
    assert_eq!(s.files().3, 0);
}

#[tokio::test]
async fn crash_between_the_key_file_and_account_json_finishes_the_rollover() {
    let s = Setup::new().await;
    let old = s.info.thumbprint.clone();
    let new = s.crash_at(RolloverCrashPoint::AfterKeyFile).await;
    assert_eq!(s.files(), (new.clone(), old.clone(), true, 0));

    // As an issuance or renewal opens the account.
    let account = accounts::ensure(&s.client, &s.workspace, &[], true, None)
        .await
        .unwrap();
    s.assert_settled_on(&new, &account).await;
}

#[tokio::test]
async fn crash_before_the_next_key_is_removed_finishes_the_rollover() {
    let s = Setup::new().await;
    let new = s.crash_at(RolloverCrashPoint::AfterInfo).await;
    assert_eq!(s.files(), (new.clone(), new.clone(), true, 0));

    // As `wacme account register` run again opens it.
    let request = RegisterRequest {
        agree_tos: true,
        ..RegisterRequest::default()
    };
    let registered = accounts::register(&s.client, &s.workspace, &request)
        .await
        .unwrap();
    assert!(!registered.created);
    assert_eq!(registered.info.url, s.info.url);
    s.assert_settled_on(&new, &registered.account).await;
}

#[tokio::test]
async fn key_renamed_into_place_before_account_json_is_accepted_once_the_ca_confirms() {
    // What an interrupted rollover of an older wacme left: the CA switched,
    // the new key was renamed over the old one, account.json still names
    // the old key, and there is no next key.
    let s = Setup::new().await;
    let old = s.info.thumbprint.clone();
    let new_key = PrivateKey::generate(KeyType::EcP256).unwrap();
    let new = new_key.thumbprint();
    s.store().save_key(&s.info.directory, &new_key).unwrap();
    s.account.change_key(new_key).await.unwrap();
    assert_eq!(s.files(), (new.clone(), old.clone(), false, 0));

    let (info, account) = accounts::stored(&s.client, &s.workspace).await.unwrap();
    assert_eq!(info.thumbprint, new);
    s.assert_settled_on(&new, &account).await;
}

#[tokio::test]
async fn a_key_the_ca_does_not_hold_is_still_refused() {
    let s = Setup::new().await;
    let old = s.info.thumbprint.clone();
    let stray = PrivateKey::generate(KeyType::EcP256).unwrap();
    s.store().save_key(&s.info.directory, &stray).unwrap();

    let err = accounts::stored(&s.client, &s.workspace)
        .await
        .expect_err("refused");
    assert_eq!(err.class(), ErrorClass::State);
    assert!(
        err.describe().contains("does not match"),
        "{}",
        err.describe()
    );
    assert_eq!(s.files(), (stray.thumbprint(), old, false, 0), "untouched");
}

#[tokio::test]
async fn nothing_changes_until_the_ca_answers() {
    let s = Setup::new().await;
    let old = s.info.thumbprint.clone();
    let new = s.crash_at(RolloverCrashPoint::AfterKeyChange).await;

    // The CA cannot say which key it holds: the files stay as they are.
    s.ca.inject(
        "/new-account",
        Fault::problem(500, "serverInternal", "try again"),
    );
    let err = accounts::stored(&s.client, &s.workspace)
        .await
        .expect_err("the CA did not answer");
    assert_eq!(err.class(), ErrorClass::Ca, "{}", err.describe());
    assert_eq!(s.files(), (old.clone(), old, true, 0));

    // Next time it answers, and the rollover is finished.
    let (_, account) = accounts::stored(&s.client, &s.workspace).await.unwrap();
    s.assert_settled_on(&new, &account).await;
}

#[tokio::test]
async fn neither_key_accepted_changes_nothing() {
    let s = Setup::new().await;
    let old = s.info.thumbprint.clone();
    s.crash_at(RolloverCrashPoint::BeforeKeyChange).await;
    // The account moved to a third key behind wacme's back.
    s.account
        .change_key(PrivateKey::generate(KeyType::EcP256).unwrap())
        .await
        .unwrap();

    let err = accounts::stored(&s.client, &s.workspace)
        .await
        .expect_err("refused");
    assert_eq!(err.class(), ErrorClass::State);
    assert!(err.describe().contains("neither"), "{}", err.describe());
    assert_eq!(s.files(), (old.clone(), old, true, 0), "untouched");
}
