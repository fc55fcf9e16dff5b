//! Batching plugin calls: `present` (or `cleanup`) calls for names of one
//! zone that arrive within [`WINDOW`] of each other — from any order, from
//! any session of the same plugin with the same configuration — go to the
//! plugin as one call of its batch export (`present-many` /
//! `cleanup-many`), for plugins whose hints say `batch`.
//!
//! The first call for a (session key, operation, zone) opens a batch and
//! waits [`WINDOW`], then for its turn to write to the zone (a provider
//! that takes one write per zone at a time); every call arriving meanwhile
//! joins it, so a busy zone gets fewer, larger batches. The opener then
//! makes the batch call (in chunks of at most [`MAX_SETS`] names) and tells
//! the others how it went. A failed batch is nobody's failure yet: each
//! caller then makes its own single call, as the WIT contract promises (all
//! or nothing is not required of a batch), so one name's trouble cannot fail
//! its neighbours and every caller gets its own error. A batch of one is
//! left to its caller's single call, and so is a batch whose opener went
//! away (its caller was cancelled).

use super::{Operation, TxtSet};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a batch stays open for more names.
pub const WINDOW: Duration = Duration::from_millis(5);
/// Most names in one batch call; more go in further calls.
pub const MAX_SETS: usize = 100;

/// Which calls may share a batch: the same plugin and configuration
/// ([`super::Session`]'s key), the same operation, the same zone.
pub(crate) type Key = (Arc<str>, Operation, String);

/// What became of a call handed to [`Batches::submit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Batched {
    /// A batch call published it.
    Done,
    /// Nothing was done for it: the caller makes its own single call (it was
    /// alone, its batch failed, or the batch's opener went away).
    Single,
}

type Waiter = (TxtSet, oneshot::Sender<bool>);

/// The open batches of a runtime.
#[derive(Default)]
pub(crate) struct Batches {
    open: Mutex<HashMap<Key, Vec<Waiter>>>,
}

impl Batches {
    /// Joins or opens the batch for `key` with `set`. The opener waits
    /// [`WINDOW`], then for `ready` (a turn to write to the zone: names keep
    /// joining the batch while it waits), and calls `call` with each chunk
    /// of sets (`Ok` when the batch call succeeded) while holding what
    /// `ready` gave.
    pub(crate) async fn submit<R, F, Fut, E>(
        &self,
        key: Key,
        set: TxtSet,
        ready: impl Future<Output = R>,
        call: F,
    ) -> Batched
    where
        F: Fn(Vec<TxtSet>) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let (tx, rx) = oneshot::channel();
        let opener = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            let queue = open.entry(key.clone()).or_default();
            queue.push((set, tx));
            queue.len() == 1
        };
        if opener {
            let mut guard = Opened {
                batches: self,
                key: Some(key),
            };
            tokio::time::sleep(WINDOW).await;
            let turn = ready.await;
            let mut waiting = guard.take();
            if waiting.len() == 1 {
                return Batched::Single;
            }
            while !waiting.is_empty() {
                let rest = waiting.split_off(waiting.len().min(MAX_SETS));
                let sets = waiting.iter().map(|(s, _)| s.clone()).collect();
                let ok = call(sets).await.is_ok();
                for (_, tx) in waiting {
                    let _ = tx.send(ok);
                }
                waiting = rest;
            }
            drop(turn);
        }
        match rx.await {
            Ok(true) => Batched::Done,
            _ => Batched::Single,
        }
    }
}

/// The opener's hold on its batch: if the opener is dropped before it took
/// the batch, the batch goes, and its members (their senders dropped) make
/// their own calls instead of waiting for nobody.
struct Opened<'b> {
    batches: &'b Batches,
    key: Option<Key>,
}

impl Opened<'_> {
    fn take(&mut self) -> Vec<Waiter> {
        let key = self.key.take().expect("taken once");
        let mut open = self.batches.open.lock().unwrap_or_else(|e| e.into_inner());
        open.remove(&key).unwrap_or_default()
    }
}

impl Drop for Opened<'_> {
    fn drop(&mut self) {
        if self.key.is_some() {
            drop(self.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn set(fqdn: &str) -> TxtSet {
        TxtSet {
            zone: "example.test".into(),
            fqdn: fqdn.into(),
            relative_name: String::new(),
            values: vec!["v".into()],
            ttl: 60,
        }
    }

    fn key(zone: &str) -> Key {
        (Arc::from("session"), Operation::Present, zone.into())
    }

    #[tokio::test]
    async fn calls_within_the_window_share_one_batch_call() {
        let batches = Batches::default();
        let calls = Mutex::new(Vec::new());
        let call = |sets: Vec<TxtSet>| {
            calls.lock().unwrap().push(sets.len());
            async { Ok::<(), ()>(()) }
        };
        let names: Vec<String> = (0..5).map(|i| format!("n{i}.example.test")).collect();
        let results = futures::future::join_all(
            names
                .iter()
                .map(|n| batches.submit(key("example.test"), set(n), async {}, call)),
        )
        .await;
        assert!(results.iter().all(|r| *r == Batched::Done), "{results:?}");
        assert_eq!(*calls.lock().unwrap(), [5]);
        assert!(batches.open.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn zones_and_operations_do_not_mix_and_one_alone_calls_itself() {
        let batches = Batches::default();
        let calls = AtomicUsize::new(0);
        let call = |_: Vec<TxtSet>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), ()>(()) }
        };
        let cleanup = (
            Arc::from("session"),
            Operation::Cleanup,
            "example.test".into(),
        );
        let (a, b, c) = tokio::join!(
            batches.submit(key("example.test"), set("a.example.test"), async {}, call),
            batches.submit(key("other.test"), set("b.other.test"), async {}, call),
            batches.submit(cleanup, set("c.example.test"), async {}, call),
        );
        assert_eq!([a, b, c], [Batched::Single; 3]);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "a batch of one is no batch"
        );
    }

    #[tokio::test]
    async fn a_failed_batch_sends_everyone_to_a_single_call() {
        let batches = Batches::default();
        let call = |_: Vec<TxtSet>| async { Err::<(), ()>(()) };
        let (a, b) = tokio::join!(
            batches.submit(key("example.test"), set("a.example.test"), async {}, call),
            batches.submit(key("example.test"), set("b.example.test"), async {}, call),
        );
        assert_eq!([a, b], [Batched::Single; 2]);
    }

    #[tokio::test]
    async fn large_batches_are_split() {
        let batches = Batches::default();
        let calls = Mutex::new(Vec::new());
        let call = |sets: Vec<TxtSet>| {
            calls.lock().unwrap().push(sets.len());
            async { Ok::<(), ()>(()) }
        };
        let names: Vec<String> = (0..MAX_SETS + 3)
            .map(|i| format!("n{i}.example.test"))
            .collect();
        futures::future::join_all(
            names
                .iter()
                .map(|n| batches.submit(key("example.test"), set(n), async {}, call)),
        )
        .await;
        assert_eq!(*calls.lock().unwrap(), [MAX_SETS, 3]);
    }

    #[tokio::test]
    async fn members_of_a_batch_whose_opener_went_away_call_themselves() {
        let batches = Arc::new(Batches::default());
        let call = |_: Vec<TxtSet>| async { Ok::<(), ()>(()) };
        let opener = {
            let batches = batches.clone();
            tokio::spawn(async move {
                batches
                    .submit(key("example.test"), set("a.example.test"), async {}, call)
                    .await
            })
        };
        tokio::task::yield_now().await;
        while batches.open.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let member = {
            let batches = batches.clone();
            tokio::spawn(async move {
                batches
                    .submit(key("example.test"), set("b.example.test"), async {}, call)
                    .await
            })
        };
        while batches.open.lock().unwrap().values().all(|q| q.len() < 2) {
            tokio::task::yield_now().await;
        }
        opener.abort();
        assert_eq!(member.await.unwrap(), Batched::Single);
        assert!(batches.open.lock().unwrap().is_empty());
    }
}
