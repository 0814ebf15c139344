//! The endpoint over real sockets on loopback (UDP, TCP, TLS; IPv4 and IPv6) and over the
//! in-memory hub. Every wait is bounded; nothing sleeps longer than a fraction of a second.

use std::net::SocketAddr;
use std::time::Duration;

use cpm_node::uas::BasicUas;
use cpm_node::{
    ChannelRole, Endpoint, EndpointConfig, Failure, MemoryHub, RoleEvent, Target, Transport,
    client_config_trusting, self_signed,
};
use cpm_sip::{Frame, HeaderName, Limits, Message, StreamFramer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

fn options(branch: &str, transport: &str, sent_by: &str) -> String {
    format!(
        "OPTIONS sip:cpm@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {sent_by};rport;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:t@127.0.0.1>;tag=1\r\n\
         To: <sip:cpm@127.0.0.1>\r\n\
         Call-ID: {branch}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn loopback(v6: bool) -> SocketAddr {
    if v6 {
        "[::1]:0".parse().unwrap()
    } else {
        "127.0.0.1:0".parse().unwrap()
    }
}

async fn uas(cfg: EndpointConfig) -> Endpoint {
    Endpoint::start(cfg, BasicUas::new()).await.unwrap()
}

fn udp_tcp(v6: bool) -> EndpointConfig {
    EndpointConfig {
        udp: vec![loopback(v6)],
        tcp: vec![loopback(v6)],
        ..EndpointConfig::default()
    }
}

async fn recv_udp(sock: &UdpSocket) -> Message {
    let mut buf = vec![0u8; 65_536];
    let (n, _) = timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .expect("UDP answer in time")
        .unwrap();
    Message::parse(buf[..n].to_vec()).unwrap()
}

/// Reads frames (messages and pongs) from a stream until `count` arrived.
struct Reader {
    framer: StreamFramer,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            framer: StreamFramer::new(Limits::default()),
        }
    }

    async fn frame(&mut self, s: &mut (impl AsyncReadExt + Unpin)) -> Frame {
        loop {
            if let Some(f) = self.framer.next_frame().unwrap() {
                return f;
            }
            let mut chunk = [0u8; 4096];
            let n = timeout(WAIT, s.read(&mut chunk))
                .await
                .expect("data in time")
                .unwrap();
            assert!(n > 0, "connection closed early");
            self.framer.push(&chunk[..n]);
        }
    }

    async fn message(&mut self, s: &mut (impl AsyncReadExt + Unpin)) -> Message {
        match self.frame(s).await {
            Frame::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

async fn udp_round_trip(v6: bool) {
    let ep = uas(udp_tcp(v6)).await;
    let server = ep.local_addr(Transport::Udp).unwrap();
    let client = UdpSocket::bind(loopback(v6)).await.unwrap();
    // sent-by names another host and port: the answer must go to received/rport.
    client
        .send_to(options("u1", "UDP", "192.0.2.1:5999").as_bytes(), server)
        .await
        .unwrap();
    let resp = recv_udp(&client).await;
    assert_eq!(resp.status(), Some(200));
    assert!(resp.header(HeaderName::Allow).unwrap().contains("OPTIONS"));
    let via = resp.top_via();
    let me = client.local_addr().unwrap();
    assert_eq!(via.received(), Some(me.ip().to_string().as_str()));
    assert_eq!(via.rport(), Some(Some(me.port())));
    ep.shutdown().await;
}

#[tokio::test]
async fn udp_round_trip_ipv4_with_received_and_rport() {
    udp_round_trip(false).await;
}

#[tokio::test]
async fn udp_round_trip_ipv6() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: no IPv6 loopback");
        return;
    }
    udp_round_trip(true).await;
}

#[tokio::test]
async fn udp_malformed_request_gets_400_and_malformed_response_is_dropped() {
    let ep = uas(udp_tcp(false)).await;
    let server = ep.local_addr(Transport::Udp).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let bad = options("u2", "UDP", "127.0.0.1:9").replace("Max-Forwards: 70", "Max-Forwards: 300");
    client.send_to(bad.as_bytes(), server).await.unwrap();
    let resp = recv_udp(&client).await;
    assert_eq!(resp.status(), Some(400));
    assert!(
        resp.reason().unwrap().contains("Max-Forwards"),
        "{:?}",
        resp.reason()
    );
    assert_eq!(resp.call_id(), "u2");
    // A malformed response and a lone keep-alive get nothing back; then a good request
    // is answered (so the socket is alive and nothing was queued before it).
    client
        .send_to(b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n", server)
        .await
        .unwrap();
    client.send_to(b"\r\n\r\n", server).await.unwrap();
    client
        .send_to(options("u3", "UDP", "127.0.0.1:9").as_bytes(), server)
        .await
        .unwrap();
    let resp = recv_udp(&client).await;
    assert_eq!(resp.call_id(), "u3");
    // Unknown method: 501; version 7.0: 505.
    let frob = options("u4", "UDP", "127.0.0.1:9").replace("OPTIONS", "FROBNICATE");
    client.send_to(frob.as_bytes(), server).await.unwrap();
    assert_eq!(recv_udp(&client).await.status(), Some(501));
    let v7 = options("u5", "UDP", "127.0.0.1:9").replace("SIP/2.0\r\n", "SIP/7.0\r\n");
    client.send_to(v7.as_bytes(), server).await.unwrap();
    assert_eq!(recv_udp(&client).await.status(), Some(505));
    ep.shutdown().await;
}

#[tokio::test]
async fn tcp_pipelined_split_keepalive_invalid_and_same_connection() {
    let ep = uas(udp_tcp(false)).await;
    let server = ep.local_addr(Transport::Tcp).unwrap();
    let mut s = TcpStream::connect(server).await.unwrap();
    let mut r = Reader::new();
    // Two requests in one write (pipelined); the sent-by port 9 is not listening, so the
    // answers can only arrive here, on the request's connection.
    let two = format!(
        "{}{}",
        options("t1", "TCP", "127.0.0.1:9"),
        options("t2", "TCP", "127.0.0.1:9")
    );
    s.write_all(two.as_bytes()).await.unwrap();
    assert_eq!(r.message(&mut s).await.call_id(), "t1");
    assert_eq!(r.message(&mut s).await.call_id(), "t2");
    // One request split into small writes.
    let third = options("t3", "TCP", "127.0.0.1:9");
    for chunk in third.as_bytes().chunks(7) {
        s.write_all(chunk).await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let m = r.message(&mut s).await;
    assert_eq!(m.call_id(), "t3");
    assert_eq!(m.status(), Some(200));
    // RFC 5626 keep-alive: CRLFCRLF ping, CRLF pong.
    s.write_all(b"\r\n\r\n").await.unwrap();
    assert!(matches!(r.frame(&mut s).await, Frame::Pong));
    // A framed but malformed request: 400, and the connection stays usable.
    let bad = options("t4", "TCP", "127.0.0.1:9").replace("Max-Forwards: 70", "Max-Forwards: 7x");
    s.write_all(bad.as_bytes()).await.unwrap();
    let m = r.message(&mut s).await;
    assert_eq!(m.status(), Some(400));
    assert!(m.reason().unwrap().contains("Max-Forwards"));
    s.write_all(options("t5", "TCP", "127.0.0.1:9").as_bytes())
        .await
        .unwrap();
    assert_eq!(r.message(&mut s).await.call_id(), "t5");
    // Lost framing (no Content-Length on a stream): answered 400 naming the fault, then
    // the connection is closed.
    let no_cl = options("t6", "TCP", "127.0.0.1:9").replace("Content-Length: 0\r\n", "");
    s.write_all(no_cl.as_bytes()).await.unwrap();
    let m = r.message(&mut s).await;
    assert_eq!((m.status(), m.call_id()), (Some(400), "t6"));
    assert!(
        m.reason().unwrap().contains("Content-Length"),
        "{:?}",
        m.reason()
    );
    let mut buf = [0u8; 64];
    let n = timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "expected close, got {:?}", &buf[..n]);
    ep.shutdown().await;
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let ep = uas(EndpointConfig {
        idle_timeout: Duration::from_millis(150),
        ..udp_tcp(false)
    })
    .await;
    let mut s = TcpStream::connect(ep.local_addr(Transport::Tcp).unwrap())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_millis(100));
    ep.shutdown().await;
}

async fn next(rx: &mut UnboundedReceiver<RoleEvent>) -> RoleEvent {
    timeout(WAIT, rx.recv())
        .await
        .expect("event in time")
        .unwrap()
}

async fn response(rx: &mut UnboundedReceiver<RoleEvent>) -> Message {
    match next(rx).await {
        RoleEvent::Response(r) => r.message,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn request(branch: &str) -> Message {
    // The Via sent-by is a placeholder: the endpoint stamps its own.
    Message::parse(options(branch, "UDP", "placeholder.invalid")).unwrap()
}

#[tokio::test]
async fn endpoint_to_endpoint_tcp_reuses_one_connection() {
    let (role, mut server_rx) = ChannelRole::new();
    let server = Endpoint::start(udp_tcp(false), role).await.unwrap();
    let (role, mut client_rx) = ChannelRole::new();
    let client = Endpoint::start(udp_tcp(false), role).await.unwrap();
    let to = Target::Net(Transport::Tcp, server.local_addr(Transport::Tcp).unwrap());
    let mut flows = Vec::new();
    for b in ["e1", "e2"] {
        client
            .handle()
            .send_request(to.clone(), request(b))
            .unwrap();
        let RoleEvent::Request(req) = next(&mut server_rx).await else {
            panic!("expected a request")
        };
        // Our sent-by was stamped: TCP and the client's TCP listener.
        let via = req.message.top_via();
        assert_eq!(via.transport(), "TCP");
        let client_tcp = client.local_addr(Transport::Tcp).unwrap();
        assert_eq!(via.port(), Some(client_tcp.port()));
        flows.push(req.peer.flow);
        let ok = cpm_sip::ResponseBuilder::new(&req.message, 200, "OK")
            .to_tag("x")
            .build_message();
        server.handle().respond(&req, ok).unwrap();
        let resp = response(&mut client_rx).await;
        assert_eq!(resp.call_id(), b);
    }
    assert_eq!(
        flows[0], flows[1],
        "the second request reused the connection"
    );
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn endpoint_to_endpoint_udp_ipv6_and_connect_failure() {
    let (role, mut rx) = ChannelRole::new();
    let v6 = std::net::UdpSocket::bind("[::1]:0").is_ok();
    let client = Endpoint::start(udp_tcp(false), role).await.unwrap();
    let server = uas(udp_tcp(false)).await;
    let to = Target::Net(Transport::Udp, server.local_addr(Transport::Udp).unwrap());
    client.handle().send_request(to, request("d1")).unwrap();
    assert_eq!(response(&mut rx).await.status(), Some(200));
    // TCP to a port nobody listens on: the role hears about it.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let to = Target::Net(Transport::Tcp, addr);
    client
        .handle()
        .send_request(to.clone(), request("d2"))
        .unwrap();
    match next(&mut rx).await {
        RoleEvent::RequestFailed(req, Failure::Transport(_)) => assert_eq!(req.call_id(), "d2"),
        other => panic!("expected a transport failure, got {other:?}"),
    }
    if v6 {
        let (role, mut rx6) = ChannelRole::new();
        let c6 = Endpoint::start(udp_tcp(true), role).await.unwrap();
        let s6 = uas(udp_tcp(true)).await;
        for t in [Transport::Udp, Transport::Tcp] {
            let to = Target::Net(t, s6.local_addr(t).unwrap());
            let branch = format!("d6{t}");
            c6.handle().send_request(to, request(&branch)).unwrap();
            let resp = response(&mut rx6).await;
            assert_eq!(resp.status(), Some(200));
            assert!(resp.top_via().host().starts_with("[::1]"));
        }
    }
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn tls_round_trip_with_self_signed_certificate() {
    let (server_tls, cert) = self_signed(&["127.0.0.1".to_string()]).unwrap();
    let server = uas(EndpointConfig {
        tls: vec![loopback(false)],
        tls_server: Some(server_tls),
        ..EndpointConfig::default()
    })
    .await;
    let (role, mut rx) = ChannelRole::new();
    let client = Endpoint::start(
        EndpointConfig {
            tls: vec![loopback(false)],
            tls_server: Some(self_signed(&["127.0.0.1".to_string()]).unwrap().0),
            tls_client: Some(client_config_trusting(&[cert]).unwrap()),
            ..EndpointConfig::default()
        },
        role,
    )
    .await
    .unwrap();
    let to = Target::Net(Transport::Tls, server.local_addr(Transport::Tls).unwrap());
    for b in ["s1", "s2"] {
        client
            .handle()
            .send_request(to.clone(), request(b))
            .unwrap();
        let resp = response(&mut rx).await;
        assert_eq!(resp.status(), Some(200));
        assert_eq!(resp.call_id(), b);
        assert_eq!(resp.top_via().transport(), "TLS");
    }
    // By name: the certificate names localhost, so a TLS target named so is verified.
    let (named_tls, named_cert) = self_signed(&["localhost".to_string()]).unwrap();
    let named = uas(EndpointConfig {
        tls: vec![loopback(false)],
        tls_server: Some(named_tls),
        ..EndpointConfig::default()
    })
    .await;
    let (role, mut rx3) = ChannelRole::new();
    let by_name = Endpoint::start(
        EndpointConfig {
            tls_client: Some(client_config_trusting(&[named_cert]).unwrap()),
            ..EndpointConfig::default()
        },
        role,
    )
    .await
    .unwrap();
    let addr = named.local_addr(Transport::Tls).unwrap();
    by_name
        .handle()
        .send_request(Target::TlsNamed(addr, "localhost".into()), request("s4"))
        .unwrap();
    assert_eq!(response(&mut rx3).await.status(), Some(200));
    // A client that does not trust the certificate fails the handshake.
    let (role, mut rx2) = ChannelRole::new();
    let other = self_signed(&["127.0.0.1".to_string()]).unwrap().1;
    let untrusting = Endpoint::start(
        EndpointConfig {
            tls_client: Some(client_config_trusting(&[other]).unwrap()),
            ..EndpointConfig::default()
        },
        role,
    )
    .await
    .unwrap();
    untrusting.handle().send_request(to, request("s3")).unwrap();
    assert!(matches!(
        next(&mut rx2).await,
        RoleEvent::RequestFailed(_, Failure::Transport(_))
    ));
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn memory_transport_between_two_endpoints() {
    let hub = MemoryHub::new();
    let server = uas(EndpointConfig {
        memory: Some((hub.clone(), "core".into())),
        ..EndpointConfig::default()
    })
    .await;
    let (role, mut rx) = ChannelRole::new();
    let client = Endpoint::start(
        EndpointConfig {
            memory: Some((hub.clone(), "client".into())),
            ..EndpointConfig::default()
        },
        role,
    )
    .await
    .unwrap();
    assert_eq!(hub.names(), ["client", "core"]);
    let to = Target::Memory("core".into());
    client
        .handle()
        .send_request(to.clone(), request("m1"))
        .unwrap();
    let resp = response(&mut rx).await;
    assert_eq!(resp.status(), Some(200));
    let via = resp.top_via();
    assert_eq!((via.transport(), via.host()), ("MEM", "client"));
    // The same parser runs on memory messages: the server answers 416 for a tel: URI.
    let tel = options("m2", "UDP", "x.invalid")
        .replace("OPTIONS sip:cpm@127.0.0.1", "OPTIONS tel:+15550001");
    client
        .handle()
        .send_request(to, Message::parse(tel).unwrap())
        .unwrap();
    assert_eq!(response(&mut rx).await.status(), Some(416));
    // An unknown name is a send error.
    client
        .handle()
        .send_request(Target::Memory("nobody".into()), request("m3"))
        .unwrap();
    assert!(matches!(
        next(&mut rx).await,
        RoleEvent::RequestFailed(_, Failure::Transport(_))
    ));
    server.shutdown().await;
    assert_eq!(hub.names(), ["client"]);
    client.shutdown().await;
}

#[tokio::test]
async fn large_request_goes_over_tcp_instead_of_udp() {
    // UDP and TCP on one port, as on 5060 in a deployment.
    let (role, mut server_rx) = ChannelRole::new();
    let mut server = None;
    for _ in 0..20 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let cfg = EndpointConfig {
            udp: vec![addr],
            tcp: vec![addr],
            ..EndpointConfig::default()
        };
        if let Ok(ep) = Endpoint::start(cfg, ChannelRole(role.0.clone())).await {
            server = Some(ep);
            break;
        }
    }
    let server = server.expect("a port free for UDP and TCP");
    let (role, mut client_rx) = ChannelRole::new();
    let client = Endpoint::start(udp_tcp(false), role).await.unwrap();
    let big = options("big", "UDP", "placeholder.invalid").replace(
        "Content-Length: 0\r\n",
        &format!("X-Padding: {}\r\nContent-Length: 0\r\n", "p".repeat(1400)),
    );
    let to = Target::Net(Transport::Udp, server.local_addr(Transport::Udp).unwrap());
    client
        .handle()
        .send_request(to, Message::parse(big).unwrap())
        .unwrap();
    let RoleEvent::Request(req) = next(&mut server_rx).await else {
        panic!("expected the request")
    };
    assert_eq!(req.peer.transport, Transport::Tcp);
    assert_eq!(req.message.top_via().transport(), "TCP");
    let ok = cpm_sip::ResponseBuilder::new(&req.message, 200, "OK").build_message();
    server.handle().respond(&req, ok).unwrap();
    assert_eq!(response(&mut client_rx).await.status(), Some(200));
}

#[tokio::test]
async fn keepalive_pings_hold_an_outbound_connection_open() {
    let (role, mut server_rx) = ChannelRole::new();
    let server = Endpoint::start(
        EndpointConfig {
            idle_timeout: Duration::from_millis(300),
            ..udp_tcp(false)
        },
        role,
    )
    .await
    .unwrap();
    let (role, _client_rx) = ChannelRole::new();
    let client = Endpoint::start(
        EndpointConfig {
            keepalive_interval: Some(Duration::from_millis(30)),
            ..udp_tcp(false)
        },
        role,
    )
    .await
    .unwrap();
    let to = Target::Net(Transport::Tcp, server.local_addr(Transport::Tcp).unwrap());
    let mut flows = Vec::new();
    for b in ["k1", "k2"] {
        client
            .handle()
            .send_request(to.clone(), request(b))
            .unwrap();
        let RoleEvent::Request(req) = next(&mut server_rx).await else {
            panic!("expected a request")
        };
        flows.push(req.peer.flow);
        // Longer than the server's idle timeout: only the pings keep the connection.
        tokio::time::sleep(Duration::from_millis(450)).await;
    }
    assert_eq!(flows[0], flows[1]);
}

#[tokio::test]
async fn responses_for_another_sent_by_are_dropped() {
    let (role, mut rx) = ChannelRole::new();
    let ep = Endpoint::start(udp_tcp(false), role).await.unwrap();
    let me = ep.local_addr(Transport::Udp).unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let resp = |sent_by: &str, id: &str| {
        format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {sent_by};branch=z9hG4bK{id}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: {id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    peer.send_to(resp("192.0.2.7:5060", "foreign").as_bytes(), me)
        .await
        .unwrap();
    peer.send_to(resp(&me.to_string(), "ours").as_bytes(), me)
        .await
        .unwrap();
    assert_eq!(response(&mut rx).await.call_id(), "ours");
}

#[tokio::test]
async fn oversize_udp_request_gets_513() {
    let ep = uas(EndpointConfig {
        limits: Limits {
            max_message_size: 600,
            ..Limits::default()
        },
        ..udp_tcp(false)
    })
    .await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let big = options("o1", "UDP", "127.0.0.1:9").replace(
        "Content-Length: 0\r\n",
        &format!("X-Padding: {}\r\nContent-Length: 0\r\n", "p".repeat(400)),
    );
    client
        .send_to(big.as_bytes(), ep.local_addr(Transport::Udp).unwrap())
        .await
        .unwrap();
    let resp = recv_udp(&client).await;
    assert_eq!(resp.status(), Some(513));
    assert_eq!(resp.call_id(), "o1");
}

#[tokio::test]
async fn oversize_tcp_request_gets_513_then_the_connection_closes() {
    let ep = uas(EndpointConfig {
        limits: Limits {
            max_message_size: 600,
            ..Limits::default()
        },
        ..udp_tcp(false)
    })
    .await;
    let mut s = TcpStream::connect(ep.local_addr(Transport::Tcp).unwrap())
        .await
        .unwrap();
    // The header section announces a body far over the limit: framing is lost.
    let big = options("o2", "TCP", "127.0.0.1:9")
        .replace("Content-Length: 0\r\n", "Content-Length: 100000\r\n");
    s.write_all(big.as_bytes()).await.unwrap();
    let mut reader = Reader::new();
    let resp = reader.message(&mut s).await;
    assert_eq!(resp.status(), Some(513));
    assert_eq!(resp.call_id(), "o2");
    let mut rest = [0u8; 16];
    let n = timeout(WAIT, s.read(&mut rest)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "the connection is closed after 513");
}

#[tokio::test]
async fn udp_retransmission_is_answered_by_the_transaction_not_the_role() {
    let (role, mut rx) = ChannelRole::new();
    let ep = Endpoint::start(udp_tcp(false), role).await.unwrap();
    let server = ep.local_addr(Transport::Udp).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let req = options("r1", "UDP", "127.0.0.1:9");
    client.send_to(req.as_bytes(), server).await.unwrap();
    let RoleEvent::Request(incoming) = next(&mut rx).await else {
        panic!("expected the request")
    };
    assert!(incoming.transaction.is_some());
    let ok = cpm_sip::ResponseBuilder::new(&incoming.message, 200, "OK")
        .to_tag("x1")
        .build_message();
    ep.handle().respond(&incoming, ok).unwrap();
    assert_eq!(recv_udp(&client).await.to().tag(), Some("x1"));
    client.send_to(req.as_bytes(), server).await.unwrap();
    let again = recv_udp(&client).await;
    assert_eq!((again.status(), again.to().tag()), (Some(200), Some("x1")));
    assert!(
        timeout(Duration::from_millis(200), rx.recv())
            .await
            .is_err(),
        "the retransmission reached the role"
    );
}

#[tokio::test]
async fn client_transaction_retransmits_over_udp_then_times_out() {
    let mut transactions = cpm_sip::transaction::Config::default();
    transactions.t1 = Duration::from_millis(10); // Timer F = 64·T1 = 640 ms
    let (role, mut rx) = ChannelRole::new();
    let client = Endpoint::start(
        EndpointConfig {
            transactions,
            ..udp_tcp(false)
        },
        role,
    )
    .await
    .unwrap();
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = Target::Net(Transport::Udp, silent.local_addr().unwrap());
    client.handle().send_request(to, request("f1")).unwrap();
    let mut buf = vec![0u8; 65_536];
    for _ in 0..3 {
        let (n, _) = timeout(WAIT, silent.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let m = Message::parse(buf[..n].to_vec()).unwrap();
        assert_eq!(m.call_id(), "f1");
        assert!(m.top_via().is_rfc3261_branch());
    }
    match next(&mut rx).await {
        RoleEvent::RequestFailed(req, Failure::Timeout(timer)) => {
            assert_eq!(req.call_id(), "f1");
            assert_eq!(timer, cpm_sip::transaction::Timer::F);
        }
        other => panic!("expected Timer F, got {other:?}"),
    }
}

#[tokio::test]
async fn invite_gets_100_then_405_and_its_cancel_200() {
    let ep = uas(udp_tcp(false)).await;
    let server = ep.local_addr(Transport::Udp).unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let invite = options("i1", "UDP", "127.0.0.1:9").replace("OPTIONS", "INVITE");
    client.send_to(invite.as_bytes(), server).await.unwrap();
    let first = recv_udp(&client).await;
    let second = recv_udp(&client).await;
    assert_eq!(first.status(), Some(100));
    assert_eq!(second.status(), Some(405));
    assert_eq!(second.header(HeaderName::Allow), Some("OPTIONS"));
    let cancel = options("i1", "UDP", "127.0.0.1:9").replace("OPTIONS", "CANCEL");
    client.send_to(cancel.as_bytes(), server).await.unwrap();
    let resp = recv_udp(&client).await;
    assert_eq!(
        (resp.status(), resp.cseq_method().as_str()),
        (Some(200), "CANCEL")
    );
    // A CANCEL that matches nothing: 481.
    let stray = options("i2", "UDP", "127.0.0.1:9").replace("OPTIONS", "CANCEL");
    client.send_to(stray.as_bytes(), server).await.unwrap();
    assert_eq!(recv_udp(&client).await.status(), Some(481));
}
