//! `cpm sip parse` over every RFC 4475 torture message in `shared/sip-torture`: the exit
//! code must match the verdict in `verdicts.tsv` (0 valid, 1 invalid), and an invalid
//! message's error must name the fault and the status a server would answer with.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn torture_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for cand in [
        here.join("../../../shared/sip-torture"),
        here.join("../../shared/sip-torture"),
        here.join("../sip/tests/sip-torture"),
    ] {
        if cand.join("verdicts.tsv").exists() {
            return cand;
        }
    }
    panic!("sip-torture folder not found next to the repository");
}

fn cpm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cpm"))
}

#[test]
fn exit_codes_match_the_torture_verdicts() {
    let dir = torture_dir();
    let tsv = std::fs::read_to_string(dir.join("verdicts.tsv")).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in tsv.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split('\t');
        let (file, verdict) = (cols.next().unwrap(), cols.next().unwrap_or(""));
        let expected = match verdict {
            "valid" => 0,
            "invalid" => 1,
            _ => continue, // "either": the RFC lets a parser go both ways
        };
        let out = cpm()
            .args(["sip", "parse"])
            .arg(dir.join(file))
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if code != expected {
            failures.push(format!(
                "{file}: expected exit {expected}, got {code}: {stderr}"
            ));
            continue;
        }
        if code == 0 {
            let json: serde_json::Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("{file}: stdout is not JSON ({e}): {stdout}"));
            assert!(json["call_id"].is_string(), "{file}: {json}");
            assert!(json["headers"].as_array().is_some_and(|h| !h.is_empty()));
            assert!(json["via"][0]["transport"].is_string(), "{file}: {json}");
        } else {
            assert!(stderr.starts_with("error: "), "{file}: {stderr}");
            assert!(
                stderr.contains("(at byte "),
                "{file}: the error must say where: {stderr}"
            );
            assert!(
                stderr.contains("a server answers") || stderr.contains("dropped"),
                "{file}: {stderr}"
            );
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 30, "only {checked} verdicts checked");
}

#[test]
fn reads_standard_input_and_describes_the_structure() {
    let msg = "MESSAGE sip:bob@example.com;transport=tcp SIP/2.0\r\n\
        Via: SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bK776;rport\r\n\
        Route: <sip:core.example.com;lr>\r\n\
        Max-Forwards: 70\r\n\
        From: \"Alice\" <sip:alice@example.com>;tag=49583\r\n\
        To: <sip:bob@example.com>\r\n\
        Call-ID: a84b4c76e66710\r\n\
        CSeq: 7 MESSAGE\r\n\
        Contact: <sip:alice@192.0.2.1:5070;transport=tcp>\r\n\
        Content-Type: text/plain\r\n\
        Content-Length: 5\r\n\r\nhello";
    let mut child = cpm()
        .args(["sip", "parse", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(msg.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["kind"], "request");
    assert_eq!(j["method"], "MESSAGE");
    assert_eq!(j["request_uri"]["user"], "bob");
    assert_eq!(j["request_uri"]["params"][0]["name"], "transport");
    assert_eq!(j["headers"][0]["name"], "Via");
    assert_eq!(j["headers"].as_array().unwrap().len(), 10);
    assert_eq!(j["via"][0]["branch"], "z9hG4bK776");
    assert_eq!(j["via"][0]["port"], 5070);
    assert_eq!(j["via"][0]["rport"], true);
    assert_eq!(j["from"]["tag"], "49583");
    assert_eq!(j["to"]["tag"], serde_json::Value::Null);
    assert_eq!(j["cseq"]["seq"], 7);
    assert_eq!(j["max_forwards"], 70);
    assert_eq!(j["routes"][0]["uri"]["host"], "core.example.com");
    assert_eq!(j["contacts"][0]["uri"]["port"], 5070);
    assert_eq!(j["body_length"], 5);
}

#[test]
fn unreadable_file_is_exit_2() {
    let out = cpm()
        .args(["sip", "parse", "/nonexistent/cpm-test.sip"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}
