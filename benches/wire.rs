//! IGMP and DVMRP codecs: decode and encode of single messages (nanoseconds per message).
//! The 10,000-route DVMRP report is in `benches/dvmrp.rs`.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ipnet::Ipv4Net;
use mcroute::wire::dvmrp::{self, Body, ReportRoute};
use mcroute::wire::igmp::{self, GroupRecord, Query, RecordType, Version};

/// `n` distinct routes of mixed prefix lengths (/16, /24, /28).
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
                metric: 1 + (i % 31) as u8,
            }
        })
        .collect()
}

fn igmp_messages() -> Vec<(&'static str, igmp::Repr)> {
    let src = |i: u32| Ipv4Addr::from(0xc000_0200 + i);
    vec![
        (
            "v2_report",
            igmp::Repr::ReportV2 {
                group: Ipv4Addr::new(225, 1, 2, 3),
            },
        ),
        (
            "v2_query",
            igmp::Repr::Query(Query::general(Version::V2, Duration::from_secs(10))),
        ),
        (
            "v3_query_8_sources",
            igmp::Repr::Query(Query {
                version: Version::V3,
                max_resp_code: 100,
                group: Ipv4Addr::new(232, 1, 1, 1),
                suppress: false,
                qrv: 2,
                qqic: 125,
                sources: (0..8).map(src).collect(),
            }),
        ),
        (
            "v3_report_4x4",
            igmp::Repr::ReportV3 {
                records: (0..4)
                    .map(|r| GroupRecord {
                        record_type: RecordType::ModeIsInclude,
                        group: Ipv4Addr::new(232, 1, 1, r as u8),
                        sources: (0..4).map(|s| src(4 * r + s)).collect(),
                        aux: Vec::new(),
                    })
                    .collect(),
            },
        ),
    ]
}

fn dvmrp_messages() -> Vec<(&'static str, dvmrp::Repr)> {
    vec![
        (
            "probe_4_neighbors",
            dvmrp::Repr::new(Body::Probe {
                generation_id: 0x1234_5678,
                neighbors: (1..=4).map(|i| Ipv4Addr::new(192, 0, 2, i)).collect(),
            }),
        ),
        (
            "prune",
            dvmrp::Repr::new(Body::Prune {
                source: Ipv4Addr::new(192, 0, 2, 10),
                group: Ipv4Addr::new(225, 1, 2, 3),
                lifetime: 7200,
                source_prefix: Some(24),
            }),
        ),
        (
            "report_100_routes",
            dvmrp::Repr::new(Body::Report {
                routes: report_routes(100),
            }),
        ),
    ]
}

fn bench_igmp(c: &mut Criterion) {
    let mut g = c.benchmark_group("igmp");
    g.throughput(Throughput::Elements(1));
    let mut buf = [0u8; 1500];
    for (name, repr) in igmp_messages() {
        let bytes = repr.to_bytes().expect("encodable");
        let parsed = igmp::Repr::parse(&bytes).expect("decodes");
        assert_eq!(parsed.to_bytes().as_ref(), Ok(&bytes));
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| igmp::Repr::parse(black_box(&bytes)))
        });
        g.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| black_box(&repr).emit(&mut buf))
        });
    }
    g.finish();
}

fn bench_dvmrp(c: &mut Criterion) {
    let mut g = c.benchmark_group("dvmrp");
    g.throughput(Throughput::Elements(1));
    let mut buf = vec![0u8; 4096];
    for (name, repr) in dvmrp_messages() {
        let bytes = repr.to_bytes().expect("encodable");
        assert_eq!(dvmrp::Repr::parse(&bytes).as_ref(), Ok(&repr));
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| dvmrp::Repr::parse(black_box(&bytes)))
        });
        g.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| black_box(&repr).emit(&mut buf))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench_igmp, bench_dvmrp
}
criterion_main!(benches);
