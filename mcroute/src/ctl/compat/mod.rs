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
//! - [`Foreign::detector`]: plugs one of them into the control server
//!   ([`CtlServer::add_protocol`](crate::ctl::server::CtlServer::add_protocol)), which picks
//!   it for a connection whose first bytes are not mcroute's; the
//!   [`Protocol`](crate::ctl::protocol::Protocol) implementations
//!   [`smcroute::SmcrouteProtocol`] and [`mrouted::MroutedProtocol`] do the translation.
//! - [`client`]: the client side, which finds out what a daemon speaks and talks to it.
//!
//! Decoders never panic and bound everything they allocate.
#![forbid(unsafe_code)]

pub mod client;
pub mod mrouted;
pub mod smcroute;

use super::protocol::{Detect, Detector, Protocol};
use super::wire::MAGIC;
use super::Response;

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

impl Foreign {
    /// The detector to register with
    /// [`CtlServer::add_protocol`](crate::ctl::server::CtlServer::add_protocol): a
    /// connection whose first bytes are not mcroute's (which always start with `MCR`) is
    /// served in this protocol.
    pub fn detector(self) -> Detector {
        match self {
            Foreign::Smcroute => Box::new(|first: &[u8]| {
                foreign(first, || Box::new(smcroute::SmcrouteProtocol::default()))
            }),
            Foreign::Mrouted => Box::new(|first: &[u8]| {
                foreign(first, || Box::new(mrouted::MroutedProtocol::default()))
            }),
        }
    }
}

/// Claims a connection for a foreign protocol unless its first bytes may be mcroute's own.
///
/// An smcroutectl message starts with its length (at most 1024) as a native `size_t`, an
/// mroutectl message with a command number that is never `M` (77): both differ from `MCR`
/// within three bytes.
fn foreign(first: &[u8], make: impl FnOnce() -> Box<dyn Protocol>) -> Detect {
    let n = first.len().min(MAGIC.len());
    if n == 0 {
        Detect::NeedMore
    } else if first[..n] != MAGIC[..n] {
        Detect::Mine(make())
    } else if n < MAGIC.len() {
        Detect::NeedMore
    } else {
        Detect::NotMine
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

    fn claimed(d: &Detector, first: &[u8]) -> Option<&'static str> {
        match d(first) {
            Detect::Mine(p) => Some(p.name()),
            Detect::NotMine => None,
            Detect::NeedMore => Some("more"),
        }
    }

    #[test]
    fn detection() {
        let smc = Foreign::Smcroute.detector();
        let mr = Foreign::Mrouted.detector();
        assert_eq!(claimed(&smc, b"M"), Some("more"));
        assert_eq!(claimed(&mr, b"MC"), Some("more"));
        assert_eq!(claimed(&mr, b"MCR\x02"), None);
        assert_eq!(claimed(&smc, b"MCR"), None);
        // smcroutectl: a 30-byte join starts with 30 as a size_t.
        assert_eq!(claimed(&smc, b"\x1e\0\0\0\0\0\0\0j\0"), Some("smcroute"));
        // A 77-byte smcroute message starts with 'M' but not "MC".
        assert_eq!(claimed(&smc, b"M\0\0"), Some("smcroute"));
        // mroutectl: command 20 (show interfaces), detail 0.
        assert_eq!(claimed(&mr, &[20, 0, 0]), Some("mrouted"));
    }

    /// Drives a protocol over `input` as the control server does (requests answered in
    /// order, closed when the protocol says so or on a fatal error); the bytes written and
    /// whether the connection was closed.
    pub(crate) fn drive(
        p: &mut dyn Protocol,
        input: &[u8],
        handler: &mut dyn FnMut(&crate::ctl::Request) -> Response,
    ) -> (Vec<u8>, bool, usize) {
        use crate::ctl::protocol::Decoded;
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            match p.decode(&input[at..]) {
                Decoded::Incomplete => return (out, false, at),
                Decoded::Fatal(e) => {
                    p.encode(&Response::Error(e), false, &mut out);
                    return (out, true, at);
                }
                Decoded::Reply { reply, used } => {
                    at += used;
                    p.encode(&reply, false, &mut out);
                }
                Decoded::Request { request, used } => {
                    at += used;
                    let r = handler(&request);
                    p.encode(&r, false, &mut out);
                }
            }
            if p.close_after_reply() {
                return (out, true, at);
            }
        }
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
