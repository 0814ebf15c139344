//! `cpm user add|list|remove|passwd` as a process, checked against the store opened
//! directly with `cpm-store`: HA1s in the configured realm, aliases normalised, precise
//! errors and exit statuses for duplicates, bad aliases and unknown users.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cpm_store::{Algorithm, Credential, StoreConfig};

fn store(data: &Path) -> std::sync::Arc<dyn cpm_store::Store> {
    cpm_store::open(&StoreConfig::Sqlite {
        data_dir: data.to_path_buf(),
    })
    .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

/// Runs cpm with `input` on standard input.
fn cpm_stdin(data: &Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpm"))
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ha1s(realm: &str, user: &str, password: &str) -> Vec<Credential> {
    Credential::all_from_password(user, realm, password)
}

#[test]
fn add_list_passwd_remove_round_trip() {
    let data = common::temp_dir("user-round-trip");
    let out = common::cpm(
        &data,
        &[
            "user",
            "add",
            "alice",
            "--password",
            "wonderland",
            "--domain",
            "CPM.test",
            "--tel",
            "+1 (555) 123-0001",
            "--tel",
            "tel:+46700000123",
            "--display-name",
            "Alice A.",
        ],
    );
    assert_ok(&out);
    assert!(
        stdout(&out).contains("added sip:alice@cpm.test with aliases +15551230001, +46700000123"),
        "{}",
        stdout(&out)
    );

    let s = store(&data);
    let alice = s.user("sip:alice@cpm.test").unwrap().expect("alice stored");
    assert_eq!(alice.aliases, ["+15551230001", "+46700000123"]);
    assert_eq!(alice.display_name.as_deref(), Some("Alice A."));
    assert!(alice.enabled);
    // No config: the realm is the user's own domain (what `serve --domain cpm.test` uses).
    assert_eq!(alice.credentials, ha1s("cpm.test", "alice", "wonderland"));
    assert_eq!(
        s.user_by_alias("+46 70 000 01 23").unwrap().unwrap().aor,
        alice.aor
    );
    drop(s);

    // A second user in the default domain (localhost), password from stdin.
    let out = cpm_stdin(
        &data,
        &["user", "add", "bob", "--password-stdin", "--disabled"],
        "bu ilder\n",
    );
    assert_ok(&out);
    let bob = store(&data)
        .user("sip:bob@localhost")
        .unwrap()
        .expect("bob stored in the default domain");
    assert_eq!(
        bob.credential(Algorithm::Sha256),
        ha1s("localhost", "bob", "bu ilder").get(1),
        "the password is the stdin line without its newline"
    );
    assert!(!bob.enabled);

    // The table and the JSON.
    let out = common::cpm(&data, &["user", "list"]);
    assert_ok(&out);
    let table = stdout(&out);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("AOR") && lines[0].contains("CREDENTIALS"));
    assert!(lines[1].starts_with("sip:alice@cpm.test"), "{table}");
    assert!(
        lines[1].contains("+15551230001,+46700000123")
            && lines[1].contains("yes")
            && lines[1].contains("MD5,SHA-256 (realm cpm.test)")
            && lines[1].contains("Alice A."),
        "{table}"
    );
    assert!(
        lines[2].starts_with("sip:bob@localhost") && lines[2].contains(" no "),
        "{table}"
    );
    let out = common::cpm(&data, &["user", "list", "--json"]);
    assert_ok(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let users = json.as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["aor"], "sip:alice@cpm.test");
    assert_eq!(users[0]["aliases"][1], "+46700000123");
    assert_eq!(users[0]["credentials"][0]["algorithm"], "MD5");
    assert_eq!(users[0]["credentials"][1]["realm"], "cpm.test");
    assert_eq!(users[1]["enabled"], false);
    assert!(
        !stdout(&out).contains(&alice.credentials[0].ha1),
        "HA1s are never printed"
    );

    // passwd, by NAME@DOMAIN and by NAME in the default domain.
    let out = common::cpm(
        &data,
        &[
            "user",
            "passwd",
            "alice@cpm.test",
            "--password",
            "looking-glass",
        ],
    );
    assert_ok(&out);
    assert_eq!(
        store(&data)
            .user("sip:alice@cpm.test")
            .unwrap()
            .unwrap()
            .credentials,
        ha1s("cpm.test", "alice", "looking-glass")
    );
    let out = cpm_stdin(
        &data,
        &["user", "passwd", "bob", "--password-stdin"],
        "new\r\n",
    );
    assert_ok(&out);
    assert_eq!(
        store(&data)
            .user("sip:bob@localhost")
            .unwrap()
            .unwrap()
            .credentials,
        ha1s("localhost", "bob", "new")
    );

    // remove: the user and the aliases go.
    let out = common::cpm(&data, &["user", "remove", "sip:alice@cpm.test"]);
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "removed sip:alice@cpm.test");
    let s = store(&data);
    assert!(s.user("sip:alice@cpm.test").unwrap().is_none());
    assert!(s.user_by_alias("+15551230001").unwrap().is_none());
    assert_eq!(s.list_users().unwrap().len(), 1);
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn duplicates_are_refused_naming_what_is_taken() {
    let data = common::temp_dir("user-dup");
    assert_ok(&common::cpm(
        &data,
        &[
            "user",
            "add",
            "alice",
            "--password",
            "pw",
            "--tel",
            "+15551230001",
        ],
    ));

    let out = common::cpm(&data, &["user", "add", "alice", "--password", "other"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        "error: user sip:alice@localhost already exists"
    );

    let out = common::cpm(
        &data,
        &[
            "user",
            "add",
            "carol",
            "--password",
            "pw",
            "--tel",
            "+1-555-123-0001",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        "error: alias +15551230001 (held by sip:alice@localhost) already exists"
    );

    // Nothing was half-written: carol does not exist, alice still has her password.
    let s = store(&data);
    assert!(s.user("sip:carol@localhost").unwrap().is_none());
    assert_eq!(
        s.user("sip:alice@localhost").unwrap().unwrap().credentials,
        ha1s("localhost", "alice", "pw")
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn bad_aliases_and_names_are_usage_errors() {
    let data = common::temp_dir("user-bad");
    let out = common::cpm(
        &data,
        &[
            "user",
            "add",
            "alice",
            "--password",
            "pw",
            "--tel",
            "5551230001",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("invalid value '5551230001' for '--tel <+E164>'")
            && err.contains("must start with '+' and the country code"),
        "{err}"
    );
    let out = common::cpm(
        &data,
        &[
            "user",
            "add",
            "alice",
            "--password",
            "pw",
            "--tel",
            "+0123456789",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("country codes never start with 0"));

    // A name that would change how the AOR parses.
    let out = common::cpm(&data, &["user", "add", "al ice", "--password", "pw"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid address of record \"sip:al ice@localhost\""),
        "{}",
        stderr(&out)
    );

    // No password at all, or two ways of giving one.
    let out = common::cpm(&data, &["user", "add", "alice"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--password"), "{}", stderr(&out));
    let out = cpm_stdin(
        &data,
        &[
            "user",
            "add",
            "alice",
            "--password",
            "a",
            "--password-stdin",
        ],
        "b\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
    let out = cpm_stdin(&data, &["user", "add", "alice", "--password-stdin"], "\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("the password is empty"));

    assert!(store(&data).list_users().unwrap().is_empty());
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn unknown_users_are_reported() {
    let data = common::temp_dir("user-unknown");
    let out = common::cpm(&data, &["user", "remove", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "error: no such user sip:nobody@localhost"
    );
    let out = common::cpm(
        &data,
        &["user", "passwd", "nobody@cpm.test", "--password", "x"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "error: no such user sip:nobody@cpm.test"
    );
    let out = common::cpm(&data, &["user", "list"]);
    assert_ok(&out);
    assert_eq!(stdout(&out), "", "an empty store prints no table");
    assert!(stderr(&out).contains("no users"));
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn the_configured_domain_and_realm_are_used() {
    let data = common::temp_dir("user-config");
    let config = data.join("cpm.toml");
    std::fs::write(
        &config,
        "[core]\ndomains = [\"cpm.test\", \"other.test\"]\nrealm = \"CPM realm\"\n",
    )
    .unwrap();
    let cfg = config.to_str().unwrap();

    let out = common::cpm(
        &data,
        &["--config", cfg, "user", "add", "alice", "--password", "pw"],
    );
    assert_ok(&out);
    let out = common::cpm(
        &data,
        &[
            "user",
            "add",
            "bob@other.test",
            "--password",
            "pw",
            "--config",
            cfg,
        ],
    );
    assert_ok(&out);
    // A domain the configuration does not serve: accepted, with a warning.
    let out = common::cpm(
        &data,
        &[
            "--config",
            cfg,
            "user",
            "add",
            "carol",
            "--domain",
            "elsewhere.test",
            "--password",
            "pw",
        ],
    );
    assert_ok(&out);
    assert!(
        stderr(&out).contains("warning: domain elsewhere.test is not in core.domains"),
        "{}",
        stderr(&out)
    );

    let s = store(&data);
    let alice = s
        .user("sip:alice@cpm.test")
        .unwrap()
        .expect("default domain");
    assert_eq!(alice.credentials, ha1s("CPM realm", "alice", "pw"));
    let bob = s.user("sip:bob@other.test").unwrap().unwrap();
    assert_eq!(bob.credentials, ha1s("CPM realm", "bob", "pw"));
    let carol = s.user("sip:carol@elsewhere.test").unwrap().unwrap();
    assert_eq!(carol.credentials[0].realm, "CPM realm");
    drop(s);

    // passwd recomputes in the configured realm; remove finds NAME in the default domain.
    assert_ok(&common::cpm(
        &data,
        &[
            "--config",
            cfg,
            "user",
            "passwd",
            "alice",
            "--password",
            "new",
        ],
    ));
    assert_eq!(
        store(&data)
            .user("sip:alice@cpm.test")
            .unwrap()
            .unwrap()
            .credentials,
        ha1s("CPM realm", "alice", "new")
    );
    assert_ok(&common::cpm(
        &data,
        &["--config", cfg, "user", "remove", "alice"],
    ));
    assert!(store(&data).user("sip:alice@cpm.test").unwrap().is_none());

    // A broken configuration stops user commands before they touch the store.
    std::fs::write(&config, "[core]\ndomain = [\"cpm.test\"]\n").unwrap();
    let out = common::cpm(
        &data,
        &["--config", cfg, "user", "add", "dave", "--password", "pw"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cpm.toml:2:1: unknown key `domain`"),
        "{}",
        stderr(&out)
    );
    assert!(store(&data).user("sip:dave@cpm.test").unwrap().is_none());
    let _ = std::fs::remove_dir_all(&data);
}
