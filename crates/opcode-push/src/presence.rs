//! Which devices have a visible page watching, and since when they stopped.
//!
//! Each WebSocket of a page is a [`Watcher`]; the page reports on it which device it is and whether it
//! is visible (`{"type":"visibility","device":…,"visible":…}`). A device is watching while one of its
//! sockets last said visible; when the last one turns hidden or closes, the moment is kept. A notable
//! event is pushed to a device only if it was not watching *when the event was announced*: so the
//! socket of a session that closes because its run just finished still counts for that run's end,
//! whatever the order in which the notifier and the socket see it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio::time::{Duration, Instant};

/// How long the moment a device stopped watching is kept (longer than any notifier delay).
const FORGET_AFTER: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
struct DeviceWatch {
    /// Open sockets of the device that last said visible.
    visible: usize,
    /// When the count last dropped to zero.
    until: Option<Instant>,
}

/// The watching devices. Cheap to clone; all clones share.
#[derive(Debug, Clone)]
pub struct Presence {
    devices: Arc<Mutex<HashMap<String, DeviceWatch>>>,
    /// Counts changes (a device became or stopped being watched by a socket).
    changes: Arc<watch::Sender<u64>>,
}

impl Default for Presence {
    fn default() -> Self {
        Presence { devices: Arc::default(), changes: Arc::new(watch::channel(0).0) }
    }
}

impl Presence {
    /// Changes after every report that changed something, and when a visible socket closes (for tests
    /// and whoever must wait for a closed socket to stop counting).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn devices(&self) -> std::sync::MutexGuard<'_, HashMap<String, DeviceWatch>> {
        self.devices.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A watcher for one socket (reports nothing until told).
    pub fn watcher(&self) -> Watcher {
        Watcher { presence: self.clone(), visible_as: None }
    }

    /// Whether `device` had a visible page at `at` (or has one now).
    pub fn watching_at(&self, device: &str, at: Instant) -> bool {
        self.devices().get(device).is_some_and(|w| w.visible > 0 || w.until.is_some_and(|until| until > at))
    }

    fn show(&self, device: &str) {
        let mut devices = self.devices();
        let now = Instant::now();
        devices.retain(|_, w| w.visible > 0 || w.until.is_some_and(|u| now.duration_since(u) < FORGET_AFTER));
        devices.entry(device.to_owned()).or_default().visible += 1;
        drop(devices);
        self.changes.send_modify(|n| *n += 1);
    }

    fn hide(&self, device: &str) {
        if let Some(watch) = self.devices().get_mut(device) {
            watch.visible = watch.visible.saturating_sub(1);
            if watch.visible == 0 {
                watch.until = Some(Instant::now());
            }
        }
        self.changes.send_modify(|n| *n += 1);
    }
}

/// One socket's visibility report. Dropping it (the socket closed) counts as hidden.
#[derive(Debug)]
pub struct Watcher {
    presence: Presence,
    /// The device this socket last said visible for.
    visible_as: Option<String>,
}

impl Watcher {
    /// The page on this socket says it belongs to `device` and is (or is not) visible.
    pub fn report(&mut self, device: &str, visible: bool) {
        if visible && self.visible_as.as_deref() == Some(device) {
            return;
        }
        if let Some(old) = self.visible_as.take() {
            self.presence.hide(&old);
        }
        if visible {
            self.presence.show(device);
            self.visible_as = Some(device.to_owned());
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(old) = self.visible_as.take() {
            self.presence.hide(&old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_watches_while_a_socket_says_visible_and_counts_until_it_stopped() {
        let presence = Presence::default();
        let before = Instant::now();
        let mut a = presence.watcher();
        let mut b = presence.watcher();
        assert!(!presence.watching_at("phone", before));
        a.report("phone", true);
        b.report("phone", true);
        a.report("phone", true);
        a.report("phone", false);
        assert!(presence.watching_at("phone", Instant::now()), "b still visible");
        let during = Instant::now();
        drop(b);
        // an event announced while it was visible still counts as watched
        assert!(presence.watching_at("phone", during));
        assert!(presence.watching_at("phone", before));
        let after = Instant::now() + Duration::from_millis(1);
        assert!(!presence.watching_at("phone", after));
        assert!(!presence.watching_at("laptop", before));
        // a socket that changes its device moves its visibility along
        let mut c = presence.watcher();
        c.report("laptop", true);
        c.report("tablet", true);
        let later = Instant::now() + Duration::from_millis(1);
        assert!(!presence.watching_at("laptop", later));
        assert!(presence.watching_at("tablet", later));
    }
}
