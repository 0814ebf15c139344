//! Transaction identity: the opaque [`TransactionKey`] handed to the TU, and the matching
//! keys of RFC 3261 §17.1.3 (responses), §17.2.3 (requests, with the RFC 2543 fallback)
//! and §9.2 (CANCEL to the INVITE it cancels).

use std::fmt;

use crate::message::Message;
use crate::method::Method;

/// Which side of a transaction we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// We sent the request.
    Client,
    /// We received the request.
    Server,
}

/// Names one transaction of a [`TransactionLayer`](super::TransactionLayer). Keys are
/// never reused by a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionKey {
    id: u64,
    role: Role,
}

impl TransactionKey {
    pub(crate) fn new(id: u64, role: Role) -> Self {
        TransactionKey { id, role }
    }

    /// Client or server.
    pub fn role(self) -> Role {
        self.role
    }

    /// A number unique within the layer (for logs).
    pub fn id(self) -> u64 {
        self.id
    }
}

impl fmt::Display for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.role {
            Role::Client => write!(f, "client#{}", self.id),
            Role::Server => write!(f, "server#{}", self.id),
        }
    }
}

/// §17.1.3: a response belongs to the client transaction whose request had the same top
/// Via branch and whose method is the CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientMatch {
    branch: Box<str>,
    method: Method,
}

impl ClientMatch {
    pub(crate) fn of_request(req: &Message) -> Option<Self> {
        let via = req.top_via();
        if !via.is_rfc3261_branch() {
            return None;
        }
        Some(ClientMatch {
            branch: via.branch()?.into(),
            method: req.method()?.clone(),
        })
    }

    pub(crate) fn of_response(resp: &Message) -> Option<Self> {
        Some(ClientMatch {
            branch: resp.top_via().branch()?.into(),
            method: resp.cseq_method().clone(),
        })
    }
}

/// §17.2.3 with an RFC 3261 branch: branch, sent-by and method; an ACK looks for the
/// INVITE. Hosts compare case-insensitively, the branch exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ServerMatch {
    branch: Box<str>,
    host: Box<str>,
    port: Option<u16>,
    method: Method,
}

impl ServerMatch {
    /// The key of the transaction `req` belongs to (`method` overrides the request's own,
    /// for CANCEL looking for its INVITE). `None` when the branch lacks the cookie.
    pub(crate) fn of_request(req: &Message, method: Option<Method>) -> Option<Self> {
        let via = req.top_via();
        if !via.is_rfc3261_branch() {
            return None;
        }
        let method = match method {
            Some(m) => m,
            None => match req.method()? {
                Method::Ack => Method::Invite,
                m => m.clone(),
            },
        };
        Some(ServerMatch {
            branch: via.branch()?.into(),
            host: via.host().to_ascii_lowercase().into(),
            port: via.port(),
            method,
        })
    }
}

/// How an RFC 2543 request (no `z9hG4bK` branch) is compared with the request that created
/// a transaction (§17.2.3, §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegacyRule {
    /// A retransmission: Request-URI, To tag, From tag, Call-ID, CSeq, top Via.
    Same,
    /// An ACK: as `Same` but the CSeq number only, and the To tag of the response we sent.
    Ack,
    /// A CANCEL looking for its INVITE: as `Same` but the CSeq number only.
    Cancel,
}

/// The fields RFC 2543 matching compares, copied out of the creating request.
#[derive(Debug, Clone)]
pub(crate) struct LegacyMatch {
    pub(crate) call_id: Box<str>,
    uri: Box<str>,
    from_tag: Option<Box<str>>,
    to_tag: Option<Box<str>>,
    cseq: u32,
    method: Method,
    top_via: Box<str>,
}

impl LegacyMatch {
    pub(crate) fn of_request(req: &Message) -> Self {
        LegacyMatch {
            call_id: req.call_id().into(),
            uri: req.request_uri().map(|u| u.as_str()).unwrap_or("").into(),
            from_tag: req.from().tag().map(Into::into),
            to_tag: req.to().tag().map(Into::into),
            cseq: req.cseq(),
            method: req.cseq_method().clone(),
            top_via: req.top_via().as_str().trim().into(),
        }
    }

    /// Does `req` match the transaction created by `self`? `response_to_tag` is the To tag
    /// of the final response the transaction sent (for [`LegacyRule::Ack`]).
    pub(crate) fn matches(
        &self,
        req: &LegacyMatch,
        rule: LegacyRule,
        response_to_tag: Option<&str>,
    ) -> bool {
        let common = self.call_id == req.call_id
            && self.uri == req.uri
            && self.from_tag == req.from_tag
            && self.cseq == req.cseq
            && self.top_via == req.top_via;
        if !common {
            return false;
        }
        match rule {
            LegacyRule::Same => self.method == req.method && self.to_tag == req.to_tag,
            LegacyRule::Cancel => self.method == Method::Invite && self.to_tag == req.to_tag,
            LegacyRule::Ack => {
                self.method == Method::Invite && req.to_tag.as_deref() == response_to_tag
            }
        }
    }
}
