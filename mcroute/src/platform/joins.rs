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
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOBUFS) | Some(libc::ETOOMANYREFS)
                    ) && !opened_new =>
                {
                    // The kernel's per-socket limit is lower than assumed: this one is full.
                    pool.sockets[idx].1 = usize::MAX / 2;
                    slot = None;
                }
                Err(e) => {
                    let what = describe(ifindex, group, source);
                    return Err(match e.raw_os_error() {
                        Some(libc::ENODEV) | Some(libc::ENXIO) => {
                            Error::NoSuchInterface(format!("index {ifindex}"))
                        }
                        Some(libc::EADDRINUSE) => {
                            Error::already_exists(membership(ifindex, group, source))
                        }
                        _ => Error::io(format!("joining {what}"), e),
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
