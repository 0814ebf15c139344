//! Header names: the known headers of RFC 3261 and its extensions (including the IMS and
//! CPM headers), with compact forms, matched case-insensitively.

/// A header name. Known headers are variants; anything else is [`HeaderName::Other`] and
/// keeps its text in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderName {
    /// `Accept`.
    Accept,
    /// `Accept-Contact` (compact `a`).
    AcceptContact,
    /// `Accept-Encoding`.
    AcceptEncoding,
    /// `Accept-Language`.
    AcceptLanguage,
    /// `Alert-Info`.
    AlertInfo,
    /// `Allow`.
    Allow,
    /// `Allow-Events` (compact `u`).
    AllowEvents,
    /// `Authentication-Info`.
    AuthenticationInfo,
    /// `Authorization`.
    Authorization,
    /// `Call-ID` (compact `i`).
    CallId,
    /// `Call-Info`.
    CallInfo,
    /// `Contact` (compact `m`).
    Contact,
    /// `Content-Disposition`.
    ContentDisposition,
    /// `Content-Encoding` (compact `e`).
    ContentEncoding,
    /// `Content-Language`.
    ContentLanguage,
    /// `Content-Length` (compact `l`).
    ContentLength,
    /// `Content-Type` (compact `c`).
    ContentType,
    /// `CSeq`.
    CSeq,
    /// `Date`.
    Date,
    /// `Error-Info`.
    ErrorInfo,
    /// `Event` (compact `o`).
    Event,
    /// `Expires`.
    Expires,
    /// `From` (compact `f`).
    From,
    /// `In-Reply-To`.
    InReplyTo,
    /// `Max-Forwards`.
    MaxForwards,
    /// `MIME-Version`.
    MimeVersion,
    /// `Min-Expires`.
    MinExpires,
    /// `Min-SE`.
    MinSe,
    /// `Organization`.
    Organization,
    /// `Path`.
    Path,
    /// `Priority`.
    Priority,
    /// `Privacy`.
    Privacy,
    /// `Proxy-Authenticate`.
    ProxyAuthenticate,
    /// `Proxy-Authorization`.
    ProxyAuthorization,
    /// `Proxy-Require`.
    ProxyRequire,
    /// `RAck`.
    Rack,
    /// `Reason`.
    Reason,
    /// `Record-Route`.
    RecordRoute,
    /// `Refer-To` (compact `r`).
    ReferTo,
    /// `Referred-By` (compact `b`).
    ReferredBy,
    /// `Reject-Contact` (compact `j`).
    RejectContact,
    /// `Reply-To`.
    ReplyTo,
    /// `Request-Disposition` (compact `d`).
    RequestDisposition,
    /// `Require`.
    Require,
    /// `Retry-After`.
    RetryAfter,
    /// `Route`.
    Route,
    /// `RSeq`.
    Rseq,
    /// `Server`.
    Server,
    /// `Service-Route`.
    ServiceRoute,
    /// `Session-Expires` (compact `x`).
    SessionExpires,
    /// `SIP-ETag`.
    SipEtag,
    /// `SIP-If-Match`.
    SipIfMatch,
    /// `Subject` (compact `s`).
    Subject,
    /// `Subscription-State`.
    SubscriptionState,
    /// `Supported` (compact `k`).
    Supported,
    /// `Timestamp`.
    Timestamp,
    /// `To` (compact `t`).
    To,
    /// `Unsupported`.
    Unsupported,
    /// `User-Agent`.
    UserAgent,
    /// `Via` (compact `v`).
    Via,
    /// `Warning`.
    Warning,
    /// `WWW-Authenticate`.
    WwwAuthenticate,
    /// `P-Asserted-Identity`.
    PAssertedIdentity,
    /// `P-Preferred-Identity`.
    PPreferredIdentity,
    /// `P-Asserted-Service`.
    PAssertedService,
    /// `P-Preferred-Service`.
    PPreferredService,
    /// `P-Served-User`.
    PServedUser,
    /// `P-Associated-URI`.
    PAssociatedUri,
    /// `P-Called-Party-ID`.
    PCalledPartyId,
    /// `P-Access-Network-Info`.
    PAccessNetworkInfo,
    /// `P-Charging-Vector`.
    PChargingVector,
    /// `P-Charging-Function-Addresses`.
    PChargingFunctionAddresses,
    /// `P-Visited-Network-ID`.
    PVisitedNetworkId,
    /// `Conversation-ID`.
    ConversationId,
    /// `Contribution-ID`.
    ContributionId,
    /// `InReplyTo-Contribution-ID`.
    InReplyToContributionId,
    /// `Security-Client`.
    SecurityClient,
    /// `Security-Server`.
    SecurityServer,
    /// `Security-Verify`.
    SecurityVerify,
    /// A header this crate has no variant for.
    Other,
}

impl HeaderName {
    /// Looks a name up (ASCII case-insensitive, compact forms included).
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        let Some(&first) = name.first() else {
            return HeaderName::Other;
        };
        let first = first.to_ascii_lowercase();
        // `lit` is lower-case letters and '-': OR-ing 0x20 folds the case of a letter and
        // leaves '-' alone; CR is the one other byte that would fold onto '-'.
        let eq = |lit: &[u8]| {
            name[1..]
                .iter()
                .zip(&lit[1..])
                .all(|(&c, &l)| (c | 0x20) == l && c != b'\r')
        };
        match (name.len(), first) {
            (1, b'a') => HeaderName::AcceptContact,
            (1, b'b') => HeaderName::ReferredBy,
            (1, b'c') => HeaderName::ContentType,
            (1, b'd') => HeaderName::RequestDisposition,
            (1, b'e') => HeaderName::ContentEncoding,
            (1, b'f') => HeaderName::From,
            (1, b'i') => HeaderName::CallId,
            (1, b'j') => HeaderName::RejectContact,
            (1, b'k') => HeaderName::Supported,
            (1, b'l') => HeaderName::ContentLength,
            (1, b'm') => HeaderName::Contact,
            (1, b'o') => HeaderName::Event,
            (1, b'r') => HeaderName::ReferTo,
            (1, b's') => HeaderName::Subject,
            (1, b't') => HeaderName::To,
            (1, b'u') => HeaderName::AllowEvents,
            (1, b'v') => HeaderName::Via,
            (1, b'x') => HeaderName::SessionExpires,
            (2, b't') => {
                if eq(b"to") {
                    return HeaderName::To;
                }
                HeaderName::Other
            }
            (3, b'v') => {
                if eq(b"via") {
                    return HeaderName::Via;
                }
                HeaderName::Other
            }
            (4, b'c') => {
                if eq(b"cseq") {
                    return HeaderName::CSeq;
                }
                HeaderName::Other
            }
            (4, b'd') => {
                if eq(b"date") {
                    return HeaderName::Date;
                }
                HeaderName::Other
            }
            (4, b'f') => {
                if eq(b"from") {
                    return HeaderName::From;
                }
                HeaderName::Other
            }
            (4, b'p') => {
                if eq(b"path") {
                    return HeaderName::Path;
                }
                HeaderName::Other
            }
            (4, b'r') => {
                if eq(b"rack") {
                    return HeaderName::Rack;
                }
                if eq(b"rseq") {
                    return HeaderName::Rseq;
                }
                HeaderName::Other
            }
            (5, b'a') => {
                if eq(b"allow") {
                    return HeaderName::Allow;
                }
                HeaderName::Other
            }
            (5, b'e') => {
                if eq(b"event") {
                    return HeaderName::Event;
                }
                HeaderName::Other
            }
            (5, b'r') => {
                if eq(b"route") {
                    return HeaderName::Route;
                }
                HeaderName::Other
            }
            (6, b'a') => {
                if eq(b"accept") {
                    return HeaderName::Accept;
                }
                HeaderName::Other
            }
            (6, b'm') => {
                if eq(b"min-se") {
                    return HeaderName::MinSe;
                }
                HeaderName::Other
            }
            (6, b'r') => {
                if eq(b"reason") {
                    return HeaderName::Reason;
                }
                HeaderName::Other
            }
            (6, b's') => {
                if eq(b"server") {
                    return HeaderName::Server;
                }
                HeaderName::Other
            }
            (7, b'c') => {
                if eq(b"call-id") {
                    return HeaderName::CallId;
                }
                if eq(b"contact") {
                    return HeaderName::Contact;
                }
                HeaderName::Other
            }
            (7, b'e') => {
                if eq(b"expires") {
                    return HeaderName::Expires;
                }
                HeaderName::Other
            }
            (7, b'p') => {
                if eq(b"privacy") {
                    return HeaderName::Privacy;
                }
                HeaderName::Other
            }
            (7, b'r') => {
                if eq(b"require") {
                    return HeaderName::Require;
                }
                HeaderName::Other
            }
            (7, b's') => {
                if eq(b"subject") {
                    return HeaderName::Subject;
                }
                HeaderName::Other
            }
            (7, b'w') => {
                if eq(b"warning") {
                    return HeaderName::Warning;
                }
                HeaderName::Other
            }
            (8, b'p') => {
                if eq(b"priority") {
                    return HeaderName::Priority;
                }
                HeaderName::Other
            }
            (8, b'r') => {
                if eq(b"refer-to") {
                    return HeaderName::ReferTo;
                }
                if eq(b"reply-to") {
                    return HeaderName::ReplyTo;
                }
                HeaderName::Other
            }
            (8, b's') => {
                if eq(b"sip-etag") {
                    return HeaderName::SipEtag;
                }
                HeaderName::Other
            }
            (9, b'c') => {
                if eq(b"call-info") {
                    return HeaderName::CallInfo;
                }
                HeaderName::Other
            }
            (9, b's') => {
                if eq(b"supported") {
                    return HeaderName::Supported;
                }
                HeaderName::Other
            }
            (9, b't') => {
                if eq(b"timestamp") {
                    return HeaderName::Timestamp;
                }
                HeaderName::Other
            }
            (10, b'a') => {
                if eq(b"alert-info") {
                    return HeaderName::AlertInfo;
                }
                HeaderName::Other
            }
            (10, b'e') => {
                if eq(b"error-info") {
                    return HeaderName::ErrorInfo;
                }
                HeaderName::Other
            }
            (10, b'u') => {
                if eq(b"user-agent") {
                    return HeaderName::UserAgent;
                }
                HeaderName::Other
            }
            (11, b'i') => {
                if eq(b"in-reply-to") {
                    return HeaderName::InReplyTo;
                }
                HeaderName::Other
            }
            (11, b'm') => {
                if eq(b"min-expires") {
                    return HeaderName::MinExpires;
                }
                HeaderName::Other
            }
            (11, b'r') => {
                if eq(b"referred-by") {
                    return HeaderName::ReferredBy;
                }
                if eq(b"retry-after") {
                    return HeaderName::RetryAfter;
                }
                HeaderName::Other
            }
            (11, b'u') => {
                if eq(b"unsupported") {
                    return HeaderName::Unsupported;
                }
                HeaderName::Other
            }
            (12, b'a') => {
                if eq(b"allow-events") {
                    return HeaderName::AllowEvents;
                }
                HeaderName::Other
            }
            (12, b'c') => {
                if eq(b"content-type") {
                    return HeaderName::ContentType;
                }
                HeaderName::Other
            }
            (12, b'm') => {
                if eq(b"max-forwards") {
                    return HeaderName::MaxForwards;
                }
                if eq(b"mime-version") {
                    return HeaderName::MimeVersion;
                }
                HeaderName::Other
            }
            (12, b'o') => {
                if eq(b"organization") {
                    return HeaderName::Organization;
                }
                HeaderName::Other
            }
            (12, b'r') => {
                if eq(b"record-route") {
                    return HeaderName::RecordRoute;
                }
                HeaderName::Other
            }
            (12, b's') => {
                if eq(b"sip-if-match") {
                    return HeaderName::SipIfMatch;
                }
                HeaderName::Other
            }
            (13, b'a') => {
                if eq(b"authorization") {
                    return HeaderName::Authorization;
                }
                HeaderName::Other
            }
            (13, b'p') => {
                if eq(b"proxy-require") {
                    return HeaderName::ProxyRequire;
                }
                if eq(b"p-served-user") {
                    return HeaderName::PServedUser;
                }
                HeaderName::Other
            }
            (13, b's') => {
                if eq(b"service-route") {
                    return HeaderName::ServiceRoute;
                }
                HeaderName::Other
            }
            (14, b'a') => {
                if eq(b"accept-contact") {
                    return HeaderName::AcceptContact;
                }
                HeaderName::Other
            }
            (14, b'c') => {
                if eq(b"content-length") {
                    return HeaderName::ContentLength;
                }
                HeaderName::Other
            }
            (14, b'r') => {
                if eq(b"reject-contact") {
                    return HeaderName::RejectContact;
                }
                HeaderName::Other
            }
            (15, b'a') => {
                if eq(b"accept-encoding") {
                    return HeaderName::AcceptEncoding;
                }
                if eq(b"accept-language") {
                    return HeaderName::AcceptLanguage;
                }
                HeaderName::Other
            }
            (15, b'c') => {
                if eq(b"conversation-id") {
                    return HeaderName::ConversationId;
                }
                if eq(b"contribution-id") {
                    return HeaderName::ContributionId;
                }
                HeaderName::Other
            }
            (15, b's') => {
                if eq(b"session-expires") {
                    return HeaderName::SessionExpires;
                }
                if eq(b"security-client") {
                    return HeaderName::SecurityClient;
                }
                if eq(b"security-server") {
                    return HeaderName::SecurityServer;
                }
                if eq(b"security-verify") {
                    return HeaderName::SecurityVerify;
                }
                HeaderName::Other
            }
            (16, b'c') => {
                if eq(b"content-encoding") {
                    return HeaderName::ContentEncoding;
                }
                if eq(b"content-language") {
                    return HeaderName::ContentLanguage;
                }
                HeaderName::Other
            }
            (16, b'p') => {
                if eq(b"p-associated-uri") {
                    return HeaderName::PAssociatedUri;
                }
                HeaderName::Other
            }
            (16, b'w') => {
                if eq(b"www-authenticate") {
                    return HeaderName::WwwAuthenticate;
                }
                HeaderName::Other
            }
            (17, b'p') => {
                if eq(b"p-called-party-id") {
                    return HeaderName::PCalledPartyId;
                }
                if eq(b"p-charging-vector") {
                    return HeaderName::PChargingVector;
                }
                HeaderName::Other
            }
            (18, b'p') => {
                if eq(b"proxy-authenticate") {
                    return HeaderName::ProxyAuthenticate;
                }
                if eq(b"p-asserted-service") {
                    return HeaderName::PAssertedService;
                }
                HeaderName::Other
            }
            (18, b's') => {
                if eq(b"subscription-state") {
                    return HeaderName::SubscriptionState;
                }
                HeaderName::Other
            }
            (19, b'a') => {
                if eq(b"authentication-info") {
                    return HeaderName::AuthenticationInfo;
                }
                HeaderName::Other
            }
            (19, b'c') => {
                if eq(b"content-disposition") {
                    return HeaderName::ContentDisposition;
                }
                HeaderName::Other
            }
            (19, b'p') => {
                if eq(b"proxy-authorization") {
                    return HeaderName::ProxyAuthorization;
                }
                if eq(b"p-asserted-identity") {
                    return HeaderName::PAssertedIdentity;
                }
                if eq(b"p-preferred-service") {
                    return HeaderName::PPreferredService;
                }
                HeaderName::Other
            }
            (19, b'r') => {
                if eq(b"request-disposition") {
                    return HeaderName::RequestDisposition;
                }
                HeaderName::Other
            }
            (20, b'p') => {
                if eq(b"p-preferred-identity") {
                    return HeaderName::PPreferredIdentity;
                }
                if eq(b"p-visited-network-id") {
                    return HeaderName::PVisitedNetworkId;
                }
                HeaderName::Other
            }
            (21, b'p') => {
                if eq(b"p-access-network-info") {
                    return HeaderName::PAccessNetworkInfo;
                }
                HeaderName::Other
            }
            (25, b'i') => {
                if eq(b"inreplyto-contribution-id") {
                    return HeaderName::InReplyToContributionId;
                }
                HeaderName::Other
            }
            (29, b'p') => {
                if eq(b"p-charging-function-addresses") {
                    return HeaderName::PChargingFunctionAddresses;
                }
                HeaderName::Other
            }
            _ => HeaderName::Other,
        }
    }

    /// The canonical spelling; `None` for [`HeaderName::Other`].
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            HeaderName::Accept => "Accept",
            HeaderName::AcceptContact => "Accept-Contact",
            HeaderName::AcceptEncoding => "Accept-Encoding",
            HeaderName::AcceptLanguage => "Accept-Language",
            HeaderName::AlertInfo => "Alert-Info",
            HeaderName::Allow => "Allow",
            HeaderName::AllowEvents => "Allow-Events",
            HeaderName::AuthenticationInfo => "Authentication-Info",
            HeaderName::Authorization => "Authorization",
            HeaderName::CallId => "Call-ID",
            HeaderName::CallInfo => "Call-Info",
            HeaderName::Contact => "Contact",
            HeaderName::ContentDisposition => "Content-Disposition",
            HeaderName::ContentEncoding => "Content-Encoding",
            HeaderName::ContentLanguage => "Content-Language",
            HeaderName::ContentLength => "Content-Length",
            HeaderName::ContentType => "Content-Type",
            HeaderName::CSeq => "CSeq",
            HeaderName::Date => "Date",
            HeaderName::ErrorInfo => "Error-Info",
            HeaderName::Event => "Event",
            HeaderName::Expires => "Expires",
            HeaderName::From => "From",
            HeaderName::InReplyTo => "In-Reply-To",
            HeaderName::MaxForwards => "Max-Forwards",
            HeaderName::MimeVersion => "MIME-Version",
            HeaderName::MinExpires => "Min-Expires",
            HeaderName::MinSe => "Min-SE",
            HeaderName::Organization => "Organization",
            HeaderName::Path => "Path",
            HeaderName::Priority => "Priority",
            HeaderName::Privacy => "Privacy",
            HeaderName::ProxyAuthenticate => "Proxy-Authenticate",
            HeaderName::ProxyAuthorization => "Proxy-Authorization",
            HeaderName::ProxyRequire => "Proxy-Require",
            HeaderName::Rack => "RAck",
            HeaderName::Reason => "Reason",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::ReferTo => "Refer-To",
            HeaderName::ReferredBy => "Referred-By",
            HeaderName::RejectContact => "Reject-Contact",
            HeaderName::ReplyTo => "Reply-To",
            HeaderName::RequestDisposition => "Request-Disposition",
            HeaderName::Require => "Require",
            HeaderName::RetryAfter => "Retry-After",
            HeaderName::Route => "Route",
            HeaderName::Rseq => "RSeq",
            HeaderName::Server => "Server",
            HeaderName::ServiceRoute => "Service-Route",
            HeaderName::SessionExpires => "Session-Expires",
            HeaderName::SipEtag => "SIP-ETag",
            HeaderName::SipIfMatch => "SIP-If-Match",
            HeaderName::Subject => "Subject",
            HeaderName::SubscriptionState => "Subscription-State",
            HeaderName::Supported => "Supported",
            HeaderName::Timestamp => "Timestamp",
            HeaderName::To => "To",
            HeaderName::Unsupported => "Unsupported",
            HeaderName::UserAgent => "User-Agent",
            HeaderName::Via => "Via",
            HeaderName::Warning => "Warning",
            HeaderName::WwwAuthenticate => "WWW-Authenticate",
            HeaderName::PAssertedIdentity => "P-Asserted-Identity",
            HeaderName::PPreferredIdentity => "P-Preferred-Identity",
            HeaderName::PAssertedService => "P-Asserted-Service",
            HeaderName::PPreferredService => "P-Preferred-Service",
            HeaderName::PServedUser => "P-Served-User",
            HeaderName::PAssociatedUri => "P-Associated-URI",
            HeaderName::PCalledPartyId => "P-Called-Party-ID",
            HeaderName::PAccessNetworkInfo => "P-Access-Network-Info",
            HeaderName::PChargingVector => "P-Charging-Vector",
            HeaderName::PChargingFunctionAddresses => "P-Charging-Function-Addresses",
            HeaderName::PVisitedNetworkId => "P-Visited-Network-ID",
            HeaderName::ConversationId => "Conversation-ID",
            HeaderName::ContributionId => "Contribution-ID",
            HeaderName::InReplyToContributionId => "InReplyTo-Contribution-ID",
            HeaderName::SecurityClient => "Security-Client",
            HeaderName::SecurityServer => "Security-Server",
            HeaderName::SecurityVerify => "Security-Verify",
            HeaderName::Other => return None,
        })
    }

    /// True for headers whose value is a comma-separated list (RFC 3261 §7.3.1) that may be
    /// split or combined.
    pub fn is_list(self) -> bool {
        use HeaderName::*;
        matches!(
            self,
            Accept
                | AcceptContact
                | AcceptEncoding
                | AcceptLanguage
                | AlertInfo
                | Allow
                | AllowEvents
                | CallInfo
                | Contact
                | ContentEncoding
                | ContentLanguage
                | ErrorInfo
                | InReplyTo
                | Path
                | ProxyRequire
                | Reason
                | RecordRoute
                | RejectContact
                | Require
                | Route
                | ServiceRoute
                | Supported
                | Unsupported
                | Via
                | Warning
                | PAssertedIdentity
                | PPreferredIdentity
                | PAssertedService
                | PPreferredService
                | PAssociatedUri
                | PVisitedNetworkId
                | Privacy
                | SecurityClient
                | SecurityServer
                | SecurityVerify
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(
            HeaderName::from_bytes(b"P-Asserted-Identity"),
            HeaderName::PAssertedIdentity
        );
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::CallId.as_str(), Some("Call-ID"));
        assert_eq!(
            HeaderName::from_bytes(b"inreplyto-contribution-id"),
            HeaderName::InReplyToContributionId
        );
    }
}
