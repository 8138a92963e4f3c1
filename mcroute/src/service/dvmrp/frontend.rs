//! What an mrouted-like daemon needs around [`Service`] beyond the protocol: mrouted's `-d`
//! debug levels as log targets, reading and planning the configuration file, the restart
//! when the set of interfaces changes, and a one-line status.

use std::path::Path;
use std::time::Instant;

use super::{
    plan, Plan, PlanOptions, Service, ServiceError, LOG_CACHE, LOG_GROUPS, LOG_IGMP, LOG_INTERFACE,
    LOG_PACKET, LOG_PEERS, LOG_ROUTES,
};
use crate::config::mrouted;
use crate::model::Interface;
use crate::platform::Platform;

/// mrouted's debug levels (`-d LEVEL,...`).
pub const DEBUG_LEVELS: &[&str] = &[
    "packet",
    "prunes",
    "routes",
    "rtdetail",
    "peers",
    "cache",
    "timeout",
    "interface",
    "groups",
    "mtrace",
    "igmp",
    "icmp",
    "rsrr",
    "all",
];

/// The levels of a bare `-d`.
pub const DEFAULT_DEBUG: &[&str] = &[
    "igmp",
    "cache",
    "interface",
    "groups",
    "prunes",
    "routes",
    "peers",
];

/// Parses the value of `-d`/`--debug`: a comma list of [`DEBUG_LEVELS`], or
/// [`DEFAULT_DEBUG`] without one.
pub fn debug_levels(value: Option<&str>) -> Result<Vec<String>, String> {
    let Some(v) = value else {
        return Ok(DEFAULT_DEBUG.iter().map(|s| s.to_string()).collect());
    };
    v.split(',')
        .map(|l| {
            let l = l.trim();
            if DEBUG_LEVELS.contains(&l) {
                Ok(l.to_string())
            } else {
                Err(format!("unknown debug level {l:?} in {v:?}"))
            }
        })
        .collect()
}

/// The log targets whose debug output `levels` select (empty for `all`: every target).
pub fn debug_targets(levels: &[String]) -> Vec<String> {
    if levels.iter().any(|l| l == "all") {
        return Vec::new();
    }
    let mut targets: Vec<String> = Vec::new();
    for l in levels {
        let t: &[&str] = match l.as_str() {
            "packet" => &[LOG_PACKET, LOG_IGMP],
            "prunes" | "cache" => &[LOG_CACHE],
            "routes" | "rtdetail" => &[LOG_ROUTES],
            "peers" => &[LOG_PEERS],
            "interface" => &[LOG_INTERFACE],
            "groups" => &[LOG_GROUPS],
            "igmp" => &[LOG_IGMP],
            _ => &[],
        };
        for t in t {
            if !targets.iter().any(|x| x == t) {
                targets.push(t.to_string());
            }
        }
    }
    if targets.is_empty() {
        // Levels with no target of their own (timeout, mtrace, ...) still mean "debug":
        // show the protocol's own messages rather than nothing.
        targets.push("dvmrp".to_string());
    }
    targets
}

/// Reads mrouted.conf at `path` (a missing file means mrouted's defaults) and plans it on
/// `interfaces`; the plan's warnings are logged, and so are the interfaces left out. Errors
/// name the file.
pub fn plan_file(
    path: &Path,
    interfaces: &[Interface],
    opts: &PlanOptions,
) -> Result<Plan, String> {
    let config = if path.exists() {
        mrouted::load(path).map_err(|e| e.to_string().trim_end().to_string())?
    } else {
        log::info!("{} not found: using the defaults", path.display());
        mrouted::Config::default()
    };
    let p = plan(&config, interfaces, opts).map_err(|e| format!("{}: {e}", path.display()))?;
    for w in &p.warnings {
        log::warn!("{w}");
    }
    for (name, why) in &p.skipped {
        log::info!("{name}: not used ({why})");
    }
    Ok(p)
}

impl<P: Platform> Service<P> {
    /// The interfaces changed (a link event): restarts the protocol on `plan` if its VIFs
    /// (name, index, address, subnet) differ from the running ones, as mrouted would need a
    /// restart for; returns whether it did.
    pub fn reload_if_vifs_changed(
        &mut self,
        plan: Plan,
        now: Instant,
    ) -> Result<bool, ServiceError> {
        let key = |p: &Plan| {
            p.vifs
                .iter()
                .map(|v| (v.name.clone(), v.ifindex, v.local, v.subnet))
                .collect::<Vec<_>>()
        };
        if key(&plan) == key(self.plan()) {
            return Ok(false);
        }
        log::info!(
            "interfaces changed: now {:?}",
            plan.vifs.iter().map(|v| &v.name).collect::<Vec<_>>()
        );
        self.reload(plan, now)?;
        Ok(true)
    }

    /// Handles everything queued on [`Service::fd`] ([`Service::handle_readable`] until it
    /// finds nothing); returns how many messages.
    pub fn handle_all_readable(&mut self, now: Instant) -> Result<usize, ServiceError> {
        let mut total = 0;
        loop {
            match self.handle_readable(now)? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// One line for a service manager's status: routes, neighbours and VIFs.
    pub fn status(&self) -> String {
        format!(
            "{} routes, {} neighbours, {} VIFs",
            self.engine().route_count(),
            self.engine().neighbors().count(),
            self.plan().vifs.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_levels_and_their_targets() {
        assert_eq!(debug_levels(None).unwrap().len(), DEFAULT_DEBUG.len());
        assert_eq!(
            debug_levels(Some("peers,routes")).unwrap(),
            vec!["peers".to_string(), "routes".to_string()]
        );
        assert!(debug_levels(Some("peers,nope"))
            .unwrap_err()
            .contains("nope"));
        assert_eq!(
            debug_targets(&["peers".into(), "routes".into(), "rtdetail".into()]),
            vec![LOG_PEERS.to_string(), LOG_ROUTES.to_string()]
        );
        assert!(debug_targets(&["all".into(), "peers".into()]).is_empty());
        assert_eq!(
            debug_targets(&["timeout".into()]),
            vec!["dvmrp".to_string()]
        );
    }
}
