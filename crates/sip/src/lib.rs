//! # cpm-sip: the SIP message layer and transaction state machines of cpm
//!
//! Owns: parsing and serializing SIP messages (RFC 3261 §7, §20, §25 grammar, plus the
//! IMS/CPM headers: P-Asserted-Identity, P-Preferred-Service, P-Served-User,
//! Conversation-ID, Contribution-ID …), URIs (`sip`, `sips`, `tel`, `mailto`, any absolute
//! URI), stream framing for TCP/TLS, proxy edits and builders for new requests and
//! responses, and the RFC 3261 §17 transaction state machines (with RFC 4320 and RFC 6026).
//!
//! Must not import: tokio, sockets, or any clock. It is sans-IO: bytes and `now` go in;
//! messages, bytes and deadlines come out. The node crate drives it with real I/O and time.
//!
//! ## Why our own parser
//! The SIP crates on crates.io either copy every header into owned `String`s (`rsip`,
//! `rsipstack`), are UA-only (`ezk-sip-*`), or are very large and unsettled. A proxy parses
//! every message it relays, so the parser is where speed is the product: [`Message`] keeps
//! the received buffer, stores offsets, decodes the routing headers once, and copies
//! untouched header lines byte for byte when it forwards.
//!
//! ## Example: a proxy hop
//!
//! ```
//! use cpm_sip::{Message, ResponseBuilder};
//!
//! let wire = "MESSAGE sip:bob@example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport\r\n\
//!     Max-Forwards: 70\r\n\
//!     From: <sip:alice@example.com>;tag=49583\r\n\
//!     To: <sip:bob@example.com>\r\n\
//!     Call-ID: a84b4c76e66710\r\n\
//!     CSeq: 1 MESSAGE\r\n\
//!     Content-Type: text/plain\r\n\
//!     Content-Length: 5\r\n\r\nhello";
//! let req = Message::parse(wire)?;
//! assert_eq!(req.top_via().branch(), Some("z9hG4bK776"));
//! assert_eq!(req.from().tag(), Some("49583"));
//!
//! // Forward: our Via on top, Max-Forwards decremented, everything else byte for byte.
//! let mut fwd = req.edit();
//! fwd.push_via("SIP/2.0/TCP core.example.com;branch=z9hG4bKcore1");
//! fwd.decrement_max_forwards().expect("not zero, else answer 483");
//! let out = Message::parse(fwd.encode())?;
//! assert_eq!(out.vias().len(), 2);
//! assert_eq!(out.max_forwards(), Some(69));
//!
//! // Answer: Via, From, To, Call-ID and CSeq copied from the request, a To tag added.
//! let ok = ResponseBuilder::new(&req, 202, "Accepted").to_tag("t1").build_message();
//! assert_eq!(ok.status(), Some(202));
//! # Ok::<(), cpm_sip::ParseError>(())
//! ```
//!
//! ## Unsafe code
//! Exactly one function uses `unsafe`: `Message::head`, which turns the header section
//! validated as UTF-8 at parse time back into `&str` without validating it again on every
//! access.

#![deny(unsafe_code)]

mod auth;
pub mod digest;
mod edit;
mod error;
mod framing;
mod header;
mod ims;
mod message;
mod method;
mod name_addr;
mod params;
mod span;
mod text;
pub mod transaction;
mod uri;
mod via;

pub use auth::AuthHeader;
pub use edit::{Editor, RequestBuilder, ResponseBuilder};
pub use error::{ErrorKind, ParseError};
pub use framing::{Frame, FramingError, StreamFramer};
pub use header::HeaderName;
pub use ims::{
    ICSI_CPM_DEFERRED, ICSI_CPM_LARGEMSG, ICSI_CPM_MSG, ICSI_CPM_MSG_GROUP, RegState, ServedUser,
    SessionCase,
};
pub use message::{ContactKind, Header, Limits, Message, split_commas};
pub use method::Method;
pub use name_addr::NameAddr;
pub use params::Params;
pub use span::Span;
pub use text::{is_token, unescape, unquote};
pub use uri::{HostKind, Scheme, Uri};
pub use via::{BRANCH_MAGIC, Via};
