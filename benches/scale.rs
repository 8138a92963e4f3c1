//! Scale benchmark, run as root: `sudo cargo bench -p mcroute --bench scale`.
//!
//! Builds network namespaces (sender — router — receiver) and prints one line per case,
//! each figure beside a baseline measured in the same run (the raw kernel calls this program
//! makes itself, or smcrouted when `/usr/sbin/smcrouted` is installed), as a ratio:
//! (a) start-to-ready of static-router with N (S,G) routes beside N raw `MRT_ADD_MFC` calls
//!     (and smcrouted, up to 10,000),
//! (b) first packets: K = 10,000 (S,G) routes installed and one (*,G) rule; N = 5,000 new
//!     sources each send one packet to the rule's group; a receiver counts what arrives,
//!     for static-router and smcrouted,
//! (c) resident memory of static-router with 100,000 routes, as bytes per route above an
//!     empty daemon (and smcrouted's at 10,000),
//! (d) `mcroutectl -b` adding 10,000 routes over the control socket,
//! (e) stop: SIGTERM to exit of static-router with 100,000 routes, beside closing a raw
//!     table of 100,000 routes (the kernel's own flush),
//! (f) reload (SIGHUP) of an unchanged 100,000-route file, beside the raw loop of (a).
//! (g) `mcroutectl show` with 100,000 routes: time and the daemon's peak memory growth;
//!     `MCROUTE_SCALE_BASELINE=DIR` runs it also with DIR's release build (DIR/mcroutectl,
//!     DIR/examples/static-router), for ratios of the same run.
//! `MCROUTE_SCALE_SIZES=1000,10000` limits the sizes of (a); `MCROUTE_SCALE_REPEAT=N` sets
//! how many runs of each side of (a), (e) and (f) the medians are taken over (5).
//! `MCROUTE_SCALE_ONLY=a,c` runs only the cases listed.

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

    fn setsockopt_fd<T>(fd: std::os::fd::BorrowedFd<'_>, level: i32, name: i32, v: &T) {
        // SAFETY: v is a live T of the given size; fd is open.
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
        raw_table(net, n).0
    }

    /// N raw MRT_ADD_MFC calls in the router namespace, then the table closed (the kernel
    /// flushes it); returns the durations of both.
    fn raw_table(net: &Line, n: u32) -> (Duration, Duration) {
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
            let added = t.elapsed();
            let t = Instant::now();
            drop(fd);
            (added, t.elapsed())
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
        start_daemon_at(net, dir, program, tag, conf, "err")
    }

    /// [`start_daemon`] with log level `level`.
    fn start_daemon_at(
        net: &Line,
        dir: &TempDir,
        program: &Path,
        tag: &str,
        conf: &str,
        level: &str,
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
                level,
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

    /// A receiver in the receiver namespace: joined to `group` on c0, counting every UDP
    /// datagram to port 4001 until none came for `quiet`.
    fn count_arrivals(
        net: &Line,
        group: Ipv4Addr,
        quiet: Duration,
    ) -> (
        std::thread::JoinHandle<usize>,
        std::sync::mpsc::Receiver<()>,
    ) {
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let h = net.rcv.spawn(move || {
            let sock = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 4001)).unwrap();
            sock.join_multicast_v4(&group, &RCV4).unwrap();
            // Room for the whole burst: what is counted is what the router forwarded, not
            // what this thread kept up with.
            let fd = std::os::fd::AsFd::as_fd(&sock);
            setsockopt_fd(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &(64i32 << 20));
            sock.set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            ready_tx.send(()).unwrap();
            let mut n = 0;
            let mut last = Instant::now();
            let mut buf = [0u8; 2048];
            // The first packets may take a while (the sender starts after this).
            while last.elapsed() < quiet || n == 0 && last.elapsed() < quiet * 5 {
                if sock.recv_from(&mut buf).is_ok() {
                    n += 1;
                    last = Instant::now();
                }
            }
            n
        });
        (h, ready)
    }

    /// Case (b): `installed` (S,G) routes and a (*,G) rule; `n` new sources send one packet
    /// each to the rule's group; returns how many arrived, how many routes the daemon
    /// learned, and how long sending took.
    fn first_packets(
        program: &Path,
        name: &str,
        installed: u32,
        n: u32,
    ) -> (usize, usize, Duration) {
        let dir = TempDir::new("scale-b");
        let net = Line::new("st");
        let group = Ipv4Addr::new(225, 77, 0, 1);
        let mut conf = config(installed);
        conf.push_str(&format!("mroute from r0 group {group} to r1\n"));
        let (_p, _, _) = start_daemon(&net, &dir, program, name, &conf);
        let (receiver, ready) = count_arrivals(&net, group, Duration::from_secs(2));
        ready.recv().unwrap();
        let sent = send_from_many_sources(&net.snd, "s0", n, group);
        let arrived = receiver.join().unwrap();
        (arrived, learned_routes(&net.rtr, group), sent)
    }

    fn learned_routes(ns: &Netns, group: Ipv4Addr) -> usize {
        let g = proc_hex_v4(group);
        ns.proc_net("ip_mr_cache")
            .lines()
            .filter(|l| l.starts_with(&g) && l.trim_end().ends_with("1:1"))
            .count()
    }

    fn case_b(ours: &Path, smcrouted: Option<&Path>) {
        let (k, n) = (10_000, 5_000);
        let (got, learned, sent) = first_packets(ours, "static-router", k, n);
        let mut line = format!(
            "(b) first packets: {k} routes installed, {n} new sources sending one packet each to a (*,G) rule (sent in {}): static-router forwarded {got} of {n} ({:.1}%, {learned} routes learned)",
            secs(sent),
            100.0 * got as f64 / f64::from(n)
        );
        if let Some(smc) = smcrouted {
            let (s_got, s_learned, _) = first_packets(smc, "smcrouted", k, n);
            line.push_str(&format!(
                "; smcrouted forwarded {s_got} of {n} ({:.1}%, {s_learned} learned); static-router/smcrouted {:.1}x",
                100.0 * s_got as f64 / f64::from(n),
                got as f64 / (s_got.max(1)) as f64
            ));
        }
        println!("{line}");
    }

    fn rss_kib(pid: u32) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// Resident memory of `program` with `n` routes and with none; KiB.
    fn resident(program: &Path, tag: &str, n: u32) -> (u64, u64) {
        let dir = TempDir::new("scale-c");
        let net = Line::new("sm");
        let (p, _, _) = start_daemon(&net, &dir, program, tag, &config(n));
        // A moment for anything the daemon does right after it is ready.
        std::thread::sleep(Duration::from_millis(200));
        let with = rss_kib(p.child.id());
        drop(p);
        drop(net);
        let net0 = Line::new("sm0");
        let (q, _, _) = start_daemon(
            &net0,
            &dir,
            program,
            tag,
            "phyint r0 enable\nphyint r1 enable\n",
        );
        std::thread::sleep(Duration::from_millis(200));
        (with, rss_kib(q.child.id()))
    }

    fn case_c(ours: &Path, smcrouted: Option<&Path>) {
        let n = 100_000;
        let (with, without) = resident(ours, "mem", n);
        let per = (with.saturating_sub(without) * 1024) as f64 / f64::from(n);
        let mut line = format!(
            "(c) resident memory of static-router: {:.1} MB with {n} routes, {:.1} MB with none: {per:.0} bytes per route",
            with as f64 / 1024.0,
            without as f64 / 1024.0
        );
        if let Some(smc) = smcrouted {
            // smcrouted takes minutes to load 100,000 routes: 10,000.
            let m = 10_000;
            let (s_with, s_without) = resident(smc, "smcmem", m);
            let s_per = (s_with.saturating_sub(s_without) * 1024) as f64 / f64::from(m);
            line.push_str(&format!(
                "; smcrouted {s_per:.0} bytes per route ({:.1} MB with {m}); static-router/smcrouted {:.2}x",
                s_with as f64 / 1024.0,
                per / s_per.max(1.0)
            ));
        }
        println!("{line}");
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

    /// Case (e): SIGTERM to exit with `n` routes, beside closing a raw table of `n` routes.
    fn case_e(ours: &Path, n: u32, repeats: usize) {
        let dir = TempDir::new("scale-e");
        let conf = config(n);
        let (mut stops, mut closes) = (Vec::new(), Vec::new());
        for _ in 0..repeats {
            let net = Line::new("sx");
            closes.push(raw_table(&net, n).1);
            drop(net);
            let net = Line::new("sy");
            let (mut p, _, _) = start_daemon(&net, &dir, ours, "stop", &conf);
            let t = Instant::now();
            p.signal(nix::sys::signal::Signal::SIGTERM);
            while !matches!(p.child.try_wait(), Ok(Some(_)))
                && t.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            stops.push(t.elapsed());
        }
        let (stop, close) = (median(&mut stops), median(&mut closes));
        println!(
            "(e) stop with {n} routes, median of {repeats}: static-router SIGTERM to exit {} ({}-{}), closing a raw table {} ({}-{}), ratio {:.2}x",
            secs(stop),
            secs(stops[0]),
            secs(stops[stops.len() - 1]),
            secs(close),
            secs(closes[0]),
            secs(closes[closes.len() - 1]),
            stop.as_secs_f64() / close.as_secs_f64()
        );
    }

    /// Case (f): SIGHUP with an unchanged file of `n` routes until the daemon logs the
    /// reload, beside the raw loop of `n` MRT_ADD_MFC calls.
    fn case_f(ours: &Path, n: u32, repeats: usize) {
        let dir = TempDir::new("scale-f");
        let conf = config(n);
        let (mut reloads, mut raws) = (Vec::new(), Vec::new());
        for _ in 0..repeats {
            let net = Line::new("sf");
            raws.push(raw_loop(&net, n));
            drop(net);
            let net = Line::new("sg");
            let (p, _, _) = start_daemon_at(&net, &dir, ours, "reload", &conf, "info");
            let before = p.output().matches("reloaded").count();
            let t = Instant::now();
            p.signal(nix::sys::signal::Signal::SIGHUP);
            while p.output().matches("reloaded").count() == before
                && t.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_micros(500));
            }
            reloads.push(t.elapsed());
            assert!(p.output().contains(": 0 change(s)"), "{}", p.output());
        }
        let (reload, raw) = (median(&mut reloads), median(&mut raws));
        println!(
            "(f) reload of an unchanged {n}-route file, median of {repeats}: static-router {} ({}-{}, 0 changes), raw MRT_ADD_MFC loop {}, ratio {:.2}x",
            secs(reload),
            secs(reloads[0]),
            secs(reloads[reloads.len() - 1]),
            secs(raw),
            reload.as_secs_f64() / raw.as_secs_f64()
        );
    }

    /// The daemon's resident and peak resident memory (kB), from /proc.
    fn show_rss_kb(pid: u32) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// One `mcroutectl show` against a daemon: its time, the bytes printed, and how far the
    /// daemon's resident memory peaked above what it was before (its peak reset first).
    fn one_show(ctl: &Path, sock: &Path, pid: u32) -> (Duration, usize, u64) {
        let (before, _) = show_rss_kb(pid);
        // Writing 5 to clear_refs resets the peak (VmHWM) to the current resident size.
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
        let t = Instant::now();
        let out = std::process::Command::new(ctl)
            .arg("-u")
            .arg(sock)
            .arg("show")
            .output()
            .unwrap();
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (_, peak) = show_rss_kb(pid);
        (took, out.stdout.len(), peak.saturating_sub(before))
    }

    /// (g): median time of `mcroutectl show` over 100,000 routes and the daemon's peak
    /// memory growth (the largest of the runs).
    fn show_case(program: &Path, ctl: &Path, tag: &str, repeats: usize) -> (Duration, u64, usize) {
        let dir = TempDir::new(&format!("scale-e-{tag}"));
        let net = Line::new(&format!("se{tag}"));
        let (p, _, sock) = start_daemon(&net, &dir, program, "show", &config(100_000));
        let mut times = Vec::new();
        let mut grew = 0;
        let mut bytes = 0;
        for _ in 0..repeats {
            let (t, b, g) = one_show(ctl, &sock, p.child.id());
            times.push(t);
            grew = grew.max(g);
            bytes = b;
        }
        drop(p);
        (median(&mut times), grew, bytes)
    }

    fn case_g(program: &Path, repeats: usize) {
        let ctl = workspace_bin("mcroutectl", false);
        let (t, grew, bytes) = show_case(program, &ctl, "new", repeats);
        print!(
            "(g) mcroutectl show, 100,000 routes (200,000 rows, {:.1} MB of text), median of {repeats}: {}, daemon peak +{:.1} MB",
            bytes as f64 / 1e6,
            secs(t),
            grew as f64 / 1024.0
        );
        // MCROUTE_SCALE_BASELINE=DIR: the same case with DIR/examples/static-router and
        // DIR/mcroutectl (a release build of another version), for ratios of the same run.
        match std::env::var_os("MCROUTE_SCALE_BASELINE").map(PathBuf::from) {
            Some(dir) => {
                let (bt, bgrew, _) = show_case(
                    &dir.join("examples/static-router"),
                    &dir.join("mcroutectl"),
                    "base",
                    repeats,
                );
                println!(
                    "; baseline {}, peak +{:.1} MB: time {:.2}x, peak growth {:.3}x the baseline's",
                    secs(bt),
                    bgrew as f64 / 1024.0,
                    t.as_secs_f64() / bt.as_secs_f64(),
                    grew as f64 / bgrew.max(1) as f64
                );
            }
            None => println!(),
        }
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
        let only = std::env::var("MCROUTE_SCALE_ONLY").unwrap_or_default();
        let run = |c: &str| only.is_empty() || only.split(',').any(|o| o.trim() == c);
        if run("a") {
            case_a(&sizes, repeats, smcrouted);
        }
        if run("b") {
            case_b(&ours, smcrouted);
        }
        if run("c") {
            case_c(&ours, smcrouted);
        }
        if run("d") {
            case_d(&ours);
        }
        if run("e") {
            case_e(&ours, 100_000, repeats);
        }
        if run("f") {
            case_f(&ours, 100_000, repeats);
        }
        if run("g") {
            case_g(&ours, repeats.min(3));
        }
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
