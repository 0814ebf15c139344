//! # cpm-core: the SIP/IP Core's decisions
//!
//! Owns: what the SIP/IP Core of the seed flows decides for a request — today the
//! registrar (RFC 3261 §10.3 with digest authentication, RFC 3327 Path, RFC 5626
//! instance/reg-id); next the stateful proxy's routing, identity assertion, service
//! triggering and interworking selection.
//!
//! Must not import: tokio, sockets, or the clock. Functions take the parsed request, the
//! store and `now`, and return the response bytes plus what changed, so the node crate can
//! drive them from any transport and tests can run them with simulated time.

pub mod identity;
pub mod registrar;
pub mod routing;
pub mod triggers;

pub use registrar::{RegisterResult, Registrar, RegistrarConfig};
