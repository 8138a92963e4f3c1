#![no_main]
//! The control-protocol decoder must reject any bytes without panicking. A value that
//! decodes re-encodes to the same bytes (the encoding is canonical); a request or response
//! that decodes re-encodes to a value that decodes to the same request or response. The
//! frame reader must split any stream, fed in any chunks, without panicking.

use libfuzzer_sys::fuzz_target;
use mcroute::ctl::wire::{decode_value, encode_frame, FrameReader, HEADER_LEN, MAX_REQUEST};
use mcroute::ctl::{Request, Response};

fn check_body(body: &[u8]) {
    let Ok(v) = decode_value(body) else {
        return;
    };
    let frame = encode_frame(&v);
    assert_eq!(
        &frame[HEADER_LEN..],
        body,
        "value encoding is not canonical"
    );
    if let Ok(req) = Request::from_value(&v) {
        let back = Request::from_value(&req.to_value()).expect("re-decode request");
        assert_eq!(req, back);
        let _ = req.to_string();
    }
    if let Ok(resp) = Response::from_value(&v) {
        let back = Response::from_value(&resp.to_value()).expect("re-decode response");
        assert_eq!(resp, back);
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
            match reader.next_body() {
                Ok(Some(body)) => check_body(&body),
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
    // Frames that encode a decoded value come out of the reader whole.
    if let Ok(v) = decode_value(stream) {
        let frame = encode_frame(&v);
        let mut r = FrameReader::new(usize::MAX);
        for b in frame.chunks(chunk) {
            r.extend(b);
        }
        assert_eq!(r.next_body().expect("valid frame").as_deref(), Some(stream));
        assert!(!r.has_partial());
    }
});
