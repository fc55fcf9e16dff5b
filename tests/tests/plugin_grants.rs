//! Environment grants, end to end: a plugin reads its own `WACME_<PLUGIN>_*`
//! variables, the aliases shipped with wacme's own plugins, and the aliases
//! the operator granted to its exact bytes (`wacme plugin install/grant`,
//! `plugins.lock`) — nothing else. Values read from the environment never
//! reach the state directory.
//!
//! The hostile plugin's `exfil-env` mode declares aliases for
//! `MY_TOP_SECRET`, `CF_API_TOKEN`, another plugin's `WACME_PDNS_API_KEY`
//! and `VAULT_ADDR` (an internal URL it would then be allowed to call), and
//! sends whatever it gets to its target.

use axum::Router;
use axum::extract::Request;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use wacme_tests::dns01::{Bed, files_under};
use wacme_tests::httpd::TestServer;
use wacme_tests::pdns::PdnsOptions;
use wacme_tests::pebble::PebbleOptions;

const TOP_SECRET: &str = "top-5ecret-never-leaves";
const CF_TOKEN: &str = "cf-5ecret-never-leaves";

/// A server that answers 200 and records each request's URI.
struct Recorder {
    server: TestServer,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let app = Router::new().fallback(move |req: Request| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(req.uri().to_string());
                "ok"
            }
        });
        Recorder {
            server: TestServer::start(app).await,
            seen,
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

struct Case {
    bed: Bed,
    target: Recorder,
    vault: Recorder,
}

async fn case() -> Option<Case> {
    let bed = Bed::start_with(PdnsOptions::default(), PebbleOptions::new().always_valid()).await?;
    Some(Case {
        bed,
        target: Recorder::start().await,
        vault: Recorder::start().await,
    })
}

impl Case {
    /// `wacme issue` through the hostile plugin (`plugin`: a name or path),
    /// with every variable it asks for set.
    fn issue(&self, plugin: &str, name: &str) -> Output {
        let mut cmd = self.wacme();
        cmd.args(["-vv", "issue", "-d", name, "--dns", plugin])
            .args(["--dns-config", "mode=exfil-env"])
            .args([
                "--dns-config",
                &format!("target={}", self.target.server.url()),
            ])
            .args(["--propagation", "none", "--no-cleanup-check"]);
        self.bed.bed_args(&mut cmd);
        cmd.output().unwrap()
    }

    /// `wacme` with the bed's state and the variables the plugin asks for.
    fn wacme(&self) -> Command {
        let mut cmd = self.bed.wacme();
        cmd.env("MY_TOP_SECRET", TOP_SECRET)
            .env("CF_API_TOKEN", CF_TOKEN)
            .env(
                "VAULT_ADDR",
                format!("{}/vault", self.vault.server.url().trim_end_matches('/')),
            );
        cmd
    }

    fn secrets(&self) -> [String; 3] {
        [
            TOP_SECRET.to_string(),
            CF_TOKEN.to_string(),
            self.bed.pdns.api_key().to_string(),
        ]
    }

    /// No secret in any file of the state directory.
    fn assert_state_clean(&self) {
        let files = files_under(self.bed.state());
        assert!(!files.is_empty());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let text = String::from_utf8_lossy(&data);
            for secret in self.secrets() {
                assert!(
                    !text.contains(&secret),
                    "{} holds a value read from the environment",
                    file.display()
                );
            }
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn hostile() -> std::path::PathBuf {
    wacme_tests::plugin_wasm("hostile")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeclared_grants_read_nothing_and_nothing_leaks() {
    let Some(case) = case().await else { return };
    let out = case.issue(hostile().to_str().unwrap(), "exfil.example.test");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");

    // The plugin ran and called out, with nothing to send.
    let seen = case.target.seen();
    assert!(!seen.is_empty(), "the plugin called its target: {all}");
    for uri in &seen {
        for secret in case.secrets() {
            assert!(!uri.contains(&secret), "leaked to the network: {uri}");
        }
    }
    assert!(
        case.vault.seen().is_empty(),
        "VAULT_ADDR is not granted, so its URL is neither given nor allowed"
    );
    // Nothing in the output or the -vv log …
    for secret in case.secrets() {
        assert!(!all.contains(&secret), "leaked to the output: {all}");
    }
    // … which names each variable it did not read, once.
    for var in [
        "MY_TOP_SECRET",
        "CF_API_TOKEN",
        "VAULT_ADDR",
        "WACME_PDNS_API_KEY",
    ] {
        assert_eq!(
            all.matches(&format!("${var} is set but not read")).count(),
            1,
            "one warning for {var}: {all}"
        );
    }
    assert!(
        all.contains("wacme plugin grant hostile MY_TOP_SECRET"),
        "{all}"
    );
    assert!(all.contains("never granted"), "{all}");
    case.assert_state_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_aliases_follow_the_plugins_bytes_and_are_never_stored() {
    let Some(case) = case().await else { return };
    let run = |args: &[&str]| case.wacme().args(args).output().unwrap();

    // No terminal, no --yes: nothing is installed.
    let out = run(&["plugin", "install", hostile().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("--yes"));
    assert!(!case.bed.state().join("plugins.lock").exists());

    // Downloads are https only.
    let out = run(&[
        "plugin",
        "install",
        "http://127.0.0.1:9/hostile.wasm",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("https:// only"), "{}", text(&out));

    // A wrong checksum: nothing is installed.
    let install_checked = |sha: &str| {
        let path = hostile();
        run(&[
            "plugin",
            "install",
            path.to_str().unwrap(),
            "--yes",
            "--sha256",
            sha,
        ])
    };
    let out = install_checked(&"0".repeat(64));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("not installed"), "{}", text(&out));
    assert!(!case.bed.state().join("plugins/hostile.wasm").exists());

    let sha = hex_sha256(&std::fs::read(hostile()).unwrap());
    let out = install_checked(&sha);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("MY_TOP_SECRET") && shown.contains("granted (plugins.lock)"),
        "{shown}"
    );
    assert!(
        shown.contains("WACME_PDNS_API_KEY") && shown.contains("refused"),
        "{shown}"
    );
    assert!(
        shown.contains("token (secret)") && shown.contains("mode (required)"),
        "the secret fields are shown: {shown}"
    );
    let lock = std::fs::read_to_string(case.bed.state().join("plugins.lock")).unwrap();
    assert!(
        lock.contains(&sha) && lock.contains("MY_TOP_SECRET"),
        "{lock}"
    );

    // Another plugin's variable is never granted.
    let out = run(&["plugin", "grant", "hostile", "WACME_PDNS_API_KEY"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("cannot be granted"), "{}", text(&out));

    // Installed and granted: the plugin gets what the operator allowed (the
    // first granted alias that is set), and may call the granted endpoint.
    let out = case.issue("hostile", "granted.example.test");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let seen = case.target.seen();
    assert!(
        seen.iter().any(|u| u.contains(TOP_SECRET)),
        "the granted value reached the plugin: {seen:?}"
    );
    assert!(
        !seen.iter().any(|u| u.contains(case.bed.pdns.api_key())),
        "{seen:?}"
    );
    assert_eq!(
        case.vault.seen().len(),
        1,
        "a granted endpoint is operator-given"
    );
    // Values from the environment are not kept.
    case.assert_state_clean();

    // Revoked: read no more.
    let out = run(&["plugin", "revoke", "hostile", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = case.target.seen().len();
    let out = case.issue("hostile", "revoked.example.test");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let after = case.target.seen();
    assert!(after.len() > before);
    assert!(
        !after[before..].iter().any(|u| u.contains(TOP_SECRET)),
        "{after:?}"
    );

    // Granted again, then the installed bytes change: the grants are gone.
    let out = run(&["plugin", "grant", "hostile", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let installed = case.bed.state().join("plugins/hostile.wasm");
    let mut bytes = std::fs::read(&installed).unwrap();
    append_custom_section(&mut bytes, "changed", b"new bytes, same plugin");
    std::fs::write(&installed, &bytes).unwrap();
    let before = case.target.seen().len();
    let out = case.issue("hostile", "changed.example.test");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let after = case.target.seen();
    assert!(
        !after[before..].iter().any(|u| u.contains(TOP_SECRET)),
        "{after:?}"
    );
    assert!(
        all.contains("the plugin changed since it was approved"),
        "{all}"
    );
    let out = run(&["plugin", "inspect", "hostile"]);
    assert!(
        text(&out).contains("MY_TOP_SECRET") && text(&out).contains("changed since"),
        "{}",
        text(&out)
    );
    case.assert_state_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_party_aliases_keep_working_until_revoked() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    // The lego / acme.sh name instead of wacme's own variable.
    let issue = |name: &str| {
        let mut cmd = bed.issue_command(&[name], &[]);
        cmd.env_remove("WACME_PDNS_API_KEY")
            .env("PDNS_API_KEY", bed.pdns.api_key());
        cmd.output().unwrap()
    };
    let out = issue("alias.example.test");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = bed
        .wacme()
        .args(["plugin", "revoke", "pdns", "PDNS_API_KEY"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = issue("revoked.example.test");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(
        all.contains("needs `api_key`") && all.contains("$PDNS_API_KEY not read unless granted"),
        "{all}"
    );
    assert!(!all.contains(bed.pdns.api_key()), "{all}");
    bed.assert_no_residue().await;
}

/// The grants shipped with wacme are exactly the aliases its plugins declare.
#[tokio::test]
async fn built_in_grants_match_the_first_party_plugins() {
    use wacme::plugins::grants::BUILT_IN;
    use wacme::plugins::{Runtime, RuntimeOptions};
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let root = wacme_tests::workspace_root().join("plugins");
    let mut names = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.join("Cargo.toml").exists() {
            continue;
        }
        let crate_name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let plugin = runtime
            .load_file(&wacme_tests::plugin_wasm(&crate_name))
            .await
            .unwrap();
        let m = plugin.metadata();
        names.push(m.name.clone());
        let declared: Vec<(String, Vec<String>)> = m
            .config
            .iter()
            .filter(|f| !f.env_aliases.is_empty())
            .map(|f| (f.name.clone(), f.env_aliases.clone()))
            .collect();
        let shipped: Vec<(String, Vec<String>)> = BUILT_IN
            .iter()
            .find(|(n, _)| *n == m.name)
            .map(|(_, fields)| {
                fields
                    .iter()
                    .map(|(k, a)| (k.to_string(), a.iter().map(|s| s.to_string()).collect()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            declared, shipped,
            "plugins/{crate_name}: update grants::BUILT_IN"
        );
    }
    for (name, _) in BUILT_IN {
        assert!(
            names.iter().any(|n| n == name),
            "BUILT_IN lists `{name}`, which is not in plugins/"
        );
    }
}

fn hex_sha256(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Appends a custom section (id 0): other bytes, the same component.
fn append_custom_section(wasm: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut body = leb128(name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    wasm.push(0);
    wasm.extend(leb128(body.len()));
    wasm.extend(body);
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}
