//! Polling authorizations and orders: a backoff that starts small (a fast CA
//! answers within tens of milliseconds) and grows by half each poll (a
//! result ready at time t after the start is seen by about 1.5 t, where
//! doubling would take up to 2 t), the CA's `Retry-After` honoured up to a
//! bound, and an overall deadline.

use super::error::{Error, Result};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// How to poll a resource until it leaves a transient state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// The wait before the first poll, and the first backoff step.
    pub initial: Duration,
    /// The backoff never waits longer than this between polls…
    pub max_interval: Duration,
    /// …unless the CA's `Retry-After` asks for more, up to this bound.
    pub max_retry_after: Duration,
    /// Give up after this long in total.
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            initial: Duration::from_millis(20),
            max_interval: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(30),
            timeout: Duration::from_secs(300),
        }
    }
}

impl PollPolicy {
    /// The wait after `polls` unsuccessful polls, given the CA's `Retry-After`:
    /// `initial × 1.5^polls`, at most `max_interval`.
    pub fn delay(&self, polls: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self
            .initial
            .mul_f64(1.5f64.powi(polls.min(60) as i32))
            .min(self.max_interval)
            .max(self.initial.min(self.max_interval));
        match retry_after {
            Some(ra) => backoff.max(ra.min(self.max_retry_after)),
            None => backoff,
        }
    }
}

/// The outcome of one poll.
pub(crate) enum Step<T> {
    Done(T),
    /// Not yet; the CA's `Retry-After`, if it sent one.
    Again(Option<Duration>),
}

/// Calls `poll` after the initial wait (longer if the CA's last answer had
/// a `Retry-After`, `first_retry_after`) and then with backoff until it is
/// done, fails, or `policy.timeout` has passed (then a timeout naming `what`).
pub(crate) async fn poll_until<T, F, Fut>(
    policy: &PollPolicy,
    first_retry_after: Option<Duration>,
    what: impl Fn() -> String,
    mut poll: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step<T>>>,
{
    let started = Instant::now();
    let deadline = started + policy.timeout;
    let mut wait = policy.delay(0, first_retry_after);
    let mut polls = 0u32;
    loop {
        let now = Instant::now();
        if now + wait > deadline {
            // One last look at the deadline, then give up.
            tokio::time::sleep_until(deadline).await;
            if let Step::Done(v) = poll().await? {
                return Ok(v);
            }
            return Err(Error::Timeout {
                what: what(),
                after: policy.timeout,
            });
        }
        tokio::time::sleep(wait).await;
        match poll().await? {
            Step::Done(v) => return Ok(v),
            Step::Again(retry_after) => {
                wait = policy.delay(polls + 1, retry_after);
                polls += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        let p = PollPolicy {
            initial: Duration::from_millis(20),
            max_interval: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
        };
        let steps: Vec<u128> = (0..7).map(|i| p.delay(i, None).as_millis()).collect();
        assert_eq!(steps, [20, 30, 45, 67, 101, 151, 227]);
        assert_eq!(p.delay(1000, None), Duration::from_millis(500));
        // Retry-After wins over a shorter backoff, within its bound.
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(5)
        );
        // A Retry-After shorter than the backoff does not speed polling up.
        assert_eq!(p.delay(4, Some(Duration::ZERO)).as_millis(), 101);
    }

    #[tokio::test]
    async fn polls_until_done() {
        let p = PollPolicy {
            initial: Duration::from_millis(2),
            ..PollPolicy::default()
        };
        let mut n = 0;
        let started = Instant::now();
        let v = poll_until(
            &p,
            None,
            || "x".into(),
            || {
                n += 1;
                let done = n == 4;
                async move {
                    Ok(if done {
                        Step::Done(n)
                    } else {
                        Step::Again(None)
                    })
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 4);
        // 2 + 3 + 4.5 + 6.75 ms of waiting at least.
        assert!(started.elapsed() >= Duration::from_millis(16));
    }

    #[tokio::test]
    async fn honours_retry_after_and_times_out() {
        let p = PollPolicy {
            initial: Duration::from_millis(1),
            max_interval: Duration::from_millis(2),
            max_retry_after: Duration::from_secs(5),
            timeout: Duration::from_millis(200),
        };
        let mut n = 0u32;
        let started = Instant::now();
        let err = poll_until(
            &p,
            None,
            || "waiting for order X".into(),
            || {
                n += 1;
                async { Ok::<_, Error>(Step::<()>::Again(Some(Duration::from_millis(60)))) }
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }));
        assert!(err.to_string().contains("waiting for order X"), "{err}");
        // Polls at about 1, 61, 121, 181 ms (Retry-After, not the 2 ms
        // backoff), and a last one at the 200 ms deadline; a slow machine
        // may fit one fewer in.
        assert!((4..=5).contains(&n), "{n} polls");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(2),
            "{elapsed:?}"
        );
    }

    #[tokio::test]
    async fn first_wait_honours_an_earlier_retry_after() {
        let p = PollPolicy {
            initial: Duration::from_millis(1),
            ..PollPolicy::default()
        };
        let started = Instant::now();
        poll_until(
            &p,
            Some(Duration::from_millis(80)),
            || "x".into(),
            || async { Ok::<_, Error>(Step::Done(())) },
        )
        .await
        .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(80));
    }

    #[tokio::test]
    async fn errors_stop_polling() {
        let mut n = 0;
        let err = poll_until(
            &PollPolicy::default(),
            None,
            || "x".into(),
            || {
                n += 1;
                async { Err::<Step<()>, _>(Error::Input("boom".into())) }
            },
        )
        .await
        .unwrap_err();
        assert_eq!(n, 1);
        assert_eq!(err.to_string(), "boom");
    }
}
