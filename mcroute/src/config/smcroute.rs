//! `smcroute.conf`: the configuration file of SMCRoute's `smcrouted` (2.5 and 2.6 grammar).
//!
//! ```text
//! phyint IFNAME [enable|disable] [mrdisc] [ttl-threshold TTL]
//! mgroup from IFNAME [source ADDR[/LEN]] group GROUP[/LEN]
//! ssmgroup ...                  # obsolete alias of mgroup
//! mroute from IFNAME [source ADDR[/LEN]] group GROUP[/LEN] [to IFNAME [IFNAME ...]]
//! include PATTERN
//! ```
//!
//! The file is line based; tokens are separated by white space, with no quoting. `from`,
//! `source` and `group` may come in any order, `to` comes last and takes the rest of the
//! line. IPv4 and IPv6 may be mixed freely in one file. An interface name ending in `+`
//! is a wildcard matching every interface whose name starts with what precedes it
//! ([`IfPattern`]).
//!
//! ```
//! use mcroute::config::smcroute::{self, Directive};
//!
//! let conf = smcroute::parse(
//!     "phyint eth0 enable ttl-threshold 3\n\
//!      mroute from eth0 source 192.0.2.10 group 225.1.2.3 to eth1 eth2  # a comment\n\
//!      mgroup from eth+ group ff0e::42\n",
//! )?;
//! assert_eq!(conf.directives.len(), 3);
//! let Directive::Mroute(route) = &conf.directives[1] else { panic!() };
//! assert_eq!(route.to.len(), 2);
//! assert!(route.is_ssm());
//! // Printing gives a file that parses to the same thing.
//! let mut again = smcroute::parse(&conf.to_string())?;
//! let mut conf = conf;
//! conf.erase_spans();
//! again.erase_spans();
//! assert_eq!(conf, again);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where mcroute differs from smcrouted, on purpose
//!
//! SMCRoute's parser has quirks (see the project's smcroute spec, sections 1.1 and 6.2);
//! this one accepts every file smcrouted reads as intended and refuses the rest with an
//! error naming the line and column:
//!
//! - **Keywords match exactly.** smcrouted takes any word *starting* with a keyword as that
//!   keyword (`groups` is `group`, `mroutexyz` is `mroute`) and silently skips words it does
//!   not know. Here an unknown word is an error, with a suggestion for a near miss
//!   (`unknown mroute clause "grp" (did you mean "group"?)`).
//! - **Comments after the OIF list work.** smcrouted takes `# comment` after `to` as more
//!   interface names; here a token starting with `#` ends the line everywhere.
//! - **At most [`MAX_OIFS`] (32) outbound interfaces** on one line, an error beyond (smcrouted
//!   overflows a stack buffer).
//! - **Missing `from` or `group`** is an error naming what is missing (smcrouted drops the
//!   line without a message).
//! - **Lines of any length** (smcrouted splits lines longer than 511 bytes in two).
//! - **A group range must stay multicast**: `225.0.0.0/3` is refused (it would cover unicast
//!   space). `/0` on a **group** means the host group, as smcrouted reads it: `225.1.2.3/0`
//!   is `225.1.2.3/32`, and the AST stores it as /32. Use `224.0.0.0/4` for "all groups".
//!   On a **source**, `/0` is taken literally (every source).
//! - A source of `0.0.0.0` or `::` (any length) means "no source", a (\*,G) rule, as in
//!   smcrouted; the AST keeps it as written and [`Mroute::source_range`] returns `None`.
//! - **Source and group must be of one family**, the source must not be multicast.
//! - **`mgroup` ranges** are expanded into individual joins ([`Mgroup::joins`]) as smcrouted
//!   does, but a range of more than [`MAX_JOINS`] joins is an error (smcrouted overflows its
//!   counter at 2^31 and will happily loop over millions of joins).
//! - An interface name is at most 15 bytes, has no `/` and does not start with `#`. The
//!   value of `from`, an outbound interface (or the name after `phyint`) may not be a
//!   keyword of the directive: `mroute from group 225.1.2.3` is "expected an interface name
//!   after "from", found "group"", not a route from an interface called `group`, and
//!   `mroute group 225.1.2.3 to eth1 from eth0` says that `to` must be the last clause.
//! - **`include`**: relative patterns are resolved against the directory of the including
//!   file (smcrouted uses its working directory, which is `/` once daemonised). Include
//!   loops are errors (smcrouted crashes), errors in included files count, an explicit
//!   (non-glob) include of a missing file is an error. See [`load`].

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use super::glob::has_magic;
use super::{
    cap_errors, decode, is_space, parse_decimal, suggest, ConfigError, ConfigErrors, ErrorKind,
    ErrorList, FileId, FileKey, FileSystem, Found, Source, Span, Spanned, INPUT_NAME,
};

/// The most outbound interfaces one `mroute` line may list (the IPv4 VIF table size).
pub const MAX_OIFS: usize = 32;

/// The most joins one `mgroup` range may expand to.
pub const MAX_JOINS: u64 = 65536;

// ---------------------------------------------------------------------------------------------
// Interface patterns

/// The interface pattern type, shared with the static engine: see [`crate::model::IfPattern`].
/// The parser builds it with [`IfPattern::parse`], which validates the name.
pub use crate::model::IfPattern;

// ---------------------------------------------------------------------------------------------
// The AST

/// A parsed smcroute.conf: its directives in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// The directives, in file order.
    pub directives: Vec<Directive>,
}

/// One line of smcroute.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `phyint`: interface settings.
    Phyint(Phyint),
    /// `mgroup` (or its alias `ssmgroup`): join a group on an interface.
    Mgroup(Mgroup),
    /// `mroute`: a multicast route, or a (\*,G) template.
    Mroute(Mroute),
    /// `include`: read more files ([`load`] resolves it).
    Include(Include),
}

impl Directive {
    /// Where the directive starts (its keyword).
    pub fn span(&self) -> Span {
        match self {
            Directive::Phyint(d) => d.span,
            Directive::Mgroup(d) => d.span,
            Directive::Mroute(d) => d.span,
            Directive::Include(d) => d.span,
        }
    }
}

/// Whether a `phyint` line enables or disables the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhyintState {
    /// `enable`: create the VIF/MIF now.
    Enable,
    /// `disable`: remove the VIF/MIF (and the routes using it).
    Disable,
}

/// `phyint IFNAME [enable|disable] [mrdisc] [ttl-threshold TTL]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phyint {
    /// The position of the `phyint` keyword.
    pub span: Span,
    /// The interface (a wildcard applies to every matching interface).
    pub interface: Spanned<IfPattern>,
    /// `enable` or `disable`; `None` when neither is given (smcrouted then enables, unless
    /// run with `-N`).
    pub state: Option<Spanned<PhyintState>>,
    /// `mrdisc`: send RFC 4286 multicast router discovery announcements (IPv4).
    pub mrdisc: Option<Span>,
    /// `ttl-threshold`, 1..=255; `None` means the default of 1.
    pub ttl_threshold: Option<Spanned<u8>>,
}

impl Phyint {
    /// The TTL threshold, 1 unless given.
    pub fn threshold(&self) -> u8 {
        self.ttl_threshold.map_or(1, |t| t.value)
    }
}

/// `mgroup from IFNAME [source ADDR[/LEN]] group GROUP[/LEN]`: join a group (ASM), or a
/// source-specific group (SSM), or a range of either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mgroup {
    /// The position of the `mgroup` (or `ssmgroup`) keyword.
    pub span: Span,
    /// The interface to join on.
    pub from: Spanned<IfPattern>,
    /// The source, or source range, as written (`None`: not given).
    pub source: Option<Spanned<IpNet>>,
    /// The group or group range (a host group is /32 or /128).
    pub group: Spanned<IpNet>,
}

/// `mroute from IFNAME [source ADDR[/LEN]] group GROUP[/LEN] [to IFNAME ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mroute {
    /// The position of the `mroute` keyword.
    pub span: Span,
    /// The inbound interface (a wildcard gives one rule per matching interface).
    pub from: Spanned<IfPattern>,
    /// The source, or source range, as written (`None`: not given).
    pub source: Option<Spanned<IpNet>>,
    /// The group or group range (a host group is /32 or /128).
    pub group: Spanned<IpNet>,
    /// The outbound interfaces; empty is a "stop filter" that drops the flow.
    pub to: Vec<Spanned<IfPattern>>,
}

/// `include PATTERN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The position of the `include` keyword.
    pub span: Span,
    /// The path or glob pattern, as written.
    pub pattern: Spanned<String>,
}

/// A source that means "any": absent, or the unspecified address.
fn effective_source(source: &Option<Spanned<IpNet>>) -> Option<IpNet> {
    source
        .map(|s| s.value)
        .filter(|s| !s.addr().is_unspecified())
}

impl Mgroup {
    /// The source range of an SSM join, `None` for an ASM join (no source, or `0.0.0.0`/`::`).
    pub fn source_range(&self) -> Option<IpNet> {
        effective_source(&self.source)
    }

    /// The individual joins this line stands for, at most [`MAX_JOINS`]: each (S,G) of the
    /// source range × group range (groups outer, sources inner, in address order).
    pub fn joins(&self) -> Result<Joins, TooManyJoins> {
        expand_joins(self.source_range(), self.group.value, MAX_JOINS)
    }
}

impl Mroute {
    /// The source range, `None` for a (\*,G) rule (no source, or `0.0.0.0`/`::`).
    pub fn source_range(&self) -> Option<IpNet> {
        effective_source(&self.source)
    }

    /// Whether this is an exact (S,G) route, which smcrouted installs in the kernel at once:
    /// a source, and both source and group full-length. Every other form is a template
    /// matched against upcalls.
    pub fn is_ssm(&self) -> bool {
        match self.source_range() {
            Some(s) => {
                s.prefix_len() == s.max_prefix_len()
                    && self.group.value.prefix_len() == self.group.value.max_prefix_len()
            }
            None => false,
        }
    }
}

/// One join of an expanded `mgroup` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Join {
    /// The source of an SSM join, `None` for ASM.
    pub source: Option<IpAddr>,
    /// The group.
    pub group: IpAddr,
}

/// An `mgroup` range expands to more joins than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("range expands to 2^{joins_log2} joins, more than the limit of {max}")]
pub struct TooManyJoins {
    /// The number of joins is `2^joins_log2`.
    pub joins_log2: u32,
    /// The limit.
    pub max: u64,
}

/// The joins of an `mgroup` range ([`expand_joins`]).
#[derive(Debug, Clone)]
pub struct Joins {
    source: Option<IpNet>,
    group: IpNet,
    source_bits: u32,
    next: u64,
    count: u64,
}

/// `log2` of the number of addresses of a prefix.
fn host_bits(net: &IpNet) -> u32 {
    u32::from(net.max_prefix_len().saturating_sub(net.prefix_len()))
}

/// `net`'s network address plus `offset` (which must be below its size).
fn nth(net: &IpNet, offset: u64) -> IpAddr {
    match net {
        IpNet::V4(n) => IpAddr::V4(u32::from(n.network()).wrapping_add(offset as u32).into()),
        IpNet::V6(n) => IpAddr::V6(
            u128::from(n.network())
                .wrapping_add(u128::from(offset))
                .into(),
        ),
    }
}

/// Expands a source range (or none, for ASM) and a group range into individual joins, as
/// smcrouted does for `mgroup`/`join` with `/LEN`: 2^(max-len) groups × 2^(max-srclen)
/// sources, counted from each range's network address. Refuses more than `max` joins.
///
/// ```
/// use mcroute::config::smcroute::expand_joins;
/// let joins = expand_joins(Some("192.0.2.8/31".parse()?), "232.1.1.0/30".parse()?, 65536)?;
/// assert_eq!(joins.len(), 8);
/// let all: Vec<_> = joins.collect();
/// assert_eq!(all[1].source, Some("192.0.2.9".parse()?));
/// assert_eq!(all[7].group, "232.1.1.3".parse::<std::net::IpAddr>()?);
/// assert!(expand_joins(None, "239.0.0.0/8".parse()?, 65536).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn expand_joins(source: Option<IpNet>, group: IpNet, max: u64) -> Result<Joins, TooManyJoins> {
    let source_bits = source.as_ref().map_or(0, host_bits);
    let bits = host_bits(&group) + source_bits;
    let count = if bits < 64 { 1u64 << bits } else { u64::MAX };
    if bits >= 64 || count > max {
        return Err(TooManyJoins {
            joins_log2: bits,
            max,
        });
    }
    Ok(Joins {
        source,
        group,
        source_bits,
        next: 0,
        count,
    })
}

impl Iterator for Joins {
    type Item = Join;

    fn next(&mut self) -> Option<Join> {
        if self.next >= self.count {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let group = nth(&self.group, i >> self.source_bits);
        let source = self
            .source
            .as_ref()
            .map(|s| nth(s, i & ((1u64 << self.source_bits) - 1)));
        Some(Join { source, group })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = usize::try_from(self.count - self.next).unwrap_or(usize::MAX);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Joins {}

// ---------------------------------------------------------------------------------------------
// Printing

struct Prefix<'a>(&'a IpNet);

impl fmt::Display for Prefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}/{}", self.0.addr(), self.0.prefix_len())
        }
    }
}

fn write_flow(
    f: &mut fmt::Formatter<'_>,
    keyword: &str,
    from: &IfPattern,
    source: &Option<Spanned<IpNet>>,
    group: &IpNet,
) -> fmt::Result {
    write!(f, "{keyword} from {from}")?;
    if let Some(s) = source {
        write!(f, " source {}", Prefix(&s.value))?;
    }
    write!(f, " group {}", Prefix(group))
}

impl fmt::Display for Phyint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "phyint {}", self.interface.value)?;
        match self.state.map(|s| s.value) {
            Some(PhyintState::Enable) => f.write_str(" enable")?,
            Some(PhyintState::Disable) => f.write_str(" disable")?,
            None => {}
        }
        if self.mrdisc.is_some() {
            f.write_str(" mrdisc")?;
        }
        if let Some(t) = self.ttl_threshold {
            write!(f, " ttl-threshold {}", t.value)?;
        }
        Ok(())
    }
}

impl fmt::Display for Mgroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flow(
            f,
            "mgroup",
            &self.from.value,
            &self.source,
            &self.group.value,
        )
    }
}

impl fmt::Display for Mroute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_flow(
            f,
            "mroute",
            &self.from.value,
            &self.source,
            &self.group.value,
        )?;
        if !self.to.is_empty() {
            f.write_str(" to")?;
            for oif in &self.to {
                write!(f, " {}", oif.value)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Include {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "include {}", self.pattern.value)
    }
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Directive::Phyint(d) => d.fmt(f),
            Directive::Mgroup(d) => d.fmt(f),
            Directive::Mroute(d) => d.fmt(f),
            Directive::Include(d) => d.fmt(f),
        }
    }
}

/// Prints the file, one directive per line, in a form [`parse`] reads back to the same AST
/// (spans aside; comments are not kept). Group and source lengths are omitted when full.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.directives {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl Config {
    /// Sets every span to the default, so that two configs compare equal when they say the
    /// same thing (for tests, and to diff a reloaded file against the running one).
    pub fn erase_spans(&mut self) {
        let z = Span::default();
        for d in &mut self.directives {
            match d {
                Directive::Phyint(p) => {
                    p.span = z;
                    p.interface.span = z;
                    if let Some(s) = &mut p.state {
                        s.span = z;
                    }
                    if let Some(s) = &mut p.mrdisc {
                        *s = z;
                    }
                    if let Some(s) = &mut p.ttl_threshold {
                        s.span = z;
                    }
                }
                Directive::Mgroup(m) => {
                    m.span = z;
                    m.from.span = z;
                    if let Some(s) = &mut m.source {
                        s.span = z;
                    }
                    m.group.span = z;
                }
                Directive::Mroute(m) => {
                    m.span = z;
                    m.from.span = z;
                    if let Some(s) = &mut m.source {
                        s.span = z;
                    }
                    m.group.span = z;
                    for o in &mut m.to {
                        o.span = z;
                    }
                }
                Directive::Include(i) => {
                    i.span = z;
                    i.pattern.span = z;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parses smcroute.conf text (named [`INPUT_NAME`] in errors, file id 0). Returns the AST,
/// or every error found.
pub fn parse(text: &str) -> Result<Config, ConfigErrors> {
    let (config, errors) = parse_source(text, FileId(0), Path::new(INPUT_NAME));
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Parses smcroute.conf text read from `path` (used in errors only) with file id `file`
/// (used in spans). Returns every directive that parsed and every error: a line with an
/// error is left out of the AST, the rest is kept, as smcrouted carries on past bad lines.
pub fn parse_source(text: &str, file: FileId, path: &Path) -> (Config, Vec<ConfigError>) {
    parse_part(text, 1, 0, file, path)
}

/// A large text cut at a line boundary near its middle, so that an I/O-layer loader can
/// parse the two parts at once (lines are independent) with [`parse_part`] and join them
/// in file order with [`join_parts`]: the same AST and errors as [`parse_source`].
#[derive(Debug, Clone, Copy)]
pub struct Halves<'a> {
    /// Lines `1..tail_first`.
    pub head: &'a str,
    /// The rest, from line `tail_first`.
    pub tail: &'a str,
    /// The line number of the first line of `tail`.
    pub tail_first: usize,
    /// The number of lines of the whole text.
    pub lines: usize,
}

/// Splits `text` in two at a line boundary when it is long enough ([`PARALLEL_PARSE_MIN`]
/// bytes) for parsing in two parts to pay off; `None` otherwise.
pub fn split_halves(text: &str) -> Option<Halves<'_>> {
    if text.len() < PARALLEL_PARSE_MIN {
        return None;
    }
    let mid = text.len() / 2;
    let nl = text.as_bytes()[mid..].iter().position(|&b| b == b'\n')?;
    let split = mid + nl;
    let head = &text[..split];
    Some(Halves {
        head,
        tail: &text[split + 1..],
        tail_first: count_lines(head) + 1,
        lines: count_lines(text),
    })
}

/// Joins the results of parsing the two [`Halves`] of a text, in file order.
pub fn join_parts(
    mut head: (Config, Vec<ConfigError>),
    tail: (Config, Vec<ConfigError>),
) -> (Config, Vec<ConfigError>) {
    head.0.directives.extend(tail.0.directives);
    head.1.extend(tail.1);
    // Each part kept MAX_ERRORS: keep as many of both.
    if let Some(path) = head.1.first().map(|e| e.file.clone()) {
        head.1 = cap_errors(head.1, &path);
    }
    head
}

/// Texts at least this long are worth parsing in two parts ([`split_halves`]).
pub const PARALLEL_PARSE_MIN: usize = 1 << 20;

/// The number of lines of `text` (one more than its newlines).
fn count_lines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count() + 1
}

/// Parses the lines of `text`, the first of which is line `first` of the file, into a
/// vector with room for at least `capacity` directives (give the whole text's line count to
/// the first of two [`Halves`], so that the second is moved in without growing it).
pub fn parse_part(
    text: &str,
    first: usize,
    capacity: usize,
    file: FileId,
    path: &Path,
) -> (Config, Vec<ConfigError>) {
    let mut parser = Parser {
        file,
        path,
        errors: ErrorList::default(),
    };
    // One directive a line at most: reserving up front saves the copies of a growing Vec
    // (a 100,000-line file is 13 MB of directives). Counting newlines is a fast SIMD pass.
    let mut directives = Vec::with_capacity(count_lines(text).max(capacity));
    for (i, line) in text.split('\n').enumerate() {
        let lineno = u32::try_from(first + i).unwrap_or(u32::MAX);
        let mut toks = Tokens {
            text: line,
            pos: 0,
            line: lineno,
        };
        if let Some(d) = parser.line(&mut toks) {
            directives.push(d);
        }
    }
    if directives.capacity() > 2 * directives.len() + 64 {
        // Mostly comments or errors: give the reserve back.
        directives.shrink_to_fit();
    }
    (Config { directives }, parser.errors.finish(path))
}

/// The white-space separated tokens of one line, up to a token starting with `#`.
struct Tokens<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
}

#[derive(Clone, Copy)]
struct Tok<'a> {
    text: &'a str,
    line: u32,
    column: u32,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Tok<'a>;

    fn next(&mut self) -> Option<Tok<'a>> {
        let bytes = self.text.as_bytes();
        let mut i = self.pos;
        while bytes.get(i).is_some_and(|&b| is_space(b)) {
            i += 1;
        }
        if i >= bytes.len() || bytes.get(i) == Some(&b'#') {
            self.pos = bytes.len();
            return None;
        }
        let start = i;
        while bytes.get(i).is_some_and(|&b| !is_space(b)) {
            i += 1;
        }
        self.pos = i;
        // Token boundaries are ASCII white space, so both ends are char boundaries.
        let text = self.text.get(start..i)?;
        Some(Tok {
            text,
            line: self.line,
            column: u32::try_from(start + 1).unwrap_or(u32::MAX),
        })
    }
}

struct Parser<'p> {
    file: FileId,
    path: &'p Path,
    errors: ErrorList,
}

const DIRECTIVES: &[&str] = &["phyint", "mgroup", "ssmgroup", "mroute", "include"];
const FLOW_CLAUSES: &[&str] = &["from", "source", "group", "to"];
const PHYINT_OPTIONS: &[&str] = &["enable", "disable", "mrdisc", "ttl-threshold"];

/// [`IfPattern::parse`], refusing a name that is one of `reserved` once its alias is cut:
/// `group:1` is the alias of an interface `group`, which would print as the keyword (a
/// smcroute_conf fuzz finding: the printed file did not parse).
fn parse_ifname(text: &str, reserved: &[&str]) -> Result<IfPattern, &'static str> {
    let p = IfPattern::parse(text)?;
    if !p.is_wildcard() && reserved.contains(&p.name()) {
        return Err("is a keyword here once its alias is cut");
    }
    Ok(p)
}

fn found(tok: Option<Tok<'_>>) -> Found {
    match tok {
        Some(t) => Found::Token(t.text.to_owned()),
        None => Found::EndOfLine,
    }
}

/// Splits `ADDR[/LEN]`. `Err(())` when the address is not an address; the length is
/// checked by the caller.
fn split_prefix(token: &str) -> (&str, Option<&str>) {
    match token.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (token, None),
    }
}

fn parse_len(len: Option<&str>, max: u8) -> Result<Option<u8>, ()> {
    match len {
        None => Ok(None),
        Some(l) if l.len() <= 3 => match parse_decimal(l) {
            Some(n) if n <= u64::from(max) => Ok(Some(n as u8)),
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

impl Parser<'_> {
    fn span(&self, tok: &Tok<'_>) -> Span {
        Span::new(self.file, tok.line, tok.column)
    }

    fn error(&mut self, line: u32, column: u32, kind: ErrorKind) {
        self.errors
            .push(ConfigError::new(self.path, line, column, kind));
    }

    fn error_at(&mut self, tok: &Tok<'_>, kind: ErrorKind) {
        self.error(tok.line, tok.column, kind);
    }

    /// Reports `expected ... after KEYWORD, found ...` at the found token (or at the end of
    /// the line, just after `after_tok`).
    fn expected(
        &mut self,
        after_tok: &Tok<'_>,
        tok: Option<Tok<'_>>,
        expected: &'static str,
        after: &'static str,
    ) {
        let (line, column) = match &tok {
            Some(t) => (t.line, t.column),
            None => (
                after_tok.line,
                after_tok
                    .column
                    .saturating_add(u32::try_from(after_tok.text.len()).unwrap_or(u32::MAX)),
            ),
        };
        self.error(
            line,
            column,
            ErrorKind::Expected {
                expected,
                after,
                found: found(tok),
            },
        );
    }

    fn line(&mut self, toks: &mut Tokens<'_>) -> Option<Directive> {
        let first = toks.next()?;
        match first.text {
            "phyint" => self.phyint(first, toks),
            "mgroup" | "ssmgroup" => self.flow(first, toks, false),
            "mroute" => self.flow(first, toks, true),
            "include" => self.include(first, toks),
            other => {
                self.error_at(
                    &first,
                    ErrorKind::UnknownKeyword {
                        context: "directive",
                        found: other.to_owned(),
                        suggestion: suggest(other, DIRECTIVES),
                    },
                );
                None
            }
        }
    }

    /// An interface name after `keyword_tok`; `reserved` are words that are taken as a
    /// forgotten value rather than as a name.
    fn interface(
        &mut self,
        keyword_tok: &Tok<'_>,
        tok: Option<Tok<'_>>,
        after: &'static str,
        reserved: &[&str],
    ) -> Option<Spanned<IfPattern>> {
        match tok {
            Some(t) if !reserved.contains(&t.text) => match parse_ifname(t.text, reserved) {
                Ok(p) => Some(Spanned::new(p, self.span(&t))),
                Err(reason) => {
                    self.error_at(
                        &t,
                        ErrorKind::InvalidInterface {
                            name: t.text.to_owned(),
                            reason,
                        },
                    );
                    None
                }
            },
            _ => {
                self.expected(keyword_tok, tok, "an interface name", after);
                None
            }
        }
    }

    fn phyint(&mut self, kw: Tok<'_>, toks: &mut Tokens<'_>) -> Option<Directive> {
        let errors_before = self.errors.count();
        let name = toks.next();
        let interface = self.interface(&kw, name, "\"phyint\"", PHYINT_OPTIONS);
        let mut state: Option<(Spanned<PhyintState>, &str)> = None;
        let mut mrdisc: Option<Span> = None;
        let mut ttl: Option<Spanned<u8>> = None;
        while let Some(t) = toks.next() {
            match t.text {
                "enable" | "disable" => {
                    let value = if t.text == "enable" {
                        PhyintState::Enable
                    } else {
                        PhyintState::Disable
                    };
                    match state {
                        Some((prev, prev_text)) if prev.value == value => {
                            self.error_at(
                                &t,
                                ErrorKind::Duplicate {
                                    keyword: t.text.to_owned(),
                                    first_line: prev.span.line,
                                    first_column: prev.span.column,
                                },
                            );
                            let _ = prev_text;
                        }
                        Some((_, prev_text)) => self.error_at(
                            &t,
                            ErrorKind::Conflict {
                                keyword: t.text.to_owned(),
                                previous: prev_text.to_owned(),
                            },
                        ),
                        None => state = Some((Spanned::new(value, self.span(&t)), t.text)),
                    }
                }
                "mrdisc" => match mrdisc {
                    Some(first) => self.error_at(
                        &t,
                        ErrorKind::Duplicate {
                            keyword: "mrdisc".into(),
                            first_line: first.line,
                            first_column: first.column,
                        },
                    ),
                    None => mrdisc = Some(self.span(&t)),
                },
                "ttl-threshold" => {
                    let v = toks.next();
                    match v.map(|v| (v, parse_decimal(v.text))) {
                        Some((v, Some(n))) => {
                            if !(1..=255).contains(&n) {
                                self.error_at(
                                    &v,
                                    ErrorKind::OutOfRange {
                                        what: "ttl-threshold",
                                        value: v.text.to_owned(),
                                        min: 1,
                                        max: 255,
                                    },
                                );
                            } else if let Some(first) = ttl {
                                self.error_at(
                                    &t,
                                    ErrorKind::Duplicate {
                                        keyword: "ttl-threshold".into(),
                                        first_line: first.span.line,
                                        first_column: first.span.column,
                                    },
                                );
                            } else {
                                ttl = Some(Spanned::new(n as u8, self.span(&v)));
                            }
                        }
                        _ => {
                            self.expected(&t, v, "a TTL threshold (1-255)", "\"ttl-threshold\"");
                            break;
                        }
                    }
                }
                other => {
                    self.error_at(
                        &t,
                        ErrorKind::UnknownKeyword {
                            context: "phyint option",
                            found: other.to_owned(),
                            suggestion: suggest(other, PHYINT_OPTIONS),
                        },
                    );
                    break;
                }
            }
        }
        if self.errors.count() != errors_before {
            return None;
        }
        Some(Directive::Phyint(Phyint {
            span: self.span(&kw),
            interface: interface?,
            state: state.map(|(s, _)| s),
            mrdisc,
            ttl_threshold: ttl,
        }))
    }

    fn include(&mut self, kw: Tok<'_>, toks: &mut Tokens<'_>) -> Option<Directive> {
        let Some(pattern) = toks.next() else {
            self.expected(&kw, None, "a file name or pattern", "\"include\"");
            return None;
        };
        if let Some(extra) = toks.next() {
            self.error_at(
                &extra,
                ErrorKind::Expected {
                    expected: "end of line",
                    after: "the include pattern",
                    found: found(Some(extra)),
                },
            );
            return None;
        }
        Some(Directive::Include(Include {
            span: self.span(&kw),
            pattern: Spanned::new(pattern.text.to_owned(), self.span(&pattern)),
        }))
    }

    fn duplicate<T>(&mut self, t: &Tok<'_>, first: &Option<Spanned<T>>) -> bool {
        if let Some(first) = first {
            self.error_at(
                t,
                ErrorKind::Duplicate {
                    keyword: t.text.to_owned(),
                    first_line: first.span.line,
                    first_column: first.span.column,
                },
            );
            true
        } else {
            false
        }
    }

    /// `mgroup`/`ssmgroup` (`route == false`) and `mroute` lines.
    fn flow(&mut self, kw: Tok<'_>, toks: &mut Tokens<'_>, route: bool) -> Option<Directive> {
        let directive = if route { "mroute" } else { "mgroup" };
        let errors_before = self.errors.count();
        let mut from: Option<Spanned<IfPattern>> = None;
        let mut source: Option<Spanned<IpNet>> = None;
        let mut source_text = "";
        let mut group: Option<Spanned<IpNet>> = None;
        let mut group_text = "";
        // Most routes have one outbound interface: start with room for exactly one.
        let mut to: Vec<Spanned<IfPattern>> = Vec::with_capacity(1);
        // Set when a clause had an error, so a "missing" error would only repeat it.
        let mut clause_failed = false;
        while let Some(t) = toks.next() {
            match t.text {
                "from" => {
                    let dup = self.duplicate(&t, &from);
                    let v = toks.next();
                    match self.interface(&t, v, "\"from\"", FLOW_CLAUSES) {
                        Some(p) if !dup => from = Some(p),
                        Some(_) => {}
                        // The value may be the next clause's keyword: stop here.
                        None => break,
                    }
                }
                "source" => {
                    let dup = self.duplicate(&t, &source);
                    let v = toks.next();
                    match v.and_then(|v| self.source_value(&t, v)) {
                        Some(s) if !dup => {
                            source = Some(s);
                            source_text = v.map_or("", |v| v.text);
                        }
                        Some(_) => {}
                        None => {
                            if v.is_none() {
                                self.expected(&t, None, "a source address", "\"source\"");
                                break;
                            }
                            clause_failed = true;
                        }
                    }
                }
                "group" => {
                    let dup = self.duplicate(&t, &group);
                    let v = toks.next();
                    match v.and_then(|v| self.group_value(&t, v)) {
                        Some(g) if !dup => {
                            group = Some(g);
                            group_text = v.map_or("", |v| v.text);
                        }
                        Some(_) => {}
                        None => {
                            if v.is_none() {
                                self.expected(&t, None, "a multicast group", "\"group\"");
                                break;
                            }
                            clause_failed = true;
                        }
                    }
                }
                "to" if route => {
                    for oif in toks.by_ref() {
                        if FLOW_CLAUSES.contains(&oif.text) {
                            self.expected(
                                &t,
                                Some(oif),
                                "an interface name (\"to\" must be the last clause)",
                                "\"to\"",
                            );
                            break;
                        }
                        if to.len() >= MAX_OIFS {
                            self.error_at(&oif, ErrorKind::TooManyOifs { max: MAX_OIFS });
                            break;
                        }
                        match parse_ifname(oif.text, FLOW_CLAUSES) {
                            Ok(p) => to.push(Spanned::new(p, self.span(&oif))),
                            Err(reason) => self.error_at(
                                &oif,
                                ErrorKind::InvalidInterface {
                                    name: oif.text.to_owned(),
                                    reason,
                                },
                            ),
                        }
                    }
                    break;
                }
                "to" => {
                    self.error_at(
                        &t,
                        ErrorKind::NotAllowed {
                            keyword: "to".into(),
                            directive: "mgroup",
                        },
                    );
                    clause_failed = true;
                    break;
                }
                other => {
                    let clauses = if route {
                        FLOW_CLAUSES
                    } else {
                        FLOW_CLAUSES.get(..3).unwrap_or(FLOW_CLAUSES)
                    };
                    self.error_at(
                        &t,
                        ErrorKind::UnknownKeyword {
                            context: if route {
                                "mroute clause"
                            } else {
                                "mgroup clause"
                            },
                            found: other.to_owned(),
                            suggestion: suggest(other, clauses),
                        },
                    );
                    clause_failed = true;
                    break;
                }
            }
        }
        if self.errors.count() != errors_before || clause_failed {
            return None;
        }
        let from_missing = from.is_none();
        let (Some(from), Some(group)) = (from, group) else {
            self.error(
                kw.line,
                kw.column,
                ErrorKind::Missing {
                    directive,
                    what: if from_missing {
                        "\"from IFNAME\""
                    } else {
                        "\"group GROUP\""
                    },
                },
            );
            return None;
        };
        if let Some(s) = &source {
            if s.value.addr().is_ipv4() != group.value.addr().is_ipv4() {
                self.error(
                    s.span.line,
                    s.span.column,
                    ErrorKind::FamilyMismatch {
                        source_token: source_text.to_owned(),
                        group_token: group_text.to_owned(),
                    },
                );
                return None;
            }
        }
        let span = self.span(&kw);
        if route {
            Some(Directive::Mroute(Mroute {
                span,
                from,
                source,
                group,
                to,
            }))
        } else {
            let m = Mgroup {
                span,
                from,
                source,
                group,
            };
            if let Err(e) = m.joins() {
                self.error(
                    group.span.line,
                    group.span.column,
                    ErrorKind::TooManyJoins {
                        directive: "mgroup",
                        joins_log2: e.joins_log2,
                        max: e.max,
                    },
                );
                return None;
            }
            Some(Directive::Mgroup(m))
        }
    }

    fn source_value(&mut self, kw: &Tok<'_>, v: Tok<'_>) -> Option<Spanned<IpNet>> {
        let (addr, len) = split_prefix(v.text);
        let Ok(addr) = addr.parse::<IpAddr>() else {
            self.expected(kw, Some(v), "a source address", "\"source\"");
            return None;
        };
        if addr.is_multicast() {
            self.error_at(
                &v,
                ErrorKind::MulticastSource {
                    token: v.text.to_owned(),
                },
            );
            return None;
        }
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let Ok(len) = parse_len(len, max) else {
            self.error_at(
                &v,
                ErrorKind::PrefixLength {
                    token: v.text.to_owned(),
                    max,
                },
            );
            return None;
        };
        let net = IpNet::new(addr, len.unwrap_or(max)).ok()?;
        Some(Spanned::new(net, self.span(&v)))
    }

    fn group_value(&mut self, kw: &Tok<'_>, v: Tok<'_>) -> Option<Spanned<IpNet>> {
        let (addr, len) = split_prefix(v.text);
        let addr = match addr.parse::<IpAddr>() {
            Ok(a) if a.is_multicast() => a,
            _ => {
                self.expected(kw, Some(v), "a multicast group", "\"group\"");
                return None;
            }
        };
        let (max, min) = if addr.is_ipv4() { (32, 4) } else { (128, 8) };
        let Ok(len) = parse_len(len, max) else {
            self.error_at(
                &v,
                ErrorKind::PrefixLength {
                    token: v.text.to_owned(),
                    max,
                },
            );
            return None;
        };
        // smcrouted: "/0" is the same as no length, a host group.
        let len = match len {
            None | Some(0) => max,
            Some(l) => l,
        };
        if len < min {
            self.error_at(
                &v,
                ErrorKind::GroupRangeNotMulticast {
                    token: v.text.to_owned(),
                },
            );
            return None;
        }
        let net = IpNet::new(addr, len).ok()?;
        Some(Spanned::new(net, self.span(&v)))
    }
}

// ---------------------------------------------------------------------------------------------
// Loading files with includes

/// A configuration read from disk, with its includes resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loaded {
    /// Every file read, indexed by [`FileId`]: the main file first, then includes in the
    /// order they were read.
    pub files: Vec<PathBuf>,
    /// The directives of all files, in reading order: each `include` is replaced by the
    /// directives of the files it matched. No [`Directive::Include`] remains.
    pub directives: Vec<Directive>,
}

impl Loaded {
    /// The path of file `id`.
    pub fn path(&self, id: FileId) -> Option<&Path> {
        self.files.get(id.0 as usize).map(PathBuf::as_path)
    }

    /// The directives as a [`Config`] (for printing or comparing).
    pub fn config(&self) -> Config {
        Config {
            directives: self.directives.clone(),
        }
    }
}

/// Reads `path` and every file it includes. Returns the configuration, or every error of
/// every file (at most [`MAX_ERRORS`](super::MAX_ERRORS) of them, and a count of the rest).
///
/// - Every file must be a regular file of at most [`MAX_FILE_SIZE`](super::MAX_FILE_SIZE)
///   bytes, in UTF-8 ([`read_file`](super::read_file)): a FIFO, a device or a directory is
///   refused without blocking, and a byte that is not UTF-8 is an error at its line and
///   column.
/// - `include PATTERN` is expanded like glob(3): matches in sorted order; a pattern that
///   matches nothing is not an error, but an include without glob characters naming a file
///   that does not exist is.
/// - A relative pattern is resolved against the directory of the file that contains it.
/// - A file that includes itself (directly or through others; the same device and inode,
///   whatever the path) is an include loop error at the `include` line; the same file
///   included twice side by side is read twice.
/// - An included file that cannot be read is an error at the `include` line.
/// - A main file that cannot be read is an error at line 0 with kind [`ErrorKind::Io`]
///   (smcrouted carries on without a file if it does not exist; a daemon can check
///   `io::ErrorKind::NotFound` to do the same).
pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
    let (loaded, errors) = load_partial(path);
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Like [`load`], but returns what could be read along with the errors, as smcrouted uses
/// every line that parsed.
pub fn load_partial(path: &Path) -> (Loaded, Vec<ConfigError>) {
    load_partial_with(path, &parse_source)
}

/// A parser of one file's text: [`parse_source`], or one that parses [`Halves`] at once.
pub type ParseFn<'a> = &'a dyn Fn(&str, FileId, &Path) -> (Config, Vec<ConfigError>);

/// Like [`load_partial`], parsing each file's text with `parse`.
pub fn load_partial_with(path: &Path, parse: ParseFn<'_>) -> (Loaded, Vec<ConfigError>) {
    load_from(path, parse, &mut FileSystem)
}

/// Like [`load_partial_with`], reading the files from `source` instead of the file system
/// (a [`Replay`](super::Replay) of what a privileged process read, for one).
pub fn load_from(
    path: &Path,
    parse: ParseFn<'_>,
    source: &mut dyn Source,
) -> (Loaded, Vec<ConfigError>) {
    let mut loader = Loader {
        loaded: Loaded::default(),
        errors: Vec::new(),
        stack: Vec::new(),
        parse,
        source,
    };
    loader.file(path, None, true);
    let errors = cap_errors(loader.errors, path);
    (loader.loaded, errors)
}

struct Loader<'s> {
    parse: ParseFn<'s>,
    loaded: Loaded,
    errors: Vec<ConfigError>,
    /// The files being read (the include chain).
    stack: Vec<FileKey>,
    source: &'s mut dyn Source,
}

/// Where an include came from: the including file and the `include` line.
struct Site<'a> {
    file: &'a Path,
    span: Span,
}

impl Loader<'_> {
    fn error(&mut self, site: Option<&Site<'_>>, path: &Path, kind: ErrorKind) {
        let e = match site {
            Some(s) => ConfigError::new(s.file, s.span.line, s.span.column, kind),
            None => ConfigError::new(path, 0, 0, kind),
        };
        self.errors.push(e);
    }

    fn io_error(&mut self, site: Option<&Site<'_>>, path: &Path, e: &io::Error, explicit: bool) {
        let kind = super::io_kind(path, e);
        self.read_error(site, path, kind, explicit);
    }

    fn read_error(
        &mut self,
        site: Option<&Site<'_>>,
        path: &Path,
        kind: ErrorKind,
        explicit: bool,
    ) {
        let kind = match kind {
            ErrorKind::Io {
                kind: io::ErrorKind::NotFound,
                ..
            } if explicit && site.is_some() => ErrorKind::IncludeMissing {
                path: path.to_path_buf(),
            },
            other => other,
        };
        self.error(site, path, kind);
    }

    fn file(&mut self, path: &Path, site: Option<&Site<'_>>, explicit: bool) {
        let (bytes, key) = match self.source.read(path) {
            Ok(r) => r,
            Err(kind) => return self.read_error(site, path, kind, explicit),
        };
        if self.stack.contains(&key) {
            return self.error(
                site,
                path,
                ErrorKind::IncludeLoop {
                    path: path.to_path_buf(),
                },
            );
        }
        let id = FileId(u32::try_from(self.loaded.files.len()).unwrap_or(u32::MAX));
        self.loaded.files.push(path.to_path_buf());
        let (text, utf8_errors) = decode(&bytes, path);
        self.errors.extend(utf8_errors);
        let (config, errors) = (self.parse)(&text, id, path);
        drop(text);
        drop(bytes);
        self.errors.extend(errors);
        self.stack.push(key);
        let dir = path.parent().unwrap_or(Path::new(""));
        let includes = config
            .directives
            .iter()
            .any(|d| matches!(d, Directive::Include(_)));
        if !includes && self.loaded.directives.is_empty() {
            // The usual single file: its directives are the list, without a copy.
            self.loaded.directives = config.directives;
            self.stack.pop();
            return;
        }
        // Grown once a file, not step by step (a 100,000-line file is 15 MB of directives).
        self.loaded.directives.reserve(config.directives.len());
        for d in config.directives {
            let Directive::Include(inc) = d else {
                self.loaded.directives.push(d);
                continue;
            };
            let pattern = Path::new(&inc.pattern.value);
            let full = if pattern.is_absolute() {
                pattern.to_path_buf()
            } else {
                dir.join(pattern)
            };
            let here = Site {
                file: path,
                span: inc.span,
            };
            if has_magic(full.as_os_str().as_bytes()) {
                match self.source.glob(&full) {
                    Ok(matches) => {
                        for m in matches {
                            self.file(&m, Some(&here), false);
                        }
                    }
                    Err(e) => self.io_error(Some(&here), &full, &e, false),
                }
            } else {
                self.file(&full, Some(&here), true);
            }
        }
        self.stack.pop();
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests;
