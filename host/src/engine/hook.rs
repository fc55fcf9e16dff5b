//! Deploy hooks: a command run by `sh -c` after a certificate is issued or
//! renewed and stored, told where the files are through the environment.
//!
//! The hook's own output goes to stderr, so `--output json` on stdout stays
//! one document. A failing hook never touches the stored certificate; the
//! command reports it (`wacme` exits with code 12).

use super::issuance::Issued;
use serde::Serialize;
use std::process::Stdio;

/// What a deploy hook did.
#[derive(Debug, Clone, Serialize)]
pub struct HookOutcome {
    pub command: String,
    pub ok: bool,
    /// The exit code, when it exited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl HookOutcome {
    /// A line for text output.
    pub fn describe(&self) -> String {
        match (&self.error, self.ok) {
            (_, true) => format!("  deploy hook `{}` succeeded\n", self.command),
            (Some(e), false) => format!(
                "  error: deploy hook `{}` failed: {e}; the certificate is stored, run the hook again by hand\n",
                self.command
            ),
            (None, false) => format!("  error: deploy hook `{}` failed\n", self.command),
        }
    }
}

/// Runs `command` for `issued`, waiting for it to finish.
pub async fn run_deploy_hook(command: &str, issued: &Issued) -> HookOutcome {
    let p = &issued.paths;
    let result = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("WACME_CERT_NAME", &issued.cert_name)
        .env("WACME_DOMAINS", issued.domains.join(" "))
        .env("WACME_CERT_PATH", &p.cert)
        .env("WACME_CHAIN_PATH", &p.chain)
        .env("WACME_FULLCHAIN_PATH", &p.fullchain)
        .env("WACME_KEY_PATH", &p.privkey)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .status()
        .await;
    let (ok, exit_code, error) = match result {
        Ok(status) if status.success() => (true, status.code(), None),
        Ok(status) => (
            false,
            status.code(),
            Some(match status.code() {
                Some(c) => format!("exited with code {c}"),
                None => format!("ended by {status}"),
            }),
        ),
        Err(e) => (false, None, Some(format!("cannot run `sh`: {e}"))),
    };
    if let Some(e) = &error {
        tracing::error!("deploy hook `{command}` for {}: {e}", issued.cert_name);
    }
    HookOutcome {
        command: command.to_string(),
        ok,
        exit_code,
        error,
    }
}
