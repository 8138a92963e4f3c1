//! Network-namespace test support: sender — router — receiver topologies built with `ip`,
//! traffic sent and received by threads that enter the namespaces.
//!
//! Namespaces get unique names and are removed on drop, even when a test panics.
//! Tests that need root call [`require_netns`] first: without root they are skipped with a
//! loud message, unless `MCROUTE_REQUIRE_NETNS=1`, which turns the skip into a failure.
#![allow(dead_code)]

pub mod mrd;
pub mod static_router;

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Whether namespace tests can run here. Prints why not, and panics instead when
/// `MCROUTE_REQUIRE_NETNS=1` is set (CI sets it, so a skip there is a failure).
pub fn require_netns(test: &str) -> bool {
    let why = if !nix::unistd::geteuid().is_root() {
        Some("not running as root")
    } else if Command::new("ip").arg("-V").output().is_err() {
        Some("the `ip` command (iproute2) is not installed")
    } else {
        None
    };
    match why {
        None => true,
        Some(why) => {
            let required = std::env::var("MCROUTE_REQUIRE_NETNS").is_ok_and(|v| v == "1");
            if required {
                panic!(
                    "{test}: network-namespace test cannot run ({why}) but MCROUTE_REQUIRE_NETNS=1"
                );
            }
            eprintln!("\n*** SKIPPED {test}: network-namespace test needs root ({why}) ***\n");
            false
        }
    }
}

/// Runs a command, panicking with its output on failure.
pub fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A network namespace, deleted on drop.
pub struct Netns {
    /// Its name under /var/run/netns.
    pub name: String,
}

impl Netns {
    /// A new namespace with a unique name containing `tag`, loopback up.
    pub fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("mcr{}-{n}-{tag}", std::process::id());
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        // Interfaces created later skip IPv6 duplicate address detection, so their
        // link-local addresses and multicast routes are ready at once.
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
        ns
    }

    /// Runs `ip ARGS` inside the namespace.
    pub fn ip(&self, args: &[&str]) -> Output {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend_from_slice(args);
        sh(&v)
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut v = vec!["ip", "netns", "exec", &self.name];
        v.extend_from_slice(args);
        sh(&v)
    }

    /// Runs a command inside the namespace, returning its output whatever its status.
    pub fn exec_status(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("ip netns exec")
    }

    /// Enters the namespace on the calling thread (only that thread).
    pub fn enter(&self) {
        let f = File::open(format!("/var/run/netns/{}", self.name)).expect("open netns");
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
    }

    /// Runs `f` on a new thread inside the namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = File::open(path).expect("open netns");
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
    }

    /// Runs `f` inside the namespace and returns its result.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        match self.spawn(f).join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// Reads a /proc/net file as seen from inside the namespace.
    pub fn proc_net(&self, file: &'static str) -> String {
        self.run(move || {
            std::fs::read_to_string(format!("/proc/thread-self/net/{file}")).unwrap_or_default()
        })
    }

    /// The index of interface `name` in the namespace.
    pub fn ifindex(&self, name: &str) -> u32 {
        let name = name.to_string();
        self.run(move || nix::net::if_::if_nametoindex(name.as_str()).expect("ifindex"))
    }
}

impl Netns {
    /// Waits until each device has its IPv6 multicast route (`ff00::/8` in the local table),
    /// without which IPv6 multicast arriving on it is dropped as "no route".
    pub fn wait_ipv6_ready(&self, devs: &[&str]) {
        let ok = wait_until(Duration::from_secs(10), || {
            let out = self.ip(&["-6", "route", "show", "table", "local"]);
            let text = String::from_utf8_lossy(&out.stdout);
            devs.iter().all(|d| {
                text.lines().any(|l| {
                    l.starts_with("multicast ff00::/8") && l.contains(&format!("dev {d} "))
                })
            })
        });
        assert!(ok, "IPv6 not ready on {devs:?} in {}", self.name);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// sender (s0) — (r0) router (r1) — (c0) receiver, IPv4 and IPv6 addresses, default routes
/// towards the router.
pub struct Line {
    /// The sender's namespace.
    pub snd: Netns,
    /// The router's namespace.
    pub rtr: Netns,
    /// The receiver's namespace.
    pub rcv: Netns,
}

/// Sender's IPv4 address.
pub const SND4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Receiver's IPv4 address.
pub const RCV4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// Sender's IPv6 address.
pub const SND6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// Receiver's IPv6 address.
pub const RCV6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1);

impl Line {
    /// Builds the three namespaces and links.
    pub fn new(tag: &str) -> Line {
        let snd = Netns::new(&format!("{tag}s"));
        let rtr = Netns::new(&format!("{tag}r"));
        let rcv = Netns::new(&format!("{tag}c"));
        sh(&[
            "ip", "link", "add", "s0", "netns", &snd.name, "type", "veth", "peer", "name", "r0",
            "netns", &rtr.name,
        ]);
        sh(&[
            "ip", "link", "add", "r1", "netns", &rtr.name, "type", "veth", "peer", "name", "c0",
            "netns", &rcv.name,
        ]);
        let addr = |ns: &Netns, dev: &str, v4: &str, v6: &str| {
            ns.ip(&["addr", "add", v4, "dev", dev]);
            ns.ip(&["-6", "addr", "add", v6, "dev", dev, "nodad"]);
            ns.ip(&["link", "set", dev, "up"]);
        };
        addr(&snd, "s0", "192.0.2.1/24", "2001:db8:1::1/64");
        addr(&rtr, "r0", "192.0.2.254/24", "2001:db8:1::fe/64");
        addr(&rtr, "r1", "198.51.100.254/24", "2001:db8:2::fe/64");
        addr(&rcv, "c0", "198.51.100.1/24", "2001:db8:2::1/64");
        snd.ip(&["route", "add", "default", "via", "192.0.2.254"]);
        rcv.ip(&["route", "add", "default", "via", "198.51.100.254"]);
        snd.ip(&["-6", "route", "add", "default", "via", "2001:db8:1::fe"]);
        rcv.ip(&["-6", "route", "add", "default", "via", "2001:db8:2::fe"]);
        // Routers forward unicast too (not needed for multicast, but realistic).
        rtr.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        rtr.exec(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
        // Reverse-path filtering must not drop the sender's traffic.
        for ns in [&snd, &rtr, &rcv] {
            ns.exec(&["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"]);
            ns.exec(&["sysctl", "-qw", "net.ipv4.conf.default.rp_filter=0"]);
        }
        for (ns, devs) in [
            (&snd, &["s0"][..]),
            (&rtr, &["r0", "r1"][..]),
            (&rcv, &["c0"][..]),
        ] {
            ns.wait_ipv6_ready(devs);
        }
        Line { snd, rtr, rcv }
    }
}

/// Sends `count` UDP datagrams from inside `ns` to `group:port` with TTL/hop limit 8, out of
/// interface `dev`, `gap` apart.
pub fn send(ns: &Netns, dev: &str, group: IpAddr, port: u16, count: usize, gap: Duration) {
    let ifindex = ns.ifindex(dev);
    ns.run(move || {
        let sock = match group {
            IpAddr::V4(_) => UdpSocket::bind("0.0.0.0:0").unwrap(),
            IpAddr::V6(_) => UdpSocket::bind("[::]:0").unwrap(),
        };
        match group {
            IpAddr::V4(_) => {
                sock.set_multicast_ttl_v4(8).unwrap();
                let mreq = libc::ip_mreqn {
                    imr_multiaddr: libc::in_addr { s_addr: 0 },
                    imr_address: libc::in_addr { s_addr: 0 },
                    imr_ifindex: ifindex as i32,
                };
                setsockopt(&sock, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq);
            }
            IpAddr::V6(_) => {
                let hops: libc::c_int = 8;
                setsockopt(&sock, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, &hops);
                let idx = ifindex as libc::c_int;
                setsockopt(&sock, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, &idx);
            }
        }
        for i in 0..count {
            let msg = format!("mcroute test packet {i}");
            sock.send_to(msg.as_bytes(), SocketAddr::new(group, port))
                .expect("send");
            std::thread::sleep(gap);
        }
    })
}

fn setsockopt<T>(sock: &UdpSocket, level: libc::c_int, name: libc::c_int, val: &T) {
    // SAFETY: val points to a live T of the given size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            val as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt: {}", std::io::Error::last_os_error());
}

/// A receiver joined to `group` on `dev` inside `ns`, counting datagrams to `port` until
/// `window` has passed since it started. Returns once the socket is joined.
pub struct Receiver {
    handle: JoinHandle<usize>,
}

impl Receiver {
    /// Starts receiving.
    pub fn start(ns: &Netns, dev: &str, group: IpAddr, port: u16, window: Duration) -> Receiver {
        let ifindex = ns.ifindex(dev);
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = ns.spawn(move || {
            let sock = match group {
                IpAddr::V4(g) => {
                    let s =
                        UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
                            .unwrap();
                    let mreq = libc::ip_mreqn {
                        imr_multiaddr: libc::in_addr {
                            s_addr: u32::from_ne_bytes(g.octets()),
                        },
                        imr_address: libc::in_addr { s_addr: 0 },
                        imr_ifindex: ifindex as i32,
                    };
                    setsockopt(&s, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq);
                    s
                }
                IpAddr::V6(g) => {
                    let s =
                        UdpSocket::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port))
                            .unwrap();
                    s.join_multicast_v6(&g, ifindex).unwrap();
                    s
                }
            };
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            tx.send(()).unwrap();
            let end = Instant::now() + window;
            let mut n = 0;
            let mut buf = [0u8; 1500];
            while Instant::now() < end {
                if let Ok((len, _)) = sock.recv_from(&mut buf) {
                    if buf[..len].starts_with(b"mcroute test packet") {
                        n += 1;
                    }
                }
            }
            n
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("receiver ready");
        Receiver { handle }
    }

    /// Waits for the window to end and returns the number of datagrams received.
    pub fn count(self) -> usize {
        match self.handle.join() {
            Ok(n) => n,
            Err(p) => std::panic::resume_unwind(p),
        }
    }
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The IPv4 group as /proc/net/ip_mr_cache prints it (hex, host byte order of the u32).
pub fn proc_hex_v4(a: Ipv4Addr) -> String {
    format!("{:08X}", u32::from_ne_bytes(a.octets()))
}

/// The IPv6 address as /proc/net/ip6_mr_cache and igmp6 print it (32 hex digits).
pub fn proc_hex_v6(a: Ipv6Addr) -> String {
    a.octets().iter().map(|b| format!("{b:02x}")).collect()
}

/// The IPv6 address as /proc/net/ip6_mr_cache prints it (eight 4-digit groups).
pub fn proc_full_v6(a: Ipv6Addr) -> String {
    a.segments()
        .iter()
        .map(|s| format!("{s:04x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The path of a binary built by this workspace (`examples/NAME` or a bin target). The first
/// call for a name in this process runs `cargo build` for it (a no-op when it is up to date),
/// so a test or benchmark never runs a stale binary.
pub fn workspace_bin(name: &str, example: bool) -> std::path::PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    // The test executable is target/<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = if example {
        profile_dir.join("examples").join(name)
    } else {
        profile_dir.join(name)
    };
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !built.iter().any(|b| b == name) {
        let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        c.arg("build").arg("--quiet");
        if example {
            c.args(["-p", "mcroute", "--all-features", "--example", name]);
        } else {
            c.args(["--workspace", "--bin", name]);
        }
        if profile_dir.ends_with("release") {
            c.arg("--release");
        }
        let st = c.status().expect("cargo build");
        assert!(st.success(), "building {name} failed");
        built.push(name.to_string());
    }
    assert!(path.exists(), "{} not found", path.display());
    path
}

/// A process started inside a namespace, killed on drop.
pub struct NsProcess {
    /// The child (`ip netns exec ... PROGRAM`).
    pub child: std::process::Child,
    /// Where its stderr goes.
    pub log: std::path::PathBuf,
}

impl NsProcess {
    /// Starts `program args` inside `ns`, stdout and stderr to `log`.
    pub fn start(
        ns: &Netns,
        program: &std::path::Path,
        args: &[&str],
        log: &std::path::Path,
    ) -> NsProcess {
        let out = File::create(log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(program)
            .args(args)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn");
        NsProcess {
            child,
            log: log.to_path_buf(),
        }
    }

    /// Sends a signal.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig);
    }

    /// Waits up to `timeout` for the process to exit; its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// What it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NsProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(nix::sys::signal::Signal::SIGTERM);
            if self.wait_exit(Duration::from_secs(3)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// A scratch directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A new empty directory.
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let d = std::env::temp_dir().join(format!("mcroute-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    /// A path inside it.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends one UDP packet from each of `n` sources in 198.18.0.0/15 (198.18.0.1 up) to
/// `group`, out of `dev` in `ns`, with a raw socket (IP_HDRINCL): `n` new flows at once.
/// Returns how long sending took.
pub fn send_from_many_sources(ns: &Netns, dev: &str, n: u32, group: Ipv4Addr) -> Duration {
    let ifindex = ns.ifindex(dev);
    ns.run(move || {
        // SAFETY: a new socket owned by the OwnedFd.
        let fd = unsafe {
            <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(libc::socket(
                libc::AF_INET,
                libc::SOCK_RAW,
                libc::IPPROTO_RAW,
            ))
        };
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: 0 },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: ifindex as i32,
        };
        mrd::setsockopt(&fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq);
        let dst = libc::sockaddr_in {
            sin_family: libc::AF_INET as u16,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(group.octets()),
            },
            sin_zero: [0; 8],
        };
        let t = Instant::now();
        for i in 0..n {
            let src = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 1)) + i);
            let mut p = [0u8; 28 + 8];
            p[0] = 0x45;
            let total = p.len() as u16;
            p[2..4].copy_from_slice(&total.to_be_bytes());
            p[8] = 8; // TTL
            p[9] = 17; // UDP
            p[12..16].copy_from_slice(&src.octets());
            p[16..20].copy_from_slice(&group.octets());
            let sum = mcroute::wire::checksum::checksum(&p[..20]);
            p[10..12].copy_from_slice(&sum.to_be_bytes());
            p[20..22].copy_from_slice(&4000u16.to_be_bytes());
            p[22..24].copy_from_slice(&4001u16.to_be_bytes());
            p[24..26].copy_from_slice(&16u16.to_be_bytes());
            // SAFETY: p and dst are live buffers of the given sizes.
            let r = unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    p.as_ptr() as *const libc::c_void,
                    p.len(),
                    0,
                    &dst as *const libc::sockaddr_in as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                )
            };
            if r < 0 {
                // The sender's own queue is full: wait a moment and retry this one.
                std::thread::sleep(Duration::from_micros(50));
                continue;
            }
        }
        t.elapsed()
    })
}
