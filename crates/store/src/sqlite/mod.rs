//! The embedded SQLite backend, [`SqliteStore`]: one database file `cpm.sqlite` in a data
//! directory, WAL journal, `synchronous=FULL` (a returned write survives a power cut, the
//! guarantee the "acknowledge only what is durable" rule needs), foreign keys on.
//!
//! Connections: one writer behind a mutex (SQLite allows one writer at a time; every write is
//! a `BEGIN IMMEDIATE` transaction, so another process sharing the file waits up to the busy
//! timeout instead of failing mid-way) and [`READERS`] reader connections, which WAL lets
//! run in parallel with the writer. An in-memory store has only the writer.

mod location;
mod migrate;
mod users;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::Store;
use crate::error::{Result, StoreError};
use crate::model::{Binding, BindingKey, BindingOp, Credential, NewUser, RegisterOutcome, User};

pub(crate) use migrate::{MIGRATIONS, Migration};

/// Reader connections per file-backed store.
const READERS: usize = 4;

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Adds the operation name to backend errors.
pub(crate) trait Ctx<T> {
    fn ctx(self, op: &'static str) -> Result<T>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, op: &'static str) -> Result<T> {
        self.map_err(|e| StoreError::storage(op, e))
    }
}

/// The embedded SQLite store. See the module docs for its connections and durability.
pub struct SqliteStore {
    path: Option<PathBuf>,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves no open transaction behind (rusqlite rolls back
    // on drop), so the connection is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn configure(conn: &Connection, writer: bool) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .ctx("setting the busy timeout")?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .ctx("enabling foreign keys")?;
    conn.pragma_update(None, "synchronous", "FULL")
        .ctx("setting synchronous=FULL")?;
    if !writer {
        conn.pragma_update(None, "query_only", "ON")
            .ctx("making a reader connection read-only")?;
    }
    Ok(())
}

impl SqliteStore {
    /// The database file name inside the data directory.
    pub const FILE_NAME: &'static str = "cpm.sqlite";

    /// Opens `data_dir/cpm.sqlite`, creating the directory and the file if missing, switching
    /// the file to WAL and applying the migrations this build ships.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(data_dir.as_ref(), MIGRATIONS)
    }

    pub(crate) fn open_with(data_dir: &Path, migrations: &[Migration]) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join(Self::FILE_NAME);
        let mut writer = Connection::open(&path).ctx("opening the database file")?;
        configure(&writer, true)?;
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .ctx("switching to WAL")?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Io {
                path: path.display().to_string(),
                source: std::io::Error::other(format!(
                    "SQLite refused WAL mode (journal_mode={mode}); use a local file system"
                )),
            });
        }
        migrate::migrate(&mut writer, migrations)?;
        let readers = (0..READERS)
            .map(|_| {
                let conn = Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .ctx("opening a reader connection")?;
                configure(&conn, false)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SqliteStore {
            path: Some(path),
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// A private in-memory database with the full schema (tests, demos).
    pub fn open_in_memory() -> Result<Self> {
        let mut writer = Connection::open_in_memory().ctx("opening an in-memory database")?;
        configure(&writer, true)?;
        migrate::migrate(&mut writer, MIGRATIONS)?;
        Ok(SqliteStore {
            path: None,
            writer: Mutex::new(writer),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        })
    }

    /// The database file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` in a deferred (read) transaction on a reader connection.
    fn read<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = if self.readers.is_empty() {
            lock(&self.writer)
        } else {
            // Take the first idle reader, starting round-robin; wait only if all are busy.
            let n = self.readers.len();
            let start = self.next_reader.fetch_add(1, Ordering::Relaxed) % n;
            (0..n)
                .find_map(|k| match self.readers[(start + k) % n].try_lock() {
                    Ok(guard) => Some(guard),
                    Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
                    Err(TryLockError::WouldBlock) => None,
                })
                .unwrap_or_else(|| lock(&self.readers[start]))
        };
        let tx = conn.transaction().ctx(op)?;
        let out = f(&tx)?;
        tx.finish().ctx(op)?;
        Ok(out)
    }

    /// Runs `f` in an immediate (write) transaction on the writer; commits if it succeeds.
    fn write<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .ctx(op)?;
        let out = f(&tx)?;
        tx.commit().ctx(op)?;
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn schema_version(&self) -> Result<u32> {
        self.read("reading the schema version", |tx| {
            migrate::current_version(tx)
        })
    }

    fn add_user(&self, user: &NewUser) -> Result<User> {
        self.write("adding a user", |tx| users::add(tx, user))
    }

    fn user(&self, aor: &str) -> Result<Option<User>> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        self.read("reading a user", |tx| users::by_aor(tx, &aor))
    }

    fn user_by_name(&self, username: &str, domain: &str) -> Result<Option<User>> {
        let aor = crate::aor_of(username, domain)?;
        self.read("reading a user", |tx| users::by_aor(tx, &aor))
    }

    fn user_by_alias(&self, alias: &str) -> Result<Option<User>> {
        let alias = crate::normalize_alias(alias)?;
        self.read("reading a user by alias", |tx| users::by_alias(tx, &alias))
    }

    fn list_users(&self) -> Result<Vec<User>> {
        self.read("listing users", users::list)
    }

    fn remove_user(&self, aor: &str) -> Result<User> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        self.write("removing a user", |tx| users::remove(tx, &aor))
    }

    fn set_credentials(&self, aor: &str, credentials: &[Credential]) -> Result<()> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        self.write("setting credentials", |tx| {
            users::set_credentials(tx, &aor, credentials)
        })
    }

    fn set_enabled(&self, aor: &str, enabled: bool) -> Result<()> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        self.write("enabling or disabling a user", |tx| {
            users::set_enabled(tx, &aor, enabled)
        })
    }

    fn add_alias(&self, aor: &str, alias: &str) -> Result<String> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        let alias = crate::normalize_alias(alias)?;
        self.write("adding an alias", |tx| users::add_alias(tx, &aor, &alias))?;
        Ok(alias)
    }

    fn remove_alias(&self, aor: &str, alias: &str) -> Result<()> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        let alias = crate::normalize_alias(alias)?;
        self.write("removing an alias", |tx| {
            users::remove_alias(tx, &aor, &alias)
        })
    }

    fn apply_register(&self, aor: &str, ops: &[BindingOp], now: i64) -> Result<RegisterOutcome> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        self.write("applying a REGISTER", |tx| {
            location::apply(tx, &aor, ops, now)
        })
    }

    fn binding(&self, aor: &str, key: &BindingKey, now: i64) -> Result<Option<Binding>> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        self.read("reading a binding", |tx| {
            Ok(location::by_key(tx, &aor, key)?.filter(|b| b.is_live(now)))
        })
    }

    fn upsert_binding(&self, binding: &Binding, now: i64) -> Result<Option<Binding>> {
        let (aor, _, _) = crate::parse_aor(&binding.aor)?;
        self.write("writing a binding", |tx| {
            location::upsert_one(tx, &aor, binding, now)
        })
    }

    fn remove_binding(&self, aor: &str, key: &BindingKey) -> Result<Option<Binding>> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        self.write("removing a binding", |tx| location::remove(tx, &aor, key))
    }

    fn remove_bindings(&self, aor: &str) -> Result<Vec<Binding>> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        self.write("removing bindings", |tx| location::remove_all(tx, &aor))
    }

    fn live_bindings(&self, aor: &str, now: i64) -> Result<Vec<Binding>> {
        let (aor, _, _) = crate::parse_aor(aor)?;
        self.read("listing bindings", |tx| location::live(tx, &aor, now))
    }

    fn purge_expired(&self, now: i64) -> Result<Vec<Binding>> {
        self.write("purging expired bindings", |tx| location::purge(tx, now))
    }
}

#[cfg(test)]
mod tests;
