//! Scale benchmark, run as root: `sudo cargo bench -p mcroute --bench scale`.
//!
//! Builds network namespaces (sender — router — receiver) and prints one line per case:
//! (a) start-to-ready of static-router with N (S,G) routes beside N raw `MRT_ADD_MFC` calls
//!     made by this program in the same run (and smcrouted, when installed, up to 10,000),
//! (b) an upcall storm: one (*,G) rule, N new sources sending one packet each,
//! (c) resident memory of static-router with 100,000 routes,
//! (d) `mcroutectl -b` adding 10,000 routes over the control socket.
//! `MCROUTE_SCALE_SIZES=1000,10000` limits the sizes of (a); `MCROUTE_SCALE_REPEAT=N` sets
//! how many runs of each side of (a) the medians are taken over (5).
//! `MCROUTE_SCALE_ONLY=a` runs only case (a).

#[cfg(target_os = "linux")]
#[path = "../mcroute/tests/support/mod.rs"]
mod support;

#[cfg(target_os = "linux")]
mod imp {

    use std::net::Ipv4Addr;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use super::support::*;

    /// The baseline speaks to the kernel directly, so it carries its own copy of the two
    /// structures it needs (`linux/mroute.h`; mcroute's ABI module is private).
    #[allow(non_camel_case_types)]
    mod abi {
        pub const MRT_INIT: i32 = 200;
        pub const MRT_ADD_VIF: i32 = 202;
        pub const MRT_ADD_MFC: i32 = 204;
        pub const VIFF_USE_IFINDEX: u8 = 0x8;

        /// `struct vifctl` with the `vifc_lcl_ifindex` arm of its union.
        #[repr(C)]
        pub struct vifctl {
            pub vifc_vifi: u16,
            pub vifc_flags: u8,
            pub vifc_threshold: u8,
            pub vifc_rate_limit: u32,
            pub vifc_lcl_ifindex: i32,
            pub vifc_rmt_addr: u32,
        }

        /// `struct mfcctl`.
        #[repr(C)]
        #[derive(Default)]
        pub struct mfcctl {
            pub mfcc_origin: u32,
            pub mfcc_mcastgrp: u32,
            pub mfcc_parent: u16,
            pub mfcc_ttls: [u8; 32],
            pub mfcc_pkt_cnt: u32,
            pub mfcc_byte_cnt: u32,
            pub mfcc_wrong_if: u32,
            pub mfcc_expire: i32,
        }
    }

    fn route_line(i: u32) -> (Ipv4Addr, Ipv4Addr) {
        // Sources in 192.0.2.0/24, groups counting up in 225/8.
        (
            Ipv4Addr::new(192, 0, 2, 1 + (i % 200) as u8),
            Ipv4Addr::from(u32::from(Ipv4Addr::new(225, 0, 0, 0)) + i / 200 + 1),
        )
    }

    fn config(n: u32) -> String {
        let mut s = String::with_capacity(n as usize * 64);
        s.push_str("phyint r0 enable\nphyint r1 enable\n");
        for i in 0..n {
            let (src, grp) = route_line(i);
            s.push_str(&format!("mroute from r0 source {src} group {grp} to r1\n"));
        }
        s
    }

    fn setsockopt<T>(fd: &OwnedFd, level: i32, name: i32, v: &T) {
        // SAFETY: v is a live T of the given size.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                level,
                name,
                v as *const T as *const libc::c_void,
                std::mem::size_of::<T>() as u32,
            )
        };
        assert_eq!(
            r,
            0,
            "setsockopt {name}: {}",
            std::io::Error::last_os_error()
        );
    }

    /// N raw MRT_ADD_MFC calls in the router namespace; returns their duration.
    fn raw_loop(net: &Line, n: u32) -> Duration {
        let r0 = net.rtr.ifindex("r0");
        let r1 = net.rtr.ifindex("r1");
        net.rtr.run(move || {
            // SAFETY: a new socket owned by the OwnedFd.
            let fd = unsafe {
                OwnedFd::from_raw_fd(libc::socket(
                    libc::AF_INET,
                    libc::SOCK_RAW,
                    libc::IPPROTO_IGMP,
                ))
            };
            setsockopt(&fd, libc::IPPROTO_IP, abi::MRT_INIT, &1i32);
            for (i, idx) in [r0, r1].into_iter().enumerate() {
                let v = abi::vifctl {
                    vifc_vifi: i as u16,
                    vifc_flags: abi::VIFF_USE_IFINDEX,
                    vifc_threshold: 1,
                    vifc_rate_limit: 0,
                    vifc_lcl_ifindex: idx as i32,
                    vifc_rmt_addr: 0,
                };
                setsockopt(&fd, libc::IPPROTO_IP, abi::MRT_ADD_VIF, &v);
            }
            let t = Instant::now();
            for i in 0..n {
                let (src, grp) = route_line(i);
                let mut m = abi::mfcctl {
                    mfcc_origin: u32::from_ne_bytes(src.octets()),
                    mfcc_mcastgrp: u32::from_ne_bytes(grp.octets()),
                    mfcc_parent: 0,
                    ..Default::default()
                };
                m.mfcc_ttls[1] = 1;
                setsockopt(&fd, libc::IPPROTO_IP, abi::MRT_ADD_MFC, &m);
            }
            t.elapsed()
        })
    }

    fn kernel_routes(ns: &Netns) -> usize {
        ns.proc_net("ip_mr_cache").lines().count().saturating_sub(1)
    }

    /// Starts `program` with `conf` in the router namespace; returns the process and the time
    /// from spawn to its PID file.
    fn start_daemon(
        net: &Line,
        dir: &TempDir,
        program: &Path,
        tag: &str,
        conf: &str,
    ) -> (NsProcess, Duration, PathBuf) {
        let c = dir.path(&format!("{tag}.conf"));
        std::fs::write(&c, conf).unwrap();
        let pid = dir.path(&format!("{tag}.pid"));
        let sock = dir.path(&format!("{tag}.sock"));
        let t = Instant::now();
        let p = NsProcess::start(
            &net.rtr,
            program,
            &[
                "-n",
                "-N",
                "-l",
                "err",
                "-f",
                c.to_str().unwrap(),
                "-P",
                pid.to_str().unwrap(),
                "-u",
                sock.to_str().unwrap(),
            ],
            &dir.path(&format!("{tag}.log")),
        );
        // Polled every millisecond: the readiness poll must not dominate small cases.
        let deadline = t + Duration::from_secs(600);
        while !pid.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let ok = pid.exists();
        let took = t.elapsed();
        assert!(ok, "{tag} never became ready: {}", p.output());
        (p, took, sock)
    }

    fn secs(d: Duration) -> String {
        format!("{:.3} s", d.as_secs_f64())
    }

    fn median(v: &mut [Duration]) -> Duration {
        v.sort();
        v[v.len() / 2]
    }

    fn case_a(sizes: &[u32], repeats: usize, smcrouted: Option<&Path>) {
        let ours = workspace_bin("static-router", true);
        for &n in sizes {
            let dir = TempDir::new("scale-a");
            let conf = config(n);
            // Alternating runs of the raw loop and of static-router, each in fresh
            // namespaces; the medians are compared (one run of either varies by tens of
            // percent on a shared machine).
            let mut raws = Vec::new();
            let mut tooks = Vec::new();
            let mut installed = 0;
            // The kernel tears a deleted namespace (and its routes) down in the background:
            // each timed run waits for the previous one's to be gone, so that neither side
            // is measured against that work.
            let settle = || std::thread::sleep(Duration::from_millis(u64::from(n / 100).max(50)));
            for _ in 0..repeats {
                let net = Line::new("sa");
                settle();
                raws.push(raw_loop(&net, n));
                drop(net);
                let net = Line::new("sb");
                settle();
                let (p, took, _) = start_daemon(&net, &dir, &ours, "ours", &conf);
                installed = kernel_routes(&net.rtr);
                drop(p);
                tooks.push(took);
            }
            let (lo_t, hi_t) = (*tooks.iter().min().unwrap(), *tooks.iter().max().unwrap());
            let (lo_r, hi_r) = (*raws.iter().min().unwrap(), *raws.iter().max().unwrap());
            let took = median(&mut tooks);
            let raw = median(&mut raws);
            let mut line = format!(
                "(a) start-to-ready {n:>6} (S,G) routes, median of {repeats}: static-router {} ({}-{}, {installed} in kernel), raw MRT_ADD_MFC loop {} ({}-{}), ratio {:.2}x",
                secs(took),
                secs(lo_t),
                secs(hi_t),
                secs(raw),
                secs(lo_r),
                secs(hi_r),
                took.as_secs_f64() / raw.as_secs_f64()
            );
            if let Some(smc) = smcrouted.filter(|_| n <= 10_000) {
                let net = Line::new("sc");
                let (p, t_smc, _) = start_daemon(&net, &dir, smc, "smc", &conf);
                let installed = kernel_routes(&net.rtr);
                drop(p);
                line.push_str(&format!(
                    "; smcrouted {} ({installed} in kernel), {:.1}x static-router",
                    secs(t_smc),
                    t_smc.as_secs_f64() / took.as_secs_f64()
                ));
            }
            println!("{line}");
        }
    }

    fn learned_routes(ns: &Netns, group: Ipv4Addr) -> usize {
        let g = proc_hex_v4(group);
        ns.proc_net("ip_mr_cache")
            .lines()
            .filter(|l| l.starts_with(&g) && l.trim_end().ends_with("1:1"))
            .count()
    }

    fn case_b(program: &Path, name: &str, sizes: &[u32]) {
        for &n in sizes {
            let dir = TempDir::new("scale-b");
            let net = Line::new("st");
            let group = Ipv4Addr::new(225, 77, 0, 1);
            let conf =
                "phyint r0 enable\nphyint r1 enable\nmroute from r0 group 225.77.0.0/16 to r1\n";
            let (_p, _, _) = start_daemon(&net, &dir, program, name, conf);
            let t0 = Instant::now();
            let sent = send_from_many_sources(&net.snd, "s0", n, group);
            // Wait until the count stops growing (2 s without change) or all are in.
            let mut last = 0;
            let mut last_change = Instant::now();
            let mut done_at = t0;
            while last_change.elapsed() < Duration::from_secs(2) && last < n as usize {
                let c = learned_routes(&net.rtr, group);
                if c != last {
                    last = c;
                    last_change = Instant::now();
                    done_at = Instant::now();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            println!(
                "(b) upcall storm {n:>6} new sources for one (*,G) rule, sent in {}: {name} installed {last} of {n} ({:.1}%), last one after {}",
                secs(sent),
                100.0 * last as f64 / n as f64,
                secs(done_at.duration_since(t0))
            );
        }
    }

    fn case_c(program: &Path) {
        let dir = TempDir::new("scale-c");
        let net = Line::new("sm");
        let (p, _, _) = start_daemon(&net, &dir, program, "mem", &config(100_000));
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", p.child.id())).unwrap_or_default();
        let rss = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap_or("VmRSS: ?")
            .to_string();
        let base = {
            let net0 = Line::new("sm0");
            let (q, _, _) = start_daemon(
                &net0,
                &dir,
                program,
                "mem0",
                "phyint r0 enable\nphyint r1 enable\n",
            );
            std::fs::read_to_string(format!("/proc/{}/status", q.child.id()))
                .unwrap_or_default()
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .unwrap_or("VmRSS: ?")
                .to_string()
        };
        println!(
            "(c) resident memory of static-router: with 100,000 routes {}; with none {}",
            rss.trim_start_matches("VmRSS:").trim(),
            base.trim_start_matches("VmRSS:").trim()
        );
        drop(p);
    }

    fn case_d(program: &Path) {
        let dir = TempDir::new("scale-d");
        let net = Line::new("sd");
        let (_p, _, sock) = start_daemon(
            &net,
            &dir,
            program,
            "ctl",
            "phyint r0 enable\nphyint r1 enable\n",
        );
        let mut batch = String::new();
        for i in 0..10_000u32 {
            let (src, grp) = route_line(i);
            batch.push_str(&format!("add r0 {src} {grp} r1\n"));
        }
        let ctl = workspace_bin("mcroutectl", false);
        let t = Instant::now();
        let mut child = std::process::Command::new(ctl)
            .arg("-u")
            .arg(&sock)
            .arg("-b")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), batch.as_bytes()).unwrap();
        let ok = child.wait().unwrap().success();
        let took = t.elapsed();
        println!(
            "(d) mcroutectl -b adding 10,000 routes: {} ({} in kernel, exit {})",
            secs(took),
            kernel_routes(&net.rtr),
            if ok { "ok" } else { "FAILED" }
        );
    }

    pub fn main() {
        if std::env::args().any(|a| a == "--list" || a == "--test") {
            return; // `cargo test --benches` probes the harness; nothing to list.
        }
        if !nix::unistd::geteuid().is_root() {
            println!("scale benchmark needs root (network namespaces): skipped");
            return;
        }
        let sizes: Vec<u32> = std::env::var("MCROUTE_SCALE_SIZES")
            .ok()
            .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
        let smcrouted = Path::new("/usr/sbin/smcrouted");
        let smcrouted = smcrouted.exists().then_some(smcrouted);
        let ours = workspace_bin("static-router", true);
        let repeats = std::env::var("MCROUTE_SCALE_REPEAT")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(5);
        case_a(&sizes, repeats, smcrouted);
        if std::env::var("MCROUTE_SCALE_ONLY").is_ok_and(|v| v == "a") {
            return;
        }
        case_b(&ours, "static-router", &[1_000, 10_000]);
        if let Some(smc) = smcrouted {
            case_b(smc, "smcrouted", &[1_000, 10_000]);
        }
        case_c(&ours);
        case_d(&ours);
    }
}

#[cfg(target_os = "linux")]
fn main() {
    imp::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("the scale benchmark uses Linux network namespaces: skipped on this OS");
}
