//! One shape for the daemons' command lines. A [`Cli`] names the program, its version line,
//! its usage text and its getopt spec; [`Cli::parse`] answers `-h`/`--help` and
//! `-v`/`--version`, hands every other option to the daemon's `apply` as a name (`"c"` for
//! `-c`, `"config"` for `--config`) and a value, and turns a bad option or value into the
//! message, the usage text and exit code 64.

use std::process::ExitCode;

use super::exit;
use super::getopt::{getopt, LongArg, Opt};

/// A daemon's command line.
#[derive(Debug, Clone, Copy)]
pub struct Cli {
    /// The program name, the prefix of error messages.
    pub name: &'static str,
    /// The line `-v` prints.
    pub version: &'static str,
    /// The text `-h` prints (and a usage error after its message).
    pub usage: &'static str,
    /// The short options, as [`getopt`] takes them.
    pub short: &'static str,
    /// The long options.
    pub long: &'static [(&'static str, LongArg)],
}

impl Cli {
    /// Parses `args` (without the program name) into `opts`: `apply(opts, name, value)` for
    /// each option but help and version, in order; it returns a message for a bad one.
    /// Words that are not options are usage errors. `Err` is the exit code to leave with:
    /// success after help or version (printed on stdout), 64 after a usage error (printed
    /// on stderr with the usage text).
    pub fn parse<T>(
        &self,
        args: &[String],
        mut opts: T,
        mut apply: impl FnMut(&mut T, &str, Option<String>) -> Result<(), String>,
    ) -> Result<T, ExitCode> {
        let parsed = getopt(args, self.short, self.long).map_err(|e| self.usage_error(&e))?;
        for opt in parsed {
            let (name, value) = match opt {
                Opt::Short(c, v) => (c.to_string(), v),
                Opt::Long(l, v) => (l, v),
                Opt::Free(w) => return Err(self.usage_error(&format!("unexpected argument {w:?}"))),
            };
            match name.as_str() {
                "h" | "help" => {
                    print!("{}", self.usage);
                    return Err(ExitCode::SUCCESS);
                }
                "v" | "version" => {
                    println!("{}", self.version);
                    return Err(ExitCode::SUCCESS);
                }
                _ => apply(&mut opts, &name, value).map_err(|m| self.usage_error(&m))?,
            }
        }
        Ok(opts)
    }

    /// Prints `msg` and the usage text on stderr; the exit code of a usage error (64).
    pub fn usage_error(&self, msg: &dyn std::fmt::Display) -> ExitCode {
        eprintln!("{}: {msg}\n\n{}", self.name, self.usage);
        ExitCode::from(exit::USAGE)
    }
}

/// Parses the value of option `opt` as a number, or says why it is not one.
pub fn number<N: std::str::FromStr>(opt: &str, value: &str) -> Result<N, String> {
    value
        .parse()
        .map_err(|_| format!("-{opt}: invalid number {value:?}"))
}

/// The value of an option that requires one ([`getopt`] guarantees it; an empty string
/// otherwise).
pub fn value(v: Option<String>) -> String {
    v.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLI: Cli = Cli {
        name: "t",
        version: "t 1",
        usage: "usage\n",
        short: "a:bhv",
        long: &[("long", LongArg::Required), ("help", LongArg::None)],
    };

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn run(a: &[&str]) -> Result<Vec<(String, Option<String>)>, ExitCode> {
        CLI.parse(&args(a), Vec::new(), |v, n, val| {
            if val.as_deref() == Some("bad") {
                return Err("bad value".into());
            }
            v.push((n.to_string(), val));
            Ok(())
        })
    }

    #[test]
    fn options_reach_apply_in_order_and_help_version_and_errors_exit() {
        assert_eq!(
            run(&["-ba", "1", "--long=x"]).unwrap(),
            vec![
                ("b".to_string(), None),
                ("a".to_string(), Some("1".to_string())),
                ("long".to_string(), Some("x".to_string()))
            ]
        );
        assert_eq!(run(&["-h"]).unwrap_err(), ExitCode::SUCCESS);
        assert_eq!(run(&["--help"]).unwrap_err(), ExitCode::SUCCESS);
        assert_eq!(run(&["-v"]).unwrap_err(), ExitCode::SUCCESS);
        assert_eq!(run(&["-x"]).unwrap_err(), ExitCode::from(64));
        assert_eq!(run(&["free"]).unwrap_err(), ExitCode::from(64));
        assert_eq!(run(&["-a", "bad"]).unwrap_err(), ExitCode::from(64));
        assert_eq!(number::<u32>("t", "12"), Ok(12));
        assert!(number::<u32>("t", "x").unwrap_err().contains("-t"));
    }
}
