//! What the SIP/IP Core is told at start: served domains, registrar timers, the shared
//! secret, trigger rules, the interworking routing table, trusted peers and throttling.
//! Plain data: the `cpm` binary fills it from TOML (or embedded defaults).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use cpm_core::RegistrarConfig;
use cpm_core::routing::Rule;
use cpm_core::triggers::Trigger;

/// Settings of one SIP/IP Core.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// Domains the core is authoritative for (Request-URI hosts it looks up locally). The
    /// endpoint's own listen addresses (and its advertised host) are always added.
    pub domains: Vec<String>,
    /// Registrar timers and the digest realm (its `domains` are replaced by the list above).
    pub registrar: RegistrarConfig,
    /// Key for stateless nonces and Route tokens; share it between nodes of one core.
    pub secret: Vec<u8>,
    /// Service triggering rules (iFC-like).
    pub triggers: Vec<Trigger>,
    /// Interworking routing table, evaluated in order after the terminating lookup fails.
    pub routes: Vec<Rule>,
    /// Sources whose asserted identities are believed and that are never challenged: the
    /// roles themselves, IWFs, other cores.
    pub trusted: Vec<TrustedPeer>,
    /// Challenge requests (other than REGISTER) from untrusted sources with 407.
    pub authenticate: bool,
    /// Add Record-Route to dialog-creating requests (INVITE, SUBSCRIBE, REFER).
    pub record_route: bool,
    /// Throttling of sources with repeated authentication failures.
    pub pike: PikeSettings,
    /// How long an application server gets to answer before its trigger's default handling
    /// applies.
    pub as_timeout: Duration,
}

impl Default for CoreSettings {
    fn default() -> Self {
        CoreSettings {
            domains: vec!["localhost".into()],
            registrar: RegistrarConfig::default(),
            secret: b"cpm-default-secret-change-me".to_vec(),
            triggers: Vec::new(),
            routes: Vec::new(),
            trusted: Vec::new(),
            authenticate: true,
            record_route: true,
            pike: PikeSettings::default(),
            as_timeout: Duration::from_secs(4),
        }
    }
}

/// A trusted source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedPeer {
    /// Any source address in this network (`10.0.0.0/8`, `127.0.0.1/32`, `::1/128`).
    Network(IpAddr, u8),
    /// Exactly this source address and port (`127.0.0.1:5070`, `[::1]:5070`).
    Address(SocketAddr),
    /// A TLS peer whose certificate was verified for this name.
    TlsName(String),
    /// An endpoint of this process, by its memory-hub name.
    Memory(String),
}

impl TrustedPeer {
    /// Parses `ADDR`, `ADDR/BITS`, `ADDR:PORT`, `tls:NAME` or `memory:NAME`.
    pub fn parse(s: &str) -> Result<TrustedPeer, String> {
        if let Some(name) = s.strip_prefix("tls:") {
            return Ok(TrustedPeer::TlsName(name.to_string()));
        }
        if let Some(name) = s.strip_prefix("memory:") {
            return Ok(TrustedPeer::Memory(name.to_string()));
        }
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(TrustedPeer::Address(sa));
        }
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let ip: IpAddr = addr.parse().map_err(|_| {
            format!("{s:?}: not an IP address, ADDR/BITS, ADDR:PORT, tls:NAME or memory:NAME")
        })?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{s:?}: prefix length must be 0..={max}"))?,
            None => max,
        };
        Ok(TrustedPeer::Network(ip, bits))
    }

    /// True when a message from `src` comes from this peer (network or exact address).
    pub fn matches(&self, src: SocketAddr) -> bool {
        match self {
            TrustedPeer::Address(a) => *a == src,
            _ => self.contains(src.ip()),
        }
    }

    /// True when `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let TrustedPeer::Network(net, bits) = self else {
            return false;
        };
        match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*bits)).unwrap_or(0);
                u32::from(*n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*bits)).unwrap_or(0);
                u128::from(*n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Throttling like Kamailio's pike, applied to authentication failures: a source with
/// `max_failures` wrong credentials within `window` gets 403 for `block_for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PikeSettings {
    /// Failures tolerated within the window.
    pub max_failures: u32,
    /// The counting window.
    pub window: Duration,
    /// How long a blocked source stays blocked.
    pub block_for: Duration,
}

impl Default for PikeSettings {
    fn default() -> Self {
        PikeSettings {
            max_failures: 10,
            window: Duration::from_secs(60),
            block_for: Duration::from_secs(300),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_networks() {
        let p = TrustedPeer::parse("10.1.0.0/16").unwrap();
        assert!(p.contains("10.1.200.3".parse().unwrap()));
        assert!(!p.contains("10.2.0.1".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
        let one = TrustedPeer::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            TrustedPeer::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(
            TrustedPeer::parse("::1/128")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert_eq!(
            TrustedPeer::parse("tls:iwf.example.com").unwrap(),
            TrustedPeer::TlsName("iwf.example.com".into())
        );
        let exact = TrustedPeer::parse("127.0.0.1:5070").unwrap();
        assert!(exact.matches("127.0.0.1:5070".parse().unwrap()));
        assert!(!exact.matches("127.0.0.1:5071".parse().unwrap()));
        assert!(
            TrustedPeer::parse("[::1]:5070")
                .unwrap()
                .matches("[::1]:5070".parse().unwrap())
        );
        assert!(TrustedPeer::parse("10.0.0.0/33").is_err());
        assert!(TrustedPeer::parse("example.com").is_err());
    }
}
