//! One-time pairing links: a fresh code per pairing, valid for a few minutes, good for one browser.
//!
//! Kept in memory only (hashed): a restart forgets them, which only means a fresh QR code. A used code is
//! remembered until it would have expired, so its second use gets "already used" rather than "unknown".

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::secret;

/// How long a pairing link is valid.
pub const PAIRING_TTL: Duration = Duration::from_secs(5 * 60);
/// Links outstanding at most; the oldest is dropped first.
const MAX_LINKS: usize = 64;

/// Why a pairing code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    /// Never issued (or forgotten: a restart, or long expired).
    #[error("this pairing link is not one this server issued (or the server restarted since): make a new one")]
    Unknown,
    /// Past its few minutes.
    #[error("this pairing link has expired: make a new one on a paired device (Devices → Pair a device)")]
    Expired,
    /// Already paired a browser.
    #[error("this pairing link was already used: each link pairs one browser; make a new one")]
    Used,
}

#[derive(Debug, Clone, Copy)]
struct Link {
    expires: Instant,
    used: bool,
}

/// The outstanding pairing links.
#[derive(Debug, Default)]
pub struct PairingLinks {
    links: Mutex<HashMap<String, Link>>,
}

impl PairingLinks {
    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<String, Link>> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new code, valid until `now + ttl`.
    pub fn create(&self, now: Instant, ttl: Duration) -> String {
        let code = secret::new_secret();
        let mut links = self.links();
        links.retain(|_, l| l.expires > now);
        if links.len() >= MAX_LINKS {
            if let Some(oldest) = links.iter().min_by_key(|(_, l)| l.expires).map(|(k, _)| k.clone()) {
                links.remove(&oldest);
            }
        }
        links.insert(secret::hash(&code), Link { expires: now + ttl, used: false });
        code
    }

    /// Whether `code` could be used now (without using it up).
    pub fn check(&self, code: &str, now: Instant) -> Result<(), PairingError> {
        self.with(code, now, |_| {})
    }

    /// Uses `code` up: `Ok` once, within its time.
    pub fn redeem(&self, code: &str, now: Instant) -> Result<(), PairingError> {
        self.with(code, now, |link| link.used = true)
    }

    fn with(&self, code: &str, now: Instant, on_ok: impl FnOnce(&mut Link)) -> Result<(), PairingError> {
        if !secret::is_hex(code, 64) {
            return Err(PairingError::Unknown);
        }
        let mut links = self.links();
        let link = links.get_mut(&secret::hash(code)).ok_or(PairingError::Unknown)?;
        if link.used {
            return Err(PairingError::Used);
        }
        if link.expires <= now {
            return Err(PairingError::Expired);
        }
        on_ok(link);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_once_and_only_in_time() {
        let links = PairingLinks::default();
        let t0 = Instant::now();
        let code = links.create(t0, PAIRING_TTL);
        assert_eq!(links.redeem("nope", t0), Err(PairingError::Unknown));
        assert_eq!(links.check(&code, t0), Ok(()));
        assert_eq!(links.redeem(&code, t0), Ok(()));
        assert_eq!(links.redeem(&code, t0), Err(PairingError::Used));
        let late = links.create(t0, PAIRING_TTL);
        assert_eq!(links.redeem(&late, t0 + PAIRING_TTL), Err(PairingError::Expired));
    }
}
