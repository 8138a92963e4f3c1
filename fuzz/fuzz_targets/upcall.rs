#![no_main]
//! The upcall decoders must accept or reject any bytes without panicking, and what they
//! accept must encode back to the same header.

use libfuzzer_sys::fuzz_target;
use mcroute::wire::upcall::{decode_v4, decode_v6, Layout};

fuzz_target!(|data: &[u8]| {
    for layout in [Layout::Linux, Layout::FreeBsd] {
        if let Ok(u) = decode_v4(data, layout) {
            let again = decode_v4(&u.encode(layout), layout).expect("re-decode");
            assert_eq!(u, again);
        }
        if let Ok(u) = decode_v6(data, layout) {
            let again = decode_v6(&u.encode(layout), layout).expect("re-decode");
            assert_eq!(u, again);
        }
    }
});
