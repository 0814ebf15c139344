//! Via handling at the transport boundary (RFC 3261 §18.2.1, §18.2.2; RFC 3581): stamping
//! `received`/`rport` on requests as they arrive, stamping our sent-by on requests as they
//! leave, and choosing where a response goes.
//!
//! These are small additive helpers over `cpm-sip`'s [`Editor`](cpm_sip::Editor): the top
//! Via is popped and pushed back rewritten, every other byte is kept.

use std::net::{IpAddr, SocketAddr};

use cpm_sip::{Limits, Message, Via};

use crate::transport::Transport;

/// The IP address a Via host or `received` value names (IPv6 with or without brackets).
pub fn ip_of_host(host: &str) -> Option<IpAddr> {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    h.parse().ok()
}

/// The top Via value with `received` and `rport` set as a server must on receipt (RFC 3261
/// §18.2.1, RFC 3581 §4), or `None` when nothing needs to change.
///
/// `received` is added when the sent-by host differs from the source IP, and always when
/// `rport` was requested; `rport` is filled with the source port when present without value.
pub fn received_via(via: &Via<'_>, src: SocketAddr) -> Option<String> {
    let rport_requested = matches!(via.rport(), Some(None));
    let host_matches = ip_of_host(via.host()) == Some(src.ip());
    let has_right_received = via.received().and_then(ip_of_host) == Some(src.ip());
    let need_received = (!host_matches || rport_requested) && !has_right_received;
    if !need_received && !rport_requested {
        return None;
    }
    let all = via.as_str();
    let params = via.params().as_str();
    let base = all[..all.len() - params.len()].trim_end();
    let mut out = String::with_capacity(all.len() + 40);
    out.push_str(base);
    for (name, value) in via.params() {
        let is_received = name.eq_ignore_ascii_case("received");
        let is_rport = name.eq_ignore_ascii_case("rport");
        if (is_received && need_received) || is_rport {
            continue;
        }
        out.push(';');
        out.push_str(name);
        if let Some(v) = value {
            out.push('=');
            out.push_str(v);
        }
    }
    if need_received {
        // RFC 3261 grammar: received = IPv4address / IPv6address (no brackets).
        out.push_str(";received=");
        out.push_str(&src.ip().to_string());
    }
    if via.rport().is_some() {
        out.push_str(";rport=");
        out.push_str(&src.port().to_string());
    }
    Some(out)
}

/// A received request with its top Via stamped per [`received_via`]; the message unchanged
/// when nothing needed stamping (or it is a response).
pub fn stamp_received(msg: Message, src: SocketAddr, limits: &Limits) -> Message {
    if !msg.is_request() {
        return msg;
    }
    let Some(new_via) = received_via(&msg.top_via(), src) else {
        return msg;
    };
    let mut e = msg.edit();
    e.pop_via();
    e.push_via(new_via);
    match Message::parse_with(e.encode(), limits) {
        Ok(m) => m,
        Err(err) => {
            tracing::debug!(%err, "re-stamped Via did not parse; keeping the original");
            msg
        }
    }
}

/// The request with its top Via's transport and sent-by replaced by ours (parameters such as
/// `branch` and `rport` kept): RFC 3261 §18.1.1.
pub fn stamp_sent_by(msg: &Message, transport: Transport, sent_by: &str) -> bytes::Bytes {
    let via = msg.top_via();
    let value = format!(
        "SIP/2.0/{} {}{}",
        transport.via_token(),
        sent_by,
        via.params().as_str()
    );
    let mut e = msg.edit();
    e.pop_via();
    e.push_via(value);
    e.encode()
}

/// Where a response goes over UDP (RFC 3261 §18.2.2, RFC 3581 §4): the `received` address
/// (else the sent-by host when it is an IP), at the `rport` value (else the sent-by port,
/// else 5060). `None` when the top Via names a host that would need DNS.
pub fn response_addr(via: &Via<'_>, transport: Transport) -> Option<SocketAddr> {
    let ip = via
        .received()
        .and_then(ip_of_host)
        .or_else(|| ip_of_host(via.host()))?;
    let default_port = if transport == Transport::Tls {
        5061
    } else {
        5060
    };
    let port = via.rport().flatten().or(via.port()).unwrap_or(default_port);
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_and_rport() {
        let src: SocketAddr = "192.0.2.9:40000".parse().unwrap();
        let v = Via::parse("SIP/2.0/UDP host.example;branch=z9hG4bK1;rport").unwrap();
        assert_eq!(
            received_via(&v, src).unwrap(),
            "SIP/2.0/UDP host.example;branch=z9hG4bK1;received=192.0.2.9;rport=40000"
        );
        // Same IP, no rport: nothing to do.
        let v = Via::parse("SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1").unwrap();
        assert_eq!(received_via(&v, src), None);
        // Same IP with rport: received is added anyway (RFC 3581 §4).
        let v = Via::parse("SIP/2.0/UDP 192.0.2.9:5060;rport;branch=z9hG4bK1").unwrap();
        let s = received_via(&v, src).unwrap();
        assert_eq!(
            s,
            "SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1;received=192.0.2.9;rport=40000"
        );
        let v2 = Via::parse(&s).unwrap();
        assert_eq!(response_addr(&v2, Transport::Udp), Some(src));
        // IPv6 source.
        let src6: SocketAddr = "[2001:db8::1]:5070".parse().unwrap();
        let v = Via::parse("SIP/2.0/UDP [2001:db8::2];branch=z9hG4bK1").unwrap();
        let s = received_via(&v, src6).unwrap();
        let v = Via::parse(&s).unwrap();
        assert_eq!(v.received(), Some("2001:db8::1"));
        assert_eq!(
            response_addr(&v, Transport::Udp),
            Some("[2001:db8::1]:5060".parse().unwrap())
        );
    }

    #[test]
    fn stamping_a_message() {
        let raw = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP x.invalid;rport;branch=z9hG4bKa, SIP/2.0/UDP y;branch=z9hG4bKb\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let m = Message::parse(raw).unwrap();
        let m = stamp_received(m, "10.0.0.1:999".parse().unwrap(), &Limits::default());
        let vias: Vec<_> = m.vias().map(|v| v.as_str().to_string()).collect();
        assert_eq!(
            vias,
            [
                "SIP/2.0/UDP x.invalid;branch=z9hG4bKa;received=10.0.0.1;rport=999",
                "SIP/2.0/UDP y;branch=z9hG4bKb"
            ]
        );
        let out = Message::parse(stamp_sent_by(&m, Transport::Tcp, "[::1]:5060")).unwrap();
        assert_eq!(out.top_via().transport(), "TCP");
        assert_eq!(out.top_via().host(), "[::1]");
        assert_eq!(out.top_via().branch(), Some("z9hG4bKa"));
        assert_eq!(out.vias().len(), 2);
    }
}
