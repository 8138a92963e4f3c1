//! mroutectl's views of a running router: the IGMP tables and a status summary.

use std::time::Instant;

use super::Service;
use crate::ctl::{DvmrpStatus, IgmpGroupRow, IgmpInterfaceRow, IgmpTables};
use crate::engine::igmp::Version;
use crate::platform::Platform;

fn version_number(v: Version) -> u8 {
    match v {
        Version::V1 => 1,
        Version::V2 => 2,
        Version::V3 => 3,
    }
}

impl<P: Platform> Service<P> {
    /// `show igmp`: the querier of every interface that runs IGMP (not tunnels) and the groups
    /// with members, each with its last reporter, expiry and compatibility mode.
    pub fn igmp_tables(&self, now: Instant) -> IgmpTables {
        let mut t = IgmpTables::default();
        for s in self.slots.values().filter(|s| s.plan.tunnel.is_none()) {
            let info = s.querier.info();
            let secs = |at: Option<Instant>| at.map(|x| x.saturating_duration_since(now).as_secs());
            t.interfaces.push(IgmpInterfaceRow {
                interface: s.plan.name.clone(),
                querier: info.querier_addr,
                local: info.querier,
                version: version_number(info.version),
                groups: info.groups,
                querier_expires: secs(info.other_querier_expires),
                next_query: secs(info.next_general_query),
            });
            for g in s.querier.group_info(now) {
                t.groups.push(IgmpGroupRow {
                    interface: s.plan.name.clone(),
                    group: g.group,
                    reporter: g.reporter,
                    expires: g.expires.saturating_duration_since(now).as_secs(),
                    version: version_number(g.version),
                    leaving: g.leaving,
                });
            }
        }
        t
    }

    /// The daemon's version with its uptime (mroutectl's `show version`).
    pub fn version_line(&self, now: Instant) -> String {
        format!(
            "dvmrp-router (mcroute {}), DVMRP 3.255, up {}",
            env!("CARGO_PKG_VERSION"),
            super::short_time(self.uptime(now))
        )
    }

    /// `show status`: the counts mroutectl's `show` summarizes.
    pub fn dvmrp_status(&self, now: Instant) -> DvmrpStatus {
        let e = self.engine.stats();
        DvmrpStatus {
            version: self.version_line(now),
            uptime: self.uptime(now).as_secs(),
            vifs: self.slots.len(),
            neighbors: self.engine.neighbors().count(),
            routes: self.engine.route_count(),
            mfc: self.engine.flow_count(),
            groups: self
                .slots
                .values()
                .map(|s| s.querier.groups().count())
                .sum(),
            received: e.received,
            dropped: e.malformed + e.bad_checksum + e.unknown_code + e.bad_version,
            route_limit: e.route_limit,
        }
    }
}

/// mroutectl's `debug [LEVELS|none]` on the daemon's logger: without levels, the levels in
/// force; with them, debug output for those of mrouted's `-d` levels from now on; `none`
/// turns debug output off (info and above stay).
#[cfg(feature = "daemon")]
pub fn debug_command(levels: Option<&str>) -> crate::ctl::Response {
    use crate::ctl::Response;
    use crate::daemon::Logger;
    match levels {
        None => match Logger::filter() {
            Some((l, targets)) if l >= log::LevelFilter::Debug => {
                Response::Text(if targets.is_empty() {
                    "all".into()
                } else {
                    targets.join(",")
                })
            }
            _ => Response::Text("none".into()),
        },
        Some("none") => {
            Logger::set_debug_targets(Vec::new());
            Logger::set_level(log::LevelFilter::Info);
            Response::Ok
        }
        Some(v) => match super::debug_levels(Some(v)) {
            Ok(levels) => {
                Logger::set_debug_targets(super::debug_targets(&levels));
                Logger::set_level(log::LevelFilter::Trace);
                log::info!("debug levels now {}", levels.join(","));
                Response::Ok
            }
            Err(e) => Response::Error(e),
        },
    }
}

/// mroutectl's `log [LEVEL]` on the daemon's logger: without a level, the level in force;
/// with one (none, err, notice, info, debug), that level from now on.
#[cfg(feature = "daemon")]
pub fn log_command(level: Option<&str>) -> crate::ctl::Response {
    use crate::ctl::Response;
    use crate::daemon::Logger;
    match level {
        None => Response::Text(
            Logger::filter()
                .map_or("info", |(l, _)| Logger::level_name(l))
                .to_string(),
        ),
        Some(v) => match Logger::parse_level(v) {
            Some(l) => {
                Logger::set_level(l);
                Response::Ok
            }
            None => Response::Error(format!(
                "unknown log level {v:?} (none, err, notice, info, debug)"
            )),
        },
    }
}
