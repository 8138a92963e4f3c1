//! Errors of the platform and Router layers.

use std::io;

use crate::model::{Family, ModelError};

/// An error from the kernel or from the Router's bookkeeping.
///
/// I/O errors keep the operation and the object they were about, e.g.
/// `adding MFC (192.0.2.10, 225.1.2.3) from VIF 0: File exists (os error 17)`.
#[derive(Debug, thiserror::Error)]
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
    #[error("{0} not found")]
    NotFound(String),
    /// The object already exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
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

    /// Whether this error means the caller lacks privileges.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Error::PermissionDenied { .. })
    }
}

/// The result type of mcroute's platform and Router layers.
pub type Result<T, E = Error> = std::result::Result<T, E>;
