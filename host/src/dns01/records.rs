//! The TXT sets this process publishes, owned per name.
//!
//! Orders in flight at once (`renew --jobs N`) may need the same
//! `_acme-challenge` name: certificate `example.com` and certificate
//! `*.example.com` both prove `example.com`. Each order [`Records::claim`]s
//! its values; calls for one name are serialized, a `present` carries the
//! union of every in-flight order's values for that name (a provider that
//! replaces the whole set keeps the others'), and a `cleanup` removes only
//! the finishing order's values that no other order still holds.
//!
//! A provider that holds only so many values per name (acme-dns keeps the
//! latest two) gets no more at once: an order whose values would exceed the
//! limit waits until other orders on the name have cleaned up.
//!
//! It also remembers the values this process published, so the cleanup
//! check can tell another order's value from a foreign one: a value is
//! remembered while an order that may have seen it is in flight (every
//! claim made before the last order holding it let go), and forgotten after,
//! so a run over thousands of certificates holds only what is in flight.

use crate::plugins::TxtSet;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Every name this process publishes on, with the values each order holds.
#[derive(Default)]
pub struct Records {
    names: Mutex<HashMap<String, Arc<Name>>>,
    ours: Mutex<Ours>,
    next: AtomicU64,
}

/// The values this process published that an order in flight may have seen.
#[derive(Default)]
struct Ours {
    /// The claims not yet dropped.
    live: BTreeSet<u64>,
    values: HashMap<String, Published>,
}

/// One published value.
struct Published {
    /// How many live claims published it.
    holders: u32,
    /// Once none does: the first claim made after the last one let go. A
    /// claim made before may have seen the value on the nameservers.
    let_go: u64,
}

impl Ours {
    /// Forgets the values no live claim can have seen.
    fn prune(&mut self) {
        let oldest = self.live.first().copied().unwrap_or(u64::MAX);
        self.values
            .retain(|_, p| p.holders > 0 || p.let_go > oldest);
    }
}

/// One name: what the orders hold there, and a signal when some let go.
#[derive(Default)]
struct Name {
    holding: tokio::sync::Mutex<Holding>,
    freed: tokio::sync::Notify,
}

/// The values each order holds on one name.
#[derive(Default)]
struct Holding {
    by_order: BTreeMap<u64, BTreeSet<String>>,
}

impl Holding {
    fn union(&self) -> BTreeSet<String> {
        self.by_order.values().flatten().cloned().collect()
    }
}

/// One order's hold on the names it publishes.
pub struct Claim<'r> {
    records: &'r Records,
    order: u64,
    /// The values this claim published.
    published: Mutex<HashSet<String>>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut ours = self.records.ours.lock().expect("records lock");
        let next = self.records.next.load(Ordering::SeqCst);
        ours.live.remove(&self.order);
        let published = std::mem::take(self.published.get_mut().expect("records lock"));
        for value in published {
            if let Some(p) = ours.values.get_mut(&value) {
                p.holders = p.holders.saturating_sub(1);
                if p.holders == 0 {
                    p.let_go = next;
                }
            }
        }
        ours.prune();
    }
}

impl Records {
    pub fn new() -> Records {
        Records::default()
    }

    /// A new order's claim.
    pub fn claim(&self) -> Claim<'_> {
        let mut ours = self.ours.lock().expect("records lock");
        let order = self.next.fetch_add(1, Ordering::SeqCst);
        ours.live.insert(order);
        Claim {
            records: self,
            order,
            published: Mutex::default(),
        }
    }

    /// Whether `value` is one this process published that an order still
    /// in flight may have seen.
    pub fn is_ours(&self, value: &str) -> bool {
        self.ours
            .lock()
            .expect("records lock")
            .values
            .contains_key(value)
    }

    fn name(&self, fqdn: &str) -> Arc<Name> {
        self.names
            .lock()
            .expect("records lock")
            .entry(fqdn.to_string())
            .or_default()
            .clone()
    }

    /// Forgets `fqdn` once no order holds anything there and nobody else
    /// is waiting for it.
    fn release(&self, fqdn: &str) {
        let mut names = self.names.lock().expect("records lock");
        if let Some(name) = names.get(fqdn)
            && Arc::strong_count(name) == 1
            && name.holding.try_lock().is_ok_and(|h| h.by_order.is_empty())
        {
            names.remove(fqdn);
        }
    }
}

impl Claim<'_> {
    /// Publishes `set.values` for this order: `publish` is called (with the
    /// name locked) with the set carrying every in-flight order's values.
    /// With `max_values`, waits first until the name's values and this
    /// order's fit (an order alone on a name never waits).
    pub async fn present<E, F, Fut>(
        &self,
        set: &TxtSet,
        max_values: Option<usize>,
        publish: F,
    ) -> Result<(), E>
    where
        F: FnOnce(TxtSet) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let name = self.records.name(&set.fqdn);
        let mut holding = loop {
            let freed = name.freed.notified();
            tokio::pin!(freed);
            // Registered before looking, so a cleanup in between is seen.
            freed.as_mut().enable();
            let holding = name.holding.lock().await;
            let mut wanted = holding.union();
            wanted.extend(set.values.iter().cloned());
            let alone = holding.by_order.keys().all(|o| *o == self.order);
            if alone || max_values.is_none_or(|max| wanted.len() <= max) {
                break holding;
            }
            drop(holding);
            tracing::debug!(
                "{}: the provider holds at most {} values per name; waiting for other orders",
                set.fqdn,
                max_values.unwrap_or_default()
            );
            freed.await;
        };
        {
            let mut ours = self.records.ours.lock().expect("records lock");
            let mut published = self.published.lock().expect("records lock");
            for value in &set.values {
                if published.insert(value.clone()) {
                    ours.values
                        .entry(value.clone())
                        .or_insert(Published {
                            holders: 0,
                            let_go: 0,
                        })
                        .holders += 1;
                }
            }
        }
        holding
            .by_order
            .insert(self.order, set.values.iter().cloned().collect());
        let mut all = set.clone();
        all.values = holding.union().into_iter().collect();
        publish(all).await
    }

    /// Gives up this order's values of `set`: `remove` is called (with the
    /// name locked) with the values no other order holds, unless there are
    /// none or `remove` is `None` (nothing was written). Returns those
    /// values: the ones that must now be gone.
    pub async fn cleanup<E, F, Fut>(
        &self,
        set: &TxtSet,
        remove: Option<F>,
    ) -> Result<Vec<String>, E>
    where
        F: FnOnce(TxtSet) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        let name = self.records.name(&set.fqdn);
        let result = {
            let mut holding = name.holding.lock().await;
            holding.by_order.remove(&self.order);
            name.freed.notify_waiters();
            let others = holding.union();
            let values: Vec<String> = set
                .values
                .iter()
                .filter(|v| !others.contains(*v))
                .cloned()
                .collect();
            match remove {
                Some(remove) if !values.is_empty() => {
                    let mut mine = set.clone();
                    mine.values = values.clone();
                    remove(mine).await.map(|()| values)
                }
                _ => Ok(values),
            }
        };
        drop(name);
        self.records.release(&set.fqdn);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    fn set(values: &[&str]) -> TxtSet {
        TxtSet {
            zone: "example.test".into(),
            fqdn: "_acme-challenge.example.test".into(),
            relative_name: "_acme-challenge".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            ttl: 60,
        }
    }

    /// A provider that replaces the whole set on present and removes the
    /// given values on cleanup.
    #[derive(Default)]
    struct Replace(StdMutex<BTreeSet<String>>);

    impl Replace {
        async fn present(&self, s: TxtSet) -> Result<(), ()> {
            let before = self.0.lock().unwrap().clone();
            tokio::task::yield_now().await;
            let mut after = before;
            after.retain(|v| !v.starts_with('v'));
            after.extend(s.values);
            *self.0.lock().unwrap() = after;
            Ok(())
        }
        async fn cleanup(&self, s: TxtSet) -> Result<(), ()> {
            let mut now = self.0.lock().unwrap();
            for v in s.values {
                now.remove(&v);
            }
            Ok(())
        }
        fn values(&self) -> Vec<String> {
            self.0.lock().unwrap().iter().cloned().collect()
        }
    }

    #[tokio::test]
    async fn two_orders_on_one_name_keep_each_others_values() {
        let records = Records::new();
        let provider = Replace::default();
        provider.0.lock().unwrap().insert("foreign".into());
        let (a, b) = (records.claim(), records.claim());
        let (sa, sb) = (set(&["v1"]), set(&["v2", "v3"]));
        let (ra, rb) = tokio::join!(
            a.present(&sa, None, |s| provider.present(s)),
            b.present(&sb, None, |s| provider.present(s)),
        );
        ra.unwrap();
        rb.unwrap();
        assert_eq!(provider.values(), ["foreign", "v1", "v2", "v3"]);
        let removed = a
            .cleanup(&set(&["v1"]), Some(|s| provider.cleanup(s)))
            .await
            .unwrap();
        assert_eq!(removed, ["v1"]);
        assert_eq!(provider.values(), ["foreign", "v2", "v3"]);
        b.cleanup(&set(&["v2", "v3"]), Some(|s| provider.cleanup(s)))
            .await
            .unwrap();
        assert_eq!(provider.values(), ["foreign"]);
        assert!(records.names.lock().unwrap().is_empty(), "names forgotten");
        assert!(records.is_ours("v2") && !records.is_ours("foreign"));
        drop((a, b));
        assert!(
            !records.is_ours("v2"),
            "forgotten once no order is in flight"
        );
    }

    #[tokio::test]
    async fn a_value_is_remembered_while_an_order_that_may_have_seen_it_runs() {
        let records = Records::new();
        let provider = Replace::default();
        let early = records.claim();
        let a = records.claim();
        a.present(&set(&["v1"]), None, |s| provider.present(s))
            .await
            .unwrap();
        a.cleanup(&set(&["v1"]), Some(|s| provider.cleanup(s)))
            .await
            .unwrap();
        drop(a);
        // `early` was claimed before v1 was let go: its snapshot may hold v1.
        assert!(records.is_ours("v1"));
        let late = records.claim();
        drop(early);
        // Every claim left came after: nobody can have seen it.
        assert!(!records.is_ours("v1"));
        assert!(records.ours.lock().unwrap().values.is_empty());
        drop(late);
        assert!(records.ours.lock().unwrap().live.is_empty());
    }

    #[tokio::test]
    async fn thousands_of_orders_leave_nothing_behind() {
        let records = Records::new();
        let provider = Replace::default();
        for i in 0..5000 {
            let claim = records.claim();
            let values = set(&[&format!("v{i}")]);
            claim
                .present(&values, None, |s| provider.present(s))
                .await
                .unwrap();
            claim
                .cleanup(&values, Some(|s| provider.cleanup(s)))
                .await
                .unwrap();
        }
        let ours = records.ours.lock().unwrap();
        assert!(ours.values.is_empty() && ours.live.is_empty());
        assert!(records.names.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_value_two_orders_share_stays_until_the_last_lets_go() {
        let records = Records::new();
        let provider = Replace::default();
        let (a, b) = (records.claim(), records.claim());
        a.present(&set(&["v1"]), None, |s| provider.present(s))
            .await
            .unwrap();
        b.present(&set(&["v1", "v2"]), None, |s| provider.present(s))
            .await
            .unwrap();
        let removed = a
            .cleanup(&set(&["v1"]), Some(|s| provider.cleanup(s)))
            .await
            .unwrap();
        assert!(removed.is_empty(), "{removed:?}");
        assert_eq!(provider.values(), ["v1", "v2"]);
        type Remove = fn(TxtSet) -> std::future::Ready<Result<(), ()>>;
        let none: Option<Remove> = None;
        assert_eq!(
            b.cleanup(&set(&["v1", "v2"]), none).await.unwrap(),
            ["v1", "v2"],
            "nothing removed, both must be gone"
        );
    }

    #[tokio::test]
    async fn a_name_never_holds_more_values_than_the_provider_keeps() {
        let records = Arc::new(Records::new());
        let provider = Arc::new(Replace::default());
        let a = records.claim();
        a.present(&set(&["v1", "v2"]), Some(2), |s| provider.present(s))
            .await
            .unwrap();
        // A second order on the name waits while two values are held…
        let waiting = {
            let (records, provider) = (records.clone(), provider.clone());
            tokio::spawn(async move {
                let b = records.claim();
                b.present(&set(&["v3"]), Some(2), |s| provider.present(s))
                    .await
                    .unwrap();
                provider.values()
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "must wait for the first order");
        assert_eq!(provider.values(), ["v1", "v2"]);
        // …and publishes once the first has let go.
        a.cleanup(&set(&["v1", "v2"]), Some(|s| provider.cleanup(s)))
            .await
            .unwrap();
        let seen = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("woken by the cleanup")
            .unwrap();
        assert_eq!(seen, ["v3"]);
        // Without a limit nobody waits.
        let (c, d) = (records.claim(), records.claim());
        c.present(&set(&["v4", "v5"]), None, |s| provider.present(s))
            .await
            .unwrap();
        d.present(&set(&["v6"]), None, |s| provider.present(s))
            .await
            .unwrap();
    }
}
