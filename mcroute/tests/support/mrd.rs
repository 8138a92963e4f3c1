//! Packet capture and Multicast Router Discovery helpers for namespace tests.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mcroute::engine::mrdisc::{Kind, Packet, Repr};
use mcroute::Family;

use super::Netns;

/// One MRD message seen on the wire, with what the IP header said.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub family: Family,
    pub kind: Kind,
    pub repr: Option<Repr>,
    pub dst: IpAddr,
    pub hop_limit: u8,
    pub router_alert: bool,
    pub checksum_ok: bool,
}

pub fn last_ip_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

pub fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, val: &T) {
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

pub fn socket(domain: libc::c_int, ty: libc::c_int, proto: libc::c_int) -> OwnedFd {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    assert!(fd >= 0, "{}", last_ip_error("socket"));
    // SAFETY: a new descriptor nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Parses an IPv4 packet carrying IGMP.
pub fn parse_v4(at: Instant, d: &[u8]) -> Option<Seen> {
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
pub fn parse_v6(at: Instant, d: &[u8]) -> Option<Seen> {
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
pub struct Capture {
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl Capture {
    pub fn start(ns: &Netns, dev: &str) -> Capture {
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

    pub fn snapshot(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn finish(self) -> Vec<Seen> {
        self.stop.store(true, Ordering::SeqCst);
        if let Err(p) = self.handle.join() {
            std::panic::resume_unwind(p);
        }
        self.seen.lock().unwrap().clone()
    }
}

pub fn of(seen: &[Seen], family: Family, kind: Kind) -> Vec<Seen> {
    seen.iter()
        .filter(|s| s.family == family && s.kind == kind)
        .cloned()
        .collect()
}

/// Sends a solicitation from inside `ns` out of `dev`, as a snooping switch would.
pub fn solicit(ns: &Netns, dev: &str, family: Family) {
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

pub fn send_to(fd: &OwnedFd, bytes: &[u8], dst: IpAddr) {
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
