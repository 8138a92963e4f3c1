//! dvmrp-router on the real kernel, in network namespaces: the example binary runs once
//! per router namespace, with the protocol's real timers.
//!
//! - `line_of_three_routers`: sender — R1 — R2 — R3 — receiver. Neighbours come up, routes
//!   to every subnet appear with the right metrics (read over the control socket), traffic
//!   reaches the receiver, the receiver's leave prunes the branch (R3's inbound VIF stops
//!   counting packets, R2's kernel entry loses its outbound VIF), a rejoin grafts it back.
//! - `lan_with_two_routers`: two routers and a receiver on one bridged LAN: one designated
//!   forwarder, so every packet arrives once.
//! - `ring_fails_over`: R1..R4 in a ring, the path through R2 preferred; R2 is killed
//!   without a word: R3 loses it after the 35 s neighbour timeout, its route expires and the
//!   path through R4 takes over (up to a minute more, for R4's next full report).
//! - `sigterm_withdraws_routes`: SIGTERM makes a router report its routes unreachable.
#![cfg(target_os = "linux")]

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use mcroute::ctl::client::CtlClient;
use mcroute::ctl::{DvmrpRouteRow, MfcRow, NeighborRow, Request, Response, ShowWhat};
use support::*;

/// The dvmrp-router example, built once (a no-op when `cargo test` already built it).
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let out = Command::new(env!("CARGO"))
            .args(["build", "--all-features", "--example", "dvmrp-router"])
            .args([
                "--message-format=json-render-diagnostics",
                "--manifest-path",
            ])
            .arg(&manifest)
            .stderr(Stdio::inherit())
            .output()
            .expect("running cargo build");
        assert!(
            out.status.success(),
            "building the dvmrp-router example failed"
        );
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .filter(|l| l.contains("\"dvmrp-router\"") && l.contains("\"executable\":\""))
            .find_map(|l| {
                let start = l.find("\"executable\":\"")? + "\"executable\":\"".len();
                let end = l[start..].find('"')? + start;
                Some(PathBuf::from(&l[start..end]))
            })
            .expect("cargo did not report the example's executable")
    })
}

/// A dvmrp-router running in a namespace, killed on drop, with its files in a private
/// directory.
struct Daemon {
    child: Child,
    dir: PathBuf,
    ident: String,
}

impl Daemon {
    fn start(ns: &Netns, tag: &str, conf: &str) -> Daemon {
        Daemon::start_with(
            ns,
            tag,
            conf,
            &["-d", "peers,routes,groups,cache,interface"],
        )
    }

    /// Starts with `args` (in the foreground) instead of the debug levels of [`Daemon::start`].
    fn start_with(ns: &Netns, tag: &str, conf: &str, args: &[&str]) -> Daemon {
        let ident = format!("{}-{tag}", ns.name);
        let dir = std::env::temp_dir().join(&ident);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let conf_path = dir.join("mrouted.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = std::fs::File::create(dir.join("log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(binary())
            .arg("-f")
            .args(args)
            .arg("-c")
            .arg(&conf_path)
            .args(["--ident", &ident])
            .arg("--pidfile")
            .arg(dir.join("pid"))
            .arg("--socket")
            .arg(dir.join("sock"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting dvmrp-router");
        let d = Daemon { child, dir, ident };
        assert!(
            wait_until(Duration::from_secs(10), || d.dir.join("sock").exists()),
            "dvmrp-router did not start: {}",
            d.log()
        );
        d
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn pid(&self) -> nix::unistd::Pid {
        let text = std::fs::read_to_string(self.dir.join("pid")).unwrap_or_default();
        nix::unistd::Pid::from_raw(text.trim().parse().unwrap_or(self.child.id() as i32))
    }

    fn show(&self, what: ShowWhat) -> Response {
        let mut c = CtlClient::connect(&self.dir.join("sock")).expect("connect ctl");
        c.request(&Request::Show { what, detail: true })
            .expect("ctl request")
    }

    fn neighbors(&self) -> Vec<NeighborRow> {
        match self.show(ShowWhat::Neighbors) {
            Response::Neighbors(n) => n,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn routes(&self) -> Vec<DvmrpRouteRow> {
        match self.show(ShowWhat::Routes) {
            Response::DvmrpRoutes(r) => r,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn mfc(&self) -> Vec<MfcRow> {
        match self.show(ShowWhat::Mfc) {
            Response::Mfc(r) => r,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn route(&self, origin: &str) -> Option<DvmrpRouteRow> {
        let o = origin.parse().unwrap();
        self.routes().into_iter().find(|r| r.origin == o)
    }

    fn two_way_neighbors(&self) -> usize {
        self.neighbors()
            .iter()
            .filter(|n| n.flags.iter().any(|f| f == "two-way"))
            .count()
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(self.pid(), sig);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The daemon runs under `ip netns exec`, which execs it: the child is the daemon.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- log of {} ----\n{}", self.ident, self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(format!("/run/{}", self.ident));
    }
}

/// Links `a`'s `da` (address `aa`) and `b`'s `db` (address `ab`) with a veth pair.
fn link(a: &Netns, da: &str, aa: &str, b: &Netns, db: &str, ab: &str) {
    sh(&[
        "ip", "link", "add", da, "netns", &a.name, "type", "veth", "peer", "name", db, "netns",
        &b.name,
    ]);
    for (ns, d, addr) in [(a, da, aa), (b, db, ab)] {
        ns.ip(&["addr", "add", addr, "dev", d]);
        ns.ip(&["link", "set", d, "up"]);
    }
}

fn host_defaults(ns: &Netns, gw: &str) {
    ns.ip(&["route", "add", "default", "via", gw]);
}

fn router_sysctls(ns: &Netns) {
    ns.exec(&["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"]);
    ns.exec(&["sysctl", "-qw", "net.ipv4.conf.default.rp_filter=0"]);
}

/// Waits until `d`'s route to `origin` lists `router` as a dependent (it poison-reversed
/// the route to us): only then is `d` forwarding that origin's traffic towards it.
fn wait_dependent(d: &Daemon, origin: &str, router: &str) {
    let r: Ipv4Addr = router.parse().unwrap();
    assert!(
        wait_until(Duration::from_secs(15), || d
            .route(origin)
            .is_some_and(|x| x.dependents.iter().any(|(_, a)| *a == r))),
        "{}: {router} depends on us for {origin}: {:?}",
        d.ident,
        d.route(origin)
    );
}

/// Packets counted in on VIF `vif` in the namespace's /proc/net/ip_mr_vif.
fn vif_pkts_in(ns: &Netns, vif: u16) -> u64 {
    let text = ns.proc_net("ip_mr_vif");
    text.lines()
        .skip(1)
        .find(|l| l.split_whitespace().next() == Some(&vif.to_string()))
        .and_then(|l| l.split_whitespace().nth(3).and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}

/// The /proc/net/ip_mr_cache line of group `g`, if any.
fn mr_cache_line(ns: &Netns, g: Ipv4Addr) -> Option<String> {
    let hex = proc_hex_v4(g);
    ns.proc_net("ip_mr_cache")
        .lines()
        .find(|l| l.starts_with(&hex))
        .map(str::to_string)
}

/// The outbound VIFs of a /proc/net/ip_mr_cache line (`vif:ttl` fields after the counters).
fn mr_cache_oifs(line: &str) -> Vec<String> {
    line.split_whitespace()
        .skip(6)
        .filter_map(|f| f.split(':').next().map(str::to_string))
        .collect()
}

const G: Ipv4Addr = Ipv4Addr::new(225, 1, 2, 3);
const ROUTER_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn line_of_three_routers() {
    if !require_netns("line_of_three_routers") {
        return;
    }
    let snd = Netns::new("ls");
    let r1 = Netns::new("l1");
    let r2 = Netns::new("l2");
    let r3 = Netns::new("l3");
    let rcv = Netns::new("lc");
    link(&snd, "s0", "192.0.2.1/24", &r1, "r1a", "192.0.2.254/24");
    link(&r1, "r1b", "198.18.1.1/24", &r2, "r2a", "198.18.1.2/24");
    link(&r2, "r2b", "198.18.2.2/24", &r3, "r3a", "198.18.2.3/24");
    link(
        &r3,
        "r3b",
        "198.51.100.254/24",
        &rcv,
        "c0",
        "198.51.100.1/24",
    );
    host_defaults(&snd, "192.0.2.254");
    host_defaults(&rcv, "198.51.100.254");
    for ns in [&snd, &r1, &r2, &r3, &rcv] {
        router_sysctls(ns);
    }
    let d1 = Daemon::start(&r1, "r1", "# defaults\n");
    let d2 = Daemon::start(&r2, "r2", "");
    let d3 = Daemon::start(&r3, "r3", "phyint r3b threshold 1\n");

    // Neighbours come up both ways.
    assert!(
        wait_until(ROUTER_TIMEOUT, || d1.two_way_neighbors() == 1
            && d2.two_way_neighbors() == 2
            && d3.two_way_neighbors() == 1),
        "neighbours: {:?} / {:?} / {:?}",
        d1.neighbors(),
        d2.neighbors(),
        d3.neighbors()
    );
    // Routes to every subnet, with metrics summed along the path.
    let want = |d: &Daemon, origin: &str, metric: u8, gw: Option<&str>| {
        let gw: Option<Ipv4Addr> = gw.map(|g| g.parse().unwrap());
        wait_until(ROUTER_TIMEOUT, || {
            d.route(origin)
                .is_some_and(|r| r.metric == metric && r.gateway == gw)
        })
    };
    for (d, origin, metric, gw) in [
        (&d3, "192.0.2.0/24", 3, Some("198.18.2.2")),
        (&d3, "198.18.1.0/24", 2, Some("198.18.2.2")),
        (&d3, "198.18.2.0/24", 1, None),
        (&d3, "198.51.100.0/24", 1, None),
        (&d2, "192.0.2.0/24", 2, Some("198.18.1.1")),
        (&d2, "198.51.100.0/24", 2, Some("198.18.2.3")),
        (&d1, "198.51.100.0/24", 3, Some("198.18.1.2")),
        (&d1, "198.18.2.0/24", 2, Some("198.18.1.2")),
    ] {
        assert!(
            want(d, origin, metric, gw),
            "{}: route to {origin}: {:?}",
            d.ident,
            d.route(origin)
        );
    }
    // R2 knows R3 depends on it for the sender's subnet (poisoned reverse).
    let dep: (u16, Ipv4Addr) = (1, "198.18.2.3".parse().unwrap());
    assert!(
        wait_until(Duration::from_secs(10), || {
            d2.route("192.0.2.0/24")
                .is_some_and(|r| r.dependents == [dep] && r.children == [(1, true)])
        }),
        "R2's dependents: {:?}",
        d2.route("192.0.2.0/24")
    );

    wait_dependent(&d1, "192.0.2.0/24", "198.18.1.2");
    // Traffic from the sender reaches the receiver through the three routers.
    let rx = Receiver::start(&rcv, "c0", IpAddr::V4(G), 5000, Duration::from_secs(8));
    std::thread::sleep(Duration::from_millis(500)); // R3's querier hears the report
    send(
        &snd,
        "s0",
        IpAddr::V4(G),
        5000,
        50,
        Duration::from_millis(100),
    );
    let got = rx.count();
    assert!(got >= 40, "receiver got {got} of 50 packets");
    let line = mr_cache_line(&r3, G).expect("R3 has the (S,G) in its kernel MFC");
    assert_eq!(
        mr_cache_oifs(&line),
        vec!["1"],
        "R3 forwards to the receiver: {line}"
    );
    let line = mr_cache_line(&r2, G).expect("R2 has the (S,G)");
    assert_eq!(mr_cache_oifs(&line), vec!["1"], "R2 forwards to R3: {line}");

    // The receiver left (its socket closed): R3 sees the leave, prunes, R2 stops forwarding.
    assert!(
        wait_until(Duration::from_secs(10), || d3
            .mfc()
            .iter()
            .any(|m| m.group == G
                && m.oifs.is_empty()
                && m.upstream_prune.is_some())),
        "R3 pruned upstream: {:?}",
        d3.mfc()
    );
    send(
        &snd,
        "s0",
        IpAddr::V4(G),
        5000,
        3,
        Duration::from_millis(100),
    );
    assert!(
        wait_until(Duration::from_secs(5), || mr_cache_line(&r2, G)
            .is_some_and(|l| mr_cache_oifs(&l).is_empty())),
        "R2's kernel entry lost its VIF towards R3: {:?}",
        mr_cache_line(&r2, G)
    );
    let r2_mfc = d2.mfc();
    let e = r2_mfc.iter().find(|m| m.group == G).unwrap();
    assert_eq!(
        e.pruned_by,
        vec![("r2b".to_string(), "198.18.2.3".parse().unwrap())]
    );
    let before = vif_pkts_in(&r3, 0);
    send(
        &snd,
        "s0",
        IpAddr::V4(G),
        5000,
        20,
        Duration::from_millis(50),
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        vif_pkts_in(&r3, 0),
        before,
        "traffic stopped on the R2-R3 link"
    );

    // A new member: R3 grafts, R2 forwards again, the receiver gets the traffic.
    let rx = Receiver::start(&rcv, "c0", IpAddr::V4(G), 5000, Duration::from_secs(6));
    assert!(
        wait_until(Duration::from_secs(10), || mr_cache_line(&r2, G)
            .is_some_and(|l| mr_cache_oifs(&l) == ["1"])),
        "R2 forwards to R3 after the graft: {:?}",
        mr_cache_line(&r2, G)
    );
    send(
        &snd,
        "s0",
        IpAddr::V4(G),
        5000,
        30,
        Duration::from_millis(100),
    );
    let got = rx.count();
    assert!(got >= 25, "after the graft the receiver got {got} of 30");
    assert!(vif_pkts_in(&r3, 0) > before);
    drop((d1, d2, d3));
}

#[test]
fn lan_with_two_routers() {
    if !require_netns("lan_with_two_routers") {
        return;
    }
    // sender — RA ═ LAN (bridge: RA, RB, receiver) ═ RB — stub
    let snd = Netns::new("ns");
    let ra = Netns::new("na");
    let rb = Netns::new("nb");
    let lan = Netns::new("nl");
    let rcv = Netns::new("nc");
    let stub = Netns::new("nt");
    link(&snd, "s0", "192.0.2.1/24", &ra, "ra0", "192.0.2.254/24");
    lan.ip(&[
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ]);
    lan.ip(&["link", "set", "br0", "up"]);
    for (ns, dev, addr, port) in [
        (&ra, "ra1", "203.0.113.1/24", "pa"),
        (&rb, "rb1", "203.0.113.2/24", "pb"),
        (&rcv, "c0", "203.0.113.100/24", "pc"),
    ] {
        sh(&[
            "ip", "link", "add", dev, "netns", &ns.name, "type", "veth", "peer", "name", port,
            "netns", &lan.name,
        ]);
        ns.ip(&["addr", "add", addr, "dev", dev]);
        ns.ip(&["link", "set", dev, "up"]);
        lan.ip(&["link", "set", port, "master", "br0"]);
        lan.ip(&["link", "set", port, "up"]);
    }
    link(
        &rb,
        "rb2",
        "198.51.100.254/24",
        &stub,
        "t0",
        "198.51.100.1/24",
    );
    host_defaults(&snd, "192.0.2.254");
    host_defaults(&rcv, "203.0.113.1");
    for ns in [&snd, &ra, &rb, &rcv] {
        router_sysctls(ns);
    }
    let da = Daemon::start(&ra, "ra", "");
    let db = Daemon::start(&rb, "rb", "");
    assert!(
        wait_until(ROUTER_TIMEOUT, || da.two_way_neighbors() == 1
            && db.two_way_neighbors() == 1),
        "neighbours on the LAN: {:?} / {:?}",
        da.neighbors(),
        db.neighbors()
    );
    assert!(wait_until(ROUTER_TIMEOUT, || db
        .route("192.0.2.0/24")
        .is_some_and(|r| r.metric == 2)));
    assert!(wait_until(ROUTER_TIMEOUT, || da
        .route("198.51.100.0/24")
        .is_some_and(|r| r.metric == 2)));
    // RA (metric 1 to the sender) is the designated forwarder onto the LAN: the LAN is one
    // of its children; RB, whose parent for that origin is the LAN, forwards nothing there.
    let ra_route = da.route("192.0.2.0/24").unwrap();
    assert_eq!(
        ra_route.children.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![1]
    );
    // One querier on the LAN: the lowest address (RA).
    let vifs = match da.show(ShowWhat::Interfaces) {
        Response::DvmrpInterfaces(v) => v,
        other => panic!("{other:?}"),
    };
    assert!(vifs[1].flags.iter().any(|f| f == "querier"), "{vifs:?}");
    let rx = Receiver::start(&rcv, "c0", IpAddr::V4(G), 5001, Duration::from_secs(6));
    std::thread::sleep(Duration::from_millis(500));
    send(
        &snd,
        "s0",
        IpAddr::V4(G),
        5001,
        40,
        Duration::from_millis(100),
    );
    let got = rx.count();
    assert!(
        (30..=40).contains(&got),
        "the receiver got {got} packets: one copy of each, from one forwarder"
    );
    // RA forwards onto the LAN; RB, whose inbound VIF is the LAN, forwards nowhere.
    let line = mr_cache_line(&ra, G).expect("RA's MFC");
    assert_eq!(mr_cache_oifs(&line), vec!["1"], "{line}");
    if let Some(line) = mr_cache_line(&rb, G) {
        assert!(
            mr_cache_oifs(&line).is_empty(),
            "RB must not forward: {line}"
        );
    }
    drop((da, db));
}

#[test]
fn ring_fails_over() {
    if !require_netns("ring_fails_over") {
        return;
    }
    // R1 — R2 — R3 and R1 — R4 — R3; the R4 side costs more (metric 2 on R3's link to R4).
    let snd = Netns::new("rs");
    let r1 = Netns::new("r1");
    let r2 = Netns::new("r2");
    let r3 = Netns::new("r3");
    let r4 = Netns::new("r4");
    let rcv = Netns::new("rc");
    link(&snd, "s0", "192.0.2.1/24", &r1, "r1s", "192.0.2.254/24");
    link(&r1, "r1a", "198.18.1.1/24", &r2, "r2a", "198.18.1.2/24");
    link(&r2, "r2b", "198.18.2.2/24", &r3, "r3a", "198.18.2.3/24");
    link(&r1, "r1b", "198.18.4.1/24", &r4, "r4a", "198.18.4.4/24");
    link(&r4, "r4b", "198.18.3.4/24", &r3, "r3b", "198.18.3.3/24");
    link(
        &r3,
        "r3c",
        "198.51.100.254/24",
        &rcv,
        "c0",
        "198.51.100.1/24",
    );
    host_defaults(&snd, "192.0.2.254");
    host_defaults(&rcv, "198.51.100.254");
    for ns in [&snd, &r1, &r2, &r3, &r4, &rcv] {
        router_sysctls(ns);
    }
    let d1 = Daemon::start(&r1, "r1", "");
    let d2 = Daemon::start(&r2, "r2", "");
    let d3 = Daemon::start(&r3, "r3", "phyint r3b metric 2\n");
    let d4 = Daemon::start(&r4, "r4", "");
    assert!(
        wait_until(ROUTER_TIMEOUT, || d3.route("192.0.2.0/24").is_some_and(
            |r| r.metric == 3 && r.gateway == Some("198.18.2.2".parse().unwrap())
        )),
        "R3 reaches the sender through R2: {:?}",
        d3.route("192.0.2.0/24")
    );
    wait_dependent(&d1, "192.0.2.0/24", "198.18.1.2");
    wait_dependent(&d2, "192.0.2.0/24", "198.18.2.3");
    let rx = Receiver::start(&rcv, "c0", IpAddr::V4(G), 5002, Duration::from_secs(4));
    std::thread::sleep(Duration::from_millis(500));
    send(
        &snd,
        "s0",
        IpAddr::V4(G),
        5002,
        20,
        Duration::from_millis(100),
    );
    let got = rx.count();
    assert!(got >= 15, "traffic through R2: {got} of 20");

    // R2 dies without a word: no route withdrawal, no probes.
    d2.signal(nix::sys::signal::Signal::SIGKILL);
    let t = std::time::Instant::now();
    assert!(
        wait_until(Duration::from_secs(50), || d3.two_way_neighbors() == 1),
        "R3 loses R2 after the neighbour timeout"
    );
    let lost = t.elapsed();
    assert!(
        lost >= Duration::from_secs(25),
        "R2 was dropped after {lost:?}, before the 35 s timeout"
    );
    // The route through R2 expires and R4's next report brings the alternate path.
    assert!(
        wait_until(Duration::from_secs(75), || d3
            .route("192.0.2.0/24")
            .is_some_and(
                |r| r.metric == 4 && r.gateway == Some("198.18.3.4".parse().unwrap())
            )),
        "R3 switched to R4: {:?}",
        d3.route("192.0.2.0/24")
    );
    let rx = Receiver::start(&rcv, "c0", IpAddr::V4(G), 5002, Duration::from_secs(8));
    std::thread::sleep(Duration::from_millis(500));
    send(
        &snd,
        "s0",
        IpAddr::V4(G),
        5002,
        50,
        Duration::from_millis(100),
    );
    let got = rx.count();
    assert!(got >= 30, "after the failover the receiver got {got} of 50");
    let line = mr_cache_line(&r4, G).expect("R4 forwards now");
    assert_eq!(mr_cache_oifs(&line), vec!["1"], "{line}");
    drop((d1, d2, d3, d4));
}

#[test]
fn sigterm_withdraws_routes() {
    if !require_netns("sigterm_withdraws_routes") {
        return;
    }
    let a = Netns::new("ta");
    let b = Netns::new("tb");
    let sa = Netns::new("tsa");
    let sb = Netns::new("tsb");
    link(&a, "ab", "198.18.8.1/24", &b, "ba", "198.18.8.2/24");
    link(&a, "as", "192.0.2.254/24", &sa, "s0", "192.0.2.1/24");
    link(&b, "bs", "203.0.113.254/24", &sb, "s0", "203.0.113.1/24");
    let da = Daemon::start(&a, "a", "");
    let db = Daemon::start(&b, "b", "");
    assert!(wait_until(ROUTER_TIMEOUT, || db
        .route("192.0.2.0/24")
        .is_some_and(|r| r.metric == 2)));
    // A dump on SIGUSR1, in mrouted's format.
    da.signal(nix::sys::signal::Signal::SIGUSR1);
    let dump = PathBuf::from(format!("/run/{0}/{0}.dump", da.ident));
    assert!(wait_until(Duration::from_secs(5), || dump.exists()));
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(text.contains("Virtual Interface Table"), "{text}");
    assert!(text.contains(" 203.0.113          198.18.8.2"), "{text}");
    // SIGTERM: B hears every route of A as unreachable at once (no 140 s expiry).
    let mut da = da;
    da.signal(nix::sys::signal::Signal::SIGTERM);
    let status = da.child.wait().unwrap();
    assert!(status.success(), "clean exit: {status:?}\n{}", da.log());
    assert!(!da.dir.join("pid").exists(), "PID file removed");
    assert!(
        wait_until(Duration::from_secs(3), || db
            .route("192.0.2.0/24")
            .is_none_or(|r| r.metric >= 32)),
        "B withdrew the route at once: {:?}",
        db.route("192.0.2.0/24")
    );
    drop((da, db));
}

/// A host in `ns` that joins `group` on the interface with address `local` with a socket
/// (`IP_ADD_MEMBERSHIP`: its kernel sends the IGMP reports) until `leave` is called (the
/// socket closes: the kernel sends the leave).
struct Member {
    tx: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Member {
    fn join(ns: &Netns, local: Ipv4Addr, group: Ipv4Addr) -> Member {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let thread = ns.spawn(move || {
            let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind");
            s.join_multicast_v4(&group, &local).expect("join");
            ready_tx.send(()).unwrap();
            let _ = rx.recv();
            drop(s);
        });
        ready_rx.recv().expect("joined");
        Member { tx, thread }
    }

    fn leave(self) {
        let _ = self.tx.send(());
        self.thread.join().expect("member thread");
    }
}

/// The groups `d` lists on interface `iif`.
fn groups_on(d: &Daemon, iif: &str) -> Vec<Ipv4Addr> {
    match d.show(ShowWhat::Groups) {
        Response::Groups(rows) => rows
            .into_iter()
            .filter(|r| r.iif == iif)
            .filter_map(|r| match r.group.addr() {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .collect(),
        other => panic!("unexpected {other:?}"),
    }
}

/// The IGMP querier against real hosts: an IGMPv3 host (the kernel's default) on one VIF
/// and a host forced to IGMPv2 on the other join with sockets; the router sees both
/// groups, and when the hosts close their sockets (an IGMPv3 TO_IN({}) record and an IGMPv2
/// leave) the groups end after the last member queries, long before the 260 s membership
/// timeout.
#[test]
fn igmp_querier_with_real_hosts() {
    if !require_netns("igmp_querier_with_real_hosts") {
        return;
    }
    let rtr = Netns::new("iq-r");
    let h3 = Netns::new("iq-h3");
    let h2 = Netns::new("iq-h2");
    router_sysctls(&rtr);
    link(&rtr, "r0", "192.0.2.1/24", &h3, "h0", "192.0.2.10/24");
    link(&rtr, "r1", "198.51.100.1/24", &h2, "h0", "198.51.100.10/24");
    h2.exec(&["sysctl", "-qw", "net.ipv4.conf.all.force_igmp_version=2"]);
    h2.exec(&["sysctl", "-qw", "net.ipv4.conf.h0.force_igmp_version=2"]);
    let d = Daemon::start(&rtr, "iq", "");
    let (g3, g2) = (Ipv4Addr::new(239, 1, 2, 3), Ipv4Addr::new(239, 1, 2, 4));
    let m3 = Member::join(&h3, Ipv4Addr::new(192, 0, 2, 10), g3);
    let m2 = Member::join(&h2, Ipv4Addr::new(198, 51, 100, 10), g2);
    // The kernels report at once (unsolicited reports) and answer the startup queries.
    assert!(
        wait_until(Duration::from_secs(15), || groups_on(&d, "r0")
            .contains(&g3)
            && groups_on(&d, "r1").contains(&g2)),
        "groups seen: r0 {:?}, r1 {:?}",
        groups_on(&d, "r0"),
        groups_on(&d, "r1")
    );
    assert!(!groups_on(&d, "r0").contains(&g2));
    // mroutectl's `show igmp`: us as the IGMPv3 querier on both links; per group the last
    // reporter (the host) and the compatibility mode its reports put the group in.
    let igmp = match d.show(ShowWhat::Igmp) {
        Response::Igmp(t) => t,
        other => panic!("unexpected {other:?}"),
    };
    for i in &igmp.interfaces {
        assert!(i.local && i.version == 3, "{i:?}");
    }
    let row = |g: Ipv4Addr| igmp.groups.iter().find(|r| r.group == g).cloned();
    let r3 = row(g3).expect("g3 listed");
    assert_eq!(
        (r3.interface.as_str(), r3.reporter, r3.version),
        ("r0", Ipv4Addr::new(192, 0, 2, 10), 3)
    );
    let r2 = row(g2).expect("g2 listed");
    assert_eq!(
        (r2.interface.as_str(), r2.reporter, r2.version),
        ("r1", Ipv4Addr::new(198, 51, 100, 10), 2)
    );
    assert!(r3.expires > 200 && r3.expires <= 260, "{r3:?}");
    // The log level and debug levels change at run time (mroutectl's log and debug).
    let ask = |req: Request| {
        CtlClient::connect(&d.dir.join("sock"))
            .expect("connect ctl")
            .request(&req)
            .expect("ctl request")
    };
    assert_eq!(
        ask(Request::Log {
            level: Some("notice".into())
        }),
        Response::Ok
    );
    assert_eq!(
        ask(Request::Log { level: None }),
        Response::Text("notice".into())
    );
    assert!(matches!(
        ask(Request::Debug {
            levels: Some("nope".into())
        }),
        Response::Error(_)
    ));
    assert_eq!(
        ask(Request::Debug {
            levels: Some("groups".into())
        }),
        Response::Ok
    );
    assert_eq!(
        ask(Request::Debug { levels: None }),
        Response::Text("dvmrp::groups".into())
    );
    m3.leave();
    m2.leave();
    assert!(
        wait_until(Duration::from_secs(20), || groups_on(&d, "r0").is_empty()
            && groups_on(&d, "r1").is_empty()),
        "groups left: r0 {:?}, r1 {:?}",
        groups_on(&d, "r0"),
        groups_on(&d, "r1")
    );
    let log = d.log();
    assert!(log.contains(&format!("group {g3} left")), "{log}");
    assert!(log.contains(&format!("group {g2} left")), "{log}");
}

fn vif_names(d: &Daemon) -> Vec<(String, u8)> {
    match d.show(ShowWhat::Interfaces) {
        Response::DvmrpInterfaces(v) => v.into_iter().map(|r| (r.name, r.metric)).collect(),
        other => panic!("unexpected {other:?}"),
    }
}

/// mrouted(8): "QUIT dumps the internal routing tables to stderr (only if mrouted was
/// invoked with a non-zero debug level)". With `-d` the tables appear in the log; without
/// it the signal is ignored; neither run dies of it.
#[test]
fn sigquit_dumps_with_debug_and_is_ignored_without() {
    if !require_netns("sigquit_dumps_with_debug_and_is_ignored_without") {
        return;
    }
    let ns = Netns::new("quit");
    let peer = Netns::new("quit-p");
    let stub = Netns::new("quit-s");
    link(&ns, "r0", "192.0.2.1/24", &peer, "p0", "192.0.2.2/24");
    link(&ns, "r1", "198.51.100.1/24", &stub, "s0", "198.51.100.2/24");
    for debug in [true, false] {
        let args: &[&str] = if debug { &["-d", "routes"] } else { &[] };
        let d = Daemon::start_with(&ns, if debug { "qd" } else { "qn" }, "", args);
        for _ in 0..3 {
            d.signal(nix::sys::signal::Signal::SIGQUIT);
            std::thread::sleep(Duration::from_millis(200));
        }
        // Still running and answering.
        assert!(!vif_names(&d).is_empty());
        let mut d = d;
        assert!(d.child.try_wait().unwrap().is_none(), "died: {}", d.log());
        let log = d.log();
        let dumps = log.matches("Multicast Routing Table").count();
        if debug {
            assert!(dumps >= 1, "no dump on stderr: {log}");
            assert!(log.contains("Virtual Interface Table"), "{log}");
            assert!(log.contains("Multicast Routing Cache Table"), "{log}");
        } else {
            assert_eq!(dumps, 0, "{log}");
        }
    }
}

/// A configuration error exits 78 (EX_CONFIG) as static-router does, naming file and line.
#[test]
fn configuration_error_exits_78() {
    if !require_netns("configuration_error_exits_78") {
        return;
    }
    let ns = Netns::new("cfg78");
    let dir = TempDir::new("cfg78");
    let conf = dir.path("mrouted.conf");
    std::fs::write(&conf, "phyint lo metric 99\n").unwrap();
    let conf_s = conf.display().to_string();
    let sock = dir.path("sock").display().to_string();
    let pid = dir.path("pid").display().to_string();
    let out = ns.exec_status(&[
        binary().to_str().unwrap(),
        "-f",
        "-c",
        &conf_s,
        "--socket",
        &sock,
        "--pidfile",
        &pid,
    ]);
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains(&format!("{conf_s}:1")), "{text}");
}

/// A phyint naming an interface that does not exist yet is a warning (as mrouted 4.6), and
/// when the interface appears the link monitor brings it in with the phyint's settings.
#[test]
fn phyint_for_a_missing_interface_is_used_when_it_appears() {
    if !require_netns("phyint_for_a_missing_interface_is_used_when_it_appears") {
        return;
    }
    let ns = Netns::new("late");
    let p1 = Netns::new("late-p1");
    let p2 = Netns::new("late-p2");
    let p3 = Netns::new("late-p3");
    link(&ns, "r0", "192.0.2.1/24", &p1, "p0", "192.0.2.2/24");
    link(&ns, "r1", "198.51.100.1/24", &p2, "p0", "198.51.100.2/24");
    let d = Daemon::start(&ns, "late", "phyint r9 metric 3\n");
    assert!(
        d.log().contains("phyint r9: no such interface"),
        "{}",
        d.log()
    );
    let names = vif_names(&d);
    assert_eq!(names.len(), 2, "{names:?}");
    link(&ns, "r9", "203.0.113.1/24", &p3, "p0", "203.0.113.2/24");
    assert!(
        wait_until(Duration::from_secs(15), || vif_names(&d)
            .contains(&("r9".to_string(), 3))),
        "r9 not brought in: {:?}\n{}",
        vif_names(&d),
        d.log()
    );
}

/// Unicast routing for replies that cross routers (mtrace responses travel unicast).
fn forwarding(ns: &Netns) {
    ns.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
}

/// sender — R1 — R2 — R3 — receiver, all defaults: `mcroutectl mtrace` (the library's
/// client, run in the receiver's namespace) traces the path hop by hop back to the
/// sender's subnet, and mrinfo lists a router's VIFs and neighbours.
#[test]
fn mtrace_across_three_routers() {
    use mcroute::service::dvmrp::client::{mrinfo, mtrace, TraceRequest};
    if !require_netns("mtrace_across_three_routers") {
        return;
    }
    let snd = Netns::new("ms");
    let r1 = Netns::new("m1");
    let r2 = Netns::new("m2");
    let r3 = Netns::new("m3");
    let rcv = Netns::new("mc");
    link(&snd, "s0", "192.0.2.1/24", &r1, "r1a", "192.0.2.254/24");
    link(&r1, "r1b", "198.18.1.1/24", &r2, "r2a", "198.18.1.2/24");
    link(&r2, "r2b", "198.18.2.2/24", &r3, "r3a", "198.18.2.3/24");
    link(
        &r3,
        "r3b",
        "198.51.100.254/24",
        &rcv,
        "c0",
        "198.51.100.1/24",
    );
    host_defaults(&snd, "192.0.2.254");
    host_defaults(&rcv, "198.51.100.254");
    r1.ip(&["route", "add", "198.51.100.0/24", "via", "198.18.1.2"]);
    r1.ip(&["route", "add", "198.18.2.0/24", "via", "198.18.1.2"]);
    r2.ip(&["route", "add", "198.51.100.0/24", "via", "198.18.2.3"]);
    r2.ip(&["route", "add", "192.0.2.0/24", "via", "198.18.1.1"]);
    r3.ip(&["route", "add", "192.0.2.0/24", "via", "198.18.2.2"]);
    r3.ip(&["route", "add", "198.18.1.0/24", "via", "198.18.2.2"]);
    for ns in [&snd, &r1, &r2, &r3, &rcv] {
        router_sysctls(ns);
        forwarding(ns);
    }
    let d1 = Daemon::start(&r1, "r1", "");
    let d2 = Daemon::start(&r2, "r2", "");
    let d3 = Daemon::start(&r3, "r3", "");
    assert!(
        wait_until(ROUTER_TIMEOUT, || d3
            .route("192.0.2.0/24")
            .is_some_and(|r| r.metric == 3)),
        "R3 learnt the sender's subnet: {:?}",
        d3.route("192.0.2.0/24")
    );
    let trace = rcv.run(|| {
        let mut req = TraceRequest::new(Ipv4Addr::new(192, 0, 2, 1));
        req.group = G;
        mtrace(&req).map_err(|e| e.to_string())
    });
    let trace =
        trace.unwrap_or_else(|e| panic!("mtrace: {e}\n{}\n{}\n{}", d1.log(), d2.log(), d3.log()));
    let outs: Vec<Ipv4Addr> = trace.hops.iter().map(|b| b.out_addr).collect();
    assert_eq!(
        outs,
        [
            Ipv4Addr::new(198, 51, 100, 254),
            Ipv4Addr::new(198, 18, 2, 2),
            Ipv4Addr::new(198, 18, 1, 1)
        ],
        "{trace}"
    );
    assert!(trace.complete(), "{trace}");
    assert_eq!(trace.responder, Ipv4Addr::new(192, 0, 2, 254));
    // The per-hop counters come from the kernel: R1's inbound VIF has counted nothing yet
    // but is known (not "all ones").
    assert!(
        trace.hops.iter().all(|b| b.in_packets != u32::MAX),
        "{trace}"
    );
    // mrinfo: R2 lists both its VIFs with its neighbours.
    let info = rcv
        .run(|| {
            mrinfo(Ipv4Addr::new(198, 18, 2, 2), Duration::from_secs(3)).map_err(|e| e.to_string())
        })
        .unwrap();
    let mut pairs: Vec<(Ipv4Addr, Ipv4Addr)> = info
        .blocks
        .iter()
        .flat_map(|b| b.neighbors.iter().map(move |n| (b.local, *n)))
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        [
            (Ipv4Addr::new(198, 18, 1, 2), Ipv4Addr::new(198, 18, 1, 1)),
            (Ipv4Addr::new(198, 18, 2, 2), Ipv4Addr::new(198, 18, 2, 3)),
        ],
        "{info}"
    );
    // R3's receiver VIF is a leaf where R3 is the querier: listed as "(local)".
    let info = rcv
        .run(|| {
            mrinfo(Ipv4Addr::new(198, 51, 100, 254), Duration::from_secs(3))
                .map_err(|e| e.to_string())
        })
        .unwrap();
    assert!(
        info.to_string()
            .contains("198.51.100.254 -> 0.0.0.0 (local) [1/1/querier/leaf]"),
        "{info}"
    );
    drop((d1, d2, d3));
}

/// R1 has two stub subnets; R2 denies one of them on its link to R1: that route never
/// enters R2's table, the other does.
#[test]
fn deny_filter_keeps_a_route_out_of_the_neighbors_table() {
    if !require_netns("deny_filter_keeps_a_route_out_of_the_neighbors_table") {
        return;
    }
    let r1 = Netns::new("f1");
    let r2 = Netns::new("f2");
    // The stub subnets end in a namespace of their own (no dummy interfaces here).
    let stubs = Netns::new("fs");
    link(&r1, "r1b", "198.18.1.1/24", &r2, "r2a", "198.18.1.2/24");
    link(&r1, "d1", "192.0.2.1/24", &stubs, "x1", "192.0.2.2/24");
    link(&r1, "d2", "203.0.113.1/24", &stubs, "x2", "203.0.113.2/24");
    link(
        &r2,
        "d3",
        "198.51.100.1/24",
        &stubs,
        "x3",
        "198.51.100.2/24",
    );
    for ns in [&r1, &r2] {
        router_sysctls(ns);
    }
    let d1 = Daemon::start(&r1, "r1", "");
    let d2 = Daemon::start(&r2, "r2", "phyint r2a deny 192.0.2.0/24\n");
    assert!(
        wait_until(ROUTER_TIMEOUT, || d2
            .route("203.0.113.0/24")
            .is_some_and(|r| r.metric == 2)),
        "R2 learnt the allowed subnet: {:?}",
        d2.routes()
    );
    // A full report interval later, still not there.
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        d2.route("192.0.2.0/24").is_none_or(|r| r.metric >= 32),
        "the denied route: {:?}",
        d2.route("192.0.2.0/24")
    );
    assert!(d1.route("198.51.100.0/24").is_some_and(|r| r.metric == 2));
    drop((d1, d2));
}

/// sender — R1 — R2 — receiver with `cache-lifetime 60`: a flow sending four packets a
/// second runs for more than two cache lifetimes; the kernel entries are kept (their
/// counters moved), never deleted and reinstalled, and no packet is lost.
#[test]
fn active_flow_runs_through_two_cache_lifetimes_without_loss() {
    if !require_netns("active_flow_runs_through_two_cache_lifetimes_without_loss") {
        return;
    }
    let snd = Netns::new("as");
    let r1 = Netns::new("a1");
    let r2 = Netns::new("a2");
    let rcv = Netns::new("ac");
    link(&snd, "s0", "192.0.2.1/24", &r1, "r1a", "192.0.2.254/24");
    link(&r1, "r1b", "198.18.1.1/24", &r2, "r2a", "198.18.1.2/24");
    link(
        &r2,
        "r2b",
        "198.51.100.254/24",
        &rcv,
        "c0",
        "198.51.100.1/24",
    );
    host_defaults(&snd, "192.0.2.254");
    host_defaults(&rcv, "198.51.100.254");
    for ns in [&snd, &r1, &r2, &rcv] {
        router_sysctls(ns);
    }
    let d1 = Daemon::start(&r1, "r1", "cache-lifetime 60\n");
    let d2 = Daemon::start(&r2, "r2", "cache-lifetime 60\n");
    wait_dependent(&d1, "192.0.2.0/24", "198.18.1.2");
    let count = 4 * 140;
    let rx = Receiver::start(&rcv, "c0", IpAddr::V4(G), 5000, Duration::from_secs(150));
    std::thread::sleep(Duration::from_millis(500));
    send(
        &snd,
        "s0",
        IpAddr::V4(G),
        5000,
        count,
        Duration::from_millis(250),
    );
    let got = rx.count();
    assert_eq!(got, count, "packets lost across cache lifetimes");
    for (ns, d) in [(&r1, &d1), (&r2, &d2)] {
        let line = mr_cache_line(ns, G).expect("the entry is still there");
        let pkts: u64 = line
            .split_whitespace()
            .nth(3)
            .and_then(|x| x.parse().ok())
            .unwrap_or(0);
        // One entry counted the whole flow: it was never deleted and reinstalled.
        assert!(pkts >= count as u64, "{}: {line}", d.ident);
        assert!(
            !d.log().contains(&format!("remove (192.0.2.1, {G})")),
            "{} removed the active entry:\n{}",
            d.ident,
            d.log()
        );
    }
}
