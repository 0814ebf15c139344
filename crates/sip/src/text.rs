//! Character classes and a byte cursor for the RFC 3261 §25 grammar.
//!
//! All scanning is over ASCII delimiters, so every position a scanner stops at is a UTF-8
//! character boundary of the (already validated) header text.

pub(crate) const TOKEN: u16 = 1;
pub(crate) const WORD: u16 = 1 << 1;
pub(crate) const UNRESERVED: u16 = 1 << 2;
pub(crate) const USER: u16 = 1 << 3;
pub(crate) const PASSWORD: u16 = 1 << 4;
pub(crate) const PARAM: u16 = 1 << 5;
pub(crate) const HNV: u16 = 1 << 6;
pub(crate) const HOST: u16 = 1 << 7;
pub(crate) const SCHEME: u16 = 1 << 8;
pub(crate) const URIC: u16 = 1 << 9;

const fn build() -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let alnum = b.is_ascii_alphanumeric();
        let mut v = 0u16;
        let mark = matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        );
        if alnum
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            )
        {
            v |= TOKEN;
        }
        if alnum
            || matches!(
                b,
                b'-' | b'.'
                    | b'!'
                    | b'%'
                    | b'*'
                    | b'_'
                    | b'+'
                    | b'`'
                    | b'\''
                    | b'~'
                    | b'('
                    | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            )
        {
            v |= WORD;
        }
        if alnum || mark {
            v |= UNRESERVED;
        }
        if alnum || mark || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
            v |= USER;
        }
        if alnum || mark || matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            v |= PASSWORD;
        }
        if alnum || mark || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
            v |= PARAM;
        }
        if alnum || mark || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
            v |= HNV;
        }
        if alnum || matches!(b, b'-' | b'.' | b'_') {
            v |= HOST;
        }
        if alnum || matches!(b, b'+' | b'-' | b'.') {
            v |= SCHEME;
        }
        // Characters allowed in an opaque absolute URI (RFC 2396 uric plus '%' and '#').
        if alnum
            || mark
            || matches!(
                b,
                b';' | b'/'
                    | b'?'
                    | b':'
                    | b'@'
                    | b'&'
                    | b'='
                    | b'+'
                    | b'$'
                    | b','
                    | b'%'
                    | b'#'
                    | b'['
                    | b']'
            )
        {
            v |= URIC;
        }
        t[c] = v;
        c += 1;
    }
    t
}

pub(crate) static CLASS: [u16; 256] = build();

#[inline]
pub(crate) fn is(b: u8, class: u16) -> bool {
    CLASS[b as usize] & class != 0
}

/// True for a non-empty string of RFC 3261 token characters.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| is(b, TOKEN))
}

/// A cursor over the bytes of a header value (or a whole header section).
///
/// Whitespace inside values includes the CRLF of folded lines: the line splitter has already
/// checked that every CRLF inside a value is followed by SP or HTAB.
pub(crate) struct Cur<'a> {
    pub(crate) src: &'a str,
    pub(crate) s: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) end: usize,
}

impl<'a> Cur<'a> {
    pub(crate) fn new(s: &'a str, start: usize, end: usize) -> Cur<'a> {
        Cur {
            src: s,
            s: s.as_bytes(),
            pos: start,
            end,
        }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        if self.pos < self.end {
            Some(self.s[self.pos])
        } else {
            None
        }
    }

    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips linear white space (SP, HTAB and folded line breaks).
    #[inline]
    pub(crate) fn ws(&mut self) -> bool {
        let start = self.pos;
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes bytes of `class`; returns the start offset.
    #[inline]
    pub(crate) fn take(&mut self, class: u16) -> usize {
        let start = self.pos;
        let rest = &self.s[start..self.end.max(start)];
        let n = rest
            .iter()
            .position(|&b| CLASS[b as usize] & class == 0)
            .unwrap_or(rest.len());
        self.pos = start + n;
        start
    }

    /// Consumes a token; `None` when no token character is next.
    #[inline]
    pub(crate) fn token(&mut self) -> Option<(usize, usize)> {
        let start = self.take(TOKEN);
        if self.pos > start {
            Some((start, self.pos))
        } else {
            None
        }
    }

    /// Consumes a quoted string starting at the opening quote; returns its span including
    /// the quotes, or `None` when it is not terminated on this value.
    pub(crate) fn quoted(&mut self) -> Option<(usize, usize)> {
        let start = self.pos;
        if !self.eat(b'"') {
            return None;
        }
        while let Some(x) = memchr::memchr2(b'"', b'\\', &self.s[self.pos..self.end]) {
            self.pos += x;
            if self.s[self.pos] == b'"' {
                self.pos += 1;
                return Some((start, self.pos));
            }
            // quoted-pair: any octet 0x00-0x7F except CR and LF.
            match self.s.get(self.pos + 1) {
                Some(&c) if self.pos + 1 < self.end && c <= 0x7f && c != b'\r' && c != b'\n' => {
                    self.pos += 2
                }
                _ => break,
            }
        }
        self.pos = start;
        None
    }

    /// Consumes bytes of `class` where `%HH` escapes are also allowed. Returns false on a
    /// malformed escape.
    pub(crate) fn take_escaped(&mut self, class: u16) -> bool {
        loop {
            self.take(class);
            if self.peek() != Some(b'%') {
                return true;
            }
            let ok = self.pos + 2 < self.end
                && self.s[self.pos + 1].is_ascii_hexdigit()
                && self.s[self.pos + 2].is_ascii_hexdigit();
            if !ok {
                return false;
            }
            self.pos += 3;
        }
    }
}

/// Removes the quotes and quoted-pair backslashes of a quoted string; returns the input
/// unchanged when it is not quoted.
pub fn unquote(s: &str) -> std::borrow::Cow<'_, str> {
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return std::borrow::Cow::Borrowed(s);
    };
    if !inner.contains('\\') {
        return std::borrow::Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Decodes `%HH` escapes (RFC 3261 §19.1.2). Invalid escapes are kept as they are.
/// Decoding happens once: `%2541` becomes `%41`, never `A`.
pub fn unescape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = (b[i + 1] as char).to_digit(16);
            let l = (b[i + 2] as char).to_digit(16);
            if let (Some(h), Some(l)) = (h, l) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Case-insensitive ASCII comparison.
#[inline]
pub(crate) fn eq_ic(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Parses 1*DIGIT into a `u64`, rejecting overflow past `max`.
pub(crate) fn digits(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    if v > max { None } else { Some(v) }
}
