//! How `show` replies are printed: smcroutectl's column layout, and a stable JSON schema.
//!
//! # JSON schema (version 1)
//!
//! One object per reply, on one line:
//!
//! ```text
//! {"routes":{"asm":[ROUTE...],"ssm":[ROUTE...],"kernel":[ROUTE...]}}
//!   ROUTE = {"source":STRING|null,"group":STRING,"iif":STRING,"oifs":[STRING...]}
//!           plus "packets":N,"bytes":N on kernel routes when -d is given
//! {"groups":[{"source":STRING|null,"group":STRING,"iif":STRING}...]}
//! {"interfaces":[{"index":N,"name":STRING,"vif":N|null,"mif":N|null}...]}
//! ```
//!
//! `source` and `group` are addresses, with a `/len` suffix when they are prefixes shorter
//! than a host address (as smcroutectl 2.6 prints them). `asm` lists the (*,G) and prefix
//! templates, `ssm` the (S,G) rules, `kernel` what is installed in the kernel, active routes
//! first, then stop filters (empty `oifs`). Fields are only ever added, never renamed.

use std::fmt::Write;

use super::{fmt_net, fmt_sg, GroupRow, InterfaceRow, Response, RouteRow, RouteTables};

/// How to print human output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// Omit section titles and table headings (`-t`).
    pub no_headings: bool,
    /// Show counters (`-d`).
    pub detail: bool,
}

const WIDTH: usize = 79;

fn title(out: &mut String, style: Style, t: &str) {
    if !style.no_headings {
        out.push_str(&"_".repeat(WIDTH));
        out.push('\n');
        out.push_str(t);
        out.push('\n');
    }
}

fn heading(out: &mut String, style: Style, h: &str) {
    if !style.no_headings {
        let rule = "=".repeat(WIDTH);
        let _ = writeln!(out, "{rule}\n{h}\n{rule}");
    }
}

fn route_section(out: &mut String, style: Style, name: &str, rows: &[RouteRow], counters: bool) {
    if rows.is_empty() {
        return;
    }
    title(out, style, name);
    if counters {
        heading(
            out,
            style,
            &format!(
                "{:<42} {:<3} {:>10} {:>10}  OIFS",
                "ROUTE (S,G)", "IIF", "PACKETS", "BYTES"
            ),
        );
    } else {
        heading(
            out,
            style,
            &format!("{:<42} {:<4} OIFS", "ROUTE (S,G)", "IIF"),
        );
    }
    for r in rows {
        let sg = fmt_sg(&r.source, &r.group);
        let oifs = r.oifs.join(" ");
        let line = if counters {
            format!(
                "{sg:<42} {:<3} {:>10} {:>10}  {oifs}",
                r.iif,
                r.packets.unwrap_or(0),
                r.bytes.unwrap_or(0)
            )
        } else {
            format!("{sg:<42} {:<4} {oifs}", r.iif)
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// The human rendering of `show routes`.
pub fn routes(t: &RouteTables, style: Style) -> String {
    let mut out = String::new();
    route_section(&mut out, style, "(*,G) Template Rules", &t.templates, false);
    route_section(&mut out, style, "(S,G) Rules", &t.rules, false);
    route_section(&mut out, style, "Kernel MFC Table", &t.kernel, style.detail);
    out
}

/// The human rendering of `show groups`.
pub fn groups(g: &[GroupRow], style: Style) -> String {
    let mut out = String::new();
    if g.is_empty() {
        return out;
    }
    title(&mut out, style, "Group Memberships Table");
    heading(&mut out, style, &format!("{:<42} IIF", "GROUP (S,G)"));
    for r in g {
        let _ = writeln!(out, "{:<42} {}", fmt_sg(&r.source, &r.group), r.iif);
    }
    out
}

/// The human rendering of `show interfaces`.
pub fn interfaces(i: &[InterfaceRow], style: Style) -> String {
    let mut out = String::new();
    heading(
        &mut out,
        style,
        &format!("{:>6} {:<7} {:>3}  {:>3}", "INDEX", "PHYINT", "VIF", "MIF"),
    );
    let na = |v: Option<u16>| v.map_or("N/A".to_string(), |v| v.to_string());
    for r in i {
        let _ = writeln!(
            out,
            "{:>6} {:<7} {:>3}  {:>3}",
            r.index,
            r.name,
            na(r.vif),
            na(r.mif)
        );
    }
    out
}

/// The human rendering of any reply (empty for `Ok`).
pub fn human(r: &Response, style: Style) -> String {
    match r {
        Response::Ok => String::new(),
        Response::Error(e) => format!("{e}\n"),
        Response::Version(v) => format!("{v}\n"),
        Response::Routes(t) => routes(t, style),
        Response::Groups(g) => groups(g, style),
        Response::Interfaces(i) => interfaces(i, style),
    }
}

/// Escapes `s` as a JSON string, quotes included.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt_net(n: &Option<ipnet::IpNet>) -> String {
    n.as_ref().map_or("null".into(), |n| json_str(&fmt_net(n)))
}

fn json_route(r: &RouteRow, counters: bool) -> String {
    let oifs: Vec<String> = r.oifs.iter().map(|o| json_str(o)).collect();
    let mut s = format!(
        "{{\"source\":{},\"group\":{},\"iif\":{},\"oifs\":[{}]",
        json_opt_net(&r.source),
        json_str(&fmt_net(&r.group)),
        json_str(&r.iif),
        oifs.join(",")
    );
    if counters {
        let _ = write!(
            s,
            ",\"packets\":{},\"bytes\":{}",
            r.packets.unwrap_or(0),
            r.bytes.unwrap_or(0)
        );
    }
    s.push('}');
    s
}

/// The JSON rendering of a `show` reply (see the module docs for the schema); `None` for
/// replies that are not `show` output.
pub fn json(r: &Response, detail: bool) -> Option<String> {
    let list = |v: Vec<String>| format!("[{}]", v.join(","));
    Some(match r {
        Response::Routes(t) => format!(
            "{{\"routes\":{{\"asm\":{},\"ssm\":{},\"kernel\":{}}}}}",
            list(t.templates.iter().map(|r| json_route(r, false)).collect()),
            list(t.rules.iter().map(|r| json_route(r, false)).collect()),
            list(t.kernel.iter().map(|r| json_route(r, detail)).collect()),
        ),
        Response::Groups(g) => format!(
            "{{\"groups\":{}}}",
            list(
                g.iter()
                    .map(|g| format!(
                        "{{\"source\":{},\"group\":{},\"iif\":{}}}",
                        json_opt_net(&g.source),
                        json_str(&fmt_net(&g.group)),
                        json_str(&g.iif)
                    ))
                    .collect()
            )
        ),
        Response::Interfaces(i) => format!(
            "{{\"interfaces\":{}}}",
            list(
                i.iter()
                    .map(|i| format!(
                        "{{\"index\":{},\"name\":{},\"vif\":{},\"mif\":{}}}",
                        i.index,
                        json_str(&i.name),
                        i.vif.map_or("null".into(), |v| v.to_string()),
                        i.mif.map_or("null".into(), |v| v.to_string())
                    ))
                    .collect()
            )
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> ipnet::IpNet {
        s.parse::<ipnet::IpNet>()
            .unwrap_or_else(|_| ipnet::IpNet::from(s.parse::<std::net::IpAddr>().unwrap()))
    }

    fn tables() -> RouteTables {
        RouteTables {
            templates: vec![RouteRow {
                source: None,
                group: net("225.1.2.0/24"),
                iif: "a1".into(),
                oifs: vec!["a2".into()],
                packets: None,
                bytes: None,
            }],
            rules: vec![],
            kernel: vec![
                RouteRow {
                    source: Some(net("192.0.2.10")),
                    group: net("225.3.2.1"),
                    iif: "a1".into(),
                    oifs: vec!["a2".into()],
                    packets: Some(3),
                    bytes: Some(180),
                },
                RouteRow {
                    source: Some(net("192.0.2.10")),
                    group: net("225.9.9.9"),
                    iif: "a1".into(),
                    oifs: vec![],
                    packets: Some(3),
                    bytes: Some(180),
                },
            ],
        }
    }

    #[test]
    fn columns_line_up_like_smcroutectl() {
        let s = routes(&tables(), Style::default());
        assert!(s.contains("\n(*,G) Template Rules\n"));
        assert!(!s.contains("(S,G) Rules"), "empty sections are not printed");
        assert!(s.contains("ROUTE (S,G)                                IIF  OIFS\n"));
        assert!(s.contains("\n(*, 225.1.2.0/24)                          a1   a2\n"));
        assert!(s.contains("\n(192.0.2.10, 225.9.9.9)                    a1\n"));
        let d = routes(
            &tables(),
            Style {
                detail: true,
                no_headings: false,
            },
        );
        assert!(d.contains(
            "ROUTE (S,G)                                IIF    PACKETS      BYTES  OIFS\n"
        ));
        assert!(d.contains(
            "\n(192.0.2.10, 225.3.2.1)                    a1           3        180  a2\n"
        ));
        let t = routes(
            &tables(),
            Style {
                detail: false,
                no_headings: true,
            },
        );
        assert!(!t.contains("===") && !t.contains("Template"));
        let i = interfaces(
            &[
                InterfaceRow {
                    index: 1,
                    name: "lo".into(),
                    vif: None,
                    mif: None,
                },
                InterfaceRow {
                    index: 2,
                    name: "a1".into(),
                    vif: Some(0),
                    mif: Some(0),
                },
            ],
            Style::default(),
        );
        assert!(i.contains(" INDEX PHYINT  VIF  MIF\n"));
        assert!(i.contains("     1 lo      N/A  N/A\n"));
        assert!(i.contains("     2 a1        0    0\n"));
    }

    #[test]
    fn json_schema() {
        assert_eq!(
            json(&Response::Routes(tables()), false).unwrap(),
            "{\"routes\":{\"asm\":[{\"source\":null,\"group\":\"225.1.2.0/24\",\"iif\":\"a1\",\"oifs\":[\"a2\"]}],\"ssm\":[],\"kernel\":[{\"source\":\"192.0.2.10\",\"group\":\"225.3.2.1\",\"iif\":\"a1\",\"oifs\":[\"a2\"]},{\"source\":\"192.0.2.10\",\"group\":\"225.9.9.9\",\"iif\":\"a1\",\"oifs\":[]}]}}"
        );
        assert!(json(&Response::Routes(tables()), true)
            .unwrap()
            .contains("\"packets\":3,\"bytes\":180"));
        assert_eq!(
            json(
                &Response::Interfaces(vec![InterfaceRow {
                    index: 2,
                    name: "a\"1".into(),
                    vif: Some(0),
                    mif: None
                }]),
                false
            )
            .unwrap(),
            "{\"interfaces\":[{\"index\":2,\"name\":\"a\\\"1\",\"vif\":0,\"mif\":null}]}"
        );
        assert_eq!(json(&Response::Ok, false), None);
    }
}
