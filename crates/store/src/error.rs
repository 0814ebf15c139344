//! The crate's error type, [`StoreError`]: caller mistakes (bad AOR or alias, unknown user,
//! duplicates, out-of-order REGISTER) are separate variants from backend failures
//! ([`StoreError::Storage`]), so callers can map each to a precise SIP or CLI answer.

use std::error::Error as StdError;

/// Everything a [`Store`](crate::Store) operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The named record does not exist (for example `user sip:bob@example.com`).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, with its key.
        what: String,
    },
    /// A unique key is already taken; `what` names the key and, when known, its holder.
    #[error("{what} already exists")]
    Duplicate {
        /// The clashing key, for example `alias +15551230001 (held by sip:bob@example.com)`.
        what: String,
    },
    /// An E.164 alias failed normalisation.
    #[error("invalid E.164 alias {alias:?}: {reason}")]
    InvalidAlias {
        /// The alias as given.
        alias: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// An address of record is not of the form `sip:NAME@DOMAIN`.
    #[error("invalid address of record {aor:?}: {reason}")]
    InvalidAor {
        /// The AOR (or user name and domain) as given.
        aor: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Some other argument is out of range (for example a q-value above 1000).
    #[error("invalid {what}")]
    InvalidInput {
        /// The argument and the reason.
        what: String,
    },
    /// RFC 3261 §10.3 step 7: the REGISTER reuses the Call-ID of an existing binding with a
    /// CSeq that is not higher. The whole REGISTER must fail (nothing was written).
    #[error(
        "out-of-order REGISTER for {aor} binding {binding}: Call-ID {call_id:?} CSeq {cseq} is not above the stored CSeq {stored_cseq}"
    )]
    OutOfOrder {
        /// The address of record.
        aor: String,
        /// The binding key, as [`BindingKey`](crate::BindingKey) displays it.
        binding: String,
        /// The Call-ID shared by the request and the stored binding.
        call_id: String,
        /// The request's CSeq.
        cseq: u32,
        /// The stored binding's CSeq.
        stored_cseq: u32,
    },
    /// The database was written by a newer cpm (its schema version is unknown to this one).
    #[error(
        "database schema version {found} is newer than this build supports ({supported}); upgrade cpm"
    )]
    SchemaTooNew {
        /// Version found in `schema_version`.
        found: u32,
        /// Highest version this build ships.
        supported: u32,
    },
    /// A stored value could not be decoded (the database was edited by hand or is damaged).
    #[error("corrupt stored value: {what}")]
    Corrupt {
        /// The value and why it is unreadable.
        what: String,
    },
    /// The data directory could not be created or opened.
    #[error("data directory {path}: {source}")]
    Io {
        /// The directory or file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The backend failed (I/O error, database locked past the busy timeout, full disk …).
    #[error("storage error while {op}: {source}")]
    Storage {
        /// What the store was doing, for example `adding a user`.
        op: &'static str,
        /// The backend's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Wraps a backend error with the operation it interrupted.
    pub fn storage(op: &'static str, source: impl StdError + Send + Sync + 'static) -> Self {
        StoreError::Storage {
            op,
            source: Box::new(source),
        }
    }

    /// Whether this error is the caller's fault (bad input, missing record, duplicate, stale
    /// REGISTER) rather than a backend failure. Useful to choose 4xx over 500.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            StoreError::NotFound { .. }
                | StoreError::Duplicate { .. }
                | StoreError::InvalidAlias { .. }
                | StoreError::InvalidAor { .. }
                | StoreError::InvalidInput { .. }
                | StoreError::OutOfOrder { .. }
        )
    }
}
