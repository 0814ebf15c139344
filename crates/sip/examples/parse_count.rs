//! Parses one input many times with `cpm-sip` or `rsip`, for instruction counting under
//! `valgrind --tool=callgrind` (see `bench/parse-callgrind.sh`): instruction counts repeat
//! exactly on a noisy shared machine, where wall time does not.
//!
//! Usage: `parse_count cpm|rsip FILE ITERATIONS`

use bytes::Bytes;
use rsip::message::HasHeaders;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, which, file, n] = args.as_slice() else {
        eprintln!("usage: parse_count cpm|rsip FILE ITERATIONS");
        std::process::exit(2);
    };
    let data = Bytes::from(std::fs::read(file).expect("read input"));
    let n: usize = n.parse().expect("iterations");
    let mut acc = 0usize;
    for _ in 0..n {
        acc += match which.as_str() {
            "cpm" => {
                let m = cpm_sip::Message::parse(std::hint::black_box(data.clone())).unwrap();
                m.header_count()
            }
            "rsip" => {
                let m = rsip::SipMessage::try_from(std::hint::black_box(&data[..])).unwrap();
                m.headers().iter().count()
            }
            other => panic!("unknown parser {other}"),
        };
    }
    println!("{acc}");
}
