//! Who the core is on the wire, and where a URI leads: recognising our own URIs (Route,
//! Request-URI, Via sent-by), building the URIs we put in Route and Record-Route, and
//! resolving a SIP URI to a [`Target`] (RFC 3263 reduced to what needs no DNS: IP literals,
//! `localhost`, `transport=` and `sips:`; memory endpoints by `transport=mem`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use cpm_sip::{Scheme, Uri, Via};

use crate::endpoint::EndpointHandle;
use crate::transport::{Target, Transport};

/// The core's own addresses, learnt from its endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Me {
    local: Vec<(Transport, SocketAddr)>,
    advertise: Option<String>,
    memory: Option<String>,
    domains: Vec<String>,
}

fn default_port(t: Transport) -> u16 {
    if t == Transport::Tls { 5061 } else { 5060 }
}

impl Me {
    pub(crate) fn new(endpoint: &EndpointHandle, domains: &[String]) -> Me {
        Me {
            local: endpoint.local_addrs().to_vec(),
            advertise: endpoint.advertise().map(str::to_string),
            memory: endpoint.memory_name().map(str::to_string),
            domains: domains.to_vec(),
        }
    }

    /// Domains served: the configured ones plus our own hosts (so `sip:alice@127.0.0.1`
    /// works on embedded defaults).
    pub(crate) fn serves_domain(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(host)) || self.is_my_host(host, None)
    }

    /// The first configured domain (the AOR domain for users found by our own address).
    pub(crate) fn primary_domain(&self) -> &str {
        self.domains
            .first()
            .map(String::as_str)
            .unwrap_or("localhost")
    }

    fn is_my_host(&self, host: &str, port: Option<u16>) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if self.memory.as_deref().is_some_and(|m| m == host) {
            return true;
        }
        let port_ok = |p: u16| port.is_none_or(|q| q == p);
        if let Some(adv) = &self.advertise
            && adv.eq_ignore_ascii_case(host)
            && self.local.iter().any(|(_, a)| port_ok(a.port()))
        {
            return true;
        }
        let Ok(ip) = host.parse::<IpAddr>() else {
            return false;
        };
        self.local.iter().any(|(t, a)| {
            let ip_ok = a.ip() == ip || (a.ip().is_unspecified() && ip.is_loopback());
            ip_ok && port.unwrap_or(default_port(*t)) == a.port()
        })
    }

    /// True when `uri` addresses this element itself (a Route or Request-URI of ours):
    /// no user part, and our host and port.
    pub(crate) fn is_me(&self, uri: &Uri<'_>) -> bool {
        uri.is_sip() && uri.user().is_none() && self.is_my_host(uri.host(), uri.port())
    }

    /// True when a Via was written by us.
    pub(crate) fn is_my_via(&self, via: &Via<'_>) -> bool {
        self.is_my_host(via.host(), via.port())
    }

    /// A URI reaching us over `transport` (for Route and Record-Route), with `params`
    /// (each `;name=value`) appended after `lr`.
    pub(crate) fn uri(&self, transport: Transport, params: &str) -> String {
        if transport == Transport::Memory
            && let Some(m) = &self.memory
        {
            return format!("sip:{m};transport=mem;lr{params}");
        }
        let addr = self
            .local
            .iter()
            .find(|(t, _)| *t == transport)
            .or_else(|| self.local.first())
            .map(|(_, a)| *a)
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 5060)));
        let host = match &self.advertise {
            Some(h) if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
            Some(h) => h.clone(),
            None => match addr.ip() {
                IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            },
        };
        let t = match transport {
            Transport::Udp | Transport::Memory => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        };
        format!("sip:{host}:{}{t};lr{params}", addr.port())
    }
}

/// Resolves a SIP URI to the next hop (RFC 3263 without DNS): `transport=mem` names a
/// memory endpoint; `maddr` overrides the host; `sips:` or `transport=tls` means TLS (port
/// 5061), `transport=tcp` TCP, else UDP (port 5060). Host names other than `localhost`
/// are not resolved (`None`).
pub(crate) fn resolve(uri: &Uri<'_>) -> Option<Target> {
    if !uri.is_sip() {
        return None;
    }
    let transport_param = match uri.param("transport") {
        Some(Some(t)) => Some(t.to_ascii_lowercase()),
        _ => None,
    };
    let host = match uri.param("maddr") {
        Some(Some(m)) => m,
        _ => uri.host(),
    };
    if transport_param.as_deref() == Some("mem") {
        return Some(Target::Memory(Arc::from(host)));
    }
    let transport = match (uri.scheme(), transport_param.as_deref()) {
        (Scheme::Sips, _) | (_, Some("tls")) => Transport::Tls,
        (_, Some("tcp")) => Transport::Tcp,
        (_, Some("udp")) | (_, None) => Transport::Udp,
        _ => return None,
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip: IpAddr = if bare.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        bare.parse().ok()?
    };
    let addr = SocketAddr::new(ip, uri.port().unwrap_or(default_port(transport)));
    Some(Target::Net(transport, addr))
}

/// The `received` string the registrar keeps with a binding (`udp:1.2.3.4:5060`).
pub(crate) fn received_string(t: Transport, addr: SocketAddr) -> String {
    format!("{}:{addr}", t.via_token().to_ascii_lowercase())
}

/// Parses a `received` string back to a target.
pub(crate) fn parse_received(s: &str) -> Option<Target> {
    let (t, addr) = s.split_once(':')?;
    let t = Transport::from_via_token(t)?;
    if t == Transport::Memory {
        return Some(Target::Memory(Arc::from(addr)));
    }
    Some(Target::Net(t, addr.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolving_uris() {
        let r = |s: &str| resolve(&Uri::parse(s).unwrap());
        assert_eq!(
            r("sip:alice@127.0.0.1:5070"),
            Some(Target::Net(
                Transport::Udp,
                "127.0.0.1:5070".parse().unwrap()
            ))
        );
        assert_eq!(
            r("sip:127.0.0.1;transport=TCP"),
            Some(Target::Net(
                Transport::Tcp,
                "127.0.0.1:5060".parse().unwrap()
            ))
        );
        assert_eq!(
            r("sips:[::1]"),
            Some(Target::Net(Transport::Tls, "[::1]:5061".parse().unwrap()))
        );
        assert_eq!(
            r("sip:pf;transport=mem;lr"),
            Some(Target::Memory(Arc::from("pf")))
        );
        assert_eq!(
            r("sip:x@localhost:5080"),
            Some(Target::Net(
                Transport::Udp,
                "127.0.0.1:5080".parse().unwrap()
            ))
        );
        assert_eq!(r("sip:example.com"), None);
        assert_eq!(r("tel:+4670000"), None);
        assert_eq!(r("sip:127.0.0.1;transport=sctp"), None);
        assert_eq!(
            parse_received(&received_string(
                Transport::Tcp,
                "127.0.0.1:41000".parse().unwrap()
            )),
            Some(Target::Net(
                Transport::Tcp,
                "127.0.0.1:41000".parse().unwrap()
            ))
        );
    }
}
