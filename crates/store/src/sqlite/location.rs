//! SQLite statements for the location service (table `bindings`): the RFC 3261 §10.3
//! Call-ID/CSeq rule, upserts keyed by [`BindingKey`], live listings and expiry purges.
//! Each function runs inside the caller's transaction and takes a canonical AOR.

use std::collections::HashSet;

use rusqlite::{OptionalExtension as _, Transaction, params};

use super::Ctx as _;
use crate::error::{Result, StoreError};
use crate::model::{Binding, BindingKey, BindingOp, RegisterOutcome};

const COLUMNS: &str = "aor, contact, instance, reg_id, q, expires_at, call_id, cseq, path, \
                       received, user_agent, updated_at";

/// Raw row, decoded outside the rusqlite closure so decoding errors keep their own variant.
struct Raw {
    binding: Binding,
    reg_id: Option<i64>,
    q: Option<i64>,
    cseq: i64,
    path: String,
}

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok(Raw {
        binding: Binding {
            aor: r.get(0)?,
            contact: r.get(1)?,
            instance: r.get(2)?,
            reg_id: None,
            q: None,
            expires_at: r.get(5)?,
            call_id: r.get(6)?,
            cseq: 0,
            path: Vec::new(),
            received: r.get(9)?,
            user_agent: r.get(10)?,
            updated_at: r.get(11)?,
        },
        reg_id: r.get(3)?,
        q: r.get(4)?,
        cseq: r.get(7)?,
        path: r.get(8)?,
    })
}

fn decode(raw: Raw) -> Result<Binding> {
    let corrupt = |what: &str| StoreError::Corrupt {
        what: format!(
            "binding {} of {}: {what}",
            raw.binding.contact, raw.binding.aor
        ),
    };
    let mut b = raw.binding.clone();
    b.reg_id = raw
        .reg_id
        .map(|v| u32::try_from(v).map_err(|_| corrupt("reg-id out of range")))
        .transpose()?;
    b.q = raw
        .q
        .map(|v| u16::try_from(v).map_err(|_| corrupt("q out of range")))
        .transpose()?;
    b.cseq = u32::try_from(raw.cseq).map_err(|_| corrupt("CSeq out of range"))?;
    b.path = serde_json::from_str(&raw.path).map_err(|_| corrupt("Path is not a JSON list"))?;
    Ok(b)
}

fn query(tx: &Transaction<'_>, sql: &str, p: impl rusqlite::Params) -> Result<Vec<Binding>> {
    let mut stmt = tx.prepare_cached(sql).ctx("reading bindings")?;
    let rows = stmt
        .query_map(p, raw)
        .ctx("reading bindings")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("reading bindings")?;
    rows.into_iter().map(decode).collect()
}

/// The stored binding with this key, live or not.
pub(super) fn by_key(tx: &Transaction<'_>, aor: &str, key: &BindingKey) -> Result<Option<Binding>> {
    Ok(query(
        tx,
        &format!("SELECT {COLUMNS} FROM bindings WHERE aor = ?1 AND binding_key = ?2"),
        params![aor, key.encode()],
    )?
    .pop())
}

pub(super) fn live(tx: &Transaction<'_>, aor: &str, now: i64) -> Result<Vec<Binding>> {
    query(
        tx,
        &format!(
            "SELECT {COLUMNS} FROM bindings WHERE aor = ?1 AND expires_at > ?2
             ORDER BY COALESCE(q, 1000) DESC, updated_at DESC, id DESC"
        ),
        params![aor, now],
    )
}

fn ensure_user(tx: &Transaction<'_>, aor: &str) -> Result<()> {
    tx.query_row("SELECT 1 FROM users WHERE aor = ?1", [aor], |_| Ok(()))
        .optional()
        .ctx("looking up a user")?
        .ok_or_else(|| StoreError::NotFound {
            what: format!("user {aor}"),
        })
}

/// RFC 3261 §10.3 step 7: same Call-ID needs a higher CSeq.
fn check_order(aor: &str, existing: &Binding, call_id: &str, cseq: u32) -> Result<()> {
    if existing.call_id == call_id && cseq <= existing.cseq {
        return Err(StoreError::OutOfOrder {
            aor: aor.to_owned(),
            binding: existing.key().to_string(),
            call_id: call_id.to_owned(),
            cseq,
            stored_cseq: existing.cseq,
        });
    }
    Ok(())
}

fn validate(aor: &str, b: &Binding, now: i64) -> Result<()> {
    let invalid = |what: String| Err(StoreError::InvalidInput { what });
    let (baor, _, _) = crate::parse_aor(&b.aor)?;
    if baor != aor {
        return invalid(format!("binding for {baor} in a REGISTER for {aor}"));
    }
    if b.contact.is_empty() {
        return invalid("binding: empty Contact URI".into());
    }
    if b.call_id.is_empty() {
        return invalid("binding: empty Call-ID".into());
    }
    if b.instance.as_deref() == Some("") {
        return invalid("binding: empty +sip.instance".into());
    }
    if b.q.is_some_and(|q| q > 1000) {
        return invalid(format!("binding: q-value {} above 1000", b.q.unwrap_or(0)));
    }
    if b.expires_at <= now {
        return invalid(format!(
            "binding {}: expires_at {} is not after now {now} (remove it instead)",
            b.contact, b.expires_at
        ));
    }
    Ok(())
}

/// Writes one binding; returns the live binding it replaced and the stored result.
/// `touched` holds keys already written by this REGISTER (checked against the old state).
fn upsert(
    tx: &Transaction<'_>,
    aor: &str,
    b: &Binding,
    now: i64,
    touched: &mut HashSet<String>,
) -> Result<(Option<Binding>, Binding)> {
    validate(aor, b, now)?;
    let key = b.key().encode();
    let previous = by_key(tx, aor, &b.key())?.filter(|p| p.is_live(now));
    if let Some(p) = previous.as_ref().filter(|_| !touched.contains(&key)) {
        check_order(aor, p, &b.call_id, b.cseq)?;
    }
    touched.insert(key.clone());
    let path = serde_json::to_string(&b.path).map_err(|e| StoreError::InvalidInput {
        what: format!("binding Path: {e}"),
    })?;
    tx.prepare_cached(
        "INSERT INTO bindings (aor, binding_key, contact, instance, reg_id, q, expires_at,
                               call_id, cseq, path, received, user_agent, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (aor, binding_key) DO UPDATE SET
             contact = excluded.contact, instance = excluded.instance,
             reg_id = excluded.reg_id, q = excluded.q, expires_at = excluded.expires_at,
             call_id = excluded.call_id, cseq = excluded.cseq, path = excluded.path,
             received = excluded.received, user_agent = excluded.user_agent,
             updated_at = excluded.updated_at",
    )
    .and_then(|mut s| {
        s.execute(params![
            aor,
            key,
            b.contact,
            b.instance,
            b.reg_id,
            b.q,
            b.expires_at,
            b.call_id,
            b.cseq,
            path,
            b.received,
            b.user_agent,
            now
        ])
    })
    .ctx("writing a binding")?;
    let mut stored = b.clone();
    stored.aor = aor.to_owned();
    stored.updated_at = now;
    Ok((previous, stored))
}

fn delete(tx: &Transaction<'_>, aor: &str, key: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM bindings WHERE aor = ?1 AND binding_key = ?2",
        params![aor, key],
    )
    .ctx("removing a binding")?;
    Ok(())
}

/// Replaces or appends `b` in `list` by key.
fn put(list: &mut Vec<Binding>, b: Binding) {
    match list.iter_mut().find(|o| o.key() == b.key()) {
        Some(slot) => *slot = b,
        None => list.push(b),
    }
}

pub(super) fn apply(
    tx: &Transaction<'_>,
    aor: &str,
    ops: &[BindingOp],
    now: i64,
) -> Result<RegisterOutcome> {
    ensure_user(tx, aor)?;
    let mut out = RegisterOutcome::default();
    let mut touched = HashSet::new();
    for op in ops {
        match op {
            BindingOp::Upsert(b) => {
                let key = b.key();
                let was_created = out.created.iter().any(|c| c.key() == key);
                let (previous, stored) = upsert(tx, aor, b, now, &mut touched)?;
                if previous.is_some() && !was_created {
                    put(&mut out.refreshed, stored);
                } else {
                    put(&mut out.created, stored);
                }
            }
            BindingOp::Remove { key, call_id, cseq } => {
                let encoded = key.encode();
                if let Some(existing) = by_key(tx, aor, key)?.filter(|e| e.is_live(now)) {
                    if !touched.contains(&encoded) {
                        check_order(aor, &existing, call_id, *cseq)?;
                    }
                    delete(tx, aor, &encoded)?;
                    out.created.retain(|c| c.key() != *key);
                    out.refreshed.retain(|c| c.key() != *key);
                    put(&mut out.removed, existing);
                }
                touched.insert(encoded);
            }
            BindingOp::RemoveAll { call_id, cseq } => {
                let all = live(tx, aor, now)?;
                for existing in &all {
                    if !touched.contains(&existing.key().encode()) {
                        check_order(aor, existing, call_id, *cseq)?;
                    }
                }
                for existing in all {
                    let encoded = existing.key().encode();
                    delete(tx, aor, &encoded)?;
                    touched.insert(encoded);
                    put(&mut out.removed, existing);
                }
                out.created.clear();
                out.refreshed.clear();
            }
        }
    }
    out.bindings = live(tx, aor, now)?;
    Ok(out)
}

pub(super) fn upsert_one(
    tx: &Transaction<'_>,
    aor: &str,
    b: &Binding,
    now: i64,
) -> Result<Option<Binding>> {
    ensure_user(tx, aor)?;
    Ok(upsert(tx, aor, b, now, &mut HashSet::new())?.0)
}

pub(super) fn remove(tx: &Transaction<'_>, aor: &str, key: &BindingKey) -> Result<Option<Binding>> {
    let existing = by_key(tx, aor, key)?;
    if existing.is_some() {
        delete(tx, aor, &key.encode())?;
    }
    Ok(existing)
}

pub(super) fn remove_all(tx: &Transaction<'_>, aor: &str) -> Result<Vec<Binding>> {
    let all = query(
        tx,
        &format!("SELECT {COLUMNS} FROM bindings WHERE aor = ?1 ORDER BY id"),
        [aor],
    )?;
    tx.execute("DELETE FROM bindings WHERE aor = ?1", [aor])
        .ctx("removing bindings")?;
    Ok(all)
}

pub(super) fn purge(tx: &Transaction<'_>, now: i64) -> Result<Vec<Binding>> {
    let expired = query(
        tx,
        &format!("SELECT {COLUMNS} FROM bindings WHERE expires_at <= ?1 ORDER BY aor, id"),
        [now],
    )?;
    tx.execute("DELETE FROM bindings WHERE expires_at <= ?1", [now])
        .ctx("purging expired bindings")?;
    Ok(expired)
}
