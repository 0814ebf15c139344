//! SQLite statements for users, their credentials and aliases (tables `users`,
//! `user_credentials`, `user_aliases`). Each function runs inside the caller's transaction
//! and takes already-canonical AORs and normalised aliases.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{OptionalExtension as _, Transaction, params};

use super::Ctx as _;
use crate::Algorithm;
use crate::error::{Result, StoreError};
use crate::model::{Credential, NewUser, User};

fn not_found(aor: &str) -> StoreError {
    StoreError::NotFound {
        what: format!("user {aor}"),
    }
}

fn algorithm(name: &str) -> Result<Algorithm> {
    Algorithm::from_name(Some(name)).ok_or_else(|| StoreError::Corrupt {
        what: format!("unknown digest algorithm {name:?} in user_credentials"),
    })
}

/// Rejects two credentials for the same algorithm.
fn check_credentials(credentials: &[Credential]) -> Result<()> {
    for (i, c) in credentials.iter().enumerate() {
        if credentials[..i].iter().any(|o| o.algorithm == c.algorithm) {
            return Err(StoreError::InvalidInput {
                what: format!("credentials: two HA1s for {}", c.algorithm.name()),
            });
        }
        if c.ha1.is_empty() {
            return Err(StoreError::InvalidInput {
                what: format!("credentials: empty HA1 for {}", c.algorithm.name()),
            });
        }
    }
    Ok(())
}

fn user_id(tx: &Transaction<'_>, aor: &str) -> Result<i64> {
    tx.query_row("SELECT id FROM users WHERE aor = ?1", [aor], |r| r.get(0))
        .optional()
        .ctx("looking up a user")?
        .ok_or_else(|| not_found(aor))
}

fn alias_holder(tx: &Transaction<'_>, alias: &str) -> Result<Option<String>> {
    tx.query_row(
        "SELECT u.aor FROM user_aliases a JOIN users u ON u.id = a.user_id WHERE a.alias = ?1",
        [alias],
        |r| r.get(0),
    )
    .optional()
    .ctx("looking up an alias")
}

fn duplicate_alias(alias: &str, holder: &str) -> StoreError {
    StoreError::Duplicate {
        what: format!("alias {alias} (held by {holder})"),
    }
}

fn insert_credentials(tx: &Transaction<'_>, id: i64, credentials: &[Credential]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO user_credentials (user_id, algorithm, realm, ha1) VALUES (?1, ?2, ?3, ?4)",
        )
        .ctx("storing credentials")?;
    for c in credentials {
        stmt.execute(params![id, c.algorithm.name(), c.realm, c.ha1])
            .ctx("storing credentials")?;
    }
    Ok(())
}

pub(super) fn add(tx: &Transaction<'_>, new: &NewUser) -> Result<User> {
    let (username, domain) = crate::normalize_user(&new.username, &new.domain)?;
    let aor = format!("sip:{username}@{domain}");
    let aliases = new
        .aliases
        .iter()
        .map(|a| crate::normalize_alias(a))
        .collect::<Result<BTreeSet<_>>>()?;
    check_credentials(&new.credentials)?;

    if tx
        .query_row("SELECT 1 FROM users WHERE aor = ?1", [&aor], |_| Ok(()))
        .optional()
        .ctx("looking up a user")?
        .is_some()
    {
        return Err(StoreError::Duplicate {
            what: format!("user {aor}"),
        });
    }
    for alias in &aliases {
        if let Some(holder) = alias_holder(tx, alias)? {
            return Err(duplicate_alias(alias, &holder));
        }
    }
    tx.execute(
        "INSERT INTO users (aor, username, domain, display_name, enabled, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            aor,
            username,
            domain,
            new.display_name,
            new.enabled,
            new.created_at
        ],
    )
    .ctx("adding a user")?;
    let id = tx.last_insert_rowid();
    insert_credentials(tx, id, &new.credentials)?;
    for alias in &aliases {
        tx.execute(
            "INSERT INTO user_aliases (alias, user_id) VALUES (?1, ?2)",
            params![alias, id],
        )
        .ctx("adding an alias")?;
    }
    by_aor(tx, &aor)?.ok_or_else(|| not_found(&aor))
}

struct Row {
    id: i64,
    user: User,
}

const USER_COLUMNS: &str = "id, aor, username, domain, display_name, enabled, created_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        user: User {
            aor: r.get(1)?,
            username: r.get(2)?,
            domain: r.get(3)?,
            display_name: r.get(4)?,
            aliases: Vec::new(),
            credentials: Vec::new(),
            enabled: r.get(5)?,
            created_at: r.get(6)?,
        },
    })
}

/// Fills in credentials and aliases for the given rows (three queries in all).
fn complete(tx: &Transaction<'_>, rows: Vec<Row>, only: Option<i64>) -> Result<Vec<User>> {
    let mut by_id: HashMap<i64, User> = HashMap::with_capacity(rows.len());
    let mut order = Vec::with_capacity(rows.len());
    for r in rows {
        order.push(r.id);
        by_id.insert(r.id, r.user);
    }
    let filter = if only.is_some() {
        "WHERE user_id = ?1"
    } else {
        "WHERE ?1 IS NULL"
    };
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT user_id, algorithm, realm, ha1 FROM user_credentials {filter}
             ORDER BY user_id, algorithm"
        ))
        .ctx("reading credentials")?;
    let creds = stmt
        .query_map([only], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .ctx("reading credentials")?;
    for c in creds {
        let (id, alg, realm, ha1) = c.ctx("reading credentials")?;
        if let Some(u) = by_id.get_mut(&id) {
            u.credentials.push(Credential {
                algorithm: algorithm(&alg)?,
                realm,
                ha1,
            });
        }
    }
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT user_id, alias FROM user_aliases {filter} ORDER BY user_id, alias"
        ))
        .ctx("reading aliases")?;
    let aliases = stmt
        .query_map([only], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .ctx("reading aliases")?;
    for a in aliases {
        let (id, alias) = a.ctx("reading aliases")?;
        if let Some(u) = by_id.get_mut(&id) {
            u.aliases.push(alias);
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect())
}

fn one(tx: &Transaction<'_>, r: Option<Row>) -> Result<Option<User>> {
    match r {
        None => Ok(None),
        Some(r) => {
            let id = r.id;
            Ok(complete(tx, vec![r], Some(id))?.pop())
        }
    }
}

pub(super) fn by_aor(tx: &Transaction<'_>, aor: &str) -> Result<Option<User>> {
    let r = tx
        .query_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE aor = ?1"),
            [aor],
            row,
        )
        .optional()
        .ctx("reading a user")?;
    one(tx, r)
}

pub(super) fn by_alias(tx: &Transaction<'_>, alias: &str) -> Result<Option<User>> {
    let r = tx
        .query_row(
            &format!(
                "SELECT {USER_COLUMNS} FROM users
                 WHERE id = (SELECT user_id FROM user_aliases WHERE alias = ?1)"
            ),
            [alias],
            row,
        )
        .optional()
        .ctx("reading a user by alias")?;
    one(tx, r)
}

pub(super) fn list(tx: &Transaction<'_>) -> Result<Vec<User>> {
    let mut stmt = tx
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY aor"))
        .ctx("listing users")?;
    let rows = stmt
        .query_map([], row)
        .ctx("listing users")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("listing users")?;
    complete(tx, rows, None)
}

pub(super) fn remove(tx: &Transaction<'_>, aor: &str) -> Result<User> {
    let user = by_aor(tx, aor)?.ok_or_else(|| not_found(aor))?;
    tx.execute("DELETE FROM users WHERE aor = ?1", [aor])
        .ctx("removing a user")?;
    Ok(user)
}

pub(super) fn set_credentials(
    tx: &Transaction<'_>,
    aor: &str,
    credentials: &[Credential],
) -> Result<()> {
    check_credentials(credentials)?;
    let id = user_id(tx, aor)?;
    tx.execute("DELETE FROM user_credentials WHERE user_id = ?1", [id])
        .ctx("replacing credentials")?;
    insert_credentials(tx, id, credentials)
}

pub(super) fn set_enabled(tx: &Transaction<'_>, aor: &str, enabled: bool) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE users SET enabled = ?2 WHERE aor = ?1",
            params![aor, enabled],
        )
        .ctx("enabling or disabling a user")?;
    if n == 0 {
        return Err(not_found(aor));
    }
    Ok(())
}

pub(super) fn add_alias(tx: &Transaction<'_>, aor: &str, alias: &str) -> Result<()> {
    let id = user_id(tx, aor)?;
    if let Some(holder) = alias_holder(tx, alias)? {
        return Err(duplicate_alias(alias, &holder));
    }
    tx.execute(
        "INSERT INTO user_aliases (alias, user_id) VALUES (?1, ?2)",
        params![alias, id],
    )
    .ctx("adding an alias")?;
    Ok(())
}

pub(super) fn remove_alias(tx: &Transaction<'_>, aor: &str, alias: &str) -> Result<()> {
    let id = user_id(tx, aor)?;
    let n = tx
        .execute(
            "DELETE FROM user_aliases WHERE alias = ?1 AND user_id = ?2",
            params![alias, id],
        )
        .ctx("removing an alias")?;
    if n == 0 {
        return Err(StoreError::NotFound {
            what: format!("alias {alias} of {aor}"),
        });
    }
    Ok(())
}
