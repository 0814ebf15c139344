//! # cpm-node: the runtime side of cpm
//!
//! Owns: sockets (UDP, TCP, TLS, in-memory), the SIP endpoint that drives the sans-IO
//! transaction layer of `cpm-sip` with real time, and (later) the roles: SIP/IP Core,
//! Conversation Server, Interworking Functions.
//!
//! May import tokio, rustls and the store. Protocol logic belongs in the sans-IO crates.
