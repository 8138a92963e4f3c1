//! Group memberships on a pool of UDP sockets (shared by the Unix backends).
//!
//! Kernels limit the memberships one socket may hold (Linux: `igmp_max_memberships`, 20 by
//! default; FreeBSD: `IP_MAX_MEMBERSHIPS`). The pool opens another socket when one is full,
//! so a router can join any number of groups.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};

use crate::error::{Error, Object, Result};
use crate::model::Family;
use crate::sys::unix as sys;

type Key = (u32, IpAddr, Option<IpAddr>);

#[derive(Default)]
struct Pool {
    sockets: Vec<(OwnedFd, usize)>,
    held: HashMap<Key, usize>,
}

/// The memberships of one process, per family.
pub(crate) struct Memberships {
    per_socket: usize,
    v4: Pool,
    v6: Pool,
}

fn membership(ifindex: u32, group: IpAddr, source: Option<IpAddr>) -> Object {
    Object::Membership {
        source,
        group,
        ifindex: Some(ifindex),
    }
}

fn describe(ifindex: u32, group: IpAddr, source: Option<IpAddr>) -> String {
    match source {
        Some(s) => format!("({s}, {group}) on interface {ifindex}"),
        None => format!("(*, {group}) on interface {ifindex}"),
    }
}

const FREEBSD: bool = cfg!(target_os = "freebsd");

/// What a failed join means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JoinError {
    /// The socket holds as many memberships as the kernel allows: use another.
    Full,
    /// No such interface.
    NoInterface,
    /// Already joined.
    Exists,
    /// Anything else.
    Other,
}

/// Sorts a join's errno. Linux says ENOBUFS for a full socket and ENODEV for a bad
/// interface index; FreeBSD's in_mcast.c says ETOOMANYREFS or ENOMEM (the membership array
/// cannot grow) for the first and EADDRNOTAVAIL (no such ifnet) for the second.
fn join_error(errno: Option<i32>, freebsd: bool) -> JoinError {
    match errno {
        Some(libc::ENOBUFS) | Some(libc::ETOOMANYREFS) => JoinError::Full,
        Some(libc::ENOMEM) if freebsd => JoinError::Full,
        Some(libc::ENODEV) | Some(libc::ENXIO) => JoinError::NoInterface,
        Some(libc::EADDRNOTAVAIL) if freebsd => JoinError::NoInterface,
        Some(libc::EADDRINUSE) => JoinError::Exists,
        _ => JoinError::Other,
    }
}

impl Memberships {
    /// A pool that puts at most `per_socket` memberships on one socket.
    pub(crate) fn new(per_socket: usize) -> Memberships {
        Memberships {
            per_socket,
            v4: Pool::default(),
            v6: Pool::default(),
        }
    }

    /// Joins (ASM without `source`, SSM with it).
    pub(crate) fn join(
        &mut self,
        ifindex: u32,
        group: IpAddr,
        source: Option<IpAddr>,
    ) -> Result<()> {
        let (pool, domain) = match Family::of(&group) {
            Family::V4 => (&mut self.v4, libc::AF_INET),
            Family::V6 => (&mut self.v6, libc::AF_INET6),
        };
        let key = (ifindex, group, source);
        if pool.held.contains_key(&key) {
            return Err(Error::already_exists(membership(ifindex, group, source)));
        }
        let mut slot = pool.sockets.iter().position(|(_, n)| *n < self.per_socket);
        let mut opened_new = false;
        loop {
            let idx = match slot {
                Some(i) => i,
                None => {
                    let s = sys::udp_socket(domain)
                        .map_err(|e| Error::io("opening a socket for group memberships", e))?;
                    pool.sockets.push((s, 0));
                    opened_new = true;
                    pool.sockets.len() - 1
                }
            };
            match sys::membership(pool.sockets[idx].0.as_fd(), true, ifindex, group, source) {
                Ok(()) => {
                    pool.sockets[idx].1 += 1;
                    pool.held.insert(key, idx);
                    return Ok(());
                }
                Err(e)
                    if join_error(e.raw_os_error(), FREEBSD) == JoinError::Full && !opened_new =>
                {
                    // The kernel's per-socket limit is lower than assumed: this one is full.
                    pool.sockets[idx].1 = usize::MAX / 2;
                    slot = None;
                }
                Err(e) => {
                    let what = describe(ifindex, group, source);
                    return Err(match join_error(e.raw_os_error(), FREEBSD) {
                        JoinError::NoInterface => {
                            Error::NoSuchInterface(format!("index {ifindex}"))
                        }
                        JoinError::Exists => {
                            Error::already_exists(membership(ifindex, group, source))
                        }
                        JoinError::Full | JoinError::Other => {
                            Error::io(format!("joining {what}"), e)
                        }
                    });
                }
            }
        }
    }

    /// Leaves what [`Memberships::join`] joined.
    pub(crate) fn leave(
        &mut self,
        ifindex: u32,
        group: IpAddr,
        source: Option<IpAddr>,
    ) -> Result<()> {
        let pool = match Family::of(&group) {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        };
        let what = || describe(ifindex, group, source);
        let Some(idx) = pool.held.remove(&(ifindex, group, source)) else {
            return Err(Error::not_found(membership(ifindex, group, source)));
        };
        let (sock, n) = &mut pool.sockets[idx];
        *n = n.saturating_sub(1).min(self.per_socket.saturating_sub(1));
        sys::membership(sock.as_fd(), false, ifindex, group, source)
            .map_err(|e| Error::io(format!("leaving {}", what()), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_errors_per_os() {
        for (errno, linux, freebsd) in [
            (libc::ENOBUFS, JoinError::Full, JoinError::Full),
            (libc::ETOOMANYREFS, JoinError::Full, JoinError::Full),
            (libc::ENOMEM, JoinError::Other, JoinError::Full),
            (libc::ENODEV, JoinError::NoInterface, JoinError::NoInterface),
            (
                libc::EADDRNOTAVAIL,
                JoinError::Other,
                JoinError::NoInterface,
            ),
            (libc::EADDRINUSE, JoinError::Exists, JoinError::Exists),
            (libc::EPERM, JoinError::Other, JoinError::Other),
        ] {
            assert_eq!(
                join_error(Some(errno), false),
                linux,
                "Linux, errno {errno}"
            );
            assert_eq!(
                join_error(Some(errno), true),
                freebsd,
                "FreeBSD, errno {errno}"
            );
        }
    }
}
