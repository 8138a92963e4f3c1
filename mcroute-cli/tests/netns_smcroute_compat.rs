//! Drop-in both ways, against the real SMCRoute 2.5 (Debian's `smcroute` package): the real
//! `smcroutectl` drives static-router through SMCRoute's IPC, and `mcroutectl` drives the
//! real `smcrouted` through the same IPC, in network namespaces. Each direction runs the
//! same 21 checks (add, remove, join, leave, show routes/groups/interfaces with counters,
//! flush, reload, batch, errors, version, kill), reports how many passed, and fails unless
//! all did. Skipped loudly when smcroute is not installed, and failing then under
//! `MCROUTE_REQUIRE_NETNS=1`.
#![cfg(target_os = "linux")]

#[path = "../../mcroute/tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::*;

const SMCROUTECTL: &str = "/usr/sbin/smcroutectl";
const SMCROUTED: &str = "/usr/sbin/smcrouted";

const CONF: &str = "phyint r0 enable\nphyint r1 enable\n\
mroute from r0 group 225.1.2.0/24 to r1\n\
mgroup from r0 group 225.1.2.3\n";

/// Whether smcroute is installed; skips loudly, or panics under MCROUTE_REQUIRE_NETNS=1.
fn require_smcroute(test: &str) -> bool {
    if !require_netns(test) {
        return false;
    }
    if Path::new(SMCROUTECTL).exists() && Path::new(SMCROUTED).exists() {
        return true;
    }
    if std::env::var("MCROUTE_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
        panic!("{test}: smcroute is not installed (apt-get install smcroute) but MCROUTE_REQUIRE_NETNS=1");
    }
    eprintln!("\n*** SKIPPED {test}: smcroute is not installed (apt-get install smcroute) ***\n");
    false
}

/// A client: the program and the arguments that point it at the socket.
struct Client {
    program: PathBuf,
    base: Vec<String>,
}

impl Client {
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = Command::new(&self.program);
        c.args(&self.base).args(args);
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn client");
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().expect("client output")
    }

    /// Runs a command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> Result<String, String> {
        let out = self.run(args, None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "{args:?} exited {:?}: {text}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Runs a command that must fail with exit 1 and one line of error; that line.
    fn fails(&self, args: &[&str]) -> Result<String, String> {
        let out = self.run(args, None);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if out.status.code() != Some(1) {
            return Err(format!(
                "{args:?} exited {:?}, not 1: {err}",
                out.status.code()
            ));
        }
        if err.trim().lines().count() != 1 {
            return Err(format!("{args:?}: not one line of error: {err:?}"));
        }
        Ok(err)
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

fn expect(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// The row of `show` output that starts with `sg` in the section titled `section`.
fn row_in<'a>(shown: &'a str, section: &str, sg: &str) -> Option<&'a str> {
    let body = shown.split(section).nth(1)?;
    // The section ends where the next title's underline starts.
    let body = body.split("\n____").next()?;
    body.lines().find(|l| l.starts_with(sg))
}

fn in_igmp(net: &Line, dev: &str, g: Ipv4Addr) -> bool {
    // /proc/net/igmp lists groups per device in little-endian hex.
    let hex = format!("{:08X}", u32::from_le_bytes(g.octets()));
    let igmp = net.rtr.proc_net("igmp");
    let mut here = false;
    for l in igmp.lines() {
        if !l.starts_with('\t') {
            here = l.split_whitespace().nth(1) == Some(dev);
        } else if here && l.trim_start().starts_with(&hex) {
            return true;
        }
    }
    false
}

fn in_mcfilter(net: &Line, g: Ipv4Addr, s: Ipv4Addr) -> bool {
    let gx = format!("0x{:08x}", u32::from(g));
    let sx = format!("0x{:08x}", u32::from(s));
    net.rtr
        .proc_net("mcfilter")
        .lines()
        .any(|l| l.contains(&gx) && l.contains(&sx))
}

/// The 21 checks, run with client `c` against `daemon` in `net`; returns (name, outcome).
/// `mcroute`: the daemon is static-router, which also shows counters on template rows and
/// removes learned routes on the first flush.
fn checks(
    net: &Line,
    c: &Client,
    conf: &Path,
    daemon: &mut NsProcess,
    socket: &Path,
    mcroute: bool,
) -> Vec<(&'static str, Result<(), String>)> {
    let src = SND4;
    let g = Ipv4Addr::new(225, 4, 4, 4);
    let mut out: Vec<(&'static str, Result<(), String>)> = Vec::new();
    let mut check = |name: &'static str, r: Result<(), String>| out.push((name, r));

    check(
        "show lists the configured template",
        c.ok(&["show"]).and_then(|s| {
            expect(
                row_in(&s, "(*,G) Template Rules", "(*, 225.1.2.0/24)").is_some(),
                || s,
            )
        }),
    );
    check(
        "add (S,G) installs it in the kernel",
        c.ok(&["add", "r0", "192.0.2.1", "225.4.4.4", "r1"])
            .and_then(|_| {
                let k = kernel_has(net, g, src);
                expect(
                    k.as_deref().is_some_and(|l| l.trim_end().ends_with("1:1")),
                    || format!("kernel: {k:?}"),
                )
            }),
    );
    check("the added route forwards traffic", {
        let n = flow(net, g.into(), 7101);
        expect(n == 5, || format!("{n} of 5 packets"))
    });
    check(
        "show lists the (S,G) rule and the kernel route",
        c.ok(&["show"]).and_then(|s| {
            expect(
                row_in(&s, "(S,G) Rules", "(192.0.2.1, 225.4.4.4)").is_some()
                    && row_in(&s, "Kernel MFC Table", "(192.0.2.1, 225.4.4.4)").is_some(),
                || s.clone(),
            )
        }),
    );
    check(
        "show -d counts the forwarded packets",
        c.ok(&["-d", "show"]).and_then(|s| {
            let row = row_in(&s, "Kernel MFC Table", "(192.0.2.1, 225.4.4.4)").unwrap_or("");
            let cols: Vec<&str> = row.split_whitespace().collect();
            expect(cols.get(3) == Some(&"5"), || format!("row {row:?} in\n{s}"))?;
            if mcroute {
                let t = row_in(&s, "(*,G) Template Rules", "(*, 225.1.2.0/24)").unwrap_or("");
                expect(t.split_whitespace().count() == 6, || {
                    format!("template {t:?}")
                })?;
            }
            Ok(())
        }),
    );
    check(
        "add (*,G/LEN) shows as a template",
        c.ok(&["add", "r0", "225.7.0.0/16", "r1"])
            .and_then(|_| c.ok(&["show"]))
            .and_then(|s| {
                expect(
                    row_in(&s, "(*,G) Template Rules", "(*, 225.7.0.0/16)").is_some(),
                    || s,
                )
            }),
    );
    check(
        "remove takes the route out of the kernel",
        c.ok(&["remove", "r0", "192.0.2.1", "225.4.4.4"])
            .and_then(|_| {
                let k = kernel_has(net, g, src);
                expect(k.is_none(), || format!("still in the kernel: {k:?}"))
            }),
    );
    check(
        "remove of a missing route fails with one line",
        c.fails(&["remove", "r0", "192.0.2.1", "225.4.4.4"])
            .map(|_| ()),
    );
    let asm = Ipv4Addr::new(225, 5, 5, 5);
    check(
        "join (ASM) joins on the interface",
        c.ok(&["join", "r0", "225.5.5.5"]).and_then(|_| {
            expect(
                wait_until(Duration::from_secs(5), || in_igmp(net, "r0", asm)),
                || net.rtr.proc_net("igmp"),
            )
        }),
    );
    let ssm = Ipv4Addr::new(232, 1, 1, 1);
    check(
        "join (SSM) joins the source",
        c.ok(&["join", "r0", "192.0.2.1", "232.1.1.1"])
            .and_then(|_| {
                expect(
                    wait_until(Duration::from_secs(5), || in_mcfilter(net, ssm, src)),
                    || net.rtr.proc_net("mcfilter"),
                )
            }),
    );
    check(
        "show groups lists the joins",
        c.ok(&["show", "groups"]).and_then(|s| {
            expect(
                ["(*, 225.5.5.5)", "(192.0.2.1, 232.1.1.1)", "(*, 225.1.2.3)"]
                    .iter()
                    .all(|sg| row_in(&s, "Group Memberships Table", sg).is_some()),
                || s.clone(),
            )
        }),
    );
    check(
        "leave leaves the group",
        c.ok(&["leave", "r0", "225.5.5.5"]).and_then(|_| {
            expect(
                wait_until(Duration::from_secs(5), || !in_igmp(net, "r0", asm)),
                || net.rtr.proc_net("igmp"),
            )
        }),
    );
    check(
        "leave of a group not joined fails with one line",
        c.fails(&["leave", "r0", "225.5.5.5"]).map(|_| ()),
    );
    check(
        "show interfaces lists the VIFs",
        c.ok(&["show", "interfaces"]).and_then(|s| {
            let vif = |dev: &str| {
                s.lines().any(|l| {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    w.len() == 4 && w[1] == dev && w[2].parse::<u16>().is_ok()
                })
            };
            expect(vif("r0") && vif("r1"), || s.clone())
        }),
    );
    check(
        "add from an unknown interface fails naming it",
        c.fails(&["add", "nope0", "225.6.6.6", "r1"])
            .and_then(|e| expect(e.contains("nope0"), || e.clone())),
    );
    check(
        "remove of a (*,G) template works",
        c.ok(&["remove", "r0", "225.7.0.0/16"])
            .and_then(|_| c.ok(&["show"]))
            .and_then(|s| {
                expect(
                    row_in(&s, "(*,G) Template Rules", "(*, 225.7.0.0/16)").is_none(),
                    || s,
                )
            }),
    );
    check(
        "flush succeeds (static-router: the learned route is gone at once)",
        {
            // A flow the template learns, then flush. smcrouted removes a learned route
            // only on a second flush without traffic in between; static-router at once.
            let g9 = Ipv4Addr::new(225, 1, 2, 9);
            flow(net, g9.into(), 7102);
            let learned = kernel_has(net, g9, src).is_some();
            c.ok(&["flush"]).and_then(|_| {
                expect(learned, || "the template learned no route".into())?;
                expect(!mcroute || kernel_has(net, g9, src).is_none(), || {
                    net.rtr.proc_net("ip_mr_cache")
                })
            })
        },
    );
    check(
        "reload picks up a changed file",
        (|| {
            std::fs::write(
                conf,
                format!("{CONF}mroute from r0 source 192.0.2.1 group 225.8.8.8 to r1\n"),
            )
            .map_err(|e| e.to_string())?;
            c.ok(&["reload"])?;
            let g8 = Ipv4Addr::new(225, 8, 8, 8);
            expect(
                wait_until(Duration::from_secs(10), || {
                    kernel_has(net, g8, src).is_some()
                }),
                || net.rtr.proc_net("ip_mr_cache"),
            )
        })(),
    );
    check(
        "version succeeds",
        c.ok(&["version"])
            .and_then(|s| expect(!s.trim().is_empty(), || "no output".into())),
    );
    check(
        "batch mode adds routes",
        (|| {
            let out = c.run(
                &["-b"],
                Some("add r0 192.0.2.1 225.9.9.1 r1\nadd r0 192.0.2.1 225.9.9.2 r1\n"),
            );
            expect(out.status.success(), || {
                String::from_utf8_lossy(&out.stderr).into_owned()
            })?;
            expect(
                [1, 2]
                    .iter()
                    .all(|&i| kernel_has(net, Ipv4Addr::new(225, 9, 9, i), src).is_some()),
                || net.rtr.proc_net("ip_mr_cache"),
            )
        })(),
    );
    check(
        "kill stops the daemon",
        c.ok(&["kill"]).and_then(|_| {
            let code = daemon.wait_exit(Duration::from_secs(10));
            expect(code == Some(0), || {
                format!("exit {code:?}: {}", daemon.output())
            })?;
            expect(!socket.exists(), || "socket left behind".into())
        }),
    );
    out
}

fn report(direction: &str, results: &[(&'static str, Result<(), String>)]) {
    let passed = results.iter().filter(|r| r.1.is_ok()).count();
    eprintln!("{direction}: {passed} of {} checks pass", results.len());
    for (name, r) in results {
        match r {
            Ok(()) => eprintln!("  ok    {name}"),
            Err(e) => eprintln!("  FAIL  {name}: {e}"),
        }
    }
    assert_eq!(results.len(), 21);
    assert_eq!(
        passed,
        results.len(),
        "{direction}: checks failed (see above)"
    );
}

struct Daemon {
    net: Line,
    dir: TempDir,
    process: NsProcess,
    socket: PathBuf,
    conf: PathBuf,
}

fn start(tag: &str, program: &Path) -> Daemon {
    let net = Line::new(tag);
    let dir = TempDir::new(tag);
    let conf = dir.path("d.conf");
    std::fs::write(&conf, CONF).unwrap();
    let socket = dir.path("d.sock");
    let pid = dir.path("d.pid");
    let process = NsProcess::start(
        &net.rtr,
        program,
        &[
            "-n",
            "-N",
            "-f",
            conf.to_str().unwrap(),
            "-u",
            socket.to_str().unwrap(),
            "-P",
            pid.to_str().unwrap(),
        ],
        &dir.path("d.log"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || pid.exists() && socket.exists()),
        "daemon not ready: {}",
        process.output()
    );
    Daemon {
        net,
        dir,
        process,
        socket,
        conf,
    }
}

#[test]
fn real_smcroutectl_drives_static_router() {
    if !require_smcroute("real_smcroutectl_drives_static_router") {
        return;
    }
    let mut d = start("sc", &workspace_bin("static-router", true));
    let c = Client {
        program: SMCROUTECTL.into(),
        base: vec!["-p".into(), "-u".into(), d.socket.display().to_string()],
    };
    let r = checks(&d.net, &c, &d.conf, &mut d.process, &d.socket, true);
    let _keep = &d.dir;
    report("smcroutectl -> static-router", &r);
}

#[test]
fn mcroutectl_drives_real_smcrouted() {
    if !require_smcroute("mcroutectl_drives_real_smcrouted") {
        return;
    }
    let mut d = start("ms", Path::new(SMCROUTED));
    let c = Client {
        program: env!("CARGO_BIN_EXE_mcroutectl").into(),
        base: vec!["-u".into(), d.socket.display().to_string()],
    };
    let r = checks(&d.net, &c, &d.conf, &mut d.process, &d.socket, false);
    let _keep = &d.dir;
    report("mcroutectl -> smcrouted", &r);
}

#[test]
fn invoked_as_smcroutectl_or_mroutectl_takes_their_defaults() {
    // argv[0] decides the default socket: /run/smcroute.sock or /run/mrouted.sock. No
    // daemon listens on either name here, so the error names the path tried.
    let dir = TempDir::new("argv0");
    for (name, sock) in [
        ("smcroutectl", "smcroute.sock"),
        ("mroutectl", "mrouted.sock"),
        ("mcroutectl", "smcroute.sock"),
    ] {
        let link = dir.path(name);
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_mcroutectl"), &link).unwrap();
        let out = Command::new(&link)
            .args(["-i", "mcroute-argv0-test-none"])
            .arg("version")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with(&format!("{name} (mcroute)")),
            "{name}: {text}"
        );
        let out = Command::new(&link).arg("flush").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if !Path::new("/run").join(sock).exists() {
            assert!(
                err.starts_with(&format!("{name}: ")) && err.contains(sock),
                "{name}: {err}"
            );
        }
    }
}
