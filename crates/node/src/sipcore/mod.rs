//! The SIP/IP Core as a [`Role`]: registrar and location service, digest
//! authentication, identity assertion, service triggering to the Conversation Server,
//! interworking routing, and a transaction-stateful forking proxy (RFC 3261 §16).
//!
//! Decisions come from `cpm-core` (sans-IO): the registrar, trigger rules and Route tokens,
//! the routing table, identity assertion. This module applies them to live traffic:
//!
//! 1. A request is checked (throttled source → 403, Max-Forwards → 483, loop → 482), its
//!    Route naming us is removed (carrying, when present, the token of an earlier step).
//! 2. REGISTER for a served domain goes to the registrar, on a blocking thread (it writes
//!    the store); the answer is sent from there, and registration changes come back to
//!    the role to trigger third-party REGISTERs to application servers (how the
//!    participating function learns who is online, TS 24.229 §5.4.1.7).
//! 3. An initial request from an untrusted source must carry valid Proxy-Authorization
//!    (407 otherwise); the core then asserts the authenticated identity (RFC 3325). Trusted
//!    peers (roles, IWFs) are believed.
//! 4. Originating triggers of the served user, then terminating ones of the recipient,
//!    send the request to application servers with `P-Served-User` (RFC 5502) and a Route
//!    back to us with a token; when no trigger is left the request is forked to the
//!    recipient's registered contacts (480 when there are none) or, for a recipient no CPM
//!    user owns, routed by the interworking table (404 when nothing matches).
//! 5. [`proxy`] keeps the server transaction ⇄ client branches state, relays responses by
//!    Via, picks the best final response, and applies default handling when an application
//!    server does not answer.

mod cache;
mod me;
mod pike;
mod proxy;
mod settings;
mod stats;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cpm_core::Registrar;
use cpm_core::routing::RoutingTable;
use cpm_core::triggers::{SessionCase, Token, Trigger, Triggers};
use cpm_sip::digest::{DigestServer, Verdict};
use cpm_sip::{HeaderName, Message, Method, RequestBuilder, ResponseBuilder, Scheme, Uri};
use cpm_store::{Binding, Store, User};
use tracing::{debug, info, warn};

use crate::endpoint::{EndpointHandle, Failure, Incoming, Role};
use crate::transport::{Target, Transport};
use crate::uas::BasicUas;
use me::Me;
use pike::Pike;
use proxy::{Branch, BranchKind, Proxy};

pub use settings::{CoreSettings, PikeSettings, TrustedPeer};
pub use stats::CoreStats;

/// Unix seconds now.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Notes sent back to the role through [`EndpointHandle::notify`].
enum Note {
    /// A REGISTER was handled on a blocking thread.
    Registered {
        aor: Option<String>,
        source: IpAddr,
        status: u16,
        auth_failed: bool,
        bindings: Option<Vec<Binding>>,
    },
    /// An application server branch had no final answer within `as_timeout`.
    AsTimeout { branch: String },
    /// Expired bindings were purged: these AORs may have gone offline.
    Purged(Vec<(String, Vec<Binding>)>),
}

/// Where a request is in the core's processing (from the Route token, or fresh).
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Originating services of `served` (after trigger priority `after`).
    Originating { served: String, after: Option<u32> },
    /// Terminating side of the Request-URI (or of `served` when a token named it).
    Terminating {
        served: Option<String>,
        after: Option<u32>,
    },
}

/// The SIP/IP Core role. Build with [`CoreRole::new`] and start an endpoint with it.
pub struct CoreRole {
    settings: Arc<CoreSettings>,
    store: Arc<dyn Store>,
    registrar: Arc<Mutex<Registrar>>,
    proxy_auth: DigestServer,
    triggers: Triggers,
    routes: RoutingTable,
    stats: Arc<CoreStats>,
    pike: Pike,
    me: Option<Me>,
    proxy: Proxy,
    cache: cache::Cache,
    uas: BasicUas,
    third_party_cseq: u32,
}

impl std::fmt::Debug for CoreRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreRole")
            .field("domains", &self.settings.domains)
            .finish_non_exhaustive()
    }
}

impl CoreRole {
    /// A core with these settings over this store.
    pub fn new(settings: CoreSettings, store: Arc<dyn Store>) -> CoreRole {
        for t in &settings.trusted {
            if let TrustedPeer::TlsName(name) = t {
                warn!(
                    name,
                    "trusted peer tls:{name} never matches yet: the endpoint does not verify \
                     client certificates; trust its address instead"
                );
            }
        }
        let mut reg_cfg = settings.registrar.clone();
        reg_cfg.domains = settings.domains.clone();
        let registrar = Registrar::new(reg_cfg, &settings.secret);
        let proxy_auth = DigestServer::new(
            settings.registrar.realm.clone(),
            &settings.secret,
            settings.registrar.nonce_lifetime,
        )
        .with_algorithms(&settings.registrar.algorithms);
        CoreRole {
            triggers: Triggers::new(settings.triggers.clone()),
            routes: RoutingTable::new(settings.routes.clone()),
            pike: Pike::new(settings.pike),
            registrar: Arc::new(Mutex::new(registrar)),
            proxy_auth,
            store,
            stats: Arc::new(CoreStats::default()),
            me: None,
            proxy: Proxy::default(),
            cache: cache::Cache::new(),
            uas: BasicUas::new(),
            third_party_cseq: 0,
            settings: Arc::new(settings),
        }
    }

    /// The core's counters (shared: read them while it runs).
    pub fn stats(&self) -> Arc<CoreStats> {
        self.stats.clone()
    }

    /// Learns our addresses on the first call and starts housekeeping.
    fn me(&mut self, endpoint: &EndpointHandle) -> Me {
        if let Some(me) = &self.me {
            return me.clone();
        }
        let me = Me::new(endpoint, &self.settings.domains);
        self.me = Some(me.clone());
        self.start_housekeeping(endpoint);
        me
    }

    /// Purges expired bindings every `min_expires / 2` seconds (at least 5 s).
    fn start_housekeeping(&self, endpoint: &EndpointHandle) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.store.clone();
        let endpoint = endpoint.clone();
        let every = std::time::Duration::from_secs(
            u64::from(self.settings.registrar.min_expires / 2).max(5),
        );
        rt.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if endpoint.is_closed() {
                    return;
                }
                let store = store.clone();
                let purged = tokio::task::spawn_blocking(move || {
                    let now = unix_now() as i64;
                    let gone = store.purge_expired(now).unwrap_or_default();
                    let mut by_aor: Vec<(String, Vec<Binding>)> = Vec::new();
                    for b in gone {
                        if by_aor.last().is_none_or(|(a, _)| *a != b.aor) {
                            let live = store.live_bindings(&b.aor, now).unwrap_or_default();
                            by_aor.push((b.aor.clone(), live));
                        }
                    }
                    by_aor
                })
                .await
                .unwrap_or_default();
                if !purged.is_empty() && endpoint.notify(Box::new(Note::Purged(purged))).is_err() {
                    return;
                }
            }
        });
    }

    fn is_trusted(&self, inc: &Incoming) -> bool {
        self.settings.trusted.iter().any(|t| match t {
            TrustedPeer::Network(..) | TrustedPeer::Address(_) => {
                inc.peer.transport != Transport::Memory && t.matches(inc.peer.addr)
            }
            TrustedPeer::Memory(name) => inc.peer.name.as_deref() == Some(name.as_str()),
            // The endpoint does not expose verified client certificate names yet.
            TrustedPeer::TlsName(_) => false,
        })
    }

    fn reply(&self, endpoint: &EndpointHandle, inc: &Incoming, code: u16, reason: &str) {
        self.reply_with(endpoint, inc, code, reason, &[]);
    }

    fn reply_with(
        &self,
        endpoint: &EndpointHandle,
        inc: &Incoming,
        code: u16,
        reason: &str,
        headers: &[(&str, String)],
    ) {
        let mut b = ResponseBuilder::new(&inc.message, code, reason);
        if inc.message.to().tag().is_none() && code > 100 {
            b = b.to_tag(proxy::stable_tag(&inc.message));
        }
        for (n, v) in headers {
            b = b.header(*n, v.clone());
        }
        debug!(call_id = inc.message.call_id(), code, reason, "answered");
        let _ = endpoint.respond(inc, b.build_message());
    }

    // ---------------------------------------------------------------- requests

    fn on_initial_or_in_dialog(&mut self, inc: Incoming, endpoint: &EndpointHandle) {
        let me = self.me(endpoint);
        let msg = &inc.message;
        let Some(method) = msg.method().cloned() else {
            return;
        };
        let source = inc.peer.addr.ip();
        if inc.peer.transport != Transport::Memory && self.pike.is_blocked(source, Instant::now()) {
            CoreStats::inc(&self.stats.pike_blocked);
            return self.reply(
                endpoint,
                &inc,
                403,
                "Forbidden (too many authentication failures from this address)",
            );
        }
        if msg.max_forwards() == Some(0) {
            CoreStats::inc(&self.stats.too_many_hops);
            return self.reply(endpoint, &inc, 483, "Too Many Hops");
        }
        let loop_hash = proxy::loop_hash(msg);
        if msg.vias().any(|v| {
            me.is_my_via(&v)
                && v.branch()
                    .is_some_and(|b| proxy::branch_has_hash(b, loop_hash))
        }) {
            CoreStats::inc(&self.stats.loops);
            return self.reply(endpoint, &inc, 482, "Loop Detected");
        }
        // Proxy-Require: we support no extensions (RFC 3261 §16.3 step 5).
        let required = msg.header_values(HeaderName::ProxyRequire);
        if !required.is_empty() {
            let list = required.join(", ");
            return self.reply_with(
                endpoint,
                &inc,
                420,
                "Bad Extension",
                &[("Unsupported", list)],
            );
        }
        // Our Route on top: remove it, keeping its token.
        let mut token = None;
        let mut pop_route = false;
        if let Some(top) = msg.routes().next() {
            let uri = top.uri();
            if me.is_me(&uri) {
                pop_route = true;
                if let Some(Some(t)) = uri.param("ctx") {
                    token = Token::decode(t, &self.settings.secret);
                    if token.is_none() {
                        return self.reply(
                            endpoint,
                            &inc,
                            403,
                            "Forbidden (invalid core token in Route)",
                        );
                    }
                }
            }
        }
        let more_routes = msg.routes().len() > usize::from(pop_route);
        let Some(ruri) = msg.request_uri() else {
            return;
        };
        // The Request-URI is this element itself: answer as a UAS (OPTIONS pings …).
        if !more_routes && me.is_me(&ruri) && method != Method::Register {
            if let Some(answer) = self.uas.answer(msg) {
                let _ = endpoint.respond(&inc, answer);
            }
            return;
        }
        if method == Method::Register && !more_routes && me.serves_domain(ruri.host()) {
            return self.register(inc, endpoint);
        }
        let in_dialog = msg.to().tag().is_some();
        if in_dialog || more_routes {
            // Loose routing (RFC 3261 §16.4, §16.6 step 6-7): the next Route, or the
            // Request-URI, decides the next hop; no services for mid-dialog requests.
            let next = if more_routes {
                msg.routes()
                    .nth(usize::from(pop_route))
                    .map(|r| r.uri().as_str().to_string())
            } else {
                Some(ruri.as_str().to_string())
            };
            let target = next
                .as_deref()
                .and_then(|u| Uri::parse(u).ok().and_then(|u| me::resolve(&u)));
            let Some(target) = target else {
                return self.reply(
                    endpoint,
                    &inc,
                    404,
                    "Not Found (next hop cannot be resolved)",
                );
            };
            if method == Method::Ack {
                return self.forward_stateless(&inc, pop_route, target, endpoint);
            }
            let branch = Branch::new(BranchKind::Route, target, None);
            return self.forward(
                inc,
                pop_route,
                vec![(branch, Vec::new(), None)],
                None,
                loop_hash,
                endpoint,
            );
        }
        if method == Method::Ack {
            // An ACK outside any dialog or transaction: nothing to do (RFC 3261 §16.4).
            return;
        }
        // ---- an initial request ----
        let trusted = self.is_trusted(&inc);
        let has_token = token.is_some();
        let step = match token {
            Some(t) => match t.case {
                SessionCase::Originating => Step::Originating {
                    served: t.served_user,
                    after: Some(t.last_priority),
                },
                _ => Step::Terminating {
                    served: Some(t.served_user),
                    after: Some(t.last_priority),
                },
            },
            None if trusted => Step::Terminating {
                served: None,
                after: None,
            },
            None if !self.settings.authenticate => Step::Terminating {
                served: None,
                after: None,
            },
            None => {
                // Authenticate the sender (407), then assert who it is.
                let Some(user) = self.authenticate(&inc, endpoint) else {
                    return;
                };
                let identities = cpm_core::identity::asserted_identities(&user, msg);
                let service = msg
                    .preferred_services()
                    .into_iter()
                    .next()
                    .map(str::to_string);
                let mut e = msg.edit();
                cpm_core::identity::assert_on(&mut e, &identities, service.as_deref());
                e.remove(HeaderName::ProxyAuthorization);
                let Ok(asserted) = Message::parse(e.encode()) else {
                    return self.reply(
                        endpoint,
                        &inc,
                        500,
                        "Server Internal Error (cannot assert identity)",
                    );
                };
                let inc = Incoming {
                    message: asserted,
                    ..inc
                };
                let step = Step::Originating {
                    served: user.aor.clone(),
                    after: None,
                };
                return self.route(inc, pop_route, step, loop_hash, endpoint);
            }
        };
        let inc = if !has_token && !trusted {
            // Unauthenticated but allowed (authenticate = false): nobody asserted anything.
            let mut e = inc.message.edit();
            cpm_core::identity::strip_untrusted(&mut e);
            match Message::parse(e.encode()) {
                Ok(m) => Incoming { message: m, ..inc },
                Err(_) => return,
            }
        } else {
            inc
        };
        self.route(inc, pop_route, step, loop_hash, endpoint)
    }

    /// Verifies Proxy-Authorization; answers 407/403 itself and returns `None` when the
    /// request cannot go on.
    fn authenticate(&mut self, inc: &Incoming, endpoint: &EndpointHandle) -> Option<User> {
        let msg = &inc.message;
        let realm = self.settings.registrar.realm.clone();
        let now = unix_now();
        let challenge = |this: &mut Self, stale: bool| {
            CoreStats::inc(&this.stats.challenges);
            let headers: Vec<(&str, String)> = this
                .proxy_auth
                .challenges(now, stale)
                .into_iter()
                .map(|c| ("Proxy-Authenticate", c))
                .collect();
            this.reply_with(
                endpoint,
                inc,
                407,
                "Proxy Authentication Required",
                &headers,
            );
        };
        let Some(cred) = msg.credentials(true, &realm) else {
            challenge(self, false);
            return None;
        };
        let username = cred
            .param("username")
            .map(|u| u.into_owned())
            .unwrap_or_default();
        let mut found: Option<User> = None;
        for domain in &self.settings.domains {
            match self
                .cache
                .user_by_name(self.store.as_ref(), &username, domain)
            {
                Ok(Some(u)) => {
                    found = Some(u);
                    break;
                }
                Ok(None) => {}
                Err(e) => {
                    warn!(%e, "store error during authentication");
                    self.reply(
                        endpoint,
                        inc,
                        500,
                        "Server Internal Error (store unavailable)",
                    );
                    return None;
                }
            }
        }
        let method = msg.method().map(Method::as_str).unwrap_or("");
        let verdict = self.proxy_auth.verify(now, method, &cred, |name, alg| {
            found
                .as_ref()
                .filter(|u| u.username == name)
                .and_then(|u| u.credential(alg))
                .map(|c| c.ha1.clone())
        });
        match verdict {
            Verdict::Authenticated { .. } => {
                let user = found?;
                if inc.peer.transport != Transport::Memory {
                    self.pike.success(inc.peer.addr.ip());
                }
                if !user.enabled {
                    self.reply(endpoint, inc, 403, "Forbidden (account disabled)");
                    return None;
                }
                Some(user)
            }
            Verdict::Stale => {
                challenge(self, true);
                None
            }
            Verdict::Rejected(why) => {
                if why != "not a nonce of this server" {
                    self.auth_failure(inc.peer.addr.ip(), why);
                }
                challenge(self, false);
                None
            }
        }
    }

    fn auth_failure(&mut self, ip: IpAddr, why: &str) {
        CoreStats::inc(&self.stats.auth_failures);
        if self.pike.failure(ip, Instant::now()) {
            warn!(%ip, why, "source blocked after repeated authentication failures");
        } else {
            info!(%ip, why, "authentication failed");
        }
    }

    /// Applies the next trigger, or the terminating lookup, to an initial request.
    fn route(
        &mut self,
        inc: Incoming,
        pop_route: bool,
        step: Step,
        loop_hash: u32,
        endpoint: &EndpointHandle,
    ) {
        let me = self.me(endpoint);
        match step {
            Step::Originating { served, after } => {
                if let Some(t) = self
                    .triggers
                    .next(&inc.message, SessionCase::Originating, after)
                    .cloned()
                {
                    return self.send_to_application_server(
                        inc,
                        pop_route,
                        &t,
                        SessionCase::Originating,
                        &served,
                        loop_hash,
                        endpoint,
                    );
                }
                self.route(
                    inc,
                    pop_route,
                    Step::Terminating {
                        served: None,
                        after: None,
                    },
                    loop_hash,
                    endpoint,
                )
            }
            Step::Terminating { served, after } => {
                let ruri = inc
                    .message
                    .request_uri()
                    .map(|u| u.as_str().to_string())
                    .unwrap_or_default();
                let Ok(uri) = Uri::parse(&ruri) else {
                    return self.reply(endpoint, &inc, 400, "Bad Request (Request-URI)");
                };
                let user = match &served {
                    Some(aor) => self.cache.user(self.store.as_ref(), aor),
                    None => self.local_user(&me, &uri),
                };
                let user = match user {
                    Ok(u) => u,
                    Err(e) => {
                        warn!(%e, "store error during lookup");
                        return self.reply(
                            endpoint,
                            &inc,
                            500,
                            "Server Internal Error (store unavailable)",
                        );
                    }
                };
                let Some(user) = user else {
                    return self.no_local_user(inc, pop_route, &me, &uri, loop_hash, endpoint);
                };
                let now = unix_now() as i64;
                let bindings = match self
                    .cache
                    .live_bindings(self.store.as_ref(), &user.aor, now)
                {
                    Ok(b) => b,
                    Err(e) => {
                        warn!(%e, "store error during location lookup");
                        return self.reply(
                            endpoint,
                            &inc,
                            500,
                            "Server Internal Error (store unavailable)",
                        );
                    }
                };
                let case = if bindings.is_empty() {
                    SessionCase::TerminatingUnregistered
                } else {
                    SessionCase::TerminatingRegistered
                };
                if let Some(t) = self.triggers.next(&inc.message, case, after).cloned() {
                    return self.send_to_application_server(
                        inc, pop_route, &t, case, &user.aor, loop_hash, endpoint,
                    );
                }
                if bindings.is_empty() {
                    CoreStats::inc(&self.stats.unavailable);
                    return self.reply(
                        endpoint,
                        &inc,
                        480,
                        "Temporarily Unavailable (no registered device)",
                    );
                }
                self.fork(inc, pop_route, &bindings, loop_hash, endpoint)
            }
        }
    }

    /// The CPM user the Request-URI names, if it is one of ours: `sip:name@our-domain`,
    /// `sip:+number@our-domain;user=phone`, or `tel:+number`.
    fn local_user(&mut self, me: &Me, uri: &Uri<'_>) -> cpm_store::Result<Option<User>> {
        match uri.scheme() {
            Scheme::Tel => match uri
                .phone_number()
                .and_then(cpm_core::routing::normalize_e164)
            {
                Some(n) => self.cache.user_by_alias(self.store.as_ref(), &n),
                None => Ok(None),
            },
            Scheme::Sip | Scheme::Sips if me.serves_domain(uri.host()) => {
                let Some(name) = uri.user() else {
                    return Ok(None);
                };
                let name = cpm_sip::unescape(name);
                let phone = uri
                    .param("user")
                    .flatten()
                    .is_some_and(|u| u.eq_ignore_ascii_case("phone"));
                if (phone || name.starts_with('+'))
                    && let Some(n) = cpm_core::routing::normalize_e164(&name)
                    && let Some(u) = self.cache.user_by_alias(self.store.as_ref(), &n)?
                {
                    return Ok(Some(u));
                }
                let domain = if self
                    .settings
                    .domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(uri.host()))
                {
                    uri.host().to_string()
                } else {
                    // Addressed to one of our IP addresses: the primary domain.
                    me.primary_domain().to_string()
                };
                self.cache.user_by_name(self.store.as_ref(), &name, &domain)
            }
            _ => Ok(None),
        }
    }

    /// No CPM user owns the recipient: interworking routing table, else 404/416.
    fn no_local_user(
        &mut self,
        inc: Incoming,
        pop_route: bool,
        me: &Me,
        uri: &Uri<'_>,
        loop_hash: u32,
        endpoint: &EndpointHandle,
    ) {
        if let Some(route) = self.routes.route(uri) {
            let (rule, target_uri) = (route.rule.to_string(), route.target.to_string());
            self.stats.routed(&rule);
            info!(
                call_id = inc.message.call_id(),
                recipient = uri.as_str(),
                rule,
                target = target_uri,
                "interworking route"
            );
            let Some(target) = Uri::parse(&target_uri).ok().and_then(|u| me::resolve(&u)) else {
                warn!(
                    rule,
                    target = target_uri,
                    "interworking target cannot be resolved"
                );
                return self.reply(
                    endpoint,
                    &inc,
                    502,
                    "Bad Gateway (interworking function address cannot be resolved)",
                );
            };
            let branch = Branch::new(BranchKind::Route, target, None);
            return self.forward(
                inc,
                pop_route,
                vec![(branch, Vec::new(), None)],
                None,
                loop_hash,
                endpoint,
            );
        }
        match uri.scheme() {
            Scheme::Sip | Scheme::Sips if me.serves_domain(uri.host()) => {
                CoreStats::inc(&self.stats.not_found);
                self.reply(endpoint, &inc, 404, "Not Found (no such user)")
            }
            Scheme::Sip | Scheme::Sips => match me::resolve(uri) {
                Some(target) => {
                    let branch = Branch::new(BranchKind::Route, target, None);
                    self.forward(
                        inc,
                        pop_route,
                        vec![(branch, Vec::new(), None)],
                        None,
                        loop_hash,
                        endpoint,
                    )
                }
                None => {
                    CoreStats::inc(&self.stats.not_found);
                    self.reply(
                        endpoint,
                        &inc,
                        404,
                        "Not Found (domain not served here and no route to it)",
                    )
                }
            },
            Scheme::Tel => {
                CoreStats::inc(&self.stats.not_found);
                self.reply(
                    endpoint,
                    &inc,
                    404,
                    "Not Found (no CPM user has this number and no SMS interworking route)",
                )
            }
            Scheme::Mailto => {
                CoreStats::inc(&self.stats.not_found);
                self.reply(
                    endpoint,
                    &inc,
                    404,
                    "Not Found (no email interworking route)",
                )
            }
            _ => {
                CoreStats::inc(&self.stats.unsupported_scheme);
                self.reply(endpoint, &inc, 416, "Unsupported URI Scheme")
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send_to_application_server(
        &mut self,
        inc: Incoming,
        pop_route: bool,
        t: &Trigger,
        case: SessionCase,
        served: &str,
        loop_hash: u32,
        endpoint: &EndpointHandle,
    ) {
        let me = self.me(endpoint);
        let Some(target) = Uri::parse(&t.server).ok().and_then(|u| me::resolve(&u)) else {
            warn!(
                server = t.server,
                "application server address cannot be resolved"
            );
            return self.as_unreachable(inc, pop_route, t, case, served, loop_hash, endpoint);
        };
        let token = Token {
            case,
            served_user: served.to_string(),
            last_priority: t.priority,
        }
        .encode(&self.settings.secret);
        let back = me.uri(target.transport(), &format!(";ctx={token}"));
        let server_route = if t.server.contains(";lr") {
            t.server.clone()
        } else {
            format!("{};lr", t.server)
        };
        let routes = vec![format!("<{server_route}>"), format!("<{back}>")];
        let psu = format!("<{served}>;{}", case.served_user_params());
        CoreStats::inc(&self.stats.to_application_server);
        debug!(
            call_id = inc.message.call_id(),
            server = t.server,
            ?case,
            served,
            "trigger"
        );
        let branch = Branch::new(
            BranchKind::ApplicationServer {
                trigger: t.clone(),
                case,
                served: served.to_string(),
            },
            target,
            None,
        );
        self.forward(
            inc,
            pop_route,
            vec![(branch, routes, Some(psu))],
            None,
            loop_hash,
            endpoint,
        );
    }

    /// Default handling for an application server that cannot be reached.
    #[allow(clippy::too_many_arguments)]
    fn as_unreachable(
        &mut self,
        inc: Incoming,
        pop_route: bool,
        t: &Trigger,
        case: SessionCase,
        served: &str,
        loop_hash: u32,
        endpoint: &EndpointHandle,
    ) {
        CoreStats::inc(&self.stats.as_default_handling);
        match t.default_handling {
            cpm_core::triggers::DefaultHandling::Continue => {
                let step = match case {
                    SessionCase::Originating => Step::Originating {
                        served: served.to_string(),
                        after: Some(t.priority),
                    },
                    _ => Step::Terminating {
                        served: Some(served.to_string()),
                        after: Some(t.priority),
                    },
                };
                self.route(inc, pop_route, step, loop_hash, endpoint)
            }
            cpm_core::triggers::DefaultHandling::Terminate => self.reply(
                endpoint,
                &inc,
                504,
                "Server Time-out (application server did not answer)",
            ),
        }
    }

    /// Forks to every registered contact (RFC 3261 §16.6, parallel).
    fn fork(
        &mut self,
        inc: Incoming,
        pop_route: bool,
        bindings: &[Binding],
        loop_hash: u32,
        endpoint: &EndpointHandle,
    ) {
        let mut branches = Vec::new();
        for b in bindings {
            let Ok(contact) = Uri::parse(&b.contact) else {
                continue;
            };
            let routes: Vec<String> = b.path.iter().map(|p| p.to_string()).collect();
            let first_hop = routes.first().and_then(|p| {
                cpm_sip::NameAddr::parse(p)
                    .ok()
                    .and_then(|na| me::resolve(&na.uri()))
            });
            let target = first_hop.or_else(|| {
                // The flow the REGISTER came over (NAT, TCP): RFC 5626 in spirit.
                let by_received = b.received.as_deref().and_then(me::parse_received);
                let by_uri = me::resolve(&contact);
                match (by_received, by_uri) {
                    (Some(r), Some(u)) if r.transport() == u.transport() => Some(r),
                    (Some(r), None) => Some(r),
                    (_, u) => u,
                }
            });
            let Some(target) = target else {
                debug!(contact = b.contact, "contact cannot be resolved; skipped");
                continue;
            };
            branches.push((
                Branch::new(BranchKind::Contact, target, Some(b.contact.clone())),
                routes,
                None,
            ));
        }
        if branches.is_empty() {
            CoreStats::inc(&self.stats.unavailable);
            return self.reply(
                endpoint,
                &inc,
                480,
                "Temporarily Unavailable (no reachable device)",
            );
        }
        CoreStats::inc(&self.stats.to_contacts);
        self.forward(inc, pop_route, branches, None, loop_hash, endpoint)
    }

    /// Forwards a request on one or more branches, statefully.
    fn forward(
        &mut self,
        inc: Incoming,
        pop_route: bool,
        branches: Vec<(Branch, Vec<String>, Option<String>)>,
        _reserved: Option<()>,
        loop_hash: u32,
        endpoint: &EndpointHandle,
    ) {
        let me = self.me(endpoint);
        let record_route = self.settings.record_route
            && matches!(
                inc.message.method(),
                Some(Method::Invite | Method::Subscribe | Method::Refer)
            )
            && inc.message.to().tag().is_none();
        let mut out = Vec::with_capacity(branches.len());
        for (branch, routes, psu) in branches {
            let mut e = inc.message.edit();
            if pop_route {
                e.pop_route();
            }
            if e.decrement_max_forwards().is_none() {
                CoreStats::inc(&self.stats.too_many_hops);
                return self.reply(endpoint, &inc, 483, "Too Many Hops");
            }
            if let Some(contact) = &branch.request_uri {
                e.set_request_uri(contact.clone());
            }
            // Route values go above any the request still has, in order (the Editor keeps
            // prepended values in the order they were pushed).
            for r in &routes {
                e.push_route(r.clone());
            }
            if let Some(psu) = psu {
                e.set(HeaderName::PServedUser, psu);
            }
            if record_route {
                e.push_record_route(format!("<{}>", me.uri(branch.target.transport(), "")));
            }
            let id = self.proxy.new_branch_id(loop_hash);
            e.push_via(format!("SIP/2.0/UDP 0.0.0.0;branch={id}"));
            let Ok(request) = Message::parse(e.encode()) else {
                warn!("forwarded request does not parse");
                continue;
            };
            out.push((id, branch, request));
        }
        if out.is_empty() {
            return self.reply(
                endpoint,
                &inc,
                500,
                "Server Internal Error (cannot forward)",
            );
        }
        let as_timeout = self.settings.as_timeout;
        for (id, branch, request) in self.proxy.start(inc, pop_route, loop_hash, out) {
            CoreStats::inc(&self.stats.forwarded);
            if branch_is_as(&branch) {
                let ep = endpoint.clone();
                let b = id.clone();
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        tokio::time::sleep(as_timeout).await;
                        let _ = ep.notify(Box::new(Note::AsTimeout { branch: b }));
                    });
                }
            }
            debug!(call_id = request.call_id(), target = %branch.target, branch = id, "forward");
            let _ = endpoint.send_request(branch.target.clone(), request);
        }
    }

    fn forward_stateless(
        &mut self,
        inc: &Incoming,
        pop_route: bool,
        target: Target,
        endpoint: &EndpointHandle,
    ) {
        let mut e = inc.message.edit();
        if pop_route {
            e.pop_route();
        }
        if e.decrement_max_forwards().is_none() {
            return;
        }
        let id = self.proxy.new_branch_id(proxy::loop_hash(&inc.message));
        e.push_via(format!("SIP/2.0/UDP 0.0.0.0;branch={id}"));
        if let Ok(m) = Message::parse(e.encode()) {
            CoreStats::inc(&self.stats.forwarded);
            let _ = endpoint.send_request(target, m);
        }
    }

    // ---------------------------------------------------------------- registrar

    fn register(&mut self, inc: Incoming, endpoint: &EndpointHandle) {
        let registrar = self.registrar.clone();
        let store = self.store.clone();
        let endpoint = endpoint.clone();
        let received = me::received_string(inc.peer.transport, inc.peer.addr);
        let received = match (&inc.peer.name, inc.peer.transport) {
            (Some(name), Transport::Memory) => format!("mem:{name}"),
            _ => received,
        };
        let source = inc.peer.addr.ip();
        let run = move || {
            let now = unix_now();
            let result = {
                let mut r = registrar.lock().unwrap_or_else(|e| e.into_inner());
                r.handle(&inc.message, Some(&received), store.as_ref(), now)
            };
            let aor = result
                .changes
                .as_ref()
                .and_then(|c| {
                    c.bindings
                        .first()
                        .or(c.removed.first())
                        .or(c.created.first())
                })
                .map(|b| b.aor.clone());
            let response = Message::parse(result.response.clone());
            // The note first: the role updates its location cache before the response
            // leaves (both go through the same ordered command queue).
            let _ = endpoint.notify(Box::new(Note::Registered {
                aor,
                source,
                status: result.status,
                auth_failed: result.auth_failed,
                bindings: result.changes.map(|c| c.bindings),
            }));
            match response {
                Ok(resp) => {
                    let _ = endpoint.respond(&inc, resp);
                }
                Err(e) => warn!(%e, "registrar response does not parse"),
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(run);
            }
            Err(_) => run(),
        }
    }

    fn on_registered(
        &mut self,
        aor: Option<String>,
        source: IpAddr,
        status: u16,
        auth_failed: bool,
        bindings: Option<Vec<Binding>>,
        endpoint: &EndpointHandle,
    ) {
        match status {
            200..=299 => {
                CoreStats::inc(&self.stats.registers_ok);
                self.pike.success(source);
            }
            401 => CoreStats::inc(&self.stats.challenges),
            _ => CoreStats::inc(&self.stats.registers_failed),
        }
        if auth_failed {
            self.auth_failure(source, "wrong REGISTER credentials");
        }
        if let (Some(aor), Some(bindings)) = (aor, bindings) {
            self.cache.set_bindings(&aor, bindings.clone());
            self.third_party_register(&aor, &bindings, endpoint);
        }
    }

    /// Tells the application servers with a REGISTER trigger about `aor`'s registration
    /// state (TS 24.229 §5.4.1.7): Expires is the longest remaining binding, 0 when none.
    fn third_party_register(&mut self, aor: &str, bindings: &[Binding], endpoint: &EndpointHandle) {
        let me = self.me(endpoint);
        let now = unix_now() as i64;
        let expires = bindings
            .iter()
            .map(|b| b.expires_in(now))
            .max()
            .unwrap_or(0);
        let case = SessionCase::Originating;
        let probe = RequestBuilder::new(Method::Register, aor)
            .header("Via", "SIP/2.0/UDP 0.0.0.0;branch=z9hG4bKprobe")
            .header("From", format!("<{aor}>;tag=p"))
            .header("To", format!("<{aor}>"))
            .header("Call-ID", "probe")
            .header("CSeq", "1 REGISTER")
            .build_message();
        let Ok(probe) = probe else {
            return;
        };
        let mut after = None;
        while let Some(t) = self.triggers.next(&probe, case, after).cloned() {
            after = Some(t.priority);
            let Some(target) = Uri::parse(&t.server).ok().and_then(|u| me::resolve(&u)) else {
                continue;
            };
            self.third_party_cseq = self.third_party_cseq.wrapping_add(1);
            let id = self.proxy.new_branch_id(0);
            let contact = me.uri(target.transport(), "").replace(";lr", "");
            let req = RequestBuilder::new(Method::Register, t.server.clone())
                .header("Via", format!("SIP/2.0/UDP 0.0.0.0;branch={id}"))
                .header("Max-Forwards", "70")
                .header(
                    "From",
                    format!(
                        "<{}>;tag={}",
                        me.uri(target.transport(), "").replace(";lr", ""),
                        &id[7..]
                    ),
                )
                .header("To", format!("<{aor}>"))
                .header("Call-ID", format!("3pr-{id}"))
                .header("CSeq", format!("{} REGISTER", self.third_party_cseq))
                .header("Contact", format!("<{contact}>"))
                .header("Expires", expires.to_string())
                .header(
                    "P-Served-User",
                    format!(
                        "<{aor}>;{}",
                        if bindings.is_empty() {
                            "sescase=term;regstate=unreg"
                        } else {
                            "sescase=term;regstate=reg"
                        }
                    ),
                )
                .build_message();
            if let Ok(req) = req {
                CoreStats::inc(&self.stats.third_party_registers);
                debug!(aor, server = t.server, expires, "third-party REGISTER");
                self.proxy.note_own_request(id);
                let _ = endpoint.send_request(target, req);
            }
        }
    }
}

fn branch_is_as(b: &Branch) -> bool {
    matches!(b.kind, BranchKind::ApplicationServer { .. })
}

impl Role for CoreRole {
    fn on_request(&mut self, request: Incoming, endpoint: &EndpointHandle) {
        CoreStats::inc(&self.stats.requests);
        if request.message.method() == Some(&Method::Cancel) {
            return match request.cancels.and_then(|k| self.proxy.cancel(k)) {
                Some(cancels) => {
                    self.reply(endpoint, &request, 200, "OK");
                    for (target, cancel) in cancels {
                        let _ = endpoint.send_request(target, cancel);
                    }
                }
                None => self.reply(endpoint, &request, 481, "Call/Transaction Does Not Exist"),
            };
        }
        self.on_initial_or_in_dialog(request, endpoint)
    }

    fn on_response(&mut self, response: Incoming, endpoint: &EndpointHandle) {
        let outcome = self.proxy.on_response(&response.message);
        self.apply(outcome, endpoint);
    }

    fn on_request_failed(
        &mut self,
        request: &Message,
        failure: &Failure,
        endpoint: &EndpointHandle,
    ) {
        debug!(call_id = request.call_id(), %failure, "branch failed");
        let outcome = self.proxy.on_failure(request, failure);
        self.apply(outcome, endpoint);
    }

    fn on_notify(&mut self, note: Box<dyn std::any::Any + Send>, endpoint: &EndpointHandle) {
        let Ok(note) = note.downcast::<Note>() else {
            return;
        };
        match *note {
            Note::Registered {
                aor,
                source,
                status,
                auth_failed,
                bindings,
            } => self.on_registered(aor, source, status, auth_failed, bindings, endpoint),
            Note::AsTimeout { branch } => {
                let outcome = self.proxy.on_as_timeout(&branch);
                self.apply(outcome, endpoint);
            }
            Note::Purged(list) => {
                for (aor, live) in list {
                    self.cache.set_bindings(&aor, live.clone());
                    if live.is_empty() {
                        self.third_party_register(&aor, &live, endpoint);
                    }
                }
            }
        }
    }
}

impl CoreRole {
    /// Carries out what the proxy state decided about a response or failure.
    fn apply(&mut self, outcome: proxy::Outcome, endpoint: &EndpointHandle) {
        for (inc, resp) in outcome.upstream {
            CoreStats::inc(&self.stats.responses_forwarded);
            let _ = endpoint.respond(&inc, resp);
        }
        for (target, req) in outcome.requests {
            let _ = endpoint.send_request(target, req);
        }
        if let Some(ctx) = outcome.default_handling {
            let proxy::AsFailed {
                inc,
                pop_route,
                loop_hash,
                trigger,
                case,
                served,
            } = ctx;
            self.as_unreachable(inc, pop_route, &trigger, case, &served, loop_hash, endpoint);
        }
    }
}
