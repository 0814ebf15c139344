//! SIP Digest authentication (RFC 3261 §22.4, RFC 7616 computations, RFC 8760 algorithms):
//! MD5 and SHA-256, `qop=auth`, stateless nonces, `stale=true`, nonce-count replay checks.
//!
//! Sans-IO like the rest of the crate: the current time comes in as `now_unix` (seconds),
//! the HMAC secret from configuration. Nonces carry their issue time and an HMAC over it and
//! the realm, so any node sharing the secret can verify them without shared state; only the
//! nonce-count replay window ([`DigestServer`]) is per node, bounded in size.
//!
//! The store keeps HA1 = H(username ":" realm ":" password) per algorithm, never the password.

use std::collections::HashMap;
use std::fmt::Write as _;

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::auth::AuthHeader;

/// A Digest algorithm (RFC 8760 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 3261 default).
    Md5,
    /// `SHA-256` (RFC 8760).
    Sha256,
}

impl Algorithm {
    /// The `algorithm=` token.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Parses an `algorithm=` token (absent means MD5).
    pub fn from_name(name: Option<&str>) -> Option<Algorithm> {
        match name {
            None => Some(Algorithm::Md5),
            Some(n) if n.eq_ignore_ascii_case("MD5") => Some(Algorithm::Md5),
            Some(n) if n.eq_ignore_ascii_case("SHA-256") => Some(Algorithm::Sha256),
            Some(_) => None,
        }
    }

    /// Lower-case hex of H(data).
    pub fn hash_hex(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex(&Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex(&Sha256::digest(data.as_bytes())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// HA1 = H(username ":" realm ":" password), what the store keeps.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(&format!("{username}:{realm}:{password}"))
}

/// The `response` value for `qop=auth` (or none, RFC 2069 compatibility when `qop` is None).
#[allow(clippy::too_many_arguments)]
pub fn response(
    algorithm: Algorithm,
    ha1: &str,
    nonce: &str,
    nc: Option<&str>,
    cnonce: Option<&str>,
    qop: Option<&str>,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = algorithm.hash_hex(&format!("{method}:{uri}"));
    match (qop, nc, cnonce) {
        (Some(qop), Some(nc), Some(cnonce)) => {
            algorithm.hash_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"))
        }
        _ => algorithm.hash_hex(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The outcome of checking credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are right: this user is authenticated.
    Authenticated {
        /// The authenticated username.
        username: String,
    },
    /// Right password, expired nonce: challenge again with `stale=true`.
    Stale,
    /// Wrong: challenge again (and count the failure). The text says why, for logs.
    Rejected(&'static str),
}

/// Issues challenges and verifies credentials for one realm.
#[derive(Debug)]
pub struct DigestServer {
    realm: String,
    secret: Vec<u8>,
    lifetime_secs: u64,
    /// Highest nonce-count seen per nonce (replay protection), bounded.
    counts: HashMap<String, u32>,
    max_tracked: usize,
    /// Makes every nonce unique, even two issued in the same second.
    counter: u32,
    /// The algorithms challenged with, most preferred first.
    algorithms: Vec<Algorithm>,
}

const TS_HEX: usize = 16;
const CTR_HEX: usize = 8;
const MAC_HEX: usize = 32;

impl DigestServer {
    /// A server for `realm` whose nonces are valid for `lifetime_secs`.
    pub fn new(realm: impl Into<String>, secret: &[u8], lifetime_secs: u64) -> DigestServer {
        DigestServer {
            realm: realm.into(),
            secret: secret.to_vec(),
            lifetime_secs,
            counts: HashMap::new(),
            max_tracked: 100_000,
            counter: 0,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }

    /// Challenges with these algorithms, in this order (default SHA-256 then MD5, as RFC
    /// 8760 §2.4 recommends). Clients that only read the first challenge (SIPp, some
    /// older phones) need MD5 first or alone. An empty list keeps the default.
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> DigestServer {
        if !algorithms.is_empty() {
            self.algorithms = algorithms.to_vec();
        }
        self
    }

    /// Starts the nonce counter at `seed` (give each node a random seed so that nodes
    /// sharing a secret never issue the same nonce).
    pub fn with_counter_seed(mut self, seed: u32) -> DigestServer {
        self.counter = seed;
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn mac(&self, ts: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(ts.as_bytes());
        mac.update(b":");
        mac.update(self.realm.as_bytes());
        hex(&mac.finalize().into_bytes())[..MAC_HEX].to_string()
    }

    /// A fresh nonce: issue time, a counter, and an HMAC over both.
    pub fn nonce(&mut self, now_unix: u64) -> String {
        self.counter = self.counter.wrapping_add(1);
        let stamp = format!("{now_unix:016x}{:08x}", self.counter);
        let mac = self.mac(&stamp);
        format!("{stamp}{mac}")
    }

    /// The challenge header values (WWW-Authenticate or Proxy-Authenticate), one per
    /// algorithm in the configured order (SHA-256 then MD5 by default, RFC 8760 §2.4).
    pub fn challenges(&mut self, now_unix: u64, stale: bool) -> Vec<String> {
        let nonce = self.nonce(now_unix);
        self.algorithms
            .iter()
            .map(|alg| {
                format!(
                    "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{}",
                    self.realm,
                    alg.name(),
                    if stale { ", stale=true" } else { "" }
                )
            })
            .collect()
    }

    /// Verifies credentials for a request with `method`. `ha1_of` looks up the stored HA1
    /// of a username for an algorithm (`None`: unknown user).
    pub fn verify(
        &mut self,
        now_unix: u64,
        method: &str,
        cred: &AuthHeader<'_>,
        ha1_of: impl FnOnce(&str, Algorithm) -> Option<String>,
    ) -> Verdict {
        if !cred.is_digest() {
            return Verdict::Rejected("not the Digest scheme");
        }
        let get = |n| cred.param(n);
        let (Some(username), Some(realm), Some(nonce), Some(uri), Some(resp)) = (
            get("username"),
            get("realm"),
            get("nonce"),
            get("uri"),
            get("response"),
        ) else {
            return Verdict::Rejected("missing username, realm, nonce, uri or response");
        };
        if realm != self.realm {
            return Verdict::Rejected("wrong realm");
        }
        let Some(alg) = Algorithm::from_name(get("algorithm").as_deref()) else {
            return Verdict::Rejected("unsupported algorithm");
        };
        // The nonce must be ours.
        let stamp_len = TS_HEX + CTR_HEX;
        if nonce.len() != stamp_len + MAC_HEX || !nonce.is_char_boundary(stamp_len) {
            return Verdict::Rejected("not a nonce of this server");
        }
        let (stamp, mac) = nonce.split_at(stamp_len);
        if !constant_time_eq(self.mac(stamp).as_bytes(), mac.as_bytes()) {
            return Verdict::Rejected("not a nonce of this server");
        }
        let Ok(issued) = u64::from_str_radix(&stamp[..TS_HEX], 16) else {
            return Verdict::Rejected("not a nonce of this server");
        };
        let qop = get("qop");
        let nc = get("nc");
        let cnonce = get("cnonce");
        if qop.is_some() && (qop.as_deref() != Some("auth") || nc.is_none() || cnonce.is_none()) {
            return Verdict::Rejected("qop=auth needs nc and cnonce");
        }
        let Some(ha1) = ha1_of(&username, alg) else {
            return Verdict::Rejected("unknown user");
        };
        let expected = response(
            alg,
            &ha1,
            &nonce,
            nc.as_deref(),
            cnonce.as_deref(),
            qop.as_deref(),
            method,
            &uri,
        );
        if !constant_time_eq(expected.as_bytes(), resp.to_ascii_lowercase().as_bytes()) {
            return Verdict::Rejected("wrong response (password)");
        }
        if now_unix > issued.saturating_add(self.lifetime_secs) {
            return Verdict::Stale;
        }
        if let Some(nc) = nc {
            let Ok(n) = u32::from_str_radix(&nc, 16) else {
                return Verdict::Rejected("malformed nc");
            };
            let last = self.counts.get(nonce.as_ref()).copied().unwrap_or(0);
            if n <= last {
                return Verdict::Rejected("replayed nonce-count");
            }
            self.track(now_unix, nonce.into_owned(), n);
        }
        Verdict::Authenticated {
            username: username.into_owned(),
        }
    }

    fn track(&mut self, now_unix: u64, nonce: String, nc: u32) {
        if self.counts.len() >= self.max_tracked {
            let lifetime = self.lifetime_secs;
            self.counts.retain(|n, _| {
                u64::from_str_radix(&n[..TS_HEX], 16)
                    .is_ok_and(|t| now_unix <= t.saturating_add(lifetime))
            });
            if self.counts.len() >= self.max_tracked {
                // Still full of live nonces: forget them all; their next use is challenged
                // as stale-free replays would be, which costs one extra round trip.
                self.counts.clear();
            }
        }
        self.counts.insert(nonce, nc);
    }
}

/// Builds an Authorization / Proxy-Authorization value answering `challenge` (a client: the
/// `cpm` CLI and tests). `nc` is the nonce-count for this nonce, starting at 1.
pub fn authorization(
    challenge: &AuthHeader<'_>,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    nc: u32,
    cnonce: &str,
) -> Option<String> {
    let realm = challenge.param("realm")?;
    let nonce = challenge.param("nonce")?;
    let alg = Algorithm::from_name(challenge.param("algorithm").as_deref())?;
    let ha1 = ha1(alg, username, &realm, password);
    let qop = challenge
        .param("qop")
        .filter(|q| q.split(',').any(|t| t.trim() == "auth"));
    let nc_s = format!("{nc:08x}");
    let resp = response(
        alg,
        &ha1,
        &nonce,
        qop.as_ref().map(|_| nc_s.as_str()),
        qop.as_ref().map(|_| cnonce),
        qop.as_ref().map(|_| "auth"),
        method,
        uri,
    );
    let mut v = format!(
        "Digest username=\"{username}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm={}",
        alg.name()
    );
    if qop.is_some() {
        let _ = write!(v, ", qop=auth, nc={nc_s}, cnonce=\"{cnonce}\"");
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_md5_example() {
        // RFC 2617 §3.5 (HTTP example; same computation).
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let r = response(
            Algorithm::Md5,
            &ha1,
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some("00000001"),
            Some("0a4f113b"),
            Some("auth"),
            "GET",
            "/dir/index.html",
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    fn server() -> DigestServer {
        DigestServer::new("cpm.example.com", b"0123456789abcdef0123456789abcdef", 300)
    }

    fn creds(s: &mut DigestServer, now: u64, alg: usize, pw: &str, nc: u32) -> String {
        let ch = s.challenges(now, false)[alg].clone();
        let ch = AuthHeader::parse(&ch).unwrap();
        authorization(
            &ch,
            "REGISTER",
            "sip:cpm.example.com",
            "alice",
            pw,
            nc,
            "c0ffee",
        )
        .unwrap()
    }

    fn users(user: &str, alg: Algorithm) -> Option<String> {
        (user == "alice").then(|| ha1(alg, "alice", "cpm.example.com", "secret"))
    }

    #[test]
    fn nonces_are_unique_within_a_second() {
        let mut s = server();
        assert_ne!(s.nonce(5), s.nonce(5));
    }

    #[test]
    fn sha256_and_md5_round_trip_with_replay_and_stale() {
        let mut s = server();
        for alg in 0..2 {
            let now = 1000;
            let v = creds(&mut s, now, alg, "secret", 1);
            let a = AuthHeader::parse(&v).unwrap();
            assert_eq!(
                s.verify(1001, "REGISTER", &a, users),
                Verdict::Authenticated {
                    username: "alice".into()
                }
            );
            // Same nc again: replay.
            assert_eq!(
                s.verify(1002, "REGISTER", &a, users),
                Verdict::Rejected("replayed nonce-count")
            );
            // Wrong password.
            let bad = creds(&mut s, now, alg, "nope", 2);
            assert!(matches!(
                s.verify(1001, "REGISTER", &AuthHeader::parse(&bad).unwrap(), users),
                Verdict::Rejected(_)
            ));
        }
        // Expired nonce with the right password: stale.
        let v = creds(&mut s, 1000, 0, "secret", 1);
        assert_eq!(
            s.verify(
                1000 + 301,
                "REGISTER",
                &AuthHeader::parse(&v).unwrap(),
                users
            ),
            Verdict::Stale
        );
        // A nonce from another secret is not ours.
        let mut other = DigestServer::new("cpm.example.com", b"another secret", 300);
        let v = creds(&mut other, 1000, 0, "secret", 1);
        assert_eq!(
            s.verify(1001, "REGISTER", &AuthHeader::parse(&v).unwrap(), users),
            Verdict::Rejected("not a nonce of this server")
        );
        // Method is covered by the response.
        let v = creds(&mut s, 2000, 0, "secret", 1);
        assert!(matches!(
            s.verify(2001, "INVITE", &AuthHeader::parse(&v).unwrap(), users),
            Verdict::Rejected(_)
        ));
    }
}
