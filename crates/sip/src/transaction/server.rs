//! Server transactions (RFC 3261 §17.2): the INVITE machine (Proceeding, Completed,
//! Confirmed, Accepted — RFC 6026) and the non-INVITE machine (Trying, Proceeding,
//! Completed, with the RFC 4320 rules for provisional responses), the response cache that
//! answers retransmitted requests, final response retransmission (Timer G), and the
//! timers that end them (H, I, J, L, [`Timer::Abandon`]).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::config::Timer;
use super::error::Error;
use super::key::{LegacyMatch, ServerMatch};
use super::timer::Armed;
use super::{Cx, Event, Flow, State, wire};
use crate::edit::ResponseBuilder;
use crate::message::Message;
use crate::method::Method;

#[derive(Debug)]
pub(crate) struct ServerTx<P> {
    pub(crate) invite: bool,
    pub(crate) state: State,
    /// The request; released once a non-INVITE transaction is Completed (Timer J keeps it
    /// alive 32 s on UDP only to answer retransmissions, which `last` does).
    pub(crate) request: Option<Message>,
    method: Method,
    from: P,
    reliable: bool,
    pub(crate) matcher: Option<ServerMatch>,
    pub(crate) legacy: Option<LegacyMatch>,
    /// To tag of the final response sent (RFC 2543 ACK matching).
    pub(crate) response_to_tag: Option<Box<str>>,
    /// The most recent response sent: the answer to a retransmitted request.
    last: Option<Bytes>,
    /// The current interval of Timer G.
    interval: Duration,
    received: Instant,
    pub(crate) timers: Armed,
    absorbed: u32,
}

impl<P: Clone> ServerTx<P> {
    pub(crate) fn new(
        request: Message,
        from: P,
        reliable: bool,
        matcher: Option<ServerMatch>,
        legacy: Option<LegacyMatch>,
        now: Instant,
    ) -> Self {
        let invite = request.method() == Some(&Method::Invite);
        ServerTx {
            invite,
            state: if invite {
                State::Proceeding
            } else {
                State::Trying
            },
            method: request
                .method()
                .cloned()
                .unwrap_or(Method::Other("?".into())),
            request: Some(request),
            from,
            reliable,
            matcher,
            legacy,
            response_to_tag: None,
            last: None,
            interval: Duration::ZERO,
            received: now,
            timers: Armed::default(),
            absorbed: 0,
        }
    }

    /// The INVITE gets its 100 at once (§17.2.1) if configured; every server transaction
    /// gets [`Timer::Abandon`]; a non-INVITE over UDP may get [`Timer::Trying`].
    pub(crate) fn start(&mut self, cx: &mut Cx<'_, P>) {
        if self.invite {
            if cx.cfg.invite_trying {
                self.send_trying(cx);
            }
            cx.arm_after(&mut self.timers, Timer::Abandon, invite_patience(cx));
        } else {
            cx.arm(&mut self.timers, Timer::Abandon, self.reliable);
            if !self.reliable
                && cx.cfg.non_invite_trying
                && !cx.arm(&mut self.timers, Timer::Trying, self.reliable)
            {
                self.send_trying(cx);
            }
        }
    }

    fn send_trying(&mut self, cx: &mut Cx<'_, P>) {
        let Some(request) = &self.request else {
            return;
        };
        let trying = ResponseBuilder::new(request, 100, "Trying").build();
        self.state = State::Proceeding;
        self.emit(cx, trying, false);
    }

    fn emit(&mut self, cx: &mut Cx<'_, P>, bytes: Bytes, again: bool) {
        cx.out.transmit(
            self.from.clone(),
            self.reliable,
            bytes.clone(),
            cx.key,
            again,
        );
        self.last = Some(bytes);
    }

    fn resend_last(&self, cx: &mut Cx<'_, P>) {
        if let Some(last) = &self.last {
            cx.out
                .transmit(self.from.clone(), self.reliable, last.clone(), cx.key, true);
        }
    }

    fn absorb(&mut self, cx: &mut Cx<'_, P>) {
        self.absorbed += 1;
        cx.out.stats.absorbed += 1;
        cx.out.event(Event::Absorbed {
            key: cx.key,
            count: self.absorbed,
        });
    }

    /// A retransmission of the request (§17.2.1, §17.2.2): answered with the most recent
    /// response in Proceeding and Completed, silently absorbed otherwise (RFC 6026 for
    /// Accepted).
    pub(crate) fn on_retransmission(&mut self, cx: &mut Cx<'_, P>) -> Flow {
        if matches!(self.state, State::Proceeding | State::Completed) {
            self.resend_last(cx);
        }
        self.absorb(cx);
        Flow::Continue
    }

    /// An ACK matched this INVITE transaction.
    pub(crate) fn on_ack(
        &mut self,
        cx: &mut Cx<'_, P>,
        ack: Message,
        from: P,
        reliable: bool,
    ) -> Flow {
        match self.state {
            State::Completed => {
                self.state = State::Confirmed;
                self.timers.clear_all();
                if cx.arm(&mut self.timers, Timer::I, self.reliable) {
                    Flow::Continue
                } else {
                    Flow::Terminate
                }
            }
            State::Accepted => {
                cx.out.event(Event::Ack {
                    key: Some(cx.key),
                    request: ack,
                    from,
                    reliable,
                });
                Flow::Continue
            }
            _ => {
                self.absorb(cx);
                Flow::Continue
            }
        }
    }

    /// The TU sends `response`.
    pub(crate) fn send(&mut self, cx: &mut Cx<'_, P>, response: &Message) -> Result<Flow, Error> {
        let status = response.status().ok_or(Error::NotAResponse)?;
        if *response.cseq_method() != self.method {
            return Err(Error::MethodMismatch);
        }
        let bytes = wire(response);
        if status < 200 {
            let open = match self.state {
                State::Trying => !self.invite,
                State::Proceeding => true,
                _ => false,
            };
            if !open {
                return Err(Error::FinalAlreadySent(cx.key));
            }
            if !self.invite {
                if status != 100 {
                    return Err(Error::ProvisionalNotAllowed(status));
                }
                let gate = cx.cfg.duration(Timer::Trying, self.reliable);
                if cx.now < self.received + gate {
                    return Err(Error::TryingTooEarly);
                }
                self.timers.clear(Timer::Trying);
            } else {
                cx.arm_after(&mut self.timers, Timer::Abandon, invite_patience(cx));
            }
            self.state = State::Proceeding;
            self.emit(cx, bytes, false);
            return Ok(Flow::Continue);
        }
        let flow = match (self.invite, self.state, status) {
            (true, State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.timers.clear_all();
                cx.arm(&mut self.timers, Timer::L, self.reliable);
                Flow::Continue
            }
            // RFC 6026 §8.6: further 2xx from the TU go out unchanged.
            (true, State::Accepted, 200..=299) => Flow::Continue,
            (true, State::Proceeding, _) => {
                self.state = State::Completed;
                self.timers.clear_all();
                self.interval = cx.cfg.duration(Timer::G, self.reliable);
                cx.arm(&mut self.timers, Timer::G, self.reliable);
                cx.arm(&mut self.timers, Timer::H, self.reliable);
                Flow::Continue
            }
            (false, State::Trying | State::Proceeding, _) => {
                self.state = State::Completed;
                self.timers.clear_all();
                self.request = None;
                if cx.arm(&mut self.timers, Timer::J, self.reliable) {
                    Flow::Continue
                } else {
                    Flow::Terminate
                }
            }
            _ => return Err(Error::FinalAlreadySent(cx.key)),
        };
        self.response_to_tag = response.to().tag().map(Into::into);
        self.emit(cx, bytes, false);
        Ok(flow)
    }

    pub(crate) fn on_timer(&mut self, cx: &mut Cx<'_, P>, timer: Timer) -> Flow {
        let key = cx.key;
        match (timer, self.state) {
            (Timer::G, State::Completed) => {
                self.resend_last(cx);
                self.interval = (self.interval * 2).min(cx.cfg.t2);
                cx.arm_after(&mut self.timers, Timer::G, self.interval);
                Flow::Continue
            }
            (Timer::Trying, State::Trying) => {
                self.send_trying(cx);
                Flow::Continue
            }
            (Timer::H | Timer::Abandon, _) => {
                cx.out.event(Event::Timeout { key, timer });
                Flow::Terminate
            }
            (Timer::I | Timer::J | Timer::L, _) => Flow::Terminate,
            _ => Flow::Continue,
        }
    }
}

/// How long an INVITE server transaction waits for its TU between responses: the
/// upstream client's Timer C plus 64·T1.
fn invite_patience<P>(cx: &Cx<'_, P>) -> Duration {
    cx.cfg.timer_c + cx.cfg.t1 * 64
}
