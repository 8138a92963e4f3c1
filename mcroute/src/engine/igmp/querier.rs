//! The querier state machine (RFC 2236 sections 3, 6 and 7; RFC 3376 section 6 for v3
//! reports, which update the group timer as the group's filter mode allows).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::time::Instant;

use super::*;
use crate::wire::igmp::{Query, RecordType, Repr};
use crate::wire::ALL_SYSTEMS;

#[derive(Debug, Clone)]
struct Group {
    expires: Instant,
    /// An IGMPv1 host answered: leaves are ignored until then (RFC 2236 section 4).
    v1_host_until: Option<Instant>,
    /// Group-specific queries still to send, and when the next goes.
    last_member: Option<(u8, Instant)>,
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
    next_general: Option<Instant>,
    startup_left: u8,
    groups: BTreeMap<Ipv4Addr, Group>,
    timers: BTreeSet<(Instant, Timer)>,
    transmits: VecDeque<QueryTransmit>,
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

    /// Starts as the querier (RFC 2236 section 7: every router starts as querier) and sends
    /// the startup queries.
    pub fn start(&mut self, now: Instant) {
        self.running = true;
        self.querier = true;
        self.other = None;
        self.startup_left = self.cfg.startup_query_count();
        self.general_query(now);
    }

    /// Stops: forgets every group (reporting each as left) and sends nothing more.
    pub fn stop(&mut self) {
        self.running = false;
        self.querier = false;
        self.timers.clear();
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

    /// The counters.
    pub fn stats(&self) -> &QuerierStats {
        &self.stats
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<QueryTransmit> {
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
            Repr::ReportV1 { group } => self.on_report(now, group, true),
            Repr::ReportV2 { group } => self.on_report(now, group, false),
            Repr::Leave { group } => self.on_leave(now, group),
            Repr::ReportV3 { records } => {
                for r in records {
                    match r.record_type {
                        // Exclude mode (any source) or sources asked for: a member.
                        RecordType::ModeIsExclude | RecordType::ChangeToExclude => {
                            self.on_report(now, r.group, false)
                        }
                        RecordType::ModeIsInclude
                        | RecordType::AllowNewSources
                        | RecordType::ChangeToInclude
                            if !r.sources.is_empty() =>
                        {
                            self.on_report(now, r.group, false)
                        }
                        // TO_IN({}): the host leaves the group (RFC 3376 section 6.4.2).
                        RecordType::ChangeToInclude => self.on_leave(now, r.group),
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
                    if let Some((_, exp)) = self.other {
                        if exp <= now && !self.querier {
                            // RFC 2236 section 7: the other querier went quiet: take over.
                            self.other = None;
                            self.querier = true;
                            self.general_query(now);
                        }
                    }
                }
                Timer::Group(g) => self.group_timer(now, g),
            }
        }
    }

    fn on_query(&mut self, now: Instant, src: Ipv4Addr, q: &Query) {
        // Election (RFC 2236 section 7): the lowest address is the querier.
        if src < self.cfg.local {
            if self.querier {
                self.stats.lost_election += 1;
            }
            self.querier = false;
            self.next_general = None;
            let exp = now + self.cfg.other_querier_present_interval();
            let lowest = match self.other {
                Some((a, _)) if a < src => a,
                _ => src,
            };
            self.other = Some((lowest, exp));
            self.timers.insert((exp, Timer::OtherQuerier));
        }
        // A non-querier hearing a group-specific query lowers its group timer (RFC 2236
        // section 6, "Checking Membership" in the non-querier state).
        if !q.is_general() && !self.querier {
            let lmqc = u32::from(self.cfg.last_member_query_count());
            let t = now + q.max_resp_time() * lmqc;
            if let Some(g) = self.groups.get_mut(&q.group) {
                if g.expires > t {
                    g.expires = t;
                    self.timers.insert((t, Timer::Group(q.group)));
                }
            }
        }
    }

    fn on_report(&mut self, now: Instant, group: Ipv4Addr, v1: bool) {
        if !group.is_multicast() || group.octets()[..3] == [224, 0, 0] {
            self.stats.bad_group += 1;
            return;
        }
        let expires = now + self.cfg.group_membership_interval();
        let v1_until = v1.then(|| now + self.cfg.v1_host_timeout());
        match self.groups.get_mut(&group) {
            Some(g) => {
                g.expires = expires;
                g.last_member = None;
                if v1_until.is_some() {
                    g.v1_host_until = v1_until;
                }
            }
            None => {
                self.groups.insert(
                    group,
                    Group {
                        expires,
                        v1_host_until: v1_until,
                        last_member: None,
                    },
                );
                self.events.push_back(MembershipEvent::Joined(group));
            }
        }
        self.timers.insert((expires, Timer::Group(group)));
    }

    fn on_leave(&mut self, now: Instant, group: Ipv4Addr) {
        // Non-queriers ignore leaves (RFC 2236 section 6); so do groups with v1 hosts.
        if !self.querier {
            return;
        }
        let Some(g) = self.groups.get_mut(&group) else {
            return;
        };
        if g.v1_host_until.is_some_and(|t| t > now) || g.last_member.is_some() {
            return;
        }
        // RFC 2236 section 3: last member query count group-specific queries, one each last
        // member query interval; the group ends unless someone reports meanwhile.
        let count = self.cfg.last_member_query_count();
        let lmqi = self.cfg.last_member_query_interval;
        g.expires = now + lmqi * u32::from(count);
        g.last_member = Some((count - 1, now + lmqi));
        let (exp, next) = (g.expires, now + lmqi);
        self.timers.insert((exp, Timer::Group(group)));
        if count > 1 {
            self.timers.insert((next, Timer::Group(group)));
        }
        self.group_query(group);
    }

    fn group_timer(&mut self, now: Instant, group: Ipv4Addr) {
        let Some(g) = self.groups.get_mut(&group) else {
            return;
        };
        if g.v1_host_until.is_some_and(|t| t <= now) {
            g.v1_host_until = None;
        }
        if g.expires <= now {
            self.groups.remove(&group);
            self.events.push_back(MembershipEvent::Left(group));
            return;
        }
        let mut send = false;
        if let Some((left, next)) = g.last_member {
            if next <= now && left > 0 {
                let next = now + self.cfg.last_member_query_interval;
                g.last_member = Some((left - 1, next));
                if left > 1 {
                    self.timers.insert((next, Timer::Group(group)));
                }
                send = true;
            }
        }
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
        let next = now + interval;
        self.next_general = Some(next);
        self.timers.insert((next, Timer::General));
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
        }
        self.send(group, Repr::Query(q));
    }

    fn send(&mut self, dst: Ipv4Addr, repr: Repr) {
        if let Ok(payload) = repr.to_bytes() {
            self.stats.queries_sent += 1;
            self.transmits.push_back(QueryTransmit {
                src: self.cfg.local,
                dst,
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
            let t0 = Instant::now();
            let mut q = Querier::new(QuerierConfig::new(a(local)));
            q.start(t0);
            T { q, t0 }
        }
        fn at(&self, s: u64) -> Instant {
            self.t0 + Duration::from_millis(s * 1000)
        }
        fn sent(&mut self) -> Vec<(Ipv4Addr, Repr)> {
            std::iter::from_fn(|| self.q.poll_transmit())
                .map(|t| (t.dst, Repr::parse(&t.payload).unwrap()))
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
        assert_eq!(q.version, Version::V2);
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
}
