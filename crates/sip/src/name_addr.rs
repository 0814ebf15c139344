//! `name-addr` / `addr-spec` header values (From, To, Contact, Route, Record-Route,
//! P-Asserted-Identity …) with their header parameters.

use std::borrow::Cow;

use crate::error::{ErrorKind, ParseError};
use crate::params::{self, Params};
use crate::span::Span;
use crate::text::{self, Cur};
use crate::uri::{self, Uri, UriContext, UriSpans};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct NameAddrSpans {
    pub(crate) all: Span,
    pub(crate) display: Option<Span>,
    pub(crate) uri: UriSpans,
    pub(crate) angle: bool,
    pub(crate) params: Span,
    pub(crate) tag: Option<Span>,
}

/// A `name-addr` or `addr-spec` with header parameters: a view into the message.
#[derive(Clone, Copy)]
pub struct NameAddr<'a> {
    pub(crate) src: &'a str,
    pub(crate) s: NameAddrSpans,
}

impl std::fmt::Debug for NameAddr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NameAddr({})", self.as_str())
    }
}

impl<'a> NameAddr<'a> {
    /// Parses one value (e.g. `"Alice" <sip:alice@example.com>;tag=1`).
    pub fn parse(s: &'a str) -> Result<NameAddr<'a>, ParseError> {
        let mut c = Cur::new(s, 0, s.len());
        c.ws();
        let spans = parse_name_addr(&mut c, "name-addr").map_err(|k| ParseError::new(k, c.pos))?;
        if !c.at_end() {
            return Err(ParseError::new(
                ErrorKind::BadHeader {
                    header: "name-addr",
                    reason: "unexpected text after the value",
                },
                c.pos,
            ));
        }
        Ok(NameAddr { src: s, s: spans })
    }

    /// The whole value as received.
    pub fn as_str(&self) -> &'a str {
        self.s.all.of(self.src)
    }
    /// The URI.
    pub fn uri(&self) -> Uri<'a> {
        Uri {
            src: self.src,
            s: self.s.uri,
        }
    }
    /// The display name as written (quotes kept).
    pub fn display_raw(&self) -> Option<&'a str> {
        self.s.display.map(|d| d.of(self.src))
    }
    /// The display name with quotes and escapes removed.
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        self.display_raw().map(text::unquote)
    }
    /// True when the URI was enclosed in `<>`.
    pub fn has_angle_brackets(&self) -> bool {
        self.s.angle
    }
    /// Header parameters (after the URI).
    pub fn params(&self) -> Params<'a> {
        Params::new(self.s.params.of(self.src))
    }
    /// One header parameter.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params().get(name)
    }
    /// The `tag` parameter (From/To).
    pub fn tag(&self) -> Option<&'a str> {
        self.s.tag.map(|t| t.of(self.src))
    }
}

/// Parses one name-addr/addr-spec plus header params at the cursor (whitespace already
/// skipped); stops before `,` or the end.
pub(crate) fn parse_name_addr(
    c: &mut Cur<'_>,
    header: &'static str,
) -> Result<NameAddrSpans, ErrorKind> {
    let bad = |reason| ErrorKind::BadHeader { header, reason };
    let start = c.pos;
    let mut display = None;
    let src = c.s;
    // Decide between name-addr (display name and/or '<') and addr-spec.
    match c.peek() {
        None => return Err(bad("empty value")),
        Some(b'"') => {
            let (s, e) = c.quoted().ok_or(bad("unterminated quoted display name"))?;
            display = Some(Span::new(s, e));
            c.ws();
        }
        Some(b'<') => {}
        Some(_) => {
            // *(token LWS) before '<', or an addr-spec whose scheme is followed by ':'.
            let save = c.pos;
            let mut last_end;
            let addr_spec = loop {
                let Some((_, e)) = c.token() else {
                    return Err(bad("display name with non-token characters must be quoted"));
                };
                last_end = e;
                if c.peek() == Some(b':') {
                    break true;
                }
                c.ws();
                if c.peek() == Some(b'<') {
                    break false;
                }
            };
            if !addr_spec {
                display = Some(Span::new(save, last_end));
            } else {
                c.pos = save;
                let e = addr_spec_end(c);
                let uri = uri::parse_uri(c.src, c.pos, e, UriContext::AddrSpec)?;
                c.pos = e;
                let (params, tag) = params::header_params(c, header, b"tag")?;
                return Ok(NameAddrSpans {
                    all: Span::new(
                        start,
                        if params.is_empty() {
                            e
                        } else {
                            params.end as usize
                        },
                    ),
                    display: None,
                    uri,
                    angle: false,
                    params,
                    tag,
                });
            }
        }
    }
    if !c.eat(b'<') {
        return Err(bad("expected `<` after the display name"));
    }
    let us = c.pos;
    let close = memchr::memchr(b'>', &src[us..c.end]).ok_or(bad("missing `>`"))? + us;
    let uri = uri::parse_uri(c.src, us, close, UriContext::Angle)?;
    c.pos = close + 1;
    let (params, tag) = params::header_params(c, header, b"tag")?;
    Ok(NameAddrSpans {
        all: Span::new(
            start,
            if params.is_empty() {
                close + 1
            } else {
                params.end as usize
            },
        ),
        display,
        uri,
        angle: true,
        params,
        tag,
    })
}

/// End of a bare addr-spec: it runs to `;`, `,`, whitespace or the end of the value.
fn addr_spec_end(c: &Cur<'_>) -> usize {
    let mut i = c.pos;
    while i < c.end && !matches!(c.s[i], b';' | b',' | b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// Parses a comma-separated list of name-addrs covering the whole value.
pub(crate) fn parse_name_addr_list(
    c: &mut Cur<'_>,
    header: &'static str,
    mut push: impl FnMut(NameAddrSpans),
) -> Result<(), ErrorKind> {
    loop {
        c.ws();
        push(parse_name_addr(c, header)?);
        c.ws();
        if c.eat(b',') {
            continue;
        }
        if c.at_end() {
            return Ok(());
        }
        return Err(ErrorKind::BadHeader {
            header,
            reason: "unexpected text after a value",
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let n = NameAddr::parse(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(n.tag(), Some("98asjd8"));
        assert_eq!(n.display_name().as_deref(), Some("J Rosenberg \\\""));
        let n = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display_raw(), Some("caller"));
        let n = NameAddr::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert_eq!(n.uri().as_str(), "sip:+19725552222@gw1.example.net");
        assert!(n.param("unknownparam").is_some());
        let n = NameAddr::parse("isbn:2983792873").unwrap();
        assert_eq!(n.uri().scheme_str(), "isbn");
    }

    #[test]
    fn rejects() {
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "<sip:a@b>;;",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad:?} should fail");
        }
    }
}
