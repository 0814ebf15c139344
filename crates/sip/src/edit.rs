//! Serializing: proxy edits of a received message, and builders for new requests and
//! responses.
//!
//! [`Editor`] re-emits a [`Message`] with a proxy's changes (push/pop Via, pop Route, push
//! Record-Route, Max-Forwards, Request-URI, added or removed headers, a new body). Header
//! fields it does not touch are copied byte for byte, folding and compact names included,
//! so a relayed message differs from the received one only where the proxy changed it.
//! Content-Length is always written and always right.

use std::fmt::Write as _;

use bytes::Bytes;

use crate::header::HeaderName;
use crate::message::{Item, Message};
use crate::method::Method;

#[derive(Debug, Clone)]
enum Action {
    Keep,
    Drop,
    Replace(String),
}

/// Re-serializes a message with a proxy's edits. See the module docs.
#[derive(Debug)]
pub struct Editor<'m> {
    msg: &'m Message,
    request_uri: Option<String>,
    status: Option<(u16, String)>,
    prepend: Vec<(String, String)>,
    actions: Vec<Action>,
    append: Vec<(String, String)>,
    body: Option<(Option<String>, Bytes)>,
    via_popped: usize,
    route_popped: usize,
}

impl Message {
    /// Starts editing a copy of this message for forwarding.
    pub fn edit(&self) -> Editor<'_> {
        Editor {
            msg: self,
            request_uri: None,
            status: None,
            prepend: Vec::new(),
            actions: vec![Action::Keep; self.headers.len()],
            append: Vec::new(),
            body: None,
            via_popped: 0,
            route_popped: 0,
        }
    }
}

impl<'m> Editor<'m> {
    /// Adds a Via on top of all others (a proxy or UAC sending the request on).
    pub fn push_via(&mut self, value: impl Into<String>) -> &mut Self {
        self.prepend.insert(0, ("Via".into(), value.into()));
        self
    }

    /// Removes the topmost received Via (a proxy forwarding a response). Returns false
    /// when there is none left.
    pub fn pop_via(&mut self) -> bool {
        let items: Vec<(u16, u32)> = self
            .msg
            .vias
            .iter()
            .map(|i| (i.header, i.v.all.start))
            .collect();
        let ok = self.pop_item(&items, self.via_popped);
        if ok {
            self.via_popped += 1;
        }
        ok
    }

    /// Removes the topmost received Route value (loose routing: the Route names us).
    /// Returns false when there is none left.
    pub fn pop_route(&mut self) -> bool {
        let items: Vec<(u16, u32)> = self
            .msg
            .routes
            .iter()
            .map(|i: &Item<_>| (i.header, i.v.all.start))
            .collect();
        let ok = self.pop_item(&items, self.route_popped);
        if ok {
            self.route_popped += 1;
        }
        ok
    }

    /// Removes item `n` of a list header whose items are `(header index, value start)`.
    fn pop_item(&mut self, items: &[(u16, u32)], n: usize) -> bool {
        let Some(&(h, _)) = items.get(n) else {
            return false;
        };
        let h = h as usize;
        // The remaining items of the same field after this one.
        match items.get(n + 1) {
            Some(&(h2, start)) if h2 as usize == h => {
                let (_, _, value, _) = self.msg.field(h);
                let field_value_start = value.as_ptr() as usize - self.msg.head().as_ptr() as usize;
                let rest = &value[start as usize - field_value_start..];
                self.actions[h] = Action::Replace(rest.to_string());
            }
            _ => self.actions[h] = Action::Drop,
        }
        true
    }

    /// Adds a Route value above all others.
    pub fn push_route(&mut self, value: impl Into<String>) -> &mut Self {
        self.prepend.push(("Route".into(), value.into()));
        self
    }

    /// Adds a Record-Route value above all others.
    pub fn push_record_route(&mut self, value: impl Into<String>) -> &mut Self {
        self.prepend.push(("Record-Route".into(), value.into()));
        self
    }

    /// Sets Max-Forwards.
    pub fn set_max_forwards(&mut self, n: u8) -> &mut Self {
        self.set(HeaderName::MaxForwards, n.to_string())
    }

    /// Decrements Max-Forwards (70 when absent, RFC 3261 §16.6 step 3). Returns `None` when
    /// it is already zero: the request must be answered with 483 instead.
    pub fn decrement_max_forwards(&mut self) -> Option<u8> {
        let n = self.msg.max_forwards().unwrap_or(71);
        let n = n.checked_sub(1)?;
        self.set_max_forwards(n);
        Some(n)
    }

    /// Replaces the Request-URI.
    pub fn set_request_uri(&mut self, uri: impl Into<String>) -> &mut Self {
        self.request_uri = Some(uri.into());
        self
    }

    /// Replaces the status line of a response.
    pub fn set_status(&mut self, code: u16, reason: impl Into<String>) -> &mut Self {
        self.status = Some((code, reason.into()));
        self
    }

    /// Removes every field of a header.
    pub fn remove(&mut self, name: HeaderName) -> &mut Self {
        for (i, h) in self.msg.headers.iter().enumerate() {
            if h.name == name {
                self.actions[i] = Action::Drop;
            }
        }
        self.prepend
            .retain(|(n, _)| HeaderName::from_bytes(n.as_bytes()) != name);
        self.append
            .retain(|(n, _)| HeaderName::from_bytes(n.as_bytes()) != name);
        self
    }

    /// Sets a header to one value: the first field is replaced in place, the others removed;
    /// appended when absent.
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) -> &mut Self {
        let value = value.into();
        let mut done = false;
        for (i, h) in self.msg.headers.iter().enumerate() {
            if h.name == name {
                self.actions[i] = if done {
                    Action::Drop
                } else {
                    Action::Replace(value.clone())
                };
                done = true;
            }
        }
        if !done {
            self.append
                .retain(|(n, _)| HeaderName::from_bytes(n.as_bytes()) != name);
            self.append
                .push((name.as_str().unwrap_or("X-Unknown").into(), value));
        }
        self
    }

    /// Appends a header field (after all received ones).
    pub fn add(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.append.push((name.into(), value.into()));
        self
    }

    /// Replaces the body (and Content-Type when given).
    pub fn set_body(&mut self, content_type: Option<&str>, body: Bytes) -> &mut Self {
        self.body = Some((content_type.map(str::to_string), body));
        self
    }

    /// Writes the edited message.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let m = self.msg;
        let head = m.head();
        let body: &[u8] = match &self.body {
            Some((_, b)) => b,
            None => m.body_bytes(),
        };
        out.reserve(m.as_bytes().len() + 128);
        match (&self.request_uri, &self.status, m.method()) {
            (Some(uri), _, Some(method)) => {
                out.extend_from_slice(method.as_str().as_bytes());
                out.push(b' ');
                out.extend_from_slice(uri.as_bytes());
                out.extend_from_slice(b" SIP/2.0\r\n");
            }
            (_, Some((code, reason)), None) => {
                let mut s = String::with_capacity(32);
                let _ = write!(s, "SIP/2.0 {code} {reason}\r\n");
                out.extend_from_slice(s.as_bytes());
            }
            _ => {
                out.extend_from_slice(m.start_line_span().of(head).as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        let line = |out: &mut Vec<u8>, n: &str, v: &str| {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        };
        for (n, v) in &self.prepend {
            line(out, n, v);
        }
        let new_ct = self.body.as_ref().and_then(|(ct, _)| ct.as_deref());
        for (i, action) in self.actions.iter().enumerate() {
            let (name, raw_name, _, raw) = m.field(i);
            if name == HeaderName::ContentLength
                || (new_ct.is_some() && name == HeaderName::ContentType)
            {
                continue;
            }
            match action {
                Action::Keep => {
                    out.extend_from_slice(raw.as_bytes());
                    if !raw.ends_with("\r\n") {
                        out.extend_from_slice(b"\r\n");
                    }
                }
                Action::Drop => {}
                Action::Replace(v) => line(out, raw_name, v),
            }
        }
        for (n, v) in &self.append {
            line(out, n, v);
        }
        if let Some(ct) = new_ct {
            line(out, "Content-Type", ct);
        }
        let mut cl = itoa_buf(body.len());
        line(
            out,
            "Content-Length",
            std::str::from_utf8(cl.as_mut()).unwrap_or("0"),
        );
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
    }

    /// The edited message as bytes.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        Bytes::from(out)
    }
}

fn itoa_buf(n: usize) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// Builds a response to a request (RFC 3261 §8.2.6): Via, From, To, Call-ID and CSeq are
/// copied byte for byte from the request; a To tag is added when given and absent.
#[derive(Debug)]
pub struct ResponseBuilder<'r> {
    req: &'r Message,
    code: u16,
    reason: String,
    to_tag: Option<String>,
    record_route: bool,
    headers: Vec<(String, String)>,
    body: Option<(String, Bytes)>,
}

impl<'r> ResponseBuilder<'r> {
    /// A response with `code` and `reason` to `req`.
    pub fn new(req: &'r Message, code: u16, reason: impl Into<String>) -> Self {
        ResponseBuilder {
            req,
            code,
            reason: reason.into(),
            to_tag: None,
            record_route: false,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds `;tag=` to To unless the request's To already has a tag.
    pub fn to_tag(mut self, tag: impl Into<String>) -> Self {
        self.to_tag = Some(tag.into());
        self
    }

    /// Copies the request's Record-Route fields (dialog-creating 2xx/18x, §12.1.1).
    pub fn copy_record_route(mut self) -> Self {
        self.record_route = true;
        self
    }

    /// Adds a header field.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: impl Into<String>, body: impl Into<Bytes>) -> Self {
        self.body = Some((content_type.into(), body.into()));
        self
    }

    /// Writes the response.
    pub fn build(&self) -> Bytes {
        let req = self.req;
        let mut out = Vec::with_capacity(512);
        let _ = write!(Wr(&mut out), "SIP/2.0 {} {}\r\n", self.code, self.reason);
        for i in 0..req.header_count() {
            let (name, _, value, raw) = req.field(i);
            match name {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    push_raw(&mut out, raw)
                }
                HeaderName::RecordRoute if self.record_route => push_raw(&mut out, raw),
                HeaderName::To => match &self.to_tag {
                    Some(tag) if req.to().tag().is_none() => {
                        let _ = write!(Wr(&mut out), "To: {value};tag={tag}\r\n");
                    }
                    _ => push_raw(&mut out, raw),
                },
                _ => {}
            }
        }
        for (n, v) in &self.headers {
            let _ = write!(Wr(&mut out), "{n}: {v}\r\n");
        }
        match &self.body {
            Some((ct, b)) => {
                let _ = write!(
                    Wr(&mut out),
                    "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                );
                out.extend_from_slice(b);
            }
            None => out.extend_from_slice(b"Content-Length: 0\r\n\r\n"),
        }
        Bytes::from(out)
    }

    /// Writes and parses the response.
    pub fn build_message(&self) -> Message {
        Message::parse(self.build()).expect("a response built from a parsed request is valid")
    }
}

fn push_raw(out: &mut Vec<u8>, raw: &str) {
    out.extend_from_slice(raw.as_bytes());
    if !raw.ends_with("\r\n") {
        out.extend_from_slice(b"\r\n");
    }
}

struct Wr<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Wr<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Builds a new request (a UAC, or a B2BUA's new leg).
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Bytes)>,
}

impl RequestBuilder {
    /// A request line `METHOD uri SIP/2.0`.
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        RequestBuilder {
            method,
            uri: uri.into(),
            headers: Vec::with_capacity(10),
            body: None,
        }
    }

    /// Adds a header field (in order).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(mut self, content_type: impl Into<String>, body: impl Into<Bytes>) -> Self {
        self.body = Some((content_type.into(), body.into()));
        self
    }

    /// Writes the request.
    pub fn build(&self) -> Bytes {
        let mut out = Vec::with_capacity(512);
        let _ = write!(Wr(&mut out), "{} {} SIP/2.0\r\n", self.method, self.uri);
        for (n, v) in &self.headers {
            let _ = write!(Wr(&mut out), "{n}: {v}\r\n");
        }
        match &self.body {
            Some((ct, b)) => {
                let _ = write!(
                    Wr(&mut out),
                    "Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                );
                out.extend_from_slice(b);
            }
            None => out.extend_from_slice(b"Content-Length: 0\r\n\r\n"),
        }
        Bytes::from(out)
    }

    /// Writes and parses the request.
    pub fn build_message(&self) -> Result<Message, crate::ParseError> {
        Message::parse(self.build())
    }
}

impl Message {
    /// The ACK a client INVITE transaction sends for a non-2xx final response
    /// (RFC 3261 §17.1.1.3): same Request-URI, top Via, Route, From, Call-ID and CSeq number
    /// as the INVITE, the response's To.
    pub fn ack_for_non_2xx(&self, response: &Message) -> Bytes {
        self.derived_request(Method::Ack, Some(response))
    }

    /// The CANCEL for this request (RFC 3261 §9.1).
    pub fn cancel(&self) -> Bytes {
        self.derived_request(Method::Cancel, None)
    }

    fn derived_request(&self, method: Method, response: Option<&Message>) -> Bytes {
        let uri = self.request_uri().map(|u| u.as_str()).unwrap_or_default();
        let mut out = Vec::with_capacity(400);
        let _ = write!(Wr(&mut out), "{method} {uri} SIP/2.0\r\n");
        let _ = write!(Wr(&mut out), "Via: {}\r\n", self.top_via().as_str());
        for r in self.routes() {
            let _ = write!(Wr(&mut out), "Route: {}\r\n", r.as_str());
        }
        let _ = write!(Wr(&mut out), "Max-Forwards: 70\r\n");
        let _ = write!(Wr(&mut out), "From: {}\r\n", self.from().as_str());
        let to = response.map(|r| r.to()).unwrap_or_else(|| self.to());
        let _ = write!(Wr(&mut out), "To: {}\r\n", to.as_str());
        let _ = write!(Wr(&mut out), "Call-ID: {}\r\n", self.call_id());
        let _ = write!(
            Wr(&mut out),
            "CSeq: {} {method}\r\nContent-Length: 0\r\n\r\n",
            self.cseq()
        );
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = "MESSAGE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1, SIP/2.0/UDP a.example.com;branch=z9hG4bKa\r\n\
Route: <sip:core.example.com;lr>,<sip:pf.example.com;lr>\r\n\
Max-Forwards: 69\r\n\
From: <sip:alice@example.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: abc@a\r\n\
CSeq: 1 MESSAGE\r\n\
X-Odd:   kept  as   is\r\n\
Content-Type: text/plain\r\n\
Content-Length: 5\r\n\r\nhello";

    #[test]
    fn proxy_edits() {
        let m = Message::parse(REQ).unwrap();
        let mut e = m.edit();
        e.push_via("SIP/2.0/TCP core.example.com;branch=z9hG4bKc");
        assert!(e.pop_route());
        assert_eq!(e.decrement_max_forwards(), Some(68));
        let out = Message::parse(e.encode()).unwrap();
        let vias: Vec<_> = out.vias().map(|v| v.host().to_string()).collect();
        assert_eq!(
            vias,
            ["core.example.com", "p1.example.com", "a.example.com"]
        );
        let routes: Vec<_> = out.routes().map(|r| r.uri().host().to_string()).collect();
        assert_eq!(routes, ["pf.example.com"]);
        assert_eq!(out.max_forwards(), Some(68));
        assert_eq!(out.header_str("x-odd"), Some("kept  as   is"));
        assert_eq!(out.body_bytes(), b"hello");
    }

    #[test]
    fn response_retraces_vias() {
        let req = Message::parse(REQ).unwrap();
        let resp = ResponseBuilder::new(&req, 202, "Accepted")
            .to_tag("t9")
            .build_message();
        assert_eq!(resp.to().tag(), Some("t9"));
        assert_eq!(resp.vias().len(), 2);
        let mut e = resp.edit();
        assert!(e.pop_via());
        let fwd = Message::parse(e.encode()).unwrap();
        assert_eq!(fwd.vias().len(), 1);
        assert_eq!(fwd.top_via().host(), "a.example.com");
        assert_eq!(fwd.status(), Some(202));
        let mut e = fwd.edit();
        assert!(e.pop_via());
        assert!(!e.pop_via());
    }

    #[test]
    fn ack_and_cancel() {
        let req = Message::parse(REQ.replace("MESSAGE", "INVITE")).unwrap();
        let resp = ResponseBuilder::new(&req, 486, "Busy Here")
            .to_tag("x")
            .build_message();
        let ack = Message::parse(req.ack_for_non_2xx(&resp)).unwrap();
        assert_eq!(ack.method(), Some(&Method::Ack));
        assert_eq!(ack.to().tag(), Some("x"));
        assert_eq!(ack.vias().len(), 1);
        assert_eq!(ack.top_via().branch(), req.top_via().branch());
        let cancel = Message::parse(req.cancel()).unwrap();
        assert_eq!(cancel.cseq_method(), &Method::Cancel);
        assert_eq!(cancel.routes().len(), 2);
    }
}
