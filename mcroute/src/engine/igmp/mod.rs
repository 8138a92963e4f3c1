//! The IGMP querier (RFC 3376 and RFC 2236: IGMPv3 queries by default, IGMPv1 and v2 hosts
//! served in their group's compatibility mode), sans-IO.
//!
//! One [`Querier`] runs per VIF. Like the DVMRP engine it has no socket and no clock: feed it
//! the IGMP messages received on the VIF ([`Querier::handle_packet`]) and the deadlines it
//! asked for ([`Querier::handle_timeout`]); drain the queries to send
//! ([`Querier::poll_transmit`]) and the membership changes ([`Querier::poll_event`]), which
//! a DVMRP router passes to [`crate::engine::dvmrp::Engine::local_membership`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use mcroute::engine::igmp::{MembershipEvent, Querier, QuerierConfig};
//! use mcroute::wire::igmp::Repr;
//!
//! let t0 = Instant::now();
//! let mut q = Querier::new(QuerierConfig::new("192.0.2.1".parse()?));
//! q.start(t0);
//! assert!(q.poll_transmit().is_some()); // the first startup query
//! let report = Repr::ReportV2 { group: "225.1.2.3".parse()? }.to_bytes()?;
//! q.handle_packet(t0, "192.0.2.77".parse()?, &report);
//! assert_eq!(q.poll_event(), Some(MembershipEvent::Joined("225.1.2.3".parse()?)));
//! // Nobody reports again: the membership ends after 260 s.
//! q.handle_timeout(t0 + Duration::from_secs(261));
//! assert_eq!(q.poll_event(), Some(MembershipEvent::Left("225.1.2.3".parse()?)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

mod querier;

pub use querier::Querier;

pub use crate::engine::{Egress, Transmit};
pub use crate::wire::igmp::Version;

/// Default robustness variable (RFC 2236 section 8.1: 2).
pub const DEFAULT_ROBUSTNESS: u8 = 2;
/// Default query interval (RFC 2236 section 8.2: 125 s).
pub const DEFAULT_QUERY_INTERVAL: Duration = Duration::from_secs(125);
/// Default query response interval (RFC 2236 section 8.3: 10 s).
pub const DEFAULT_QUERY_RESPONSE_INTERVAL: Duration = Duration::from_secs(10);
/// Default last member query interval (RFC 2236 section 8.8: 1 s).
pub const DEFAULT_LAST_MEMBER_QUERY_INTERVAL: Duration = Duration::from_secs(1);

/// Querier settings of one VIF (mrouted 4.x `igmp-*` options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerierConfig {
    /// Our address on the VIF: the election compares it (lowest wins).
    pub local: Ipv4Addr,
    /// The query format we send (v3 by default, as mrouted 4.x; `igmp-version 2` or `1`).
    pub version: Version,
    /// Robustness variable (2..=7).
    pub robustness: u8,
    /// Interval between general queries.
    pub query_interval: Duration,
    /// Max response time in general queries.
    pub query_response_interval: Duration,
    /// Max response time in group-specific queries and the interval between them.
    pub last_member_query_interval: Duration,
    /// The other-querier-present interval when set (mrouted.conf `router-timeout`), else
    /// derived from the other settings.
    pub other_querier_present: Option<Duration>,
}

impl QuerierConfig {
    /// RFC 3376 defaults for a VIF with address `local`: IGMPv3.
    pub fn new(local: Ipv4Addr) -> QuerierConfig {
        QuerierConfig {
            local,
            version: Version::V3,
            robustness: DEFAULT_ROBUSTNESS,
            query_interval: DEFAULT_QUERY_INTERVAL,
            query_response_interval: DEFAULT_QUERY_RESPONSE_INTERVAL,
            last_member_query_interval: DEFAULT_LAST_MEMBER_QUERY_INTERVAL,
            other_querier_present: None,
        }
    }

    fn robustness(&self) -> u32 {
        u32::from(self.robustness.max(1))
    }

    /// Group membership interval: robustness x query interval + query response interval
    /// (RFC 2236 section 8.4: 260 s by default).
    pub fn group_membership_interval(&self) -> Duration {
        self.query_interval * self.robustness() + self.query_response_interval
    }

    /// Other querier present interval: as set (`router-timeout`), else robustness x query
    /// interval + half the query response interval (RFC 2236 section 8.5: 255 s by default).
    pub fn other_querier_present_interval(&self) -> Duration {
        self.other_querier_present.unwrap_or_else(|| {
            self.query_interval * self.robustness() + self.query_response_interval / 2
        })
    }

    /// Startup query interval: a quarter of the query interval (RFC 2236 section 8.6).
    pub fn startup_query_interval(&self) -> Duration {
        self.query_interval / 4
    }

    /// Startup query count: the robustness variable (RFC 2236 section 8.7).
    pub fn startup_query_count(&self) -> u8 {
        self.robustness.max(1)
    }

    /// Last member query count: the robustness variable (RFC 2236 section 8.9).
    pub fn last_member_query_count(&self) -> u8 {
        self.robustness.max(1)
    }

    /// Version 1 router present timeout: 400 s in RFC 2236 section 8.11; here robustness x
    /// query interval + query response interval, as RFC 3376 section 8.12 derives it.
    pub fn v1_host_timeout(&self) -> Duration {
        self.group_membership_interval()
    }

    /// Older host present interval (RFC 3376 section 8.13): how long a group stays in IGMPv1
    /// or v2 compatibility mode after such a host reported (260 s by default).
    pub fn older_host_present_interval(&self) -> Duration {
        self.group_membership_interval()
    }

    /// Last member query time: last member query count x last member query interval
    /// (RFC 3376 section 8.9: 2 s by default).
    pub fn last_member_query_time(&self) -> Duration {
        self.last_member_query_interval * u32::from(self.last_member_query_count())
    }
}

/// A membership change on the VIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MembershipEvent {
    /// The first member of the group appeared.
    Joined(Ipv4Addr),
    /// The last member of the group left or stopped answering.
    Left(Ipv4Addr),
}

/// One group with members on the VIF, as [`Querier::group_info`] describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group.
    pub group: Ipv4Addr,
    /// The host whose report we heard last.
    pub reporter: Ipv4Addr,
    /// When the membership ends unless a report comes.
    pub expires: Instant,
    /// The group's compatibility mode (RFC 3376 section 7.3.2): the oldest IGMP version a
    /// member still speaks, never above the VIF's version.
    pub version: Version,
    /// Whether group-specific queries are running after a leave.
    pub leaving: bool,
}

/// The querier state of one VIF, as [`Querier::info`] describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuerierInfo {
    /// Whether we are the querier.
    pub querier: bool,
    /// The querier's address: ours or the other router's.
    pub querier_addr: Ipv4Addr,
    /// The version we query with.
    pub version: Version,
    /// When the other querier is considered gone (we take over), if another querier runs.
    pub other_querier_expires: Option<Instant>,
    /// When we send the next general query, if we are the querier.
    pub next_general_query: Option<Instant>,
    /// Groups with members.
    pub groups: usize,
}

/// Counters of the querier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuerierStats {
    /// Messages received.
    pub received: u64,
    /// Dropped: bad checksum, truncated, malformed or unknown type.
    pub invalid: u64,
    /// Reports or leaves for a non-multicast or link-local group.
    pub bad_group: u64,
    /// Queries sent.
    pub queries_sent: u64,
    /// Times we lost the election.
    pub lost_election: u64,
    /// Queries from 0.0.0.0 (proxy queries of snooping switches): they never win the
    /// election (as in mrouted).
    pub proxy_queries: u64,
    /// Leaves heard while another router is the querier: the group's timer is lowered to
    /// the last member query time, as the querier's group-specific queries will do.
    pub leaves_as_non_querier: u64,
    /// Leaves ignored because an older-version host of the group is present.
    pub leaves_ignored: u64,
}
