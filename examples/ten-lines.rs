//! The library in ten lines (the README's example): forward 192.0.2.10 -> 225.1.2.3 from
//! eth0 to eth1, then wait on the Router's upcall descriptor and print the flows the kernel
//! has no route for. Needs root (or CAP_NET_ADMIN) and interfaces named eth0 and eth1
//! (`scripts/demo-netns.sh up` makes a namespace with them).

use std::os::fd::AsFd;

use mcroute::{platform::Native, MfcEntry, Router, RouterOptions};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

fn main() {
    if let Err(e) = run() {
        eprintln!("ten-lines: {e}"); // Display: "ten-lines: unknown interface eth0"
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut router = Router::open(Native::new()?, RouterOptions::default())?;
    let eth0 = router.add_vif("eth0")?;
    let eth1 = router.add_vif("eth1")?;
    let sg = MfcEntry::v4("192.0.2.10".parse()?, "225.1.2.3".parse()?, eth0)?;
    router.add_route(sg.with_oif(eth1, 1))?;
    // The route is in /proc/net/ip_mr_cache while `router` lives. New flows are upcalls:
    loop {
        let fd = PollFd::new(router.as_fd(), PollFlags::POLLIN);
        poll(&mut [fd], PollTimeout::NONE)?;
        while let Some(upcall) = router.recv_upcall()? {
            println!("{upcall}"); // NOCACHE (192.0.2.99, 225.1.2.3) on VIF 0
        }
    }
}
