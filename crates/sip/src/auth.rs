//! Authentication headers (RFC 3261 §20.7, §20.27, §20.28, §20.44, §25.1; RFC 7616/8760):
//! `Authorization`, `Proxy-Authorization`, `WWW-Authenticate`, `Proxy-Authenticate`.
//!
//! [`AuthHeader::parse`] splits `scheme param=value, param="quoted", …` into a scheme and
//! an ordered list of parameters (quoted values unquoted on access). Unknown schemes parse too
//! (RFC 4475 `regaut01`): whether a scheme is acceptable is the registrar's decision.

use std::borrow::Cow;

use crate::error::{ErrorKind, ParseError};
use crate::text::{self, Cur};

/// A parsed credentials or challenge value.
#[derive(Debug, Clone)]
pub struct AuthHeader<'a> {
    scheme: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

fn bad(reason: &'static str, at: usize) -> ParseError {
    ParseError::new(
        ErrorKind::BadHeader {
            header: "Authorization",
            reason,
        },
        at,
    )
}

impl<'a> AuthHeader<'a> {
    /// Parses `scheme [auth-param *("," auth-param)]`.
    pub fn parse(s: &'a str) -> Result<AuthHeader<'a>, ParseError> {
        let mut c = Cur::new(s, 0, s.len());
        c.ws();
        let (ss, se) = c.token().ok_or_else(|| bad("missing scheme", c.pos))?;
        let mut params = Vec::new();
        if !c.ws() && !c.at_end() {
            return Err(bad("expected white space after the scheme", c.pos));
        }
        while !c.at_end() {
            let (ns, ne) = c
                .token()
                .ok_or_else(|| bad("malformed parameter name", c.pos))?;
            c.ws();
            if !c.eat(b'=') {
                return Err(bad("expected `=` after a parameter name", c.pos));
            }
            c.ws();
            let vs = c.pos;
            if c.peek() == Some(b'"') {
                c.quoted()
                    .ok_or_else(|| bad("unterminated quoted value", vs))?;
            } else {
                c.take(text::TOKEN | text::HOST);
                while c
                    .peek()
                    .is_some_and(|b| b == b'/' || b == b':' || b == b'=')
                {
                    c.pos += 1;
                    c.take(text::TOKEN | text::HOST);
                }
            }
            if c.pos == vs {
                return Err(bad("empty parameter value", vs));
            }
            params.push((&s[ns..ne], &s[vs..c.pos]));
            c.ws();
            if c.eat(b',') {
                c.ws();
            } else if !c.at_end() {
                return Err(bad("expected `,` between parameters", c.pos));
            }
        }
        Ok(AuthHeader {
            scheme: &s[ss..se],
            params,
        })
    }

    /// The scheme (`Digest`, …) as written.
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// True for the Digest scheme (case-insensitive).
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("digest")
    }

    /// The parameters in order, values as written (quotes kept).
    pub fn params(&self) -> &[(&'a str, &'a str)] {
        &self.params
    }

    /// A parameter's value with quotes and escapes removed (name is case-insensitive).
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| text::unquote(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_credentials() {
        let a = AuthHeader::parse(
            "Digest username=\"alice\", realm=\"cpm.example.com\", nonce=\"MTc2N\", uri=\"sip:cpm.example.com\", response=\"6629fae4\", algorithm=SHA-256, cnonce=\"0a4f113b\", qop=auth, nc=00000001",
        )
        .unwrap();
        assert!(a.is_digest());
        assert_eq!(a.param("username").as_deref(), Some("alice"));
        assert_eq!(a.param("ALGORITHM").as_deref(), Some("SHA-256"));
        assert_eq!(a.param("nc").as_deref(), Some("00000001"));
        assert_eq!(a.params().len(), 9);
    }

    #[test]
    fn unknown_scheme_and_errors() {
        let a = AuthHeader::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(a.scheme(), "NoOneKnowsThisScheme");
        assert!(!a.is_digest());
        assert!(AuthHeader::parse("Digest realm=\"x").is_err());
        assert!(AuthHeader::parse("Digest realm").is_err());
        assert!(AuthHeader::parse("").is_err());
    }
}
