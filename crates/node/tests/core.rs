//! The SIP/IP Core role end to end over UDP on loopback: user agents, an application
//! server and an interworking function are `ChannelRole` endpoints driven by the test;
//! the store is SQLite in memory. Every wait is bounded.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cpm_core::routing::{Match, Rule};
use cpm_core::triggers::{DefaultHandling, SessionCase, Trigger};
use cpm_node::sipcore::{CoreRole, CoreSettings, CoreStats, PikeSettings, TrustedPeer};
use cpm_node::{
    ChannelRole, Endpoint, EndpointConfig, EndpointHandle, Incoming, RoleEvent, Target, Transport,
};
use cpm_sip::{AuthHeader, HeaderName, Message, Method, RequestBuilder, ResponseBuilder};
use cpm_store::{NewUser, SqliteStore, Store};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);
const DOMAIN: &str = "cpm.test";

static SEQ: AtomicU32 = AtomicU32::new(1);

fn seq() -> u32 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

fn store() -> Arc<dyn Store> {
    let s = SqliteStore::open_in_memory().unwrap();
    for (name, tel) in [
        ("alice", Some("+15551230001")),
        ("bob", Some("+15551230002")),
        ("carol", None),
    ] {
        let mut u = NewUser::new(name, DOMAIN, 1).password(DOMAIN, "secret");
        if let Some(t) = tel {
            u = u.alias(t);
        }
        s.add_user(&u).unwrap();
    }
    Arc::new(s)
}

fn settings() -> CoreSettings {
    let mut s = CoreSettings {
        domains: vec![DOMAIN.into()],
        secret: b"test-secret".to_vec(),
        ..CoreSettings::default()
    };
    s.registrar.realm = DOMAIN.into();
    s
}

struct Core {
    ep: Endpoint,
    stats: Arc<CoreStats>,
}

impl Core {
    fn addr(&self) -> SocketAddr {
        self.ep.local_addr(Transport::Udp).unwrap()
    }
    fn target(&self) -> Target {
        Target::Net(Transport::Udp, self.addr())
    }
}

async fn core(settings: CoreSettings, store: Arc<dyn Store>) -> Core {
    let role = CoreRole::new(settings, store);
    let stats = role.stats();
    let ep = Endpoint::start(
        EndpointConfig {
            udp: vec!["127.0.0.1:0".parse().unwrap()],
            ..EndpointConfig::default()
        },
        role,
    )
    .await
    .unwrap();
    Core { ep, stats }
}

/// A user agent (or application server) driven by the test.
struct Ua {
    ep: Endpoint,
    rx: UnboundedReceiver<RoleEvent>,
}

impl Ua {
    async fn new() -> Ua {
        let (role, rx) = ChannelRole::new();
        let ep = Endpoint::start(
            EndpointConfig {
                udp: vec!["127.0.0.1:0".parse().unwrap()],
                ..EndpointConfig::default()
            },
            role,
        )
        .await
        .unwrap();
        Ua { ep, rx }
    }
    fn addr(&self) -> SocketAddr {
        self.ep.local_addr(Transport::Udp).unwrap()
    }
    fn handle(&self) -> EndpointHandle {
        self.ep.handle()
    }
    fn contact(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.addr())
    }

    async fn event(&mut self) -> RoleEvent {
        timeout(WAIT, self.rx.recv())
            .await
            .expect("event in time")
            .expect("endpoint alive")
    }

    /// The next request (skipping nothing else: a response here is a test failure).
    async fn request(&mut self) -> Incoming {
        match self.event().await {
            RoleEvent::Request(r) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// Sends and waits for the final response.
    async fn transact(&mut self, to: &Target, req: Message) -> Message {
        self.handle().send_request(to.clone(), req).unwrap();
        loop {
            match self.event().await {
                RoleEvent::Response(r) if r.message.status().unwrap() >= 200 => return r.message,
                RoleEvent::Response(_) => {}
                other => panic!("expected a response, got {other:?}"),
            }
        }
    }

    /// Nothing arrives for a while.
    async fn silent(&mut self, d: Duration) {
        if let Ok(Some(e)) = timeout(d, self.rx.recv()).await {
            panic!("unexpected {e:?}");
        }
    }
}

fn request(method: Method, ruri: &str, from: &str, to: &str, extra: &[(&str, String)]) -> Message {
    let n = seq();
    let mut b = RequestBuilder::new(method.clone(), ruri)
        .header("Via", format!("SIP/2.0/UDP 0.0.0.0;branch=z9hG4bKt{n}"))
        .header("Max-Forwards", "70")
        .header("From", format!("<{from}>;tag=f{n}"))
        .header("To", format!("<{to}>"))
        .header("Call-ID", format!("call-{n}"))
        .header("CSeq", format!("{n} {method}"));
    for (k, v) in extra {
        b = b.header(*k, v.clone());
    }
    if method == Method::Message {
        b = b.body("text/plain", "hello");
    }
    b.build_message().unwrap()
}

/// Re-sends `req` with credentials answering the challenge in `resp` (new branch, CSeq+1).
fn with_credentials(req: &Message, resp: &Message, user: &str, password: &str) -> Message {
    let (challenge_name, cred_name) = if resp.status() == Some(407) {
        (HeaderName::ProxyAuthenticate, "Proxy-Authorization")
    } else {
        (HeaderName::WwwAuthenticate, "Authorization")
    };
    let challenge = resp
        .headers()
        .filter(|h| h.name == challenge_name)
        .map(|h| AuthHeader::parse(h.value).unwrap())
        .find(|c| c.param("algorithm").as_deref() == Some("SHA-256"))
        .expect("a SHA-256 challenge");
    let method = req.method().unwrap().as_str();
    let uri = req.request_uri().unwrap().as_str().to_string();
    let auth =
        cpm_sip::digest::authorization(&challenge, method, &uri, user, password, 1, "abcdef")
            .unwrap();
    let n = seq();
    let text = String::from_utf8_lossy(req.as_bytes()).into_owned();
    let cseq = req.cseq();
    let text = text
        .replacen(
            &format!("CSeq: {cseq} "),
            &format!("CSeq: {} ", cseq + 1),
            1,
        )
        .replacen("branch=z9hG4bKt", &format!("branch=z9hG4bKr{n}x"), 1)
        .replacen(
            "Max-Forwards: 70\r\n",
            &format!("Max-Forwards: 70\r\n{cred_name}: {auth}\r\n"),
            1,
        );
    Message::parse(text.into_bytes()).unwrap()
}

async fn register(ua: &mut Ua, core: &Target, user: &str, password: &str) -> Message {
    let aor = format!("sip:{user}@{DOMAIN}");
    let contact = format!("<{}>", ua.contact(user));
    let req = request(
        Method::Register,
        &format!("sip:{DOMAIN}"),
        &aor,
        &aor,
        &[("Contact", contact), ("Expires", "600".into())],
    );
    let first = ua.transact(core, req.clone()).await;
    assert_eq!(first.status(), Some(401), "REGISTER is challenged");
    ua.transact(core, with_credentials(&req, &first, user, password))
        .await
}

/// Sends a MESSAGE as `user` (answering the 407) and returns the final response.
async fn send_message(
    ua: &mut Ua,
    core: &Target,
    user: &str,
    to: &str,
    extra: &[(&str, String)],
) -> Message {
    let from = format!("sip:{user}@{DOMAIN}");
    let req = request(Method::Message, to, &from, to, extra);
    let first = ua.transact(core, req.clone()).await;
    assert_eq!(
        first.status(),
        Some(407),
        "MESSAGE is challenged: {first:?}"
    );
    assert!(first.header(HeaderName::ProxyAuthenticate).is_some());
    let authed = with_credentials(&req, &first, user, "secret");
    ua.handle().send_request(core.clone(), authed).unwrap();
    loop {
        match ua.event().await {
            RoleEvent::Response(r) if r.message.status().unwrap() >= 200 => return r.message,
            RoleEvent::Response(_) => {}
            other => panic!("expected a response, got {other:?}"),
        }
    }
}

/// Waits (bounded) until `cond` holds: counters are updated just after the answer goes.
async fn eventually(cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition never held"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Answers the next request on `ua` with `code`; returns that request.
async fn answer(ua: &mut Ua, code: u16) -> Message {
    let inc = ua.request().await;
    let resp = ResponseBuilder::new(&inc.message, code, "Done")
        .to_tag("uas")
        .build_message();
    ua.handle().respond(&inc, resp).unwrap();
    inc.message
}

#[tokio::test]
async fn register_then_message_with_asserted_identity() {
    let core = core(settings(), store()).await;
    let (mut alice, mut bob) = (Ua::new().await, Ua::new().await);
    let ok = register(&mut bob, &core.target(), "bob", "secret").await;
    assert_eq!(ok.status(), Some(200));
    assert!(
        ok.header(HeaderName::Contact)
            .unwrap()
            .contains(&bob.addr().to_string())
    );
    assert_eq!(
        register(&mut alice, &core.target(), "alice", "secret")
            .await
            .status(),
        Some(200)
    );

    // alice claims to be mallory in From: downstream sees her authenticated identity.
    let from = format!("sip:mallory@{DOMAIN}");
    let to = format!("sip:bob@{DOMAIN}");
    let req = request(
        Method::Message,
        &to,
        &from,
        &to,
        &[("P-Asserted-Identity", "<sip:ceo@cpm.test>".into())],
    );
    let c = core.target();
    let first = alice.transact(&c, req.clone()).await;
    assert_eq!(first.status(), Some(407));
    alice
        .handle()
        .send_request(c.clone(), with_credentials(&req, &first, "alice", "secret"))
        .unwrap();
    let got = answer(&mut bob, 200).await;
    assert_eq!(got.request_uri().unwrap().as_str(), bob.contact("bob"));
    let pai = got.header_values(HeaderName::PAssertedIdentity);
    assert_eq!(pai, vec!["<sip:alice@cpm.test>", "<tel:+15551230001>"]);
    assert!(
        got.header(HeaderName::ProxyAuthorization).is_none(),
        "credentials are not passed on"
    );
    assert_eq!(got.vias().len(), 2, "the core's Via above alice's");
    assert_eq!(got.max_forwards(), Some(69));
    assert_eq!(got.body_bytes(), b"hello");
    let resp = loop {
        match alice.event().await {
            RoleEvent::Response(r) if r.message.status().unwrap() >= 200 => break r.message,
            RoleEvent::Response(_) => {}
            e => panic!("{e:?}"),
        }
    };
    assert_eq!(resp.status(), Some(200));
    assert_eq!(
        resp.vias().len(),
        1,
        "the core's Via is removed on the way back"
    );
    eventually(|| core.stats.get("registers_ok") >= 2).await;

    // bob by his tel alias, and as sip:+number;user=phone.
    let (r, _) = tokio::join!(
        send_message(&mut alice, &c, "alice", "tel:+1-555-123-0002", &[]),
        answer(&mut bob, 200)
    );
    assert_eq!(r.status(), Some(200));
    let phone = format!("sip:+15551230002@{DOMAIN};user=phone");
    let r = send_message(&mut alice, &c, "alice", &phone, &[]);
    let (r, _) = tokio::join!(r, answer(&mut bob, 202));
    assert_eq!(r.status(), Some(202));
}

#[tokio::test]
async fn precise_errors_for_unknown_unregistered_and_hops() {
    let core = core(settings(), store()).await;
    let c = core.target();
    let mut alice = Ua::new().await;
    let r = send_message(
        &mut alice,
        &c,
        "alice",
        &format!("sip:nobody@{DOMAIN}"),
        &[],
    )
    .await;
    assert_eq!(
        (r.status(), r.reason()),
        (Some(404), Some("Not Found (no such user)"))
    );
    let r = send_message(&mut alice, &c, "alice", &format!("sip:carol@{DOMAIN}"), &[]).await;
    assert_eq!(r.status(), Some(480));
    let r = send_message(&mut alice, &c, "alice", "tel:+4670000000", &[]).await;
    assert_eq!(r.status(), Some(404));
    assert!(r.reason().unwrap().contains("SMS"), "{:?}", r.reason());
    let r = send_message(&mut alice, &c, "alice", "im:bob@example.com", &[]).await;
    assert_eq!(r.status(), Some(416));
    // Max-Forwards: 0 is refused before anything else.
    let to = format!("sip:bob@{DOMAIN}");
    let req = request(Method::Message, &to, &to, &to, &[]);
    let text =
        String::from_utf8_lossy(req.as_bytes()).replace("Max-Forwards: 70", "Max-Forwards: 0");
    let r = alice
        .transact(&c, Message::parse(text.into_bytes()).unwrap())
        .await;
    assert_eq!(r.status(), Some(483));
    assert_eq!(core.stats.get("not_found"), 2);
    assert_eq!(core.stats.get("unavailable"), 1);
}

#[tokio::test]
async fn wrong_passwords_get_the_source_throttled() {
    let mut s = settings();
    s.pike = PikeSettings {
        max_failures: 3,
        window: Duration::from_secs(60),
        block_for: Duration::from_secs(60),
    };
    let core = core(s, store()).await;
    let c = core.target();
    let mut ua = Ua::new().await;
    for _ in 0..3 {
        let r = register(&mut ua, &c, "alice", "wrong").await;
        assert_eq!(r.status(), Some(401));
    }
    // Give the core the registrar's note about the third failure.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let aor = format!("sip:alice@{DOMAIN}");
    let req = request(Method::Register, &format!("sip:{DOMAIN}"), &aor, &aor, &[]);
    let r = ua.transact(&c, req).await;
    assert_eq!(r.status(), Some(403), "{:?}", r.reason());
    eventually(|| core.stats.get("auth_failures") == 3).await;
    assert!(core.stats.get("pike_blocked") >= 1);
}

/// A proxying application server: takes its Route off and sends the request on to the
/// next Route; relays the response back.
async fn proxy_once(asv: &mut Ua, core: &Target) -> (Message, Message) {
    let inc = asv.request().await;
    let mut e = inc.message.edit();
    assert!(e.pop_route());
    e.push_via(format!("SIP/2.0/UDP 0.0.0.0;branch=z9hG4bKas{}", seq()));
    let fwd = Message::parse(e.encode()).unwrap();
    asv.handle().send_request(core.clone(), fwd).unwrap();
    let resp = loop {
        match asv.event().await {
            RoleEvent::Response(r) if r.message.status().unwrap() >= 200 => break r.message,
            RoleEvent::Response(_) => {}
            e => panic!(
                "{e:?}\n{}",
                match &e {
                    RoleEvent::Request(r) =>
                        String::from_utf8_lossy(r.message.as_bytes()).into_owned(),
                    _ => String::new(),
                }
            ),
        }
    };
    let mut e = resp.edit();
    e.pop_via();
    let back = Message::parse(e.encode()).unwrap();
    asv.handle().respond(&inc, back.clone()).unwrap();
    (inc.message, back)
}

#[tokio::test]
async fn originating_and_terminating_triggers_then_interworking() {
    let mut pf = Ua::new().await;
    let mut iwf = Ua::new().await;
    let mut s = settings();
    let pf_uri = format!("sip:pf@{}", pf.addr());
    s.triggers = vec![
        Trigger {
            priority: 10,
            methods: vec!["MESSAGE".into()],
            icsi: Some(cpm_sip::ICSI_CPM_MSG.into()),
            session_cases: vec![SessionCase::Originating],
            server: pf_uri.clone(),
            default_handling: DefaultHandling::Continue,
        },
        Trigger {
            priority: 20,
            methods: vec!["MESSAGE".into()],
            icsi: None,
            session_cases: vec![
                SessionCase::TerminatingRegistered,
                SessionCase::TerminatingUnregistered,
            ],
            server: pf_uri.clone(),
            default_handling: DefaultHandling::Continue,
        },
    ];
    s.routes = vec![Rule {
        name: "sms".into(),
        matches: Match {
            scheme: Some("tel".into()),
            ..Match::default()
        },
        target: format!("sip:{}", iwf.addr()),
    }];
    s.trusted = vec![TrustedPeer::parse(&pf.addr().to_string()).unwrap()];
    let core = core(s, store()).await;
    let c = core.target();
    let mut alice = Ua::new().await;
    let svc = [("P-Preferred-Service", cpm_sip::ICSI_CPM_MSG.to_string())];

    // CPM → SMS (Y.3): alice → core → PF (orig) → core → SMS IWF; 202 back the same way.
    let send = send_message(&mut alice, &c, "alice", "tel:+46700000123", &svc);
    let flow = async {
        let (at_pf, _) = proxy_once(&mut pf, &c).await;
        (at_pf, ())
    };
    let iwf_side = answer(&mut iwf, 202);
    let (resp, (at_pf, ()), at_iwf) = tokio::join!(send, flow, iwf_side);
    assert_eq!(resp.status(), Some(202));
    let psu = at_pf.header(HeaderName::PServedUser).unwrap();
    assert_eq!(psu, "<sip:alice@cpm.test>;sescase=orig;regstate=reg");
    let routes: Vec<String> = at_pf.routes().map(|r| r.as_str().to_string()).collect();
    assert_eq!(routes.len(), 2, "{routes:?}");
    assert!(
        routes[1].contains(";ctx="),
        "the core's token route: {routes:?}"
    );
    assert_eq!(
        at_pf.header(HeaderName::PAssertedService),
        Some(cpm_sip::ICSI_CPM_MSG)
    );
    assert_eq!(at_iwf.request_uri().unwrap().as_str(), "tel:+46700000123");
    assert_eq!(at_iwf.routes().len(), 0, "all Routes consumed");
    assert_eq!(
        at_iwf.header_values(HeaderName::PAssertedIdentity)[0],
        "<sip:alice@cpm.test>"
    );
    assert_eq!(
        at_iwf.vias().len(),
        4,
        "core, PF, core, alice: {:?}",
        at_iwf
            .vias()
            .map(|v| v.as_str().to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(core.stats.get("routed_sms"), 1);

    // Non-CPM → CPM: the (trusted) IWF side sends for bob, who is unregistered: the
    // terminating trigger fires with regstate=unreg, the PF answers 202 itself (deferred).
    let to = format!("sip:bob@{DOMAIN}");
    let from_sms = request(
        Method::Message,
        &to,
        "tel:+46700000123",
        &to,
        &[("P-Asserted-Identity", "<tel:+46700000123>".into())],
    );
    // The PF address is trusted; send from the PF endpoint.
    pf.handle().send_request(c.clone(), from_sms).unwrap();
    let inc = pf.request().await;
    assert_eq!(
        inc.message.header(HeaderName::PServedUser),
        Some("<sip:bob@cpm.test>;sescase=term;regstate=unreg")
    );
    assert_eq!(
        inc.message.header(HeaderName::PAssertedIdentity),
        Some("<tel:+46700000123>"),
        "trusted PAI kept"
    );
    let resp = ResponseBuilder::new(&inc.message, 202, "Accepted")
        .to_tag("pf")
        .build_message();
    pf.handle().respond(&inc, resp).unwrap();
    let back = loop {
        match pf.event().await {
            RoleEvent::Response(r) if r.message.status().unwrap() >= 200 => break r.message,
            RoleEvent::Response(_) => {}
            e => panic!("{e:?}"),
        }
    };
    assert_eq!(back.status(), Some(202));
    iwf.silent(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn silent_application_server_gets_default_handling() {
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap(); // never answers
    let mut s = settings();
    s.as_timeout = Duration::from_millis(300);
    s.triggers = vec![Trigger {
        priority: 1,
        methods: vec![],
        icsi: None,
        session_cases: vec![SessionCase::Originating],
        server: format!("sip:as@{}", dead.local_addr().unwrap()),
        default_handling: DefaultHandling::Continue,
    }];
    let core = core(s, store()).await;
    let c = core.target();
    let (mut alice, mut bob) = (Ua::new().await, Ua::new().await);
    assert_eq!(
        register(&mut bob, &c, "bob", "secret").await.status(),
        Some(200)
    );
    let to = format!("sip:bob@{DOMAIN}");
    let (r, got) = tokio::join!(
        send_message(&mut alice, &c, "alice", &to, &[]),
        answer(&mut bob, 200)
    );
    assert_eq!(r.status(), Some(200));
    assert!(
        got.header(HeaderName::PServedUser).is_none()
            || got
                .header(HeaderName::PServedUser)
                .unwrap()
                .contains("sescase=orig")
    );
    assert_eq!(core.stats.get("as_default_handling"), 1);
}

#[tokio::test]
async fn forks_to_every_contact_and_relays_the_best_answer() {
    let core = core(settings(), store()).await;
    let c = core.target();
    let (mut alice, mut bob1, mut bob2) = (Ua::new().await, Ua::new().await, Ua::new().await);
    assert_eq!(
        register(&mut bob1, &c, "bob", "secret").await.status(),
        Some(200)
    );
    let ok = register(&mut bob2, &c, "bob", "secret").await;
    assert_eq!(ok.contacts().len(), 2, "200 lists both bindings");
    let to = format!("sip:bob@{DOMAIN}");
    let (r, a, b) = tokio::join!(
        send_message(&mut alice, &c, "alice", &to, &[]),
        answer(&mut bob1, 486),
        answer(&mut bob2, 200)
    );
    assert_eq!(r.status(), Some(200));
    assert_eq!(a.call_id(), b.call_id());
    // Both refuse: the best (lowest class) wins.
    let (r, _, _) = tokio::join!(
        send_message(&mut alice, &c, "alice", &to, &[]),
        answer(&mut bob1, 486),
        answer(&mut bob2, 503)
    );
    assert_eq!(r.status(), Some(486));
}

#[tokio::test]
async fn a_request_routed_back_to_the_core_unchanged_is_a_loop() {
    let mut s = settings();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A (misconfigured) interworking route pointing at the core itself.
    s.routes = vec![Rule {
        name: "self".into(),
        matches: Match {
            scheme: Some("tel".into()),
            ..Match::default()
        },
        target: format!("sip:127.0.0.1:{port}"),
    }];
    let role = CoreRole::new(s, store());
    let stats = role.stats();
    let ep = Endpoint::start(
        EndpointConfig {
            udp: vec![format!("127.0.0.1:{port}").parse().unwrap()],
            ..EndpointConfig::default()
        },
        role,
    )
    .await
    .unwrap();
    let c = Target::Net(Transport::Udp, ep.local_addr(Transport::Udp).unwrap());
    let mut alice = Ua::new().await;
    let r = send_message(&mut alice, &c, "alice", "tel:+4670000001", &[]).await;
    assert_eq!(r.status(), Some(482), "{:?}", r.reason());
    assert_eq!(stats.get("loops"), 1);
}

#[tokio::test]
async fn invite_fork_is_cancelled_on_every_branch() {
    let core = core(settings(), store()).await;
    let c = core.target();
    let (mut alice, mut bob1, mut bob2) = (Ua::new().await, Ua::new().await, Ua::new().await);
    assert_eq!(
        register(&mut bob1, &c, "bob", "secret").await.status(),
        Some(200)
    );
    assert_eq!(
        register(&mut bob2, &c, "bob", "secret").await.status(),
        Some(200)
    );
    let to = format!("sip:bob@{DOMAIN}");
    let from = format!("sip:alice@{DOMAIN}");
    let invite = request(
        Method::Invite,
        &to,
        &from,
        &to,
        &[("Contact", format!("<{}>", alice.contact("alice")))],
    );
    let first = alice.transact(&c, invite.clone()).await;
    assert_eq!(first.status(), Some(407));
    let authed = with_credentials(&invite, &first, "alice", "secret");
    alice
        .handle()
        .send_request(c.clone(), authed.clone())
        .unwrap();
    // Both devices ring.
    let mut rung = Vec::new();
    for ua in [&mut bob1, &mut bob2] {
        let inc = ua.request().await;
        assert_eq!(inc.message.method(), Some(&Method::Invite));
        assert!(
            inc.message.header(HeaderName::RecordRoute).is_some(),
            "the core stays on the dialog path"
        );
        let ringing = ResponseBuilder::new(&inc.message, 180, "Ringing")
            .to_tag("ring")
            .build_message();
        ua.handle().respond(&inc, ringing).unwrap();
        rung.push(inc);
    }
    // alice sees 180, then cancels.
    loop {
        match alice.event().await {
            RoleEvent::Response(r) if r.message.status() == Some(180) => break,
            RoleEvent::Response(r) if r.message.status() == Some(100) => {}
            e => panic!("{e:?}"),
        }
    }
    let cancel = Message::parse(authed.cancel()).unwrap();
    alice.handle().send_request(c.clone(), cancel).unwrap();
    // Each device gets a CANCEL and answers the INVITE with 487.
    for (ua, inv) in [&mut bob1, &mut bob2].into_iter().zip(rung) {
        let inc = ua.request().await;
        assert_eq!(inc.message.method(), Some(&Method::Cancel));
        let ok = ResponseBuilder::new(&inc.message, 200, "OK")
            .to_tag("ring")
            .build_message();
        ua.handle().respond(&inc, ok).unwrap();
        let terminated = ResponseBuilder::new(&inv.message, 487, "Request Terminated")
            .to_tag("ring")
            .build_message();
        ua.handle().respond(&inv, terminated).unwrap();
    }
    let mut statuses = Vec::new();
    while statuses.len() < 2 {
        if let RoleEvent::Response(r) = alice.event().await {
            let s = r.message.status().unwrap();
            if s >= 200 {
                statuses.push((s, r.message.cseq_method().clone()));
            }
        }
    }
    statuses.sort_by_key(|(s, _)| *s);
    assert_eq!(statuses, vec![(200, Method::Cancel), (487, Method::Invite)]);
}

#[tokio::test]
async fn message_over_tcp_reaches_a_udp_contact() {
    let role = CoreRole::new(settings(), store());
    let ep = Endpoint::start(
        EndpointConfig {
            udp: vec!["127.0.0.1:0".parse().unwrap()],
            tcp: vec!["127.0.0.1:0".parse().unwrap()],
            ..EndpointConfig::default()
        },
        role,
    )
    .await
    .unwrap();
    let udp = Target::Net(Transport::Udp, ep.local_addr(Transport::Udp).unwrap());
    let tcp = Target::Net(Transport::Tcp, ep.local_addr(Transport::Tcp).unwrap());
    let (mut alice, mut bob) = (Ua::new().await, Ua::new().await);
    assert_eq!(
        register(&mut bob, &udp, "bob", "secret").await.status(),
        Some(200)
    );
    let to = format!("sip:bob@{DOMAIN}");
    let (r, got) = tokio::join!(
        send_message(&mut alice, &tcp, "alice", &to, &[]),
        answer(&mut bob, 200)
    );
    assert_eq!(r.status(), Some(200));
    let vias: Vec<String> = got.vias().map(|v| v.transport().to_string()).collect();
    assert_eq!(vias, vec!["UDP", "TCP"], "core over UDP, alice over TCP");
}

#[tokio::test]
async fn registrations_reach_the_participating_function_as_third_party_register() {
    let mut pf = Ua::new().await;
    let mut s = settings();
    s.triggers = vec![Trigger {
        priority: 1,
        methods: vec!["REGISTER".into()],
        icsi: None,
        session_cases: vec![SessionCase::Originating],
        server: format!("sip:pf@{}", pf.addr()),
        default_handling: DefaultHandling::Continue,
    }];
    let core = core(s, store()).await;
    let c = core.target();
    let mut bob = Ua::new().await;
    assert_eq!(
        register(&mut bob, &c, "bob", "secret").await.status(),
        Some(200)
    );
    let online = answer(&mut pf, 200).await;
    assert_eq!(online.method(), Some(&Method::Register));
    assert_eq!(online.to().uri().as_str(), "sip:bob@cpm.test");
    let expires = online.expires().unwrap();
    assert!((590..=600).contains(&expires), "{expires}");
    assert!(
        online
            .header(HeaderName::PServedUser)
            .unwrap()
            .contains("regstate=reg")
    );

    // bob leaves: Contact: * with Expires: 0.
    let aor = format!("sip:bob@{DOMAIN}");
    let req = request(
        Method::Register,
        &format!("sip:{DOMAIN}"),
        &aor,
        &aor,
        &[("Contact", "*".into()), ("Expires", "0".into())],
    );
    let first = bob.transact(&c, req.clone()).await;
    let gone = bob
        .transact(&c, with_credentials(&req, &first, "bob", "secret"))
        .await;
    assert_eq!(gone.status(), Some(200));
    assert_eq!(gone.contacts().len(), 0);
    let offline = answer(&mut pf, 200).await;
    assert_eq!(offline.expires(), Some(0));
    assert!(
        offline
            .header(HeaderName::PServedUser)
            .unwrap()
            .contains("regstate=unreg")
    );
    eventually(|| core.stats.get("third_party_registers") == 2).await;
}

#[tokio::test]
async fn bindings_survive_a_restart_of_the_core() {
    let dir = std::env::temp_dir().join(format!("cpm-core-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let open = || -> Arc<dyn Store> { Arc::new(SqliteStore::open(&dir).unwrap()) };
    {
        let s = open();
        for name in ["alice", "bob"] {
            s.add_user(&NewUser::new(name, DOMAIN, 1).password(DOMAIN, "secret"))
                .unwrap();
        }
    }
    let mut bob = Ua::new().await;
    let first = core(settings(), open()).await;
    assert_eq!(
        register(&mut bob, &first.target(), "bob", "secret")
            .await
            .status(),
        Some(200)
    );
    first.ep.shutdown().await;
    // A new core over the same data directory still knows where bob is.
    let second = core(settings(), open()).await;
    let mut alice = Ua::new().await;
    let to = format!("sip:bob@{DOMAIN}");
    let target = second.target();
    let (r, _) = tokio::join!(
        send_message(&mut alice, &target, "alice", &to, &[]),
        answer(&mut bob, 200)
    );
    assert_eq!(r.status(), Some(200));
    let _ = std::fs::remove_dir_all(&dir);
}
