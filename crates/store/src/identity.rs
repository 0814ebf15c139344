//! Canonical forms of the identities the store keys on: addresses of record
//! (`sip:NAME@DOMAIN`) and E.164 aliases (`+15551230001`). Every backend normalises through
//! these functions, so lookups agree whatever spelling the caller received on the wire.

use crate::error::{Result, StoreError};

/// Characters RFC 3966 calls visual separators, plus the space people type.
const VISUAL_SEPARATORS: &[char] = &['-', '.', '(', ')', ' '];

/// Normalises an E.164 alias: strips visual separators (`-.() `) and an optional `tel:`
/// prefix, then requires a leading `+` followed by 8 to 15 digits, the first not `0`.
///
/// ```
/// assert_eq!(cpm_store::normalize_alias("+1 (555) 123-0001").unwrap(), "+15551230001");
/// assert_eq!(cpm_store::normalize_alias("tel:+46.70.000.01.23").unwrap(), "+46700000123");
/// assert!(cpm_store::normalize_alias("5551230001").is_err());
/// ```
pub fn normalize_alias(alias: &str) -> Result<String> {
    let invalid = |reason| StoreError::InvalidAlias {
        alias: alias.to_owned(),
        reason,
    };
    let trimmed = alias.trim();
    let body = match trimmed.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("tel:") => &trimmed[4..],
        _ => trimmed,
    };
    let compact: String = body
        .chars()
        .filter(|c| !VISUAL_SEPARATORS.contains(c))
        .collect();
    let Some(digits) = compact.strip_prefix('+') else {
        return Err(invalid("must start with '+' and the country code"));
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            "only digits and the separators - . ( ) space may follow '+'",
        ));
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(invalid("must have 8 to 15 digits after '+'"));
    }
    if digits.starts_with('0') {
        return Err(invalid("country codes never start with 0"));
    }
    Ok(compact)
}

/// Characters never allowed in a user name: they would change how `sip:NAME@DOMAIN` parses.
fn bad_user_char(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '@' | ':' | ';' | '?' | '<' | '>' | '"')
}

fn bad_domain_char(c: char) -> bool {
    !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '[' | ']' | ':'))
}

/// Checks a user name and domain and returns `(username, lower-case domain)`.
///
/// The user part is case-sensitive in SIP (RFC 3261 §19.1.4) and kept as given; the domain
/// is not, and is lower-cased. A domain may be a host name or a bracketed IPv6 literal; a
/// port is not part of an AOR.
pub fn normalize_user(username: &str, domain: &str) -> Result<(String, String)> {
    let invalid = |reason| StoreError::InvalidAor {
        aor: format!("sip:{username}@{domain}"),
        reason,
    };
    if username.is_empty() {
        return Err(invalid("the user name is empty"));
    }
    if username.chars().any(bad_user_char) {
        return Err(invalid(
            "the user name contains one of @ : ; ? < > \" or white space",
        ));
    }
    if domain.is_empty() {
        return Err(invalid("the domain is empty"));
    }
    if domain.chars().any(bad_domain_char) {
        return Err(invalid("the domain may hold only letters, digits, - and ."));
    }
    let is_v6 = domain.starts_with('[') && domain.ends_with(']');
    if !is_v6 && domain.contains([':', '[', ']']) {
        return Err(invalid("an address of record has no port"));
    }
    Ok((username.to_owned(), domain.to_ascii_lowercase()))
}

/// Parses and canonicalises an address of record: `sip:NAME@DOMAIN` (scheme and domain are
/// case-insensitive; URI parameters, headers and ports are rejected). Returns
/// `(canonical aor, username, domain)`.
///
/// ```
/// let (aor, user, domain) = cpm_store::parse_aor("SIP:alice@Example.COM").unwrap();
/// assert_eq!((aor.as_str(), user.as_str(), domain.as_str()),
///            ("sip:alice@example.com", "alice", "example.com"));
/// ```
pub fn parse_aor(aor: &str) -> Result<(String, String, String)> {
    let invalid = |reason| StoreError::InvalidAor {
        aor: aor.to_owned(),
        reason,
    };
    let rest = match aor.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("sip:") => &aor[4..],
        _ => return Err(invalid("must start with 'sip:'")),
    };
    let Some((user, domain)) = rest.rsplit_once('@') else {
        return Err(invalid("must be sip:NAME@DOMAIN"));
    };
    let (user, domain) = normalize_user(user, domain).map_err(|e| match e {
        StoreError::InvalidAor { reason, .. } => invalid(reason),
        other => other,
    })?;
    Ok((format!("sip:{user}@{domain}"), user, domain))
}

/// The canonical AOR for a user name and domain (see [`parse_aor`]).
pub fn aor_of(username: &str, domain: &str) -> Result<String> {
    let (user, domain) = normalize_user(username, domain)?;
    Ok(format!("sip:{user}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_normalisation() {
        for (input, want) in [
            ("+15551230001", "+15551230001"),
            ("+1-555-123-0001", "+15551230001"),
            ("+1 (555) 123.0001", "+15551230001"),
            ("  TEL:+4670000012  ", "+4670000012"),
            ("+12345678", "+12345678"),
            ("+123456789012345", "+123456789012345"),
        ] {
            assert_eq!(normalize_alias(input).unwrap(), want, "{input}");
        }
        for bad in [
            "",
            "+",
            "15551230001",
            "+1234567",
            "+1234567890123456",
            "+1555123000a",
            "+0555123000",
            "++15551230001",
            "+1555/1230001",
            "tel:+15551230001;phone-context=x",
        ] {
            assert!(
                matches!(normalize_alias(bad), Err(StoreError::InvalidAlias { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn aor_parsing() {
        assert_eq!(
            parse_aor("sip:Bob@EXAMPLE.com").unwrap().0,
            "sip:Bob@example.com"
        );
        assert_eq!(parse_aor("sip:a@[2001:db8::1]").unwrap().2, "[2001:db8::1]");
        for bad in [
            "alice@example.com",
            "sips:alice@example.com",
            "sip:@example.com",
            "sip:alice@",
            "sip:alice",
            "sip:alice@example.com:5060",
            "sip:alice@example.com;transport=tcp",
            "sip:al ice@example.com",
            "tel:+15551230001",
        ] {
            assert!(
                matches!(parse_aor(bad), Err(StoreError::InvalidAor { .. })),
                "{bad}"
            );
        }
    }
}
