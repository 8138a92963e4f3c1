//! The daemons' one logger: stderr in the foreground, syslog when detached (or asked), a level,
//! and optionally debug output only for some log targets (mrouted's `-d LEVEL,...`).
//!
//! When stderr is systemd's journal (`JOURNAL_STREAM` names it), each line starts with its
//! syslog priority (`<3>` ... `<7>`), so the journal files it at the right level.

use std::io::Write as _;
use std::sync::RwLock;

/// The level and debug targets in force: set at install, changeable at run time
/// ([`Logger::set_level`], [`Logger::set_debug_targets`]: mroutectl's `log` and `debug`).
static FILTER: RwLock<Option<(log::LevelFilter, Vec<String>)>> = RwLock::new(None);

/// What to log, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// The name lines start with on stderr, and the syslog identity.
    pub ident: String,
    /// The most verbose level logged.
    pub level: log::LevelFilter,
    /// Log to stderr.
    pub stderr: bool,
    /// Log to syslog (facility daemon).
    pub syslog: bool,
    /// If not empty, debug and trace records are logged only when their target starts with
    /// one of these; info and above are always logged.
    pub debug_targets: Vec<String>,
}

impl LogOptions {
    /// Stderr in the foreground, syslog otherwise, at `level`, every target.
    pub fn new(ident: &str, level: log::LevelFilter, foreground: bool) -> LogOptions {
        LogOptions {
            ident: ident.to_string(),
            level,
            stderr: foreground,
            syslog: !foreground,
            debug_targets: Vec::new(),
        }
    }
}

/// A `log` logger writing to stderr, to syslog, or both.
#[derive(Debug)]
pub struct Logger {
    opts: LogOptions,
    journal: bool,
}

impl Logger {
    /// Installs the logger. Fails if a logger is already installed.
    pub fn install(opts: LogOptions) -> Result<(), log::SetLoggerError> {
        if opts.syslog {
            crate::sys::unix::openlog(&opts.ident);
        }
        let level = opts.level;
        *FILTER.write().unwrap_or_else(|p| p.into_inner()) =
            Some((opts.level, opts.debug_targets.clone()));
        let journal = opts.stderr && stderr_is_journal();
        log::set_boxed_logger(Box::new(Logger { opts, journal }))?;
        log::set_max_level(level);
        Ok(())
    }

    /// Installs a logger for `ident` at `level`: stderr and/or syslog, every target.
    pub fn init(
        ident: &str,
        level: log::LevelFilter,
        stderr: bool,
        syslog: bool,
    ) -> Result<(), log::SetLoggerError> {
        Logger::install(LogOptions {
            stderr,
            syslog,
            ..LogOptions::new(ident, level, true)
        })
    }

    /// Changes the most verbose level logged, at run time.
    pub fn set_level(level: log::LevelFilter) {
        let mut f = FILTER.write().unwrap_or_else(|p| p.into_inner());
        if let Some((l, _)) = f.as_mut() {
            *l = level;
        }
        log::set_max_level(level);
    }

    /// Changes the targets whose debug records are logged, at run time (empty: every
    /// target, at the level in force).
    pub fn set_debug_targets(targets: Vec<String>) {
        let mut f = FILTER.write().unwrap_or_else(|p| p.into_inner());
        if let Some((_, t)) = f.as_mut() {
            *t = targets;
        }
    }

    /// The level and debug targets in force (`None` before a logger is installed).
    pub fn filter() -> Option<(log::LevelFilter, Vec<String>)> {
        FILTER.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The name of a level, as [`Logger::parse_level`] reads it.
    pub fn level_name(level: log::LevelFilter) -> &'static str {
        match level {
            log::LevelFilter::Off => "none",
            log::LevelFilter::Error => "err",
            log::LevelFilter::Warn => "notice",
            log::LevelFilter::Info => "info",
            log::LevelFilter::Debug | log::LevelFilter::Trace => "debug",
        }
    }

    /// Parses smcrouted's `-l` levels: none, err, notice, info, debug (and warning, error).
    pub fn parse_level(s: &str) -> Option<log::LevelFilter> {
        Some(match s {
            "none" => log::LevelFilter::Off,
            "err" | "error" | "crit" | "alert" | "emerg" => log::LevelFilter::Error,
            "warning" | "warn" | "notice" => log::LevelFilter::Warn,
            "info" => log::LevelFilter::Info,
            "debug" => log::LevelFilter::Debug,
            _ => return None,
        })
    }
}

/// The syslog priority of a level (warnings are notices, as smcrouted logs them).
fn priority(level: log::Level) -> libc::c_int {
    match level {
        log::Level::Error => libc::LOG_ERR,
        log::Level::Warn => libc::LOG_NOTICE,
        log::Level::Info => libc::LOG_INFO,
        log::Level::Debug | log::Level::Trace => libc::LOG_DEBUG,
    }
}

/// Whether stderr is the journal's stream (`JOURNAL_STREAM=DEV:INODE` of fd 2).
#[allow(clippy::unnecessary_cast)] // dev_t and ino_t are not u64 everywhere
fn stderr_is_journal() -> bool {
    let Ok(v) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    match nix::sys::stat::fstat(std::io::stderr()) {
        Ok(st) => journal_stream_is(&v, st.st_dev as u64, st.st_ino as u64),
        Err(_) => false,
    }
}

/// Whether `JOURNAL_STREAM`'s value `DEV:INODE` names the file `dev`, `ino`.
fn journal_stream_is(value: &str, dev: u64, ino: u64) -> bool {
    value.split_once(':').is_some_and(|(d, i)| {
        d.parse::<u64>().ok() == Some(dev) && i.parse::<u64>().ok() == Some(ino)
    })
}

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        let f = FILTER.read().unwrap_or_else(|p| p.into_inner());
        let (level, targets) = match f.as_ref() {
            Some((l, t)) => (*l, t.as_slice()),
            None => (self.opts.level, self.opts.debug_targets.as_slice()),
        };
        m.level() <= level
            && (m.level() <= log::Level::Info
                || targets.is_empty()
                || targets.iter().any(|t| m.target().starts_with(t.as_str())))
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let msg = r.args().to_string();
        if self.opts.stderr {
            let mut err = std::io::stderr().lock();
            let _ = if self.journal {
                writeln!(err, "<{}>{msg}", priority(r.level()))
            } else {
                writeln!(err, "{}: {msg}", self.opts.ident)
            };
        }
        if self.opts.syslog {
            crate::sys::unix::syslog(libc::LOG_DAEMON | priority(r.level()), &msg);
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_and_priorities() {
        assert!(journal_stream_is("23:4567", 23, 4567));
        assert!(!journal_stream_is("23:4568", 23, 4567));
        assert!(!journal_stream_is("23", 23, 4567));
        assert!(!journal_stream_is("x:y", 23, 4567));
        assert_eq!(priority(log::Level::Error), libc::LOG_ERR);
        assert_eq!(priority(log::Level::Warn), libc::LOG_NOTICE);
        assert_eq!(priority(log::Level::Trace), libc::LOG_DEBUG);
    }

    #[test]
    fn debug_targets_filter_only_debug_records() {
        let l = Logger {
            opts: LogOptions {
                level: log::LevelFilter::Trace,
                debug_targets: vec!["dvmrp::peers".into()],
                ..LogOptions::new("t", log::LevelFilter::Trace, true)
            },
            journal: false,
        };
        let meta = |level, target| log::Metadata::builder().level(level).target(target).build();
        use log::Log as _;
        assert!(l.enabled(&meta(log::Level::Info, "anything")));
        assert!(l.enabled(&meta(log::Level::Debug, "dvmrp::peers")));
        assert!(!l.enabled(&meta(log::Level::Debug, "dvmrp::routes")));
    }
}
