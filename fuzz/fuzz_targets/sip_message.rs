//! Datagram parser: never panics; whatever parses re-encodes to a message that parses with
//! the same routing headers, and every accessor works on it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = cpm_sip::Message::parse(data.to_vec()) else {
        return;
    };
    let _ = (m.request_uri(), m.status(), m.reason(), m.contact_kind(), m.expires());
    for v in m.vias() {
        let _ = (v.branch(), v.rport(), v.received(), v.ttl(), v.params().count());
    }
    for h in [cpm_sip::HeaderName::PAssertedIdentity, cpm_sip::HeaderName::PServedUser] {
        let _ = m.name_addrs(h);
    }
    let _ = (m.from().display_name(), m.to().uri().params().count());
    let again = cpm_sip::Message::parse(m.edit().encode()).expect("re-encoded message parses");
    assert_eq!(again.call_id(), m.call_id());
    assert_eq!(again.cseq(), m.cseq());
    assert_eq!(again.vias().len(), m.vias().len());
    assert_eq!(again.body_bytes(), m.body_bytes());
    if m.is_request() {
        let _ = cpm_sip::ResponseBuilder::new(&m, 200, "OK").to_tag("x").build_message();
    }
});
