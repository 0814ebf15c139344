//! `cpm serve` against SIPp (Debian's `sip-tester`), a SIP peer that is not ours.
//!
//! Each scenario in `tests/sipp/` runs over UDP and over TCP against a freshly started
//! `cpm serve`. SIPp exits 0 only when every call of the scenario succeeded (right status,
//! and every `check_it` regular expression matched).
//!
//! Without SIPp installed the tests say so and pass, unless `CPM_REQUIRE_SIPP` is set, as
//! `scripts/test` (and so CI) does: there a missing SIPp fails the run.

mod common;

use common::{Server, free_port};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

fn start_server() -> Server {
    common::serve(common::temp_dir("sipp"), &[])
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// Runs `calls` calls of a scenario; returns SIPp's exit code and its error log.
fn run_sipp(server: &Server, xml: &str, transport: &str, calls: u32) -> (i32, String) {
    let local = free_port();
    let log = std::env::temp_dir().join(format!(
        "cpm-sipp-{}-{local}-errors.log",
        std::process::id()
    ));
    let status = Command::new("sipp")
        .arg(format!("127.0.0.1:{}", server.port))
        .args(["-sf", scenario(xml).to_str().unwrap()])
        .args(["-t", transport, "-i", "127.0.0.1", "-p", &local.to_string()])
        .args(["-m", &calls.to_string(), "-r", "50", "-l", "10"])
        .args(["-timeout", "30s", "-timeout_error", "-recv_timeout", "5000"])
        .args([
            "-nostdin",
            "-trace_err",
            "-error_file",
            log.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run sipp");
    let errors = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    (status.code().unwrap_or(-1), errors)
}

fn check(xml: &str) {
    if !sipp_available() {
        return;
    }
    let server = start_server();
    for transport in ["u1", "t1"] {
        let (code, errors) = run_sipp(&server, xml, transport, 20);
        assert_eq!(
            code, 0,
            "sipp {xml} over {transport} failed (exit {code}):\n{errors}"
        );
    }
}

#[test]
fn options_answered_200_with_allow() {
    check("options.xml");
}

#[test]
fn unknown_method_answered_501() {
    check("unknown-method.xml");
}

#[test]
fn malformed_request_answered_400_naming_the_fault() {
    check("bad-request.xml");
}
