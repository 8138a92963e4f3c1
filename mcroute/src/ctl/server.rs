//! The daemon side of the control socket.
//!
//! [`CtlServer`] never blocks the daemon: the listener and every connection are
//! non-blocking, a partial request that stalls is dropped after [`IDLE_TIMEOUT`], the number
//! of clients is capped, and a client that sends garbage gets an error reply and is
//! disconnected while the others go on. Access: the socket file is created with mode 0660
//! (owner the daemon's user, group as configured), and every client's credentials
//! (`SO_PEERCRED` on Linux, `getpeereid` on FreeBSD) are checked: root, the daemon's own user
//! and members of the socket's group are served; anybody else is refused.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::unistd::{Gid, Group, Uid, User};

use super::wire::{self, FrameReader, WireError};
use super::{Request, Response};

/// A connection with an incomplete request is closed after this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many clients at once; more are refused.
pub const MAX_CLIENTS: usize = 64;
/// How long a reply may take to write before the client is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Who may use the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Permission bits of the socket file (0o660 by default; bits beyond 0o770 are dropped).
    pub mode: u32,
    /// The socket's group: its members may connect. `None` keeps the daemon's group.
    pub group: Option<Gid>,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            mode: 0o660,
            group: None,
        }
    }
}

/// The credentials of a connected client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

struct Conn {
    stream: UnixStream,
    reader: FrameReader,
    since: Instant,
}

/// Statistics of the control socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CtlStats {
    /// Clients served.
    pub accepted: u64,
    /// Clients refused for their credentials.
    pub refused: u64,
    /// Clients dropped for malformed frames.
    pub malformed: u64,
    /// Clients dropped for stalling or too many clients.
    pub dropped: u64,
    /// Requests handled.
    pub requests: u64,
}

/// The control socket of a daemon.
pub struct CtlServer {
    listener: UnixListener,
    path: PathBuf,
    group: Gid,
    conns: HashMap<RawFd, Conn>,
    stats: CtlStats,
}

/// An error setting up the control socket.
#[derive(Debug, thiserror::Error)]
#[error("control socket {path}: {source}")]
pub struct BindError {
    /// The socket path.
    pub path: PathBuf,
    /// What failed.
    #[source]
    pub source: io::Error,
}

fn peer_of(stream: &UnixStream) -> io::Result<Peer> {
    #[cfg(target_os = "linux")]
    {
        let c = nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
            .map_err(io::Error::from)?;
        Ok(Peer {
            uid: c.uid(),
            gid: c.gid(),
        })
    }
    #[cfg(target_os = "freebsd")]
    {
        let (uid, gid) = nix::unistd::getpeereid(stream).map_err(io::Error::from)?;
        Ok(Peer {
            uid: uid.as_raw(),
            gid: gid.as_raw(),
        })
    }
}

impl CtlServer {
    /// Creates the socket at `path` (replacing a stale one), sets its mode and group, and
    /// listens. Creates the parent directory if missing.
    pub fn bind(path: &Path, access: Access) -> Result<CtlServer, BindError> {
        let err = |source| BindError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
        }
        if path.exists() {
            // Another daemon may be serving it: refuse to steal a live socket.
            if UnixStream::connect(path).is_ok() {
                return Err(err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another daemon is listening on it",
                )));
            }
            std::fs::remove_file(path).map_err(err)?;
        }
        let listener = UnixListener::bind(path).map_err(err)?;
        listener.set_nonblocking(true).map_err(err)?;
        let group = access.group.unwrap_or_else(Gid::effective);
        if access.group.is_some() {
            nix::unistd::chown(path, None, Some(group)).map_err(|e| err(e.into()))?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(access.mode & 0o770))
            .map_err(err)?;
        Ok(CtlServer {
            listener,
            path: path.to_path_buf(),
            group,
            conns: HashMap::new(),
            stats: CtlStats::default(),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptors to poll for readability: the listener and every client.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        std::iter::once(self.listener.as_fd())
            .chain(self.conns.values().map(|c| c.stream.as_fd()))
            .collect()
    }

    /// The earliest time at which [`CtlServer::poll`] must run again to expire a stalled
    /// client, if any client is connected.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.conns.values().map(|c| c.since + IDLE_TIMEOUT).min()
    }

    /// Statistics so far.
    pub fn stats(&self) -> CtlStats {
        self.stats
    }

    /// Whether a client with these credentials may use the socket.
    pub fn authorized(&self, peer: Peer) -> bool {
        if peer.uid == 0 || peer.uid == Uid::effective().as_raw() || peer.gid == self.group.as_raw()
        {
            return true;
        }
        let Ok(Some(user)) = User::from_uid(Uid::from_raw(peer.uid)) else {
            return false;
        };
        matches!(Group::from_gid(self.group), Ok(Some(g)) if g.mem.contains(&user.name))
    }

    /// Accepts new clients, reads what they sent and answers every complete request with
    /// `handler`, without blocking. Call it when any descriptor of [`CtlServer::fds`] is
    /// readable, and at [`CtlServer::next_deadline`].
    pub fn poll(&mut self, mut handler: impl FnMut(&Request, Peer) -> Response) {
        let now = Instant::now();
        // Serve (and reap) the clients already here first, so that ones that left free
        // their place before new ones are counted against the limit; then the new ones.
        let old: Vec<RawFd> = self.conns.keys().copied().collect();
        self.serve_all(&old, &mut handler, now);
        self.accept_new();
        let new: Vec<RawFd> = self
            .conns
            .keys()
            .copied()
            .filter(|fd| !old.contains(fd))
            .collect();
        self.serve_all(&new, &mut handler, now);
    }

    fn serve_all(
        &mut self,
        fds: &[RawFd],
        handler: &mut impl FnMut(&Request, Peer) -> Response,
        now: Instant,
    ) {
        for &fd in fds {
            if !self.serve(fd, handler, now) {
                self.conns.remove(&fd);
            }
        }
    }

    fn accept_new(&mut self) {
        loop {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    log::warn!("control socket: accept: {e}");
                    return;
                }
            };
            let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
            let refuse = |s: &UnixStream, why: &str| {
                let mut s = s;
                let _ = s.write_all(&wire::encode_frame(&Response::Error(why.into()).to_value()));
            };
            match peer_of(&stream) {
                Ok(peer) if self.authorized(peer) => {}
                Ok(peer) => {
                    log::warn!(
                        "control socket: refused client uid {} gid {}: not root, not the daemon's user, not in group {}",
                        peer.uid,
                        peer.gid,
                        self.group
                    );
                    self.stats.refused += 1;
                    refuse(
                        &stream,
                        "permission denied: not root or a member of the socket's group",
                    );
                    continue;
                }
                Err(e) => {
                    log::warn!("control socket: cannot read client credentials: {e}");
                    self.stats.refused += 1;
                    continue;
                }
            }
            if self.conns.len() >= MAX_CLIENTS {
                self.stats.dropped += 1;
                refuse(&stream, "too many clients, try again");
                continue;
            }
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            self.stats.accepted += 1;
            self.conns.insert(
                stream.as_raw_fd(),
                Conn {
                    stream,
                    reader: FrameReader::new(wire::MAX_REQUEST),
                    since: Instant::now(),
                },
            );
        }
    }

    /// Serves one connection; returns whether to keep it.
    fn serve(
        &mut self,
        fd: RawFd,
        handler: &mut impl FnMut(&Request, Peer) -> Response,
        now: Instant,
    ) -> bool {
        let Some(conn) = self.conns.get_mut(&fd) else {
            return false;
        };
        let mut buf = [0u8; 16384];
        let mut eof = false;
        loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => conn.reader.extend(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        let peer = peer_of(&conn.stream).unwrap_or(Peer {
            uid: u32::MAX,
            gid: u32::MAX,
        });
        loop {
            let body = match conn.reader.next_body() {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(e) => {
                    self.stats.malformed += 1;
                    log::info!("control socket: dropping client: {e}");
                    let _ = send(&conn.stream, &Response::Error(format!("bad request: {e}")));
                    return false;
                }
            };
            conn.since = now;
            let reply = match wire::decode_value(&body).and_then(|v| Request::from_value(&v)) {
                Ok(req) => {
                    self.stats.requests += 1;
                    handler(&req, peer)
                }
                // A well-framed but invalid request: answer and keep the client.
                Err(e @ WireError::Malformed(_)) => Response::Error(e.to_string()),
                Err(e) => Response::Error(format!("bad request: {e}")),
            };
            if send(&conn.stream, &reply).is_err() {
                return false;
            }
        }
        if eof {
            return false;
        }
        if conn.reader.has_partial() && now.duration_since(conn.since) > IDLE_TIMEOUT {
            self.stats.dropped += 1;
            let _ = send(&conn.stream, &Response::Error("request timed out".into()));
            return false;
        }
        if !conn.reader.has_partial() {
            conn.since = now;
        }
        true
    }
}

fn send(stream: &UnixStream, r: &Response) -> io::Result<()> {
    let frame = wire::encode_frame(&r.to_value());
    // The stream is non-blocking for reads; write the reply fully, waiting as needed but no
    // longer than WRITE_TIMEOUT in total.
    let deadline = Instant::now() + WRITE_TIMEOUT;
    let mut s = stream;
    let mut off = 0;
    while off < frame.len() {
        match s.write(&frame[off..]) {
            Ok(n) => off += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client not reading",
                    ));
                }
                let mut fds = [nix::poll::PollFd::new(
                    stream.as_fd(),
                    nix::poll::PollFlags::POLLOUT,
                )];
                let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
