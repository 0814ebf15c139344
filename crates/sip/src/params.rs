//! Parameters: `;name[=value]` lists of URIs and header values.
//!
//! [`Params`] iterates a parameter list lazily (whitespace around `;` and `=` allowed, quoted
//! values kept with their quotes). `header_params` validates one at parse time.

use crate::error::ErrorKind;
use crate::span::Span;
use crate::text::{self, Cur};

/// Lazily iterates `;name[=value]` pairs. Names compare case-insensitively via [`Params::get`].
#[derive(Clone, Copy, Debug)]
pub struct Params<'a> {
    rest: &'a str,
}

impl<'a> Params<'a> {
    /// Parameters from text that starts at the first `;` (or is empty).
    pub fn new(s: &'a str) -> Params<'a> {
        Params { rest: s }
    }

    /// The raw text, including the leading `;`.
    pub fn as_str(&self) -> &'a str {
        self.rest
    }

    /// Looks a parameter up by name (ASCII case-insensitive). `Some(None)` when it has no
    /// value.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.clone()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// True when the parameter is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.rest.as_bytes();
        let mut i = 0;
        let ws = |i: &mut usize| {
            while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\r' | b'\n') {
                *i += 1;
            }
        };
        ws(&mut i);
        if i >= b.len() || b[i] != b';' {
            self.rest = "";
            return None;
        }
        i += 1;
        ws(&mut i);
        let ns = i;
        while i < b.len()
            && !matches!(
                b[i],
                b';' | b'=' | b' ' | b'\t' | b'\r' | b'\n' | b',' | b'?' | b'>'
            )
        {
            i += 1;
        }
        let name = &self.rest[ns..i];
        ws(&mut i);
        let mut value = None;
        if i < b.len() && b[i] == b'=' {
            i += 1;
            ws(&mut i);
            let vs = i;
            if i < b.len() && b[i] == b'"' {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
            } else {
                while i < b.len()
                    && !matches!(
                        b[i],
                        b';' | b' ' | b'\t' | b'\r' | b'\n' | b',' | b'?' | b'>'
                    )
                {
                    i += 1;
                }
            }
            value = Some(&self.rest[vs..i]);
        }
        self.rest = &self.rest[i..];
        Some((name, value))
    }
}

/// Validates `*( SWS ";" SWS generic-param )` at the cursor, stopping before `,` or the end.
/// Returns the span from the first `;` and the value of the `tag` parameter (or `branch`,
/// as `key` says) if present.
pub(crate) fn header_params(
    c: &mut Cur<'_>,
    header: &'static str,
    key: &[u8],
) -> Result<(Span, Option<Span>), ErrorKind> {
    let bad = |reason| ErrorKind::BadHeader { header, reason };
    c.ws();
    let start = c.pos;
    let mut end = c.pos;
    let mut found = None;
    while c.eat(b';') {
        c.ws();
        let (ns, ne) = c.token().ok_or(bad("empty or malformed parameter"))?;
        c.ws();
        let mut value = None;
        if c.eat(b'=') {
            c.ws();
            let vs = c.pos;
            if c.peek() == Some(b'"') {
                c.quoted()
                    .ok_or(bad("unterminated quoted parameter value"))?;
            } else if c.peek() == Some(b'[') {
                // IPv6 reference as a value (received, maddr).
                while c.peek().is_some_and(|b| b != b']') {
                    c.pos += 1;
                }
                if !c.eat(b']') {
                    return Err(bad("unterminated IPv6 reference"));
                }
            } else {
                c.take(text::TOKEN | text::HOST);
                while c.eat(b':') {
                    c.take(text::TOKEN);
                }
                if c.pos == vs {
                    return Err(bad("empty parameter value"));
                }
            }
            value = Some(Span::new(vs, c.pos));
        }
        if text::eq_ic(&c.s[ns..ne], key) {
            found = value;
        }
        end = c.pos;
        c.ws();
    }
    c.pos = end.max(start);
    c.ws();
    match c.peek() {
        None | Some(b',') => Ok((Span::new(start, end), found)),
        Some(_) => Err(bad("unexpected character after parameters")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_with_whitespace_and_quotes() {
        let p = Params::new(" ; tag = 98asjd8 ;q=0.5;lr; x=\"a;b\"");
        let v: Vec<_> = p.collect();
        assert_eq!(
            v,
            vec![
                ("tag", Some("98asjd8")),
                ("q", Some("0.5")),
                ("lr", None),
                ("x", Some("\"a;b\""))
            ]
        );
        assert_eq!(Params::new(";Branch=z9").get("branch"), Some(Some("z9")));
    }
}
