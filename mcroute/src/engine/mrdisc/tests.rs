//! Engine tests with a fake clock.

use std::time::{Duration, Instant};

use super::*;

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

/// Runs the engine's timers up to `until`; returns what it sent and when.
/// The message a transmit carries, read back from its bytes.
fn msg(t: &Transmit) -> Repr {
    Repr::parse(t.family(), &t.payload).expect("the engine emits valid messages")
}

fn run(e: &mut MrdiscEngine, until: Instant) -> Vec<(Instant, Transmit)> {
    let mut out = Vec::new();
    while let Some(t) = e.poll_timeout() {
        if t > until {
            break;
        }
        e.handle_timeout(t);
        while let Some(tx) = e.poll_transmit() {
            out.push((t, tx));
        }
    }
    out
}

fn adverts(sent: &[(Instant, Transmit)], family: Family, ifindex: u32) -> Vec<Instant> {
    sent.iter()
        .filter(|(_, t)| {
            t.family() == family
                && t.ifindex().unwrap() == ifindex
                && matches!(msg(t), Repr::Advertisement(_))
        })
        .map(|(at, _)| *at)
        .collect()
}

fn engine(interval: u64, seed: u64) -> MrdiscEngine {
    MrdiscEngine::with_seed(MrdiscConfig::new(interval).unwrap(), seed)
}

#[test]
fn config_range_and_jitter() {
    assert_eq!(MrdiscConfig::default().interval_secs(), 20);
    assert_eq!(MrdiscConfig::default().jitter(), Duration::from_millis(500));
    assert_eq!(
        MrdiscConfig::new(4).unwrap().jitter(),
        Duration::from_millis(100)
    );
    assert_eq!(
        MrdiscConfig::new(3),
        Err(ConfigError::IntervalOutOfRange(3))
    );
    assert!(MrdiscConfig::new(180).is_ok());
    assert!(MrdiscConfig::new(181).is_err());
    assert_eq!(MrdiscConfig::default().querier, QuerierParams::default());
    assert_eq!(
        QuerierParams::default(),
        QuerierParams {
            query_interval: 125,
            robustness: 2
        }
    );
    let igmp = crate::engine::igmp::QuerierConfig::new("192.0.2.1".parse().unwrap());
    assert_eq!(QuerierParams::from(&igmp), QuerierParams::default());
}

#[test]
fn initial_fast_advertisements_then_the_jittered_interval() {
    let mut seen_gaps = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let t0 = Instant::now();
        let mut e = engine(4, seed);
        assert!(e.enable(t0, Family::V4, 2));
        let sent = run(&mut e, t0 + 30 * S);
        let at = adverts(&sent, Family::V4, 2);
        assert!(at.len() >= 8, "seed {seed}: {} adverts", at.len());
        // The first goes out within MaxInitialAdvertisementInterval, and so does each of
        // the other initial ones after the previous.
        assert!(at[0] - t0 < MAX_INITIAL_ADVERT_INTERVAL, "seed {seed}");
        for i in 1..usize::from(MAX_INITIAL_ADVERTISEMENTS) {
            assert!(
                at[i] - at[i - 1] < MAX_INITIAL_ADVERT_INTERVAL,
                "seed {seed}"
            );
        }
        // Then every interval minus up to 2.5 % (4 s - 100 ms .. 4 s).
        for w in at[usize::from(MAX_INITIAL_ADVERTISEMENTS) - 1..].windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= 4 * S - 100 * MS && gap <= 4 * S,
                "seed {seed}: gap {gap:?}"
            );
            seen_gaps.insert(gap);
        }
    }
    // The jitter is random, not a constant offset.
    assert!(seen_gaps.len() > 100, "{} distinct gaps", seen_gaps.len());
}

#[test]
fn advertisements_carry_the_interval_and_querier_settings() {
    let t0 = Instant::now();
    let cfg = MrdiscConfig::new(7).unwrap();
    let mut e = MrdiscEngine::with_seed(cfg, 5);
    e.enable(t0, Family::V4, 2);
    e.enable(t0, Family::V6, 2);
    e.enable(t0, Family::V6, 3);
    e.set_querier(Family::V6, 3, QuerierParams::NONE);
    let sent = run(&mut e, t0 + 3 * S);
    let mut seen = 0;
    for (_, tx) in &sent {
        let Repr::Advertisement(a) = msg(tx) else {
            panic!("{tx:?}")
        };
        assert_eq!(a.interval, 7);
        let want = if (tx.family(), tx.ifindex().unwrap()) == (Family::V6, 3) {
            (0, 0)
        } else {
            (125, 2)
        };
        assert_eq!((a.query_interval, a.robustness), want, "{tx:?}");
        let dst = tx.dst.to_string();
        assert_eq!(
            dst,
            if tx.family() == Family::V4 {
                "224.0.0.106"
            } else {
                "ff02::6a"
            }
        );
        seen += 1;
    }
    assert!(seen >= 3);
    assert_eq!(
        adverts(&sent, Family::V6, 2).len()
            + adverts(&sent, Family::V6, 3).len()
            + adverts(&sent, Family::V4, 2).len(),
        sent.len()
    );
    assert_eq!(e.interfaces(Family::V6).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(e.stats().advertisements, sent.len() as u64);
    // smcrouted's querier-less fields through with_querier.
    let c = MrdiscConfig::default().with_querier(QuerierParams::NONE);
    assert_eq!(c.querier, QuerierParams::NONE);
}

#[test]
fn solicitation_is_answered_within_the_response_delay() {
    for seed in 0..100 {
        let t0 = Instant::now();
        let mut e = engine(20, seed);
        e.enable(t0, Family::V6, 4);
        // Past the initial advertisements: the next periodic one is ~20 s away.
        let sent = run(&mut e, t0 + 10 * S);
        assert_eq!(adverts(&sent, Family::V6, 4).len(), 3, "seed {seed}");
        let ts = t0 + 10 * S;
        let sol = Repr::Solicitation.to_bytes(Family::V6);
        assert_eq!(
            e.handle_packet(ts, Family::V6, 4, &sol),
            Ok(Repr::Solicitation)
        );
        // A second one while the answer is pending adds nothing.
        assert!(!e.handle_solicitation(ts + MS, Family::V6, 4));
        let sent = run(&mut e, ts + 5 * S);
        let at = adverts(&sent, Family::V6, 4);
        assert_eq!(at.len(), 1, "seed {seed}: one answer, {sent:?}");
        assert!(
            at[0] >= ts && at[0] - ts < MAX_RESPONSE_DELAY,
            "seed {seed}"
        );
        assert_eq!(e.stats().solicited, 1);
        assert_eq!(e.stats().solicitations, 2);
        // The periodic schedule is unchanged: the next one follows the last initial one
        // by about the interval.
        let sent = run(&mut e, t0 + 40 * S);
        assert!(!adverts(&sent, Family::V6, 4).is_empty());
    }
}

#[test]
fn solicitations_elsewhere_are_ignored() {
    let t0 = Instant::now();
    let mut e = engine(20, 1);
    e.enable(t0, Family::V4, 2);
    run(&mut e, t0 + 10 * S);
    // Another interface, the other family: nothing.
    assert!(!e.handle_solicitation(t0 + 10 * S, Family::V4, 3));
    assert!(!e.handle_solicitation(t0 + 10 * S, Family::V6, 2));
    assert!(run(&mut e, t0 + 15 * S).is_empty());
    // Malformed or foreign messages are errors and change nothing.
    assert!(e
        .handle_packet(t0, Family::V4, 2, &[0x31, 0, 0, 0])
        .is_err());
    let query = [0x11, 100, 0xee, 0x9b, 0, 0, 0, 0];
    assert_eq!(
        e.handle_packet(t0, Family::V4, 2, &query),
        Err(WireError::NotMrd(0x11))
    );
    // Another router's advertisement is returned, not answered.
    let adv = Repr::Advertisement(Advertisement {
        interval: 20,
        query_interval: 0,
        robustness: 0,
    });
    assert_eq!(
        e.handle_packet(t0 + 15 * S, Family::V4, 2, &adv.to_bytes(Family::V4)),
        Ok(adv)
    );
    assert!(run(&mut e, t0 + 17 * S).is_empty());
}

#[test]
fn an_unsolicited_advertisement_due_first_answers_the_solicitation() {
    let t0 = Instant::now();
    let mut e = engine(20, 3);
    e.enable(t0, Family::V4, 2);
    let sent = run(&mut e, t0 + 10 * S);
    let last = *adverts(&sent, Family::V4, 2).last().unwrap();
    // Just before the periodic one (due 19.5..20 s after the last): it answers.
    let ts = last + 19 * S + 499 * MS;
    assert!(!e.handle_solicitation(ts, Family::V4, 2));
    let sent = run(&mut e, ts + 3 * S);
    assert_eq!(adverts(&sent, Family::V4, 2).len(), 1);
    assert_eq!(e.stats().solicited, 0);
}

#[test]
fn never_more_than_the_message_rate() {
    let t0 = Instant::now();
    let mut e = engine(4, 9);
    e.enable(t0, Family::V4, 2);
    let mut sent = Vec::new();
    // A solicitation every millisecond for 20 s.
    let mut now = t0;
    while now < t0 + 20 * S {
        e.handle_solicitation(now, Family::V4, 2);
        if e.poll_timeout().is_some_and(|t| t <= now) {
            e.handle_timeout(now);
        }
        while let Some(tx) = e.poll_transmit() {
            sent.push(now);
            assert!(matches!(msg(&tx), Repr::Advertisement(_)));
        }
        now += MS;
    }
    assert!(sent.len() > 10, "{} sent", sent.len());
    for (i, &t) in sent.iter().enumerate() {
        let in_window = sent[i..].iter().take_while(|&&u| u - t < S).count();
        assert!(
            in_window <= MAX_MESSAGE_RATE,
            "{in_window} within 1 s of {t:?}"
        );
    }
}

#[test]
fn termination_on_disable_and_shutdown() {
    let t0 = Instant::now();
    let mut e = engine(4, 2);
    e.enable(t0, Family::V4, 2);
    e.enable(t0, Family::V4, 3);
    e.enable(t0, Family::V6, 2);
    assert!(!e.enable(t0, Family::V4, 2), "already enabled");
    run(&mut e, t0 + 5 * S);
    assert!(e.disable(t0 + 5 * S, Family::V4, 3));
    let tx = e.poll_transmit().unwrap();
    assert_eq!(
        (tx.family(), tx.ifindex().unwrap(), msg(&tx)),
        (Family::V4, 3, Repr::Termination)
    );
    assert_eq!(tx.dst.to_string(), "224.0.0.106");
    assert_eq!(tx.payload, [0x32, 0, 0xcd, 0xff]);
    assert!(e.poll_transmit().is_none());
    assert!(!e.disable(t0 + 5 * S, Family::V4, 3), "already disabled");
    // The disabled interface advertises no more; the others go on.
    let sent = run(&mut e, t0 + 12 * S);
    assert!(adverts(&sent, Family::V4, 3).is_empty());
    assert!(!adverts(&sent, Family::V4, 2).is_empty());
    assert!(!adverts(&sent, Family::V6, 2).is_empty());
    e.shutdown(t0 + 12 * S);
    let mut terms: Vec<(Family, u32)> = std::iter::from_fn(|| e.poll_transmit())
        .map(|t| {
            assert_eq!(msg(&t), Repr::Termination);
            (t.family(), t.ifindex().unwrap())
        })
        .collect();
    terms.sort();
    assert_eq!(terms, vec![(Family::V4, 2), (Family::V6, 2)]);
    assert_eq!(e.poll_timeout(), None);
    assert_eq!(e.stats().terminations, 3);
}

#[test]
fn set_enabled_is_a_diff() {
    let t0 = Instant::now();
    let mut e = engine(4, 2);
    e.set_enabled(t0, Family::V4, [2, 3]);
    e.enable(t0, Family::V6, 2);
    run(&mut e, t0 + 10 * S);
    e.set_enabled(t0 + 10 * S, Family::V4, [3, 4]);
    let tx: Vec<Transmit> = std::iter::from_fn(|| e.poll_transmit()).collect();
    assert_eq!(tx.len(), 1);
    assert_eq!(
        (tx[0].ifindex().unwrap(), msg(&tx[0])),
        (2, Repr::Termination)
    );
    assert_eq!(e.interfaces(Family::V4).collect::<Vec<_>>(), vec![3, 4]);
    assert!(e.is_enabled(Family::V6, 2));
    // The new interface starts with its fast advertisements; the kept one keeps its pace.
    let sent = run(&mut e, t0 + 12 * S);
    assert!(!adverts(&sent, Family::V4, 4).is_empty());
}

#[test]
fn solicitation_transmit_goes_to_all_routers() {
    assert_eq!(
        destination(Family::V6, &Repr::Solicitation).to_string(),
        "ff02::2"
    );
    assert_eq!(
        destination(Family::V4, &Repr::Solicitation).to_string(),
        "224.0.0.2"
    );
    assert_eq!(
        destination(Family::V4, &Repr::Termination).to_string(),
        "224.0.0.106"
    );
}
