//! The querier state machine (RFC 3376 sections 6 and 7, RFC 2236 sections 3, 6 and 7).
//!
//! Where the RFCs leave a choice, mrouted 4.x decides: a query from 0.0.0.0 (a snooping
//! switch's proxy query) never wins the election. Where this querier goes further than
//! mrouted: a leave heard while another router is the querier lowers the group's timer to
//! the last member query time, as the querier's group-specific queries will do (mrouted
//! ignores it and forwards until the membership times out, up to 260 s later).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::time::Instant;

use super::*;
use crate::wire::igmp::{Query, RecordType, Repr};
use crate::wire::ALL_SYSTEMS;

#[derive(Debug, Clone)]
struct Group {
    expires: Instant,
    reporter: Ipv4Addr,
    /// Older version host present timers (RFC 3376 section 7.3.2).
    v1_until: Option<Instant>,
    v2_until: Option<Instant>,
    /// Group-specific queries still to send, and when the next goes.
    last_member: Option<(u8, Instant)>,
    /// The group's entry in the timer index.
    timer: Instant,
}

impl Group {
    /// The oldest version a member still speaks (RFC 3376 section 7.3.2), capped at ours.
    fn version(&self, now: Instant, ours: Version) -> Version {
        let v = if self.v1_until.is_some_and(|t| t > now) {
            Version::V1
        } else if self.v2_until.is_some_and(|t| t > now) {
            Version::V2
        } else {
            Version::V3
        };
        v.min(ours)
    }

    /// The earliest time something about the group needs attention.
    fn next_deadline(&self) -> Instant {
        [
            Some(self.expires),
            self.v1_until,
            self.v2_until,
            self.last_member.map(|(_, t)| t),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.expires)
    }
}

/// How a leave arrived: an IGMPv2 leave, or an IGMPv3 TO_IN({}) record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeaveKind {
    V2,
    V3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    General,
    OtherQuerier,
    Group(Ipv4Addr),
}

/// The IGMP querier of one VIF. See the [module documentation](super).
#[derive(Debug)]
pub struct Querier {
    cfg: QuerierConfig,
    running: bool,
    querier: bool,
    /// Lowest other querier heard, and when it is considered gone.
    other: Option<(Ipv4Addr, Instant)>,
    /// The version of the other querier's last query.
    other_version: Option<Version>,
    next_general: Option<Instant>,
    startup_left: u8,
    groups: BTreeMap<Ipv4Addr, Group>,
    /// One entry per timer: the general query, the other querier, each group.
    timers: BTreeSet<(Instant, Timer)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<MembershipEvent>,
    stats: QuerierStats,
}

impl Querier {
    /// A querier, not yet started.
    pub fn new(cfg: QuerierConfig) -> Querier {
        Querier {
            cfg,
            running: false,
            querier: false,
            other: None,
            other_version: None,
            next_general: None,
            startup_left: 0,
            groups: BTreeMap::new(),
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: QuerierStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &QuerierConfig {
        &self.cfg
    }

    /// Starts as the querier (RFC 3376 section 6.6.2: every router starts as querier) and
    /// sends the startup queries.
    pub fn start(&mut self, now: Instant) {
        self.running = true;
        self.querier = true;
        self.set_other(None);
        self.startup_left = self.cfg.startup_query_count();
        self.general_query(now);
    }

    /// Stops: forgets every group (reporting each as left) and sends nothing more.
    pub fn stop(&mut self) {
        self.running = false;
        self.querier = false;
        self.timers.clear();
        self.other = None;
        self.next_general = None;
        for g in std::mem::take(&mut self.groups).into_keys() {
            self.events.push_back(MembershipEvent::Left(g));
        }
    }

    /// Whether we are the querier on the VIF.
    pub fn is_querier(&self) -> bool {
        self.querier
    }

    /// The querier's address: ours or the other router's.
    pub fn querier_addr(&self) -> Ipv4Addr {
        match self.other {
            Some((a, _)) if !self.querier => a,
            _ => self.cfg.local,
        }
    }

    /// The groups with members.
    pub fn groups(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.groups.keys().copied()
    }

    /// The groups with members, with their last reporter, expiry and compatibility mode at
    /// `now`.
    pub fn group_info(&self, now: Instant) -> impl Iterator<Item = GroupInfo> + '_ {
        self.groups.iter().map(move |(g, s)| GroupInfo {
            group: *g,
            reporter: s.reporter,
            expires: s.expires,
            version: s.version(now, self.cfg.version),
            leaving: s.last_member.is_some(),
        })
    }

    /// The querier state: who queries, with which version, and the timers.
    pub fn info(&self) -> QuerierInfo {
        QuerierInfo {
            querier: self.querier,
            querier_addr: self.querier_addr(),
            version: self.cfg.version,
            other_querier_expires: self.other.filter(|_| !self.querier).map(|(_, t)| t),
            next_general_query: self.next_general.filter(|_| self.querier),
            groups: self.groups.len(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &QuerierStats {
        &self.stats
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next membership change.
    pub fn poll_event(&mut self) -> Option<MembershipEvent> {
        self.events.pop_front()
    }

    /// When [`Querier::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// An IGMP message from `src` arrived on the VIF. DVMRP messages (type 0x13) and anything
    /// invalid are ignored (and counted).
    pub fn handle_packet(&mut self, now: Instant, src: Ipv4Addr, bytes: &[u8]) {
        if !self.running {
            return;
        }
        self.stats.received += 1;
        let Ok(repr) = Repr::parse(bytes) else {
            self.stats.invalid += 1;
            return;
        };
        match repr {
            Repr::Query(q) => self.on_query(now, src, &q),
            Repr::ReportV1 { group } => self.on_report(now, src, group, Version::V1),
            Repr::ReportV2 { group } => self.on_report(now, src, group, Version::V2),
            Repr::Leave { group } => self.on_leave(now, group, LeaveKind::V2),
            Repr::ReportV3 { records } => {
                for r in records {
                    match r.record_type {
                        // Exclude mode (any source) or sources asked for: a member.
                        RecordType::ModeIsExclude | RecordType::ChangeToExclude => {
                            self.on_report(now, src, r.group, Version::V3)
                        }
                        RecordType::ModeIsInclude
                        | RecordType::AllowNewSources
                        | RecordType::ChangeToInclude
                            if !r.sources.is_empty() =>
                        {
                            self.on_report(now, src, r.group, Version::V3)
                        }
                        // TO_IN({}): the host leaves the group (RFC 3376 section 6.4.2).
                        RecordType::ChangeToInclude => self.on_leave(now, r.group, LeaveKind::V3),
                        // IS_IN({}), BLOCK: nothing at group granularity; unknown: ignored
                        // (RFC 3376 section 4.2.12).
                        _ => {}
                    }
                }
            }
        }
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(t, timer)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::General => {
                    if self.querier && self.next_general.is_some_and(|t| t <= now) {
                        self.general_query(now);
                    }
                }
                Timer::OtherQuerier => {
                    // RFC 3376 section 6.6.2: the other querier went quiet: take over.
                    self.other = None;
                    self.other_version = None;
                    if !self.querier {
                        self.querier = true;
                        self.general_query(now);
                    }
                }
                Timer::Group(g) => self.group_timer(now, g),
            }
        }
    }

    /// Replaces the other querier (and its timer entry).
    fn set_other(&mut self, other: Option<(Ipv4Addr, Instant)>) {
        if let Some((_, t)) = self.other {
            self.timers.remove(&(t, Timer::OtherQuerier));
        }
        if let Some((_, t)) = other {
            self.timers.insert((t, Timer::OtherQuerier));
        }
        self.other = other;
    }

    /// Moves the general query timer.
    fn set_next_general(&mut self, next: Option<Instant>) {
        if let Some(t) = self.next_general {
            self.timers.remove(&(t, Timer::General));
        }
        if let Some(t) = next {
            self.timers.insert((t, Timer::General));
        }
        self.next_general = next;
    }

    /// Moves a group's timer entry to its next deadline.
    fn reschedule(&mut self, group: Ipv4Addr) {
        let Some(g) = self.groups.get_mut(&group) else {
            return;
        };
        let next = g.next_deadline();
        if next != g.timer {
            self.timers.remove(&(g.timer, Timer::Group(group)));
            g.timer = next;
        }
        self.timers.insert((next, Timer::Group(group)));
    }

    fn on_query(&mut self, now: Instant, src: Ipv4Addr, q: &Query) {
        if src.is_unspecified() {
            // A proxy query (RFC 4541 snooping switches): never the querier (as mrouted).
            self.stats.proxy_queries += 1;
        } else if src < self.cfg.local {
            // Election (RFC 3376 section 6.6.2): the lowest address is the querier.
            if self.querier {
                self.stats.lost_election += 1;
            }
            self.querier = false;
            self.set_next_general(None);
            let exp = now + self.cfg.other_querier_present_interval();
            let lowest = match self.other {
                Some((a, _)) if a < src => a,
                _ => src,
            };
            if lowest == src {
                self.other_version = Some(q.version);
            }
            self.set_other(Some((lowest, exp)));
        }
        // A non-querier hearing a group-specific query lowers its group timer (RFC 3376
        // section 6.6.1; RFC 2236 section 6, "Checking Membership" in the non-querier
        // state), unless the query says to suppress router-side processing.
        if !q.is_general() && !self.querier && !q.suppress && src != self.cfg.local {
            let lmqc = u32::from(self.cfg.last_member_query_count());
            let t = now + q.max_resp_time() * lmqc;
            if let Some(g) = self.groups.get_mut(&q.group) {
                if g.expires > t {
                    g.expires = t;
                    self.reschedule(q.group);
                }
            }
        }
    }

    fn on_report(&mut self, now: Instant, src: Ipv4Addr, group: Ipv4Addr, version: Version) {
        if !group.is_multicast() || group.octets()[..3] == [224, 0, 0] {
            self.stats.bad_group += 1;
            return;
        }
        let expires = now + self.cfg.group_membership_interval();
        let older = now + self.cfg.older_host_present_interval();
        let g = self.groups.entry(group).or_insert_with(|| {
            self.events.push_back(MembershipEvent::Joined(group));
            Group {
                expires,
                reporter: src,
                v1_until: None,
                v2_until: None,
                last_member: None,
                timer: expires,
            }
        });
        g.expires = expires;
        g.reporter = src;
        g.last_member = None;
        match version {
            Version::V1 => g.v1_until = Some(older),
            Version::V2 => g.v2_until = Some(older),
            Version::V3 => {}
        }
        self.reschedule(group);
    }

    fn on_leave(&mut self, now: Instant, group: Ipv4Addr, kind: LeaveKind) {
        let ours = self.cfg.version;
        let Some(g) = self.groups.get_mut(&group) else {
            return;
        };
        // RFC 3376 section 7.3.2: in IGMPv1 mode leaves are ignored; in IGMPv2 mode so are
        // IGMPv3 TO_IN({}) and BLOCK records (the v2 hosts did not leave).
        match (g.version(now, ours), kind) {
            (Version::V1, _) | (Version::V2, LeaveKind::V3) => {
                self.stats.leaves_ignored += 1;
                return;
            }
            _ => {}
        }
        let lmqt = self.cfg.last_member_query_time();
        if !self.querier {
            // The querier sends group-specific queries; members answer them (and we hear
            // those reports). An IGMPv1 querier sends none: then wait for the timeout.
            if self.other_version == Some(Version::V1) {
                self.stats.leaves_ignored += 1;
                return;
            }
            self.stats.leaves_as_non_querier += 1;
            // The querier's queries take a last member query time; give its members' answers
            // one more interval to arrive.
            let t = now + lmqt + self.cfg.last_member_query_interval;
            if g.expires > t {
                g.expires = t;
                self.reschedule(group);
            }
            return;
        }
        if g.last_member.is_some() {
            return; // group-specific queries already running
        }
        // RFC 3376 section 6.4.2 / RFC 2236 section 3: last member query count
        // group-specific queries, one each last member query interval; the group ends
        // unless someone reports meanwhile.
        let count = self.cfg.last_member_query_count();
        let lmqi = self.cfg.last_member_query_interval;
        g.expires = g.expires.min(now + lmqt);
        g.last_member = (count > 1).then_some((count - 1, now + lmqi));
        self.reschedule(group);
        self.group_query(group);
    }

    fn group_timer(&mut self, now: Instant, group: Ipv4Addr) {
        let Some(g) = self.groups.get_mut(&group) else {
            return;
        };
        if g.v1_until.is_some_and(|t| t <= now) {
            g.v1_until = None;
        }
        if g.v2_until.is_some_and(|t| t <= now) {
            g.v2_until = None;
        }
        if g.expires <= now {
            self.groups.remove(&group);
            self.events.push_back(MembershipEvent::Left(group));
            return;
        }
        let mut send = false;
        if let Some((left, next)) = g.last_member {
            if next <= now {
                send = true;
                g.last_member =
                    (left > 1).then(|| (left - 1, now + self.cfg.last_member_query_interval));
            }
        }
        // Re-insert with the next deadline (the old entry is gone).
        let next = g.next_deadline();
        g.timer = next;
        self.timers.insert((next, Timer::Group(group)));
        if send && self.querier {
            self.group_query(group);
        }
    }

    fn general_query(&mut self, now: Instant) {
        let mut q = Query::general(self.cfg.version, self.cfg.query_response_interval);
        if self.cfg.version == Version::V3 {
            q.qrv = self.cfg.robustness.min(7);
            q.qqic = crate::wire::igmp::encode_exp_code(
                u32::try_from(self.cfg.query_interval.as_secs()).unwrap_or(u32::MAX),
            );
        }
        self.send(ALL_SYSTEMS, Repr::Query(q));
        let interval = if self.startup_left > 1 {
            self.startup_left -= 1;
            self.cfg.startup_query_interval()
        } else {
            self.startup_left = 0;
            self.cfg.query_interval
        };
        self.set_next_general(Some(now + interval));
    }

    fn group_query(&mut self, group: Ipv4Addr) {
        let version = match self.cfg.version {
            Version::V1 => return, // IGMPv1 has no group-specific query
            v => v,
        };
        let mut q = Query::general(version, self.cfg.last_member_query_interval);
        q.group = group;
        if version == Version::V3 {
            q.qrv = self.cfg.robustness.min(7);
            q.qqic = crate::wire::igmp::encode_exp_code(
                u32::try_from(self.cfg.query_interval.as_secs()).unwrap_or(u32::MAX),
            );
        }
        self.send(group, Repr::Query(q));
    }

    fn send(&mut self, dst: Ipv4Addr, repr: Repr) {
        if let Ok(payload) = repr.to_bytes() {
            self.stats.queries_sent += 1;
            self.transmits.push_back(Transmit {
                egress: Egress::Own,
                src: Some(self.cfg.local.into()),
                dst: dst.into(),
                ttl: 1,
                payload,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    struct T {
        q: Querier,
        t0: Instant,
    }

    impl T {
        fn new(local: &str) -> T {
            T::with(QuerierConfig::new(a(local)))
        }
        fn with(cfg: QuerierConfig) -> T {
            let t0 = Instant::now();
            let mut q = Querier::new(cfg);
            q.start(t0);
            T { q, t0 }
        }
        fn at(&self, s: u64) -> Instant {
            self.t0 + Duration::from_millis(s * 1000)
        }
        fn sent(&mut self) -> Vec<(Ipv4Addr, Repr)> {
            std::iter::from_fn(|| self.q.poll_transmit())
                .map(|t| (t.dst_v4().unwrap(), Repr::parse(&t.payload).unwrap()))
                .collect()
        }
        fn events(&mut self) -> Vec<MembershipEvent> {
            std::iter::from_fn(|| self.q.poll_event()).collect()
        }
        fn run(&mut self, s: u64) {
            let end = self.at(s);
            while let Some(t) = self.q.poll_timeout() {
                if t > end {
                    break;
                }
                self.q.handle_timeout(t);
            }
        }
        fn feed(&mut self, s: u64, src: &str, r: Repr) {
            self.run(s);
            let t = self.at(s);
            self.q.handle_packet(t, a(src), &r.to_bytes().unwrap());
        }
    }

    #[test]
    fn startup_then_regular_general_queries() {
        let mut t = T::new("192.0.2.1");
        // Startup: 2 queries 31.25 s apart (robustness 2, interval / 4), then every 125 s.
        t.run(200);
        let times: Vec<_> = t.sent();
        assert_eq!(times.len(), 3);
        assert!(times.iter().all(|(d, _)| *d == ALL_SYSTEMS));
        let Repr::Query(q) = &times[0].1 else {
            panic!()
        };
        assert_eq!(q.max_resp_time(), Duration::from_secs(10));
        // IGMPv3 by default, as mrouted 4.x.
        assert_eq!(q.version, Version::V3);
        assert_eq!(q.qrv, 2);
        assert_eq!(
            t.q.poll_timeout(),
            Some(t.at(0) + Duration::from_millis(281_250))
        );
        assert_eq!(t.q.stats().queries_sent, 3);
    }

    #[test]
    fn election_lowest_address_wins_and_takes_over() {
        let mut t = T::new("192.0.2.5");
        t.sent();
        let q = Repr::Query(Query::general(Version::V2, Duration::from_secs(10)));
        // A higher address does not win.
        t.feed(1, "192.0.2.9", q.clone());
        assert!(t.q.is_querier());
        // A lower one does.
        t.feed(2, "192.0.2.3", q.clone());
        assert!(!t.q.is_querier());
        assert_eq!(t.q.querier_addr(), a("192.0.2.3"));
        t.run(200);
        assert!(t.sent().is_empty(), "non-queriers do not query");
        t.feed(200, "192.0.2.3", q);
        // Other querier present interval: 255 s after its last query.
        t.run(200 + 254);
        assert!(!t.q.is_querier());
        t.run(200 + 256);
        assert!(t.q.is_querier());
        assert_eq!(t.sent().len(), 1);
    }

    #[test]
    fn membership_times_out_after_260s() {
        let mut t = T::new("192.0.2.1");
        let g = a("225.1.2.3");
        t.feed(5, "192.0.2.77", Repr::ReportV2 { group: g });
        assert_eq!(t.events(), vec![MembershipEvent::Joined(g)]);
        t.feed(100, "192.0.2.78", Repr::ReportV2 { group: g });
        assert!(t.events().is_empty(), "a refresh is not a join");
        t.run(100 + 259);
        assert!(t.events().is_empty());
        t.run(100 + 261);
        assert_eq!(t.events(), vec![MembershipEvent::Left(g)]);
        // Link-local groups are not tracked.
        t.feed(
            400,
            "192.0.2.77",
            Repr::ReportV2 {
                group: a("224.0.0.5"),
            },
        );
        assert!(t.events().is_empty());
        assert_eq!(t.q.stats().bad_group, 1);
    }

    #[test]
    fn leave_triggers_group_specific_queries() {
        let mut t = T::new("192.0.2.1");
        let g = a("225.1.2.3");
        t.feed(5, "192.0.2.77", Repr::ReportV2 { group: g });
        t.events();
        t.sent();
        t.feed(10, "192.0.2.77", Repr::Leave { group: g });
        let sent = t.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, g);
        let Repr::Query(q) = &sent[0].1 else { panic!() };
        assert_eq!((q.group, q.max_resp_time()), (g, Duration::from_secs(1)));
        // The second group-specific query 1 s later; the group ends 2 s after the leave.
        t.run(11);
        assert_eq!(t.sent().len(), 1);
        assert!(t.events().is_empty());
        t.run(12);
        assert_eq!(t.events(), vec![MembershipEvent::Left(g)]);
    }

    #[test]
    fn report_after_leave_keeps_the_group() {
        let mut t = T::new("192.0.2.1");
        let g = a("225.1.2.3");
        t.feed(5, "192.0.2.77", Repr::ReportV2 { group: g });
        t.feed(10, "192.0.2.77", Repr::Leave { group: g });
        t.feed(11, "192.0.2.78", Repr::ReportV2 { group: g });
        t.run(100);
        assert_eq!(t.events(), vec![MembershipEvent::Joined(g)]);
        assert_eq!(t.q.groups().collect::<Vec<_>>(), vec![g]);
    }

    #[test]
    fn v1_hosts_make_leaves_ignored() {
        let mut t = T::new("192.0.2.1");
        let g = a("225.1.2.3");
        t.feed(5, "192.0.2.77", Repr::ReportV1 { group: g });
        t.feed(6, "192.0.2.78", Repr::Leave { group: g });
        t.run(20);
        assert_eq!(t.events(), vec![MembershipEvent::Joined(g)]);
    }

    #[test]
    fn v3_records_join_and_leave() {
        use crate::wire::igmp::GroupRecord;
        let mut t = T::new("192.0.2.1");
        let (g1, g2, g3) = (a("239.1.1.1"), a("232.1.1.1"), a("239.9.9.9"));
        let rec = |record_type, group, sources: Vec<Ipv4Addr>| GroupRecord {
            record_type,
            group,
            sources,
            aux: vec![],
        };
        t.feed(
            1,
            "192.0.2.77",
            Repr::ReportV3 {
                records: vec![
                    rec(RecordType::ChangeToExclude, g1, vec![]),
                    rec(RecordType::AllowNewSources, g2, vec![a("198.51.100.1")]),
                    rec(RecordType::ModeIsInclude, g3, vec![]),
                ],
            },
        );
        assert_eq!(
            t.events(),
            vec![MembershipEvent::Joined(g1), MembershipEvent::Joined(g2)]
        );
        t.feed(
            2,
            "192.0.2.77",
            Repr::ReportV3 {
                records: vec![rec(RecordType::ChangeToInclude, g1, vec![])],
            },
        );
        t.run(5);
        assert_eq!(t.events(), vec![MembershipEvent::Left(g1)]);
    }

    #[test]
    fn non_querier_follows_group_specific_queries() {
        let mut t = T::new("192.0.2.5");
        let g = a("225.1.2.3");
        t.feed(1, "192.0.2.77", Repr::ReportV2 { group: g });
        t.events();
        let general = Repr::Query(Query::general(Version::V2, Duration::from_secs(10)));
        t.feed(2, "192.0.2.3", general);
        // Leaves are the querier's business...
        t.feed(3, "192.0.2.77", Repr::Leave { group: g });
        assert!(t.q.groups().next().is_some());
        // ...but its group-specific query (max resp 1 s) lowers our timer to 2 s.
        let mut gsq = Query::general(Version::V2, Duration::from_secs(1));
        gsq.group = g;
        t.feed(3, "192.0.2.3", Repr::Query(gsq));
        t.run(6);
        assert_eq!(t.events(), vec![MembershipEvent::Left(g)]);
    }

    #[test]
    fn garbage_is_counted() {
        let mut t = T::new("192.0.2.1");
        t.q.handle_packet(t.t0, a("192.0.2.9"), &[0x16, 0, 0, 0]);
        t.q.handle_packet(t.t0, a("192.0.2.9"), &[0x16, 0, 0, 0, 225, 1, 2, 3]);
        assert_eq!(t.q.stats().invalid, 2);
        assert!(t.events().is_empty());
    }

    #[test]
    fn proxy_queries_never_win_the_election() {
        let mut t = T::new("192.0.2.5");
        let q = Repr::Query(Query::general(Version::V3, Duration::from_secs(10)));
        t.feed(1, "0.0.0.0", q.clone());
        assert!(t.q.is_querier());
        assert_eq!(t.q.querier_addr(), a("192.0.2.5"));
        assert_eq!(t.q.stats().proxy_queries, 1);
        assert_eq!(t.q.stats().lost_election, 0);
        // A real lower address still wins.
        t.feed(2, "192.0.2.3", q);
        assert!(!t.q.is_querier());
        let info = t.q.info();
        assert_eq!(info.querier_addr, a("192.0.2.3"));
        assert_eq!(
            info.other_querier_expires,
            Some(t.at(2) + Duration::from_secs(255))
        );
        assert_eq!(info.next_general_query, None);
    }

    #[test]
    fn a_leave_heard_as_non_querier_ends_the_group_soon() {
        let mut t = T::new("192.0.2.5");
        let g = a("225.1.2.3");
        t.feed(1, "192.0.2.77", Repr::ReportV2 { group: g });
        t.events();
        let general = Repr::Query(Query::general(Version::V2, Duration::from_secs(10)));
        t.feed(2, "192.0.2.3", general);
        t.sent();
        // The querier's group-specific queries are lost on the way to us: the leave alone
        // ends the membership after the last member query time and one interval (3 s).
        t.feed(10, "192.0.2.77", Repr::Leave { group: g });
        assert_eq!(t.q.stats().leaves_as_non_querier, 1);
        t.run(12);
        assert!(t.events().is_empty());
        t.run(13);
        assert_eq!(t.events(), vec![MembershipEvent::Left(g)]);
        assert!(
            t.sent().is_empty(),
            "a non-querier sends no group-specific query"
        );
    }

    #[test]
    fn a_report_after_a_leave_heard_as_non_querier_keeps_the_group() {
        let mut t = T::new("192.0.2.5");
        let g = a("225.1.2.3");
        t.feed(1, "192.0.2.77", Repr::ReportV2 { group: g });
        let general = Repr::Query(Query::general(Version::V2, Duration::from_secs(10)));
        t.feed(2, "192.0.2.3", general);
        t.feed(10, "192.0.2.77", Repr::Leave { group: g });
        // Another member answers the querier's group-specific query.
        t.feed(11, "192.0.2.78", Repr::ReportV2 { group: g });
        t.run(100);
        assert_eq!(t.events(), vec![MembershipEvent::Joined(g)]);
        let info: Vec<GroupInfo> = t.q.group_info(t.at(100)).collect();
        assert_eq!(info[0].reporter, a("192.0.2.78"));
        assert_eq!(info[0].expires, t.at(11) + Duration::from_secs(260));
    }

    #[test]
    fn groups_keep_reporter_expiry_and_compatibility_mode() {
        use crate::wire::igmp::GroupRecord;
        let mut t = T::new("192.0.2.1");
        let g = a("239.1.1.1");
        let v3 = |rt| Repr::ReportV3 {
            records: vec![GroupRecord {
                record_type: rt,
                group: g,
                sources: vec![],
                aux: vec![],
            }],
        };
        t.feed(1, "192.0.2.77", v3(RecordType::ChangeToExclude));
        let info = t.q.group_info(t.at(1)).next().unwrap();
        assert_eq!(
            (info.reporter, info.version, info.expires),
            (
                a("192.0.2.77"),
                Version::V3,
                t.at(1) + Duration::from_secs(260)
            )
        );
        // An IGMPv2 host joins: the group drops to v2 mode for 260 s, and an IGMPv3
        // TO_IN({}) no longer ends it (the v2 host did not leave).
        t.feed(2, "192.0.2.78", Repr::ReportV2 { group: g });
        assert_eq!(t.q.group_info(t.at(2)).next().unwrap().version, Version::V2);
        t.feed(3, "192.0.2.77", v3(RecordType::ChangeToInclude));
        assert_eq!(t.q.stats().leaves_ignored, 1);
        t.run(10);
        assert!(t.q.groups().next().is_some());
        // The v2 host keeps reporting until 200 s; at 462 s the v2 mode has lapsed.
        t.feed(200, "192.0.2.78", Repr::ReportV2 { group: g });
        t.feed(300, "192.0.2.77", v3(RecordType::ModeIsExclude));
        assert_eq!(
            t.q.group_info(t.at(300)).next().unwrap().version,
            Version::V2
        );
        t.run(461);
        assert_eq!(
            t.q.group_info(t.at(461)).next().unwrap().version,
            Version::V3
        );
        // A v1 report: v1 mode, v2 leaves ignored.
        t.feed(470, "192.0.2.79", Repr::ReportV1 { group: g });
        assert_eq!(
            t.q.group_info(t.at(470)).next().unwrap().version,
            Version::V1
        );
        t.feed(471, "192.0.2.79", Repr::Leave { group: g });
        assert_eq!(t.q.stats().leaves_ignored, 2);
        // A VIF configured for IGMPv2 never shows v3.
        let mut t2 = T::with(QuerierConfig {
            version: Version::V2,
            ..QuerierConfig::new(a("192.0.2.1"))
        });
        t2.feed(1, "192.0.2.77", v3(RecordType::ChangeToExclude));
        assert_eq!(
            t2.q.group_info(t2.at(1)).next().unwrap().version,
            Version::V2
        );
        let Repr::Query(q) = &t2.sent()[0].1 else {
            panic!()
        };
        assert_eq!(q.version, Version::V2);
    }

    #[test]
    fn reports_never_pile_up_timers() {
        let mut t = T::new("192.0.2.1");
        for s in 1..=300u64 {
            for i in 0..50u8 {
                let g = Ipv4Addr::new(239, 1, 0, i);
                t.feed(s, "192.0.2.77", Repr::ReportV2 { group: g });
            }
            if s % 7 == 0 {
                t.feed(
                    s,
                    "192.0.2.77",
                    Repr::Leave {
                        group: Ipv4Addr::new(239, 1, 0, 1),
                    },
                );
            }
        }
        // One timer per group plus the general query.
        assert!(t.q.timers.len() <= 50 + 2, "{} timers", t.q.timers.len());
        t.run(1000);
        assert_eq!(t.q.groups().count(), 0);
        assert!(t.q.timers.len() <= 1, "{} timers", t.q.timers.len());
    }
}
