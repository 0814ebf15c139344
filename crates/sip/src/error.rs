//! Parse errors of the SIP message layer.
//!
//! A [`ParseError`] names what is wrong ([`ErrorKind`]) and where (byte offset into the
//! input). [`ParseError::status`] maps it to the response a server should send, following
//! RFC 3261 §21 and the verdicts of RFC 4475: most faults are `400 Bad Request` with a
//! reason phrase that names the fault, an unknown SIP version is `505`, an oversize message
//! is `513`.

use std::fmt;

/// What is wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input holds no start line at all.
    Empty,
    /// The header section does not end with an empty line.
    UnterminatedHeaders,
    /// A line ends with a bare LF instead of CRLF.
    BadLineEnding,
    /// The start line is malformed; the text says how.
    BadStartLine(&'static str),
    /// The request method is not a token.
    BadMethod,
    /// The SIP version is not `SIP/2.0`.
    UnsupportedVersion,
    /// The status code is not three digits in 100..=699.
    BadStatusCode,
    /// The Request-URI or a URI in a header is malformed.
    BadUri(&'static str),
    /// A header line has no colon or its name is not a token.
    BadHeaderLine,
    /// A header's value does not follow its grammar.
    BadHeader {
        /// The header's canonical name.
        header: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A header required in every request or response is missing.
    MissingHeader(&'static str),
    /// A header that may appear once appears more than once.
    DuplicateHeader(&'static str),
    /// The CSeq method differs from the request method.
    CSeqMethodMismatch,
    /// The header section is not valid UTF-8.
    InvalidUtf8,
    /// Content-Length promises more bytes than the message holds.
    BodyTooShort {
        /// Declared by Content-Length.
        declared: usize,
        /// Present after the header section.
        present: usize,
    },
    /// A stream message has no Content-Length.
    MissingContentLength,
    /// A configured limit was exceeded.
    TooLarge(&'static str),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Empty => f.write_str("empty message"),
            ErrorKind::UnterminatedHeaders => {
                f.write_str("header section does not end with an empty line")
            }
            ErrorKind::BadLineEnding => f.write_str("line ends with a bare LF instead of CRLF"),
            ErrorKind::BadStartLine(why) => write!(f, "malformed start line: {why}"),
            ErrorKind::BadMethod => f.write_str("method is not a token"),
            ErrorKind::UnsupportedVersion => f.write_str("SIP version is not SIP/2.0"),
            ErrorKind::BadStatusCode => f.write_str("status code is not in 100..=699"),
            ErrorKind::BadUri(why) => write!(f, "malformed URI: {why}"),
            ErrorKind::BadHeaderLine => {
                f.write_str("header line is not `token: value` (missing colon or bad name)")
            }
            ErrorKind::BadHeader { header, reason } => write!(f, "malformed {header}: {reason}"),
            ErrorKind::MissingHeader(h) => write!(f, "missing {h} header"),
            ErrorKind::DuplicateHeader(h) => write!(f, "{h} header appears more than once"),
            ErrorKind::CSeqMethodMismatch => f.write_str("CSeq method differs from request method"),
            ErrorKind::InvalidUtf8 => f.write_str("header section is not valid UTF-8"),
            ErrorKind::BodyTooShort { declared, present } => write!(
                f,
                "Content-Length is {declared} but only {present} body bytes are present"
            ),
            ErrorKind::MissingContentLength => {
                f.write_str("Content-Length is required on stream transports")
            }
            ErrorKind::TooLarge(what) => write!(f, "{what} exceeds the configured limit"),
        }
    }
}

/// A message that could not be parsed: what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at byte {offset})")]
pub struct ParseError {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Byte offset into the input where the fault was found.
    pub offset: usize,
}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, offset: usize) -> ParseError {
        ParseError { kind, offset }
    }

    /// The status code and reason phrase a UAS or proxy should answer a request with.
    ///
    /// Responses that fail to parse are dropped instead (RFC 3261 §18.1.2, RFC 4475).
    pub fn status(&self) -> (u16, String) {
        match &self.kind {
            ErrorKind::UnsupportedVersion => (505, "Version Not Supported".into()),
            ErrorKind::TooLarge(_) => (513, "Message Too Large".into()),
            kind => (400, format!("Bad Request ({kind})")),
        }
    }
}
