//! The timer table: which [`Timer`]s a transaction has armed, and the layer-wide heap of
//! deadlines behind [`TransactionLayer::poll_timeout`](super::TransactionLayer::poll_timeout).
//!
//! Disarming a timer only removes it from its transaction's table; its heap entry turns
//! stale and is skipped when it comes up. Every deadline lies at most a few 64·T1 ahead, so
//! stale entries leave the heap soon and the heap stays bounded by live transactions.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::config::Timer;
use super::key::TransactionKey;

/// Deadlines of every transaction, earliest first (possibly stale; see module doc).
pub(crate) type TimerHeap = BinaryHeap<Reverse<(Instant, TransactionKey, Timer)>>;

/// The timers one transaction has armed (at most three at a time).
#[derive(Debug, Default)]
pub(crate) struct Armed(Vec<(Timer, Instant)>);

impl Armed {
    /// Arms (or re-arms) `timer` to fire at `at`.
    pub(crate) fn set(
        &mut self,
        heap: &mut TimerHeap,
        key: TransactionKey,
        timer: Timer,
        at: Instant,
    ) {
        self.clear(timer);
        self.0.push((timer, at));
        heap.push(Reverse((at, key, timer)));
    }

    /// Disarms `timer`.
    pub(crate) fn clear(&mut self, timer: Timer) {
        self.0.retain(|(t, _)| *t != timer);
    }

    /// Disarms every timer.
    pub(crate) fn clear_all(&mut self) {
        self.0.clear();
    }

    /// True when `timer` is armed.
    pub(crate) fn is_set(&self, timer: Timer) -> bool {
        self.0.iter().any(|(t, _)| *t == timer)
    }

    /// True when the heap entry `(timer, at)` is still armed.
    pub(crate) fn is_live(&self, timer: Timer, at: Instant) -> bool {
        self.0.contains(&(timer, at))
    }

    /// Consumes the heap entry `(timer, at)`: true (and disarmed) when it was live.
    pub(crate) fn take(&mut self, timer: Timer, at: Instant) -> bool {
        let live = self.is_live(timer, at);
        if live {
            self.clear(timer);
        }
        live
    }
}
