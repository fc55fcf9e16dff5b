//! Client-side pacing of requests to a CA: a token bucket per kind of
//! endpoint, whose defaults stay under Let's Encrypt's published
//! per-endpoint request limits, and one pause for the whole client while
//! the CA asked it to back off (429 or 503 with `Retry-After`): a busy CA
//! gets no new requests from any order of the run until then.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use url::Url;

/// A sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub const fn new(per_second: f64, burst: f64) -> Rate {
        Rate { per_second, burst }
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `20/s` (a burst of one second's worth) or `20/s burst 10`.
    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || format!("`{s}` is not a rate: write e.g. `20/s` or `20/s burst 10`");
        let mut words = s.split_whitespace();
        let per_second: f64 = words
            .next()
            .and_then(|r| r.strip_suffix("/s"))
            .and_then(|n| n.parse().ok())
            .filter(|n: &f64| n.is_finite() && *n > 0.0)
            .ok_or_else(bad)?;
        let burst = match (words.next(), words.next(), words.next()) {
            (None, _, _) => per_second.max(1.0),
            (Some("burst"), Some(b), None) => b
                .parse::<f64>()
                .ok()
                .filter(|b| b.is_finite() && *b >= 1.0)
                .ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        Ok(Rate { per_second, burst })
    }
}

/// The request rates the client keeps to, per kind of endpoint. The
/// defaults are 80 % of Let's Encrypt's published overall request limits
/// (new-nonce 20/s burst 10, new-account 5/s burst 15, new-order 300/s
/// burst 200, revoke-cert 10/s burst 100, renewal-info 1000/s burst 100,
/// everything else under /acme/ 250/s burst 125).
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    pub new_nonce: Rate,
    pub new_account: Rate,
    pub new_order: Rate,
    pub revoke_cert: Rate,
    pub renewal_info: Rate,
    /// Authorizations, challenges, orders, finalize, certificates, account.
    pub other: Rate,
}

impl RateLimits {
    /// Sets the rate of the endpoint kind `name` (`new_nonce`,
    /// `new_account`, `new_order`, `revoke_cert`, `renewal_info`, `other`).
    pub fn set(&mut self, name: &str, rate: Rate) -> Result<(), String> {
        let slot = match name {
            "new_nonce" => &mut self.new_nonce,
            "new_account" => &mut self.new_account,
            "new_order" => &mut self.new_order,
            "revoke_cert" => &mut self.revoke_cert,
            "renewal_info" => &mut self.renewal_info,
            "other" => &mut self.other,
            _ => {
                return Err(format!(
                    "`{name}` is not an endpoint: use new_nonce, new_account, new_order, revoke_cert, renewal_info or other"
                ));
            }
        };
        *slot = rate;
        Ok(())
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            new_nonce: Rate::new(16.0, 8.0),
            new_account: Rate::new(4.0, 12.0),
            new_order: Rate::new(240.0, 160.0),
            revoke_cert: Rate::new(8.0, 80.0),
            renewal_info: Rate::new(800.0, 80.0),
            other: Rate::new(200.0, 100.0),
        }
    }
}

/// The kind of endpoint a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    NewNonce,
    NewAccount,
    NewOrder,
    RevokeCert,
    RenewalInfo,
    Other,
}

impl Endpoint {
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
struct Bucket {
    rate: Rate,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Takes a token now (`None`), or says how long until one is there.
    fn take(&mut self, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate.per_second).min(self.rate.burst.max(1.0));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            let rate = self.rate.per_second.max(0.001);
            Some(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// The pacer of one client (shared by its clones).
#[derive(Debug)]
pub(crate) struct Pacer {
    buckets: [Mutex<Bucket>; 6],
    paused_until: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(limits: &RateLimits) -> Pacer {
        let now = Instant::now();
        let bucket = |rate: Rate| {
            Mutex::new(Bucket {
                rate,
                tokens: rate.burst.max(1.0),
                last: now,
            })
        };
        Pacer {
            buckets: [
                bucket(limits.new_nonce),
                bucket(limits.new_account),
                bucket(limits.new_order),
                bucket(limits.revoke_cert),
                bucket(limits.renewal_info),
                bucket(limits.other),
            ],
            paused_until: Mutex::new(None),
        }
    }

    /// Waits until a request to `endpoint` may go: the client is not
    /// paused and the endpoint's bucket has a token.
    pub async fn wait(&self, endpoint: Endpoint) {
        loop {
            let now = Instant::now();
            let paused = *self.paused_until.lock().expect("pacer lock");
            if let Some(until) = paused
                && until > now
            {
                tokio::time::sleep_until(until).await;
                continue;
            }
            let wait = self.buckets[endpoint.index()]
                .lock()
                .expect("pacer lock")
                .take(now);
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// The CA asked to wait `for_`: no request of this client goes out
    /// before then.
    pub fn pause(&self, for_: Duration) {
        let until = Instant::now() + for_;
        let mut paused = self.paused_until.lock().expect("pacer lock");
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }
}

/// The kind of endpoint `url` is, given the directory's resources.
pub(crate) fn endpoint(directory: &super::directory::Directory, url: &Url) -> Endpoint {
    if *url == directory.new_nonce {
        Endpoint::NewNonce
    } else if *url == directory.new_account {
        Endpoint::NewAccount
    } else if *url == directory.new_order {
        Endpoint::NewOrder
    } else if directory.revoke_cert.as_ref() == Some(url) {
        Endpoint::RevokeCert
    } else if directory
        .renewal_info
        .as_ref()
        .is_some_and(|ri| url.as_str().starts_with(ri.as_str()))
    {
        Endpoint::RenewalInfo
    } else {
        Endpoint::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time, small rates: only lower bounds are asserted (a busy
    // machine can only make waits longer).

    #[tokio::test]
    async fn a_bucket_allows_its_burst_then_its_rate() {
        let limits = RateLimits {
            other: Rate::new(100.0, 5.0),
            ..RateLimits::default()
        };
        let pacer = Pacer::new(&limits);
        let started = Instant::now();
        for _ in 0..5 {
            pacer.wait(Endpoint::Other).await;
        }
        let burst = started.elapsed();
        for _ in 0..10 {
            pacer.wait(Endpoint::Other).await;
        }
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(95),
            "10 more at 100/s took {took:?} (the burst {burst:?})"
        );
        // Other endpoints have their own buckets: a full one takes no wait
        // from this one.
        let mut other = Bucket {
            rate: Rate::new(1.0, 1.0),
            tokens: 1.0,
            last: Instant::now(),
        };
        assert_eq!(other.take(Instant::now()), None);
        assert!(other.take(Instant::now()).is_some(), "empty until refilled");
    }

    #[tokio::test]
    async fn a_pause_holds_every_endpoint() {
        let pacer = Pacer::new(&RateLimits::default());
        pacer.pause(Duration::from_millis(300));
        pacer.pause(Duration::from_millis(10)); // a shorter one does not cut it
        let started = Instant::now();
        pacer.wait(Endpoint::NewNonce).await;
        assert!(started.elapsed() >= Duration::from_millis(290));
        pacer.wait(Endpoint::NewOrder).await;
    }

    #[test]
    fn rates_parse_and_set() {
        assert_eq!("20/s".parse::<Rate>().unwrap(), Rate::new(20.0, 20.0));
        assert_eq!("0.5/s".parse::<Rate>().unwrap(), Rate::new(0.5, 1.0));
        assert_eq!(
            "20/s burst 10".parse::<Rate>().unwrap(),
            Rate::new(20.0, 10.0)
        );
        for bad in [
            "20",
            "fast",
            "0/s",
            "-1/s",
            "20/s burst",
            "20/s burst 0",
            "20/s x 3",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        let mut limits = RateLimits::default();
        limits.set("new_order", Rate::new(1.0, 1.0)).unwrap();
        assert_eq!(limits.new_order, Rate::new(1.0, 1.0));
        assert!(limits.set("new_orders", Rate::new(1.0, 1.0)).is_err());
    }

    #[test]
    fn endpoints_are_told_apart_by_the_directory() {
        let dir = super::super::directory::Directory::parse(
            br#"{"newNonce":"https://ca/nonce","newAccount":"https://ca/acct","newOrder":"https://ca/order",
                "revokeCert":"https://ca/revoke","renewalInfo":"https://ca/ari"}"#,
        )
        .unwrap();
        let kind = |u: &str| endpoint(&dir, &Url::parse(u).unwrap());
        assert_eq!(kind("https://ca/nonce"), Endpoint::NewNonce);
        assert_eq!(kind("https://ca/acct"), Endpoint::NewAccount);
        assert_eq!(kind("https://ca/order"), Endpoint::NewOrder);
        assert_eq!(kind("https://ca/revoke"), Endpoint::RevokeCert);
        assert_eq!(kind("https://ca/ari/abc.def"), Endpoint::RenewalInfo);
        assert_eq!(kind("https://ca/authz/1"), Endpoint::Other);
    }
}
