//! SMPP delivery receipts (SMPP 3.4 Appendix B): the `id:… sub:… dlvrd:… submit date:…
//! done date:… stat:… err:… text:…` text of a deliver_sm with the receipt bit set, parsed
//! leniently (any order, any case, missing fields, extra spaces), and message-id
//! normalisation, because SMSCs report the id of submit_sm_resp in another base or with
//! leading zeros.

/// The final (or intermediate) state in a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReceiptState {
    /// `DELIVRD` (message_state 2).
    Delivered,
    /// `EXPIRED` (3).
    Expired,
    /// `DELETED` (4).
    Deleted,
    /// `UNDELIV` (5).
    Undeliverable,
    /// `ACCEPTD` (6).
    Accepted,
    /// `UNKNOWN` (7).
    Unknown,
    /// `REJECTD` (8).
    Rejected,
    /// `ENROUTE` (1).
    Enroute,
}

impl ReceiptState {
    /// From the `stat:` text (case-insensitive; first 7 letters count, as some SMSCs write
    /// `DELIVERED`).
    pub fn from_stat(s: &str) -> Option<ReceiptState> {
        let s = s.trim().to_ascii_uppercase();
        let key = &s[..s.len().min(7)];
        Some(match key {
            "DELIVRD" | "DELIVER" => ReceiptState::Delivered,
            "EXPIRED" => ReceiptState::Expired,
            "DELETED" => ReceiptState::Deleted,
            "UNDELIV" => ReceiptState::Undeliverable,
            "ACCEPTD" | "ACCEPTE" => ReceiptState::Accepted,
            "UNKNOWN" => ReceiptState::Unknown,
            "REJECTD" | "REJECTE" => ReceiptState::Rejected,
            "ENROUTE" => ReceiptState::Enroute,
            _ => return None,
        })
    }

    /// From the message_state TLV (0x0427).
    pub fn from_message_state(v: u8) -> Option<ReceiptState> {
        Some(match v {
            1 => ReceiptState::Enroute,
            2 => ReceiptState::Delivered,
            3 => ReceiptState::Expired,
            4 => ReceiptState::Deleted,
            5 => ReceiptState::Undeliverable,
            6 => ReceiptState::Accepted,
            7 => ReceiptState::Unknown,
            8 => ReceiptState::Rejected,
            _ => return None,
        })
    }

    /// True for states after which no further receipt comes.
    pub fn is_final(self) -> bool {
        !matches!(self, ReceiptState::Enroute | ReceiptState::Accepted)
    }

    /// True when the message reached the handset.
    pub fn is_delivered(self) -> bool {
        self == ReceiptState::Delivered
    }
}

/// A parsed receipt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// `id:` as written.
    pub id: Option<String>,
    /// `stat:`.
    pub state: Option<ReceiptState>,
    /// `err:` as written.
    pub err: Option<String>,
    /// `submit date:` (YYMMDDhhmm[ss]).
    pub submit_date: Option<String>,
    /// `done date:`.
    pub done_date: Option<String>,
    /// `dlvrd:`.
    pub delivered: Option<String>,
}

const KEYS: [&str; 8] = [
    "id",
    "sub",
    "dlvrd",
    "submit date",
    "done date",
    "stat",
    "err",
    "text",
];

impl Receipt {
    /// Parses receipt text leniently. `None` when it has neither an id nor a state.
    pub fn parse(text: &str) -> Option<Receipt> {
        let lower = text.to_ascii_lowercase();
        // Find every "key:" at a word start, then take values up to the next key.
        let mut found: Vec<(usize, usize, &str)> = Vec::new(); // (key start, value start, key)
        for key in KEYS {
            let pat = format!("{key}:");
            let mut from = 0;
            while let Some(p) = lower[from..].find(&pat) {
                let at = from + p;
                let word_start = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
                // "submit date:"/"done date:" contain "date:", never a key of its own here.
                if word_start {
                    found.push((at, at + pat.len(), key));
                    break;
                }
                from = at + pat.len();
            }
        }
        found.sort_by_key(|f| f.0);
        let mut r = Receipt::default();
        for (i, &(_, vs, key)) in found.iter().enumerate() {
            let ve = found.get(i + 1).map_or(text.len(), |n| n.0);
            let v = text[vs..ve].trim();
            let v = if key == "text" {
                v
            } else {
                v.split_whitespace().next().unwrap_or("")
            };
            let v = (!v.is_empty()).then(|| v.to_string());
            match key {
                "id" => r.id = v,
                "stat" => r.state = v.as_deref().and_then(ReceiptState::from_stat),
                "err" => r.err = v,
                "submit date" => r.submit_date = v,
                "done date" => r.done_date = v,
                "dlvrd" => r.delivered = v,
                _ => {}
            }
        }
        (r.id.is_some() || r.state.is_some()).then_some(r)
    }
}

/// A canonical form of a message id: trimmed, lower-case, without leading zeros.
pub fn normalize_message_id(id: &str) -> String {
    let t = id.trim().to_ascii_lowercase();
    let t = t.trim_start_matches('0');
    if t.is_empty() { "0".into() } else { t.into() }
}

/// True when two message ids name the same message: equal after normalisation, or one is
/// the other written in decimal instead of hexadecimal.
pub fn ids_match(a: &str, b: &str) -> bool {
    let (na, nb) = (normalize_message_id(a), normalize_message_id(b));
    if na == nb {
        return true;
    }
    let dec = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<u128>().ok())
            .flatten()
    };
    let hex = |s: &str| u128::from_str_radix(s, 16).ok();
    matches!((dec(&na), hex(&nb)), (Some(x), Some(y)) if x == y)
        || matches!((hex(&na), dec(&nb)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_sloppy_receipts() {
        let r = Receipt::parse("id:0123456789 sub:001 dlvrd:001 submit date:2611250654 done date:2611250655 stat:DELIVRD err:000 text:Hello Bob").unwrap();
        assert_eq!(r.id.as_deref(), Some("0123456789"));
        assert_eq!(r.state, Some(ReceiptState::Delivered));
        assert_eq!(r.err.as_deref(), Some("000"));
        assert_eq!(r.done_date.as_deref(), Some("2611250655"));
        let r = Receipt::parse("STAT:undeliv  ERR:34 ID:abc").unwrap();
        assert_eq!(
            (r.id.as_deref(), r.state),
            (Some("abc"), Some(ReceiptState::Undeliverable))
        );
        assert!(Receipt::parse("just a text message").is_none());
        assert!(ReceiptState::Undeliverable.is_final() && !ReceiptState::Enroute.is_final());
    }

    #[test]
    fn ids_in_other_bases_and_with_zeros() {
        assert!(ids_match("00ABC", "abc"));
        assert!(ids_match("2748", "abc"), "0xABC = 2748");
        assert!(ids_match("abc", "2748"));
        assert!(!ids_match("abd", "2748"));
    }
}
