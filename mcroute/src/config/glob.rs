//! A small `glob(3)` over directory listings, for `include` in smcroute.conf.
//!
//! Written by hand rather than wrapping `libc::glob` so that the config layer has no unsafe
//! code and behaves the same on every platform. It supports what glob(3) with flags 0 does
//! for configuration paths: `*`, `?`, `[...]` (with `!` or `^` to negate and `a-z` ranges),
//! `\` to escape, wildcards in any path component, a leading `.` matched only explicitly,
//! and results sorted by their bytes (as glob(3) sorts in the C locale).

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Whether `pattern` contains a glob metacharacter (`*`, `?`, `[`) that is not escaped.
pub(crate) fn has_magic(pattern: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = pattern.get(i) {
        match b {
            b'\\' => i += 2,
            b'*' | b'?' | b'[' => return true,
            _ => i += 1,
        }
    }
    false
}

fn unescape(component: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(component.len());
    let mut i = 0;
    while let Some(&b) = component.get(i) {
        if b == b'\\' {
            if let Some(&next) = component.get(i + 1) {
                out.push(next);
                i += 2;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Expands `pattern` like `glob(3)` with flags 0: the existing paths that match, sorted.
/// No match is an empty list, not an error. A relative pattern is relative to the current
/// directory. Directories that do not exist are skipped; other errors listing a directory
/// are returned.
///
/// ```
/// let none = mcroute::config::glob(std::path::Path::new("/nonexistent-dir-8f3a/*.conf")).unwrap();
/// assert!(none.is_empty());
/// ```
pub fn glob(pattern: &Path) -> io::Result<Vec<PathBuf>> {
    let bytes = pattern.as_os_str().as_bytes();
    let absolute = bytes.first() == Some(&b'/');
    let mut current: Vec<PathBuf> = vec![if absolute {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    let components: Vec<&[u8]> = bytes
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let mut last_literal = true;
    for component in &components {
        let mut next = Vec::new();
        if has_magic(component) {
            last_literal = false;
            for dir in &current {
                let listing = if dir.as_os_str().is_empty() {
                    fs::read_dir(".")
                } else {
                    fs::read_dir(dir)
                };
                let entries = match listing {
                    Ok(entries) => entries,
                    Err(e) if skippable(&e) => continue,
                    Err(e) => return Err(e),
                };
                for entry in entries {
                    let entry = entry?;
                    let name = entry.file_name();
                    if fnmatch(component, name.as_bytes()) {
                        next.push(dir.join(&name));
                    }
                }
            }
        } else {
            last_literal = true;
            let name = OsString::from_vec(unescape(component));
            for dir in current {
                next.push(dir.join(&name));
            }
        }
        current = next;
        if current.is_empty() {
            break;
        }
    }
    if components.is_empty() {
        // "/" or "": nothing to expand.
        current.retain(|p| !p.as_os_str().is_empty());
    }
    if last_literal {
        // Literal tail components: keep only what exists (glob(3) checks with lstat).
        current.retain(|p| fs::symlink_metadata(p).is_ok());
    }
    current.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    Ok(current)
}

fn skippable(e: &io::Error) -> bool {
    // ENOTDIR has a stable ErrorKind only in newer Rust; check the raw errno too.
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// Whether file name `name` matches the pattern component `pattern` (`fnmatch(3)` with
/// `FNM_PERIOD`: a leading `.` must be matched by a literal `.`).
pub(crate) fn fnmatch(pattern: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') {
        let starts_with_dot = match pattern.first() {
            Some(b'.') => true,
            Some(b'\\') => pattern.get(1) == Some(&b'.'),
            _ => false,
        };
        if !starts_with_dot {
            return false;
        }
    }
    // Iterative matching with one backtrack point for the last `*`: O(len(p) * len(n)).
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(&pc) = pattern.get(p) {
            match pc {
                b'*' => {
                    star = Some((p + 1, n));
                    p += 1;
                    continue;
                }
                b'?' => {
                    if n < name.len() {
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
                b'[' => {
                    if let Some(&nc) = name.get(n) {
                        match bracket(pattern, p + 1, nc) {
                            Some((true, after)) => {
                                p = after;
                                n += 1;
                                continue;
                            }
                            Some((false, _)) => {}
                            None => {
                                // No closing bracket: `[` is literal.
                                if nc == b'[' {
                                    p += 1;
                                    n += 1;
                                    continue;
                                }
                            }
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if name.get(n) == pattern.get(p + 1) {
                        p += 2;
                        n += 1;
                        continue;
                    }
                }
                _ => {
                    if name.get(n) == Some(&pc) {
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
            }
        } else if n == name.len() {
            return true;
        }
        // Mismatch: let the last `*` swallow one more byte, if there is one.
        match star {
            Some((sp, sn)) if sn < name.len() => {
                star = Some((sp, sn + 1));
                p = sp;
                n = sn + 1;
            }
            _ => return false,
        }
    }
}

/// Matches byte `c` against the bracket expression starting at `pattern[start]` (just after
/// the `[`). Returns whether it matched and the index after the closing `]`, or `None` if
/// the expression is not closed.
fn bracket(pattern: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start;
    let negate = matches!(pattern.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let mut lo = *pattern.get(i)?;
        if lo == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if lo == b'\\' {
            i += 1;
            lo = *pattern.get(i)?;
        }
        i += 1;
        let mut hi = lo;
        if pattern.get(i) == Some(&b'-') && pattern.get(i + 1).is_some_and(|&b| b != b']') {
            i += 1;
            hi = *pattern.get(i)?;
            if hi == b'\\' {
                i += 1;
                hi = *pattern.get(i)?;
            }
            i += 1;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher() {
        assert!(fnmatch(b"*.conf", b"a.conf"));
        assert!(!fnmatch(b"*.conf", b"a.conf~"));
        assert!(!fnmatch(b"*.conf", b".a.conf"));
        assert!(fnmatch(b".*.conf", b".a.conf"));
        assert!(fnmatch(b"\\.*", b".x"));
        assert!(fnmatch(b"?.conf", b"a.conf"));
        assert!(!fnmatch(b"?.conf", b"ab.conf"));
        assert!(fnmatch(b"[ab].conf", b"b.conf"));
        assert!(!fnmatch(b"[ab].conf", b"c.conf"));
        assert!(fnmatch(b"[!ab].conf", b"c.conf"));
        assert!(fnmatch(b"[^ab].conf", b"c.conf"));
        assert!(!fnmatch(b"[!ab].conf", b"a.conf"));
        assert!(fnmatch(b"[0-9][0-9]-*", b"00-phyint.conf"));
        assert!(!fnmatch(b"[0-9][0-9]-*", b"x0-phyint.conf"));
        assert!(fnmatch(b"[]]", b"]"));
        assert!(fnmatch(b"[a-]", b"-"));
        assert!(fnmatch(b"[", b"["));
        assert!(fnmatch(b"a[b", b"a[b"));
        assert!(fnmatch(b"\\*", b"*"));
        assert!(!fnmatch(b"\\*", b"x"));
        assert!(fnmatch(b"*", b"anything"));
        assert!(fnmatch(b"a*b*c", b"axxbyyc"));
        assert!(!fnmatch(b"a*b*c", b"axxbyy"));
        assert!(fnmatch(b"**", b""));
        assert!(!fnmatch(b"", b"x"));
        assert!(fnmatch(b"", b""));
        assert!(has_magic(b"*.conf"));
        assert!(!has_magic(b"\\*.conf"));
        assert!(!has_magic(b"plain"));
    }

    #[test]
    fn matcher_never_panics_on_odd_patterns() {
        for p in [
            &b"[!"[..],
            b"[\\",
            b"[a-",
            b"[a-\\",
            b"\\",
            b"[]",
            b"[!]",
            b"*[",
            b"?*?[",
        ] {
            for n in [&b""[..], b"a", b"[", b"]", b"-", b"\\"] {
                let _ = fnmatch(p, n);
            }
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "mcroute-glob-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn glob_over_directories() {
        let dir = temp_dir("walk");
        for f in ["b.conf", "a.conf", "10.conf", ".hidden.conf", "c.txt"] {
            fs::write(dir.join(f), "").unwrap();
        }
        fs::create_dir(dir.join("sub")).unwrap();
        fs::create_dir(dir.join("sub2")).unwrap();
        fs::write(dir.join("sub/d.conf"), "").unwrap();
        fs::write(dir.join("sub2/d.conf"), "").unwrap();
        let names = |pat: &str| -> Vec<String> {
            glob(&dir.join(pat))
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(names("*.conf"), ["10.conf", "a.conf", "b.conf"]);
        assert_eq!(names("[ab].conf"), ["a.conf", "b.conf"]);
        assert_eq!(names("?.conf"), ["a.conf", "b.conf"]);
        assert_eq!(names(".*.conf"), [".hidden.conf"]);
        assert_eq!(names("*/d.conf"), ["sub/d.conf", "sub2/d.conf"]);
        assert_eq!(names("sub*/*"), ["sub/d.conf", "sub2/d.conf"]);
        assert_eq!(names("*/nothere"), Vec::<String>::new());
        assert_eq!(names("*.none"), Vec::<String>::new());
        assert_eq!(names("a.conf"), ["a.conf"]);
        assert_eq!(names("zz.conf"), Vec::<String>::new());
        assert!(glob(&dir.join("nodir/*.conf")).unwrap().is_empty());
        // A file used as a directory is skipped, as glob(3) does.
        assert!(glob(&dir.join("a.conf/*")).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
