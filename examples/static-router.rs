//! static-router: a static multicast router on mcroute (to become a drop-in smcrouted).
//!
//! This first version shows the shape: open the kernel's multicast routing table, add a VIF
//! for every multicast-capable interface, and log the upcalls the kernel sends.

use std::os::fd::AsFd;
use std::process::ExitCode;

use mcroute::platform::Native;
use mcroute::{Error, Family, Router, RouterOptions, VifOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("Usage: static-router [-hv]\n\nOpens the multicast routing table, adds a VIF and a MIF for every\nmulticast interface, and prints the kernel's upcalls.");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!("static-router (mcroute) {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("static-router: {e}");
            ExitCode::from(match e {
                Error::TableInUse { .. } => 69,
                Error::PermissionDenied { .. } => 77,
                Error::NoKernelSupport { .. } => 76,
                _ => 71,
            })
        }
    }
}

fn run() -> mcroute::Result<()> {
    let mut router = Router::open(Native::new()?, RouterOptions::dual_stack())?;
    for iface in router.interfaces()? {
        if !iface.multicast || iface.loopback {
            continue;
        }
        for family in [Family::V4, Family::V6] {
            let id = router.add_vif_on(family, &iface, VifOptions::default())?;
            println!("{} on {}", id, iface.name);
        }
    }
    loop {
        let mut fds = [nix::poll::PollFd::new(
            router.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE);
        while let Some(upcall) = router.recv_upcall()? {
            println!("{upcall}");
        }
    }
}
