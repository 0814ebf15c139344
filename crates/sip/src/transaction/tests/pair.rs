//! [`Pair`]: a client layer (side A) and a server layer (side B), each with a small TU,
//! linked by a simulated network that can drop, duplicate and reorder (seeded, so every
//! run is reproducible). Time jumps to the next packet arrival, timer or TU action.

use std::collections::HashMap;

use bytes::Bytes;

use super::*;
use crate::edit::RequestBuilder;

/// Which layer; also the opaque peer handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Side {
    A,
    B,
}

/// What the link does with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    Deliver,
    Drop,
    Duplicate,
}

/// Decides the fate of the n-th message (counted per direction) sent by a side.
pub(super) type Script = Box<dyn FnMut(Side, &Message, usize) -> Fate>;

/// The simulated network.
pub(super) struct Link {
    rng: u64,
    /// Percent of messages lost (unreliable only).
    pub(super) loss: u64,
    /// Percent of messages duplicated (unreliable only).
    pub(super) dup: u64,
    pub(super) latency: Duration,
    /// Extra random delay per copy, up to this (unreliable only): reorders.
    pub(super) jitter: Duration,
    /// Overrides the random fate.
    pub(super) script: Option<Script>,
}

impl Link {
    pub(super) fn new(seed: u64) -> Self {
        Link {
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            loss: 0,
            dup: 0,
            latency: ms(20),
            jitter: Duration::ZERO,
            script: None,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.next() % 100 < p
    }

    fn delay(&mut self) -> Duration {
        let j = self.jitter.as_micros() as u64;
        let extra = if j == 0 { 0 } else { self.next() % (j + 1) };
        self.latency + Duration::from_micros(extra)
    }
}

struct Packet {
    at: Instant,
    seq: u64,
    to: Side,
    payload: Bytes,
}

/// What the server TU answers to a request: `(delay, status)` in order.
pub(super) type Answers = fn(&Message) -> Vec<(Duration, u16)>;

/// Two layers, two TUs, one link.
pub(super) struct Pair {
    pub(super) t0: Instant,
    pub(super) now: Instant,
    pub(super) a: TransactionLayer<Side>,
    pub(super) b: TransactionLayer<Side>,
    pub(super) reliable: bool,
    pub(super) link: Link,
    flight: Vec<Packet>,
    seq: u64,
    sent_count: HashMap<Side, usize>,
    pub(super) a_events: Vec<(Duration, Event<Side>)>,
    pub(super) b_events: Vec<(Duration, Event<Side>)>,
    /// Every message each side put on the wire, with its time.
    pub(super) wire: Vec<(Duration, Side, Message)>,
    /// The server TU's policy.
    pub(super) answers: Answers,
    /// Server TU actions to take later: (when, transaction, status, retransmissions left).
    todo: Vec<(Instant, TransactionKey, u16, u32)>,
    b_requests: HashMap<TransactionKey, Message>,
    /// Call-IDs whose 2xx the server TU saw ACKed.
    acked: Vec<String>,
    pub(super) client_keys: Vec<TransactionKey>,
    acks_sent: u64,
}

/// The default server TU: INVITE → 180 then 200; BYE/MESSAGE/OPTIONS → 200; CANCEL → 200.
pub(super) fn answer_ok(req: &Message) -> Vec<(Duration, u16)> {
    match req.method() {
        Some(Method::Invite) => vec![(ms(10), 180), (ms(300), 200)],
        _ => vec![(ms(5), 200)],
    }
}

impl Pair {
    pub(super) fn new(seed: u64, reliable: bool, cfg_a: Config, cfg_b: Config) -> Self {
        let t0 = Instant::now();
        Pair {
            t0,
            now: t0,
            a: TransactionLayer::new(cfg_a),
            b: TransactionLayer::new(cfg_b),
            reliable,
            link: Link::new(seed),
            flight: Vec::new(),
            seq: 0,
            sent_count: HashMap::new(),
            a_events: Vec::new(),
            b_events: Vec::new(),
            wire: Vec::new(),
            answers: answer_ok,
            todo: Vec::new(),
            b_requests: HashMap::new(),
            acked: Vec::new(),
            client_keys: Vec::new(),
            acks_sent: 0,
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// The client TU starts a transaction.
    pub(super) fn start(&mut self, req: Message) -> TransactionKey {
        let k = self
            .a
            .send_request(self.now, req, Side::B, self.reliable)
            .unwrap();
        self.client_keys.push(k);
        self.drain();
        k
    }

    fn put_on_wire(&mut self, from: Side, t: Transmit<Side>) {
        let msg = Message::parse(t.payload.clone()).unwrap();
        self.wire.push((self.elapsed(), from, msg.clone()));
        let n = self.sent_count.entry(from).or_default();
        *n += 1;
        let n = *n;
        let fate = match &mut self.link.script {
            Some(script) => script(from, &msg, n),
            None if self.reliable => Fate::Deliver,
            None => {
                if self.link.percent(self.link.loss) {
                    Fate::Drop
                } else if self.link.percent(self.link.dup) {
                    Fate::Duplicate
                } else {
                    Fate::Deliver
                }
            }
        };
        let copies = match fate {
            Fate::Drop => 0,
            Fate::Deliver => 1,
            Fate::Duplicate => 2,
        };
        for _ in 0..copies {
            let d = if self.reliable {
                self.link.latency
            } else {
                self.link.delay()
            };
            self.seq += 1;
            self.flight.push(Packet {
                at: self.now + d,
                seq: self.seq,
                to: t.to,
                payload: t.payload.clone(),
            });
        }
    }

    /// Drains both layers and lets both TUs react, until everything is quiet.
    pub(super) fn drain(&mut self) {
        loop {
            let mut busy = false;
            while let Some(t) = self.a.poll_transmit() {
                busy = true;
                self.put_on_wire(Side::A, t);
            }
            while let Some(t) = self.b.poll_transmit() {
                busy = true;
                self.put_on_wire(Side::B, t);
            }
            while let Some(e) = self.a.poll_event() {
                busy = true;
                self.client_tu(&e);
                self.a_events.push((self.elapsed(), e));
            }
            while let Some(e) = self.b.poll_event() {
                busy = true;
                self.server_tu(&e);
                self.b_events.push((self.elapsed(), e));
            }
            if !busy {
                return;
            }
        }
    }

    /// ACKs every 2xx to an INVITE (a new transaction-less request with its own branch);
    /// CANCELs at Timer C.
    fn client_tu(&mut self, e: &Event<Side>) {
        match e {
            Event::Final { key, response }
                if response.cseq_method() == &Method::Invite
                    && (200..300).contains(&response.status().unwrap()) =>
            {
                let invite = self.a.request(*key).unwrap();
                self.acks_sent += 1;
                let ack = RequestBuilder::new(
                    Method::Ack,
                    invite.request_uri().unwrap().as_str().to_string(),
                )
                .header(
                    "Via",
                    format!(
                        "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKack{}",
                        self.acks_sent
                    ),
                )
                .header("From", invite.from().as_str())
                .header("To", response.to().as_str())
                .header("Call-ID", invite.call_id())
                .header("CSeq", format!("{} ACK", invite.cseq()))
                .build();
                self.a.send_stateless(ack, Side::B, self.reliable);
            }
            Event::Timeout {
                key,
                timer: Timer::C,
            } => {
                let _ = self.a.send_cancel(self.now, *key);
            }
            _ => {}
        }
    }

    /// Answers requests per [`Pair::answers`]; retransmits its 2xx to an INVITE (RFC 3261
    /// §13.3.1.4) until the ACK comes; answers CANCEL with 200 and 487 or with 481.
    fn server_tu(&mut self, e: &Event<Side>) {
        match e {
            Event::Request {
                key,
                request,
                cancels,
                ..
            } => {
                self.b_requests.insert(*key, request.clone());
                if request.method() == Some(&Method::Cancel) {
                    match cancels {
                        Some(inv) => {
                            self.todo.push((self.now, *key, 200, 0));
                            self.todo.push((self.now, *inv, 487, 0));
                        }
                        None => self.todo.push((self.now, *key, 481, 0)),
                    }
                    return;
                }
                for (d, code) in (self.answers)(request) {
                    let again = if request.method() == Some(&Method::Invite)
                        && (200..300).contains(&code)
                    {
                        10
                    } else {
                        0
                    };
                    self.todo.push((self.now + d, *key, code, again));
                }
            }
            Event::Ack { request, .. } => self.acked.push(request.call_id().to_string()),
            Event::Terminated { key } => {
                self.b_requests.remove(key);
            }
            _ => {}
        }
    }

    fn run_todo(&mut self) {
        let due: Vec<_> = self
            .todo
            .iter()
            .copied()
            .filter(|t| t.0 <= self.now)
            .collect();
        self.todo.retain(|t| t.0 > self.now);
        for (_, key, code, again) in due {
            let Some(req) = self.b_requests.get(&key) else {
                continue;
            };
            let resp = response(req, code);
            let acked = self.acked.iter().any(|c| c == req.call_id());
            if again < 10
                && req.method() == Some(&Method::Invite)
                && (200..300).contains(&code)
                && acked
            {
                continue;
            }
            if again > 0 && !acked {
                // 2xx retransmission: T1 doubling to T2.
                let n = 10 - again;
                let gap = (ms(500) * 2u32.pow(n.min(3))).min(secs(4));
                self.todo.push((self.now + gap, key, code, again - 1));
            }
            let _ = self.b.send_response(self.now, key, resp);
            self.drain();
        }
    }

    /// One step: jump to the next arrival, timer or TU action and process it. False when
    /// nothing is left to happen.
    pub(super) fn step(&mut self) -> bool {
        self.drain();
        let next = [
            self.flight.iter().map(|p| p.at).min(),
            self.a.poll_timeout(),
            self.b.poll_timeout(),
            self.todo.iter().map(|t| t.0).min(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else {
            return false;
        };
        self.now = next.max(self.now);
        while let Some(i) = (0..self.flight.len())
            .filter(|&i| self.flight[i].at <= self.now)
            .min_by_key(|&i| (self.flight[i].at, self.flight[i].seq))
        {
            let p = self.flight.swap_remove(i);
            let msg = Message::parse(p.payload).unwrap();
            let (layer, from) = match p.to {
                Side::A => (&mut self.a, Side::B),
                Side::B => (&mut self.b, Side::A),
            };
            if msg.is_request() {
                layer
                    .handle_request(self.now, msg, from, self.reliable)
                    .unwrap();
            } else {
                layer.handle_response(self.now, msg).unwrap();
            }
            self.drain();
        }
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        self.drain();
        self.run_todo();
        true
    }

    /// Steps until nothing is left; panics if that takes more than `max` steps.
    pub(super) fn run(&mut self, max: usize) {
        for _ in 0..max {
            if !self.step() {
                return;
            }
        }
        panic!("not settled after {max} steps");
    }

    /// Server-side TU "new request" events per (Call-ID, method).
    pub(super) fn b_requests_seen(&self) -> HashMap<(String, Method), usize> {
        let mut m = HashMap::new();
        for (_, e) in &self.b_events {
            if let Event::Request { request, .. } = e {
                *m.entry((
                    request.call_id().to_string(),
                    request.method().unwrap().clone(),
                ))
                .or_default() += 1;
            }
        }
        m
    }

    /// Checks what must hold after any run that settled.
    pub(super) fn check_invariants(&self) {
        assert!(self.a.is_empty(), "client layer still holds transactions");
        assert!(self.b.is_empty(), "server layer still holds transactions");
        assert!(self.flight.is_empty());
        for (k, n) in self.b_requests_seen() {
            assert_eq!(n, 1, "{k:?} reached the server TU {n} times");
        }
        // Every client transaction terminated exactly once, with at most one final for a
        // non-INVITE and a final or a timeout for each.
        for key in &self.client_keys {
            let of = |f: &dyn Fn(&Event<Side>) -> bool| {
                self.a_events.iter().filter(|(_, e)| f(e)).count()
            };
            let terminated = of(&|e| matches!(e, Event::Terminated { key: k } if k == key));
            assert_eq!(terminated, 1, "{key}");
            let finals = of(&|e| matches!(e, Event::Final { key: k, .. } if k == key));
            let timeouts = of(&|e| matches!(e, Event::Timeout { key: k, .. } if k == key));
            assert!(finals + timeouts >= 1, "{key} ended without news");
        }
        // Server-side: every transaction created was terminated.
        let created = self
            .b_events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Request { .. }))
            .count();
        let ended = self
            .b_events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Terminated { .. }))
            .count();
        assert_eq!(created, ended);
        // RFC 4320: no 408 and no non-100 provisional to a non-INVITE, ever.
        for (_, side, m) in &self.wire {
            if *side == Side::B {
                assert_ne!(m.status(), Some(408));
                if m.cseq_method() != &Method::Invite {
                    assert!(m.status().unwrap() == 100 || m.status().unwrap() >= 200);
                }
            }
        }
    }
}
