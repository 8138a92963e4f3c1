//! What the static engine asks a daemon to do, and the routes it reasons about.

use std::fmt;
use std::net::IpAddr;

use crate::model::Family;

/// A multicast route by interface names: what the engine wants in the kernel's MFC.
///
/// The engine works on names and never on VIF slots: the [`Router`](crate::Router) allocates
/// slots, and the daemon translates (see [`exec::route_to_mfc`](crate::service::static_router::exec::route_to_mfc)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    /// S.
    pub source: IpAddr,
    /// G.
    pub group: IpAddr,
    /// The inbound interface.
    pub iif: String,
    /// The outbound interfaces with their TTL thresholds (each the interface's phyint
    /// `ttl-threshold`), sorted by name. Empty for a stop filter.
    pub oifs: Vec<(String, u8)>,
}

impl Route {
    /// The family of the route.
    pub fn family(&self) -> Family {
        Family::of(&self.group)
    }

    /// Whether the route drops its flow (no outbound interfaces).
    pub fn is_stop_filter(&self) -> bool {
        self.oifs.is_empty()
    }

    /// Whether `name` is the inbound interface or an outbound one.
    pub fn uses(&self, name: &str) -> bool {
        self.iif == name || self.oifs.iter().any(|(o, _)| o == name)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {}) from {} to", self.source, self.group, self.iif)?;
        if self.oifs.is_empty() {
            f.write_str(" nothing (stop filter)")?;
        }
        for (o, t) in &self.oifs {
            write!(f, " {o}")?;
            if *t > 1 {
                write!(f, "(ttl {t})")?;
            }
        }
        Ok(())
    }
}

/// Why the engine runs the `-e` script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScriptEvent {
    /// `CMD reload`: a configuration was applied (including the first one at startup).
    Reload,
    /// `CMD install` with `source=S group=G` in the environment: a template materialised a
    /// route on an upcall.
    Install {
        /// S.
        source: IpAddr,
        /// G.
        group: IpAddr,
    },
}

/// One thing the daemon must do, in the order returned.
///
/// VIFs are added before the routes that use them and removed after; a route is removed
/// before its inbound VIF goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create the VIF (IPv4) or MIF (IPv6) of an interface.
    AddVif {
        /// Which table.
        family: Family,
        /// The interface.
        name: String,
        /// Its index, as last reported through `set_interfaces`.
        ifindex: u32,
        /// The TTL threshold of the VIF.
        threshold: u8,
        /// Whether to announce Multicast Router Discovery on it (IPv4 only).
        mrdisc: bool,
    },
    /// Delete the VIF or MIF of an interface.
    RemoveVif {
        /// Which table.
        family: Family,
        /// The interface.
        name: String,
    },
    /// Start or stop Multicast Router Discovery on an interface whose VIF stays (a phyint's
    /// `mrdisc` changed on reload).
    SetMrdisc {
        /// The family (IGMP advertisements for IPv4, ICMPv6 for IPv6).
        family: Family,
        /// The interface.
        name: String,
        /// Announce or not.
        enable: bool,
    },
    /// Install a route for an (S,G) that has none.
    AddRoute(Route),
    /// Replace the route of an (S,G) in place (new outbound set or inbound interface); the
    /// kernel keeps its counters and the flow does not stop.
    ReplaceRoute(Route),
    /// Delete the route of (S,G).
    RemoveRoute {
        /// S.
        source: IpAddr,
        /// G.
        group: IpAddr,
        /// The inbound interface it had.
        iif: String,
    },
    /// Join a group on an interface (SSM when a source is given).
    Join {
        /// The interface.
        name: String,
        /// The source, for an SSM join.
        source: Option<IpAddr>,
        /// The group.
        group: IpAddr,
    },
    /// Leave what `Join` joined.
    Leave {
        /// The interface.
        name: String,
        /// The source, for an SSM join.
        source: Option<IpAddr>,
        /// The group.
        group: IpAddr,
    },
    /// Run the `-e` script, if the daemon has one.
    RunScript(ScriptEvent),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sg = |s: &Option<IpAddr>, g: &IpAddr| match s {
            Some(s) => format!("({s}, {g})"),
            None => format!("(*, {g})"),
        };
        match self {
            Action::AddVif {
                family,
                name,
                threshold,
                ..
            } => write!(
                f,
                "add {} on {name} (threshold {threshold})",
                vif_word(*family)
            ),
            Action::RemoveVif { family, name } => {
                write!(f, "remove {} of {name}", vif_word(*family))
            }
            Action::SetMrdisc {
                family,
                name,
                enable,
            } => {
                write!(
                    f,
                    "{} {family} mrdisc on {name}",
                    if *enable { "start" } else { "stop" }
                )
            }
            Action::AddRoute(r) => write!(f, "add route {r}"),
            Action::ReplaceRoute(r) => write!(f, "replace route {r}"),
            Action::RemoveRoute { source, group, iif } => {
                write!(f, "remove route ({source}, {group}) from {iif}")
            }
            Action::Join {
                name,
                source,
                group,
            } => write!(f, "join {} on {name}", sg(source, group)),
            Action::Leave {
                name,
                source,
                group,
            } => write!(f, "leave {} on {name}", sg(source, group)),
            Action::RunScript(ScriptEvent::Reload) => f.write_str("run script: reload"),
            Action::RunScript(ScriptEvent::Install { source, group }) => {
                write!(f, "run script: install source={source} group={group}")
            }
        }
    }
}

fn vif_word(f: Family) -> &'static str {
    match f {
        Family::V4 => "VIF",
        Family::V6 => "MIF",
    }
}
