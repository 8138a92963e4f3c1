//! Clients of DVMRP routers: multicast traceroute (mtrace) and mrinfo, as `mcroutectl mtrace`
//! and `mcroutectl mrinfo` run them. Both need a raw IGMP socket (root, or `CAP_NET_RAW`).
//!
//! ```no_run
//! use std::time::Duration;
//! use mcroute::service::dvmrp::client::{mtrace, TraceRequest};
//!
//! let trace = mtrace(&TraceRequest::new("192.0.2.10".parse()?))?;
//! print!("{trace}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::platform::IgmpSend;
use crate::sys::unix as sys;
use crate::wire::dvmrp::{self, code, neighbor_flags as nf, Body, Capabilities, NeighborBlock};
use crate::wire::ip::Ipv4Header;
use crate::wire::mtrace::{self as mt, fwd, Block, Query};
use crate::wire::ALL_ROUTERS;

/// Why a trace or an mrinfo query failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A socket call failed.
    #[error("{0}: {1}")]
    Io(&'static str, std::io::Error),
    /// No answer came in time.
    #[error("no answer from {0} within {1:?}")]
    Timeout(Ipv4Addr, Duration),
    /// The arguments do not make a query.
    #[error("{0}")]
    Invalid(String),
}

/// A multicast traceroute to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRequest {
    /// The source of the traffic traced.
    pub source: Ipv4Addr,
    /// The group (0.0.0.0: any).
    pub group: Ipv4Addr,
    /// Where the traffic goes: `None` for this host (the address it uses towards the
    /// source). Another address is taken as the last-hop router's address on the
    /// receivers' subnet, and the query goes to it.
    pub receiver: Option<Ipv4Addr>,
    /// The most hops to trace.
    pub max_hops: u8,
    /// How long to wait for the response.
    pub timeout: Duration,
}

impl TraceRequest {
    /// A trace from `source` to this host for any group, 32 hops, 5 s.
    pub fn new(source: Ipv4Addr) -> TraceRequest {
        TraceRequest {
            source,
            group: Ipv4Addr::UNSPECIFIED,
            receiver: None,
            max_hops: 32,
            timeout: Duration::from_secs(5),
        }
    }
}

/// A completed trace: the hops from the receiver back towards the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The query as the response carried it back.
    pub query: Query,
    /// One block per router, the last-hop router first.
    pub hops: Vec<Block>,
    /// The router that sent the response.
    pub responder: Ipv4Addr,
}

impl Trace {
    /// Whether the trace reached the source's router with no error on the way.
    pub fn complete(&self) -> bool {
        self.hops
            .last()
            .is_some_and(|b| b.prev_hop.is_unspecified() && b.fwd_code == fwd::NO_ERROR)
            && self.hops.iter().all(|b| b.fwd_code == fwd::NO_ERROR)
    }
}

/// mtrace's words for a forwarding code.
pub fn fwd_code_name(c: u8) -> String {
    match c {
        fwd::NO_ERROR => String::new(),
        fwd::WRONG_IF => "Wrong interface".into(),
        fwd::PRUNE_SENT => "Prune sent upstream".into(),
        fwd::PRUNE_RCVD => "Output pruned".into(),
        fwd::SCOPED => "Hit scope boundary".into(),
        fwd::NO_ROUTE => "No route".into(),
        fwd::WRONG_LAST_HOP => "Wrong last hop".into(),
        fwd::NOT_FORWARDING => "Not forwarding".into(),
        fwd::NO_SPACE => "No space in packet".into(),
        fwd::OLD_ROUTER => "Next router no mtrace".into(),
        fwd::ADMIN_PROHIB => "Admin. Prohibited".into(),
        c => format!("code {c:#04x}"),
    }
}

/// mtrace's layout: the receiver, then each hop back to the source.
impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Mtrace from {} to {} via group {}",
            self.query.source, self.query.destination, self.query.group
        )?;
        writeln!(f, "  0  {}", self.query.destination)?;
        for (i, b) in self.hops.iter().enumerate() {
            let counts = |c: u32| {
                if c == mt::NO_COUNT {
                    "?".to_string()
                } else {
                    c.to_string()
                }
            };
            writeln!(
                f,
                " -{:<2} {:<15} DVMRP  thresh^ {}  in {} out {} (S,G) {}  {}",
                i + 1,
                b.out_addr,
                b.fwd_ttl,
                counts(b.in_packets),
                counts(b.out_packets),
                counts(b.sg_packets),
                fwd_code_name(b.fwd_code)
            )?;
            if b.prev_hop.is_unspecified() && b.fwd_code == fwd::NO_ERROR {
                writeln!(
                    f,
                    " -{:<2} {:<15} (source network, /{})",
                    i + 2,
                    b.in_addr,
                    b.src_mask
                )?;
            }
        }
        if self.complete() {
            writeln!(f, "Round trip complete")
        } else {
            writeln!(f, "Trace incomplete")
        }
    }
}

fn raw_igmp() -> Result<OwnedFd, ClientError> {
    let fd = sys::raw_socket(libc::AF_INET, libc::IPPROTO_IGMP)
        .map_err(|e| ClientError::Io("opening a raw IGMP socket", e))?;
    sys::setsockopt(fd.as_fd(), libc::IPPROTO_IP, libc::IP_HDRINCL, &1i32)
        .map_err(|e| ClientError::Io("setting IP_HDRINCL", e))?;
    Ok(fd)
}

/// The address this host uses towards `dst`.
fn local_towards(dst: Ipv4Addr) -> Result<Ipv4Addr, ClientError> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .map_err(|e| ClientError::Io("opening a UDP socket", e))?;
    s.connect((dst, 9))
        .map_err(|e| ClientError::Io("finding the route", e))?;
    match s.local_addr() {
        Ok(std::net::SocketAddr::V4(a)) => Ok(*a.ip()),
        Ok(_) => Err(ClientError::Invalid("no IPv4 route".into())),
        Err(e) => Err(ClientError::Io("finding the local address", e)),
    }
}

fn ifindex_of(addr: Ipv4Addr) -> u32 {
    crate::platform::ifaddrs::list_interfaces()
        .ok()
        .and_then(|ifs| {
            ifs.into_iter().find(|i| {
                i.addrs
                    .iter()
                    .any(|n| matches!(n, ipnet::IpNet::V4(n) if n.addr() == addr))
            })
        })
        .map_or(0, |i| i.index)
}

fn send(fd: &OwnedFd, p: &IgmpSend<'_>) -> Result<(), ClientError> {
    if p.dst.is_multicast() {
        sys::set_multicast_if_v4(fd.as_fd(), p.ifindex)
            .map_err(|e| ClientError::Io("choosing the interface", e))?;
    }
    let d = crate::platform::igmp_datagram(p);
    sys::sendto_v4(fd.as_fd(), &d, p.dst).map_err(|e| ClientError::Io("sending the query", e))?;
    Ok(())
}

/// Waits until `deadline` for an IGMP message that `pick` accepts (given the IP source and
/// the IGMP bytes).
fn wait_for<T>(
    fd: &OwnedFd,
    deadline: Instant,
    mut pick: impl FnMut(Ipv4Addr, &[u8]) -> Option<T>,
) -> Result<Option<T>, ClientError> {
    let mut buf = vec![0u8; 65_536];
    while Instant::now() < deadline {
        match sys::recv(fd.as_fd(), &mut buf).map_err(|e| ClientError::Io("receiving", e))? {
            Some(n) => {
                if let Ok((h, payload)) = Ipv4Header::parse(&buf[..n]) {
                    if let Some(t) = pick(h.src, payload) {
                        return Ok(Some(t));
                    }
                }
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    Ok(None)
}

/// Runs a multicast traceroute: sends the query (to 224.0.0.2 on the receiver's subnet
/// when the receiver is this host, else to the receiver's router), and waits for the
/// response the source's router (or the router where the trace stopped) sends back.
pub fn mtrace(req: &TraceRequest) -> Result<Trace, ClientError> {
    if req.max_hops == 0 {
        return Err(ClientError::Invalid("max hops must be at least 1".into()));
    }
    let fd = raw_igmp()?;
    let (receiver, query_dst, response_addr) = match req.receiver {
        None => {
            let me = local_towards(req.source)?;
            (me, ALL_ROUTERS, me)
        }
        Some(r) => (r, r, local_towards(r)?),
    };
    let qid = (std::process::id() ^ Instant::now().elapsed().subsec_nanos()) & 0x00ff_ffff;
    let mut q = Query {
        msg_type: mt::TYPE_QUERY,
        max_hops: req.max_hops,
        group: req.group,
        source: req.source,
        destination: receiver,
        response_addr,
        ttl_qid: 0,
    };
    q.set_ttl_qid(64, qid);
    let bytes = mt::Repr {
        query: q,
        blocks: Vec::new(),
    }
    .to_bytes()
    .map_err(|e| ClientError::Invalid(e.to_string()))?;
    send(
        &fd,
        &IgmpSend {
            ifindex: ifindex_of(response_addr),
            src: response_addr,
            dst: query_dst,
            ttl: if query_dst.is_multicast() { 1 } else { 64 },
            router_alert: query_dst.is_multicast(),
            payload: &bytes,
        },
    )?;
    let deadline = Instant::now() + req.timeout;
    let got = wait_for(&fd, deadline, |src, igmp| {
        let r = mt::Repr::parse(igmp).ok()?;
        (r.query.msg_type == mt::TYPE_RESPONSE && r.query.ttl_qid == q.ttl_qid).then_some(Trace {
            query: r.query,
            hops: r.blocks,
            responder: src,
        })
    })?;
    got.ok_or(ClientError::Timeout(query_dst, req.timeout))
}

/// What a router says of itself and its neighbours (an mrinfo answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterInfo {
    /// The router asked.
    pub router: Ipv4Addr,
    /// Its DVMRP version (major, minor).
    pub version: (u8, u8),
    /// Its capabilities.
    pub capabilities: Capabilities,
    /// One block per VIF (a VIF may take several blocks).
    pub blocks: Vec<NeighborBlock>,
}

/// mrinfo's layout.
impl fmt::Display for RouterInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut caps = Vec::new();
        for (bit, name) in [
            (Capabilities::PRUNE, "prune"),
            (Capabilities::GENID, "genid"),
            (Capabilities::MTRACE, "mtrace"),
        ] {
            if self.capabilities.contains(bit) {
                caps.push(name);
            }
        }
        writeln!(
            f,
            "{} [version {}.{},{}]:",
            self.router,
            self.version.0,
            self.version.1,
            caps.join(",")
        )?;
        for b in &self.blocks {
            let mut flags = Vec::new();
            for (bit, name) in [
                (nf::TUNNEL, "tunnel"),
                (nf::DOWN, "down"),
                (nf::DISABLED, "disabled"),
                (nf::QUERIER, "querier"),
                (nf::LEAF, "leaf"),
            ] {
                if b.flags & bit != 0 {
                    flags.push(name);
                }
            }
            let flags = if flags.is_empty() {
                String::new()
            } else {
                format!("/{}", flags.join("/"))
            };
            for n in &b.neighbors {
                let what = if n.is_unspecified() { " (local)" } else { "" };
                writeln!(
                    f,
                    "  {} -> {}{what} [{}/{}{flags}]",
                    b.local, n, b.metric, b.threshold
                )?;
            }
        }
        Ok(())
    }
}

/// Asks `router` for its VIFs and neighbours (DVMRP ask-neighbors2, as mrinfo).
pub fn mrinfo(router: Ipv4Addr, timeout: Duration) -> Result<RouterInfo, ClientError> {
    let fd = raw_igmp()?;
    let me = local_towards(router)?;
    let ask = dvmrp::Repr::new(Body::AskNeighbors2)
        .to_bytes()
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    send(
        &fd,
        &IgmpSend {
            ifindex: 0,
            src: me,
            dst: router,
            ttl: 64,
            router_alert: false,
            payload: &ask,
        },
    )?;
    let deadline = Instant::now() + timeout;
    let mut info: Option<RouterInfo> = None;
    // The first reply, then whatever else comes within a short while (several messages
    // for a router with many neighbours).
    let mut until = deadline;
    loop {
        let got = wait_for(&fd, until, |src, igmp| {
            if src != router || igmp.get(1) != Some(&code::NEIGHBORS2) {
                return None;
            }
            let r = dvmrp::Repr::parse(igmp).ok()?;
            match r.body {
                Body::Neighbors2 { blocks } => Some((r.major, r.minor, r.capabilities, blocks)),
                _ => None,
            }
        })?;
        let Some((major, minor, caps, blocks)) = got else {
            break;
        };
        match &mut info {
            Some(i) => i.blocks.extend(blocks),
            None => {
                info = Some(RouterInfo {
                    router,
                    version: (major, minor),
                    capabilities: caps,
                    blocks,
                });
                until = (Instant::now() + Duration::from_millis(300)).min(deadline);
            }
        }
    }
    info.ok_or(ClientError::Timeout(router, timeout))
}
