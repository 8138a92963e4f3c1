//! Side by side: the same smcroute.conf given to SMCRoute's smcrouted (the Debian package,
//! when installed; `.ci/run` installs it) and to static-router, in two identical
//! sender — router — receiver topologies, must give the same kernel routes (compared by
//! interface name, since VIF numbers may differ) and the same forwarding.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use support::*;

const CONF: &str = "\
phyint r0 enable
phyint r1 enable ttl-threshold 3
mroute from r0 source 192.0.2.1 group 225.1.1.1 to r1
mroute from r0 group 225.2.2.2 to r1
mroute from r0 group 225.3.0.0/16 to r1
mroute from r0 source 192.0.2.0/24 group 225.4.4.4 to r1
mroute from r0 source 2001:db8:1::1 group ff0e::1 to r1
mroute from r0 group ff0e::2 to r1
";

/// (group, origin, iif name, sorted oif names with TTL) of every kernel route, both families.
fn kernel_routes(ns: &Netns) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (cache, vifs) in [("ip_mr_cache", "ip_mr_vif"), ("ip6_mr_cache", "ip6_mr_vif")] {
        let names: Vec<(String, String)> = ns
            .proc_net(vifs)
            .lines()
            .skip(1)
            .filter_map(|l| {
                let c: Vec<&str> = l.split_whitespace().collect();
                Some((c.first()?.to_string(), c.get(1)?.to_string()))
            })
            .collect();
        let name = |i: &str| {
            names
                .iter()
                .find(|(n, _)| n == i)
                .map_or(format!("?{i}"), |(_, name)| name.clone())
        };
        for l in ns.proc_net(cache).lines().skip(1) {
            let c: Vec<&str> = l.split_whitespace().collect();
            if c.len() < 6 {
                continue;
            }
            let mut oifs: Vec<String> = c[6..]
                .iter()
                .filter_map(|o| o.split_once(':'))
                .map(|(i, ttl)| format!("{}:{ttl}", name(i)))
                .collect();
            oifs.sort();
            out.insert(format!(
                "{} {} {} [{}]",
                c[0],
                c[1],
                name(c[2]),
                oifs.join(" ")
            ));
        }
    }
    out
}

fn run_daemon(net: &Line, dir: &TempDir, program: &Path, tag: &str) -> NsProcess {
    let conf = dir.path(&format!("{tag}.conf"));
    std::fs::write(&conf, CONF).unwrap();
    let pid = dir.path(&format!("{tag}.pid"));
    let sock = dir.path(&format!("{tag}.sock"));
    let p = NsProcess::start(
        &net.rtr,
        program,
        &[
            "-n",
            "-N",
            "-f",
            conf.to_str().unwrap(),
            "-P",
            pid.to_str().unwrap(),
            "-u",
            sock.to_str().unwrap(),
        ],
        &dir.path(&format!("{tag}.log")),
    );
    assert!(
        wait_until(Duration::from_secs(10), || pid.exists()),
        "{} did not start: {}",
        program.display(),
        p.output()
    );
    p
}

/// Sends 3 packets to each group; returns what the receiver got per group.
fn traffic(net: &Line) -> Vec<(IpAddr, usize)> {
    let groups: [IpAddr; 7] = [
        "225.1.1.1".parse().unwrap(),
        "225.2.2.2".parse().unwrap(),
        "225.3.9.9".parse().unwrap(),
        "225.4.4.4".parse().unwrap(),
        "225.8.8.8".parse().unwrap(),
        "ff0e::1".parse().unwrap(),
        "ff0e::2".parse().unwrap(),
    ];
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let rx = Receiver::start(
                &net.rcv,
                "c0",
                *g,
                7100 + i as u16,
                Duration::from_millis(600),
            );
            send(
                &net.snd,
                "s0",
                *g,
                7100 + i as u16,
                3,
                Duration::from_millis(20),
            );
            (*g, rx.count())
        })
        .collect()
}

#[test]
fn same_config_same_kernel_state_as_smcrouted() {
    if !require_netns("same_config_same_kernel_state_as_smcrouted") {
        return;
    }
    let smcrouted = Path::new("/usr/sbin/smcrouted");
    if !smcrouted.exists() {
        if std::env::var("MCROUTE_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
            panic!(
                "smcrouted is not installed (apt-get install smcroute) but MCROUTE_REQUIRE_NETNS=1"
            );
        }
        eprintln!("\n*** SKIPPED same_config_same_kernel_state_as_smcrouted: smcrouted not installed ***\n");
        return;
    }
    let dir = TempDir::new("vs");
    let ours = Line::new("vo");
    let theirs = Line::new("vt");
    let _a = run_daemon(&ours, &dir, &workspace_bin("static-router", true), "ours");
    let _b = run_daemon(&theirs, &dir, smcrouted, "theirs");
    std::thread::sleep(Duration::from_millis(300));
    let ours_start = kernel_routes(&ours.rtr);
    let theirs_start = kernel_routes(&theirs.rtr);
    assert_eq!(
        ours_start, theirs_start,
        "kernel routes after start-up differ"
    );
    assert!(!ours_start.is_empty());

    let ours_fwd = traffic(&ours);
    let theirs_fwd = traffic(&theirs);
    assert_eq!(
        ours_fwd, theirs_fwd,
        "forwarding differs (group, packets received)"
    );
    assert!(ours_fwd.iter().any(|(_, n)| *n == 3) && ours_fwd.iter().any(|(_, n)| *n == 0));
    let ours_after = kernel_routes(&ours.rtr);
    let theirs_after = kernel_routes(&theirs.rtr);
    assert_eq!(
        ours_after, theirs_after,
        "kernel routes after traffic differ"
    );
}
