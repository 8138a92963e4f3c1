//! Upcall decoding: nanoseconds per upcall, IPv4 and IPv6.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mcroute::wire::upcall::{decode_v4, decode_v6, Layout, Upcall, UpcallKind};
use mcroute::{MifId, VifId};

fn bench(c: &mut Criterion) {
    let v4 = Upcall::V4 {
        kind: UpcallKind::NoCache,
        vif: VifId(3),
        source: "192.0.2.10".parse().unwrap(),
        group: "225.1.2.3".parse().unwrap(),
    }
    .encode(Layout::Linux);
    let v6 = Upcall::V6 {
        kind: UpcallKind::NoCache,
        mif: MifId(3),
        source: "2001:db8::10".parse().unwrap(),
        group: "ff0e::1:2".parse().unwrap(),
    }
    .encode(Layout::Linux);
    let mut g = c.benchmark_group("upcall_decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("v4", |b| {
        b.iter(|| decode_v4(black_box(&v4), Layout::Linux))
    });
    g.bench_function("v6", |b| {
        b.iter(|| decode_v6(black_box(&v6), Layout::Linux))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
