//! # cpm-store: the durable state of cpm
//!
//! Owns: users (address of record, display name, E.164 aliases, digest HA1s, enabled flag)
//! and the registrar's location service (bindings per AOR), behind one [`Store`] trait, with
//! the embedded SQLite backend [`SqliteStore`] and its schema migrations compiled into the
//! binary. Groups, deferred messages, history, IWF outboxes and traces (design §5) come next,
//! as further migrations and trait methods.
//!
//! Must not import: tokio, sockets, or the clock. Every time (`now`, `created_at`,
//! `expires_at`) is unix seconds passed in by the caller, so expiry is tested with simulated
//! time. Protocol crates never depend on this crate; only `cpm-node` and the CLI do.
//!
//! ## Why a trait (`Arc<dyn Store>`) rather than an enum of backends
//! Callers hold an `Arc<dyn Store>` returned by [`open`]. Adding PostgreSQL means one more
//! `impl Store` behind a cargo feature and one more [`StoreConfig`] variant; no caller
//! changes. A trait (unlike stalwart's `enum Store`) also lets the node's tests pass their
//! own implementation (a fault-injecting wrapper, say), and the shared test battery
//! (module `battery`, feature `battery`) is written once against `&dyn Store`, the way hickory-dns runs one zone
//! battery per backend. The indirect call costs nothing next to a SQL statement.
//! The operations are domain-level (`apply_register`, `add_alias` …) rather than a key-value
//! primitive API, so each backend can use its own transactions and constraints to make a
//! REGISTER all-or-nothing.
//!
//! ## Why rusqlite (bundled) and not sqlx
//! - Speed: SQLite is the default store, on the REGISTER and location-lookup path. rusqlite
//!   calls SQLite directly; sqlx's SQLite driver hops through a worker thread per
//!   connection and is reported 1.4–3× slower.
//! - Build: rusqlite `bundled` compiles one C file, no TLS stack; sqlx with `any` +
//!   `postgres` pulls a large async dependency tree, and sqlx 0.9 needs Rust 1.94.
//! - `sqlx::Any` would share one code path only for the SQL common subset (no `ON CONFLICT`
//!   differences, ints and text only), and we still need one migration set per engine.
//!   The shared battery, not shared SQL, is what keeps backends equivalent.
//!
//! A PostgreSQL backend can use `postgres`/`tokio-postgres` (or sqlx's postgres driver alone,
//! which does not link SQLite) without touching this choice.
//!
//! ## Blocking contract
//! The API is **synchronous**: each call runs one short SQLite transaction on the calling
//! thread: reads take microseconds, writes wait for one `fsync` of the WAL (about a
//! millisecond on an SSD, more on spinning or network disks), and across processes a write
//! may wait up to the 5 s busy timeout for another writer. From async code call it inside
//! `tokio::task::spawn_blocking`:
//!
//! ```text
//! let store = Arc::clone(&store);
//! let user = tokio::task::spawn_blocking(move || store.user("sip:alice@example.com")).await??;
//! ```
//!
//! Every [`Store`] is `Send + Sync`: [`SqliteStore`] keeps one writer connection (writes are
//! serialised, as SQLite requires) and a few reader connections that run in parallel with
//! it in WAL mode.
//!
//! ## Example
//!
//! ```
//! use cpm_store::{Binding, BindingOp, NewUser, SqliteStore, Store};
//!
//! let store = SqliteStore::open_in_memory()?;
//! let now = 1_700_000_000;
//! store.add_user(&NewUser::new("alice", "example.com", now)
//!     .password("example.com", "secret")
//!     .alias("+1 555 123 0001"))?;
//! let alice = store.user_by_alias("+15551230001")?.expect("alias resolves");
//! assert_eq!(alice.aor, "sip:alice@example.com");
//!
//! let contact = Binding::new(&alice.aor, "sip:alice@192.0.2.4:5060", now + 3600, "c1", 1);
//! let outcome = store.apply_register(&alice.aor, &[BindingOp::Upsert(contact)], now)?;
//! assert_eq!(outcome.bindings.len(), 1);
//! assert_eq!(store.purge_expired(now + 3600)?.len(), 1);
//! # Ok::<(), cpm_store::StoreError>(())
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

#[cfg(any(test, feature = "battery"))]
pub mod battery;
mod error;
mod identity;
mod model;
mod sqlite;

pub use cpm_sip::digest::Algorithm;
pub use error::{Result, StoreError};
pub use identity::{aor_of, normalize_alias, normalize_user, parse_aor};
pub use model::{Binding, BindingKey, BindingOp, Credential, NewUser, RegisterOutcome, User};
pub use sqlite::SqliteStore;

/// The durable state of cpm. Object-safe: callers hold an `Arc<dyn Store>`.
///
/// Conventions for every backend:
/// - AORs are accepted in any case of scheme and domain and canonicalised ([`parse_aor`]);
///   aliases are normalised ([`normalize_alias`]).
/// - Look-ups return `Ok(None)` (or an empty list) when nothing matches; changes to a record
///   that does not exist return [`StoreError::NotFound`].
/// - Each call is one transaction: it either happens whole or not at all.
/// - Calls block (see the crate docs): from async code use `spawn_blocking`.
pub trait Store: Send + Sync + fmt::Debug {
    /// A short name of the backend (`"sqlite"`).
    fn backend(&self) -> &'static str;

    /// The schema version of the open database (the highest applied migration).
    fn schema_version(&self) -> Result<u32>;

    // ---- users ----

    /// Creates a user. [`StoreError::Duplicate`] names the AOR or alias already taken.
    fn add_user(&self, user: &NewUser) -> Result<User>;

    /// The user with this AOR.
    fn user(&self, aor: &str) -> Result<Option<User>>;

    /// The user with this user name (case-sensitive) and domain (case-insensitive).
    fn user_by_name(&self, username: &str, domain: &str) -> Result<Option<User>>;

    /// The user owning this E.164 alias (normalised first; an invalid alias is an error).
    fn user_by_alias(&self, alias: &str) -> Result<Option<User>>;

    /// All users, ordered by AOR.
    fn list_users(&self) -> Result<Vec<User>>;

    /// Deletes a user with its credentials, aliases and bindings; returns what was deleted.
    fn remove_user(&self, aor: &str) -> Result<User>;

    /// Replaces the user's credentials (at most one per algorithm).
    fn set_credentials(&self, aor: &str, credentials: &[Credential]) -> Result<()>;

    /// Replaces the user's credentials with MD5 and SHA-256 HA1s of `password` in `realm`.
    fn set_password(&self, aor: &str, realm: &str, password: &str) -> Result<()> {
        let user = self.user(aor)?.ok_or_else(|| StoreError::NotFound {
            what: format!("user {aor}"),
        })?;
        self.set_credentials(
            aor,
            &Credential::all_from_password(&user.username, realm, password),
        )
    }

    /// Enables or disables a user.
    fn set_enabled(&self, aor: &str, enabled: bool) -> Result<()>;

    /// Gives the user an E.164 alias; returns it normalised. [`StoreError::Duplicate`] if any
    /// user (this one included) already holds it.
    fn add_alias(&self, aor: &str, alias: &str) -> Result<String>;

    /// Takes an alias away from the user ([`StoreError::NotFound`] if the user lacks it).
    fn remove_alias(&self, aor: &str, alias: &str) -> Result<()>;

    // ---- location service ----

    /// Applies the binding changes of one REGISTER atomically (RFC 3261 §10.3 steps 6–8).
    ///
    /// For each change against a live binding with the same Call-ID, the request's CSeq
    /// must be higher than the stored one, else the whole call fails with
    /// [`StoreError::OutOfOrder`] and nothing is written. Changes to the same key within one
    /// call are checked against the state before the call. An expired binding not yet
    /// purged counts as absent. The AOR must belong to a user ([`StoreError::NotFound`]).
    /// Every [`BindingOp::Upsert`] must carry this AOR and expire after `now`.
    fn apply_register(&self, aor: &str, ops: &[BindingOp], now: i64) -> Result<RegisterOutcome>;

    /// The live binding with this key, if any.
    fn binding(&self, aor: &str, key: &BindingKey, now: i64) -> Result<Option<Binding>>;

    /// Adds or refreshes one binding with the same checks as [`Store::apply_register`];
    /// returns the live binding it replaced, if any.
    fn upsert_binding(&self, binding: &Binding, now: i64) -> Result<Option<Binding>>;

    /// Removes one binding without Call-ID/CSeq checks (administration, failed flows);
    /// returns it (live or expired), if it existed.
    fn remove_binding(&self, aor: &str, key: &BindingKey) -> Result<Option<Binding>>;

    /// Removes every binding of the AOR without checks; returns them.
    fn remove_bindings(&self, aor: &str) -> Result<Vec<Binding>>;

    /// Live bindings of the AOR at `now`, highest q first (no q counts as 1.0), then most
    /// recently updated first.
    fn live_bindings(&self, aor: &str, now: i64) -> Result<Vec<Binding>>;

    /// Deletes every binding with `expires_at <= now` and returns them (ordered by AOR) so the
    /// caller can emit registration events.
    fn purge_expired(&self, now: i64) -> Result<Vec<Binding>>;
}

/// Which backend [`open`] opens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreConfig {
    /// Embedded SQLite: file [`SqliteStore::FILE_NAME`] in this data directory (created if
    /// missing).
    Sqlite {
        /// The data directory (`./cpm-data` by default in `cpm serve`).
        data_dir: PathBuf,
    },
    /// Embedded SQLite in memory: for tests and demos; lost on drop.
    SqliteInMemory,
}

/// Opens (creating and migrating as needed) the configured store.
pub fn open(config: &StoreConfig) -> Result<Arc<dyn Store>> {
    Ok(match config {
        StoreConfig::Sqlite { data_dir } => Arc::new(SqliteStore::open(data_dir)?),
        StoreConfig::SqliteInMemory => Arc::new(SqliteStore::open_in_memory()?),
    })
}
