//! dvmrp-router's control socket speaks mrouted 4.x's protocol too, so `mroutectl` works
//! against it: in a namespace, each request is sent as mroutectl sends it (one 768-byte
//! message per connection) and the reply read as mroutectl reads it (768-byte messages
//! until EOF or ERR, then the daemon closes). mrouted is not packaged by Debian, so this
//! test speaks the protocol with the library's codec rather than the real mroutectl (run by
//! hand against it: see the commit message).
#![cfg(target_os = "linux")]

#[path = "../../mcroute/tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use mcroute::ctl::compat::mrouted::{self, cmd};
use mcroute::ctl::compat::ShowLine;

use support::*;

/// Sends one mroutectl message and reads everything until the daemon closes.
fn ask(sock: &Path, c: u8, detail: bool) -> Vec<u8> {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&mrouted::encode_msg(c, detail, "")).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read to the end");
    out
}

fn rows(r: &mrouted::Reply) -> Vec<String> {
    r.lines
        .iter()
        .filter_map(|l| match l {
            ShowLine::Row(t) if !t.trim().is_empty() => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn titles(r: &mrouted::Reply) -> Vec<String> {
    r.lines
        .iter()
        .filter_map(|l| match l {
            ShowLine::Title(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn mroutectl_protocol_against_dvmrp_router() {
    if !require_netns("mroutectl_protocol_against_dvmrp_router") {
        return;
    }
    let net = Line::new("mr");
    let dir = TempDir::new("mr");
    let conf = dir.path("mrouted.conf");
    std::fs::write(&conf, "# every interface, defaults\n").unwrap();
    let sock = dir.path("sock");
    let pid = dir.path("pid");
    let mut d = NsProcess::start(
        &net.rtr,
        &workspace_bin("dvmrp-router", true),
        &[
            "-f",
            "-c",
            conf.to_str().unwrap(),
            "--pidfile",
            pid.to_str().unwrap(),
            "--socket",
            sock.to_str().unwrap(),
        ],
        &dir.path("log"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || pid.exists() && sock.exists()),
        "dvmrp-router not ready: {}",
        d.output()
    );

    // show interfaces: mrouted's table, one row per VIF.
    let bytes = ask(&sock, cmd::SHOW_IFACE, false);
    assert_eq!(bytes.len() % mrouted::MSG_LEN, 0, "whole messages only");
    let r = mrouted::decode_reply(&bytes);
    assert!(!r.failed);
    assert_eq!(titles(&r), ["Interface Table"]);
    let ifs = rows(&r);
    for (addr, dev) in [("192.0.2.254", "r0"), ("198.51.100.254", "r1")] {
        assert!(
            ifs.iter().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 6 && w[0] == addr && w[1] == dev && w[2] == "Up"
            }),
            "{dev} missing from {ifs:#?}"
        );
    }

    // show routes -d: the two local subnets, as mrouted prints them.
    let r = mrouted::decode_reply(&ask(&sock, cmd::SHOW_ROUTES, true));
    assert_eq!(titles(&r), ["DVMRP Routing Table"]);
    let routes = rows(&r);
    for (origin, dev) in [("192.0.2/24", "r0"), ("198.51.100/24", "r1")] {
        assert!(
            routes.iter().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w == [origin, "Local", dev, "1", "Never"]
            }),
            "{origin} missing from {routes:#?}"
        );
    }

    // mroutectl's default, show status: interfaces, neighbours, routes, cache in one reply
    // (tables that are empty print nothing, as in mrouted).
    let r = mrouted::decode_reply(&ask(&sock, cmd::SHOW_STATUS, false));
    assert!(!r.failed);
    assert_eq!(titles(&r), ["Interface Table", "DVMRP Routing Table"]);

    // show version.
    let r = mrouted::decode_reply(&ask(&sock, cmd::VERSION, false));
    assert!(
        rows(&r).first().is_some_and(|l| l.contains("dvmrp-router")),
        "{r:?}"
    );

    // Settings this daemon does not take over the socket: ERR with the reason.
    let r = mrouted::decode_reply(&ask(&sock, cmd::DEBUG, false));
    assert!(r.failed && r.last.contains("debug"), "{r:?}");

    // A native client is still served on the same socket.
    let native = std::process::Command::new(env!("CARGO_BIN_EXE_mcroutectl"))
        .arg("-u")
        .arg(&sock)
        .args(["show", "interfaces"])
        .output()
        .unwrap();
    assert!(native.status.success(), "{native:?}");

    // kill: the daemon stops.
    let r = mrouted::decode_reply(&ask(&sock, cmd::KILL, false));
    assert!(!r.failed, "{r:?}");
    assert_eq!(
        d.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        d.output()
    );
}
