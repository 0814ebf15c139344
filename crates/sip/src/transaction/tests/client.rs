//! Client transactions: Timers A, B, C, D, E, F, K, M, the ACK for non-2xx, CANCEL.

use super::*;

fn diffs(times: &[Duration]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn timer_e_doubles_to_t2_and_timer_f_times_out_at_32s() {
    let mut s = Solo::new();
    let k = s.send(request("MESSAGE", "z9hG4bKe1", "c1"), false);
    s.settle();
    let times = s.sent_times();
    assert_eq!(times[0], Duration::ZERO);
    let gaps = diffs(&times);
    assert_eq!(&gaps[..5], &[ms(500), secs(1), secs(2), secs(4), secs(4)]);
    assert!(gaps[3..].iter().all(|g| *g == secs(4)));
    assert!(*times.last().unwrap() < secs(32));
    // 0, .5, 1.5, 3.5, 7.5, 11.5, ... 31.5: 11 transmissions.
    assert_eq!(times.len(), 11);
    assert!(s.sent.iter().skip(1).all(|(_, t)| t.retransmission));
    assert_eq!(s.timeouts(), vec![(secs(32), Timer::F)]);
    assert_eq!(s.terminated_at(k), Some(secs(32)));
    assert!(s.l.is_empty());
    assert!(s.l.poll_timeout().is_none());
    // RFC 4320: the layer never makes up a 408.
    assert_eq!(s.count(|e| matches!(e, Event::Final { .. })), 0);
}

#[test]
fn reliable_transport_sends_once() {
    let mut s = Solo::new();
    s.send(request("MESSAGE", "z9hG4bKr1", "c1"), true);
    s.send(request("INVITE", "z9hG4bKr2", "c2"), true);
    s.settle();
    assert_eq!(s.sent.len(), 2);
    let mut t = s.timeouts();
    t.sort();
    assert_eq!(t, vec![(secs(32), Timer::B), (secs(32), Timer::F)]);
    assert!(s.l.is_empty());
}

#[test]
fn proceeding_retransmits_every_t2() {
    let mut s = Solo::new();
    let req = request("MESSAGE", "z9hG4bKp1", "c1");
    let k = s.send(req.clone(), false);
    s.advance(ms(200));
    s.recv_response(response(&req, 100));
    assert_eq!(s.l.state(k), Some(State::Proceeding));
    assert_eq!(s.count(|e| matches!(e, Event::Provisional { .. })), 1);
    s.advance(secs(10));
    assert_eq!(s.sent_times(), vec![ms(0), ms(500), ms(4500), ms(8500)]);
}

#[test]
fn timer_k_absorbs_response_retransmissions() {
    for reliable in [false, true] {
        let mut s = Solo::new();
        let req = request("MESSAGE", "z9hG4bKk1", "c1");
        let k = s.send(req.clone(), reliable);
        s.advance(secs(1));
        s.recv_response(response(&req, 200));
        assert_eq!(s.count(|e| matches!(e, Event::Final { .. })), 1);
        if reliable {
            // Timer K = 0: Terminated at once; a duplicate is a stray.
            assert_eq!(s.terminated_at(k), Some(secs(1)));
            s.recv_response(response(&req, 200));
            assert_eq!(s.count(|e| matches!(e, Event::StrayResponse { .. })), 1);
            continue;
        }
        assert_eq!(s.l.state(k), Some(State::Completed));
        s.advance(secs(2));
        s.recv_response(response(&req, 200));
        assert_eq!(s.count(|e| matches!(e, Event::Final { .. })), 1);
        assert_eq!(
            s.count(|e| matches!(e, Event::Absorbed { count: 1, .. })),
            1
        );
        // No retransmission of the request after the final response.
        assert_eq!(s.sent.len(), 2);
        s.settle();
        assert_eq!(s.terminated_at(k), Some(secs(6)), "K = T4 after the final");
        assert_eq!(s.l.stats().absorbed, 1);
    }
}

#[test]
fn invite_timer_a_doubles_and_timer_b_times_out() {
    let mut s = Solo::new();
    let k = s.send(request("INVITE", "z9hG4bKa1", "c1"), false);
    s.settle();
    let times = s.sent_times();
    assert_eq!(
        diffs(&times),
        vec![ms(500), secs(1), secs(2), secs(4), secs(8), secs(16)]
    );
    assert_eq!(s.timeouts(), vec![(secs(32), Timer::B)]);
    assert_eq!(s.terminated_at(k), Some(secs(32)));
}

#[test]
fn invite_non_2xx_is_acked_and_the_ack_resent_on_retransmission() {
    let mut s = Solo::new();
    let req = request("INVITE", "z9hG4bKn1", "c1");
    let k = s.send(req.clone(), false);
    s.advance(ms(700));
    s.recv_response(response(&req, 180));
    s.advance(secs(2));
    s.recv_response(response(&req, 486));
    assert_eq!(s.l.state(k), Some(State::Completed));
    let msgs = s.sent_msgs();
    // INVITE, one Timer A retransmission at 0.5 s, then the ACK.
    assert_eq!(msgs.len(), 3);
    let (at, ack) = &msgs[2];
    assert_eq!(*at, secs(2));
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.top_via().branch(), Some("z9hG4bKn1"));
    assert_eq!(ack.to().tag(), Some("b1"));
    assert_eq!(ack.cseq_method(), &Method::Ack);
    assert_eq!(s.count(|e| matches!(e, Event::Final { .. })), 1);
    // The 486 again: the same ACK again, nothing for the TU.
    s.advance(secs(3));
    s.recv_response(response(&req, 486));
    assert_eq!(s.sent.len(), 4);
    assert_eq!(s.sent[3].1.payload, s.sent[2].1.payload);
    assert!(s.sent[3].1.retransmission);
    assert_eq!(s.count(|e| matches!(e, Event::Final { .. })), 1);
    s.settle();
    assert_eq!(s.terminated_at(k), Some(secs(34)), "Timer D = 32 s");
}

#[test]
fn invite_non_2xx_over_reliable_terminates_at_once() {
    let mut s = Solo::new();
    let req = request("INVITE", "z9hG4bKn2", "c1");
    let k = s.send(req.clone(), true);
    s.recv_response(response(&req, 603));
    assert_eq!(s.sent.len(), 2, "INVITE and ACK");
    assert_eq!(s.terminated_at(k), Some(Duration::ZERO), "Timer D = 0");
}

#[test]
fn invite_2xx_goes_to_accepted_and_further_2xx_reach_the_tu() {
    let mut s = Solo::new();
    let req = request("INVITE", "z9hG4bKm1", "c1");
    let k = s.send(req.clone(), false);
    s.advance(secs(1));
    s.recv_response(response_tagged(&req, 200, "fork1"));
    assert_eq!(s.l.state(k), Some(State::Accepted));
    s.advance(secs(2));
    s.recv_response(response_tagged(&req, 200, "fork1"));
    s.recv_response(response_tagged(&req, 200, "fork2"));
    // A late non-2xx is absorbed.
    s.recv_response(response(&req, 404));
    assert_eq!(s.count(|e| matches!(e, Event::Final { .. })), 3);
    assert_eq!(s.count(|e| matches!(e, Event::Absorbed { .. })), 1);
    // The layer never ACKs a 2xx; Timer A stopped at the 2xx.
    let methods: Vec<_> = s
        .sent_msgs()
        .iter()
        .map(|(_, m)| m.method().cloned())
        .collect();
    assert!(methods.iter().all(|m| *m == Some(Method::Invite)));
    assert_eq!(s.sent_times(), vec![ms(0), ms(500)]);
    s.settle();
    assert_eq!(s.terminated_at(k), Some(secs(33)), "Timer M = 64·T1");
}

#[test]
fn timer_c_then_cancel_then_abandon() {
    let mut s = Solo::new();
    let req = request("INVITE", "z9hG4bKc1", "c1");
    let k = s.send(req.clone(), false);
    // No CANCEL before a provisional response (RFC 3261 §9.1).
    assert_eq!(
        s.l.send_cancel(s.now, k),
        Err(Error::CannotCancel {
            key: k,
            state: State::Calling
        })
    );
    s.recv_response(response(&req, 100));
    s.advance(secs(179));
    assert!(s.timeouts().is_empty());
    assert_eq!(s.sent.len(), 1, "no retransmission in Proceeding");
    s.advance(secs(180));
    assert_eq!(s.timeouts(), vec![(secs(180), Timer::C)]);
    assert_eq!(s.l.state(k), Some(State::Proceeding));
    let ck = s.l.send_cancel(s.now, k).unwrap();
    s.drain();
    let cancel = Message::parse(s.sent.last().unwrap().1.payload.clone()).unwrap();
    assert_eq!(cancel.method(), Some(&Method::Cancel));
    assert_eq!(cancel.top_via().branch(), Some("z9hG4bKc1"));
    // The 200 to the CANCEL goes to the CANCEL transaction, not the INVITE.
    s.recv_response(response(&cancel, 200));
    assert!(matches!(
        s.events.iter().rev().find(|(_, e)| matches!(e, Event::Final { .. })),
        Some((_, Event::Final { key, .. })) if *key == ck
    ));
    assert_eq!(s.l.state(k), Some(State::Proceeding));
    // No 487 ever: the INVITE transaction is destroyed 64·T1 after the CANCEL.
    s.settle();
    assert_eq!(s.terminated_at(k), Some(secs(212)));
    assert!(s.l.is_empty());
}

#[test]
fn cancel_then_487_is_acked() {
    let mut s = Solo::new();
    let req = request("INVITE", "z9hG4bKc2", "c1");
    let k = s.send(req.clone(), false);
    s.recv_response(response(&req, 180));
    let ck = s.l.send_cancel(s.now, k).unwrap();
    s.drain();
    assert_ne!(ck, k);
    s.advance(ms(100));
    s.recv_response(response(&req, 487));
    let last = s.sent_msgs().pop().unwrap().1;
    assert_eq!(last.method(), Some(&Method::Ack));
    assert_eq!(s.l.state(k), Some(State::Completed));
}

#[test]
fn api_misuse_and_strays() {
    let mut s = Solo::new();
    let ack = request("ACK", "z9hG4bKx", "c1");
    assert_eq!(
        s.l.send_request(s.now, ack, 1, false),
        Err(Error::AckIsNotATransaction)
    );
    let old = request("MESSAGE", "1234", "c1");
    assert_eq!(s.l.send_request(s.now, old, 1, false), Err(Error::NoBranch));
    let req = request("MESSAGE", "z9hG4bKdup", "c1");
    let k = s.send(req.clone(), false);
    assert_eq!(
        s.l.send_request(s.now, req.clone(), 1, false),
        Err(Error::DuplicateTransaction(k))
    );
    assert_eq!(
        s.l.send_request(s.now, response(&req, 200), 1, false),
        Err(Error::NotARequest)
    );
    assert_eq!(
        s.l.handle_response(s.now, req.clone()),
        Err(Error::NotAResponse)
    );
    assert_eq!(
        s.l.send_response(s.now, k, response(&req, 200)),
        Err(Error::WrongRole(k))
    );
    // Same branch, other method: stray. Other branch: stray.
    s.recv_response(response(&request("OPTIONS", "z9hG4bKdup", "c1"), 200));
    s.recv_response(response(&request("MESSAGE", "z9hG4bKother", "c1"), 200));
    assert_eq!(s.count(|e| matches!(e, Event::StrayResponse { .. })), 2);
    assert_eq!(s.l.stats().stray_responses, 2);
    assert_eq!(s.l.state(k), Some(State::Trying));
    // Transport error ends the transaction.
    s.l.handle_transport_error(s.now, k).unwrap();
    s.drain();
    assert_eq!(s.count(|e| matches!(e, Event::TransportError { .. })), 1);
    assert!(s.terminated_at(k).is_some());
    assert_eq!(
        s.l.handle_transport_error(s.now, k),
        Err(Error::UnknownTransaction(k))
    );
    assert!(s.l.poll_timeout().is_none(), "stale timers are dropped");
}
