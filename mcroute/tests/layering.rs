//! Keeps the line between mcroute's sans-IO core and its I/O layer (see `lib.rs`).
//!
//! The core (`model.rs`, `wire/`, `config/`, `engine/`) must not reach the system: no
//! `sys`, `platform`, `router`, `service`, no `unsafe`, no threads and no clock. Test code
//! (`tests.rs` files and `#[cfg(test)]` modules) may drive engines over the fake kernel and
//! read the clock, so it is left out. This test reads the source and fails on the first
//! line that crosses the line, naming file and line.

use std::fs;
use std::path::{Path, PathBuf};

const CORE: &[&str] = &["model.rs", "wire", "config", "engine"];

const FORBIDDEN: &[&str] = &[
    "crate::sys",
    "crate::platform",
    "crate::router",
    "crate::service",
    "crate::link",
    "crate::stream",
    "crate::ctl::server",
    "crate::daemon",
    "mcroute::platform",
    "mcroute::router",
    "mcroute::service",
    "unsafe ",
    "unsafe{",
    "std::thread",
    "thread::spawn",
    "thread::scope",
    "Instant::now",
    "SystemTime::now",
    "std::net::UdpSocket",
    "std::os::fd",
    "libc::socket",
    "nix::",
];

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for e in entries {
            rust_files(&e, out);
        }
    } else if p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_path_buf());
    }
}

/// The lines of `text` that are library code: a `#[cfg(test)]` item and everything after
/// it is cut (test modules sit at the end of a file by convention here), as are comments.
fn library_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| {
            let t = l.trim_start();
            !(t.starts_with("//") || t.starts_with("/*") || t.starts_with('*'))
        })
}

/// Whether `code` holds `word` not as the tail of a longer name (`unix::` is not `nix::`).
fn contains_word(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        !code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn violations() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for c in CORE {
        rust_files(&src.join(c), &mut files);
    }
    assert!(files.len() > 20, "found only {} core files", files.len());
    let mut found = Vec::new();
    for f in files {
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = fs::read_to_string(&f).unwrap();
        for (n, line) in library_lines(&text) {
            // String literals may mention anything; only code counts.
            let code = line.split('"').step_by(2).collect::<String>();
            for bad in FORBIDDEN {
                if contains_word(&code, bad) {
                    found.push(format!(
                        "{}:{n}: `{bad}` in the sans-IO core: {}",
                        f.display(),
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn sans_io_core_reaches_no_io() {
    let v = violations();
    assert!(
        v.is_empty(),
        "the sans-IO core crosses into the I/O layer:\n{}",
        v.join("\n")
    );
}

#[test]
fn core_modules_forbid_unsafe_code() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for root in ["model.rs", "wire/mod.rs", "config/mod.rs", "engine/mod.rs"] {
        let text = fs::read_to_string(src.join(root)).unwrap();
        assert!(
            text.contains("#![forbid(unsafe_code)]"),
            "{root} must say #![forbid(unsafe_code)]"
        );
    }
}

#[test]
fn the_checker_catches_a_crossing() {
    // The checker itself must be able to fail: a core-like text with a crossing is caught,
    // the same text in a test module or a comment is not.
    let text = "use crate::router::Router;\n// crate::sys in a comment\n#[cfg(test)]\nmod tests { use crate::sys; }\n";
    let hits: Vec<_> = library_lines(text)
        .filter(|(_, l)| FORBIDDEN.iter().any(|b| contains_word(l, b)))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(hits, vec![1]);
    assert!(contains_word("x = nix::y", "nix::"));
    assert!(!contains_word("use std::os::unix::ffi", "nix::"));
}
