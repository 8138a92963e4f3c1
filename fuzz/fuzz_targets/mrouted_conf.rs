#![no_main]
//! The mrouted.conf parser must take any text without panicking; a file that parses must
//! print to one that parses to the same AST (spans aside), and parse again after reflowing
//! (mrouted.conf is free-form: every token on its own line means the same).

use libfuzzer_sys::fuzz_target;
use mcroute::config::mrouted;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut conf = match mrouted::parse(&text) {
        Ok(c) => c,
        Err(errors) => {
            let _ = errors.to_string();
            return;
        }
    };
    let printed = conf.to_string();
    let mut again = match mrouted::parse(&printed) {
        Ok(c) => c,
        Err(e) => panic!("printed config does not parse:\n{e}\n--- printed ---\n{printed}"),
    };
    conf.erase_spans();
    again.erase_spans();
    assert_eq!(conf, again, "--- printed ---\n{printed}");
    let reflowed: String = printed
        .split_whitespace()
        .map(|w| format!("{w}\n"))
        .collect();
    let mut third = mrouted::parse(&reflowed).expect("reflowed config parses");
    third.erase_spans();
    assert_eq!(conf, third, "--- reflowed ---\n{reflowed}");
    // The derived settings must not panic.
    let _ = (conf.cache_lifetime(), conf.group_membership_interval());
    for p in &conf.phyints {
        for b in &p.options.boundaries {
            let _ = conf.resolve_boundary(&b.value);
        }
    }
});
