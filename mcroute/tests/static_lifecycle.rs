//! The static router's life past the happy path, over the fake kernel (issue 16): more
//! interfaces than VIF slots (warned about once per interface, marked in `show`), and a
//! run-time `add` naming an interface that does not exist.
//!
//! This binary installs a logger that keeps every message, to count the warnings.

use std::sync::Mutex;
use std::time::Instant;

use mcroute::config::smcroute;
use mcroute::ctl::{Request, Response, ShowWhat};
use mcroute::engine::static_routing::EngineOptions;
use mcroute::platform::fake::{Fake, FakeKernel};
use mcroute::service::static_router::{from_directives, StaticService};
use mcroute::{Family, Router, RouterOptions};

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Keep;

impl log::Log for Keep {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        LOG.lock().unwrap().push(r.args().to_string());
    }
    fn flush(&self) {}
}

fn logged(pattern: &str) -> usize {
    LOG.lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains(pattern))
        .count()
}

fn init_log() {
    let _ = log::set_logger(&Keep);
    log::set_max_level(log::LevelFilter::Trace);
}

fn service(k: &FakeKernel) -> StaticService<Fake> {
    let r = Router::open(k.platform(), RouterOptions::dual_stack()).unwrap();
    let mut s = StaticService::new(r, EngineOptions::default());
    s.refresh_interfaces(Instant::now()).unwrap();
    s
}

fn config(text: &str) -> mcroute::engine::static_routing::StaticConfig {
    from_directives(smcroute::parse(text).unwrap().directives, true).config
}

#[test]
fn vif_exhaustion_is_logged_once_per_interface_and_show_marks_the_rule() {
    init_log();
    let k = FakeKernel::new();
    for i in 0..40 {
        k.add_interface(&format!("vx{i}"));
    }
    let mut s = service(&k);
    let now = Instant::now();
    s.apply(
        now,
        &config(
            "phyint vx+ enable\n\
             mroute from vx0 source 192.0.2.1 group 225.1.1.1 to vx1 vx39\n\
             mroute from vx0 group 225.2.0.0/16 to vx+\n",
        ),
    )
    .unwrap();
    assert_eq!(k.vifs(Family::V4, 0).len(), 32);
    // Interface events come and go: the warning is not repeated for each.
    for _ in 0..10 {
        s.refresh_interfaces(Instant::now()).unwrap();
    }
    assert_eq!(
        logged("not enough IPv4 interface slots for vx39:"),
        1,
        "{:?}",
        LOG.lock().unwrap()
    );
    assert_eq!(logged("not enough IPv6 interface slots for vx39:"), 1);
    // `show` marks the rule that names an interface without a VIF, and only that rule.
    let (resp, _) = s.control(
        now,
        &Request::Show {
            what: ShowWhat::Routes,
            detail: false,
        },
    );
    let Response::Routes(t) = resp else {
        panic!("{resp:?}")
    };
    assert_eq!(t.rules.len(), 1);
    assert_eq!(t.rules[0].no_vif, ["vx39"]);
    assert_eq!(t.templates.len(), 1);
    assert!(t.templates[0].no_vif.is_empty(), "{:?}", t.templates[0]);
    let text = mcroute::ctl::render::routes(&t, Default::default());
    assert!(
        text.contains("(192.0.2.1, 225.1.1.1)") && text.contains("vx1 vx39  (no VIF: vx39)"),
        "{text}"
    );
    // A slot freed (an interface gone) goes to a waiting one; an interface that comes back
    // finds none free, and that is warned about, once.
    k.remove_interface("vx5");
    s.refresh_interfaces(Instant::now()).unwrap();
    k.add_interface("vx5");
    for _ in 0..3 {
        s.refresh_interfaces(Instant::now()).unwrap();
    }
    assert_eq!(logged("not enough IPv4 interface slots for vx5:"), 1);
}

#[test]
fn add_with_an_interface_that_does_not_exist_is_unknown_interface_and_installs_nothing() {
    init_log();
    let k = FakeKernel::new();
    k.add_interface("eth0");
    k.add_interface("eth1");
    let mut s = service(&k);
    let now = Instant::now();
    s.apply(now, &config("phyint eth0 enable\nphyint eth1 enable\n"))
        .unwrap();
    let net = |s: &str| s.parse::<ipnet::IpNet>().unwrap();
    let (resp, _) = s.control(
        now,
        &Request::Add {
            iif: "eth0".into(),
            source: Some(net("192.0.2.1/32")),
            group: net("225.1.1.1/32"),
            oifs: vec!["eth1".into(), "nope0".into()],
        },
    );
    assert_eq!(resp, Response::Error("unknown interface nope0".into()));
    assert!(
        k.routes(Family::V4, 0).is_empty(),
        "no stop filter, no route"
    );
    assert_eq!(s.engine().sg_rules().count(), 0);
}
