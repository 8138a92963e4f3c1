//! The static routing engine and the route table.
//!
//! - `static_upcall/KIND/N`: one NOCACHE upcall answered by `StaticEngine::handle_upcall`
//!   against N rules (1,000 / 10,000 / 100,000) of one kind: exact (S,G) rules (the route
//!   is already installed: the upcall is a late duplicate), (*,G) templates, group-prefix
//!   templates, source-prefix templates, and a miss against all four kinds mixed (a stop
//!   filter is installed). Every template upcall materialises a new route; the learned
//!   routes are flushed outside the measurement every 256 upcalls. The per-upcall time must
//!   not grow with N: `N_hit_1000` has N rules but upcalls for 1,000 of them only, which
//!   separates the cost of the table's size from that of a working set beyond the caches.
//! - `route_table/...`: adding and removing one route next to N installed ones, through
//!   `Router` on the fake kernel and through the engine's `add_route`/`remove_route`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ipnet::{IpNet, Ipv4Net};
use mcroute::engine::static_routing::{
    Action, EngineOptions, IfPattern, RouteRule, StaticConfig, StaticEngine,
};
use mcroute::platform::fake::FakeKernel;
use mcroute::{Interface, MfcEntry, Router, RouterOptions};

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Learned routes are flushed (outside the measurement) after this many upcalls.
const WINDOW: u64 = 256;
/// Spreads consecutive upcalls over the rules (prime: no two upcalls of a window hit one
/// rule, since no size is a multiple of it).
const STRIDE: u64 = 7919;

#[derive(Clone, Copy)]
enum Kind {
    Exact,
    StarG,
    GroupPrefix,
    SourcePrefix,
    Miss,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Exact => "exact_sg",
            Kind::StarG => "star_g",
            Kind::GroupPrefix => "group_prefix",
            Kind::SourcePrefix => "source_prefix",
            Kind::Miss => "miss_mixed",
        }
    }
}

fn v4(a: u32) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

fn net(a: u32, len: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new(v4(a), len).expect("prefix"))
}

fn oifs() -> Vec<IfPattern> {
    vec![IfPattern::new("eth1"), IfPattern::new("eth2")]
}

/// Rule `i` of a kind; every rule covers a disjoint set of (S,G).
fn rule(kind: Kind, i: u32) -> RouteRule {
    match kind {
        Kind::Exact => RouteRule::new(
            "eth0",
            Some(net(0x0a00_0001 + i, 32)),
            net(0xe100_0000 + i, 32),
            oifs(),
        ),
        Kind::StarG => RouteRule::new("eth0", None, net(0xe200_0000 + i, 32), oifs()),
        Kind::GroupPrefix => RouteRule::new("eth0", None, net(0xe300_0000 + (i << 4), 28), oifs()),
        Kind::SourcePrefix => RouteRule::new(
            "eth0",
            Some(net(0x0b00_0000 + (i << 8), 24)),
            net(0xe801_0101, 32),
            oifs(),
        ),
        Kind::Miss => {
            let kinds = [
                Kind::Exact,
                Kind::StarG,
                Kind::GroupPrefix,
                Kind::SourcePrefix,
            ];
            rule(kinds[(i % 4) as usize], i / 4)
        }
    }
}

/// The upcall number `k` of a run against `n` rules: (S,G) matching rule `(k * STRIDE) % n`
/// (or, for `Miss`, no rule), distinct from the other upcalls of its window.
fn upcall(kind: Kind, n: usize, k: u64) -> (IpAddr, IpAddr) {
    let r = ((k * STRIDE) % n as u64) as u32;
    let h = (k % 250) as u32;
    let (s, g) = match kind {
        Kind::Exact => (0x0a00_0001 + r, 0xe100_0000 + r),
        Kind::StarG => (0xc0a8_0000 + h, 0xe200_0000 + r),
        Kind::GroupPrefix => (0xc0a8_0001, 0xe300_0000 + (r << 4) + (h % 16)),
        Kind::SourcePrefix => (0x0b00_0001 + (r << 8) + h, 0xe801_0101),
        Kind::Miss => (0xc612_0000 + (k % 65_536) as u32, 0xef00_0001),
    };
    (IpAddr::V4(v4(s)), IpAddr::V4(v4(g)))
}

fn iface(index: u32, name: &str) -> Interface {
    Interface {
        index,
        name: name.into(),
        up: true,
        multicast: true,
        loopback: false,
        point_to_point: false,
        addrs: vec![],
    }
}

fn interfaces() -> Vec<Interface> {
    vec![iface(2, "eth0"), iface(3, "eth1"), iface(4, "eth2")]
}

fn engine(kind: Kind, n: usize, now: Instant) -> StaticEngine {
    let mut e = StaticEngine::new(EngineOptions::default());
    e.handle_interfaces(now, &interfaces());
    let config = StaticConfig {
        routes: (0..n as u32).map(|i| rule(kind, i)).collect(),
        ..Default::default()
    };
    e.handle_config(now, config).expect("valid configuration");
    drain(&mut e);
    e
}

/// The actions the engine queued.
fn drain(e: &mut StaticEngine) -> Vec<Action> {
    std::iter::from_fn(|| e.poll_action()).collect()
}

/// `smcroutectl flush`, its actions dropped.
fn flush(e: &mut StaticEngine, now: Instant) {
    e.handle_flush(now);
    drain(e);
}

fn bench_upcalls(c: &mut Criterion) {
    let now = Instant::now();
    let mut g = c.benchmark_group("static_upcall");
    g.throughput(Throughput::Elements(1));
    for kind in [
        Kind::Exact,
        Kind::StarG,
        Kind::GroupPrefix,
        Kind::SourcePrefix,
        Kind::Miss,
    ] {
        // (rules, rules the upcalls hit): the last case hits only 1,000 of 100,000 rules,
        // which tells the cost of a larger table (none, by design) from that of a working
        // set larger than the CPU caches.
        for (n, hit) in SIZES.map(|n| (n, n)).into_iter().chain([(100_000, 1_000)]) {
            let mut e = engine(kind, n, now);
            // Check what the upcalls do once.
            let (s, gr) = upcall(kind, hit, 1);
            e.handle_upcall(now, "eth0", s, gr);
            let actions = drain(&mut e);
            match kind {
                Kind::Exact => assert!(actions.is_empty(), "{actions:?}"),
                Kind::Miss => assert!(e.route(s, gr).expect("stop filter").route.is_stop_filter()),
                _ => assert_eq!(e.route(s, gr).expect("learned").route.oifs.len(), 2),
            }
            flush(&mut e, now);
            let mut k = 0u64;
            let id = if hit == n {
                n.to_string()
            } else {
                format!("{n}_hit_{hit}")
            };
            g.bench_function(BenchmarkId::new(kind.name(), id), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut done = 0;
                    while done < iters {
                        let batch = (iters - done).min(WINDOW);
                        let start = Instant::now();
                        for j in 0..batch {
                            let (s, gr) = upcall(kind, hit, k + j);
                            e.handle_upcall(now, "eth0", s, gr);
                            while let Some(a) = e.poll_action() {
                                black_box(a);
                            }
                        }
                        total += start.elapsed();
                        flush(&mut e, now);
                        k += batch;
                        done += batch;
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

fn bench_route_table(c: &mut Criterion) {
    let now = Instant::now();
    let mut g = c.benchmark_group("route_table");
    g.throughput(Throughput::Elements(1));
    for n in [1_000usize, 100_000] {
        // Router over the fake kernel: add then remove one route beside n others.
        let kernel = FakeKernel::new();
        kernel.add_interface("eth0");
        kernel.add_interface("eth1");
        let mut router =
            Router::open(kernel.platform(), RouterOptions::default()).expect("open router");
        let (a, b) = (
            router.add_vif("eth0").expect("vif"),
            router.add_vif("eth1").expect("vif"),
        );
        let entry = |i: u32| {
            MfcEntry::v4(v4(0x0a00_0001 + i), v4(0xe100_0000 + i), a)
                .expect("entry")
                .with_oif(b, 1)
        };
        for i in 0..n as u32 {
            router.add_route(entry(i)).expect("add");
        }
        assert_eq!(router.route_count(), n);
        let extra = entry(n as u32);
        let (s, gr) = (extra.source(), extra.group());
        g.bench_function(BenchmarkId::new("router_fake_add_remove", n), |bn| {
            bn.iter(|| {
                router.add_route(extra.clone()).expect("add");
                router.remove_route(s, gr).expect("remove")
            })
        });

        // The engine: smcroutectl add/remove of an (S,G) rule and of a (*,G) template
        // beside n (S,G) rules.
        let mut e = engine(Kind::Exact, n, now);
        for (name, r) in [
            ("engine_add_remove_sg", rule(Kind::Exact, n as u32)),
            ("engine_add_remove_star_g", rule(Kind::StarG, 0)),
        ] {
            e.handle_add_route(now, r.clone()).expect("add");
            let actions = drain(&mut e);
            assert!(!actions.is_empty() || name.ends_with("star_g"));
            e.handle_remove_route(now, &r).expect("remove");
            drain(&mut e);
            g.bench_function(BenchmarkId::new(name, n), |bn| {
                bn.iter(|| {
                    e.handle_add_route(now, r.clone()).expect("add");
                    black_box(drain(&mut e));
                    e.handle_remove_route(now, &r).expect("remove");
                    drain(&mut e)
                })
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench_upcalls, bench_route_table
}
criterion_main!(benches);
