//! SMCRoute 2.5's IPC, as `smcroutectl` and `smcrouted` speak it over the UNIX socket.
//!
//! A request is `struct ipc_msg`: the total length as a native `size_t`, a native `u16`
//! command letter, a native `u16` word count, padding to the `size_t` alignment (16 bytes
//! of header on 64-bit systems, 8 on 32-bit), then the words, each NUL-terminated, and one
//! more NUL. At most [`MAX_MSG`] bytes and [`MAX_WORDS`] words. Commands: `a` add, `r`
//! remove, `j` join, `l` leave, `F` flush, `H` reload, `k` kill, `s` show, `S` show with
//! counters, `J` show as JSON (2.6); `show`'s first word picks the table by its first
//! letter (`g` groups, `i` interfaces, anything else routes).
//!
//! The daemon answers every request in turn: a single NUL for success, an error text and a
//! NUL for failure, or for `show` the table text (titles end in `_`, headings in `=`)
//! followed by a NUL. The client reads until the daemon closes the connection, which it
//! does once it has answered everything the client sent.

use std::net::IpAddr;

use ipnet::IpNet;

use std::collections::VecDeque;

use super::{one_line, parse_markup, Reply, ShowLine};
use crate::ctl::command::{self, Command};
use crate::ctl::protocol::{Decoded, Protocol};
use crate::ctl::render;
use crate::ctl::{
    fmt_sg, GroupRow, InterfaceRow, Request, Response, RouteRow, RouteTables, ShowWhat,
};

/// The largest message smcroutectl sends (`MX_CMDPKT_SZ`).
pub const MAX_MSG: usize = 1024;
/// The most words a message may carry (`MAXVIFS + 3`).
pub const MAX_WORDS: usize = 35;
/// The bytes of a native `size_t`.
const WORD: usize = (usize::BITS / 8) as usize;
/// The header: `size_t len; u16 cmd; u16 count;` padded to the alignment of `size_t`.
pub const HEADER_LEN: usize = if WORD >= 8 { 16 } else { 8 };

/// Why bytes are not an SMCRoute IPC message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmcError {
    /// The length field is smaller than the header or larger than [`MAX_MSG`].
    #[error("smcroute IPC message length {0} out of range")]
    BadLength(u64),
    /// More words than any command takes.
    #[error("smcroute IPC message with {0} words (at most {MAX_WORDS})")]
    TooManyWords(usize),
    /// A word runs past the end of the message.
    #[error("smcroute IPC message truncated inside a word")]
    Truncated,
    /// A word that is not UTF-8.
    #[error("smcroute IPC word is not UTF-8")]
    BadUtf8,
    /// A message too large to send, or a word with a NUL in it.
    #[error("cannot encode smcroute IPC message: {0}")]
    Encode(&'static str),
}

/// One decoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// The command (an ASCII letter in every message smcroutectl sends).
    pub cmd: u16,
    /// The words.
    pub words: Vec<String>,
}

/// Decodes the message at the start of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the message and the bytes it took.
pub fn decode_msg(buf: &[u8]) -> Result<Option<(Msg, usize)>, SmcError> {
    let Some(head) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let mut w = [0u8; 8];
    let len = if WORD >= 8 {
        w.copy_from_slice(&head[..8]);
        u64::from_ne_bytes(w)
    } else {
        let mut w4 = [0u8; 4];
        w4.copy_from_slice(&head[..4]);
        u64::from(u32::from_ne_bytes(w4))
    };
    if len < HEADER_LEN as u64 || len > MAX_MSG as u64 {
        return Err(SmcError::BadLength(len));
    }
    let len = len as usize;
    let Some(msg) = buf.get(..len) else {
        return Ok(None);
    };
    let cmd = u16::from_ne_bytes([head[WORD], head[WORD + 1]]);
    let count = usize::from(u16::from_ne_bytes([head[WORD + 2], head[WORD + 3]]));
    if count > MAX_WORDS {
        return Err(SmcError::TooManyWords(count));
    }
    let mut words = Vec::with_capacity(count);
    let mut rest = &msg[HEADER_LEN..];
    for _ in 0..count {
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(SmcError::Truncated)?;
        let word = std::str::from_utf8(&rest[..end]).map_err(|_| SmcError::BadUtf8)?;
        words.push(word.to_string());
        rest = &rest[end + 1..];
    }
    Ok(Some((Msg { cmd, words }, len)))
}

/// Encodes a request as smcroutectl does.
pub fn encode_msg(cmd: u16, words: &[&str]) -> Result<Vec<u8>, SmcError> {
    if words.len() > MAX_WORDS {
        return Err(SmcError::Encode("too many words"));
    }
    if words.iter().any(|w| w.contains('\0')) {
        return Err(SmcError::Encode("a word contains a NUL byte"));
    }
    let len = HEADER_LEN + words.iter().map(|w| w.len() + 1).sum::<usize>() + 1;
    if len > MAX_MSG {
        return Err(SmcError::Encode("message longer than 1024 bytes"));
    }
    let mut out = Vec::with_capacity(len);
    if WORD >= 8 {
        out.extend_from_slice(&(len as u64).to_ne_bytes());
    } else {
        out.extend_from_slice(&(len as u32).to_ne_bytes());
    }
    out.extend_from_slice(&cmd.to_ne_bytes());
    out.extend_from_slice(&(words.len() as u16).to_ne_bytes());
    out.resize(HEADER_LEN, 0);
    for w in words {
        out.extend_from_slice(w.as_bytes());
        out.push(0);
    }
    out.push(0);
    Ok(out)
}

/// A request from smcroutectl, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmcRequest {
    /// The request.
    pub request: Request,
    /// `J`: answer `show` with the JSON of `mcroutectl -j` instead of text.
    pub json: bool,
}

/// Translates a message into a typed request, or the error text smcroutectl prints. The
/// words are checked as `mcroutectl` checks its command line.
pub fn to_request(m: &Msg) -> Result<SmcRequest, String> {
    let words: Vec<&str> = m.words.iter().map(String::as_str).collect();
    let letter = u8::try_from(m.cmd).map(char::from).unwrap_or('?');
    let typed = |name: &str| -> Result<Request, String> {
        let mut line = vec![name];
        line.extend_from_slice(&words);
        match command::parse(&line, false) {
            Ok(Command::Request(r)) => Ok(r),
            Ok(_) => Err(format!("{name}: not a request")),
            Err(e) => Err(e.to_string()),
        }
    };
    let bare = |r: Request| -> Result<Request, String> {
        match words.first() {
            None => Ok(r),
            Some(w) => Err(format!("{r}: unexpected argument {w:?}")),
        }
    };
    let show = |detail: bool| Request::Show {
        what: match words.first().and_then(|w| w.bytes().next()) {
            Some(b'g') => ShowWhat::Groups,
            Some(b'i') => ShowWhat::Interfaces,
            _ => ShowWhat::Routes,
        },
        detail,
    };
    let (request, json) = match m.cmd {
        0x61 => (typed("add")?, false),    // 'a'
        0x72 => (typed("remove")?, false), // 'r'
        0x6a => (typed("join")?, false),   // 'j'
        0x6c => (typed("leave")?, false),  // 'l'
        0x46 => (bare(Request::Flush)?, false),
        0x48 => (bare(Request::Reload)?, false),
        0x6b => (bare(Request::Kill)?, false),
        0x73 => (show(false), false),
        0x53 => (show(true), false),
        0x4a => (show(false), true),
        _ => {
            return Err(format!(
                "Unknown or malformed IPC message '{letter}' from client."
            ))
        }
    };
    Ok(SmcRequest { request, json })
}

/// The message smcroutectl would send for `req`, or why smcrouted has no such request.
pub fn msg_for(req: &Request) -> Result<Vec<u8>, String> {
    let sg_words = |iif: &str, source: &Option<IpNet>, group: &IpNet| {
        let mut w = vec![iif.to_string()];
        if let Some(s) = source {
            w.push(crate::ctl::fmt_net(s));
        }
        w.push(crate::ctl::fmt_net(group));
        w
    };
    let (cmd, words): (u8, Vec<String>) = match req {
        Request::Add {
            iif,
            source,
            group,
            oifs,
        }
        | Request::Remove {
            iif,
            source,
            group,
            oifs,
        } => {
            let mut w = sg_words(iif, source, group);
            w.extend(oifs.iter().cloned());
            (
                if matches!(req, Request::Add { .. }) {
                    b'a'
                } else {
                    b'r'
                },
                w,
            )
        }
        Request::Join { iif, source, group } => (b'j', sg_words(iif, source, group)),
        Request::Leave { iif, source, group } => (b'l', sg_words(iif, source, group)),
        Request::Show { what, detail } => {
            let w = match what {
                ShowWhat::Routes => vec![],
                ShowWhat::Groups => vec!["groups".to_string()],
                ShowWhat::Interfaces => vec!["interfaces".to_string()],
                other => return Err(format!("smcrouted has no \"show {}\"", other.name())),
            };
            (if *detail { b'S' } else { b's' }, w)
        }
        Request::Flush => (b'F', vec![]),
        Request::Reload => (b'H', vec![]),
        Request::Kill => (b'k', vec![]),
        Request::Version => return Err("smcrouted does not report its version".into()),
        Request::Debug { .. } | Request::Log { .. } => {
            return Err("smcrouted has no run-time debug or log level command".into())
        }
    };
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    encode_msg(u16::from(cmd), &words).map_err(|e| e.to_string())
}

/// The reply to one request, as smcrouted writes it.
pub fn encode_reply(req: &SmcRequest, resp: &Response) -> Vec<u8> {
    let detail = matches!(req.request, Request::Show { detail: true, .. });
    let mut out = match resp {
        Response::Ok => Vec::new(),
        Response::Error(e) => {
            let e = one_line(e);
            if e.is_empty() {
                b"error".to_vec()
            } else {
                e.into_bytes()
            }
        }
        other if req.json => render::json(other)
            .map(|j| j + "\n")
            .unwrap_or_default()
            .into_bytes(),
        other => show_text(other, detail).replace('\0', "").into_bytes(),
    };
    out.push(0);
    out
}

fn route_lines(out: &mut String, title: &str, rows: &[RouteRow], inw: usize, detail: bool) {
    if rows.is_empty() {
        return;
    }
    out.push_str(title);
    out.push_str("_\n");
    if detail {
        out.push_str(&format!(
            "{:<42} {:<inw$} {:>10} {:>10}  {}=\n",
            "ROUTE (S,G)", "IIF", "PACKETS", "BYTES", "OIFS"
        ));
    } else {
        out.push_str(&format!(
            "{:<42} {:<inw$}  {}=\n",
            "ROUTE (S,G)", "IIF", "OIFS"
        ));
    }
    for r in rows {
        out.push_str(&format!(
            "{:<42} {:<inw$} ",
            fmt_sg(&r.source, &r.group),
            r.iif
        ));
        if detail {
            out.push_str(&format!(
                "{:>10} {:>10} ",
                r.packets.unwrap_or(0),
                r.bytes.unwrap_or(0)
            ));
        }
        for o in &r.oifs {
            out.push(' ');
            out.push_str(o);
        }
        out.push('\n');
    }
}

/// The text of a `show` reply, in smcrouted's layout and markup.
pub fn show_text(resp: &Response, detail: bool) -> String {
    let mut out = String::new();
    match resp {
        Response::Routes(t) => {
            let inw = t
                .templates
                .iter()
                .chain(&t.rules)
                .chain(&t.kernel)
                .map(|r| r.iif.len())
                .max()
                .unwrap_or(0)
                .max(3);
            route_lines(&mut out, "(*,G) Template Rules", &t.templates, inw, detail);
            route_lines(&mut out, "(S,G) Rules", &t.rules, inw, detail);
            route_lines(&mut out, "Kernel MFC Table", &t.kernel, inw, detail);
        }
        Response::Groups(g) if !g.is_empty() => {
            out.push_str("Group Memberships Table_\n");
            out.push_str(&format!("{:<42} {:<16}=\n", "GROUP (S,G)", "IIF"));
            for r in g {
                out.push_str(&format!("{:<42} {}\n", fmt_sg(&r.source, &r.group), r.iif));
            }
        }
        Response::Groups(_) => {}
        Response::Interfaces(i) => {
            let inw = i.iter().map(|r| r.name.len()).max().unwrap_or(0).max(6);
            out.push_str(&format!(" INDEX {:<inw$}  VIF  MIF=\n", "PHYINT"));
            let na = |v: Option<u16>| v.map_or("N/A".to_string(), |v| v.to_string());
            for r in i {
                out.push_str(&format!(
                    "{:>6} {:<inw$} {:>4} {:>4}\n",
                    r.index,
                    r.name,
                    na(r.vif),
                    na(r.mif)
                ));
            }
        }
        other => {
            out = render::human(
                other,
                render::Style {
                    no_headings: true,
                    detail,
                },
            )
        }
    }
    out
}

/// The daemon side of one smcroutectl connection (registered with
/// [`Foreign::detector`](super::Foreign::detector)).
///
/// Like smcrouted, it answers every message the client sent in one go, then the server
/// closes the connection (smcroutectl reads until it is closed). A `show` reply that the
/// daemon produces in parts is gathered and written whole, in smcrouted's layout.
#[derive(Debug, Default)]
pub struct SmcrouteProtocol {
    /// What each request awaiting its reply asked for (replies come in request order).
    asked: VecDeque<SmcRequest>,
    /// The parts of a reply so far.
    parts: Option<Response>,
    /// Whether the client sent more bytes after the last message decoded.
    more_input: bool,
}

impl Protocol for SmcrouteProtocol {
    fn name(&self) -> &'static str {
        "smcroute"
    }

    fn decode(&mut self, input: &[u8]) -> Decoded {
        match decode_msg(input) {
            Ok(None) => Decoded::Incomplete,
            Err(e) => Decoded::Fatal(e.to_string()),
            Ok(Some((m, used))) => {
                self.more_input = input.len() > used;
                match to_request(&m) {
                    Ok(req) => {
                        let request = req.request.clone();
                        self.asked.push_back(req);
                        Decoded::Request { request, used }
                    }
                    Err(e) => {
                        self.asked.push_back(SmcRequest {
                            request: Request::Version,
                            json: false,
                        });
                        Decoded::Reply {
                            reply: Response::Error(e),
                            used,
                        }
                    }
                }
            }
        }
    }

    fn encode(&mut self, reply: &Response, more: bool, out: &mut Vec<u8>) {
        let whole = match self.parts.take() {
            None => reply.clone(),
            Some(mut so_far) => match so_far.append(reply.clone()) {
                Ok(()) => so_far,
                Err(e) => Response::Error(e),
            },
        };
        if more {
            self.parts = Some(whole);
            return;
        }
        let asked = self.asked.pop_front().unwrap_or(SmcRequest {
            request: Request::Version,
            json: false,
        });
        out.extend_from_slice(&encode_reply(&asked, &whole));
    }

    fn close_after_reply(&self) -> bool {
        self.asked.is_empty() && self.parts.is_none() && !self.more_input
    }
}

/// Reads smcrouted's reply to `req` (everything it wrote before closing).
pub fn decode_reply(req: &Request, bytes: &[u8]) -> Reply {
    let text = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let Request::Show { what, detail } = req else {
        return Reply::Response(match bytes {
            [0] => Response::Ok,
            [] => Response::Error("smcrouted closed the connection without a reply".into()),
            b => Response::Error(text(b).lines().next().unwrap_or("").trim().to_string()),
        });
    };
    // Show: the text, then a NUL (smcrouted appends its last log line if a table failed).
    let body = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    let body = String::from_utf8_lossy(body).replace('\0', "\n");
    let lines = parse_markup(&body);
    let typed = match what {
        ShowWhat::Routes => parse_routes(&lines, *detail).map(Response::Routes),
        ShowWhat::Groups if !*detail => parse_groups(&lines).map(Response::Groups),
        ShowWhat::Interfaces => parse_interfaces(&lines).map(Response::Interfaces),
        _ => None,
    };
    typed.map_or(Reply::Text(lines), Reply::Response)
}

fn parse_net(s: &str) -> Option<IpNet> {
    match s.split_once('/') {
        Some((a, l)) => IpNet::new(a.parse::<IpAddr>().ok()?, l.parse().ok()?).ok(),
        None => Some(IpNet::from(s.parse::<IpAddr>().ok()?)),
    }
}

/// `(S, G) rest...` into source, group and the rest.
fn parse_sg(row: &str) -> Option<(Option<IpNet>, IpNet, &str)> {
    let row = row.strip_prefix('(')?;
    let (sg, rest) = row.split_once(')')?;
    let (s, g) = sg.split_once(',')?;
    let source = match s.trim() {
        "*" => None,
        s => Some(parse_net(s)?),
    };
    Some((source, parse_net(g.trim())?, rest))
}

fn parse_routes(lines: &[ShowLine], detail: bool) -> Option<RouteTables> {
    let mut t = RouteTables::default();
    let mut section: Option<usize> = None;
    for l in lines {
        match l {
            ShowLine::Title(s) => {
                section = Some(match s.trim() {
                    "(*,G) Template Rules" => 0,
                    "(S,G) Rules" => 1,
                    "Kernel MFC Table" => 2,
                    _ => return None,
                })
            }
            ShowLine::Heading(_) => {}
            ShowLine::Row(r) if r.trim().is_empty() => {}
            ShowLine::Row(r) => {
                let (source, group, rest) = parse_sg(r)?;
                let mut w = rest.split_whitespace();
                let iif = w.next()?.to_string();
                let (packets, bytes) = if detail {
                    (Some(w.next()?.parse().ok()?), Some(w.next()?.parse().ok()?))
                } else {
                    (None, None)
                };
                let row = RouteRow {
                    source,
                    group,
                    iif,
                    oifs: w.map(str::to_string).collect(),
                    packets,
                    bytes,
                    no_vif: Vec::new(),
                };
                match section? {
                    0 => t.templates.push(row),
                    1 => t.rules.push(row),
                    _ => t.kernel.push(row),
                }
            }
        }
    }
    Some(t)
}

fn parse_groups(lines: &[ShowLine]) -> Option<Vec<GroupRow>> {
    let mut out = Vec::new();
    for l in lines {
        match l {
            ShowLine::Title(t) if t.trim() == "Group Memberships Table" => {}
            ShowLine::Title(_) => return None,
            ShowLine::Heading(_) => {}
            ShowLine::Row(r) if r.trim().is_empty() => {}
            ShowLine::Row(r) => {
                let (source, group, rest) = parse_sg(r)?;
                let mut w = rest.split_whitespace();
                let iif = w.next()?.to_string();
                if w.next().is_some() {
                    return None;
                }
                out.push(GroupRow { source, group, iif });
            }
        }
    }
    Some(out)
}

fn parse_interfaces(lines: &[ShowLine]) -> Option<Vec<InterfaceRow>> {
    let mut out = Vec::new();
    for l in lines {
        match l {
            ShowLine::Title(_) => return None,
            ShowLine::Heading(_) => {}
            ShowLine::Row(r) if r.trim().is_empty() => {}
            ShowLine::Row(r) => {
                let w: Vec<&str> = r.split_whitespace().collect();
                let [index, name, vif, mif] = w[..] else {
                    return None;
                };
                let num = |s: &str| -> Option<Option<u16>> {
                    if s == "N/A" {
                        Some(None)
                    } else {
                        s.parse().ok().map(Some)
                    }
                };
                out.push(InterfaceRow {
                    index: index.parse().ok()?,
                    name: name.to_string(),
                    vif: num(vif)?,
                    mif: num(mif)?,
                });
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `smcroutectl join a1 225.7.7.7` on x86_64, as strace shows it.
    const JOIN: &[u8] = b"\x1e\0\0\0\0\0\0\0j\0\x02\0\0\0\0\0a1\x00225.7.7.7\0\0";

    fn net(s: &str) -> IpNet {
        parse_net(s).unwrap()
    }

    #[test]
    #[cfg(all(target_pointer_width = "64", target_endian = "little"))]
    fn decodes_smcroutectl_join_fixture() {
        let (m, n) = decode_msg(JOIN).unwrap().unwrap();
        assert_eq!(n, JOIN.len());
        assert_eq!(
            m,
            Msg {
                cmd: u16::from(b'j'),
                words: vec!["a1".into(), "225.7.7.7".into()]
            }
        );
        assert_eq!(
            encode_msg(u16::from(b'j'), &["a1", "225.7.7.7"]).unwrap(),
            JOIN
        );
        assert_eq!(
            to_request(&m).unwrap().request,
            Request::Join {
                iif: "a1".into(),
                source: None,
                group: net("225.7.7.7")
            }
        );
    }

    #[test]
    fn partial_and_pipelined() {
        let a = encode_msg(u16::from(b'a'), &["a1", "192.0.2.1", "225.1.1.1", "a2"]).unwrap();
        let s = encode_msg(u16::from(b'S'), &["groups"]).unwrap();
        for cut in 0..a.len() {
            assert_eq!(decode_msg(&a[..cut]), Ok(None), "cut at {cut}");
        }
        let mut both = a.clone();
        both.extend_from_slice(&s);
        let (m1, n1) = decode_msg(&both).unwrap().unwrap();
        let (m2, n2) = decode_msg(&both[n1..]).unwrap().unwrap();
        assert_eq!(n1 + n2, both.len());
        assert_eq!(
            to_request(&m1).unwrap().request,
            Request::Add {
                iif: "a1".into(),
                source: Some(net("192.0.2.1")),
                group: net("225.1.1.1"),
                oifs: vec!["a2".into()]
            }
        );
        assert_eq!(
            to_request(&m2).unwrap().request,
            Request::Show {
                what: ShowWhat::Groups,
                detail: true
            }
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        let mut m = encode_msg(u16::from(b'j'), &["a1", "225.7.7.7"]).unwrap();
        // A count larger than the words present.
        m[WORD + 2] = 9;
        assert_eq!(decode_msg(&m), Err(SmcError::Truncated));
        m[WORD + 2] = 200;
        assert_eq!(decode_msg(&m), Err(SmcError::TooManyWords(200)));
        let mut big = m.clone();
        big[..WORD].copy_from_slice(&2000usize.to_ne_bytes());
        assert_eq!(decode_msg(&big), Err(SmcError::BadLength(2000)));
        let mut small = m.clone();
        small[..WORD].copy_from_slice(&3usize.to_ne_bytes());
        assert_eq!(decode_msg(&small), Err(SmcError::BadLength(3)));
        let bad = encode_msg(u16::from(b'j'), &["a\u{e9}", "225.7.7.7"]).unwrap();
        let mut bad = bad;
        bad[HEADER_LEN + 1] = 0xff;
        assert_eq!(decode_msg(&bad), Err(SmcError::BadUtf8));
        assert!(encode_msg(1, &["x"; 40]).is_err());
        assert!(encode_msg(1, &["x\0"]).is_err());
        assert!(encode_msg(1, &[&"x".repeat(1100)]).is_err());
    }

    #[test]
    fn requests_and_errors() {
        let req = |c: u8, w: &[&str]| {
            to_request(&Msg {
                cmd: u16::from(c),
                words: w.iter().map(|s| s.to_string()).collect(),
            })
        };
        assert_eq!(req(b'F', &[]).unwrap().request, Request::Flush);
        assert_eq!(req(b'H', &[]).unwrap().request, Request::Reload);
        assert_eq!(req(b'k', &[]).unwrap().request, Request::Kill);
        assert!(req(b'k', &["now"]).is_err());
        let show = |c, w: &[&str]| req(c, w).unwrap();
        assert_eq!(
            show(b's', &["interfaces"]).request,
            Request::Show {
                what: ShowWhat::Interfaces,
                detail: false
            }
        );
        assert_eq!(
            show(b's', &[]).request,
            Request::Show {
                what: ShowWhat::Routes,
                detail: false
            }
        );
        assert!(show(b'J', &["routes"]).json);
        assert_eq!(
            req(b'x', &[]).unwrap_err(),
            "Unknown or malformed IPC message 'x' from client."
        );
        assert_eq!(
            req(b'a', &["a1", "192.0.2.4", "a2"]).unwrap_err(),
            "invalid multicast group: a2"
        );
    }

    #[test]
    fn client_messages() {
        let r = Request::Add {
            iif: "eth0".into(),
            source: Some(net("192.0.2.0/24")),
            group: net("225.1.2.3"),
            oifs: vec!["eth1".into(), "eth2".into()],
        };
        let m = msg_for(&r).unwrap();
        let (d, _) = decode_msg(&m).unwrap().unwrap();
        assert_eq!(
            d.words,
            ["eth0", "192.0.2.0/24", "225.1.2.3", "eth1", "eth2"]
        );
        assert_eq!(to_request(&d).unwrap().request, r);
        assert!(msg_for(&Request::Version).is_err());
        assert!(msg_for(&Request::Show {
            what: ShowWhat::Neighbors,
            detail: false
        })
        .is_err());
    }

    fn row(s: Option<&str>, g: &str, iif: &str, oifs: &[&str], c: Option<(u64, u64)>) -> RouteRow {
        RouteRow {
            source: s.map(net),
            group: net(g),
            iif: iif.into(),
            oifs: oifs.iter().map(|o| o.to_string()).collect(),
            packets: c.map(|c| c.0),
            bytes: c.map(|c| c.1),
            no_vif: Vec::new(),
        }
    }

    #[test]
    fn show_routes_text_round_trips() {
        let t = RouteTables {
            templates: vec![row(None, "225.1.2.0/24", "a1", &["a2"], None)],
            rules: vec![row(
                Some("192.0.2.10"),
                "225.3.2.1",
                "a1",
                &["a2", "a3"],
                None,
            )],
            kernel: vec![
                row(
                    Some("192.0.2.10"),
                    "225.3.2.1",
                    "a1",
                    &["a2", "a3"],
                    Some((3, 180)),
                ),
                row(Some("192.0.2.10"), "225.9.9.9", "a1", &[], Some((1, 60))),
            ],
        };
        let text = show_text(&Response::Routes(t.clone()), true);
        // smcrouted's exact layout.
        assert!(text.starts_with(
            "(*,G) Template Rules_\n\
             ROUTE (S,G)                                IIF    PACKETS      BYTES  OIFS=\n\
             (*, 225.1.2.0/24)                          a1           0          0  a2\n"
        ));
        assert!(text.contains(
            "(192.0.2.10, 225.3.2.1)                    a1           3        180  a2 a3\n"
        ));
        let req = Request::Show {
            what: ShowWhat::Routes,
            detail: true,
        };
        let wire = encode_reply(
            &SmcRequest {
                request: req.clone(),
                json: false,
            },
            &Response::Routes(t.clone()),
        );
        assert_eq!(wire.last(), Some(&0));
        let Reply::Response(Response::Routes(back)) = decode_reply(&req, &wire) else {
            panic!("not routes");
        };
        assert_eq!(back.kernel, t.kernel);
        assert_eq!(back.rules[0].oifs, t.rules[0].oifs);
        assert_eq!(back.templates[0].group, t.templates[0].group);
    }

    /// What smcrouted 2.5.6 sent for `show groups` and `show interfaces` in the lab.
    #[test]
    fn reads_smcrouted_tables() {
        let groups = b"Group Memberships Table_\n\
GROUP (S,G)                                IIF             =\n\
(192.0.2.10, 225.3.2.1)                    a1\n\
(*, 225.1.2.3)                             a1\n\0";
        let req = Request::Show {
            what: ShowWhat::Groups,
            detail: false,
        };
        assert_eq!(
            decode_reply(&req, groups),
            Reply::Response(Response::Groups(vec![
                GroupRow {
                    source: Some(net("192.0.2.10")),
                    group: net("225.3.2.1"),
                    iif: "a1".into()
                },
                GroupRow {
                    source: None,
                    group: net("225.1.2.3"),
                    iif: "a1".into()
                },
            ]))
        );
        let ifs = b" INDEX PHYINT  VIF  MIF=\n     1 lo      N/A  N/A\n     2 a1        0    0\n\0";
        let req = Request::Show {
            what: ShowWhat::Interfaces,
            detail: false,
        };
        let Reply::Response(Response::Interfaces(i)) = decode_reply(&req, ifs) else {
            panic!()
        };
        assert_eq!(i.len(), 2);
        assert_eq!((i[1].vif, i[0].mif), (Some(0), None));
        assert_eq!(
            decode_reply(&Request::Flush, b"\0"),
            Reply::Response(Response::Ok)
        );
        assert_eq!(
            decode_reply(
                &Request::Flush,
                b"ipc: mroute: inbound nope0 is not a known phyint\0"
            ),
            Reply::Response(Response::Error(
                "ipc: mroute: inbound nope0 is not a known phyint".into()
            ))
        );
        // Text this side cannot type stays text.
        let odd = b"Something Else_\nrow\n\0";
        assert!(matches!(
            decode_reply(
                &Request::Show {
                    what: ShowWhat::Routes,
                    detail: false
                },
                odd
            ),
            Reply::Text(_)
        ));
    }

    #[test]
    fn serves_pipelined_messages_then_closes() {
        use crate::ctl::compat::tests::drive;
        let mut buf = encode_msg(u16::from(b'F'), &[]).unwrap();
        buf.extend(encode_msg(u16::from(b'x'), &[]).unwrap());
        let half = encode_msg(u16::from(b'k'), &[]).unwrap();
        buf.extend_from_slice(&half[..5]);
        let mut p = SmcrouteProtocol::default();
        let mut seen = Vec::new();
        let (out, closed, used) = drive(&mut p, &buf, &mut |r| {
            seen.push(r.clone());
            Response::Ok
        });
        assert_eq!(seen, [Request::Flush]);
        assert!(!closed, "a partial message is waited for");
        assert!(out.starts_with(b"\0Unknown or malformed"));
        let mut rest = buf[used..].to_vec();
        rest.extend_from_slice(&half[5..]);
        let (out, closed, _) = drive(&mut p, &rest, &mut |_| Response::Error("no\nway".into()));
        assert_eq!(out, b"no; way\0");
        assert!(closed);
        let mut p = SmcrouteProtocol::default();
        let (out, closed, _) = drive(&mut p, &[0xff; 20], &mut |_| Response::Ok);
        assert!(closed && out.ends_with(b"\0"));
    }

    #[test]
    fn a_show_in_parts_is_written_whole() {
        let mut p = SmcrouteProtocol::default();
        let m = encode_msg(u16::from(b's'), &[]).unwrap();
        let Decoded::Request { request, .. } = p.decode(&m) else {
            panic!()
        };
        assert!(matches!(request, Request::Show { .. }));
        let part = |g: &str| {
            Response::Routes(RouteTables {
                rules: vec![row(Some("192.0.2.1"), g, "a1", &["a2"], None)],
                ..Default::default()
            })
        };
        let mut out = Vec::new();
        p.encode(&part("225.1.1.1"), true, &mut out);
        assert!(out.is_empty() && !p.close_after_reply());
        p.encode(&part("225.1.1.2"), false, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("(S,G) Rules_").count(), 1, "{text}");
        assert!(text.contains("225.1.1.1") && text.contains("225.1.1.2"));
        assert!(text.ends_with("\0"));
        assert!(p.close_after_reply());
    }
}
