//! A read-through cache of users and location bindings in front of the store, so that
//! routing a request does not run SQL on the endpoint's driver task (Kamailio keeps its
//! location table in shared memory for the same reason).
//!
//! Entries, negative ones included, live for [`TTL`]: a user added with `cpm user add` (another
//! process writing the same database) is seen within that time. The registrar's own
//! changes are written through at once ([`Cache::set_bindings`]), before its response
//! leaves, so a client never sees its registration missing. Bindings are filtered by their
//! expiry on every read. Bounded: the cache is emptied when it holds [`MAX_ENTRIES`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cpm_store::{Binding, Result, Store, User};

/// How long an entry is trusted.
pub(crate) const TTL: Duration = Duration::from_secs(5);
/// Most entries per map before it is cleared.
pub(crate) const MAX_ENTRIES: usize = 200_000;

#[derive(Debug)]
struct Map<V> {
    entries: HashMap<String, (Instant, V)>,
}

impl<V: Clone> Map<V> {
    fn new() -> Self {
        Map {
            entries: HashMap::new(),
        }
    }

    fn get_or(&mut self, key: &str, now: Instant, load: impl FnOnce() -> Result<V>) -> Result<V> {
        if let Some((at, v)) = self.entries.get(key)
            && now.duration_since(*at) < TTL
        {
            return Ok(v.clone());
        }
        let v = load()?;
        self.put(key.to_string(), now, v.clone());
        Ok(v)
    }

    fn put(&mut self, key: String, now: Instant, v: V) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(key, (now, v));
    }
}

/// Users by AOR, name@domain and alias; bindings by AOR.
#[derive(Debug)]
pub(crate) struct Cache {
    by_aor: Map<Option<User>>,
    by_name: Map<Option<User>>,
    by_alias: Map<Option<User>>,
    bindings: Map<Vec<Binding>>,
}

impl Cache {
    pub(crate) fn new() -> Cache {
        Cache {
            by_aor: Map::new(),
            by_name: Map::new(),
            by_alias: Map::new(),
            bindings: Map::new(),
        }
    }

    pub(crate) fn user(&mut self, store: &dyn Store, aor: &str) -> Result<Option<User>> {
        self.by_aor.get_or(aor, Instant::now(), || store.user(aor))
    }

    pub(crate) fn user_by_name(
        &mut self,
        store: &dyn Store,
        name: &str,
        domain: &str,
    ) -> Result<Option<User>> {
        let key = format!("{name}@{}", domain.to_ascii_lowercase());
        self.by_name
            .get_or(&key, Instant::now(), || store.user_by_name(name, domain))
    }

    pub(crate) fn user_by_alias(&mut self, store: &dyn Store, alias: &str) -> Result<Option<User>> {
        self.by_alias
            .get_or(alias, Instant::now(), || store.user_by_alias(alias))
    }

    /// The live bindings of `aor` at `now_unix`, highest q first.
    pub(crate) fn live_bindings(
        &mut self,
        store: &dyn Store,
        aor: &str,
        now_unix: i64,
    ) -> Result<Vec<Binding>> {
        let all = self
            .bindings
            .get_or(aor, Instant::now(), || store.live_bindings(aor, now_unix))?;
        Ok(all.into_iter().filter(|b| b.is_live(now_unix)).collect())
    }

    /// The registrar changed `aor`'s bindings: these are now all of them.
    pub(crate) fn set_bindings(&mut self, aor: &str, bindings: Vec<Binding>) {
        self.bindings.put(aor.to_string(), Instant::now(), bindings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpm_store::{BindingOp, NewUser, SqliteStore};

    #[test]
    fn reads_through_and_writes_through() {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut c = Cache::new();
        assert!(c.user_by_name(&store, "bob", "cpm.test").unwrap().is_none());
        store
            .add_user(&NewUser::new("bob", "cpm.test", 1).alias("+15551230002"))
            .unwrap();
        // The negative entry holds until it expires.
        assert!(c.user_by_name(&store, "bob", "cpm.test").unwrap().is_none());
        assert_eq!(
            c.user_by_alias(&store, "+15551230002")
                .unwrap()
                .unwrap()
                .aor,
            "sip:bob@cpm.test"
        );
        let now = 1_000;
        let b = Binding::new("sip:bob@cpm.test", "sip:bob@192.0.2.1", now + 60, "c", 1);
        assert!(
            c.live_bindings(&store, "sip:bob@cpm.test", now)
                .unwrap()
                .is_empty()
        );
        let out = store
            .apply_register("sip:bob@cpm.test", &[BindingOp::Upsert(b)], now)
            .unwrap();
        c.set_bindings("sip:bob@cpm.test", out.bindings);
        assert_eq!(
            c.live_bindings(&store, "sip:bob@cpm.test", now)
                .unwrap()
                .len(),
            1
        );
        // Expiry is checked on every read.
        assert!(
            c.live_bindings(&store, "sip:bob@cpm.test", now + 60)
                .unwrap()
                .is_empty()
        );
    }
}
