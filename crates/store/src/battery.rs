//! The backend-independent test battery: every behaviour a [`Store`] must have, written once
//! against `dyn Store` and run for each backend (SQLite now, PostgreSQL later), like
//! hickory-dns's zone-handler battery and stalwart's store suite.
//!
//! A backend provides a [`Harness`] that opens a fresh, empty database and, when opened again
//! after the previous handle was dropped, the same database (to test persistence). Each
//! public function here is one test; [`battery_tests!`](crate::battery_tests) turns the whole
//! list into `#[test]` functions:
//!
//! ```ignore
//! cpm_store::battery_tests!(MyHarness::new());
//! ```

use std::sync::Arc;
use std::thread;

use crate::{Algorithm, Binding, BindingKey, BindingOp, Credential, NewUser, Store, StoreError};

/// Opens the database under test.
pub trait Harness {
    /// Opens the store. The first call sees an empty database; a later call (after every
    /// earlier handle was dropped) reopens the same database, as a restarted node would.
    fn open(&self) -> Arc<dyn Store>;
}

/// Turns every battery function into a `#[test]`, each with its own harness from `$make`.
#[macro_export]
macro_rules! battery_tests {
    ($make:expr) => {
        $crate::battery_tests!(@each $make;
            users_add_and_lookup, users_duplicates_are_rejected_whole, users_remove,
            users_credentials_and_enabled, aliases_add_remove_normalise, invalid_identities,
            bindings_upsert_fields_and_order, bindings_cseq_rule, bindings_instance_keys,
            register_is_atomic, register_remove_and_remove_all, bindings_expiry_and_purge,
            bindings_admin_removal, state_survives_reopen, schema_version_is_current,
            concurrent_threads);
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let harness = $make;
                $crate::battery::$name(&harness);
            }
        )*
    };
}

const NOW: i64 = 1_700_000_000;
const DOMAIN: &str = "example.com";

fn alice() -> NewUser {
    NewUser::new("alice", DOMAIN, NOW)
        .display_name("Alice A.")
        .password(DOMAIN, "alice-secret")
        .alias("+1 (555) 123-0001")
}

fn bob() -> NewUser {
    NewUser::new("bob", DOMAIN, NOW + 1).password(DOMAIN, "bob-secret")
}

fn binding(aor: &str, contact: &str, ttl: i64, call_id: &str, cseq: u32) -> Binding {
    Binding::new(aor, contact, NOW + ttl, call_id, cseq)
}

fn is_dup(r: Result<impl std::fmt::Debug, StoreError>, needle: &str) {
    match r {
        Err(StoreError::Duplicate { what }) => {
            assert!(what.contains(needle), "{what:?} should mention {needle:?}")
        }
        other => panic!("expected Duplicate({needle}), got {other:?}"),
    }
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    assert!(
        matches!(r, Err(StoreError::NotFound { .. })),
        "expected NotFound, got {r:?}"
    );
}

/// Add users, then find them by AOR (any case of scheme and domain), by name, by alias in
/// any visual spelling, and in the list; HA1s are those of cpm-sip, and no password is kept.
pub fn users_add_and_lookup(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    assert_eq!(a.aor, "sip:alice@example.com");
    assert_eq!(a.display_name.as_deref(), Some("Alice A."));
    assert_eq!(a.aliases, ["+15551230001"]);
    assert!(a.enabled);
    assert_eq!(a.created_at, NOW);
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let c = a.credential(alg).expect("both algorithms stored");
        assert_eq!(c.realm, DOMAIN);
        assert_eq!(
            c.ha1,
            cpm_sip::digest::ha1(alg, "alice", DOMAIN, "alice-secret")
        );
        assert!(!c.ha1.contains("alice-secret"));
    }
    assert_eq!(a.credentials[0].algorithm, Algorithm::Md5);
    s.add_user(&bob()).unwrap();

    assert_eq!(s.user("sip:alice@example.com").unwrap().as_ref(), Some(&a));
    assert_eq!(s.user("SIP:alice@EXAMPLE.com").unwrap().as_ref(), Some(&a));
    assert_eq!(
        s.user("sip:Alice@example.com").unwrap(),
        None,
        "user part is case-sensitive"
    );
    assert_eq!(
        s.user_by_name("alice", "Example.COM").unwrap().as_ref(),
        Some(&a)
    );
    assert_eq!(s.user_by_name("carol", DOMAIN).unwrap(), None);
    for spelling in ["+15551230001", "+1-555-123-0001", "tel:+1.555.123.0001"] {
        assert_eq!(
            s.user_by_alias(spelling).unwrap().as_ref(),
            Some(&a),
            "{spelling}"
        );
    }
    assert_eq!(s.user_by_alias("+15551230002").unwrap(), None);

    let list = s.list_users().unwrap();
    let aors: Vec<_> = list.iter().map(|u| u.aor.as_str()).collect();
    assert_eq!(aors, ["sip:alice@example.com", "sip:bob@example.com"]);
    assert_eq!(list[0], a);
    assert!(list[1].aliases.is_empty());
}

/// A duplicate AOR or alias is refused with a message naming it, and nothing of the refused
/// user is written.
pub fn users_duplicates_are_rejected_whole(h: &dyn Harness) {
    let s = h.open();
    s.add_user(&alice()).unwrap();
    is_dup(
        s.add_user(&NewUser::new("alice", "EXAMPLE.COM", NOW)),
        "sip:alice@example.com",
    );
    is_dup(
        s.add_user(&bob().alias("+15557770000").alias("+15551230001")),
        "+15551230001 (held by sip:alice@example.com)",
    );
    assert_eq!(s.user("sip:bob@example.com").unwrap(), None);
    assert_eq!(s.user_by_alias("+15557770000").unwrap(), None);
    // The same alias twice in one request is one alias.
    let b = s
        .add_user(&bob().alias("+15557770000").alias("+1-555-777-0000"))
        .unwrap();
    assert_eq!(b.aliases, ["+15557770000"]);
    assert_eq!(s.list_users().unwrap().len(), 2);
}

/// Removing a user returns it, frees its aliases and deletes its bindings.
pub fn users_remove(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    s.add_user(&bob()).unwrap();
    s.upsert_binding(&binding(&a.aor, "sip:alice@192.0.2.1", 60, "c", 1), NOW)
        .unwrap();
    assert_eq!(s.remove_user("sip:alice@EXAMPLE.com").unwrap(), a);
    assert_eq!(s.user(&a.aor).unwrap(), None);
    assert_eq!(s.user_by_alias("+15551230001").unwrap(), None);
    assert!(s.live_bindings(&a.aor, NOW).unwrap().is_empty());
    assert!(
        s.purge_expired(NOW + 1000).unwrap().is_empty(),
        "binding went with the user"
    );
    is_not_found(s.remove_user(&a.aor));
    // The alias is free again.
    s.add_alias("sip:bob@example.com", "+15551230001").unwrap();
    assert_eq!(s.list_users().unwrap().len(), 1);
}

/// New passwords replace the HA1s; credentials are validated; users can be disabled.
pub fn users_credentials_and_enabled(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    s.set_password(&a.aor, "realm2", "new-secret").unwrap();
    let a2 = s.user(&a.aor).unwrap().unwrap();
    assert_eq!(a2.credentials.len(), 2);
    assert_eq!(
        a2.credential(Algorithm::Sha256).unwrap().ha1,
        cpm_sip::digest::ha1(Algorithm::Sha256, "alice", "realm2", "new-secret")
    );
    assert_eq!(a2.credential(Algorithm::Md5).unwrap().realm, "realm2");

    let only_sha = [Credential::from_password(
        Algorithm::Sha256,
        "alice",
        DOMAIN,
        "x",
    )];
    s.set_credentials(&a.aor, &only_sha).unwrap();
    assert_eq!(s.user(&a.aor).unwrap().unwrap().credentials, only_sha);
    let twice = [only_sha[0].clone(), only_sha[0].clone()];
    assert!(matches!(
        s.set_credentials(&a.aor, &twice),
        Err(StoreError::InvalidInput { .. })
    ));
    assert_eq!(
        s.user(&a.aor).unwrap().unwrap().credentials,
        only_sha,
        "unchanged"
    );
    s.set_credentials(&a.aor, &[]).unwrap();
    assert!(s.user(&a.aor).unwrap().unwrap().credentials.is_empty());

    s.set_enabled(&a.aor, false).unwrap();
    assert!(!s.user(&a.aor).unwrap().unwrap().enabled);
    s.set_enabled(&a.aor, true).unwrap();
    assert!(s.user(&a.aor).unwrap().unwrap().enabled);
    let disabled = s.add_user(&bob().enabled(false)).unwrap();
    assert!(!disabled.enabled);

    is_not_found(s.set_password("sip:nobody@example.com", DOMAIN, "x"));
    is_not_found(s.set_credentials("sip:nobody@example.com", &only_sha));
    is_not_found(s.set_enabled("sip:nobody@example.com", false));
}

/// Aliases are normalised, unique across users, and removable.
pub fn aliases_add_remove_normalise(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    let b = s.add_user(&bob()).unwrap();
    assert_eq!(
        s.add_alias(&b.aor, "+44 20 7946 0000").unwrap(),
        "+442079460000"
    );
    assert_eq!(
        s.add_alias(&b.aor, "tel:+46-70-000-0123").unwrap(),
        "+46700000123"
    );
    assert_eq!(
        s.user(&b.aor).unwrap().unwrap().aliases,
        ["+442079460000", "+46700000123"],
        "sorted"
    );
    is_dup(
        s.add_alias(&b.aor, "+1.555.123.0001"),
        "held by sip:alice@example.com",
    );
    is_dup(
        s.add_alias(&b.aor, "+442079460000"),
        "held by sip:bob@example.com",
    );
    for bad in ["5551230001", "+1234", "+1555abc0001", "+0123456789"] {
        assert!(
            matches!(
                s.add_alias(&b.aor, bad),
                Err(StoreError::InvalidAlias { .. })
            ),
            "{bad}"
        );
        assert!(matches!(
            s.user_by_alias(bad),
            Err(StoreError::InvalidAlias { .. })
        ));
    }
    is_not_found(s.add_alias("sip:nobody@example.com", "+15550000000"));

    s.remove_alias(&b.aor, "+44 (20) 7946-0000").unwrap();
    assert_eq!(s.user_by_alias("+442079460000").unwrap(), None);
    is_not_found(s.remove_alias(&b.aor, "+442079460000"));
    is_not_found(s.remove_alias(&b.aor, "+15551230001")); // alice's, not bob's
    assert_eq!(s.user_by_alias("+15551230001").unwrap().unwrap().aor, a.aor);
}

/// Malformed AORs and user names are refused before touching storage.
pub fn invalid_identities(h: &dyn Harness) {
    let s = h.open();
    let bad_aor = |r: Result<_, StoreError>| {
        assert!(matches!(r, Err(StoreError::InvalidAor { .. })), "{r:?}");
    };
    bad_aor(s.add_user(&NewUser::new("", DOMAIN, NOW)).map(|_| ()));
    bad_aor(s.add_user(&NewUser::new("a@b", DOMAIN, NOW)).map(|_| ()));
    bad_aor(
        s.add_user(&NewUser::new("carol", "example.com:5060", NOW))
            .map(|_| ()),
    );
    bad_aor(s.user("alice@example.com").map(|_| ()));
    bad_aor(s.user("sip:alice@example.com;transport=tcp").map(|_| ()));
    bad_aor(s.user_by_name("alice", "").map(|_| ()));
    bad_aor(s.live_bindings("tel:+15551230001", NOW).map(|_| ()));
    assert!(s.list_users().unwrap().is_empty());
}

/// Every binding field round-trips; live bindings come highest q first.
pub fn bindings_upsert_fields_and_order(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    let mut full = binding(
        &a.aor,
        "sip:alice@192.0.2.1:5060;transport=tcp",
        3600,
        "c1",
        7,
    );
    full.instance = Some("\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"".into());
    full.reg_id = Some(1);
    full.q = Some(500);
    full.path = vec![
        "<sip:edge1.example.com;lr>".into(),
        "<sip:edge2.example.com;lr;ob>".into(),
    ];
    full.received = Some("tcp:192.0.2.1:49152".into());
    full.user_agent = Some("cpm/0.1".into());
    assert_eq!(s.upsert_binding(&full, NOW).unwrap(), None);
    let mut low = binding(&a.aor, "sip:alice@198.51.100.9", 60, "c2", 1);
    low.q = Some(100);
    s.upsert_binding(&low, NOW + 5).unwrap();
    let plain = binding(
        "SIP:alice@Example.com",
        "sip:alice@203.0.113.3",
        60,
        "c3",
        1,
    );
    s.upsert_binding(&plain, NOW + 6).unwrap();

    let live = s.live_bindings(&a.aor, NOW + 10).unwrap();
    let contacts: Vec<_> = live.iter().map(|b| b.contact.as_str()).collect();
    assert_eq!(
        contacts,
        [
            "sip:alice@203.0.113.3",
            "sip:alice@192.0.2.1:5060;transport=tcp",
            "sip:alice@198.51.100.9"
        ],
        "no q (=1.0), then 0.5, then 0.1"
    );
    let mut want = full.clone();
    want.updated_at = NOW;
    assert_eq!(live[1], want);
    assert_eq!(live[0].aor, a.aor, "AOR canonicalised");
    assert_eq!(live[0].updated_at, NOW + 6);
    assert_eq!(
        s.binding(&a.aor, &full.key(), NOW + 10).unwrap().as_ref(),
        Some(&want)
    );
    assert_eq!(want.expires_in(NOW + 10), 3590);

    let mut bad = binding(&a.aor, "sip:x@192.0.2.7", 60, "c4", 1);
    bad.q = Some(1001);
    assert!(matches!(
        s.upsert_binding(&bad, NOW),
        Err(StoreError::InvalidInput { .. })
    ));
    let past = binding(&a.aor, "sip:x@192.0.2.7", 0, "c4", 1);
    assert!(matches!(
        s.upsert_binding(&past, NOW),
        Err(StoreError::InvalidInput { .. })
    ));
    is_not_found(s.upsert_binding(
        &binding("sip:nobody@example.com", "sip:n@192.0.2.8", 60, "c", 1),
        NOW,
    ));
    assert_eq!(s.live_bindings(&a.aor, NOW + 10).unwrap().len(), 3);
}

/// RFC 3261 §10.3 step 7: the same Call-ID needs a higher CSeq; another Call-ID may use any.
pub fn bindings_cseq_rule(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    let c = "sip:alice@192.0.2.1";
    s.upsert_binding(&binding(&a.aor, c, 60, "call-1", 5), NOW)
        .unwrap();
    for cseq in [4, 5] {
        match s.upsert_binding(&binding(&a.aor, c, 120, "call-1", cseq), NOW) {
            Err(StoreError::OutOfOrder {
                stored_cseq: 5,
                cseq: got,
                ..
            }) => assert_eq!(got, cseq),
            other => panic!("CSeq {cseq}: expected OutOfOrder, got {other:?}"),
        }
    }
    assert_eq!(
        s.live_bindings(&a.aor, NOW).unwrap()[0].expires_at,
        NOW + 60,
        "unchanged"
    );
    let prev = s
        .upsert_binding(&binding(&a.aor, c, 120, "call-1", 6), NOW + 1)
        .unwrap()
        .expect("refresh returns the previous binding");
    assert_eq!((prev.cseq, prev.expires_at), (5, NOW + 60));
    // A new Call-ID (the UA rebooted) may restart CSeq.
    s.upsert_binding(&binding(&a.aor, c, 300, "call-2", 1), NOW + 2)
        .unwrap();
    let live = s.live_bindings(&a.aor, NOW + 2).unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!((live[0].call_id.as_str(), live[0].cseq), ("call-2", 1));
}

/// With `+sip.instance` the instance (and reg-id) is the key, not the Contact URI.
pub fn bindings_instance_keys(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    let inst = "\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"";
    let with = |contact: &str, reg_id, cseq| {
        let mut b = binding(&a.aor, contact, 600, "ob", cseq);
        b.instance = Some(inst.into());
        b.reg_id = reg_id;
        b
    };
    s.upsert_binding(&with("sip:alice@192.0.2.1:5060", Some(1), 1), NOW)
        .unwrap();
    s.upsert_binding(&with("sip:alice@192.0.2.1:5062", Some(2), 2), NOW)
        .unwrap();
    assert_eq!(s.live_bindings(&a.aor, NOW).unwrap().len(), 2, "two flows");
    // Flow 1 moves to a new address: same key, replaced.
    let prev = s
        .upsert_binding(&with("sip:alice@198.51.100.1:6000", Some(1), 3), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(prev.contact, "sip:alice@192.0.2.1:5060");
    let live = s.live_bindings(&a.aor, NOW).unwrap();
    assert_eq!(live.len(), 2);
    assert!(
        live.iter()
            .any(|b| b.contact == "sip:alice@198.51.100.1:6000")
    );
    // Instance without reg-id (GRUU style) is a third key.
    s.upsert_binding(&with("sip:alice@203.0.113.1", None, 4), NOW)
        .unwrap();
    assert_eq!(s.live_bindings(&a.aor, NOW).unwrap().len(), 3);
    let key = BindingKey::Instance {
        instance: inst.into(),
        reg_id: Some(2),
    };
    assert_eq!(key.to_string(), format!("instance:{inst};reg-id=2"));
    assert_eq!(
        s.binding(&a.aor, &key, NOW).unwrap().unwrap().contact,
        "sip:alice@192.0.2.1:5062"
    );
    assert_eq!(
        s.binding(
            &a.aor,
            &BindingKey::Contact("sip:alice@192.0.2.1:5062".into()),
            NOW
        )
        .unwrap(),
        None,
        "an instance binding is not found by its contact"
    );
}

/// A REGISTER with several contacts is all-or-nothing and reports what it changed.
pub fn register_is_atomic(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    let (c1, c2, c3) = (
        "sip:alice@192.0.2.1",
        "sip:alice@192.0.2.2",
        "sip:alice@192.0.2.3",
    );
    let out = s
        .apply_register(
            &a.aor,
            &[
                BindingOp::Upsert(binding(&a.aor, c1, 60, "r", 1)),
                BindingOp::Upsert(binding(&a.aor, c2, 60, "r", 1)),
            ],
            NOW,
        )
        .unwrap();
    assert_eq!(out.created.len(), 2);
    assert!(out.refreshed.is_empty() && out.removed.is_empty());
    assert_eq!(out.bindings.len(), 2);

    // c3 would be new, c1 is fine, but c2 repeats CSeq 1 of Call-ID r: nothing is written.
    let err = s
        .apply_register(
            &a.aor,
            &[
                BindingOp::Upsert(binding(&a.aor, c3, 60, "other", 1)),
                BindingOp::Upsert(binding(&a.aor, c1, 90, "r", 2)),
                BindingOp::Upsert(binding(&a.aor, c2, 90, "r", 1)),
            ],
            NOW + 1,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfOrder { .. }), "{err}");
    assert!(err.to_string().contains(c2), "{err}");
    let live = s.live_bindings(&a.aor, NOW + 1).unwrap();
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|b| b.expires_at == NOW + 60 && b.cseq == 1));

    // The next CSeq goes through: c1 refreshed, c3 created, c2 removed.
    let out = s
        .apply_register(
            &a.aor,
            &[
                BindingOp::Upsert(binding(&a.aor, c1, 90, "r", 2)),
                BindingOp::Upsert(binding(&a.aor, c3, 90, "r", 2)),
                BindingOp::Remove {
                    key: BindingKey::Contact(c2.into()),
                    call_id: "r".into(),
                    cseq: 2,
                },
            ],
            NOW + 2,
        )
        .unwrap();
    let contacts = |v: &[Binding]| v.iter().map(|b| b.contact.clone()).collect::<Vec<_>>();
    assert_eq!(contacts(&out.refreshed), [c1]);
    assert_eq!(contacts(&out.created), [c3]);
    assert_eq!(contacts(&out.removed), [c2]);
    assert_eq!(
        out.removed[0].expires_at,
        NOW + 60,
        "removed as it was stored"
    );
    assert_eq!(out.bindings.len(), 2);
    // The same contact twice in one REGISTER is checked against the state before it.
    let out = s
        .apply_register(
            &a.aor,
            &[
                BindingOp::Upsert(binding(&a.aor, c1, 100, "r", 3)),
                BindingOp::Upsert(binding(&a.aor, c1, 120, "r", 3)),
            ],
            NOW + 3,
        )
        .unwrap();
    assert_eq!(out.refreshed.len(), 1);
    assert_eq!(out.refreshed[0].expires_at, NOW + 120);
    // Unknown AOR, and a binding for another AOR.
    is_not_found(s.apply_register("sip:nobody@example.com", &[], NOW));
    let b = s.add_user(&bob()).unwrap();
    assert!(matches!(
        s.apply_register(
            &a.aor,
            &[BindingOp::Upsert(binding(&b.aor, c1, 60, "x", 1))],
            NOW
        ),
        Err(StoreError::InvalidInput { .. })
    ));
    // A query-only REGISTER (no Contact) lists the bindings.
    assert_eq!(
        s.apply_register(&a.aor, &[], NOW + 3)
            .unwrap()
            .bindings
            .len(),
        2
    );
}

/// `Contact: *` removes everything, subject to the CSeq rule; removing a missing binding is
/// not an error.
pub fn register_remove_and_remove_all(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    for (i, c) in ["sip:alice@192.0.2.1", "sip:alice@192.0.2.2"]
        .iter()
        .enumerate()
    {
        s.upsert_binding(&binding(&a.aor, c, 60, &format!("call-{i}"), 10), NOW)
            .unwrap();
    }
    let out = s
        .apply_register(
            &a.aor,
            &[BindingOp::Remove {
                key: BindingKey::Contact("sip:alice@192.0.2.99".into()),
                call_id: "z".into(),
                cseq: 1,
            }],
            NOW,
        )
        .unwrap();
    assert!(out.removed.is_empty());
    assert_eq!(out.bindings.len(), 2);
    let remove_all = |call_id: &str, cseq| BindingOp::RemoveAll {
        call_id: call_id.into(),
        cseq,
    };
    assert!(matches!(
        s.apply_register(&a.aor, &[remove_all("call-1", 10)], NOW),
        Err(StoreError::OutOfOrder { .. })
    ));
    assert_eq!(
        s.live_bindings(&a.aor, NOW).unwrap().len(),
        2,
        "nothing removed"
    );
    let out = s
        .apply_register(&a.aor, &[remove_all("call-1", 11)], NOW)
        .unwrap();
    assert_eq!(out.removed.len(), 2);
    assert!(out.bindings.is_empty());
    assert!(s.live_bindings(&a.aor, NOW).unwrap().is_empty());
}

/// Bindings stop being live at `expires_at`; purge returns exactly the expired ones; an
/// expired binding no longer constrains the CSeq.
pub fn bindings_expiry_and_purge(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    let b = s.add_user(&bob()).unwrap();
    s.upsert_binding(&binding(&a.aor, "sip:alice@192.0.2.1", 30, "a1", 1), NOW)
        .unwrap();
    s.upsert_binding(&binding(&a.aor, "sip:alice@192.0.2.2", 90, "a2", 1), NOW)
        .unwrap();
    s.upsert_binding(&binding(&b.aor, "sip:bob@192.0.2.3", 30, "b1", 1), NOW)
        .unwrap();

    assert_eq!(s.live_bindings(&a.aor, NOW + 29).unwrap().len(), 2);
    assert_eq!(
        s.live_bindings(&a.aor, NOW + 30).unwrap().len(),
        1,
        "expires_at is exclusive"
    );
    let key = BindingKey::Contact("sip:alice@192.0.2.1".into());
    assert!(s.binding(&a.aor, &key, NOW + 29).unwrap().is_some());
    assert_eq!(s.binding(&a.aor, &key, NOW + 30).unwrap(), None);

    assert!(s.purge_expired(NOW + 29).unwrap().is_empty());
    // Expired but not yet purged: a lower CSeq with the same Call-ID is a new registration.
    let again = binding(&a.aor, "sip:alice@192.0.2.1", 200, "a1", 1);
    assert_eq!(s.upsert_binding(&again, NOW + 31).unwrap(), None);
    s.remove_binding(&a.aor, &key).unwrap();

    s.upsert_binding(&binding(&a.aor, "sip:alice@192.0.2.1", 30, "a1", 1), NOW)
        .unwrap();
    let purged = s.purge_expired(NOW + 30).unwrap();
    let got: Vec<_> = purged
        .iter()
        .map(|b| (b.aor.as_str(), b.contact.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("sip:alice@example.com", "sip:alice@192.0.2.1"),
            ("sip:bob@example.com", "sip:bob@192.0.2.3")
        ]
    );
    assert!(
        s.purge_expired(NOW + 30).unwrap().is_empty(),
        "purge is idempotent"
    );
    assert_eq!(s.live_bindings(&a.aor, NOW).unwrap().len(), 1);
    assert_eq!(s.purge_expired(NOW + 10_000).unwrap().len(), 1);
}

/// Unconditional removals (administration, a dead flow).
pub fn bindings_admin_removal(h: &dyn Harness) {
    let s = h.open();
    let a = s.add_user(&alice()).unwrap();
    let b = s.add_user(&bob()).unwrap();
    let one = binding(&a.aor, "sip:alice@192.0.2.1", 60, "x", 1);
    s.upsert_binding(&one, NOW).unwrap();
    s.upsert_binding(&binding(&a.aor, "sip:alice@192.0.2.2", 60, "x", 2), NOW)
        .unwrap();
    s.upsert_binding(&binding(&b.aor, "sip:bob@192.0.2.3", 60, "y", 1), NOW)
        .unwrap();
    let removed = s.remove_binding(&a.aor, &one.key()).unwrap().unwrap();
    assert_eq!(removed.contact, one.contact);
    assert_eq!(s.remove_binding(&a.aor, &one.key()).unwrap(), None);
    assert_eq!(s.remove_bindings(&a.aor).unwrap().len(), 1);
    assert!(s.live_bindings(&a.aor, NOW).unwrap().is_empty());
    assert_eq!(
        s.live_bindings(&b.aor, NOW).unwrap().len(),
        1,
        "other AORs untouched"
    );
    assert!(
        s.remove_bindings("sip:nobody@example.com")
            .unwrap()
            .is_empty()
    );
}

/// Users and bindings survive closing and reopening the database (a restart).
pub fn state_survives_reopen(h: &dyn Harness) {
    let (a, bind) = {
        let s = h.open();
        let a = s.add_user(&alice()).unwrap();
        let mut bind = binding(&a.aor, "sip:alice@192.0.2.1", 3600, "r", 4);
        bind.path = vec!["<sip:edge.example.com;lr>".into()];
        bind.received = Some("udp:192.0.2.1:5060".into());
        s.upsert_binding(&bind, NOW).unwrap();
        bind.updated_at = NOW;
        (a, bind)
    };
    let s = h.open();
    assert_eq!(s.user(&a.aor).unwrap(), Some(a.clone()));
    assert_eq!(s.user_by_alias("+15551230001").unwrap(), Some(a.clone()));
    assert_eq!(
        s.live_bindings(&a.aor, NOW + 100).unwrap(),
        std::slice::from_ref(&bind)
    );
    // The CSeq rule still holds after the restart.
    assert!(matches!(
        s.upsert_binding(&binding(&a.aor, "sip:alice@192.0.2.1", 60, "r", 4), NOW + 1),
        Err(StoreError::OutOfOrder { .. })
    ));
    drop(s);
    let s = h.open();
    assert_eq!(s.purge_expired(NOW + 3600).unwrap(), [bind]);
}

/// The schema is at the latest version, and reopening does not change it.
pub fn schema_version_is_current(h: &dyn Harness) {
    let v = h.open().schema_version().unwrap();
    assert!(v >= 2, "users and location migrations applied, got {v}");
    assert_eq!(h.open().schema_version().unwrap(), v);
}

/// Two threads write and read through one shared handle without errors or lost updates.
pub fn concurrent_threads(h: &dyn Harness) {
    let s = h.open();
    const PER_THREAD: u32 = 40;
    let workers: Vec<_> = (0..2u32)
        .map(|t| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let name = format!("t{t}u{i}");
                    let u = s
                        .add_user(
                            &NewUser::new(&name, DOMAIN, NOW).alias(format!("+4670{t}{i:06}")),
                        )
                        .unwrap();
                    let c = format!("sip:{name}@192.0.2.{t}");
                    s.upsert_binding(&binding(&u.aor, &c, 60, "c", 1), NOW)
                        .unwrap();
                    assert_eq!(s.live_bindings(&u.aor, NOW).unwrap().len(), 1);
                    assert!(
                        s.user_by_alias(&format!("+4670{t}{i:06}"))
                            .unwrap()
                            .is_some()
                    );
                }
            })
        })
        .collect();
    let reader = {
        let s = Arc::clone(&s);
        thread::spawn(move || {
            let mut last = 0;
            for _ in 0..50 {
                let n = s.list_users().unwrap().len();
                assert!(n >= last, "a reader never sees the user count go down");
                last = n;
            }
        })
    };
    for w in workers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    assert_eq!(s.list_users().unwrap().len(), 2 * PER_THREAD as usize);
    assert_eq!(
        s.purge_expired(NOW + 60).unwrap().len(),
        2 * PER_THREAD as usize
    );
}
