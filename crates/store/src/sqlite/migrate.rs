//! SQLite schema migrations: the SQL files under `migrations/sqlite/`, compiled into the
//! binary, applied in version order at open inside one immediate transaction, and recorded
//! in `schema_version`. Applying is idempotent: versions already recorded are skipped.

use rusqlite::{Connection, TransactionBehavior};

use super::Ctx as _;
use crate::error::{Result, StoreError};

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Strictly increasing, from 1.
    pub(crate) version: u32,
    /// Short name, recorded in `schema_version`.
    pub(crate) name: &'static str,
    /// The statements.
    pub(crate) sql: &'static str,
}

/// Every migration this build ships, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "users",
        sql: include_str!("../../migrations/sqlite/0001_users.sql"),
    },
    Migration {
        version: 2,
        name: "location",
        sql: include_str!("../../migrations/sqlite/0002_location.sql"),
    },
];

const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
)";

/// The highest version recorded (0 for a new database).
pub(crate) fn current_version(conn: &Connection) -> Result<u32> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )
    .ctx("reading the schema version")
}

/// Brings the database up to the last of `migrations`; returns the resulting version.
pub(crate) fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<u32> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("starting the migration transaction")?;
    tx.execute_batch(SCHEMA_VERSION_TABLE)
        .ctx("creating schema_version")?;
    let current = current_version(&tx)?;
    let latest = migrations.last().map_or(0, |m| m.version);
    if current > latest {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: latest,
        });
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sql).ctx("applying a schema migration")?;
        tx.execute(
            "INSERT INTO schema_version (version, name) VALUES (?1, ?2)",
            (m.version, m.name),
        )
        .ctx("recording a schema migration")?;
    }
    tx.commit().ctx("committing schema migrations")?;
    Ok(latest.max(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
        }
    }
}
