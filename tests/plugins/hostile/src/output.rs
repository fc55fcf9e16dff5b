//! Modes that write to stdout and stderr before the instance dies: the host
//! must show the last lines (redacted) in its report of the trap.

use std::io::Write;

/// Writes lines to stdout and stderr (one naming the secret `token`, one
/// left unfinished), then traps without a panic message of its own.
pub fn write_then_trap(token: &str) -> ! {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "hostile stdout: starting");
    let _ = out.flush();
    let mut err = std::io::stderr();
    let _ = writeln!(err, "hostile stderr: token is {token}");
    let _ = write!(err, "hostile stderr: about to trap");
    let _ = err.flush();
    trap()
}

#[cfg(target_arch = "wasm32")]
fn trap() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn trap() -> ! {
    std::process::abort()
}
