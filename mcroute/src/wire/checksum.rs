//! The Internet checksum (RFC 1071) that IGMP and DVMRP messages carry.
//!
//! IGMP (RFC 2236 section 2.3, RFC 3376 section 4.1.2) and DVMRP
//! (draft-ietf-idmr-dvmrp-v3-11 section 3.1) use the 16-bit one's complement of the one's
//! complement sum of the whole message, computed with the checksum field set to zero.

/// The one's complement sum of `data` folded to 16 bits (not yet complemented).
fn sum(data: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum to put in a message whose checksum field is zero.
///
/// ```
/// use mcroute::wire::checksum::checksum;
/// // An IGMPv2 general query with max response time 10 s.
/// let msg = [0x11, 100, 0, 0, 0, 0, 0, 0];
/// assert_eq!(checksum(&msg), 0xee9b);
/// ```
pub fn checksum(data: &[u8]) -> u16 {
    !sum(data)
}

/// Whether `data` (checksum field included) has a valid checksum.
pub fn verify(data: &[u8]) -> bool {
    sum(data) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_length_and_verify() {
        let mut msg = vec![0x13, 0x01, 0, 0, 0x00, 0x0e, 0xff, 0x03, 0xab];
        let c = checksum(&msg);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        assert!(verify(&msg));
        msg[8] ^= 1;
        assert!(!verify(&msg));
    }

    #[test]
    fn empty_is_not_valid() {
        // A sum of zero words complements to 0xffff; verification needs the sum to be 0xffff.
        assert_eq!(checksum(&[]), 0xffff);
        assert!(!verify(&[]));
    }
}
