//! A DVMRP route report of 10,000 routes: encoding it into 516-byte messages
//! (`wire::dvmrp::report_messages`), decoding them, and the engine processing the full
//! report from a two-way neighbour, into an empty table (every route new) and again into a
//! table that already has them (the 60-second refresh). Throughput is in routes.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ipnet::Ipv4Net;
use mcroute::engine::dvmrp::{Config, Engine, VifConfig};
use mcroute::wire::dvmrp::{self, report_messages, Body, Capabilities, ReportRoute};
use mcroute::VifId;

/// Routes in the benchmarked report.
const ROUTES: usize = 10_000;

const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const NEIGHBOR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// `n` distinct, valid unicast routes of mixed prefix lengths (/16, /24, /28).
fn report_routes(n: usize) -> Vec<ReportRoute> {
    (0..n as u32)
        .map(|i| {
            let j = i / 3;
            let (addr, len) = match i % 3 {
                0 => (0x0a00_0000 + (j << 8), 24),
                1 => (0xac10_0000 + (j << 4), 28),
                _ => (0x6400_0000 + (j << 16), 16),
            };
            ReportRoute {
                origin: Ipv4Net::new(Ipv4Addr::from(addr), len).expect("valid prefix"),
                metric: 1 + (i % 30) as u8,
            }
        })
        .collect()
}

/// An engine with two VIFs up and a two-way neighbour on VIF 0, outputs drained.
fn engine_with_neighbor(now: Instant) -> Engine {
    let mut e = Engine::new(Config::default());
    e.add_vif(VifConfig::new(
        VifId(0),
        LOCAL,
        "192.0.2.0/24".parse().expect("net"),
    ))
    .expect("vif 0");
    e.add_vif(VifConfig::new(
        VifId(1),
        Ipv4Addr::new(198, 51, 100, 1),
        "198.51.100.0/24".parse().expect("net"),
    ))
    .expect("vif 1");
    e.interface_up(now, VifId(0));
    e.interface_up(now, VifId(1));
    let probe = dvmrp::Repr::new(Body::Probe {
        generation_id: 7,
        neighbors: vec![LOCAL],
    })
    .to_bytes()
    .expect("probe");
    e.handle_packet(now, VifId(0), NEIGHBOR, &probe);
    assert!(e.neighbors().any(|n| n.addr == NEIGHBOR && n.two_way));
    drain(&mut e);
    e
}

fn drain(e: &mut Engine) {
    while e.poll_transmit().is_some() {}
    while e.poll_mfc().is_some() {}
}

fn bench(c: &mut Criterion) {
    let routes = report_routes(ROUTES);
    let msgs =
        report_messages(Capabilities::MROUTED, &routes, dvmrp::MAX_MESSAGE_LEN).expect("encodable");
    let decoded: usize = msgs
        .iter()
        .map(|m| match dvmrp::Repr::parse(m).expect("valid").body {
            Body::Report { routes } => routes.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(decoded, ROUTES);

    let mut g = c.benchmark_group("dvmrp_report_10k_routes");
    g.sample_size(20);
    g.throughput(Throughput::Elements(ROUTES as u64));
    g.bench_function("encode", |b| {
        b.iter(|| {
            report_messages(
                Capabilities::MROUTED,
                black_box(&routes),
                dvmrp::MAX_MESSAGE_LEN,
            )
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            for m in black_box(&msgs) {
                black_box(dvmrp::Repr::parse(m).ok());
            }
        })
    });

    let now = Instant::now();
    // Check once that the engine takes every route.
    let mut e = engine_with_neighbor(now);
    for m in &msgs {
        e.handle_packet(now, VifId(0), NEIGHBOR, m);
    }
    assert_eq!(e.stats().reports as usize, msgs.len());
    assert!(e.route_count() >= ROUTES, "{} routes", e.route_count());
    g.bench_function("engine_new_routes", |b| {
        b.iter_batched(
            || engine_with_neighbor(now),
            |mut e| {
                for m in &msgs {
                    e.handle_packet(now, VifId(0), NEIGHBOR, m);
                }
                drain(&mut e);
                e
            },
            BatchSize::PerIteration,
        )
    });
    drain(&mut e);
    let later = now + Duration::from_secs(60);
    g.bench_function("engine_refresh", |b| {
        b.iter(|| {
            for m in &msgs {
                e.handle_packet(later, VifId(0), NEIGHBOR, black_box(m));
            }
            drain(&mut e);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
