//! The seam between the control server and the protocols it speaks.
//!
//! The server ([`CtlServer`](super::server::CtlServer)) owns the sockets, the buffers, the
//! limits and the credentials; a [`Protocol`] only turns bytes into typed [`Request`]s and
//! [`Response`]s into bytes, for one connection. When a connection sends its first bytes the
//! server shows them to each registered [`Detector`] in turn (mcroute's own protocol,
//! [`Native`], always first): the first to say [`Detect::Mine`] gets the connection for its
//! lifetime. Bytes nobody claims are answered by [`Native`] (an error reply) and the
//! connection is closed.
//!
//! A protocol of another tool's client (SMCRoute's `smcroutectl` IPC, mrouted's
//! `mroutectl`) plugs in with [`CtlServer::add_protocol`](super::server::CtlServer::add_protocol):
//!
//! ```
//! use mcroute::ctl::protocol::{Decoded, Detect, Protocol};
//! use mcroute::ctl::{Request, Response};
//!
//! /// A toy line protocol: "version\n" in, the version line out.
//! struct Lines;
//!
//! impl Protocol for Lines {
//!     fn name(&self) -> &'static str {
//!         "lines"
//!     }
//!     fn decode(&mut self, input: &[u8]) -> Decoded {
//!         let Some(end) = input.iter().position(|&b| b == b'\n') else {
//!             return Decoded::Incomplete;
//!         };
//!         match &input[..end] {
//!             b"version" => Decoded::Request { request: Request::Version, used: end + 1 },
//!             _ => Decoded::Reply { reply: Response::Error("unknown".into()), used: end + 1 },
//!         }
//!     }
//!     fn encode(&mut self, reply: &Response, _more: bool, out: &mut Vec<u8>) {
//!         if let Response::Version(v) | Response::Error(v) = reply {
//!             out.extend_from_slice(v.as_bytes());
//!         }
//!         out.push(b'\n');
//!     }
//! }
//!
//! fn detect(first: &[u8]) -> Detect {
//!     if b"version".starts_with(&first[..first.len().min(7)]) && first.len() < 7 {
//!         Detect::NeedMore
//!     } else if first.starts_with(b"version") {
//!         Detect::Mine(Box::new(Lines))
//!     } else {
//!         Detect::NotMine
//!     }
//! }
//! # let mut server = mcroute::ctl::server::CtlServer::bind(
//! #     &std::env::temp_dir().join(format!("mcroute-doc-{}.sock", std::process::id())),
//! #     Default::default(),
//! # ).unwrap();
//! server.add_protocol(Box::new(detect));
//! ```
//!
//! What the server guarantees a protocol: `decode` sees the unconsumed input from its start
//! (never more than [`MAX_INPUT`] bytes buffered; a request that does not fit is an error);
//! replies come in request order; a long `show` reply comes as several parts of the same
//! kind (`more` set on all but the last; [`Response::append`] joins them) so that no
//! connection holds more than about [`MAX_OUTPUT`] bytes of output; the connection is closed
//! after [`IDLE_TIMEOUT`](super::server::IDLE_TIMEOUT) without a request or progress in
//! writing. A protocol never blocks and never touches the socket.

use super::wire::{self, WireError, HEADER_LEN};
use super::{Request, Response};

/// Input buffered per connection, at most; a request that does not fit is refused.
pub const MAX_INPUT: usize = wire::MAX_REQUEST + HEADER_LEN;
/// The output a connection may hold before the server stops producing more for it (a
/// single part may pass it; the next waits until the client has read).
pub const MAX_OUTPUT: usize = 256 * 1024;

/// What [`Protocol::decode`] found at the start of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A request, which used the first `used` bytes.
    Request {
        /// The request.
        request: Request,
        /// Bytes consumed.
        used: usize,
    },
    /// A complete message that is not a valid request: `reply` answers it (an error,
    /// usually), the first `used` bytes are consumed, and the connection goes on.
    Reply {
        /// The answer.
        reply: Response,
        /// Bytes consumed.
        used: usize,
    },
    /// Not a whole message yet.
    Incomplete,
    /// The stream cannot be read any further: the server answers with this error and closes
    /// the connection.
    Fatal(String),
}

/// A control protocol, one instance per connection.
pub trait Protocol: Send {
    /// A short name for logs.
    fn name(&self) -> &'static str;

    /// Decodes the message at the start of `input`.
    fn decode(&mut self, input: &[u8]) -> Decoded;

    /// Appends the encoding of `reply` to `out`. `more`: this is a part of a longer reply
    /// and more parts of the same kind follow.
    fn encode(&mut self, reply: &Response, more: bool, out: &mut Vec<u8>);

    /// Whether the server closes the connection once every reply so far is written (a
    /// protocol of one request per connection). Asked after each reply.
    fn close_after_reply(&self) -> bool {
        false
    }
}

/// What a [`Detector`] says of the first bytes of a connection.
pub enum Detect {
    /// This protocol: the connection is served by the given instance.
    Mine(Box<dyn Protocol>),
    /// Not this protocol.
    NotMine,
    /// Cannot tell yet; ask again when more bytes arrive.
    NeedMore,
}

/// Recognizes a protocol from the first bytes of a connection (never empty).
pub type Detector = Box<dyn Fn(&[u8]) -> Detect + Send>;

/// mcroute's own protocol: frames of [`wire`] carrying JSON.
#[derive(Debug, Default)]
pub struct Native;

impl Native {
    /// The detector of the native protocol: bytes that start with the `MCR` magic.
    pub fn detect(first: &[u8]) -> Detect {
        let n = first.len().min(wire::MAGIC.len());
        if first[..n] != wire::MAGIC[..n] {
            Detect::NotMine
        } else if n < wire::MAGIC.len() {
            Detect::NeedMore
        } else {
            Detect::Mine(Box::new(Native))
        }
    }
}

impl Protocol for Native {
    fn name(&self) -> &'static str {
        "mcroute"
    }

    fn decode(&mut self, input: &[u8]) -> Decoded {
        let h = match wire::parse_header(input, wire::MAX_REQUEST) {
            Ok(Some(h)) => h,
            Ok(None) => return Decoded::Incomplete,
            Err(e) => return Decoded::Fatal(format!("bad request: {e}")),
        };
        let used = HEADER_LEN + h.len;
        let Some(body) = input.get(HEADER_LEN..used) else {
            return Decoded::Incomplete;
        };
        if h.more {
            return Decoded::Fatal("bad request: a request cannot come in parts".into());
        }
        match wire::decode_request(body) {
            Ok(request) => Decoded::Request { request, used },
            Err(e @ WireError::Malformed(_)) => Decoded::Reply {
                reply: Response::Error(format!("bad request: {e}")),
                used,
            },
            Err(e) => Decoded::Fatal(format!("bad request: {e}")),
        }
    }

    fn encode(&mut self, reply: &Response, more: bool, out: &mut Vec<u8>) {
        wire::encode_response(reply, more, out);
    }
}
