#![no_main]
//! The DVMRP decoder must accept or reject any bytes without panicking; what it accepts must
//! encode to bytes that decode to the same message, and the routes of a report must survive
//! `report_messages` (split into 516-byte messages, sorted, deduplicated).

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use mcroute::wire::dvmrp::{self, report_messages, Body, Capabilities};

fuzz_target!(|data: &[u8]| {
    let _ = dvmrp::Repr::parse(data);
    // The same bytes as a DVMRP message with a correct checksum, to get past the checks.
    let mut fixed = data.to_vec();
    if fixed.len() >= 4 {
        fixed[0] = dvmrp::IGMP_TYPE_DVMRP;
        fixed[2] = 0;
        fixed[3] = 0;
        let c = mcroute::wire::checksum::checksum(&fixed);
        fixed[2..4].copy_from_slice(&c.to_be_bytes());
    }
    for bytes in [data, &fixed[..]] {
        let Ok(repr) = dvmrp::Repr::parse(bytes) else {
            continue;
        };
        let out = repr.to_bytes().expect("a decoded message encodes");
        assert_eq!(out.len(), repr.buffer_len());
        let again = dvmrp::Repr::parse(&out).expect("re-decode");
        assert_eq!(repr, again);
        if let Body::Report { routes } = &repr.body {
            let want: BTreeSet<_> = routes.iter().map(|r| r.origin).collect();
            let msgs = report_messages(Capabilities::MROUTED, routes, dvmrp::MAX_MESSAGE_LEN)
                .expect("report_messages");
            let mut got = BTreeSet::new();
            for m in &msgs {
                assert!(m.len() <= dvmrp::MAX_MESSAGE_LEN);
                match dvmrp::Repr::parse(m).expect("report message decodes").body {
                    Body::Report { routes } => got.extend(routes.iter().map(|r| r.origin)),
                    other => panic!("not a report: {other:?}"),
                }
            }
            assert_eq!(want, got);
        }
    }
});
