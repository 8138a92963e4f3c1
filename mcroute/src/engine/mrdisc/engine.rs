//! The sans-IO Multicast Router Discovery engine: when to advertise, answer and terminate.

use std::collections::{BTreeMap, VecDeque};
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use crate::engine::{Egress, Transmit};
use crate::model::Family;
use crate::wire::mrdisc::{Advertisement, Repr, WireError};

/// The default advertisement interval (RFC 4286 section 3.1.1; smcrouted `-m`): 20 s.
pub const DEFAULT_ADVERTISEMENT_INTERVAL: u8 = 20;
/// The shortest advertisement interval the RFC allows: 4 s.
pub const MIN_ADVERTISEMENT_INTERVAL: u8 = 4;
/// The longest advertisement interval the RFC allows: 180 s.
pub const MAX_ADVERTISEMENT_INTERVAL: u8 = 180;
/// MaxInitialAdvertisementInterval (RFC 4286 section 3.1.3): each of the first
/// advertisements on an interface goes out after a random delay below this.
pub const MAX_INITIAL_ADVERT_INTERVAL: Duration = Duration::from_secs(2);
/// MaxInitialAdvertisements (RFC 4286 section 3.1.4): how many advertisements an interface
/// sends at that fast pace when it starts advertising.
pub const MAX_INITIAL_ADVERTISEMENTS: u8 = 3;
/// The longest random delay before a solicited advertisement (RFC 4286 section 3.4 answers a
/// solicitation "after a random delay"; we use the same 2 s bound as the initial ones).
pub const MAX_RESPONSE_DELAY: Duration = Duration::from_secs(2);
/// MaxMessageRate (RFC 4286 section 3.1.6): at most this many MRD messages per second per
/// interface.
pub const MAX_MESSAGE_RATE: usize = 10;

/// The querier settings an advertisement reports (RFC 4286 section 3.2): the IGMP/MLD Query
/// Interval and Robustness Variable in use on the interface, or zeros when the router runs
/// no querier there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuerierParams {
    /// Query Interval in seconds.
    pub query_interval: u16,
    /// Robustness Variable.
    pub robustness: u16,
}

impl QuerierParams {
    /// No querier on the interface: both fields zero, as smcrouted sends them.
    pub const NONE: QuerierParams = QuerierParams {
        query_interval: 0,
        robustness: 0,
    };
}

impl Default for QuerierParams {
    /// The IGMPv2/MLD defaults: 125 s and 2.
    fn default() -> QuerierParams {
        QuerierParams {
            query_interval: 125,
            robustness: 2,
        }
    }
}

impl From<&crate::engine::igmp::QuerierConfig> for QuerierParams {
    fn from(c: &crate::engine::igmp::QuerierConfig) -> QuerierParams {
        QuerierParams {
            query_interval: u16::try_from(c.query_interval.as_secs()).unwrap_or(u16::MAX),
            robustness: u16::from(c.robustness),
        }
    }
}

/// A configuration the engine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The advertisement interval is outside 4..=180 seconds.
    #[error("advertisement interval {0} s out of range (4-180)")]
    IntervalOutOfRange(u64),
}

/// How the engine advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MrdiscConfig {
    interval: u8,
    /// What advertisements report in their Query Interval and Robustness Variable fields
    /// (defaults 125 s and 2). [`MrdiscEngine::set_querier`] overrides it per interface.
    pub querier: QuerierParams,
}

impl MrdiscConfig {
    /// Advertisements every `interval_secs` seconds (smcrouted `-m SEC`), which must be in
    /// 4..=180.
    ///
    /// ```
    /// use mcroute::engine::mrdisc::MrdiscConfig;
    /// assert_eq!(MrdiscConfig::new(4).unwrap().interval_secs(), 4);
    /// assert!(MrdiscConfig::new(3).is_err() && MrdiscConfig::new(181).is_err());
    /// ```
    pub fn new(interval_secs: u64) -> Result<MrdiscConfig, ConfigError> {
        let ok = u64::from(MIN_ADVERTISEMENT_INTERVAL)..=u64::from(MAX_ADVERTISEMENT_INTERVAL);
        if !ok.contains(&interval_secs) {
            return Err(ConfigError::IntervalOutOfRange(interval_secs));
        }
        Ok(MrdiscConfig {
            interval: interval_secs as u8,
            querier: QuerierParams::default(),
        })
    }

    /// The same configuration reporting `querier` in advertisements.
    pub fn with_querier(mut self, querier: QuerierParams) -> MrdiscConfig {
        self.querier = querier;
        self
    }

    /// The advertisement interval in seconds.
    pub fn interval_secs(&self) -> u8 {
        self.interval
    }

    /// The advertisement interval.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval))
    }

    /// AdvertisementJitter (RFC 4286 section 3.1.2): 0.025 × the interval. Periodic
    /// advertisements go out a random time between `interval - jitter` and `interval`
    /// after the previous one.
    pub fn jitter(&self) -> Duration {
        self.interval() / 40
    }
}

impl Default for MrdiscConfig {
    /// Every 20 s, reporting the default querier settings.
    fn default() -> MrdiscConfig {
        MrdiscConfig {
            interval: DEFAULT_ADVERTISEMENT_INTERVAL,
            querier: QuerierParams::default(),
        }
    }
}

/// Counters of one engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MrdiscStats {
    /// Advertisements queued, unsolicited and solicited.
    pub advertisements: u64,
    /// Of those, answers to solicitations.
    pub solicited: u64,
    /// Solicitations received on enabled interfaces.
    pub solicitations: u64,
    /// Terminations queued.
    pub terminations: u64,
}

#[derive(Debug, Clone)]
struct Iface {
    querier: QuerierParams,
    /// When the next unsolicited (initial or periodic) advertisement is due.
    next_unsolicited: Instant,
    /// Initial (fast) advertisements still to send.
    initial_left: u8,
    /// When a solicited advertisement is due, if one is pending.
    response_at: Option<Instant>,
    /// When the last messages went out (at most [`MAX_MESSAGE_RATE`]), for the rate limit.
    recent: VecDeque<Instant>,
}

impl Iface {
    fn due(&self) -> Instant {
        match self.response_at {
            Some(r) => r.min(self.next_unsolicited),
            None => self.next_unsolicited,
        }
    }

    /// The earliest time the rate limit lets another message out.
    fn rate_ok_at(&self, now: Instant) -> Instant {
        if self.recent.len() < MAX_MESSAGE_RATE {
            return now;
        }
        match self.recent.front() {
            Some(&t) => (t + Duration::from_secs(1)).max(now),
            None => now,
        }
    }

    fn record_send(&mut self, now: Instant) {
        while self
            .recent
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= MAX_MESSAGE_RATE {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
    }
}

/// SplitMix64: a small, seedable generator for jitter (not for anything secret).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniformly random duration in `[0, max)` (zero when `max` is zero).
    fn below(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.next_u64() % nanos)
    }
}

/// Multicast Router Discovery (RFC 4286) for every enabled interface of both families,
/// with no sockets and no clock, in the style of quinn-proto.
///
/// Feed it the time and what happened — [`enable`](Self::enable) and
/// [`disable`](Self::disable) an interface, a received message
/// ([`handle_packet`](Self::handle_packet)), an expired deadline
/// ([`handle_timeout`](Self::handle_timeout)), [`shutdown`](Self::shutdown) — and drain
/// the messages to send with [`poll_transmit`](Self::poll_transmit); sleep until
/// [`poll_timeout`](Self::poll_timeout).
///
/// On an interface it enables, the engine sends [`MAX_INITIAL_ADVERTISEMENTS`]
/// advertisements, each after a random delay below [`MAX_INITIAL_ADVERT_INTERVAL`], then
/// one every interval minus a random jitter of up to 2.5 %. A solicitation is answered by
/// one advertisement after a random delay below [`MAX_RESPONSE_DELAY`]; more solicitations
/// while an answer is pending, or when an unsolicited advertisement comes first anyway,
/// add nothing; and no interface sends more than [`MAX_MESSAGE_RATE`] messages a second.
/// Disabling an interface, or shutting down, sends a termination.
///
/// ```
/// use std::time::{Duration, Instant};
/// use mcroute::engine::mrdisc::{MrdiscConfig, MrdiscEngine, Repr};
/// use mcroute::Family;
///
/// let t0 = Instant::now();
/// let mut mrd = MrdiscEngine::with_seed(MrdiscConfig::new(4)?, 1);
/// mrd.enable(t0, Family::V4, 7);
/// let due = mrd.poll_timeout().unwrap();
/// assert!(due < t0 + Duration::from_secs(2)); // the first, fast advertisement
/// mrd.handle_timeout(due);
/// let tx = mrd.poll_transmit().unwrap();
/// let message = Repr::parse(Family::V4, &tx.payload)?;
/// assert!(matches!(message, Repr::Advertisement(a) if a.interval == 4));
/// assert_eq!(tx.dst.to_string(), "224.0.0.106");
/// mrd.shutdown(due);
/// let last = mrd.poll_transmit().unwrap();
/// assert_eq!(Repr::parse(Family::V4, &last.payload)?, Repr::Termination);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MrdiscEngine {
    cfg: MrdiscConfig,
    ifaces: BTreeMap<(Family, u32), Iface>,
    transmits: VecDeque<Transmit>,
    rng: Rng,
    stats: MrdiscStats,
}

impl MrdiscEngine {
    /// An engine with no interfaces, its jitter seeded at random.
    pub fn new(cfg: MrdiscConfig) -> MrdiscEngine {
        let seed = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        MrdiscEngine::with_seed(cfg, seed)
    }

    /// An engine whose jitter comes from `seed` (reproducible, for tests).
    pub fn with_seed(cfg: MrdiscConfig, seed: u64) -> MrdiscEngine {
        MrdiscEngine {
            cfg,
            ifaces: BTreeMap::new(),
            transmits: VecDeque::new(),
            rng: Rng(seed),
            stats: MrdiscStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MrdiscConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> &MrdiscStats {
        &self.stats
    }

    /// Starts advertising on interface `ifindex` for `family`. Returns `false` (and changes
    /// nothing) if it already advertises there.
    pub fn enable(&mut self, now: Instant, family: Family, ifindex: u32) -> bool {
        if self.ifaces.contains_key(&(family, ifindex)) {
            return false;
        }
        let first = now + self.rng.below(MAX_INITIAL_ADVERT_INTERVAL);
        self.ifaces.insert(
            (family, ifindex),
            Iface {
                querier: self.cfg.querier,
                next_unsolicited: first,
                initial_left: MAX_INITIAL_ADVERTISEMENTS,
                response_at: None,
                recent: VecDeque::new(),
            },
        );
        true
    }

    /// Stops advertising on interface `ifindex` for `family` and queues a termination.
    /// Returns `false` if it did not advertise there.
    pub fn disable(&mut self, _now: Instant, family: Family, ifindex: u32) -> bool {
        if self.ifaces.remove(&(family, ifindex)).is_none() {
            return false;
        }
        self.queue(family, ifindex, Repr::Termination);
        true
    }

    /// Makes the set of advertising interfaces of `family` exactly `ifindexes` (after a
    /// reload): new ones start, missing ones terminate.
    pub fn set_enabled(
        &mut self,
        now: Instant,
        family: Family,
        ifindexes: impl IntoIterator<Item = u32>,
    ) {
        let want: std::collections::BTreeSet<u32> = ifindexes.into_iter().collect();
        let gone: Vec<u32> = self
            .interfaces(family)
            .filter(|i| !want.contains(i))
            .collect();
        for i in gone {
            self.disable(now, family, i);
        }
        for i in want {
            self.enable(now, family, i);
        }
    }

    /// Whether the engine advertises on `ifindex` for `family`.
    pub fn is_enabled(&self, family: Family, ifindex: u32) -> bool {
        self.ifaces.contains_key(&(family, ifindex))
    }

    /// The interfaces advertising for `family`, by index.
    pub fn interfaces(&self, family: Family) -> impl Iterator<Item = u32> + '_ {
        self.ifaces
            .keys()
            .filter(move |(f, _)| *f == family)
            .map(|&(_, i)| i)
    }

    /// Sets the querier settings that advertisements on one interface report (the
    /// configuration's [`MrdiscConfig::querier`] otherwise). Ignored for an interface that
    /// does not advertise.
    pub fn set_querier(&mut self, family: Family, ifindex: u32, querier: QuerierParams) {
        if let Some(i) = self.ifaces.get_mut(&(family, ifindex)) {
            i.querier = querier;
        }
    }

    /// A solicitation arrived on `ifindex`: schedules an answer as the RFC's rate rules
    /// allow. Returns whether an answer was scheduled (not on an interface that does not
    /// advertise, nor when one is already pending or an unsolicited advertisement comes
    /// first).
    pub fn handle_solicitation(&mut self, now: Instant, family: Family, ifindex: u32) -> bool {
        let Some(iface) = self.ifaces.get_mut(&(family, ifindex)) else {
            return false;
        };
        self.stats.solicitations += 1;
        if iface.response_at.is_some() {
            return false;
        }
        let at = now + self.rng.below(MAX_RESPONSE_DELAY);
        if iface.next_unsolicited <= at {
            return false;
        }
        iface.response_at = Some(at);
        true
    }

    /// Handles a message received on `ifindex` (the IGMP or ICMPv6 bytes, without the IP
    /// header): a solicitation is answered; advertisements and terminations of other
    /// routers are only returned. Malformed messages are errors and change nothing.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        family: Family,
        ifindex: u32,
        bytes: &[u8],
    ) -> Result<Repr, WireError> {
        let repr = Repr::parse(family, bytes)?;
        if repr == Repr::Solicitation {
            self.handle_solicitation(now, family, ifindex);
        }
        Ok(repr)
    }

    /// Sends whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let interval = self.cfg.interval();
        let jitter = self.cfg.jitter();
        let adv_interval = self.cfg.interval;
        let mut out = Vec::new();
        for (&(family, ifindex), iface) in self.ifaces.iter_mut() {
            if iface.due() > now || iface.rate_ok_at(now) > now {
                continue;
            }
            let solicited =
                iface.response_at.is_some_and(|r| r <= now) && iface.next_unsolicited > now;
            if iface.next_unsolicited <= now {
                iface.initial_left = iface.initial_left.saturating_sub(1);
                let wait = if iface.initial_left > 0 {
                    self.rng.below(MAX_INITIAL_ADVERT_INTERVAL)
                } else {
                    interval - self.rng.below(jitter + Duration::from_nanos(1))
                };
                iface.next_unsolicited = now + wait;
            }
            // Any advertisement answers a pending solicitation.
            iface.response_at = None;
            iface.record_send(now);
            out.push((family, ifindex, iface.querier, solicited));
        }
        for (family, ifindex, q, solicited) in out {
            let adv = Repr::Advertisement(Advertisement {
                interval: adv_interval,
                query_interval: q.query_interval,
                robustness: q.robustness,
            });
            if solicited {
                self.stats.solicited += 1;
            }
            self.queue(family, ifindex, adv);
        }
    }

    /// Stops advertising everywhere, queueing a termination on every interface.
    pub fn shutdown(&mut self, now: Instant) {
        let all: Vec<(Family, u32)> = self.ifaces.keys().copied().collect();
        for (family, ifindex) in all {
            self.disable(now, family, ifindex);
        }
    }

    /// The next message to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next; `None` when no
    /// interface advertises.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ifaces
            .values()
            .map(|i| {
                let due = i.due();
                due.max(i.rate_ok_at(due))
            })
            .min()
    }

    fn queue(&mut self, family: Family, ifindex: u32, message: Repr) {
        match message {
            Repr::Advertisement(_) => self.stats.advertisements += 1,
            Repr::Termination => self.stats.terminations += 1,
            Repr::Solicitation => {}
        }
        // TTL/hop limit 1 (RFC 4286 sections 2.1, 3.1, 4.1).
        self.transmits.push_back(Transmit {
            egress: Egress::Interface { family, ifindex },
            src: None,
            dst: super::destination(family, &message),
            ttl: 1,
            payload: message.to_bytes(family),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_window() {
        let t0 = Instant::now();
        let ms = Duration::from_millis(1);
        let mut i = Iface {
            querier: QuerierParams::NONE,
            next_unsolicited: t0,
            initial_left: 0,
            response_at: None,
            recent: VecDeque::new(),
        };
        for k in 0..MAX_MESSAGE_RATE as u32 {
            assert_eq!(i.rate_ok_at(t0 + k * ms), t0 + k * ms);
            i.record_send(t0 + k * ms);
        }
        // Ten in the last second: the next may go when the oldest is a second old.
        let now = t0 + 10 * ms;
        assert_eq!(i.rate_ok_at(now), t0 + Duration::from_secs(1));
        i.record_send(t0 + Duration::from_secs(1));
        assert_eq!(i.recent.len(), MAX_MESSAGE_RATE);
        assert_eq!(
            i.rate_ok_at(t0 + Duration::from_secs(1)),
            t0 + Duration::from_secs(1) + ms
        );
    }
}
