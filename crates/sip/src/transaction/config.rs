//! Timer configuration: T1, T2, T4, the timers derived from them (RFC 3261 Table 4,
//! RFC 6026 Timers L and M, RFC 4320's 100 Trying gate) and the one [`Timer`] enum.

use std::time::Duration;

/// Every timer a transaction can arm. The letters are RFC 3261 Table 4 and RFC 6026.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE client, Calling: request retransmission (T1, doubling; unreliable only).
    A,
    /// INVITE client, Calling: transaction timeout (64·T1).
    B,
    /// INVITE client, Proceeding: no final response for [`Config::timer_c`] (RFC 3261
    /// §16.6 step 11; reset by each 101–199). The TU should CANCEL; the transaction is
    /// then destroyed [`Timer::Abandon`] later.
    C,
    /// INVITE client, Completed: wait for response retransmissions (32 s unreliable, 0).
    D,
    /// Non-INVITE client, Trying/Proceeding: request retransmission (T1 doubling to T2;
    /// unreliable only).
    E,
    /// Non-INVITE client: transaction timeout (64·T1).
    F,
    /// INVITE server, Completed: final response retransmission (T1 doubling to T2;
    /// unreliable only).
    G,
    /// INVITE server, Completed: wait for the ACK (64·T1).
    H,
    /// INVITE server, Confirmed: absorb ACK retransmissions (T4 unreliable, 0).
    I,
    /// Non-INVITE server, Completed: absorb request retransmissions (64·T1 unreliable, 0).
    J,
    /// Non-INVITE client, Completed: absorb response retransmissions (T4 unreliable, 0).
    K,
    /// INVITE server, Accepted: absorb INVITE retransmissions after a 2xx (64·T1, RFC 6026).
    L,
    /// INVITE client, Accepted: pass further 2xx to the TU (64·T1, RFC 6026).
    M,
    /// Non-INVITE server over an unreliable transport, Trying: the moment the client's
    /// Timer E has grown to T2; before it no 100 may be sent (RFC 4320 §4.1). Armed only
    /// when [`Config::non_invite_trying`] is on; firing sends the automatic 100.
    Trying,
    /// Not an RFC timer: bounds memory when nobody ends a transaction. A server transaction
    /// whose TU never answers is dropped (non-INVITE: 64·T1, the client has given up by
    /// then; INVITE: Timer C + 64·T1 after the last provisional), and an INVITE client
    /// transaction stuck in Proceeding is dropped 64·T1 after Timer C fired or a CANCEL was
    /// sent (RFC 3261 §9.1).
    Abandon,
}

/// Timer settings of a [`TransactionLayer`](super::TransactionLayer).
///
/// Start from [`Config::default`] and change fields:
///
/// ```
/// use std::time::Duration;
/// use cpm_sip::transaction::{Config, Timer};
///
/// let mut c = Config::default();
/// c.t1 = Duration::from_millis(250);
/// assert_eq!(c.duration(Timer::F, false), Duration::from_secs(16));
/// assert_eq!(c.duration(Timer::K, true), Duration::ZERO);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// RTT estimate (default 500 ms).
    pub t1: Duration,
    /// Largest retransmission interval of non-INVITE requests and INVITE responses
    /// (default 4 s).
    pub t2: Duration,
    /// Longest time a message stays in the network (default 5 s).
    pub t4: Duration,
    /// Timer C: how long an INVITE client transaction waits in Proceeding (default 180 s;
    /// RFC 3261 asks for more than 3 minutes in a proxy).
    pub timer_c: Duration,
    /// Send `100 Trying` for every new INVITE at once (RFC 3261 §17.2.1; default on).
    pub invite_trying: bool,
    /// Send `100 Trying` for a non-INVITE request over an unreliable transport when the TU
    /// has not answered by the time the client's Timer E reaches T2 (RFC 4320; default off).
    pub non_invite_trying: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_c: Duration::from_secs(180),
            invite_trying: true,
            non_invite_trying: false,
        }
    }
}

impl Config {
    /// The value a timer is armed with (for A, E and G: the first interval) over a reliable
    /// or unreliable transport. Zero means "at once": the transaction does not wait.
    pub fn duration(&self, timer: Timer, reliable: bool) -> Duration {
        let unreliable = |d: Duration| if reliable { Duration::ZERO } else { d };
        let t64 = self.t1 * 64;
        match timer {
            Timer::A | Timer::E | Timer::G => unreliable(self.t1),
            Timer::B | Timer::F | Timer::H | Timer::L | Timer::M | Timer::Abandon => t64,
            Timer::C => self.timer_c,
            // "at least 32 s" (RFC 3261 §17.1.1.2): it must outlive the server's Timer H
            // even when our T1 is smaller than the server's.
            Timer::D => unreliable(t64.max(Duration::from_secs(32))),
            Timer::I | Timer::K => unreliable(self.t4),
            Timer::J => unreliable(t64),
            Timer::Trying => unreliable(self.trying_gate()),
        }
    }

    /// Time from a non-INVITE request's first transmission until the client's Timer E
    /// interval has grown to T2: T1 + 2·T1 + 4·T1 … while the interval is below T2
    /// (3.5 s with the defaults). RFC 4320 forbids a 100 over UDP before it.
    pub fn trying_gate(&self) -> Duration {
        let mut total = Duration::ZERO;
        let mut e = self.t1;
        while e < self.t2 && !e.is_zero() {
            total += e;
            e *= 2;
        }
        total
    }
}
