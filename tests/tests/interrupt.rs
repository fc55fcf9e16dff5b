//! Ctrl-C (SIGINT) or SIGTERM (systemd, `docker stop`, a cancelled CI job)
//! during `wacme issue`: the run removes what it published, leaves no
//! journal entry and no certificate files, and exits with 130. A second
//! signal cuts a cleanup that keeps retrying short (the journal keeps what
//! is left); a signal during the cleanup of an earlier run's leftovers
//! stops the run too.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use wacme_tests::dns01::{Bed, ZONE, show, temp_files};
use wacme_tests::faulty::{Faulty, Match, Rule};

fn signal(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until `name` serves a TXT value in PowerDNS (the run published).
async fn published(bed: &Bed, child: &mut Child, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while bed.pdns.txt_values(name).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "records never appeared");
        assert!(child.try_wait().unwrap().is_none(), "wacme exited early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The provider's API breaks during cleanup, which would retry for many
/// seconds; the first Ctrl-C started that cleanup, the second stops it:
/// exit 130 at once, the values stay, recorded in the journal, and
/// `wacme cleanup` removes them once the API answers again.
#[tokio::test]
async fn a_second_signal_cuts_a_retrying_cleanup_short() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let proxy = Faulty::start(&bed.pdns.api_url()).await;
    let name = "twice.example.test";
    let mut child = bed
        .issue_command_via(&proxy.url(), &[name], &["--propagation", "wait:60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    published(&bed, &mut child, &format!("_acme-challenge.{name}")).await;
    proxy.add(Rule::reset(Match::any().method("PATCH")));
    signal(&child, "-INT");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(child.try_wait().unwrap().is_none(), "still cleaning up");
    let second = Instant::now();
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    let took = second.elapsed();
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    assert!(
        took < Duration::from_secs(3),
        "took {took:?} after the second signal"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cut short"), "{stderr}");
    assert_eq!(bed.local.journal_files().len(), 1, "the journal keeps it");
    assert!(!bed.leftover_challenges().await.is_empty());

    proxy.clear();
    let out = bed.wacme().arg("cleanup").output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    bed.assert_failed_cleanly().await;
}

/// An earlier run was killed and its provider API now breaks every
/// connection: the next
/// `wacme issue` is stuck cleaning that up when Ctrl-C comes. It stops at
/// once with 130; the earlier run's entry stays for later.
#[tokio::test]
async fn ctrl_c_while_cleaning_an_earlier_runs_leftovers_stops_the_run() {
    let Some(bed) = Bed::start().await else {
        return;
    };
    let proxy = Faulty::start(&bed.pdns.api_url()).await;
    let name = "killed.example.test";
    let mut child = bed
        .issue_command_via(&proxy.url(), &[name], &["--propagation", "wait:60s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    published(&bed, &mut child, &format!("_acme-challenge.{name}")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(bed.local.journal_files().len(), 1);
    // Every request now breaks: the stale cleanup retries for many seconds.
    proxy.add(Rule::reset(Match::any()));
    let before = proxy.log().len();

    let next = bed
        .issue_command(&["next.example.test"], &["-v"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Until the plugin's first request reaches the (broken) API.
    let deadline = Instant::now() + Duration::from_secs(30);
    while proxy.log().len() == before {
        assert!(
            Instant::now() < deadline,
            "the stale cleanup never called the API"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = Instant::now();
    signal(&next, "-INT");
    let out = next.wait_with_output().unwrap();
    let took = sent.elapsed();
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(
        bed.local.journal_files().len(),
        1,
        "the earlier entry stays"
    );
    assert!(bed.local.cert_files().is_empty());
}

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
