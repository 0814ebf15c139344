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
