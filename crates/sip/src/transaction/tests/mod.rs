//! Tests of the transaction layer, all in simulated time: [`Solo`] drives one layer and
//! records what it sends and reports; [`pair::Pair`] links a client layer and a server layer
//! through a seeded lossy, duplicating and reordering link.

mod client;
mod e2e;
mod pair;
mod server;

use std::time::{Duration, Instant};

use super::*;
use crate::edit::ResponseBuilder;

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A request with one Via (`branch`), a From tag and no To tag.
pub(super) fn request(method: &str, branch: &str, call_id: &str) -> Message {
    Message::parse(format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=a1\r\n\
         To: <sip:bob@example.com>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    ))
    .unwrap()
}

/// A response to `req`; everything above 100 gets the To tag `b1`.
pub(super) fn response(req: &Message, code: u16) -> Message {
    response_tagged(req, code, "b1")
}

pub(super) fn response_tagged(req: &Message, code: u16, tag: &str) -> Message {
    let b = ResponseBuilder::new(req, code, "Reason");
    if code > 100 {
        b.to_tag(tag).build_message()
    } else {
        b.build_message()
    }
}

/// One layer, a virtual clock, and logs of everything it sent and reported.
pub(super) struct Solo {
    pub(super) l: TransactionLayer<u32>,
    pub(super) t0: Instant,
    pub(super) now: Instant,
    pub(super) sent: Vec<(Duration, Transmit<u32>)>,
    pub(super) events: Vec<(Duration, Event<u32>)>,
}

impl Solo {
    pub(super) fn new() -> Self {
        Self::with(Config::default())
    }

    pub(super) fn with(cfg: Config) -> Self {
        let t0 = Instant::now();
        Solo {
            l: TransactionLayer::new(cfg),
            t0,
            now: t0,
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// Drains both output queues into the logs (the driving contract).
    pub(super) fn drain(&mut self) {
        let at = self.elapsed();
        while let Some(t) = self.l.poll_transmit() {
            self.sent.push((at, t));
        }
        while let Some(e) = self.l.poll_event() {
            self.events.push((at, e));
        }
    }

    /// Moves the clock to `t0 + until`, firing every timer on its deadline.
    pub(super) fn advance(&mut self, until: Duration) {
        let end = self.t0 + until;
        let mut steps = 0;
        while let Some(t) = self.l.poll_timeout() {
            if t > end {
                break;
            }
            steps += 1;
            assert!(steps < 10_000, "timers do not settle");
            self.now = t.max(self.now);
            self.l.handle_timeout(self.now);
            self.drain();
        }
        self.now = end.max(self.now);
    }

    /// Fires timers until none is left; returns the time of the last one.
    pub(super) fn settle(&mut self) -> Duration {
        self.advance(secs(100_000));
        self.events.last().map(|(t, _)| *t).unwrap_or_default()
    }

    pub(super) fn send(&mut self, req: Message, reliable: bool) -> TransactionKey {
        let k = self.l.send_request(self.now, req, 9, reliable).unwrap();
        self.drain();
        k
    }

    pub(super) fn recv_request(&mut self, req: Message, reliable: bool) {
        self.l.handle_request(self.now, req, 5, reliable).unwrap();
        self.drain();
    }

    pub(super) fn recv_response(&mut self, resp: Message) {
        self.l.handle_response(self.now, resp).unwrap();
        self.drain();
    }

    pub(super) fn respond(&mut self, key: TransactionKey, resp: Message) -> Result<(), Error> {
        let r = self.l.send_response(self.now, key, resp);
        self.drain();
        r
    }

    /// The key of the only [`Event::Request`] so far.
    pub(super) fn new_request_key(&self) -> TransactionKey {
        let keys: Vec<_> = self
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Request { key, .. } => Some(*key),
                _ => None,
            })
            .collect();
        assert_eq!(keys.len(), 1, "{:?}", self.events);
        keys[0]
    }

    /// Times of the transmissions so far.
    pub(super) fn sent_times(&self) -> Vec<Duration> {
        self.sent.iter().map(|(t, _)| *t).collect()
    }

    /// Parsed transmissions so far.
    pub(super) fn sent_msgs(&self) -> Vec<(Duration, Message)> {
        self.sent
            .iter()
            .map(|(t, x)| (*t, Message::parse(x.payload.clone()).unwrap()))
            .collect()
    }

    pub(super) fn count(&self, f: impl Fn(&Event<u32>) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| f(e)).count()
    }

    /// When transaction `key` was terminated.
    pub(super) fn terminated_at(&self, key: TransactionKey) -> Option<Duration> {
        self.events.iter().find_map(|(t, e)| match e {
            Event::Terminated { key: k } if *k == key => Some(*t),
            _ => None,
        })
    }

    /// The timers that reported a timeout.
    pub(super) fn timeouts(&self) -> Vec<(Duration, Timer)> {
        self.events
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Timeout { timer, .. } => Some((*t, *timer)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn derived_timers_follow_table_4() {
    let c = Config::default();
    assert_eq!(c.duration(Timer::A, false), ms(500));
    assert_eq!(c.duration(Timer::A, true), Duration::ZERO);
    for t in [Timer::B, Timer::F, Timer::H, Timer::L, Timer::M] {
        assert_eq!(c.duration(t, false), secs(32), "{t:?}");
        assert_eq!(c.duration(t, true), secs(32), "{t:?}");
    }
    assert_eq!(c.duration(Timer::D, false), secs(32));
    assert_eq!(c.duration(Timer::D, true), Duration::ZERO);
    assert_eq!(c.duration(Timer::J, false), secs(32));
    assert_eq!(c.duration(Timer::J, true), Duration::ZERO);
    assert_eq!(c.duration(Timer::K, false), secs(5));
    assert_eq!(c.duration(Timer::I, false), secs(5));
    assert_eq!(c.duration(Timer::K, true), Duration::ZERO);
    assert_eq!(c.duration(Timer::I, true), Duration::ZERO);
    assert_eq!(c.trying_gate(), ms(3500));
    let fast = Config {
        t1: ms(100),
        ..Config::default()
    };
    assert_eq!(fast.duration(Timer::F, false), ms(6400));
    assert_eq!(
        fast.duration(Timer::D, false),
        secs(32),
        "D stays at least 32 s"
    );
}
