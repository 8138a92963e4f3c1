//! The static-router example (a drop-in smcrouted) against the real kernel, in network
//! namespaces: sender — router — receiver.
#![cfg(target_os = "linux")]

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::static_router::{start, static_router, Daemon};
use support::*;

impl Daemon {
    /// Waits for the PID file to hold this process's pid.
    fn wait_ready(&mut self) {
        self.wait_ready_within(Duration::from_secs(10));
    }
}

fn write(path: &std::path::Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn cache_line(net: &Line, g: Ipv4Addr, s: Ipv4Addr) -> Option<String> {
    net.rtr
        .proc_net("ip_mr_cache")
        .lines()
        .find(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            c.len() >= 2 && c[0] == proc_hex_v4(g) && c[1] == proc_hex_v4(s)
        })
        .map(str::to_string)
}

fn flow(net: &Line, group: IpAddr, port: u16, count: usize) -> usize {
    let rx = Receiver::start(
        &net.rcv,
        "c0",
        group,
        port,
        Duration::from_millis(900 + 20 * count as u64),
    );
    send(
        &net.snd,
        "s0",
        group,
        port,
        count,
        Duration::from_millis(20),
    );
    rx.count()
}

#[test]
fn forwards_sg_star_g_prefix_and_ipv6_rules() {
    if !require_netns("forwards_sg_star_g_prefix_and_ipv6_rules") {
        return;
    }
    let net = Line::new("sr");
    let dir = TempDir::new("sr");
    write(
        &dir.path("a.conf"),
        "# static routes for the test\n\
         phyint r0 enable\n\
         phyint r1 enable\n\
         mroute from r0 source 192.0.2.1 group 225.1.1.1 to r1\n\
         mroute from r0 group 225.2.2.2 to r1\n\
         mroute from r0 group 225.3.0.0/16 to r1\n\
         mroute from r0 group ff0e::/16 to r1\n",
    );
    let mut d = start(&net.rtr, &dir, "a", &[]);
    d.wait_ready();
    // The (S,G) route is in the kernel before any traffic; templates are not.
    let sg = cache_line(&net, Ipv4Addr::new(225, 1, 1, 1), SND4)
        .unwrap_or_else(|| panic!("(S,G) missing:\n{}", net.rtr.proc_net("ip_mr_cache")));
    assert!(sg.trim_end().ends_with("1:1"), "{sg}");
    assert!(cache_line(&net, Ipv4Addr::new(225, 2, 2, 2), SND4).is_none());

    assert_eq!(
        flow(&net, "225.1.1.1".parse().unwrap(), 6001, 5),
        5,
        "(S,G)"
    );
    assert_eq!(
        flow(&net, "225.2.2.2".parse().unwrap(), 6002, 5),
        5,
        "(*,G)"
    );
    assert_eq!(
        flow(&net, "225.3.77.1".parse().unwrap(), 6003, 5),
        5,
        "(*,G/16)"
    );
    assert_eq!(
        flow(&net, "ff0e::42".parse().unwrap(), 6004, 5),
        5,
        "IPv6 (*,G/16)"
    );
    assert_eq!(
        flow(&net, "225.9.9.9".parse().unwrap(), 6005, 5),
        0,
        "no rule: not forwarded"
    );

    // Learned routes are in the kernel, the rule-less group as a stop filter.
    let learned = cache_line(&net, Ipv4Addr::new(225, 3, 77, 1), SND4).expect("learned route");
    assert!(learned.trim_end().ends_with("1:1"), "{learned}");
    let stop = cache_line(&net, Ipv4Addr::new(225, 9, 9, 9), SND4).expect("stop filter");
    assert!(!stop.contains(':'), "stop filter must have no OIFs: {stop}");
    let v6 = net.rtr.proc_net("ip6_mr_cache");
    assert!(
        v6.contains(&proc_full_v6("ff0e::42".parse().unwrap())),
        "{v6}"
    );

    // SIGTERM: clean exit, PID file and socket removed, routes gone with the table.
    d.proc.signal(Signal::SIGTERM);
    assert_eq!(
        d.proc.wait_exit(Duration::from_secs(5)),
        Some(0),
        "{}",
        d.proc.output()
    );
    assert!(!d.pidfile.exists() && !d.socket.exists());
    assert!(cache_line(&net, Ipv4Addr::new(225, 1, 1, 1), SND4).is_none());
}

#[test]
fn reload_changes_exactly_the_changed_routes_without_loss() {
    if !require_netns("reload_changes_exactly_the_changed_routes_without_loss") {
        return;
    }
    let net = Line::new("rl");
    let dir = TempDir::new("rl");
    let conf = dir.path("b.conf");
    write(
        &conf,
        "phyint r0 enable\nphyint r1 enable\n\
         mroute from r0 source 192.0.2.1 group 225.1.1.1 to r1\n\
         mroute from r0 source 192.0.2.1 group 225.1.1.2 to r1\n",
    );
    let mut d = start(&net.rtr, &dir, "b", &[]);
    d.wait_ready();
    let g1 = Ipv4Addr::new(225, 1, 1, 1);
    // A flow on the unchanged route while the file changes and the daemon reloads.
    let count = 150;
    let rx = Receiver::start(&net.rcv, "c0", g1.into(), 6101, Duration::from_millis(4500));
    let pid = nix::unistd::Pid::from_raw(d.proc.child.id() as i32);
    let conf2 = conf.clone();
    let reloader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        write(
            &conf2,
            "phyint r0 enable\nphyint r1 enable\n\
             mroute from r0 source 192.0.2.1 group 225.1.1.1 to r1\n\
             mroute from r0 source 192.0.2.1 group 225.1.1.3 to r1\n",
        );
        nix::sys::signal::kill(pid, Signal::SIGHUP).unwrap();
    });
    send(
        &net.snd,
        "s0",
        g1.into(),
        6101,
        count,
        Duration::from_millis(15),
    );
    reloader.join().unwrap();
    let got = rx.count();
    assert_eq!(
        got, count,
        "packets lost on an unchanged route during reload"
    );
    assert!(
        cache_line(&net, Ipv4Addr::new(225, 1, 1, 2), SND4).is_none(),
        "removed route still there"
    );
    assert!(
        cache_line(&net, Ipv4Addr::new(225, 1, 1, 3), SND4).is_some(),
        "added route missing"
    );
    // The unchanged route was never reinstalled: its kernel counter saw every packet.
    let line = cache_line(&net, g1, SND4).expect("unchanged route");
    let pkts: u64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert_eq!(pkts, count as u64, "{line}");

    // A file with an error is refused as a whole and the routes keep forwarding.
    write(
        &conf,
        "phyint r0 enable\nphyint r1 enable\n\
         mroute from r0 source 192.0.2.1 group 225.1.1.1 to r1\n\
         mroute from r0 group 192.0.2.99 to r1\n",
    );
    d.proc.signal(Signal::SIGHUP);
    let refused = wait_until(Duration::from_secs(5), || {
        d.proc.output().contains("reload refused")
    });
    let log = d.proc.output();
    assert!(refused, "{log}");
    assert!(
        log.contains("b.conf:4:"),
        "error must name file and line: {log}"
    );
    assert!(
        cache_line(&net, Ipv4Addr::new(225, 1, 1, 3), SND4).is_some(),
        "bad reload removed a route"
    );
    assert_eq!(
        flow(&net, g1.into(), 6102, 5),
        5,
        "old routes must keep forwarding"
    );
}

#[test]
fn check_mode_reports_errors_with_lines_and_exits_78() {
    if !require_netns("check_mode_reports_errors_with_lines_and_exits_78") {
        return;
    }
    let dir = TempDir::new("chk");
    let bad = dir.path("bad.conf");
    write(
        &bad,
        "phyint eth0 enable\n\
         mroute from eth0 group 225.1.1.1 to eth1\n\
         mroute from eth0 group 10.1.1.1 to eth1\n\
         mgroup from eth0 group 225.1.1.1 sauce 192.0.2.1\n",
    );
    let out = std::process::Command::new(static_router())
        .args(["-F", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains("bad.conf:3:"), "{text}");
    assert!(text.contains("bad.conf:4:"), "{text}");
    assert!(!text.contains("bad.conf:2:"), "line 2 is fine: {text}");
    let good = dir.path("good.conf");
    write(&good, "mroute from eth0 group 225.1.1.1 to eth1\n");
    let out = std::process::Command::new(static_router())
        .args(["-F", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn two_tables_side_by_side_and_table_in_use_exits_69() {
    if !require_netns("two_tables_side_by_side_and_table_in_use_exits_69") {
        return;
    }
    let net = Line::new("tb");
    let dir = TempDir::new("tb");
    for n in ["t1", "t2", "t3"] {
        write(
            &dir.path(&format!("{n}.conf")),
            "phyint r0 enable\nphyint r1 enable\n",
        );
    }
    let mut a = start(&net.rtr, &dir, "t1", &["-t", "11"]);
    a.wait_ready();
    let mut b = start(&net.rtr, &dir, "t2", &["-t", "12"]);
    b.wait_ready();
    let mut c = start(&net.rtr, &dir, "t3", &["-t", "11"]);
    let code = c.proc.wait_exit(Duration::from_secs(10));
    let out = c.proc.output();
    assert_eq!(code, Some(69), "{out}");
    assert!(out.contains("table 11 is already in use"), "{out}");
    assert!(!c.pidfile.exists());
    // Both others still run.
    assert!(matches!(a.proc.child.try_wait(), Ok(None)));
    assert!(matches!(b.proc.child.try_wait(), Ok(None)));
}

#[test]
fn pid_file_appears_only_when_routes_are_in_the_kernel() {
    if !require_netns("pid_file_appears_only_when_routes_are_in_the_kernel") {
        return;
    }
    let net = Line::new("pf");
    let dir = TempDir::new("pf");
    let mut conf = String::from("phyint r0 enable\nphyint r1 enable\n");
    for i in 0..2000u32 {
        conf.push_str(&format!(
            "mroute from r0 source 192.0.2.1 group 225.{}.{}.{} to r1\n",
            10 + i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    write(&dir.path("p.conf"), &conf);
    let d = start(&net.rtr, &dir, "p", &["-d", "1"]);
    let t0 = Instant::now();
    // Watch: the moment the PID file exists, every route must be in the kernel.
    let mut seen = false;
    while t0.elapsed() < Duration::from_secs(15) {
        if d.pidfile.exists() {
            let routes = net.rtr.proc_net("ip_mr_cache").lines().count() - 1;
            assert_eq!(
                routes, 2000,
                "PID file written before all routes were installed"
            );
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(seen, "never became ready:\n{}", d.proc.output());
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "-d 1 must delay start-up"
    );
}

#[test]
fn script_hook_and_privilege_drop() {
    if !require_netns("script_hook_and_privilege_drop") {
        return;
    }
    let net = Line::new("sh");
    let dir = TempDir::new("sh");
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let trace = dir.path("trace");
    let script = dir.path("hook.sh");
    write(
        &script,
        &format!(
            "#!/bin/sh\necho \"$1 source=$source group=$group\" >> {}\n",
            trace.display()
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // The script runs as root at start-up and as nobody after the privilege drop.
    write(&trace, "");
    std::fs::set_permissions(&trace, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    write(
        &dir.path("h.conf"),
        "phyint r0 enable\nphyint r1 enable\nmroute from r0 group 225.2.2.2 to r1\n",
    );
    let mut d = start(
        &net.rtr,
        &dir,
        "h",
        &["-e", script.to_str().unwrap(), "-p", "nobody"],
    );
    d.wait_ready();
    let pid = d.proc.child.id();
    // `ip netns exec` execs the daemon, so the child pid is the daemon.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let got = wait_until(Duration::from_secs(5), || {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.contains("65534"))
    });
    assert!(got, "daemon did not become nobody: {status}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let cap_eff = status
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .map(|l| l[7..].trim().to_string())
        .unwrap();
    assert_eq!(
        u64::from_str_radix(&cap_eff, 16).unwrap(),
        1 << 12,
        "only CAP_NET_ADMIN: {cap_eff}"
    );
    // The script ran with `reload` at start-up, and with `install` when a (*,G) route was learned,
    // while the daemon runs as nobody with only CAP_NET_ADMIN.
    assert_eq!(flow(&net, "225.2.2.2".parse().unwrap(), 6201, 3), 3);
    let ok = wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&trace).is_ok_and(|t| t.contains("install"))
    });
    let t = std::fs::read_to_string(&trace).unwrap_or_default();
    assert!(ok, "script trace: {t:?}\n{}", d.proc.output());
    assert!(t.lines().next().unwrap_or("").starts_with("reload"), "{t}");
    assert!(
        t.contains("install source=192.0.2.1 group=225.2.2.2"),
        "{t}"
    );
}

#[test]
fn mrdisc_on_phyints_that_say_so() {
    use mcroute::engine::mrdisc::Kind;
    use mcroute::Family;
    use support::mrd::{of, solicit, Capture};
    if !require_netns("mrdisc_on_phyints_that_say_so") {
        return;
    }
    let net = Line::new("md");
    let dir = TempDir::new("md");
    write(
        &dir.path("m.conf"),
        "phyint r0 enable mrdisc\nphyint r1 enable\n",
    );
    let on = Capture::start(&net.snd, "s0");
    let off = Capture::start(&net.rcv, "c0");
    let mut d = start(&net.rtr, &dir, "m", &["-m", "4"]);
    d.wait_ready();
    // Initial fast advertisements, then one answer to a solicitation.
    std::thread::sleep(Duration::from_millis(2500));
    solicit(&net.snd, "s0", Family::V4);
    solicit(&net.snd, "s0", Family::V6);
    std::thread::sleep(Duration::from_millis(3000));
    d.proc.signal(Signal::SIGTERM);
    assert_eq!(
        d.proc.wait_exit(Duration::from_secs(5)),
        Some(0),
        "{}",
        d.proc.output()
    );
    std::thread::sleep(Duration::from_millis(200));
    let seen = on.finish();
    let quiet = off.finish();
    for family in [Family::V4, Family::V6] {
        let adv = of(&seen, family, Kind::Advertisement);
        assert!(adv.len() >= 3, "{family}: advertisements on s0: {adv:?}");
        assert!(
            adv.iter()
                .all(|a| a.hop_limit == 1 && a.router_alert && a.checksum_ok),
            "{adv:?}"
        );
        let term = of(&seen, family, Kind::Termination);
        assert_eq!(term.len(), 1, "{family}: one termination at exit: {seen:?}");
    }
    assert!(
        quiet.iter().all(|s| s.kind == Kind::Solicitation),
        "no mrdisc on r1 (no mrdisc in its phyint): {quiet:?}"
    );
}

#[test]
fn killed_daemon_leaves_no_routes_and_a_restart_restores_them() {
    if !require_netns("killed_daemon_leaves_no_routes_and_a_restart_restores_them") {
        return;
    }
    let net = Line::new("kr");
    let dir = TempDir::new("kr");
    write(
        &dir.path("k.conf"),
        "phyint r0 enable\nphyint r1 enable\n\
         mroute from r0 source 192.0.2.1 group 225.1.1.1 to r1\n\
         mroute from r0 group 225.2.0.0/16 to r1\n",
    );
    let mut d = start(&net.rtr, &dir, "k", &[]);
    d.wait_ready();
    assert_eq!(flow(&net, "225.2.0.9".parse().unwrap(), 6301, 3), 3);
    assert!(cache_line(&net, Ipv4Addr::new(225, 2, 0, 9), SND4).is_some());
    // SIGKILL: no clean-up code runs, yet the kernel flushes the table with the socket.
    d.proc.signal(Signal::SIGKILL);
    let _ = d.proc.wait_exit(Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(2), || net
            .rtr
            .proc_net("ip_mr_cache")
            .lines()
            .count()
            == 1),
        "routes left in the kernel after the daemon died:\n{}",
        net.rtr.proc_net("ip_mr_cache")
    );
    assert!(
        net.rtr.proc_net("ip_mr_vif").lines().count() == 1,
        "VIFs left behind"
    );
    // The stale PID file and socket do not stop a restart, which restores everything.
    let mut again = start(&net.rtr, &dir, "k", &[]);
    again.wait_ready();
    assert!(
        cache_line(&net, Ipv4Addr::new(225, 1, 1, 1), SND4).is_some(),
        "(S,G) restored"
    );
    assert_eq!(
        flow(&net, "225.2.0.9".parse().unwrap(), 6302, 3),
        3,
        "learned routes come back"
    );
}
