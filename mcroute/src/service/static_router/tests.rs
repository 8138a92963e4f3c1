//! The static engine driving a real Router over the fake kernel, through [`super::exec`].

use std::net::IpAddr;
use std::time::Instant;

use super::exec;
use crate::engine::static_routing::tests::{
    add, cfg, install, ip, net, remove, replace, rule, Drive, RELOAD,
};
use crate::engine::static_routing::*;
use crate::model::Family;
use crate::platform::fake::{Delivery, Fake, FakeKernel};
use crate::{Router, RouterOptions};

fn run(router: &mut Router<Fake>, actions: Vec<Action>) {
    let failed = exec::execute_all(router, &actions);
    assert!(failed.is_empty(), "failed actions: {failed:?}");
}

/// Feeds every queued upcall to the engine and executes what it says.
fn drain(e: &mut StaticEngine, router: &mut Router<Fake>, now: Instant) -> Vec<Action> {
    let mut all = Vec::new();
    while let Some(u) = router.recv_upcall().unwrap() {
        exec::dispatch_upcall(e, router, now, &u);
        let actions = e.drain();
        run(router, actions.clone());
        all.extend(actions);
    }
    all
}

/// The fake kernel, Router and engine of [`engine_actions_forward_packets_on_the_fake_kernel`].
struct Setup {
    kernel: FakeKernel,
    router: Router<Fake>,
    e: StaticEngine,
    t0: Instant,
    ifs: [u32; 3],
    config: StaticConfig,
}

fn setup() -> Setup {
    let kernel = FakeKernel::new();
    let a1 = kernel.add_interface("a1");
    let a2 = kernel.add_interface("a2");
    let a3 = kernel.add_interface("a3");
    let mut router = Router::open(kernel.platform(), RouterOptions::dual_stack()).unwrap();
    let mut e = StaticEngine::new(EngineOptions::default());
    let t0 = Instant::now();
    let actions = e.set_interfaces(t0, &router.interfaces().unwrap());
    run(&mut router, actions);
    let config = StaticConfig {
        phyints: vec![Phyint {
            ttl_threshold: 3,
            ..Phyint::new("a3")
        }],
        routes: vec![
            rule("a1", Some("192.0.2.10"), "225.1.2.3", &["a2", "a3"]),
            rule("a1", None, "225.3.0.0/16", &["a2"]),
            rule("a1", None, "ff0e::/16", &["a3"]),
        ],
        joins: vec![JoinRule::new("a1", None, net("225.1.2.3"))],
    };
    let actions = e.apply_config(t0, &config).unwrap();
    run(&mut router, actions);
    Setup {
        kernel,
        router,
        e,
        t0,
        ifs: [a1, a2, a3],
        config,
    }
}

#[test]
fn engine_actions_forward_packets_on_the_fake_kernel() {
    let mut s = setup();
    static_and_learned_routes_forward(&mut s);
    reload_and_flush_timer(&mut s);
}

/// The (S,G) rule, a (*,G) flow, a miss and an IPv6 flow on the fake kernel.
fn static_and_learned_routes_forward(s: &mut Setup) {
    let (kernel, router, e, t0) = (&s.kernel, &mut s.router, &mut s.e, s.t0);
    let [a1, a2, a3] = s.ifs;
    // The (S,G) rule is in the kernel with the right slots and TTLs.
    let (v1, v2, v3) = (
        router.vif_by_name(Family::V4, "a1").unwrap().id,
        router.vif_by_name(Family::V4, "a2").unwrap().id,
        router.vif_by_name(Family::V4, "a3").unwrap().id,
    );
    let sg = crate::MfcEntry::new(ip("192.0.2.10"), ip("225.1.2.3"), v1)
        .unwrap()
        .with_oif(v2, 1)
        .with_oif(v3, 3);
    assert_eq!(kernel.routes(Family::V4, 0), vec![sg]);
    assert_eq!(kernel.vifs(Family::V4, 0)[2].threshold, 3);
    assert_eq!(
        kernel.receive(0, a1, ip("192.0.2.10"), ip("225.1.2.3"), 100),
        Delivery::Forwarded(vec![a2, a3])
    );
    assert_eq!(kernel.memberships(), vec![(a1, ip("225.1.2.3"), None)]);

    // A (*,G) flow: NOCACHE, the engine answers, the next packet is forwarded.
    assert_eq!(
        kernel.receive(0, a1, ip("198.51.100.7"), ip("225.3.4.5"), 100),
        Delivery::NoCache
    );
    assert_eq!(
        drain(e, router, t0),
        vec![
            add("198.51.100.7", "225.3.4.5", "a1", &[("a2", 1)]),
            install("198.51.100.7", "225.3.4.5")
        ]
    );
    assert_eq!(
        kernel.receive(0, a1, ip("198.51.100.7"), ip("225.3.4.5"), 100),
        Delivery::Forwarded(vec![a2])
    );
    // A miss: a stop filter, and the kernel stops asking.
    assert_eq!(
        kernel.receive(0, a1, ip("198.51.100.7"), ip("239.9.9.9"), 100),
        Delivery::NoCache
    );
    drain(e, router, t0);
    assert_eq!(
        kernel.receive(0, a1, ip("198.51.100.7"), ip("239.9.9.9"), 100),
        Delivery::Dropped
    );
    assert_eq!(router.recv_upcall().unwrap(), None);
    // IPv6 (*,G).
    assert_eq!(
        kernel.receive(0, a1, ip("2001:db8::7"), ip("ff0e::1:2"), 100),
        Delivery::NoCache
    );
    drain(e, router, t0);
    assert_eq!(
        kernel.receive(0, a1, ip("2001:db8::7"), ip("ff0e::1:2"), 100),
        Delivery::Forwarded(vec![a3])
    );
    assert_eq!(kernel.routes(Family::V6, 0).len(), 1);
}

/// A reload with fewer OIFs, the flush timer, and an empty configuration at the end.
fn reload_and_flush_timer(s: &mut Setup) {
    let (kernel, router, e, t0) = (&s.kernel, &mut s.router, &mut s.e, s.t0);
    let [a1, a2, _] = s.ifs;
    let config = &s.config;
    // Reload with fewer OIFs: replaced in place, counters kept, nothing else touched.
    let mut reloaded = config.clone();
    reloaded.routes[0] = rule("a1", Some("192.0.2.10"), "225.1.2.3", &["a2"]);
    let actions = e.apply_config(t0, &reloaded).unwrap();
    assert_eq!(
        actions,
        vec![
            replace("192.0.2.10", "225.1.2.3", "a1", &[("a2", 1)]),
            RELOAD
        ]
    );
    run(router, actions);
    assert_eq!(
        kernel.receive(0, a1, ip("192.0.2.10"), ip("225.1.2.3"), 100),
        Delivery::Forwarded(vec![a2])
    );
    assert_eq!(
        router
            .route_counters(ip("192.0.2.10"), ip("225.1.2.3"))
            .unwrap()
            .packets,
        2
    );
    assert_eq!(kernel.routes(Family::V4, 0).len(), 3);

    // Flush timer: the busy (*,G) flow survives the first pass, the idle stop filter and
    // the idle flow go on the second.
    let t1 = e.poll_timeout().unwrap();
    let actions = e.timeout(t1, |s, g| router.route_counters(s, g).ok());
    assert_eq!(actions, vec![]);
    let t2 = e.poll_timeout().unwrap();
    kernel.receive(0, a1, ip("198.51.100.7"), ip("225.3.4.5"), 100);
    let actions = e.timeout(t2, |s, g| router.route_counters(s, g).ok());
    assert_eq!(
        actions,
        vec![
            remove("198.51.100.7", "239.9.9.9", "a1"),
            remove("2001:db8::7", "ff0e::1:2", "a1"),
        ]
    );
    run(router, actions);
    assert_eq!(kernel.routes(Family::V4, 0).len(), 2);
    assert_eq!(kernel.routes(Family::V6, 0).len(), 0);

    // Everything the engine believes is what the kernel has.
    let believed: Vec<(IpAddr, IpAddr)> = {
        let mut v: Vec<_> = e
            .kernel_routes()
            .iter()
            .map(|r| (r.route.source, r.route.group))
            .collect();
        v.sort();
        v
    };
    let mut actual: Vec<(IpAddr, IpAddr)> = kernel
        .routes(Family::V4, 0)
        .iter()
        .chain(kernel.routes(Family::V6, 0).iter())
        .map(|r| r.key())
        .collect();
    actual.sort();
    assert_eq!(believed, actual);

    // An empty configuration takes everything away again.
    let actions = e.apply_config(t0, &StaticConfig::default()).unwrap();
    run(router, actions);
    assert!(kernel.routes(Family::V4, 0).is_empty());
    assert!(kernel.vifs(Family::V4, 0).is_empty());
    assert!(kernel.vifs(Family::V6, 0).is_empty());
    assert!(kernel.memberships().is_empty());
}

/// An interface deleted and recreated: the engine asks for RemoveVif + AddVif + the routes
/// again, and the Router forgets the slot the kernel already dropped, so the new interface
/// gets a working VIF and forwards again.
#[test]
fn recreated_interface_on_router() {
    let kernel = FakeKernel::new();
    let a1 = kernel.add_interface("a1");
    let a2 = kernel.add_interface("a2");
    let mut router = Router::open(kernel.platform(), RouterOptions::default()).unwrap();
    let mut e = StaticEngine::new(EngineOptions {
        ipv6: false,
        ..Default::default()
    });
    let t0 = Instant::now();
    let acts = e.set_interfaces(t0, &router.interfaces().unwrap());
    assert!(exec::execute_all(&mut router, &acts).is_empty());
    let config = cfg(vec![rule("a2", Some("192.0.2.1"), "225.1.1.1", &["a1"])]);
    let acts = e.apply_config(t0, &config).unwrap();
    assert!(exec::execute_all(&mut router, &acts).is_empty());
    assert_eq!(
        kernel.receive(0, a2, ip("192.0.2.1"), ip("225.1.1.1"), 1),
        Delivery::Forwarded(vec![a1])
    );
    kernel.remove_interface("a1");
    let a1_again = kernel.add_interface("a1");
    let acts = e.set_interfaces(t0, &router.interfaces().unwrap());
    exec::execute_all(&mut router, &acts);
    assert_eq!(
        kernel.receive(0, a2, ip("192.0.2.1"), ip("225.1.1.1"), 1),
        Delivery::Forwarded(vec![a1_again])
    );
}

/// The service asks for WRONGVIF upcalls, so a learned route follows its traffic to the
/// interface it really arrives on (smcroute #143); the fake kernel, like the real ones,
/// sends none unless asked.
#[test]
fn the_service_asks_for_wrongvif_and_a_learned_route_moves() {
    use super::StaticService;
    let kernel = FakeKernel::new();
    let a1 = kernel.add_interface("a1");
    let a2 = kernel.add_interface("a2");
    let a3 = kernel.add_interface("a3");
    let router = Router::open(kernel.platform(), RouterOptions::default()).unwrap();
    let mut svc = StaticService::new(router, EngineOptions::default());
    let t0 = Instant::now();
    svc.refresh_interfaces(t0).unwrap();
    let config = cfg(vec![
        rule("a1", None, "225.5.0.0/16", &["a3"]),
        rule("a2", None, "225.5.0.0/16", &["a3"]),
    ]);
    svc.apply(t0, &config).unwrap();
    let (s, g) = (ip("192.0.2.7"), ip("225.5.1.1"));
    assert_eq!(kernel.receive(0, a1, s, g, 100), Delivery::NoCache);
    svc.handle_upcalls(t0).unwrap();
    assert_eq!(
        kernel.receive(0, a1, s, g, 100),
        Delivery::Forwarded(vec![a3])
    );
    // The same (S,G) now comes in on a2: the kernel says so, and the route moves there.
    assert_eq!(kernel.receive(0, a2, s, g, 100), Delivery::WrongVif);
    svc.handle_upcalls(t0).unwrap();
    let v2 = svc.router().vif_by_name(Family::V4, "a2").unwrap().id;
    assert_eq!(svc.router().route(s, g).unwrap().iif(), v2);
    assert_eq!(
        kernel.receive(0, a2, s, g, 100),
        Delivery::Forwarded(vec![a3])
    );
}
