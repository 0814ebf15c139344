//! URIs: `sip:`, `sips:`, `tel:` (RFC 3966), `mailto:` and any other absolute URI.
//!
//! [`Uri`] is a zero-copy view: spans into the text it was parsed from. SIP URIs are decoded
//! into user, password, host, port, parameters and headers (RFC 3261 §19.1, §25.1); `tel:`
//! into the number and its parameters; other schemes keep their opaque part. `%HH` escapes
//! are validated but kept; [`crate::unescape`] decodes them once.

use crate::error::{ErrorKind, ParseError};
use crate::params::Params;
use crate::span::Span;
use crate::text::{self, Cur};

/// The URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scheme {
    /// `sip:` (RFC 3261).
    #[default]
    Sip,
    /// `sips:` (RFC 3261).
    Sips,
    /// `tel:` (RFC 3966).
    Tel,
    /// `mailto:` (RFC 6068).
    Mailto,
    /// Any other absolute URI scheme (`urn:`, `http:`, `im:` …).
    Other,
}

/// What kind of host a SIP URI or Via names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HostKind {
    /// A DNS name.
    #[default]
    Domain,
    /// A dotted IPv4 address.
    Ipv4,
    /// An IPv6 reference in brackets.
    Ipv6,
}

/// Where a URI stands, which decides what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UriContext {
    /// The Request-URI: headers (`?…`) are not allowed (RFC 3261 §19.1.1).
    RequestUri,
    /// Inside `<>`: anything a URI may hold.
    Angle,
    /// A bare addr-spec in a header: must not contain `?` (RFC 3261 §20).
    AddrSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct UriSpans {
    pub(crate) all: Span,
    pub(crate) scheme: Scheme,
    pub(crate) scheme_span: Span,
    /// Everything after `scheme:`.
    pub(crate) rest: Span,
    pub(crate) user: Option<Span>,
    pub(crate) password: Option<Span>,
    pub(crate) host: Span,
    pub(crate) host_kind: HostKind,
    pub(crate) port: Option<u16>,
    /// `;a=b;c` including the leading `;`, empty when there are none.
    pub(crate) params: Span,
    /// After the `?`, without it.
    pub(crate) headers: Option<Span>,
}

/// A parsed URI: a view into the text it came from.
#[derive(Clone, Copy)]
pub struct Uri<'a> {
    pub(crate) src: &'a str,
    pub(crate) s: UriSpans,
}

impl std::fmt::Debug for Uri<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Uri({})", self.as_str())
    }
}

impl std::fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'a> Uri<'a> {
    /// Parses a whole string as a URI (as it would stand inside `<>`).
    pub fn parse(s: &'a str) -> Result<Uri<'a>, ParseError> {
        parse_uri(s, 0, s.len(), UriContext::Angle)
            .map(|spans| Uri { src: s, s: spans })
            .map_err(|k| ParseError::new(k, 0))
    }

    /// The URI text exactly as received.
    pub fn as_str(&self) -> &'a str {
        self.s.all.of(self.src)
    }
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.s.scheme
    }
    /// The scheme as written (`sip`, `TEL`, `urn` …).
    pub fn scheme_str(&self) -> &'a str {
        self.s.scheme_span.of(self.src)
    }
    /// True for `sip:` and `sips:`.
    pub fn is_sip(&self) -> bool {
        matches!(self.s.scheme, Scheme::Sip | Scheme::Sips)
    }
    /// Everything after `scheme:`.
    pub fn rest(&self) -> &'a str {
        self.s.rest.of(self.src)
    }
    /// The user part of a SIP URI (escapes kept), or the number of a `tel:` URI.
    pub fn user(&self) -> Option<&'a str> {
        self.s.user.map(|s| s.of(self.src))
    }
    /// The password of a SIP URI.
    pub fn password(&self) -> Option<&'a str> {
        self.s.password.map(|s| s.of(self.src))
    }
    /// The host of a SIP URI (IPv6 with its brackets); empty for other schemes.
    pub fn host(&self) -> &'a str {
        self.s.host.of(self.src)
    }
    /// What kind of host this is.
    pub fn host_kind(&self) -> HostKind {
        self.s.host_kind
    }
    /// The explicit port of a SIP URI.
    pub fn port(&self) -> Option<u16> {
        self.s.port
    }
    /// The URI parameters (SIP and tel).
    pub fn params(&self) -> Params<'a> {
        Params::new(self.s.params.of(self.src))
    }
    /// One URI parameter: `Some(None)` when present without a value.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params().get(name)
    }
    /// The headers part after `?`.
    pub fn headers(&self) -> Option<&'a str> {
        self.s.headers.map(|s| s.of(self.src))
    }
    /// The telephone number: from a `tel:` URI, or a SIP URI with `user=phone`.
    pub fn phone_number(&self) -> Option<&'a str> {
        match self.s.scheme {
            Scheme::Tel => self.user(),
            Scheme::Sip | Scheme::Sips
                if self
                    .param("user")
                    .flatten()
                    .is_some_and(|v| v.eq_ignore_ascii_case("phone")) =>
            {
                self.user().map(|u| u.split(';').next().unwrap_or(u))
            }
            _ => None,
        }
    }
}

fn is_ipv4(s: &[u8]) -> bool {
    if !s.first().is_some_and(u8::is_ascii_digit) || !s.last().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let mut parts = 0;
    for part in s.split(|&b| b == b'.') {
        parts += 1;
        if part.is_empty() || part.len() > 3 || text::digits(part, 255).is_none() {
            return false;
        }
    }
    parts == 4
}

/// Parses `host [":" port]` at the cursor; used by URIs and Via sent-by.
pub(crate) fn parse_hostport(
    c: &mut Cur<'_>,
    port_ws: bool,
) -> Result<(Span, HostKind, Option<u16>), &'static str> {
    let start = c.pos;
    let kind = if c.eat(b'[') {
        while let Some(b) = c.peek() {
            if b.is_ascii_hexdigit() || b == b':' || b == b'.' {
                c.pos += 1;
            } else {
                break;
            }
        }
        if !c.eat(b']') || c.pos - start < 4 {
            return Err("bad IPv6 reference");
        }
        HostKind::Ipv6
    } else {
        c.take(text::HOST);
        let h = &c.s[start..c.pos];
        if h.is_empty() {
            return Err("missing host");
        }
        if h.first() == Some(&b'-') || h.first() == Some(&b'.') {
            return Err("bad host name");
        }
        if is_ipv4(h) {
            HostKind::Ipv4
        } else {
            HostKind::Domain
        }
    };
    let host = Span::new(start, c.pos);
    let save = c.pos;
    if port_ws {
        c.ws();
    }
    if c.eat(b':') {
        if port_ws {
            c.ws();
        }
        let ps = c.pos;
        while c.peek().is_some_and(|b| b.is_ascii_digit()) {
            c.pos += 1;
        }
        let port = text::digits(&c.s[ps..c.pos], 65535).ok_or("bad port")?;
        Ok((host, kind, Some(port as u16)))
    } else {
        c.pos = save;
        Ok((host, kind, None))
    }
}

/// Parses `;name[=value]` URI parameters at the cursor (no whitespace allowed).
fn uri_params(c: &mut Cur<'_>) -> Result<Span, &'static str> {
    let start = c.pos;
    while c.eat(b';') {
        let ns = c.pos;
        if !c.take_escaped(text::PARAM) {
            return Err("bad escape in URI parameter");
        }
        if c.pos == ns {
            return Err("empty URI parameter");
        }
        if c.eat(b'=') {
            let vs = c.pos;
            if !c.take_escaped(text::PARAM) {
                return Err("bad escape in URI parameter");
            }
            if c.pos == vs {
                return Err("empty URI parameter value");
            }
        }
    }
    Ok(Span::new(start, c.pos))
}

/// Parses the URI occupying exactly `src[start..end]`.
pub(crate) fn parse_uri(
    src: &str,
    start: usize,
    end: usize,
    ctx: UriContext,
) -> Result<UriSpans, ErrorKind> {
    let b = src.as_bytes();
    let mut c = Cur::new(src, start, end);
    if !c.peek().is_some_and(|x| x.is_ascii_alphabetic()) {
        return Err(ErrorKind::BadUri("does not start with a scheme"));
    }
    c.take(text::SCHEME);
    let scheme_span = Span::new(start, c.pos);
    if !c.eat(b':') {
        return Err(ErrorKind::BadUri("no `:` after the scheme"));
    }
    let sch = scheme_span.of_bytes(b);
    let scheme = if text::eq_ic(sch, b"sip") {
        Scheme::Sip
    } else if text::eq_ic(sch, b"sips") {
        Scheme::Sips
    } else if text::eq_ic(sch, b"tel") {
        Scheme::Tel
    } else if text::eq_ic(sch, b"mailto") {
        Scheme::Mailto
    } else {
        Scheme::Other
    };
    let mut u = UriSpans {
        all: Span::new(start, end),
        scheme,
        scheme_span,
        rest: Span::new(c.pos, end),
        params: Span::new(end, end),
        host: Span::new(c.pos, c.pos),
        ..UriSpans::default()
    };
    match scheme {
        Scheme::Sip | Scheme::Sips => {
            let body = &b[c.pos..end];
            if let Some(at) = memchr::memchr(b'@', body) {
                let at = c.pos + at;
                let us = c.pos;
                let mut uc = Cur::new(src, us, at);
                if !uc.take_escaped(text::USER) {
                    return Err(ErrorKind::BadUri("bad escape in user part"));
                }
                if uc.pos == us {
                    return Err(ErrorKind::BadUri("empty user part"));
                }
                u.user = Some(Span::new(us, uc.pos));
                if uc.eat(b':') {
                    let ps = uc.pos;
                    if !uc.take_escaped(text::PASSWORD) {
                        return Err(ErrorKind::BadUri("bad escape in password"));
                    }
                    u.password = Some(Span::new(ps, uc.pos));
                }
                if uc.pos != at {
                    return Err(ErrorKind::BadUri("invalid character in user part"));
                }
                c.pos = at + 1;
            }
            let (host, kind, port) = parse_hostport(&mut c, false).map_err(ErrorKind::BadUri)?;
            u.host = host;
            u.host_kind = kind;
            u.port = port;
            u.params = uri_params(&mut c).map_err(ErrorKind::BadUri)?;
            if c.eat(b'?') {
                if ctx != UriContext::Angle {
                    return Err(ErrorKind::BadUri(
                        "headers (`?…`) are not allowed here; enclose the URI in <>",
                    ));
                }
                let hs = c.pos;
                loop {
                    if !c.take_escaped(text::HNV | text::UNRESERVED) {
                        return Err(ErrorKind::BadUri("bad escape in URI headers"));
                    }
                    if !(c.eat(b'=') || c.eat(b'&')) {
                        break;
                    }
                }
                u.headers = Some(Span::new(hs, c.pos));
            }
            if !c.at_end() {
                return Err(ErrorKind::BadUri("unexpected character in SIP URI"));
            }
        }
        Scheme::Tel => {
            let ns = c.pos;
            while c.peek().is_some_and(|x| {
                x.is_ascii_hexdigit() || matches!(x, b'*' | b'#' | b'+' | b'-' | b'.' | b'(' | b')')
            }) {
                c.pos += 1;
            }
            if c.pos == ns {
                return Err(ErrorKind::BadUri("empty telephone number"));
            }
            u.user = Some(Span::new(ns, c.pos));
            u.params = uri_params(&mut c).map_err(ErrorKind::BadUri)?;
            if !c.at_end() {
                return Err(ErrorKind::BadUri("unexpected character in tel URI"));
            }
        }
        Scheme::Mailto | Scheme::Other => {
            let rs = c.pos;
            if !c.take_escaped(text::URIC) {
                return Err(ErrorKind::BadUri("bad escape"));
            }
            if c.pos == rs {
                return Err(ErrorKind::BadUri("empty URI after the scheme"));
            }
            if !c.at_end() {
                return Err(ErrorKind::BadUri("unexpected character in URI"));
            }
            if ctx == UriContext::AddrSpec && b[rs..c.pos].contains(&b'?') {
                return Err(ErrorKind::BadUri("a URI with `?` must be enclosed in <>"));
            }
        }
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let u = Uri::parse("sip:alice:pw@[2001:db8::1]:5061;transport=tcp;lr?Subject=hi").unwrap();
        assert_eq!(u.scheme(), Scheme::Sip);
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.password(), Some("pw"));
        assert_eq!(u.host(), "[2001:db8::1]");
        assert_eq!(u.host_kind(), HostKind::Ipv6);
        assert_eq!(u.port(), Some(5061));
        assert_eq!(u.param("transport"), Some(Some("tcp")));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.headers(), Some("Subject=hi"));
    }

    #[test]
    fn tel_and_phone() {
        let u = Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert_eq!(u.phone_number(), Some("+1-201-555-0123"));
        let u = Uri::parse("sip:+15551230001@example.com;user=phone").unwrap();
        assert_eq!(u.phone_number(), Some("+15551230001"));
        assert_eq!(u.host_kind(), HostKind::Domain);
    }

    #[test]
    fn other_schemes() {
        assert_eq!(
            Uri::parse("mailto:bob@example.org").unwrap().scheme(),
            Scheme::Mailto
        );
        let u = Uri::parse("urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg").unwrap();
        assert_eq!(u.scheme(), Scheme::Other);
        assert_eq!(u.rest(), "urn-7:3gpp-service.ims.icsi.oma.cpm.msg");
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "sip:",
            "sip:@host",
            "sip:a@",
            "sip:host;;x",
            "sip:h:99999",
            "<sip:a@b>",
            "sip:a b@c",
            "sip:%zz@h",
            "1sip:x",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad:?} should fail");
        }
        let ipv4 = Uri::parse("sip:192.0.2.1:5060").unwrap();
        assert_eq!(ipv4.host_kind(), HostKind::Ipv4);
    }
}
