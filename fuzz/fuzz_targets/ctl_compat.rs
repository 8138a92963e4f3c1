#![no_main]
//! The foreign control protocols (smcroutectl's and mroutectl's) must take any bytes without
//! panicking, on both sides. The first byte picks the protocol and the chunk size; the rest
//! is what a client sends, fed to a daemon-side session in chunks, and also what a daemon
//! answers, read by the client side. A message that decodes re-encodes to one that decodes
//! the same; an mrouted reply is always whole 768-byte messages.

use libfuzzer_sys::fuzz_target;
use mcroute::ctl::compat::{mrouted, smcroute, Foreign, Session};
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
    let proto = if sel & 1 == 0 {
        Foreign::Smcroute
    } else {
        Foreign::Mrouted
    };
    let chunk = usize::from(sel >> 1).max(1);
    let mut s = Session::new(proto);
    for part in rest.chunks(chunk) {
        s.push(part);
        let step = s.serve(&mut answer);
        if proto == Foreign::Mrouted {
            assert_eq!(step.reply.len() % mrouted::MSG_LEN, 0);
        }
        if step.close {
            break;
        }
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
