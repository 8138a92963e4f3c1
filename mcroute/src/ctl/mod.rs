//! The control protocol between the daemons and `mcroutectl`.
//!
//! - [`Request`] and [`Response`]: typed messages (add/remove routes, join/leave, show
//!   routes/groups/interfaces with counters, flush, reload, kill, version).
//! - [`wire`]: a versioned framing over a UNIX stream socket. Every frame is
//!   `"MCR" | version | u32 length | body`; bodies are a small tagged encoding. A malformed
//!   or oversized frame gets an error reply and never disturbs the daemon.
//! - [`server::CtlServer`]: what a daemon embeds: a non-blocking listener on a socket created
//!   with mode 0660 that checks each client's credentials (`SO_PEERCRED`): root, the
//!   daemon's own user, or members of the socket's group only.
//! - [`client::CtlClient`]: what the CLI uses.
//! - [`command`]: smcroutectl's command syntax (`add IIF [SRC] GRP OIF...`, `s g`, ...) parsed
//!   into requests, and [`render`]: the human tables and the JSON schema of `show`.

pub mod client;
pub mod command;
pub mod render;
pub mod server;
pub mod wire;

use std::fmt;

use ipnet::IpNet;

/// What `show` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShowWhat {
    /// Template rules, (S,G) rules and the kernel routes.
    Routes,
    /// Group memberships.
    Groups,
    /// Interfaces with their VIF/MIF.
    Interfaces,
}

impl ShowWhat {
    /// The name used on the wire and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ShowWhat::Routes => "routes",
            ShowWhat::Groups => "groups",
            ShowWhat::Interfaces => "interfaces",
        }
    }

    fn from_name(s: &str) -> Option<ShowWhat> {
        match s {
            "routes" => Some(ShowWhat::Routes),
            "groups" => Some(ShowWhat::Groups),
            "interfaces" => Some(ShowWhat::Interfaces),
            _ => None,
        }
    }
}

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Add a route, or add OIFs to an existing identical one.
    Add {
        /// Inbound interface (may be a `+` wildcard).
        iif: String,
        /// Source (prefix), `None` for (*,G).
        source: Option<IpNet>,
        /// Group (prefix).
        group: IpNet,
        /// Outbound interfaces.
        oifs: Vec<String>,
    },
    /// Remove a route (no OIFs) or some of its OIFs.
    Remove {
        /// Inbound interface.
        iif: String,
        /// Source (prefix), `None` for (*,G).
        source: Option<IpNet>,
        /// Group (prefix).
        group: IpNet,
        /// OIFs to remove; empty removes the route.
        oifs: Vec<String>,
    },
    /// Join a group (SSM with a source).
    Join {
        /// Interface.
        iif: String,
        /// Source (prefix) for SSM.
        source: Option<IpNet>,
        /// Group (prefix).
        group: IpNet,
    },
    /// Leave a group.
    Leave {
        /// Interface.
        iif: String,
        /// Source (prefix) for SSM.
        source: Option<IpNet>,
        /// Group (prefix).
        group: IpNet,
    },
    /// List state.
    Show {
        /// What to list.
        what: ShowWhat,
        /// Include counters.
        detail: bool,
    },
    /// Flush dynamic routes learned from (*,G) rules.
    Flush,
    /// Reload the configuration file.
    Reload,
    /// Stop the daemon.
    Kill,
    /// The daemon's version.
    Version,
}

/// One row of a route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRow {
    /// Source (prefix); `None` for (*,G).
    pub source: Option<IpNet>,
    /// Group (prefix).
    pub group: IpNet,
    /// Inbound interface.
    pub iif: String,
    /// Outbound interfaces (empty: a stop filter).
    pub oifs: Vec<String>,
    /// Packets forwarded (with `detail`, kernel routes only).
    pub packets: Option<u64>,
    /// Bytes forwarded (with `detail`, kernel routes only).
    pub bytes: Option<u64>,
}

/// The three route tables of `show routes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteTables {
    /// (*,G) and prefix templates, matched against upcalls.
    pub templates: Vec<RouteRow>,
    /// (S,G) rules from the configuration and the control socket.
    pub rules: Vec<RouteRow>,
    /// What is installed in the kernel: active routes first, then stop filters.
    pub kernel: Vec<RouteRow>,
}

/// One group membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// Source (prefix) of an SSM join.
    pub source: Option<IpNet>,
    /// Group (prefix).
    pub group: IpNet,
    /// Interface.
    pub iif: String,
}

/// One interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceRow {
    /// Interface index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// IPv4 VIF, if any.
    pub vif: Option<u16>,
    /// IPv6 MIF, if any.
    pub mif: Option<u16>,
}

/// A reply from the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Done.
    Ok,
    /// Refused or failed, with a one-line reason.
    Error(String),
    /// The daemon's version string.
    Version(String),
    /// `show routes`.
    Routes(RouteTables),
    /// `show groups`.
    Groups(Vec<GroupRow>),
    /// `show interfaces`.
    Interfaces(Vec<InterfaceRow>),
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sg = |f: &mut fmt::Formatter<'_>, s: &Option<IpNet>, g: &IpNet| match s {
            Some(s) => write!(f, " {} {}", fmt_net(s), fmt_net(g)),
            None => write!(f, " {}", fmt_net(g)),
        };
        match self {
            Request::Add {
                iif,
                source,
                group,
                oifs,
            }
            | Request::Remove {
                iif,
                source,
                group,
                oifs,
            } => {
                f.write_str(if matches!(self, Request::Add { .. }) {
                    "add "
                } else {
                    "remove "
                })?;
                f.write_str(iif)?;
                sg(f, source, group)?;
                for o in oifs {
                    write!(f, " {o}")?;
                }
                Ok(())
            }
            Request::Join { iif, source, group } | Request::Leave { iif, source, group } => {
                f.write_str(if matches!(self, Request::Join { .. }) {
                    "join "
                } else {
                    "leave "
                })?;
                f.write_str(iif)?;
                sg(f, source, group)
            }
            Request::Show { what, detail } => {
                write!(
                    f,
                    "show {}{}",
                    what.name(),
                    if *detail { " -d" } else { "" }
                )
            }
            Request::Flush => f.write_str("flush"),
            Request::Reload => f.write_str("reload"),
            Request::Kill => f.write_str("kill"),
            Request::Version => f.write_str("version"),
        }
    }
}

/// Prints a prefix as smcroute does: the bare address for a host prefix, `addr/len` else.
pub fn fmt_net(n: &IpNet) -> String {
    if n.prefix_len() == n.max_prefix_len() {
        n.addr().to_string()
    } else {
        n.to_string()
    }
}

/// Prints a (S,G) pair: `(S, G)` or `(*, G)`.
pub fn fmt_sg(source: &Option<IpNet>, group: &IpNet) -> String {
    match source {
        Some(s) => format!("({}, {})", fmt_net(s), fmt_net(group)),
        None => format!("(*, {})", fmt_net(group)),
    }
}
