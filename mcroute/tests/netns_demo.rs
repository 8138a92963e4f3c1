//! The README's first contact, run as written: `scripts/demo-netns.sh up` makes a namespace
//! with eth0 and eth1, static-router runs `examples/smcroute.conf` in it and forwards the
//! sender's traffic to the receiver, the "library in ten lines" example
//! (`examples/ten-lines.rs`) keeps running and prints the upcalls it waits for, prints its
//! errors with Display, and `demo-netns.sh down` removes every namespace it made.
#![cfg(target_os = "linux")]

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mcroute::ctl::client::CtlClient;
use mcroute::ctl::Request;
use support::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/demo-netns.sh")
}

fn demo(name: &str, cmd: &str) -> std::process::Output {
    Command::new("bash")
        .arg(script())
        .arg(cmd)
        .env("DEMO_NS", name)
        .output()
        .expect("running scripts/demo-netns.sh")
}

fn namespaces() -> String {
    String::from_utf8_lossy(&sh(&["ip", "netns", "list"]).stdout).into_owned()
}

/// The demo's three namespaces, removed by `demo-netns.sh down` on drop (also on panic).
struct Demo {
    name: String,
    down: bool,
}

impl Drop for Demo {
    fn drop(&mut self) {
        if !self.down {
            let _ = demo(&self.name, "down");
        }
    }
}

#[test]
fn readme_first_contact_in_the_demo_namespace() {
    if !require_netns("readme_first_contact_in_the_demo_namespace") {
        return;
    }
    let name = format!("mcr{}-demo", std::process::id());
    let out = demo(&name, "up");
    let mut d = Demo {
        name: name.clone(),
        down: false,
    };
    assert!(
        out.status.success(),
        "demo-netns.sh up: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Handles on the script's namespaces; they do not delete them (the script does).
    let rtr = std::mem::ManuallyDrop::new(Netns { name: name.clone() });
    let src = std::mem::ManuallyDrop::new(Netns {
        name: format!("{name}-src"),
    });
    let rcv = std::mem::ManuallyDrop::new(Netns {
        name: format!("{name}-rcv"),
    });
    let links = String::from_utf8_lossy(&rtr.ip(&["-4", "addr"]).stdout).into_owned();
    assert!(
        links.contains("eth0") && links.contains("192.0.2.1/24") && links.contains("eth1"),
        "{links}"
    );

    // static-router with examples/smcroute.conf, as the README runs it.
    let dir = TempDir::new("demo");
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/smcroute.conf");
    let (sock, pid) = (dir.path("sock"), dir.path("pid"));
    let mut daemon = NsProcess::start(
        &rtr,
        &workspace_bin("static-router", true),
        &[
            "-n",
            "-l",
            "info",
            "-f",
            conf.to_str().unwrap(),
            "-u",
            sock.to_str().unwrap(),
            "-P",
            pid.to_str().unwrap(),
        ],
        &dir.path("static-router.log"),
    );
    assert!(
        wait_until(Duration::from_secs(10), || pid.exists()),
        "static-router did not start:\n{}",
        daemon.output()
    );
    let g = Ipv4Addr::new(225, 1, 2, 3);
    let cache = rtr.proc_net("ip_mr_cache");
    assert!(
        cache.contains(&format!(
            "{} {}",
            proc_hex_v4(g),
            proc_hex_v4(Ipv4Addr::new(192, 0, 2, 10))
        )),
        "the (S,G) route of examples/smcroute.conf is not in the kernel:\n{cache}"
    );
    // The sender (192.0.2.10) reaches the receiver through eth0 -> eth1.
    let rx = Receiver::start(&rcv, "rcv0", IpAddr::V4(g), 5001, Duration::from_secs(2));
    send(
        &src,
        "src0",
        IpAddr::V4(g),
        5001,
        20,
        Duration::from_millis(20),
    );
    let got = rx.count();
    assert!(got >= 18, "{got} of 20 forwarded\n{}", daemon.output());
    let mut c = CtlClient::connect(&sock).expect("connect");
    let _ = c.request(&Request::Kill);
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)), Some(0));

    // The ten-lines example installs its route and waits for upcalls instead of exiting.
    let ten = workspace_bin("ten-lines", true);
    let example = NsProcess::start(&rtr, &ten, &[], &dir.path("ten-lines.log"));
    assert!(
        wait_until(Duration::from_secs(10), || rtr
            .proc_net("ip_mr_cache")
            .contains(&proc_hex_v4(g))),
        "ten-lines installed no route:\n{}",
        example.output()
    );
    // A group without a route: the kernel's NOCACHE upcall is printed.
    let other = Ipv4Addr::new(225, 1, 2, 4);
    let printed = wait_until(Duration::from_secs(10), || {
        send(&src, "src0", IpAddr::V4(other), 5002, 1, Duration::ZERO);
        example.output().contains("NOCACHE (192.0.2.10, 225.1.2.4)")
    });
    assert!(printed, "no upcall printed:\n{}", example.output());
    drop(example);

    // Without eth0 (in the sender's namespace) it fails with a readable message.
    let out = src.exec_status(&[ten.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("ten-lines: ") && err.contains("eth0") && !err.contains("{"),
        "not a Display message: {err}"
    );

    // down removes all three namespaces.
    let out = demo(&name, "down");
    d.down = true;
    assert!(out.status.success());
    let left = namespaces();
    assert!(!left.contains(&name), "left behind: {left}");
}

/// The README's "library in ten lines" is `examples/ten-lines.rs` (which the build compiles
/// and the test above runs), minus the file's doc comment.
#[test]
fn readme_embedding_example_is_the_compiled_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = &readme[readme
        .find("## The library in ten lines")
        .expect("README section")..];
    let start = section.find("```rust,no_run\n").expect("code block") + "```rust,no_run\n".len();
    let block = &section[start..start + section[start..].find("```\n").expect("block end")];
    let example = std::fs::read_to_string(root.join("examples/ten-lines.rs")).unwrap();
    let code: String = example
        .lines()
        .skip_while(|l| l.starts_with("//!") || l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(block, code, "README and examples/ten-lines.rs differ");
}
