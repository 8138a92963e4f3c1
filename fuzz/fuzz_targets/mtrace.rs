#![no_main]
//! The mtrace decoder must accept or reject any bytes without panicking; what it accepts
//! must encode to a message of the same length that decodes to the same thing.

use libfuzzer_sys::fuzz_target;
use mcroute::wire::mtrace;

fuzz_target!(|data: &[u8]| {
    let _ = mtrace::Repr::parse(data);
    // The same bytes as an mtrace query with a correct checksum, to get past the checks.
    let mut fixed = data.to_vec();
    if fixed.len() >= 4 {
        fixed[0] = mtrace::TYPE_QUERY;
        fixed[2] = 0;
        fixed[3] = 0;
        let c = mcroute::wire::checksum::checksum(&fixed);
        fixed[2..4].copy_from_slice(&c.to_be_bytes());
    }
    for bytes in [data, &fixed[..]] {
        let Ok(repr) = mtrace::Repr::parse(bytes) else {
            continue;
        };
        let out = repr.to_bytes().expect("a decoded message encodes");
        assert_eq!(out.len(), bytes.len());
        assert_eq!(mtrace::Repr::parse(&out).expect("re-decode"), repr);
    }
});
