//! Client transactions (RFC 3261 §17.1): the INVITE machine (Calling, Proceeding,
//! Completed, Accepted — RFC 6026) and the non-INVITE machine (Trying, Proceeding,
//! Completed), their request retransmissions (Timers A, E), timeouts (B, C, F), the ACK
//! for a non-2xx final response, and absorption of response retransmissions (D, K, M).

use std::time::Duration;

use bytes::Bytes;

use super::config::Timer;
use super::key::ClientMatch;
use super::timer::Armed;
use super::{Cx, Event, Flow, State, wire};
use crate::message::Message;
use crate::method::Method;

#[derive(Debug)]
pub(crate) struct ClientTx<P> {
    pub(crate) invite: bool,
    pub(crate) state: State,
    /// The request; released (with `wire`) once a non-INVITE transaction is Completed.
    pub(crate) request: Option<Message>,
    wire: Bytes,
    pub(crate) to: P,
    pub(crate) reliable: bool,
    pub(crate) matcher: ClientMatch,
    pub(crate) timers: Armed,
    /// The ACK sent for the non-2xx final response, re-sent on its retransmissions.
    ack: Option<Bytes>,
    /// The current interval of Timer A or E.
    interval: Duration,
    absorbed: u32,
}

impl<P: Clone> ClientTx<P> {
    pub(crate) fn new(request: Message, to: P, reliable: bool, matcher: ClientMatch) -> Self {
        let invite = request.method() == Some(&Method::Invite);
        ClientTx {
            invite,
            state: if invite {
                State::Calling
            } else {
                State::Trying
            },
            wire: wire(&request),
            request: Some(request),
            to,
            reliable,
            matcher,
            timers: Armed::default(),
            ack: None,
            interval: Duration::ZERO,
            absorbed: 0,
        }
    }

    /// Sends the request and arms A and B (INVITE) or E and F (non-INVITE).
    pub(crate) fn start(&mut self, cx: &mut Cx<'_, P>) {
        self.send_request(cx, false);
        let (retransmit, timeout) = if self.invite {
            (Timer::A, Timer::B)
        } else {
            (Timer::E, Timer::F)
        };
        self.interval = cx.cfg.duration(retransmit, self.reliable);
        cx.arm(&mut self.timers, retransmit, self.reliable);
        cx.arm(&mut self.timers, timeout, self.reliable);
    }

    fn send_request(&self, cx: &mut Cx<'_, P>, again: bool) {
        cx.out.transmit(
            self.to.clone(),
            self.reliable,
            self.wire.clone(),
            cx.key,
            again,
        );
    }

    fn absorb(&mut self, cx: &mut Cx<'_, P>) {
        self.absorbed += 1;
        cx.out.stats.absorbed += 1;
        cx.out.event(Event::Absorbed {
            key: cx.key,
            count: self.absorbed,
        });
    }

    pub(crate) fn on_response(&mut self, cx: &mut Cx<'_, P>, response: Message) -> Flow {
        let status = response.status().unwrap_or(0);
        if self.invite {
            self.invite_response(cx, response, status)
        } else {
            self.non_invite_response(cx, response, status)
        }
    }

    /// §17.1.1.2 with RFC 6026.
    fn invite_response(&mut self, cx: &mut Cx<'_, P>, response: Message, status: u16) -> Flow {
        let key = cx.key;
        match (self.state, status) {
            (State::Calling | State::Proceeding, 100..=199) => {
                if self.state == State::Calling {
                    self.state = State::Proceeding;
                    self.timers.clear(Timer::A);
                    self.timers.clear(Timer::B);
                    cx.arm(&mut self.timers, Timer::C, self.reliable);
                } else if status > 100 && !self.timers.is_set(Timer::Abandon) {
                    // RFC 3261 §16.7 step 2: 101–199 restart Timer C.
                    cx.arm(&mut self.timers, Timer::C, self.reliable);
                }
                cx.out.event(Event::Provisional { key, response });
                Flow::Continue
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.timers.clear_all();
                cx.arm(&mut self.timers, Timer::M, self.reliable);
                cx.out.event(Event::Final { key, response });
                Flow::Continue
            }
            (State::Calling | State::Proceeding, _) => {
                self.state = State::Completed;
                self.timers.clear_all();
                if let Some(request) = &self.request {
                    let ack = request.ack_for_non_2xx(&response);
                    cx.out
                        .transmit(self.to.clone(), self.reliable, ack.clone(), key, false);
                    self.ack = Some(ack);
                }
                cx.out.event(Event::Final { key, response });
                if cx.arm(&mut self.timers, Timer::D, self.reliable) {
                    Flow::Continue
                } else {
                    Flow::Terminate
                }
            }
            (State::Completed, 300..) => {
                // A retransmitted final response: the ACK went missing; send it again.
                if let Some(ack) = &self.ack {
                    cx.out
                        .transmit(self.to.clone(), self.reliable, ack.clone(), key, true);
                }
                self.absorb(cx);
                Flow::Continue
            }
            (State::Accepted, 200..=299) => {
                cx.out.event(Event::Final { key, response });
                Flow::Continue
            }
            _ => {
                self.absorb(cx);
                Flow::Continue
            }
        }
    }

    /// §17.1.2.2.
    fn non_invite_response(&mut self, cx: &mut Cx<'_, P>, response: Message, status: u16) -> Flow {
        let key = cx.key;
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                cx.out.event(Event::Provisional { key, response });
                Flow::Continue
            }
            (State::Trying | State::Proceeding, _) => {
                self.state = State::Completed;
                self.timers.clear_all();
                // Timer K only absorbs retransmitted responses: nothing to send any more.
                self.request = None;
                self.wire = Bytes::new();
                cx.out.event(Event::Final { key, response });
                if cx.arm(&mut self.timers, Timer::K, self.reliable) {
                    Flow::Continue
                } else {
                    Flow::Terminate
                }
            }
            _ => {
                self.absorb(cx);
                Flow::Continue
            }
        }
    }

    /// The TU sent a CANCEL for this INVITE: give the INVITE 64·T1 more (§9.1).
    pub(crate) fn cancelled(&mut self, cx: &mut Cx<'_, P>) {
        if !self.timers.is_set(Timer::Abandon) {
            self.timers.clear(Timer::C);
            cx.arm(&mut self.timers, Timer::Abandon, self.reliable);
        }
    }

    pub(crate) fn on_timer(&mut self, cx: &mut Cx<'_, P>, timer: Timer) -> Flow {
        let key = cx.key;
        match (timer, self.state) {
            (Timer::A, State::Calling) => {
                self.send_request(cx, true);
                self.interval *= 2;
                cx.arm_after(&mut self.timers, Timer::A, self.interval);
                Flow::Continue
            }
            (Timer::E, State::Trying | State::Proceeding) => {
                self.send_request(cx, true);
                self.interval = if self.state == State::Trying {
                    (self.interval * 2).min(cx.cfg.t2)
                } else {
                    cx.cfg.t2
                };
                cx.arm_after(&mut self.timers, Timer::E, self.interval);
                Flow::Continue
            }
            (Timer::C, State::Proceeding) => {
                cx.out.event(Event::Timeout { key, timer });
                self.cancelled(cx);
                Flow::Continue
            }
            (Timer::B | Timer::F | Timer::Abandon, _) => {
                cx.out.event(Event::Timeout { key, timer });
                Flow::Terminate
            }
            (Timer::D | Timer::K | Timer::M, _) => Flow::Terminate,
            _ => Flow::Continue,
        }
    }
}
