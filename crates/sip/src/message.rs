//! [`Message`]: a parsed SIP request or response over one immutable buffer.
//!
//! Parsing validates the whole start line and header section once and decodes eagerly the
//! headers a proxy needs on every message (Via, From/To with tags, Call-ID, CSeq,
//! Max-Forwards, Route, Record-Route, Contact, Expires, Content-Length, Content-Type). Those
//! are stored as [`Span`]s into the buffer; every other header is kept raw, in order, and
//! decoded on demand ([`Message::name_addrs`], [`Message::header_values`]). Nothing is copied:
//! [`Message::body`] is a slice of the same [`Bytes`].
//!
//! Datagram semantics (RFC 3261 §18.3): without Content-Length the body runs to the end of
//! the datagram; octets beyond Content-Length are ignored ([`Message::trailing_octets`]).

use bytes::Bytes;

use crate::error::{ErrorKind, ParseError};
use crate::header::HeaderName;
use crate::method::Method;
use crate::name_addr::{self, NameAddr, NameAddrSpans};
use crate::span::Span;
use crate::text::{self, Cur};
use crate::uri::{self, Uri, UriContext, UriSpans};
use crate::via::{self, Via, ViaSpans};

/// Limits applied while parsing; every one is configurable.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest whole message, in bytes (oversize is `513`).
    pub max_message_size: usize,
    /// Most header fields in one message.
    pub max_headers: usize,
    /// Longest header field (with its folded continuation lines), in bytes.
    pub max_line_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 65_535,
            max_headers: 256,
            max_line_length: 16_384,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderField {
    pub(crate) name: HeaderName,
    pub(crate) name_span: Span,
    pub(crate) value: Span,
    /// The whole field from the first byte of its name to the end of its last CRLF.
    pub(crate) line: Span,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Item<T> {
    pub(crate) header: u16,
    pub(crate) v: T,
}

#[derive(Debug, Clone)]
pub(crate) enum Start {
    Request { method: Method, uri: UriSpans },
    Response { code: u16, reason: Span },
}

/// One header field: a view into the message.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// The header's name as a known variant (or [`HeaderName::Other`]).
    pub name: HeaderName,
    /// The name exactly as written (`v`, `VIA`, `X-Foo` …).
    pub raw_name: &'a str,
    /// The value, without surrounding white space (folded lines kept as written).
    pub value: &'a str,
    /// The whole field as received, including its CRLF.
    pub raw: &'a str,
}

/// The Contact header of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    /// No Contact header.
    None,
    /// `Contact: *` (REGISTER removing all bindings).
    Star,
    /// One or more contacts.
    List,
}

/// A parsed SIP message (request or response).
#[derive(Clone)]
pub struct Message {
    buf: Bytes,
    head_len: usize,
    start: Start,
    start_line: Span,
    pub(crate) headers: Vec<HeaderField>,
    body: Span,
    trailing: usize,
    pub(crate) vias: Vec<Item<ViaSpans>>,
    from: NameAddrSpans,
    to: NameAddrSpans,
    call_id: Span,
    cseq: u32,
    cseq_method: Method,
    max_forwards: Option<u8>,
    pub(crate) routes: Vec<Item<NameAddrSpans>>,
    pub(crate) record_routes: Vec<Item<NameAddrSpans>>,
    contacts: Vec<Item<NameAddrSpans>>,
    contact_star: bool,
    expires: Option<u32>,
    content_length: Option<u32>,
    content_type: Option<Span>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("start_line", &self.start_line())
            .field("call_id", &self.call_id())
            .field("headers", &self.headers.len())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The offset of the CR of the next CRLF in `b[from..to]`, or `to` when there is none.
/// A bare LF is an error.
#[inline]
fn line_end(b: &[u8], from: usize, to: usize) -> Result<usize, ParseError> {
    match memchr::memchr(b'\n', &b[from..to]) {
        Some(x) if x > 0 && b[from + x - 1] == b'\r' => Ok(from + x - 1),
        Some(x) => Err(ParseError::new(ErrorKind::BadLineEnding, from + x)),
        None => Ok(to),
    }
}

fn bad(header: &'static str, reason: &'static str) -> ErrorKind {
    ErrorKind::BadHeader { header, reason }
}

struct Builder {
    start: Option<Start>,
    headers: Vec<HeaderField>,
    vias: Vec<Item<ViaSpans>>,
    from: Option<NameAddrSpans>,
    to: Option<NameAddrSpans>,
    call_id: Option<Span>,
    cseq: Option<(u32, Method)>,
    max_forwards: Option<u8>,
    routes: Vec<Item<NameAddrSpans>>,
    record_routes: Vec<Item<NameAddrSpans>>,
    contacts: Vec<Item<NameAddrSpans>>,
    contact_star: bool,
    expires: Option<u32>,
    content_length: Option<u32>,
    content_type: Option<Span>,
}

impl Message {
    /// Parses one message from a datagram (or any complete buffer) with default limits.
    pub fn parse(buf: impl Into<Bytes>) -> Result<Message, ParseError> {
        Self::parse_with(buf.into(), &Limits::default())
    }

    /// Parses one message with explicit limits.
    pub fn parse_with(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
        if buf.len() > limits.max_message_size {
            return Err(ParseError::new(
                ErrorKind::TooLarge("message size"),
                limits.max_message_size,
            ));
        }
        let b: &[u8] = &buf;
        let mut p = 0;
        while b[p..].starts_with(b"\r\n") {
            p += 2;
        }
        if p >= b.len() {
            return Err(ParseError::new(ErrorKind::Empty, p));
        }
        // One UTF-8 check over the whole buffer: a text body (the common case) passes with
        // the header section; a binary body stops the valid prefix somewhere after it.
        let text = match std::str::from_utf8(b) {
            Ok(t) => t,
            Err(e) => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or_default(),
        };
        let tl = text.len();
        let head = text;
        let sl_end = line_end(b, p, tl)?;
        let mut m = Builder {
            start: None,
            headers: Vec::with_capacity(16),
            vias: Vec::with_capacity(2),
            from: None,
            to: None,
            call_id: None,
            cseq: None,
            max_forwards: None,
            routes: Vec::new(),
            record_routes: Vec::new(),
            contacts: Vec::new(),
            contact_star: false,
            expires: None,
            content_length: None,
            content_type: None,
        };
        m.start = Some(parse_start_line(head, p, sl_end).map_err(|(k, o)| ParseError::new(k, o))?);
        let mut i = sl_end + 2;
        let (mut head_len, mut body_start, mut terminated) = (tl, tl, false);
        while i < tl {
            if b[i..].starts_with(b"\r\n") {
                (head_len, body_start, terminated) = (i, i + 2, true);
                break;
            }
            let mut e = line_end(b, i, tl)?;
            while e + 2 < tl && matches!(b[e + 2], b' ' | b'\t') {
                e = line_end(b, e + 2, tl)?;
            }
            if e - i > limits.max_line_length {
                return Err(ParseError::new(
                    ErrorKind::TooLarge("header line length"),
                    i,
                ));
            }
            if m.headers.len() >= limits.max_headers {
                return Err(ParseError::new(ErrorKind::TooLarge("header count"), i));
            }
            m.header_line(head, i, e)
                .map_err(|k| ParseError::new(k, i))?;
            i = e + 2;
        }
        if !terminated {
            let kind = if tl < b.len() {
                ErrorKind::InvalidUtf8
            } else {
                ErrorKind::UnterminatedHeaders
            };
            return Err(ParseError::new(kind, tl));
        }
        let start = m.start.take().expect("start line parsed");
        let missing = |h| ParseError::new(ErrorKind::MissingHeader(h), head_len);
        if m.vias.is_empty() {
            return Err(missing("Via"));
        }
        let from = m.from.ok_or_else(|| missing("From"))?;
        let to = m.to.ok_or_else(|| missing("To"))?;
        let call_id = m.call_id.ok_or_else(|| missing("Call-ID"))?;
        let (cseq, cseq_method) = m.cseq.take().ok_or_else(|| missing("CSeq"))?;
        if let Start::Request { method, .. } = &start {
            if *method != cseq_method {
                return Err(ParseError::new(ErrorKind::CSeqMethodMismatch, head_len));
            }
        }
        let avail = b.len() - body_start;
        let (body, trailing) = match m.content_length {
            Some(cl) if cl as usize > avail => {
                return Err(ParseError::new(
                    ErrorKind::BodyTooShort {
                        declared: cl as usize,
                        present: avail,
                    },
                    body_start,
                ));
            }
            Some(cl) => (
                Span::new(body_start, body_start + cl as usize),
                avail - cl as usize,
            ),
            None => (Span::new(body_start, b.len()), 0),
        };
        Ok(Message {
            head_len,
            start,
            start_line: Span::new(p, sl_end),
            headers: m.headers,
            body,
            trailing,
            vias: m.vias,
            from,
            to,
            call_id,
            cseq,
            cseq_method,
            max_forwards: m.max_forwards,
            routes: m.routes,
            record_routes: m.record_routes,
            contacts: m.contacts,
            contact_star: m.contact_star,
            expires: m.expires,
            content_length: m.content_length,
            content_type: m.content_type,
            buf,
        })
    }

    /// The validated start line and header section as text.
    #[allow(unsafe_code)]
    #[inline]
    pub(crate) fn head(&self) -> &str {
        let bytes = &self.buf[..self.head_len];
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        // SAFETY: `parse_with` checked `buf[..head_len]` with `str::from_utf8` before a
        // `Message` was built, and `buf` (an immutable `Bytes`) never changes afterwards.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The message exactly as received (without trailing datagram octets).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.body.end as usize]
    }

    /// The buffer the message was parsed from.
    pub fn buffer(&self) -> &Bytes {
        &self.buf
    }

    /// Octets after the body that Content-Length did not cover (ignored; RFC 3261 §18.3).
    pub fn trailing_octets(&self) -> usize {
        self.trailing
    }

    /// True for a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    /// The start line as received.
    pub fn start_line(&self) -> &str {
        self.start_line.of(self.head())
    }

    /// The request method; `None` for a response.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            Start::Request { method, .. } => Some(method),
            Start::Response { .. } => None,
        }
    }

    /// The Request-URI; `None` for a response.
    pub fn request_uri(&self) -> Option<Uri<'_>> {
        match &self.start {
            Start::Request { uri, .. } => Some(Uri {
                src: self.head(),
                s: *uri,
            }),
            Start::Response { .. } => None,
        }
    }

    /// The status code; `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            Start::Response { code, .. } => Some(*code),
            Start::Request { .. } => None,
        }
    }

    /// The reason phrase; `None` for a request.
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            Start::Response { reason, .. } => Some(reason.of(self.head())),
            Start::Request { .. } => None,
        }
    }

    /// All header fields in order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'_>> + '_ {
        let head = self.head();
        self.headers.iter().map(move |h| Header {
            name: h.name,
            raw_name: h.name_span.of(head),
            value: h.value.of(head),
            raw: h.line.of(head),
        })
    }

    /// The number of header fields.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// The value of the first header field called `name`.
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        let head = self.head();
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value.of(head))
    }

    /// The value of the first header field whose name is `name` (any header, known or not;
    /// ASCII case-insensitive; compact forms match their long names).
    pub fn header_str(&self, name: &str) -> Option<&str> {
        let known = HeaderName::from_bytes(name.as_bytes());
        let head = self.head();
        self.headers
            .iter()
            .find(|h| {
                if known == HeaderName::Other {
                    h.name == HeaderName::Other && h.name_span.of(head).eq_ignore_ascii_case(name)
                } else {
                    h.name == known
                }
            })
            .map(|h| h.value.of(head))
    }

    /// Every comma-separated value of every field called `name`, in order (commas inside
    /// quotes and `<>` do not split).
    pub fn header_values(&self, name: HeaderName) -> Vec<&str> {
        let head = self.head();
        let mut out = Vec::new();
        for h in self.headers.iter().filter(|h| h.name == name) {
            split_commas(h.value.of(head), &mut out);
        }
        out
    }

    /// Decodes every value of a name-addr list header (P-Asserted-Identity, P-Served-User,
    /// Path, Service-Route …) on demand.
    pub fn name_addrs(&self, name: HeaderName) -> Result<Vec<NameAddr<'_>>, ParseError> {
        let head = self.head();
        let mut spans = Vec::new();
        for h in self.headers.iter().filter(|h| h.name == name) {
            let mut c = Cur::new(head, h.value.start as usize, h.value.end as usize);
            name_addr::parse_name_addr_list(&mut c, name.as_str().unwrap_or("header"), |s| {
                spans.push(s)
            })
            .map_err(|k| ParseError::new(k, c.pos))?;
        }
        Ok(spans
            .into_iter()
            .map(|s| NameAddr { src: head, s })
            .collect())
    }

    /// The Via values, topmost first.
    pub fn vias(&self) -> impl ExactSizeIterator<Item = Via<'_>> + '_ {
        let head = self.head();
        self.vias.iter().map(move |v| Via { src: head, s: v.v })
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Via<'_> {
        Via {
            src: self.head(),
            s: self.vias[0].v,
        }
    }

    /// The From header.
    pub fn from(&self) -> NameAddr<'_> {
        NameAddr {
            src: self.head(),
            s: self.from,
        }
    }

    /// The To header.
    pub fn to(&self) -> NameAddr<'_> {
        NameAddr {
            src: self.head(),
            s: self.to,
        }
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        self.call_id.of(self.head())
    }

    /// The CSeq sequence number.
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// The CSeq method.
    pub fn cseq_method(&self) -> &Method {
        &self.cseq_method
    }

    /// Max-Forwards, when present.
    pub fn max_forwards(&self) -> Option<u8> {
        self.max_forwards
    }

    /// Route values, topmost first.
    pub fn routes(&self) -> impl ExactSizeIterator<Item = NameAddr<'_>> + '_ {
        let head = self.head();
        self.routes
            .iter()
            .map(move |v| NameAddr { src: head, s: v.v })
    }

    /// Record-Route values, topmost first.
    pub fn record_routes(&self) -> impl ExactSizeIterator<Item = NameAddr<'_>> + '_ {
        let head = self.head();
        self.record_routes
            .iter()
            .map(move |v| NameAddr { src: head, s: v.v })
    }

    /// Whether Contact is absent, `*`, or a list.
    pub fn contact_kind(&self) -> ContactKind {
        if self.contact_star {
            ContactKind::Star
        } else if self.contacts.is_empty() {
            ContactKind::None
        } else {
            ContactKind::List
        }
    }

    /// Contact values in order (empty for `*`).
    pub fn contacts(&self) -> impl ExactSizeIterator<Item = NameAddr<'_>> + '_ {
        let head = self.head();
        self.contacts
            .iter()
            .map(move |v| NameAddr { src: head, s: v.v })
    }

    /// The Expires header.
    pub fn expires(&self) -> Option<u32> {
        self.expires
    }

    /// The Content-Length header.
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    /// The Content-Type header value.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.map(|s| s.of(self.head()))
    }

    /// The media type of Content-Type without parameters, lower-cased comparison helper.
    pub fn content_type_is(&self, media: &str) -> bool {
        self.content_type().is_some_and(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(media)
        })
    }

    /// The body (a zero-copy slice of the buffer).
    pub fn body(&self) -> Bytes {
        self.buf.slice(self.body.range())
    }

    /// The body as a byte slice.
    pub fn body_bytes(&self) -> &[u8] {
        &self.buf[self.body.range()]
    }

    pub(crate) fn field(&self, i: usize) -> (HeaderName, &str, &str, &str) {
        let h = &self.headers[i];
        let head = self.head();
        (
            h.name,
            h.name_span.of(head),
            h.value.of(head),
            h.line.of(head),
        )
    }

    pub(crate) fn start_line_span(&self) -> Span {
        self.start_line
    }
}

/// Splits a header value at commas outside quoted strings and `<>`, trimming each part.
pub fn split_commas<'a>(v: &'a str, out: &mut Vec<&'a str>) {
    let b = v.as_bytes();
    let (mut start, mut quoted, mut angle, mut i) = (0, false, false, 0);
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                let part = v[start..i].trim();
                if !part.is_empty() {
                    out.push(part);
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let part = v[start.min(v.len())..].trim();
    if !part.is_empty() {
        out.push(part);
    }
}

fn parse_start_line(head: &str, start: usize, end: usize) -> Result<Start, (ErrorKind, usize)> {
    let b = head.as_bytes();
    let line = &b[start..end];
    if line.len() >= 4 && text::eq_ic(&line[..4], b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let sp =
            memchr::memchr(b' ', line).ok_or((ErrorKind::BadStartLine("no status code"), start))?;
        if !text::eq_ic(&line[..sp], b"SIP/2.0") {
            return Err((ErrorKind::UnsupportedVersion, start));
        }
        let cs = sp + 1;
        let mut ce = cs;
        while ce < line.len() && line[ce].is_ascii_digit() {
            ce += 1;
        }
        if ce - cs != 3 {
            return Err((ErrorKind::BadStatusCode, start + cs));
        }
        let code = text::digits(&line[cs..ce], 999).unwrap_or(0) as u16;
        if !(100..=699).contains(&code) {
            return Err((ErrorKind::BadStatusCode, start + cs));
        }
        let reason = if ce == line.len() {
            Span::new(start + ce, start + ce)
        } else if line[ce] == b' ' {
            Span::new(start + ce + 1, end)
        } else {
            return Err((ErrorKind::BadStatusCode, start + cs));
        };
        if reason.of_bytes(b).iter().any(|&c| c < 0x20 && c != b'\t') {
            return Err((
                ErrorKind::BadStartLine("control character in reason phrase"),
                start + ce,
            ));
        }
        return Ok(Start::Response { code, reason });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version
    let shape = ErrorKind::BadStartLine(
        "request line must be `Method SP Request-URI SP SIP/2.0` with single spaces",
    );
    let sp1 = memchr::memchr(b' ', line).ok_or((shape.clone(), start))?;
    let sp2 = memchr::memrchr(b' ', line).ok_or((shape.clone(), start))?;
    if sp1 == 0 || sp2 <= sp1 + 1 || sp2 + 1 == line.len() {
        return Err((shape, start));
    }
    let method = &head[start..start + sp1];
    if !text::is_token(method) {
        return Err((ErrorKind::BadMethod, start));
    }
    let version = &line[sp2 + 1..];
    if !text::eq_ic(version, b"SIP/2.0") {
        let looks_like_sip = version.len() > 4 && text::eq_ic(&version[..4], b"SIP/");
        return Err(if looks_like_sip {
            (ErrorKind::UnsupportedVersion, start + sp2 + 1)
        } else {
            (shape, start + sp2 + 1)
        });
    }
    let (us, ue) = (start + sp1 + 1, start + sp2);
    if line[sp1 + 1..sp2].iter().any(|&c| c == b' ' || c == b'\t') {
        return Err((
            ErrorKind::BadUri("Request-URI contains white space (or the line has extra spaces)"),
            us,
        ));
    }
    let uri = uri::parse_uri(head, us, ue, UriContext::RequestUri).map_err(|k| (k, us))?;
    Ok(Start::Request {
        method: Method::from_token(method),
        uri,
    })
}

impl Builder {
    fn header_line(&mut self, head: &str, i: usize, e: usize) -> Result<(), ErrorKind> {
        let b = head.as_bytes();
        // name *(SP / HTAB) ":" — found with one memchr; a known name is a token by
        // construction, any other name is checked character by character.
        let colon = b[i..e]
            .iter()
            .position(|&c| c == b':')
            .ok_or(ErrorKind::BadHeaderLine)?
            + i;
        let (ns, mut ne) = (i, colon);
        while ne > ns && matches!(b[ne - 1], b' ' | b'\t') {
            ne -= 1;
        }
        let name = HeaderName::from_bytes(&b[ns..ne]);
        if name == HeaderName::Other && !text::is_token(&head[ns..ne]) {
            return Err(ErrorKind::BadHeaderLine);
        }
        let mut c = Cur::new(head, colon + 1, e);
        c.ws();
        let vs = c.pos;
        let mut ve = e;
        while ve > vs && matches!(b[ve - 1], b' ' | b'\t' | b'\r' | b'\n') {
            ve -= 1;
        }
        let idx = self.headers.len() as u16;
        self.headers.push(HeaderField {
            name,
            name_span: Span::new(ns, ne),
            value: Span::new(vs, ve),
            line: Span::new(i, (e + 2).min(b.len())),
        });
        let mut c = Cur::new(head, vs, ve);
        match name {
            HeaderName::Via => loop {
                let v = via::parse_via(&mut c)?;
                self.vias.push(Item { header: idx, v });
                c.ws();
                if c.eat(b',') {
                    c.ws();
                    continue;
                }
                if c.at_end() {
                    break;
                }
                return Err(bad("Via", "unexpected text after a value"));
            },
            HeaderName::From | HeaderName::To => {
                let hn = if name == HeaderName::From {
                    "From"
                } else {
                    "To"
                };
                let slot = if name == HeaderName::From {
                    &mut self.from
                } else {
                    &mut self.to
                };
                if slot.is_some() {
                    return Err(ErrorKind::DuplicateHeader(hn));
                }
                let na = name_addr::parse_name_addr(&mut c, hn)?;
                if !c.at_end() {
                    return Err(bad(hn, "more than one value"));
                }
                *slot = Some(na);
            }
            HeaderName::CallId => {
                if self.call_id.is_some() {
                    return Err(ErrorKind::DuplicateHeader("Call-ID"));
                }
                if vs == ve
                    || !b[vs..ve]
                        .iter()
                        .all(|&x| text::is(x, text::WORD) || x == b'@')
                {
                    return Err(bad("Call-ID", "must be word[@word] without white space"));
                }
                self.call_id = Some(Span::new(vs, ve));
            }
            HeaderName::CSeq => {
                if self.cseq.is_some() {
                    return Err(ErrorKind::DuplicateHeader("CSeq"));
                }
                let ds = c.pos;
                while c.peek().is_some_and(|x| x.is_ascii_digit()) {
                    c.pos += 1;
                }
                let n = text::digits(&b[ds..c.pos], u32::MAX as u64).ok_or(bad(
                    "CSeq",
                    "sequence number is not a 32-bit unsigned integer",
                ))?;
                if !c.ws() {
                    return Err(bad("CSeq", "expected white space before the method"));
                }
                let (ms, me) = c.token().ok_or(bad("CSeq", "missing method"))?;
                if !c.at_end() {
                    return Err(bad("CSeq", "unexpected text after the method"));
                }
                self.cseq = Some((n as u32, Method::from_token(&head[ms..me])));
            }
            HeaderName::MaxForwards => {
                if self.max_forwards.is_some() {
                    return Err(ErrorKind::DuplicateHeader("Max-Forwards"));
                }
                let v = text::digits(&b[vs..ve], 255)
                    .ok_or(bad("Max-Forwards", "not an integer in 0..=255"))?;
                self.max_forwards = Some(v as u8);
            }
            HeaderName::Route | HeaderName::RecordRoute => {
                let hn = if name == HeaderName::Route {
                    "Route"
                } else {
                    "Record-Route"
                };
                let dst = if name == HeaderName::Route {
                    &mut self.routes
                } else {
                    &mut self.record_routes
                };
                name_addr::parse_name_addr_list(&mut c, hn, |v| dst.push(Item { header: idx, v }))?;
            }
            HeaderName::Contact => {
                if &b[vs..ve] == b"*" {
                    if self.contact_star || !self.contacts.is_empty() {
                        return Err(bad("Contact", "`*` must be the only Contact value"));
                    }
                    self.contact_star = true;
                } else {
                    if self.contact_star {
                        return Err(bad("Contact", "`*` must be the only Contact value"));
                    }
                    let dst = &mut self.contacts;
                    name_addr::parse_name_addr_list(&mut c, "Contact", |v| {
                        dst.push(Item { header: idx, v })
                    })?;
                }
            }
            HeaderName::Expires => {
                if self.expires.is_some() {
                    return Err(ErrorKind::DuplicateHeader("Expires"));
                }
                let v = text::digits(&b[vs..ve], u32::MAX as u64)
                    .ok_or(bad("Expires", "not a 32-bit delta-seconds value"))?;
                self.expires = Some(v as u32);
            }
            HeaderName::ContentLength => {
                if self.content_length.is_some() {
                    return Err(ErrorKind::DuplicateHeader("Content-Length"));
                }
                let v = text::digits(&b[vs..ve], u32::MAX as u64)
                    .ok_or(bad("Content-Length", "not a non-negative integer"))?;
                self.content_length = Some(v as u32);
            }
            HeaderName::ContentType => {
                if self.content_type.is_some() {
                    return Err(ErrorKind::DuplicateHeader("Content-Type"));
                }
                let (ts, te) = c.token().ok_or(bad("Content-Type", "missing media type"))?;
                c.ws();
                let slash = c.eat(b'/');
                c.ws();
                if !slash || c.token().is_none() || ts == te {
                    return Err(bad("Content-Type", "expected type/subtype"));
                }
                self.content_type = Some(Span::new(vs, ve));
            }
            _ => {}
        }
        Ok(())
    }
}
