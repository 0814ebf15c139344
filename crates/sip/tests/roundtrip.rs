//! Property tests: generated messages parse to what was generated, serialize(parse(x)) is
//! stable, and no input (random bytes, or a valid message with bytes flipped) panics.

use cpm_sip::{Frame, HeaderName, Limits, Message, Method, StreamFramer};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.!%*_+`'~-]{0,15}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        (0u8..=255, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        "\\[2001:db8::[0-9a-f]{1,4}\\]",
    ]
}

fn user() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,12}",
        "\\+[0-9]{6,14}",
        "[a-z]{1,5}%[0-9A-F]{2}[a-z]{0,4}"
    ]
}

fn display() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        token().prop_map(Some),
        "[a-zA-Z ,<>@;:]{0,12}".prop_map(|s| Some(format!("\"{}\"", s))),
        "[a-z]{1,6}".prop_map(|s| Some(format!("\"{s} \\\" {s}\""))),
    ]
}

fn sep() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(": "), Just(":"), Just(" : "), Just(":\r\n  ")]
}

#[derive(Debug, Clone)]
struct Spec {
    method: &'static str,
    ruser: String,
    rhost: String,
    port: Option<u16>,
    vias: Vec<(String, String, String)>,
    from_display: Option<String>,
    from_tag: String,
    to_tag: Option<String>,
    call_id: String,
    cseq: u32,
    max_forwards: u8,
    extra: Vec<(String, String)>,
    body: Vec<u8>,
    compact: bool,
    sep: &'static str,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            prop_oneof![
                Just("MESSAGE"),
                Just("INVITE"),
                Just("OPTIONS"),
                Just("REGISTER"),
                Just("FOO-BAR")
            ],
            user(),
            host(),
            proptest::option::of(1u16..),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("UDP".to_string()),
                        Just("TCP".to_string()),
                        Just("TLS".to_string())
                    ],
                    host(),
                    "z9hG4bK[a-zA-Z0-9]{1,12}",
                ),
                1..4,
            ),
            display(),
        ),
        (
            token(),
            proptest::option::of(token()),
            "[a-zA-Z0-9]{1,20}(@[a-z0-9.]{1,12})?",
            any::<u32>(),
            any::<u8>(),
            proptest::collection::vec(("X-[A-Za-z]{1,10}", "[ -~]{0,30}"), 0..4),
            proptest::collection::vec(any::<u8>(), 0..64),
            any::<bool>(),
            sep(),
        ),
    )
        .prop_map(
            |(
                (method, ruser, rhost, port, vias, from_display),
                (from_tag, to_tag, call_id, cseq, max_forwards, extra, body, compact, sep),
            )| Spec {
                method,
                ruser,
                rhost,
                port,
                vias,
                from_display,
                from_tag,
                to_tag,
                call_id,
                cseq,
                max_forwards,
                extra,
                body,
                compact,
                sep,
            },
        )
}

fn render(s: &Spec) -> Vec<u8> {
    let port = s.port.map(|p| format!(":{p}")).unwrap_or_default();
    let mut out = format!(
        "{} sip:{}@{}{} SIP/2.0\r\n",
        s.method, s.ruser, s.rhost, port
    );
    let n = |long: &'static str, short: &'static str| if s.compact { short } else { long };
    for (t, h, b) in &s.vias {
        out += &format!("{}{}SIP/2.0/{t} {h};branch={b}\r\n", n("Via", "v"), s.sep);
    }
    let disp = s
        .from_display
        .as_ref()
        .map(|d| format!("{d} "))
        .unwrap_or_default();
    out += &format!(
        "{}{}{disp}<sip:alice@example.com>;tag={}\r\n",
        n("From", "f"),
        s.sep,
        s.from_tag
    );
    let to_tag = s
        .to_tag
        .as_ref()
        .map(|t| format!(";tag={t}"))
        .unwrap_or_default();
    out += &format!(
        "{}{}<sip:{}@{}>{to_tag}\r\n",
        n("To", "t"),
        s.sep,
        s.ruser.replace(['?', ';', ','], "x"),
        s.rhost
    );
    out += &format!("{}{}{}\r\n", n("Call-ID", "i"), s.sep, s.call_id);
    out += &format!("CSeq{}{} {}\r\n", s.sep, s.cseq, s.method);
    out += &format!("Max-Forwards{}{}\r\n", s.sep, s.max_forwards);
    for (k, v) in &s.extra {
        out += &format!("{k}: {v}\r\n");
    }
    out += &format!(
        "{}{}{}\r\n\r\n",
        n("Content-Length", "l"),
        s.sep,
        s.body.len()
    );
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&s.body);
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_messages_parse_and_round_trip(s in spec()) {
        let bytes = render(&s);
        let m = Message::parse(bytes.clone()).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(m.method().unwrap(), &Method::from_token(s.method));
        prop_assert_eq!(m.request_uri().unwrap().host(), s.rhost.as_str());
        prop_assert_eq!(m.request_uri().unwrap().port(), s.port);
        prop_assert_eq!(m.vias().len(), s.vias.len());
        for (v, (t, h, b)) in m.vias().zip(&s.vias) {
            prop_assert_eq!(v.transport(), t.as_str());
            prop_assert_eq!(v.host(), h.as_str());
            prop_assert_eq!(v.branch(), Some(b.as_str()));
        }
        prop_assert_eq!(m.from().tag(), Some(s.from_tag.as_str()));
        prop_assert_eq!(m.to().tag(), s.to_tag.as_deref());
        prop_assert_eq!(m.call_id(), s.call_id.as_str());
        prop_assert_eq!(m.cseq(), s.cseq);
        prop_assert_eq!(m.max_forwards(), Some(s.max_forwards));
        prop_assert_eq!(m.body_bytes(), &s.body[..]);
        prop_assert_eq!(m.as_bytes(), &bytes[..]);
        for (k, v) in &s.extra {
            prop_assert!(m.header_str(k).is_some());
            let _ = v;
        }
        // serialize(parse(x)) is stable: encoding the re-parsed encoding changes nothing.
        let once = m.edit().encode();
        let again = Message::parse(once.clone()).unwrap();
        prop_assert_eq!(&again.edit().encode(), &once);
        prop_assert_eq!(again.call_id(), m.call_id());
        prop_assert_eq!(again.header_count(), m.header_count());
        // The stream framer finds the same message when it arrives in two pieces.
        let cut = bytes.len() / 2;
        let mut f = StreamFramer::new(Limits::default());
        f.push(&bytes[..cut]);
        let first = f.next_frame().unwrap();
        prop_assert!(first.is_none() || cut == bytes.len());
        f.push(&bytes[cut..]);
        match f.next_frame().unwrap() {
            Some(Frame::Message(fm)) => prop_assert_eq!(fm.as_bytes(), &bytes[..]),
            other => prop_assert!(false, "framer gave {:?}", other),
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Message::parse(bytes.clone());
        let mut f = StreamFramer::new(Limits::default());
        f.push(&bytes);
        for _ in 0..8 {
            match f.next_frame() {
                Ok(Some(_)) => continue,
                _ => break,
            }
        }
    }

    #[test]
    fn mutated_messages_never_panic(s in spec(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut bytes = render(&s);
        for (i, b) in flips {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(m) = Message::parse(bytes) {
            // Whatever parses must re-encode to something that parses the same way.
            let again = Message::parse(m.edit().encode()).unwrap();
            prop_assert_eq!(again.call_id(), m.call_id());
            prop_assert_eq!(again.vias().len(), m.vias().len());
            let _ = m.header(HeaderName::Via);
        }
    }
}
