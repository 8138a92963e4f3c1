//! How `show` replies are printed: smcroutectl's column layout, and a stable JSON schema.
//!
//! # JSON schema (version 1)
//!
//! One object per reply, on one line: the serde_json of the [`Response`] (the same JSON that
//! travels on the control socket), whose single key names the kind:
//!
//! ```text
//! {"routes":{"asm":[ROUTE...],"ssm":[ROUTE...],"kernel":[ROUTE...]}}
//!   ROUTE = {"source":STRING|null,"group":STRING,"iif":STRING,"oifs":[STRING...]}
//!           plus "packets":N,"bytes":N on kernel routes when -d is given
//! {"groups":[{"source":STRING|null,"group":STRING,"iif":STRING}...]}
//! {"interfaces":[{"index":N,"name":STRING,"vif":N|null,"mif":N|null}...]}
//! ```
//!
//!
//! dvmrp-router answers `show interfaces` and `show routes` with its DVMRP tables, and adds
//! `show neighbors`, `show mfc` and `show compat`:
//!
//! ```text
//! {"vifs":[{"vif":N,"name":STRING,"address":STRING,"subnet":STRING,"metric":N,
//!           "threshold":N,"rate_limit":N,"flags":[STRING...],"neighbors":[STRING...],
//!           "groups":[STRING...],"boundaries":[STRING...],"querier":STRING|null}...]}
//!   plus "pkts_in":N,"pkts_out":N,"bytes_in":N,"bytes_out":N when -d is given
//! {"neighbors":[{"address":STRING,"vif":N,"interface":STRING,"version":"3.255",
//!                "generation_id":N,"flags":[STRING...],"uptime":N,"expires":N}...]}
//! {"dvmrp_routes":[{"origin":STRING,"gateway":STRING|null,"metric":N,"parent":N,
//!                   "interface":STRING,"children":[{"vif":N,"leaf":BOOL}...],
//!                   "dependents":[{"vif":N,"router":STRING}...],"expires":N|null}...]}
//! {"mfc":[{"source":STRING,"group":STRING,"origin":STRING|null,"iif":STRING,
//!          "oifs":[STRING...],"expires":N,"uptime":N,"upstream_prune":N|null,
//!          "grafting":BOOL,"pruned_by":[{"interface":STRING,"router":STRING}...]}...]}
//!   plus "packets":N,"bytes":N when -d is given
//! {"compat":STRING}
//! ```
//!
//! Counters (`packets`, `bytes`, `pkts_in`...) are present with `-d` when the kernel reported
//! them. Times are in seconds; `metric` 32 means unreachable (a route in hold-down); a child VIF
//! is a `leaf` when no downstream router depends on us there.
//!
//! `source` and `group` are addresses, with a `/len` suffix when they are prefixes shorter
//! than a host address (as smcroutectl 2.6 prints them). `asm` lists the (*,G) and prefix
//! templates, `ssm` the (S,G) rules, `kernel` what is installed in the kernel, active routes
//! first, then stop filters (empty `oifs`). Fields are only ever added, never renamed.

use std::fmt::Write;

use super::{
    fmt_sg, DvmrpRouteRow, DvmrpStatus, DvmrpVifRow, GroupRow, IgmpTables, InterfaceRow, MfcRow,
    NeighborRow, Response, RouteRow, RouteTables,
};

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
        if !r.no_vif.is_empty() {
            let _ = write!(out, "  (no VIF: {})", r.no_vif.join(" "));
        }
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

/// Seconds as mrouted prints them: `45s`, `3m`, `2h`, `1d`... (`scaletime`-like, coarsest
/// unit that keeps a whole number, minutes and seconds below an hour).
pub fn fmt_secs(secs: u64) -> String {
    if secs < 60 {
        format!("{secs}s")
    } else if secs < 3600 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else if secs < 86400 {
        format!("{}h{}m", secs / 3600, (secs % 3600) / 60)
    } else {
        format!("{}d{}h", secs / 86400, (secs % 86400) / 3600)
    }
}

fn join_addrs<T: std::fmt::Display>(v: &[T]) -> String {
    v.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The human rendering of dvmrp-router's `show interfaces`.
pub fn dvmrp_interfaces(rows: &[DvmrpVifRow], style: Style) -> String {
    let mut out = String::new();
    title(&mut out, style, "DVMRP Interface Table");
    heading(
        &mut out,
        style,
        &format!(
            "{:>3}  {:<10} {:<15} {:<18} {:>6} {:>6} {:>5}  FLAGS",
            "VIF", "PHYINT", "ADDRESS", "SUBNET", "METRIC", "THRESH", "RATE"
        ),
    );
    for r in rows {
        let line = format!(
            "{:>3}  {:<10} {:<15} {:<18} {:>6} {:>6} {:>5}  {}",
            r.vif,
            r.name,
            r.local.to_string(),
            r.subnet.to_string(),
            r.metric,
            r.threshold,
            r.rate_limit,
            r.flags.join(" ")
        );
        let _ = writeln!(out, "{}", line.trim_end());
        let pad = " ".repeat(5);
        if !r.neighbors.is_empty() {
            let _ = writeln!(out, "{pad}peers: {}", join_addrs(&r.neighbors));
        }
        if !r.groups.is_empty() {
            let _ = writeln!(out, "{pad}groups: {}", join_addrs(&r.groups));
        }
        if !r.boundaries.is_empty() {
            let _ = writeln!(out, "{pad}boundaries: {}", join_addrs(&r.boundaries));
        }
        if let Some(q) = r.querier {
            let _ = writeln!(out, "{pad}IGMP querier: {q}");
        }
        if let (true, Some(c)) = (style.detail, r.counters) {
            let _ = writeln!(out, "{pad}pkts/bytes in: {}/{}", c[0], c[2]);
            let _ = writeln!(out, "{pad}pkts/bytes out: {}/{}", c[1], c[3]);
        }
    }
    out
}

/// The human rendering of `show neighbors`.
pub fn neighbors(rows: &[NeighborRow], style: Style) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    title(&mut out, style, "DVMRP Neighbor Table");
    heading(
        &mut out,
        style,
        &format!(
            "{:<15} {:<10} {:<7} {:>8} {:>6}  FLAGS",
            "NEIGHBOR", "INTERFACE", "VERSION", "UPTIME", "EXPIRE"
        ),
    );
    for r in rows {
        let line = format!(
            "{:<15} {:<10} {:<7} {:>8} {:>6}  {}",
            r.addr.to_string(),
            r.interface,
            format!("{}.{}", r.version.0, r.version.1),
            fmt_secs(r.uptime),
            fmt_secs(r.expires),
            r.flags.join(" ")
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// The human rendering of dvmrp-router's `show routes`: `*` marks a leaf child VIF.
pub fn dvmrp_routes(rows: &[DvmrpRouteRow], style: Style) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    title(&mut out, style, "DVMRP Routing Table");
    heading(
        &mut out,
        style,
        &format!(
            "{:<18} {:<15} {:<10} {:>4} {:>6}  CHILDREN",
            "ORIGIN", "NEIGHBOR", "INTERFACE", "COST", "EXPIRE"
        ),
    );
    for r in rows {
        let cost = if r.metric >= 32 {
            "NR".to_string()
        } else {
            r.metric.to_string()
        };
        let children: Vec<String> = r
            .children
            .iter()
            .map(|(v, deps)| format!("{v}{}", if *deps { "" } else { "*" }))
            .collect();
        let line = format!(
            "{:<18} {:<15} {:<10} {:>4} {:>6}  {}",
            r.origin.to_string(),
            r.gateway.map_or("Local".to_string(), |g| g.to_string()),
            r.interface,
            cost,
            r.expires.map_or("Never".to_string(), fmt_secs),
            children.join(" ")
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// The human rendering of `show mfc`: `P` marks a flow pruned upstream, `G` a graft waiting
/// for its acknowledgement, `!` one with no route (a negative entry).
pub fn mfc(rows: &[MfcRow], style: Style) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    title(&mut out, style, "Multicast Forwarding Cache Table");
    let counters = if style.detail {
        format!(" {:>10} {:>10}", "PACKETS", "BYTES")
    } else {
        String::new()
    };
    heading(
        &mut out,
        style,
        &format!(
            "{:<15} {:<15} {:<10} {:<2} {:>7} {:>7}{counters}  OUTBOUND",
            "SOURCE", "GROUP", "INBOUND", "<>", "EXPIRE", "PRUNE"
        ),
    );
    for r in rows {
        let flags = format!(
            "{}{}",
            if r.origin.is_none() { "!" } else { "" },
            if r.upstream_prune.is_some() {
                "P"
            } else if r.grafting {
                "G"
            } else {
                ""
            }
        );
        let counters = match (style.detail, r.counters) {
            (true, Some((p, b))) => format!(" {p:>10} {b:>10}"),
            (true, None) => format!(" {:>10} {:>10}", "-", "-"),
            _ => String::new(),
        };
        let mut oifs = r.oifs.join(" ");
        for (i, a) in &r.pruned_by {
            let _ = write!(oifs, " {i}:pruned-by-{a}");
        }
        let line = format!(
            "{:<15} {:<15} {:<10} {:<2} {:>7} {:>7}{counters}  {}",
            r.source.to_string(),
            r.group.to_string(),
            r.iif,
            flags,
            fmt_secs(r.expires),
            r.upstream_prune.map_or("-".to_string(), fmt_secs),
            oifs.trim()
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

fn version_text(v: u8) -> String {
    format!("v{v}")
}

/// The human rendering of `show igmp` (either table may be empty: `show igmp groups` and
/// `show igmp interfaces` fill one).
pub fn igmp(t: &IgmpTables, style: Style) -> String {
    let mut out = String::new();
    if !t.interfaces.is_empty() {
        title(&mut out, style, "IGMP Interface Table");
        heading(
            &mut out,
            style,
            &format!(
                "{:<16} {:<15} {:>7} {:>6} {:>8} {:>10}",
                "INTERFACE", "QUERIER", "VERSION", "GROUPS", "EXPIRE", "NEXT QUERY"
            ),
        );
        for r in &t.interfaces {
            let querier = if r.local {
                format!("{} (us)", r.querier)
            } else {
                r.querier.to_string()
            };
            let _ = writeln!(
                out,
                "{:<16} {:<15} {:>7} {:>6} {:>8} {:>10}",
                r.interface,
                querier,
                version_text(r.version),
                r.groups,
                r.querier_expires.map_or("Never".to_string(), fmt_secs),
                r.next_query.map_or("-".to_string(), fmt_secs),
            );
        }
    }
    if !t.groups.is_empty() {
        title(&mut out, style, "IGMP Group Table");
        heading(
            &mut out,
            style,
            &format!(
                "{:<16} {:<15} {:<15} {:>6} {:>7}  FLAGS",
                "INTERFACE", "GROUP", "LAST REPORTER", "EXPIRE", "VERSION"
            ),
        );
        for r in &t.groups {
            let line = format!(
                "{:<16} {:<15} {:<15} {:>6} {:>7}  {}",
                r.interface,
                r.group.to_string(),
                r.reporter.to_string(),
                fmt_secs(r.expires),
                version_text(r.version),
                if r.leaving { "leaving" } else { "" }
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    out
}

/// The human rendering of dvmrp-router's `show status`.
pub fn status(s: &DvmrpStatus, style: Style) -> String {
    let mut out = String::new();
    title(&mut out, style, "Status");
    let _ = writeln!(out, "{}", s.version);
    for (k, v) in [
        ("Uptime", fmt_secs(s.uptime)),
        ("Interfaces", s.vifs.to_string()),
        ("Neighbors", s.neighbors.to_string()),
        ("Routes", s.routes.to_string()),
        ("Cache entries", s.mfc.to_string()),
        ("IGMP groups", s.groups.to_string()),
        ("DVMRP messages in", s.received.to_string()),
        ("  dropped", s.dropped.to_string()),
        ("Routes over a cap", s.route_limit.to_string()),
    ] {
        let _ = writeln!(out, "{k:<20} {v}");
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
        Response::DvmrpInterfaces(r) => dvmrp_interfaces(r, style),
        Response::Neighbors(r) => neighbors(r, style),
        Response::DvmrpRoutes(r) => dvmrp_routes(r, style),
        Response::Mfc(r) => mfc(r, style),
        Response::Compat(t) => t.clone(),
        Response::Igmp(t) => igmp(t, style),
        Response::Status(s) => status(s, style),
        Response::Text(t) => format!("{t}\n"),
    }
}

/// The JSON rendering of a `show` reply: the serde_json of the [`Response`] (see the module
/// docs for the schema); `None` for replies that are not `show` output.
pub fn json(r: &Response) -> Option<String> {
    match r {
        Response::Ok | Response::Error(_) | Response::Version(_) | Response::Text(_) => None,
        r => serde_json::to_string(r).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> ipnet::IpNet {
        s.parse::<ipnet::IpNet>()
            .unwrap_or_else(|_| ipnet::IpNet::from(s.parse::<std::net::IpAddr>().unwrap()))
    }

    /// The tables of a `show`, with the kernel routes' counters when `detail`.
    fn tables_with(detail: bool) -> RouteTables {
        let c = |n: u64| detail.then_some(n);
        RouteTables {
            templates: vec![RouteRow {
                source: None,
                group: net("225.1.2.0/24"),
                iif: "a1".into(),
                oifs: vec!["a2".into()],
                packets: None,
                bytes: None,
                no_vif: vec![],
            }],
            rules: vec![],
            kernel: vec![
                RouteRow {
                    source: Some(net("192.0.2.10")),
                    group: net("225.3.2.1"),
                    iif: "a1".into(),
                    oifs: vec!["a2".into()],
                    packets: c(3),
                    bytes: c(180),
                    no_vif: vec![],
                },
                RouteRow {
                    source: Some(net("192.0.2.10")),
                    group: net("225.9.9.9"),
                    iif: "a1".into(),
                    oifs: vec![],
                    packets: c(3),
                    bytes: c(180),
                    no_vif: vec![],
                },
            ],
        }
    }

    fn tables() -> RouteTables {
        tables_with(true)
    }

    #[test]
    fn rules_whose_interfaces_have_no_vif_are_marked() {
        let mut t = tables();
        t.templates[0].no_vif = vec!["a2".into()];
        let s = routes(&t, Style::default());
        assert!(
            s.contains("\n(*, 225.1.2.0/24)                          a1   a2  (no VIF: a2)\n"),
            "{s}"
        );
        let j = json(&Response::Routes(t)).unwrap();
        assert!(j.contains("\"oifs\":[\"a2\"],\"no_vif\":[\"a2\"]"), "{j}");
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
            json(&Response::Routes(tables_with(false))).unwrap(),
            "{\"routes\":{\"asm\":[{\"source\":null,\"group\":\"225.1.2.0/24\",\"iif\":\"a1\",\"oifs\":[\"a2\"]}],\"ssm\":[],\"kernel\":[{\"source\":\"192.0.2.10\",\"group\":\"225.3.2.1\",\"iif\":\"a1\",\"oifs\":[\"a2\"]},{\"source\":\"192.0.2.10\",\"group\":\"225.9.9.9\",\"iif\":\"a1\",\"oifs\":[]}]}}"
        );
        assert!(json(&Response::Routes(tables_with(true)))
            .unwrap()
            .contains("\"oifs\":[\"a2\"],\"packets\":3,\"bytes\":180}"));
        assert_eq!(
            json(&Response::Interfaces(vec![InterfaceRow {
                index: 2,
                name: "a\"1".into(),
                vif: Some(0),
                mif: None
            }]))
            .unwrap(),
            "{\"interfaces\":[{\"index\":2,\"name\":\"a\\\"1\",\"vif\":0,\"mif\":null}]}"
        );
        assert_eq!(
            json(&Response::Groups(vec![GroupRow {
                source: Some(net("2001:db8::/32")),
                group: net("ff0e::1"),
                iif: "a1".into(),
            }]))
            .unwrap(),
            "{\"groups\":[{\"source\":\"2001:db8::/32\",\"group\":\"ff0e::1\",\"iif\":\"a1\"}]}"
        );
        assert_eq!(json(&Response::Ok), None);
        assert_eq!(json(&Response::Error("x".into())), None);
    }

    #[test]
    fn igmp_and_status_views() {
        let all = crate::ctl::wire::tests::dvmrp_responses();
        let igmp = all.iter().find(|r| matches!(r, Response::Igmp(_))).unwrap();
        let text = human(igmp, Style::default());
        assert!(text.contains("IGMP Interface Table"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("a1") && l.contains("192.0.2.1 (us)") && l.contains("v3")),
            "{text}"
        );
        assert!(
            text.lines().any(|l| l.starts_with("a1")
                && l.contains("225.1.2.3")
                && l.contains("192.0.2.77")
                && l.contains("v2")),
            "{text}"
        );
        let j = json(igmp).unwrap();
        assert!(
            j.starts_with("{\"igmp\":{\"interfaces\":[{\"interface\":\"a1\""),
            "{j}"
        );
        assert!(j.contains("\"reporter\":\"192.0.2.77\""), "{j}");
        let status = all.last().unwrap();
        assert!(human(status, Style::default()).contains("Routes"));
        assert!(json(status).unwrap().starts_with("{\"status\":"));
        assert_eq!(json(&Response::Text("none".into())), None);
    }

    #[test]
    fn dvmrp_views() {
        let all = crate::ctl::wire::tests::dvmrp_responses();
        for r in &all {
            let j = json(r).unwrap();
            assert!(j.starts_with('{') && j.ends_with('}'), "{j}");
            assert!(!human(r, Style::default()).is_empty());
        }
        assert_eq!(
            json(&all[0]).unwrap(),
            "{\"vifs\":[{\"vif\":0,\"name\":\"a1\",\"address\":\"192.0.2.1\",\"subnet\":\"192.0.2.0/24\",\
             \"metric\":1,\"threshold\":1,\"rate_limit\":0,\"flags\":[\"querier\"],\"neighbors\":[\"192.0.2.2\"],\
             \"groups\":[\"225.1.2.3\"],\"boundaries\":[\"239.255.0.0/16\"],\"querier\":\"192.0.2.1\",\
             \"pkts_in\":1,\"pkts_out\":2,\"bytes_in\":3,\"bytes_out\":4}]}"
        );
        assert_eq!(
            json(&all[1]).unwrap(),
            "{\"neighbors\":[{\"address\":\"192.0.2.2\",\"vif\":0,\"interface\":\"a1\",\"version\":\"3.255\",\
             \"generation_id\":77,\"flags\":[\"prune\",\"two-way\"],\"uptime\":12,\"expires\":30}]}"
        );
        assert_eq!(
            json(&all[2]).unwrap(),
            "{\"dvmrp_routes\":[{\"origin\":\"198.51.100.0/24\",\"gateway\":\"192.0.2.2\",\"metric\":2,\
             \"parent\":0,\"interface\":\"a1\",\"children\":[{\"vif\":1,\"leaf\":true},{\"vif\":2,\"leaf\":false}],\
             \"dependents\":[{\"vif\":2,\"router\":\"203.0.113.9\"}],\"expires\":130}]}"
        );
        assert_eq!(
            json(&all[3]).unwrap(),
            "{\"mfc\":[{\"source\":\"198.51.100.7\",\"group\":\"225.1.2.3\",\"origin\":\"198.51.100.0/24\",\
             \"iif\":\"a1\",\"oifs\":[\"a2\"],\"expires\":290,\"uptime\":10,\"upstream_prune\":7000,\
             \"grafting\":false,\"pruned_by\":[{\"interface\":\"a3\",\"router\":\"203.0.113.9\"}],\
             \"packets\":5,\"bytes\":500}]}"
        );
        assert_eq!(
            json(&all[4]).unwrap(),
            "{\"compat\":\"Virtual Interface Table\\n\"}"
        );
        let routes = human(&all[2], Style::default());
        assert!(
            routes.contains("198.51.100.0/24    192.0.2.2       a1            2  2m10s  1* 2"),
            "{routes}"
        );
        let m = human(&all[3], Style::default());
        assert!(m.contains(" P "), "{m}");
        assert!(m.contains("a3:pruned-by-203.0.113.9"), "{m}");
    }
}
