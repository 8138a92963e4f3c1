//! Both daemons under a fake systemd: the test binds a unix datagram socket, passes it as
//! `NOTIFY_SOCKET` (and `WATCHDOG_USEC`) to the real daemon running in a namespace, and reads
//! what the daemon tells the service manager: `READY=1` only once the configured routes are
//! in the kernel, `RELOADING=1` then `READY=1` around a reload (SIGHUP and the control
//! socket), `STATUS=` with the counts, `WATCHDOG=1` pings, `STOPPING=1` at the end.
#![cfg(target_os = "linux")]

mod support;

use std::net::Ipv4Addr;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcroute::ctl::client::CtlClient;
use mcroute::ctl::{Request, Response};
use nix::sys::signal::Signal;
use support::*;

/// The fake service manager's end of `NOTIFY_SOCKET`.
struct Manager {
    sock: UnixDatagram,
    path: PathBuf,
    seen: Vec<String>,
}

impl Manager {
    fn bind(dir: &TempDir) -> Manager {
        let path = dir.path("notify");
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Manager {
            sock,
            path,
            seen: Vec::new(),
        }
    }

    /// The next message, or a panic naming what came so far and the daemon's log.
    fn next(&mut self, log: &dyn Fn() -> String) -> String {
        let mut buf = vec![0u8; 4096];
        match self.sock.recv(&mut buf) {
            Ok(n) => {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(m.clone());
                m
            }
            Err(e) => panic!("no notification ({e}); so far {:?}\n{}", self.seen, log()),
        }
    }

    /// Reads messages until one has a line starting with `want`; returns it. Watchdog pings and status
    /// updates in between are skipped (and kept in `seen`).
    fn until(&mut self, want: &str, log: &dyn Fn() -> String) -> String {
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            let m = self.next(log);
            if m.lines().any(|l| l.starts_with(want)) {
                return m;
            }
        }
        panic!("no {want:?} in 30 s; got {:?}\n{}", self.seen, log());
    }
}

/// Starts `program args` in `ns` with the notify socket and a watchdog of 300 ms.
fn start(ns: &Netns, program: &Path, args: &[&str], m: &Manager, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new("ip")
        .args(["netns", "exec", &ns.name])
        .arg(program)
        .args(args)
        .env("NOTIFY_SOCKET", &m.path)
        .env("WATCHDOG_USEC", "300000")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn the daemon")
}

fn kill(child: &Child, sig: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

fn wait_exit(child: &mut Child) -> Option<i32> {
    let mut code = None;
    wait_until(Duration::from_secs(10), || match child.try_wait() {
        Ok(Some(st)) => {
            code = st.code();
            true
        }
        _ => false,
    });
    code
}

/// The (S,G) routes of `n` sources 198.18.0.1 up, group 225.9.9.9, r0 to r1.
fn routes(n: u32) -> String {
    (1..=n)
        .map(|i| {
            let s = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + i);
            format!("mroute from r0 source {s} group 225.9.9.9 to r1\n")
        })
        .collect()
}

fn kernel_routes(net: &Line) -> usize {
    let g = proc_hex_v4(Ipv4Addr::new(225, 9, 9, 9));
    net.rtr
        .proc_net("ip_mr_cache")
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(g.as_str()))
        .count()
}

#[test]
fn static_router_tells_systemd_ready_reloading_status_watchdog_stopping() {
    if !require_netns("static_router_tells_systemd_ready_reloading_status_watchdog_stopping") {
        return;
    }
    let net = Line::new("sdn");
    let dir = TempDir::new("sdnotify-static");
    let conf = dir.path("r.conf");
    std::fs::write(
        &conf,
        format!("phyint r0 enable\nphyint r1 enable\n{}", routes(500)),
    )
    .unwrap();
    let mut m = Manager::bind(&dir);
    let logf = dir.path("log");
    let log = || std::fs::read_to_string(&logf).unwrap_or_default();
    let sock = dir.path("sock");
    let pid = dir.path("pid");
    let args = [
        "-n",
        "-N",
        "-l",
        "info",
        "-f",
        conf.to_str().unwrap(),
        "-P",
        pid.to_str().unwrap(),
        "-u",
        sock.to_str().unwrap(),
    ];
    let mut child = start(
        &net.rtr,
        &workspace_bin("static-router", true),
        &args,
        &m,
        &logf,
    );

    // READY=1 comes once all 500 configured routes are in the kernel.
    let ready = m.until("READY=1", &log);
    assert_eq!(
        kernel_routes(&net),
        500,
        "READY=1 before the routes: {ready}"
    );
    assert!(ready.contains("STATUS=500 kernel routes"), "{ready}");
    // Nothing is said before READY=1 but the watchdog.
    for earlier in &m.seen[..m.seen.len() - 1] {
        assert_eq!(earlier, "WATCHDOG=1", "{:?}", m.seen);
    }
    // The watchdog is pinged while the daemon idles.
    m.until("WATCHDOG=1", &log);
    m.until("WATCHDOG=1", &log);

    // SIGHUP with a file of 501 routes: RELOADING=1 (with the clock), then READY=1 once the
    // new route is in the kernel.
    std::fs::write(
        &conf,
        format!("phyint r0 enable\nphyint r1 enable\n{}", routes(501)),
    )
    .unwrap();
    kill(&child, Signal::SIGHUP);
    let reloading = m.until("RELOADING=1", &log);
    assert!(
        reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")
            && l["MONOTONIC_USEC=".len()..]
                .parse::<u64>()
                .is_ok_and(|u| u > 0)),
        "{reloading}"
    );
    let ready = m.until("READY=1", &log);
    assert_eq!(kernel_routes(&net), 501);
    assert!(ready.contains("STATUS=501 kernel routes"), "{ready}");

    // A reload through the control socket (what ExecReload= runs) says the same.
    let mut c = CtlClient::connect(&sock).expect("connect");
    assert_eq!(c.request(&Request::Reload).unwrap(), Response::Ok);
    m.until("RELOADING=1", &log);
    m.until("READY=1", &log);

    // A route added at run time changes the status line.
    let mut c = CtlClient::connect(&sock).expect("connect");
    let add = mcroute::ctl::command::parse(&["add", "r0", "198.18.9.9", "225.9.9.9", "r1"], false);
    let Ok(mcroute::ctl::command::Command::Request(req)) = add else {
        panic!("{add:?}")
    };
    assert_eq!(c.request(&req).unwrap(), Response::Ok);
    let status = m.until("STATUS=502 kernel routes", &log);
    assert!(!status.contains("READY=1"), "{status}");

    kill(&child, Signal::SIGTERM);
    m.until("STOPPING=1", &log);
    assert_eq!(wait_exit(&mut child), Some(0), "{}", log());
}

#[test]
fn dvmrp_router_tells_systemd_ready_reloading_status_watchdog_stopping() {
    if !require_netns("dvmrp_router_tells_systemd_ready_reloading_status_watchdog_stopping") {
        return;
    }
    let net = Line::new("sdd");
    let dir = TempDir::new("sdnotify-dvmrp");
    let conf = dir.path("mrouted.conf");
    std::fs::write(&conf, "").unwrap();
    let mut m = Manager::bind(&dir);
    let logf = dir.path("log");
    let log = || std::fs::read_to_string(&logf).unwrap_or_default();
    let sock = dir.path("sock");
    let pid = dir.path("pid");
    let ident = format!("{}-sd", net.rtr.name);
    let args = [
        "-f",
        "-c",
        conf.to_str().unwrap(),
        "--ident",
        &ident,
        "--pidfile",
        pid.to_str().unwrap(),
        "--socket",
        sock.to_str().unwrap(),
    ];
    let mut child = start(
        &net.rtr,
        &workspace_bin("dvmrp-router", true),
        &args,
        &m,
        &logf,
    );

    // READY=1 once the VIFs are up: both interfaces are in the kernel's VIF table and the
    // two directly connected subnets are routes.
    let ready = m.until("READY=1", &log);
    let vifs = net.rtr.proc_net("ip_mr_vif");
    assert!(
        vifs.contains("r0") && vifs.contains("r1"),
        "{vifs}\n{ready}"
    );
    assert!(ready.contains("STATUS=2 routes, 0 neighbours"), "{ready}");
    m.until("WATCHDOG=1", &log);

    kill(&child, Signal::SIGHUP);
    m.until("RELOADING=1", &log);
    m.until("READY=1", &log);
    let mut c = CtlClient::connect(&sock).expect("connect");
    assert_eq!(c.request(&Request::Reload).unwrap(), Response::Ok);
    m.until("RELOADING=1", &log);
    m.until("READY=1", &log);

    kill(&child, Signal::SIGTERM);
    m.until("STOPPING=1", &log);
    assert_eq!(wait_exit(&mut child), Some(0), "{}", log());
}
