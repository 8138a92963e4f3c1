//! The client side of the control socket.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::wire::{self, FrameReader, WireError};
use super::{Request, Response};

/// How long the client waits for a reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket (no file, or connection refused).
    #[error("daemon not running: cannot connect to {}", .0.display())]
    NotRunning(PathBuf),
    /// The socket's permissions do not allow this user.
    #[error("permission denied: cannot connect to {} (need root or the socket's group)", .0.display())]
    PermissionDenied(PathBuf),
    /// The daemon answered with something this client cannot read.
    #[error("bad reply from the daemon: {0}")]
    Protocol(#[from] WireError),
    /// The daemon closed the connection before replying.
    #[error("the daemon closed the connection")]
    Closed,
    /// Another I/O error.
    #[error("control socket {}: {source}", path.display())]
    Io {
        /// The socket.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// A connection to a daemon's control socket.
pub struct CtlClient {
    stream: UnixStream,
    reader: FrameReader,
    path: PathBuf,
}

impl CtlClient {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> Result<CtlClient, ClientError> {
        let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
                ClientError::NotRunning(path.to_path_buf())
            }
            io::ErrorKind::PermissionDenied => ClientError::PermissionDenied(path.to_path_buf()),
            _ => ClientError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
        let _ = stream.set_read_timeout(Some(REPLY_TIMEOUT));
        Ok(CtlClient {
            stream,
            reader: FrameReader::new(wire::MAX_RESPONSE),
            path: path.to_path_buf(),
        })
    }

    fn io(&self, source: io::Error) -> ClientError {
        ClientError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Sends a request without waiting for its reply (for pipelined batches).
    pub fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        let mut frame = Vec::new();
        wire::encode_request(req, &mut frame);
        self.stream.write_all(&frame).map_err(|e| self.io(e))
    }

    /// Sends raw bytes (for tests of the server's robustness).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).map_err(|e| self.io(e))
    }

    /// Receives the next reply, joining its parts if it comes in several frames.
    pub fn recv(&mut self) -> Result<Response, ClientError> {
        let (mut whole, mut more) = self.recv_part()?;
        while more {
            let (part, m) = self.recv_part()?;
            whole.append(part).map_err(WireError::Malformed)?;
            more = m;
        }
        Ok(whole)
    }

    /// Receives the next frame: a reply or a part of one, and whether more parts of the
    /// same reply follow (to print a long `show` as it arrives).
    pub fn recv_part(&mut self) -> Result<(Response, bool), ClientError> {
        let mut buf = [0u8; 65536];
        loop {
            if let Some(f) = self.reader.next_frame()? {
                return Ok((wire::decode_response(f.body)?, f.more));
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => self.reader.extend(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
    }

    /// Sends a request and waits for its reply.
    pub fn request(&mut self, req: &Request) -> Result<Response, ClientError> {
        if let Err(e) = self.send(req) {
            // A server that refuses a client writes its reason and closes at once, so the
            // write may fail: the reason is still there to read.
            return self.recv().or(Err(e));
        }
        self.recv()
    }

    /// Sends many requests over this connection, pipelined with a bounded window, and
    /// returns the replies in order.
    pub fn batch(&mut self, reqs: &[Request]) -> Result<Vec<Response>, ClientError> {
        const WINDOW: usize = 256;
        let mut out = Vec::with_capacity(reqs.len());
        let mut sent = 0;
        while out.len() < reqs.len() {
            while sent < reqs.len() && sent - out.len() < WINDOW {
                self.send(&reqs[sent])?;
                sent += 1;
            }
            out.push(self.recv()?);
        }
        Ok(out)
    }
}
