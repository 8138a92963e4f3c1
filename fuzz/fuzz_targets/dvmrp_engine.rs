#![no_main]
//! The DVMRP engine driven by an arbitrary sequence of inputs: packets (raw, with a fixed
//! checksum, or well-formed probes, reports, prunes and grafts from neighbours), upcalls,
//! interface and membership changes and the passing of time. The first byte of each step
//! selects the input, the next bytes its arguments.
//!
//! Beyond "no panic", after every step: routes have a metric in 1..=INFINITY and a parent
//! VIF that exists; every message sent decodes, fits the report budget, carries metrics
//! below 2 x INFINITY, goes out with TTL 1 from our address on its VIF; every MFC entry
//! installed is IPv4 and does not forward back out of its inbound VIF.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use libfuzzer_sys::fuzz_target;
use mcroute::engine::dvmrp::{Config, Engine, MfcAction, VifConfig, INFINITY, TTL};
use mcroute::wire::dvmrp::{self, Body, ReportRoute};
use mcroute::{Family, Upcall, UpcallKind, VifId};

const VIFS: u16 = 3;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, rest) = self.0.split_at(n);
        self.0 = rest;
        a
    }
    fn u32(&mut self) -> u32 {
        let mut v = 0u32;
        for _ in 0..4 {
            v = (v << 8) | u32::from(self.byte().unwrap_or(0));
        }
        v
    }
}

fn local(vif: u16) -> Ipv4Addr {
    [
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::new(198, 51, 100, 1),
        Ipv4Addr::new(203, 0, 113, 1),
    ][usize::from(vif % VIFS)]
}

/// Neighbour `n` on `vif`: .2 .. .5 of its subnet, and (n = 4) our own address.
fn neighbor(vif: u16, n: u8) -> Ipv4Addr {
    let o = local(vif).octets();
    Ipv4Addr::new(o[0], o[1], o[2], 2 + n % 5)
}

fn source(b: u8) -> Ipv4Addr {
    match b % 4 {
        0 => Ipv4Addr::new(10, 1, b, 7),
        1 => Ipv4Addr::new(192, 0, 2, 100),
        2 => Ipv4Addr::new(172, 16, 0, b),
        _ => Ipv4Addr::new(100, b, 0, 1),
    }
}

fn group(b: u8) -> Ipv4Addr {
    match b % 4 {
        0 => Ipv4Addr::new(225, 1, 1, b),
        1 => Ipv4Addr::new(239, 255, 0, 1),
        2 => Ipv4Addr::new(224, 0, 0, b), // link-local: never routed
        _ => Ipv4Addr::new(232, 0, b, 1),
    }
}

fn check(e: &mut Engine) {
    for r in e.routes() {
        assert!(
            (1..=INFINITY).contains(&r.metric),
            "route {} has metric {}",
            r.origin,
            r.metric
        );
        assert!(
            r.parent.0 < VIFS,
            "route {} has parent {}",
            r.origin,
            r.parent
        );
    }
    while let Some(t) = e.poll_transmit() {
        assert_eq!(t.ttl, TTL);
        let vif = t.vif().expect("DVMRP messages name their VIF");
        assert!(vif.0 < VIFS);
        assert_eq!(
            t.src_v4(),
            Some(local(vif.0)),
            "sent from the wrong address"
        );
        let repr = match dvmrp::Repr::parse(&t.payload) {
            Ok(r) => r,
            Err(err) => panic!("the engine sent an undecodable message ({err}): {t:?}"),
        };
        if let Body::Report { routes } = &repr.body {
            assert!(
                t.payload.len() <= e.config().report_budget,
                "report over budget"
            );
            for r in routes {
                assert!(
                    (1..2 * INFINITY).contains(&r.metric),
                    "reported metric {} for {}",
                    r.metric,
                    r.origin
                );
            }
        }
    }
    while let Some(a) = e.poll_mfc() {
        if let MfcAction::Install(entry) = a {
            assert_eq!(entry.family(), Family::V4);
            assert!(
                !entry.oifs().contains(entry.iif().index()),
                "entry forwards out of its inbound VIF: {entry:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut now = t0;
    let mut e = Engine::new(Config::default());
    for v in 0..VIFS {
        let o = local(v).octets();
        let subnet = Ipv4Net::new(Ipv4Addr::new(o[0], o[1], o[2], 0), 24).expect("subnet");
        let mut cfg = VifConfig::new(VifId(v), local(v), subnet);
        cfg.metric = 1 + v as u8;
        if v == 2 {
            cfg.boundaries
                .push("239.255.0.0/16".parse().expect("boundary"));
        }
        e.add_vif(cfg).expect("vif");
        e.interface_up(now, VifId(v));
    }
    check(&mut e);
    let mut input = Input(data);
    while let Some(op) = input.byte() {
        let vif = u16::from(input.byte().unwrap_or(0)) % (VIFS + 1); // VIFS: unknown VIF
        let nb = input.byte().unwrap_or(0);
        let src = neighbor(vif, nb);
        match op % 12 {
            0 => {
                now += Duration::from_secs(u64::from(nb) * 2);
                e.handle_timeout(now);
            }
            1 => {
                let n = usize::from(input.byte().unwrap_or(0));
                let bytes = input.bytes(n).to_vec();
                e.handle_packet(now, VifId(vif), src, &bytes);
            }
            2 => {
                let n = usize::from(input.byte().unwrap_or(0));
                let mut bytes = input.bytes(n).to_vec();
                if bytes.len() >= 4 {
                    bytes[0] = dvmrp::IGMP_TYPE_DVMRP;
                    bytes[2] = 0;
                    bytes[3] = 0;
                    let c = mcroute::wire::checksum::checksum(&bytes);
                    bytes[2..4].copy_from_slice(&c.to_be_bytes());
                }
                e.handle_packet(now, VifId(vif), src, &bytes);
            }
            3 => {
                let flags = input.byte().unwrap_or(0);
                let mut neighbors = Vec::new();
                if flags & 1 != 0 {
                    neighbors.push(local(vif));
                }
                if flags & 2 != 0 {
                    neighbors.push(neighbor(vif, flags >> 2));
                }
                let body = Body::Probe {
                    generation_id: u32::from(flags >> 4),
                    neighbors,
                };
                let bytes = dvmrp::Repr::new(body).to_bytes().expect("probe");
                e.handle_packet(now, VifId(vif), src, &bytes);
            }
            4 => {
                let n = input.byte().unwrap_or(0) % 64;
                let mut routes = Vec::new();
                for _ in 0..n {
                    let addr = Ipv4Addr::from(input.u32());
                    let len = input.byte().unwrap_or(0) % 33;
                    let metric = input.byte().unwrap_or(0) % 128;
                    let origin = Ipv4Net::new(addr, len).expect("len <= 32").trunc();
                    let r = ReportRoute { origin, metric };
                    if r.is_encodable() {
                        routes.push(r);
                    }
                }
                let bytes = dvmrp::Repr::new(Body::Report { routes })
                    .to_bytes()
                    .expect("report");
                e.handle_packet(now, VifId(vif), src, &bytes);
            }
            5 | 6 => {
                let s = source(input.byte().unwrap_or(0));
                let g = group(input.byte().unwrap_or(0));
                let x = input.byte().unwrap_or(0);
                let body = match (op % 12, x % 3) {
                    (5, _) => Body::Prune {
                        source: s,
                        group: g,
                        lifetime: u32::from(x) * 30,
                        source_prefix: (x & 1 != 0).then_some(24),
                    },
                    (_, 0) => Body::Graft {
                        source: s,
                        group: g,
                        source_prefix: None,
                    },
                    _ => Body::GraftAck {
                        source: s,
                        group: g,
                        source_prefix: None,
                    },
                };
                let bytes = dvmrp::Repr::new(body).to_bytes().expect("prune/graft");
                e.handle_packet(now, VifId(vif), src, &bytes);
            }
            7 => {
                let s = source(input.byte().unwrap_or(0));
                let g = group(nb);
                e.handle_data(now, VifId(vif), s, g);
            }
            8 => {
                let s = Ipv4Addr::from(input.u32());
                let g = Ipv4Addr::from(input.u32());
                let kind = if nb & 1 == 0 {
                    UpcallKind::NoCache
                } else {
                    UpcallKind::WrongVif
                };
                e.handle_upcall(
                    now,
                    &Upcall::V4 {
                        kind,
                        vif: VifId(vif),
                        source: s,
                        group: g,
                    },
                );
            }
            9 => {
                if nb & 1 == 0 {
                    e.interface_up(now, VifId(vif));
                } else {
                    e.interface_down(now, VifId(vif));
                }
            }
            10 => e.local_membership(now, VifId(vif), group(nb >> 1), nb & 1 == 0),
            _ => {
                let bytes = dvmrp::Repr::new(Body::AskNeighbors2)
                    .to_bytes()
                    .expect("ask");
                e.handle_packet(now, VifId(vif), src, &bytes);
            }
        }
        check(&mut e);
        // Queries must not panic either.
        let _ = e.lookup(source(nb));
        let _ = e.flow(source(nb), group(nb));
    }
});
