//! Unit tests of the static engine: concrete inputs, concrete expected actions.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::*;
use crate::model::{Family, Interface, RouteCounters};

/// The engine's call-and-return shape of before, for these tests: each input, then the
/// actions it queued (and, for the flush timer, its counter requests answered by a closure).
pub(crate) trait Drive {
    fn drain(&mut self) -> Vec<Action>;
    fn set_interfaces(&mut self, now: Instant, ifs: &[Interface]) -> Vec<Action>;
    fn apply_config(
        &mut self,
        now: Instant,
        config: &StaticConfig,
    ) -> Result<Vec<Action>, Vec<ConfigError>>;
    fn upcall(&mut self, now: Instant, iif: &str, s: IpAddr, g: IpAddr) -> Vec<Action>;
    fn wrong_vif(&mut self, now: Instant, iif: &str, s: IpAddr, g: IpAddr) -> Vec<Action>;
    fn timeout(
        &mut self,
        now: Instant,
        counters: impl FnMut(IpAddr, IpAddr) -> Option<RouteCounters>,
    ) -> Vec<Action>;
    fn add_route(&mut self, now: Instant, rule: RouteRule) -> Result<Vec<Action>, EngineError>;
    fn remove_route(&mut self, now: Instant, rule: &RouteRule) -> Result<Vec<Action>, EngineError>;
    fn join(&mut self, rule: JoinRule) -> Result<Vec<Action>, EngineError>;
    fn leave(&mut self, rule: &JoinRule) -> Result<Vec<Action>, EngineError>;
    fn flush(&mut self) -> Vec<Action>;
}

impl Drive for StaticEngine {
    fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.poll_action()).collect()
    }
    fn set_interfaces(&mut self, now: Instant, ifs: &[Interface]) -> Vec<Action> {
        self.handle_interfaces(now, ifs);
        self.drain()
    }
    fn apply_config(
        &mut self,
        now: Instant,
        config: &StaticConfig,
    ) -> Result<Vec<Action>, Vec<ConfigError>> {
        self.handle_config(now, config.clone())?;
        Ok(self.drain())
    }
    fn upcall(&mut self, now: Instant, iif: &str, s: IpAddr, g: IpAddr) -> Vec<Action> {
        self.handle_upcall(now, iif, s, g);
        self.drain()
    }
    fn wrong_vif(&mut self, now: Instant, iif: &str, s: IpAddr, g: IpAddr) -> Vec<Action> {
        self.handle_wrong_vif(now, iif, s, g);
        self.drain()
    }
    fn timeout(
        &mut self,
        now: Instant,
        mut counters: impl FnMut(IpAddr, IpAddr) -> Option<RouteCounters>,
    ) -> Vec<Action> {
        self.handle_timeout(now);
        while let Some((s, g)) = self.poll_counters_request() {
            self.handle_counters(now, s, g, counters(s, g));
        }
        self.drain()
    }
    fn add_route(&mut self, now: Instant, rule: RouteRule) -> Result<Vec<Action>, EngineError> {
        self.handle_add_route(now, rule)?;
        Ok(self.drain())
    }
    fn remove_route(&mut self, now: Instant, rule: &RouteRule) -> Result<Vec<Action>, EngineError> {
        self.handle_remove_route(now, rule)?;
        Ok(self.drain())
    }
    fn join(&mut self, rule: JoinRule) -> Result<Vec<Action>, EngineError> {
        self.handle_join(Instant::now(), rule)?;
        Ok(self.drain())
    }
    fn leave(&mut self, rule: &JoinRule) -> Result<Vec<Action>, EngineError> {
        self.handle_leave(Instant::now(), rule)?;
        Ok(self.drain())
    }
    fn flush(&mut self) -> Vec<Action> {
        self.handle_flush(Instant::now());
        self.drain()
    }
}

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(crate) fn net(s: &str) -> IpNet {
    s.parse()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .unwrap()
}

pub(crate) fn iface(index: u32, name: &str) -> Interface {
    Interface {
        index,
        name: name.to_string(),
        up: true,
        multicast: true,
        loopback: false,
        point_to_point: false,
        addrs: vec![],
    }
}

/// `lo` (not multicast) plus the given names, indexes from 2.
pub(crate) fn ifaces(names: &[&str]) -> Vec<Interface> {
    let mut v = vec![Interface {
        multicast: false,
        loopback: true,
        ..iface(1, "lo")
    }];
    v.extend(
        names
            .iter()
            .enumerate()
            .map(|(i, n)| iface(i as u32 + 2, n)),
    );
    v
}

pub(crate) fn rule(iif: &str, src: Option<&str>, grp: &str, oifs: &[&str]) -> RouteRule {
    RouteRule::new(
        iif,
        src.map(net),
        net(grp),
        oifs.iter().map(|o| IfPattern::new(o)),
    )
}

pub(crate) fn route(s: &str, g: &str, iif: &str, oifs: &[(&str, u8)]) -> Route {
    Route {
        source: ip(s),
        group: ip(g),
        iif: iif.to_string(),
        oifs: oifs.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
    }
}

pub(crate) fn add(s: &str, g: &str, iif: &str, oifs: &[(&str, u8)]) -> Action {
    Action::AddRoute(route(s, g, iif, oifs))
}

pub(crate) fn replace(s: &str, g: &str, iif: &str, oifs: &[(&str, u8)]) -> Action {
    Action::ReplaceRoute(route(s, g, iif, oifs))
}

pub(crate) fn remove(s: &str, g: &str, iif: &str) -> Action {
    Action::RemoveRoute {
        source: ip(s),
        group: ip(g),
        iif: iif.to_string(),
    }
}

pub(crate) fn add_vif(family: Family, name: &str, ifindex: u32, threshold: u8) -> Action {
    Action::AddVif {
        family,
        name: name.to_string(),
        ifindex,
        threshold,
        mrdisc: false,
    }
}

pub(crate) fn install(s: &str, g: &str) -> Action {
    Action::RunScript(ScriptEvent::Install {
        source: ip(s),
        group: ip(g),
    })
}

pub(crate) const RELOAD: Action = Action::RunScript(ScriptEvent::Reload);

pub(crate) fn join(name: &str, s: Option<&str>, g: &str) -> Action {
    Action::Join {
        name: name.to_string(),
        source: s.map(ip),
        group: ip(g),
    }
}

pub(crate) fn leave(name: &str, s: Option<&str>, g: &str) -> Action {
    Action::Leave {
        name: name.to_string(),
        source: s.map(ip),
        group: ip(g),
    }
}

/// An engine over a1..a3 and b1 (indexes 2..5) with `routes` applied; returns it with the
/// start time.
pub(crate) fn engine(routes: Vec<RouteRule>) -> (StaticEngine, Instant) {
    let mut e = StaticEngine::new(EngineOptions::default());
    let t0 = Instant::now();
    assert!(e
        .set_interfaces(t0, &ifaces(&["a1", "a2", "a3", "b1"]))
        .is_empty());
    e.apply_config(
        t0,
        &StaticConfig {
            routes,
            ..Default::default()
        },
    )
    .unwrap();
    (e, t0)
}

// ----- startup and VIFs -------------------------------------------------------------------

#[test]
fn startup_creates_referenced_vifs_then_routes_then_joins() {
    let mut e = StaticEngine::new(EngineOptions::default());
    let t0 = Instant::now();
    assert_eq!(
        e.set_interfaces(t0, &ifaces(&["a1", "a2", "a3", "b1"])),
        vec![]
    );
    let cfg = StaticConfig {
        phyints: vec![Phyint {
            ttl_threshold: 3,
            ..Phyint::new("a3")
        }],
        routes: vec![
            rule("a1", Some("192.0.2.10"), "225.1.2.3", &["a2", "a3"]),
            rule("a1", None, "225.3.0.0/16", &["a2"]),
        ],
        joins: vec![JoinRule::new("a1", None, net("225.1.2.3"))],
    };
    let actions = e.apply_config(t0, &cfg).unwrap();
    assert_eq!(
        actions,
        vec![
            add_vif(Family::V4, "a1", 2, 1),
            add_vif(Family::V4, "a2", 3, 1),
            add_vif(Family::V4, "a3", 4, 3),
            add_vif(Family::V6, "a3", 4, 3),
            add("192.0.2.10", "225.1.2.3", "a1", &[("a2", 1), ("a3", 3)]),
            join("a1", None, "225.1.2.3"),
            RELOAD,
        ]
    );
    assert_eq!(e.template_rules().count(), 1);
    assert_eq!(e.sg_rules().count(), 1);
    assert!(!e.has_vif(Family::V4, "b1"));
    assert!(e.pending().is_empty());
}

#[test]
fn enable_all_gives_every_multicast_interface_a_vif_but_referenced_ones_first() {
    let mut e = StaticEngine::new(EngineOptions {
        enable_all: true,
        ipv6: false,
        max_vifs: 2,
        ..EngineOptions::default()
    });
    let t0 = Instant::now();
    // lo is not multicast; with room for two, a1 and a2 are taken in index order.
    assert_eq!(
        e.set_interfaces(t0, &ifaces(&["a1", "a2", "b1"])),
        vec![
            add_vif(Family::V4, "a1", 2, 1),
            add_vif(Family::V4, "a2", 3, 1)
        ]
    );
    // A route naming b1 takes a slot before the unreferenced a2.
    let actions = e
        .apply_config(
            t0,
            &StaticConfig {
                routes: vec![rule("b1", Some("192.0.2.1"), "225.1.1.1", &["a1"])],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        actions,
        vec![
            add_vif(Family::V4, "b1", 4, 1),
            add("192.0.2.1", "225.1.1.1", "b1", &[("a1", 1)]),
            Action::RemoveVif {
                family: Family::V4,
                name: "a2".into()
            },
            RELOAD,
        ]
    );
}

#[test]
fn phyint_disable_wins_and_mrdisc_toggles() {
    let (mut e, t0) = engine(vec![rule(
        "a1",
        Some("192.0.2.1"),
        "225.1.1.1",
        &["a2", "a3"],
    )]);
    let cfg = |a3: Phyint| StaticConfig {
        phyints: vec![a3],
        routes: vec![rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2", "a3"])],
        ..Default::default()
    };
    let disabled = Phyint {
        enable: false,
        ..Phyint::new("a3")
    };
    assert_eq!(
        e.apply_config(t0, &cfg(disabled)).unwrap(),
        vec![
            replace("192.0.2.1", "225.1.1.1", "a1", &[("a2", 1)]),
            Action::RemoveVif {
                family: Family::V4,
                name: "a3".into()
            },
            RELOAD
        ]
    );
    let with_mrdisc = Phyint {
        mrdisc: true,
        ..Phyint::new("a3")
    };
    assert_eq!(
        e.apply_config(t0, &cfg(with_mrdisc.clone())).unwrap(),
        vec![
            Action::AddVif {
                family: Family::V4,
                name: "a3".into(),
                ifindex: 4,
                threshold: 1,
                mrdisc: true
            },
            Action::AddVif {
                family: Family::V6,
                name: "a3".into(),
                ifindex: 4,
                threshold: 1,
                mrdisc: true
            },
            replace("192.0.2.1", "225.1.1.1", "a1", &[("a2", 1), ("a3", 1)]),
            RELOAD
        ]
    );
    assert_eq!(
        e.apply_config(t0, &cfg(Phyint::new("a3"))).unwrap(),
        vec![
            Action::SetMrdisc {
                family: Family::V4,
                name: "a3".into(),
                enable: false
            },
            Action::SetMrdisc {
                family: Family::V6,
                name: "a3".into(),
                enable: false
            },
            RELOAD
        ]
    );
}

// ----- upcalls ----------------------------------------------------------------------------

#[test]
fn upcall_exact_star_g() {
    let (mut e, t0) = engine(vec![rule("a1", None, "225.1.2.3", &["a2"])]);
    assert_eq!(
        e.upcall(t0, "a1", ip("192.0.2.10"), ip("225.1.2.3")),
        vec![
            add("192.0.2.10", "225.1.2.3", "a1", &[("a2", 1)]),
            install("192.0.2.10", "225.1.2.3")
        ]
    );
    // A second upcall queued before the route went in changes nothing.
    assert_eq!(
        e.upcall(t0, "a1", ip("192.0.2.10"), ip("225.1.2.3")),
        vec![]
    );
    assert_eq!(
        e.route(ip("192.0.2.10"), ip("225.1.2.3")).unwrap().kind,
        RouteKind::Learned
    );
}

#[test]
fn upcall_prefix_forms() {
    let (mut e, t0) = engine(vec![
        rule("a1", None, "225.1.2.0/24", &["a2"]),
        rule("a1", Some("192.0.2.0/24"), "225.3.2.1", &["a3"]),
        rule("a1", Some("198.51.100.7"), "225.3.3.0/24", &["a2", "a3"]),
    ]);
    assert_eq!(
        e.upcall(t0, "a1", ip("203.0.113.1"), ip("225.1.2.201")),
        vec![
            add("203.0.113.1", "225.1.2.201", "a1", &[("a2", 1)]),
            install("203.0.113.1", "225.1.2.201")
        ]
    );
    assert_eq!(
        e.upcall(t0, "a1", ip("192.0.2.99"), ip("225.3.2.1"))[0],
        add("192.0.2.99", "225.3.2.1", "a1", &[("a3", 1)])
    );
    // (S/24,G) does not cover another source.
    assert_eq!(
        e.upcall(t0, "a1", ip("198.51.100.1"), ip("225.3.2.1")),
        vec![add("198.51.100.1", "225.3.2.1", "a1", &[])]
    );
    // (S,G/24).
    assert_eq!(
        e.upcall(t0, "a1", ip("198.51.100.7"), ip("225.3.3.1"))[0],
        add("198.51.100.7", "225.3.3.1", "a1", &[("a2", 1), ("a3", 1)])
    );
    // Wrong inbound interface: stop filter on a2.
    assert_eq!(
        e.upcall(t0, "a2", ip("203.0.113.1"), ip("225.1.2.7")),
        vec![add("203.0.113.1", "225.1.2.7", "a2", &[])]
    );
}

#[test]
fn upcall_config_order_decides_between_overlapping_rules() {
    let narrow_first = vec![
        rule("a1", None, "225.1.2.3", &["a2"]),
        rule("a1", None, "225.1.2.0/24", &["a3"]),
    ];
    let (mut e, t0) = engine(narrow_first);
    assert_eq!(
        e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.1.2.3"))[0],
        add("192.0.2.1", "225.1.2.3", "a1", &[("a2", 1)])
    );
    let wide_first = vec![
        rule("a1", None, "225.1.2.0/24", &["a3"]),
        rule("a1", None, "225.1.2.3", &["a2"]),
    ];
    let (mut e, t0) = engine(wide_first);
    assert_eq!(
        e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.1.2.3"))[0],
        add("192.0.2.1", "225.1.2.3", "a1", &[("a3", 1)])
    );
}

#[test]
fn upcall_wildcard_inbound_and_outbound() {
    let (mut e, t0) = engine(vec![
        rule("b1", None, "239.0.0.0/8", &["a+"]),
        rule("a+", None, "225.1.2.3", &["a+", "b1"]),
    ]);
    // `to a+` leaves out the inbound interface...
    assert_eq!(
        e.upcall(t0, "a2", ip("192.0.2.1"), ip("225.1.2.3"))[0],
        add(
            "192.0.2.1",
            "225.1.2.3",
            "a2",
            &[("a1", 1), ("a3", 1), ("b1", 1)]
        )
    );
    assert_eq!(
        e.upcall(t0, "b1", ip("192.0.2.1"), ip("239.1.1.1"))[0],
        add(
            "192.0.2.1",
            "239.1.1.1",
            "b1",
            &[("a1", 1), ("a2", 1), ("a3", 1)]
        )
    );
    // b1 does not match a+.
    assert_eq!(
        e.upcall(t0, "b1", ip("192.0.2.2"), ip("225.1.2.3")),
        vec![add("192.0.2.2", "225.1.2.3", "b1", &[])]
    );
    // ...but an explicitly named one stays (`mroute from a1 ... to a1`).
    let (mut e, t0) = engine(vec![rule("a1", None, "225.9.9.9", &["a1", "a2"])]);
    assert_eq!(
        e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.9.9.9"))[0],
        add("192.0.2.1", "225.9.9.9", "a1", &[("a1", 1), ("a2", 1)])
    );
}

#[test]
fn upcall_ipv6() {
    let (mut e, t0) = engine(vec![
        rule("a1", None, "ff0e::42/121", &["a2"]),
        rule("a1", Some("2001:db8:1::/64"), "ff3e::114", &["a3"]),
    ]);
    assert!(e.has_vif(Family::V6, "a1"));
    assert!(!e.has_vif(Family::V4, "a1"));
    assert_eq!(
        e.upcall(t0, "a1", ip("2001:db8::1"), ip("ff0e::7f")),
        vec![
            add("2001:db8::1", "ff0e::7f", "a1", &[("a2", 1)]),
            install("2001:db8::1", "ff0e::7f")
        ]
    );
    assert_eq!(
        e.upcall(t0, "a1", ip("2001:db8::1"), ip("ff0e::80")),
        vec![add("2001:db8::1", "ff0e::80", "a1", &[])]
    );
    assert_eq!(
        e.upcall(t0, "a1", ip("2001:db8:1::9"), ip("ff3e::114"))[0],
        add("2001:db8:1::9", "ff3e::114", "a1", &[("a3", 1)])
    );
}

#[test]
fn upcall_without_vif_or_with_bad_addresses_is_ignored() {
    let (mut e, t0) = engine(vec![rule("a1", None, "225.1.2.3", &["a2"])]);
    assert_eq!(e.upcall(t0, "b1", ip("192.0.2.1"), ip("225.1.2.3")), vec![]);
    assert_eq!(
        e.upcall(t0, "a1", ip("2001:db8::1"), ip("225.1.2.3")),
        vec![]
    );
    assert_eq!(e.upcall(t0, "a1", ip("192.0.2.1"), ip("192.0.2.2")), vec![]);
    assert!(e.kernel_routes().is_empty());
}

#[test]
fn wrong_vif_moves_a_learned_route() {
    let (mut e, t0) = engine(vec![
        rule("a1", None, "225.1.2.3", &["a3"]),
        rule("a2", None, "225.1.2.3", &["a3"]),
        rule("a1", Some("192.0.2.9"), "225.1.2.9", &["a3"]),
    ]);
    e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.1.2.3"));
    assert_eq!(
        e.wrong_vif(t0, "a2", ip("192.0.2.1"), ip("225.1.2.3")),
        vec![
            replace("192.0.2.1", "225.1.2.3", "a2", &[("a3", 1)]),
            install("192.0.2.1", "225.1.2.3")
        ]
    );
    // An (S,G) rule's route is not moved.
    assert_eq!(
        e.wrong_vif(t0, "a2", ip("192.0.2.9"), ip("225.1.2.9")),
        vec![]
    );
}

// ----- reload diffs -----------------------------------------------------------------------

pub(crate) fn cfg(routes: Vec<RouteRule>) -> StaticConfig {
    StaticConfig {
        routes,
        ..Default::default()
    }
}

#[test]
fn reload_unchanged_touches_nothing() {
    let routes = vec![
        rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2"]),
        rule("a1", None, "225.2.0.0/16", &["a3"]),
    ];
    let (mut e, t0) = engine(routes.clone());
    e.upcall(t0, "a1", ip("192.0.2.5"), ip("225.2.3.4"));
    e.upcall(t0, "a1", ip("192.0.2.5"), ip("239.2.3.4"));
    assert_eq!(e.apply_config(t0, &cfg(routes)).unwrap(), vec![RELOAD]);
    assert_eq!(e.kernel_routes().len(), 3);
}

#[test]
fn reload_changed_removed_and_new_sg_routes() {
    let (mut e, t0) = engine(vec![
        rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2"]),
        rule("a1", Some("192.0.2.2"), "225.1.1.2", &["a2"]),
        rule("a1", Some("192.0.2.3"), "225.1.1.3", &["a2"]),
    ]);
    let actions = e
        .apply_config(
            t0,
            &cfg(vec![
                rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2"]),
                rule("a1", Some("192.0.2.2"), "225.1.1.2", &["a2", "a3"]),
                rule("a1", Some("192.0.2.4"), "225.1.1.4", &["a2"]),
            ]),
        )
        .unwrap();
    assert_eq!(
        actions,
        vec![
            add_vif(Family::V4, "a3", 4, 1),
            replace("192.0.2.2", "225.1.1.2", "a1", &[("a2", 1), ("a3", 1)]),
            remove("192.0.2.3", "225.1.1.3", "a1"),
            add("192.0.2.4", "225.1.1.4", "a1", &[("a2", 1)]),
            RELOAD
        ]
    );
    // The inbound interface of an (S,G) changes in place.
    assert_eq!(
        e.apply_config(
            t0,
            &cfg(vec![
                rule("a2", Some("192.0.2.1"), "225.1.1.1", &["a1"]),
                rule("a1", Some("192.0.2.2"), "225.1.1.2", &["a2", "a3"]),
                rule("a1", Some("192.0.2.4"), "225.1.1.4", &["a2"]),
            ])
        )
        .unwrap(),
        vec![
            replace("192.0.2.1", "225.1.1.1", "a2", &[("a1", 1)]),
            RELOAD
        ]
    );
}

#[test]
fn reload_ttl_threshold_reaches_mfc_entries_without_vif_churn() {
    let routes = vec![rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2", "a3"])];
    let (mut e, t0) = engine(routes.clone());
    let actions = e
        .apply_config(
            t0,
            &StaticConfig {
                phyints: vec![
                    Phyint {
                        ttl_threshold: 5,
                        ..Phyint::new("a+")
                    },
                    Phyint {
                        ttl_threshold: 2,
                        ..Phyint::new("a2")
                    },
                ],
                routes,
                ..Default::default()
            },
        )
        .unwrap();
    // The phyint enables a1..a3 (MIFs too); VIFs already there keep their kernel threshold.
    assert_eq!(
        actions,
        vec![
            add_vif(Family::V6, "a1", 2, 5),
            add_vif(Family::V6, "a2", 3, 2),
            add_vif(Family::V6, "a3", 4, 5),
            replace("192.0.2.1", "225.1.1.1", "a1", &[("a2", 2), ("a3", 5)]),
            RELOAD
        ]
    );
}

#[test]
fn reload_removed_template_removes_its_routes_unless_a_wider_one_covers_them() {
    let (mut e, t0) = engine(vec![
        rule("a1", None, "225.1.2.3", &["a2"]),
        rule("a1", None, "225.1.2.0/24", &["a2"]),
        rule("a1", None, "225.9.9.9", &["a3"]),
        rule("a1", None, "225.7.7.7", &["a3"]),
    ]);
    e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.1.2.3"));
    e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.9.9.9"));
    e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.7.7.7"));
    let actions = e
        .apply_config(
            t0,
            &cfg(vec![
                rule("a1", None, "225.1.2.0/24", &["a2"]),
                rule("a1", None, "225.7.7.0/24", &["a2"]),
            ]),
        )
        .unwrap();
    assert_eq!(
        actions,
        vec![
            // 225.1.2.3 stays untouched: the /24 gives the same OIFs (smcroute would drop it).
            // 225.7.7.7 follows the new covering rule.
            replace("192.0.2.1", "225.7.7.7", "a1", &[("a2", 1)]),
            // 225.9.9.9 lost its only template.
            remove("192.0.2.1", "225.9.9.9", "a1"),
            Action::RemoveVif {
                family: Family::V4,
                name: "a3".into()
            },
            RELOAD
        ]
    );
    assert_eq!(
        e.route(ip("192.0.2.1"), ip("225.1.2.3")).unwrap().route,
        route("192.0.2.1", "225.1.2.3", "a1", &[("a2", 1)])
    );
}

#[test]
fn new_template_turns_stop_filters_into_routes() {
    let (mut e, t0) = engine(vec![rule("a1", Some("192.0.2.1"), "225.1.2.3", &["a2"])]);
    for g in ["225.1.2.1", "225.1.2.6", "225.1.2.9"] {
        assert_eq!(
            e.upcall(t0, "a1", ip("192.0.2.1"), ip(g)),
            vec![add("192.0.2.1", g, "a1", &[])]
        );
    }
    // smcroutectl add a1 225.1.2.3/29 a2 (covers .0 to .7).
    assert_eq!(
        e.add_route(t0, rule("a1", None, "225.1.2.3/29", &["a2"]))
            .unwrap(),
        vec![
            replace("192.0.2.1", "225.1.2.1", "a1", &[("a2", 1)]),
            replace("192.0.2.1", "225.1.2.6", "a1", &[("a2", 1)]),
        ]
    );
    assert_eq!(
        e.route(ip("192.0.2.1"), ip("225.1.2.6")).unwrap().kind,
        RouteKind::Learned
    );
    // smcroutectl del a1 225.1.2.3/29: the learned routes go, the (S,G) and the remaining
    // stop filter stay.
    assert_eq!(
        e.remove_route(t0, &rule("a1", None, "225.1.2.3/29", &[]))
            .unwrap(),
        vec![
            remove("192.0.2.1", "225.1.2.1", "a1"),
            remove("192.0.2.1", "225.1.2.6", "a1"),
        ]
    );
    let kernel: Vec<(IpAddr, bool)> = e
        .kernel_routes()
        .iter()
        .map(|r| (r.route.group, r.route.is_stop_filter()))
        .collect();
    assert_eq!(
        kernel,
        vec![(ip("225.1.2.3"), false), (ip("225.1.2.9"), true)]
    );
}

#[test]
fn bad_reload_changes_nothing() {
    let routes = vec![rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2"])];
    let (mut e, t0) = engine(routes);
    let before = e.kernel_routes();
    let errs = e
        .apply_config(
            t0,
            &cfg(vec![
                rule("a1", None, "192.0.2.0/24", &["a2"]),
                rule("a1", Some("192.0.2.1"), "ff0e::1", &["a2"]),
            ]),
        )
        .unwrap_err();
    assert_eq!(
        errs.iter().map(|e| e.item).collect::<Vec<_>>(),
        vec![ConfigItem::Route(0), ConfigItem::Route(1)]
    );
    assert_eq!(e.kernel_routes(), before);
    assert_eq!(e.sg_rules().count(), 1);
}

#[test]
fn same_sg_on_two_inbound_interfaces_first_rule_wins() {
    let (mut e, t0) = engine(vec![
        rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a3"]),
        rule("a2", Some("192.0.2.1"), "225.1.1.1", &["a3"]),
    ]);
    assert_eq!(
        e.route(ip("192.0.2.1"), ip("225.1.1.1")).unwrap().route.iif,
        "a1"
    );
    assert_eq!(
        e.remove_route(t0, &rule("a1", Some("192.0.2.1"), "225.1.1.1", &[]))
            .unwrap(),
        vec![
            replace("192.0.2.1", "225.1.1.1", "a2", &[("a3", 1)]),
            // No rule names a1 any more: its VIF is released.
            Action::RemoveVif {
                family: Family::V4,
                name: "a1".into()
            }
        ]
    );
}

// ----- flush ------------------------------------------------------------------------------

#[test]
fn flush_timer_removes_idle_dynamic_routes_only() {
    let (mut e, t0) = engine(vec![
        rule("a1", None, "225.1.0.0/16", &["a2"]),
        rule("a1", Some("192.0.2.1"), "225.9.9.9", &["a2"]),
    ]);
    assert_eq!(e.poll_timeout(), None);
    let t1 = t0 + Duration::from_secs(1);
    e.upcall(t1, "a1", ip("192.0.2.1"), ip("225.1.1.1")); // busy
    e.upcall(t1, "a1", ip("192.0.2.1"), ip("225.1.1.2")); // idle
    e.upcall(t1, "a1", ip("192.0.2.1"), ip("239.1.1.1")); // stop filter, idle
    let deadline = t1 + Duration::from_secs(60);
    assert_eq!(e.poll_timeout(), Some(deadline));
    let mut busy = 0u64;
    let counters = |busy: u64| {
        move |_s: IpAddr, g: IpAddr| -> Option<RouteCounters> {
            let packets = if g == ip("225.1.1.1") { busy } else { 3 };
            Some(RouteCounters {
                packets,
                bytes: packets * 100,
                wrong_if: 0,
            })
        }
    };
    // Too early: nothing.
    assert_eq!(
        e.timeout(deadline - Duration::from_millis(1), counters(busy)),
        vec![]
    );
    // First pass: every counter moved since install (0 -> n): all kept.
    busy += 10;
    assert_eq!(e.timeout(deadline, counters(busy)), vec![]);
    assert_eq!(e.poll_timeout(), Some(deadline + Duration::from_secs(60)));
    // Second pass: only 225.1.1.1 moved.
    busy += 10;
    assert_eq!(
        e.timeout(deadline + Duration::from_secs(60), counters(busy)),
        vec![
            remove("192.0.2.1", "225.1.1.2", "a1"),
            remove("192.0.2.1", "239.1.1.1", "a1"),
        ]
    );
    // Counters that cannot be read: the route is gone from the kernel.
    assert_eq!(
        e.timeout(deadline + Duration::from_secs(120), |_, _| None),
        vec![remove("192.0.2.1", "225.1.1.1", "a1")]
    );
    assert_eq!(e.poll_timeout(), None);
    // The (S,G) rule's route stays.
    assert_eq!(e.kernel_routes().len(), 1);
}

#[test]
fn flush_counts_only_valid_packets_and_can_be_disabled() {
    let (mut e, t0) = engine(vec![rule("a1", None, "225.1.0.0/16", &["a2"])]);
    e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.1.1.1"));
    // Packets that arrived on the wrong interface do not keep a route alive.
    let wrong = |_: IpAddr, _: IpAddr| {
        Some(RouteCounters {
            packets: 7,
            bytes: 700,
            wrong_if: 7,
        })
    };
    let t = t0 + Duration::from_secs(60);
    assert_eq!(
        e.timeout(t, wrong),
        vec![remove("192.0.2.1", "225.1.1.1", "a1")]
    );

    let mut e = StaticEngine::new(EngineOptions {
        flush_interval: None,
        ..EngineOptions::default()
    });
    e.set_interfaces(t0, &ifaces(&["a1", "a2"]));
    e.apply_config(t0, &cfg(vec![rule("a1", None, "225.1.0.0/16", &["a2"])]))
        .unwrap();
    e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.1.1.1"));
    assert_eq!(e.poll_timeout(), None);
    assert_eq!(
        e.timeout(t0 + Duration::from_secs(3600), |_, _| None),
        vec![]
    );
}

#[test]
fn manual_flush_removes_every_dynamic_route_at_once() {
    let (mut e, t0) = engine(vec![
        rule("a1", None, "225.1.0.0/16", &["a2"]),
        rule("a1", Some("192.0.2.1"), "225.9.9.9", &["a2"]),
    ]);
    e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.1.1.1"));
    e.upcall(t0, "a1", ip("192.0.2.1"), ip("239.1.1.1"));
    assert_eq!(
        e.flush(),
        vec![
            remove("192.0.2.1", "225.1.1.1", "a1"),
            remove("192.0.2.1", "239.1.1.1", "a1"),
        ]
    );
    assert_eq!(e.flush(), vec![]);
    assert_eq!(e.poll_timeout(), None);
    assert_eq!(e.kernel_routes().len(), 1);
    // The flow is relearned on its next upcall.
    assert_eq!(
        e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.1.1.1"))[0],
        add("192.0.2.1", "225.1.1.1", "a1", &[("a2", 1)])
    );
}

// ----- interfaces that come and go --------------------------------------------------------

#[test]
fn pending_routes_activate_when_the_interface_appears() {
    let mut e = StaticEngine::new(EngineOptions::default());
    let t0 = Instant::now();
    e.set_interfaces(t0, &ifaces(&["a2"]));
    let config = StaticConfig {
        routes: vec![
            rule("wg0", None, "239.5.5.5", &["a2"]),
            rule("a2", Some("192.0.2.1"), "239.6.6.6", &["wg1", "a3"]),
        ],
        joins: vec![JoinRule::new("wg0", None, net("239.5.5.5"))],
        ..Default::default()
    };
    assert_eq!(
        e.apply_config(t0, &config).unwrap(),
        vec![
            add_vif(Family::V4, "a2", 2, 1),
            add("192.0.2.1", "239.6.6.6", "a2", &[]),
            RELOAD
        ]
    );
    assert_eq!(
        e.pending(),
        vec![
            Pending::Route {
                rule: config.routes[0].clone(),
                missing: vec![IfPattern::new("wg0")]
            },
            Pending::Route {
                rule: config.routes[1].clone(),
                missing: vec![IfPattern::new("wg1"), IfPattern::new("a3")]
            },
            Pending::Join(config.joins[0].clone()),
        ]
    );
    let mut now_ifaces = ifaces(&["a2"]);
    now_ifaces.push(iface(7, "wg0"));
    now_ifaces.push(iface(8, "a3"));
    assert_eq!(
        e.set_interfaces(t0, &now_ifaces),
        vec![
            add_vif(Family::V4, "a3", 8, 1),
            add_vif(Family::V4, "wg0", 7, 1),
            replace("192.0.2.1", "239.6.6.6", "a2", &[("a3", 1)]),
            join("wg0", None, "239.5.5.5"),
        ]
    );
    // wg0's (*,G) is live now.
    assert_eq!(
        e.upcall(t0, "wg0", ip("192.0.2.1"), ip("239.5.5.5"))[0],
        add("192.0.2.1", "239.5.5.5", "wg0", &[("a2", 1)])
    );
    assert_eq!(
        e.pending(),
        vec![Pending::Route {
            rule: config.routes[1].clone(),
            missing: vec![IfPattern::new("wg1")]
        }]
    );
}

#[test]
fn interface_removed_and_recreated() {
    let (mut e, t0) = engine(vec![
        rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2"]),
        rule("a3", Some("192.0.2.3"), "225.1.1.3", &["a1"]),
    ]);
    // a1 goes: its route goes, the other loses it as an OIF, then its VIF goes.
    assert_eq!(
        e.set_interfaces(t0, &[iface(3, "a2"), iface(4, "a3"), iface(5, "b1")]),
        vec![
            remove("192.0.2.1", "225.1.1.1", "a1"),
            replace("192.0.2.3", "225.1.1.3", "a3", &[]),
            Action::RemoveVif {
                family: Family::V4,
                name: "a1".into()
            },
        ]
    );
    // It comes back with a new index: everything returns.
    let back = [
        iface(3, "a2"),
        iface(4, "a3"),
        iface(5, "b1"),
        iface(9, "a1"),
    ];
    assert_eq!(
        e.set_interfaces(t0, &back),
        vec![
            add_vif(Family::V4, "a1", 9, 1),
            add("192.0.2.1", "225.1.1.1", "a1", &[("a2", 1)]),
            replace("192.0.2.3", "225.1.1.3", "a3", &[("a1", 1)]),
        ]
    );
    // Deleted and recreated between two scans: the VIF is made again and the routes that
    // use it are installed again.
    let again = [
        iface(3, "a2"),
        iface(4, "a3"),
        iface(5, "b1"),
        iface(10, "a1"),
    ];
    assert_eq!(
        e.set_interfaces(t0, &again),
        vec![
            Action::RemoveVif {
                family: Family::V4,
                name: "a1".into()
            },
            add_vif(Family::V4, "a1", 10, 1),
            add("192.0.2.1", "225.1.1.1", "a1", &[("a2", 1)]),
            add("192.0.2.3", "225.1.1.3", "a3", &[("a1", 1)]),
        ]
    );
}

// ----- smcroutectl ------------------------------------------------------------------------

#[test]
fn ctl_add_merges_and_remove_prunes() {
    let (mut e, t0) = engine(vec![rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2"])]);
    assert_eq!(
        e.add_route(t0, rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a3"]))
            .unwrap(),
        vec![
            add_vif(Family::V4, "a3", 4, 1),
            replace("192.0.2.1", "225.1.1.1", "a1", &[("a2", 1), ("a3", 1)])
        ]
    );
    assert_eq!(
        e.sg_rules().next().unwrap().rule.oifs,
        vec![IfPattern::new("a2"), IfPattern::new("a3")]
    );
    // Adding what is there already changes nothing.
    assert_eq!(
        e.add_route(t0, rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2"]))
            .unwrap(),
        vec![]
    );
    // Remove one OIF, then the last: the rule stays as a stop filter.
    assert_eq!(
        e.remove_route(t0, &rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2"]))
            .unwrap(),
        vec![
            replace("192.0.2.1", "225.1.1.1", "a1", &[("a3", 1)]),
            Action::RemoveVif {
                family: Family::V4,
                name: "a2".into()
            }
        ]
    );
    assert_eq!(
        e.remove_route(t0, &rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a3"]))
            .unwrap(),
        vec![
            replace("192.0.2.1", "225.1.1.1", "a1", &[]),
            Action::RemoveVif {
                family: Family::V4,
                name: "a3".into()
            }
        ]
    );
    assert_eq!(e.sg_rules().count(), 1);
    // Without OIFs: the rule and its route go.
    assert_eq!(
        e.remove_route(t0, &rule("a1", Some("192.0.2.1"), "225.1.1.1", &[]))
            .unwrap(),
        vec![
            remove("192.0.2.1", "225.1.1.1", "a1"),
            Action::RemoveVif {
                family: Family::V4,
                name: "a1".into()
            }
        ]
    );
    assert_eq!(
        e.remove_route(t0, &rule("a1", Some("192.0.2.1"), "225.1.1.1", &[])),
        Err(EngineError::NoSuchRoute(
            "mroute from a1 source 192.0.2.1 group 225.1.1.1".into()
        ))
    );
}

#[test]
fn ctl_add_errors_and_runtime_rules_vanish_on_reload() {
    let routes = vec![rule("a1", None, "225.1.0.0/16", &["a2"])];
    let (mut e, t0) = engine(routes.clone());
    assert_eq!(
        e.add_route(t0, rule("nope0", None, "225.9.9.9", &["a2"])),
        Err(EngineError::UnknownInterface("nope0".into()))
    );
    assert_eq!(
        e.add_route(t0, rule("a1", None, "192.0.2.1", &["a2"])),
        Err(EngineError::Invalid(RuleError::NotMulticast(net(
            "192.0.2.1"
        ))))
    );
    // An OIF that does not exist is a typo, refused with nothing installed (issue 16: it
    // used to become a stop filter)...
    assert_eq!(
        e.add_route(
            t0,
            rule("a1", Some("192.0.2.1"), "225.9.9.9", &["a2", "nope0"])
        ),
        Err(EngineError::UnknownInterface("nope0".into()))
    );
    assert_eq!(e.sg_rules().count(), 0);
    assert_eq!(
        EngineError::UnknownInterface("nope0".into()).to_string(),
        "unknown interface nope0"
    );
    // ...while a wildcard OIF matching nothing yet waits for its interfaces.
    assert_eq!(
        e.add_route(
            t0,
            rule("a1", Some("192.0.2.1"), "225.9.9.9", &["a2", "wg+"])
        )
        .unwrap(),
        vec![add("192.0.2.1", "225.9.9.9", "a1", &[("a2", 1)])]
    );
    assert_eq!(e.sg_rules().next().unwrap().origin, Origin::Runtime);
    assert_eq!(
        e.apply_config(t0, &cfg(routes)).unwrap(),
        vec![remove("192.0.2.1", "225.9.9.9", "a1"), RELOAD]
    );
}

#[test]
fn ctl_remove_template_oifs_updates_learned_routes() {
    let (mut e, t0) = engine(vec![rule("a1", None, "225.1.0.0/16", &["a2", "a3"])]);
    e.upcall(t0, "a1", ip("192.0.2.1"), ip("225.1.1.1"));
    assert_eq!(
        e.remove_route(t0, &rule("a1", None, "225.1.0.0/16", &["a3"]))
            .unwrap(),
        vec![
            replace("192.0.2.1", "225.1.1.1", "a1", &[("a2", 1)]),
            Action::RemoveVif {
                family: Family::V4,
                name: "a3".into()
            }
        ]
    );
}

// ----- joins ------------------------------------------------------------------------------

#[test]
fn joins_expand_ranges_and_reload_as_a_diff() {
    let mut e = StaticEngine::new(EngineOptions::default());
    let t0 = Instant::now();
    e.set_interfaces(t0, &ifaces(&["a1", "a2"]));
    let j1 = JoinRule::new("a1", None, net("225.1.2.250/30"));
    let j2 = JoinRule::new("a+", Some(net("192.0.2.1/31")), net("232.1.1.0/31"));
    let config = StaticConfig {
        joins: vec![j1.clone(), j2.clone()],
        ..Default::default()
    };
    assert_eq!(
        e.apply_config(t0, &config).unwrap(),
        vec![
            join("a1", None, "225.1.2.248"),
            join("a1", None, "225.1.2.249"),
            join("a1", None, "225.1.2.250"),
            join("a1", None, "225.1.2.251"),
            join("a1", Some("192.0.2.0"), "232.1.1.0"),
            join("a1", Some("192.0.2.0"), "232.1.1.1"),
            join("a1", Some("192.0.2.1"), "232.1.1.0"),
            join("a1", Some("192.0.2.1"), "232.1.1.1"),
            join("a2", Some("192.0.2.0"), "232.1.1.0"),
            join("a2", Some("192.0.2.0"), "232.1.1.1"),
            join("a2", Some("192.0.2.1"), "232.1.1.0"),
            join("a2", Some("192.0.2.1"), "232.1.1.1"),
            RELOAD
        ]
    );
    assert_eq!(e.memberships().len(), 12);
    // Unchanged: nothing. Narrowed: only the difference.
    assert_eq!(e.apply_config(t0, &config).unwrap(), vec![RELOAD]);
    let narrowed = StaticConfig {
        joins: vec![JoinRule::new("a1", None, net("225.1.2.250/31")), j2],
        ..Default::default()
    };
    assert_eq!(
        e.apply_config(t0, &narrowed).unwrap(),
        vec![
            leave("a1", None, "225.1.2.248"),
            leave("a1", None, "225.1.2.249"),
            RELOAD
        ]
    );
}

#[test]
fn ctl_join_and_leave() {
    let mut e = StaticEngine::new(EngineOptions::default());
    let t0 = Instant::now();
    e.set_interfaces(t0, &ifaces(&["a1", "a2"]));
    let j = JoinRule::new("a1", Some(net("2001:db8::1/127")), net("ff3e::42"));
    assert_eq!(
        e.join(j.clone()).unwrap(),
        vec![
            join("a1", Some("2001:db8::"), "ff3e::42"),
            join("a1", Some("2001:db8::1"), "ff3e::42"),
        ]
    );
    assert_eq!(
        e.join(j.clone()),
        Err(EngineError::AlreadyJoined(
            "(2001:db8::/127, ff3e::42) on a1".into()
        ))
    );
    // An overlapping join shares the membership: no second kernel join, and leaving one
    // keeps it.
    let single = JoinRule::new("a1", Some(net("2001:db8::1")), net("ff3e::42"));
    assert_eq!(e.join(single.clone()).unwrap(), vec![]);
    assert_eq!(
        e.leave(&j).unwrap(),
        vec![leave("a1", Some("2001:db8::"), "ff3e::42")]
    );
    assert_eq!(
        e.leave(&j),
        Err(EngineError::NotJoined(
            "(2001:db8::/127, ff3e::42) on a1".into()
        ))
    );
    assert_eq!(
        e.leave(&single).unwrap(),
        vec![leave("a1", Some("2001:db8::1"), "ff3e::42")]
    );
    assert_eq!(
        e.join(JoinRule::new("nope0", None, net("225.1.1.1"))),
        Err(EngineError::UnknownInterface("nope0".into()))
    );
    assert!(matches!(
        e.join(JoinRule::new("a1", None, net("225.0.0.0/8"))),
        Err(EngineError::Invalid(RuleError::JoinRangeTooLarge {
            count: Some(16_777_216),
            limit: DEFAULT_JOIN_EXPANSION_LIMIT
        }))
    ));
    assert!(e.memberships().is_empty());
    // Run-time joins are left by a reload.
    e.join(JoinRule::new("a2", None, net("225.6.6.6"))).unwrap();
    assert_eq!(
        e.apply_config(t0, &StaticConfig::default()).unwrap(),
        vec![leave("a2", None, "225.6.6.6"), RELOAD]
    );
}

#[test]
fn disabled_family_is_a_config_error() {
    let mut e = StaticEngine::new(EngineOptions {
        ipv6: false,
        ..EngineOptions::default()
    });
    let t0 = Instant::now();
    e.set_interfaces(t0, &ifaces(&["a1", "a2"]));
    assert_eq!(
        e.apply_config(t0, &cfg(vec![rule("a1", None, "ff0e::1", &["a2"])])),
        Err(vec![ConfigError {
            item: ConfigItem::Route(0),
            error: RuleError::FamilyDisabled(Family::V6)
        }])
    );
    assert_eq!(
        e.add_route(t0, rule("a1", None, "ff0e::1", &["a2"])),
        Err(EngineError::Invalid(RuleError::FamilyDisabled(Family::V6)))
    );
    assert!(e.vifs().is_empty());
}

// ----- show -------------------------------------------------------------------------------

#[test]
fn kernel_routes_list_active_routes_before_stop_filters() {
    let (mut e, t0) = engine(vec![
        rule("a1", Some("192.0.2.10"), "225.3.2.1", &["a2"]),
        rule("a1", None, "225.1.2.0/24", &["a2"]),
        rule("a1", None, "ff0e::42", &["a2"]),
    ]);
    e.upcall(t0, "a1", ip("192.0.2.10"), ip("225.9.9.9"));
    e.upcall(t0, "a1", ip("192.0.2.10"), ip("225.1.2.77"));
    e.upcall(t0, "a1", ip("2001:db8::10"), ip("ff0e::42"));
    let rows: Vec<String> = e
        .kernel_routes()
        .iter()
        .map(|r| r.route.to_string())
        .collect();
    assert_eq!(
        rows,
        vec![
            "(192.0.2.10, 225.1.2.77) from a1 to a2",
            "(192.0.2.10, 225.3.2.1) from a1 to a2",
            "(2001:db8::10, ff0e::42) from a1 to a2",
            "(192.0.2.10, 225.9.9.9) from a1 to nothing (stop filter)",
        ]
    );
    assert_eq!(
        e.template_rules()
            .map(|r| r.rule.to_string())
            .collect::<Vec<_>>(),
        vec![
            "mroute from a1 group 225.1.2.0/24 to a2",
            "mroute from a1 group ff0e::42 to a2"
        ]
    );
    assert_eq!(
        e.vifs()
            .iter()
            .map(|v| (v.family, v.name.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (Family::V4, "a1"),
            (Family::V4, "a2"),
            (Family::V6, "a1"),
            (Family::V6, "a2")
        ]
    );
}

// ----- property test against a naive model ------------------------------------------------

mod model {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    const NAMES: [&str; 3] = ["a1", "a2", "a3"];
    type Key = (IpAddr, IpAddr);

    #[derive(Debug, Clone)]
    enum Op {
        Add(RouteRule),
        Remove(RouteRule),
        Reload(Vec<RouteRule>),
        Upcall(&'static str, IpAddr, IpAddr),
        Flush,
    }

    /// The semantics, written as plainly as possible: linear scans, recomputed from scratch.
    #[derive(Default)]
    struct Model {
        rules: Vec<RouteRule>,
        /// Learned routes and stop filters: inbound interface, and whether a template matched.
        dynamic: BTreeMap<Key, (String, bool)>,
    }

    fn same_rule(a: &RouteRule, b: &RouteRule) -> bool {
        a.iif == b.iif && a.source == b.source && a.group == b.group
    }

    impl Model {
        fn has_vif(&self, name: &str) -> bool {
            NAMES.contains(&name)
                && self
                    .rules
                    .iter()
                    .any(|r| r.iif.matches(name) || r.oifs.iter().any(|o| o.matches(name)))
        }

        fn insert(&mut self, r: RouteRule) {
            match self.rules.iter_mut().find(|x| same_rule(x, &r)) {
                Some(x) => {
                    for o in r.oifs {
                        if !x.oifs.contains(&o) {
                            x.oifs.push(o);
                        }
                    }
                }
                None => self.rules.push(r),
            }
        }

        fn remove(&mut self, r: &RouteRule) -> bool {
            let Some(pos) = self.rules.iter().position(|x| same_rule(x, r)) else {
                return false;
            };
            if r.oifs.is_empty() {
                self.rules.remove(pos);
            } else {
                self.rules[pos].oifs.retain(|o| !r.oifs.contains(o));
            }
            true
        }

        fn build(&self, r: &RouteRule, iif: &str, s: IpAddr, g: IpAddr) -> Route {
            let mut oifs = Vec::new();
            for p in &r.oifs {
                for n in NAMES {
                    let explicit = matches!(p, IfPattern::Name(x) if x == n);
                    if p.matches(n) && self.has_vif(n) && (explicit || n != iif) {
                        oifs.push((n.to_string(), 1));
                    }
                }
            }
            oifs.sort();
            oifs.dedup();
            Route {
                source: s,
                group: g,
                iif: iif.to_string(),
                oifs,
            }
        }

        fn static_routes(&self) -> BTreeMap<Key, Route> {
            let mut out = BTreeMap::new();
            for r in self.rules.iter().filter(|r| r.is_sg()) {
                let key = (r.source.unwrap().addr(), r.group.addr());
                if out.contains_key(&key) {
                    continue;
                }
                if let Some(iif) = NAMES.iter().find(|n| r.iif.matches(n) && self.has_vif(n)) {
                    out.insert(key, self.build(r, iif, key.0, key.1));
                }
            }
            out
        }

        fn template(&self, iif: &str, s: IpAddr, g: IpAddr) -> Option<&RouteRule> {
            self.rules.iter().find(|r| {
                !r.is_sg()
                    && r.iif.matches(iif)
                    && r.group.contains(&g)
                    && r.source.is_none_or(|n| n.contains(&s))
            })
        }

        fn settle(&mut self) {
            let st = self.static_routes();
            let mut dynamic = std::mem::take(&mut self.dynamic);
            dynamic.retain(|k, (iif, learned)| {
                if st.contains_key(k) || !self.has_vif(iif) {
                    return false;
                }
                if self.template(iif, k.0, k.1).is_some() {
                    *learned = true;
                    true
                } else {
                    !*learned
                }
            });
            self.dynamic = dynamic;
        }

        fn upcall(&mut self, iif: &str, s: IpAddr, g: IpAddr) {
            if !self.has_vif(iif) || self.static_routes().contains_key(&(s, g)) {
                return;
            }
            if self.dynamic.get(&(s, g)).is_some_and(|(i, _)| i == iif) {
                return;
            }
            let learned = self.template(iif, s, g).is_some();
            self.dynamic.insert((s, g), (iif.to_string(), learned));
        }

        fn installed(&self) -> BTreeMap<Key, Route> {
            let mut out = self.static_routes();
            for (k, (iif, learned)) in &self.dynamic {
                let r = match (learned, self.template(iif, k.0, k.1)) {
                    (true, Some(t)) => self.build(t, iif, k.0, k.1),
                    _ => Route {
                        source: k.0,
                        group: k.1,
                        iif: iif.clone(),
                        oifs: vec![],
                    },
                };
                out.insert(*k, r);
            }
            out
        }
    }

    /// Replays actions strictly: a route may only use VIFs that exist, Add only for a new
    /// (S,G), Replace and Remove only for an installed one.
    #[derive(Default)]
    struct Mirror {
        vifs: BTreeSet<(Family, String)>,
        routes: BTreeMap<Key, Route>,
    }

    impl Mirror {
        fn apply(&mut self, actions: &[Action]) -> Result<(), String> {
            for a in actions {
                match a {
                    Action::AddVif { family, name, .. } => {
                        let fresh = self.vifs.insert((*family, name.clone()));
                        if !fresh {
                            return Err(format!("{a}: VIF exists"));
                        }
                    }
                    Action::RemoveVif { family, name } => {
                        if self
                            .routes
                            .values()
                            .any(|r| r.family() == *family && r.iif == *name)
                        {
                            return Err(format!("{a}: a route still comes in on it"));
                        }
                        for r in self.routes.values_mut() {
                            if r.family() == *family {
                                r.oifs.retain(|(o, _)| o != name);
                            }
                        }
                        if !self.vifs.remove(&(*family, name.clone())) {
                            return Err(format!("{a}: no such VIF"));
                        }
                    }
                    Action::AddRoute(r) | Action::ReplaceRoute(r) => {
                        let f = r.family();
                        if !r
                            .oifs
                            .iter()
                            .map(|(n, _)| n)
                            .chain([&r.iif])
                            .all(|n| self.vifs.contains(&(f, n.clone())))
                        {
                            return Err(format!("{a}: uses an interface without VIF"));
                        }
                        let exists = self.routes.contains_key(&(r.source, r.group));
                        if exists != matches!(a, Action::ReplaceRoute(_)) {
                            return Err(format!("{a}: installed = {exists}"));
                        }
                        self.routes.insert((r.source, r.group), r.clone());
                    }
                    Action::RemoveRoute { source, group, .. } => {
                        let gone = self.routes.remove(&(*source, *group));
                        if gone.is_none() {
                            return Err(format!("{a}: not installed"));
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
    }

    fn rule_strategy() -> impl Strategy<Value = RouteRule> {
        (
            prop::sample::select(vec!["a1", "a2", "a+"]),
            prop::sample::select(vec![
                None,
                Some("192.0.2.1"),
                Some("192.0.2.0/30"),
                Some("192.0.2.2"),
            ]),
            prop::sample::select(vec![
                "225.1.1.1",
                "225.1.1.0/30",
                "225.1.1.2",
                "225.1.0.0/16",
            ]),
            prop::sample::subsequence(vec!["a1", "a2", "a3", "a+"], 0..=3),
        )
            .prop_map(|(iif, s, g, oifs)| rule(iif, s, g, &oifs))
    }

    fn op_strategy() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => rule_strategy().prop_map(Op::Add),
            2 => rule_strategy().prop_map(Op::Remove),
            1 => prop::collection::vec(rule_strategy(), 0..5).prop_map(Op::Reload),
            4 => (
                prop::sample::select(NAMES.to_vec()),
                prop::sample::select(vec!["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
                prop::sample::select(vec!["225.1.1.1", "225.1.1.2", "225.1.1.3"]),
            )
                .prop_map(|(i, s, g)| Op::Upcall(i, ip(s), ip(g))),
            1 => Just(Op::Flush),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn engine_matches_model(ops in prop::collection::vec(op_strategy(), 1..40)) {
            let t0 = Instant::now();
            let mut e = StaticEngine::new(EngineOptions { ipv6: false, ..Default::default() });
            let mut m = Model::default();
            let mut mirror = Mirror::default();
            let actions = e.set_interfaces(t0, &ifaces(&NAMES));
            mirror.apply(&actions).map_err(TestCaseError::fail)?;
            for op in ops {
                let actions = match &op {
                    Op::Add(r) => {
                        m.insert(r.normalized());
                        e.add_route(t0, r.clone()).unwrap()
                    }
                    Op::Remove(r) => {
                        let known = m.remove(&r.normalized());
                        let res = e.remove_route(t0, r);
                        prop_assert_eq!(res.is_ok(), known, "remove {}", r);
                        res.unwrap_or_default()
                    }
                    Op::Reload(rules) => {
                        m.rules.clear();
                        for r in rules {
                            m.insert(r.normalized());
                        }
                        e.apply_config(t0, &cfg(rules.clone())).unwrap()
                    }
                    Op::Upcall(iif, s, g) => {
                        m.upcall(iif, *s, *g);
                        e.upcall(t0, iif, *s, *g)
                    }
                    Op::Flush => {
                        m.dynamic.clear();
                        e.flush()
                    }
                };
                m.settle();
                mirror.apply(&actions).map_err(|err| TestCaseError::fail(format!("{op:?}: {err}")))?;
                let engine_view: BTreeMap<Key, Route> = e
                    .kernel_routes()
                    .into_iter()
                    .map(|r| ((r.route.source, r.route.group), r.route))
                    .collect();
                prop_assert_eq!(&engine_view, &m.installed(), "after {:?}", op);
                prop_assert_eq!(&engine_view, &mirror.routes, "actions after {:?}", op);
                let vifs: BTreeSet<(Family, String)> =
                    e.vifs().into_iter().map(|v| (v.family, v.name)).collect();
                prop_assert_eq!(&vifs, &mirror.vifs);
                let model_vifs: BTreeSet<(Family, String)> = NAMES
                    .iter()
                    .filter(|n| m.has_vif(n))
                    .map(|n| (Family::V4, n.to_string()))
                    .collect();
                prop_assert_eq!(&vifs, &model_vifs);
                prop_assert_eq!(e.dynamic_keys(), e.non_static_keys(), "dynamic index after {:?}", op);
            }
        }
    }
}

/// Timing at the benchmark's scale; run with
/// `cargo test --release -p mcroute --lib perf_100k -- --ignored --nocapture`.
#[test]
#[ignore]
fn perf_100k_rules() {
    let mut e = StaticEngine::new(EngineOptions::default());
    let t0 = Instant::now();
    e.set_interfaces(t0, &ifaces(&["a1", "a2", "a3"]));
    // 50k (*,G) templates (distinct groups) and 50k (S,G) rules, v4, plus a few prefix forms.
    let mut routes = Vec::new();
    for i in 0..50_000u32 {
        let g = std::net::Ipv4Addr::from(0xe100_0000 + i); // 225.0.0.0 + i
        routes.push(rule("a1", None, &g.to_string(), &["a2"]));
        let s = std::net::Ipv4Addr::from(0xc633_6400 + (i % 256)); // 198.51.100.x
        let g2 = std::net::Ipv4Addr::from(0xef00_0000 + i); // 239.0.0.0 + i
        routes.push(rule(
            "a1",
            Some(&s.to_string()),
            &g2.to_string(),
            &["a2", "a3"],
        ));
    }
    routes.push(rule("a+", None, "232.0.0.0/8", &["a3"]));
    routes.push(rule("a1", Some("192.0.2.0/24"), "225.255.0.0/16", &["a3"]));
    let config = cfg(routes);
    let start = std::time::Instant::now();
    let actions = e.apply_config(t0, &config).unwrap();
    println!(
        "load 100k rules: {:?} ({} actions)",
        start.elapsed(),
        actions.len()
    );
    let start = std::time::Instant::now();
    assert_eq!(e.apply_config(t0, &config).unwrap(), vec![RELOAD]);
    println!("reload unchanged 100k: {:?}", start.elapsed());
    let start = std::time::Instant::now();
    let n = 100_000u32;
    for i in 0..n {
        let s = IpAddr::V4(std::net::Ipv4Addr::from(0xcb00_7100 + (i % 200)));
        let g = IpAddr::V4(std::net::Ipv4Addr::from(0xe100_0000 + (i % 60_000)));
        e.upcall(t0, "a1", s, g);
    }
    let el = start.elapsed();
    println!("{n} upcalls: {el:?} ({:?} each)", el / n);
    let start = std::time::Instant::now();
    let actions = e.apply_config(t0, &config).unwrap();
    println!(
        "reload with {} learned routes: {:?} ({} actions)",
        e.kernel_routes().len(),
        start.elapsed(),
        actions.len()
    );
}

/// At start-up each (S,G) route goes out as soon as its rule is filed; a later rule that
/// changes it (OIFs merged from a duplicate, an earlier inbound without a VIF) is fixed by
/// the final pass. The actions, replayed, give what the engine believes, and the same
/// routes as applying the configuration to an engine that already had routes.
#[test]
fn start_up_routes_go_out_early_and_end_as_a_full_pass_would() {
    let config = StaticConfig {
        phyints: vec![Phyint {
            enable: false,
            ..Phyint::new("a3")
        }],
        routes: vec![
            rule("a1", Some("192.0.2.9"), "225.1.1.9", &["a2"]),
            rule("a1", Some("192.0.2.1"), "225.1.1.1", &["a2"]),
            // A duplicate: its OIF merges into the rule above.
            rule("a1", Some("192.0.2.1"), "225.1.1.1", &["b1"]),
            // First inbound is disabled: the second rule's inbound gives the route.
            rule("a3", Some("192.0.2.2"), "225.1.1.2", &["a2"]),
            rule("b1", Some("192.0.2.2"), "225.1.1.2", &["a1", "a3"]),
            rule("a1", None, "225.2.0.0/16", &["a2"]),
        ],
        ..Default::default()
    };
    let t0 = Instant::now();
    let mut fresh = StaticEngine::new(EngineOptions::default());
    fresh.set_interfaces(t0, &ifaces(&["a1", "a2", "a3", "b1"]));
    let actions = fresh.apply_config(t0, &config).unwrap();
    let mut replayed: BTreeMap<(IpAddr, IpAddr), Route> = BTreeMap::new();
    for a in &actions {
        match a {
            Action::AddRoute(r) | Action::ReplaceRoute(r) => {
                replayed.insert((r.source, r.group), r.clone());
            }
            Action::RemoveRoute { source, group, .. } => {
                replayed.remove(&(*source, *group));
            }
            _ => {}
        }
    }
    let believed: BTreeMap<(IpAddr, IpAddr), Route> = fresh
        .kernel_routes()
        .into_iter()
        .map(|r| ((r.route.source, r.route.group), r.route))
        .collect();
    assert_eq!(replayed, believed);
    assert_eq!(
        believed.get(&(ip("192.0.2.1"), ip("225.1.1.1"))),
        Some(&route(
            "192.0.2.1",
            "225.1.1.1",
            "a1",
            &[("a2", 1), ("b1", 1)]
        ))
    );
    assert_eq!(
        believed.get(&(ip("192.0.2.2"), ip("225.1.1.2"))),
        Some(&route("192.0.2.2", "225.1.1.2", "b1", &[("a1", 1)]))
    );
    assert_eq!(believed.len(), 3);

    // The same configuration on an engine with a route already installed (no early path).
    let (mut busy, t0) = engine(vec![rule("a1", Some("192.0.2.99"), "225.9.9.9", &["a2"])]);
    let mut with_extra = config.clone();
    with_extra
        .routes
        .push(rule("a1", Some("192.0.2.99"), "225.9.9.9", &["a2"]));
    busy.apply_config(t0, &with_extra).unwrap();
    let mut full: BTreeMap<(IpAddr, IpAddr), Route> = busy
        .kernel_routes()
        .into_iter()
        .map(|r| ((r.route.source, r.route.group), r.route))
        .collect();
    full.remove(&(ip("192.0.2.99"), ip("225.9.9.9")));
    assert_eq!(full, believed);
}
