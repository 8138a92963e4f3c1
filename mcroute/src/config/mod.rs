//! Configuration files: `smcroute.conf` (SMCRoute 2.5/2.6) and `mrouted.conf` (mrouted 3.9
//! and 4.x).
//!
//! Both parsers are pure functions of a `&str`: no I/O, no panics on any input, one pass over
//! the text. They return a typed AST in which every directive and every clause carries a
//! [`Span`] (file, line, column), and they collect **all** the errors of a file, not only the
//! first; each [`ConfigError`] names the file, line and column, the offending token and what
//! was expected:
//!
//! ```text
//! /etc/smcroute.conf:3:27: expected a multicast group after "group", found "192.0.2.1"
//! ```
//!
//! Reading files (and resolving `include` in smcroute.conf) is a separate step:
//! [`smcroute::load`] and [`mrouted::load`].
//!
//! Lines and columns are 1-based; a column counts bytes (a tab is one column). An error
//! about a whole file (it cannot be read) has line and column 0.

#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};

mod glob;
pub mod mrouted;
pub mod smcroute;

pub use glob::glob;

/// Identifies a source file within one load: an index into the loader's file list
/// ([`smcroute::Loaded::files`]). The pure parsers use whatever id the caller gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A position in a configuration file: the start of a directive, clause or token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    /// The file the position is in.
    pub file: FileId,
    /// The line, from 1 (0 for "the whole file").
    pub line: u32,
    /// The column in bytes, from 1 (0 for "the whole file").
    pub column: u32,
}

impl Span {
    /// A position in `file`.
    pub fn new(file: FileId, line: u32, column: u32) -> Span {
        Span { file, line, column }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A value of the AST with the position it was read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where the value was written (the start of its token).
    pub span: Span,
}

impl<T> Spanned<T> {
    /// A value at `span`.
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }

    /// A value with the default (empty) span, for ASTs built in code.
    pub fn unspanned(value: T) -> Spanned<T> {
        Spanned {
            value,
            span: Span::default(),
        }
    }
}

/// What stood where something else was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A token.
    Token(String),
    /// The end of the line (smcroute.conf is line based).
    EndOfLine,
    /// The end of the file (mrouted.conf is free-form).
    EndOfFile,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Token(t) => write!(f, "\"{}\"", t.escape_debug()),
            Found::EndOfLine => f.write_str("end of line"),
            Found::EndOfFile => f.write_str("end of file"),
        }
    }
}

/// What is wrong, without the position: the variants of a [`ConfigError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A word that is not a keyword where a keyword was expected. Keywords match exactly
    /// (smcroute matches prefixes: `groups` is `group` there); a near miss gets a suggestion.
    #[error("unknown {context} \"{}\"{}", .found.escape_debug(), Suggestion(*.suggestion))]
    UnknownKeyword {
        /// What kind of keyword was expected (`directive`, `mroute clause`, ...).
        context: &'static str,
        /// The word found.
        found: String,
        /// The keyword it most likely was meant to be.
        suggestion: Option<&'static str>,
    },
    /// A value or keyword is missing or malformed.
    #[error("expected {expected}{}, found {found}", After(.after))]
    Expected {
        /// What was expected (`a multicast group`).
        expected: &'static str,
        /// The keyword it should follow, quoted (`"group"`), or empty.
        after: &'static str,
        /// What was there instead.
        found: Found,
    },
    /// A number outside its range.
    #[error("{what} {value} is out of range ({min}-{max})")]
    OutOfRange {
        /// The setting (`ttl-threshold`).
        what: &'static str,
        /// The number as written.
        value: String,
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// A prefix length that is not a number or is longer than the address.
    #[error("invalid prefix length in \"{}\" (expected 0-{max})", .token.escape_debug())]
    PrefixLength {
        /// The prefix as written.
        token: String,
        /// The address length of its family (32 or 128).
        max: u8,
    },
    /// A group range that reaches outside the multicast addresses (224.0.0.0/4, ff00::/8).
    #[error("group range \"{}\" extends beyond the multicast range", .token.escape_debug())]
    GroupRangeNotMulticast {
        /// The range as written.
        token: String,
    },
    /// A multicast address given as a source.
    #[error("source \"{}\" is a multicast address", .token.escape_debug())]
    MulticastSource {
        /// The source as written.
        token: String,
    },
    /// A source of one family and a group of the other.
    #[error("source \"{}\" and group \"{}\" are of different address families", .source_token.escape_debug(), .group_token.escape_debug())]
    FamilyMismatch {
        /// The source as written.
        source_token: String,
        /// The group as written.
        group_token: String,
    },
    /// A clause given twice in one directive.
    #[error(
        "\"{keyword}\" is given more than once (first at line {first_line}, column {first_column})"
    )]
    Duplicate {
        /// The clause's keyword.
        keyword: String,
        /// Line of the first occurrence.
        first_line: u32,
        /// Column of the first occurrence.
        first_column: u32,
    },
    /// Two clauses that exclude each other (`enable` and `disable`, `igmpv2` and `igmpv3`).
    #[error("\"{keyword}\" conflicts with \"{previous}\" given before")]
    Conflict {
        /// The later keyword.
        keyword: String,
        /// The earlier one.
        previous: String,
    },
    /// A clause that the directive does not take.
    #[error("\"{keyword}\" is not allowed in {directive}")]
    NotAllowed {
        /// The clause's keyword.
        keyword: String,
        /// Where it was found (`mgroup`, `a tunnel`).
        directive: &'static str,
    },
    /// A required clause is missing.
    #[error("{directive} is missing {what}")]
    Missing {
        /// The directive (`mroute`).
        directive: &'static str,
        /// The missing clause (`"group GROUP"`).
        what: &'static str,
    },
    /// More outbound interfaces on one line than a kernel has VIFs.
    #[error("more than {max} outbound interfaces")]
    TooManyOifs {
        /// The limit ([`smcroute::MAX_OIFS`]).
        max: usize,
    },
    /// An interface name the kernel cannot have.
    #[error("invalid interface name \"{}\": {reason}", .name.escape_debug())]
    InvalidInterface {
        /// The name as written.
        name: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// An `mgroup` range that expands to too many joins.
    #[error("{directive} range expands to {} joins, more than the limit of {max}", Pow2(*.joins_log2))]
    TooManyJoins {
        /// The directive (`mgroup`).
        directive: &'static str,
        /// The number of joins is `2^joins_log2`.
        joins_log2: u32,
        /// The limit.
        max: u64,
    },
    /// A `boundary` naming no `name` definition.
    #[error("unknown boundary name \"{}\" (define it with \"name {} 239.x.x.x/len\")", .name.escape_debug(), .name.escape_debug())]
    UnknownBoundary {
        /// The name used.
        name: String,
    },
    /// A boundary `name` defined twice.
    #[error("boundary name \"{}\" is already defined at line {first_line}", .name.escape_debug())]
    DuplicateName {
        /// The name.
        name: String,
        /// Line of the first definition.
        first_line: u32,
    },
    /// A boundary outside the administratively scoped range, as mrouted requires.
    #[error("boundary \"{}\" is not within the administratively scoped range 239.0.0.0/8", .token.escape_debug())]
    BoundaryNotScoped {
        /// The boundary as written.
        token: String,
    },
    /// `accept` and `deny` on one interface.
    #[error("cannot both accept and deny routes on one interface")]
    AcceptAndDeny,
    /// `bidir` before any `accept` or `deny`.
    #[error("\"bidir\" must follow an accept or deny filter")]
    BidirWithoutFilter,
    /// A file includes itself, directly or through others.
    #[error("include loop: \"{}\" is already being read", .path.display())]
    IncludeLoop {
        /// The file included again.
        path: PathBuf,
    },
    /// An explicit (non-glob) include of a file that does not exist.
    #[error("included file \"{}\" does not exist", .path.display())]
    IncludeMissing {
        /// The path.
        path: PathBuf,
    },
    /// A file could not be read (or a directory listed while expanding a glob).
    #[error("cannot read \"{}\": {message}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The kind of the I/O error.
        kind: std::io::ErrorKind,
        /// The I/O error's text.
        message: String,
    },
}

struct Suggestion(Option<&'static str>);

impl fmt::Display for Suggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, " (did you mean \"{s}\"?)"),
            None => Ok(()),
        }
    }
}

struct After<'a>(&'a str);

impl fmt::Display for After<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, " after {}", self.0)
        }
    }
}

struct Pow2(u32);

impl fmt::Display for Pow2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 64 {
            write!(f, "{}", 1u64 << self.0)
        } else {
            write!(f, "2^{}", self.0)
        }
    }
}

/// An error in a configuration file, with its position.
///
/// `Display` gives `FILE:LINE:COLUMN: MESSAGE`, or `FILE: MESSAGE` for errors about a whole
/// file (line 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{kind}", Location(.file, *.line, *.column))]
pub struct ConfigError {
    /// The file, as given to the parser or loader.
    pub file: PathBuf,
    /// The line, from 1 (0: the whole file).
    pub line: u32,
    /// The column in bytes, from 1 (0: the whole file).
    pub column: u32,
    /// What is wrong.
    pub kind: ErrorKind,
}

struct Location<'a>(&'a Path, u32, u32);

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 == 0 {
            write!(f, "{}: ", self.0.display())
        } else {
            write!(f, "{}:{}:{}: ", self.0.display(), self.1, self.2)
        }
    }
}

impl ConfigError {
    /// An error at `line`:`column` of `file`.
    pub fn new(file: impl Into<PathBuf>, line: u32, column: u32, kind: ErrorKind) -> ConfigError {
        ConfigError {
            file: file.into(),
            line,
            column,
            kind,
        }
    }
}

/// All the errors of a parse or load, in file order (`Display` prints one per line).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// The number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// The default name of text parsed without a file (`parse(text)`).
pub const INPUT_NAME: &str = "<input>";

// ---------------------------------------------------------------------------------------------
// Lexical helpers shared by both parsers.

/// `isspace()` in the C locale: what both daemons split tokens on.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The longest interface name Linux and the BSDs accept (`IFNAMSIZ - 1`).
pub const IFNAME_MAX: usize = crate::model::MAX_IFNAME_LEN;

pub(crate) use crate::model::check_ifname;

/// Parses a decimal number: digits only (no sign, no spaces), at most 20 of them.
pub(crate) fn parse_decimal(token: &str) -> Option<u64> {
    if token.is_empty() || token.len() > 19 || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// The keyword `candidates` that `found` most likely was meant to be: one `found` starts
/// with (smcroute's prefix match), or one within edit distance 2.
pub(crate) fn suggest(found: &str, candidates: &[&'static str]) -> Option<&'static str> {
    if found.len() > 64 {
        return None;
    }
    if let Some(c) = candidates
        .iter()
        .filter(|c| found.starts_with(**c))
        .max_by_key(|c| c.len())
    {
        return Some(c);
    }
    let mut best: Option<(usize, &'static str)> = None;
    for &c in candidates {
        let d = edit_distance(found.as_bytes(), c.as_bytes());
        let limit = if c.len() <= 3 { 1 } else { 2 };
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance (both inputs are short: keywords and words up to 64 bytes).
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let k = &["phyint", "mgroup", "mroute", "include", "ssmgroup"];
        assert_eq!(suggest("mroutexyz", k), Some("mroute"));
        assert_eq!(suggest("mrote", k), Some("mroute"));
        assert_eq!(suggest("phyin", k), Some("phyint"));
        assert_eq!(suggest("frobnicate", k), None);
        assert_eq!(suggest("", k), None);
        assert_eq!(suggest("to", &["to", "group"]), Some("to"));
        assert_eq!(suggest("tx", &["to", "group"]), Some("to"));
        assert_eq!(suggest("xy", &["to"]), None);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        assert_eq!(edit_distance(b"", b"abc"), 3);
        assert_eq!(edit_distance(b"abc", b"abc"), 0);
    }

    #[test]
    fn ifnames() {
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("eth0:1").is_ok());
        assert_eq!(check_ifname(""), Err("empty name"));
        assert_eq!(
            check_ifname("0123456789abcdef"),
            Err("longer than 15 bytes")
        );
        assert!(check_ifname("0123456789abcde").is_ok());
        assert_eq!(check_ifname("a/b"), Err("contains \"/\""));
        assert_eq!(check_ifname("#x"), Err("starts with \"#\""));
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("0"), Some(0));
        assert_eq!(parse_decimal("255"), Some(255));
        assert_eq!(parse_decimal("+1"), None);
        assert_eq!(parse_decimal("-1"), None);
        assert_eq!(parse_decimal("1x"), None);
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("99999999999999999999999"), None);
    }

    #[test]
    fn error_display() {
        let e = ConfigError::new(
            "/etc/smcroute.conf",
            3,
            27,
            ErrorKind::Expected {
                expected: "a multicast group",
                after: "\"group\"",
                found: Found::Token("192.0.2.1".into()),
            },
        );
        assert_eq!(
            e.to_string(),
            "/etc/smcroute.conf:3:27: expected a multicast group after \"group\", found \"192.0.2.1\""
        );
        let e = ConfigError::new(
            "a.conf",
            0,
            0,
            ErrorKind::Io {
                path: "a.conf".into(),
                kind: std::io::ErrorKind::NotFound,
                message: "No such file".into(),
            },
        );
        assert_eq!(
            e.to_string(),
            "a.conf: cannot read \"a.conf\": No such file"
        );
        let errs = ConfigErrors(vec![e.clone(), e]);
        assert_eq!(errs.to_string().lines().count(), 2);
        assert_eq!(errs.len(), 2);
    }

    #[test]
    fn pow2_display() {
        assert_eq!(Pow2(16).to_string(), "65536");
        assert_eq!(Pow2(70).to_string(), "2^70");
    }
}
