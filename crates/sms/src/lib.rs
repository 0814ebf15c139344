//! # cpm-sms: SMS coding for the SMS Interworking Function
//!
//! Owns: the GSM 03.38 default alphabet and its extension table (3GPP TS 23.038), UCS-2,
//! the choice between them, segmentation of long texts with concatenation information
//! (8-bit or 16-bit reference UDH, SAR TLVs, or one message_payload; 3GPP TS 23.040), and
//! lenient parsing of SMPP delivery receipts (SMPP 3.4 Appendix B) with message-id
//! normalisation.
//!
//! Must not import: tokio, sockets, clocks. The SMPP session itself lives in the node crate
//! (or a crate of its own) and calls into this one.
//!
//! Written here rather than taken from `rusmpp-extra` so that segmentation policy (segment
//! limits, never splitting an escape sequence or a surrogate pair, counting for metrics)
//! is ours and property-tested; the PDU codec can still come from a crate.

pub mod dlr;
pub mod gsm7;
pub mod segment;

pub use dlr::{Receipt, ReceiptState, ids_match, normalize_message_id};
pub use segment::{Concatenation, Encoding, Segment, SegmentError, Segmented, segment};
