#![no_main]
//! The foreign control protocols (smcroutectl's and mroutectl's) must take any bytes without
//! panicking, on both sides. The first byte picks the protocol and the chunk size; the rest
//! is what a client sends, fed to a daemon-side session in chunks, and also what a daemon
//! answers, read by the client side. A message that decodes re-encodes to one that decodes
//! the same; an mrouted reply is always whole 768-byte messages.

use libfuzzer_sys::fuzz_target;
use mcroute::ctl::compat::mrouted::{self, MroutedProtocol};
use mcroute::ctl::compat::smcroute::{self, SmcrouteProtocol};
use mcroute::ctl::protocol::{Decoded, Protocol, MAX_INPUT};
use mcroute::ctl::{Request, Response, RouteTables, ShowWhat};

fn answer(req: &Request) -> Response {
    match req {
        Request::Show { .. } => Response::Routes(RouteTables::default()),
        Request::Version => Response::Version("fuzz".into()),
        Request::Add { .. } => Response::Error("no\nroute\0here".into()),
        _ => Response::Ok,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mrouted_side = sel & 1 == 1;
    let mut p: Box<dyn Protocol> = if mrouted_side {
        Box::new(MroutedProtocol::default())
    } else {
        Box::new(SmcrouteProtocol::default())
    };
    // As the server does: input arrives in chunks; decode from the unconsumed start, answer
    // each request (a show in two parts), stop when the protocol closes or fails.
    let chunk = usize::from(sel >> 1).max(1);
    let mut input: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    'feed: for part in rest.chunks(chunk) {
        input.extend_from_slice(part);
        loop {
            match p.decode(&input) {
                Decoded::Incomplete => {
                    if input.len() >= MAX_INPUT {
                        break 'feed;
                    }
                    break;
                }
                Decoded::Fatal(_) => break 'feed,
                Decoded::Reply { reply, used } => {
                    assert!(used <= input.len());
                    input.drain(..used);
                    p.encode(&reply, false, &mut out);
                }
                Decoded::Request { request, used } => {
                    assert!(used <= input.len());
                    input.drain(..used);
                    let r = answer(&request);
                    if matches!(r, Response::Routes(_)) {
                        p.encode(&r, true, &mut out);
                    }
                    p.encode(&r, false, &mut out);
                }
            }
            if p.close_after_reply() {
                break 'feed;
            }
        }
    }
    if mrouted_side {
        assert_eq!(out.len() % mrouted::MSG_LEN, 0);
    }
    if let Ok(Some((m, n))) = smcroute::decode_msg(rest) {
        assert!(n <= rest.len());
        let words: Vec<&str> = m.words.iter().map(String::as_str).collect();
        // Re-encoding adds the final NUL, which a message may lack: at most one byte more.
        match smcroute::encode_msg(m.cmd, &words) {
            Ok(again) => {
                assert!(again.len() <= n + 1);
                let (back, len) = smcroute::decode_msg(&again).unwrap().unwrap();
                assert_eq!((back, len), (m.clone(), again.len()));
            }
            Err(_) => assert_eq!(n, smcroute::MAX_MSG),
        }
        let _ = smcroute::to_request(&m);
    }
    if let Some(m) = mrouted::decode_msg(rest) {
        let again = mrouted::encode_msg(m.cmd, m.detail, &m.text);
        let back = mrouted::decode_msg(&again).unwrap();
        assert_eq!(back.cmd, m.cmd);
        let _ = mrouted::to_command(&m);
    }
    for what in [ShowWhat::Routes, ShowWhat::Groups, ShowWhat::Interfaces] {
        for detail in [false, true] {
            let _ = smcroute::decode_reply(&Request::Show { what, detail }, rest);
        }
    }
    let _ = smcroute::decode_reply(&Request::Flush, rest);
    let r = mrouted::decode_reply(rest);
    let _ = mrouted::reply_to_response(&Request::Version, &r);
});
