//! WRONGVIF/WRONGMIF upcalls on the real Linux kernel: the kernel sends them only when the
//! routing socket asks (`MRT_PIM`/`MRT6_PIM`, which also turn on `mroute_do_assert`), and
//! the static router asks, so its wrong-VIF handling (a learned route moving to the
//! interface its traffic really arrives on, smcroute #143) runs.
#![cfg(target_os = "linux")]

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use mcroute::platform::linux::Linux;
use mcroute::{Family, MfcEntry, Platform, Router, RouterOptions, Upcall, UpcallKind, VifIndex};
use support::*;

const G4: Ipv4Addr = Ipv4Addr::new(225, 7, 7, 7);
const G6: Ipv6Addr = Ipv6Addr::new(0xff0e, 0, 0, 0, 0, 0, 0x7, 0x7);

/// Sends from the sender (arriving on r0) to an (S,G) whose route comes in on r1: first with
/// wrong-VIF upcalls off (the kernel counts the packets but says nothing), then on.
fn wrong_iif(family: Family, tag: &str) {
    let net = Line::new(tag);
    let (source, group): (IpAddr, IpAddr) = match family {
        Family::V4 => (SND4.into(), G4.into()),
        Family::V6 => (SND6.into(), G6.into()),
    };
    let (to_router, from_main) = std::sync::mpsc::channel::<()>();
    let (to_main, from_router) = std::sync::mpsc::channel::<Vec<Upcall>>();
    let router = net.rtr.spawn(move || {
        let opts = RouterOptions {
            ipv4: family == Family::V4,
            ipv6: family == Family::V6,
            table: 0,
        };
        let mut r = Router::open(Linux::new().unwrap(), opts).unwrap();
        let (r0, r1): (VifIndex, VifIndex) = match family {
            Family::V4 => (
                r.add_vif("r0").unwrap().into(),
                r.add_vif("r1").unwrap().into(),
            ),
            Family::V6 => (
                r.add_mif("r0").unwrap().into(),
                r.add_mif("r1").unwrap().into(),
            ),
        };
        // A stop filter on r1: the arrival interface r0 is not even an outbound one.
        r.add_route(MfcEntry::new(source, group, r1).unwrap())
            .unwrap();
        to_main.send(Vec::new()).unwrap(); // ready: the VIFs and the route are in place
        let drain = |r: &mut Router<Linux>| {
            let mut v = Vec::new();
            while let Some(u) = r.recv_upcall().unwrap() {
                v.push(u);
            }
            v
        };
        // Phase 1: off. Wait until the kernel has counted the packets on the wrong
        // interface; an upcall would be queued before the count is visible.
        from_main.recv().unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || r
                .route_counters(source, group)
                .is_ok_and(|c| c.wrong_if >= 3)),
            "the kernel never counted the packets on r0"
        );
        to_main.send(drain(&mut r)).unwrap();
        // Phase 2: on.
        r.platform_mut()
            .set_wrong_vif_upcalls(family, true)
            .unwrap();
        to_main.send(Vec::new()).unwrap();
        let mut seen = Vec::new();
        wait_until(Duration::from_secs(10), || {
            seen.extend(drain(&mut r));
            seen.iter().any(|u| u.kind() == UpcallKind::WrongVif)
        });
        (seen, r0)
    });
    from_router.recv_timeout(Duration::from_secs(20)).unwrap();
    send(&net.snd, "s0", group, 5010, 3, Duration::from_millis(20));
    to_router.send(()).unwrap();
    let before = from_router.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(
        before.iter().all(|u| u.kind() != UpcallKind::WrongVif),
        "WRONGVIF without asking for it: {before:?}"
    );
    from_router.recv_timeout(Duration::from_secs(20)).unwrap();
    send(&net.snd, "s0", group, 5010, 3, Duration::from_millis(20));
    let (seen, r0) = router.join().unwrap();
    let w = seen
        .iter()
        .find(|u| u.kind() == UpcallKind::WrongVif)
        .unwrap_or_else(|| panic!("no WRONGVIF upcall; upcalls: {seen:?}"));
    assert_eq!(w.iif(), r0, "{w}");
    assert_eq!((w.source(), w.group()), (source, group), "{w}");
}

#[test]
fn ipv4_wrongvif_upcalls_arrive_when_asked_for() {
    if !require_netns("ipv4_wrongvif_upcalls_arrive_when_asked_for") {
        return;
    }
    wrong_iif(Family::V4, "wv4");
}

#[test]
fn ipv6_wrongmif_upcalls_arrive_when_asked_for() {
    if !require_netns("ipv6_wrongmif_upcalls_arrive_when_asked_for") {
        return;
    }
    wrong_iif(Family::V6, "wv6");
}
