//! Services: the only place where an engine meets a [`Router`](crate::Router), sockets and
//! the clock.
//!
//! Each service owns a Router, its engine(s) and their sockets, exposes the descriptors a
//! daemon polls, and turns what it reads (upcalls, control packets, link events, the time)
//! into engine inputs and the engine's outputs into kernel changes and transmitted packets.
//!
//! - [`static_router`]: smcrouted's static routing over a Router (the static-router daemon).
//! - [`dvmrp`]: mrouted's DVMRP over a Router, with the IGMP querier (the dvmrp-router daemon).
//! - [`mrdisc`]: the raw sockets of Multicast Router Discovery (RFC 4286), used by both.

pub mod dvmrp;
pub mod mrdisc;
pub mod static_router;
