#![no_main]
//! The smcroute.conf parser must take any text without panicking, and what it parses must
//! print to a file that parses to the same AST (spans aside). That holds for the lines
//! that parsed in a file with errors too: the parser keeps them and drops the bad ones.

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mcroute::config::{smcroute, FileId};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (mut conf, errors) = smcroute::parse_source(&text, FileId(0), Path::new("fuzz.conf"));
    // Error messages must render.
    for e in &errors {
        let _ = e.to_string();
    }
    let printed = conf.to_string();
    let mut again = match smcroute::parse(&printed) {
        Ok(c) => c,
        Err(e) => panic!("printed config does not parse:\n{e}\n--- printed ---\n{printed}"),
    };
    conf.erase_spans();
    again.erase_spans();
    assert_eq!(conf, again, "--- printed ---\n{printed}");
    // Expanding joins is bounded by MAX_JOINS and must not panic.
    for d in &conf.directives {
        if let smcroute::Directive::Mgroup(m) = d {
            if let Ok(j) = m.joins() {
                assert!(j.len() as u64 <= smcroute::MAX_JOINS);
            }
        }
    }
});
