//! Multicast Router Discovery (RFC 4286) for IPv4 (IGMP) and IPv6 (ICMPv6).
//!
//! A multicast router advertises itself on its interfaces so that IGMP/MLD-snooping
//! switches open a router port towards it: Advertisements to All-Snoopers (224.0.0.106,
//! ff02::6a) at a jittered interval, an answer to each Solicitation (sent by snoopers to
//! All-Routers, 224.0.0.2, ff02::2), and a Termination when it stops. smcrouted does it for
//! IPv4 on `phyint IF mrdisc` interfaces, every `-m SEC` seconds.
//!
//! Three layers, as elsewhere in mcroute:
//! - [`crate::wire::mrdisc`]: the messages, a smoltcp-style [`Packet`] and [`Repr`].
//! - [`MrdiscEngine`]: the sans-IO protocol (timers, jitter, initial advertisements,
//!   answers, rate limit, terminations), driven with `now`.
//! - [`MrdiscSocket`](crate::service::mrdisc::MrdiscSocket): the raw socket of one family,
//!   whose descriptor a daemon polls (in the I/O layer, `service::mrdisc`).
//!
//! # Driving it from an event loop
//!
//! ```no_run
//! use std::os::fd::AsFd;
//! use std::time::Instant;
//! use mcroute::engine::mrdisc::{MrdiscConfig, MrdiscEngine};
//! use mcroute::service::mrdisc::MrdiscSocket;
//! use mcroute::Family;
//!
//! let mut engine = MrdiscEngine::new(MrdiscConfig::new(20)?); // smcrouted -m 20
//! let mut sock = MrdiscSocket::open(Family::V4)?;
//! let eth0 = 2; // the ifindex of a `phyint eth0 mrdisc` interface
//! sock.join(eth0)?;
//! engine.enable(Instant::now(), Family::V4, eth0);
//! loop {
//!     // Wait until sock.as_fd() is readable or engine.poll_timeout() passes, then:
//!     let now = Instant::now();
//!     while let Some(rx) = sock.recv()? {
//!         if rx.message == mcroute::engine::mrdisc::Repr::Solicitation {
//!             engine.handle_solicitation(now, rx.family, rx.ifindex);
//!         }
//!     }
//!     engine.handle_timeout(now);
//!     while let Some(tx) = engine.poll_transmit() {
//!         if let Err(e) = sock.send(&tx) {
//!             eprintln!("{e}");
//!         }
//!     }
//! #   break;
//! }
//! // On shutdown: engine.shutdown(now), then send what poll_transmit gives.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::Family;

mod engine;

pub use crate::engine::{Egress, Transmit};
pub use crate::wire::mrdisc::{Advertisement, Kind, Packet, Repr, WireError};
pub use engine::{
    ConfigError, MrdiscConfig, MrdiscEngine, MrdiscStats, QuerierParams,
    DEFAULT_ADVERTISEMENT_INTERVAL, MAX_ADVERTISEMENT_INTERVAL, MAX_INITIAL_ADVERTISEMENTS,
    MAX_INITIAL_ADVERT_INTERVAL, MAX_MESSAGE_RATE, MAX_RESPONSE_DELAY, MIN_ADVERTISEMENT_INTERVAL,
};

/// All-Snoopers, IPv4 (RFC 4286 section 3.3): where advertisements and terminations go.
pub const ALL_SNOOPERS_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 106);
/// All-Snoopers, IPv6: ff02::6a.
pub const ALL_SNOOPERS_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x6a);
/// All-Routers, IPv4 (RFC 4286 section 4.2): where solicitations go.
pub const ALL_ROUTERS_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 2);
/// All-Routers, IPv6: ff02::2.
pub const ALL_ROUTERS_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// All-Snoopers of `family`.
pub fn all_snoopers(family: Family) -> IpAddr {
    match family {
        Family::V4 => ALL_SNOOPERS_V4.into(),
        Family::V6 => ALL_SNOOPERS_V6.into(),
    }
}

/// Where `message` goes: All-Snoopers for advertisements and terminations, All-Routers for
/// solicitations (RFC 4286 sections 2.1, 3.1, 4.1).
pub fn destination(family: Family, message: &Repr) -> IpAddr {
    match message {
        Repr::Solicitation => all_routers(family),
        Repr::Advertisement(_) | Repr::Termination => all_snoopers(family),
    }
}

/// All-Routers of `family`.
pub fn all_routers(family: Family) -> IpAddr {
    match family {
        Family::V4 => ALL_ROUTERS_V4.into(),
        Family::V6 => ALL_ROUTERS_V6.into(),
    }
}

#[cfg(test)]
mod tests;
