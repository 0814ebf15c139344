//! # cpm-node: the runtime side of cpm
//!
//! Owns: sockets (UDP, TCP, TLS, in-memory), the SIP [`Endpoint`] that receives and sends
//! messages over them, and the [`Role`] interface through which the network roles (SIP/IP
//! Core, Conversation Server, Interworking Functions) see requests and responses.
//!
//! May import tokio, rustls and the store. Protocol logic belongs in the sans-IO crates
//! (`cpm-sip`, `cpm-cpim`); this crate moves bytes and time.
//!
//! ## Transport behaviour
//! - UDP: one message per datagram; malformed requests are answered from their raw lines
//!   (400/505/513 per `ParseError::status`), malformed responses dropped.
//! - TCP/TLS: [`cpm_sip::StreamFramer`] frames the stream; a framed but malformed request
//!   gets a 400 and the connection stays, lost framing closes it; CRLFCRLF pings get a CRLF
//!   pong (RFC 5626); idle connections close after [`EndpointConfig::idle_timeout`].
//!   Connections are pooled by transport and remote address, inbound ones included.
//! - Memory: serialized messages between endpoints of one process ([`MemoryHub`]), parsed
//!   like datagrams.
//! - Via: requests arriving get `received`/`rport` (RFC 3261 §18.2.1, RFC 3581); requests
//!   leaving get our transport and sent-by; responses go back over the request's
//!   connection, or over UDP to `received`/`rport` (§18.2.2).

mod driver;
mod endpoint;
mod error_response;
mod memory;
pub mod sipcore;
mod stream;
mod tls;
mod transport;
pub mod uas;
mod udp;
pub mod via;

pub use endpoint::{
    ChannelRole, Endpoint, EndpointClosed, EndpointConfig, EndpointHandle, Failure, Incoming, Role,
    RoleEvent, UDP_MAX_REQUEST,
};
pub use error_response::error_response_for_raw;
pub use memory::MemoryHub;
pub use tls::{client_config_trusting, load_server_config, self_signed, server_config_from_pem};
pub use transport::{FlowId, Peer, Target, Transport};
