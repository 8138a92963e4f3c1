//! DVMRP benchmarks, in three parts:
//!
//! 1. **Learning in memory** (always): a fresh engine learns 50,000 and 100,000 routes
//!    from one neighbour (full 516-byte reports, the fake clock); prints the time, the
//!    resident memory the table added (bytes per route), what a minute of refreshes adds
//!    (nothing: no stale timers), and what is left once the neighbour goes quiet and every
//!    route has expired and been deleted.
//! 2. **The daemon beside mrouted** (as root: `sudo cargo bench -p mcroute --bench dvmrp`):
//!    in a namespace, a peer (a raw IGMP socket speaking DVMRP) feeds 50,000 and 100,000
//!    routes to dvmrp-router, and to mrouted when `MROUTED=/path/to/mrouted` names one
//!    (built outside this repository); prints the CPU time each daemon spent learning and
//!    its resident memory with the routes, as a ratio dvmrp-router/mrouted.
//! 3. **Criterion**: a 10,000-route report encoded into messages, decoded, and processed by
//!    the engine into an empty table and as a refresh. Throughput is in routes.
//!
//! `MCROUTE_DVMRP_SIZES=50000,100000` sets the sizes of parts 1 and 2;
//! `MCROUTE_DVMRP_ONLY=memory|daemon|criterion` runs one part.

#[cfg(target_os = "linux")]
#[path = "../mcroute/tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use ipnet::Ipv4Net;
use mcroute::engine::dvmrp::{Config, Engine, VifConfig};
use mcroute::wire::dvmrp::{self, report_messages, Body, Capabilities, ReportRoute};
use mcroute::VifId;

/// Routes in the criterion report.
const ROUTES: usize = 10_000;

const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const NEIGHBOR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn sizes() -> Vec<usize> {
    std::env::var("MCROUTE_DVMRP_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![50_000, 100_000])
}

fn only(part: &str) -> bool {
    std::env::var("MCROUTE_DVMRP_ONLY").map_or(true, |o| o == part)
}

/// `n` distinct host routes in 198.18.0.0/15 (at most 131,072), metrics 1 to 30.
fn learned_routes(n: usize) -> Vec<ReportRoute> {
    assert!(n <= 1 << 17, "198.18.0.0/15 holds 131,072 host routes");
    (0..n as u32)
        .map(|i| ReportRoute {
            origin: Ipv4Net::new(Ipv4Addr::from(0xc612_0000 + i), 32).expect("valid prefix"),
            metric: 1 + (i % 30) as u8,
        })
        .collect()
}

/// The resident set size of process `pid` (`self` for this one), in bytes.
fn rss(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// Part 1: learning in memory.
fn memory() {
    println!("== DVMRP: learning routes from one neighbour, in memory (fake clock) ==");
    for n in sizes() {
        let t0 = Instant::now();
        trim();
        let base = rss("self");
        let routes = learned_routes(n);
        let msgs = report_messages(Capabilities::MROUTED, &routes, dvmrp::MAX_MESSAGE_LEN)
            .expect("encodable");
        drop(routes);
        let mut e = engine_with_neighbor(t0);
        let with_msgs = rss("self");
        let start = Instant::now();
        for m in &msgs {
            e.handle_packet(t0, VifId(0), NEIGHBOR, m);
        }
        drain(&mut e);
        let took = start.elapsed();
        assert!(e.route_count() >= n, "{} of {n} routes", e.route_count());
        let learned = rss("self");
        // A minute of refreshes: the neighbour repeats its table every 10 s.
        let probe = probe_bytes();
        for k in 1..=6u64 {
            let t = t0 + Duration::from_secs(10 * k);
            e.handle_timeout(t);
            e.handle_packet(t, VifId(0), NEIGHBOR, &probe);
            for m in &msgs {
                e.handle_packet(t, VifId(0), NEIGHBOR, m);
            }
            drain(&mut e);
        }
        let refreshed = rss("self");
        // The neighbour goes quiet: routes time out, are held down, then deleted.
        for k in 7..=60u64 {
            e.handle_timeout(t0 + Duration::from_secs(10 * k));
            drain(&mut e);
        }
        assert_eq!(e.route_count(), 2, "only the local subnets are left");
        drop(msgs);
        trim();
        let emptied = rss("self");
        drop(e);
        trim();
        let per_route = learned.saturating_sub(with_msgs) as f64 / n as f64;
        println!(
            "{n:>7} routes: learned in {:.3} s ({:.2} us/route); RSS {} -> {} ({per_route:.0} B/route); \
             after 60 s of refreshes {} (+{}); after expiry (heap trimmed) {}",
            took.as_secs_f64(),
            took.as_secs_f64() * 1e6 / n as f64,
            mb(base),
            mb(learned),
            mb(refreshed),
            mb(refreshed.saturating_sub(learned)),
            mb(emptied),
        );
    }
}

/// Gives the heap's free pages back (glibc), as the daemon does once its table shrank, so
/// that RSS shows what is really in use.
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn probe_bytes() -> Vec<u8> {
    dvmrp::Repr::new(Body::Probe {
        generation_id: 7,
        neighbors: vec![LOCAL],
    })
    .to_bytes()
    .expect("probe")
}
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

/// Part 2: dvmrp-router (and mrouted) learning from a peer in a namespace.
#[cfg(target_os = "linux")]
mod daemons {
    use std::net::{IpAddr, Ipv4Addr};
    use std::os::fd::OwnedFd;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use mcroute::ctl::client::CtlClient;
    use mcroute::ctl::{Request, Response, ShowWhat};
    use mcroute::wire::dvmrp::{self, report_messages, Capabilities};

    use super::support::{mrd, sh, wait_until, workspace_bin, Netns, NsProcess, TempDir};
    use super::{learned_routes, mb, probe_bytes, rss, sizes};

    const ALL_DVMRP: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 4));
    /// Messages sent before waiting for the daemon to go idle: well under what a default
    /// socket receive buffer holds, so nothing is dropped.
    const BURST: usize = 64;

    enum Daemon<'a> {
        Ours(&'a Path),
        Mrouted(&'a Path),
    }

    struct Run {
        cpu: Duration,
        wall: Duration,
        base: u64,
        rss: u64,
        learned: Option<usize>,
    }

    /// (user + system) CPU time of `pid`.
    fn cpu(pid: u32) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = after
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as u64;
        Duration::from_millis(ticks * 1000 / hz.max(1))
    }

    fn peer_socket(peer: &Netns) -> OwnedFd {
        peer.run(|| {
            let fd = mrd::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_IGMP);
            let ifaddr = libc::in_addr {
                s_addr: u32::from_ne_bytes([192, 0, 2, 2]),
            };
            mrd::setsockopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &ifaddr);
            mrd::setsockopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &1i32);
            mrd::setsockopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, &0i32);
            fd
        })
    }

    /// Waits until `pid` has used no CPU for 50 ms (its socket queue is drained), probing
    /// every 5 s meanwhile so that it keeps us as a neighbour.
    fn wait_idle(pid: u32, fd: &OwnedFd, last_probe: &mut Instant) {
        let end = Instant::now() + Duration::from_secs(900);
        let mut last = cpu(pid);
        let mut quiet = 0;
        while quiet < 5 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
            if last_probe.elapsed() > Duration::from_secs(5) {
                mrd::send_to(fd, &probe_bytes(), ALL_DVMRP);
                *last_probe = Instant::now();
            }
            let c = cpu(pid);
            if c == last {
                quiet += 1;
            } else {
                quiet = 0;
                last = c;
            }
        }
    }

    fn measure(n: usize, which: &Daemon) -> Run {
        let rtr = Netns::new("dvr");
        let peer = Netns::new("dvp");
        sh(&[
            "ip", "link", "add", "r0", "netns", &rtr.name, "type", "veth", "peer", "name", "p0",
            "netns", &peer.name,
        ]);
        rtr.ip(&["addr", "add", "192.0.2.1/24", "dev", "r0"]);
        rtr.ip(&["link", "set", "r0", "up"]);
        // The second VIF mrouted needs: a stub link to a namespace of its own.
        let stub = Netns::new("dvs");
        sh(&[
            "ip", "link", "add", "r1", "netns", &rtr.name, "type", "veth", "peer", "name", "s0",
            "netns", &stub.name,
        ]);
        rtr.ip(&["addr", "add", "198.51.100.1/24", "dev", "r1"]);
        rtr.ip(&["link", "set", "r1", "up"]);
        stub.ip(&["link", "set", "s0", "up"]);
        peer.ip(&["addr", "add", "192.0.2.2/24", "dev", "p0"]);
        peer.ip(&["link", "set", "p0", "up"]);
        let dir = TempDir::new("dvmrp-bench");
        let conf = dir.path("mrouted.conf");
        std::fs::write(&conf, "").expect("conf");
        let sock = dir.path("sock");
        let conf_s = conf.display().to_string();
        let sock_s = sock.display().to_string();
        let pid_s = dir.path("pid").display().to_string();
        let ident = format!("{}-b", rtr.name);
        let args: Vec<&str> = match which {
            Daemon::Ours(_) => vec![
                "-f",
                "-c",
                &conf_s,
                "--ident",
                &ident,
                "--pidfile",
                &pid_s,
                "--socket",
                &sock_s,
            ],
            Daemon::Mrouted(_) => vec![
                "-n", "-f", &conf_s, "-i", &ident, "-p", &pid_s, "-u", &sock_s, "-l", "err",
            ],
        };
        let program: PathBuf = match which {
            Daemon::Ours(p) | Daemon::Mrouted(p) => p.to_path_buf(),
        };
        let proc = NsProcess::start(&rtr, &program, &args, &dir.path("log"));
        let pid = proc.child.id();
        assert!(
            wait_until(Duration::from_secs(10), || sock.exists()),
            "{} did not start: {}",
            program.display(),
            proc.output()
        );
        let fd = peer_socket(&peer);
        let probe = probe_bytes();
        for _ in 0..3 {
            mrd::send_to(&fd, &probe, ALL_DVMRP);
            std::thread::sleep(Duration::from_millis(300));
        }
        let mut last_probe = Instant::now();
        let routes = learned_routes(n);
        let msgs = report_messages(Capabilities::MROUTED, &routes, dvmrp::MAX_MESSAGE_LEN)
            .expect("encodable");
        drop(routes);
        wait_idle(pid, &fd, &mut last_probe);
        let base = rss(&pid.to_string());
        let cpu0 = cpu(pid);
        let t0 = Instant::now();
        for burst in msgs.chunks(BURST) {
            for m in burst {
                mrd::send_to(&fd, m, ALL_DVMRP);
            }
            wait_idle(pid, &fd, &mut last_probe);
        }
        let wall = t0.elapsed();
        let used = cpu(pid).saturating_sub(cpu0);
        let rss_now = rss(&pid.to_string());
        let learned = match which {
            Daemon::Ours(_) => CtlClient::connect(&sock).ok().and_then(|mut c| {
                match c.request(&Request::Show {
                    what: ShowWhat::Routes,
                    detail: false,
                }) {
                    Ok(Response::DvmrpRoutes(r)) => Some(
                        r.iter()
                            .filter(|r| r.gateway == Some(Ipv4Addr::new(192, 0, 2, 2)))
                            .count(),
                    ),
                    _ => None,
                }
            }),
            Daemon::Mrouted(p) => {
                let ctl = p.with_file_name("mroutectl");
                std::process::Command::new(ctl)
                    .args(["-u", &sock_s, "-p", "show", "routes"])
                    .output()
                    .ok()
                    .map(|o| {
                        String::from_utf8_lossy(&o.stdout)
                            .lines()
                            .filter(|l| l.contains("192.0.2.2"))
                            .count()
                    })
            }
        };
        drop(proc);
        Run {
            cpu: used,
            wall,
            base,
            rss: rss_now,
            learned,
        }
    }

    fn per_route(r: &Run) -> u64 {
        r.rss.saturating_sub(r.base) / r.learned.unwrap_or(0).max(1) as u64
    }

    fn line(name: &str, n: usize, r: &Run) -> String {
        format!(
            "{name:<12} {n:>7} routes: learned {} in {:.2} s CPU ({:.1} s wall, bursts of {BURST} \
             messages, idle between); RSS {} before, {} with the routes ({} B per route \
             learned)",
            r.learned.map_or("?".into(), |l| l.to_string()),
            r.cpu.as_secs_f64(),
            r.wall.as_secs_f64(),
            mb(r.base),
            mb(r.rss),
            per_route(r),
        )
    }

    pub fn run() {
        println!("== DVMRP daemons learning from a peer, in a namespace ==");
        if !nix::unistd::geteuid().is_root() {
            println!("(skipped: needs root)");
            return;
        }
        let ours = workspace_bin("dvmrp-router", true);
        let mrouted = std::env::var_os("MROUTED").map(PathBuf::from);
        if mrouted.is_none() {
            println!("(MROUTED=/path/to/mrouted not set: dvmrp-router alone)");
        }
        for n in sizes() {
            let a = measure(n, &Daemon::Ours(&ours));
            println!("{}", line("dvmrp-router", n, &a));
            if let Some(m) = &mrouted {
                let b = measure(n, &Daemon::Mrouted(m));
                println!("{}", line("mrouted", n, &b));
                println!(
                    "{:<12} {n:>7} routes: RSS ratio dvmrp-router/mrouted {:.2} ({:.2} per route \
                     learned), CPU ratio {:.3}",
                    "",
                    a.rss as f64 / b.rss.max(1) as f64,
                    per_route(&a) as f64 / per_route(&b).max(1) as f64,
                    a.cpu.as_secs_f64() / b.cpu.as_secs_f64().max(0.001)
                );
            }
        }
    }
}

fn main() {
    if only("memory") {
        memory();
    }
    #[cfg(target_os = "linux")]
    if only("daemon") {
        daemons::run();
    }
    if only("criterion") {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
}
