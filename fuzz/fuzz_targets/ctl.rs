#![no_main]
//! The control protocol must reject any bytes without panicking: the request and reply
//! decoders on any body, the frame reader on any stream fed in any chunks, and the native
//! protocol's decoder as the server drives it. A request or reply that decodes re-encodes to
//! a frame that decodes to the same value; a reply can be rendered, and cut into parts that
//! join back to it.

use libfuzzer_sys::fuzz_target;
use mcroute::ctl::parts::Parts;
use mcroute::ctl::protocol::{Decoded, Native, Protocol};
use mcroute::ctl::render::{self, Style};
use mcroute::ctl::wire::{self, FrameReader, HEADER_LEN, MAX_REQUEST, MAX_RESPONSE};

fn check_reply(resp: &mcroute::ctl::Response) {
    for more in [false, true] {
        let mut f = Vec::new();
        wire::encode_response(resp, more, &mut f);
        let mut r = FrameReader::new(MAX_RESPONSE);
        r.extend(&f);
        let frame = r.next_frame().expect("valid frame").expect("whole frame");
        assert_eq!(frame.more, more);
        assert_eq!(&wire::decode_response(frame.body).expect("re-decode"), resp);
    }
    let _ = render::human(resp, Style::default());
    let _ = render::json(resp);
    let mut parts = Parts::new(resp.clone());
    let (mut whole, mut last) = parts.next(3).expect("a first part");
    while !last {
        let (p, l) = parts.next(3).expect("parts until the last");
        whole.append(p).expect("parts of one kind");
        last = l;
    }
    assert_eq!(&whole, resp);
}

fn check_body(body: &[u8]) {
    if let Ok(req) = wire::decode_request(body) {
        let mut f = Vec::new();
        wire::encode_request(&req, &mut f);
        assert_eq!(wire::decode_request(&f[HEADER_LEN..]).expect("re-decode"), req);
        let _ = req.to_string();
    }
    if let Ok(resp) = wire::decode_response(body) {
        check_reply(&resp);
    }
}

fuzz_target!(|data: &[u8]| {
    // The whole input as a body.
    check_body(data);
    // The input as a stream: the first byte sets the chunk size.
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut reader = FrameReader::new(MAX_REQUEST);
    'feed: for part in stream.chunks(chunk) {
        reader.extend(part);
        loop {
            match reader.next_frame() {
                Ok(Some(f)) => check_body(f.body),
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    assert!(reader.moved() <= stream.len() as u64);
    // The server's decoder: every message it accepts is consumed, within the input.
    let mut native = Native;
    let mut at = 0;
    while at < stream.len() {
        match native.decode(&stream[at..]) {
            Decoded::Request { used, .. } | Decoded::Reply { used, .. } => {
                assert!(used >= HEADER_LEN && at + used <= stream.len());
                at += used;
            }
            Decoded::Incomplete | Decoded::Fatal(_) => break,
        }
    }
});
