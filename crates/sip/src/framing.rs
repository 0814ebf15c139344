//! Stream framing for SIP over TCP and TLS (RFC 3261 §18.3, RFC 5626 §3.5.1 keep-alives).
//!
//! [`StreamFramer`] is a push parser: feed it whatever the socket read with
//! [`StreamFramer::push`], then call [`StreamFramer::next_frame`] until it returns
//! `Ok(None)` ("need more data"). Each byte is scanned for the end of the header section at
//! most once, so hostile input costs linear time; the configured [`Limits`] bound memory.
//!
//! A message whose framing is intact but whose content is malformed comes out as
//! [`Frame::Invalid`] (answer it with 400 and keep the connection). When the framing itself
//! is lost (bad or missing Content-Length, oversize), [`FramingError`] says the connection
//! must be closed.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem;

use crate::error::{ErrorKind, ParseError};
use crate::message::{Limits, Message};

/// What the framer found next on the stream.
#[derive(Debug)]
// `Message` is returned by value everywhere (as from `Message::parse`); boxing it here only
// for the frame enum would add an allocation per message on the stream path.
#[allow(clippy::large_enum_variant)]
pub enum Frame {
    /// A complete, valid message.
    Message(Message),
    /// A complete message that failed to parse; framing is intact.
    Invalid {
        /// Why it failed.
        error: ParseError,
        /// The message's bytes.
        bytes: Bytes,
    },
    /// A CRLFCRLF keep-alive ping (answer with a single CRLF pong).
    Ping,
    /// A single CRLF keep-alive pong. A CRLF alone in the buffer at a message boundary is
    /// reported as a pong at once (a ping is expected to arrive in one segment; one split
    /// in its middle reads as two pongs).
    Pong,
}

/// The stream cannot be framed any more: close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream framing lost: {0}")]
pub struct FramingError(pub ParseError);

/// Splits a byte stream into SIP messages. See the module docs.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    limits: Limits,
    /// Bytes of `buf` already searched for the end of the header section.
    scanned: usize,
    /// Once the header section is found: the whole message length.
    want: Option<usize>,
}

impl StreamFramer {
    /// A framer with the given limits.
    pub fn new(limits: Limits) -> StreamFramer {
        StreamFramer {
            buf: BytesMut::with_capacity(4096),
            limits,
            scanned: 0,
            want: None,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The bytes buffered and not yet returned: after a [`FramingError`], the start of the
    /// message that broke framing (so the server can still answer it, e.g. 513, from its raw
    /// Via, From, To, Call-ID and CSeq lines before closing).
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// The next frame, `Ok(None)` when more data is needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if self.want.is_none() && self.scanned == 0 {
            // Keep-alives at a message boundary (RFC 5626 §3.5.1): CRLFCRLF is a ping, a
            // lone CRLF a pong. A CRLF followed by CR is undecided until the next byte.
            let b = &self.buf[..];
            if b.starts_with(b"\r\n\r\n") {
                self.buf.advance(4);
                return Ok(Some(Frame::Ping));
            }
            if b.starts_with(b"\r\n") {
                if b.len() == 3 && b[2] == b'\r' {
                    return Ok(None);
                }
                self.buf.advance(2);
                return Ok(Some(Frame::Pong));
            }
            if b == b"\r" || b.is_empty() {
                return Ok(None);
            }
        }
        let want = match self.want {
            Some(w) => w,
            None => {
                let from = self.scanned.saturating_sub(3);
                let Some(i) = memmem::find(&self.buf[from..], b"\r\n\r\n") else {
                    self.scanned = self.buf.len();
                    if self.buf.len() > self.limits.max_message_size {
                        return Err(FramingError(ParseError::new(
                            ErrorKind::TooLarge("header section"),
                            self.buf.len(),
                        )));
                    }
                    return Ok(None);
                };
                let head_end = from + i + 4;
                let cl = content_length(&self.buf[..head_end]).map_err(FramingError)?;
                let total = head_end + cl;
                if total > self.limits.max_message_size {
                    return Err(FramingError(ParseError::new(
                        ErrorKind::TooLarge("message size"),
                        total,
                    )));
                }
                self.want = Some(total);
                total
            }
        };
        if self.buf.len() < want {
            return Ok(None);
        }
        let bytes = self.buf.split_to(want).freeze();
        self.want = None;
        self.scanned = 0;
        Ok(Some(
            match Message::parse_with(bytes.clone(), &self.limits) {
                Ok(m) => Frame::Message(m),
                Err(error) => Frame::Invalid { error, bytes },
            },
        ))
    }
}

/// Finds Content-Length (or `l`) in a header section (folded lines included); it is
/// mandatory on streams.
fn content_length(head: &[u8]) -> Result<usize, ParseError> {
    let mut found: Option<usize> = None;
    let mut i = 0;
    while i < head.len() {
        // One logical header field: up to a CRLF not followed by SP/HTAB.
        let start = i;
        let mut end = start;
        loop {
            match memchr::memchr(b'\n', &head[end..]) {
                Some(x) => {
                    end += x + 1;
                    if end < head.len() && matches!(head[end], b' ' | b'\t') {
                        continue;
                    }
                }
                None => end = head.len(),
            }
            break;
        }
        i = end;
        let field = &head[start..end];
        let Some(colon) = memchr::memchr(b':', field) else {
            continue;
        };
        let name = field[..colon].trim_ascii_end();
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        if found.is_some() {
            return Err(ParseError::new(
                ErrorKind::DuplicateHeader("Content-Length"),
                start,
            ));
        }
        let v = field[colon + 1..].trim_ascii();
        let n = crate::text::digits(v, u32::MAX as u64).ok_or(ParseError::new(
            ErrorKind::BadHeader {
                header: "Content-Length",
                reason: "not a non-negative integer",
            },
            start,
        ))?;
        found = Some(n as usize);
    }
    found.ok_or(ParseError::new(ErrorKind::MissingContentLength, head.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nl: 4\r\n\r\nbody";

    #[test]
    fn byte_by_byte_and_pipelined() {
        let mut f = StreamFramer::new(Limits::default());
        let mut stream = M.to_vec();
        stream.extend_from_slice(M);
        let mut got = Vec::new();
        // A keep-alive ping arrives in one segment; the messages byte by byte.
        f.push(b"\r\n\r\n");
        got.push(f.next_frame().unwrap().unwrap());
        for b in &stream {
            f.push(std::slice::from_ref(b));
            while let Some(fr) = f.next_frame().unwrap() {
                got.push(fr);
            }
        }
        assert_eq!(got.len(), 3);
        assert!(matches!(got[0], Frame::Ping));
        for fr in &got[1..] {
            let Frame::Message(m) = fr else {
                panic!("{fr:?}")
            };
            assert_eq!(m.body_bytes(), b"body");
        }
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn framing_errors() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(&M[..M.len() - 13]);
        f.push(b"\r\n\r\n");
        let e = f.next_frame().unwrap_err();
        assert_eq!(e.0.kind, ErrorKind::MissingContentLength);
        let mut f = StreamFramer::new(Limits {
            max_message_size: 100,
            ..Limits::default()
        });
        f.push(&[b'a'; 200]);
        assert!(f.next_frame().is_err());
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n");
        assert!(f.next_frame().is_err());
    }

    /// Found by the `sip_stream` fuzz target: a CRLF followed by a CR must frame the same
    /// whether the bytes arrive together or one by one.
    #[test]
    fn crlf_cr_is_split_invariant() {
        let mut input = b"\r\n\r".to_vec();
        input.extend_from_slice(M);
        let run = |chunk: usize| {
            let mut f = StreamFramer::new(Limits::default());
            let mut out = Vec::new();
            for piece in input.chunks(chunk) {
                f.push(piece);
                while let Ok(Some(fr)) = f.next_frame() {
                    out.push(match fr {
                        Frame::Message(m) => m.as_bytes().to_vec(),
                        Frame::Invalid { bytes, .. } => bytes.to_vec(),
                        Frame::Ping => b"PING".to_vec(),
                        Frame::Pong => b"PONG".to_vec(),
                    });
                }
            }
            out
        };
        let whole = run(input.len());
        assert_eq!(whole[0], b"PONG");
        for chunk in 1..8 {
            assert_eq!(run(chunk), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn invalid_but_framed() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"OPTIONS sip:a@b SIP/7.0\r\nContent-Length: 0\r\n\r\n");
        assert!(matches!(
            f.next_frame().unwrap(),
            Some(Frame::Invalid { .. })
        ));
    }
}
