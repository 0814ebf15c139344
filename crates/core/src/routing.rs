//! Interworking routing (the seed's step 4: "the SIP/IP Core routes the request to the
//! Interworking Function based on URI scheme and domain name of the recipient"): an ordered
//! table of rules — URI scheme, domain pattern, E.164 number prefix — each naming a target
//! (the SMS IWF, the email IWF, another core). The first matching rule wins; the decision
//! names the rule so it can be logged and counted.

use cpm_sip::{Scheme, Uri};

/// What a rule matches on. Every given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    /// URI scheme (`tel`, `sip`, `mailto` …); `None` matches any.
    pub scheme: Option<String>,
    /// Domain pattern: exact (`example.com`) or suffix (`*.example.com`); `None` matches any.
    pub domain: Option<String>,
    /// E.164 prefix including `+` (`+46`); the request must name a phone number.
    pub number_prefix: Option<String>,
}

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// A name for logs and metrics (`sms`, `email`, `peer-core`).
    pub name: String,
    /// When it applies.
    pub matches: Match,
    /// Where to send (a SIP URI of the target element).
    pub target: String,
}

/// The decision for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'t> {
    /// The rule that matched.
    pub rule: &'t str,
    /// The target element.
    pub target: &'t str,
    /// The recipient's E.164 number, normalised, when it has one.
    pub number: Option<String>,
}

/// Normalises a telephone number to E.164 (`+` and digits): visual separators
/// (`-` `.` `(` `)` and spaces) are dropped. Returns `None` for a local number (no `+`) or
/// a global number outside 8..=15 digits (ITU-T E.164).
pub fn normalize_e164(number: &str) -> Option<String> {
    let rest = number.trim().strip_prefix('+')?;
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect();
    (digits.len() >= 8 && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("+{digits}"))
}

fn domain_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// The host part of a recipient: the SIP host, or the domain of a `mailto:` address.
fn recipient_domain<'a>(uri: &Uri<'a>) -> Option<&'a str> {
    match uri.scheme() {
        Scheme::Sip | Scheme::Sips => Some(uri.host()),
        Scheme::Mailto => {
            let addr = uri.rest().split('?').next()?;
            addr.rsplit_once('@').map(|(_, d)| d)
        }
        _ => None,
    }
}

/// An ordered routing table.
#[derive(Debug, Clone, Default)]
pub struct RoutingTable {
    rules: Vec<Rule>,
}

impl RoutingTable {
    /// A table from rules in priority order.
    pub fn new(rules: Vec<Rule>) -> RoutingTable {
        RoutingTable { rules }
    }

    /// The defaults of design §4: phone numbers (`tel:` or `sip:+…;user=phone`) to the SMS
    /// IWF, `mailto:` and the given email domains to the email IWF.
    pub fn defaults(sms_iwf: &str, email_iwf: &str, email_domains: &[&str]) -> RoutingTable {
        let mut rules = vec![
            Rule {
                name: "sms".into(),
                matches: Match {
                    number_prefix: Some("+".into()),
                    ..Match::default()
                },
                target: sms_iwf.into(),
            },
            Rule {
                name: "email".into(),
                matches: Match {
                    scheme: Some("mailto".into()),
                    ..Match::default()
                },
                target: email_iwf.into(),
            },
        ];
        for d in email_domains {
            rules.push(Rule {
                name: "email".into(),
                matches: Match {
                    scheme: Some("sip".into()),
                    domain: Some((*d).into()),
                    number_prefix: None,
                },
                target: email_iwf.into(),
            });
        }
        RoutingTable { rules }
    }

    /// The first rule matching `recipient`, or `None` (the core answers 404).
    pub fn route(&self, recipient: &Uri<'_>) -> Option<Route<'_>> {
        let number = recipient.phone_number().and_then(normalize_e164);
        let domain = recipient_domain(recipient);
        self.rules.iter().find_map(|r| {
            let m = &r.matches;
            let scheme_ok = m
                .scheme
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(recipient.scheme_str()));
            let domain_ok = m
                .domain
                .as_deref()
                .is_none_or(|p| domain.is_some_and(|d| domain_matches(p, d)));
            let number_ok = m
                .number_prefix
                .as_deref()
                .is_none_or(|p| number.as_deref().is_some_and(|n| n.starts_with(p)));
            (scheme_ok && domain_ok && number_ok).then(|| Route {
                rule: &r.name,
                target: &r.target,
                number: number.clone(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RoutingTable {
        let mut t = RoutingTable::defaults(
            "sip:sms-iwf@cpm.test",
            "sip:email-iwf@cpm.test",
            &["mail.example.org"],
        );
        // A more specific rule first: Swedish numbers to a partner core.
        t.rules.insert(
            0,
            Rule {
                name: "se-peer".into(),
                matches: Match {
                    number_prefix: Some("+46".into()),
                    ..Match::default()
                },
                target: "sip:core.se.example".into(),
            },
        );
        t
    }

    #[test]
    fn routes_by_scheme_domain_and_prefix() {
        let t = table();
        let r = |u: &str| {
            t.route(&Uri::parse(u).unwrap())
                .map(|r| (r.rule.to_string(), r.number))
        };
        assert_eq!(
            r("tel:+1-555-123-0001"),
            Some(("sms".into(), Some("+15551230001".into())))
        );
        assert_eq!(
            r("sip:+15551230001@cpm.test;user=phone"),
            Some(("sms".into(), Some("+15551230001".into())))
        );
        assert_eq!(
            r("tel:+46700000123"),
            Some(("se-peer".into(), Some("+46700000123".into())))
        );
        assert_eq!(r("mailto:bob@example.org"), Some(("email".into(), None)));
        assert_eq!(r("sip:bob@mail.example.org"), Some(("email".into(), None)));
        assert_eq!(r("sip:bob@unknown.example"), None);
        assert_eq!(
            r("tel:5551234;phone-context=example.com"),
            None,
            "local numbers are not E.164"
        );
    }

    #[test]
    fn e164_and_domain_patterns() {
        assert_eq!(
            normalize_e164("+1 (555) 123-0001").as_deref(),
            Some("+15551230001")
        );
        assert_eq!(normalize_e164("+123"), None);
        assert_eq!(normalize_e164("15551230001"), None);
        assert!(domain_matches("*.example.com", "a.example.com"));
        assert!(!domain_matches("*.example.com", "example.com"));
        assert!(!domain_matches("*.example.com", "badexample.com"));
    }
}
