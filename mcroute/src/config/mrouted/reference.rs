//! The parser as it was before the byte-level rewrite (commit d7dd7d4), kept verbatim for the
//! differential tests in `tests.rs`: the rewritten parser must give the same AST, spans
//! included, and the same errors, in the same order, on any input.

use super::*;
use crate::config::{is_space, parse_decimal};

/// Parses mrouted.conf text read from `path` (used in errors only) with file id `file`
/// (used in spans). Returns what parsed (a bad value is left out, the rest of its statement
/// kept) and every error.
pub(super) fn parse_source(text: &str, file: FileId, path: &Path) -> (Config, Vec<ConfigError>) {
    let mut p = Parser {
        toks: tokenize(text),
        pos: 0,
        file,
        path,
        errors: Vec::new(),
        config: Config::default(),
        boundary_refs: Vec::new(),
        end: end_position(text),
    };
    p.run();
    p.check();
    (p.config, p.errors)
}

#[derive(Clone, Copy)]
struct Tok<'a> {
    text: &'a str,
    line: u32,
    column: u32,
}

fn tokenize(text: &str) -> Vec<Tok<'_>> {
    // About one token per 6 bytes of a typical file: growing the vector by doubling from
    // empty copied it over and over (a quarter of the time on a 100,000-line file).
    let mut toks = Vec::with_capacity(text.len() / 6);
    for (i, line) in text.split('\n').enumerate() {
        let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let bytes = line.as_bytes();
        let mut j = 0;
        loop {
            while bytes.get(j).is_some_and(|&b| is_space(b)) {
                j += 1;
            }
            if j >= bytes.len() || bytes.get(j) == Some(&b'#') {
                break;
            }
            let start = j;
            while bytes.get(j).is_some_and(|&b| !is_space(b)) {
                j += 1;
            }
            if let Some(text) = line.get(start..j) {
                toks.push(Tok {
                    text,
                    line: lineno,
                    column: u32::try_from(start + 1).unwrap_or(u32::MAX),
                });
            }
        }
    }
    toks
}

/// The line and column just past the end of the text, for "found end of file".
fn end_position(text: &str) -> (u32, u32) {
    let line = text.split('\n').count();
    let last = text.rsplit('\n').next().unwrap_or("");
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(last.len() + 1).unwrap_or(u32::MAX),
    )
}

const TOP_LEVEL: &[&str] = &[
    "cache_lifetime",
    "cache-lifetime",
    "prune_lifetime",
    "prune-lifetime",
    "pruning",
    "noflood",
    "rexmit_prunes",
    "rexmit-prunes",
    "name",
    "phyint",
    "tunnel",
    "no",
    "igmp-query-interval",
    "igmp-query-response-interval",
    "igmp-query-last-member-interval",
    "igmp-robustness",
    "router-timeout",
];

/// Top-level keywords that belong to the current phyint or tunnel inside one.
const BLOCK_TOO: &[&str] = &[
    "noflood",
    "rexmit_prunes",
    "rexmit-prunes",
    "prune_lifetime",
    "prune-lifetime",
];

const VIF_OPTIONS: &[&str] = &[
    "boundary",
    "metric",
    "advert_metric",
    "advert-metric",
    "threshold",
    "rate_limit",
    "rate-limit",
    "prune_lifetime",
    "prune-lifetime",
    "rexmit_prunes",
    "rexmit-prunes",
    "passive",
    "noflood",
    "notransit",
    "blaster",
    "allow_nonpruners",
    "allow-nonpruners",
    "accept",
    "deny",
    "bidir",
];

const PHYINT_ONLY: &[&str] = &[
    "enable",
    "disable",
    "altnet",
    "igmpv1",
    "igmpv2",
    "igmpv3",
    "force_leaf",
    "force-leaf",
    "static-group",
];

fn is_keyword(word: &str) -> bool {
    TOP_LEVEL.contains(&word) || VIF_OPTIONS.contains(&word) || PHYINT_ONLY.contains(&word)
}

fn looks_numeric(word: &str) -> bool {
    word.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

struct Parser<'a, 'p> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    file: FileId,
    path: &'p Path,
    errors: Vec<ConfigError>,
    config: Config,
    /// Boundary names used, checked against the `name` statements at the end.
    boundary_refs: Vec<(String, Span)>,
    end: (u32, u32),
}

/// The range of a number-valued keyword.
struct Range {
    what: &'static str,
    expected: &'static str,
    after: &'static str,
    min: u64,
    max: u64,
}

const CACHE_LIFETIME: Range = Range {
    what: "cache-lifetime",
    expected: "a number of seconds (60-86400)",
    after: "\"cache-lifetime\"",
    min: 60,
    max: 86400,
};
const PRUNE_LIFETIME: Range = Range {
    what: "prune-lifetime",
    expected: "a number of seconds (120-86400)",
    after: "\"prune-lifetime\"",
    min: 120,
    max: 86400,
};
const QUERY_INTERVAL: Range = Range {
    what: "igmp-query-interval",
    expected: "a number of seconds (1-1024)",
    after: "\"igmp-query-interval\"",
    min: 1,
    max: 1024,
};
const RESPONSE_INTERVAL: Range = Range {
    what: "igmp-query-response-interval",
    expected: "a number of seconds (1-1024)",
    after: "\"igmp-query-response-interval\"",
    min: 1,
    max: 1024,
};
const LAST_MEMBER_INTERVAL: Range = Range {
    what: "igmp-query-last-member-interval",
    expected: "a number of seconds (1-1024)",
    after: "\"igmp-query-last-member-interval\"",
    min: 1,
    max: 1024,
};
const ROBUSTNESS: Range = Range {
    what: "igmp-robustness",
    expected: "a robustness value (2-10)",
    after: "\"igmp-robustness\"",
    min: 2,
    max: 10,
};
const ROUTER_TIMEOUT: Range = Range {
    what: "router-timeout",
    expected: "a number of seconds (1-1024)",
    after: "\"router-timeout\"",
    min: 1,
    max: 1024,
};
const METRIC: Range = Range {
    what: "metric",
    expected: "a metric (1-31)",
    after: "\"metric\"",
    min: 1,
    max: 31,
};
const ADVERT_METRIC: Range = Range {
    what: "advert-metric",
    expected: "a metric (0-31)",
    after: "\"advert-metric\"",
    min: 0,
    max: 31,
};
const THRESHOLD: Range = Range {
    what: "threshold",
    expected: "a TTL threshold (1-255)",
    after: "\"threshold\"",
    min: 1,
    max: 255,
};
const RATE_LIMIT: Range = Range {
    what: "rate-limit",
    expected: "a rate in kbit/s (0-100000)",
    after: "\"rate-limit\"",
    min: 0,
    max: MAX_RATE_LIMIT as u64,
};

/// Which statement a block of options belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Phyint,
    Tunnel,
}

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn peek2(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos + 1).copied()
    }

    fn bump(&mut self) -> Option<Tok<'a>> {
        let t = self.peek();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn span(&self, t: &Tok<'_>) -> Span {
        Span::new(self.file, t.line, t.column)
    }

    fn error_at(&mut self, line: u32, column: u32, kind: ErrorKind) {
        self.errors
            .push(ConfigError::new(self.path, line, column, kind));
    }

    fn error(&mut self, t: &Tok<'_>, kind: ErrorKind) {
        self.error_at(t.line, t.column, kind);
    }

    /// `expected X after Y, found Z` at the token found, or at the end of the file.
    fn expected(&mut self, found: Option<Tok<'_>>, expected: &'static str, after: &'static str) {
        let (line, column, found) = match found {
            Some(t) => (t.line, t.column, Found::Token(t.text.to_owned())),
            None => (self.end.0, self.end.1, Found::EndOfFile),
        };
        self.error_at(
            line,
            column,
            ErrorKind::Expected {
                expected,
                after,
                found,
            },
        );
    }

    /// The next token as a value: consumed unless it is a keyword (then a missing value
    /// is reported and parsing goes on with the keyword).
    fn value(&mut self, expected: &'static str, after: &'static str) -> Option<Tok<'a>> {
        match self.peek() {
            Some(t) if !is_keyword(t.text) => {
                self.pos += 1;
                Some(t)
            }
            other => {
                self.expected(other, expected, after);
                None
            }
        }
    }

    fn number(&mut self, r: &Range) -> Option<Spanned<u64>> {
        let t = self.value(r.expected, r.after)?;
        match parse_decimal(t.text) {
            Some(n) if (r.min..=r.max).contains(&n) => Some(Spanned::new(n, self.span(&t))),
            Some(_) => {
                self.error(
                    &t,
                    ErrorKind::OutOfRange {
                        what: r.what,
                        value: t.text.to_owned(),
                        min: r.min,
                        max: r.max,
                    },
                );
                None
            }
            None => {
                self.expected(Some(t), r.expected, r.after);
                None
            }
        }
    }

    /// Sets a once-only setting, reporting a duplicate.
    fn set_once<T>(&mut self, slot: &mut Option<Spanned<T>>, kw: &Tok<'_>, v: Spanned<T>) {
        if let Some(first) = slot {
            let kind = ErrorKind::Duplicate {
                keyword: kw.text.to_owned(),
                first_line: first.span.line,
                first_column: first.span.column,
            };
            self.error(kw, kind);
        } else {
            *slot = Some(v);
        }
    }

    fn flag(&mut self, slot: &mut Option<Span>, kw: &Tok<'_>, keyword: &str) {
        if let Some(first) = *slot {
            self.error(
                kw,
                ErrorKind::Duplicate {
                    keyword: keyword.to_owned(),
                    first_line: first.line,
                    first_column: first.column,
                },
            );
        } else {
            *slot = Some(self.span(kw));
        }
    }

    fn set_number<T: TryFrom<u64>>(
        &mut self,
        slot: &mut Option<Spanned<T>>,
        kw: &Tok<'_>,
        r: &Range,
    ) {
        if let Some(n) = self.number(r) {
            if let Ok(v) = T::try_from(n.value) {
                self.set_once(slot, kw, Spanned::new(v, n.span));
            }
        }
    }

    /// `on|off|yes|no` after `kw`, required.
    fn boolean(&mut self, after: &'static str) -> Option<Spanned<bool>> {
        let t = self.value("\"on\" or \"off\"", after)?;
        match t.text {
            "on" | "yes" => Some(Spanned::new(true, self.span(&t))),
            "off" | "no" => Some(Spanned::new(false, self.span(&t))),
            _ => {
                self.expected(Some(t), "\"on\" or \"off\"", after);
                None
            }
        }
    }

    /// An optional `on|off|yes|no` after `kw` (bare: on). `no` followed by `router-alert`,
    /// or by `phyint` without an interface after it, is the next statement (`no phyint`),
    /// not the value.
    fn optional_boolean(&mut self, kw: &Tok<'_>) -> Spanned<bool> {
        let value = match self.peek().map(|t| t.text) {
            Some("on" | "yes") => Some(true),
            Some("off") => Some(false),
            Some("no") => match self.peek2().map(|t| t.text) {
                Some("router-alert") => None,
                Some("phyint") => match self.toks.get(self.pos + 2) {
                    Some(t) if !is_keyword(t.text) => Some(false),
                    _ => None,
                },
                _ => Some(false),
            },
            _ => None,
        };
        match value {
            Some(v) => {
                let t = self.bump();
                Spanned::new(v, t.map_or(self.span(kw), |t| self.span(&t)))
            }
            None => Spanned::new(true, self.span(kw)),
        }
    }

    fn run(&mut self) {
        while let Some(t) = self.bump() {
            self.statement(t);
        }
    }

    /// Skips to the next token that is a keyword (after an unknown word), so that one
    /// mistake gives one error.
    fn recover(&mut self) {
        while let Some(t) = self.peek() {
            if is_keyword(t.text) {
                return;
            }
            self.pos += 1;
        }
    }

    fn statement(&mut self, t: Tok<'a>) {
        let mut config = std::mem::take(&mut self.config);
        match t.text {
            "cache_lifetime" | "cache-lifetime" => {
                self.set_number(&mut config.cache_lifetime, &t, &CACHE_LIFETIME)
            }
            "prune_lifetime" | "prune-lifetime" => {
                self.set_number(&mut config.prune_lifetime, &t, &PRUNE_LIFETIME)
            }
            "igmp-query-interval" => {
                self.set_number(&mut config.igmp_query_interval, &t, &QUERY_INTERVAL)
            }
            "igmp-query-response-interval" => self.set_number(
                &mut config.igmp_query_response_interval,
                &t,
                &RESPONSE_INTERVAL,
            ),
            "igmp-query-last-member-interval" => self.set_number(
                &mut config.igmp_query_last_member_interval,
                &t,
                &LAST_MEMBER_INTERVAL,
            ),
            "igmp-robustness" => self.set_number(&mut config.igmp_robustness, &t, &ROBUSTNESS),
            "router-timeout" => self.set_number(&mut config.router_timeout, &t, &ROUTER_TIMEOUT),
            "pruning" => {
                if let Some(b) = self.boolean("\"pruning\"") {
                    self.set_once(&mut config.pruning, &t, b);
                }
            }
            "noflood" => self.flag(&mut config.noflood, &t, t.text),
            "rexmit_prunes" | "rexmit-prunes" => {
                let b = self.optional_boolean(&t);
                self.set_once(&mut config.rexmit_prunes, &t, b);
            }
            "no" => match self.peek().map(|n| n.text) {
                Some("phyint") => {
                    self.pos += 1;
                    self.flag(&mut config.no_phyint, &t, "no phyint");
                }
                Some("router-alert") => {
                    self.pos += 1;
                    self.flag(&mut config.no_router_alert, &t, "no router-alert");
                }
                _ => {
                    let found = self.peek();
                    self.expected(found, "\"phyint\" or \"router-alert\"", "\"no\"");
                    if found.is_some_and(|t| !is_keyword(t.text)) {
                        self.pos += 1;
                    }
                }
            },
            "name" => {
                if let Some(n) = self.name(t, &config) {
                    config.names.push(n);
                }
            }
            "phyint" => {
                let p = self.phyint(t);
                config.phyints.extend(p);
            }
            "tunnel" => {
                let tun = self.tunnel(t);
                config.tunnels.extend(tun);
            }
            other => {
                self.error(
                    &t,
                    ErrorKind::UnknownKeyword {
                        context: "statement",
                        found: other.to_owned(),
                        suggestion: suggest(other, TOP_LEVEL),
                    },
                );
                self.recover();
            }
        }
        self.config = config;
    }

    fn name(&mut self, kw: Tok<'a>, config: &Config) -> Option<BoundaryName> {
        let n = self.value("a boundary name", "\"name\"")?;
        if looks_numeric(n.text) || n.text.contains('/') {
            self.expected(Some(n), "a boundary name", "\"name\"");
            // The scope may follow anyway; take it so it is not read as a statement.
            if self.peek().is_some_and(|t| !is_keyword(t.text)) {
                self.pos += 1;
            }
            return None;
        }
        let scope = self.value("a scoped range (239.x.x.x/LEN)", "the boundary name");
        let scope = scope.and_then(|s| self.scope(s, "the boundary name"));
        if let Some(first) = config.names.iter().find(|b| b.name.value == n.text) {
            self.error(
                &n,
                ErrorKind::DuplicateName {
                    name: n.text.to_owned(),
                    first_line: first.span.line,
                },
            );
            return None;
        }
        Some(BoundaryName {
            span: self.span(&kw),
            name: Spanned::new(n.text.to_owned(), self.span(&n)),
            scope: scope?,
        })
    }

    /// `A.B.C.D/LEN` (or a bare address, as /32, when `bare_ok`).
    fn ipv4_prefix(text: &str, bare_ok: bool) -> Result<(Ipv4Addr, Option<u8>), bool> {
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None if bare_ok => (text, None),
            None => return Err(false),
        };
        let addr: Ipv4Addr = addr.parse().map_err(|_| false)?;
        match len {
            None => Ok((addr, None)),
            Some(l) => match parse_decimal(l) {
                Some(n) if n <= 32 && l.len() <= 2 => Ok((addr, Some(n as u8))),
                // A well-formed address with a bad length: say so.
                _ => Err(true),
            },
        }
    }

    fn prefix_len_error(&mut self, t: &Tok<'_>) {
        self.error(
            t,
            ErrorKind::PrefixLength {
                token: t.text.to_owned(),
                max: 32,
            },
        );
    }

    /// A boundary range: within 239.0.0.0/8.
    fn scope(&mut self, t: Tok<'_>, after: &'static str) -> Option<Spanned<Ipv4Net>> {
        match Self::ipv4_prefix(t.text, false) {
            Ok((addr, Some(len))) => {
                let net = Ipv4Net::new(addr, len).ok()?;
                if len < 8 || addr.octets()[0] != 239 {
                    self.error(
                        &t,
                        ErrorKind::BoundaryNotScoped {
                            token: t.text.to_owned(),
                        },
                    );
                    return None;
                }
                Some(Spanned::new(net, self.span(&t)))
            }
            Err(true) => {
                self.prefix_len_error(&t);
                None
            }
            _ => {
                self.expected(Some(t), "a scoped range (239.x.x.x/LEN)", after);
                None
            }
        }
    }

    /// The interface of a phyint or the local end of a tunnel.
    fn interface(&mut self, after: &'static str) -> Option<Spanned<InterfaceRef>> {
        let t = self.value("an interface name or address", after)?;
        if t.text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return match t.text.parse::<Ipv4Addr>() {
                Ok(a) => Some(Spanned::new(InterfaceRef::Addr(a), self.span(&t))),
                Err(_) => {
                    self.expected(Some(t), "an interface name or address", after);
                    None
                }
            };
        }
        match check_ifname(t.text) {
            Ok(()) => Some(Spanned::new(
                InterfaceRef::Name(t.text.to_owned()),
                self.span(&t),
            )),
            Err(reason) => {
                self.error(
                    &t,
                    ErrorKind::InvalidInterface {
                        name: t.text.to_owned(),
                        reason,
                    },
                );
                None
            }
        }
    }

    fn phyint(&mut self, kw: Tok<'a>) -> Option<Phyint> {
        let interface = self.interface("\"phyint\"");
        let placeholder = Spanned::new(InterfaceRef::Name(String::new()), self.span(&kw));
        let mut p = Phyint {
            span: self.span(&kw),
            interface: interface.clone().unwrap_or(placeholder),
            state: None,
            altnets: Vec::new(),
            igmp_version: None,
            force_leaf: None,
            static_groups: Vec::new(),
            options: VifOptions::default(),
        };
        let mut options = VifOptions::default();
        self.block(Block::Phyint, &mut options, Some(&mut p));
        p.options = options;
        // Without an interface the options were parsed for their errors only.
        interface.map(|_| p)
    }

    fn tunnel(&mut self, kw: Tok<'a>) -> Option<Tunnel> {
        let local = self.interface("\"tunnel\"");
        let remote = if local.is_some() { self.remote() } else { None };
        let mut options = VifOptions::default();
        self.block(Block::Tunnel, &mut options, None);
        Some(Tunnel {
            span: self.span(&kw),
            local: local?,
            remote: remote?,
            options,
        })
    }

    fn remote(&mut self) -> Option<Spanned<TunnelRemote>> {
        const EXPECTED: &str = "a remote address or host name";
        let t = self.value(EXPECTED, "the tunnel's local end")?;
        if t.text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            if let Ok(a) = t.text.parse::<Ipv4Addr>() {
                return Some(Spanned::new(TunnelRemote::Addr(a), self.span(&t)));
            }
        } else if t.text.len() <= 253
            && t.text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Some(Spanned::new(
                TunnelRemote::Host(t.text.to_owned()),
                self.span(&t),
            ));
        }
        self.expected(Some(t), EXPECTED, "the tunnel's local end");
        None
    }

    /// The options of a phyint (`extras` is the phyint) or a tunnel (`extras` is `None`),
    /// up to the next top-level keyword.
    fn block(&mut self, block: Block, o: &mut VifOptions, mut phyint: Option<&mut Phyint>) {
        let context = match block {
            Block::Phyint => "phyint option",
            Block::Tunnel => "tunnel option",
        };
        while let Some(t) = self.peek() {
            if TOP_LEVEL.contains(&t.text) && !BLOCK_TOO.contains(&t.text) {
                return;
            }
            self.pos += 1;
            if PHYINT_ONLY.contains(&t.text) {
                match phyint.as_deref_mut() {
                    Some(p) => self.phyint_option(t, p),
                    None => {
                        self.error(
                            &t,
                            ErrorKind::NotAllowed {
                                keyword: t.text.to_owned(),
                                directive: "a tunnel",
                            },
                        );
                        // Skip its value, if it takes one.
                        if matches!(t.text, "altnet" | "static-group")
                            && self.peek().is_some_and(|v| !is_keyword(v.text))
                        {
                            self.pos += 1;
                        }
                    }
                }
                continue;
            }
            match t.text {
                "boundary" => {
                    if let Some(v) = self.value("a boundary name or scoped range", "\"boundary\"") {
                        if looks_numeric(v.text) || v.text.contains('/') {
                            if let Some(s) = self.scope(v, "\"boundary\"") {
                                o.boundaries
                                    .push(Spanned::new(Boundary::Scope(s.value), s.span));
                            }
                        } else {
                            let span = self.span(&v);
                            self.boundary_refs.push((v.text.to_owned(), span));
                            o.boundaries
                                .push(Spanned::new(Boundary::Name(v.text.to_owned()), span));
                        }
                    }
                }
                "metric" => self.set_number(&mut o.metric, &t, &METRIC),
                "advert_metric" | "advert-metric" => {
                    self.set_number(&mut o.advert_metric, &t, &ADVERT_METRIC)
                }
                "threshold" => self.set_number(&mut o.threshold, &t, &THRESHOLD),
                "rate_limit" | "rate-limit" => self.set_number(&mut o.rate_limit, &t, &RATE_LIMIT),
                "prune_lifetime" | "prune-lifetime" => {
                    self.set_number(&mut o.prune_lifetime, &t, &PRUNE_LIFETIME)
                }
                "rexmit_prunes" | "rexmit-prunes" => {
                    let b = self.optional_boolean(&t);
                    self.set_once(&mut o.rexmit_prunes, &t, b);
                }
                "passive" => self.flag(&mut o.passive, &t, t.text),
                "noflood" => self.flag(&mut o.noflood, &t, t.text),
                "notransit" => self.flag(&mut o.notransit, &t, t.text),
                "blaster" => self.flag(&mut o.blaster, &t, t.text),
                "allow_nonpruners" | "allow-nonpruners" => {
                    self.flag(&mut o.allow_nonpruners, &t, t.text)
                }
                "accept" | "deny" => self.filter(t, o),
                "bidir" => match &mut o.filter {
                    Some(f) => match f.bidir {
                        Some(first) => self.error(
                            &t,
                            ErrorKind::Duplicate {
                                keyword: "bidir".into(),
                                first_line: first.line,
                                first_column: first.column,
                            },
                        ),
                        None => f.bidir = Some(Span::new(self.file, t.line, t.column)),
                    },
                    None => self.error(&t, ErrorKind::BidirWithoutFilter),
                },
                other => {
                    let mut candidates: Vec<&'static str> = VIF_OPTIONS.to_vec();
                    if block == Block::Phyint {
                        candidates.extend_from_slice(PHYINT_ONLY);
                    }
                    candidates.extend_from_slice(TOP_LEVEL);
                    candidates.push("exact");
                    self.error(
                        &t,
                        ErrorKind::UnknownKeyword {
                            context,
                            found: other.to_owned(),
                            suggestion: suggest(other, &candidates),
                        },
                    );
                    self.recover();
                }
            }
        }
    }

    fn phyint_option(&mut self, t: Tok<'a>, p: &mut Phyint) {
        match t.text {
            "enable" | "disable" => {
                let v = if t.text == "enable" {
                    VifState::Enable
                } else {
                    VifState::Disable
                };
                match p.state {
                    Some(prev) if prev.value != v => self.error(
                        &t,
                        ErrorKind::Conflict {
                            keyword: t.text.to_owned(),
                            previous: match prev.value {
                                VifState::Enable => "enable".into(),
                                VifState::Disable => "disable".into(),
                            },
                        },
                    ),
                    _ => {
                        let span = self.span(&t);
                        self.set_once(&mut p.state, &t, Spanned::new(v, span));
                    }
                }
            }
            "igmpv1" | "igmpv2" | "igmpv3" => {
                let v = match t.text {
                    "igmpv1" => IgmpVersion::V1,
                    "igmpv2" => IgmpVersion::V2,
                    _ => IgmpVersion::V3,
                };
                match p.igmp_version {
                    Some(prev) if prev.value != v => {
                        let previous = match prev.value {
                            IgmpVersion::V1 => "igmpv1",
                            IgmpVersion::V2 => "igmpv2",
                            IgmpVersion::V3 => "igmpv3",
                        };
                        self.error(
                            &t,
                            ErrorKind::Conflict {
                                keyword: t.text.to_owned(),
                                previous: previous.into(),
                            },
                        )
                    }
                    _ => {
                        let span = self.span(&t);
                        self.set_once(&mut p.igmp_version, &t, Spanned::new(v, span));
                    }
                }
            }
            "force_leaf" | "force-leaf" => {
                let b = self.optional_boolean(&t);
                self.set_once(&mut p.force_leaf, &t, b);
            }
            "altnet" => {
                const EXPECTED: &str = "a network (ADDRESS/LEN)";
                if let Some(v) = self.value(EXPECTED, "\"altnet\"") {
                    match Self::ipv4_prefix(v.text, true) {
                        Ok((addr, prefix_len)) => p
                            .altnets
                            .push(Spanned::new(AltNet { addr, prefix_len }, self.span(&v))),
                        Err(true) => self.prefix_len_error(&v),
                        Err(false) => self.expected(Some(v), EXPECTED, "\"altnet\""),
                    }
                }
            }
            "static-group" => {
                const EXPECTED: &str = "an IPv4 multicast group";
                if let Some(v) = self.value(EXPECTED, "\"static-group\"") {
                    match v.text.parse::<Ipv4Addr>() {
                        Ok(g) if g.is_multicast() => {
                            p.static_groups.push(Spanned::new(g, self.span(&v)))
                        }
                        _ => self.expected(Some(v), EXPECTED, "\"static-group\""),
                    }
                }
            }
            _ => {}
        }
    }

    fn filter(&mut self, kw: Tok<'a>, o: &mut VifOptions) {
        const EXPECTED: &str = "a route (ADDRESS/LEN or \"default\")";
        let mode = if kw.text == "accept" {
            FilterMode::Accept
        } else {
            FilterMode::Deny
        };
        let after = if kw.text == "accept" {
            "\"accept\""
        } else {
            "\"deny\""
        };
        let mut routes = Vec::new();
        let mut bad_route = false;
        while let Some(t) = self.peek() {
            if is_keyword(t.text) || t.text == "exact" {
                break;
            }
            self.pos += 1;
            let prefix = if t.text == "default" {
                Some(Ipv4Net::default())
            } else {
                match Self::ipv4_prefix(t.text, false) {
                    Ok((addr, Some(len))) => Ipv4Net::new(addr, len).ok(),
                    Err(true) => {
                        self.prefix_len_error(&t);
                        bad_route = true;
                        None
                    }
                    _ => {
                        self.expected(Some(t), EXPECTED, after);
                        bad_route = true;
                        None
                    }
                }
            };
            let exact = self.peek().is_some_and(|n| n.text == "exact");
            if exact {
                self.pos += 1;
            }
            if let Some(prefix) = prefix {
                routes.push(Spanned::new(FilterRoute { prefix, exact }, self.span(&t)));
            }
        }
        if routes.is_empty() {
            if !bad_route {
                let found = self.peek();
                self.expected(found, EXPECTED, after);
            }
            return;
        }
        match &mut o.filter {
            None => {
                o.filter = Some(Filter {
                    span: self.span(&kw),
                    mode,
                    routes,
                    bidir: None,
                })
            }
            Some(f) if f.mode == mode => f.routes.extend(routes),
            Some(_) => self.error(&kw, ErrorKind::AcceptAndDeny),
        }
    }

    /// Checks that need the whole file: boundary names, and the response interval against
    /// the query interval.
    fn check(&mut self) {
        let refs = std::mem::take(&mut self.boundary_refs);
        for (name, span) in refs {
            if !self.config.names.iter().any(|b| b.name.value == name) {
                self.error_at(span.line, span.column, ErrorKind::UnknownBoundary { name });
            }
        }
        if let Some(r) = self.config.igmp_query_response_interval {
            let qi = self.config.igmp_query_interval();
            if r.value >= qi {
                self.error_at(
                    r.span.line,
                    r.span.column,
                    ErrorKind::OutOfRange {
                        what: "igmp-query-response-interval",
                        value: r.value.to_string(),
                        min: 1,
                        max: u64::from(qi).saturating_sub(1),
                    },
                );
            }
        }
        self.errors.sort_by_key(|e| (e.line, e.column));
    }
}
