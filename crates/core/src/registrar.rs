//! The registrar (RFC 3261 §10.3): authenticates REGISTER with Digest (RFC 8760 SHA-256 and
//! MD5), checks that the authenticated user owns the address of record, validates expiry
//! (423 with Min-Expires), applies the bindings atomically in the store (Call-ID/CSeq
//! ordering enforced there), and answers 200 with every current binding. `Contact: *`
//! with `Expires: 0` removes all bindings. Path (RFC 3327) is stored and echoed;
//! `+sip.instance` and `reg-id` (RFC 5626) key the bindings.

use bytes::Bytes;
use cpm_sip::digest::{DigestServer, Verdict};
use cpm_sip::{ContactKind, HeaderName, Message, ResponseBuilder, Scheme};
use cpm_store::{Binding, BindingKey, BindingOp, RegisterOutcome, Store, StoreError};

/// Registrar settings.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Domains served (Request-URI host of REGISTER, To host of the AOR).
    pub domains: Vec<String>,
    /// The digest realm.
    pub realm: String,
    /// Shortest accepted registration, seconds (shorter non-zero asks get 423).
    pub min_expires: u32,
    /// Longest registration granted, seconds (longer asks are shortened).
    pub max_expires: u32,
    /// Registration time when the request names none, seconds.
    pub default_expires: u32,
    /// How long a nonce stays fresh, seconds.
    pub nonce_lifetime: u64,
    /// Digest algorithms challenged with, most preferred first (empty: SHA-256, MD5).
    pub algorithms: Vec<cpm_sip::digest::Algorithm>,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            domains: vec!["localhost".into()],
            realm: "localhost".into(),
            min_expires: 60,
            max_expires: 86_400,
            default_expires: 3_600,
            nonce_lifetime: 300,
            algorithms: Vec::new(),
        }
    }
}

/// What one REGISTER did.
#[derive(Debug)]
pub struct RegisterResult {
    /// The response to send.
    pub response: Bytes,
    /// The status code of that response.
    pub status: u16,
    /// What changed in the location service (for registration events), when anything did.
    pub changes: Option<RegisterOutcome>,
    /// True when credentials were presented and wrong (for throttling).
    pub auth_failed: bool,
}

/// The registrar of one set of domains.
#[derive(Debug)]
pub struct Registrar {
    cfg: RegistrarConfig,
    digest: DigestServer,
}

/// A stable To tag for responses to one request (retransmissions get the same tag).
fn to_tag(req: &Message) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in req
        .call_id()
        .bytes()
        .chain(req.from().tag().unwrap_or("").bytes())
    {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn parse_q(v: &str) -> Option<u16> {
    let f: f64 = v.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&f)
        .then(|| (f * 1000.0).round() as u16)
}

impl Registrar {
    /// A registrar; `secret` keys the stateless nonces (share it across nodes).
    pub fn new(cfg: RegistrarConfig, secret: &[u8]) -> Registrar {
        let digest = DigestServer::new(cfg.realm.clone(), secret, cfg.nonce_lifetime)
            .with_algorithms(&cfg.algorithms);
        Registrar { cfg, digest }
    }

    fn serves(&self, host: &str) -> bool {
        self.cfg
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(host))
    }

    fn reply(
        &self,
        req: &Message,
        code: u16,
        reason: &str,
        headers: Vec<(String, String)>,
    ) -> RegisterResult {
        let mut b = ResponseBuilder::new(req, code, reason).to_tag(to_tag(req));
        for (n, v) in headers {
            b = b.header(n, v);
        }
        RegisterResult {
            response: b.build(),
            status: code,
            changes: None,
            auth_failed: false,
        }
    }

    fn challenge(&mut self, req: &Message, now: u64, stale: bool, failed: bool) -> RegisterResult {
        let headers = self
            .digest
            .challenges(now, stale)
            .into_iter()
            .map(|c| ("WWW-Authenticate".to_string(), c))
            .collect();
        let mut r = self.reply(req, 401, "Unauthorized", headers);
        r.auth_failed = failed;
        r
    }

    /// Handles one REGISTER. `received` is the source of the request (`udp:1.2.3.4:5060`),
    /// kept with the bindings for flow-aware routing.
    pub fn handle(
        &mut self,
        req: &Message,
        received: Option<&str>,
        store: &dyn Store,
        now: u64,
    ) -> RegisterResult {
        // Step 1: the Request-URI names a domain we serve.
        let Some(ruri) = req.request_uri() else {
            return self.reply(req, 400, "Bad Request (not a request)", vec![]);
        };
        if !ruri.is_sip() || !self.serves(ruri.host()) {
            return self.reply(
                req,
                404,
                "Not Found (domain not served by this registrar)",
                vec![],
            );
        }
        // Step 2: Require.
        let unsupported: Vec<&str> = req
            .header_values(HeaderName::Require)
            .into_iter()
            .filter(|t| !matches!(t.to_ascii_lowercase().as_str(), "path" | "outbound"))
            .collect();
        if !unsupported.is_empty() {
            let list = unsupported.join(", ");
            return self.reply(
                req,
                420,
                "Bad Extension",
                vec![("Unsupported".into(), list)],
            );
        }
        // Step 5 (early): the To header is a SIP AOR of a served domain.
        let to = req.to().uri();
        if !matches!(to.scheme(), Scheme::Sip | Scheme::Sips) {
            return self.reply(
                req,
                400,
                "Bad Request (To must be a SIP or SIPS address of record)",
                vec![],
            );
        }
        let (Some(user), host) = (to.user(), to.host()) else {
            return self.reply(req, 400, "Bad Request (To has no user part)", vec![]);
        };
        if !self.serves(host) {
            return self.reply(
                req,
                404,
                "Not Found (domain not served by this registrar)",
                vec![],
            );
        }
        let user = cpm_sip::unescape(user).into_owned();
        let account = match store.user_by_name(&user, host) {
            Ok(Some(u)) => u,
            Ok(None) => return self.reply(req, 404, "Not Found (no such user)", vec![]),
            Err(e) => return self.reply(req, 500, &format!("Server Internal Error ({e})"), vec![]),
        };
        // Steps 3-4: authenticate, and the authenticated user must own the AOR.
        let Some(cred) = req.credentials(false, &self.cfg.realm) else {
            return self.challenge(req, now, false, false);
        };
        let verdict = self.digest.verify(now, "REGISTER", &cred, |name, alg| {
            (name == account.username)
                .then(|| account.credential(alg).map(|c| c.ha1.clone()))
                .flatten()
        });
        match verdict {
            Verdict::Authenticated { .. } => {}
            Verdict::Stale => return self.challenge(req, now, true, false),
            Verdict::Rejected(why) => {
                let mut r = self.challenge(req, now, false, true);
                r.auth_failed = why != "not a nonce of this server";
                return r;
            }
        }
        if !account.enabled {
            return self.reply(req, 403, "Forbidden (account disabled)", vec![]);
        }
        let aor = account.aor.clone();
        // Steps 6-7: the bindings.
        let call_id = req.call_id().to_string();
        let cseq = req.cseq();
        let mut ops = Vec::new();
        match req.contact_kind() {
            ContactKind::None => {}
            ContactKind::Star => {
                if req.expires() != Some(0) {
                    return self.reply(
                        req,
                        400,
                        "Bad Request (Contact: * needs Expires: 0)",
                        vec![],
                    );
                }
                ops.push(BindingOp::RemoveAll { call_id, cseq });
            }
            ContactKind::List => {
                let path: Vec<String> = req
                    .header_values(HeaderName::Path)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                let ua = req.header(HeaderName::UserAgent).map(str::to_string);
                for c in req.contacts() {
                    let asked = match c.param("expires") {
                        Some(Some(v)) => {
                            v.parse::<u64>().unwrap_or(u64::MAX).min(u32::MAX as u64) as u32
                        }
                        Some(None) => {
                            return self.reply(
                                req,
                                400,
                                "Bad Request (Contact expires without a value)",
                                vec![],
                            );
                        }
                        None => req.expires().unwrap_or(self.cfg.default_expires),
                    };
                    if asked != 0 && asked < self.cfg.min_expires {
                        return self.reply(
                            req,
                            423,
                            "Interval Too Brief",
                            vec![("Min-Expires".into(), self.cfg.min_expires.to_string())],
                        );
                    }
                    let instance = c
                        .param("+sip.instance")
                        .flatten()
                        .map(|v| cpm_sip::unquote(v).into_owned());
                    let reg_id = c.param("reg-id").flatten().and_then(|v| v.parse().ok());
                    let contact = c.uri().as_str().to_string();
                    if asked == 0 {
                        let key = match &instance {
                            Some(i) => BindingKey::Instance {
                                instance: i.clone(),
                                reg_id,
                            },
                            None => BindingKey::Contact(contact),
                        };
                        ops.push(BindingOp::Remove {
                            key,
                            call_id: call_id.clone(),
                            cseq,
                        });
                        continue;
                    }
                    let granted = asked.min(self.cfg.max_expires);
                    let mut b = Binding::new(
                        aor.clone(),
                        contact,
                        now as i64 + granted as i64,
                        call_id.clone(),
                        cseq,
                    );
                    b.instance = instance;
                    b.reg_id = reg_id;
                    b.q = c.param("q").flatten().and_then(parse_q);
                    b.path = path.clone();
                    b.received = received.map(str::to_string);
                    b.user_agent = ua.clone();
                    b.updated_at = now as i64;
                    ops.push(BindingOp::Upsert(b));
                }
            }
        }
        let outcome = if ops.is_empty() {
            store
                .live_bindings(&aor, now as i64)
                .map(|bindings| RegisterOutcome {
                    bindings,
                    ..RegisterOutcome::default()
                })
        } else {
            store.apply_register(&aor, &ops, now as i64)
        };
        let outcome = match outcome {
            Ok(o) => o,
            Err(e @ StoreError::OutOfOrder { .. }) => {
                return self.reply(req, 400, &format!("Bad Request ({e})"), vec![]);
            }
            Err(e) if e.is_client_error() => {
                return self.reply(req, 400, &format!("Bad Request ({e})"), vec![]);
            }
            Err(e) => return self.reply(req, 500, &format!("Server Internal Error ({e})"), vec![]),
        };
        let mut headers = Vec::new();
        for b in &outcome.bindings {
            let mut v = format!("<{}>;expires={}", b.contact, b.expires_in(now as i64));
            if let Some(i) = &b.instance {
                v += &format!(";+sip.instance=\"{i}\"");
            }
            if let Some(r) = b.reg_id {
                v += &format!(";reg-id={r}");
            }
            headers.push(("Contact".to_string(), v));
        }
        for p in req.header_values(HeaderName::Path) {
            headers.push(("Path".to_string(), p.to_string()));
        }
        headers.push(("Supported".into(), "path, outbound".into()));
        let mut r = self.reply(req, 200, "OK", headers);
        let changed = !(outcome.created.is_empty()
            && outcome.refreshed.is_empty()
            && outcome.removed.is_empty());
        r.changes = changed.then_some(outcome);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpm_sip::AuthHeader;
    use cpm_sip::digest::authorization;
    use cpm_store::{NewUser, SqliteStore};

    const SECRET: &[u8] = b"registrar test secret";

    fn setup() -> (Registrar, SqliteStore) {
        let cfg = RegistrarConfig {
            domains: vec!["cpm.test".into()],
            realm: "cpm.test".into(),
            ..RegistrarConfig::default()
        };
        let store = SqliteStore::open_in_memory().unwrap();
        store
            .add_user(&NewUser::new("alice", "cpm.test", 0).password("cpm.test", "secret"))
            .unwrap();
        store
            .add_user(&NewUser::new("bob", "cpm.test", 0).password("cpm.test", "other"))
            .unwrap();
        (Registrar::new(cfg, SECRET), store)
    }

    fn register(
        user: &str,
        cseq: u32,
        contact: &str,
        expires: &str,
        auth: Option<String>,
    ) -> Message {
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        Message::parse(format!(
            "REGISTER sip:cpm.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{user}@cpm.test>;tag=f\r\nTo: <sip:{user}@cpm.test>\r\nCall-ID: reg-{user}\r\nCSeq: {cseq} REGISTER\r\n{contact}{expires}{auth}Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    /// Runs a REGISTER through the challenge and answers it with `password`.
    #[allow(clippy::too_many_arguments)]
    fn authed(
        r: &mut Registrar,
        s: &SqliteStore,
        user: &str,
        pw: &str,
        cseq: u32,
        contact: &str,
        expires: &str,
        now: u64,
    ) -> RegisterResult {
        let first = r.handle(&register(user, cseq, contact, expires, None), None, s, now);
        assert_eq!(first.status, 401);
        let ch = Message::parse(first.response).unwrap();
        let www = ch.header(HeaderName::WwwAuthenticate).unwrap().to_string();
        assert!(www.contains("SHA-256"), "SHA-256 offered first: {www}");
        let a = authorization(
            &AuthHeader::parse(&www).unwrap(),
            "REGISTER",
            "sip:cpm.test",
            user,
            pw,
            1,
            "abc",
        )
        .unwrap();
        r.handle(
            &register(user, cseq + 1, contact, expires, Some(a)),
            Some("udp:127.0.0.1:5070"),
            s,
            now,
        )
    }

    #[test]
    fn challenge_then_register_then_query_then_remove() {
        let (mut r, s) = setup();
        let c = "Contact: <sip:alice@127.0.0.1:5070>;+sip.instance=\"<urn:uuid:1>\";reg-id=1\r\n";
        let ok = authed(
            &mut r,
            &s,
            "alice",
            "secret",
            1,
            c,
            "Expires: 600\r\n",
            1000,
        );
        assert_eq!(ok.status, 200);
        let resp = Message::parse(ok.response).unwrap();
        assert_eq!(resp.contacts().len(), 1);
        assert_eq!(
            resp.contacts().next().unwrap().param("expires"),
            Some(Some("600"))
        );
        assert_eq!(ok.changes.unwrap().created.len(), 1);
        let live = s.live_bindings("sip:alice@cpm.test", 1001).unwrap();
        assert_eq!(live[0].instance.as_deref(), Some("<urn:uuid:1>"));
        assert_eq!(live[0].received.as_deref(), Some("udp:127.0.0.1:5070"));
        // Expired on time.
        assert!(
            s.live_bindings("sip:alice@cpm.test", 1000 + 601)
                .unwrap()
                .is_empty()
        );
        // Contact: * with Expires: 0 removes everything.
        let gone = authed(
            &mut r,
            &s,
            "alice",
            "secret",
            10,
            "Contact: *\r\n",
            "Expires: 0\r\n",
            1100,
        );
        assert_eq!(gone.status, 200);
        assert!(
            s.live_bindings("sip:alice@cpm.test", 1101)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn errors_users_understand() {
        let (mut r, s) = setup();
        let c = "Contact: <sip:alice@127.0.0.1:5070>\r\n";
        // Wrong password: challenged again and counted as a failure.
        let bad = authed(&mut r, &s, "alice", "wrong", 1, c, "", 1000);
        assert_eq!(bad.status, 401);
        assert!(bad.auth_failed);
        // Too brief.
        let brief = authed(&mut r, &s, "alice", "secret", 3, c, "Expires: 10\r\n", 1000);
        assert_eq!(brief.status, 423);
        let m = Message::parse(brief.response).unwrap();
        assert_eq!(m.header_str("Min-Expires"), Some("60"));
        // Unknown user.
        let unknown = r.handle(&register("carol", 1, c, "", None), None, &s, 1000);
        assert_eq!(unknown.status, 404);
        // Star without Expires: 0.
        let star = authed(&mut r, &s, "alice", "secret", 5, "Contact: *\r\n", "", 1000);
        assert_eq!(star.status, 400);
        // Credentials of bob for alice's AOR: bob's password does not verify as alice.
        let first = r.handle(&register("alice", 7, c, "", None), None, &s, 1000);
        let ch = Message::parse(first.response).unwrap();
        let www = ch.header(HeaderName::WwwAuthenticate).unwrap().to_string();
        let a = authorization(
            &AuthHeader::parse(&www).unwrap(),
            "REGISTER",
            "sip:cpm.test",
            "bob",
            "other",
            1,
            "x",
        )
        .unwrap();
        let forged = r.handle(&register("alice", 8, c, "", Some(a)), None, &s, 1000);
        assert_eq!(forged.status, 401);
        // A domain we do not serve.
        let other = Message::parse(
            String::from_utf8_lossy(register("alice", 9, c, "", None).as_bytes())
                .replace("REGISTER sip:cpm.test", "REGISTER sip:elsewhere.test"),
        )
        .unwrap();
        assert_eq!(r.handle(&other, None, &s, 1000).status, 404);
    }

    #[test]
    fn out_of_order_cseq_is_refused() {
        let (mut r, s) = setup();
        let c = "Contact: <sip:alice@127.0.0.1:5070>\r\n";
        assert_eq!(
            authed(&mut r, &s, "alice", "secret", 20, c, "", 1000).status,
            200
        );
        // Same Call-ID, lower CSeq (a delayed retransmission of an older REGISTER).
        let older = authed(&mut r, &s, "alice", "secret", 5, c, "", 1001);
        assert_eq!(
            older.status,
            400,
            "{:?}",
            String::from_utf8_lossy(&older.response)
        );
    }
}
