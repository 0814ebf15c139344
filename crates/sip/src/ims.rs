//! Typed access to the IMS and OMA CPM headers a CPM network routes on: identities
//! (P-Asserted-Identity, P-Preferred-Identity, RFC 3325), services (P-Preferred-Service,
//! P-Asserted-Service, RFC 6050), the served user (P-Served-User, RFC 5502/8498), feature
//! tags in Accept-Contact (RFC 3841) and the CPM conversation identifiers (Conversation-ID,
//! Contribution-ID, InReplyTo-Contribution-ID). All decoded on demand.

use std::borrow::Cow;

use crate::error::ParseError;
use crate::header::HeaderName;
use crate::message::Message;
use crate::name_addr::NameAddr;
use crate::text;

/// The CPM ICSI of pager-mode standalone messages.
pub const ICSI_CPM_MSG: &str = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg";
/// The CPM ICSI of standalone messages to a group.
pub const ICSI_CPM_MSG_GROUP: &str = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.msg.group";
/// The CPM ICSI of large-message mode.
pub const ICSI_CPM_LARGEMSG: &str = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.largemsg";
/// The CPM ICSI of deferred messaging.
pub const ICSI_CPM_DEFERRED: &str = "urn:urn-7:3gpp-service.ims.icsi.oma.cpm.deferred";

/// Session case of P-Served-User (RFC 5502 `sescase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCase {
    /// `orig`
    Originating,
    /// `term`
    Terminating,
    /// `orig-cdiv` (RFC 8498)
    OriginatingCdiv,
}

/// Registration state of P-Served-User (RFC 5502 `regstate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegState {
    /// `reg`
    Registered,
    /// `unreg`
    Unregistered,
}

/// A decoded P-Served-User.
#[derive(Debug, Clone)]
pub struct ServedUser<'a> {
    /// The served user's identity.
    pub user: NameAddr<'a>,
    /// `sescase`, when present and known.
    pub session_case: Option<SessionCase>,
    /// `regstate`, when present and known.
    pub reg_state: Option<RegState>,
}

impl Message {
    /// P-Asserted-Identity values (at most one sip/sips and one tel URI per RFC 3325).
    pub fn p_asserted_identity(&self) -> Result<Vec<NameAddr<'_>>, ParseError> {
        self.name_addrs(HeaderName::PAssertedIdentity)
    }

    /// P-Preferred-Identity values.
    pub fn p_preferred_identity(&self) -> Result<Vec<NameAddr<'_>>, ParseError> {
        self.name_addrs(HeaderName::PPreferredIdentity)
    }

    /// P-Served-User, when present.
    pub fn p_served_user(&self) -> Result<Option<ServedUser<'_>>, ParseError> {
        let Some(user) = self.name_addrs(HeaderName::PServedUser)?.into_iter().next() else {
            return Ok(None);
        };
        let session_case = match user.param("sescase").flatten() {
            Some(v) if v.eq_ignore_ascii_case("orig") => Some(SessionCase::Originating),
            Some(v) if v.eq_ignore_ascii_case("term") => Some(SessionCase::Terminating),
            Some(v) if v.eq_ignore_ascii_case("orig-cdiv") => Some(SessionCase::OriginatingCdiv),
            _ => None,
        };
        let reg_state = match user.param("regstate").flatten() {
            Some(v) if v.eq_ignore_ascii_case("reg") => Some(RegState::Registered),
            Some(v) if v.eq_ignore_ascii_case("unreg") => Some(RegState::Unregistered),
            _ => None,
        };
        Ok(Some(ServedUser {
            user,
            session_case,
            reg_state,
        }))
    }

    /// Service identifiers from P-Preferred-Service.
    pub fn preferred_services(&self) -> Vec<&str> {
        self.header_values(HeaderName::PPreferredService)
    }

    /// Service identifiers from P-Asserted-Service.
    pub fn asserted_services(&self) -> Vec<&str> {
        self.header_values(HeaderName::PAssertedService)
    }

    /// Every ICSI named in Accept-Contact `+g.3gpp.icsi-ref` feature tags, percent-decoded.
    pub fn accept_contact_icsis(&self) -> Vec<String> {
        let mut out = Vec::new();
        for value in self.header_values(HeaderName::AcceptContact) {
            for (name, v) in crate::params::Params::new(value.trim_start_matches('*').trim_start())
            {
                if name.eq_ignore_ascii_case("+g.3gpp.icsi-ref") {
                    if let Some(v) = v {
                        for icsi in text::unquote(v).split(',') {
                            out.push(text::unescape(icsi.trim()).into_owned());
                        }
                    }
                }
            }
        }
        out
    }

    /// True when the request asks for `icsi`, in P-Preferred-Service, P-Asserted-Service or
    /// an Accept-Contact feature tag.
    pub fn requests_service(&self, icsi: &str) -> bool {
        self.preferred_services()
            .iter()
            .any(|s| s.eq_ignore_ascii_case(icsi))
            || self
                .asserted_services()
                .iter()
                .any(|s| s.eq_ignore_ascii_case(icsi))
            || self
                .accept_contact_icsis()
                .iter()
                .any(|s| s.eq_ignore_ascii_case(icsi))
    }

    /// Conversation-ID (OMA CPM).
    pub fn conversation_id(&self) -> Option<&str> {
        self.header(HeaderName::ConversationId)
    }

    /// Contribution-ID (OMA CPM).
    pub fn contribution_id(&self) -> Option<&str> {
        self.header(HeaderName::ContributionId)
    }

    /// InReplyTo-Contribution-ID (OMA CPM).
    pub fn in_reply_to_contribution_id(&self) -> Option<&str> {
        self.header(HeaderName::InReplyToContributionId)
    }

    /// The credentials of Authorization (or Proxy-Authorization when `proxy`) for `realm`.
    pub fn credentials(&self, proxy: bool, realm: &str) -> Option<crate::auth::AuthHeader<'_>> {
        let name = if proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        self.headers()
            .filter(|h| h.name == name)
            .filter_map(|h| crate::auth::AuthHeader::parse(h.value).ok())
            .find(|a| a.param("realm").is_some_and(|r: Cow<'_, str>| r == realm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpm_headers_of_the_sample_message() {
        let m = Message::parse(&include_bytes!("../testdata/cpm-message.sip")[..]).unwrap();
        assert!(m.requests_service(ICSI_CPM_MSG));
        assert!(!m.requests_service(ICSI_CPM_LARGEMSG));
        assert_eq!(m.accept_contact_icsis(), vec![ICSI_CPM_MSG.to_string()]);
        assert_eq!(m.conversation_id(), Some("4d2c7a1e0b9f4e3aa1c2"));
        assert_eq!(m.contribution_id(), Some("9e8d7c6b5a4f3e2d1c0b"));
        let ppi = m.p_preferred_identity().unwrap();
        assert_eq!(ppi[0].uri().user(), Some("alice"));
        assert!(m.p_served_user().unwrap().is_none());
    }

    #[test]
    fn served_user_and_asserted_identity() {
        let raw = "MESSAGE sip:bob@d SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:alice@d>;tag=1\r\nTo: <sip:bob@d>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nP-Asserted-Identity: <sip:alice@d>, <tel:+15551230001>\r\nP-Served-User: <sip:bob@d>;sescase=term;regstate=unreg\r\nProxy-Authorization: Digest username=\"alice\", realm=\"d\", nonce=\"n\", uri=\"sip:bob@d\", response=\"r\"\r\nContent-Length: 0\r\n\r\n";
        let m = Message::parse(raw).unwrap();
        let pai = m.p_asserted_identity().unwrap();
        assert_eq!(pai.len(), 2);
        assert_eq!(pai[1].uri().phone_number(), Some("+15551230001"));
        let su = m.p_served_user().unwrap().unwrap();
        assert_eq!(su.session_case, Some(SessionCase::Terminating));
        assert_eq!(su.reg_state, Some(RegState::Unregistered));
        assert_eq!(su.user.uri().user(), Some("bob"));
        let cred = m.credentials(true, "d").unwrap();
        assert_eq!(cred.param("username").as_deref(), Some("alice"));
        assert!(m.credentials(false, "d").is_none());
    }
}
