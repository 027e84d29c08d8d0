//! Back-off for wrong tokens, per client address: so the token cannot be guessed from the LAN.
//!
//! The first [`FREE_FAILURES`] wrong tokens from an address cost nothing (a typo, a stale cookie); each
//! one after that blocks the address for twice as long as the last, from 1 s up to [`MAX_BLOCK`]. While
//! blocked, every request that presents a token gets `429 Too Many Requests` with `Retry-After`, whether
//! its token is right or not (or guessing would go on). A right token resets the address. Requests
//! without any token are not counted (a browser that has not logged in yet). Behind a reverse proxy every
//! client shares the proxy's address: the proxy should limit on its side.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens an address may present before it is blocked.
pub const FREE_FAILURES: u32 = 5;
/// The longest an address is blocked for.
pub const MAX_BLOCK: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered at most; the least recently seen are forgotten first.
const MAX_ADDRESSES: usize = 10_000;
/// An address not seen for this long starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    blocked_until: Option<Instant>,
    last_seen: Instant,
}

/// What the limiter says about a request that presents a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the token.
    Proceed,
    /// Refuse with 429; retry after this many seconds.
    Blocked {
        /// Whole seconds, at least 1.
        retry_after_secs: u64,
    },
}

/// Wrong-token counts per client address. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct TokenLimiter {
    records: Mutex<HashMap<IpAddr, Record>>,
}

impl TokenLimiter {
    fn records(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `addr` may have its token checked now.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Verdict {
        match self.records().get(&addr).and_then(|r| r.blocked_until) {
            Some(until) if until > now => {
                Verdict::Blocked { retry_after_secs: (until - now).as_secs_f64().ceil().max(1.0) as u64 }
            }
            _ => Verdict::Proceed,
        }
    }

    /// Notes a wrong token from `addr`; returns the block it now has, if any.
    pub fn failed(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        let mut records = self.records();
        if records.len() >= MAX_ADDRESSES {
            records.retain(|_, r| now.duration_since(r.last_seen) < FORGET_AFTER);
            if records.len() >= MAX_ADDRESSES {
                if let Some(oldest) = records.iter().min_by_key(|(_, r)| r.last_seen).map(|(a, _)| *a) {
                    records.remove(&oldest);
                }
            }
        }
        let record = records.entry(addr).or_insert(Record { failures: 0, blocked_until: None, last_seen: now });
        if now.duration_since(record.last_seen) >= FORGET_AFTER {
            *record = Record { failures: 0, blocked_until: None, last_seen: now };
        }
        record.failures += 1;
        record.last_seen = now;
        let over = record.failures.checked_sub(FREE_FAILURES + 1)?;
        let block = Duration::from_secs(1u64 << over.min(20)).min(MAX_BLOCK);
        record.blocked_until = Some(now + block);
        Some(block)
    }

    /// Notes a right token from `addr`: it starts afresh.
    pub fn succeeded(&self, addr: IpAddr) {
        self.records().remove(&addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_double_after_the_free_failures_and_a_right_token_resets() {
        let limiter = TokenLimiter::default();
        let (lan, other): (IpAddr, IpAddr) = ("192.168.1.7".parse().unwrap(), "192.168.1.8".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(limiter.failed(lan, t0), None);
            assert_eq!(limiter.check(lan, t0), Verdict::Proceed);
        }
        assert_eq!(limiter.failed(lan, t0), Some(Duration::from_secs(1)));
        assert_eq!(limiter.check(lan, t0), Verdict::Blocked { retry_after_secs: 1 });
        assert_eq!(limiter.check(other, t0), Verdict::Proceed, "other addresses are not affected");
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(limiter.check(lan, t1), Verdict::Proceed);
        assert_eq!(limiter.failed(lan, t1), Some(Duration::from_secs(2)));
        assert_eq!(limiter.failed(lan, t1), Some(Duration::from_secs(4)));
        assert_eq!(limiter.check(lan, t1), Verdict::Blocked { retry_after_secs: 4 });
        for _ in 0..40 {
            limiter.failed(lan, t1);
        }
        assert_eq!(limiter.check(lan, t1), Verdict::Blocked { retry_after_secs: MAX_BLOCK.as_secs() });
        limiter.succeeded(lan);
        assert_eq!(limiter.check(lan, t1), Verdict::Proceed);
        assert_eq!(limiter.failed(lan, t1), None, "the count starts afresh");
    }
}
