//! mrouted 4.x's IPC, as `mroutectl` and `mrouted` speak it over the UNIX socket.
//!
//! Every message in both directions is `struct ipc` of [`MSG_LEN`] (768) bytes: a command
//! byte, a detail byte, a 765-byte NUL-terminated text and a sentinel byte. The client sends
//! one message per connection. The daemon answers a `show` with one message per line of text
//! (command [`cmd::OK`]) and then [`cmd::EOF`]; a setting with one [`cmd::EOF`] or
//! [`cmd::ERR`] carrying its answer; `kill` and `restart` with nothing; then it closes.
//! Table text uses the same `_`/`=` markup as smcroute's.

use std::fmt::Write;

use ipnet::Ipv4Net;

use std::collections::VecDeque;

use super::{one_line, ShowLine};
use crate::ctl::protocol::{Decoded, Protocol};
use crate::ctl::render::{self, Style};
use crate::ctl::{
    DvmrpRouteRow, DvmrpVifRow, GroupRow, MfcRow, NeighborRow, Request, Response, ShowWhat,
};

/// The size of every message.
pub const MSG_LEN: usize = 768;
/// The text field's size, its NUL included.
pub const TEXT_LEN: usize = 765;

/// Command numbers (`IPC_*_CMD` in mrouted's `defs.h`).
pub mod cmd {
    /// A line of a reply.
    pub const OK: u8 = 0;
    /// Reload, like SIGHUP.
    pub const RESTART: u8 = 1;
    /// Interfaces, neighbours, routes and cache.
    pub const SHOW_STATUS: u8 = 2;
    /// Debug subsystems.
    pub const DEBUG: u8 = 3;
    /// Log level.
    pub const LOGLEVEL: u8 = 4;
    /// The version (with `detail`: and uptime).
    pub const VERSION: u8 = 5;
    /// Stop, like SIGTERM.
    pub const KILL: u8 = 9;
    /// IGMP group memberships.
    pub const SHOW_IGMP_GROUP: u8 = 10;
    /// IGMP interface state.
    pub const SHOW_IGMP_IFACE: u8 = 11;
    /// Both IGMP tables.
    pub const SHOW_IGMP: u8 = 12;
    /// The interface table.
    pub const SHOW_IFACE: u8 = 20;
    /// The forwarding cache.
    pub const SHOW_MFC: u8 = 21;
    /// DVMRP neighbours.
    pub const SHOW_NEIGH: u8 = 22;
    /// The DVMRP routing table.
    pub const SHOW_ROUTES: u8 = 23;
    /// mrouted 3.x's dump (`mrouted -r`).
    pub const SHOW_COMPAT: u8 = 250;
    /// The end of a reply: success.
    pub const EOF: u8 = 254;
    /// The end of a reply: failure.
    pub const ERR: u8 = 255;
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// The command (or reply status).
    pub cmd: u8,
    /// The detail flag (`-d`).
    pub detail: bool,
    /// The text, up to its first NUL.
    pub text: String,
}

/// Decodes one message; `None` until [`MSG_LEN`] bytes are there.
pub fn decode_msg(buf: &[u8]) -> Option<Msg> {
    let m = buf.get(..MSG_LEN)?;
    let text = &m[2..2 + TEXT_LEN];
    let end = text.iter().position(|&b| b == 0).unwrap_or(TEXT_LEN);
    Some(Msg {
        cmd: m[0],
        detail: m[1] != 0,
        text: String::from_utf8_lossy(&text[..end]).into_owned(),
    })
}

/// Encodes one message; text beyond 764 bytes is cut (at a character boundary).
pub fn encode_msg(cmd: u8, detail: bool, text: &str) -> [u8; MSG_LEN] {
    let mut out = [0u8; MSG_LEN];
    out[0] = cmd;
    out[1] = u8::from(detail);
    let mut end = text.len().min(TEXT_LEN - 1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let t = &text.as_bytes()[..end];
    let t = &t[..t.iter().position(|&b| b == 0).unwrap_or(t.len())];
    out[2..2 + t.len()].copy_from_slice(t);
    out
}

/// What a message from mroutectl asks of this daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MrCommand {
    /// These requests; the reply is their text, in order.
    Show(Vec<Request>),
    /// The version line.
    Version {
        /// With uptime (mrouted); this side prints the version only.
        detail: bool,
    },
    /// Stop.
    Kill,
    /// Reload.
    Reload,
    /// Something this daemon does not do, with the reason.
    Refused(String),
}

/// Translates a message from mroutectl.
pub fn to_command(m: &Msg) -> MrCommand {
    let show = |w: &[ShowWhat]| {
        MrCommand::Show(
            w.iter()
                .map(|&what| Request::Show {
                    what,
                    detail: m.detail,
                })
                .collect(),
        )
    };
    match m.cmd {
        cmd::RESTART => MrCommand::Reload,
        cmd::KILL => MrCommand::Kill,
        cmd::VERSION => MrCommand::Version { detail: m.detail },
        cmd::SHOW_STATUS => show(&[
            ShowWhat::Interfaces,
            ShowWhat::Neighbors,
            ShowWhat::Routes,
            ShowWhat::Mfc,
        ]),
        cmd::SHOW_IFACE => show(&[ShowWhat::Interfaces]),
        cmd::SHOW_MFC => show(&[ShowWhat::Mfc]),
        cmd::SHOW_NEIGH => show(&[ShowWhat::Neighbors]),
        cmd::SHOW_ROUTES => show(&[ShowWhat::Routes]),
        cmd::SHOW_COMPAT => show(&[ShowWhat::Compat]),
        cmd::SHOW_IGMP_GROUP => show(&[ShowWhat::Groups]),
        cmd::DEBUG => MrCommand::Refused(
            "debug: not settable over the control socket; start dvmrp-router with -d".into(),
        ),
        cmd::LOGLEVEL => MrCommand::Refused(
            "log: not settable over the control socket; start dvmrp-router with -d LEVELS".into(),
        ),
        // The IGMP interface table is drawn from the interface table (see igmp_ifaces).
        cmd::SHOW_IGMP_IFACE => show(&[ShowWhat::Interfaces]),
        cmd::SHOW_IGMP => show(&[ShowWhat::Interfaces, ShowWhat::Groups]),
        other => MrCommand::Refused(format!("unknown command {other}")),
    }
}

/// The message mroutectl would send for `req`, or why mrouted has no such request.
pub fn msg_for(req: &Request) -> Result<[u8; MSG_LEN], String> {
    let (c, detail) = match req {
        Request::Show { what, detail } => (
            match what {
                ShowWhat::Interfaces => cmd::SHOW_IFACE,
                ShowWhat::Routes => cmd::SHOW_ROUTES,
                ShowWhat::Neighbors => cmd::SHOW_NEIGH,
                ShowWhat::Mfc => cmd::SHOW_MFC,
                ShowWhat::Compat => cmd::SHOW_COMPAT,
                ShowWhat::Groups | ShowWhat::IgmpGroups => cmd::SHOW_IGMP_GROUP,
                ShowWhat::IgmpInterfaces => cmd::SHOW_IGMP_IFACE,
                ShowWhat::Igmp => cmd::SHOW_IGMP,
                ShowWhat::Status => cmd::SHOW_STATUS,
            },
            *detail,
        ),
        Request::Debug { levels } => {
            return Ok(encode_msg(
                cmd::DEBUG,
                false,
                levels.as_deref().unwrap_or(""),
            ))
        }
        Request::Log { level } => {
            return Ok(encode_msg(
                cmd::LOGLEVEL,
                false,
                level.as_deref().unwrap_or(""),
            ))
        }
        Request::Version => (cmd::VERSION, false),
        Request::Kill => (cmd::KILL, false),
        Request::Reload => (cmd::RESTART, false),
        other => {
            return Err(format!(
                "{}: mrouted has no such command (routes are learnt, not configured)",
                other.to_string().split(' ').next().unwrap_or("request")
            ))
        }
    };
    Ok(encode_msg(c, detail, ""))
}

/// What mrouted answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The lines of text (`show`), marked up.
    pub lines: Vec<ShowLine>,
    /// Whether it ended in [`cmd::ERR`].
    pub failed: bool,
    /// The text of the final message (a setting's answer or an error).
    pub last: String,
}

/// Reads everything mrouted wrote before it closed (a trailing partial message is ignored,
/// as mroutectl does).
pub fn decode_reply(bytes: &[u8]) -> Reply {
    let mut r = Reply {
        lines: Vec::new(),
        failed: false,
        last: String::new(),
    };
    for chunk in bytes.chunks_exact(MSG_LEN) {
        let Some(m) = decode_msg(chunk) else { break };
        if m.cmd != cmd::OK {
            r.failed = m.cmd == cmd::ERR;
            r.last = m.text;
            break;
        }
        r.lines.extend(super::parse_markup(
            m.text.strip_suffix('\n').unwrap_or(&m.text),
        ));
        if m.text == "\n" || m.text.is_empty() {
            r.lines.push(ShowLine::Row(String::new()));
        }
    }
    r
}

/// Turns mrouted's reply to `req` into a typed response where it has one.
pub fn reply_to_response(req: &Request, r: &Reply) -> Option<Response> {
    if r.failed {
        return Some(Response::Error(if r.last.is_empty() {
            "mrouted refused the request".into()
        } else {
            r.last.clone()
        }));
    }
    match req {
        Request::Version => Some(Response::Version(
            r.lines
                .iter()
                .find_map(|l| match l {
                    ShowLine::Row(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| "mrouted".into()),
        )),
        Request::Kill | Request::Reload => Some(Response::Ok),
        _ => None,
    }
}

fn lines_of(text: &str, out: &mut Vec<u8>) {
    for l in text.lines() {
        out.extend_from_slice(&encode_msg(cmd::OK, false, &format!("{l}\n")));
    }
}

/// The daemon side of one mroutectl connection (registered with
/// [`Foreign::detector`](super::Foreign::detector)): one message in; its requests (four for
/// `show status`) answered line by line, then EOF or ERR; then the server closes.
#[derive(Debug, Default)]
pub struct MroutedProtocol {
    /// The message was read (mroutectl sends one per connection).
    read: bool,
    /// The detail flag of the message.
    detail: bool,
    /// Requests of the message not yet handed to the server.
    queue: VecDeque<Request>,
    /// Replies still to come, the last one ending in EOF.
    replies_due: usize,
    /// The parts of a reply so far.
    parts: Option<Response>,
    /// `show igmp [interfaces]`: the interface table is printed as IGMP's.
    igmp: bool,
}

impl Protocol for MroutedProtocol {
    fn name(&self) -> &'static str {
        "mrouted"
    }

    fn decode(&mut self, input: &[u8]) -> Decoded {
        if let Some(request) = self.queue.pop_front() {
            return Decoded::Request { request, used: 0 };
        }
        if self.read {
            // One message per connection: anything after it waits, unread, for the close.
            return Decoded::Incomplete;
        }
        let Some(m) = decode_msg(input) else {
            return Decoded::Incomplete;
        };
        self.read = true;
        self.detail = m.detail;
        self.igmp = matches!(m.cmd, cmd::SHOW_IGMP_IFACE | cmd::SHOW_IGMP);
        self.replies_due = 1;
        let request = match to_command(&m) {
            MrCommand::Show(reqs) => {
                self.replies_due = reqs.len();
                self.queue = reqs.into();
                match self.queue.pop_front() {
                    Some(r) => r,
                    None => {
                        return Decoded::Reply {
                            reply: Response::Ok,
                            used: MSG_LEN,
                        }
                    }
                }
            }
            MrCommand::Version { .. } => Request::Version,
            MrCommand::Kill => Request::Kill,
            MrCommand::Reload => Request::Reload,
            MrCommand::Refused(why) => {
                return Decoded::Reply {
                    reply: Response::Error(why),
                    used: MSG_LEN,
                }
            }
        };
        Decoded::Request {
            request,
            used: MSG_LEN,
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
        self.replies_due = self.replies_due.saturating_sub(1);
        match &whole {
            Response::Error(e) => {
                // The reply ends here, whatever else the message asked for.
                self.queue.clear();
                self.replies_due = 0;
                out.extend_from_slice(&encode_msg(cmd::ERR, self.detail, &one_line(e)));
                return;
            }
            Response::Version(v) => lines_of(&format!("{v} "), out),
            Response::DvmrpInterfaces(rows) if self.igmp => {
                let mut text = String::new();
                igmp_ifaces(&mut text, rows);
                lines_of(&text, out)
            }
            other => lines_of(&show_text(other, self.detail), out),
        }
        if self.replies_due == 0 {
            out.extend_from_slice(&encode_msg(cmd::EOF, self.detail, ""));
        }
    }

    fn close_after_reply(&self) -> bool {
        self.read && self.replies_due == 0 && self.parts.is_none()
    }
}

/// An IPv4 subnet as mrouted prints it (`inet_fmts`): only the octets the mask covers,
/// `default` for 0/0.
pub fn fmt_subnet(n: &Ipv4Net) -> String {
    if n.prefix_len() == 0 {
        return "default".into();
    }
    let o = n.addr().octets();
    let m = n.netmask().octets();
    let used = if m[3] != 0 {
        4
    } else if m[2] != 0 {
        3
    } else if m[1] != 0 {
        2
    } else {
        1
    };
    let addr: Vec<String> = o[..used].iter().map(u8::to_string).collect();
    format!("{}/{}", addr.join("."), n.prefix_len())
}

/// Seconds as mrouted's `scaletime`: `H:MM:SS`, the hours padded to two places.
pub fn scaletime(secs: u64) -> String {
    format!(
        "{:2}:{:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

fn ifaces(out: &mut String, rows: &[DvmrpVifRow]) {
    if rows.is_empty() {
        return;
    }
    out.push_str("Interface Table_\n");
    let _ = writeln!(
        out,
        "{:<15} {:<15} {:>5} {:>4} {:>3}{:>10} {:<5}=",
        "Address", "Interface", "State", "Cost", "TTL", "Uptime", "Flags"
    );
    for r in rows {
        let has = |f: &str| r.flags.iter().any(|x| x == f);
        let state = if has("down") {
            "Down"
        } else if has("disabled") {
            "Disabled"
        } else {
            "Up"
        };
        let mut flags = String::new();
        for (word, c) in [
            ("disabled", '!'),
            ("querier", 'Q'),
            ("leaf", 'L'),
            ("passive", '-'),
        ] {
            if has(word) {
                flags.push(c);
            }
        }
        // mrouted prints a fixed "0:00:00" here; this side does not track VIF uptime either.
        let _ = writeln!(
            out,
            "{:<15} {:<15} {:>5} {:>4} {:>3}{:>10} {}",
            r.local.to_string(),
            r.name,
            state,
            r.metric,
            r.threshold,
            "0:00:00",
            flags
        );
    }
}

fn neighbors(out: &mut String, rows: &[NeighborRow]) {
    if rows.is_empty() {
        return;
    }
    out.push_str("Neighbor Table_\n");
    let _ = writeln!(
        out,
        "{:<15} {:<15} {:>7} {:<5}{:>10} {:>6}=",
        "Neighbor", "Interface", "Version", "Flags", "Uptime", "Expire"
    );
    for r in rows {
        let has = |f: &str| r.flags.iter().any(|x| x == f);
        let mut flags = String::new();
        if has("leaf") {
            flags.push('L');
        }
        if has("genid") {
            flags.push('G');
        }
        if !has("two-way") {
            flags.push('1');
        }
        if !has("prune") {
            flags.push('p');
        }
        let _ = writeln!(
            out,
            "{:<15} {:<16}{:<7} {:<5}{:>10} {:>5}s",
            r.addr.to_string(),
            r.interface,
            format!("{}.{}", r.version.0, r.version.1),
            flags,
            scaletime(r.uptime),
            r.expires
        );
    }
}

fn routes(out: &mut String, rows: &[DvmrpRouteRow], detail: bool) {
    if rows.is_empty() {
        return;
    }
    out.push_str("DVMRP Routing Table_\n");
    if detail {
        let _ = writeln!(
            out,
            "{:<15} {:<15} {:<15}{:>6} {:>8}=",
            "Origin", "Neighbor", "Interface", "Cost", "Expire"
        );
    } else {
        let _ = writeln!(
            out,
            "{:<15} {:<15} {:<15}=",
            "Origin", "Neighbor", "Interface"
        );
    }
    for r in rows {
        let _ = write!(
            out,
            "{:<15} {:<15} {:<15}",
            fmt_subnet(&r.origin),
            r.gateway.map_or("Local".to_string(), |g| g.to_string()),
            r.interface
        );
        if detail {
            if r.metric >= 32 {
                out.push_str("   NR ");
            } else {
                let _ = write!(out, "  {:>4} ", r.metric);
            }
            match (r.gateway, r.expires) {
                (None, _) | (_, None) => {
                    let _ = write!(out, "{:>8}", "Never");
                }
                (Some(_), Some(e)) => {
                    let _ = write!(out, "{e:>7}s");
                }
            }
        }
        out.push('\n');
    }
}

fn mfc(out: &mut String, rows: &[MfcRow], detail: bool) {
    let shown: Vec<&MfcRow> = rows
        .iter()
        .filter(|r| detail || (r.upstream_prune.is_none() && !r.oifs.is_empty()))
        .collect();
    if !shown.is_empty() {
        out.push_str("Multicast Forwarding Cache Table_\n");
        if detail {
            let _ = writeln!(
                out,
                "{:<15} {:<15} {:<15} {:>2}{:>10} {:>8}  Outbound=",
                "Origin", "Group", "Inbound", "<>", "Uptime", "Expire"
            );
        } else {
            let _ = writeln!(
                out,
                "{:<15} {:<15} {:<15} Outbound=",
                "Origin", "Group", "Inbound"
            );
        }
    }
    for r in &shown {
        let origin = r.origin.unwrap_or_else(|| Ipv4Net::from(r.source));
        let iif = if r.origin.is_some() {
            r.iif.as_str()
        } else {
            "-"
        };
        let _ = write!(
            out,
            "{:<15} {:<15} {:<16}",
            fmt_subnet(&origin),
            r.group.to_string(),
            iif
        );
        if detail {
            let flags = if r.origin.is_none() {
                "!!".to_string()
            } else if r.upstream_prune.is_some() {
                "P ".to_string()
            } else if r.grafting {
                "G ".to_string()
            } else {
                "  ".to_string()
            };
            let _ = write!(
                out,
                "{:>2}{:>10} {:>8}  ",
                flags,
                scaletime(r.uptime),
                scaletime(r.expires)
            );
        }
        for o in &r.oifs {
            let _ = write!(out, "{o} ");
        }
        for (ifname, _) in &r.pruned_by {
            if !r.oifs.contains(ifname) {
                let _ = write!(out, "{ifname}:p ");
            }
        }
        out.push('\n');
    }
    if detail {
        let counted: Vec<&MfcRow> = rows.iter().filter(|r| r.upstream_prune.is_none()).collect();
        if !counted.is_empty() {
            let _ = writeln!(
                out,
                "\n{:<15} {:<15} {:<15}   {:>10} {:>8}  {:>8}=",
                "Source", "Group", "Inbound", "Uptime", "Packets", "Bytes"
            );
        }
        for r in counted {
            let _ = write!(
                out,
                "{:<15} {:<15} {:<16}  {:>10} ",
                r.source.to_string(),
                r.group.to_string(),
                r.iif,
                scaletime(r.uptime)
            );
            match r.counters {
                Some((p, b)) => {
                    let _ = writeln!(out, "{p:>8}  {b:>8}");
                }
                None => out.push('\n'),
            }
        }
    }
}

/// mrouted's IGMP interface table, from the DVMRP interface rows: the querier (`Local` when
/// it is us), the number of groups with members. This side does not report the IGMP version
/// or the other querier's expiry per interface: `-`.
pub fn igmp_ifaces(out: &mut String, rows: &[DvmrpVifRow]) {
    if rows.is_empty() {
        return;
    }
    out.push_str("IGMP Interface Table_\n");
    let _ = writeln!(
        out,
        "{:<16}  {:<15}  {:>7}  {:>6}  {:>6}=",
        "Interface", "Querier", "Version", "Groups", "Expire"
    );
    for r in rows {
        let local = r.flags.iter().any(|f| f == "querier") || r.querier == Some(r.local);
        let querier = match (local, r.querier) {
            (true, _) => "Local".to_string(),
            (false, Some(q)) => q.to_string(),
            (false, None) => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<16}  {:<15}  {:>7}  {:>6}  {:>6}",
            r.name,
            querier,
            "-",
            r.groups.len(),
            if local { "Never" } else { "-" }
        );
    }
}

fn igmp_groups(out: &mut String, rows: &[GroupRow]) {
    if rows.is_empty() {
        return;
    }
    out.push_str("IGMP Group Table_\n");
    let _ = writeln!(out, "{:<16}  {:<15}=", "Interface", "Group");
    for r in rows {
        let _ = writeln!(out, "{:<16}  {:<15}", r.iif, crate::ctl::fmt_net(&r.group));
    }
}

/// The text of a `show` reply in mrouted 4.x's layout and markup.
pub fn show_text(resp: &Response, detail: bool) -> String {
    let mut out = String::new();
    match resp {
        Response::DvmrpInterfaces(r) => ifaces(&mut out, r),
        Response::Neighbors(r) => neighbors(&mut out, r),
        Response::DvmrpRoutes(r) => routes(&mut out, r, detail),
        Response::Mfc(r) => mfc(&mut out, r, detail),
        Response::Groups(r) => igmp_groups(&mut out, r),
        Response::Compat(t) => out.push_str(t),
        Response::Ok => {}
        other => {
            out = render::human(
                other,
                Style {
                    no_headings: true,
                    detail,
                },
            )
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `mroutectl show interfaces` sends: command 20, no detail, the rest zero.
    fn fixture_show_iface() -> [u8; MSG_LEN] {
        let mut m = [0u8; MSG_LEN];
        m[0] = 20;
        m
    }

    #[test]
    fn decodes_mroutectl_fixture() {
        let m = decode_msg(&fixture_show_iface()).unwrap();
        assert_eq!(
            m,
            Msg {
                cmd: cmd::SHOW_IFACE,
                detail: false,
                text: String::new()
            }
        );
        assert_eq!(
            to_command(&m),
            MrCommand::Show(vec![Request::Show {
                what: ShowWhat::Interfaces,
                detail: false
            }])
        );
        assert_eq!(decode_msg(&fixture_show_iface()[..767]), None);
        assert_eq!(encode_msg(20, false, ""), fixture_show_iface());
        let long = "x".repeat(2000);
        let m = decode_msg(&encode_msg(cmd::OK, true, &long)).unwrap();
        assert_eq!(m.text.len(), TEXT_LEN - 1);
        assert!(m.detail);
    }

    #[test]
    fn status_is_four_tables_and_settings_are_refused() {
        let m = Msg {
            cmd: cmd::SHOW_STATUS,
            detail: true,
            text: String::new(),
        };
        let MrCommand::Show(r) = to_command(&m) else {
            panic!()
        };
        assert_eq!(r.len(), 4);
        for c in [cmd::DEBUG, cmd::LOGLEVEL, 77, 200] {
            assert!(matches!(
                to_command(&Msg {
                    cmd: c,
                    detail: false,
                    text: String::new()
                }),
                MrCommand::Refused(_)
            ));
        }
        assert_eq!(
            to_command(&Msg {
                cmd: 9,
                detail: false,
                text: String::new()
            }),
            MrCommand::Kill
        );
    }

    #[test]
    fn serves_one_message_lines_then_eof() {
        use crate::ctl::compat::tests::drive;
        let mut p = MroutedProtocol::default();
        let (out, closed, used) = drive(
            &mut p,
            &encode_msg(cmd::SHOW_ROUTES, false, ""),
            &mut |_| {
                Response::DvmrpRoutes(vec![DvmrpRouteRow {
                    origin: "198.51.100.0/24".parse().unwrap(),
                    gateway: Some("192.0.2.2".parse().unwrap()),
                    metric: 2,
                    parent: 0,
                    interface: "a1".into(),
                    children: vec![],
                    dependents: vec![],
                    expires: Some(100),
                }])
            },
        );
        assert!(closed);
        assert_eq!(used, MSG_LEN);
        assert_eq!(out.len() % MSG_LEN, 0);
        let r = decode_reply(&out);
        assert!(!r.failed);
        assert_eq!(
            r.lines,
            vec![
                ShowLine::Title("DVMRP Routing Table".into()),
                ShowLine::Heading(format!(
                    "{:<15} {:<15} {:<15}",
                    "Origin", "Neighbor", "Interface"
                )),
                ShowLine::Row(format!(
                    "{:<15} {:<15} {:<15}",
                    "198.51.100/24", "192.0.2.2", "a1"
                )),
            ]
        );
        // show status: four requests, one EOF at the end.
        let mut p = MroutedProtocol::default();
        let mut asked = 0;
        let (out, closed, _) = drive(&mut p, &encode_msg(cmd::SHOW_STATUS, true, ""), &mut |r| {
            asked += 1;
            assert!(matches!(r, Request::Show { detail: true, .. }));
            Response::Neighbors(vec![])
        });
        assert!(closed);
        assert_eq!(asked, 4);
        let eofs = out.chunks(MSG_LEN).filter(|m| m[0] == cmd::EOF).count();
        assert_eq!((eofs, out.len() / MSG_LEN), (1, 1));
        // show igmp: the interface table as IGMP's, then the groups.
        let mut p = MroutedProtocol::default();
        let (out, closed, _) =
            drive(
                &mut p,
                &encode_msg(cmd::SHOW_IGMP, false, ""),
                &mut |r| match r {
                    Request::Show {
                        what: ShowWhat::Interfaces,
                        ..
                    } => Response::DvmrpInterfaces(vec![DvmrpVifRow {
                        vif: 0,
                        name: "a1".into(),
                        local: "192.0.2.1".parse().unwrap(),
                        subnet: "192.0.2.0/24".parse().unwrap(),
                        metric: 1,
                        threshold: 1,
                        rate_limit: 0,
                        flags: vec!["querier".into()],
                        neighbors: vec![],
                        groups: vec!["225.1.1.1".parse().unwrap()],
                        boundaries: vec![],
                        querier: Some("192.0.2.1".parse().unwrap()),
                        counters: None,
                    }]),
                    _ => Response::Groups(vec![GroupRow {
                        source: None,
                        group: "225.1.1.1/32".parse().unwrap(),
                        iif: "a1".into(),
                    }]),
                },
            );
        assert!(closed);
        let r = decode_reply(&out);
        assert!(r
            .lines
            .contains(&ShowLine::Title("IGMP Interface Table".into())));
        assert!(r
            .lines
            .contains(&ShowLine::Title("IGMP Group Table".into())));
        assert!(r.lines.contains(&ShowLine::Row(format!(
            "{:<16}  {:<15}  {:>7}  {:>6}  {:>6}",
            "a1", "Local", "-", 1, "Never"
        ))));
        // A refused setting: ERR with the reason.
        let mut p = MroutedProtocol::default();
        let (out, closed, _) = drive(&mut p, &encode_msg(cmd::DEBUG, false, "all"), &mut |_| {
            Response::Ok
        });
        let r = decode_reply(&out);
        assert!(closed && r.failed && r.last.starts_with("debug:"));
        // Less than a message: wait.
        let mut p = MroutedProtocol::default();
        let (out, closed, _) = drive(
            &mut p,
            &encode_msg(cmd::SHOW_IFACE, false, "")[..100],
            &mut |_| Response::Ok,
        );
        assert!(!closed && out.is_empty());
    }

    /// What mrouted 4.6 sent for `mroutectl -d show routes` and `show interfaces` in the lab
    /// (two local subnets): each line in its own message with the request's detail byte,
    /// then EOF repeating the last line's text.
    fn captured(detail: bool, lines: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for l in lines {
            out.extend_from_slice(&encode_msg(cmd::OK, detail, l));
        }
        out.extend_from_slice(&encode_msg(cmd::EOF, detail, lines.last().unwrap_or(&"")));
        out
    }

    const ROUTES: &[&str] = &[
        "DVMRP Routing Table_\n",
        "Origin          Neighbor        Interface        Cost   Expire=\n",
        "198.51.100/24   Local           b2                  1    Never\n",
        "192.0.2/24      Local           b1                  1    Never\n",
    ];
    const IFACES: &[&str] = &[
        "Interface Table_\n",
        "Address         Interface       State Cost TTL    Uptime Flags=\n",
        "198.51.100.1    b2                 Up    1   1   0:00:00 Q\n",
        "192.0.2.1       b1                 Up    1   1   0:00:00 Q\n",
    ];

    #[test]
    fn reads_and_writes_what_mrouted_does() {
        let r = decode_reply(&captured(true, ROUTES));
        assert!(!r.failed);
        assert_eq!(r.lines.len(), 4);
        assert_eq!(r.lines[0], ShowLine::Title("DVMRP Routing Table".into()));
        assert!(matches!(&r.lines[1], ShowLine::Heading(h) if h.starts_with("Origin")));
        assert_eq!(reply_to_response(&Request::Kill, &r), Some(Response::Ok));
        let v = decode_reply(&captured(false, &["mrouted version 4.6 \n"]));
        assert_eq!(
            reply_to_response(&Request::Version, &v),
            Some(Response::Version("mrouted version 4.6".into()))
        );
        // This side's rendering of the same tables is mrouted's, byte for byte.
        let route = |origin: &str, ifname: &str, parent| DvmrpRouteRow {
            origin: origin.parse().unwrap(),
            gateway: None,
            metric: 1,
            parent,
            interface: ifname.into(),
            children: vec![],
            dependents: vec![],
            expires: None,
        };
        let text = show_text(
            &Response::DvmrpRoutes(vec![
                route("198.51.100.0/24", "b2", 0),
                route("192.0.2.0/24", "b1", 1),
            ]),
            true,
        );
        assert_eq!(text, ROUTES.concat());
        let vif = |vif, name: &str, local: &str, subnet: &str| DvmrpVifRow {
            vif,
            name: name.into(),
            local: local.parse().unwrap(),
            subnet: subnet.parse().unwrap(),
            metric: 1,
            threshold: 1,
            rate_limit: 0,
            flags: vec!["querier".into()],
            neighbors: vec![],
            groups: vec![],
            boundaries: vec![],
            querier: None,
            counters: None,
        };
        let text = show_text(
            &Response::DvmrpInterfaces(vec![
                vif(0, "b2", "198.51.100.1", "198.51.100.0/24"),
                vif(1, "b1", "192.0.2.1", "192.0.2.0/24"),
            ]),
            false,
        );
        assert_eq!(text, IFACES.concat());
        // A neighbour as mrouted 4.6 listed dvmrp-router (generation id, two-way, pruning).
        let text = show_text(
            &Response::Neighbors(vec![NeighborRow {
                addr: "203.0.113.2".parse().unwrap(),
                vif: 2,
                interface: "x1".into(),
                version: (3, 255),
                generation_id: 7,
                flags: vec!["prune".into(), "genid".into(), "two-way".into()],
                uptime: 28,
                expires: 20,
            }]),
            false,
        );
        assert_eq!(
            text,
            "Neighbor Table_\n\
             Neighbor        Interface       Version Flags    Uptime Expire=\n\
             203.0.113.2     x1              3.255   G       0:00:28    20s\n"
        );
    }

    #[test]
    fn mrouted_formats() {
        assert_eq!(fmt_subnet(&"10.1.0.0/16".parse().unwrap()), "10.1/16");
        assert_eq!(fmt_subnet(&"192.0.2.0/24".parse().unwrap()), "192.0.2/24");
        assert_eq!(fmt_subnet(&"192.0.2.1/32".parse().unwrap()), "192.0.2.1/32");
        assert_eq!(fmt_subnet(&"0.0.0.0/0".parse().unwrap()), "default");
        assert_eq!(scaletime(3725), " 1:02:05");
    }

    #[test]
    fn client_side() {
        let m = msg_for(&Request::Show {
            what: ShowWhat::Mfc,
            detail: true,
        })
        .unwrap();
        assert_eq!((m[0], m[1]), (cmd::SHOW_MFC, 1));
        assert!(msg_for(&Request::Flush).is_err());
        let mut reply = encode_msg(cmd::OK, false, "mrouted version 4.6 \n").to_vec();
        reply.extend_from_slice(&encode_msg(cmd::EOF, false, ""));
        let r = decode_reply(&reply);
        assert_eq!(
            reply_to_response(&Request::Version, &r),
            Some(Response::Version("mrouted version 4.6".into()))
        );
        assert_eq!(
            reply_to_response(&Request::Kill, &decode_reply(&[])),
            Some(Response::Ok)
        );
    }
}
