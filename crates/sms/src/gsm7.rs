//! The GSM 03.38 default alphabet and extension table (3GPP TS 23.038 §6.2.1), as SMPP
//! carries it with data_coding 0: one septet per octet ("unpacked").

/// The default alphabet, indexed by septet.
pub const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The escape septet that introduces an extension-table character.
pub const ESC: u8 = 0x1b;

/// The extension table: (septet after ESC, character).
pub const EXTENSION: [(u8, char); 10] = [
    (0x0a, '\u{0c}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2f, '\\'),
    (0x3c, '['),
    (0x3d, '~'),
    (0x3e, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// The septets of one character: one, two (ESC + extension), or none when the character
/// is not in the alphabet.
pub fn encode_char(c: char) -> Option<(u8, Option<u8>)> {
    if c != '\u{1b}' {
        if let Some(i) = DEFAULT.iter().position(|&d| d == c) {
            return Some((i as u8, None));
        }
    }
    EXTENSION
        .iter()
        .find(|(_, e)| *e == c)
        .map(|(s, _)| (ESC, Some(*s)))
}

/// True when every character of `text` is in the default alphabet or extension table.
pub fn can_encode(text: &str) -> bool {
    text.chars().all(|c| encode_char(c).is_some())
}

/// Septets needed for `text` (extension characters count two), or `None` when a character
/// is not encodable.
pub fn septet_len(text: &str) -> Option<usize> {
    text.chars()
        .map(|c| encode_char(c).map(|(_, e)| 1 + e.is_some() as usize))
        .sum()
}

/// Encodes to unpacked septets (one per octet).
pub fn encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let (a, b) = encode_char(c)?;
        out.push(a);
        out.extend(b);
    }
    Some(out)
}

/// Decodes unpacked septets. An unknown extension septet decodes as the default-alphabet
/// character of the same value (TS 23.038 §6.2.1.1); a trailing lone ESC as a space;
/// octets above 0x7F have their top bit ignored.
pub fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut i = 0;
    while i < septets.len() {
        let s = septets[i] & 0x7f;
        if s == ESC {
            match septets.get(i + 1) {
                Some(&n) => {
                    let n = n & 0x7f;
                    let c = EXTENSION
                        .iter()
                        .find(|(e, _)| *e == n)
                        .map(|(_, c)| *c)
                        .unwrap_or(DEFAULT[n as usize]);
                    out.push(c);
                    i += 2;
                }
                None => {
                    out.push(' ');
                    i += 1;
                }
            }
        } else {
            out.push(DEFAULT[s as usize]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_extension_characters() {
        let t = "Hello {world} [€5] ~|^\\ @£¥ èé ΔΦΓ ÄÖÑÜ§ äöñüà";
        let s = encode(t).unwrap();
        assert_eq!(decode(&s), t);
        assert_eq!(septet_len(t), Some(s.len()));
        assert_eq!(septet_len("€"), Some(2));
        assert!(!can_encode("emoji 😀"));
        assert!(
            !can_encode("ç"),
            "lower-case c-cedilla is not in the default alphabet"
        );
        assert_eq!(decode(&[ESC]), " ");
    }
}
