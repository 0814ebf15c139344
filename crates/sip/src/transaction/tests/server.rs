//! Server transactions: the response cache, Timers G, H, I, J, L, RFC 4320's 100 rules,
//! RFC 6026 Accepted, CANCEL matching and RFC 2543 matching.

use super::*;

#[test]
fn non_invite_retransmission_gets_cached_final_and_timer_j() {
    let mut s = Solo::new();
    let req = request("MESSAGE", "z9hG4bKs1", "c1");
    s.recv_request(req.clone(), false);
    let k = s.new_request_key();
    assert_eq!(s.l.state(k), Some(State::Trying));
    // Retransmission in Trying: nothing to send, nothing for the TU.
    s.advance(ms(500));
    s.recv_request(req.clone(), false);
    assert!(s.sent.is_empty());
    assert_eq!(s.count(|e| matches!(e, Event::Request { .. })), 1);
    s.advance(secs(1));
    s.respond(k, response(&req, 202)).unwrap();
    assert_eq!(s.l.state(k), Some(State::Completed));
    s.advance(ms(1500));
    s.recv_request(req.clone(), false);
    s.advance(secs(20));
    s.recv_request(req.clone(), false);
    assert_eq!(s.sent.len(), 3);
    assert!(
        s.sent
            .iter()
            .all(|(_, t)| t.payload == s.sent[0].1.payload && t.to == 5)
    );
    assert!(s.sent[1].1.retransmission);
    assert_eq!(s.count(|e| matches!(e, Event::Request { .. })), 1);
    assert_eq!(s.count(|e| matches!(e, Event::Absorbed { .. })), 3);
    assert_eq!(
        s.respond(k, response(&req, 500)),
        Err(Error::FinalAlreadySent(k))
    );
    s.settle();
    assert_eq!(
        s.terminated_at(k),
        Some(secs(33)),
        "Timer J = 64·T1 after the final"
    );
    // After J a retransmission would be a new transaction: the layer holds nothing.
    assert!(s.l.is_empty());
}

#[test]
fn non_invite_over_reliable_terminates_on_final() {
    let mut s = Solo::new();
    let req = request("MESSAGE", "z9hG4bKs2", "c1");
    s.recv_request(req.clone(), true);
    let k = s.new_request_key();
    s.respond(k, response(&req, 200)).unwrap();
    assert_eq!(s.terminated_at(k), Some(Duration::ZERO), "Timer J = 0");
}

#[test]
fn rfc4320_provisional_rules() {
    let mut s = Solo::new();
    let req = request("MESSAGE", "z9hG4bKs3", "c1");
    s.recv_request(req.clone(), false);
    let k = s.new_request_key();
    assert_eq!(
        s.respond(k, response(&req, 180)),
        Err(Error::ProvisionalNotAllowed(180))
    );
    s.advance(ms(3499));
    assert_eq!(
        s.respond(k, response(&req, 100)),
        Err(Error::TryingTooEarly)
    );
    s.advance(ms(3500));
    s.respond(k, response(&req, 100)).unwrap();
    assert_eq!(s.l.state(k), Some(State::Proceeding));
    // Proceeding: a retransmission gets the 100 again.
    s.recv_request(req.clone(), false);
    assert_eq!(s.sent.len(), 2);
    // Over a reliable transport a 100 may go at once.
    let req2 = request("MESSAGE", "z9hG4bKs4", "c2");
    s.recv_request(req2.clone(), true);
    let k2 = match &s
        .events
        .iter()
        .rev()
        .find(|(_, e)| matches!(e, Event::Request { .. }))
    {
        Some((_, Event::Request { key, .. })) => *key,
        _ => unreachable!(),
    };
    s.respond(k2, response(&req2, 100)).unwrap();
    // Response with the wrong CSeq method.
    assert_eq!(
        s.respond(k2, response(&request("OPTIONS", "z9hG4bKs4", "c2"), 200)),
        Err(Error::MethodMismatch)
    );
}

#[test]
fn automatic_100_for_non_invite_waits_until_timer_e_reaches_t2() {
    let cfg = Config {
        non_invite_trying: true,
        ..Config::default()
    };
    let mut s = Solo::with(cfg.clone());
    let req = request("MESSAGE", "z9hG4bKt1", "c1");
    s.recv_request(req.clone(), false);
    let k = s.new_request_key();
    s.advance(ms(3499));
    assert!(
        s.sent.is_empty(),
        "no 100 over UDP before Timer E reaches T2"
    );
    s.advance(secs(4));
    let msgs = s.sent_msgs();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].0, ms(3500));
    assert_eq!(msgs[0].1.status(), Some(100));
    assert_eq!(s.l.state(k), Some(State::Proceeding));
    s.respond(k, response(&req, 200)).unwrap();
    assert_eq!(s.sent.len(), 2);

    // Answered before the gate: no 100 at all. Reliable: no automatic 100 either.
    let mut s = Solo::with(cfg);
    let req = request("MESSAGE", "z9hG4bKt2", "c1");
    s.recv_request(req.clone(), false);
    let k = s.new_request_key();
    s.advance(secs(1));
    s.respond(k, response(&req, 200)).unwrap();
    s.recv_request(request("MESSAGE", "z9hG4bKt3", "c2"), true);
    s.settle();
    assert_eq!(s.sent.len(), 1);
}

#[test]
fn unanswered_non_invite_is_abandoned_without_408() {
    let mut s = Solo::new();
    s.recv_request(request("MESSAGE", "z9hG4bKab", "c1"), false);
    let k = s.new_request_key();
    s.settle();
    assert_eq!(s.timeouts(), vec![(secs(32), Timer::Abandon)]);
    assert_eq!(s.terminated_at(k), Some(secs(32)));
    assert!(s.sent.is_empty(), "never a 408 (RFC 4320)");
}

#[test]
fn invite_100_then_timer_g_until_ack_then_timer_i() {
    let mut s = Solo::new();
    let req = request("INVITE", "z9hG4bKg1", "c1");
    s.recv_request(req.clone(), false);
    let k = s.new_request_key();
    assert_eq!(s.sent_msgs()[0].1.status(), Some(100), "100 at once");
    s.advance(ms(500));
    s.recv_request(req.clone(), false);
    assert_eq!(s.sent.len(), 2, "retransmitted INVITE gets the 100 again");
    s.advance(secs(1));
    s.respond(k, response(&req, 486)).unwrap();
    assert_eq!(s.l.state(k), Some(State::Completed));
    s.advance(secs(10));
    let g: Vec<_> = s.sent_times()[2..].to_vec();
    // 1, 1.5, 2.5, 4.5, 8.5 (G: 0.5, 1, 2, 4 = T2 cap)
    assert_eq!(g, vec![secs(1), ms(1500), ms(2500), ms(4500), ms(8500)]);
    // A retransmitted INVITE in Completed gets the final response.
    s.recv_request(req.clone(), false);
    assert_eq!(
        Message::parse(s.sent.last().unwrap().1.payload.clone())
            .unwrap()
            .status(),
        Some(486)
    );
    let n = s.sent.len();
    let ack = Message::parse(req.ack_for_non_2xx(&response(&req, 486))).unwrap();
    s.recv_request(ack.clone(), false);
    assert_eq!(s.l.state(k), Some(State::Confirmed));
    s.recv_request(ack, false);
    assert_eq!(s.count(|e| matches!(e, Event::Ack { .. })), 0, "absorbed");
    s.settle();
    assert_eq!(s.sent.len(), n, "G stops at the ACK");
    assert_eq!(s.terminated_at(k), Some(secs(15)), "Timer I = T4");
    assert_eq!(s.count(|e| matches!(e, Event::Request { .. })), 1);
}

#[test]
fn invite_timer_h_without_ack() {
    let mut s = Solo::new();
    let req = request("INVITE", "z9hG4bKh1", "c1");
    s.recv_request(req.clone(), false);
    let k = s.new_request_key();
    s.respond(k, response(&req, 503)).unwrap();
    s.settle();
    assert_eq!(s.timeouts(), vec![(secs(32), Timer::H)]);
    assert_eq!(s.terminated_at(k), Some(secs(32)));
    // 100, 503 at 0, then G at .5, 1.5, 3.5, 7.5, 11.5, ..., 31.5.
    let finals = s.sent.len() - 1;
    assert_eq!(finals, 11);
}

#[test]
fn invite_over_reliable_no_g_and_i_is_zero() {
    let mut s = Solo::new();
    let req = request("INVITE", "z9hG4bKh2", "c1");
    s.recv_request(req.clone(), true);
    let k = s.new_request_key();
    s.respond(k, response(&req, 486)).unwrap();
    s.advance(secs(5));
    assert_eq!(s.sent.len(), 2, "100 and 486, no Timer G");
    let ack = Message::parse(req.ack_for_non_2xx(&response(&req, 486))).unwrap();
    s.recv_request(ack, true);
    assert_eq!(s.terminated_at(k), Some(secs(5)), "Timer I = 0");
}

#[test]
fn rfc6026_accepted_absorbs_invites_and_passes_acks() {
    let cfg = Config {
        invite_trying: false,
        ..Config::default()
    };
    let mut s = Solo::with(cfg);
    let req = request("INVITE", "z9hG4bKl1", "c1");
    s.recv_request(req.clone(), false);
    let k = s.new_request_key();
    assert!(s.sent.is_empty(), "automatic 100 switched off");
    s.respond(k, response(&req, 180)).unwrap();
    s.advance(secs(1));
    s.respond(k, response(&req, 200)).unwrap();
    assert_eq!(s.l.state(k), Some(State::Accepted));
    s.recv_request(req.clone(), false);
    assert_eq!(s.sent.len(), 2, "retransmitted INVITE absorbed in Accepted");
    // The TU retransmits its 2xx itself.
    s.advance(ms(1500));
    s.respond(k, response(&req, 200)).unwrap();
    assert_eq!(s.sent.len(), 3);
    assert_eq!(
        s.respond(k, response(&req, 500)),
        Err(Error::FinalAlreadySent(k))
    );
    // An ACK for the 2xx with its own branch matches nothing; one with the INVITE's
    // branch matches the Accepted transaction. Both reach the TU.
    s.recv_request(request("ACK", "z9hG4bKnew", "c1"), false);
    s.recv_request(request("ACK", "z9hG4bKl1", "c1"), false);
    let acks: Vec<_> = s
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Ack { key, .. } => Some(*key),
            _ => None,
        })
        .collect();
    assert_eq!(acks, vec![None, Some(k)]);
    s.settle();
    assert_eq!(s.terminated_at(k), Some(secs(33)), "Timer L = 64·T1");
}

#[test]
fn cancel_finds_its_invite() {
    let mut s = Solo::new();
    let inv = request("INVITE", "z9hG4bKcx", "c1");
    s.recv_request(inv.clone(), false);
    let ik = s.new_request_key();
    let cancel = Message::parse(inv.cancel()).unwrap();
    assert_eq!(s.l.cancel_target(&cancel), Some(ik));
    s.recv_request(cancel.clone(), false);
    let (ck, cancels) = match s
        .events
        .iter()
        .rev()
        .find(|(_, e)| matches!(e, Event::Request { .. }))
    {
        Some((_, Event::Request { key, cancels, .. })) => (*key, *cancels),
        _ => unreachable!(),
    };
    assert_ne!(ck, ik, "CANCEL is its own transaction");
    assert_eq!(cancels, Some(ik));
    s.respond(ck, response(&cancel, 200)).unwrap();
    s.respond(ik, response(&inv, 487)).unwrap();
    // A CANCEL from another sent-by does not match.
    let other = Message::parse(
        String::from_utf8(inv.cancel().to_vec())
            .unwrap()
            .replace("192.0.2.1:5060", "192.0.2.9:5060"),
    )
    .unwrap();
    assert_eq!(s.l.cancel_target(&other), None);
    // Once the INVITE transaction is gone, nothing matches (answer 481).
    s.settle();
    assert_eq!(s.l.cancel_target(&cancel), None);
}

#[test]
fn rfc2543_requests_match_on_their_fields() {
    let mut s = Solo::new();
    let inv = request("INVITE", "oldbranch1", "c1");
    s.recv_request(inv.clone(), false);
    let k = s.new_request_key();
    // Retransmission: same fields.
    s.recv_request(inv.clone(), false);
    assert_eq!(s.count(|e| matches!(e, Event::Request { .. })), 1);
    assert_eq!(s.sent.len(), 2, "100 resent");
    // CANCEL with CSeq method CANCEL, same number: finds the INVITE.
    let cancel = Message::parse(inv.cancel()).unwrap();
    assert_eq!(s.l.cancel_target(&cancel), Some(k));
    s.respond(k, response_tagged(&inv, 486, "x9")).unwrap();
    // ACK with another To tag: no match; with the response's To tag: Confirmed.
    let wrong = Message::parse(inv.ack_for_non_2xx(&response_tagged(&inv, 486, "zz"))).unwrap();
    s.recv_request(wrong, false);
    assert_eq!(s.l.state(k), Some(State::Completed));
    assert_eq!(s.count(|e| matches!(e, Event::Ack { key: None, .. })), 1);
    let ack = Message::parse(inv.ack_for_non_2xx(&response_tagged(&inv, 486, "x9"))).unwrap();
    s.recv_request(ack, false);
    assert_eq!(s.l.state(k), Some(State::Confirmed));
    // Another Call-ID or another Request-URI is another transaction; no branch at all too.
    s.recv_request(request("INVITE", "oldbranch1", "c2"), false);
    let text = String::from_utf8(inv.as_bytes().to_vec()).unwrap();
    s.recv_request(
        Message::parse(text.replace("INVITE sip:bob@", "INVITE sip:carol@")).unwrap(),
        false,
    );
    s.recv_request(
        Message::parse(text.replace(";branch=oldbranch1", "")).unwrap(),
        false,
    );
    assert_eq!(s.count(|e| matches!(e, Event::Request { .. })), 4);
    s.settle();
    assert!(s.l.is_empty());
    assert!(s.l.legacy.is_empty(), "legacy index cleaned up");
}

#[test]
fn server_misuse() {
    let mut s = Solo::new();
    let req = request("MESSAGE", "z9hG4bKm", "c1");
    assert_eq!(
        s.l.handle_request(s.now, response(&req, 200), 1, false),
        Err(Error::NotARequest)
    );
    s.recv_request(req.clone(), false);
    let k = s.new_request_key();
    assert_eq!(s.respond(k, req.clone()), Err(Error::NotAResponse));
    assert_eq!(s.l.send_cancel(s.now, k), Err(Error::WrongRole(k)));
    s.l.handle_transport_error(s.now, k).unwrap();
    s.drain();
    assert_eq!(
        s.respond(k, response(&req, 200)),
        Err(Error::UnknownTransaction(k))
    );
    assert_eq!(k.role(), Role::Server);
    assert!(k.to_string().starts_with("server#"));
}
