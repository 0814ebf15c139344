//! Transport names, peer addresses and request targets: the vocabulary shared by the
//! sockets, the endpoint and the roles.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// A SIP transport (RFC 3261 §18; the in-memory one is cpm's own, for roles in one process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP datagrams.
    Udp,
    /// TCP stream.
    Tcp,
    /// TLS over TCP (`sips:`, `transport=tls`).
    Tls,
    /// In-process channel between roles (messages are still serialized and parsed).
    Memory,
}

impl Transport {
    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Memory => "MEM",
        }
    }

    /// The transport a Via transport token names (ASCII case-insensitive).
    pub fn from_via_token(token: &str) -> Option<Transport> {
        [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Memory,
        ]
        .into_iter()
        .find(|t| t.via_token().eq_ignore_ascii_case(token))
    }

    /// True for transports that never lose or reorder messages (no retransmissions).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// True for connection-oriented transports framed with Content-Length (TCP, TLS).
    pub fn is_stream(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// Identifies one connection (TCP/TLS) or one bound UDP socket of an endpoint.
pub type FlowId = u64;

/// Where a message came from, and so where its response goes back to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The transport it arrived on.
    pub transport: Transport,
    /// The remote address (the source IP and port). For memory peers, `0.0.0.0:0`.
    pub addr: SocketAddr,
    /// The connection (TCP/TLS) or socket (UDP) it arrived on; `None` for memory peers.
    pub flow: Option<FlowId>,
    /// For memory peers: the sending endpoint's name.
    pub name: Option<Arc<str>>,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}:{n}", self.transport),
            None => write!(f, "{}:{}", self.transport, self.addr),
        }
    }
}

/// Where to send a request: the next hop, already resolved (the role or proxy logic picked it
/// from the Route set or Request-URI).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A network address over UDP, TCP or TLS (a TLS server's certificate must then name
    /// the IP address).
    Net(Transport, SocketAddr),
    /// TLS to an address whose certificate must name this host (`sips:` URIs with a domain,
    /// RFC 5922).
    TlsNamed(SocketAddr, Arc<str>),
    /// An endpoint in this process, by the name it registered with a
    /// [`MemoryHub`](crate::MemoryHub).
    Memory(Arc<str>),
}

impl Target {
    /// The transport this target is reached over.
    pub fn transport(&self) -> Transport {
        match self {
            Target::Net(t, _) => *t,
            Target::TlsNamed(..) => Transport::Tls,
            Target::Memory(_) => Transport::Memory,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Net(t, a) => write!(f, "{t}:{a}"),
            Target::TlsNamed(a, host) => write!(f, "TLS:{a}({host})"),
            Target::Memory(n) => write!(f, "MEM:{n}"),
        }
    }
}
