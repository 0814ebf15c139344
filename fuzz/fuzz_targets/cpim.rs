//! CPIM parser: never panics; what parses serializes to bytes that parse to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = cpm_cpim::CpimMessage::parse(data) {
        let _ = (m.ns_header(cpm_cpim::IMDN_NS, "Message-ID"), m.text_content());
        let again = cpm_cpim::CpimMessage::parse(&m.to_bytes()).expect("re-serialized CPIM parses");
        assert_eq!(again.headers, m.headers);
        assert_eq!(again.content, m.content);
    }
});
