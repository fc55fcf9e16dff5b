//! Pebble (Let's Encrypt's ACME test CA) on free loopback ports, with a
//! freshly made TLS CA and `localhost`/`127.0.0.1` server certificate for its
//! HTTPS listeners, the `PEBBLE_*` test knobs, External Account Binding and
//! a `-dnsserver` of the test's choosing. Killed when dropped.

use crate::{ChildGuard, find_program, free_port, free_ports_on, wait_for_tcp};
use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How to run Pebble.
#[derive(Debug, Clone)]
pub struct PebbleOptions {
    /// `PEBBLE_VA_ALWAYS_VALID=1`: every challenge validates without a check.
    pub va_always_valid: bool,
    /// `PEBBLE_VA_NOSLEEP=1`: no artificial validation delay (on by default).
    pub va_nosleep: bool,
    /// `PEBBLE_WFE_NONCEREJECT`: share of valid nonces rejected with
    /// `badNonce` (percent). `None` keeps Pebble's default of 5.
    pub nonce_reject: Option<u8>,
    /// `PEBBLE_AUTHZREUSE` (percent).
    pub authz_reuse: Option<u8>,
    /// `PEBBLE_ALTERNATE_ROOTS`: number of alternate chains offered.
    pub alternate_roots: Option<u32>,
    /// `PEBBLE_CHAIN_LENGTH`.
    pub chain_length: Option<u32>,
    /// Make External Account Binding mandatory.
    pub eab_required: bool,
    /// EAB credentials Pebble accepts: (key id, base64url HMAC key).
    pub eab_keys: Vec<(String, String)>,
    /// `-dnsserver`: where Pebble's VA asks for TXT records (e.g. PowerDNS).
    pub dns_server: Option<SocketAddr>,
    /// `-strict`.
    pub strict: bool,
    /// Any other environment variables.
    pub env: Vec<(String, String)>,
}

impl Default for PebbleOptions {
    fn default() -> Self {
        PebbleOptions {
            va_always_valid: false,
            va_nosleep: true,
            nonce_reject: None,
            authz_reuse: None,
            alternate_roots: None,
            chain_length: None,
            eab_required: false,
            eab_keys: Vec::new(),
            dns_server: None,
            strict: false,
            env: Vec::new(),
        }
    }
}

impl PebbleOptions {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn always_valid(mut self) -> Self {
        self.va_always_valid = true;
        self
    }

    pub fn nonce_reject(mut self, percent: u8) -> Self {
        self.nonce_reject = Some(percent);
        self
    }

    pub fn authz_reuse(mut self, percent: u8) -> Self {
        self.authz_reuse = Some(percent);
        self
    }

    pub fn alternate_roots(mut self, n: u32) -> Self {
        self.alternate_roots = Some(n);
        self
    }

    pub fn chain_length(mut self, n: u32) -> Self {
        self.chain_length = Some(n);
        self
    }

    /// Requires EAB and accepts the key `kid` with the base64url MAC key.
    pub fn eab(mut self, kid: &str, hmac_b64url: &str) -> Self {
        self.eab_required = true;
        self.eab_keys.push((kid.to_owned(), hmac_b64url.to_owned()));
        self
    }

    pub fn dns_server(mut self, addr: SocketAddr) -> Self {
        self.dns_server = Some(addr);
        self
    }

    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// A running Pebble.
pub struct Pebble {
    guard: ChildGuard,
    dir: tempfile::TempDir,
    port: u16,
    management_port: u16,
    ca_cert_pem: String,
    options: PebbleOptions,
}

impl Pebble {
    /// Starts Pebble and waits until both of its listeners accept connections.
    pub fn start(options: PebbleOptions) -> anyhow::Result<Pebble> {
        let program = find_program("pebble").context("`pebble` is not installed")?;
        let dir = tempfile::Builder::new().prefix("wacme-pebble-").tempdir()?;
        let (ca_cert_pem, cert_pem, key_pem) = tls_material()?;
        std::fs::write(dir.path().join("ca.pem"), &ca_cert_pem)?;
        std::fs::write(dir.path().join("cert.pem"), &cert_pem)?;
        std::fs::write(dir.path().join("key.pem"), &key_pem)?;

        let [port, management_port] = free_ports_on("127.0.0.1", 2, &[])[..] else {
            unreachable!("two ports asked for")
        };
        let eab_keys: serde_json::Map<String, serde_json::Value> = options
            .eab_keys
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{port}"),
                "managementListenAddress": format!("127.0.0.1:{management_port}"),
                "certificate": dir.path().join("cert.pem"),
                "privateKey": dir.path().join("key.pem"),
                "httpPort": free_port(),
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": options.eab_required,
                "externalAccountMACKeys": eab_keys,
            }
        });
        let config_path = dir.path().join("pebble-config.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;

        let log = std::fs::File::create(dir.path().join("pebble.log"))?;
        let mut cmd = Command::new(program);
        cmd.arg("-config").arg(&config_path);
        if let Some(dns) = options.dns_server {
            cmd.arg("-dnsserver").arg(dns.to_string());
        }
        if options.strict {
            cmd.arg("-strict");
        }
        let flag = |on: bool| if on { "1" } else { "0" };
        cmd.env("PEBBLE_VA_NOSLEEP", flag(options.va_nosleep));
        cmd.env("PEBBLE_VA_ALWAYS_VALID", flag(options.va_always_valid));
        if let Some(p) = options.nonce_reject {
            cmd.env("PEBBLE_WFE_NONCEREJECT", p.to_string());
        }
        if let Some(p) = options.authz_reuse {
            cmd.env("PEBBLE_AUTHZREUSE", p.to_string());
        }
        if let Some(n) = options.alternate_roots {
            cmd.env("PEBBLE_ALTERNATE_ROOTS", n.to_string());
        }
        if let Some(n) = options.chain_length {
            cmd.env("PEBBLE_CHAIN_LENGTH", n.to_string());
        }
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        cmd.current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd.spawn().context("starting pebble")?;
        let mut pebble = Pebble {
            guard: ChildGuard {
                name: "pebble",
                child,
            },
            dir,
            port,
            management_port,
            ca_cert_pem,
            options,
        };
        for p in [port, management_port] {
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p);
            if let Err(e) = wait_for_tcp(addr, Duration::from_secs(20)) {
                let _ = pebble.guard.check_running();
                bail!("{e}\n--- pebble log ---\n{}", pebble.log());
            }
        }
        if let Err(e) = pebble.guard.check_running() {
            bail!("{e}\n--- pebble log ---\n{}", pebble.log());
        }
        Ok(pebble)
    }

    /// The ACME directory URL.
    pub fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }

    /// The PEM file of the CA that signed Pebble's HTTPS certificate (for
    /// `--ca-cert`).
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// The management interface (`/roots/N`, `/intermediates/N`, …).
    pub fn management_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.management_port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn options(&self) -> &PebbleOptions {
        &self.options
    }

    /// A folder that lives as long as this Pebble (for test state).
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }

    /// An HTTPS client that trusts Pebble's listeners.
    pub fn http_client(&self) -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_cert_pem.as_bytes())?)
            .build()?)
    }

    /// The PEM of root `n` that signs issued certificates (`/roots/N`;
    /// 0 is the default chain's root, 1.. the alternates').
    pub async fn root_pem(&self, n: usize) -> anyhow::Result<String> {
        self.management_get(&format!("/roots/{n}")).await
    }

    /// The PEM of intermediate `n` (`/intermediates/N`).
    pub async fn intermediate_pem(&self, n: usize) -> anyhow::Result<String> {
        self.management_get(&format!("/intermediates/{n}")).await
    }

    async fn management_get(&self, path: &str) -> anyhow::Result<String> {
        let url = format!("{}{path}", self.management_url());
        let resp = self.http_client()?.get(&url).send().await?;
        if !resp.status().is_success() {
            bail!("GET {url}: {}", resp.status());
        }
        Ok(resp.text().await?)
    }

    /// Pebble's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// Fails if Pebble has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        self.guard.check_running()
    }
}

/// A test CA, and a server certificate for `localhost` and `127.0.0.1`
/// signed by it: (CA PEM, server certificate PEM, server key PEM).
fn tls_material() -> anyhow::Result<(String, String, String)> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("wacme test CA {}", std::process::id()),
    );
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()])?;
    server
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = server.signed_by(&key, &issuer)?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

impl Pebble {
    /// An ACME client for this Pebble (trusting its HTTPS certificate).
    pub async fn acme_client(&self) -> anyhow::Result<wacme::acme::Client> {
        let mut config = wacme::acme::ClientConfig::default();
        config.add_ca_cert_file(&self.ca_cert_path())?;
        Ok(wacme::acme::Client::connect(&self.directory_url(), config).await?)
    }

    /// A new account (fresh ECDSA P-256 key, terms agreed) on this Pebble.
    pub async fn new_account(&self) -> anyhow::Result<wacme::acme::Account> {
        use wacme::acme::{KeyType, NewAccount, PrivateKey};
        let client = self.acme_client().await?;
        let request = NewAccount {
            contact: vec!["mailto:test@example.com".into()],
            terms_of_service_agreed: true,
            external_account: None,
        };
        let key = PrivateKey::generate(KeyType::EcP256)?;
        Ok(client.new_account(key, &request).await?.account)
    }
}

/// Checks that `chain` (leaf first) is signed link by link and that its
/// topmost certificate is signed by the root in `root_pem`.
pub fn verify_chain(chain: &[Vec<u8>], root_pem: &str) -> anyhow::Result<()> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let root_der = pem_der(root_pem)?;
    let (_, root) = X509Certificate::from_der(&root_der)?;
    let certs: Vec<X509Certificate<'_>> = chain
        .iter()
        .map(|der| X509Certificate::from_der(der).map(|(_, c)| c))
        .collect::<Result<_, _>>()?;
    for pair in certs.windows(2) {
        pair[0]
            .verify_signature(Some(pair[1].public_key()))
            .with_context(|| {
                format!(
                    "{} is not signed by {}",
                    pair[0].subject(),
                    pair[1].subject()
                )
            })?;
    }
    let top = certs.last().context("an empty chain")?;
    top.verify_signature(Some(root.public_key()))
        .with_context(|| {
            format!(
                "{} is not signed by the root {}",
                top.subject(),
                root.subject()
            )
        })?;
    Ok(())
}

/// The DER of the first PEM block in `text`.
pub fn pem_der(text: &str) -> anyhow::Result<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(text.as_bytes())?;
    Ok(pem.contents)
}

/// The subject common name of a PEM certificate.
pub fn subject_cn(cert_pem: &str) -> anyhow::Result<String> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let der = pem_der(cert_pem)?;
    let (_, cert) = X509Certificate::from_der(&der)?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .context("no common name")?;
    Ok(cn.to_owned())
}
