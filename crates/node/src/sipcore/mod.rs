//! The SIP/IP Core as a [`Role`](crate::Role): registrar and location service, digest
//! authentication, identity assertion, service triggering to the Conversation Server,
//! interworking routing, and a transaction-stateful forking proxy (RFC 3261 §16).
//!
//! Decisions come from `cpm-core` (sans-IO); this module keeps the per-request proxy state
//! (server transaction ⇄ client branches), talks to the store off the driver task, and
//! counts what it does ([`CoreStats`]).

mod settings;

pub use settings::{CoreSettings, PikeSettings, TrustedPeer};
