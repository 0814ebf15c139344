//! [`BasicUas`]: the user agent server `cpm serve` answers with until the network
//! roles land. It answers OPTIONS with 200 and everything else with the precise error RFC
//! 3261 §8.2 prescribes: 501 for unknown methods, 405 (with Allow) for known methods it does
//! not serve, 416 for URI schemes other than `sip`/`sips`, 420 for unknown `Require`d
//! extensions, 200 for a CANCEL of a live INVITE transaction and 481 for one that matches
//! nothing. It never answers an ACK.

use cpm_sip::{HeaderName, Message, Method, ResponseBuilder, Scheme};

use crate::endpoint::{EndpointHandle, Incoming, Role};

/// Media types accepted in request bodies (advertised in `Accept`; no SDP: no sessions).
pub const ACCEPT: &str = "message/cpim, text/plain, message/imdn+xml";

/// A UAS without state of its own (the endpoint keeps the transactions): see the module docs.
#[derive(Debug, Clone)]
pub struct BasicUas {
    allow: Vec<Method>,
    supported: Vec<String>,
}

impl Default for BasicUas {
    fn default() -> Self {
        BasicUas {
            allow: vec![Method::Options],
            supported: Vec::new(),
        }
    }
}

impl BasicUas {
    /// Answers OPTIONS only; supports no extensions.
    pub fn new() -> BasicUas {
        BasicUas::default()
    }

    /// The `Allow` header value.
    pub fn allow(&self) -> String {
        join(self.allow.iter().map(Method::as_str))
    }

    /// The answer to `req`, or `None` when it gets none (ACK, or not a request).
    pub fn answer(&self, req: &Message) -> Option<Message> {
        let method = req.method()?;
        if *method == Method::Ack {
            return None;
        }
        let tag = to_tag(req);
        let respond =
            |code: u16, reason: &str| ResponseBuilder::new(req, code, reason).to_tag(&tag);
        if let Method::Other(_) = method {
            return Some(
                respond(501, "Not Implemented")
                    .header("Allow", self.allow())
                    .build_message(),
            );
        }
        let scheme = req.request_uri().map(|u| u.scheme());
        if !matches!(scheme, Some(Scheme::Sip | Scheme::Sips)) {
            let reason = "Unsupported URI Scheme";
            return Some(respond(416, reason).build_message());
        }
        if *method != Method::Cancel {
            let unsupported: Vec<&str> = req
                .header_values(HeaderName::Require)
                .into_iter()
                .filter(|ext| !self.supported.iter().any(|s| s.eq_ignore_ascii_case(ext)))
                .collect();
            if !unsupported.is_empty() {
                return Some(
                    respond(420, "Bad Extension")
                        .header("Unsupported", join(unsupported.into_iter()))
                        .build_message(),
                );
            }
        }
        if *method == Method::Cancel {
            // No transaction state yet, so nothing to cancel (RFC 3261 §9.2).
            return Some(respond(481, "Call/Transaction Does Not Exist").build_message());
        }
        if self.allow.contains(method) {
            if *method == Method::Options {
                return Some(
                    respond(200, "OK")
                        .header("Allow", self.allow())
                        .header("Accept", ACCEPT)
                        .header("Supported", join(self.supported.iter().map(String::as_str)))
                        .build_message(),
                );
            }
            return Some(respond(500, "Server Internal Error").build_message());
        }
        Some(
            respond(405, "Method Not Allowed")
                .header("Allow", self.allow())
                .build_message(),
        )
    }
}

impl Role for BasicUas {
    fn on_request(&mut self, request: Incoming, endpoint: &EndpointHandle) {
        let answer = if request.cancels.is_some() {
            // The INVITE it cancels was answered at once, so there is nothing left to stop;
            // the CANCEL itself succeeds (RFC 3261 §9.2).
            let tag = to_tag(&request.message);
            Some(
                ResponseBuilder::new(&request.message, 200, "OK")
                    .to_tag(tag)
                    .build_message(),
            )
        } else {
            self.answer(&request.message)
        };
        if let Some(resp) = answer {
            tracing::debug!(
                method = %request.message.method().map(Method::as_str).unwrap_or("?"),
                status = resp.status().unwrap_or(0),
                peer = %request.peer,
                "answered"
            );
            let _ = endpoint.respond(&request, resp);
        }
    }

    fn on_response(&mut self, response: Incoming, _: &EndpointHandle) {
        tracing::debug!(peer = %response.peer, status = response.message.status().unwrap_or(0),
            "stray response dropped (this UAS sends no requests)");
    }
}

fn join<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

/// A To tag that is the same for retransmissions of one request (stateless answers stay
/// consistent) and differs between requests.
fn to_tag(req: &Message) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let parts = [
        req.call_id(),
        req.top_via().branch().unwrap_or(""),
        req.from().tag().unwrap_or(""),
    ];
    for p in parts {
        for &b in p.as_bytes().iter().chain(b"\0") {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h = (h ^ req.cseq() as u64).wrapping_mul(0x0100_0000_01b3);
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, uri: &str, extra: &str) -> Message {
        Message::parse(format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn answers() {
        let uas = BasicUas::new();
        let ok = uas.answer(&req("OPTIONS", "sip:a@b", "")).unwrap();
        assert_eq!(ok.status(), Some(200));
        assert_eq!(ok.header(HeaderName::Allow), Some("OPTIONS"));
        assert!(ok.header(HeaderName::Accept).is_some());
        assert!(ok.to().tag().is_some());
        let st = |m: &str, uri: &str, extra: &str| {
            uas.answer(&req(m, uri, extra)).map(|r| r.status().unwrap())
        };
        assert_eq!(st("FROBNICATE", "sip:a@b", ""), Some(501));
        assert_eq!(st("MESSAGE", "sip:a@b", ""), Some(405));
        assert_eq!(st("INVITE", "sip:a@b", ""), Some(405));
        assert_eq!(st("OPTIONS", "tel:+15551234", ""), Some(416));
        assert_eq!(st("OPTIONS", "sip:a@b", "Require: foo, bar\r\n"), Some(420));
        assert_eq!(st("CANCEL", "sip:a@b", ""), Some(481));
        assert_eq!(st("ACK", "sip:a@b", ""), None);
        let bad_ext = uas
            .answer(&req("OPTIONS", "sip:a@b", "Require: foo\r\n"))
            .unwrap();
        assert_eq!(bad_ext.header(HeaderName::Unsupported), Some("foo"));
    }
}
