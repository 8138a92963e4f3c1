//! Configuration parsing throughput: a 100,000-line smcroute.conf and a 100,000-line
//! mrouted.conf, generated in memory. Criterion reports bytes per second (target: above
//! 100 MB/s).

use std::fmt::Write;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mcroute::config::{mrouted, smcroute};

/// Lines in each generated file.
const LINES: usize = 100_000;

/// A smcroute.conf of `lines` lines mixing every directive the parser knows: phyints,
/// (S,G) and (*,G) routes, group and source prefixes, IPv6, joins, comments and blank
/// lines, in proportions a large real configuration might have (mostly `mroute`).
fn smcroute_text(lines: usize) -> String {
    let mut s = String::with_capacity(lines * 64);
    for i in 0..lines {
        let (a, b, c) = ((i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
        let eth = i % 16;
        match i % 16 {
            0 => writeln!(s, "phyint eth{eth} enable ttl-threshold {}", 1 + i % 200),
            1 => writeln!(s, "# route {i}: a comment line as configurations have them"),
            2 => writeln!(s),
            3 => writeln!(s, "mgroup from eth{eth} group 225.{a}.{b}.{c}"),
            4 => writeln!(
                s,
                "mgroup from eth{eth} source 10.{a}.{b}.{c} group 232.{a}.{b}.{c}"
            ),
            5 => writeln!(
                s,
                "mroute from eth{eth} group 226.{a}.{b}.{c} to eth1 eth2 eth3"
            ),
            6 => writeln!(
                s,
                "mroute from eth+ group 227.{a}.{b}.0/24 to eth1 eth2  # wildcard"
            ),
            7 => writeln!(
                s,
                "mroute from eth{eth} source 10.{a}.{b}.0/24 group 228.1.2.3 to eth4"
            ),
            8 => writeln!(
                s,
                "mroute from eth{eth} group ff0e::{a:x}:{b:x}{c:02x} to eth5 eth6"
            ),
            9 => writeln!(
                s,
                "mroute from eth{eth} source 2001:db8::{a:x}:{b:x}{c:02x} group ff3e::1 to eth7"
            ),
            _ => writeln!(
                s,
                "mroute from eth{eth} source 192.{a}.{b}.{c} group 225.{c}.{b}.{a} to eth1 eth2"
            ),
        }
        .expect("write to a String");
    }
    s
}

/// A mrouted.conf of `lines` lines: global settings and boundary names, then phyints and
/// tunnels whose options continue over several lines (mrouted.conf is free-form).
fn mrouted_text(lines: usize) -> String {
    let mut s = String::with_capacity(lines * 48);
    s.push_str("# generated for the parser benchmark\ncache-lifetime 600\npruning on\n");
    s.push_str("igmp-query-interval 125\nname LOCAL 239.255.0.0/16\nname EE 239.254.0.0/16\n");
    let mut i = 0usize;
    let mut written = 6;
    while written < lines {
        let (a, b) = ((i >> 8) & 0xff, i & 0xff);
        if i % 4 == 3 {
            writeln!(
                s,
                "tunnel 192.0.{}.{} 198.{a}.{b}.1 metric 1 threshold 32",
                a, b
            )
            .expect("write");
            writeln!(s, "        rate_limit 0 boundary LOCAL   # tunnel {i}").expect("write");
            written += 2;
        } else {
            writeln!(
                s,
                "phyint eth{i} metric {} threshold {}",
                1 + i % 30,
                1 + i % 250
            )
            .expect("write");
            writeln!(s, "        altnet 10.{a}.{b}.0/24 altnet 172.16.{b}.0/24").expect("write");
            writeln!(s, "        boundary EE boundary 239.{a}.0.0/16").expect("write");
            writeln!(s, "        static-group 225.{a}.{b}.1 igmpv2").expect("write");
            writeln!(
                s,
                "        accept 10.{a}.0.0/16 exact 192.168.{b}.0/24 bidir"
            )
            .expect("write");
            written += 5;
        }
        i += 1;
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = smcroute_text(LINES);
    let parsed = smcroute::parse(&text).expect("the generated smcroute.conf parses");
    assert!(parsed.directives.len() > LINES * 3 / 4);
    let mut g = c.benchmark_group("config_parse");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("smcroute_100k_lines", |b| {
        b.iter(|| smcroute::parse(black_box(&text)))
    });

    let text = mrouted_text(LINES);
    let parsed = mrouted::parse(&text).expect("the generated mrouted.conf parses");
    assert!(parsed.phyints.len() + parsed.tunnels.len() > LINES / 5);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("mrouted_100k_lines", |b| {
        b.iter(|| mrouted::parse(black_box(&text)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
