//! Throttling of sources that keep failing authentication (Kamailio's pike, applied to
//! failures rather than raw rate): `max_failures` wrong credentials from one IP address
//! within `window` block that address for `block_for`; blocked requests get 403. Bounded:
//! at most [`MAX_TRACKED`] addresses are tracked, the stalest forgotten first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::settings::PikeSettings;

/// Most addresses tracked at once.
pub(crate) const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

/// Failure counters per source address.
#[derive(Debug)]
pub(crate) struct Pike {
    cfg: PikeSettings,
    sources: HashMap<IpAddr, Entry>,
}

impl Pike {
    pub(crate) fn new(cfg: PikeSettings) -> Pike {
        Pike {
            cfg,
            sources: HashMap::new(),
        }
    }

    /// True when `ip` is blocked at `now`.
    pub(crate) fn is_blocked(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.sources.get(&ip).and_then(|e| e.blocked_until) {
            Some(until) if now < until => true,
            Some(_) => {
                self.sources.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Counts one authentication failure; returns true when it made the source blocked.
    pub(crate) fn failure(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.cfg.max_failures == 0 {
            return false;
        }
        if self.sources.len() >= MAX_TRACKED && !self.sources.contains_key(&ip) {
            self.forget_stale(now);
        }
        let window = self.cfg.window;
        let e = self.sources.entry(ip).or_insert(Entry {
            window_start: now,
            failures: 0,
            blocked_until: None,
        });
        if now.duration_since(e.window_start) > window {
            e.window_start = now;
            e.failures = 0;
        }
        e.failures += 1;
        if e.failures >= self.cfg.max_failures && e.blocked_until.is_none() {
            e.blocked_until = Some(now + self.cfg.block_for);
            return true;
        }
        false
    }

    /// A successful authentication clears the source's failures.
    pub(crate) fn success(&mut self, ip: IpAddr) {
        if self
            .sources
            .get(&ip)
            .is_some_and(|e| e.blocked_until.is_none())
        {
            self.sources.remove(&ip);
        }
    }

    /// Number of sources blocked right now.
    #[cfg(test)]
    pub(crate) fn blocked_count(&self, now: Instant) -> usize {
        self.sources
            .values()
            .filter(|e| e.blocked_until.is_some_and(|u| now < u))
            .count()
    }

    fn forget_stale(&mut self, now: Instant) {
        let horizon = self.cfg.window.max(Duration::from_secs(1));
        self.sources.retain(|_, e| match e.blocked_until {
            Some(u) => now < u,
            None => now.duration_since(e.window_start) <= horizon,
        });
        if self.sources.len() >= MAX_TRACKED {
            // Still full of live entries: drop the unblocked ones.
            self.sources.retain(|_, e| e.blocked_until.is_some());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_failures_then_expires() {
        let cfg = PikeSettings {
            max_failures: 3,
            window: Duration::from_secs(10),
            block_for: Duration::from_secs(60),
        };
        let mut p = Pike::new(cfg);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        assert!(!p.failure(ip, t0));
        assert!(!p.failure(ip, t0 + Duration::from_secs(1)));
        assert!(!p.is_blocked(ip, t0 + Duration::from_secs(2)));
        assert!(p.failure(ip, t0 + Duration::from_secs(2)));
        assert!(p.is_blocked(ip, t0 + Duration::from_secs(3)));
        assert!(!p.is_blocked(other, t0 + Duration::from_secs(3)));
        assert_eq!(p.blocked_count(t0 + Duration::from_secs(3)), 1);
        assert!(!p.is_blocked(ip, t0 + Duration::from_secs(63)));
        // Failures spread wider than the window never block.
        for i in 0..10 {
            assert!(!p.failure(other, t0 + Duration::from_secs(11 * i)));
        }
        // Success forgets failures.
        p.failure(ip, t0 + Duration::from_secs(100));
        p.failure(ip, t0 + Duration::from_secs(100));
        p.success(ip);
        assert!(!p.failure(ip, t0 + Duration::from_secs(101)));
    }
}
