#![no_main]
//! The static engine driven by an arbitrary sequence of inputs (configurations, interfaces
//! coming and going, smcroutectl add/remove/join/leave/flush, NOCACHE and WRONGVIF upcalls,
//! the flush timer), its actions executed on a `Router` over the fake kernel. The first byte
//! of each step selects the input, the next bytes its arguments.
//!
//! Beyond "no panic", after every step: every action executes without error, and the
//! routes the engine believes are installed are exactly the Router's (same (S,G), inbound
//! and outbound interfaces), and so are its VIFs and MIFs.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use mcroute::engine::static_routing::{
    EngineOptions, IfPattern, JoinRule, Phyint, RouteRule, StaticConfig, StaticEngine,
};
use mcroute::platform::fake::{Fake, FakeKernel};
use mcroute::service::static_router::exec;
use mcroute::{Family, Router, RouterOptions, VifIndex};

const IFACES: [&str; 6] = ["eth0", "eth1", "eth2", "a1", "a2", "b0"];
const PATTERNS: [&str; 8] = ["eth0", "eth1", "eth2", "eth+", "a1", "a+", "zz9", "+"];
const SOURCES: [Option<&str>; 8] = [
    None,
    Some("192.0.2.10/32"),
    Some("192.0.2.0/24"),
    Some("0.0.0.0/0"),
    Some("10.0.0.0/8"),
    Some("2001:db8::1/128"),
    Some("2001:db8::/32"),
    Some("192.0.2.77/32"),
];
const GROUPS: [&str; 8] = [
    "225.1.2.3/32",
    "225.1.2.0/24",
    "239.0.0.0/8",
    "224.0.0.0/4",
    "ff0e::1/128",
    "ff0e::/112",
    "225.1.2.99/32",
    "192.0.2.1/32", // not multicast: refused
];
const UPCALL_SOURCES: [&str; 6] = [
    "192.0.2.10",
    "192.0.2.77",
    "10.1.1.1",
    "198.51.100.1",
    "2001:db8::1",
    "2001:db8::77",
];
const UPCALL_GROUPS: [&str; 6] = [
    "225.1.2.3",
    "225.1.2.99",
    "239.1.1.1",
    "ff0e::1",
    "ff0e::99",
    "192.0.2.1",
];

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.byte()) % from.len()]
    }
    fn route_rule(&mut self) -> RouteRule {
        let iif = self.pick(&PATTERNS);
        let source = self
            .pick(&SOURCES)
            .map(|s| s.parse::<IpNet>().expect("net"));
        let group = self.pick(&GROUPS).parse::<IpNet>().expect("net");
        let mask = self.byte();
        let oifs = PATTERNS
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, p)| IfPattern::new(p));
        RouteRule::new(iif, source, group, oifs)
    }
    fn join_rule(&mut self) -> JoinRule {
        let iif = self.pick(&PATTERNS);
        let source = self
            .pick(&SOURCES)
            .map(|s| s.parse::<IpNet>().expect("net"));
        let group = self.pick(&GROUPS).parse::<IpNet>().expect("net");
        JoinRule::new(iif, source, group)
    }
    fn config(&mut self) -> StaticConfig {
        let mut c = StaticConfig::default();
        let n = self.byte();
        for _ in 0..n % 8 {
            c.routes.push(self.route_rule());
        }
        for _ in 0..(n >> 3) % 4 {
            c.joins.push(self.join_rule());
        }
        for _ in 0..(n >> 5) % 4 {
            let mut p = Phyint::new(self.pick(&PATTERNS));
            let f = self.byte();
            p.enable = f & 1 == 0;
            p.mrdisc = f & 2 != 0;
            p.ttl_threshold = 1 + (f >> 2);
            c.phyints.push(p);
        }
        c
    }
}

/// Executes every action the engine queued.
fn run(engine: &mut StaticEngine, router: &mut Router<Fake>) {
    let engine_actions: Vec<_> = std::iter::from_fn(|| engine.poll_action()).collect();
    for a in &engine_actions {
        if let Err(e) = exec::execute(router, a) {
            panic!("action {a} failed: {e}\nall actions: {engine_actions:#?}");
        }
    }
}

fn name_of(router: &Router<Fake>, id: VifIndex) -> String {
    router
        .vif(id)
        .map(|v| v.name.clone())
        .unwrap_or_else(|| format!("<no VIF {id}>"))
}

fn check(engine: &StaticEngine, router: &Router<Fake>) {
    let believed: BTreeSet<(IpAddr, IpAddr, String, Vec<String>)> = engine
        .kernel_routes()
        .into_iter()
        .map(|r| {
            let mut oifs: Vec<String> = r.route.oifs.iter().map(|(n, _)| n.clone()).collect();
            oifs.sort();
            (r.route.source, r.route.group, r.route.iif, oifs)
        })
        .collect();
    let actual: BTreeSet<(IpAddr, IpAddr, String, Vec<String>)> = router
        .routes()
        .map(|e| {
            let f = e.family();
            let mut oifs: Vec<String> = e
                .oifs()
                .iter()
                .map(|(i, _)| name_of(router, VifIndex::new(f, i)))
                .collect();
            oifs.sort();
            (e.source(), e.group(), name_of(router, e.iif()), oifs)
        })
        .collect();
    assert_eq!(believed, actual, "engine and kernel disagree on routes");
    let vifs: BTreeSet<(Family, String)> = engine
        .vifs()
        .into_iter()
        .map(|v| (v.family, v.name))
        .collect();
    let kernel_vifs: BTreeSet<(Family, String)> = router
        .vifs()
        .map(|v| (v.id.family(), v.name.clone()))
        .collect();
    assert_eq!(vifs, kernel_vifs, "engine and kernel disagree on VIFs");
}

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut now = t0;
    let kernel = FakeKernel::new();
    for name in &IFACES[..3] {
        kernel.add_interface(name);
    }
    let mut present = 0b000111u8;
    let mut router =
        Router::open(kernel.platform(), RouterOptions::dual_stack()).expect("open router");
    let mut options = EngineOptions::default();
    options.flush_interval = Some(Duration::from_secs(60));
    let mut engine = StaticEngine::new(options);
    let ifs = router.interfaces().expect("interfaces");
    engine.handle_interfaces(now, &ifs);
    run(&mut engine, &mut router);
    let mut input = Input(data);
    while !input.0.is_empty() {
        let op = input.byte();
        match op % 11 {
            0 => {
                let c = input.config();
                let _ = engine.handle_config(now, c);
            }
            1 => {
                // Interfaces come, go, or are recreated with a new index.
                let mask = input.byte();
                for (i, name) in IFACES.iter().enumerate() {
                    let want = mask & (1 << i) != 0;
                    let have = present & (1 << i) != 0;
                    let recreate = mask & 0xc0 == 0xc0 && i == usize::from(mask & 1);
                    if have && (!want || recreate) {
                        kernel.remove_interface(name);
                    }
                    if want && (!have || recreate) {
                        kernel.add_interface(name);
                    }
                }
                present = mask & 0x3f;
                let ifs = router.interfaces().expect("interfaces");
                engine.handle_interfaces(now, &ifs);
            }
            2 => {
                let r = input.route_rule();
                let _ = engine.handle_add_route(now, r);
            }
            3 => {
                let r = input.route_rule();
                let _ = engine.handle_remove_route(now, &r);
            }
            4 => {
                let r = input.join_rule();
                let _ = engine.handle_join(now, r);
            }
            5 => {
                let r = input.join_rule();
                let _ = engine.handle_leave(now, &r);
            }
            6 | 7 => {
                let iif = input.pick(&IFACES);
                let s: IpAddr = input.pick(&UPCALL_SOURCES).parse().expect("addr");
                let g: IpAddr = input.pick(&UPCALL_GROUPS).parse().expect("addr");
                if op % 11 == 6 {
                    engine.handle_upcall(now, iif, s, g)
                } else {
                    engine.handle_wrong_vif(now, iif, s, g)
                }
            }
            8 => {
                now += Duration::from_secs(u64::from(input.byte()));
                let busy = input.byte();
                engine.handle_timeout(now);
                while let Some((s, g)) = engine.poll_counters_request() {
                    // Some routes see traffic, the others are idle.
                    let c = router.route_counters(s, g).ok().map(|mut c| {
                        if busy & 1 != 0 {
                            c.packets += u64::from(busy) + now.duration_since(t0).as_secs();
                        }
                        c
                    });
                    engine.handle_counters(now, s, g, c);
                }
            }
            9 => engine.handle_flush(now),
            _ => {
                let _ = engine.pending();
                let _ = engine.memberships();
            }
        }
        run(&mut engine, &mut router);
        check(&engine, &router);
    }
});
