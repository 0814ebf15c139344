//! End to end: a client layer and a server layer over the simulated link, with scripted
//! and seeded random loss, duplication and reordering, and a property test.

use proptest::prelude::*;

use super::pair::{Fate, Pair, Side};
use super::*;

fn udp_pair(seed: u64) -> Pair {
    Pair::new(seed, false, Config::default(), Config::default())
}

/// Server TU policies chosen by the last character of the Call-ID.
fn answer_mixed(req: &Message) -> Vec<(Duration, u16)> {
    let invite = req.method() == Some(&Method::Invite);
    match (
        req.call_id().as_bytes().last().copied().unwrap_or(b'0') % 4,
        invite,
    ) {
        (0, true) => vec![(ms(10), 180), (ms(300), 200)],
        (0, false) => vec![(ms(5), 200)],
        (1, true) => vec![(ms(200), 486)],
        (1, false) => vec![(secs(1), 404)],
        (2, true) => vec![(secs(1), 180), (secs(6), 200)],
        (2, false) => vec![(secs(5), 202)],
        // Never answered: client F / Timer C, CANCEL and 487.
        (_, true) => vec![(ms(50), 183)],
        (_, false) => vec![],
    }
}

#[test]
fn lossless_message_and_invite() {
    let mut p = udp_pair(1);
    let m = p.start(request("MESSAGE", "z9hG4bKm1", "call-m"));
    let i = p.start(request("INVITE", "z9hG4bKi1", "call-i"));
    p.run(10_000);
    p.check_invariants();
    let finals: Vec<_> = p
        .a_events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Final { key, response } => Some((*key, response.status().unwrap())),
            _ => None,
        })
        .collect();
    assert_eq!(finals, vec![(m, 200), (i, 200)]);
    // 100 and 180 for the INVITE.
    assert_eq!(
        p.a_events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Provisional { key, .. } if *key == i))
            .count(),
        2
    );
    // The ACK for the 2xx reached the server TU as a transaction-less ACK.
    assert!(
        p.b_events
            .iter()
            .any(|(_, e)| matches!(e, Event::Ack { key: None, .. }))
    );
    // Nothing was retransmitted on a clean link with 20 ms latency.
    assert_eq!(p.a.stats().retransmissions, 0);
    assert_eq!(p.b.stats().retransmissions, 0);
}

#[test]
fn lost_requests_and_lost_final_are_repaired_by_retransmission() {
    let mut p = udp_pair(2);
    // Drop the first two copies of the MESSAGE and the first final response.
    p.link.script = Some(Box::new(|side, m, n| match side {
        Side::A if n <= 2 => Fate::Drop,
        Side::B if m.status().is_some_and(|s| s >= 200) && n == 1 => Fate::Drop,
        _ => Fate::Deliver,
    }));
    let k = p.start(request("MESSAGE", "z9hG4bKl1", "c1"));
    p.run(10_000);
    p.check_invariants();
    let sent_by_a: Vec<_> = p
        .wire
        .iter()
        .filter(|(_, s, _)| *s == Side::A)
        .map(|(t, _, _)| *t)
        .collect();
    // 0 and 0.5 lost, 1.5 arrives at 1.52, the 200 (sent 1.525) is lost, 3.5 gets the
    // cached 200.
    assert_eq!(sent_by_a, vec![ms(0), ms(500), ms(1500), ms(3500)]);
    let final_at = p.a_events.iter().find_map(|(t, e)| match e {
        Event::Final { key, .. } if *key == k => Some(*t),
        _ => None,
    });
    assert_eq!(final_at, Some(ms(3540)));
    assert_eq!(p.b.stats().retransmissions, 1, "one answer from the cache");
}

#[test]
fn lost_ack_is_resent_on_the_retransmitted_final() {
    let mut p = udp_pair(3);
    p.answers = |_| vec![(ms(100), 486)];
    let mut acks = 0;
    p.link.script = Some(Box::new(move |side, m, _| {
        if side == Side::A && m.method() == Some(&Method::Ack) {
            acks += 1;
            if acks == 1 {
                return Fate::Drop;
            }
        }
        Fate::Deliver
    }));
    p.start(request("INVITE", "z9hG4bKa1", "c1"));
    p.run(10_000);
    p.check_invariants();
    let acks: Vec<_> = p
        .wire
        .iter()
        .filter(|(_, s, m)| *s == Side::A && m.method() == Some(&Method::Ack))
        .collect();
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[0].2.as_bytes(), acks[1].2.as_bytes(), "the cached ACK");
    // The server saw its 486 go out twice (Timer G) and no TU ever saw the ACK.
    let finals_by_b = p
        .wire
        .iter()
        .filter(|(_, s, m)| *s == Side::B && m.status() == Some(486))
        .count();
    assert_eq!(finals_by_b, 2);
    assert!(
        !p.b_events
            .iter()
            .any(|(_, e)| matches!(e, Event::Ack { .. }))
    );
    assert!(
        !p.b_events
            .iter()
            .any(|(_, e)| matches!(e, Event::Timeout { .. }))
    );
}

#[test]
fn reliable_transport_never_retransmits() {
    let mut p = Pair::new(4, true, Config::default(), Config::default());
    p.answers = answer_mixed;
    for i in 0..8 {
        let m = if i % 2 == 0 { "MESSAGE" } else { "INVITE" };
        p.start(request(m, &format!("z9hG4bKr{i}"), &format!("c{i}")));
    }
    p.run(100_000);
    p.check_invariants();
    assert_eq!(p.a.stats().retransmissions, 0);
    assert_eq!(p.b.stats().retransmissions, 0);
}

/// Runs a mixed workload over a lossy link; returns the pair for more checks.
fn lossy_run(
    seed: u64,
    loss: u64,
    dup: u64,
    jitter_ms: u64,
    n: usize,
    non_invite_trying: bool,
) -> Pair {
    let cfg_b = Config {
        non_invite_trying,
        ..Config::default()
    };
    let mut p = Pair::new(seed, false, Config::default(), cfg_b);
    p.link.loss = loss;
    p.link.dup = dup;
    p.link.jitter = ms(jitter_ms);
    p.answers = answer_mixed;
    for i in 0..n {
        let m = if (seed as usize + i) % 3 == 0 {
            "INVITE"
        } else {
            "MESSAGE"
        };
        p.start(request(
            m,
            &format!("z9hG4bK{seed}x{i}"),
            &format!("s{seed}-{}", (seed as usize + i) % 4),
        ));
    }
    p.run(200_000);
    p.check_invariants();
    p
}

#[test]
fn seeded_lossy_links_settle_cleanly() {
    let mut absorbed = 0;
    let mut timers = std::collections::BTreeMap::new();
    let mut cancels = 0;
    for seed in 0..150 {
        let p = lossy_run(seed, 30, 20, 30, 4, seed % 2 == 0);
        absorbed += p.a.stats().absorbed + p.b.stats().absorbed;
        for (_, e) in p.a_events.iter().chain(&p.b_events) {
            if let Event::Timeout { timer, .. } = e {
                *timers.entry(format!("{timer:?}")).or_insert(0) += 1;
            }
        }
        cancels += p
            .wire
            .iter()
            .filter(|(_, _, m)| m.method() == Some(&Method::Cancel))
            .count();
        // RFC 4320 over UDP: a 100 to a non-INVITE only after Timer E reached T2.
        for (t, side, m) in &p.wire {
            if *side == Side::B && m.status() == Some(100) && m.cseq_method() != &Method::Invite {
                assert!(*t >= ms(3500), "seed {seed}: 100 at {t:?}");
            }
        }
    }
    assert!(absorbed > 0, "the workload exercised absorption");
    assert!(cancels > 0, "Timer C led to CANCELs");
    for t in ["F", "C", "Abandon"] {
        assert!(timers.contains_key(t), "no Timer {t} fired: {timers:?}");
    }
    eprintln!("timeouts over all seeds: {timers:?}, absorbed {absorbed}, cancels {cancels}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random loss and duplication never give the server TU two "new request" events for
    /// one transaction, and every transaction on both sides ends terminated.
    #[test]
    fn random_loss_and_duplication(
        seed in any::<u64>(),
        loss in 0u64..60,
        dup in 0u64..50,
        jitter in 0u64..40,
        n in 1usize..5,
        trying in any::<bool>(),
    ) {
        lossy_run(seed % 1_000_000, loss, dup, jitter, n, trying);
    }
}
