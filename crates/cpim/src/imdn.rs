//! IMDN (RFC 5438): the disposition request a sender puts in CPIM
//! (`imdn.Disposition-Notification`), and `message/imdn+xml` notifications.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

const XML_NS: &str = "urn:ietf:params:xml:ns:imdn";

/// The dispositions a sender asked for (`imdn.Disposition-Notification`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DispositionRequest {
    /// `positive-delivery`
    pub positive_delivery: bool,
    /// `negative-delivery`
    pub negative_delivery: bool,
    /// `display`
    pub display: bool,
    /// `processing`
    pub processing: bool,
}

impl DispositionRequest {
    /// Parses the comma-separated list; unknown tokens are ignored.
    pub fn parse(v: &str) -> DispositionRequest {
        let mut r = DispositionRequest::default();
        for t in v.split(',').map(str::trim) {
            match t.to_ascii_lowercase().as_str() {
                "positive-delivery" => r.positive_delivery = true,
                "negative-delivery" => r.negative_delivery = true,
                "display" => r.display = true,
                "processing" => r.processing = true,
                _ => {}
            }
        }
        r
    }

    /// True when nothing was requested.
    pub fn is_empty(&self) -> bool {
        !(self.positive_delivery || self.negative_delivery || self.display || self.processing)
    }

    /// Whether a notification of `kind` with `status` was asked for.
    pub fn wants(&self, kind: NotificationKind, status: Status) -> bool {
        match kind {
            NotificationKind::Delivery if status == Status::Delivered => self.positive_delivery,
            NotificationKind::Delivery => self.negative_delivery,
            NotificationKind::Display => self.display,
            NotificationKind::Processing => self.processing,
        }
    }

    /// The header value.
    pub fn to_header(&self) -> String {
        let mut v = Vec::new();
        if self.positive_delivery {
            v.push("positive-delivery");
        }
        if self.negative_delivery {
            v.push("negative-delivery");
        }
        if self.display {
            v.push("display");
        }
        if self.processing {
            v.push("processing");
        }
        v.join(", ")
    }
}

/// Which notification an IMDN document carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    /// `<delivery-notification>`
    Delivery,
    /// `<display-notification>`
    Display,
    /// `<processing-notification>`
    Processing,
}

/// The status inside a notification (RFC 5438 §7.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `delivered` (delivery)
    Delivered,
    /// `failed` (delivery)
    Failed,
    /// `displayed` (display)
    Displayed,
    /// `processed` (processing)
    Processed,
    /// `stored` (processing)
    Stored,
    /// `forbidden` (any)
    Forbidden,
    /// `error` (any)
    Error,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Displayed => "displayed",
            Status::Processed => "processed",
            Status::Stored => "stored",
            Status::Forbidden => "forbidden",
            Status::Error => "error",
        }
    }

    fn from_name(n: &[u8]) -> Option<Status> {
        Some(match n {
            b"delivered" => Status::Delivered,
            b"failed" => Status::Failed,
            b"displayed" => Status::Displayed,
            b"processed" => Status::Processed,
            b"stored" => Status::Stored,
            b"forbidden" => Status::Forbidden,
            b"error" => Status::Error,
            _ => return None,
        })
    }

    /// True when this status may appear in a notification of `kind`.
    pub fn fits(self, kind: NotificationKind) -> bool {
        matches!(
            (kind, self),
            (_, Status::Forbidden | Status::Error)
                | (
                    NotificationKind::Delivery,
                    Status::Delivered | Status::Failed
                )
                | (NotificationKind::Display, Status::Displayed)
                | (
                    NotificationKind::Processing,
                    Status::Processed | Status::Stored
                )
        )
    }
}

/// One disposition: a kind and its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Disposition {
    /// Which notification.
    pub kind: NotificationKind,
    /// Its status.
    pub status: Status,
}

/// A `message/imdn+xml` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imdn {
    /// `<message-id>`: the imdn.Message-ID of the message this notification is about.
    pub message_id: String,
    /// `<datetime>`: the DateTime of that message.
    pub datetime: String,
    /// `<recipient-uri>`, optional.
    pub recipient_uri: Option<String>,
    /// `<original-recipient-uri>`, optional (set by list/group servers).
    pub original_recipient_uri: Option<String>,
    /// `<subject>`, optional.
    pub subject: Option<String>,
    /// What is being reported.
    pub disposition: Disposition,
}

/// An IMDN document that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImdnError {
    /// Not well-formed XML.
    #[error("IMDN is not well-formed XML: {0}")]
    Xml(String),
    /// The root is not `<imdn>` in the IMDN namespace.
    #[error("root element is not <imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">")]
    NotImdn,
    /// A mandatory element is missing.
    #[error("IMDN lacks <{0}>")]
    Missing(&'static str),
    /// The status does not belong to the notification kind, or is unknown.
    #[error("IMDN status does not fit its notification")]
    BadStatus,
}

fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

impl Imdn {
    /// Serializes the document.
    pub fn to_xml(&self) -> String {
        let mut x = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\r\n",
        );
        x += &format!("<message-id>{}</message-id>\r\n", escape(&self.message_id));
        x += &format!("<datetime>{}</datetime>\r\n", escape(&self.datetime));
        if let Some(r) = &self.recipient_uri {
            x += &format!("<recipient-uri>{}</recipient-uri>\r\n", escape(r));
        }
        if let Some(r) = &self.original_recipient_uri {
            x += &format!(
                "<original-recipient-uri>{}</original-recipient-uri>\r\n",
                escape(r)
            );
        }
        if let Some(s) = &self.subject {
            x += &format!("<subject>{}</subject>\r\n", escape(s));
        }
        let kind = match self.disposition.kind {
            NotificationKind::Delivery => "delivery-notification",
            NotificationKind::Display => "display-notification",
            NotificationKind::Processing => "processing-notification",
        };
        x += &format!(
            "<{kind}><status><{}/></status></{kind}>\r\n</imdn>\r\n",
            self.disposition.status.name()
        );
        x
    }

    /// Parses a document; unknown elements (extensions) are skipped.
    pub fn parse(xml: &str) -> Result<Imdn, ImdnError> {
        let xml_err = |e: &dyn std::fmt::Display| ImdnError::Xml(e.to_string());
        let mut r = NsReader::from_str(xml);
        // Local names of open elements; elements outside the IMDN namespace as "#ext".
        let mut path: Vec<String> = Vec::new();
        let mut text = String::new();
        let (mut id, mut dt, mut rcpt, mut orig, mut subj) = (None, None, None, None, None);
        let (mut kind, mut status) = (None, None);
        loop {
            let (ns, ev) = r.read_resolved_event().map_err(|e| xml_err(&e))?;
            let ours = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == XML_NS);
            match ev {
                Event::Start(e) => {
                    let name = e.local_name().as_ref().to_string();
                    if path.is_empty() && (!ours || name != "imdn") {
                        return Err(ImdnError::NotImdn);
                    }
                    if ours && path.len() == 1 {
                        kind = match name.as_str() {
                            "delivery-notification" => Some(NotificationKind::Delivery),
                            "display-notification" => Some(NotificationKind::Display),
                            "processing-notification" => Some(NotificationKind::Processing),
                            _ => kind,
                        };
                    }
                    path.push(if ours { name } else { "#ext".into() });
                    text.clear();
                }
                Event::Empty(e) => {
                    if path.is_empty() {
                        return Err(if ours && e.local_name().as_ref() == "imdn" {
                            ImdnError::Missing("message-id")
                        } else {
                            ImdnError::NotImdn
                        });
                    }
                    if ours && path.len() == 3 && path[2] == "status" {
                        let st = Status::from_name(e.local_name().as_ref().as_bytes())
                            .ok_or(ImdnError::BadStatus)?;
                        status = Some(st);
                    }
                }
                Event::Text(t) => text.push_str(&t.xml10_content()),
                Event::GeneralRef(g) => {
                    if g.is_char_ref() {
                        if let Some(c) = g.resolve_char_ref().map_err(|e| xml_err(&e))? {
                            text.push(c);
                        }
                    } else {
                        let ent = format!("&{};", g.xml10_content());
                        text.push_str(&quick_xml::escape::unescape(&ent).map_err(|e| xml_err(&e))?);
                    }
                }
                Event::End(_) => {
                    if path.len() == 2 {
                        let v = std::mem::take(&mut text).trim().to_string();
                        match path[1].as_str() {
                            "message-id" => id = Some(v),
                            "datetime" => dt = Some(v),
                            "recipient-uri" => rcpt = Some(v),
                            "original-recipient-uri" => orig = Some(v),
                            "subject" => subj = Some(v),
                            _ => {}
                        }
                    }
                    path.pop();
                    if path.is_empty() {
                        break;
                    }
                }
                Event::Eof => {
                    return Err(if path.is_empty() {
                        ImdnError::NotImdn
                    } else {
                        ImdnError::Xml("unexpected end of document".into())
                    });
                }
                _ => {}
            }
        }
        let kind = kind.ok_or(ImdnError::Missing("delivery-notification"))?;
        let status = status.ok_or(ImdnError::Missing("status"))?;
        if !status.fits(kind) {
            return Err(ImdnError::BadStatus);
        }
        Ok(Imdn {
            message_id: id.ok_or(ImdnError::Missing("message-id"))?,
            datetime: dt.ok_or(ImdnError::Missing("datetime"))?,
            recipient_uri: rcpt,
            original_recipient_uri: orig,
            subject: subj,
            disposition: Disposition { kind, status },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_status_round_trips() {
        use NotificationKind::*;
        use Status::*;
        for (kind, statuses) in [
            (Delivery, vec![Delivered, Failed, Forbidden, Error]),
            (Display, vec![Displayed, Forbidden, Error]),
            (Processing, vec![Processed, Stored, Forbidden, Error]),
        ] {
            for status in statuses {
                let d = Imdn {
                    message_id: "34jk324j".into(),
                    datetime: "2026-11-25T06:54:27Z".into(),
                    recipient_uri: Some("sip:bob@example.com".into()),
                    original_recipient_uri: Some("sip:friends@example.com".into()),
                    subject: Some("a < b & c".into()),
                    disposition: Disposition { kind, status },
                };
                assert_eq!(Imdn::parse(&d.to_xml()).unwrap(), d);
            }
        }
    }

    #[test]
    fn rejects_and_tolerates() {
        let ok = "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\" xmlns:x=\"urn:x\"><message-id>1</message-id><datetime>t</datetime><x:ext>y</x:ext><display-notification><status><displayed/></status></display-notification></imdn>";
        assert_eq!(
            Imdn::parse(ok).unwrap().disposition.status,
            Status::Displayed
        );
        let wrong_status = ok.replace("<displayed/>", "<delivered/>");
        assert_eq!(Imdn::parse(&wrong_status), Err(ImdnError::BadStatus));
        let wrong_ns = ok.replace("urn:ietf:params:xml:ns:imdn", "urn:other");
        assert_eq!(Imdn::parse(&wrong_ns), Err(ImdnError::NotImdn));
        assert!(matches!(Imdn::parse("<imdn"), Err(ImdnError::Xml(_))));
        let no_id = ok.replace("<message-id>1</message-id>", "");
        assert_eq!(Imdn::parse(&no_id), Err(ImdnError::Missing("message-id")));
    }

    #[test]
    fn disposition_request() {
        let r = DispositionRequest::parse("positive-delivery, Display");
        assert!(r.positive_delivery && r.display && !r.negative_delivery);
        assert!(r.wants(NotificationKind::Delivery, Status::Delivered));
        assert!(!r.wants(NotificationKind::Delivery, Status::Failed));
        assert_eq!(DispositionRequest::parse(&r.to_header()), r);
    }
}
