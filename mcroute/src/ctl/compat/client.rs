//! The client side of the foreign protocols: finding out that smcrouted or mrouted listens
//! on a socket, and asking it in its own protocol.
//!
//! Neither foreign daemon answers a native frame: smcrouted waits for the rest of a message
//! whose length field is far too large and closes, mrouted reads an unknown command and
//! closes; neither acts on it. So a client sends its native request first, and only when
//! the connection closes without a reply calls [`detect`] and then [`request`].
//! [`detect`] sends smcroute's `show interfaces` (smcrouted answers it, ending in a NUL;
//! mrouted takes it for an unknown command and closes without a word), then mrouted's
//! `version`.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::{mrouted, smcroute, Foreign, Reply};
use crate::ctl::client::{ClientError, REPLY_TIMEOUT};
use crate::ctl::{Request, Response};

/// The most a foreign reply may be (a `show` of a very large table).
pub const MAX_REPLY: usize = 256 << 20;

fn connect(path: &Path) -> Result<UnixStream, ClientError> {
    let s = UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            ClientError::NotRunning(path.to_path_buf())
        }
        io::ErrorKind::PermissionDenied => ClientError::PermissionDenied(path.to_path_buf()),
        _ => ClientError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    let _ = s.set_read_timeout(Some(REPLY_TIMEOUT));
    Ok(s)
}

/// Sends `msg` on a new connection and reads everything until the daemon closes it.
fn exchange(path: &Path, msg: &[u8]) -> Result<Vec<u8>, ClientError> {
    let io_err = |source| ClientError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut s = connect(path)?;
    s.write_all(msg).map_err(io_err)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                if out.len() + n > MAX_REPLY {
                    return Err(io_err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "reply larger than 256 MiB",
                    )));
                }
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A daemon that resets the connection after its reply has still replied.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(out),
            Err(e) => return Err(io_err(e)),
        }
    }
}

/// Finds out which foreign daemon listens on `path` (after a native request went
/// unanswered); `None` if neither answers.
pub fn detect(path: &Path) -> Result<Option<Foreign>, ClientError> {
    // `show interfaces`: smcrouted answers it (with a table and a NUL) and logs nothing.
    let probe =
        smcroute::encode_msg(u16::from(b's'), &["interfaces"]).map_err(|e| ClientError::Io {
            path: path.to_path_buf(),
            source: io::Error::other(e.to_string()),
        })?;
    let r = exchange(path, &probe)?;
    if r.last() == Some(&0) {
        return Ok(Some(Foreign::Smcroute));
    }
    let r = exchange(path, &mrouted::encode_msg(mrouted::cmd::VERSION, false, ""))?;
    if r.len() >= mrouted::MSG_LEN && r.len() % mrouted::MSG_LEN == 0 {
        return Ok(Some(Foreign::Mrouted));
    }
    Ok(None)
}

/// Asks the `proto` daemon at `path` for `req`, in its protocol. A request it has no
/// equivalent for is answered with [`Response::Error`] without connecting.
pub fn request(path: &Path, proto: Foreign, req: &Request) -> Result<Reply, ClientError> {
    match proto {
        Foreign::Smcroute => {
            let msg = match smcroute::msg_for(req) {
                Ok(m) => m,
                Err(e) => return Ok(Reply::Response(Response::Error(e))),
            };
            let bytes = exchange(path, &msg)?;
            Ok(smcroute::decode_reply(req, &bytes))
        }
        Foreign::Mrouted => {
            let msg = match mrouted::msg_for(req) {
                Ok(m) => m,
                Err(e) => return Ok(Reply::Response(Response::Error(e))),
            };
            let bytes = exchange(path, &msg)?;
            let r = mrouted::decode_reply(&bytes);
            Ok(match mrouted::reply_to_response(req, &r) {
                Some(resp) => Reply::Response(resp),
                None => Reply::Text(r.lines),
            })
        }
    }
}
