//! RFC 4475 torture messages: every file in `../shared/sip-torture/` gets the verdict that
//! folder's `verdicts.tsv` states. A new file there is picked up automatically; a file with no
//! verdict fails the test so that it gets one.

use std::path::PathBuf;

use cpm_sip::{ErrorKind, Message};

fn torture_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for cand in [
        here.join("../../../shared/sip-torture"),
        here.join("../../shared/sip-torture"),
        here.join("tests/sip-torture"),
    ] {
        if cand.join("verdicts.tsv").exists() {
            return cand;
        }
    }
    panic!("sip-torture folder not found next to the repository");
}

fn verdicts() -> Vec<(String, String)> {
    let tsv = std::fs::read_to_string(torture_dir().join("verdicts.tsv")).unwrap();
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut it = l.split('\t');
            (
                it.next().unwrap().to_string(),
                it.next().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_torture_message_gets_its_verdict() {
    let dir = torture_dir();
    let verdicts = verdicts();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".dat"))
        .collect();
    files.sort();
    let (mut valid, mut invalid, mut either) = (0, 0, 0);
    let mut failures = Vec::new();
    for f in &files {
        let bytes = std::fs::read(dir.join(f)).unwrap();
        let result = Message::parse(bytes.clone());
        let verdict = verdicts
            .iter()
            .find(|(n, _)| n == f)
            .map(|(_, v)| v.as_str());
        match (verdict, &result) {
            (Some("valid"), Ok(m)) => {
                valid += 1;
                // Round trip: bytes out equal bytes in (up to Content-Length), and the
                // re-parsed message agrees on the routing headers.
                assert_eq!(m.as_bytes(), &bytes[..m.as_bytes().len()], "{f}: as_bytes");
                let again = Message::parse(m.edit().encode())
                    .unwrap_or_else(|e| panic!("{f}: re-encode: {e}"));
                assert_eq!(again.call_id(), m.call_id(), "{f}");
                assert_eq!(again.cseq(), m.cseq(), "{f}");
                assert_eq!(again.vias().len(), m.vias().len(), "{f}");
                assert_eq!(again.body_bytes(), m.body_bytes(), "{f}");
            }
            (Some("invalid"), Err(e)) => {
                invalid += 1;
                let text = e.to_string();
                assert!(text.len() > 10, "{f}: error must name the fault: {text}");
                eprintln!("{f}: {text}");
            }
            (Some("either"), _) => either += 1,
            (None, _) if f == "test.dat" => either += 1, // no verdict in RFC 4475: must not crash
            (None, _) => failures.push(format!("{f}: no verdict in verdicts.tsv")),
            (Some(v), r) => failures.push(format!(
                "{f}: expected {v}, got {:?}",
                r.as_ref().map(|m| m.start_line().to_string())
            )),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    eprintln!("torture: {valid} valid parsed, {invalid} invalid rejected, {either} not judged");
    let count = |v: &str| verdicts.iter().filter(|(_, x)| x == v).count();
    assert_eq!(
        (valid, invalid),
        (count("valid"), count("invalid")),
        "every judged file must be present"
    );
}

fn parse_file(name: &str) -> Result<Message, cpm_sip::ParseError> {
    Message::parse(std::fs::read(torture_dir().join(name)).unwrap())
}

#[test]
fn specific_interpretations() {
    // wsinv: folding, LWS, compact forms, leading zeros.
    let m = parse_file("wsinv.dat").unwrap();
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.cseq(), 9);
    assert_eq!(m.to().tag(), Some("1918181833n"));
    assert_eq!(m.from().tag(), Some("98asjd8"));
    assert_eq!(m.vias().len(), 3);
    assert_eq!(m.vias().nth(1).unwrap().host(), "spindle.example.com");
    assert_eq!(m.contacts().len(), 1);
    assert_eq!(
        m.header_str("NewFangledHeader"),
        Some("newfangled value\r\n continued newfangled value")
    );
    // esc02: the method is not REGISTER, C%6Fntact is not Contact.
    let m = parse_file("esc02.dat").unwrap();
    assert_eq!(m.method().unwrap().as_str(), "RE%47IST%45R");
    assert_eq!(m.contacts().len(), 2);
    // escnull: %00 does not shorten the user; two contacts.
    let m = parse_file("escnull.dat").unwrap();
    assert_eq!(m.to().uri().user(), Some("null-%00-null"));
    assert_eq!(m.contacts().len(), 2);
    // semiuri: the user part holds a semicolon.
    let m = parse_file("semiuri.dat").unwrap();
    assert_eq!(
        m.request_uri().unwrap().user(),
        Some("user;par=u%40example.net")
    );
    // dblreq: trailing octets ignored.
    let m = parse_file("dblreq.dat").unwrap();
    assert_eq!(m.body_bytes().len(), 0);
    assert!(m.trailing_octets() > 0);
    // cparam01 vs cparam02.
    let c1 = parse_file("cparam01.dat").unwrap();
    let c = c1.contacts().next().unwrap();
    assert!(c.param("unknownparam").is_some() && c.uri().param("unknownparam").is_none());
    let c2 = parse_file("cparam02.dat").unwrap();
    let c = c2.contacts().next().unwrap();
    assert!(c.param("unknownparam").is_none() && c.uri().param("unknownparam").is_some());
    // regescrt: URI headers kept inside <>.
    let m = parse_file("regescrt.dat").unwrap();
    assert_eq!(
        m.contacts().next().unwrap().uri().headers(),
        Some("Route=%3Csip:sip.example.com%3E")
    );
    // zeromf: Max-Forwards 0 is well formed.
    assert_eq!(parse_file("zeromf.dat").unwrap().max_forwards(), Some(0));
    // Fault names.
    assert_eq!(parse_file("badvers.dat").unwrap_err().status().0, 505);
    assert_eq!(
        parse_file("mismatch01.dat").unwrap_err().kind,
        ErrorKind::CSeqMethodMismatch
    );
    assert_eq!(
        parse_file("multi01.dat").unwrap_err().kind,
        ErrorKind::DuplicateHeader("CSeq")
    );
    assert_eq!(
        parse_file("mcl01.dat").unwrap_err().kind,
        ErrorKind::DuplicateHeader("Content-Length")
    );
    assert!(matches!(
        parse_file("clerr.dat").unwrap_err().kind,
        ErrorKind::BodyTooShort { declared: 9999, .. }
    ));
    assert_eq!(
        parse_file("bigcode.dat").unwrap_err().kind,
        ErrorKind::BadStatusCode
    );
}
