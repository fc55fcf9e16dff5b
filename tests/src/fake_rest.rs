//! Pieces shared by the fakes of token-authenticated REST providers
//! (`fake_hetzner`, `fake_gandi`, `fake_desec`, `fake_godaddy`,
//! `fake_porkbun`): a record store mirrored into PowerDNS, a request log,
//! the battery's [`Throttle`] that answers the next N writes with the
//! provider's rate-limit response, and the accessors and `Fake` impl those
//! fakes share ([`store_fake_accessors`]).

use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::fake_common::RequestLog;
use crate::fake_store::{PdnsMirror, unquote, zone_of};
use crate::pdns::Pdns;
pub use crate::provider_suite::Throttle;

/// One TXT record as a provider's API shows it (`content` quoted or bare,
/// as that API stores it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub id: u64,
    pub name: String,
    pub content: String,
    pub ttl: u32,
}

/// The TXT records of an account's zones. Every change is mirrored into
/// PowerDNS before the call returns, under one lock, so the PowerDNS RRset
/// always equals the records of that name.
pub struct Store {
    pub zones: Vec<String>,
    records: tokio::sync::Mutex<Vec<Rec>>,
    next_id: AtomicU64,
    mirror: PdnsMirror,
}

impl Store {
    pub fn new(pdns: &Pdns, zones: &[String]) -> Self {
        Store {
            zones: zones.iter().map(|z| z.to_ascii_lowercase()).collect(),
            records: tokio::sync::Mutex::new(Vec::new()),
            next_id: AtomicU64::new(100_001),
            mirror: PdnsMirror::new(pdns),
        }
    }

    /// The account's zone named exactly `name`.
    pub fn zone(&self, name: &str) -> Option<&str> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.zones.iter().find(|z| **z == name).map(|z| z.as_str())
    }

    /// Every record, in creation order.
    pub async fn all(&self) -> Vec<Rec> {
        self.records.lock().await.clone()
    }

    /// The records named `name` (absolute, no trailing dot).
    pub async fn get(&self, name: &str) -> Vec<Rec> {
        let name = name.to_ascii_lowercase();
        let records = self.records.lock().await;
        records.iter().filter(|r| r.name == name).cloned().collect()
    }

    /// Replaces the records named `name` by one per content (a whole-set
    /// write); no contents deletes the set.
    pub async fn set(&self, name: &str, ttl: u32, contents: &[String]) -> anyhow::Result<()> {
        let items: Vec<(String, u32)> = contents.iter().map(|c| (c.clone(), ttl)).collect();
        self.set_each(name, &items).await
    }

    /// [`Store::set`] with a TTL per record.
    pub async fn set_each(&self, name: &str, items: &[(String, u32)]) -> anyhow::Result<()> {
        let name = name.to_ascii_lowercase();
        let mut records = self.records.lock().await;
        let before = records.clone();
        records.retain(|r| r.name != name);
        for (content, ttl) in items {
            let id = self.next_id.fetch_add(1, Ordering::SeqCst);
            records.push(Rec {
                id,
                name: name.clone(),
                content: content.clone(),
                ttl: *ttl,
            });
        }
        if let Err(e) = self.sync(&records, &name).await {
            *records = before;
            return Err(e);
        }
        Ok(())
    }

    /// Adds `content` to the set `name` as a whole-set write (every record
    /// of the set is written anew, new ids included), at `ttl`.
    pub async fn append_to_set(&self, name: &str, ttl: u32, content: &str) -> anyhow::Result<()> {
        let mut contents: Vec<String> = self
            .get(name)
            .await
            .into_iter()
            .map(|r| r.content)
            .collect();
        contents.push(content.to_string());
        self.set(name, ttl, &contents).await
    }

    /// Adds one record.
    pub async fn add(&self, name: &str, content: &str, ttl: u32) -> anyhow::Result<Rec> {
        let name = name.to_ascii_lowercase();
        let mut records = self.records.lock().await;
        let rec = Rec {
            id: self.next_id.fetch_add(1, Ordering::SeqCst),
            name: name.clone(),
            content: content.into(),
            ttl,
        };
        records.push(rec.clone());
        if let Err(e) = self.sync(&records, &name).await {
            records.pop();
            return Err(e);
        }
        Ok(rec)
    }

    /// Deletes the record `id` if `keep` accepts it; `Ok(None)` when there
    /// is no such record.
    pub async fn delete(
        &self,
        id: u64,
        keep: impl Fn(&Rec) -> bool,
    ) -> anyhow::Result<Option<Rec>> {
        let mut records = self.records.lock().await;
        let Some(index) = records.iter().position(|r| r.id == id && keep(r)) else {
            return Ok(None);
        };
        let removed = records.remove(index);
        if let Err(e) = self.sync(&records, &removed.name).await {
            records.insert(index, removed);
            return Err(e);
        }
        Ok(Some(removed))
    }

    async fn sync(&self, records: &[Rec], name: &str) -> anyhow::Result<()> {
        let zone = zone_of(&self.zones, name)
            .ok_or_else(|| anyhow::anyhow!("{name} is in no zone of the account"))?;
        let here: Vec<&Rec> = records.iter().filter(|r| r.name == name).collect();
        let values: Vec<String> = here.iter().map(|r| unquote(&r.content)).collect();
        let ttl = here.iter().map(|r| r.ttl).min().unwrap_or(60).max(1);
        self.mirror.set_txt(zone, name, ttl, &values).await
    }
}

/// The absolute name of `relative` (`@` or empty for the apex) in `zone`.
pub fn absolute(relative: &str, zone: &str) -> String {
    match relative {
        "" | "@" => zone.to_string(),
        r => format!("{}.{zone}", r.to_ascii_lowercase()),
    }
}

/// The records of `store` as `(fqdn, bare value)`, for the battery.
pub async fn txt_records(store: &Store) -> Vec<(String, String)> {
    store
        .all()
        .await
        .into_iter()
        .map(|r| (r.name, unquote(&r.content)))
        .collect()
}

/// The test-facing accessors of a [`Store`]-backed fake (`records`,
/// `rate_limit_next`, `rate_limited_served`, `requests`) and its
/// [`Fake`](crate::provider_suite::Fake) impl. The fake's `inner` must have
/// `store`, `throttle` and `log` fields, and the fake its own inherent
/// `add_foreign` (how another client adds a value differs per API).
macro_rules! store_fake_accessors {
    ($fake:ident) => {
        impl $fake {
            /// Every TXT record held, content as the API stores it.
            pub async fn records(&self) -> Vec<$crate::fake_rest::Rec> {
                self.inner.store.all().await
            }

            /// The next `n` writes get the provider's rate-limit answer
            /// (with `Retry-After: 1`).
            pub fn rate_limit_next(&self, n: u32) {
                self.inner.throttle.next(n);
            }

            /// Rate-limit answers served so far.
            pub fn rate_limited_served(&self) -> u32 {
                self.inner.throttle.served()
            }

            /// `METHOD path` of every request so far.
            pub fn requests(&self) -> Vec<String> {
                self.inner.log.all()
            }
        }

        impl $crate::provider_suite::Fake for $fake {
            fn throttle(&self) -> &$crate::fake_rest::Throttle {
                &self.inner.throttle
            }

            async fn add_foreign(&self, fqdn: &str, value: &str) {
                $fake::add_foreign(self, fqdn, value).await;
            }

            async fn txt_records(&self) -> Vec<(String, String)> {
                $crate::fake_rest::txt_records(&self.inner.store).await
            }
        }
    };
}
pub(crate) use store_fake_accessors;
