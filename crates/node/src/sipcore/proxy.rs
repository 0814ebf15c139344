//! The transaction-stateful proxy core (RFC 3261 §16.7–16.10): one context per server
//! transaction with its client branches, responses relayed by our Via branch, the best
//! final response chosen when every branch is done (6xx first, then the lowest class,
//! 503 → 500, never 408 for a non-INVITE per RFC 4320), 2xx relayed at once, CANCEL of
//! pending INVITE branches (sent once a branch has a provisional response, §9.1), and
//! default handling when an application server branch fails or stays silent.
//!
//! Branch ids carry a hash of the request's routing fields (§16.6 step 8) so that a
//! request that returns with the same fields is a loop (482) and one that returns changed
//! (through an application server) is a spiral.

use std::collections::{HashMap, HashSet};

use cpm_core::triggers::{SessionCase, Trigger};
use cpm_sip::transaction::TransactionKey;
use cpm_sip::{HeaderName, Message, Method, ResponseBuilder};

use crate::endpoint::{Failure, Incoming};
use crate::transport::Target;

/// What a branch is for.
#[derive(Debug, Clone)]
pub(crate) enum BranchKind {
    /// A next hop from a Route, the Request-URI or the interworking table.
    Route,
    /// A registered contact of the recipient.
    Contact,
    /// An application server chosen by a trigger.
    ApplicationServer {
        trigger: Trigger,
        case: SessionCase,
        served: String,
    },
}

/// One client branch of a forwarded request.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(crate) kind: BranchKind,
    pub(crate) target: Target,
    /// The new Request-URI (a contact), when it changes.
    pub(crate) request_uri: Option<String>,
}

impl Branch {
    pub(crate) fn new(kind: BranchKind, target: Target, request_uri: Option<String>) -> Branch {
        Branch {
            kind,
            target,
            request_uri,
        }
    }
}

#[derive(Debug)]
struct BranchState {
    id: String,
    branch: Branch,
    request: Message,
    final_status: Option<u16>,
    provisional: bool,
    cancel_pending: bool,
}

#[derive(Debug)]
struct Ctx {
    inc: Incoming,
    pop_route: bool,
    loop_hash: u32,
    invite: bool,
    branches: Vec<BranchState>,
    /// Final responses collected, ready to send upstream (our Via removed).
    finals: Vec<Message>,
    /// A final response went upstream.
    answered: bool,
}

/// An application server branch failed: the request goes on per the trigger's default
/// handling.
#[derive(Debug)]
pub(crate) struct AsFailed {
    pub(crate) inc: Incoming,
    pub(crate) pop_route: bool,
    pub(crate) loop_hash: u32,
    pub(crate) trigger: Trigger,
    pub(crate) case: SessionCase,
    pub(crate) served: String,
}

/// What to do after a response, failure or timer.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Responses to send upstream within these server transactions.
    pub(crate) upstream: Vec<(Incoming, Message)>,
    /// Requests (CANCELs) to send.
    pub(crate) requests: Vec<(Target, Message)>,
    /// Default handling to apply.
    pub(crate) default_handling: Option<AsFailed>,
}

/// All proxy contexts of one core.
#[derive(Debug, Default)]
pub(crate) struct Proxy {
    counter: u64,
    next_ctx: u64,
    contexts: HashMap<u64, Ctx>,
    branches: HashMap<String, (u64, usize)>,
    by_server: HashMap<TransactionKey, u64>,
    own: HashSet<String>,
}

const FNV_OFFSET: u32 = 0x811c_9dc5;

fn fnv(mut h: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    // A separator, so ("ab","c") and ("a","bc") differ.
    (h ^ 0xff).wrapping_mul(0x0100_0193)
}

/// The hash of the fields that decide how a request is routed (RFC 3261 §16.6 step 8,
/// without the topmost Via so that a request coming back unchanged is caught).
pub(crate) fn loop_hash(msg: &Message) -> u32 {
    let mut h = FNV_OFFSET;
    h = fnv(
        h,
        msg.request_uri()
            .map(|u| u.as_str())
            .unwrap_or("")
            .as_bytes(),
    );
    for r in msg.routes() {
        h = fnv(h, r.as_str().as_bytes());
    }
    h = fnv(h, msg.from().tag().unwrap_or("").as_bytes());
    h = fnv(h, msg.to().tag().unwrap_or("").as_bytes());
    h = fnv(h, msg.call_id().as_bytes());
    h = fnv(h, &msg.cseq().to_le_bytes());
    for p in msg.header_values(HeaderName::ProxyRequire) {
        h = fnv(h, p.as_bytes());
    }
    h
}

const BRANCH_PREFIX: &str = "z9hG4bK-cpm";

/// True when a branch id of ours was made for a request with this loop hash.
pub(crate) fn branch_has_hash(branch: &str, hash: u32) -> bool {
    branch
        .strip_prefix(BRANCH_PREFIX)
        .and_then(|rest| rest.get(..8))
        .is_some_and(|h| u32::from_str_radix(h, 16) == Ok(hash))
}

/// A To tag that is the same for retransmissions of one request.
pub(crate) fn stable_tag(req: &Message) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in req
        .call_id()
        .bytes()
        .chain(req.from().tag().unwrap_or("").bytes())
        .chain(req.cseq().to_le_bytes())
    {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("cpm{h:012x}")
}

/// Class order for best-response selection (§16.7 step 6): 6xx first, then lower classes.
fn rank(status: u16) -> (u8, u16) {
    match status {
        600..=699 => (0, status),
        // Prefer anything but 408/503-ish "nobody answered" among equals.
        s => ((s / 100) as u8, if s == 408 || s == 503 { 1 } else { 0 }),
    }
}

impl Proxy {
    /// A fresh branch id carrying `loop_hash`.
    pub(crate) fn new_branch_id(&mut self, loop_hash: u32) -> String {
        self.counter += 1;
        format!("{BRANCH_PREFIX}{loop_hash:08x}.{:x}", self.counter)
    }

    /// Remembers a request the core sent on its own (third-party REGISTER): its responses
    /// are absorbed.
    pub(crate) fn note_own_request(&mut self, id: String) {
        if self.own.len() > 10_000 {
            self.own.clear();
        }
        self.own.insert(id);
    }

    /// Starts a context; returns the branches to send.
    pub(crate) fn start(
        &mut self,
        inc: Incoming,
        pop_route: bool,
        loop_hash: u32,
        out: Vec<(String, Branch, Message)>,
    ) -> Vec<(String, Branch, Message)> {
        self.next_ctx += 1;
        let ctx_id = self.next_ctx;
        let invite = inc.message.method() == Some(&Method::Invite);
        let mut branches = Vec::with_capacity(out.len());
        for (i, (id, branch, request)) in out.iter().enumerate() {
            self.branches.insert(id.clone(), (ctx_id, i));
            branches.push(BranchState {
                id: id.clone(),
                branch: branch.clone(),
                request: request.clone(),
                final_status: None,
                provisional: false,
                cancel_pending: false,
            });
        }
        if let Some(key) = inc.transaction {
            self.by_server.insert(key, ctx_id);
        }
        self.contexts.insert(
            ctx_id,
            Ctx {
                inc,
                pop_route,
                loop_hash,
                invite,
                branches,
                finals: Vec::new(),
                answered: false,
            },
        );
        out
    }

    /// Number of live contexts (for tests and metrics).
    #[allow(dead_code)]
    pub(crate) fn len(&self) -> usize {
        self.contexts.len()
    }

    /// A response arrived from downstream.
    pub(crate) fn on_response(&mut self, resp: &Message) -> Outcome {
        let mut out = Outcome::default();
        let Some(id) = resp.top_via().branch().map(str::to_string) else {
            return out;
        };
        let Some(status) = resp.status() else {
            return out;
        };
        if self.own.contains(&id) {
            if status >= 200 {
                self.own.remove(&id);
            }
            return out;
        }
        let Some(&(ctx_id, idx)) = self.branches.get(&id) else {
            tracing::debug!(branch = id, status, "response for no live branch; dropped");
            return out;
        };
        let Some(ctx) = self.contexts.get_mut(&ctx_id) else {
            return out;
        };
        let upstream = {
            let mut e = resp.edit();
            e.pop_via();
            Message::parse(e.encode()).ok()
        };
        let Some(upstream) = upstream else {
            return out;
        };
        let b = &mut ctx.branches[idx];
        if b.final_status.is_some() {
            // A retransmitted or additional final (2xx to INVITE from a forking UAS).
            if ctx.invite && (200..300).contains(&status) {
                out.upstream.push((ctx.inc.clone(), upstream));
            }
            return out;
        }
        if status < 200 {
            b.provisional = true;
            if b.cancel_pending {
                b.cancel_pending = false;
                if let Ok(c) = Message::parse(b.request.cancel()) {
                    out.requests.push((b.branch.target.clone(), c));
                }
            }
            if status > 100 && !ctx.answered {
                out.upstream.push((ctx.inc.clone(), upstream));
            }
            return out;
        }
        b.final_status = Some(status);
        if (200..300).contains(&status) {
            if !ctx.answered || ctx.invite {
                out.upstream.push((ctx.inc.clone(), upstream));
            }
            ctx.answered = true;
            if ctx.invite {
                Self::cancel_pending_branches(ctx, &mut out);
            }
        } else {
            if status >= 600 && ctx.invite {
                Self::cancel_pending_branches(ctx, &mut out);
            }
            ctx.finals.push(upstream);
        }
        self.finish_if_done(ctx_id, &mut out);
        out
    }

    fn cancel_pending_branches(ctx: &mut Ctx, out: &mut Outcome) {
        for b in ctx.branches.iter_mut().filter(|b| b.final_status.is_none()) {
            if b.provisional {
                if let Ok(c) = Message::parse(b.request.cancel()) {
                    out.requests.push((b.branch.target.clone(), c));
                }
            } else {
                b.cancel_pending = true;
            }
        }
    }

    /// A branch's request failed (timeout, transport error).
    pub(crate) fn on_failure(&mut self, request: &Message, failure: &Failure) -> Outcome {
        let mut out = Outcome::default();
        let Some(id) = request.top_via().branch().map(str::to_string) else {
            return out;
        };
        if self.own.remove(&id) {
            tracing::debug!(%failure, "third-party REGISTER failed");
            return out;
        }
        let (code, reason) = match failure {
            Failure::Timeout(_) => (408, "Request Timeout".to_string()),
            Failure::Transport(e) => (
                503,
                format!("Service Unavailable (next hop unreachable: {e})"),
            ),
            Failure::Refused(e) => (500, format!("Server Internal Error ({e})")),
        };
        self.synthesize(&id, code, &reason, &mut out);
        out
    }

    /// An application server branch has had `as_timeout` without answering.
    pub(crate) fn on_as_timeout(&mut self, id: &str) -> Outcome {
        let mut out = Outcome::default();
        let silent = self
            .branches
            .get(id)
            .and_then(|(c, i)| self.contexts.get(c).map(|ctx| &ctx.branches[*i]))
            .is_some_and(|b| b.final_status.is_none() && !b.provisional);
        if silent {
            self.synthesize(id, 408, "Request Timeout", &mut out);
        }
        out
    }

    /// A final response made up for a branch (§16.7 step 2 / §16.8 / §16.9).
    fn synthesize(&mut self, id: &str, code: u16, reason: &str, out: &mut Outcome) {
        let Some(&(ctx_id, idx)) = self.branches.get(id) else {
            return;
        };
        let Some(ctx) = self.contexts.get_mut(&ctx_id) else {
            return;
        };
        if ctx.branches[idx].final_status.is_some() {
            return;
        }
        ctx.branches[idx].final_status = Some(code);
        if let BranchKind::ApplicationServer {
            trigger,
            case,
            served,
        } = &ctx.branches[idx].branch.kind
            && !ctx.answered
        {
            // Default handling decides; this context ends here.
            let failed = AsFailed {
                inc: ctx.inc.clone(),
                pop_route: ctx.pop_route,
                loop_hash: ctx.loop_hash,
                trigger: trigger.clone(),
                case: *case,
                served: served.clone(),
            };
            tracing::info!(
                server = trigger.server,
                code,
                reason,
                "application server did not answer"
            );
            out.default_handling = Some(failed);
            self.remove(ctx_id);
            return;
        }
        let (code, reason) = match (&ctx.branches[idx].branch.kind, code) {
            (BranchKind::Contact, 503) => (480, "Temporarily Unavailable (device unreachable)"),
            (BranchKind::Route, 503) => (502, "Bad Gateway (next hop unreachable)"),
            _ => (code, reason),
        };
        let resp = ResponseBuilder::new(&ctx.inc.message, code, reason)
            .to_tag(stable_tag(&ctx.inc.message))
            .build_message();
        ctx.finals.push(resp);
        self.finish_if_done(ctx_id, out);
    }

    /// When every branch has a final response: send the best one (if none went yet) and
    /// forget the context.
    fn finish_if_done(&mut self, ctx_id: u64, out: &mut Outcome) {
        let Some(ctx) = self.contexts.get_mut(&ctx_id) else {
            return;
        };
        if ctx.branches.iter().any(|b| b.final_status.is_none()) {
            return;
        }
        if !ctx.answered {
            let best = ctx
                .finals
                .iter()
                .min_by_key(|m| rank(m.status().unwrap_or(500)))
                .cloned();
            if let Some(best) = best {
                let status = best.status().unwrap_or(500);
                let best = if status == 503 {
                    // §16.7 step 6: a 503 is not passed on as is.
                    let mut e = best.edit();
                    e.set_status(500, "Server Internal Error (downstream unavailable)");
                    Message::parse(e.encode()).unwrap_or(best)
                } else {
                    best
                };
                if status != 408 || ctx.invite {
                    out.upstream.push((ctx.inc.clone(), best));
                } else {
                    tracing::debug!("408 for a non-INVITE not sent upstream (RFC 4320)");
                }
            }
            ctx.answered = true;
        }
        self.remove(ctx_id);
    }

    fn remove(&mut self, ctx_id: u64) {
        if let Some(ctx) = self.contexts.remove(&ctx_id) {
            for b in &ctx.branches {
                self.branches.remove(&b.id);
            }
            if let Some(k) = ctx.inc.transaction {
                self.by_server.remove(&k);
            }
        }
    }

    /// CANCEL of the INVITE server transaction `key`: the CANCELs to send downstream, or
    /// `None` when no context matches.
    pub(crate) fn cancel(&mut self, key: TransactionKey) -> Option<Vec<(Target, Message)>> {
        let ctx_id = *self.by_server.get(&key)?;
        let ctx = self.contexts.get_mut(&ctx_id)?;
        let mut out = Outcome::default();
        Self::cancel_pending_branches(ctx, &mut out);
        Some(out.requests)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_hash_and_branch_ids() {
        let m = Message::parse(
            &b"MESSAGE sip:bob@cpm.test SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@cpm.test>;tag=1\r\nTo: <sip:bob@cpm.test>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let h = loop_hash(&m);
        let mut p = Proxy::default();
        let id = p.new_branch_id(h);
        assert!(id.starts_with("z9hG4bK"));
        assert!(branch_has_hash(&id, h));
        assert!(!branch_has_hash(&id, h ^ 1));
        assert!(!branch_has_hash("z9hG4bKother", h));
        let with_route = Message::parse(
            String::from_utf8_lossy(m.as_bytes())
                .replace(
                    "CSeq: 1 MESSAGE\r\n",
                    "CSeq: 1 MESSAGE\r\nRoute: <sip:127.0.0.1;lr;ctx=x>\r\n",
                )
                .into_bytes(),
        )
        .unwrap();
        assert_ne!(
            loop_hash(&with_route),
            h,
            "a changed Route makes it a spiral"
        );
        assert_eq!(stable_tag(&m), stable_tag(&m));
    }

    #[test]
    fn best_response_rank() {
        let mut s = [486u16, 603, 302, 408, 500];
        s.sort_by_key(|c| rank(*c));
        assert_eq!(s, [603, 302, 486, 408, 500]);
        assert!(rank(404) < rank(408));
        assert!(rank(480) < rank(503));
    }
}
