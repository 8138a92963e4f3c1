//! IGMP v1, v2 and v3 messages (RFC 1112 appendix I, RFC 2236 section 2, RFC 3376 section 4).
//!
//! Versions of a query are told apart by length and the max-response field, as RFC 3376
//! section 7.1 says: 8 bytes with a zero max-response code is IGMPv1, 8 bytes otherwise is
//! IGMPv2, 12 bytes or more is IGMPv3.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::{addr_at, check_len, fill_checksum, u16_at, WireError};

/// IGMP type of a membership query (all versions).
pub const TYPE_QUERY: u8 = 0x11;
/// IGMP type of an IGMPv1 membership report.
pub const TYPE_REPORT_V1: u8 = 0x12;
/// IGMP type of an IGMPv2 membership report.
pub const TYPE_REPORT_V2: u8 = 0x16;
/// IGMP type of an IGMPv2 leave group message.
pub const TYPE_LEAVE: u8 = 0x17;
/// IGMP type of an IGMPv3 membership report.
pub const TYPE_REPORT_V3: u8 = 0x22;

/// Length of an IGMPv1/v2 message and of the fixed part of an IGMPv3 query or report header.
pub const HEADER_LEN: usize = 8;
/// Length of the fixed part of an IGMPv3 query (RFC 3376 section 4.1).
pub const V3_QUERY_LEN: usize = 12;
/// Length of the fixed part of an IGMPv3 group record (RFC 3376 section 4.2.4).
pub const GROUP_RECORD_LEN: usize = 8;

/// Decodes an IGMPv3 Max Resp Code or QQIC (RFC 3376 sections 4.1.1 and 4.1.7): values
/// below 128 are literal, larger ones a floating-point mantissa and exponent.
pub fn decode_exp_code(code: u8) -> u32 {
    if code < 128 {
        u32::from(code)
    } else {
        let mant = u32::from(code & 0x0f);
        let exp = u32::from((code >> 4) & 0x07);
        (mant | 0x10) << (exp + 3)
    }
}

/// Encodes a value as an IGMPv3 Max Resp Code or QQIC, rounding down to what the format
/// can represent (the largest is 31744).
pub fn encode_exp_code(value: u32) -> u8 {
    if value < 128 {
        return value as u8;
    }
    for exp in 0..8u32 {
        let m = value >> (exp + 3);
        if (16..32).contains(&m) {
            return 0x80 | ((exp as u8) << 4) | ((m as u8) & 0x0f);
        }
    }
    0xff
}

/// A zero-copy view of an IGMP message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking anything (accessors of missing fields return zero).
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking that it is long enough for the fixed fields of its type.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, WireError> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the buffer holds the fixed header (and the IGMPv3 fixed parts).
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        check_len(b, HEADER_LEN)?;
        if b[0] == TYPE_QUERY && b.len() > HEADER_LEN {
            check_len(b, V3_QUERY_LEN)?;
        }
        Ok(())
    }

    /// The IGMP type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref().first().copied().unwrap_or(0)
    }

    /// The max response code (queries) or the unused/reserved second byte.
    pub fn max_resp_code(&self) -> u8 {
        self.buffer.as_ref().get(1).copied().unwrap_or(0)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), 2)
    }

    /// The group address field (zero in general queries, reserved in IGMPv3 reports).
    pub fn group_addr(&self) -> Ipv4Addr {
        addr_at(self.buffer.as_ref(), 4)
    }

    /// Whether the checksum over the whole message is correct.
    pub fn verify_checksum(&self) -> bool {
        super::checksum::verify(self.buffer.as_ref())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

/// The IGMP version of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// IGMPv1 (RFC 1112): 8 bytes, max response code 0.
    V1,
    /// IGMPv2 (RFC 2236): 8 bytes, max response time in tenths of a second.
    V2,
    /// IGMPv3 (RFC 3376): 12 bytes or more, with a source list.
    V3,
}

/// A membership query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Which version's format.
    pub version: Version,
    /// Max response code: tenths of a second (v2), the RFC 3376 encoding (v3), 0 (v1).
    pub max_resp_code: u8,
    /// The group (unspecified for a general query).
    pub group: Ipv4Addr,
    /// IGMPv3 S flag: suppress router-side processing.
    pub suppress: bool,
    /// IGMPv3 querier's robustness variable (0..=7, 0 when above 7).
    pub qrv: u8,
    /// IGMPv3 querier's query interval code.
    pub qqic: u8,
    /// IGMPv3 sources (empty for v1/v2).
    pub sources: Vec<Ipv4Addr>,
}

impl Query {
    /// A general query of `version` with the given maximum response time.
    pub fn general(version: Version, max_resp: Duration) -> Query {
        let tenths = u32::try_from(max_resp.as_millis() / 100).unwrap_or(u32::MAX);
        let max_resp_code = match version {
            Version::V1 => 0,
            Version::V2 => tenths.clamp(1, 255) as u8,
            Version::V3 => encode_exp_code(tenths),
        };
        Query {
            version,
            max_resp_code,
            group: Ipv4Addr::UNSPECIFIED,
            suppress: false,
            qrv: 2,
            qqic: 125,
            sources: Vec::new(),
        }
    }

    /// The maximum response time the query asks for (10 s for IGMPv1, RFC 2236 section 4).
    pub fn max_resp_time(&self) -> Duration {
        let tenths = match self.version {
            Version::V1 => 100,
            Version::V2 => u32::from(self.max_resp_code),
            Version::V3 => decode_exp_code(self.max_resp_code),
        };
        Duration::from_millis(u64::from(tenths) * 100)
    }

    /// Whether this is a general query (group 0.0.0.0).
    pub fn is_general(&self) -> bool {
        self.group.is_unspecified()
    }
}

/// The type of an IGMPv3 group record (RFC 3376 section 4.2.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// MODE_IS_INCLUDE (1): current state, include the sources.
    ModeIsInclude,
    /// MODE_IS_EXCLUDE (2): current state, exclude the sources.
    ModeIsExclude,
    /// CHANGE_TO_INCLUDE_MODE (3).
    ChangeToInclude,
    /// CHANGE_TO_EXCLUDE_MODE (4).
    ChangeToExclude,
    /// ALLOW_NEW_SOURCES (5).
    AllowNewSources,
    /// BLOCK_OLD_SOURCES (6).
    BlockOldSources,
    /// A type RFC 3376 does not define: kept, and ignored by receivers (section 4.2.12).
    Other(u8),
}

impl RecordType {
    /// The type from its code.
    pub fn from_code(c: u8) -> RecordType {
        match c {
            1 => RecordType::ModeIsInclude,
            2 => RecordType::ModeIsExclude,
            3 => RecordType::ChangeToInclude,
            4 => RecordType::ChangeToExclude,
            5 => RecordType::AllowNewSources,
            6 => RecordType::BlockOldSources,
            o => RecordType::Other(o),
        }
    }

    /// The type's code.
    pub fn code(self) -> u8 {
        match self {
            RecordType::ModeIsInclude => 1,
            RecordType::ModeIsExclude => 2,
            RecordType::ChangeToInclude => 3,
            RecordType::ChangeToExclude => 4,
            RecordType::AllowNewSources => 5,
            RecordType::BlockOldSources => 6,
            RecordType::Other(o) => o,
        }
    }
}

/// An IGMPv3 group record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// The record type.
    pub record_type: RecordType,
    /// The multicast group.
    pub group: Ipv4Addr,
    /// The sources.
    pub sources: Vec<Ipv4Addr>,
    /// Auxiliary data (a multiple of 4 bytes; none is defined by RFC 3376).
    pub aux: Vec<u8>,
}

impl GroupRecord {
    fn wire_len(&self) -> usize {
        GROUP_RECORD_LEN + 4 * self.sources.len() + self.aux.len()
    }
}

/// A validated IGMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repr {
    /// A membership query (v1, v2 or v3).
    Query(Query),
    /// An IGMPv1 membership report.
    ReportV1 {
        /// The group joined.
        group: Ipv4Addr,
    },
    /// An IGMPv2 membership report.
    ReportV2 {
        /// The group joined.
        group: Ipv4Addr,
    },
    /// An IGMPv2 leave group message.
    Leave {
        /// The group left.
        group: Ipv4Addr,
    },
    /// An IGMPv3 membership report.
    ReportV3 {
        /// The group records.
        records: Vec<GroupRecord>,
    },
}

fn addrs(b: &[u8], at: usize, n: usize) -> Vec<Ipv4Addr> {
    (0..n).map(|i| addr_at(b, at + 4 * i)).collect()
}

impl Repr {
    /// Parses and validates an IGMP message, checksum included. DVMRP (type 0x13) and
    /// other types are [`WireError::UnknownType`] here: see [`super::Message::parse`].
    pub fn parse(bytes: &[u8]) -> Result<Repr, WireError> {
        let p = Packet::new_checked(bytes)?;
        if !p.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        let group = p.group_addr();
        let b = bytes;
        match p.msg_type() {
            TYPE_QUERY if b.len() == HEADER_LEN => {
                let (version, max_resp_code) = match p.max_resp_code() {
                    0 => (Version::V1, 0),
                    c => (Version::V2, c),
                };
                Ok(Repr::Query(Query {
                    version,
                    max_resp_code,
                    group,
                    suppress: false,
                    qrv: 0,
                    qqic: 0,
                    sources: Vec::new(),
                }))
            }
            TYPE_QUERY => {
                // RFC 3376 section 4.1: fixed 12 bytes, then the sources.
                let n = usize::from(u16_at(b, 10));
                check_len(b, V3_QUERY_LEN + 4 * n)?;
                Ok(Repr::Query(Query {
                    version: Version::V3,
                    max_resp_code: p.max_resp_code(),
                    group,
                    suppress: b[8] & 0x08 != 0,
                    qrv: b[8] & 0x07,
                    qqic: b[9],
                    sources: addrs(b, V3_QUERY_LEN, n),
                }))
            }
            TYPE_REPORT_V1 => Ok(Repr::ReportV1 { group }),
            TYPE_REPORT_V2 => Ok(Repr::ReportV2 { group }),
            TYPE_LEAVE => Ok(Repr::Leave { group }),
            TYPE_REPORT_V3 => {
                // RFC 3376 section 4.2: bytes 6..8 are the number of group records.
                let n = usize::from(u16_at(b, 6));
                let mut at = HEADER_LEN;
                // Each record is at least 8 bytes: this bounds the allocation by the input.
                let mut records = Vec::with_capacity(n.min(b.len() / GROUP_RECORD_LEN));
                for _ in 0..n {
                    check_len(b, at + GROUP_RECORD_LEN)?;
                    let aux_len = 4 * usize::from(b[at + 1]);
                    let ns = usize::from(u16_at(b, at + 2));
                    let end = at + GROUP_RECORD_LEN + 4 * ns + aux_len;
                    check_len(b, end)?;
                    records.push(GroupRecord {
                        record_type: RecordType::from_code(b[at]),
                        group: addr_at(b, at + 4),
                        sources: addrs(b, at + GROUP_RECORD_LEN, ns),
                        aux: b[end - aux_len..end].to_vec(),
                    });
                    at = end;
                }
                Ok(Repr::ReportV3 { records })
            }
            t => Err(WireError::UnknownType(t)),
        }
    }

    /// The length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        match self {
            Repr::Query(q) if q.version == Version::V3 => V3_QUERY_LEN + 4 * q.sources.len(),
            Repr::Query(_) | Repr::ReportV1 { .. } | Repr::ReportV2 { .. } | Repr::Leave { .. } => {
                HEADER_LEN
            }
            Repr::ReportV3 { records } => {
                HEADER_LEN + records.iter().map(GroupRecord::wire_len).sum::<usize>()
            }
        }
    }

    /// Writes the message (checksum included) at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = self.buffer_len();
        if buf.len() < len {
            return Err(WireError::Unencodable("buffer too small"));
        }
        let out = &mut buf[..len];
        out.fill(0);
        let put_addr = |out: &mut [u8], at: usize, a: Ipv4Addr| {
            out[at..at + 4].copy_from_slice(&a.octets());
        };
        match self {
            Repr::Query(q) => {
                out[0] = TYPE_QUERY;
                put_addr(out, 4, q.group);
                match q.version {
                    Version::V1 => {}
                    Version::V2 => {
                        if q.max_resp_code == 0 {
                            return Err(WireError::Unencodable(
                                "IGMPv2 query with max response 0 reads as IGMPv1",
                            ));
                        }
                        out[1] = q.max_resp_code;
                    }
                    Version::V3 => {
                        if q.qrv > 7 {
                            return Err(WireError::Unencodable("QRV above 7"));
                        }
                        let n = u16::try_from(q.sources.len())
                            .map_err(|_| WireError::Unencodable("too many sources"))?;
                        out[1] = q.max_resp_code;
                        out[8] = (u8::from(q.suppress) << 3) | q.qrv;
                        out[9] = q.qqic;
                        out[10..12].copy_from_slice(&n.to_be_bytes());
                        for (i, s) in q.sources.iter().enumerate() {
                            put_addr(out, V3_QUERY_LEN + 4 * i, *s);
                        }
                    }
                }
            }
            Repr::ReportV1 { group } => {
                out[0] = TYPE_REPORT_V1;
                put_addr(out, 4, *group);
            }
            Repr::ReportV2 { group } => {
                out[0] = TYPE_REPORT_V2;
                put_addr(out, 4, *group);
            }
            Repr::Leave { group } => {
                out[0] = TYPE_LEAVE;
                put_addr(out, 4, *group);
            }
            Repr::ReportV3 { records } => {
                out[0] = TYPE_REPORT_V3;
                let n = u16::try_from(records.len())
                    .map_err(|_| WireError::Unencodable("too many group records"))?;
                out[6..8].copy_from_slice(&n.to_be_bytes());
                let mut at = HEADER_LEN;
                for r in records {
                    if r.aux.len() % 4 != 0 || r.aux.len() / 4 > 255 {
                        return Err(WireError::Unencodable("aux data not a multiple of 4"));
                    }
                    let ns = u16::try_from(r.sources.len())
                        .map_err(|_| WireError::Unencodable("too many sources"))?;
                    out[at] = r.record_type.code();
                    out[at + 1] = (r.aux.len() / 4) as u8;
                    out[at + 2..at + 4].copy_from_slice(&ns.to_be_bytes());
                    put_addr(out, at + 4, r.group);
                    for (i, s) in r.sources.iter().enumerate() {
                        put_addr(out, at + GROUP_RECORD_LEN + 4 * i, *s);
                    }
                    let aux_at = at + GROUP_RECORD_LEN + 4 * r.sources.len();
                    out[aux_at..aux_at + r.aux.len()].copy_from_slice(&r.aux);
                    at += r.wire_len();
                }
            }
        }
        fill_checksum(out);
        Ok(len)
    }

    /// The emitted message as a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut v = vec![0; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn g(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn golden_v2_general_query() {
        let bytes = [
            0x11, // type: membership query
            0x64, // max response time: 100 tenths = 10 s
            0xee, 0x9b, // checksum
            0, 0, 0, 0, // group: 0.0.0.0 (general)
        ];
        let r = Repr::parse(&bytes).unwrap();
        let Repr::Query(q) = &r else { panic!() };
        assert_eq!(q.version, Version::V2);
        assert_eq!(q.max_resp_time(), Duration::from_secs(10));
        assert!(q.is_general());
        assert_eq!(r.to_bytes().unwrap(), bytes);
        assert_eq!(
            Repr::Query(Query::general(Version::V2, Duration::from_secs(10)))
                .to_bytes()
                .unwrap(),
            bytes
        );
    }

    #[test]
    fn golden_v2_report_and_leave() {
        // 0x16 report for 225.1.2.3: checksum = !(0x1600 + 0xe101 + 0x0203)
        let report = [0x16, 0, 0x06, 0xfb, 225, 1, 2, 3];
        assert_eq!(
            Repr::parse(&report).unwrap(),
            Repr::ReportV2 {
                group: g("225.1.2.3")
            }
        );
        let leave = Repr::Leave {
            group: g("225.1.2.3"),
        }
        .to_bytes()
        .unwrap();
        assert_eq!(leave[0], 0x17);
        assert_eq!(&leave[4..], &[225, 1, 2, 3]);
        let mut bad = report;
        bad[3] ^= 0xff;
        assert_eq!(Repr::parse(&bad), Err(WireError::BadChecksum));
    }

    #[test]
    fn golden_v3_report() {
        let mut bytes = vec![
            0x22, 0, 0, 0, // type 0x22, reserved, checksum (filled below)
            0, 0, 0, 2, // reserved, 2 group records
            4, 0, 0, 0, // CHANGE_TO_EXCLUDE, no aux, 0 sources
            239, 1, 1, 1, // group 239.1.1.1
            1, 1, 0, 1, // MODE_IS_INCLUDE, 1 word of aux, 1 source
            232, 1, 1, 1, // group 232.1.1.1
            192, 0, 2, 9, // source 192.0.2.9
            0xde, 0xad, 0xbe, 0xef, // aux data
        ];
        fill_checksum(&mut bytes);
        let r = Repr::parse(&bytes).unwrap();
        let Repr::ReportV3 { records } = &r else {
            panic!()
        };
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].record_type, RecordType::ChangeToExclude);
        assert_eq!(records[1].sources, vec![g("192.0.2.9")]);
        assert_eq!(records[1].aux, vec![0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(r.to_bytes().unwrap(), bytes);
        // A record count beyond the data is truncation, not a panic.
        bytes[7] = 200;
        fill_checksum(&mut bytes);
        assert!(matches!(
            Repr::parse(&bytes),
            Err(WireError::Truncated { .. })
        ));
    }

    #[test]
    fn version_detection_and_v3_query() {
        let v1 = Repr::Query(Query {
            version: Version::V1,
            max_resp_code: 0,
            group: Ipv4Addr::UNSPECIFIED,
            suppress: false,
            qrv: 0,
            qqic: 0,
            sources: vec![],
        });
        assert_eq!(Repr::parse(&v1.to_bytes().unwrap()).unwrap(), v1);
        let mut q = Query::general(Version::V3, Duration::from_secs(10));
        q.group = g("232.1.1.1");
        q.sources = vec![g("192.0.2.1"), g("198.51.100.1")];
        let b = Repr::Query(q.clone()).to_bytes().unwrap();
        assert_eq!(b.len(), 20);
        assert_eq!(b[8], 0x02); // S=0, QRV=2
        assert_eq!(b[9], 125); // QQIC
        assert_eq!(Repr::parse(&b).unwrap(), Repr::Query(q));
        // 9..11 bytes: a v3 query that is too short.
        let mut short = b[..10].to_vec();
        fill_checksum(&mut short);
        assert!(matches!(
            Repr::parse(&short),
            Err(WireError::Truncated { .. })
        ));
    }

    #[test]
    fn exp_codes() {
        assert_eq!(decode_exp_code(100), 100);
        assert_eq!(decode_exp_code(0x80), 128);
        assert_eq!(decode_exp_code(0xff), 31744);
        for v in [0u32, 5, 127, 128, 200, 1000, 31744] {
            let c = encode_exp_code(v);
            let d = decode_exp_code(c);
            assert!(d <= v && v - d < v / 8 + 1, "{v} -> {c} -> {d}");
        }
    }

    fn arb_addr() -> impl Strategy<Value = Ipv4Addr> {
        any::<u32>().prop_map(Ipv4Addr::from)
    }

    fn arb_repr() -> impl Strategy<Value = Repr> {
        let rec = (
            1u8..=8,
            arb_addr(),
            prop::collection::vec(arb_addr(), 0..4),
            prop::collection::vec(any::<[u8; 4]>(), 0..2),
        )
            .prop_map(|(t, group, sources, aux)| GroupRecord {
                record_type: RecordType::from_code(t),
                group,
                sources,
                aux: aux.concat(),
            });
        prop_oneof![
            arb_addr().prop_map(|group| Repr::ReportV1 { group }),
            arb_addr().prop_map(|group| Repr::ReportV2 { group }),
            arb_addr().prop_map(|group| Repr::Leave { group }),
            (1u8..=255, arb_addr()).prop_map(|(c, group)| Repr::Query(Query {
                version: Version::V2,
                max_resp_code: c,
                group,
                suppress: false,
                qrv: 0,
                qqic: 0,
                sources: vec![]
            })),
            (
                any::<u8>(),
                arb_addr(),
                any::<bool>(),
                0u8..8,
                any::<u8>(),
                prop::collection::vec(arb_addr(), 0..5)
            )
                .prop_map(|(c, group, suppress, qrv, qqic, sources)| Repr::Query(
                    Query {
                        version: Version::V3,
                        max_resp_code: c,
                        group,
                        suppress,
                        qrv,
                        qqic,
                        sources
                    }
                )),
            prop::collection::vec(rec, 0..4).prop_map(|records| Repr::ReportV3 { records }),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(r in arb_repr()) {
            let b = r.to_bytes().unwrap();
            prop_assert_eq!(b.len(), r.buffer_len());
            prop_assert_eq!(Repr::parse(&b).unwrap(), r);
        }

        #[test]
        fn never_panics(b in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = Repr::parse(&b);
            let mut fixed = b.clone();
            fill_checksum(&mut fixed);
            let _ = Repr::parse(&fixed);
        }
    }
}
