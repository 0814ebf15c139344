//! `cpm serve` as a process: OPTIONS to the server itself answered 200 over UDP and TCP, malformed requests 400,
//! unknown methods 501, known-but-unserved 405, tel: 416, ACK never answered, TLS bound
//! with a generated certificate, and a clean exit on SIGTERM. Bounded waits only.

mod common;

use common::{Server, free_port};
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use cpm_sip::{Frame, HeaderName, Limits, Message, StreamFramer};

const WAIT: Duration = Duration::from_secs(5);

fn start(extra: &[&str]) -> Server {
    common::serve(common::temp_dir("serve"), extra)
}

/// The server's own URI (requests to it are answered by the core itself).
fn local(port: u16) -> String {
    format!("sip:127.0.0.1:{port}")
}

fn request(method: &str, uri: &str, transport: &str, id: &str, extra: &str) -> String {
    format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:9;rport;branch=z9hG4bK{id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:test@127.0.0.1>;tag=t{id}\r\n\
         To: <sip:cpm@127.0.0.1>\r\n\
         Call-ID: {id}\r\n\
         CSeq: 1 {method}\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    )
}

fn udp_exchange(sock: &UdpSocket, port: u16, msg: &str) -> Option<Message> {
    sock.send_to(msg.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 65_536];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(Message::parse(buf[..n].to_vec()).unwrap()),
        Err(_) => None,
    }
}

#[test]
fn answers_over_udp() {
    let server = start(&[]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let ok = udp_exchange(
        &sock,
        server.port,
        &request("OPTIONS", &local(server.port), "UDP", "u1", ""),
    )
    .unwrap();
    assert_eq!(ok.status(), Some(200));
    assert!(ok.header(HeaderName::Allow).unwrap().contains("OPTIONS"));
    assert!(ok.header(HeaderName::Accept).is_some());
    assert!(ok.header(HeaderName::Supported).is_some());
    assert!(ok.to().tag().is_some());
    // The Via says port 9; the answer came here because of received/rport.
    let me = sock.local_addr().unwrap().port();
    assert_eq!(ok.top_via().rport(), Some(Some(me)));

    let bad = request("OPTIONS", &local(server.port), "UDP", "u2", "")
        .replace("Max-Forwards: 70", "Max-Forwards: 300");
    let resp = udp_exchange(&sock, server.port, &bad).unwrap();
    assert_eq!(resp.status(), Some(400));
    assert!(resp.reason().unwrap().contains("Max-Forwards"));

    let cases = [
        ("FROBNICATE", local(server.port), 501),
        ("MESSAGE", local(server.port), 405),
        // Not for the server itself: an unauthenticated client is challenged first.
        ("OPTIONS", "tel:+15550001".to_string(), 407),
    ];
    for (i, (method, uri, code)) in cases.into_iter().enumerate() {
        let r = udp_exchange(
            &sock,
            server.port,
            &request(method, &uri, "UDP", &format!("c{i}"), ""),
        )
        .unwrap();
        assert_eq!(r.status(), Some(code), "{method} {uri}");
        if code == 405 {
            assert_eq!(r.header(HeaderName::Allow), Some("OPTIONS"));
        }
    }
    let v7 = request("OPTIONS", &local(server.port), "UDP", "u3", "").replacen(
        "SIP/2.0\r\n",
        "SIP/7.0\r\n",
        1,
    );
    assert_eq!(
        udp_exchange(&sock, server.port, &v7).unwrap().status(),
        Some(505)
    );

    // ACK is never answered: the next answer on the socket is the OPTIONS after it.
    sock.send_to(
        request("ACK", &local(server.port), "UDP", "a1", "").as_bytes(),
        ("127.0.0.1", server.port),
    )
    .unwrap();
    let after = udp_exchange(
        &sock,
        server.port,
        &request("OPTIONS", &local(server.port), "UDP", "u4", ""),
    )
    .unwrap();
    assert_eq!(after.call_id(), "u4");
}

fn tcp_read(s: &mut TcpStream, framer: &mut StreamFramer) -> Message {
    loop {
        match framer.next_frame().unwrap() {
            Some(Frame::Message(m)) => return m,
            Some(other) => panic!("unexpected {other:?}"),
            None => {}
        }
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed");
        framer.push(&buf[..n]);
    }
}

#[test]
fn answers_over_tcp_on_the_same_connection() {
    let server = start(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut framer = StreamFramer::new(Limits::default());
    s.write_all(request("OPTIONS", &local(server.port), "TCP", "t1", "").as_bytes())
        .unwrap();
    let ok = tcp_read(&mut s, &mut framer);
    assert_eq!((ok.status(), ok.call_id()), (Some(200), "t1"));
    let garbage = request("OPTIONS", &local(server.port), "TCP", "t2", "")
        .replace("Max-Forwards: 70", "Max-Forwards: lots");
    s.write_all(garbage.as_bytes()).unwrap();
    let bad = tcp_read(&mut s, &mut framer);
    assert_eq!((bad.status(), bad.call_id()), (Some(400), "t2"));
    // The connection survives a framed-but-malformed request.
    s.write_all(request("OPTIONS", &local(server.port), "TCP", "t3", "").as_bytes())
        .unwrap();
    assert_eq!(tcp_read(&mut s, &mut framer).call_id(), "t3");
}

#[test]
fn tls_listener_and_clean_sigterm_shutdown() {
    let tls_port = free_port();
    let mut server = start(&["--tls", &format!("127.0.0.1:{tls_port}")]);
    // The TLS listener is bound after the plain SIP one; wait for it too.
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", tls_port)).is_err() {
        assert!(Instant::now() < deadline, "TLS port never bound");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    if !killed.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: no kill(1) to send SIGTERM");
        return;
    }
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cpm serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn usage_errors_and_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_cpm"))
        .args(["serve", "--cert", "x.pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--cert needs --tls and --key");
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["sip", "parse", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cpm"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(!out.stdout.is_empty());
    }
}
