//! The anti-replay nonce pool (RFC 8555 §7.2): every `Replay-Nonce` the CA
//! sends is kept (a bounded pool shared by all tasks) and used at most once;
//! `newNonce` is asked only when the pool is empty.

use std::collections::VecDeque;
use std::sync::Mutex;

/// How many unused nonces are kept; older ones are dropped first (the CA
/// may have expired them anyway).
pub const POOL_CAPACITY: usize = 32;

/// A bounded pool of unused nonces, safe to share between tasks.
#[derive(Debug, Default)]
pub struct NoncePool {
    nonces: Mutex<VecDeque<String>>,
}

impl NoncePool {
    pub fn new() -> NoncePool {
        NoncePool::default()
    }

    /// Takes the newest nonce, if any. Each nonce is handed out once.
    pub fn take(&self) -> Option<String> {
        self.lock().pop_back()
    }

    /// Keeps a nonce from a response. Values that cannot be a nonce
    /// (RFC 8555 §6.5.1: base64url, non-empty) are ignored.
    pub fn put(&self, nonce: &str) {
        if nonce.is_empty()
            || !nonce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return;
        }
        let mut pool = self.lock();
        if pool.iter().any(|n| n == nonce) {
            return;
        }
        if pool.len() >= POOL_CAPACITY {
            pool.pop_front();
        }
        pool.push_back(nonce.to_owned());
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        // A panic while holding this lock cannot leave the deque invalid.
        self.nonces.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn each_nonce_is_used_once() {
        let pool = NoncePool::new();
        assert_eq!(pool.take(), None);
        pool.put("a1");
        pool.put("b2");
        pool.put("b2"); // a repeated header is still one nonce
        assert_eq!(pool.len(), 2);
        let first = pool.take().unwrap();
        let second = pool.take().unwrap();
        assert_ne!(first, second);
        assert_eq!(pool.take(), None);
    }

    #[test]
    fn ignores_invalid_and_bounds_size() {
        let pool = NoncePool::new();
        pool.put("");
        pool.put("has space");
        pool.put("pad=");
        assert!(pool.is_empty());
        for i in 0..POOL_CAPACITY + 5 {
            pool.put(&format!("n{i}"));
        }
        assert_eq!(pool.len(), POOL_CAPACITY);
        // The oldest were dropped; the newest comes out first.
        assert_eq!(pool.take().unwrap(), format!("n{}", POOL_CAPACITY + 4));
    }

    #[test]
    fn concurrent_takers_never_share_a_nonce() {
        let pool = Arc::new(NoncePool::new());
        for i in 0..POOL_CAPACITY {
            pool.put(&format!("n{i}"));
        }
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some(n) = pool.take() {
                        got.push(n);
                    }
                    got
                })
            })
            .collect();
        let all: Vec<String> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(all.len(), POOL_CAPACITY);
        assert_eq!(unique.len(), POOL_CAPACITY);
    }
}
