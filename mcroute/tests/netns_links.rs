//! Interfaces that come and go: static-router gives an interface named in its config its
//! VIF and routes when it appears (no SIGHUP), withdraws them when it goes, restores them
//! when it comes back, and leaks no VIF slot over many cycles.
#![cfg(target_os = "linux")]

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use support::*;

const G: Ipv4Addr = Ipv4Addr::new(225, 8, 8, 8);

/// sender (s0) — (r0) router; the router's r1 — c0 receiver link is made by the test.
struct Net {
    snd: Netns,
    rtr: Netns,
    rcv: Netns,
}

fn net(tag: &str) -> Net {
    let snd = Netns::new(&format!("{tag}s"));
    let rtr = Netns::new(&format!("{tag}r"));
    let rcv = Netns::new(&format!("{tag}c"));
    sh(&[
        "ip", "link", "add", "s0", "netns", &snd.name, "type", "veth", "peer", "name", "r0",
        "netns", &rtr.name,
    ]);
    snd.ip(&["addr", "add", "192.0.2.1/24", "dev", "s0"]);
    snd.ip(&["link", "set", "s0", "up"]);
    snd.ip(&["route", "add", "default", "via", "192.0.2.254"]);
    rtr.ip(&["addr", "add", "192.0.2.254/24", "dev", "r0"]);
    rtr.ip(&["link", "set", "r0", "up"]);
    rtr.exec(&["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"]);
    Net { snd, rtr, rcv }
}

impl Net {
    fn link_up(&self) {
        sh(&[
            "ip",
            "link",
            "add",
            "r1",
            "netns",
            &self.rtr.name,
            "type",
            "veth",
            "peer",
            "name",
            "c0",
            "netns",
            &self.rcv.name,
        ]);
        self.rtr
            .ip(&["addr", "add", "198.51.100.254/24", "dev", "r1"]);
        self.rtr.ip(&["link", "set", "r1", "up"]);
        self.rcv
            .ip(&["addr", "add", "198.51.100.1/24", "dev", "c0"]);
        self.rcv.ip(&["link", "set", "c0", "up"]);
    }

    /// Waits until both ends of the r1 — c0 link are operationally up: the kernel activates a
    /// new link's queue a moment after `ip link set up` (linkwatch), and drops what is sent
    /// before that.
    fn wait_operational(&self) {
        let up = |ns: &Netns, dev: &str| {
            let out = ns.ip(&["link", "show", dev]);
            String::from_utf8_lossy(&out.stdout).contains("state UP")
        };
        assert!(
            wait_until(Duration::from_secs(3), || up(&self.rtr, "r1")
                && up(&self.rcv, "c0")),
            "r1/c0 did not come up"
        );
    }

    fn link_down(&self) {
        self.rtr.ip(&["link", "del", "r1"]);
    }

    /// The route's OIF list in the kernel, if the route is there.
    fn route(&self) -> Option<String> {
        let key = format!("{} {}", proc_hex_v4(G), proc_hex_v4(SND4));
        self.rtr
            .proc_net("ip_mr_cache")
            .lines()
            .find(|l| l.starts_with(&key))
            .map(|l| l.split_whitespace().skip(6).collect::<Vec<_>>().join(" "))
    }

    fn vifs(&self) -> Vec<String> {
        self.rtr
            .proc_net("ip_mr_vif")
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect()
    }

    fn traffic(&self, port: u16) -> usize {
        let rx = Receiver::start(&self.rcv, "c0", G.into(), port, Duration::from_millis(800));
        send(
            &self.snd,
            "s0",
            G.into(),
            port,
            5,
            Duration::from_millis(20),
        );
        rx.count()
    }
}

#[test]
fn interface_appears_goes_and_returns() {
    if !require_netns("interface_appears_goes_and_returns") {
        return;
    }
    let n = net("lk");
    let dir = TempDir::new("lk");
    let conf = dir.path("l.conf");
    std::fs::write(
        &conf,
        "phyint r0 enable\nphyint r1 enable\nmroute from r0 source 192.0.2.1 group 225.8.8.8 to r1\n",
    )
    .unwrap();
    let pid = dir.path("l.pid");
    let d = NsProcess::start(
        &n.rtr,
        &workspace_bin("static-router", true),
        &[
            "-n",
            "-N",
            "-l",
            "debug",
            "-f",
            conf.to_str().unwrap(),
            "-P",
            pid.to_str().unwrap(),
            "-u",
            dir.path("l.sock").to_str().unwrap(),
        ],
        &dir.path("l.log"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || pid.exists()),
        "{}",
        d.output()
    );
    // r1 does not exist: the route waits (its inbound r0 exists, so smcroute 2.6 semantics
    // would install it without the missing OIF; either way nothing reaches c0's side).
    assert!(
        n.route().is_none_or(|oifs| oifs.is_empty()),
        "{:?}",
        n.route()
    );

    // The interface appears: VIF and route within a second, no SIGHUP.
    let t = Instant::now();
    n.link_up();
    let up = wait_until(Duration::from_secs(1), || {
        n.route().is_some_and(|o| o.contains(":1"))
    });
    assert!(
        up,
        "route not installed within 1 s of the interface appearing: {:?}\n{}",
        n.route(),
        d.output()
    );
    let took = t.elapsed();
    n.wait_operational();
    assert_eq!(
        n.traffic(7401),
        5,
        "traffic after the interface appeared ({took:?})"
    );

    // It goes: the route loses it; it comes back: traffic flows again.
    n.link_down();
    assert!(
        wait_until(Duration::from_secs(2), || !n
            .route()
            .is_some_and(|o| o.contains(":1"))),
        "route still forwards to a deleted interface: {:?}",
        n.route()
    );
    n.link_up();
    assert!(wait_until(Duration::from_secs(1), || n
        .route()
        .is_some_and(|o| o.contains(":1"))));
    n.wait_operational();
    assert_eq!(n.traffic(7402), 5, "traffic after the interface came back");

    // 100 cycles: no VIF slot leaks.
    for _ in 0..100 {
        n.link_down();
        n.link_up();
    }
    assert!(wait_until(Duration::from_secs(3), || n
        .route()
        .is_some_and(|o| o.contains(":1"))));
    let vifs = n.vifs();
    assert_eq!(vifs.len(), 2, "VIFs after 100 cycles: {vifs:?}");
    assert!(
        vifs.iter()
            .all(|v| v.starts_with('0') || v.starts_with('1')),
        "{vifs:?}"
    );
    n.wait_operational();
    assert_eq!(n.traffic(7403), 5, "traffic after 100 cycles");
}

/// The tokio example: a group is forwarded only while a host downstream is a member.
#[test]
fn tokio_embed_routes_only_while_subscribed() {
    if !require_netns("tokio_embed_routes_only_while_subscribed") {
        return;
    }
    let net = Line::new("te");
    let dir = TempDir::new("te");
    let g: std::net::IpAddr = "225.6.6.6".parse().unwrap();
    let app = NsProcess::start(
        &net.rtr,
        &workspace_bin("tokio-embed", true),
        &["r0", "r1", "225.6.6.6"],
        &dir.path("app.log"),
    );
    std::thread::sleep(Duration::from_millis(500));
    // A subscriber downstream: its IGMP report reaches the example's querier.
    let rx = Receiver::start(&net.rcv, "c0", g, 7501, Duration::from_millis(2500));
    let subscribed = wait_until(Duration::from_secs(5), || {
        app.output().contains("has a subscriber")
    });
    assert!(subscribed, "{}", app.output());
    send(&net.snd, "s0", g, 7501, 5, Duration::from_millis(20));
    assert_eq!(
        rx.count(),
        5,
        "forwarded while subscribed:\n{}",
        app.output()
    );
    // The receiver's socket closed: it left; after the last-member queries the route goes.
    let stopped = wait_until(Duration::from_secs(10), || {
        app.output().contains("no subscriber")
    });
    assert!(stopped, "{}", app.output());
    let out_before = vif_out_packets(&net.rtr, "r1");
    send(&net.snd, "s0", g, 7502, 5, Duration::from_millis(20));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        vif_out_packets(&net.rtr, "r1"),
        out_before,
        "nothing forwarded without a subscriber"
    );
}

/// Packets the kernel sent out of the VIF on `dev` (/proc/net/ip_mr_vif).
fn vif_out_packets(ns: &Netns, dev: &str) -> u64 {
    ns.proc_net("ip_mr_vif")
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(dev))
        .and_then(|l| l.split_whitespace().nth(5).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}
