//! # Transactions: the sans-IO SIP transaction layer (RFC 3261 §17, RFC 4320, RFC 6026)
//!
//! Owns: the four transaction state machines (INVITE and non-INVITE, client and server),
//! matching of requests and responses to transactions (§17.1.3, §17.2.3 with the RFC 2543
//! fallback, §9.2 for CANCEL), retransmissions and their absorption, the ACK for a non-2xx
//! final response, and every transaction timer. It does not own dialogs, proxy logic,
//! transport selection or sockets: the *TU* (transaction user: UA core, proxy core) and
//! the *driver* (the code with sockets and a clock) do.
//!
//! ## Driving contract
//!
//! A [`TransactionLayer`] is a deterministic machine. It never reads a clock: every input
//! carries `now`.
//!
//! * **Inputs**: [`handle_request`](TransactionLayer::handle_request) and
//!   [`handle_response`](TransactionLayer::handle_response) for parsed messages from the
//!   network, [`handle_timeout`](TransactionLayer::handle_timeout) when the deadline is
//!   reached, [`handle_transport_error`](TransactionLayer::handle_transport_error) when the
//!   driver could not send for a transaction, and the TU calls
//!   [`send_request`](TransactionLayer::send_request),
//!   [`send_response`](TransactionLayer::send_response),
//!   [`send_cancel`](TransactionLayer::send_cancel) and
//!   [`send_stateless`](TransactionLayer::send_stateless).
//! * **Outputs**: after **any** input, drain [`poll_transmit`](TransactionLayer::poll_transmit)
//!   (bytes to send, with the peer handle `P` the driver gave us) and
//!   [`poll_event`](TransactionLayer::poll_event) (news for the TU) until both return
//!   `None`, then ask [`poll_timeout`](TransactionLayer::poll_timeout) for the next deadline
//!   and call `handle_timeout` once the clock reaches it. A TU reacting to an event is
//!   itself an input: drain again afterwards.
//!
//! The peer type `P` is opaque: a socket address, a connection id, a flow handle. We only
//! clone it and hand it back. Whether its transport is reliable is said with each input
//! (`reliable: bool`); over a reliable transport nothing is retransmitted and Timers D, I,
//! J and K are zero.
//!
//! ## Lifetime
//!
//! A transaction is created by `send_request` (client) or by a request that matches none
//! (server), and is removed as soon as it reaches *Terminated*; the TU then gets
//! [`Event::Terminated`] and the key becomes unknown. Memory is bounded: every state has a
//! timer that ends it. Where RFC 3261 would wait on the TU or the peer for ever (server
//! Trying/Proceeding with a TU that never answers, client INVITE Proceeding without a final
//! response) the layer adds Timer C and [`Timer::Abandon`]; only a peer that keeps sending
//! 101–199 keeps an INVITE client transaction alive, as Timer C is reset by each.
//!
//! ## Example: a non-INVITE request and its response
//!
//! ```
//! use std::time::{Duration, Instant};
//! use cpm_sip::Message;
//! use cpm_sip::transaction::{Config, Event, TransactionLayer};
//!
//! let wire = "MESSAGE sip:bob@example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776\r\n\
//!     From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
//!     Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
//! let t0 = Instant::now(); // the driver's clock; the layer never reads one
//! let mut layer = TransactionLayer::<u32>::new(Config::default());
//! let key = layer.send_request(t0, Message::parse(wire)?, 7, false).unwrap();
//! let first = layer.poll_transmit().unwrap();
//! assert_eq!(first.to, 7);
//! // Timer E: retransmit after T1.
//! assert_eq!(layer.poll_timeout(), Some(t0 + Duration::from_millis(500)));
//!
//! let ok = cpm_sip::ResponseBuilder::new(&Message::parse(wire)?, 200, "OK").build_message();
//! layer.handle_response(t0 + Duration::from_millis(100), ok).unwrap();
//! assert!(matches!(layer.poll_event(), Some(Event::Final { key: k, .. }) if k == key));
//! // Timer K (T4 = 5 s over UDP) absorbs retransmitted responses, then the transaction ends.
//! let k = layer.poll_timeout().unwrap();
//! layer.handle_timeout(k);
//! assert!(matches!(layer.poll_event(), Some(Event::Terminated { .. })));
//! assert!(layer.is_empty());
//! # Ok::<(), cpm_sip::ParseError>(())
//! ```

mod client;
mod config;
mod error;
mod key;
mod server;
mod timer;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use crate::message::Message;
use crate::method::Method;

use client::ClientTx;
pub use config::{Config, Timer};
pub use error::Error;
use key::{ClientMatch, LegacyMatch, LegacyRule, ServerMatch};
pub use key::{Role, TransactionKey};
use server::ServerTx;
use timer::TimerHeap;

/// The state of a live transaction, named as in RFC 3261 §17 and RFC 6026. *Terminated*
/// transactions are removed, so [`TransactionLayer::state`] returns `None` for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// INVITE client: request sent, no response yet.
    Calling,
    /// Non-INVITE client or server: request sent / received, no response yet.
    Trying,
    /// A provisional response was received (client) or sent (server).
    Proceeding,
    /// A final response (non-2xx for INVITE) was received (client) or sent (server).
    Completed,
    /// INVITE server: the ACK for the non-2xx final response arrived.
    Confirmed,
    /// INVITE, after a 2xx (RFC 6026).
    Accepted,
}

/// Bytes to send: the driver writes `payload` to `to`.
#[derive(Debug, Clone)]
pub struct Transmit<P> {
    /// The peer handle given with the request (server) or to `send_request` (client).
    /// For a response, the driver applies RFC 3261 §18.2.2 (same connection, else
    /// `received`/`rport`, else sent-by) when it resolves the handle.
    pub to: P,
    /// The reliability flag given with that peer.
    pub reliable: bool,
    /// One whole SIP message.
    pub payload: Bytes,
    /// The transaction that sends it (`None` for [`TransactionLayer::send_stateless`]).
    pub key: Option<TransactionKey>,
    /// True when this repeats an earlier transmission (timer or absorbed retransmission).
    pub retransmission: bool,
}

/// News for the transaction user.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event<P> {
    /// A request that matched no transaction created server transaction `key`. Answer
    /// with [`TransactionLayer::send_response`].
    Request {
        /// The new server transaction.
        key: TransactionKey,
        /// The request.
        request: Message,
        /// Where it came from (responses go back there).
        from: P,
        /// Whether it came over a reliable transport.
        reliable: bool,
        /// For a CANCEL: the INVITE server transaction it cancels, if it is still alive
        /// (RFC 3261 §9.2; also [`TransactionLayer::cancel_target`]).
        cancels: Option<TransactionKey>,
    },
    /// An ACK for the TU: one that matched no transaction (the ACK for a 2xx is its own
    /// request, RFC 3261 §17.1.1.3), or one that matched an INVITE server transaction in
    /// Accepted (RFC 6026 §8.7). ACKs for non-2xx responses are absorbed.
    Ack {
        /// The INVITE server transaction it matched, if any.
        key: Option<TransactionKey>,
        /// The ACK.
        request: Message,
        /// Where it came from.
        from: P,
        /// Whether it came over a reliable transport.
        reliable: bool,
    },
    /// A provisional (1xx) response for client transaction `key`.
    Provisional {
        /// The client transaction.
        key: TransactionKey,
        /// The response.
        response: Message,
    },
    /// A final response for client transaction `key`. An INVITE transaction in Accepted
    /// passes every further 2xx too (forks, retransmissions): the TU ACKs each (RFC 6026).
    Final {
        /// The client transaction.
        key: TransactionKey,
        /// The response.
        response: Message,
    },
    /// A response that matches no client transaction. A proxy may forward it statelessly
    /// (RFC 3261 §16.7 step 1 / §18.1.2).
    StrayResponse {
        /// The response.
        response: Message,
    },
    /// A transaction failed for lack of an answer: Timer B or F (client), Timer H (server,
    /// no ACK), Timer C (INVITE client in Proceeding: the TU should CANCEL; the
    /// transaction lives on), or [`Timer::Abandon`]. RFC 4320: a transaction-stateful
    /// element must not turn a non-INVITE timeout (F) into a 408 sent upstream.
    Timeout {
        /// The transaction.
        key: TransactionKey,
        /// The timer that fired.
        timer: Timer,
    },
    /// The driver reported that sending failed ([`TransactionLayer::handle_transport_error`]).
    TransportError {
        /// The transaction.
        key: TransactionKey,
    },
    /// A retransmitted request or response was absorbed (answered from the cache or
    /// dropped) without bothering the TU; `count` counts them for this transaction.
    Absorbed {
        /// The transaction.
        key: TransactionKey,
        /// Retransmissions absorbed by it so far.
        count: u32,
    },
    /// The transaction reached Terminated and was removed; `key` is unknown from now on.
    Terminated {
        /// The transaction.
        key: TransactionKey,
    },
}

/// Counters over the life of a layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Transactions created (client and server).
    pub created: u64,
    /// Transactions terminated and removed.
    pub terminated: u64,
    /// Messages sent again (timer retransmissions and answers to retransmissions).
    pub retransmissions: u64,
    /// Retransmitted requests and responses absorbed.
    pub absorbed: u64,
    /// Responses that matched no client transaction.
    pub stray_responses: u64,
    /// [`Event::Timeout`]s.
    pub timeouts: u64,
}

/// What transactions queue for the driver and the TU.
#[derive(Debug)]
pub(crate) struct Out<P> {
    pub(crate) transmits: VecDeque<Transmit<P>>,
    pub(crate) events: VecDeque<Event<P>>,
    pub(crate) heap: TimerHeap,
    pub(crate) stats: Stats,
}

impl<P> Out<P> {
    pub(crate) fn transmit(
        &mut self,
        to: P,
        reliable: bool,
        payload: Bytes,
        key: TransactionKey,
        retransmission: bool,
    ) {
        if retransmission {
            self.stats.retransmissions += 1;
        }
        self.transmits.push_back(Transmit {
            to,
            reliable,
            payload,
            key: Some(key),
            retransmission,
        });
    }

    pub(crate) fn event(&mut self, e: Event<P>) {
        if matches!(e, Event::Timeout { .. }) {
            self.stats.timeouts += 1;
        }
        self.events.push_back(e);
    }
}

/// What a transaction method asks of the layer afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep the transaction.
    Continue,
    /// It reached Terminated: remove it.
    Terminate,
}

/// Everything a transaction needs to act on one input.
pub(crate) struct Cx<'a, P> {
    pub(crate) now: Instant,
    pub(crate) key: TransactionKey,
    pub(crate) cfg: &'a Config,
    pub(crate) out: &'a mut Out<P>,
}

impl<P> Cx<'_, P> {
    /// Arms `timer` on `armed` with its configured duration. Returns false, arming
    /// nothing, when the duration is zero (the caller acts at once).
    pub(crate) fn arm(&mut self, armed: &mut timer::Armed, timer: Timer, reliable: bool) -> bool {
        let d = self.cfg.duration(timer, reliable);
        if d.is_zero() {
            return false;
        }
        armed.set(&mut self.out.heap, self.key, timer, self.now + d);
        true
    }

    /// Arms `timer` to fire after `d`.
    pub(crate) fn arm_after(
        &mut self,
        armed: &mut timer::Armed,
        timer: Timer,
        d: std::time::Duration,
    ) {
        armed.set(&mut self.out.heap, self.key, timer, self.now + d);
    }
}

/// The whole message as bytes, sharing the parsed buffer.
pub(crate) fn wire(m: &Message) -> Bytes {
    m.buffer().slice(..m.as_bytes().len())
}

#[derive(Debug)]
enum Tx<P> {
    Client(ClientTx<P>),
    Server(ServerTx<P>),
}

/// The transaction layer: every client and server transaction of one SIP element.
///
/// See the [module documentation](self) for the driving contract.
#[derive(Debug)]
pub struct TransactionLayer<P> {
    config: Config,
    next_id: u64,
    txs: HashMap<TransactionKey, Tx<P>>,
    clients: HashMap<ClientMatch, TransactionKey>,
    servers: HashMap<ServerMatch, TransactionKey>,
    /// RFC 2543 server transactions by Call-ID.
    legacy: HashMap<Box<str>, Vec<TransactionKey>>,
    out: Out<P>,
}

impl<P: Clone> TransactionLayer<P> {
    /// An empty layer.
    pub fn new(config: Config) -> Self {
        TransactionLayer {
            config,
            next_id: 0,
            txs: HashMap::new(),
            clients: HashMap::new(),
            servers: HashMap::new(),
            legacy: HashMap::new(),
            out: Out {
                transmits: VecDeque::new(),
                events: VecDeque::new(),
                heap: TimerHeap::new(),
                stats: Stats::default(),
            },
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.out.stats
    }

    /// Live transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// True when no transaction is alive.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// The state of a live transaction.
    pub fn state(&self, key: TransactionKey) -> Option<State> {
        match self.txs.get(&key)? {
            Tx::Client(c) => Some(c.state),
            Tx::Server(s) => Some(s.state),
        }
    }

    /// The request that created a live transaction.
    pub fn request(&self, key: TransactionKey) -> Option<&Message> {
        match self.txs.get(&key)? {
            Tx::Client(c) => c.request.as_ref(),
            Tx::Server(s) => s.request.as_ref(),
        }
    }

    fn next_key(&mut self, role: Role) -> TransactionKey {
        self.next_id += 1;
        self.out.stats.created += 1;
        TransactionKey::new(self.next_id, role)
    }

    // ----- inputs from the network -----

    /// A request arrived from `from`. A retransmission is absorbed (answered from the
    /// cache); an ACK goes to its INVITE server transaction or, matching none, to the TU as
    /// [`Event::Ack`]; any other request creates a server transaction and an
    /// [`Event::Request`].
    pub fn handle_request(
        &mut self,
        now: Instant,
        request: Message,
        from: P,
        reliable: bool,
    ) -> Result<(), Error> {
        let is_ack = match request.method() {
            None => return Err(Error::NotARequest),
            Some(m) => *m == Method::Ack,
        };
        let found = self.find_server(&request);
        match found {
            Some(key) => {
                let Some(Tx::Server(tx)) = self.txs.get_mut(&key) else {
                    unreachable!("server index points at a server transaction")
                };
                let mut cx = Cx {
                    now,
                    key,
                    cfg: &self.config,
                    out: &mut self.out,
                };
                let flow = if is_ack {
                    tx.on_ack(&mut cx, request, from, reliable)
                } else {
                    tx.on_retransmission(&mut cx)
                };
                if flow == Flow::Terminate {
                    self.terminate(key);
                }
            }
            None if is_ack => self.out.event(Event::Ack {
                key: None,
                request,
                from,
                reliable,
            }),
            None => self.new_server(now, request, from, reliable),
        }
        Ok(())
    }

    fn new_server(&mut self, now: Instant, request: Message, from: P, reliable: bool) {
        let key = self.next_key(Role::Server);
        let cancels = if request.method() == Some(&Method::Cancel) {
            self.cancel_target(&request)
        } else {
            None
        };
        let matcher = ServerMatch::of_request(&request, None);
        let legacy = match matcher {
            Some(_) => None,
            None => Some(LegacyMatch::of_request(&request)),
        };
        match (&matcher, &legacy) {
            (Some(m), _) => {
                self.servers.insert(m.clone(), key);
            }
            (None, Some(l)) => self.legacy.entry(l.call_id.clone()).or_default().push(key),
            (None, None) => {}
        }
        let mut tx = ServerTx::new(
            request.clone(),
            from.clone(),
            reliable,
            matcher,
            legacy,
            now,
        );
        self.out.event(Event::Request {
            key,
            request,
            from,
            reliable,
            cancels,
        });
        let mut cx = Cx {
            now,
            key,
            cfg: &self.config,
            out: &mut self.out,
        };
        tx.start(&mut cx);
        self.txs.insert(key, Tx::Server(tx));
    }

    fn find_server(&self, request: &Message) -> Option<TransactionKey> {
        if let Some(m) = ServerMatch::of_request(request, None) {
            return self.servers.get(&m).copied();
        }
        let rule = if request.method() == Some(&Method::Ack) {
            LegacyRule::Ack
        } else {
            LegacyRule::Same
        };
        self.find_legacy(request, rule)
    }

    fn find_legacy(&self, request: &Message, rule: LegacyRule) -> Option<TransactionKey> {
        let lm = LegacyMatch::of_request(request);
        self.legacy.get(&lm.call_id)?.iter().copied().find(|k| {
            let Some(Tx::Server(s)) = self.txs.get(k) else {
                return false;
            };
            s.legacy
                .as_ref()
                .is_some_and(|l| l.matches(&lm, rule, s.response_to_tag.as_deref()))
        })
    }

    /// The INVITE server transaction a CANCEL cancels (RFC 3261 §9.2: the §17.2.3 rules
    /// with the method taken as INVITE; for RFC 2543 requests Request-URI, tags, Call-ID,
    /// CSeq number and top Via). `None` when it is unknown or already terminated: answer
    /// the CANCEL with 481.
    pub fn cancel_target(&self, cancel: &Message) -> Option<TransactionKey> {
        if let Some(m) = ServerMatch::of_request(cancel, Some(Method::Invite)) {
            return self.servers.get(&m).copied();
        }
        self.find_legacy(cancel, LegacyRule::Cancel)
    }

    /// A response arrived. It goes to the client transaction with the same top Via branch
    /// and CSeq method, or to the TU as [`Event::StrayResponse`].
    pub fn handle_response(&mut self, now: Instant, response: Message) -> Result<(), Error> {
        if response.status().is_none() {
            return Err(Error::NotAResponse);
        }
        let key = ClientMatch::of_response(&response).and_then(|m| self.clients.get(&m).copied());
        let Some(key) = key else {
            self.out.stats.stray_responses += 1;
            self.out.event(Event::StrayResponse { response });
            return Ok(());
        };
        let Some(Tx::Client(tx)) = self.txs.get_mut(&key) else {
            unreachable!("client index points at a client transaction")
        };
        let mut cx = Cx {
            now,
            key,
            cfg: &self.config,
            out: &mut self.out,
        };
        if tx.on_response(&mut cx, response) == Flow::Terminate {
            self.terminate(key);
        }
        Ok(())
    }

    /// Fires every timer due at `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, key, timer))) = self.out.heap.peek().copied() {
            if at > now {
                break;
            }
            self.out.heap.pop();
            let Some(tx) = self.txs.get_mut(&key) else {
                continue;
            };
            let mut cx = Cx {
                now,
                key,
                cfg: &self.config,
                out: &mut self.out,
            };
            let flow = match tx {
                Tx::Client(c) => {
                    if !c.timers.take(timer, at) {
                        continue;
                    }
                    c.on_timer(&mut cx, timer)
                }
                Tx::Server(s) => {
                    if !s.timers.take(timer, at) {
                        continue;
                    }
                    s.on_timer(&mut cx, timer)
                }
            };
            if flow == Flow::Terminate {
                self.terminate(key);
            }
        }
    }

    /// The driver failed to send for transaction `key` (RFC 3261 §17.1.4, §17.2.4): the
    /// transaction ends with [`Event::TransportError`] and [`Event::Terminated`].
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        key: TransactionKey,
    ) -> Result<(), Error> {
        let _ = now;
        if !self.txs.contains_key(&key) {
            return Err(Error::UnknownTransaction(key));
        }
        self.out.event(Event::TransportError { key });
        self.terminate(key);
        Ok(())
    }

    // ----- inputs from the TU -----

    /// Starts a client transaction for `request` towards `to` and sends it. The top Via
    /// must carry a fresh RFC 3261 branch; ACK is refused (see [`Error::AckIsNotATransaction`]).
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        to: P,
        reliable: bool,
    ) -> Result<TransactionKey, Error> {
        match request.method() {
            None => return Err(Error::NotARequest),
            Some(Method::Ack) => return Err(Error::AckIsNotATransaction),
            Some(_) => {}
        }
        let matcher = ClientMatch::of_request(&request).ok_or(Error::NoBranch)?;
        if let Some(&existing) = self.clients.get(&matcher) {
            return Err(Error::DuplicateTransaction(existing));
        }
        let key = self.next_key(Role::Client);
        let mut tx = ClientTx::new(request, to, reliable, matcher.clone());
        let mut cx = Cx {
            now,
            key,
            cfg: &self.config,
            out: &mut self.out,
        };
        tx.start(&mut cx);
        self.clients.insert(matcher, key);
        self.txs.insert(key, Tx::Client(tx));
        Ok(key)
    }

    /// Sends `response` on server transaction `key` (RFC 4320 and RFC 6026 rules apply; see
    /// [`Error`]).
    pub fn send_response(
        &mut self,
        now: Instant,
        key: TransactionKey,
        response: Message,
    ) -> Result<(), Error> {
        let tx = match self.txs.get_mut(&key) {
            None => return Err(Error::UnknownTransaction(key)),
            Some(Tx::Client(_)) => return Err(Error::WrongRole(key)),
            Some(Tx::Server(s)) => s,
        };
        let mut cx = Cx {
            now,
            key,
            cfg: &self.config,
            out: &mut self.out,
        };
        if tx.send(&mut cx, &response)? == Flow::Terminate {
            self.terminate(key);
        }
        Ok(())
    }

    /// Cancels INVITE client transaction `invite` (RFC 3261 §9.1): builds the CANCEL from
    /// the INVITE, starts its own non-INVITE client transaction towards the same peer and
    /// returns that key. The INVITE transaction is destroyed 64·T1 later if no final
    /// response arrives. Allowed in Proceeding only ([`Error::CannotCancel`]).
    pub fn send_cancel(
        &mut self,
        now: Instant,
        invite: TransactionKey,
    ) -> Result<TransactionKey, Error> {
        let tx = match self.txs.get_mut(&invite) {
            None => return Err(Error::UnknownTransaction(invite)),
            Some(Tx::Server(_)) => return Err(Error::WrongRole(invite)),
            Some(Tx::Client(c)) => c,
        };
        if !tx.invite || tx.state != State::Proceeding {
            return Err(Error::CannotCancel {
                key: invite,
                state: tx.state,
            });
        }
        let Some(request) = &tx.request else {
            return Err(Error::CannotCancel {
                key: invite,
                state: tx.state,
            });
        };
        let cancel =
            Message::parse(request.cancel()).expect("a CANCEL built from a parsed INVITE parses");
        let (to, reliable) = (tx.to.clone(), tx.reliable);
        let mut cx = Cx {
            now,
            key: invite,
            cfg: &self.config,
            out: &mut self.out,
        };
        tx.cancelled(&mut cx);
        self.send_request(now, cancel, to, reliable)
    }

    /// Queues bytes that belong to no transaction (the ACK for a 2xx, a statelessly
    /// forwarded response), so that everything the driver sends comes out of
    /// [`poll_transmit`](Self::poll_transmit) in order.
    pub fn send_stateless(&mut self, payload: Bytes, to: P, reliable: bool) {
        self.out.transmits.push_back(Transmit {
            to,
            reliable,
            payload,
            key: None,
            retransmission: false,
        });
    }

    fn terminate(&mut self, key: TransactionKey) {
        let Some(tx) = self.txs.remove(&key) else {
            return;
        };
        match tx {
            Tx::Client(c) => {
                if self.clients.get(&c.matcher) == Some(&key) {
                    self.clients.remove(&c.matcher);
                }
            }
            Tx::Server(s) => {
                if let Some(m) = &s.matcher {
                    if self.servers.get(m) == Some(&key) {
                        self.servers.remove(m);
                    }
                }
                if let Some(l) = &s.legacy {
                    if let Some(v) = self.legacy.get_mut(&l.call_id) {
                        v.retain(|k| *k != key);
                        if v.is_empty() {
                            self.legacy.remove(&l.call_id);
                        }
                    }
                }
            }
        }
        self.out.stats.terminated += 1;
        self.out.event(Event::Terminated { key });
    }

    // ----- outputs -----

    /// The next message to send, or `None`. Drain after every input.
    pub fn poll_transmit(&mut self) -> Option<Transmit<P>> {
        self.out.transmits.pop_front()
    }

    /// The next event for the TU, or `None`. Drain after every input.
    pub fn poll_event(&mut self) -> Option<Event<P>> {
        self.out.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` when no timer is
    /// armed. Ask again after every input.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, key, timer))) = self.out.heap.peek().copied() {
            let live = match self.txs.get(&key) {
                Some(Tx::Client(c)) => c.timers.is_live(timer, at),
                Some(Tx::Server(s)) => s.timers.is_live(timer, at),
                None => false,
            };
            if live {
                return Some(at);
            }
            self.out.heap.pop();
        }
        None
    }
}
