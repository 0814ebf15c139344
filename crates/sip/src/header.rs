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
        let mut lower = [0u8; 32];
        if name.len() > lower.len() {
            return HeaderName::Other;
        }
        for (d, s) in lower.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        match &lower[..name.len()] {
            b"accept" => HeaderName::Accept,
            b"accept-contact" | b"a" => HeaderName::AcceptContact,
            b"accept-encoding" => HeaderName::AcceptEncoding,
            b"accept-language" => HeaderName::AcceptLanguage,
            b"alert-info" => HeaderName::AlertInfo,
            b"allow" => HeaderName::Allow,
            b"allow-events" | b"u" => HeaderName::AllowEvents,
            b"authentication-info" => HeaderName::AuthenticationInfo,
            b"authorization" => HeaderName::Authorization,
            b"call-id" | b"i" => HeaderName::CallId,
            b"call-info" => HeaderName::CallInfo,
            b"contact" | b"m" => HeaderName::Contact,
            b"content-disposition" => HeaderName::ContentDisposition,
            b"content-encoding" | b"e" => HeaderName::ContentEncoding,
            b"content-language" => HeaderName::ContentLanguage,
            b"content-length" | b"l" => HeaderName::ContentLength,
            b"content-type" | b"c" => HeaderName::ContentType,
            b"cseq" => HeaderName::CSeq,
            b"date" => HeaderName::Date,
            b"error-info" => HeaderName::ErrorInfo,
            b"event" | b"o" => HeaderName::Event,
            b"expires" => HeaderName::Expires,
            b"from" | b"f" => HeaderName::From,
            b"in-reply-to" => HeaderName::InReplyTo,
            b"max-forwards" => HeaderName::MaxForwards,
            b"mime-version" => HeaderName::MimeVersion,
            b"min-expires" => HeaderName::MinExpires,
            b"min-se" => HeaderName::MinSe,
            b"organization" => HeaderName::Organization,
            b"path" => HeaderName::Path,
            b"priority" => HeaderName::Priority,
            b"privacy" => HeaderName::Privacy,
            b"proxy-authenticate" => HeaderName::ProxyAuthenticate,
            b"proxy-authorization" => HeaderName::ProxyAuthorization,
            b"proxy-require" => HeaderName::ProxyRequire,
            b"rack" => HeaderName::Rack,
            b"reason" => HeaderName::Reason,
            b"record-route" => HeaderName::RecordRoute,
            b"refer-to" | b"r" => HeaderName::ReferTo,
            b"referred-by" | b"b" => HeaderName::ReferredBy,
            b"reject-contact" | b"j" => HeaderName::RejectContact,
            b"reply-to" => HeaderName::ReplyTo,
            b"request-disposition" | b"d" => HeaderName::RequestDisposition,
            b"require" => HeaderName::Require,
            b"retry-after" => HeaderName::RetryAfter,
            b"route" => HeaderName::Route,
            b"rseq" => HeaderName::Rseq,
            b"server" => HeaderName::Server,
            b"service-route" => HeaderName::ServiceRoute,
            b"session-expires" | b"x" => HeaderName::SessionExpires,
            b"sip-etag" => HeaderName::SipEtag,
            b"sip-if-match" => HeaderName::SipIfMatch,
            b"subject" | b"s" => HeaderName::Subject,
            b"subscription-state" => HeaderName::SubscriptionState,
            b"supported" | b"k" => HeaderName::Supported,
            b"timestamp" => HeaderName::Timestamp,
            b"to" | b"t" => HeaderName::To,
            b"unsupported" => HeaderName::Unsupported,
            b"user-agent" => HeaderName::UserAgent,
            b"via" | b"v" => HeaderName::Via,
            b"warning" => HeaderName::Warning,
            b"www-authenticate" => HeaderName::WwwAuthenticate,
            b"p-asserted-identity" => HeaderName::PAssertedIdentity,
            b"p-preferred-identity" => HeaderName::PPreferredIdentity,
            b"p-asserted-service" => HeaderName::PAssertedService,
            b"p-preferred-service" => HeaderName::PPreferredService,
            b"p-served-user" => HeaderName::PServedUser,
            b"p-associated-uri" => HeaderName::PAssociatedUri,
            b"p-called-party-id" => HeaderName::PCalledPartyId,
            b"p-access-network-info" => HeaderName::PAccessNetworkInfo,
            b"p-charging-vector" => HeaderName::PChargingVector,
            b"p-charging-function-addresses" => HeaderName::PChargingFunctionAddresses,
            b"p-visited-network-id" => HeaderName::PVisitedNetworkId,
            b"conversation-id" => HeaderName::ConversationId,
            b"contribution-id" => HeaderName::ContributionId,
            b"inreplyto-contribution-id" => HeaderName::InReplyToContributionId,
            b"security-client" => HeaderName::SecurityClient,
            b"security-server" => HeaderName::SecurityServer,
            b"security-verify" => HeaderName::SecurityVerify,
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
