//! The Linux backend against the real kernel, in network namespaces:
//! sender — router — receiver, real UDP multicast, IPv4 and IPv6.
#![cfg(target_os = "linux")]

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use mcroute::platform::linux::Linux;
use mcroute::{Error, Family, MfcEntry, Platform, Router, RouterOptions, UpcallKind, VifIndex};
use support::*;

const G4: Ipv4Addr = Ipv4Addr::new(225, 1, 2, 3);
const G6: Ipv6Addr = Ipv6Addr::new(0xff0e, 0, 0, 0, 0, 0, 0x1, 0x2);

#[test]
fn forwards_ipv4_sg_route() {
    if !require_netns("forwards_ipv4_sg_route") {
        return;
    }
    let net = Line::new("f4");
    let rtr_ns = net.rtr.name.clone();
    let (tx_ready, rx_ready) = std::sync::mpsc::channel();
    let (tx_done, rx_done) = std::sync::mpsc::channel::<()>();
    // The router lives on its own thread inside the router namespace.
    let router = net.rtr.spawn(move || {
        let mut r = Router::open(Linux::new().unwrap(), RouterOptions::default()).unwrap();
        let r0 = r.add_vif("r0").unwrap();
        let r1 = r.add_vif("r1").unwrap();
        r.add_route(MfcEntry::v4(SND4, G4, r0).unwrap().with_oif(r1, 1))
            .unwrap();
        let cache = std::fs::read_to_string("/proc/thread-self/net/ip_mr_cache").unwrap();
        let vifs = std::fs::read_to_string("/proc/thread-self/net/ip_mr_vif").unwrap();
        tx_ready.send((cache, vifs)).unwrap();
        rx_done.recv().unwrap();
        let c = r.route_counters(SND4.into(), G4.into()).unwrap();
        let v = r.vif_counters(r1.into()).unwrap();
        let vin = r.vif_counters(r0.into()).unwrap();
        (c, v, vin)
    });
    let (cache, vifs) = rx_ready.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        vifs.contains("r0") && vifs.contains("r1"),
        "VIFs in the kernel:\n{vifs}"
    );
    let line = cache
        .lines()
        .find(|l| l.starts_with(&proc_hex_v4(G4)))
        .unwrap_or_else(|| panic!("route not in /proc/net/ip_mr_cache of {rtr_ns}:\n{cache}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[1], proc_hex_v4(SND4), "origin column: {line}");
    assert_eq!(cols[2], "0", "iif column: {line}");
    assert_eq!(cols.last(), Some(&"1:1"), "oif column: {line}");

    let rx = Receiver::start(&net.rcv, "c0", G4.into(), 5001, Duration::from_millis(1500));
    send(
        &net.snd,
        "s0",
        G4.into(),
        5001,
        5,
        Duration::from_millis(20),
    );
    let got = rx.count();
    tx_done.send(()).unwrap();
    let (c, v, vin) = router.join().unwrap();
    assert_eq!(got, 5, "receiver got {got} of 5 datagrams");
    assert_eq!(c.packets, 5, "route counters: {c:?}");
    assert!(c.bytes >= 5 * 20, "route counters: {c:?}");
    assert_eq!(c.wrong_if, 0);
    assert!(v.out_packets >= 5, "VIF r1 counters: {v:?}");
    assert!(vin.in_packets >= 5, "VIF r0 counters: {vin:?}");
    // Dropping the router released the table: the kernel flushed the route.
    let after = net.rtr.proc_net("ip_mr_cache");
    assert!(
        !after.contains(&proc_hex_v4(G4)),
        "route left behind:\n{after}"
    );
}

#[test]
fn forwards_ipv6_sg_route() {
    if !require_netns("forwards_ipv6_sg_route") {
        return;
    }
    let net = Line::new("f6");
    let (tx_ready, rx_ready) = std::sync::mpsc::channel();
    let (tx_done, rx_done) = std::sync::mpsc::channel::<()>();
    let router = net.rtr.spawn(move || {
        let opts = RouterOptions {
            ipv4: false,
            ipv6: true,
            table: 0,
        };
        let mut r = Router::open(Linux::new().unwrap(), opts).unwrap();
        let r0 = r.add_mif("r0").unwrap();
        let r1 = r.add_mif("r1").unwrap();
        r.add_route(MfcEntry::v6(SND6, G6, r0).unwrap().with_oif(r1, 1))
            .unwrap();
        let cache = std::fs::read_to_string("/proc/thread-self/net/ip6_mr_cache").unwrap();
        tx_ready.send(cache).unwrap();
        rx_done.recv().unwrap();
        (
            r.route_counters(SND6.into(), G6.into()).unwrap(),
            r.vif_counters(r1.into()).unwrap(),
        )
    });
    let cache = rx_ready.recv_timeout(Duration::from_secs(10)).unwrap();
    let line = cache
        .lines()
        .find(|l| l.starts_with(&proc_full_v6(G6)))
        .unwrap_or_else(|| panic!("route not in /proc/net/ip6_mr_cache:\n{cache}"));
    assert!(line.contains(&proc_full_v6(SND6)), "{line}");
    assert!(line.trim_end().ends_with("1:1"), "oifs: {line}");

    let rx = Receiver::start(&net.rcv, "c0", G6.into(), 5002, Duration::from_millis(1500));
    send(
        &net.snd,
        "s0",
        G6.into(),
        5002,
        5,
        Duration::from_millis(20),
    );
    let got = rx.count();
    tx_done.send(()).unwrap();
    let (c, v) = router.join().unwrap();
    assert_eq!(got, 5, "receiver got {got} of 5 datagrams");
    assert_eq!(c.packets, 5, "route counters: {c:?}");
    assert!(v.out_packets >= 5, "MIF r1 counters: {v:?}");
}

#[test]
fn unknown_group_is_not_forwarded_and_raises_nocache() {
    if !require_netns("unknown_group_is_not_forwarded_and_raises_nocache") {
        return;
    }
    let net = Line::new("nc");
    let (tx_ready, rx_ready) = std::sync::mpsc::channel();
    let router = net.rtr.spawn(move || {
        let mut r = Router::open(Linux::new().unwrap(), RouterOptions::dual_stack()).unwrap();
        let r0 = r.add_vif("r0").unwrap();
        r.add_vif("r1").unwrap();
        let m0 = r.add_mif("r0").unwrap();
        r.add_mif("r1").unwrap();
        tx_ready.send(()).unwrap();
        let mut seen = Vec::new();
        let ok = wait_until(Duration::from_secs(5), || {
            while let Some(u) = r.recv_upcall().unwrap() {
                seen.push(u);
            }
            seen.iter().any(|u| u.family() == Family::V4)
                && seen.iter().any(|u| u.family() == Family::V6)
        });
        (ok, seen, r0, m0)
    });
    rx_ready.recv_timeout(Duration::from_secs(10)).unwrap();
    let g4: Ipv4Addr = "225.9.9.9".parse().unwrap();
    let g6: Ipv6Addr = "ff0e::9:9".parse().unwrap();
    let rx = Receiver::start(&net.rcv, "c0", g4.into(), 5003, Duration::from_millis(800));
    send(
        &net.snd,
        "s0",
        g4.into(),
        5003,
        3,
        Duration::from_millis(20),
    );
    send(
        &net.snd,
        "s0",
        g6.into(),
        5003,
        3,
        Duration::from_millis(20),
    );
    assert_eq!(rx.count(), 0, "a group with no route must not be forwarded");
    let (ok, seen, r0, m0) = router.join().unwrap();
    assert!(
        ok,
        "expected NOCACHE upcalls for both families, saw {seen:?}"
    );
    let u4 = seen.iter().find(|u| u.family() == Family::V4).unwrap();
    assert_eq!(u4.kind(), UpcallKind::NoCache);
    assert_eq!(u4.iif(), VifIndex::Vif(r0));
    assert_eq!(u4.source(), IpAddr::V4(SND4));
    assert_eq!(u4.group(), IpAddr::V4(g4));
    let u6 = seen.iter().find(|u| u.family() == Family::V6).unwrap();
    assert_eq!(u6.kind(), UpcallKind::NoCache);
    assert_eq!(u6.iif(), VifIndex::Mif(m0));
    assert_eq!(u6.source(), IpAddr::V6(SND6));
    assert_eq!(u6.group(), IpAddr::V6(g6));
}

#[test]
fn second_router_on_same_table_is_refused() {
    if !require_netns("second_router_on_same_table_is_refused") {
        return;
    }
    let ns = Netns::new("tu");
    ns.run(|| {
        let first = Router::open(Linux::new().unwrap(), RouterOptions::dual_stack()).unwrap();
        match Router::open(Linux::new().unwrap(), RouterOptions::default()) {
            Err(Error::TableInUse { family, table }) => {
                assert_eq!((family, table), (Family::V4, 0))
            }
            Err(e) => panic!("expected TableInUse, got {e}"),
            Ok(_) => panic!("a second router opened the same table"),
        }
        let v6only = RouterOptions {
            ipv4: false,
            ipv6: true,
            table: 0,
        };
        assert!(matches!(
            Router::open(Linux::new().unwrap(), v6only),
            Err(Error::TableInUse {
                family: Family::V6,
                ..
            })
        ));
        // Another table works beside it, for both families.
        let other = Router::open(Linux::new().unwrap(), RouterOptions::dual_stack().table(42))
            .expect("table 42 should be free");
        drop(first);
        // Released on drop: the default table can be taken again.
        let again = Router::open(Linux::new().unwrap(), RouterOptions::default()).unwrap();
        drop((other, again));
    });
}

#[test]
fn errors_name_operation_and_object() {
    if !require_netns("errors_name_operation_and_object") {
        return;
    }
    let net = Line::new("er");
    net.rtr.run(|| {
        let mut r = Router::open(Linux::new().unwrap(), RouterOptions::default()).unwrap();
        let r0 = r.add_vif("r0").unwrap();
        // The kernel refuses a VIF slot beyond MAXVIFS; the error names it.
        let mut vif = r.vif(r0.into()).unwrap().clone();
        vif.id = VifIndex::Vif(mcroute::VifId(40));
        let e = r.platform_mut().add_vif(&vif).unwrap_err().to_string();
        assert_eq!(
            e,
            "adding VIF 40 (r0): slot beyond the kernel's table of 32 (ENFILE)"
        );
        // Counters of a route that does not exist.
        let e = r
            .route_counters("192.0.2.99".parse().unwrap(), "225.7.7.7".parse().unwrap())
            .unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e}");
        assert!(e.to_string().contains("(192.0.2.99, 225.7.7.7)"), "{e}");
        assert!(matches!(r.add_vif("nosuch0"), Err(Error::NoSuchInterface(n)) if n == "nosuch0"));
    });
}

#[test]
fn joins_show_in_proc() {
    if !require_netns("joins_show_in_proc") {
        return;
    }
    let net = Line::new("jn");
    let (tx, rx) = std::sync::mpsc::channel();
    let (tx_done, rx_done) = std::sync::mpsc::channel::<()>();
    let h = net.rtr.spawn(move || {
        let mut r = Router::open(Linux::new().unwrap(), RouterOptions::dual_stack()).unwrap();
        let g: IpAddr = "225.5.5.5".parse().unwrap();
        let ssm: IpAddr = "232.1.1.1".parse().unwrap();
        let g6: IpAddr = "ff0e::5:5".parse().unwrap();
        r.join("r0", g, None).unwrap();
        r.join("r0", ssm, Some(SND4.into())).unwrap();
        r.join("r0", g6, None).unwrap();
        // More than the kernel's 20 memberships per socket still works.
        for i in 0..30u8 {
            r.join("r1", IpAddr::V4(Ipv4Addr::new(239, 1, 1, i)), None)
                .unwrap();
        }
        let read = |f: &str| std::fs::read_to_string(format!("/proc/thread-self/net/{f}")).unwrap();
        tx.send((read("igmp"), read("mcfilter"), read("igmp6")))
            .unwrap();
        rx_done.recv().unwrap();
        r.leave("r0", g, None).unwrap();
        r.leave("r0", ssm, Some(SND4.into())).unwrap();
        (read("igmp"), read("mcfilter"))
    });
    let (igmp, mcfilter, igmp6) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let g_hex = proc_hex_v4("225.5.5.5".parse().unwrap());
    assert!(
        igmp.contains(&g_hex),
        "ASM join missing from /proc/net/igmp:\n{igmp}"
    );
    assert_eq!(
        (0..30u8)
            .filter(|i| igmp.contains(&proc_hex_v4(Ipv4Addr::new(239, 1, 1, *i))))
            .count(),
        30,
        "all 30 joins on r1 expected in /proc/net/igmp:\n{igmp}"
    );
    // mcfilter prints addresses in host order: 0xe8010101 is 232.1.1.1.
    let ssm_hex = format!("0x{:08x}", u32::from(Ipv4Addr::new(232, 1, 1, 1)));
    let src_hex = format!("0x{:08x}", u32::from(SND4));
    assert!(
        mcfilter
            .lines()
            .any(|l| l.contains(&ssm_hex) && l.contains(&src_hex)),
        "SSM join missing from /proc/net/mcfilter:\n{mcfilter}"
    );
    assert!(
        igmp6.contains(&proc_hex_v6("ff0e::5:5".parse().unwrap())),
        "MLD join missing from /proc/net/igmp6:\n{igmp6}"
    );
    tx_done.send(()).unwrap();
    let (igmp, mcfilter) = h.join().unwrap();
    assert!(!igmp.contains(&g_hex), "left group still in /proc/net/igmp");
    assert!(
        !mcfilter.contains(&ssm_hex),
        "left SSM group still in /proc/net/mcfilter"
    );
}

#[test]
fn a_full_routing_socket_is_detected_and_counted() {
    if !require_netns("a_full_routing_socket_is_detected_and_counted") {
        return;
    }
    let net = Line::new("ov");
    let (tx_ready, rx_ready) = std::sync::mpsc::channel();
    let (tx_go, rx_go) = std::sync::mpsc::channel::<()>();
    let router = net.rtr.spawn(move || {
        // A tiny receive buffer, and nobody reading during the storm.
        let mut r = Router::open(
            Linux::new().unwrap().with_rcvbuf(4096),
            RouterOptions::default(),
        )
        .unwrap();
        r.add_vif("r0").unwrap();
        r.add_vif("r1").unwrap();
        tx_ready.send(()).unwrap();
        rx_go.recv().unwrap();
        let mut received = 0u64;
        while r.recv_upcall().unwrap().is_some() {
            received += 1;
        }
        // The kernel stamps its drop counter on the next message it queues: one more
        // new flow makes the losses visible.
        tx_ready.send(()).unwrap();
        let got = wait_until(Duration::from_secs(5), || {
            r.recv_upcall().unwrap().is_some()
        });
        assert!(got, "the flow sent after the storm must raise an upcall");
        (received, r.lost_upcalls())
    });
    rx_ready.recv_timeout(Duration::from_secs(10)).unwrap();
    let n = 2000;
    send_from_many_sources(&net.snd, "s0", n, Ipv4Addr::new(225, 99, 0, 1));
    std::thread::sleep(Duration::from_millis(300));
    tx_go.send(()).unwrap();
    rx_ready.recv_timeout(Duration::from_secs(10)).unwrap();
    send(
        &net.snd,
        "s0",
        "225.99.0.2".parse().unwrap(),
        5099,
        1,
        Duration::from_millis(1),
    );
    let (received, lost) = router.join().unwrap();
    assert!(
        lost > 0,
        "the overflow must be detected (received {received})"
    );
    assert_eq!(
        received + lost,
        u64::from(n),
        "every upcall is either received or counted lost"
    );
}

/// A batch of thousands of routes (IPv4 and IPv6) goes to the kernel through the writer
/// thread: every route is in /proc, a removal in the middle of the batch happens after the
/// queued routes, and a batched route really forwards.
#[test]
fn a_route_batch_installs_thousands_of_routes() {
    if !require_netns("a_route_batch_installs_thousands_of_routes") {
        return;
    }
    const N: u32 = 3000;
    let net = Line::new("rb");
    let (tx_ready, rx_ready) = std::sync::mpsc::channel();
    let (tx_done, rx_done) = std::sync::mpsc::channel::<()>();
    let router = net.rtr.spawn(move || {
        let mut r = Router::open(Linux::new().unwrap(), RouterOptions::dual_stack()).unwrap();
        let (v0, v1) = (r.add_vif("r0").unwrap(), r.add_vif("r1").unwrap());
        let (m0, m1) = (r.add_mif("r0").unwrap(), r.add_mif("r1").unwrap());
        let mut batch = r.batch();
        for i in 0..N {
            // (SND4, G4) is the last IPv4 route of the batch: the one traffic tests.
            let (s4, g4) = if i == N - 1 {
                (SND4, G4)
            } else {
                (
                    Ipv4Addr::from(0xc000_0200 + (i % 200) + 1),
                    Ipv4Addr::from(0xe200_0000 + i / 200 + 1),
                )
            };
            batch
                .add_route(MfcEntry::v4(s4, g4, v0).unwrap().with_oif(v1, 1))
                .unwrap();
            let g6 = Ipv6Addr::new(0xff0e, 0, 0, 0, 0, 0, 0x2, i as u16 + 1);
            batch
                .add_route(MfcEntry::v6(SND6, g6, m0).unwrap().with_oif(m1, 1))
                .unwrap();
            if i == N / 2 {
                // Removing a route queued a moment ago: it must be in the kernel first.
                let g = Ipv6Addr::new(0xff0e, 0, 0, 0, 0, 0, 0x2, 1);
                batch.router().remove_route(SND6.into(), g.into()).unwrap();
            }
        }
        let refused = batch.finish();
        let cache = std::fs::read_to_string("/proc/thread-self/net/ip_mr_cache").unwrap();
        let cache6 = std::fs::read_to_string("/proc/thread-self/net/ip6_mr_cache").unwrap();
        tx_ready
            .send((refused.len(), r.route_count(), cache, cache6))
            .unwrap();
        rx_done.recv().unwrap();
        r.route_counters(SND4.into(), G4.into()).unwrap()
    });
    let (refused, count, cache, cache6) = rx_ready.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(refused, 0, "the kernel refused routes of the batch");
    assert_eq!(count, 2 * N as usize - 1, "routes in the Router's table");
    assert_eq!(
        cache.lines().count() - 1,
        N as usize,
        "IPv4 routes in /proc/net/ip_mr_cache"
    );
    assert_eq!(
        cache6.lines().count() - 1,
        N as usize - 1,
        "IPv6 routes in /proc/net/ip6_mr_cache (one removed)"
    );
    let removed = proc_full_v6(Ipv6Addr::new(0xff0e, 0, 0, 0, 0, 0, 0x2, 1));
    assert!(
        !cache6.lines().any(|l| l.starts_with(&removed)),
        "the removed route is still in the kernel"
    );
    let rx = Receiver::start(&net.rcv, "c0", G4.into(), 5003, Duration::from_millis(1500));
    send(
        &net.snd,
        "s0",
        G4.into(),
        5003,
        5,
        Duration::from_millis(20),
    );
    let got = rx.count();
    tx_done.send(()).unwrap();
    let c = router.join().unwrap();
    assert_eq!(
        got, 5,
        "receiver got {got} of 5 datagrams on a batched route"
    );
    assert_eq!(c.packets, 5, "route counters: {c:?}");
}
