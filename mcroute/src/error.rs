//! Errors of the platform and Router layers.

use std::fmt;
use std::io;
use std::net::IpAddr;

use crate::model::{Family, ModelError, VifIndex};

/// What an [`Error::NotFound`] or [`Error::AlreadyExists`] is about, so that callers can
/// match on the kind of object instead of parsing a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Object {
    /// A VIF (IPv4) or MIF (IPv6) slot.
    Vif(VifIndex),
    /// An interface, by name.
    Interface(String),
    /// The route (MFC entry) of (S,G).
    Route {
        /// The source.
        source: IpAddr,
        /// The group.
        group: IpAddr,
    },
    /// A VIF that a route names as its inbound (`inbound`) or an outbound interface.
    RouteVif {
        /// The VIF or MIF.
        vif: VifIndex,
        /// Inbound (true) or outbound.
        inbound: bool,
        /// The route's source.
        source: IpAddr,
        /// The route's group.
        group: IpAddr,
    },
    /// A group membership, (S,G) or (*,G), on an interface index when known.
    Membership {
        /// The source of an SSM membership.
        source: Option<IpAddr>,
        /// The group.
        group: IpAddr,
        /// The interface index.
        ifindex: Option<u32>,
    },
    /// The multicast routing socket of a family (`MRT_INIT`).
    RoutingSocket(Family),
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Vif(v) => write!(f, "{v}"),
            Object::Interface(name) => write!(f, "interface {name}"),
            Object::Route { source, group } => write!(f, "route ({source}, {group})"),
            Object::RouteVif {
                vif,
                inbound,
                source,
                group,
            } => {
                let dir = if *inbound { "inbound" } else { "outbound" };
                write!(f, "{dir} {vif} of route ({source}, {group})")
            }
            Object::Membership {
                source,
                group,
                ifindex,
            } => {
                match source {
                    Some(s) => write!(f, "membership ({s}, {group})")?,
                    None => write!(f, "membership (*, {group})")?,
                }
                match ifindex {
                    Some(i) => write!(f, " on interface {i}"),
                    None => Ok(()),
                }
            }
            Object::RoutingSocket(family) => write!(f, "{family} routing socket"),
        }
    }
}

/// An error from the kernel or from the Router's bookkeeping.
///
/// I/O errors keep the operation and the object they were about, e.g.
/// `adding MFC (192.0.2.10, 225.1.2.3) from VIF 0: File exists (os error 17)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("{op}: {source}")]
    Io {
        /// What was being done, naming the object (`adding VIF 3 (eth1)`).
        op: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another socket already holds `MRT_INIT` on the table (`EADDRINUSE`).
    #[error("{family} multicast routing table {table} is already in use by another process")]
    TableInUse {
        /// The family of the table.
        family: Family,
        /// The table id (0 is the default table).
        table: u32,
    },
    /// The kernel has no multicast routing for this family (or no support for tables).
    #[error("{what}: the kernel does not support it ({source})")]
    NoKernelSupport {
        /// What was asked for.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Not allowed: needs root or `CAP_NET_ADMIN`.
    #[error("{op}: permission denied (needs root or CAP_NET_ADMIN)")]
    PermissionDenied {
        /// What was being done.
        op: String,
    },
    /// The platform cannot do this at all (for example routing tables on FreeBSD).
    #[error("{0} is not supported on this platform")]
    Unsupported(&'static str),
    /// No interface of that name or index exists.
    #[error("unknown interface {0}")]
    NoSuchInterface(String),
    /// The interface exists but cannot carry multicast (no `IFF_MULTICAST`).
    #[error("interface {0} is not multicast capable")]
    NotMulticastCapable(String),
    /// The VIF or MIF table has no free slot.
    #[error("no free {family} interface slot for {name}: the table holds {max}")]
    VifTableFull {
        /// The family.
        family: Family,
        /// The interface that did not fit.
        name: String,
        /// The table size.
        max: usize,
    },
    /// The family's table was not opened by this Router.
    #[error("{0} multicast routing is not open on this router")]
    NotOpen(Family),
    /// A VIF, MIF, route or membership the request names does not exist.
    #[error("{object} not found")]
    NotFound {
        /// What was looked for.
        object: Object,
    },
    /// The object already exists.
    #[error("{object} already exists")]
    AlreadyExists {
        /// What exists already.
        object: Object,
    },
    /// The request is inconsistent (wrong family, not a multicast group...).
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl Error {
    /// An I/O error about `op`, mapped to the specific variants where one applies.
    pub fn io(op: impl Into<String>, source: io::Error) -> Error {
        let op = op.into();
        match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Error::PermissionDenied { op },
            _ => Error::Io { op, source },
        }
    }

    /// [`Error::NotFound`] about `object`.
    pub fn not_found(object: Object) -> Error {
        Error::NotFound { object }
    }

    /// [`Error::AlreadyExists`] about `object`.
    pub fn already_exists(object: Object) -> Error {
        Error::AlreadyExists { object }
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether this is [`Error::AlreadyExists`].
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::AlreadyExists { .. })
    }

    /// Whether this error means the caller lacks privileges.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Error::PermissionDenied { .. })
    }
}

/// The result type of mcroute's platform and Router layers.
pub type Result<T, E = Error> = std::result::Result<T, E>;
