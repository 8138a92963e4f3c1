//! The control protocols of the programs the daemons replace: SMCRoute 2.5's IPC (spoken by
//! `smcroutectl` and `smcrouted`) and mrouted 4.x's (`mroutectl` and `mrouted`).
//!
//! Everything here is a pure function of bytes, translating the foreign messages into the
//! same typed [`Request`]s and [`Response`]s as the native protocol:
//!
//! - [`smcroute`]: the `struct ipc_msg` request (native `size_t` length, `u16` command,
//!   `u16` argument count, NUL-terminated words) and its replies (one NUL for success, an
//!   error text, or the text of `show` with smcroutectl's `_`/`=` line markup).
//! - [`mrouted`]: the fixed 768-byte `struct ipc` message in both directions.
//! - [`detect`]: which protocol a client speaks, from the first bytes of its connection.
//! - [`Session`]: one connection's state on the daemon side: bytes in, reply bytes out.
//! - [`client`]: the client side, which finds out what a daemon speaks and talks to it.
//!
//! Decoders never panic and bound everything they allocate.
#![forbid(unsafe_code)]

pub mod client;
pub mod mrouted;
pub mod smcroute;

use super::wire::MAGIC;
use super::{Request, Response};

/// A control protocol a daemon's socket may speak besides its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Foreign {
    /// SMCRoute 2.5's IPC (`smcroutectl`).
    Smcroute,
    /// mrouted 4.x's IPC (`mroutectl`).
    Mrouted,
}

impl Foreign {
    /// The name of the foreign daemon.
    pub fn daemon(self) -> &'static str {
        match self {
            Foreign::Smcroute => "smcrouted",
            Foreign::Mrouted => "mrouted",
        }
    }
}

/// What the first bytes of a connection say about its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    /// Too few bytes to tell.
    NeedMore,
    /// The native protocol (frames start with [`MAGIC`]).
    Native,
    /// The foreign protocol the daemon also speaks.
    Foreign(Foreign),
}

/// Tells the native protocol from `foreign` by the first bytes a client sent.
///
/// Native frames start with `MCR`. An smcroutectl message starts with its length (at most
/// 1024) as a native `size_t`, an mroutectl message with a command number that is never
/// `M` (77): both differ from `MCR` within three bytes.
pub fn detect(first: &[u8], foreign: Foreign) -> Detected {
    let n = first.len().min(MAGIC.len());
    if n == 0 {
        return Detected::NeedMore;
    }
    if first[..n] != MAGIC[..n] {
        return Detected::Foreign(foreign);
    }
    if n < MAGIC.len() {
        Detected::NeedMore
    } else {
        Detected::Native
    }
}

/// What a [`Session`] wants done after it consumed some bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Bytes to write to the client, in order.
    pub reply: Vec<u8>,
    /// Close the connection once `reply` is written (both foreign clients read to the end
    /// of the stream).
    pub close: bool,
    /// The client sent something malformed (the reason); count it.
    pub malformed: Option<String>,
    /// Requests handled.
    pub requests: u64,
}

/// The daemon side of one connection speaking a foreign protocol.
#[derive(Debug)]
pub struct Session {
    proto: Foreign,
    buf: Vec<u8>,
}

impl Session {
    /// A session for a connection that speaks `proto`.
    pub fn new(proto: Foreign) -> Session {
        Session {
            proto,
            buf: Vec::new(),
        }
    }

    /// The protocol.
    pub fn protocol(&self) -> Foreign {
        self.proto
    }

    /// Whether bytes of an incomplete message are buffered.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// How many bytes are buffered.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes bytes the client sent.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Answers every complete message received with `handler`, in the foreign protocol's
    /// format.
    pub fn serve(&mut self, handler: &mut dyn FnMut(&Request) -> Response) -> Step {
        match self.proto {
            Foreign::Smcroute => smcroute::serve(&mut self.buf, handler),
            Foreign::Mrouted => mrouted::serve(&mut self.buf, handler),
        }
    }
}

/// A line of `show` output as smcroutectl and mroutectl mark it up: a section title ends in
/// `_`, a table heading in `=`, anything else is a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowLine {
    /// A section title.
    Title(String),
    /// A table heading.
    Heading(String),
    /// A data row (or an empty line).
    Row(String),
}

/// Splits `show` text into marked-up lines.
pub fn parse_markup(text: &str) -> Vec<ShowLine> {
    text.lines()
        .map(|l| {
            if l.len() > 1 {
                if let Some(t) = l.strip_suffix('_') {
                    return ShowLine::Title(t.to_string());
                }
                if let Some(h) = l.strip_suffix('=') {
                    return ShowLine::Heading(h.to_string());
                }
            }
            ShowLine::Row(l.to_string())
        })
        .collect()
}

/// Prints marked-up lines as smcroutectl's `-p` does: a title under a line of `_`, a heading
/// between two lines of `=`; with `no_headings` (`-t`) only the rows.
pub fn render_plain(lines: &[ShowLine], no_headings: bool) -> String {
    let mut out = String::new();
    for l in lines {
        match l {
            ShowLine::Title(t) if !no_headings => {
                out.push_str(&"_".repeat(t.len().max(79)));
                out.push('\n');
                out.push_str(t);
                out.push('\n');
            }
            ShowLine::Heading(h) if !no_headings => {
                let rule = "=".repeat(h.len().max(79));
                out.push_str(&rule);
                out.push('\n');
                out.push_str(h);
                out.push('\n');
                out.push_str(&rule);
                out.push('\n');
            }
            ShowLine::Row(r) => {
                out.push_str(r);
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// What a foreign daemon answered, typed where its text can be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A typed response.
    Response(Response),
    /// `show` text that is not one of the tables this side knows, as marked-up lines.
    Text(Vec<ShowLine>),
}

/// Makes `s` one line of text without NUL bytes (for error replies).
pub(crate) fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], "; ").replace('\0', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert_eq!(detect(b"", Foreign::Smcroute), Detected::NeedMore);
        assert_eq!(detect(b"M", Foreign::Smcroute), Detected::NeedMore);
        assert_eq!(detect(b"MC", Foreign::Mrouted), Detected::NeedMore);
        assert_eq!(detect(b"MCR\x01", Foreign::Mrouted), Detected::Native);
        // smcroutectl: a 30-byte join starts with 30 as a size_t.
        assert_eq!(
            detect(b"\x1e\0\0\0\0\0\0\0j\0", Foreign::Smcroute),
            Detected::Foreign(Foreign::Smcroute)
        );
        // A 77-byte smcroute message starts with 'M' but not "MC".
        assert_eq!(
            detect(b"M\0\0", Foreign::Smcroute),
            Detected::Foreign(Foreign::Smcroute)
        );
        // mroutectl: command 20 (show interfaces), detail 0.
        assert_eq!(
            detect(&[20, 0, 0], Foreign::Mrouted),
            Detected::Foreign(Foreign::Mrouted)
        );
    }

    #[test]
    fn markup() {
        let l = parse_markup("T_\nA B=\nrow\n\n_\n");
        assert_eq!(
            l,
            vec![
                ShowLine::Title("T".into()),
                ShowLine::Heading("A B".into()),
                ShowLine::Row("row".into()),
                ShowLine::Row("".into()),
                ShowLine::Row("_".into()),
            ]
        );
        let s = render_plain(&l[..3], false);
        assert!(s.starts_with(&"_".repeat(79)));
        assert!(s.contains("\nT\n"));
        assert_eq!(render_plain(&l[..3], true), "row\n");
    }
}
