//! The bad-input matrix: every byte from a file, the control socket or the network is
//! untrusted. Each case gets a clear error and loses nothing that was running.
//!
//! Covered here: truncated and oversized configuration lines, a group that is not
//! multicast, a multicast source, an IPv4 source with an IPv6 group, unknown interfaces,
//! more interfaces than VIFs, duplicate routes, include loops and unreadable includes, a
//! flood of control connections.
//! Covered beside the code or in the namespace tests:
//! - garbage, oversized frames, stalled and vanishing control clients:
//!   `tests/ctl_socket.rs::serves_requests_and_survives_garbage_and_stalls`,
//!   `mcroute-cli/tests/netns_mcroutectl.rs::errors_strangers_and_garbage`;
//! - a bad reload keeps the running routes: `tests/netns_static_router.rs`;
//! - hostile DVMRP neighbours (metric 0 and 70, a multicast origin, a huge route count,
//!   a wrong checksum, an old version, a report from a non-neighbour):
//!   `dvmrp::tests::hostile_packets_are_counted_and_dropped`;
//! - non-upcalls on the routing socket: `router::tests::garbage_on_the_socket_is_skipped`.

use std::net::IpAddr;
use std::time::Instant;

use mcroute::config::smcroute;
use mcroute::ctl::client::CtlClient;
use mcroute::ctl::server::{Access, CtlServer, MAX_CLIENTS, RESERVED_CLIENTS};
use mcroute::ctl::{Request, Response};
use mcroute::engine::static_routing::EngineOptions;
use mcroute::platform::fake::{Delivery, FakeKernel};
use mcroute::service::static_router::{from_directives, StaticService};
use mcroute::{Family, Router, RouterOptions};

fn errors(text: &str) -> Vec<String> {
    match smcroute::parse(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors().iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn config_errors_name_line_column_token_and_expectation() {
    let cases: &[(&str, &str)] = &[
        // Truncated in the middle of an address.
        ("mroute from eth0 group 225.1.", "<input>:1:24:"),
        ("mroute from eth0 group", "<input>:1:"),
        ("mroute from eth0 group 192.0.2.1 to eth1", "<input>:1:24:"),
        (
            "mroute from eth0 source 225.1.1.1 group 225.1.1.2 to eth1",
            "<input>:1:25:",
        ),
        (
            "mroute from eth0 source 192.0.2.1 group ff0e::1 to eth1",
            "<input>:1:",
        ),
        ("mgroup from eth0 group 225.1.1.1/40", "<input>:1:24:"),
        ("phyint eth0 ttl-threshold 300", "<input>:1:27:"),
        ("mroute frm eth0 group 225.1.1.1 to eth1", "<input>:1:8:"),
    ];
    for (text, at) in cases {
        let e = errors(text);
        assert_eq!(e.len(), 1, "{text:?}: {e:?}");
        assert!(e[0].starts_with(at), "{text:?}: {}", e[0]);
        assert!(
            e[0].len() > at.len() + 10,
            "a message must say what was expected: {}",
            e[0]
        );
    }
    let e = errors("mroute from eth0 source 192.0.2.1 group ff0e::1 to eth1");
    assert!(e[0].contains("famil"), "{}", e[0]);
}

#[test]
fn an_oversized_line_is_one_error_and_the_other_lines_stay() {
    let long = format!(
        "mroute from eth0 group 225.1.1.1 to {}",
        "eth1 ".repeat(40_000)
    );
    let text = format!("phyint eth0 enable\n{long}\nmroute from eth0 group 225.2.2.2 to eth1\n");
    let (cfg, errs) =
        smcroute::parse_source(&text, mcroute::config::FileId(0), "big.conf".as_ref());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].to_string().starts_with("big.conf:2:"),
        "{}",
        errs[0]
    );
    assert_eq!(cfg.directives.len(), 2, "the good lines around it are kept");
}

#[test]
fn include_loops_and_unreadable_includes_are_errors() {
    let dir = std::env::temp_dir().join(format!("mcroute-badinc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.conf"), "include b.conf\nphyint eth0 enable\n").unwrap();
    std::fs::write(dir.join("b.conf"), "include a.conf\n").unwrap();
    std::fs::create_dir_all(dir.join("d.conf")).unwrap();
    std::fs::write(dir.join("c.conf"), "include d.conf\n").unwrap();
    let e = smcroute::load(&dir.join("a.conf")).unwrap_err().to_string();
    assert!(
        e.contains("b.conf:1:") && e.to_lowercase().contains("loop"),
        "{e}"
    );
    let e = smcroute::load(&dir.join("c.conf")).unwrap_err().to_string();
    assert!(e.contains("c.conf:1:"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn service(k: &FakeKernel) -> StaticService<mcroute::platform::fake::Fake> {
    let r = Router::open(k.platform(), RouterOptions::dual_stack()).unwrap();
    let mut s = StaticService::new(r, EngineOptions::default());
    s.refresh_interfaces(Instant::now()).unwrap();
    s
}

fn config(text: &str) -> mcroute::engine::static_routing::StaticConfig {
    from_directives(smcroute::parse(text).unwrap().directives, true).config
}

#[test]
fn more_interfaces_than_vifs_and_duplicate_routes() {
    let k = FakeKernel::new();
    let mut idx = Vec::new();
    for i in 0..40 {
        idx.push(k.add_interface(&format!("eth{i}")));
    }
    let mut s = service(&k);
    let mut text = String::from("phyint eth+ enable\n");
    text.push_str("mroute from eth0 source 192.0.2.1 group 225.1.1.1 to eth1\n");
    text.push_str("mroute from eth0 source 192.0.2.1 group 225.1.1.1 to eth2\n");
    s.apply(Instant::now(), &config(&text))
        .expect("a config naming 40 interfaces is valid");
    // The kernel's limit holds; nothing failed silently past it.
    assert_eq!(k.vifs(Family::V4, 0).len(), 32);
    assert_eq!(k.vifs(Family::V6, 0).len(), 32);
    // The duplicate (S,G) lines merge into one kernel route with both OIFs.
    let routes = k.routes(Family::V4, 0);
    assert_eq!(routes.len(), 1, "{routes:?}");
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    match k.receive(0, idx[0], ip("192.0.2.1"), ip("225.1.1.1"), 10) {
        Delivery::Forwarded(mut out) => {
            out.sort();
            assert_eq!(out, vec![idx[1], idx[2]]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_request_changes_nothing() {
    let k = FakeKernel::new();
    k.add_interface("eth0");
    k.add_interface("eth1");
    let mut s = service(&k);
    s.apply(
        Instant::now(),
        &config("phyint eth0 enable\nphyint eth1 enable\nmroute from eth0 source 192.0.2.1 group 225.1.1.1 to eth1\n"),
    )
    .unwrap();
    let before = k.routes(Family::V4, 0);
    let now = Instant::now();
    let net = |s: &str| s.parse::<ipnet::IpNet>().unwrap();
    for req in [
        Request::Add {
            iif: "nope0".into(),
            source: None,
            group: net("225.2.2.2/32"),
            oifs: vec!["eth1".into()],
        },
        Request::Remove {
            iif: "eth0".into(),
            source: Some(net("192.0.2.9/32")),
            group: net("225.1.1.1/32"),
            oifs: vec![],
        },
        Request::Leave {
            iif: "eth0".into(),
            source: None,
            group: net("225.3.3.3/32"),
        },
        Request::Join {
            iif: "nope0".into(),
            source: None,
            group: net("225.3.3.3/32"),
        },
    ] {
        let (resp, _) = s.control(now, &req);
        assert!(
            matches!(&resp, Response::Error(e) if !e.is_empty()),
            "{req}: {resp:?}"
        );
    }
    assert_eq!(
        k.routes(Family::V4, 0),
        before,
        "a refused request must not touch the kernel"
    );
    assert!(k.memberships().is_empty());
    // An invalid configuration on reload is refused as a whole.
    let bad = config("phyint eth0 enable\nmroute from eth0 source 192.0.2.1 group 225.9.9.9 to eth1\nphyint eth1 enable ttl-threshold 1\n");
    let mut bad = bad;
    bad.phyints[1].ttl_threshold = 0;
    assert!(s.apply(now, &bad).is_err());
    assert_eq!(k.routes(Family::V4, 0), before);
}

#[test]
fn a_flood_of_control_connections_is_refused_politely() {
    let dir = std::env::temp_dir().join(format!("mcroute-flood-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f.sock");
    let mut server = CtlServer::bind(&path, Access::default()).unwrap();
    let flood: Vec<_> = (0..MAX_CLIENTS + 20)
        .map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap())
        .collect();
    server.poll(|_, _| Response::Ok);
    // Every client here is the daemon's own user, so the reserved slots are theirs too.
    assert_eq!(
        server.stats().accepted as usize,
        MAX_CLIENTS + RESERVED_CLIENTS
    );
    assert_eq!(server.stats().dropped as usize, 20 - RESERVED_CLIENTS);
    drop(flood);
    // Once they are gone, a client is served.
    let path2 = path.clone();
    let client = std::thread::spawn(move || {
        CtlClient::connect(&path2)
            .unwrap()
            .request(&Request::Version)
    });
    let t = Instant::now();
    while !client.is_finished() && t.elapsed() < std::time::Duration::from_secs(5) {
        server.poll(|req, _| match req {
            Request::Version => Response::Version("v".into()),
            _ => Response::Ok,
        });
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(
        client.join().unwrap().unwrap(),
        Response::Version("v".into())
    );
    let _ = std::fs::remove_dir_all(&dir);
}
