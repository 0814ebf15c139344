//! Service triggering (the seed's steps 2 and 3): initial-filter-criteria-like rules that
//! send a request to an application server (the participating function, the controlling
//! function, an IWF), and the Route token that lets the core recognise the request when it
//! comes back and carry on with the next rule.
//!
//! Rules follow 3GPP TS 29.228 iFC in spirit: a priority, the methods, a service
//! identifier (ICSI in P-Preferred-Service / P-Asserted-Service / Accept-Contact), the
//! session case (originating, terminating-registered, terminating-unregistered), the
//! application server, and the default handling when that server does not answer.
//!
//! The token is opaque and integrity-protected (HMAC-SHA256 under the core's secret, like
//! IMS's original-dialog identifier): the core stays stateless between the hops of one
//! request, and nobody can forge "originating services already done".

use cpm_sip::Message;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The session case of a trigger (3GPP TS 29.228 SessionCase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionCase {
    /// Requests from a served user (sescase=orig).
    Originating,
    /// Requests to a served user who has at least one registered device.
    TerminatingRegistered,
    /// Requests to a served user with no registered device.
    TerminatingUnregistered,
}

impl SessionCase {
    fn code(self) -> char {
        match self {
            SessionCase::Originating => 'o',
            SessionCase::TerminatingRegistered => 'r',
            SessionCase::TerminatingUnregistered => 'u',
        }
    }
    fn from_code(c: char) -> Option<SessionCase> {
        Some(match c {
            'o' => SessionCase::Originating,
            'r' => SessionCase::TerminatingRegistered,
            'u' => SessionCase::TerminatingUnregistered,
            _ => return None,
        })
    }
    /// The P-Served-User `sescase` and `regstate` parameters (RFC 5502).
    pub fn served_user_params(self) -> &'static str {
        match self {
            SessionCase::Originating => "sescase=orig;regstate=reg",
            SessionCase::TerminatingRegistered => "sescase=term;regstate=reg",
            SessionCase::TerminatingUnregistered => "sescase=term;regstate=unreg",
        }
    }
}

/// What to do when the application server does not answer (TS 29.228 DefaultHandling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultHandling {
    /// Carry on without it (SESSION_CONTINUED).
    Continue,
    /// Fail the request (SESSION_TERMINATED).
    Terminate,
}

/// One trigger rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// Lower runs first.
    pub priority: u32,
    /// Methods it applies to (empty: any).
    pub methods: Vec<String>,
    /// The service identifier the request must ask for (`None`: any).
    pub icsi: Option<String>,
    /// Session cases it applies to.
    pub session_cases: Vec<SessionCase>,
    /// The application server's SIP URI.
    pub server: String,
    /// When the server does not answer.
    pub default_handling: DefaultHandling,
}

/// The rules of one core, kept sorted by priority.
#[derive(Debug, Clone, Default)]
pub struct Triggers {
    rules: Vec<Trigger>,
}

impl Triggers {
    /// Rules in any order; they are sorted by priority (stable for equal priorities).
    pub fn new(mut rules: Vec<Trigger>) -> Triggers {
        rules.sort_by_key(|r| r.priority);
        Triggers { rules }
    }

    /// The first rule after `after` (the priority of the last rule already applied, from
    /// the token) that matches this request in this session case.
    pub fn next(&self, req: &Message, case: SessionCase, after: Option<u32>) -> Option<&Trigger> {
        let method = req.method()?.as_str();
        self.rules.iter().find(|r| {
            after.is_none_or(|a| r.priority > a)
                && r.session_cases.contains(&case)
                && (r.methods.is_empty() || r.methods.iter().any(|m| m == method))
                && r.icsi.as_deref().is_none_or(|i| req.requests_service(i))
        })
    }
}

/// The state the core keeps in its own Route parameter between the hops of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The session case being processed.
    pub case: SessionCase,
    /// The served user (AOR).
    pub served_user: String,
    /// Priority of the last trigger applied.
    pub last_priority: u32,
}

fn mac(secret: &[u8], body: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    m.update(body.as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hex_encode(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

impl Token {
    /// The token text: a URI-parameter-safe string (hex and `.`), integrity-protected.
    pub fn encode(&self, secret: &[u8]) -> String {
        let body = format!(
            "{}.{}.{}",
            self.case.code(),
            self.last_priority,
            hex_encode(&self.served_user)
        );
        let tag = mac(secret, &body);
        format!("{body}.{tag}")
    }

    /// Decodes and verifies a token; `None` when it is malformed or was not made with
    /// `secret`.
    pub fn decode(s: &str, secret: &[u8]) -> Option<Token> {
        let (body, tag) = s.rsplit_once('.')?;
        if mac(secret, body) != tag {
            return None;
        }
        let mut it = body.splitn(3, '.');
        let mut case = it.next()?.chars();
        let c = case.next()?;
        if case.next().is_some() {
            return None;
        }
        Some(Token {
            case: SessionCase::from_code(c)?,
            last_priority: it.next()?.parse().ok()?,
            served_user: hex_decode(it.next()?)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(method: &str, extra: &str) -> Message {
        Message::parse(format!(
            "{method} sip:bob@cpm.test SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:alice@cpm.test>;tag=1\r\nTo: <sip:bob@cpm.test>\r\nCall-ID: c\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    fn rules() -> Triggers {
        Triggers::new(vec![
            Trigger {
                priority: 20,
                methods: vec!["MESSAGE".into()],
                icsi: Some(cpm_sip::ICSI_CPM_MSG_GROUP.into()),
                session_cases: vec![
                    SessionCase::TerminatingRegistered,
                    SessionCase::TerminatingUnregistered,
                ],
                server: "sip:cf@cpm.test".into(),
                default_handling: DefaultHandling::Terminate,
            },
            Trigger {
                priority: 10,
                methods: vec!["MESSAGE".into(), "INVITE".into()],
                icsi: Some(cpm_sip::ICSI_CPM_MSG.into()),
                session_cases: vec![
                    SessionCase::Originating,
                    SessionCase::TerminatingRegistered,
                    SessionCase::TerminatingUnregistered,
                ],
                server: "sip:pf@cpm.test".into(),
                default_handling: DefaultHandling::Continue,
            },
        ])
    }

    #[test]
    fn picks_by_method_icsi_case_and_priority() {
        let t = rules();
        let cpm = msg(
            "MESSAGE",
            "P-Preferred-Service: urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg\r\n",
        );
        assert_eq!(
            t.next(&cpm, SessionCase::Originating, None).unwrap().server,
            "sip:pf@cpm.test"
        );
        assert!(
            t.next(&cpm, SessionCase::Originating, Some(10)).is_none(),
            "PF already applied"
        );
        let plain = msg("MESSAGE", "");
        assert!(
            t.next(&plain, SessionCase::Originating, None).is_none(),
            "no CPM ICSI, no trigger"
        );
        let ac = msg(
            "MESSAGE",
            "Accept-Contact: *;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.msg\"\r\n",
        );
        assert!(
            t.next(&ac, SessionCase::TerminatingUnregistered, None)
                .is_some(),
            "ICSI from Accept-Contact"
        );
        let opts = msg(
            "OPTIONS",
            "P-Preferred-Service: urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg\r\n",
        );
        assert!(
            t.next(&opts, SessionCase::Originating, None).is_none(),
            "method filter"
        );
    }

    #[test]
    fn token_round_trip_and_forgery() {
        let secret = b"core secret";
        let tok = Token {
            case: SessionCase::Originating,
            served_user: "sip:alice@cpm.test".into(),
            last_priority: 10,
        };
        let s = tok.encode(secret);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'));
        assert_eq!(Token::decode(&s, secret), Some(tok.clone()));
        assert_eq!(Token::decode(&s, b"another"), None);
        let forged = s.replacen("o.", "r.", 1);
        assert_eq!(Token::decode(&forged, secret), None);
        assert_eq!(Token::decode("garbage", secret), None);
    }
}
