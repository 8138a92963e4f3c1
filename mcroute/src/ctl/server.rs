//! The daemon side of the control socket: a server no client can stall.
//!
//! What [`CtlServer`] guarantees, whatever its clients do (each is tested in
//! `tests/ctl_socket.rs` by a test named after it):
//!
//! - **It never blocks.** The listener and every connection are non-blocking; replies go
//!   into a per-client output buffer that is written as the client reads. A client that
//!   stops reading holds at most about [`MAX_OUTPUT`] bytes: no more of its replies are
//!   produced and no more of its requests read until it drains them.
//! - **Idle clients go.** A connection with no request and no progress in reading its
//!   replies for [`IDLE_TIMEOUT`] is closed, whether it sent half a request or nothing at all.
//! - **Root always gets in.** [`MAX_CLIENTS`] ordinary slots, and [`RESERVED_CLIENTS`] more
//!   that only root and the daemon's own user (by `SO_PEERCRED`) may take when the ordinary
//!   ones are full.
//! - **Linear cost.** Input is split into requests without re-copying what is buffered
//!   (consumed bytes are dropped only when they are at least half of the buffer;
//!   [`CtlStats::input_moved`] counts the bytes moved), and output likewise.
//! - **Bounded work per turn.** Each call of [`CtlServer::poll`] reads at most
//!   [`READ_PER_TURN`] bytes, answers at most [`REQUESTS_PER_TURN`] requests and produces at
//!   most [`OUTPUT_PER_TURN`] bytes per client, so the event loop gets back to upcalls and
//!   to the other clients; [`CtlServer::next_deadline`] says when work is left over.
//! - **Long replies stream.** A `show` is written in parts as the client reads: a
//!   [`Handler`] may answer with a [`Cursor`] and produce the rows part by part
//!   ([`Handler::resume`]), so a daemon never holds the whole answer; a reply given whole is
//!   cut into parts ([`Parts`]).
//!
//! Access: the socket file is created with mode 0660 (owner the daemon's user, group as
//! configured), and every client's credentials (`SO_PEERCRED` on Linux, `getpeereid` on
//! FreeBSD) are checked: root, the daemon's own user and members of the socket's group are
//! served; anybody else is refused.
//!
//! Protocols: each connection speaks the protocol recognized from its first bytes (see
//! [`protocol`](super::protocol)); mcroute's own ([`Native`]) is always known, others are
//! added with [`CtlServer::add_protocol`].

use std::any::Any;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags};
use nix::unistd::{Gid, Group, Uid, User};

use super::parts::Parts;
use super::protocol::{Decoded, Detect, Detector, Native, Protocol, MAX_INPUT, MAX_OUTPUT};
use super::{Request, Response, ShowWhat};

/// A connection without a request or progress in reading its replies for this long is
/// closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Ordinary client slots; more clients are refused ("too many clients").
pub const MAX_CLIENTS: usize = 64;
/// Slots beyond [`MAX_CLIENTS`] for root and the daemon's own user only.
pub const RESERVED_CLIENTS: usize = 4;
/// Bytes read from one client per [`CtlServer::poll`], at most.
pub const READ_PER_TURN: usize = 64 * 1024;
/// Requests answered for one client per [`CtlServer::poll`], at most.
pub const REQUESTS_PER_TURN: usize = 64;
/// Reply bytes produced for one client per [`CtlServer::poll`], at most (plus one part).
pub const OUTPUT_PER_TURN: usize = 256 * 1024;
/// Rows per part of a long reply.
pub const PART_ROWS: usize = 1024;
/// New connections taken per [`CtlServer::poll`], at most.
const ACCEPT_PER_TURN: usize = 128;
/// Bytes of a connection shown to the detectors before giving up on them.
const DETECT_BYTES: usize = 64;

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

/// Where a streamed reply stands: kept by the server for its client between turns, moved
/// on by [`Handler::resume`].
pub struct Cursor {
    /// What is shown.
    pub what: ShowWhat,
    /// With counters.
    pub detail: bool,
    /// The handler's own position (which table, after which key); the server never looks
    /// at it.
    pub position: Box<dyn Any + Send>,
}

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor")
            .field("what", &self.what)
            .field("detail", &self.detail)
            .finish_non_exhaustive()
    }
}

/// How a [`Handler`] answers a request.
#[derive(Debug)]
pub enum Answer {
    /// This reply (cut into parts by the server if it is long).
    Reply(Response),
    /// A reply produced part by part with [`Handler::resume`], starting from this cursor.
    Stream(Cursor),
}

/// What answers the requests: the daemon. Any `FnMut(&Request, Peer) -> Response` is one.
pub trait Handler {
    /// Answers `request` from `peer`.
    fn handle(&mut self, request: &Request, peer: Peer) -> Answer;

    /// The next part of a streamed reply, about `rows` rows (fewer at the end), and whether
    /// it is the last. Called only for cursors this handler returned, as the client reads.
    fn resume(&mut self, cursor: &mut Cursor, rows: usize) -> (Response, bool) {
        let _ = (cursor, rows);
        (
            Response::Error("this daemon does not stream replies".into()),
            true,
        )
    }
}

impl<F: FnMut(&Request, Peer) -> Response> Handler for F {
    fn handle(&mut self, request: &Request, peer: Peer) -> Answer {
        Answer::Reply(self(request, peer))
    }
}

enum Pending {
    Parts(Parts),
    Stream(Cursor),
}

/// A byte buffer consumed from the front, in linear time.
#[derive(Default)]
struct Buf {
    bytes: Vec<u8>,
    start: usize,
}

impl Buf {
    fn len(&self) -> usize {
        self.bytes.len() - self.start
    }

    fn data(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.bytes.len());
        if self.start == self.bytes.len() {
            self.bytes.clear();
            self.start = 0;
        }
    }

    /// Drops consumed bytes if they are at least half of the buffer; returns the bytes moved.
    fn compact(&mut self) -> usize {
        if self.start == 0 || self.start < self.bytes.len() / 2 {
            return 0;
        }
        let moved = self.len();
        self.bytes.drain(..self.start);
        self.start = 0;
        moved
    }
}

struct Conn {
    stream: UnixStream,
    peer: Peer,
    reserved: bool,
    proto: Option<Box<dyn Protocol>>,
    input: Buf,
    output: Buf,
    pending: Option<Pending>,
    /// Accepted, or last answered a request or wrote reply bytes.
    progress: Instant,
    /// The client shut its side: answer what was asked, then close.
    eof: bool,
    /// Close once the output is written.
    closing: bool,
    /// Work left for the next turn (requests buffered, a stream with room to go on).
    busy: bool,
}

enum Step {
    Keep,
    Close,
}

/// Statistics of the control socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CtlStats {
    /// Clients served.
    pub accepted: u64,
    /// Clients refused for their credentials.
    pub refused: u64,
    /// Clients dropped for malformed input.
    pub malformed: u64,
    /// Clients dropped for idling, or refused because every slot was taken.
    pub dropped: u64,
    /// Clients given a reserved slot (root or the daemon's user with the others full).
    pub reserved: u64,
    /// Requests handled.
    pub requests: u64,
    /// Bytes read from clients.
    pub input_bytes: u64,
    /// Bytes moved inside input buffers to drop consumed input (at most `input_bytes`).
    pub input_moved: u64,
    /// Bytes written to clients.
    pub output_bytes: u64,
    /// Replies written in more than one part.
    pub streamed: u64,
    /// The most reply bytes one client's output buffer held (bounded by about
    /// [`MAX_OUTPUT`] plus one part, whatever the client does).
    pub output_peak: u64,
}

/// The control socket of a daemon.
pub struct CtlServer {
    listener: UnixListener,
    path: PathBuf,
    group: Gid,
    conns: HashMap<RawFd, Conn>,
    detectors: Vec<Detector>,
    stats: CtlStats,
    last_turn: Instant,
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

/// Writes a native error frame to a socket that is being turned away (best effort: the
/// socket is new, its buffer empty).
fn refuse(stream: &UnixStream, why: &str) {
    let mut frame = Vec::new();
    super::wire::encode_response(&Response::Error(why.into()), false, &mut frame);
    let _ = stream.set_nonblocking(true);
    let _ = (&mut &*stream).write(&frame);
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
            detectors: vec![Box::new(Native::detect)],
            stats: CtlStats::default(),
            last_turn: Instant::now(),
        })
    }

    /// Adds a protocol, recognized by `detector` from the first bytes of a connection
    /// (after mcroute's own and those added before).
    pub fn add_protocol(&mut self, detector: Detector) {
        self.detectors.push(detector);
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What to poll: the listener for input, each client for input while the server would
    /// read from it and for output while it has replies waiting.
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut v = vec![PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
        for c in self.conns.values() {
            let mut f = PollFlags::empty();
            if c.wants_input() {
                f |= PollFlags::POLLIN;
            }
            if c.output.len() > 0 {
                f |= PollFlags::POLLOUT;
            }
            v.push(PollFd::new(c.stream.as_fd(), f));
        }
        v
    }

    /// When [`CtlServer::poll`] must run again even if no descriptor is ready: now (a past
    /// instant) when work was left over by the bounded turn, else when the next idle client
    /// is due to be closed; `None` without clients.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.conns.values().any(|c| c.busy) {
            return Some(self.last_turn);
        }
        self.conns.values().map(|c| c.progress + IDLE_TIMEOUT).min()
    }

    /// Statistics so far.
    pub fn stats(&self) -> CtlStats {
        self.stats
    }

    /// The number of connected clients.
    pub fn clients(&self) -> usize {
        self.conns.len()
    }

    /// Whether a client with these credentials may use the socket.
    pub fn authorized(&self, peer: Peer) -> bool {
        if privileged(peer) || peer.gid == self.group.as_raw() {
            return true;
        }
        let Ok(Some(user)) = User::from_uid(Uid::from_raw(peer.uid)) else {
            return false;
        };
        matches!(Group::from_gid(self.group), Ok(Some(g)) if g.mem.contains(&user.name))
    }

    /// One turn: serves the clients already here (bounded work each), accepts new ones and
    /// serves them, closes idle ones. Never blocks. Call it when any descriptor of
    /// [`CtlServer::poll_fds`] is ready, and at [`CtlServer::next_deadline`].
    pub fn poll(&mut self, mut handler: impl FnMut(&Request, Peer) -> Response) {
        self.poll_with(&mut handler);
    }

    /// [`CtlServer::poll`] with a [`Handler`], which may stream its replies.
    pub fn poll_with<H: Handler>(&mut self, handler: &mut H) {
        let now = Instant::now();
        self.last_turn = now;
        // The clients already here first, so that ones that left free their slot before
        // new ones are counted against the limit; then the new ones.
        let old: Vec<RawFd> = self.conns.keys().copied().collect();
        self.serve_all(&old, handler, now);
        let new = self.accept_new(now);
        self.serve_all(&new, handler, now);
    }

    fn serve_all(&mut self, fds: &[RawFd], handler: &mut impl Handler, now: Instant) {
        for fd in fds {
            let Some(mut conn) = self.conns.remove(fd) else {
                continue;
            };
            if let Step::Keep = self.serve(&mut conn, handler, now) {
                self.conns.insert(*fd, conn);
            }
        }
    }

    fn slots_used(&self) -> (usize, usize) {
        let reserved = self.conns.values().filter(|c| c.reserved).count();
        (self.conns.len() - reserved, reserved)
    }

    /// Accepts up to [`ACCEPT_PER_TURN`] clients; returns the new connections.
    fn accept_new(&mut self, now: Instant) -> Vec<RawFd> {
        let mut new = Vec::new();
        for _ in 0..ACCEPT_PER_TURN {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!("control socket: accept: {e}");
                    break;
                }
            };
            if let Some(conn) = self.admit(stream, now) {
                let fd = conn.stream.as_raw_fd();
                self.conns.insert(fd, conn);
                new.push(fd);
            }
        }
        new
    }

    /// Checks a new client's credentials and finds it a slot, or turns it away.
    fn admit(&mut self, stream: UnixStream, now: Instant) -> Option<Conn> {
        let peer = match peer_of(&stream) {
            Ok(peer) if self.authorized(peer) => peer,
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
                return None;
            }
            Err(e) => {
                log::warn!("control socket: cannot read client credentials: {e}");
                self.stats.refused += 1;
                return None;
            }
        };
        let (ordinary, reserved) = self.slots_used();
        let reserved = if ordinary < MAX_CLIENTS {
            false
        } else if privileged(peer) && reserved < RESERVED_CLIENTS {
            self.stats.reserved += 1;
            true
        } else {
            self.stats.dropped += 1;
            refuse(&stream, "too many clients, try again");
            return None;
        };
        stream.set_nonblocking(true).ok()?;
        self.stats.accepted += 1;
        Some(Conn {
            stream,
            peer,
            reserved,
            proto: None,
            input: Buf::default(),
            output: Buf::default(),
            pending: None,
            progress: now,
            eof: false,
            closing: false,
            busy: false,
        })
    }

    /// One turn of one connection.
    fn serve(&mut self, conn: &mut Conn, handler: &mut impl Handler, now: Instant) -> Step {
        conn.busy = false;
        if let Step::Close = self.flush(conn, now) {
            return Step::Close;
        }
        let mut budget = OUTPUT_PER_TURN;
        self.produce(conn, handler, &mut budget);
        if conn.wants_input() {
            if let Step::Close = self.read(conn) {
                return Step::Close;
            }
        }
        self.answer(conn, handler, &mut budget, now);
        if let Step::Close = self.flush(conn, now) {
            return Step::Close;
        }
        // A stream with room left in the buffer goes on in this same turn while the
        // budget lasts (the socket takes what the client reads meanwhile).
        while conn.pending.is_some() && budget > 0 && conn.output.len() < MAX_OUTPUT / 2 {
            self.produce(conn, handler, &mut budget);
            if let Step::Close = self.flush(conn, now) {
                return Step::Close;
            }
        }
        self.settle(conn, now)
    }

    /// After a turn: close a connection that is done or idle, note leftover work.
    fn settle(&mut self, conn: &mut Conn, now: Instant) -> Step {
        let idle = conn.output.len() == 0 && conn.pending.is_none();
        if conn.closing && conn.output.len() == 0 {
            return Step::Close;
        }
        if conn.eof && idle && !conn.busy {
            return Step::Close;
        }
        if now.duration_since(conn.progress) > IDLE_TIMEOUT {
            self.stats.dropped += 1;
            if idle {
                let mut out = Vec::new();
                let err = Response::Error("request timed out".into());
                match conn.proto.as_mut() {
                    Some(p) => p.encode(&err, false, &mut out),
                    None => super::wire::encode_response(&err, false, &mut out),
                }
                let _ = (&mut &conn.stream).write(&out);
            }
            log::info!(
                "control socket: closing a client (uid {}) idle for {} s",
                conn.peer.uid,
                IDLE_TIMEOUT.as_secs()
            );
            return Step::Close;
        }
        // Work left with nothing to write: the next turn must come without waiting for
        // the socket (with output waiting, POLLOUT brings it).
        if conn.output.len() > 0 {
            conn.busy = false;
        } else if conn.pending.is_some() {
            conn.busy = true;
        }
        Step::Keep
    }

    /// Writes buffered output until the socket would block.
    fn flush(&mut self, conn: &mut Conn, now: Instant) -> Step {
        while conn.output.len() > 0 {
            match (&mut &conn.stream).write(conn.output.data()) {
                Ok(0) => return Step::Close,
                Ok(n) => {
                    conn.output.consume(n);
                    conn.progress = now;
                    self.stats.output_bytes += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
        }
        // Most writes empty the buffer, which resets it for free; else drop what was
        // written once it is half the buffer.
        conn.output.compact();
        Step::Keep
    }

    /// Reads up to [`READ_PER_TURN`] bytes (less if the input buffer is near full).
    fn read(&mut self, conn: &mut Conn) -> Step {
        self.stats.input_moved += conn.input.compact() as u64;
        let mut buf = [0u8; 16384];
        let mut total = 0;
        while total < READ_PER_TURN && conn.input.len() < MAX_INPUT {
            let want = buf.len().min(MAX_INPUT - conn.input.len());
            match (&mut &conn.stream).read(&mut buf[..want]) {
                Ok(0) => {
                    conn.eof = true;
                    break;
                }
                Ok(n) => {
                    conn.input.bytes.extend_from_slice(&buf[..n]);
                    total += n;
                    self.stats.input_bytes += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
        }
        Step::Keep
    }

    /// Continues the pending reply, if any, while the budget and the output buffer allow.
    fn produce(&mut self, conn: &mut Conn, handler: &mut impl Handler, budget: &mut usize) {
        while *budget > 0 && conn.output.len() < MAX_OUTPUT {
            let next = match conn.pending.as_mut() {
                None => return,
                Some(Pending::Parts(p)) => p.next(PART_ROWS),
                Some(Pending::Stream(c)) => Some(handler.resume(c, PART_ROWS)),
            };
            let Some((part, last)) = next else {
                conn.pending = None;
                return;
            };
            if last {
                conn.pending = None;
            }
            *budget = budget.saturating_sub(self.emit(conn, &part, !last));
        }
    }

    /// Encodes one reply (or part) into the output buffer; returns its size.
    fn emit(&mut self, conn: &mut Conn, reply: &Response, more: bool) -> usize {
        let before = conn.output.bytes.len();
        let proto = conn.proto.get_or_insert_with(|| Box::new(Native));
        proto.encode(reply, more, &mut conn.output.bytes);
        if !more && proto.close_after_reply() {
            conn.closing = true;
        }
        self.stats.output_peak = self.stats.output_peak.max(conn.output.len() as u64);
        conn.output.bytes.len() - before
    }

    /// Picks the connection's protocol from its first bytes; false while undecided.
    fn detect(&mut self, conn: &mut Conn) -> bool {
        if conn.proto.is_some() {
            return true;
        }
        if conn.input.len() == 0 {
            return false;
        }
        let first = &conn.input.data()[..conn.input.len().min(DETECT_BYTES)];
        let mut undecided = false;
        for d in &self.detectors {
            match d(first) {
                Detect::Mine(p) => {
                    conn.proto = Some(p);
                    return true;
                }
                Detect::NeedMore => undecided = true,
                Detect::NotMine => {}
            }
        }
        if undecided && first.len() < DETECT_BYTES && !conn.eof {
            return false;
        }
        // Nobody's: mcroute's own protocol answers (with an error) and the client goes.
        conn.proto = Some(Box::new(Native));
        true
    }

    /// Decodes and answers buffered requests, within the turn's limits.
    fn answer(
        &mut self,
        conn: &mut Conn,
        handler: &mut impl Handler,
        budget: &mut usize,
        now: Instant,
    ) {
        let mut handled = 0;
        while conn.pending.is_none() && !conn.closing && self.detect(conn) {
            if conn.output.len() >= MAX_OUTPUT {
                // Wait for the client to read (POLLOUT wakes the loop).
                return;
            }
            if handled == REQUESTS_PER_TURN || *budget == 0 {
                conn.busy = conn.input.len() > 0;
                return;
            }
            let decoded = match conn.proto.as_mut() {
                Some(p) => p.decode(conn.input.data()),
                None => return,
            };
            match decoded {
                Decoded::Incomplete if conn.input.len() >= MAX_INPUT => {
                    self.fatal(conn, "bad request: request too long")
                }
                Decoded::Incomplete if conn.eof && conn.input.len() > 0 => {
                    self.fatal(conn, "bad request: truncated")
                }
                Decoded::Incomplete => return,
                Decoded::Fatal(e) => self.fatal(conn, &e),
                Decoded::Reply { reply, used } => {
                    conn.input.consume(used);
                    conn.progress = now;
                    *budget = budget.saturating_sub(self.emit(conn, &reply, false));
                }
                Decoded::Request { request, used } => {
                    conn.input.consume(used);
                    conn.progress = now;
                    self.stats.requests += 1;
                    handled += 1;
                    let answer = handler.handle(&request, conn.peer);
                    self.start_reply(conn, answer, handler, budget);
                }
            }
        }
    }

    /// Answers with an error and closes once it is written.
    fn fatal(&mut self, conn: &mut Conn, why: &str) {
        self.stats.malformed += 1;
        log::info!(
            "control socket: dropping client (uid {}): {why}",
            conn.peer.uid
        );
        self.emit(conn, &Response::Error(why.to_string()), false);
        conn.closing = true;
        conn.input = Buf::default();
    }

    fn start_reply(
        &mut self,
        conn: &mut Conn,
        answer: Answer,
        handler: &mut impl Handler,
        budget: &mut usize,
    ) {
        match answer {
            Answer::Reply(r) if r.rows().is_some_and(|n| n > PART_ROWS) => {
                self.stats.streamed += 1;
                conn.pending = Some(Pending::Parts(Parts::new(r)));
            }
            Answer::Reply(r) => {
                *budget = budget.saturating_sub(self.emit(conn, &r, false));
                return;
            }
            Answer::Stream(c) => {
                self.stats.streamed += 1;
                conn.pending = Some(Pending::Stream(c));
            }
        }
        self.produce(conn, handler, budget);
    }
}

impl Conn {
    /// Whether the server would read from this client now.
    fn wants_input(&self) -> bool {
        !self.eof
            && !self.closing
            && self.pending.is_none()
            && self.output.len() < MAX_OUTPUT
            && self.input.len() < MAX_INPUT
    }
}

/// Root, or the daemon's own user.
fn privileged(peer: Peer) -> bool {
    peer.uid == 0 || peer.uid == Uid::effective().as_raw()
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
