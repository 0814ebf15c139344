//! [`Error`]: misuse of the transaction layer's API. Faults of the peer (stray responses,
//! retransmissions, timeouts) are never errors; they are [`Event`](super::Event)s.

use super::State;
use super::key::TransactionKey;

/// The TU asked for something the transaction layer cannot do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No live transaction has this key (never existed, or already terminated).
    #[error("no transaction {0}")]
    UnknownTransaction(TransactionKey),
    /// The key names a client transaction where a server one is needed, or the reverse.
    #[error("transaction {0} has the wrong role for this call")]
    WrongRole(TransactionKey),
    /// A response was given where a request is needed.
    #[error("not a request")]
    NotARequest,
    /// A request was given where a response is needed.
    #[error("not a response")]
    NotAResponse,
    /// ACK never creates a client transaction (RFC 3261 §17.1): the ACK for a 2xx is sent
    /// by the TU ([`TransactionLayer::send_stateless`](super::TransactionLayer::send_stateless)),
    /// the one for a non-2xx by the INVITE transaction itself.
    #[error("ACK does not start a transaction")]
    AckIsNotATransaction,
    /// The top Via of a request we send must carry an RFC 3261 branch (`z9hG4bK…`).
    #[error("top Via has no RFC 3261 branch")]
    NoBranch,
    /// A client transaction with the same branch and method is still alive.
    #[error("a client transaction with this branch and method exists: {0}")]
    DuplicateTransaction(TransactionKey),
    /// The response's CSeq method is not the method of the transaction (for example a
    /// response to an ACK).
    #[error("response CSeq method does not match the transaction")]
    MethodMismatch,
    /// RFC 4320: a non-INVITE request gets no provisional response other than 100.
    #[error("non-INVITE requests get no provisional response but 100 (RFC 4320), not {0}")]
    ProvisionalNotAllowed(u16),
    /// RFC 4320: over an unreliable transport no 100 before the client's Timer E reached T2.
    #[error("100 to a non-INVITE request over UDP before Timer E reached T2 (RFC 4320)")]
    TryingTooEarly,
    /// The transaction already sent its final response (only more 2xx may follow an INVITE
    /// 2xx, RFC 6026).
    #[error("transaction {0} already sent a final response")]
    FinalAlreadySent(TransactionKey),
    /// CANCEL applies to an INVITE client transaction in Proceeding only (RFC 3261 §9.1:
    /// not before a provisional response, and pointless after a final one).
    #[error("cannot CANCEL transaction {key} in state {state:?}")]
    CannotCancel {
        /// The transaction.
        key: TransactionKey,
        /// Its state.
        state: State,
    },
}
