//! The SIP/IP Core of `cpm serve` against SIPp (Debian's `sip-tester`) user agents: the
//! registrar with digest authentication, proxy authentication (407), identity assertion,
//! location lookup and relaying between registered SIPp UAs, failure answers and pike
//! throttling, over UDP, TCP and across the two.
//!
//! Every test starts its own `cpm serve --domain cpm.test` on a fresh data directory with
//! the users alice, bob and carol (password `secret`). Each SIPp UA has a local port of its
//! own; a recipient first registers from that port (`core/register.xml`, one SIPp run),
//! then a second SIPp run on the same port (`core/uas-message.xml`) waits for the MESSAGE
//! while the sender runs. SIPp exits 0 only when its call passed: the expected responses
//! and every `check_it` of the scenario. Scenario parameters are SIPp `-key`s (`[user]`,
//! `[from]`, `[to]`, `[domain]`, `[core_port]`); credentials are `-au`/`-ap`.
//!
//! Without SIPp installed the tests say so and pass, unless `CPM_REQUIRE_SIPP` is set (as
//! `scripts/test`, and so CI, does). `CPM_TEST_LOG=debug` shows the core's log.
//!
//! The core runs with `core.registrar.digest_algorithms = ["MD5", "SHA-256"]`: by
//! default it challenges with SHA-256 first (RFC 8760 order), and SIPp 3.6.1 (Debian's)
//! answers only MD5 and only the first challenge (`createAuthHeader: authentication must
//! use MD5 or AKAv1-MD5`).

mod common;

use common::{Server, free_port};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DOMAIN: &str = "cpm.test";
const PASSWORD: &str = "secret";

fn sipp_available() -> bool {
    let found = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found && std::env::var_os("CPM_REQUIRE_SIPP").is_some() {
        panic!("SIPp (apt package sip-tester) is required but not installed");
    }
    if !found {
        eprintln!("SKIPPED: sipp not installed (apt-get install sip-tester)");
    }
    found
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp/core")
        .join(name)
}

/// The configuration every test runs with: the domain, and MD5 offered first for SIPp.
const CONFIG: &str = "[core]\ndomains = [\"cpm.test\"]\n\n[core.registrar]\n\
                      digest_algorithms = [\"MD5\", \"SHA-256\"]\n";

/// `cpm --config FILE serve --domain cpm.test` with alice, bob and carol; FILE is [`CONFIG`]
/// followed by `more` (TOML).
fn start_core(tag: &str, more: &str) -> Server {
    let data = common::temp_dir(tag);
    let file = data.join("cpm.toml");
    std::fs::write(&file, format!("{CONFIG}{more}")).unwrap();
    let global = ["--config", file.to_str().unwrap()];
    for user in ["alice", "bob", "carol"] {
        let mut args = global.to_vec();
        args.extend([
            "user",
            "add",
            user,
            "--password",
            PASSWORD,
            "--domain",
            DOMAIN,
        ]);
        let out = common::cpm(&data, &args);
        assert!(
            out.status.success(),
            "cpm user add {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut extra = global.to_vec();
    extra.extend(["--domain", DOMAIN]);
    let server = common::serve(data, &extra);
    // common::serve saw a TCP connect succeed, which a self-connect can fake: make sure.
    wait_bound(server.port, true, "cpm serve");
    wait_bound(server.port, false, "cpm serve");
    server
}

/// One SIPp user agent: its own local port and transport (`u1` or `t1`).
#[derive(Clone, Copy)]
struct Ua {
    port: u16,
    transport: &'static str,
}

impl Ua {
    fn udp() -> Ua {
        Ua {
            port: free_port(),
            transport: "u1",
        }
    }

    fn tcp() -> Ua {
        Ua {
            port: free_port(),
            transport: "t1",
        }
    }
}

/// The credentials SIPp answers a 401/407 with (`-au`, `-ap`), and the digest `uri`
/// (`-auth_uri`: the Request-URI without `sip:`).
struct Auth<'a> {
    user: &'a str,
    password: &'a str,
    uri: &'a str,
}

/// `user`'s right password, for a request to `uri`.
fn auth<'a>(user: &'a str, uri: &'a str) -> Option<Auth<'a>> {
    Some(Auth {
        user,
        password: PASSWORD,
        uri,
    })
}

/// Starts SIPp running `xml` from `ua` against `server`, with `-key NAME VALUE` for each of
/// `keys` (plus `domain` and `core_port`).
fn sipp(server: &Server, ua: Ua, xml: &str, keys: &[(&str, &str)], auth: Option<Auth>) -> Sipp {
    let log = std::env::temp_dir().join(format!(
        "cpm-sipp-core-{}-{}-errors.log",
        std::process::id(),
        ua.port
    ));
    let _ = std::fs::remove_file(&log);
    let core_port = server.port.to_string();
    let mut cmd = Command::new("sipp");
    cmd.arg(format!("127.0.0.1:{}", server.port))
        .args(["-sf", scenario(xml).to_str().unwrap()])
        .args(["-t", ua.transport, "-i", "127.0.0.1"])
        .args(["-p", &ua.port.to_string()])
        .args(["-m", "1", "-timeout", "20s", "-timeout_error"])
        .args(["-recv_timeout", "5000", "-nostdin"])
        .args(["-trace_err", "-error_file", log.to_str().unwrap()]);
    for (name, value) in [("domain", DOMAIN), ("core_port", &core_port)]
        .iter()
        .chain(keys)
    {
        cmd.args(["-key", name, value]);
    }
    if let Some(a) = auth {
        cmd.args(["-au", a.user, "-ap", a.password, "-auth_uri", a.uri]);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run sipp");
    Sipp {
        child,
        log,
        what: format!("{xml} from 127.0.0.1:{} ({})", ua.port, ua.transport),
    }
}

/// A running SIPp.
struct Sipp {
    child: Child,
    log: PathBuf,
    what: String,
}

impl Sipp {
    /// Waits (at most 30 s) and asserts exit code 0, with SIPp's error log on failure.
    fn passes(mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break -1;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let errors = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        assert_eq!(
            code, 0,
            "sipp {} failed (exit {code}):\n{errors}",
            self.what
        );
    }

    /// Waits until SIPp listens on `ua`'s port (so that a request relayed to it is neither
    /// lost nor refused).
    fn listening(self, ua: Ua) -> Sipp {
        wait_bound(
            ua.port,
            ua.transport.starts_with('t'),
            &format!("sipp {}", self.what),
        );
        self
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when a socket listens on 127.0.0.1:`port` (TCP) or is bound there (UDP). Read from
/// /proc/net rather than probed: binding the port could make SIPp's own bind fail, and a
/// connect to a port of the ephemeral range where nothing listens yet can succeed by
/// connecting to itself (TCP self-connect). Without /proc, waits 500 ms and says yes.
fn bound(port: u16, tcp: bool) -> bool {
    let (file, listen_state) = if tcp {
        ("/proc/net/tcp", Some("0A"))
    } else {
        ("/proc/net/udp", None)
    };
    let Ok(table) = std::fs::read_to_string(file) else {
        std::thread::sleep(Duration::from_millis(500));
        return true;
    };
    let port = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        cols.len() > 3 && cols[1].ends_with(&port) && listen_state.is_none_or(|s| cols[3] == s)
    })
}

/// Waits (at most 10 s) until `bound(port, tcp)`.
fn wait_bound(port: u16, tcp: bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !bound(port, tcp) {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Registers `user` from `ua`; the binding stays for the next SIPp run on that port.
fn register(server: &Server, ua: Ua, user: &str) {
    sipp(
        server,
        ua,
        "register.xml",
        &[("user", user)],
        auth(user, DOMAIN),
    )
    .passes();
}

/// Scenario 2 and its variants: bob registers from `bob_ua` and waits there for one
/// MESSAGE; alice registers from `alice_ua`, then sends sip:bob@cpm.test a MESSAGE from
/// there, authenticating as alice but writing `From: <sip:FROM@cpm.test>`. Both SIPp runs
/// must pass (bob's checks the asserted identity, Vias, Max-Forwards, From, body).
fn message_alice_to_bob(server: &Server, bob_ua: Ua, alice_ua: Ua, from: &str) {
    register(server, bob_ua, "bob");
    register(server, alice_ua, "alice");
    let bob = sipp(server, bob_ua, "uas-message.xml", &[("from", from)], None).listening(bob_ua);
    sipp(
        server,
        alice_ua,
        "uac-message.xml",
        &[("from", from), ("to", "bob")],
        auth("alice", "bob@cpm.test"),
    )
    .passes();
    bob.passes();
}

// ---------------------------------------------------------------------- 1. registrar

fn register_lifecycle(ua: Ua) {
    if !sipp_available() {
        return;
    }
    let server = start_core("sipp-core-reg", "");
    sipp(
        &server,
        ua,
        "register-lifecycle.xml",
        &[("user", "alice")],
        auth("alice", DOMAIN),
    )
    .passes();
}

#[test]
fn register_challenge_bind_refresh_and_remove_over_udp() {
    register_lifecycle(Ua::udp());
}

#[test]
fn register_challenge_bind_refresh_and_remove_over_tcp() {
    register_lifecycle(Ua::tcp());
}

// ------------------------------------------------ 2. MESSAGE between registered UAs

#[test]
fn message_between_registered_users_over_udp() {
    if !sipp_available() {
        return;
    }
    let server = start_core("sipp-core-msg-udp", "");
    message_alice_to_bob(&server, Ua::udp(), Ua::udp(), "alice");
}

#[test]
fn message_between_registered_users_over_tcp() {
    if !sipp_available() {
        return;
    }
    let server = start_core("sipp-core-msg-tcp", "");
    message_alice_to_bob(&server, Ua::tcp(), Ua::tcp(), "alice");
}

// ------------------------------------------------------- 3. wrong password, pike

#[test]
fn wrong_password_is_challenged_again_until_pike_blocks_with_403() {
    if !sipp_available() {
        return;
    }
    // The scenario sends three wrong passwords, then the right one.
    let server = start_core("sipp-core-pike", "\n[core.pike]\nmax_failures = 3\n");
    sipp(
        &server,
        Ua::udp(),
        "register-wrong-password.xml",
        &[("user", "alice")],
        auth("alice", DOMAIN),
    )
    .passes();
}

// ------------------------------------------------------------------- 4. forged From

#[test]
fn forged_from_reaches_the_recipient_asserted_as_the_authenticated_user() {
    if !sipp_available() {
        return;
    }
    let server = start_core("sipp-core-forged", "");
    // alice authenticates as alice but writes From: <sip:mallory@cpm.test>; bob's
    // scenario requires P-Asserted-Identity <sip:alice@cpm.test> and From as written.
    message_alice_to_bob(&server, Ua::udp(), Ua::udp(), "mallory");
}

// ------------------------------------------------------ 5. unknown, unregistered

fn message_refused(ua: Ua) {
    if !sipp_available() {
        return;
    }
    let server = start_core("sipp-core-refused", "");
    for (xml, to, uri) in [
        ("message-404.xml", "nobody", "nobody@cpm.test"),
        ("message-480.xml", "carol", "carol@cpm.test"),
    ] {
        sipp(
            &server,
            ua,
            xml,
            &[("from", "alice"), ("to", to)],
            auth("alice", uri),
        )
        .passes();
    }
}

#[test]
fn message_to_unknown_user_404_and_to_unregistered_user_480_over_udp() {
    message_refused(Ua::udp());
}

#[test]
fn message_to_unknown_user_404_and_to_unregistered_user_480_over_tcp() {
    message_refused(Ua::tcp());
}

// ---------------------------------------------------------- 6. across transports

#[test]
fn message_from_tcp_sender_reaches_udp_recipient_and_200_returns_over_tcp() {
    if !sipp_available() {
        return;
    }
    let server = start_core("sipp-core-cross", "");
    message_alice_to_bob(&server, Ua::udp(), Ua::tcp(), "alice");
}
