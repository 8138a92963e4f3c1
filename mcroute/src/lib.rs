//! # mcroute: typed multicast routing for Rust
//!
//! mcroute drives the kernel's multicast forwarding cache (MFC) through a typed API: VIFs and
//! MIFs, (S,G) routes with per-interface TTL thresholds, group joins (ASM and SSM), counters,
//! and the kernel's upcalls, for IPv4 and IPv6, on Linux (and FreeBSD).
//!
//! Layers, bottom up:
//! - [`abi`]: the kernel structures, `#[repr(C)]` with compile-time size checks.
//! - [`platform`]: what a kernel multicast router can do, with a Linux backend and an
//!   in-memory [`platform::fake`] kernel (feature `fake`) for tests without root.
//! - [`model`] and [`upcall`]: the typed model and the pure upcall decoders.
//! - [`Router`]: the API most programs use.
//!
//! ## Forwarding between two interfaces
//!
//! ```no_run
//! use mcroute::{platform::linux::Linux, MfcEntry, Router, RouterOptions};
//!
//! let mut router = Router::open(Linux::new()?, RouterOptions::default())?;
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

pub mod abi;
pub mod config;
pub mod ctl;
pub mod daemon;
pub mod dvmrp;
pub mod engine;
pub mod error;
pub mod igmp;
pub mod link;
pub mod model;
pub mod mrdisc;
pub mod platform;
pub mod router;
#[cfg(feature = "tokio")]
pub mod stream;
mod sys;
pub mod upcall;
pub mod wire;

pub use error::{Error, Result};
pub use model::{
    Family, FilterMode, Interface, MfcEntry, MifFlags, MifId, ModelError, OifSet, RouteCounters,
    SourceFilter, Vif, VifCounters, VifFlags, VifId, VifIndex,
};
pub use platform::Platform;
pub use router::{Membership, RouteBatch, Router, RouterOptions, VifOptions};
pub use upcall::{Upcall, UpcallKind};
