//! Multicast Router Discovery (RFC 4286) against the real kernel, in network namespaces.
//!
//! sender (s0) — (r0) router (r1) — (c0) receiver, from the support module. The router
//! advertises on r0 only (IPv4 and IPv6, interval 4 s), driven by a poll loop the way a
//! daemon drives it. Raw packet captures on s0 and c0 check what goes on the wire: the
//! initial fast advertisements, then the interval; TTL/hop limit 1 and the Router Alert;
//! checksums (the ICMPv6 one computed by the kernel); an answer to a solicitation the test
//! sends; a termination on shutdown; and nothing at all on the disabled r1.
#![cfg(target_os = "linux")]

mod support;

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mcroute::engine::mrdisc::{
    Kind, MrdiscConfig, MrdiscEngine, MrdiscStats, Repr, ALL_SNOOPERS_V4, ALL_SNOOPERS_V6,
};
use mcroute::service::mrdisc::MrdiscSocket;
use mcroute::Family;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use support::mrd::*;
use support::*;

const INTERVAL: u64 = 4;

/// The router: an engine and two sockets in a poll loop, as a daemon runs them, with
/// mrdisc enabled on `dev` only. Stops (sending terminations) when `stop` receives.
fn run_router(dev: &'static str, stop: mpsc::Receiver<()>) -> (MrdiscStats, Vec<(Family, u32)>) {
    let ifindex = nix::net::if_::if_nametoindex(dev).expect("ifindex");
    let mut engine = MrdiscEngine::new(MrdiscConfig::new(INTERVAL).unwrap());
    let mut socks = [
        MrdiscSocket::open(Family::V4).expect("IPv4 MRD socket"),
        MrdiscSocket::open(Family::V6).expect("IPv6 MRD socket"),
    ];
    let start = Instant::now();
    for s in &mut socks {
        s.join(ifindex).expect("join All-Routers");
        engine.enable(start, s.family(), ifindex);
    }
    let mut solicited_on = Vec::new();
    let send_all = |engine: &mut MrdiscEngine, socks: &[MrdiscSocket; 2]| {
        while let Some(tx) = engine.poll_transmit() {
            let s = if tx.family() == Family::V4 {
                &socks[0]
            } else {
                &socks[1]
            };
            s.send(&tx).expect("send");
        }
    };
    loop {
        if stop.try_recv().is_ok() {
            engine.shutdown(Instant::now());
            send_all(&mut engine, &socks);
            return (*engine.stats(), solicited_on);
        }
        // Sleep until a socket is readable or the engine's deadline, but wake every 20 ms
        // to look at the stop channel.
        let wait = engine
            .poll_timeout()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::MAX)
            .min(Duration::from_millis(20));
        {
            let mut fds = [
                PollFd::new(socks[0].as_fd(), PollFlags::POLLIN),
                PollFd::new(socks[1].as_fd(), PollFlags::POLLIN),
            ];
            let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
            poll(&mut fds, PollTimeout::from(ms)).expect("poll");
        }
        let now = Instant::now();
        for s in &mut socks {
            while let Some(rx) = s.recv().expect("recv") {
                if rx.message == Repr::Solicitation {
                    solicited_on.push((rx.family, rx.ifindex));
                    engine.handle_solicitation(now, rx.family, rx.ifindex);
                }
            }
        }
        engine.handle_timeout(now);
        send_all(&mut engine, &socks);
    }
}

#[test]
fn advertises_answers_and_terminates_on_enabled_interfaces_only() {
    if !require_netns("advertises_answers_and_terminates_on_enabled_interfaces_only") {
        return;
    }
    let net = Line::new("md");
    let on = Capture::start(&net.snd, "s0");
    let off = Capture::start(&net.rcv, "c0");
    let r0 = net.rtr.ifindex("r0");
    let (stop_tx, stop_rx) = mpsc::channel();
    let router = net.rtr.spawn(move || run_router("r0", stop_rx));

    // Send a solicitation of each family right after its third (last initial)
    // advertisement: the answer must come within 2 s, well before the periodic one ~4 s
    // after the third.
    let init = 3;
    let mut solicited: [Option<Instant>; 2] = [None, None];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = on.snapshot();
        let mut done = true;
        for (i, family) in [Family::V4, Family::V6].into_iter().enumerate() {
            let adv = of(&seen, family, Kind::Advertisement);
            if adv.len() >= init && solicited[i].is_none() {
                solicit(&net.snd, "s0", family);
                solicited[i] = Some(Instant::now());
            }
            // Three initial, the answer, the first periodic one.
            done &= adv.len() >= init + 2;
        }
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not enough advertisements seen on s0: {seen:#?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    stop_tx.send(()).unwrap();
    let (stats, solicited_on) = match router.join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    };
    // The terminations have been sent; give them a moment to arrive.
    let ok = wait_until(Duration::from_secs(2), || {
        let s = on.snapshot();
        !of(&s, Family::V4, Kind::Termination).is_empty()
            && !of(&s, Family::V6, Kind::Termination).is_empty()
    });
    let seen = on.finish();
    let quiet = off.finish();
    assert!(ok, "no termination on s0 after shutdown: {seen:#?}");

    for (i, family) in [Family::V4, Family::V6].into_iter().enumerate() {
        let adv = of(&seen, family, Kind::Advertisement);
        let t_sol = solicited[i].unwrap();
        // Every message: to All-Snoopers, TTL/hop limit 1, Router Alert, good checksum,
        // and an advertisement says 4 s, 125 s, 2.
        let snoopers: IpAddr = match family {
            Family::V4 => ALL_SNOOPERS_V4.into(),
            Family::V6 => ALL_SNOOPERS_V6.into(),
        };
        for s in seen
            .iter()
            .filter(|s| s.family == family && s.kind != Kind::Solicitation)
        {
            assert_eq!(s.dst, snoopers, "{s:?}");
            assert_eq!(s.hop_limit, 1, "{s:?}");
            assert!(s.router_alert, "no Router Alert: {s:?}");
            assert!(s.checksum_ok, "bad checksum: {s:?}");
        }
        for a in &adv {
            let Some(Repr::Advertisement(f)) = a.repr else {
                panic!("{a:?}")
            };
            assert_eq!(
                (f.interval, f.query_interval, f.robustness),
                (INTERVAL as u8, 125, 2),
                "{a:?}"
            );
        }
        // The initial ones came less than 2 s apart (with slack for the capture).
        let slack = Duration::from_millis(150);
        for w in adv[..init].windows(2) {
            assert!(
                w[1].at - w[0].at < Duration::from_secs(2) + slack,
                "{family}: {adv:#?}"
            );
        }
        // The answer: the first advertisement after the solicitation, within 2 s.
        let answer = adv
            .iter()
            .find(|a| a.at > t_sol)
            .unwrap_or_else(|| panic!("{family}: no answer to the solicitation: {adv:#?}"));
        assert!(
            answer.at - t_sol < Duration::from_secs(2) + slack,
            "{family}: answer {:?} after the solicitation",
            answer.at - t_sol
        );
        // The periodic one: the interval minus up to 2.5 % after the third.
        let periodic = adv
            .iter()
            .find(|a| a.at > answer.at)
            .unwrap_or_else(|| panic!("{family}: no periodic advertisement: {adv:#?}"));
        let gap = periodic.at - adv[init - 1].at;
        assert!(
            gap >= Duration::from_millis(3900) - slack && gap <= Duration::from_secs(4) + slack,
            "{family}: periodic advertisement {gap:?} after the last initial one"
        );
        // Shutdown: exactly one termination, after the advertisements.
        let term = of(&seen, family, Kind::Termination);
        assert_eq!(term.len(), 1, "{family}: {term:#?}");
        assert!(term[0].at >= periodic.at);
        assert_eq!(term[0].repr, Some(Repr::Termination));
    }
    assert!(solicited_on.contains(&(Family::V4, r0)), "{solicited_on:?}");
    assert!(solicited_on.contains(&(Family::V6, r0)), "{solicited_on:?}");
    assert!(stats.solicited >= 2, "{stats:?}");
    assert_eq!(stats.terminations, 2, "{stats:?}");
    // The interface without mrdisc saw no MRD message at all.
    assert!(
        quiet.is_empty(),
        "MRD messages on c0 (r1 not enabled): {quiet:#?}"
    );
}
