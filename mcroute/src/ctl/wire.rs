//! Framing and encoding of control messages.
//!
//! A frame is `b"MCR"`, a version byte ([`VERSION`]), a big-endian `u32` body length and the
//! body. The body is one [`Value`]: `'s'` + u32 length + UTF-8, `'u'` + u64, `'n'` (none), or
//! `'l'` + u32 count + values. Requests are a list whose first string names the command;
//! responses a list whose first string names the kind. Decoding never panics: lengths and
//! counts are checked against the bytes present and nesting is bounded.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use super::{
    DvmrpRouteRow, DvmrpVifRow, GroupRow, InterfaceRow, MfcRow, NeighborRow, Request, Response,
    RouteRow, RouteTables, ShowWhat,
};

/// The frame magic.
pub const MAGIC: &[u8; 3] = b"MCR";
/// The protocol version this library speaks.
pub const VERSION: u8 = 1;
/// Bytes before the body.
pub const HEADER_LEN: usize = 8;
/// The largest request body a server accepts.
pub const MAX_REQUEST: usize = 64 * 1024;
/// The largest response body a client accepts.
pub const MAX_RESPONSE: usize = 256 << 20;
const MAX_DEPTH: usize = 8;

/// A decoded body value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string.
    Str(String),
    /// An unsigned integer.
    U64(u64),
    /// Nothing (an absent optional field).
    None,
    /// A list.
    List(Vec<Value>),
}

/// Why bytes are not a valid frame or message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The frame does not start with `MCR`.
    #[error("not an mcroute control frame (bad magic)")]
    BadMagic,
    /// A protocol version this side does not speak.
    #[error("unsupported control protocol version {0} (this side speaks {VERSION})")]
    Version(u8),
    /// The body is larger than allowed.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The body ends inside a value.
    #[error("truncated message")]
    Truncated,
    /// An unknown value tag.
    #[error("unknown value tag 0x{0:02x}")]
    BadTag(u8),
    /// A string that is not UTF-8.
    #[error("string is not UTF-8")]
    BadUtf8,
    /// Values nested too deeply.
    #[error("message nested too deeply")]
    TooDeep,
    /// Well-formed values that do not make a valid message.
    #[error("malformed message: {0}")]
    Malformed(String),
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Str(s) => {
            out.push(b's');
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::U64(n) => {
            out.push(b'u');
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::None => out.push(b'n'),
        Value::List(items) => {
            out.push(b'l');
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for i in items {
                put_value(out, i);
            }
        }
    }
}

/// Encodes `body` as a complete frame.
pub fn encode_frame(body: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&[0; 4]);
    put_value(&mut out, body);
    let len = (out.len() - HEADER_LEN) as u32;
    out[4..8].copy_from_slice(&len.to_be_bytes());
    out
}

/// Looks at the start of `buf`: `Ok(None)` when more bytes are needed, `Ok(Some(n))` when a
/// whole frame of `n` bytes is there, an error when the header is invalid or announces more
/// than `max` body bytes.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, WireError> {
    let n = buf.len().min(3);
    if buf[..n] != MAGIC[..n] {
        return Err(WireError::BadMagic);
    }
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    if buf[3] != VERSION {
        return Err(WireError::Version(buf[3]));
    }
    let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    if len > max {
        return Err(WireError::TooLarge { len, max });
    }
    Ok((buf.len() >= HEADER_LEN + len).then_some(HEADER_LEN + len))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<usize, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn value(&mut self, depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return Err(WireError::TooDeep);
        }
        let tag = self.take(1)?[0];
        match tag {
            b's' => {
                let n = self.u32()?;
                let b = self.take(n)?;
                Ok(Value::Str(
                    std::str::from_utf8(b)
                        .map_err(|_| WireError::BadUtf8)?
                        .to_string(),
                ))
            }
            b'u' => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Ok(Value::U64(u64::from_be_bytes(a)))
            }
            b'n' => Ok(Value::None),
            b'l' => {
                let n = self.u32()?;
                // Every value takes at least one byte: a count beyond the bytes left is a lie.
                if n > self.buf.len() - self.pos {
                    return Err(WireError::Truncated);
                }
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Ok(Value::List(items))
            }
            t => Err(WireError::BadTag(t)),
        }
    }
}

/// Decodes a body (the bytes after the header) into one value; trailing bytes are an error.
pub fn decode_value(body: &[u8]) -> Result<Value, WireError> {
    let mut r = Reader { buf: body, pos: 0 };
    let v = r.value(0)?;
    if r.pos != body.len() {
        return Err(WireError::Malformed(
            "trailing bytes after the message".into(),
        ));
    }
    Ok(v)
}

fn s(x: &str) -> Value {
    Value::Str(x.to_string())
}

fn opt_net(n: &Option<IpNet>) -> Value {
    n.as_ref().map_or(Value::None, |n| s(&n.to_string()))
}

fn opt_u64(n: Option<u64>) -> Value {
    n.map_or(Value::None, Value::U64)
}

fn strs(v: &[String]) -> Value {
    Value::List(v.iter().map(|x| s(x)).collect())
}

fn bad(what: &str) -> WireError {
    WireError::Malformed(what.to_string())
}

fn get_str(v: &Value, what: &str) -> Result<String, WireError> {
    match v {
        Value::Str(x) => Ok(x.clone()),
        _ => Err(bad(what)),
    }
}

fn get_u64(v: &Value, what: &str) -> Result<u64, WireError> {
    match v {
        Value::U64(x) => Ok(*x),
        _ => Err(bad(what)),
    }
}

fn get_opt_u64(v: &Value, what: &str) -> Result<Option<u64>, WireError> {
    match v {
        Value::None => Ok(None),
        v => get_u64(v, what).map(Some),
    }
}

fn get_list<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], WireError> {
    match v {
        Value::List(x) => Ok(x),
        _ => Err(bad(what)),
    }
}

fn get_strs(v: &Value, what: &str) -> Result<Vec<String>, WireError> {
    get_list(v, what)?
        .iter()
        .map(|x| get_str(x, what))
        .collect()
}

fn parse_net(x: &str, what: &str) -> Result<IpNet, WireError> {
    x.parse::<IpNet>()
        .or_else(|_| x.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| WireError::Malformed(format!("{what} {x:?} is not an address or prefix")))
}

fn get_net(v: &Value, what: &str) -> Result<IpNet, WireError> {
    parse_net(&get_str(v, what)?, what)
}

fn get_opt_net(v: &Value, what: &str) -> Result<Option<IpNet>, WireError> {
    match v {
        Value::None => Ok(None),
        v => get_net(v, what).map(Some),
    }
}

fn field<'a>(items: &'a [Value], i: usize, what: &str) -> Result<&'a Value, WireError> {
    items
        .get(i)
        .ok_or_else(|| WireError::Malformed(format!("missing {what}")))
}

/// Checks an interface name: 1..=15 bytes, no NUL, '/' or whitespace.
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && !name
            .bytes()
            .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace())
}

impl Request {
    /// The request as a body value.
    pub fn to_value(&self) -> Value {
        let l = |v: Vec<Value>| Value::List(v);
        match self {
            Request::Add {
                iif,
                source,
                group,
                oifs,
            } => l(vec![
                s("add"),
                s(iif),
                opt_net(source),
                s(&group.to_string()),
                strs(oifs),
            ]),
            Request::Remove {
                iif,
                source,
                group,
                oifs,
            } => l(vec![
                s("remove"),
                s(iif),
                opt_net(source),
                s(&group.to_string()),
                strs(oifs),
            ]),
            Request::Join { iif, source, group } => l(vec![
                s("join"),
                s(iif),
                opt_net(source),
                s(&group.to_string()),
            ]),
            Request::Leave { iif, source, group } => l(vec![
                s("leave"),
                s(iif),
                opt_net(source),
                s(&group.to_string()),
            ]),
            Request::Show { what, detail } => l(vec![
                s("show"),
                s(what.name()),
                Value::U64(u64::from(*detail)),
            ]),
            Request::Flush => l(vec![s("flush")]),
            Request::Reload => l(vec![s("reload")]),
            Request::Kill => l(vec![s("kill")]),
            Request::Version => l(vec![s("version")]),
        }
    }

    /// Decodes and validates a request: interface names, addresses, families, group is
    /// multicast, at most 32 OIFs.
    pub fn from_value(v: &Value) -> Result<Request, WireError> {
        let items = get_list(v, "request")?;
        let cmd = get_str(field(items, 0, "command")?, "command")?;
        let iface = |i: usize| -> Result<String, WireError> {
            let n = get_str(field(items, i, "interface")?, "interface")?;
            if valid_ifname(&n) {
                Ok(n)
            } else {
                Err(WireError::Malformed(format!(
                    "invalid interface name {n:?}"
                )))
            }
        };
        let sg = || -> Result<(Option<IpNet>, IpNet), WireError> {
            let source = get_opt_net(field(items, 2, "source")?, "source")?;
            let group = get_net(field(items, 3, "group")?, "group")?;
            validate_sg(&source, &group)?;
            Ok((source, group))
        };
        let oifs = || -> Result<Vec<String>, WireError> {
            let o = get_strs(
                field(items, 4, "outbound interfaces")?,
                "outbound interface",
            )?;
            if o.len() > crate::model::MAX_OIFS {
                return Err(WireError::Malformed(format!(
                    "{} outbound interfaces (at most 64)",
                    o.len()
                )));
            }
            if let Some(bad) = o.iter().find(|n| !valid_ifname(n)) {
                return Err(WireError::Malformed(format!(
                    "invalid interface name {bad:?}"
                )));
            }
            Ok(o)
        };
        let req = match cmd.as_str() {
            "add" => {
                let (source, group) = sg()?;
                Request::Add {
                    iif: iface(1)?,
                    source,
                    group,
                    oifs: oifs()?,
                }
            }
            "remove" => {
                let (source, group) = sg()?;
                Request::Remove {
                    iif: iface(1)?,
                    source,
                    group,
                    oifs: oifs()?,
                }
            }
            "join" | "leave" => {
                let (source, group) = sg()?;
                let iif = iface(1)?;
                if cmd == "join" {
                    Request::Join { iif, source, group }
                } else {
                    Request::Leave { iif, source, group }
                }
            }
            "show" => {
                let what = get_str(field(items, 1, "show kind")?, "show kind")?;
                Request::Show {
                    what: ShowWhat::from_name(&what).ok_or_else(|| {
                        WireError::Malformed(format!("unknown show kind {what:?}"))
                    })?,
                    detail: get_u64(field(items, 2, "detail flag")?, "detail flag")? != 0,
                }
            }
            "flush" => Request::Flush,
            "reload" => Request::Reload,
            "kill" => Request::Kill,
            "version" => Request::Version,
            other => return Err(WireError::Malformed(format!("unknown command {other:?}"))),
        };
        Ok(req)
    }
}

/// Checks a (S,G) pair: group multicast, source unicast, same family.
pub fn validate_sg(source: &Option<IpNet>, group: &IpNet) -> Result<(), WireError> {
    if !group.addr().is_multicast() {
        return Err(WireError::Malformed(format!(
            "{} is not a multicast group",
            super::fmt_net(group)
        )));
    }
    if let Some(s) = source {
        if s.addr().is_multicast() {
            return Err(WireError::Malformed(format!(
                "source {} is a multicast address",
                super::fmt_net(s)
            )));
        }
        if s.addr().is_ipv4() != group.addr().is_ipv4() {
            return Err(WireError::Malformed(format!(
                "source {} and group {} are of different address families",
                super::fmt_net(s),
                super::fmt_net(group)
            )));
        }
    }
    Ok(())
}

fn u(n: impl Into<u64>) -> Value {
    Value::U64(n.into())
}

fn a4(a: &Ipv4Addr) -> Value {
    s(&a.to_string())
}

fn n4(n: &Ipv4Net) -> Value {
    s(&n.to_string())
}

fn list<T>(items: &[T], f: impl Fn(&T) -> Value) -> Value {
    Value::List(items.iter().map(f).collect())
}

fn get_a4(v: &Value, what: &str) -> Result<Ipv4Addr, WireError> {
    let x = get_str(v, what)?;
    x.parse()
        .map_err(|_| WireError::Malformed(format!("{what} {x:?} is not an IPv4 address")))
}

fn get_n4(v: &Value, what: &str) -> Result<Ipv4Net, WireError> {
    let x = get_str(v, what)?;
    x.parse()
        .map_err(|_| WireError::Malformed(format!("{what} {x:?} is not an IPv4 prefix")))
}

fn get_opt<T>(
    v: &Value,
    f: impl Fn(&Value) -> Result<T, WireError>,
) -> Result<Option<T>, WireError> {
    match v {
        Value::None => Ok(None),
        v => f(v).map(Some),
    }
}

fn get_small<T: TryFrom<u64>>(v: &Value, what: &str) -> Result<T, WireError> {
    T::try_from(get_u64(v, what)?).map_err(|_| bad(what))
}

fn get_vec<T>(
    v: &Value,
    what: &str,
    f: impl Fn(&Value) -> Result<T, WireError>,
) -> Result<Vec<T>, WireError> {
    get_list(v, what)?.iter().map(f).collect()
}

/// Reads field `i` of a row.
fn fld<'a>(f: &'a [Value], i: usize, what: &str) -> Result<&'a Value, WireError> {
    field(f, i, what)
}

fn dvmrp_vif_row(r: &DvmrpVifRow) -> Value {
    Value::List(vec![
        u(r.vif),
        s(&r.name),
        a4(&r.local),
        n4(&r.subnet),
        u(r.metric),
        u(r.threshold),
        u(r.rate_limit),
        strs(&r.flags),
        list(&r.neighbors, a4),
        list(&r.groups, a4),
        list(&r.boundaries, n4),
        r.querier.as_ref().map_or(Value::None, a4),
        r.counters
            .as_ref()
            .map_or(Value::None, |c| list(c, |x| u(*x))),
    ])
}

fn get_dvmrp_vif_row(v: &Value) -> Result<DvmrpVifRow, WireError> {
    let f = get_list(v, "VIF row")?;
    Ok(DvmrpVifRow {
        vif: get_small(fld(f, 0, "vif")?, "vif")?,
        name: get_str(fld(f, 1, "name")?, "name")?,
        local: get_a4(fld(f, 2, "local")?, "local")?,
        subnet: get_n4(fld(f, 3, "subnet")?, "subnet")?,
        metric: get_small(fld(f, 4, "metric")?, "metric")?,
        threshold: get_small(fld(f, 5, "threshold")?, "threshold")?,
        rate_limit: get_small(fld(f, 6, "rate limit")?, "rate limit")?,
        flags: get_strs(fld(f, 7, "flags")?, "flags")?,
        neighbors: get_vec(fld(f, 8, "neighbors")?, "neighbors", |x| {
            get_a4(x, "neighbor")
        })?,
        groups: get_vec(fld(f, 9, "groups")?, "groups", |x| get_a4(x, "group"))?,
        boundaries: get_vec(fld(f, 10, "boundaries")?, "boundaries", |x| {
            get_n4(x, "boundary")
        })?,
        querier: get_opt(fld(f, 11, "querier")?, |x| get_a4(x, "querier"))?,
        counters: get_opt(fld(f, 12, "counters")?, |x| {
            let c = get_vec(x, "counters", |n| get_u64(n, "counter"))?;
            <[u64; 4]>::try_from(c).map_err(|_| bad("counters"))
        })?,
    })
}

fn neighbor_row(r: &NeighborRow) -> Value {
    Value::List(vec![
        a4(&r.addr),
        u(r.vif),
        s(&r.interface),
        u(r.version.0),
        u(r.version.1),
        u(r.generation_id),
        strs(&r.flags),
        u(r.uptime),
        u(r.expires),
    ])
}

fn get_neighbor_row(v: &Value) -> Result<NeighborRow, WireError> {
    let f = get_list(v, "neighbor row")?;
    Ok(NeighborRow {
        addr: get_a4(fld(f, 0, "address")?, "address")?,
        vif: get_small(fld(f, 1, "vif")?, "vif")?,
        interface: get_str(fld(f, 2, "interface")?, "interface")?,
        version: (
            get_small(fld(f, 3, "major version")?, "major version")?,
            get_small(fld(f, 4, "minor version")?, "minor version")?,
        ),
        generation_id: get_small(fld(f, 5, "generation id")?, "generation id")?,
        flags: get_strs(fld(f, 6, "flags")?, "flags")?,
        uptime: get_u64(fld(f, 7, "uptime")?, "uptime")?,
        expires: get_u64(fld(f, 8, "expires")?, "expires")?,
    })
}

fn dvmrp_route_row(r: &DvmrpRouteRow) -> Value {
    Value::List(vec![
        n4(&r.origin),
        r.gateway.as_ref().map_or(Value::None, a4),
        u(r.metric),
        u(r.parent),
        s(&r.interface),
        list(&r.children, |(v, d)| Value::List(vec![u(*v), u(*d)])),
        list(&r.dependents, |(v, a)| Value::List(vec![u(*v), a4(a)])),
        opt_u64(r.expires),
    ])
}

fn get_dvmrp_route_row(v: &Value) -> Result<DvmrpRouteRow, WireError> {
    let f = get_list(v, "route row")?;
    Ok(DvmrpRouteRow {
        origin: get_n4(fld(f, 0, "origin")?, "origin")?,
        gateway: get_opt(fld(f, 1, "gateway")?, |x| get_a4(x, "gateway"))?,
        metric: get_small(fld(f, 2, "metric")?, "metric")?,
        parent: get_small(fld(f, 3, "parent")?, "parent")?,
        interface: get_str(fld(f, 4, "interface")?, "interface")?,
        children: get_vec(fld(f, 5, "children")?, "children", |x| {
            let c = get_list(x, "child")?;
            Ok((
                get_small(fld(c, 0, "child vif")?, "child vif")?,
                get_u64(fld(c, 1, "child dependents")?, "child dependents")? != 0,
            ))
        })?,
        dependents: get_vec(fld(f, 6, "dependents")?, "dependents", |x| {
            let c = get_list(x, "dependent")?;
            Ok((
                get_small(fld(c, 0, "dependent vif")?, "dependent vif")?,
                get_a4(fld(c, 1, "dependent")?, "dependent")?,
            ))
        })?,
        expires: get_opt_u64(fld(f, 7, "expires")?, "expires")?,
    })
}

fn mfc_row(r: &MfcRow) -> Value {
    Value::List(vec![
        a4(&r.source),
        a4(&r.group),
        r.origin.as_ref().map_or(Value::None, n4),
        s(&r.iif),
        strs(&r.oifs),
        u(r.expires),
        u(r.uptime),
        opt_u64(r.upstream_prune),
        u(r.grafting),
        list(&r.pruned_by, |(i, a)| Value::List(vec![s(i), a4(a)])),
        r.counters
            .map_or(Value::None, |(p, b)| Value::List(vec![u(p), u(b)])),
    ])
}

fn get_mfc_row(v: &Value) -> Result<MfcRow, WireError> {
    let f = get_list(v, "MFC row")?;
    Ok(MfcRow {
        source: get_a4(fld(f, 0, "source")?, "source")?,
        group: get_a4(fld(f, 1, "group")?, "group")?,
        origin: get_opt(fld(f, 2, "origin")?, |x| get_n4(x, "origin"))?,
        iif: get_str(fld(f, 3, "iif")?, "iif")?,
        oifs: get_strs(fld(f, 4, "oifs")?, "oifs")?,
        expires: get_u64(fld(f, 5, "expires")?, "expires")?,
        uptime: get_u64(fld(f, 6, "uptime")?, "uptime")?,
        upstream_prune: get_opt_u64(fld(f, 7, "upstream prune")?, "upstream prune")?,
        grafting: get_u64(fld(f, 8, "grafting")?, "grafting")? != 0,
        pruned_by: get_vec(fld(f, 9, "pruned by")?, "pruned by", |x| {
            let c = get_list(x, "prune")?;
            Ok((
                get_str(fld(c, 0, "prune interface")?, "prune interface")?,
                get_a4(fld(c, 1, "prune router")?, "prune router")?,
            ))
        })?,
        counters: get_opt(fld(f, 10, "counters")?, |x| {
            let c = get_list(x, "counters")?;
            Ok((
                get_u64(fld(c, 0, "packets")?, "packets")?,
                get_u64(fld(c, 1, "bytes")?, "bytes")?,
            ))
        })?,
    })
}

fn route_row(r: &RouteRow) -> Value {
    Value::List(vec![
        opt_net(&r.source),
        s(&r.group.to_string()),
        s(&r.iif),
        strs(&r.oifs),
        opt_u64(r.packets),
        opt_u64(r.bytes),
        strs(&r.no_vif),
    ])
}

fn get_route_row(v: &Value) -> Result<RouteRow, WireError> {
    let f = get_list(v, "route row")?;
    Ok(RouteRow {
        source: get_opt_net(field(f, 0, "source")?, "source")?,
        group: get_net(field(f, 1, "group")?, "group")?,
        iif: get_str(field(f, 2, "iif")?, "iif")?,
        oifs: get_strs(field(f, 3, "oifs")?, "oifs")?,
        packets: get_opt_u64(field(f, 4, "packets")?, "packets")?,
        bytes: get_opt_u64(field(f, 5, "bytes")?, "bytes")?,
        // Added later: a peer of an earlier version leaves it out.
        no_vif: match f.get(6) {
            Some(v) => get_strs(v, "no_vif")?,
            None => Vec::new(),
        },
    })
}

impl Response {
    /// The response as a body value.
    pub fn to_value(&self) -> Value {
        let l = |v: Vec<Value>| Value::List(v);
        match self {
            Response::Ok => l(vec![s("ok")]),
            Response::Error(e) => l(vec![s("error"), s(e)]),
            Response::Version(v) => l(vec![s("version"), s(v)]),
            Response::Routes(t) => l(vec![
                s("routes"),
                Value::List(t.templates.iter().map(route_row).collect()),
                Value::List(t.rules.iter().map(route_row).collect()),
                Value::List(t.kernel.iter().map(route_row).collect()),
            ]),
            Response::Groups(g) => l(vec![
                s("groups"),
                Value::List(
                    g.iter()
                        .map(|g| l(vec![opt_net(&g.source), s(&g.group.to_string()), s(&g.iif)]))
                        .collect(),
                ),
            ]),
            Response::Interfaces(i) => l(vec![
                s("interfaces"),
                Value::List(
                    i.iter()
                        .map(|i| {
                            l(vec![
                                Value::U64(u64::from(i.index)),
                                s(&i.name),
                                opt_u64(i.vif.map(u64::from)),
                                opt_u64(i.mif.map(u64::from)),
                            ])
                        })
                        .collect(),
                ),
            ]),
            Response::DvmrpInterfaces(r) => l(vec![s("dvmrp-interfaces"), list(r, dvmrp_vif_row)]),
            Response::Neighbors(r) => l(vec![s("neighbors"), list(r, neighbor_row)]),
            Response::DvmrpRoutes(r) => l(vec![s("dvmrp-routes"), list(r, dvmrp_route_row)]),
            Response::Mfc(r) => l(vec![s("mfc"), list(r, mfc_row)]),
            Response::Compat(t) => l(vec![s("compat"), s(t)]),
        }
    }

    /// Decodes a response.
    pub fn from_value(v: &Value) -> Result<Response, WireError> {
        let items = get_list(v, "response")?;
        let kind = get_str(field(items, 0, "response kind")?, "response kind")?;
        Ok(match kind.as_str() {
            "ok" => Response::Ok,
            "error" => Response::Error(get_str(field(items, 1, "error text")?, "error text")?),
            "version" => Response::Version(get_str(field(items, 1, "version")?, "version")?),
            "routes" => {
                let table = |i: usize| -> Result<Vec<RouteRow>, WireError> {
                    get_list(field(items, i, "route table")?, "route table")?
                        .iter()
                        .map(get_route_row)
                        .collect()
                };
                Response::Routes(RouteTables {
                    templates: table(1)?,
                    rules: table(2)?,
                    kernel: table(3)?,
                })
            }
            "groups" => Response::Groups(
                get_list(field(items, 1, "groups")?, "groups")?
                    .iter()
                    .map(|g| {
                        let f = get_list(g, "group row")?;
                        Ok(GroupRow {
                            source: get_opt_net(field(f, 0, "source")?, "source")?,
                            group: get_net(field(f, 1, "group")?, "group")?,
                            iif: get_str(field(f, 2, "iif")?, "iif")?,
                        })
                    })
                    .collect::<Result<_, WireError>>()?,
            ),
            "interfaces" => Response::Interfaces(
                get_list(field(items, 1, "interfaces")?, "interfaces")?
                    .iter()
                    .map(|i| {
                        let f = get_list(i, "interface row")?;
                        let small = |v: &Value, w: &str| -> Result<Option<u16>, WireError> {
                            get_opt_u64(v, w)?
                                .map(|n| u16::try_from(n).map_err(|_| bad(w)))
                                .transpose()
                        };
                        Ok(InterfaceRow {
                            index: u32::try_from(get_u64(field(f, 0, "index")?, "index")?)
                                .map_err(|_| bad("index"))?,
                            name: get_str(field(f, 1, "name")?, "name")?,
                            vif: small(field(f, 2, "vif")?, "vif")?,
                            mif: small(field(f, 3, "mif")?, "mif")?,
                        })
                    })
                    .collect::<Result<_, WireError>>()?,
            ),
            "dvmrp-interfaces" => Response::DvmrpInterfaces(get_vec(
                field(items, 1, "VIFs")?,
                "VIFs",
                get_dvmrp_vif_row,
            )?),
            "neighbors" => Response::Neighbors(get_vec(
                field(items, 1, "neighbors")?,
                "neighbors",
                get_neighbor_row,
            )?),
            "dvmrp-routes" => Response::DvmrpRoutes(get_vec(
                field(items, 1, "routes")?,
                "routes",
                get_dvmrp_route_row,
            )?),
            "mfc" => Response::Mfc(get_vec(field(items, 1, "MFC")?, "MFC", get_mfc_row)?),
            "compat" => Response::Compat(get_str(field(items, 1, "dump")?, "dump")?),
            other => return Err(WireError::Malformed(format!("unknown response {other:?}"))),
        })
    }
}

/// Accumulates bytes from a stream and yields whole frames' bodies.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    max: usize,
}

impl FrameReader {
    /// A reader accepting bodies up to `max` bytes.
    pub fn new(max: usize) -> FrameReader {
        FrameReader {
            buf: Vec::new(),
            max,
        }
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame's body, `Ok(None)` if more bytes are needed. After an error
    /// the stream cannot be resynchronised: the connection should be closed.
    pub fn next_body(&mut self) -> Result<Option<Vec<u8>>, WireError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        match frame_len(&self.buf, self.max)? {
            None => Ok(None),
            Some(n) => {
                let body = self.buf[HEADER_LEN..n].to_vec();
                self.buf.drain(..n);
                Ok(Some(body))
            }
        }
    }

    /// Whether bytes of an incomplete frame are buffered.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(x: &str) -> IpNet {
        parse_net(x, "test").unwrap()
    }

    fn round_trip_req(r: Request) {
        let frame = encode_frame(&r.to_value());
        let n = frame_len(&frame, MAX_REQUEST).unwrap().unwrap();
        assert_eq!(n, frame.len());
        let v = decode_value(&frame[HEADER_LEN..]).unwrap();
        assert_eq!(Request::from_value(&v).unwrap(), r);
    }

    #[test]
    fn requests_round_trip() {
        round_trip_req(Request::Add {
            iif: "eth0".into(),
            source: Some(net("192.0.2.10")),
            group: net("225.1.2.3"),
            oifs: vec!["eth1".into(), "eth2".into()],
        });
        round_trip_req(Request::Remove {
            iif: "eth+".into(),
            source: None,
            group: net("ff0e::/112"),
            oifs: vec![],
        });
        round_trip_req(Request::Join {
            iif: "a1".into(),
            source: Some(net("2001:db8::1")),
            group: net("ff3e::1"),
        });
        round_trip_req(Request::Show {
            what: ShowWhat::Groups,
            detail: true,
        });
        for what in [ShowWhat::Neighbors, ShowWhat::Mfc, ShowWhat::Compat] {
            round_trip_req(Request::Show {
                what,
                detail: false,
            });
        }
        for r in [
            Request::Flush,
            Request::Reload,
            Request::Kill,
            Request::Version,
        ] {
            round_trip_req(r);
        }
    }

    #[test]
    fn responses_round_trip() {
        let rows = vec![RouteRow {
            source: Some(net("192.0.2.10")),
            group: net("225.1.2.3"),
            iif: "a1".into(),
            oifs: vec!["a2".into()],
            packets: Some(3),
            bytes: Some(180),
            no_vif: vec!["a2".into()],
        }];
        for r in [
            Response::Ok,
            Response::Error("no such route".into()),
            Response::Version("x 1".into()),
            Response::Routes(RouteTables {
                templates: vec![],
                rules: rows.clone(),
                kernel: rows,
            }),
            Response::Groups(vec![GroupRow {
                source: None,
                group: net("225.1.1.1"),
                iif: "a1".into(),
            }]),
            Response::Interfaces(vec![InterfaceRow {
                index: 2,
                name: "a1".into(),
                vif: Some(0),
                mif: None,
            }]),
        ]
        .into_iter()
        .chain(dvmrp_responses())
        {
            let f = encode_frame(&r.to_value());
            let v = decode_value(&f[HEADER_LEN..]).unwrap();
            assert_eq!(Response::from_value(&v).unwrap(), r);
        }
    }

    pub(crate) fn dvmrp_responses() -> Vec<Response> {
        let a = |x: &str| x.parse::<Ipv4Addr>().unwrap();
        let n = |x: &str| x.parse::<Ipv4Net>().unwrap();
        vec![
            Response::DvmrpInterfaces(vec![DvmrpVifRow {
                vif: 0,
                name: "a1".into(),
                local: a("192.0.2.1"),
                subnet: n("192.0.2.0/24"),
                metric: 1,
                threshold: 1,
                rate_limit: 0,
                flags: vec!["querier".into()],
                neighbors: vec![a("192.0.2.2")],
                groups: vec![a("225.1.2.3")],
                boundaries: vec![n("239.255.0.0/16")],
                querier: Some(a("192.0.2.1")),
                counters: Some([1, 2, 3, 4]),
            }]),
            Response::Neighbors(vec![NeighborRow {
                addr: a("192.0.2.2"),
                vif: 0,
                interface: "a1".into(),
                version: (3, 255),
                generation_id: 77,
                flags: vec!["prune".into(), "two-way".into()],
                uptime: 12,
                expires: 30,
            }]),
            Response::DvmrpRoutes(vec![DvmrpRouteRow {
                origin: n("198.51.100.0/24"),
                gateway: Some(a("192.0.2.2")),
                metric: 2,
                parent: 0,
                interface: "a1".into(),
                children: vec![(1, false), (2, true)],
                dependents: vec![(2, a("203.0.113.9"))],
                expires: Some(130),
            }]),
            Response::Mfc(vec![MfcRow {
                source: a("198.51.100.7"),
                group: a("225.1.2.3"),
                origin: Some(n("198.51.100.0/24")),
                iif: "a1".into(),
                oifs: vec!["a2".into()],
                expires: 290,
                uptime: 10,
                upstream_prune: Some(7000),
                grafting: false,
                pruned_by: vec![("a3".into(), a("203.0.113.9"))],
                counters: Some((5, 500)),
            }]),
            Response::Compat("Virtual Interface Table\n".into()),
        ]
    }

    #[test]
    fn validation_errors() {
        let v = Request::Add {
            iif: "a1".into(),
            source: None,
            group: net("192.0.2.1"),
            oifs: vec![],
        }
        .to_value();
        assert_eq!(
            Request::from_value(&v).unwrap_err().to_string(),
            "malformed message: 192.0.2.1 is not a multicast group"
        );
        let v = Request::Join {
            iif: "a1".into(),
            source: Some(net("2001:db8::1")),
            group: net("225.1.1.1"),
        }
        .to_value();
        assert!(Request::from_value(&v)
            .unwrap_err()
            .to_string()
            .contains("different address families"));
        let v = Value::List(vec![
            s("add"),
            s("bad/name"),
            Value::None,
            s("225.1.1.1"),
            Value::List(vec![]),
        ]);
        assert!(Request::from_value(&v)
            .unwrap_err()
            .to_string()
            .contains("invalid interface name"));
        let v = Value::List(vec![s("frobnicate")]);
        assert_eq!(
            Request::from_value(&v).unwrap_err(),
            WireError::Malformed("unknown command \"frobnicate\"".into())
        );
    }

    #[test]
    fn framing_errors() {
        assert_eq!(
            frame_len(b"GET / HTTP/1.0\r\n", MAX_REQUEST),
            Err(WireError::BadMagic)
        );
        assert_eq!(frame_len(b"MC", MAX_REQUEST), Ok(None));
        assert_eq!(
            frame_len(b"MCR\x09\0\0\0\0", MAX_REQUEST),
            Err(WireError::Version(9))
        );
        assert_eq!(
            frame_len(b"MCR\x01\xff\xff\xff\xff", MAX_REQUEST),
            Err(WireError::TooLarge {
                len: 0xffff_ffff,
                max: MAX_REQUEST
            })
        );
        // A list claiming a billion items in a few bytes.
        assert_eq!(
            decode_value(b"l\x3b\x9a\xca\x00s"),
            Err(WireError::Truncated)
        );
        // Deep nesting.
        let deep: Vec<u8> = std::iter::repeat_n([b'l', 0, 0, 0, 1], 20)
            .flatten()
            .collect();
        assert_eq!(decode_value(&deep), Err(WireError::TooDeep));
        let mut r = FrameReader::new(MAX_REQUEST);
        let f = encode_frame(&Request::Flush.to_value());
        r.extend(&f[..5]);
        assert_eq!(r.next_body(), Ok(None));
        r.extend(&f[5..]);
        r.extend(&f);
        assert!(r.next_body().unwrap().is_some());
        assert!(r.next_body().unwrap().is_some());
        assert_eq!(r.next_body(), Ok(None));
        assert!(!r.has_partial());
    }

    proptest! {
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = frame_len(&bytes, MAX_REQUEST);
            if let Ok(v) = decode_value(&bytes) {
                let _ = Request::from_value(&v);
                let _ = Response::from_value(&v);
            }
        }
    }
}
