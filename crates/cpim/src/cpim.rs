//! CPIM messages (RFC 3862): `Name: value` header lines (names case-sensitive, order kept,
//! unknown headers kept), `NS: prefix <uri>` namespace declarations, a blank line, the
//! encapsulated MIME headers, a blank line, the content.

/// The IMDN namespace URI (RFC 5438).
pub const IMDN_NS: &str = "urn:ietf:params:imdn";

/// A CPIM message that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CpimError {
    /// The CPIM header block is not followed by a blank line.
    #[error("CPIM header block does not end with an empty line")]
    UnterminatedHeaders,
    /// The MIME header block is not followed by a blank line.
    #[error("encapsulated MIME headers do not end with an empty line")]
    UnterminatedMimeHeaders,
    /// A header line is not `Name: value`.
    #[error("malformed CPIM header line {0}: expected `Name: value`")]
    BadHeaderLine(usize),
    /// The headers are not UTF-8.
    #[error("CPIM headers are not valid UTF-8")]
    InvalidUtf8,
}

/// A parsed (or built) CPIM message. Owns its parts: CPIM bodies are small (pager mode).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpimMessage {
    /// CPIM headers in order: (name, value).
    pub headers: Vec<(String, String)>,
    /// Encapsulated MIME headers in order (Content-Type, Content-Length, Content-Disposition …).
    pub mime_headers: Vec<(String, String)>,
    /// The content bytes.
    pub content: Vec<u8>,
}

fn split_block(input: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(rest) = input.strip_prefix(b"\r\n") {
        return Some((&[], rest));
    }
    let pos = input.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((&input[..pos], &input[pos + 4..]))
}

fn parse_lines(block: &[u8]) -> Result<Vec<(String, String)>, CpimError> {
    let text = std::str::from_utf8(block).map_err(|_| CpimError::InvalidUtf8)?;
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, line) in text.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Folded continuation (tolerated on the MIME side).
            let last = out.last_mut().ok_or(CpimError::BadHeaderLine(i + 1))?;
            // Join with one space, then trim the whole value: a re-serialization must
            // read back the same value.
            last.1 = format!("{} {}", last.1, line.trim()).trim().to_string();
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(CpimError::BadHeaderLine(i + 1))?;
        // RFC 3862 §3.2: name-char = %x21-39 / %x3B-7E.
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b':')
        {
            return Err(CpimError::BadHeaderLine(i + 1));
        }
        out.push((name.to_string(), value.trim().to_string()));
    }
    Ok(out)
}

impl CpimMessage {
    /// Parses a `message/cpim` body.
    pub fn parse(body: &[u8]) -> Result<CpimMessage, CpimError> {
        let (cpim, rest) = split_block(body).ok_or(CpimError::UnterminatedHeaders)?;
        let (mime, content) = split_block(rest).ok_or(CpimError::UnterminatedMimeHeaders)?;
        Ok(CpimMessage {
            headers: parse_lines(cpim)?,
            mime_headers: parse_lines(mime)?,
            content: content.to_vec(),
        })
    }

    /// A text/plain message from `from` to `to`.
    pub fn text(from: &str, to: &str, date_time: &str, text: &str) -> CpimMessage {
        CpimMessage {
            headers: vec![
                ("From".into(), format!("<{from}>")),
                ("To".into(), format!("<{to}>")),
                ("DateTime".into(), date_time.into()),
            ],
            mime_headers: vec![("Content-Type".into(), "text/plain;charset=UTF-8".into())],
            content: text.as_bytes().to_vec(),
        }
    }

    /// The first CPIM header with exactly this name (case-sensitive, RFC 3862 §3.1).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The prefix declared for a namespace URI by `NS:` (e.g. `imdn` for IMDN).
    pub fn prefix_of(&self, ns_uri: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "NS")
            .find_map(|(_, v)| {
                let (prefix, uri) = v.split_once('<')?;
                (uri.trim_end_matches('>').trim() == ns_uri).then(|| prefix.trim())
            })
    }

    /// A namespaced header, e.g. `ns_header(IMDN_NS, "Message-ID")` reads `imdn.Message-ID`
    /// under whatever prefix the message declared.
    pub fn ns_header(&self, ns_uri: &str, local: &str) -> Option<&str> {
        let prefix = self.prefix_of(ns_uri)?;
        self.headers
            .iter()
            .find(|(n, _)| {
                n.strip_prefix(prefix)
                    .and_then(|r| r.strip_prefix('.'))
                    .is_some_and(|l| l == local)
            })
            .map(|(_, v)| v.as_str())
    }

    /// Adds (or replaces) a namespaced header, declaring the namespace as `prefix` if needed.
    pub fn set_ns_header(&mut self, ns_uri: &str, prefix: &str, local: &str, value: &str) {
        let prefix = match self.prefix_of(ns_uri) {
            Some(p) => p.to_string(),
            None => {
                self.headers
                    .push(("NS".into(), format!("{prefix} <{ns_uri}>")));
                prefix.to_string()
            }
        };
        let name = format!("{prefix}.{local}");
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some(h) => h.1 = value.to_string(),
            None => self.headers.push((name, value.to_string())),
        }
    }

    /// The first encapsulated MIME header with this name (case-insensitive, as in MIME).
    pub fn mime_header(&self, name: &str) -> Option<&str> {
        self.mime_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The content type without parameters, lower-cased.
    pub fn content_type(&self) -> Option<String> {
        self.mime_header("Content-Type").map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// The content as text when it is `text/*` UTF-8.
    pub fn text_content(&self) -> Option<&str> {
        self.content_type()
            .filter(|ct| ct.starts_with("text/"))
            .and_then(|_| std::str::from_utf8(&self.content).ok())
    }

    /// Serializes the message (Content-Length of the MIME part written from the content).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.content.len());
        for (n, v) in &self.headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        for (n, v) in &self.mime_headers {
            if !n.eq_ignore_ascii_case("Content-Length") {
                out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
            }
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", self.content.len()).as_bytes());
        out.extend_from_slice(&self.content);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"From: <sip:alice@example.com>\r\nTo: <sip:+14448880011@example.com;user=phone>\r\nDateTime: 2015-02-17T06:54:27Z\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: 34jk324j\r\nimdn.Disposition-Notification: positive-delivery, display\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 11\r\n\r\nHello World";

    #[test]
    fn parses_the_fact_sheet_example() {
        let m = CpimMessage::parse(SAMPLE).unwrap();
        assert_eq!(m.header("From"), Some("<sip:alice@example.com>"));
        assert_eq!(
            m.header("from"),
            None,
            "CPIM header names are case-sensitive"
        );
        assert_eq!(m.ns_header(IMDN_NS, "Message-ID"), Some("34jk324j"));
        assert_eq!(m.text_content(), Some("Hello World"));
        assert_eq!(CpimMessage::parse(&m.to_bytes()).unwrap(), m);
    }

    /// Found by the `cpim` fuzz target: a folded line of only white space must not leave a
    /// trailing space that a re-serialization would lose.
    #[test]
    fn folding_keeps_values_stable() {
        let m = CpimMessage::parse(b"T: o\r\n \x0b\r\n\r\nContent-Type: a/b\r\n\r\n").unwrap();
        assert_eq!(m.header("T"), Some("o"));
        assert_eq!(
            CpimMessage::parse(&m.to_bytes()).unwrap().headers,
            m.headers
        );
        let m = CpimMessage::parse(b"To: \x0b\r\n o\r\n\r\nContent-Type: a/b\r\n\r\n").unwrap();
        assert_eq!(m.header("To"), Some("o"));
        assert!(CpimMessage::parse(b"\rX: y\r\n\r\nContent-Type: a/b\r\n\r\n").is_err());
    }

    #[test]
    fn other_prefix_and_errors() {
        let raw = b"NS: x <urn:ietf:params:imdn>\r\nx.Message-ID: 9\r\n\r\nContent-Type: text/plain\r\n\r\nhi";
        let m = CpimMessage::parse(raw).unwrap();
        assert_eq!(m.ns_header(IMDN_NS, "Message-ID"), Some("9"));
        assert_eq!(
            CpimMessage::parse(b"From: a"),
            Err(CpimError::UnterminatedHeaders)
        );
        assert!(matches!(
            CpimMessage::parse(b"Bad line\r\n\r\nContent-Type: a/b\r\n\r\n"),
            Err(CpimError::BadHeaderLine(1))
        ));
        let mut b = CpimMessage::text("sip:a@d", "sip:b@d", "2026-11-25T06:00:00Z", "yo");
        b.set_ns_header(IMDN_NS, "imdn", "Message-ID", "m1");
        let again = CpimMessage::parse(&b.to_bytes()).unwrap();
        assert_eq!(again.ns_header(IMDN_NS, "Message-ID"), Some("m1"));
    }
}
