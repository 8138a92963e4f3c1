//! The frames of mcroute's own control protocol.
//!
//! A frame is
//!
//! ```text
//! "MCR" | version (1 byte, VERSION) | flags (1 byte) | body length (u32, big-endian) | body
//! ```
//!
//! and its body is the JSON (serde_json) of one [`Request`] (client to daemon) or one
//! [`Response`] (daemon to client), the same JSON that `mcroutectl --json` prints. The one
//! flag, [`FLAG_MORE`], marks a reply that continues in the next frame (a long `show` is
//! written in parts, see [`parts`](super::parts)). A request body is at most [`MAX_REQUEST`]
//! bytes, a reply frame at most [`MAX_RESPONSE`]; a frame of another version is refused with
//! an error that names both versions (a client and a daemon of the same release always
//! agree). Decoding never panics, whatever the bytes: the header is checked before any length
//! is trusted, and serde_json bounds its own recursion.

use ipnet::IpNet;

use super::{Request, Response};

/// The frame magic.
pub const MAGIC: &[u8; 3] = b"MCR";
/// The protocol version this library speaks (1 was the hand-made encoding of 0.1 betas).
pub const VERSION: u8 = 2;
/// Bytes before the body.
pub const HEADER_LEN: usize = 9;
/// The flag of a reply that continues in the next frame.
pub const FLAG_MORE: u8 = 0x01;
/// The largest request body a server accepts.
pub const MAX_REQUEST: usize = 64 * 1024;
/// The largest reply frame body a client accepts (a long reply comes in several frames).
pub const MAX_RESPONSE: usize = 16 << 20;

/// Why bytes are not a valid frame or message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The frame does not start with `MCR`.
    #[error("not an mcroute control frame (bad magic)")]
    BadMagic,
    /// A protocol version this side does not speak.
    #[error(
        "unsupported control protocol version {0} (this side speaks {VERSION}): use mcroutectl and the daemon of the same release"
    )]
    Version(u8),
    /// Flags this side does not know.
    #[error("unknown frame flags 0x{0:02x}")]
    Flags(u8),
    /// The body is larger than allowed.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A well-framed body that is not a valid message.
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The reply continues in the next frame.
    pub more: bool,
    /// The body length.
    pub len: usize,
}

/// Reads the header at the start of `buf`: `Ok(None)` while more bytes are needed, an error
/// as soon as the bytes present cannot start a valid frame (bad magic, another version,
/// unknown flags, a body over `max`).
pub fn parse_header(buf: &[u8], max: usize) -> Result<Option<Header>, WireError> {
    let n = buf.len().min(MAGIC.len());
    if buf[..n] != MAGIC[..n] {
        return Err(WireError::BadMagic);
    }
    match buf.get(3) {
        None => return Ok(None),
        Some(&v) if v != VERSION => return Err(WireError::Version(v)),
        Some(_) => {}
    }
    let Some(&flags) = buf.get(4) else {
        return Ok(None);
    };
    if flags & !FLAG_MORE != 0 {
        return Err(WireError::Flags(flags));
    }
    let Some(len) = buf.get(5..HEADER_LEN) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len > max {
        return Err(WireError::TooLarge { len, max });
    }
    Ok(Some(Header {
        more: flags & FLAG_MORE != 0,
        len,
    }))
}

/// Appends a frame with the JSON of `value` to `out`.
fn put_frame(out: &mut Vec<u8>, flags: u8, value: &impl serde::Serialize) {
    let start = out.len();
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(flags);
    out.extend_from_slice(&[0; 4]);
    if serde_json::to_writer(&mut *out, value).is_err() {
        // Not reachable with the control types (no map keys that are not strings, and a
        // Vec never fails to grow), but a reply must be a frame whatever happens.
        out.truncate(start + HEADER_LEN);
        out.extend_from_slice(br#"{"error":"internal error: unencodable reply"}"#);
    }
    let len = u32::try_from(out.len() - start - HEADER_LEN).unwrap_or(u32::MAX);
    out[start + 5..start + HEADER_LEN].copy_from_slice(&len.to_be_bytes());
}

/// Appends the frame of a request to `out`.
pub fn encode_request(req: &Request, out: &mut Vec<u8>) {
    put_frame(out, 0, req);
}

/// Appends the frame of a reply (or, with `more`, of a part of one) to `out`.
pub fn encode_response(resp: &Response, more: bool, out: &mut Vec<u8>) {
    put_frame(out, if more { FLAG_MORE } else { 0 }, resp);
}

/// Decodes and validates a request body: interface names, addresses, families, the group
/// multicast, at most 64 OIFs.
pub fn decode_request(body: &[u8]) -> Result<Request, WireError> {
    let req: Request =
        serde_json::from_slice(body).map_err(|e| WireError::Malformed(e.to_string()))?;
    req.validate()?;
    Ok(req)
}

/// Decodes a reply body.
pub fn decode_response(body: &[u8]) -> Result<Response, WireError> {
    serde_json::from_slice(body).map_err(|e| WireError::Malformed(e.to_string()))
}

/// Checks an interface name: 1..=15 bytes, no NUL, '/' or whitespace.
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && !name
            .bytes()
            .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace())
}

/// Checks a (S,G) pair: group multicast, source unicast, same family.
pub fn validate_sg(source: &Option<IpNet>, group: &IpNet) -> Result<(), WireError> {
    let bad = |m: String| Err(WireError::Malformed(m));
    if !group.addr().is_multicast() {
        return bad(format!(
            "{} is not a multicast group",
            super::fmt_net(group)
        ));
    }
    if let Some(s) = source {
        if s.addr().is_multicast() {
            return bad(format!(
                "source {} is a multicast address",
                super::fmt_net(s)
            ));
        }
        if s.addr().is_ipv4() != group.addr().is_ipv4() {
            return bad(format!(
                "source {} and group {} are of different address families",
                super::fmt_net(s),
                super::fmt_net(group)
            ));
        }
    }
    Ok(())
}

impl Request {
    /// Checks what the types do not: interface names, (S,G) pairs, the number of OIFs.
    pub fn validate(&self) -> Result<(), WireError> {
        let iface = |n: &String| {
            if valid_ifname(n) {
                Ok(())
            } else {
                Err(WireError::Malformed(format!(
                    "invalid interface name {n:?}"
                )))
            }
        };
        match self {
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
                iface(iif)?;
                validate_sg(source, group)?;
                if oifs.len() > crate::model::MAX_OIFS {
                    return Err(WireError::Malformed(format!(
                        "{} outbound interfaces (at most {})",
                        oifs.len(),
                        crate::model::MAX_OIFS
                    )));
                }
                oifs.iter().try_for_each(iface)
            }
            Request::Join { iif, source, group } | Request::Leave { iif, source, group } => {
                iface(iif)?;
                validate_sg(source, group)
            }
            Request::Show { .. }
            | Request::Flush
            | Request::Reload
            | Request::Kill
            | Request::Version => Ok(()),
            Request::Debug { levels: Some(v) } | Request::Log { level: Some(v) }
                if v.len() > 256 || v.chars().any(|c| c.is_control()) =>
            {
                Err(WireError::Malformed(
                    "a debug or log level of more than 256 characters or with control \
                     characters"
                        .into(),
                ))
            }
            Request::Debug { .. } | Request::Log { .. } => Ok(()),
        }
    }
}

/// Splits a byte stream into frames, in time linear in the bytes fed: consumed bytes are
/// only dropped (moved) once they are at least half of the buffer.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    max: usize,
    moved: u64,
}

/// A frame read by [`FrameReader::next_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The reply continues in the next frame.
    pub more: bool,
    /// The body.
    pub body: &'a [u8],
}

impl FrameReader {
    /// A reader that refuses bodies over `max` bytes.
    pub fn new(max: usize) -> FrameReader {
        FrameReader {
            buf: Vec::new(),
            start: 0,
            max,
            moved: 0,
        }
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.moved += (self.buf.len() - self.start) as u64;
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, WireError> {
        let rest = &self.buf[self.start..];
        if rest.is_empty() {
            return Ok(None);
        }
        let Some(h) = parse_header(rest, self.max)? else {
            return Ok(None);
        };
        if rest.len() < HEADER_LEN + h.len {
            return Ok(None);
        }
        let body = self.start + HEADER_LEN..self.start + HEADER_LEN + h.len;
        self.start = body.end;
        Ok(Some(Frame {
            more: h.more,
            body: &self.buf[body],
        }))
    }

    /// Whether part of a frame is buffered.
    pub fn has_partial(&self) -> bool {
        self.start < self.buf.len()
    }

    /// Bytes moved to drop consumed input so far (at most the bytes fed: linear).
    pub fn moved(&self) -> u64 {
        self.moved
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::ctl::{
        DvmrpRouteRow, DvmrpVifRow, GroupRow, InterfaceRow, MfcRow, NeighborRow, RouteRow,
        RouteTables, ShowWhat,
    };
    use ipnet::Ipv4Net;
    use proptest::prelude::*;

    fn net(x: &str) -> IpNet {
        crate::ctl::serial::parse_net(x).unwrap()
    }

    fn frame_of(r: &Request) -> Vec<u8> {
        let mut f = Vec::new();
        encode_request(r, &mut f);
        f
    }

    fn round_trip_req(r: Request) {
        let frame = frame_of(&r);
        let h = parse_header(&frame, MAX_REQUEST).unwrap().unwrap();
        assert_eq!(HEADER_LEN + h.len, frame.len());
        assert!(!h.more);
        assert_eq!(decode_request(&frame[HEADER_LEN..]).unwrap(), r);
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
        for what in [
            ShowWhat::Routes,
            ShowWhat::Groups,
            ShowWhat::Interfaces,
            ShowWhat::Neighbors,
            ShowWhat::Mfc,
            ShowWhat::Compat,
        ] {
            round_trip_req(Request::Show { what, detail: true });
        }
        for r in [
            Request::Flush,
            Request::Reload,
            Request::Kill,
            Request::Version,
        ] {
            round_trip_req(r);
        }
        // The body is the JSON a person can read.
        let f = frame_of(&Request::Show {
            what: ShowWhat::Groups,
            detail: false,
        });
        assert_eq!(
            &f[HEADER_LEN..],
            br#"{"show":{"what":"groups","detail":false}}"#
        );
        assert_eq!(&f[..5], b"MCR\x02\x00");
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
            no_vif: vec!["a3".into()],
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
            for more in [false, true] {
                let mut f = Vec::new();
                encode_response(&r, more, &mut f);
                let mut reader = FrameReader::new(MAX_RESPONSE);
                reader.extend(&f);
                let frame = reader.next_frame().unwrap().unwrap();
                assert_eq!(frame.more, more);
                assert_eq!(decode_response(frame.body).unwrap(), r);
            }
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
            Response::Igmp(crate::ctl::IgmpTables {
                interfaces: vec![crate::ctl::IgmpInterfaceRow {
                    interface: "a1".into(),
                    querier: a("192.0.2.1"),
                    local: true,
                    version: 3,
                    groups: 1,
                    querier_expires: None,
                    next_query: Some(100),
                }],
                groups: vec![crate::ctl::IgmpGroupRow {
                    interface: "a1".into(),
                    group: a("225.1.2.3"),
                    reporter: a("192.0.2.77"),
                    expires: 250,
                    version: 2,
                    leaving: false,
                }],
            }),
            Response::Status(crate::ctl::DvmrpStatus {
                version: "dvmrp-router".into(),
                uptime: 61,
                vifs: 2,
                neighbors: 1,
                routes: 3,
                ..Default::default()
            }),
        ]
    }

    #[test]
    fn validation_errors() {
        let body = |r: &Request| frame_of(r)[HEADER_LEN..].to_vec();
        let b = body(&Request::Add {
            iif: "a1".into(),
            source: None,
            group: net("192.0.2.1"),
            oifs: vec![],
        });
        assert_eq!(
            decode_request(&b).unwrap_err().to_string(),
            "malformed message: 192.0.2.1 is not a multicast group"
        );
        let b = body(&Request::Join {
            iif: "a1".into(),
            source: Some(net("2001:db8::1")),
            group: net("225.1.1.1"),
        });
        assert!(decode_request(&b)
            .unwrap_err()
            .to_string()
            .contains("different address families"));
        let b = br#"{"add":{"iif":"bad/name","source":null,"group":"225.1.1.1","oifs":[]}}"#;
        assert!(decode_request(b)
            .unwrap_err()
            .to_string()
            .contains("invalid interface name"));
        let too_many = format!(
            r#"{{"add":{{"iif":"a1","source":null,"group":"225.1.1.1","oifs":[{}]}}}}"#,
            vec!["\"a2\""; 65].join(",")
        );
        assert!(decode_request(too_many.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("65 outbound interfaces"));
        let e = decode_request(br#""frobnicate""#).unwrap_err();
        assert!(
            e.to_string().contains("unknown variant `frobnicate`"),
            "{e}"
        );
        let e = decode_request(br#"{"add":{"iif":"a1","group":"nope","oifs":[]}}"#).unwrap_err();
        assert!(matches!(e, WireError::Malformed(_)), "{e}");
    }

    #[test]
    fn framing_errors() {
        assert_eq!(
            parse_header(b"GET / HTTP/1.0\r\n", MAX_REQUEST),
            Err(WireError::BadMagic)
        );
        assert_eq!(parse_header(b"MC", MAX_REQUEST), Ok(None));
        assert_eq!(parse_header(b"MCR\x02\x00\x00", MAX_REQUEST), Ok(None));
        // The frames of the hand-made encoding of 0.1 betas (version 1): a clear error as
        // soon as the version byte is in.
        let e = parse_header(b"MCR\x01", MAX_REQUEST).unwrap_err();
        assert_eq!(e, WireError::Version(1));
        assert_eq!(
            e.to_string(),
            "unsupported control protocol version 1 (this side speaks 2): use mcroutectl and the daemon of the same release"
        );
        assert_eq!(
            parse_header(b"MCR\x02\x80", MAX_REQUEST),
            Err(WireError::Flags(0x80))
        );
        assert_eq!(
            parse_header(b"MCR\x02\x00\xff\xff\xff\xff", MAX_REQUEST),
            Err(WireError::TooLarge {
                len: 0xffff_ffff,
                max: MAX_REQUEST
            })
        );
        // Deep nesting is refused by serde_json, not by a stack overflow.
        let deep = "[".repeat(100_000);
        assert!(decode_response(deep.as_bytes()).is_err());
        assert!(decode_request(deep.as_bytes()).is_err());
        let mut r = FrameReader::new(MAX_REQUEST);
        let f = frame_of(&Request::Flush);
        r.extend(&f[..5]);
        assert_eq!(r.next_frame(), Ok(None));
        assert!(r.has_partial());
        r.extend(&f[5..]);
        r.extend(&f);
        assert!(r.next_frame().unwrap().is_some());
        assert!(r.next_frame().unwrap().is_some());
        assert_eq!(r.next_frame(), Ok(None));
        assert!(!r.has_partial());
    }

    #[test]
    fn frame_reassembly_is_linear() {
        // 100,000 frames fed a few bytes at a time: the bytes moved to drop consumed input
        // stay below the bytes fed (a reader that drained per frame would move ~n^2/2).
        let f = frame_of(&Request::Version);
        let stream: Vec<u8> = f.iter().copied().cycle().take(f.len() * 100_000).collect();
        let mut r = FrameReader::new(MAX_REQUEST);
        let mut frames = 0;
        for chunk in stream.chunks(4093) {
            r.extend(chunk);
            while let Some(fr) = r.next_frame().unwrap() {
                assert_eq!(fr.body, &f[HEADER_LEN..]);
                frames += 1;
            }
        }
        assert_eq!(frames, 100_000);
        assert!(r.moved() <= stream.len() as u64, "{}", r.moved());
    }

    proptest! {
        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_header(&bytes, MAX_REQUEST);
            let _ = decode_request(&bytes);
            let _ = decode_response(&bytes);
            let mut r = FrameReader::new(MAX_REQUEST);
            r.extend(&bytes);
            while let Ok(Some(_)) = r.next_frame() {}
        }
    }
}
