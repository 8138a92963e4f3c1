//! mcroutectl against a running static-router in network namespaces: routes it adds forward
//! real traffic and show in /proc/net/ip_mr_cache, joins show in /proc/net/igmp, igmp6 and
//! mcfilter, show matches the kernel, errors are one line with a non-zero exit, and the
//! socket refuses strangers and survives garbage.
#![cfg(target_os = "linux")]

#[path = "../../mcroute/tests/support/mod.rs"]
mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use support::*;

fn ctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcroutectl"))
        .arg("-u")
        .arg(socket)
        .args(args)
        .output()
        .expect("run mcroutectl")
}

fn ok(socket: &Path, args: &[&str]) -> String {
    let out = ctl(socket, args);
    assert!(
        out.status.success(),
        "mcroutectl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(socket: &Path, args: &[&str]) -> String {
    let out = ctl(socket, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "mcroutectl {args:?} should fail"
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "one line of error: {err:?}");
    err
}

struct Setup {
    net: Line,
    _dir: TempDir,
    _daemon: NsProcess,
    socket: PathBuf,
}

fn setup(tag: &str, conf: &str) -> Setup {
    let net = Line::new(tag);
    let dir = TempDir::new(tag);
    let confp = dir.path("d.conf");
    std::fs::write(&confp, conf).unwrap();
    let socket = dir.path("d.sock");
    let pid = dir.path("d.pid");
    let daemon = NsProcess::start(
        &net.rtr,
        &workspace_bin("static-router", true),
        &[
            "-n",
            "-N",
            "-f",
            confp.to_str().unwrap(),
            "-u",
            socket.to_str().unwrap(),
            "-P",
            pid.to_str().unwrap(),
        ],
        &dir.path("d.log"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || pid.exists()),
        "daemon not ready: {}",
        daemon.output()
    );
    Setup {
        net,
        _dir: dir,
        _daemon: daemon,
        socket,
    }
}

fn kernel_has(net: &Line, g: Ipv4Addr, s: Ipv4Addr) -> Option<String> {
    net.rtr
        .proc_net("ip_mr_cache")
        .lines()
        .find(|l| l.starts_with(&format!("{} {}", proc_hex_v4(g), proc_hex_v4(s))))
        .map(str::to_string)
}

fn flow(net: &Line, group: IpAddr, port: u16) -> usize {
    let rx = Receiver::start(&net.rcv, "c0", group, port, Duration::from_millis(1000));
    send(&net.snd, "s0", group, port, 5, Duration::from_millis(20));
    rx.count()
}

#[test]
fn add_and_del_routes_forward_and_show_matches_kernel() {
    if !require_netns("add_and_del_routes_forward_and_show_matches_kernel") {
        return;
    }
    let s = setup("ca", "phyint r0 enable\nphyint r1 enable\n");
    let g = Ipv4Addr::new(225, 4, 4, 4);
    ok(&s.socket, &["add", "r0", "192.0.2.1", "225.4.4.4", "r1"]);
    let line = kernel_has(&s.net, g, SND4).expect("route in /proc/net/ip_mr_cache");
    assert!(line.trim_end().ends_with("1:1"), "{line}");
    assert_eq!(flow(&s.net, g.into(), 7001), 5);
    // show -d matches the kernel's counters.
    let shown = ok(&s.socket, &["-d", "show"]);
    let kernel_section = shown
        .split("Kernel MFC Table")
        .nth(1)
        .unwrap_or_else(|| panic!("{shown}"));
    let row = kernel_section
        .lines()
        .find(|l| l.starts_with("(192.0.2.1, 225.4.4.4)"))
        .unwrap_or_else(|| panic!("{shown}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    let kernel_pkts = kernel_has(&s.net, g, SND4)
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_string();
    assert_eq!(cols[3], kernel_pkts, "show -d packets vs kernel: {row}");
    assert_eq!(cols[3], "5");
    let json = ok(&s.socket, &["--json", "show"]);
    assert!(
        json.contains("\"kernel\":[{\"source\":\"192.0.2.1\",\"group\":\"225.4.4.4\",\"iif\":\"r0\",\"oifs\":[\"r1\"]}"),
        "{json}"
    );
    // (*,G) added at run time, abbreviated command.
    ok(&s.socket, &["a", "r0", "225.5.5.5", "r1"]);
    assert_eq!(flow(&s.net, "225.5.5.5".parse().unwrap(), 7002), 5);
    // del removes it from the kernel and traffic stops.
    ok(&s.socket, &["del", "r0", "192.0.2.1", "225.4.4.4"]);
    assert!(kernel_has(&s.net, g, SND4).is_none());
    let err = fails(&s.socket, &["del", "r0", "192.0.2.1", "225.4.4.4"]);
    assert!(err.contains("no such route"), "{err}");
    let err = fails(&s.socket, &["add", "nope0", "225.1.1.1", "r1"]);
    assert!(err.contains("unknown interface nope0"), "{err}");
    // A typo in an OIF is refused too (issue 16: it installed a stop filter), exit 1,
    // nothing installed.
    let err = fails(&s.socket, &["add", "r0", "192.0.2.1", "225.4.4.9", "nope0"]);
    assert!(err.contains("unknown interface nope0"), "{err}");
    assert!(kernel_has(&s.net, "225.4.4.9".parse().unwrap(), SND4).is_none());
    assert!(!ok(&s.socket, &["show"]).contains("225.4.4.9"));
    // Batch: many routes over one connection.
    let mut batch = String::from("# routes\n");
    for i in 0..2000u32 {
        batch.push_str(&format!(
            "add r0 192.0.2.1 225.20.{}.{} r1\n",
            i / 256,
            i % 256
        ));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcroutectl"))
        .arg("-u")
        .arg(&s.socket)
        .arg("-b")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(batch.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let n = s
        .net
        .rtr
        .proc_net("ip_mr_cache")
        .lines()
        .filter(|l| l.ends_with("1:1  ") || l.trim_end().ends_with("1:1"))
        .count();
    assert!(n >= 2000, "batch routes in the kernel: {n}");
}

#[test]
fn join_and_leave_show_in_proc() {
    if !require_netns("join_and_leave_show_in_proc") {
        return;
    }
    let s = setup("cj", "phyint r0 enable\nphyint r1 enable\n");
    ok(&s.socket, &["join", "r1", "225.6.6.6"]);
    ok(&s.socket, &["join", "r1", "192.0.2.1", "232.1.1.1"]);
    ok(&s.socket, &["j", "r1", "ff0e::6"]);
    let igmp = s.net.rtr.proc_net("igmp");
    assert!(
        igmp.contains(&proc_hex_v4(Ipv4Addr::new(225, 6, 6, 6))),
        "{igmp}"
    );
    let mcf = s.net.rtr.proc_net("mcfilter");
    assert!(
        mcf.contains(&format!("0x{:08x}", u32::from(Ipv4Addr::new(232, 1, 1, 1))))
            && mcf.contains(&format!("0x{:08x}", u32::from(SND4))),
        "{mcf}"
    );
    let igmp6 = s.net.rtr.proc_net("igmp6");
    assert!(
        igmp6.contains(&proc_hex_v6("ff0e::6".parse().unwrap())),
        "{igmp6}"
    );
    let groups = ok(&s.socket, &["s", "g"]);
    assert!(
        groups.contains("(*, 225.6.6.6)") && groups.contains("(192.0.2.1, 232.1.1.1)"),
        "{groups}"
    );
    let err = fails(&s.socket, &["join", "r1", "225.6.6.6"]);
    assert!(err.contains("already joined"), "{err}");
    let err = fails(&s.socket, &["join", "nope0", "225.6.6.7"]);
    assert!(err.contains("unknown interface nope0"), "{err}");
    ok(&s.socket, &["leave", "r1", "225.6.6.6"]);
    ok(&s.socket, &["leave", "r1", "192.0.2.1", "232.1.1.1"]);
    assert!(!s
        .net
        .rtr
        .proc_net("igmp")
        .contains(&proc_hex_v4(Ipv4Addr::new(225, 6, 6, 6))));
    assert!(!s.net.rtr.proc_net("mcfilter").contains("0xe8010101"));
    let err = fails(&s.socket, &["leave", "r1", "225.6.6.6"]);
    assert!(err.contains("no group to leave"), "{err}");
}

#[test]
fn errors_strangers_and_garbage() {
    if !require_netns("errors_strangers_and_garbage") {
        return;
    }
    let s = setup("cg", "phyint r0 enable\nphyint r1 enable\n");
    // Not running: says which socket was tried.
    let absent = s.socket.with_file_name("absent.sock");
    let err = fails(&absent, &["show"]);
    assert!(
        err.contains("daemon not running") && err.contains("absent.sock"),
        "{err}"
    );
    // A user who is neither root nor in the socket's group is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_mcroutectl"))
        .arg("-u")
        .arg(&s.socket)
        .arg("show")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("permission denied"), "{err}");
    // Garbage, a half request and a disconnect leave the daemon serving.
    {
        use std::io::Write;
        let mut g = std::os::unix::net::UnixStream::connect(&s.socket).unwrap();
        g.write_all(b"\x00\xffgarbage\r\n").unwrap();
        let mut h = std::os::unix::net::UnixStream::connect(&s.socket).unwrap();
        h.write_all(b"MCR\x01\x00\x00\x01\x00partial").unwrap();
        drop(h);
    }
    let shown = ok(&s.socket, &["show", "interfaces"]);
    assert!(shown.contains(" r0 ") && shown.contains(" r1 "), "{shown}");
    // Usage errors exit 64 without contacting anything.
    let out = ctl(&s.socket, &["frobnicate"]);
    assert_eq!(out.status.code(), Some(64));
}
