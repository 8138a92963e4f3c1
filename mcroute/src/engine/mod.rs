//! Sans-IO routing engines: they hold the desired state and decide what the kernel should
//! have, but never touch a socket or read a clock.
//!
//! In the style of quinn-proto, a daemon feeds an engine its inputs (a configuration, the
//! system's interfaces, upcalls, the current time, counters) and executes the [`Action`]s it
//! returns on a [`Router`](crate::Router).
//!
//! - [`static_routing`]: smcrouted's static routing, (*,G) templates materialised on upcalls,
//!   the cache flush timer and reload as a minimal diff.
//!
//! [`Action`]: static_routing::Action

#![forbid(unsafe_code)]

pub mod dvmrp;
pub mod igmp;
pub mod mrdisc;
pub mod static_routing;

pub use static_routing::StaticEngine;
