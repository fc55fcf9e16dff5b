//! `wacme issue`: one certificate for one or more names through a DNS
//! provider plugin, or a standing dns-persist-01 record
//! ([`crate::engine::issue`]), and the DNS options every command that
//! solves DNS challenges shares (`DnsArgs`, with `--challenge`).
//!
//! Everything that can be checked locally (names, key type, plugin, its
//! config, resolvers) is checked before the first network call.

use super::account::CaArgs;
use super::exit::Exit;
use super::plugin::PluginArgs;
use super::{GlobalArgs, print};
use crate::dns01::solver::Interrupt;
use crate::engine::issuance::Issued;
use crate::engine::issue::{self, IssueSpec, Job};
use crate::engine::{CaOptions, DnsOptions, Engine};
use clap::Args;

/// How challenge records are placed and checked.
#[derive(Debug, Args, Clone, Default)]
pub struct DnsArgs {
    /// Challenge type: dns-01 (publish through the plugin), dns-persist-01 (a
    /// standing `_validation-persist` record, see `wacme persist`; no plugin, no
    /// DNS credentials), or auto (dns-persist-01 when the CA offers it and the
    /// record is served, dns-01 otherwise). Default: auto; kept for renewals.
    #[arg(long, value_name = "TYPE")]
    pub challenge: Option<crate::engine::ChallengeKind>,
    /// DNS provider plugin: a name (see `wacme plugin list`) or a path to a .wasm file.
    #[arg(long = "dns", value_name = "PLUGIN")]
    pub plugin: Option<String>,
    /// Plugin config value (repeatable), e.g. `--dns-config api_url=https://…`.
    #[arg(long = "dns-config", id = "dns_config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// How to decide records are visible: authoritative (ask the zone's nameservers
    /// directly; one unreachable from here is reported, not waited for),
    /// authoritative-strict (every nameserver must confirm), recursive (ask the
    /// resolvers), wait:<duration>, none. Default: authoritative.
    #[arg(long, value_name = "MODE")]
    pub propagation: Option<String>,
    /// Give up waiting for propagation after this long (e.g. 90s, 2m). Default: 120s.
    #[arg(long, value_name = "DURATION")]
    pub propagation_timeout: Option<String>,
    /// Recursive resolver to use (repeatable; `ip` or `ip:port`). Default: /etc/resolv.conf.
    #[arg(long = "dns-resolver", value_name = "IP[:PORT]")]
    pub resolvers: Vec<String>,
    /// Port the zone's nameservers answer on (test environments).
    #[arg(long, value_name = "PORT")]
    pub dns_port: Option<u16>,
    /// The zone holding the records, instead of finding it by SOA (split-horizon DNS).
    #[arg(long, value_name = "ZONE")]
    pub dns_zone: Option<String>,
    /// Do not follow a CNAME on `_acme-challenge.<name>`.
    #[arg(long)]
    pub no_follow_cname: bool,
    /// Do not check on the nameservers, after cleanup, that the run's values are
    /// gone and the values found before are still there: for providers that
    /// cannot delete (acme-dns, whose next update displaces the values).
    #[arg(long)]
    pub no_cleanup_check: bool,
    /// Call the plugin once per name, never through its batch exports (for a
    /// provider whose batch endpoint misbehaves; slower on many names).
    #[arg(long)]
    pub no_dns_batch: bool,
    /// TTL of the challenge records (default: the plugin's).
    #[arg(long, value_name = "SECONDS")]
    pub dns_ttl: Option<u32>,
    /// Plugin calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub dns_concurrency: usize,
    #[command(flatten)]
    pub plugins: PluginArgs,
}

impl DnsArgs {
    /// The engine's options as given on the command line.
    pub fn options(&self) -> DnsOptions {
        DnsOptions {
            challenge: self.challenge,
            plugin: self.plugin.clone(),
            config: self.config.clone(),
            propagation: self.propagation.clone(),
            propagation_timeout: self.propagation_timeout.clone(),
            resolvers: self.resolvers.clone(),
            dns_port: self.dns_port,
            dns_zone: self.dns_zone.clone(),
            no_follow_cname: self.no_follow_cname,
            no_cleanup_check: self.no_cleanup_check,
            no_dns_batch: self.no_dns_batch,
            dns_ttl: self.dns_ttl,
            dns_concurrency: self.dns_concurrency,
            plugins: self.plugins.options(),
        }
    }
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// A name for the certificate (repeatable); `*.example.com` for a wildcard.
    /// Default: the config file's `[certificates.<cert-name>]` domains.
    #[arg(short = 'd', long = "domain", value_name = "NAME")]
    pub domains: Vec<String>,
    #[command(flatten)]
    pub ca: CaArgs,
    #[command(flatten)]
    pub registration: super::account::RegistrationArgs,
    /// Certificate key type: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096. Default: ec-p256.
    #[arg(long, value_name = "TYPE")]
    pub key_type: Option<String>,
    /// Name of the stored certificate (default: the first domain without `*.`).
    #[arg(long, value_name = "NAME")]
    pub cert_name: Option<String>,
    /// Prefer the chain whose root or issuer has this common name.
    #[arg(long, value_name = "CN")]
    pub preferred_chain: Option<String>,
    /// ACME profile to request (if the CA advertises profiles).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Command run (by `sh -c`) after the certificate is stored, with
    /// WACME_CERT_NAME, WACME_DOMAINS, WACME_CERT_PATH, WACME_CHAIN_PATH,
    /// WACME_FULLCHAIN_PATH and WACME_KEY_PATH set. Kept for renewals.
    #[arg(long, value_name = "CMD")]
    pub deploy_hook: Option<String>,
    #[command(flatten)]
    pub dns: DnsArgs,
}

pub async fn run(args: IssueArgs, global: &GlobalArgs, engine: &Engine) -> anyhow::Result<Exit> {
    // Local checks first: nothing before `lock` touches the network.
    let spec = IssueSpec {
        domains: args.domains,
        cert_name: args.cert_name,
        key_type: args.key_type,
        ca: CaOptions {
            directory: args.ca.directory,
            ca_cert: args.ca.ca_cert,
        },
        registration: args.registration.registration(),
        preferred_chain: args.preferred_chain,
        profile: args.profile,
        deploy_hook: args.deploy_hook,
        dns: args.dns.options(),
    };
    let (job, directory) = Job::resolve(spec, &global.config_file()?)?;
    let workspace = global.workspace()?;
    let setup = issue::prepare(engine, &job).await?;

    let _lock = global.lock(&workspace)?;
    // From here on Ctrl-C/SIGTERM are watched by every phase.
    let interrupt = Interrupt::on_signals();
    let stale = issue::clean_stale(
        engine,
        &workspace,
        &job.dns.plugins,
        &global.config_file()?,
        global.output == super::Output::Text,
        &interrupt,
    )
    .await;
    let stale = (!stale.is_empty()).then_some(stale);
    let result = async {
        let client = tokio::select! {
            client = engine.client(&directory, &job.ca_cert) => {
                client.map_err(crate::engine::Error::new)?
            }
            () = interrupt.fired() => {
                return Err(crate::engine::Error::new(
                    crate::dns01::solver::SolveError::Interrupted,
                ));
            }
        };
        let progress = super::progress::Terminal::new(global);
        issue::obtain_with(
            engine, &workspace, &job, setup, &client, &progress, &interrupt,
        )
        .await
    }
    .await;
    let mut out = match result {
        Ok(out) => out,
        Err(e) => {
            let err = anyhow::Error::from(e);
            let exit = super::exit::classify(&err);
            let extra = stale.map(|s| ("stale_journal", serde_json::json!(s)));
            super::report_error(global.output, &err, exit, extra);
            return Ok(exit);
        }
    };
    out.stale_journal = stale;
    print(global.output, &out, || {
        let mut text = describe(&out.issued);
        if let Some(h) = &out.deploy_hook {
            text.push_str(&h.describe());
        }
        text
    });
    Ok(match &out.deploy_hook {
        _ if out.issued.residue => Exit::Residue,
        Some(h) if !h.ok => Exit::Hook,
        _ => Exit::Success,
    })
}

/// The text summary of an issued certificate.
pub fn describe(i: &Issued) -> String {
    let t = &i.timings;
    let mut out = format!(
        "Issued {} for {}\n  serial {}, valid {} to {}\n",
        i.cert_name,
        i.domains.join(", "),
        i.serial,
        i.not_before.date(),
        i.not_after.date()
    );
    if i.challenge.as_deref() == Some("dns-persist-01") {
        out.push_str("  validated by dns-persist-01: the standing record, nothing published\n");
    }
    if let Some(order) = &i.recovered_order {
        out.push_str(&format!(
            "  collected from the order {order} of an earlier run (no new order)\n"
        ));
    }
    out.push_str(&format!(
        "  fullchain: {}\n  privkey:   {}\n",
        i.paths.fullchain.display(),
        i.paths.privkey.display()
    ));
    out.push_str(&format!(
        "  {:.2} s: present {} ms, propagation {} ms, validation {} ms, finalize {} ms; {} CA requests, {} provider requests\n",
        t.total_ms as f64 / 1000.0,
        t.present_ms,
        t.propagation_ms,
        t.validation_ms,
        t.finalize_ms,
        i.ca_requests,
        i.provider_requests
    ));
    if let Some(ms) = t.plugin_compile_ms {
        out.push_str(&format!(
            "  the plugin was compiled first ({:.1} s; cached for next runs)\n",
            ms as f64 / 1000.0
        ));
    }
    for n in i.propagation.unreachable() {
        out.push_str(&format!(
            "  note: nameserver {}; not waited for (--propagation authoritative-strict waits)\n",
            n.describe()
        ));
    }
    for e in &i.cleanup_errors {
        out.push_str(&format!("  warning: cleanup failed: {e}\n"));
    }
    for line in i.cleanup_check.describe() {
        out.push_str(&format!("  warning: {line}\n"));
    }
    if !i.cleanup_check.left.is_empty() || (i.residue && i.cleanup_check.foreign_removed.is_empty())
    {
        out.push_str("  run `wacme cleanup` to remove the records that are left\n");
    }
    out
}
