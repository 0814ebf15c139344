//! Best-effort error responses to requests that did not parse (RFC 3261 §8.2, §21.4;
//! RFC 4475 §3.1.2): the Via, From, To, Call-ID and CSeq lines are copied from the raw bytes
//! so the sender can match the answer, whatever else is broken.

use std::fmt::Write as _;

use bytes::Bytes;

/// Header names (long and compact) whose fields a response copies from the request.
const COPIED: [(&str, &str); 5] = [
    ("via", "v"),
    ("from", "f"),
    ("to", "t"),
    ("call-id", "i"),
    ("cseq", ""),
];

/// A `code reason` response to the raw bytes of a request that failed to parse, built by
/// copying its Via, From, To, Call-ID and CSeq lines (a To tag is added when absent).
///
/// `None` when the bytes are a response, an ACK (never answered), or lack one of those
/// headers (the sender could not match the answer; the message is dropped instead).
pub fn error_response_for_raw(raw: &[u8], code: u16, reason: &str) -> Option<Bytes> {
    let mut start = 0;
    while raw[start..].starts_with(b"\r\n") {
        start += 2;
    }
    let raw = &raw[start..];
    let lines = logical_lines(raw);
    let (first, fields) = lines.split_first()?;
    if first.len() >= 4 && first[..4].eq_ignore_ascii_case(b"SIP/") {
        return None;
    }
    let method = first.split(|&b| b == b' ').next().unwrap_or_default();
    if method == b"ACK" {
        return None;
    }
    let mut copied: Vec<(usize, &[u8])> = Vec::new();
    for field in fields {
        let Some(colon) = field.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = field[..colon].trim_ascii();
        let Some(kind) = COPIED.iter().position(|(long, short)| {
            name.eq_ignore_ascii_case(long.as_bytes())
                || (!short.is_empty() && name.eq_ignore_ascii_case(short.as_bytes()))
        }) else {
            continue;
        };
        copied.push((kind, field));
    }
    for kind in 0..COPIED.len() {
        if !copied.iter().any(|(k, _)| *k == kind) {
            return None;
        }
    }
    let cseq = copied.iter().find(|(k, _)| *k == 4).map(|(_, f)| *f)?;
    if cseq.trim_ascii_end().ends_with(b" ACK") {
        return None;
    }
    let reason: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = Vec::with_capacity(512);
    let mut head = String::new();
    let _ = write!(head, "SIP/2.0 {code} {reason}\r\n");
    out.extend_from_slice(head.as_bytes());
    for (kind, field) in &copied {
        out.extend_from_slice(field);
        if *kind == 2 && !has_tag(field) {
            out.extend_from_slice(format!(";tag=e{:x}", fnv(raw)).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(Bytes::from(out))
}

/// Splits the header section into logical lines (folded continuations joined with their
/// field, CRLF or bare LF endings), without the line endings.
fn logical_lines(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        match (line[0], out.last_mut()) {
            (b' ' | b'\t', Some(prev)) => {
                prev.push(b' ');
                prev.extend_from_slice(line.trim_ascii_start());
            }
            _ => out.push(line.to_vec()),
        }
    }
    out
}

fn has_tag(field: &[u8]) -> bool {
    let squeezed: Vec<u8> = field
        .iter()
        .filter(|b| !matches!(b, b' ' | b'\t'))
        .map(u8::to_ascii_lowercase)
        .collect();
    squeezed.windows(5).any(|w| w == b";tag=")
}

/// FNV-1a: a stable To tag per request, so retransmissions get the same answer.
fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpm_sip::Message;

    #[test]
    fn answers_a_broken_request() {
        let raw = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 300\r\nFrom: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let err = Message::parse(&raw[..]).unwrap_err();
        let (code, reason) = err.status();
        let resp = error_response_for_raw(raw, code, &reason).unwrap();
        let m = Message::parse(resp).unwrap();
        assert_eq!(m.status(), Some(400));
        assert!(m.reason().unwrap().contains("Max-Forwards"), "{m:?}");
        assert!(m.to().tag().is_some());
        assert_eq!(m.call_id(), "c");
        assert_eq!(m.top_via().branch(), Some("z9hG4bK1"));
    }

    #[test]
    fn never_answers_ack_responses_or_unmatchable() {
        let ack = b"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 ACK\r\nMax-Forwards: x\r\n\r\n";
        assert!(error_response_for_raw(ack, 400, "Bad").is_none());
        let resp = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n";
        assert!(error_response_for_raw(resp, 400, "Bad").is_none());
        let no_callid = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:x@y>\r\nTo: <sip:a@b>\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert!(error_response_for_raw(no_callid, 400, "Bad").is_none());
        assert!(error_response_for_raw(b"", 400, "Bad").is_none());
        assert!(error_response_for_raw(b"\r\n\r\n", 400, "Bad").is_none());
    }
}
