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
//!
//! # Hostile files
//!
//! The loaders read only regular files (a FIFO, a device, a directory or a socket is refused
//! without blocking on it) of at most [`MAX_FILE_SIZE`] bytes, and only UTF-8: a byte that
//! is not is an error at its `file:line:column` ([`ErrorKind::InvalidUtf8`]), never a
//! U+FFFD that could end up in an interface name. Error messages quote at most
//! [`MAX_QUOTED`] characters of a token, with control characters escaped, and a file
//! gives at most [`MAX_ERRORS`] errors plus one line counting the rest.

#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::fmt;
use std::fs;
use std::io::{self, Read as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

mod glob;
pub mod mrouted;
pub mod smcroute;
mod source;

pub use glob::glob;
pub use source::{FileSystem, Recorder, Replay, Source, Transcript};

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
            Found::Token(t) => write!(f, "\"{}\"", Cut(t)),
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
    #[error("unknown {context} \"{}\"{}", Cut(.found), Suggestion(*.suggestion))]
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
    #[error("{what} {} is out of range ({min}-{max})", Cut(.value))]
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
    #[error("invalid prefix length in \"{}\" (expected 0-{max})", Cut(.token))]
    PrefixLength {
        /// The prefix as written.
        token: String,
        /// The address length of its family (32 or 128).
        max: u8,
    },
    /// A group range that reaches outside the multicast addresses (224.0.0.0/4, ff00::/8).
    #[error("group range \"{}\" extends beyond the multicast range", Cut(.token))]
    GroupRangeNotMulticast {
        /// The range as written.
        token: String,
    },
    /// A multicast address given as a source.
    #[error("source \"{}\" is a multicast address", Cut(.token))]
    MulticastSource {
        /// The source as written.
        token: String,
    },
    /// A source of one family and a group of the other.
    #[error("source \"{}\" and group \"{}\" are of different address families", Cut(.source_token), Cut(.group_token))]
    FamilyMismatch {
        /// The source as written.
        source_token: String,
        /// The group as written.
        group_token: String,
    },
    /// A clause given twice in one directive.
    #[error(
        "\"{}\" is given more than once (first at line {first_line}, column {first_column})", Cut(.keyword)
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
    #[error("\"{}\" conflicts with \"{}\" given before", Cut(.keyword), Cut(.previous))]
    Conflict {
        /// The later keyword.
        keyword: String,
        /// The earlier one.
        previous: String,
    },
    /// A clause that the directive does not take.
    #[error("\"{}\" is not allowed in {directive}", Cut(.keyword))]
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
    #[error("invalid interface name \"{}\": {reason}", Cut(.name))]
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
    #[error("unknown boundary name \"{}\" (define it with \"name {} 239.x.x.x/len\")", Cut(.name), Cut(.name))]
    UnknownBoundary {
        /// The name used.
        name: String,
    },
    /// A boundary `name` defined twice.
    #[error("boundary name \"{}\" is already defined at line {first_line}", Cut(.name))]
    DuplicateName {
        /// The name.
        name: String,
        /// Line of the first definition.
        first_line: u32,
    },
    /// A boundary outside the administratively scoped range, as mrouted requires.
    #[error("boundary \"{}\" is not within the administratively scoped range 239.0.0.0/8", Cut(.token))]
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
    #[error("include loop: \"{}\" is already being read", CutPath(.path))]
    IncludeLoop {
        /// The file included again.
        path: PathBuf,
    },
    /// An explicit (non-glob) include of a file that does not exist.
    #[error("included file \"{}\" does not exist", CutPath(.path))]
    IncludeMissing {
        /// The path.
        path: PathBuf,
    },
    /// A file could not be read (or a directory listed while expanding a glob).
    #[error("cannot read \"{}\": {message}", CutPath(.path))]
    Io {
        /// The path.
        path: PathBuf,
        /// The kind of the I/O error.
        kind: std::io::ErrorKind,
        /// The I/O error's text.
        message: String,
    },
    /// A path that names something other than a regular file: a FIFO (which would block
    /// the reader until someone writes to it), a device (`/dev/zero` never ends), a
    /// directory or a socket. It is refused without reading from it.
    #[error("\"{}\" is {what}, not a regular file", CutPath(.path))]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is (`a FIFO`, `a character device`, `a directory`, ...).
        what: &'static str,
    },
    /// A file larger than [`MAX_FILE_SIZE`].
    #[error("\"{}\" is larger than the limit of {max} bytes", CutPath(.path))]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// The limit ([`MAX_FILE_SIZE`]).
        max: u64,
    },
    /// Bytes that are not UTF-8 (the position is that of the first bad byte of its line).
    #[error("invalid UTF-8 (byte 0x{byte:02x}): configuration files must be UTF-8 text")]
    InvalidUtf8 {
        /// The first byte that is not valid UTF-8.
        byte: u8,
    },
    /// More than [`MAX_ERRORS`] errors: the rest are counted, not listed.
    #[error("{omitted} more error(s) not shown")]
    TooManyErrors {
        /// How many errors were left out.
        omitted: usize,
    },
}

/// The longest token an error message quotes, in characters; a longer one is cut and ends
/// in `…`.
pub const MAX_QUOTED: usize = 40;

/// A path in an error message is cut at this many characters.
const MAX_QUOTED_PATH: usize = 200;

/// Writes `text` escaped (control and non-printable characters as `\u{..}`, quotes and
/// backslashes escaped) and cut at `max` characters.
fn write_cut(f: &mut fmt::Formatter<'_>, text: &str, max: usize) -> fmt::Result {
    let mut chars = text.chars();
    for c in chars.by_ref().take(max) {
        write!(f, "{}", c.escape_debug())?;
    }
    if chars.next().is_some() {
        f.write_str("…")?;
    }
    Ok(())
}

/// A token in an error message: escaped and cut at [`MAX_QUOTED`] characters.
pub(crate) struct Cut<'a>(pub(crate) &'a str);

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_cut(f, self.0, MAX_QUOTED)
    }
}

/// A path in an error message: escaped and cut.
struct CutPath<'a>(&'a Path);

impl fmt::Display for CutPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_cut(f, &self.0.to_string_lossy(), MAX_QUOTED_PATH)
    }
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
            write!(f, "{}: ", CutPath(self.0))
        } else {
            write!(f, "{}:{}:{}: ", CutPath(self.0), self.1, self.2)
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
// Reading files

/// The largest configuration file the loaders read, 64 MiB (a 100,000-route smcroute.conf
/// is about 7 MiB). A larger file is an [`ErrorKind::TooLarge`] error.
pub const MAX_FILE_SIZE: u64 = 64 << 20;

/// The most errors a parse or load lists; the rest are counted in one last
/// [`ErrorKind::TooManyErrors`] error (binary garbage would otherwise give an error a line).
pub const MAX_ERRORS: usize = 20;

/// The identity of a file read: its device and inode numbers (an include loop is the same
/// file again, whatever the path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileKey {
    /// The device (`st_dev`).
    pub dev: u64,
    /// The inode (`st_ino`).
    pub ino: u64,
}

/// What a non-regular file type is, for [`ErrorKind::NotRegularFile`]; `None` for a
/// regular file.
fn not_regular(t: fs::FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("of an unknown type")
    }
}

pub(crate) fn io_kind(path: &Path, e: &io::Error) -> ErrorKind {
    ErrorKind::Io {
        path: path.to_path_buf(),
        kind: e.kind(),
        message: e.to_string(),
    }
}

/// Reads a configuration file: a regular file (symbolic links are followed) of at most
/// [`MAX_FILE_SIZE`] bytes. Anything else is refused without blocking: the type is checked
/// before opening, the file is opened with `O_NONBLOCK` (so that a FIFO swapped in at that
/// moment does not wait for a writer) and checked again on the open descriptor.
///
/// ```
/// use mcroute::config::{read_file, ErrorKind};
/// let e = read_file("/dev/zero".as_ref()).unwrap_err();
/// assert!(matches!(e, ErrorKind::NotRegularFile { what: "a character device", .. }));
/// assert_eq!(e.to_string(), "\"/dev/zero\" is a character device, not a regular file");
/// ```
pub fn read_file(path: &Path) -> Result<(Vec<u8>, FileKey), ErrorKind> {
    let refuse = |what| ErrorKind::NotRegularFile {
        path: path.to_path_buf(),
        what,
    };
    let meta = fs::metadata(path).map_err(|e| io_kind(path, &e))?;
    if let Some(what) = not_regular(meta.file_type()) {
        return Err(refuse(what));
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| io_kind(path, &e))?;
    let meta = file.metadata().map_err(|e| io_kind(path, &e))?;
    if let Some(what) = not_regular(meta.file_type()) {
        return Err(refuse(what));
    }
    let too_large = || ErrorKind::TooLarge {
        path: path.to_path_buf(),
        max: MAX_FILE_SIZE,
    };
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_large());
    }
    // The size may change while reading: never read more than the limit (and one byte to
    // tell that there was more).
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    (&file)
        .take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_kind(path, &e))?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large());
    }
    Ok((
        bytes,
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
        },
    ))
}

/// The text of a file's bytes. Bytes that are not UTF-8 are an error at the first bad byte
/// of each line they are on, and those lines are blanked (so that nothing of them is
/// parsed and the other lines keep their numbers).
pub(crate) fn decode<'a>(bytes: &'a [u8], path: &Path) -> (Cow<'a, str>, Vec<ConfigError>) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(text), Vec::new());
    }
    let mut text = String::with_capacity(bytes.len());
    let mut errors = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            text.push('\n');
        }
        match std::str::from_utf8(line) {
            Ok(l) => text.push_str(l),
            Err(e) => {
                let at = e.valid_up_to();
                errors.push(ConfigError::new(
                    path,
                    u32::try_from(i + 1).unwrap_or(u32::MAX),
                    u32::try_from(at + 1).unwrap_or(u32::MAX),
                    ErrorKind::InvalidUtf8 {
                        byte: line.get(at).copied().unwrap_or(0),
                    },
                ));
            }
        }
    }
    (Cow::Owned(text), errors)
}

/// Keeps the first [`MAX_ERRORS`] errors and counts the rest (with the counts of earlier
/// summaries) in one [`ErrorKind::TooManyErrors`] error about `path`, at the end.
pub(crate) fn cap_errors(errors: Vec<ConfigError>, path: &Path) -> Vec<ConfigError> {
    let summaries = |e: &ConfigError| matches!(e.kind, ErrorKind::TooManyErrors { .. });
    if errors.len() <= MAX_ERRORS && !errors.iter().any(summaries) {
        return errors;
    }
    let mut kept = Vec::with_capacity(MAX_ERRORS + 1);
    let mut omitted = 0usize;
    for e in errors {
        if let ErrorKind::TooManyErrors { omitted: n } = e.kind {
            omitted = omitted.saturating_add(n);
        } else if kept.len() < MAX_ERRORS {
            kept.push(e);
        } else {
            omitted = omitted.saturating_add(1);
        }
    }
    if omitted > 0 {
        kept.push(ConfigError::new(
            path,
            0,
            0,
            ErrorKind::TooManyErrors { omitted },
        ));
    }
    kept
}

/// Collects a parser's errors, keeping at most a few more than [`MAX_ERRORS`] in memory (a
/// file of garbage has an error a line) while counting them all.
#[derive(Debug, Default)]
pub(crate) struct ErrorList {
    errors: Vec<ConfigError>,
    /// Every error reported, kept or not (a parser compares it to tell whether a
    /// directive had errors).
    count: usize,
}

impl ErrorList {
    /// Kept in memory before the rest are only counted: room for the ones a later sort
    /// (mrouted's checks) may move ahead.
    const KEEP: usize = 4 * MAX_ERRORS;

    pub(crate) fn push(&mut self, e: ConfigError) {
        self.count += 1;
        if self.errors.len() < Self::KEEP {
            self.errors.push(e);
        }
    }

    /// The number of errors reported so far.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Sorts the kept errors by position.
    pub(crate) fn sort(&mut self) {
        self.errors.sort_by_key(|e| (e.line, e.column));
    }

    /// The errors, at most [`MAX_ERRORS`] and a count of the rest.
    pub(crate) fn finish(mut self, path: &Path) -> Vec<ConfigError> {
        let dropped = self.count - self.errors.len();
        if dropped > 0 {
            self.errors.push(ConfigError::new(
                path,
                0,
                0,
                ErrorKind::TooManyErrors { omitted: dropped },
            ));
        }
        cap_errors(self.errors, path)
    }
}

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
