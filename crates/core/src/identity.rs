//! Identity assertion (RFC 3325, design §4): the core asserts `P-Asserted-Identity` from
//! the authenticated user — at most one SIP and one tel URI — honouring a
//! `P-Preferred-Identity` only when it names one of that user's own identities, and strips
//! any `P-Asserted-Identity` (and `P-Asserted-Service`) arriving from outside the trust
//! domain. A forged `From` changes nothing: downstream elements authorise on the asserted
//! identity.

use cpm_sip::{Editor, HeaderName, Message, Scheme};
use cpm_store::User;

/// The identities to assert for `user`, given the request's P-Preferred-Identity.
///
/// Returns the header values in order: the SIP AOR (or the preferred SIP identity, which
/// must be the AOR), then a tel URI — the preferred alias when one was named and is the
/// user's, else the user's first alias.
pub fn asserted_identities(user: &User, req: &Message) -> Vec<String> {
    let preferred = req.p_preferred_identity().unwrap_or_default();
    let mut tel = user.aliases.first().cloned();
    for p in &preferred {
        let uri = p.uri();
        if let (Scheme::Tel, Some(n)) = (uri.scheme(), uri.phone_number())
            && let Some(normalised) = crate::routing::normalize_e164(n)
            && user.aliases.contains(&normalised)
        {
            tel = Some(normalised);
        }
    }
    let display = user
        .display_name
        .as_deref()
        .map(|d| format!("\"{}\" ", d.replace(['"', '\\'], "")))
        .unwrap_or_default();
    let mut out = vec![format!("{display}<{}>", user.aor)];
    if let Some(t) = tel {
        out.push(format!("<tel:{t}>"));
    }
    out
}

/// Edits a request entering the trust domain from an authenticated user: removes
/// P-Preferred-Identity and any P-Asserted-Identity / P-Asserted-Service the client sent,
/// then asserts `identities` and `service` (the ICSI the core accepted, if any).
pub fn assert_on(editor: &mut Editor<'_>, identities: &[String], service: Option<&str>) {
    editor
        .remove(HeaderName::PPreferredIdentity)
        .remove(HeaderName::PAssertedIdentity)
        .remove(HeaderName::PAssertedService);
    for id in identities {
        editor.add("P-Asserted-Identity", id.as_str());
    }
    if let Some(s) = service {
        editor.add("P-Asserted-Service", s);
    }
}

/// Edits a request from an untrusted source that is not asserted by us (e.g. forwarded
/// unauthenticated): every asserted header is removed.
pub fn strip_untrusted(editor: &mut Editor<'_>) {
    editor
        .remove(HeaderName::PAssertedIdentity)
        .remove(HeaderName::PAssertedService);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> User {
        User {
            aor: "sip:alice@cpm.test".into(),
            username: "alice".into(),
            domain: "cpm.test".into(),
            display_name: Some("Alice".into()),
            aliases: vec!["+15551230001".into(), "+15551230002".into()],
            credentials: vec![],
            enabled: true,
            created_at: 0,
        }
    }

    fn req(extra: &str) -> Message {
        Message::parse(format!(
            "MESSAGE sip:bob@cpm.test SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:mallory@evil.test>;tag=1\r\nTo: <sip:bob@cpm.test>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n{extra}Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn asserts_the_authenticated_user_not_the_forged_from() {
        let m = req(
            "P-Asserted-Identity: <sip:ceo@cpm.test>\r\nP-Preferred-Identity: <tel:+1-555-123-0002>\r\n",
        );
        let ids = asserted_identities(&alice(), &m);
        assert_eq!(
            ids,
            vec![
                "\"Alice\" <sip:alice@cpm.test>".to_string(),
                "<tel:+15551230002>".to_string()
            ]
        );
        let mut e = m.edit();
        assert_on(&mut e, &ids, Some(cpm_sip::ICSI_CPM_MSG));
        let out = Message::parse(e.encode()).unwrap();
        let pai: Vec<String> = out
            .p_asserted_identity()
            .unwrap()
            .iter()
            .map(|n| n.uri().as_str().to_string())
            .collect();
        assert_eq!(pai, vec!["sip:alice@cpm.test", "tel:+15551230002"]);
        assert!(out.p_preferred_identity().unwrap().is_empty());
        assert_eq!(out.asserted_services(), vec![cpm_sip::ICSI_CPM_MSG]);
        assert_eq!(
            out.from().uri().user(),
            Some("mallory"),
            "From is left as sent"
        );
    }

    #[test]
    fn a_preferred_identity_of_someone_else_is_ignored() {
        let m = req("P-Preferred-Identity: <tel:+19999999999>\r\n");
        assert_eq!(asserted_identities(&alice(), &m)[1], "<tel:+15551230001>");
        let mut e = m.edit();
        strip_untrusted(&mut e);
        let out = Message::parse(e.encode()).unwrap();
        assert!(out.p_asserted_identity().unwrap().is_empty());
    }
}
