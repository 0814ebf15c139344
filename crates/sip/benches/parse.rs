//! Parse and serialize throughput of `cpm-sip` against `rsip` on the same inputs, in the same
//! run. After the criterion runs it prints a table of mean times and the rsip/cpm ratio.
//!
//! Inputs (`testdata/`): a CPM pager-mode MESSAGE with a CPIM body (988 bytes; SIP Request-URI with `user=phone`, because rsip rejects `tel:` URIs), a REGISTER
//! with digest credentials (895 bytes), an INVITE with an MSRP SDP offer (946 bytes).
//!
//! Three measurements per input:
//! - `parse`: bytes to a message value (cpm decodes Via, From/To, CSeq, Route, Contact … at
//!   this point; rsip only splits header lines into strings);
//! - `parse+route`: parse, then read what a proxy needs on every message (top Via branch,
//!   From tag, To tag, Call-ID, CSeq number): rsip decodes those lazily here;
//! - `serialize`: a parsed message back to bytes (cpm: the proxy editor, copying untouched
//!   lines; rsip: `to_string`).
//!
//! Run: `cargo bench -p cpm-sip --bench parse`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use rsip::prelude::*;

const INPUTS: [(&str, &[u8]); 3] = [
    ("cpm-message", include_bytes!("../testdata/cpm-message.sip")),
    (
        "register-digest",
        include_bytes!("../testdata/register-digest.sip"),
    ),
    ("invite-sdp", include_bytes!("../testdata/invite-sdp.sip")),
];

fn cpm_route_fields(b: &'static [u8]) -> usize {
    let m = cpm_sip::Message::parse(Bytes::from_static(b)).unwrap();
    m.top_via().branch().map_or(0, str::len)
        + m.from().tag().map_or(0, str::len)
        + m.to().tag().map_or(0, str::len)
        + m.call_id().len()
        + m.cseq() as usize
}

fn rsip_route_fields(b: &'static [u8]) -> usize {
    let m = rsip::SipMessage::try_from(b).unwrap();
    let via = m.via_header().unwrap().typed().unwrap();
    let from = m.from_header().unwrap().typed().unwrap();
    let to = m.to_header().unwrap().typed().unwrap();
    via.branch().map_or(0, |b| b.to_string().len())
        + from.tag().map_or(0, |t| t.value().len())
        + to.tag().map_or(0, |t| t.value().len())
        + m.call_id_header().unwrap().value().len()
        + m.cseq_header().unwrap().seq().unwrap() as usize
}

fn benches(c: &mut Criterion) {
    for (name, bytes) in INPUTS {
        // Both parsers must accept the input, or the comparison means nothing.
        assert!(cpm_sip::Message::parse(Bytes::from_static(bytes)).is_ok());
        assert!(rsip::SipMessage::try_from(bytes).is_ok());
        assert_eq!(cpm_route_fields(bytes), rsip_route_fields(bytes), "{name}");

        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("cpm", |b| {
            b.iter(|| cpm_sip::Message::parse(Bytes::from_static(black_box(bytes))).unwrap())
        });
        g.bench_function("rsip", |b| {
            b.iter(|| rsip::SipMessage::try_from(black_box(bytes)).unwrap())
        });
        g.finish();

        let mut g = c.benchmark_group(format!("parse+route/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("cpm", |b| b.iter(|| cpm_route_fields(black_box(bytes))));
        g.bench_function("rsip", |b| b.iter(|| rsip_route_fields(black_box(bytes))));
        g.finish();

        let ours = cpm_sip::Message::parse(Bytes::from_static(bytes)).unwrap();
        let theirs = rsip::SipMessage::try_from(bytes).unwrap();
        let mut g = c.benchmark_group(format!("serialize/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("cpm", |b| b.iter(|| black_box(&ours).edit().encode()));
        g.bench_function("rsip", |b| b.iter(|| black_box(&theirs).to_string()));
        g.finish();
    }
}

fn mean_ns(dir: &Path, group: &str, func: &str) -> Option<f64> {
    let group = group.replace('/', "_");
    let path = dir.join(group).join(func).join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/criterion-sip");
    let mut c = Criterion::default()
        .output_directory(&dir)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    benches(&mut c);
    c.final_summary();
    println!(
        "\n{:<34} {:>12} {:>12} {:>10} {:>14}",
        "benchmark", "cpm ns", "rsip ns", "rsip/cpm", "cpm msgs/s"
    );
    for kind in ["parse", "parse+route", "serialize"] {
        for (name, _) in INPUTS {
            let group = format!("{kind}/{name}");
            if let (Some(ours), Some(theirs)) =
                (mean_ns(&dir, &group, "cpm"), mean_ns(&dir, &group, "rsip"))
            {
                println!(
                    "{group:<34} {ours:>12.0} {theirs:>12.0} {:>9.1}x {:>14.0}",
                    theirs / ours,
                    1e9 / ours
                );
            }
        }
    }
}
