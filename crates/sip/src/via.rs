//! The Via header (RFC 3261 §20.42, §18.2.1; RFC 3581 `rport`).

use crate::error::{ErrorKind, ParseError};
use crate::params::{self, Params};
use crate::span::Span;
use crate::text::{self, Cur};
use crate::uri::{self, HostKind};

/// The magic cookie that starts an RFC 3261 branch.
pub const BRANCH_MAGIC: &str = "z9hG4bK";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ViaSpans {
    pub(crate) all: Span,
    pub(crate) transport: Span,
    pub(crate) host: Span,
    pub(crate) host_kind: HostKind,
    pub(crate) port: Option<u16>,
    pub(crate) params: Span,
    pub(crate) branch: Option<Span>,
}

/// One Via value: a view into the message.
#[derive(Clone, Copy)]
pub struct Via<'a> {
    pub(crate) src: &'a str,
    pub(crate) s: ViaSpans,
}

impl std::fmt::Debug for Via<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Via({})", self.as_str())
    }
}

impl<'a> Via<'a> {
    /// Parses a single Via value (`SIP/2.0/UDP host:port;branch=…`).
    pub fn parse(s: &'a str) -> Result<Via<'a>, ParseError> {
        let mut c = Cur::new(s, 0, s.len());
        c.ws();
        let spans = parse_via(&mut c).map_err(|k| ParseError::new(k, c.pos))?;
        c.ws();
        if !c.at_end() {
            return Err(ParseError::new(
                ErrorKind::BadHeader {
                    header: "Via",
                    reason: "more than one value",
                },
                c.pos,
            ));
        }
        Ok(Via { src: s, s: spans })
    }

    /// The value as received.
    pub fn as_str(&self) -> &'a str {
        self.s.all.of(self.src)
    }
    /// The transport (`UDP`, `TCP`, `TLS`, `SCTP`, `WS` … as written).
    pub fn transport(&self) -> &'a str {
        self.s.transport.of(self.src)
    }
    /// The sent-by host (IPv6 with brackets).
    pub fn host(&self) -> &'a str {
        self.s.host.of(self.src)
    }
    /// What kind of host sent-by names.
    pub fn host_kind(&self) -> HostKind {
        self.s.host_kind
    }
    /// The sent-by port, if given.
    pub fn port(&self) -> Option<u16> {
        self.s.port
    }
    /// All Via parameters.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.s.params.of(self.src))
    }
    /// One parameter.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params().get(name)
    }
    /// The branch parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.s.branch.map(|b| b.of(self.src))
    }
    /// True when the branch starts with the RFC 3261 magic cookie and has more after it.
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > BRANCH_MAGIC.len() && b.starts_with(BRANCH_MAGIC))
    }
    /// The `received` parameter.
    pub fn received(&self) -> Option<&'a str> {
        self.param("received").flatten()
    }
    /// `rport`: `None` when absent, `Some(None)` when requested without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|v| v.and_then(|p| p.parse().ok()))
    }
    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.param("maddr").flatten()
    }
    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.param("ttl").flatten().and_then(|t| t.parse().ok())
    }
}

/// Parses one Via value at the cursor; stops before `,` or the end.
pub(crate) fn parse_via(c: &mut Cur<'_>) -> Result<ViaSpans, ErrorKind> {
    let bad = |reason| ErrorKind::BadHeader {
        header: "Via",
        reason,
    };
    let start = c.pos;
    let (ps, pe) = c.token().ok_or(bad("missing protocol name"))?;
    c.ws();
    if !c.eat(b'/') {
        return Err(bad("expected `/` after the protocol name"));
    }
    c.ws();
    let (vs, ve) = c.token().ok_or(bad("missing protocol version"))?;
    if !text::eq_ic(&c.s[ps..pe], b"SIP") || &c.s[vs..ve] != b"2.0" {
        return Err(ErrorKind::UnsupportedVersion);
    }
    c.ws();
    if !c.eat(b'/') {
        return Err(bad("expected `/` before the transport"));
    }
    c.ws();
    let (ts, te) = c.token().ok_or(bad("missing transport"))?;
    if !c.ws() {
        return Err(bad("expected white space before sent-by"));
    }
    let (host, host_kind, port) = uri::parse_hostport(c, true).map_err(bad)?;
    let (params, branch) = params::header_params(c, "Via", b"branch")?;
    let end = if params.is_empty() {
        // sent-by (and optional port) end: trim trailing whitespace
        let mut e = c.pos;
        while e > start && matches!(c.s[e - 1], b' ' | b'\t' | b'\r' | b'\n') {
            e -= 1;
        }
        e
    } else {
        params.end as usize
    };
    Ok(ViaSpans {
        all: Span::new(start, end),
        transport: Span::new(ts, te),
        host,
        host_kind,
        port,
        params,
        branch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_via() {
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport(), "UDP");
        assert_eq!(v.host(), "192.0.2.2");
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.is_rfc3261_branch());
        let v =
            Via::parse("SIP/2.0/TCP [2001:db8::9]:5070;rport;received=192.0.2.4;branch=z9hG4bKx")
                .unwrap();
        assert_eq!(v.port(), Some(5070));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received(), Some("192.0.2.4"));
        assert!(v.is_rfc3261_branch());
    }

    #[test]
    fn rejects() {
        assert!(Via::parse("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(Via::parse("SIP/7.0/UDP c.example.com").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
    }
}
