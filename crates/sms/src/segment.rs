//! Choosing the encoding and splitting a text into SMS segments (3GPP TS 23.040 §9.2.3.24.1
//! concatenation; SMPP 3.4 §5.3.2.22–24 SAR TLVs, §5.3.2.32 message_payload).
//!
//! GSM 7-bit is used when every character fits the default alphabet or its extension table
//! (extension characters take two septets and are never split across segments); otherwise
//! UCS-2, where characters outside the BMP take two UTF-16 units and a surrogate pair is
//! never split.

use crate::gsm7;

/// The alphabet of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GSM 03.38 default alphabet, unpacked (SMPP data_coding 0x00).
    Gsm7,
    /// UCS-2 / UTF-16BE (SMPP data_coding 0x08).
    Ucs2,
}

impl Encoding {
    /// The SMPP data_coding value.
    pub fn data_coding(self) -> u8 {
        match self {
            Encoding::Gsm7 => 0x00,
            Encoding::Ucs2 => 0x08,
        }
    }

    /// Units (septets or UTF-16 units) that fit one segment.
    fn capacity(self, concat: Concatenation, multipart: bool) -> usize {
        match (self, multipart, concat) {
            (_, _, Concatenation::Payload) => usize::MAX,
            (Encoding::Gsm7, false, _) => 160,
            (Encoding::Ucs2, false, _) => 70,
            (Encoding::Gsm7, true, Concatenation::Udh16) => 152,
            (Encoding::Gsm7, true, _) => 153,
            (Encoding::Ucs2, true, Concatenation::Udh16) => 66,
            (Encoding::Ucs2, true, _) => 67,
        }
    }
}

/// How the parts of a long message are tied together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concatenation {
    /// UDH with IEI 0x00 (8-bit reference), esm_class UDHI 0x40.
    Udh8,
    /// UDH with IEI 0x08 (16-bit reference), esm_class UDHI 0x40.
    Udh16,
    /// SAR TLVs (sar_msg_ref_num, sar_total_segments, sar_segment_seqnum); same capacity
    /// as 8-bit UDH so the SMSC can add a UDH on the air interface.
    Sar,
    /// One submit_sm with the whole text in message_payload (no split).
    Payload,
}

/// One segment to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// 1-based position.
    pub seq: u8,
    /// Number of segments.
    pub total: u8,
    /// The user data header, for UDH concatenation of a multipart message.
    pub udh: Option<Vec<u8>>,
    /// The encoded text of this segment (septets, one per octet, or UCS-2 big-endian).
    pub payload: Vec<u8>,
}

impl Segment {
    /// UDH followed by the payload: the short_message (or message_payload) octets.
    pub fn user_data(&self) -> Vec<u8> {
        let mut v = self.udh.clone().unwrap_or_default();
        v.extend_from_slice(&self.payload);
        v
    }
}

/// A text split for submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segmented {
    /// The alphabet chosen.
    pub encoding: Encoding,
    /// How the parts are tied together.
    pub concatenation: Concatenation,
    /// The concatenation reference (8-bit UDH uses the low byte).
    pub reference: u16,
    /// The segments in order.
    pub segments: Vec<Segment>,
}

/// A text that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// More segments than the configured limit (at most 255).
    #[error("text needs {needed} SMS segments, more than the limit of {limit}")]
    TooManySegments {
        /// Segments the text needs.
        needed: usize,
        /// The limit.
        limit: usize,
    },
}

/// Splits `text` (see the module docs). `reference` ties the parts together; `max_segments`
/// (capped at 255) bounds the cost of one message.
pub fn segment(
    text: &str,
    concat: Concatenation,
    reference: u16,
    max_segments: usize,
) -> Result<Segmented, SegmentError> {
    let encoding = if gsm7::can_encode(text) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    };
    // Units of every character, in order.
    let units: Vec<(char, usize)> = text
        .chars()
        .map(|c| {
            let n = match encoding {
                Encoding::Gsm7 => gsm7::encode_char(c).map_or(1, |(_, e)| 1 + e.is_some() as usize),
                Encoding::Ucs2 => c.len_utf16(),
            };
            (c, n)
        })
        .collect();
    let total_units: usize = units.iter().map(|(_, n)| n).sum();
    let single = encoding.capacity(concat, false);
    let cap = if total_units <= single {
        single
    } else {
        encoding.capacity(concat, true)
    };
    let mut parts: Vec<String> = vec![String::new()];
    let mut used = 0;
    for (c, n) in units {
        if used + n > cap {
            parts.push(String::new());
            used = 0;
        }
        parts.last_mut().expect("one part").push(c);
        used += n;
    }
    let limit = max_segments.min(255);
    if parts.len() > limit {
        return Err(SegmentError::TooManySegments {
            needed: parts.len(),
            limit,
        });
    }
    let total = parts.len() as u8;
    let segments = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let seq = i as u8 + 1;
            let payload = match encoding {
                Encoding::Gsm7 => gsm7::encode(p).expect("checked encodable"),
                Encoding::Ucs2 => p.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            };
            let udh = (total > 1).then_some(()).and_then(|_| match concat {
                Concatenation::Udh8 => Some(vec![0x05, 0x00, 0x03, reference as u8, total, seq]),
                Concatenation::Udh16 => {
                    let [hi, lo] = reference.to_be_bytes();
                    Some(vec![0x06, 0x08, 0x04, hi, lo, total, seq])
                }
                Concatenation::Sar | Concatenation::Payload => None,
            });
            Segment {
                seq,
                total,
                udh,
                payload,
            }
        })
        .collect();
    Ok(Segmented {
        encoding,
        concatenation: concat,
        reference,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn boundaries() {
        let s = segment(&"a".repeat(160), Concatenation::Udh8, 7, 10).unwrap();
        assert_eq!((s.encoding, s.segments.len()), (Encoding::Gsm7, 1));
        assert!(s.segments[0].udh.is_none());
        let s = segment(&"a".repeat(161), Concatenation::Udh8, 7, 10).unwrap();
        assert_eq!(s.segments.len(), 2);
        assert_eq!(s.segments[0].payload.len(), 153);
        assert_eq!(s.segments[0].udh.as_deref(), Some(&[5, 0, 3, 7, 2, 1][..]));
        let s = segment(&"ж".repeat(70), Concatenation::Udh8, 1, 10).unwrap();
        assert_eq!((s.encoding, s.segments.len()), (Encoding::Ucs2, 1));
        let s = segment(&"ж".repeat(71), Concatenation::Udh16, 0x1234, 10).unwrap();
        assert_eq!(s.segments[0].payload.len(), 66 * 2);
        assert_eq!(
            s.segments[0].udh.as_deref(),
            Some(&[6, 8, 4, 0x12, 0x34, 2, 1][..])
        );
        // An extension character at the boundary moves whole to the next segment.
        let t = format!("{}€", "a".repeat(152));
        let s = segment(
            &format!("{t}{}", "b".repeat(10)),
            Concatenation::Udh8,
            1,
            10,
        )
        .unwrap();
        assert_eq!(s.segments[0].payload.len(), 152);
        assert_eq!(s.segments[1].payload[..2], [gsm7::ESC, 0x65]);
        // An emoji across the UCS-2 boundary is not split.
        let t = format!("{}😀xxxx", "ж".repeat(66));
        let s = segment(&t, Concatenation::Udh8, 1, 10).unwrap();
        assert_eq!(s.segments[0].payload.len(), 66 * 2);
        assert_eq!(s.segments.len(), 2);
        assert!(matches!(
            segment(&"a".repeat(2000), Concatenation::Udh8, 1, 5),
            Err(SegmentError::TooManySegments {
                needed: 14,
                limit: 5
            })
        ));
        assert_eq!(
            segment(&"a".repeat(2000), Concatenation::Payload, 1, 5)
                .unwrap()
                .segments
                .len(),
            1
        );
    }

    proptest! {
        #[test]
        fn segments_reassemble_to_the_text(text in "(\\PC|[{}€\\[\\]~])*", udh16 in any::<bool>()) {
            let concat = if udh16 { Concatenation::Udh16 } else { Concatenation::Udh8 };
            let s = segment(&text, concat, 42, 255).unwrap();
            let mut back = String::new();
            for seg in &s.segments {
                let cap = s.encoding.capacity(concat, s.segments.len() > 1);
                match s.encoding {
                    Encoding::Gsm7 => {
                        prop_assert!(seg.payload.len() <= cap);
                        prop_assert!(seg.payload.last() != Some(&gsm7::ESC), "escape split");
                        back.push_str(&gsm7::decode(&seg.payload));
                    }
                    Encoding::Ucs2 => {
                        prop_assert!(seg.payload.len() / 2 <= cap);
                        let units: Vec<u16> = seg.payload.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                        back.push_str(&String::from_utf16(&units).map_err(|_| TestCaseError::fail("surrogate split"))?);
                    }
                }
            }
            prop_assert_eq!(back, text);
        }
    }
}
