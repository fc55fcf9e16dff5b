//! Ctrl-C (SIGINT) or SIGTERM (systemd, `docker stop`, a cancelled CI job)
//! during `wacme issue`: the run removes what it published, leaves no
//! journal entry and no certificate files, and exits with 130.

use std::time::{Duration, Instant};
use wacme_tests::dns01::{Bed, ZONE, temp_files};

#[tokio::test]
async fn ctrl_c_while_waiting_cleans_up_and_exits_130() {
    interrupted_while_waiting("-INT").await;
}

#[tokio::test]
async fn sigterm_while_waiting_cleans_up_and_exits_130() {
    interrupted_while_waiting("-TERM").await;
}

async fn interrupted_while_waiting(signal: &str) {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let mut child = bed
        .issue_command(
            &["example.test", "*.example.test"],
            &["--propagation", "wait:60s"],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // Wait until the records are published (the run is now in its wait).
    let name = format!("_acme-challenge.{ZONE}.");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let values = bed.pdns.rrset(ZONE, &name, "TXT").await.unwrap();
        if values.len() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "records never appeared");
        assert!(child.try_wait().unwrap().is_none(), "wacme exited early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        bed.leftover_challenges().await.is_empty(),
        "{:?}",
        bed.leftover_challenges().await
    );
    let journal = bed.state().join("journal");
    let entries: Vec<_> = std::fs::read_dir(&journal)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(entries.is_empty(), "journal entries left: {entries:?}");
    assert!(
        !bed.cert_dir("example.test").exists(),
        "no certificate from an interrupted run"
    );
    assert!(temp_files(bed.state()).is_empty());
}
