//! IMDN XML parser: never panics; what parses serializes to XML that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(d) = cpm_cpim::Imdn::parse(s) {
        assert_eq!(cpm_cpim::Imdn::parse(&d.to_xml()).expect("re-serialized IMDN parses"), d);
    }
});
