//! SQLite backend tests: the shared battery on a file in a temporary data directory, plus
//! what only this backend has (migrations, WAL file layout, several handles on one file).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rusqlite::Connection;

use super::{MIGRATIONS, SqliteStore};
use crate::battery::Harness;
use crate::{Binding, BindingOp, NewUser, Store, StoreConfig, StoreError};

const NOW: i64 = 1_700_000_000;

/// A unique directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "cpm-store-test-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct FileHarness(TempDir);

impl Harness for FileHarness {
    fn open(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(self.0.path()).expect("open the test store"))
    }
}

mod battery {
    crate::battery_tests!(super::FileHarness(super::TempDir::new()));
}

fn user_count(path: &Path) -> i64 {
    let conn = Connection::open(path.join(SqliteStore::FILE_NAME)).unwrap();
    conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .unwrap()
}

fn recorded_versions(path: &Path) -> Vec<u32> {
    let conn = Connection::open(path.join(SqliteStore::FILE_NAME)).unwrap();
    let mut stmt = conn
        .prepare("SELECT version FROM schema_version ORDER BY version")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn opens_a_wal_file_in_the_data_directory() {
    let dir = TempDir::new();
    let data = dir.path().join("nested").join("cpm-data");
    let store = SqliteStore::open(&data).unwrap();
    assert_eq!(store.path(), Some(data.join("cpm.sqlite").as_path()));
    assert!(data.join("cpm.sqlite").is_file());
    assert!(data.join("cpm.sqlite-wal").exists(), "WAL journal in use");
    let mode: String = Connection::open(data.join("cpm.sqlite"))
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(store.backend(), "sqlite");
    assert!(format!("{store:?}").contains("cpm.sqlite"));
}

#[test]
fn migrations_are_idempotent() {
    let dir = TempDir::new();
    let latest = MIGRATIONS.last().unwrap().version;
    for _ in 0..3 {
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.schema_version().unwrap(), latest);
    }
    let want: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(
        recorded_versions(dir.path()),
        want,
        "each migration recorded once"
    );
}

#[test]
fn upgrades_a_database_at_the_previous_version() {
    let dir = TempDir::new();
    let n = MIGRATIONS.len();
    {
        let old = SqliteStore::open_with(dir.path(), &MIGRATIONS[..n - 1]).unwrap();
        assert_eq!(old.schema_version().unwrap(), MIGRATIONS[n - 2].version);
        old.add_user(&NewUser::new("alice", "example.com", NOW).alias("+15551230001"))
            .unwrap();
    }
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS[n - 1].version);
    let alice = s.user_by_alias("+15551230001").unwrap().expect("data kept");
    // The table the last migration adds works.
    let b = Binding::new(&alice.aor, "sip:alice@192.0.2.1", NOW + 60, "c", 1);
    let out = s
        .apply_register(&alice.aor, &[BindingOp::Upsert(b)], NOW)
        .unwrap();
    assert_eq!(out.bindings.len(), 1);
}

#[test]
fn refuses_a_newer_schema() {
    let dir = TempDir::new();
    drop(SqliteStore::open(dir.path()).unwrap());
    Connection::open(dir.path().join(SqliteStore::FILE_NAME))
        .unwrap()
        .execute(
            "INSERT INTO schema_version (version, name) VALUES (99, 'future')",
            [],
        )
        .unwrap();
    match SqliteStore::open(dir.path()) {
        Err(StoreError::SchemaTooNew {
            found: 99,
            supported,
        }) => assert_eq!(supported, MIGRATIONS.last().unwrap().version),
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn unusable_data_directory_is_an_io_error() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path()).unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteStore::open(&file).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn the_password_never_reaches_the_file() {
    let dir = TempDir::new();
    {
        let s = SqliteStore::open(dir.path()).unwrap();
        s.add_user(
            &NewUser::new("alice", "example.com", NOW).password("example.com", "hunter2-XYZZY"),
        )
        .unwrap();
        s.set_password("sip:alice@example.com", "example.com", "second-PLUGH")
            .unwrap();
    }
    for name in ["cpm.sqlite", "cpm.sqlite-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(name)) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("hunter2-XYZZY"), "{name}");
            assert!(!text.contains("second-PLUGH"), "{name}");
        }
    }
}

#[test]
fn two_handles_on_one_file_serialise_writes() {
    // Two nodes (or a node and `cpm user add`) sharing a data directory.
    let dir = TempDir::new();
    let a = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let b = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let threads: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(t, s)| {
            std::thread::spawn(move || {
                for i in 0..25 {
                    s.add_user(&NewUser::new(format!("h{t}u{i}"), "example.com", NOW))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(a.list_users().unwrap().len(), 50);
    assert_eq!(b.list_users().unwrap().len(), 50);
    assert_eq!(user_count(dir.path()), 50);
}

#[test]
fn in_memory_store_and_open_by_config() {
    let s = crate::open(&StoreConfig::SqliteInMemory).unwrap();
    s.add_user(&NewUser::new("alice", "example.com", NOW))
        .unwrap();
    assert_eq!(s.list_users().unwrap().len(), 1);
    assert_eq!(
        crate::open(&StoreConfig::SqliteInMemory)
            .unwrap()
            .list_users()
            .unwrap()
            .len(),
        0
    );

    let dir = TempDir::new();
    let cfg = StoreConfig::Sqlite {
        data_dir: dir.path().to_owned(),
    };
    crate::open(&cfg)
        .unwrap()
        .add_user(&NewUser::new("bob", "example.com", NOW))
        .unwrap();
    assert_eq!(user_count(dir.path()), 1);
}
