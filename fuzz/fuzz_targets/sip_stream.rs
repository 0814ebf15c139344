//! Stream framer: arbitrary bytes split at arbitrary points never panic, and the frames found
//! do not depend on how the stream was split.
#![no_main]

use cpm_sip::{Frame, Limits, StreamFramer};
use libfuzzer_sys::fuzz_target;

fn frames(data: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let mut f = StreamFramer::new(Limits::default());
    let mut out = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        f.push(piece);
        loop {
            match f.next_frame() {
                Ok(Some(Frame::Message(m))) => out.push(m.as_bytes().to_vec()),
                Ok(Some(Frame::Invalid { bytes, .. })) => out.push(bytes.to_vec()),
                Ok(Some(Frame::Ping)) => out.push(b"PING".to_vec()),
                Ok(Some(Frame::Pong)) => out.push(b"PONG".to_vec()),
                Ok(None) => break,
                Err(_) => return out,
            }
        }
    }
    out
}

fuzz_target!(|input: (u8, &[u8])| {
    let (chunk, data) = input;
    let whole = frames(data, data.len());
    let split = frames(data, chunk as usize % 64 + 1);
    // Keep-alive CRLFs are ambiguous across splits (a CRLF alone is a pong); compare messages.
    let msgs = |v: Vec<Vec<u8>>| v.into_iter().filter(|f| f != b"PING" && f != b"PONG").collect::<Vec<_>>();
    assert_eq!(msgs(whole), msgs(split));
});
