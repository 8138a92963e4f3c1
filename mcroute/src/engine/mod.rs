//! Sans-IO routing engines: they hold the desired state and decide what the kernel should
//! have and what goes on the wire, but never touch a socket or read a clock.
//!
//! One convention for all four, in the style of quinn-proto: inputs are `handle_*(now, ...)`
//! calls (packets, upcalls, interfaces, counters, configuration), outputs are queues drained
//! with `poll_*()` (every engine's messages as one [`Transmit`] type from `poll_transmit()`,
//! kernel changes from `poll_action()`/`poll_mfc()`, events from `poll_event()`), and
//! `poll_timeout()` says when to call `handle_timeout(now)`.
//!
//! - [`static_routing`]: smcrouted's static routing, (*,G) templates materialised on upcalls,
//!   the cache flush timer and reload as a minimal diff.
//! - [`dvmrp`]: mrouted's DVMRP: neighbours, route exchange, prunes, grafts, the cache.
//! - [`igmp`]: the IGMP querier of one interface.
//! - [`mrdisc`]: Multicast Router Discovery (RFC 4286) advertisements and answers.
//!
//! The services in [`crate::service`] run them against a [`Router`](crate::Router).

#![forbid(unsafe_code)]

pub mod dvmrp;
pub mod igmp;
pub mod mrdisc;
pub mod static_routing;

pub use static_routing::StaticEngine;

use std::net::{IpAddr, Ipv4Addr};

use crate::model::{Family, VifId};

/// Where a [`Transmit`] leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Egress {
    /// A VIF (the DVMRP engine, which serves many).
    Vif(VifId),
    /// An interface by index, for a family (Multicast Router Discovery).
    Interface {
        /// IGMP (V4) or ICMPv6 (V6).
        family: Family,
        /// The interface index.
        ifindex: u32,
    },
    /// The one interface this engine instance serves (an IGMP querier runs per
    /// interface, and its caller knows which).
    Own,
}

/// A message an engine wants sent: the one output type of every engine's
/// `poll_transmit()`. The payload is what follows the IP header (an IGMP message, DVMRP
/// included, or an ICMPv6 one); the caller adds the IP header (with Router Alert where the
/// protocol wants it) or lets the kernel do it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The interface to send it on.
    pub egress: Egress,
    /// Our address on that interface (the IP source); `None`: the kernel picks it.
    pub src: Option<IpAddr>,
    /// A group (224.0.0.4, 224.0.0.1, All-Snoopers...) or a neighbour's address.
    pub dst: IpAddr,
    /// IP TTL or hop limit (1 for every link-local control protocol here).
    pub ttl: u8,
    /// The message, checksum included (an ICMPv6 checksum is the kernel's to fill in).
    pub payload: Vec<u8>,
}

impl Transmit {
    /// The VIF it leaves on, for [`Egress::Vif`].
    pub fn vif(&self) -> Option<VifId> {
        match self.egress {
            Egress::Vif(v) => Some(v),
            _ => None,
        }
    }

    /// The interface index it leaves on, for [`Egress::Interface`].
    pub fn ifindex(&self) -> Option<u32> {
        match self.egress {
            Egress::Interface { ifindex, .. } => Some(ifindex),
            _ => None,
        }
    }

    /// The family of the message: that of its destination.
    pub fn family(&self) -> Family {
        Family::of(&self.dst)
    }

    /// The IPv4 source, if the source is one.
    pub fn src_v4(&self) -> Option<Ipv4Addr> {
        match self.src {
            Some(IpAddr::V4(a)) => Some(a),
            _ => None,
        }
    }

    /// The IPv4 destination, if the destination is one.
    pub fn dst_v4(&self) -> Option<Ipv4Addr> {
        match self.dst {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }
    }
}
