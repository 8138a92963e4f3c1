#![no_main]
//! The IGMP decoder must accept or reject any bytes without panicking; what it accepts must
//! encode to bytes that decode to the same message. The querier must take the same bytes.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use mcroute::engine::igmp::{Querier, QuerierConfig};
use mcroute::wire::{igmp, Message};

fuzz_target!(|data: &[u8]| {
    let _ = Message::parse(data);
    // Also try the bytes with a correct checksum, to get past it.
    let mut fixed = data.to_vec();
    if fixed.len() >= 4 {
        fixed[2] = 0;
        fixed[3] = 0;
        let c = mcroute::wire::checksum::checksum(&fixed);
        fixed[2..4].copy_from_slice(&c.to_be_bytes());
    }
    for bytes in [data, &fixed[..]] {
        if let Ok(repr) = igmp::Repr::parse(bytes) {
            let out = repr.to_bytes().expect("a decoded message encodes");
            assert_eq!(out.len(), repr.buffer_len());
            let again = igmp::Repr::parse(&out).expect("re-decode");
            assert_eq!(repr, again);
        }
        let t0 = Instant::now();
        let mut q = Querier::new(QuerierConfig::new(Ipv4Addr::new(192, 0, 2, 1)));
        q.start(t0);
        q.handle_packet(t0, Ipv4Addr::new(192, 0, 2, 9), bytes);
        q.handle_packet(t0, Ipv4Addr::new(192, 0, 2, 0), bytes);
        q.handle_timeout(t0 + Duration::from_secs(300));
        while q.poll_transmit().is_some() {}
        while q.poll_event().is_some() {}
    }
});
