//! # mcroute: typed multicast routing for Rust
//!
//! mcroute drives the kernel's multicast forwarding cache (MFC) through a typed API: VIFs and
//! MIFs, (S,G) routes with per-interface TTL thresholds, group joins (ASM and SSM), counters,
//! and the kernel's upcalls, for IPv4 and IPv6, on Linux (and FreeBSD).
//!
//! Layers, bottom up (`tests/layering.rs` keeps the line between the two halves):
//!
//! **Sans-IO core**: no system calls, sockets, threads or clocks; `#![forbid(unsafe_code)]`.
//! - [`model`]: VIFs/MIFs, MFC entries, source filters, counters.
//! - [`wire`]: every codec as pure functions of bytes: IP, IGMP, DVMRP, MRD, kernel upcalls,
//!   rtnetlink and routing-socket messages; one [`wire::WireError`].
//! - [`config`]: the smcroute.conf and mrouted.conf parsers (`file:line:column` errors).
//! - [`engine`]: the protocol engines, static routing, DVMRP, the IGMP querier and MRD,
//!   driven with `handle_*(now, ...)` and drained with `poll_*()`.
//!
//! **I/O layer**:
//! - `sys` (private): the only `unsafe` code, the kernel ABI per OS.
//! - [`platform`]: what a kernel multicast router can do, with Linux and FreeBSD backends
//!   and an in-memory [`platform::fake`] kernel (feature `fake`) for tests without root.
//! - [`Router`] ([`router`]): the typed API most programs use; [`link`] reports interfaces
//!   that come and go; `stream` (feature `tokio`) is an async front.
//! - [`service`]: where an engine meets a Router, sockets and the clock (the two daemons'
//!   services, MRD sockets).
//! - [`ctl`]: the control protocol, server and client.
//! - [`daemon`]: the daemon kit the frontends use (getopt, PID files, logging, privileges).

//! ## Forwarding between two interfaces
//!
//! ```no_run
//! use mcroute::{platform::Native, MfcEntry, Router, RouterOptions};
//!
//! let mut router = Router::open(Native::new()?, RouterOptions::default())?;
//! let inbound = router.add_vif("eth0")?;
//! let outbound = router.add_vif("eth1")?;
//! router.add_route(
//!     MfcEntry::v4("192.0.2.10".parse()?, "225.1.2.3".parse()?, inbound)?.with_oif(outbound, 1),
//! )?;
//! // The route is in /proc/net/ip_mr_cache until `router` is dropped.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Testing without root
//!
//! ```
//! use mcroute::platform::fake::{Delivery, FakeKernel};
//! use mcroute::{MfcEntry, Router, RouterOptions};
//!
//! let kernel = FakeKernel::new();
//! let eth0 = kernel.add_interface("eth0");
//! let eth1 = kernel.add_interface("eth1");
//! let mut router = Router::open(kernel.platform(), RouterOptions::default())?;
//! let (a, b) = (router.add_vif("eth0")?, router.add_vif("eth1")?);
//! router.add_route(MfcEntry::v4("192.0.2.10".parse()?, "225.1.2.3".parse()?, a)?.with_oif(b, 1))?;
//! let delivery = kernel.receive(0, eth0, "192.0.2.10".parse()?, "225.1.2.3".parse()?, 100);
//! assert_eq!(delivery, Delivery::Forwarded(vec![eth1]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

// Sans-IO core: no system calls, sockets, threads or clocks (tests/layering.rs checks it).
pub mod config;
pub mod engine;
pub mod model;
pub mod wire;

// I/O layer. `sys` holds all of mcroute's `unsafe`; the rest may not have any.
#[forbid(unsafe_code)]
pub mod ctl;
#[cfg(feature = "daemon")]
#[forbid(unsafe_code)]
pub mod daemon;
#[forbid(unsafe_code)]
pub mod error;
#[forbid(unsafe_code)]
pub mod link;
#[forbid(unsafe_code)]
pub mod platform;
#[forbid(unsafe_code)]
pub mod router;
#[forbid(unsafe_code)]
pub mod service;
#[cfg(feature = "tokio")]
#[forbid(unsafe_code)]
pub mod stream;
mod sys;

pub use error::{Error, Object, Result};
pub use model::{
    Family, FilterMode, Interface, MfcEntry, MifFlags, MifId, ModelError, OifSet, RouteCounters,
    SourceFilter, Vif, VifCounters, VifFlags, VifId, VifIndex,
};
pub use platform::Platform;
pub use router::{Membership, RouteBatch, Router, RouterOptions, VifOptions};
pub use wire::upcall::{Upcall, UpcallKind};
