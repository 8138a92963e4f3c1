#![no_main]
//! The Multicast Router Discovery decoder must accept or reject any bytes without
//! panicking, what it accepts must encode back to an equal message, and the engine must
//! take any bytes as a received message.

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use mcroute::engine::mrdisc::{MrdiscConfig, MrdiscEngine, Repr};
use mcroute::Family;

fuzz_target!(|data: &[u8]| {
    for family in [Family::V4, Family::V6] {
        if let Ok(r) = Repr::parse(family, data) {
            assert_eq!(Repr::parse(family, &r.to_bytes(family)), Ok(r));
        }
        let now = Instant::now();
        let mut e = MrdiscEngine::with_seed(MrdiscConfig::default(), 1);
        e.enable(now, family, 1);
        let _ = e.handle_packet(now, family, 1, data);
        e.handle_timeout(now);
    }
});
