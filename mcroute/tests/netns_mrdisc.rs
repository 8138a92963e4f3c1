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

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mcroute::mrdisc::{
    Kind, MrdiscConfig, MrdiscEngine, MrdiscSocket, MrdiscStats, Packet, Repr, ALL_SNOOPERS_V4,
    ALL_SNOOPERS_V6,
};
use mcroute::Family;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use support::*;

const INTERVAL: u64 = 4;

/// One MRD message seen on the wire, with what the IP header said.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    family: Family,
    kind: Kind,
    repr: Option<Repr>,
    dst: IpAddr,
    hop_limit: u8,
    router_alert: bool,
    checksum_ok: bool,
}

fn last_ip_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, val: &T) {
    // SAFETY: val points to a live T of the given size.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            val as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "{}", last_ip_error("setsockopt"));
}

fn socket(domain: libc::c_int, ty: libc::c_int, proto: libc::c_int) -> OwnedFd {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    assert!(fd >= 0, "{}", last_ip_error("socket"));
    // SAFETY: a new descriptor nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Parses an IPv4 packet carrying IGMP.
fn parse_v4(at: Instant, d: &[u8]) -> Option<Seen> {
    if d.len() < 20 || d[0] >> 4 != 4 || d[9] != 2 {
        return None;
    }
    let ihl = usize::from(d[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([d[2], d[3]])).min(d.len());
    let igmp = d.get(ihl..total)?;
    let kind = Kind::from_type(Family::V4, *igmp.first()?)?;
    Some(Seen {
        at,
        family: Family::V4,
        kind,
        repr: Repr::parse(Family::V4, igmp).ok(),
        dst: IpAddr::V4(Ipv4Addr::new(d[16], d[17], d[18], d[19])),
        hop_limit: d[8],
        router_alert: d[20..ihl].windows(4).any(|w| w == [0x94, 0x04, 0, 0]),
        checksum_ok: Packet::new_unchecked(igmp).verify_checksum_v4(),
    })
}

/// Parses an IPv6 packet carrying ICMPv6, possibly behind a Hop-by-Hop header.
fn parse_v6(at: Instant, d: &[u8]) -> Option<Seen> {
    if d.len() < 40 || d[0] >> 4 != 6 {
        return None;
    }
    let plen = usize::from(u16::from_be_bytes([d[4], d[5]]));
    let end = (40 + plen).min(d.len());
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&d[8..24]).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&d[24..40]).ok()?);
    let (mut next, mut at_off, mut router_alert) = (d[6], 40, false);
    if next == 0 {
        let nh = *d.get(40)?;
        let len = (usize::from(*d.get(41)?) + 1) * 8;
        let opts = d.get(42..40 + len)?;
        let mut i = 0;
        while i < opts.len() {
            match opts[i] {
                0 => i += 1,
                t => {
                    let l = usize::from(*opts.get(i + 1)?);
                    if t == 5 && l == 2 && opts.get(i + 2..i + 4) == Some(&[0, 0]) {
                        router_alert = true;
                    }
                    i += 2 + l;
                }
            }
        }
        next = nh;
        at_off = 40 + len;
    }
    if next != 58 {
        return None;
    }
    let icmp = d.get(at_off..end)?;
    let kind = Kind::from_type(Family::V6, *icmp.first()?)?;
    Some(Seen {
        at,
        family: Family::V6,
        kind,
        repr: Repr::parse(Family::V6, icmp).ok(),
        dst: IpAddr::V6(dst),
        hop_limit: d[7],
        router_alert,
        checksum_ok: Packet::new_unchecked(icmp).verify_checksum_v6(src, dst),
    })
}

/// A packet capture (AF_PACKET) on one interface of a namespace, collecting MRD messages.
struct Capture {
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl Capture {
    fn start(ns: &Netns, dev: &str) -> Capture {
        let ifindex = ns.ifindex(dev);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let handle = ns.spawn(move || {
            let proto = (libc::ETH_P_ALL as u16).to_be();
            let fd = socket(libc::AF_PACKET, libc::SOCK_DGRAM, libc::c_int::from(proto));
            // SAFETY: plain data; all-zero is valid.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex as i32;
            // SAFETY: sll is a valid sockaddr_ll of the given size.
            let r = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            assert_eq!(r, 0, "{}", last_ip_error("bind AF_PACKET"));
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 20_000,
            };
            setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv);
            tx.send(()).unwrap();
            let mut buf = [0u8; 2048];
            while !stop2.load(Ordering::SeqCst) {
                // SAFETY: buf is valid for writes of its length.
                let n = unsafe {
                    libc::recv(
                        fd.as_raw_fd(),
                        buf.as_mut_ptr() as *mut libc::c_void,
                        buf.len(),
                        0,
                    )
                };
                if n <= 0 {
                    continue;
                }
                let d = &buf[..n as usize];
                let now = Instant::now();
                if let Some(s) = parse_v4(now, d).or_else(|| parse_v6(now, d)) {
                    seen2.lock().unwrap().push(s);
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("capture ready");
        Capture { seen, stop, handle }
    }

    fn snapshot(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn finish(self) -> Vec<Seen> {
        self.stop.store(true, Ordering::SeqCst);
        if let Err(p) = self.handle.join() {
            std::panic::resume_unwind(p);
        }
        self.seen.lock().unwrap().clone()
    }
}

fn of(seen: &[Seen], family: Family, kind: Kind) -> Vec<Seen> {
    seen.iter()
        .filter(|s| s.family == family && s.kind == kind)
        .cloned()
        .collect()
}

/// Sends a solicitation from inside `ns` out of `dev`, as a snooping switch would.
fn solicit(ns: &Netns, dev: &str, family: Family) {
    let ifindex = ns.ifindex(dev);
    ns.run(move || match family {
        Family::V4 => {
            let fd = socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_IGMP);
            let mreq = libc::ip_mreqn {
                imr_multiaddr: libc::in_addr { s_addr: 0 },
                imr_address: libc::in_addr { s_addr: 0 },
                imr_ifindex: ifindex as i32,
            };
            setsockopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq);
            setsockopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &1u8);
            send_to(
                &fd,
                &Repr::Solicitation.to_bytes(Family::V4),
                IpAddr::V4(Ipv4Addr::new(224, 0, 0, 2)),
            );
        }
        Family::V6 => {
            let fd = socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6);
            let idx = ifindex as libc::c_int;
            setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, &idx);
            setsockopt(
                &fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MULTICAST_HOPS,
                &(1 as libc::c_int),
            );
            // The kernel fills in the ICMPv6 checksum.
            send_to(
                &fd,
                &Repr::Solicitation.to_bytes(Family::V6),
                "ff02::2".parse().unwrap(),
            );
        }
    });
}

fn send_to(fd: &OwnedFd, bytes: &[u8], dst: IpAddr) {
    // SAFETY: plain data; all-zero is valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match dst {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            let sin = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as u16;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(a) => {
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            let sin6 = unsafe { &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as u16;
            sin6.sin6_addr.s6_addr = a.octets();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    // SAFETY: bytes and ss are valid for the lengths given.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            bytes.as_ptr() as *const libc::c_void,
            bytes.len(),
            0,
            &ss as *const _ as *const libc::sockaddr,
            len as libc::socklen_t,
        )
    };
    assert_eq!(n, bytes.len() as isize, "{}", last_ip_error("sendto"));
}

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
            let s = if tx.family == Family::V4 {
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
