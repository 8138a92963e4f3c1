use super::*;
use crate::platform::fake::{Fake, FakeKernel};
use crate::wire::dvmrp::{Body, Repr};

fn kernel(ifs: &[(&str, &str)]) -> FakeKernel {
    let k = FakeKernel::new();
    for (name, addr) in ifs {
        k.add_interface(name);
        k.add_address(name, addr.parse().unwrap());
    }
    k
}

fn opts() -> PlanOptions {
    PlanOptions {
        generation_id: 7,
        ..PlanOptions::default()
    }
}

fn conf(text: &str) -> mrouted::Config {
    mrouted::parse(text).unwrap()
}

#[test]
fn automatic_phyints_skip_loopback_and_disabled() {
    let k = kernel(&[
        ("a1", "192.0.2.1/24"),
        ("a2", "198.51.100.1/24"),
        ("a3", "203.0.113.1/24"),
    ]);
    k.add_interface("a4"); // no address
    let ifs = k.platform().interfaces().unwrap();
    let p = plan(&conf(""), &ifs, &opts()).unwrap();
    let names: Vec<&str> = p.vifs.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["a1", "a2", "a3"]);
    assert_eq!(p.vifs[0].subnet, "192.0.2.0/24".parse::<Ipv4Net>().unwrap());
    assert!(p.skipped.contains(&("a4".into(), "no IPv4 address".into())));
    assert_eq!(p.engine.generation_id, 7);
    let p = plan(
        &conf("name LOCAL 239.255.0.0/16\nphyint a2 disable\nphyint 203.0.113.1 metric 3 threshold 16 boundary LOCAL altnet 198.18.0.0/15"),
        &ifs,
        &opts(),
    )
    .unwrap();
    let names: Vec<&str> = p.vifs.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["a1", "a3"]);
    assert_eq!((p.vifs[1].metric, p.vifs[1].threshold), (3, 16));
    assert_eq!(
        p.vifs[1].boundaries,
        vec!["239.255.0.0/16".parse::<Ipv4Net>().unwrap()]
    );
    assert_eq!(
        p.vifs[1].altnets,
        vec!["198.18.0.0/15".parse::<Ipv4Net>().unwrap()]
    );
    // -N (or `no phyint`): only the enabled ones.
    let no = PlanOptions {
        no_interfaces: true,
        ..opts()
    };
    assert_eq!(
        plan(&conf("phyint a1 enable\n"), &ifs, &no),
        Err(PlanError::TooFewVifs(1))
    );
    let p = plan(&conf("phyint a1 enable\nphyint a3 enable\n"), &ifs, &no).unwrap();
    assert_eq!(p.vifs.len(), 2);
}

#[test]
fn a_rate_limit_is_a_warning_with_its_line() {
    let k = kernel(&[("a1", "192.0.2.1/24"), ("a2", "198.51.100.1/24")]);
    let ifs = k.platform().interfaces().unwrap();
    let p = plan(
        &conf("phyint a1 rate_limit 0\nphyint a2\n  metric 2 rate-limit 300\n"),
        &ifs,
        &opts(),
    )
    .unwrap();
    let rate: Vec<&String> = p
        .warnings
        .iter()
        .filter(|w| w.contains("rate-limit"))
        .collect();
    assert_eq!(rate.len(), 1, "{:?}", p.warnings);
    assert!(
        rate[0].starts_with("line 3: phyint a2: rate-limit 300 is not applied"),
        "{}",
        rate[0]
    );
    // The plan keeps the configured value (shown by `show interfaces`); the FreeBSD
    // backend sends 0.
    assert_eq!(p.vifs[1].rate_limit, 300);
}

#[test]
fn missing_interfaces_and_tunnels() {
    let k = kernel(&[("a1", "192.0.2.1/24"), ("a2", "198.51.100.1/24")]);
    let ifs = k.platform().interfaces().unwrap();
    // A phyint naming a missing interface: a warning with its line, as mrouted 4.6 (with
    // or without -M); the interface is used when it appears.
    let p = plan(&conf("phyint eth9 metric 2\n"), &ifs, &opts()).unwrap();
    assert_eq!(p.vifs.len(), 2);
    assert!(
        p.warnings[0].starts_with("line 1: phyint eth9: no such interface"),
        "{:?}",
        p.warnings
    );
    // A classic tunnel on a physical interface: refused, with what to do.
    let e = plan(
        &conf("tunnel 192.0.2.1 203.0.113.9 metric 1\n"),
        &ifs,
        &opts(),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("line 1: tunnel 192.0.2.1 203.0.113.9: a1 is not a tunnel interface"),
        "{text}"
    );
    let native = if cfg!(target_os = "freebsd") {
        "ifconfig gif0 tunnel"
    } else {
        "ip tunnel add mrt0 mode ipip"
    };
    assert!(text.contains(native), "{text}");
    let e = plan(&conf("tunnel mrt0 203.0.113.9\n"), &ifs, &opts()).unwrap_err();
    assert!(e.to_string().contains("no such interface"), "{e}");
}

/// Two fake kernels joined by one link: a1 (192.0.2.1) on A and b1 (192.0.2.2) on B.
struct Pair {
    ka: FakeKernel,
    kb: FakeKernel,
    a: Service<Fake>,
    b: Service<Fake>,
    t0: Instant,
    now: Instant,
}

impl Pair {
    fn new() -> Pair {
        let ka = kernel(&[("a1", "192.0.2.1/24"), ("a2", "198.51.100.1/24")]);
        let kb = kernel(&[("b1", "192.0.2.2/24"), ("b2", "203.0.113.1/24")]);
        let t0 = Instant::now();
        let pa = plan(&conf(""), &ka.platform().interfaces().unwrap(), &opts()).unwrap();
        let mut ob = opts();
        ob.generation_id = 9;
        let pb = plan(
            &conf("phyint b2 metric 2\n"),
            &kb.platform().interfaces().unwrap(),
            &ob,
        )
        .unwrap();
        let a = Service::start(ka.platform(), pa, t0).unwrap();
        let b = Service::start(kb.platform(), pb, t0).unwrap();
        Pair {
            ka,
            kb,
            a,
            b,
            t0,
            now: t0,
        }
    }

    /// Moves what each side sent on the shared link to the other side.
    fn shuttle(&mut self) -> usize {
        let a1 = self.ka.platform().interfaces().unwrap()[1].index;
        let b1 = self.kb.platform().interfaces().unwrap()[1].index;
        let mut n = 0;
        for (from, to, out_if, in_if) in
            [(&self.ka, &self.kb, a1, b1), (&self.kb, &self.ka, b1, a1)]
        {
            for (_, mut p) in from.take_sent_igmp() {
                if p.ifindex == out_if || !p.dst.is_multicast() {
                    p.ifindex = in_if;
                    to.inject_igmp(0, p);
                    n += 1;
                }
            }
        }
        n
    }

    fn run(&mut self, secs: u64) {
        let end = self.t0 + Duration::from_secs(secs);
        loop {
            while self.shuttle() > 0 {
                self.a.handle_readable(self.now).unwrap();
                self.b.handle_readable(self.now).unwrap();
            }
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = end;
    }
}

#[test]
fn two_services_peer_and_exchange_routes() {
    let mut p = Pair::new();
    p.run(12);
    let na = p.a.neighbor_rows(p.now);
    assert_eq!(na.len(), 1);
    assert_eq!(na[0].addr, "192.0.2.2".parse::<Ipv4Addr>().unwrap());
    assert!(na[0].flags.contains(&"two-way".to_string()), "{na:?}");
    assert_eq!(na[0].generation_id, 9);
    let routes = p.a.route_rows(p.now);
    let far = routes
        .iter()
        .find(|r| r.origin == "203.0.113.0/24".parse::<Ipv4Net>().unwrap())
        .expect("B's stub reached A");
    // B's metric 2 on b2, plus A's metric 1 on a1.
    assert_eq!(
        (far.metric, far.gateway),
        (3, Some("192.0.2.2".parse().unwrap()))
    );
    let b_routes = p.b.route_rows(p.now);
    let near = b_routes
        .iter()
        .find(|r| r.origin == "198.51.100.0/24".parse::<Ipv4Net>().unwrap())
        .unwrap();
    assert_eq!(near.metric, 2);
    // A's stub is a child of the route from B's side; B depends on A for 198.51.100/24.
    let own = routes
        .iter()
        .find(|r| r.origin == "198.51.100.0/24".parse::<Ipv4Net>().unwrap())
        .unwrap();
    assert_eq!(own.gateway, None);
    assert_eq!(own.dependents.len(), 1, "{own:?}");
    let dump = p.a.route_dump(p.now);
    assert!(dump.contains("Virtual Interface Table"), "{dump}");
    assert!(
        dump.contains("Multicast Routing Table (3 entries)"),
        "{dump}"
    );
    assert!(
        dump.contains(" 203.0.113          192.0.2.2          3"),
        "{dump}"
    );
    assert!(p
        .a
        .cache_dump(p.now)
        .starts_with("Multicast Routing Cache Table (0 entries)"));
    match p.a.handle_request(
        &Request::Show {
            what: ShowWhat::Neighbors,
            detail: false,
        },
        p.now,
    ) {
        Some(Response::Neighbors(n)) => assert_eq!(n.len(), 1),
        other => panic!("{other:?}"),
    }
    assert!(p.a.handle_request(&Request::Reload, p.now).is_none());
    assert!(matches!(
        p.a.handle_request(&Request::Flush, p.now),
        Some(Response::Error(_))
    ));
    // Going away: B hears every route of A as unreachable.
    let Pair { a, kb, ka, now, .. } = p;
    a.shutdown(now);
    let sent = ka.take_sent_igmp();
    let reports: Vec<_> = sent
        .iter()
        .filter_map(|(_, pk)| Repr::parse(&pk.payload).ok())
        .filter_map(|r| match r.body {
            Body::Report { routes } => Some(routes),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(!reports.is_empty());
    assert!(reports.iter().all(|r| r.metric == INFINITY), "{reports:?}");
    drop(kb);
}

#[test]
fn reload_restarts_with_the_new_plan() {
    let mut p = Pair::new();
    p.run(12);
    let ifs = p.ka.platform().interfaces().unwrap();
    let mut o = opts();
    o.generation_id = 100;
    let new = plan(&conf("phyint a2 metric 5\n"), &ifs, &o).unwrap();
    p.a.reload(new, p.now).unwrap();
    assert_eq!(p.a.engine().config().generation_id, 100);
    assert_eq!(p.a.vif_rows(false)[1].metric, 5);
    assert_eq!(p.ka.vifs(Family::V4, 0).len(), 2);
    p.run(30);
    // B saw the new generation id and peers again.
    let nb = p.b.neighbor_rows(p.now);
    assert_eq!(nb[0].generation_id, 100);
    assert!(nb[0].flags.contains(&"two-way".to_string()));
}

#[test]
fn fmt_origin_like_mrouted() {
    let n = |s: &str| s.parse::<Ipv4Net>().unwrap();
    assert_eq!(fmt_origin(&n("36.2.0.0/16")), "36.2");
    assert_eq!(fmt_origin(&n("13.2.116.0/22")), "13.2.116/22");
    assert_eq!(fmt_origin(&n("192.0.2.0/24")), "192.0.2");
    assert_eq!(fmt_origin(&n("0.0.0.0/0")), "0");
    assert_eq!(fmt_origin(&n("192.0.2.7/32")), "192.0.2.7");
}

/// Every mrouted.conf keyword reaches the engine or the querier (or warns where the kernel
/// cannot do it).
#[test]
fn every_vif_keyword_is_applied() {
    let k = kernel(&[("a1", "192.0.2.1/24"), ("a2", "198.51.100.1/24")]);
    let ifs = k.platform().interfaces().unwrap();
    let p = plan(
        &conf(
            "router-timeout 300\n\
             phyint a1 advert-metric 3 noflood notransit blaster allow-nonpruners \
             prune-lifetime 600 rexmit-prunes force-leaf on join-group 239.1.2.3 \
             deny 203.0.113.0/24 exact 10.0.0.0/8 bidir rate-limit 64 passive\n",
        ),
        &ifs,
        &opts(),
    )
    .unwrap();
    let v = &p.vifs[0];
    assert_eq!(v.advert_metric, 3);
    assert!(v.noflood && v.notransit && v.blaster && v.allow_nonpruners);
    assert!(v.rexmit_prunes && v.force_leaf && v.passive);
    assert_eq!(v.prune_lifetime, Some(Duration::from_secs(600)));
    assert_eq!(v.join_groups, vec![Ipv4Addr::new(239, 1, 2, 3)]);
    let f = v.filter.as_ref().unwrap();
    assert!(!f.accept && f.bidir);
    assert_eq!(
        f.routes,
        vec![
            ("203.0.113.0/24".parse().unwrap(), true),
            ("10.0.0.0/8".parse().unwrap(), false)
        ]
    );
    assert_eq!(
        v.igmp.other_querier_present_interval(),
        Duration::from_secs(300)
    );
    // Linux has no VIF rate limit: a warning with the line, not silence.
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("line 2: phyint a1: rate-limit 64")),
        "{:?}",
        p.warnings
    );
    // The other VIF keeps the defaults.
    let w = &p.vifs[1];
    assert_eq!(w.advert_metric, 0);
    assert!(!w.noflood && !w.rexmit_prunes && !w.force_leaf && w.filter.is_none());
    // router-timeout is global.
    assert_eq!(
        w.igmp.other_querier_present_interval(),
        Duration::from_secs(300)
    );
    let p = plan(&conf(""), &ifs, &opts()).unwrap();
    assert_eq!(
        p.vifs[0].igmp.other_querier_present_interval(),
        Duration::from_secs(255)
    );
}

#[test]
fn global_noflood_and_rexmit_prunes_reach_every_phyint() {
    let k = kernel(&[("a1", "192.0.2.1/24"), ("a2", "198.51.100.1/24")]);
    let ifs = k.platform().interfaces().unwrap();
    let p = plan(&conf("noflood\nrexmit-prunes\n"), &ifs, &opts()).unwrap();
    assert!(p.vifs.iter().all(|v| v.noflood && v.rexmit_prunes));
    // The per-interface setting wins over the global one.
    let p = plan(
        &conf("rexmit-prunes on\nphyint a2 rexmit-prunes off\n"),
        &ifs,
        &opts(),
    )
    .unwrap();
    assert!(p.vifs[0].rexmit_prunes && !p.vifs[1].rexmit_prunes);
    // Phyints do not retransmit prunes by default (tunnels do).
    let p = plan(&conf(""), &ifs, &opts()).unwrap();
    assert!(p.vifs.iter().all(|v| !v.rexmit_prunes && !v.noflood));
}

#[test]
fn router_alert_off_and_threshold_255_reach_the_service() {
    let k = kernel(&[("a1", "192.0.2.1/24"), ("a2", "198.51.100.1/24")]);
    let ifs = k.platform().interfaces().unwrap();
    assert!(plan(&conf(""), &ifs, &opts()).unwrap().router_alert);
    assert!(
        !plan(&conf("router-alert off\n"), &ifs, &opts())
            .unwrap()
            .router_alert
    );
    let p = plan(&conf("phyint a1 threshold 255\n"), &ifs, &opts()).unwrap();
    assert_eq!(p.vifs[0].threshold, 255);
    // The engine takes it (it used to stop the daemon at start).
    let s = Service::start(k.platform(), p, Instant::now()).unwrap();
    assert!(s.engine().is_vif_active(VifId(0)));
}

#[test]
fn join_group_is_joined_on_the_interface() {
    let k = kernel(&[("a1", "192.0.2.1/24"), ("a2", "198.51.100.1/24")]);
    let ifs = k.platform().interfaces().unwrap();
    let p = plan(
        &conf("phyint a1 join-group 239.1.2.3 passive\n"),
        &ifs,
        &opts(),
    )
    .unwrap();
    let s = Service::start(k.platform(), p, Instant::now()).unwrap();
    let joined = &s.slots[&VifId(0)].joined;
    assert!(joined.contains(&Ipv4Addr::new(239, 1, 2, 3)), "{joined:?}");
    // A passive VIF listens to DVMRP routers (it wakes up when it hears one).
    assert!(joined.contains(&ALL_DVMRP_ROUTERS), "{joined:?}");
}
